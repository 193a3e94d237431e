//! The whole per-packet path: frames through `Pipeline::process` (decode,
//! device table, identification, every detector), then `finish` and
//! `report`. Byte 0 picks the link type and the configuration (see
//! `warden_fuzz::pipeline_config`); the rest is a sequence of records
//! `[time step][len: u16 BE][frame]` (see `warden_fuzz::next_ts`).
//!
//! Besides not panicking: the table never holds more devices than
//! configured, nor one MAC twice, nor more addresses or alerts per device
//! than its caps; every frame is counted once; every alert raised is kept
//! or counted as dropped (devices with alerts are never evicted); and every
//! string in the report is safe to display (it goes to terminals and logs).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use warden_capture::Frame;
use warden_detect::Alert;
use warden_devices::{Device, MAX_ALERTS, MAX_IPS};
use warden_identify::text::is_displayable;
use warden_pipeline::{Config, InputReport, Pipeline, Sink};

struct Counting(u64);

impl Sink for Counting {
    fn alert(&mut self, device: &Device, alert: &Alert) {
        self.0 += 1;
        let _ = (device.label(), format!("{alert:?}"));
    }
    fn update(&mut self, device: &Device, alert: &Alert) {
        let _ = (device.label(), format!("{alert:?}"));
    }
}

fn configs() -> &'static [Config; 4] {
    static CONFIGS: OnceLock<[Config; 4]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let parse = |text: &str| Config::parse(text).expect("fuzz configuration");
        let touchy = parse(warden_fuzz::TOUCHY_CONFIG);
        let lan = parse(warden_fuzz::EXPLICIT_LAN_CONFIG);
        let mut touchy_lan = touchy.clone();
        touchy_lan.devices.lan = lan.devices.lan.clone();
        [Config::default(), touchy, lan, touchy_lan]
    })
}

fn check_strings(v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => assert!(s.chars().all(is_displayable), "{s:?}"),
        serde_json::Value::Array(a) => a.iter().for_each(check_strings),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
            assert!(k.chars().all(is_displayable), "{k:?}");
            check_strings(v);
        }),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg_byte, rest)) = data.split_first() else {
        return;
    };
    let (link, touchy, lan) = warden_fuzz::pipeline_config(cfg_byte);
    let cfg = &configs()[usize::from(touchy) | usize::from(lan) << 1];
    let mut pipeline = Pipeline::new(cfg);
    let mut sink = Counting(0);
    let mut ts = warden_fuzz::START_NS;
    let mut frames = 0u64;
    for ([code], frame) in warden_fuzz::records::<1>(rest) {
        ts = warden_fuzz::next_ts(ts, code);
        frames += 1;
        pipeline.process(
            &Frame {
                ts_ns: ts,
                link,
                data: frame,
                // Every other frame claims to be cut by the snap length.
                wire_len: frame.len() as u32 + u32::from(code & 1) * 1000,
            },
            &mut sink,
        );
        assert!(pipeline.devices().len() <= cfg.devices.max_devices);
    }
    pipeline.finish(&mut sink);
    let stats = pipeline.stats();
    assert_eq!(stats.frames, frames);
    let dropped: u64 = stats.decode_errors.values().sum();
    assert!(dropped + stats.non_ip_frames + stats.unattributed_frames <= frames);

    let table = pipeline.devices();
    assert!(table.len() <= cfg.devices.max_devices);
    assert_eq!(table.stats().devices, table.len());
    let mut kept = 0u64;
    for (i, d) in table.iter().enumerate() {
        assert_eq!(
            table.find(&d.mac),
            Some(i as u32),
            "MAC {} not indexed at its slot",
            d.mac
        );
        assert!(d.ips.len() <= MAX_IPS);
        assert!(d.alerts.len() <= MAX_ALERTS);
        kept += d.alerts.len() as u64 + u64::from(d.alerts_dropped);
    }
    assert_eq!(kept, sink.0, "alerts raised vs kept");
    let report = pipeline.report(InputReport::default());
    let json = serde_json::to_value(&report).expect("report serializes");
    check_strings(&json);
});
