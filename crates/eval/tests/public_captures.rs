//! The public captures in `data/public/` (see its README): every labels file
//! loads, its capture parses to the end with the packet count the README
//! states, every labelled device sends frames in it, and every labelled
//! behaviour lies inside the capture. Detection results are asserted only
//! where the detectors already meet the labels; the misses are documented in
//! the README, not frozen here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use warden_capture::{FrameSource, PcapFile};
use warden_decode::{LinkType, Mac};
use warden_eval::{labels_path, load_labels, score_capture, Evaluation, Labels};
use warden_pipeline::Config;

fn public_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/public")
}

/// Captures and their packet counts (capinfos), as listed in the README.
const CAPTURES: &[(&str, u64)] = &[
    ("slips-hide-and-seek-rpi.pcap.gz", 2000),
    ("slips-ssh-bruteforce.pcap.gz", 1178),
    ("slips-arp-sweep.pcap.gz", 534),
    ("ndpi-synscan.pcap.gz", 2011),
    ("ndpi-nest-log-sink.pcap.gz", 1000),
    ("ndpi-tplink-shp.pcap.gz", 251),
    ("ndpi-tuya-lp.pcap.gz", 98),
];

/// The capture's own configuration (`<name>.warden.toml`) or the default.
fn config_for(capture: &Path) -> Config {
    match warden_eval::config_beside(capture) {
        Some(toml) => Config::load(&toml).unwrap(),
        None => Config::default(),
    }
}

fn ns(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos() as i64
}

fn load(name: &str) -> (PathBuf, Labels) {
    let capture = public_dir().join(name);
    let labels = load_labels(&labels_path(&capture)).unwrap();
    (capture, labels)
}

#[test]
fn every_labels_file_has_a_listed_capture() {
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(public_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(capture) = name.strip_suffix(".labels.json") {
            on_disk.insert(capture.to_owned());
        }
    }
    let listed: BTreeSet<String> = CAPTURES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn captures_parse_and_labels_match_them() {
    for &(name, packets) in CAPTURES {
        let (capture, labels) = load(name);
        assert!(labels.scenario.starts_with("public:"), "{name}");
        assert!(!labels.devices.is_empty(), "{name}");

        let mut senders = BTreeSet::new();
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let stats = PcapFile::open(&capture)
            .unwrap()
            .run(&mut |f| {
                assert_eq!(f.link, LinkType::Ethernet, "{name}");
                let mut src = [0u8; 6];
                src.copy_from_slice(&f.data[6..12]);
                senders.insert(Mac(src));
                first = first.min(f.ts_ns);
                last = last.max(f.ts_ns);
            })
            .unwrap();
        assert_eq!(stats.frames, packets, "{name}");
        assert_eq!(stats.ended_early, None, "{name}");

        for d in &labels.devices {
            assert!(
                senders.contains(&d.mac),
                "{name}: labelled {} sends nothing",
                d.mac
            );
            assert!(d.label == "benign" || d.label == "infected", "{name}");
            assert_eq!(d.label == "infected", !d.behaviours.is_empty(), "{name}");
            for b in &d.behaviours {
                let (onset, end) = (ns(b.onset), ns(b.end));
                assert!(onset <= end, "{name}: {} {}", d.mac, b.kind);
                assert!(
                    first <= onset && end <= last,
                    "{name}: {} {}",
                    d.mac,
                    b.kind
                );
            }
        }

        let mut eval = Evaluation::default();
        score_capture(&config_for(&capture), &capture, &labels, &mut eval).unwrap();
        assert_eq!(eval.frames, packets, "{name}");
        assert_eq!(eval.devices as usize, labels.devices.len(), "{name}");
    }
}

/// Hide and Seek's telnet sweep from the Raspberry Pi is found within its
/// labelled window, and nobody else in that capture is accused.
#[test]
fn hide_and_seek_sweep_is_detected() {
    let (capture, labels) = load("slips-hide-and-seek-rpi.pcap.gz");
    let mut eval = Evaluation::default();
    score_capture(&config_for(&capture), &capture, &labels, &mut eval).unwrap();
    eval.finish();
    assert!(eval.misses.is_empty(), "{:?}", eval.misses);
    assert!(
        eval.false_positives.is_empty(),
        "{:?}",
        eval.false_positives
    );
    let scan = &eval.per_kind[&warden_detect::AlertKind::Scan];
    assert_eq!((scan.behaviours, scan.detected), (1, 1));
    // The sweep probes about one address a second; it is found within a minute.
    assert!(scan.ttd_max_s.unwrap() < 60.0, "{:?}", scan.ttd_max_s);
}

/// The benign IoT device captures raise no alert at all.
#[test]
fn benign_iot_captures_stay_quiet() {
    for name in [
        "ndpi-nest-log-sink.pcap.gz",
        "ndpi-tplink-shp.pcap.gz",
        "ndpi-tuya-lp.pcap.gz",
    ] {
        let (capture, labels) = load(name);
        assert!(labels.devices.iter().all(|d| d.label == "benign"), "{name}");
        let mut eval = Evaluation::default();
        score_capture(&config_for(&capture), &capture, &labels, &mut eval).unwrap();
        let alerts: u32 = eval.per_kind.values().map(|k| k.alerts).sum();
        assert_eq!(alerts, 0, "{name}: {:?}", eval.false_positives);
    }
}

/// The real SSH brute force ran on port 902, which is no login port: the
/// SSH banner on every connection is what makes it one.
#[test]
fn ssh_brute_force_on_an_odd_port_is_detected() {
    let (capture, labels) = load("slips-ssh-bruteforce.pcap.gz");
    let mut eval = Evaluation::default();
    score_capture(&config_for(&capture), &capture, &labels, &mut eval).unwrap();
    eval.finish();
    assert!(eval.misses.is_empty(), "{:?}", eval.misses);
    assert!(
        eval.false_positives.is_empty(),
        "{:?}",
        eval.false_positives
    );
    let bf = &eval.per_kind[&warden_detect::AlertKind::BruteForce];
    assert_eq!((bf.behaviours, bf.detected), (1, 1));
    assert!(bf.ttd_max_s.unwrap() < 10.0, "{:?}", bf.ttd_max_s);
}
