//! The simulator's public contract: deterministic bytes, a valid pcap, and
//! labels that agree with the frames.

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
use warden_sim::{
    generate, parse_timestamp, write_files, Behaviour, DeviceClass, Labels, Scenario, SimOptions,
};

fn opts(seed: u64, scenario: Scenario) -> SimOptions {
    SimOptions {
        seed,
        scenario,
        duration_s: 180,
        // Budgets scale with the cap: a small cap keeps floods short.
        max_frames: 200_000,
        ..SimOptions::default()
    }
}

/// (timestamp µs, frame bytes) of every record.
fn records(pcap: &[u8]) -> Vec<(i64, Vec<u8>)> {
    let mut reader = LegacyPcapReader::new(65_536, pcap).expect("pcap header");
    let mut out = Vec::new();
    loop {
        match reader.next() {
            Ok((n, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    assert_eq!(b.caplen, b.origlen, "whole frames");
                    let ts = i64::from(b.ts_sec) * 1_000_000 + i64::from(b.ts_usec);
                    out.push((ts, b.data.to_vec()));
                }
                reader.consume(n);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => reader.refill().expect("refill"),
            Err(e) => panic!("bad pcap: {e:?}"),
        }
    }
    out
}

fn run(o: &SimOptions) -> (Vec<u8>, Labels) {
    let mut buf = Vec::new();
    let labels = generate(o, &mut buf).expect("generate");
    (buf, labels)
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = run(&opts(11, Scenario::Household));
    let b = run(&opts(11, Scenario::Household));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    let c = run(&opts(12, Scenario::Household));
    assert_ne!(a.0, c.0);
}

#[test]
fn pcap_is_valid_ordered_and_matches_labels() {
    for seed in 1..=4 {
        let o = opts(seed, Scenario::Household);
        let (pcap, labels) = run(&o);
        let recs = records(&pcap);
        assert_eq!(recs.len() as u64, labels.frames);
        assert!(!labels.truncated);
        let start = parse_timestamp(&labels.start).unwrap();
        let end = start + i64::from(o.duration_s) * 1_000_000;
        assert!(recs.windows(2).all(|w| w[0].0 <= w[1].0), "time order");
        assert!(recs.iter().all(|r| r.0 >= start && r.0 < end));
        assert!(recs.iter().all(|r| r.1.len() >= 60 && r.1.len() <= 1514));

        let infected: Vec<_> = labels
            .devices
            .iter()
            .filter(|d| d.label == DeviceClass::Infected)
            .collect();
        assert!((2..=3).contains(&infected.len()), "seed {seed}");
        for d in &labels.devices {
            let mac = parse_mac(&d.mac);
            let sent = recs.iter().filter(|r| r.1[6..12] == mac).count();
            assert!(sent > 0, "{} sent nothing", d.mac);
            for b in &d.behaviours {
                let on = parse_timestamp(&b.onset).unwrap();
                let off = parse_timestamp(&b.end).unwrap();
                assert!(start <= on && on <= off && off < end);
                // The labelled onset is a frame the device itself sent.
                assert!(
                    recs.iter().any(|r| r.0 == on && r.1[6..12] == mac),
                    "{} {} onset has no frame",
                    d.mac,
                    b.kind
                );
                assert!(b.packets > 0);
            }
            if d.label == DeviceClass::Benign {
                assert!(d.behaviours.is_empty());
            }
        }
    }
}

#[test]
fn scenarios_contain_what_they_say() {
    for seed in 1..=3 {
        let (_, l) = run(&opts(seed, Scenario::Benign));
        assert!(l.devices.iter().all(|d| d.label == DeviceClass::Benign));
        assert!(l.devices.len() >= 4);
        for b in Behaviour::ALL {
            let (_, l) = run(&opts(seed, Scenario::Attack(b)));
            let kinds: Vec<Behaviour> = l.behaviours().map(|(_, x)| x.kind).collect();
            assert!(
                !kinds.is_empty() && kinds.iter().all(|k| *k == b),
                "{b}: {kinds:?}"
            );
        }
    }
}

#[test]
fn frame_cap_truncates_and_says_so() {
    let o = SimOptions {
        max_frames: 10_000,
        ..opts(5, Scenario::Attack(Behaviour::Flood))
    };
    let (pcap, l) = run(&o);
    assert_eq!(records(&pcap).len(), 10_000);
    assert_eq!(l.frames, 10_000);
    assert!(l.truncated);
}

#[test]
fn write_files_puts_labels_beside_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.pcap");
    let l = write_files(&opts(3, Scenario::Household), &p).unwrap();
    let text = std::fs::read_to_string(dir.path().join("x.pcap.labels.json")).unwrap();
    let back: Labels = serde_json::from_str(&text).unwrap();
    assert_eq!(back, l);
    assert_eq!(back.format, "warden-sim-labels/1");
}

#[test]
fn bad_options_are_refused() {
    let mut o = opts(1, Scenario::Household);
    o.duration_s = 10;
    assert!(generate(&o, Vec::new()).is_err());
    o.duration_s = 100;
    o.start_unix = -5;
    assert!(generate(&o, Vec::new()).is_err());
    assert!("attack-nothing".parse::<Scenario>().is_err());
    assert_eq!(
        "attack-brute-force".parse::<Scenario>(),
        Ok(Scenario::Attack(Behaviour::BruteForce))
    );
}

fn parse_mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (i, p) in s.split(':').enumerate() {
        m[i] = u8::from_str_radix(p, 16).unwrap();
    }
    m
}
