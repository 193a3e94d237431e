//! An RFC 8520 MUD file (any bytes): import it; a file that imports must
//! give flows that each name exactly one peer, and exporting those flows and
//! importing the result must give the same flows back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_profile::mud::{export, import};

fuzz_target!(|data: &[u8]| {
    let Ok(got) = import(data) else { return };
    for f in &got.network.flows {
        assert!(f.dns_name.is_some() != f.class.is_some(), "{f:?}");
    }
    let again = export(
        &got.network,
        "https://x.example/m",
        "v",
        "m",
        "s",
        "2026-01-01T00:00:00Z",
    );
    let back =
        import(serde_json::to_string(&again).unwrap().as_bytes()).expect("our own export imports");
    let key = |n: &warden_model::model::Network| {
        let mut k: Vec<String> = n
            .flows
            .iter()
            .map(|f| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?}",
                    f.direction, f.protocol, f.port, f.dns_name, f.class, f.manufacturer
                )
            })
            .collect();
        k.sort();
        k.dedup();
        k
    };
    // ICMP flows exist for one address family only; everything else must
    // come back as it went out.
    assert_eq!(key(&back.network), key(&got.network));
});
