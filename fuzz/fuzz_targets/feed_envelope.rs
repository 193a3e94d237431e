//! The feed's parsers on hostile bytes (crates/feed): a POSTed sighting
//! body, a DSSE envelope, each signed document type, a MAC prefix, a
//! listing line through the matcher. Nothing may panic; what parses must
//! round-trip; the matcher's no-parse fast path must find exactly what
//! parsing the line finds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_feed::{
    open_sighting, version, DeviceFacts, DeviceSet, Envelope, FeedIndex, KeyPair, Listing,
    MacPrefix, Root, Sighting, SnapshotHeader, Timestamp, MAX_SIGHTING_BYTES, PAYLOAD_TIMESTAMP,
};

const NOW: i64 = 1_764_000_000;

fn devices() -> Vec<DeviceFacts> {
    vec![
        DeviceFacts {
            mac: [0x00, 0x17, 0x88, 0x7b, 0x5f, 0x6b],
            vendor: Some("Philips".into()),
            model: Some("BSB002".into()),
            firmware: Some("1.41.0".into()),
            fingerprint: None,
        },
        DeviceFacts {
            mac: [0x70, 0xb3, 0xd5, 0x1f, 0x30, 0x01],
            vendor: None,
            model: Some("cam".into()),
            firmware: None,
            fingerprint: Some("ab".into()),
        },
    ]
}

fuzz_target!(|data: &[u8]| {
    // The server's path for a POSTed body.
    if let Ok(v) = open_sighting(data, NOW) {
        assert!(data.len() <= MAX_SIGHTING_BYTES);
        assert_eq!(v.reporter, v.sighting.reporter.key_id());
        v.sighting.validate(NOW).unwrap();
    }

    if let Ok(env) = Envelope::from_slice(data, 1 << 20) {
        let back = Envelope::from_slice(&env.to_vec(), 1 << 20).unwrap();
        assert_eq!(back, env);
        // Never valid under a key that did not sign it.
        let k = KeyPair::from_seed([7; 32]);
        assert!(env
            .open::<Timestamp>(PAYLOAD_TIMESTAMP, &[k.public()], 1)
            .is_err());
    }

    if let Ok(s) = serde_json::from_slice::<Sighting>(data) {
        let _ = s.validate(NOW);
        let back: Sighting = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
    let _ = serde_json::from_slice::<Root>(data);
    let _ = serde_json::from_slice::<Timestamp>(data);
    let _ = serde_json::from_slice::<SnapshotHeader>(data);
    let _ = serde_json::from_slice::<warden_feed::Delta>(data);

    // Prefixes: only the canonical form parses (hex in either case), and
    // it prints as it was read, in lowercase.
    if let Some(p) = MacPrefix::parse_bytes(data) {
        assert_eq!(p.to_string().as_bytes(), data.to_ascii_lowercase());
    }

    // Versions: comparison is antisymmetric.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some((a, b)) = text.split_once('|') {
            assert_eq!(version::compare(a, b), version::compare(b, a).reverse());
        }
    }

    // A listing line: the streaming matcher (fast path or not) against the
    // in-memory index on the parsed listing.
    let line = data.split(|&b| b == b'\n').next().unwrap_or(&[]);
    if line.len() > warden_feed::MAX_LISTING_LINE_BYTES {
        return;
    }
    let set = DeviceSet::new(devices());
    let out = set.scan(line).unwrap();
    match serde_json::from_slice::<Listing>(line) {
        Ok(l) => {
            let ix = FeedIndex::build(vec![l]);
            let want: Vec<usize> = devices()
                .iter()
                .enumerate()
                .filter(|(_, d)| !ix.matches(d).is_empty())
                .map(|(i, _)| i)
                .collect();
            let got: Vec<usize> = out.matches.iter().map(|m| m.device).collect();
            assert_eq!(got, want);
        }
        Err(_) => assert!(out.matches.is_empty()),
    }
});
