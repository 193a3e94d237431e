//! The IoT Sentinel setup captures (31 real devices, all benign): warden
//! must raise no alert on any of them and recover what identifies each
//! device. Data: ../shared/data/iot-sentinel (see its README and LICENSE).

use std::path::{Path, PathBuf};

use warden_capture::{FrameSource, PcapFile};
use warden_decode::Mac;
use warden_pipeline::{CollectOnly, Config, InputReport, Pipeline, Report};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/iot-sentinel")
}

struct Expected {
    device: String,
    mac: Mac,
    vendor: String,
    hostname: String,
    vendor_class: String,
    capture: PathBuf,
}

fn expected() -> Vec<Expected> {
    let dir = data_dir();
    let tsv = std::fs::read_to_string(dir.join("EXPECTED.tsv"))
        .expect("../shared/data/iot-sentinel/EXPECTED.tsv must exist (see .ci/run)");
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Expected {
                device: c[0].to_owned(),
                mac: c[1].parse().unwrap(),
                vendor: c[2].to_owned(),
                hostname: c[3].to_owned(),
                vendor_class: c[4].to_owned(),
                capture: dir.join(c[0]).join(c[7]),
            }
        })
        .collect()
}

fn analyze(path: &Path) -> Report {
    let mut p = Pipeline::new(&Config::default());
    let mut src = PcapFile::open(path).unwrap();
    let stats = src.run(&mut |f| p.process(&f, &mut CollectOnly)).unwrap();
    assert!(
        stats.ended_early.is_none(),
        "{}: {:?}",
        path.display(),
        stats.ended_early
    );
    p.finish(&mut CollectOnly);
    p.report(InputReport::default())
}

#[test]
fn no_alerts_and_identity_recovered_on_31_real_devices() {
    let all = expected();
    assert_eq!(all.len(), 31);
    let mut with_hostname = 0;
    for e in &all {
        let report = analyze(&e.capture);
        for d in &report.devices {
            assert!(
                d.alerts.is_empty(),
                "{}: false alert on {}: {:?}",
                e.device,
                d.mac,
                d.alerts
            );
        }
        let d = report
            .devices
            .iter()
            .find(|d| d.mac == e.mac)
            .unwrap_or_else(|| panic!("{}: device {} not found", e.device, e.mac));
        assert_eq!(d.vendor, Some(e.vendor.as_str()), "{}", e.device);
        assert!(d.packets_out > 0, "{}", e.device);
        let json = serde_json::to_value(&d.identity).unwrap();
        if !e.hostname.is_empty() {
            assert_eq!(json["hostname"], e.hostname.as_str(), "{}", e.device);
            with_hostname += 1;
        }
        if !e.vendor_class.is_empty() {
            assert_eq!(
                json["dhcp"]["vendor_class"],
                e.vendor_class.as_str(),
                "{}",
                e.device
            );
        }
    }
    // The table names 16 host names; a parse slip would silently skip them.
    assert_eq!(with_hostname, 16);
}

#[test]
fn all_captures_at_once_are_one_quiet_network() {
    let mut p = Pipeline::new(&Config::default());
    for e in expected() {
        let mut src = PcapFile::open(&e.capture).unwrap();
        src.run(&mut |f| p.process(&f, &mut CollectOnly)).unwrap();
    }
    p.finish(&mut CollectOnly);
    let r = p.report(InputReport::default());
    let alerts: Vec<_> = r
        .devices
        .iter()
        .flat_map(|d| d.alerts.iter().map(move |a| (d.mac, a)))
        .collect();
    assert!(alerts.is_empty(), "{alerts:?}");
    assert!(
        r.stats.decode_errors.is_empty(),
        "{:?}",
        r.stats.decode_errors
    );
}
