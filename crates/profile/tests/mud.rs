//! MUD files: a real public one imported, the example models through
//! export and import unchanged (the network part), and hostile files refused
//! or trimmed with reasons.

use std::path::Path;

use warden_model::model::{Direction, Flow, Network, PeerClass, Protocol};
use warden_profile::mud::{export, import, MudError, MAX_MUD_BYTES};

fn key(f: &Flow) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        f.direction, f.protocol, f.port, f.dns_name, f.class, f.manufacturer
    )
}

fn keys(n: &Network) -> Vec<String> {
    let mut k: Vec<String> = n.flows.iter().map(key).collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn the_cisco_mud_manager_luminaire_imports_as_three_flows() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mud/Luminaire_150.json"))
            .unwrap();
    let got = import(&bytes).unwrap();
    assert_eq!(
        got.info.mud_url.as_deref(),
        Some("https://luminaire.example.com/Luminaire_150")
    );
    assert_eq!(
        got.info.systeminfo.as_deref(),
        Some("MUD-enabled Luminaire")
    );
    assert!(got.skipped.is_empty(), "{:?}", got.skipped);
    let flows = &got.network.flows;
    assert_eq!(flows.len(), 3, "{flows:#?}");
    assert!(flows.iter().all(|f| f.direction == Direction::FromDevice));
    let update = &flows[0];
    assert_eq!(update.protocol, Protocol::Tcp);
    assert_eq!(update.port, Some(443));
    assert_eq!(
        update.dns_name.as_deref(),
        Some("fw-update.luminaire.example.com")
    );
    assert!(flows
        .iter()
        .any(|f| f.class == Some(PeerClass::MyController) && f.port == Some(5684)));
    assert!(flows
        .iter()
        .any(|f| f.class == Some(PeerClass::LocalNetworks) && f.port == Some(5683)));
}

#[test]
fn every_example_model_survives_export_and_import() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let model = warden_model::load(&std::fs::read(&path).unwrap())
            .unwrap()
            .model;
        let url = model
            .identity
            .mud_url
            .clone()
            .unwrap_or_else(|| "https://mud.example.com/device".into());
        let file = export(
            &model.network,
            &url,
            &model.identity.vendor,
            &model.identity.model,
            "a test",
            "2026-11-25T12:00:00Z",
        );
        let back = import(serde_json::to_string(&file).unwrap().as_bytes()).unwrap();
        assert_eq!(back.info.mud_url.as_deref(), Some(url.as_str()));
        assert_eq!(
            back.info.model_name.as_deref(),
            Some(model.identity.model.as_str())
        );
        // Flows with ICMP on one family only are written for that family.
        assert_eq!(
            keys(&back.network),
            keys(&model.network),
            "{}",
            path.display()
        );
        assert!(
            back.skipped.is_empty(),
            "{}: {:?}",
            path.display(),
            back.skipped
        );
        n += 1;
    }
    assert!(n >= 4, "only {n} example models");
}

fn ace(name: &str, matches: serde_json::Value, action: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "matches": matches, "actions": {"forwarding": action}})
}

fn mud_with(container: &str, aces: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ietf-mud:mud": {
            "mud-version": 1,
            "mud-url": "https://x.example/m",
            "from-device-policy": {"access-lists": {"access-list": [{"name": "fr"}]}}
        },
        container: {"acl": [{"name": "fr", "aces": {"ace": aces}}]}
    }))
    .unwrap()
}

#[test]
fn hostile_and_odd_files_are_refused_or_trimmed_with_reasons() {
    assert_eq!(
        import(&vec![b' '; MAX_MUD_BYTES + 1]),
        Err(MudError::TooLarge(MAX_MUD_BYTES + 1))
    );
    assert!(matches!(import(b"{"), Err(MudError::NotJson(_))));
    assert_eq!(import(b"{}"), Err(MudError::NoMud));

    // A policy naming an ACL that is not there.
    let missing = serde_json::json!({
        "ietf-mud:mud": {"from-device-policy": {"access-lists": {"access-list": [{"name": "nope"}]}}},
        "ietf-access-control-list:acls": {"acl": []}
    });
    assert_eq!(
        import(&serde_json::to_vec(&missing).unwrap()),
        Err(MudError::MissingAcl("nope".into()))
    );

    // The pre-RFC container name, a bare port number, a drop rule and an
    // address range.
    let dns = serde_json::json!({"ipv4": {"ietf-acldns:dst-dnsname": "Api.Example.COM.", "protocol": 17},
                                  "udp": {"destination-port": 8883}});
    let drop = serde_json::json!({"ipv4": {"ietf-acldns:dst-dnsname": "x.example", "protocol": 6}});
    let range =
        serde_json::json!({"ipv4": {"destination-ipv4-network": "10.0.0.0/8", "protocol": 6}});
    let got = import(&mud_with(
        "ietf-access-control-list:access-lists",
        vec![
            ace("a", dns, "accept"),
            ace("b", drop, "drop"),
            ace("c", range, "accept"),
        ],
    ))
    .unwrap();
    assert_eq!(got.network.flows.len(), 1);
    let f = &got.network.flows[0];
    assert_eq!(f.dns_name.as_deref(), Some("api.example.com"));
    assert_eq!((f.protocol, f.port), (Protocol::Udp, Some(8883)));
    assert_eq!(got.skipped.len(), 2, "{:?}", got.skipped);
    assert!(got
        .skipped
        .iter()
        .any(|s| s.starts_with("b:") && s.contains("drop")));
    assert!(got
        .skipped
        .iter()
        .any(|s| s.starts_with("c:") && s.contains("address range")));

    // Too many entries.
    let many: Vec<_> = (0..3000)
        .map(|i| ace(&format!("e{i}"), serde_json::json!({}), "accept"))
        .collect();
    assert!(matches!(
        import(&mud_with("ietf-access-control-list:acls", many)),
        Err(MudError::TooMany(_))
    ));
}

#[test]
fn tcp_says_who_opens_even_without_a_port() {
    // Found by the mud_import fuzz target: a to-device TCP flow with no
    // port came back as from-device.
    let network = Network {
        port_mapping: None,
        flows: vec![Flow {
            direction: Direction::ToDevice,
            protocol: Protocol::Tcp,
            port: None,
            dns_name: None,
            class: Some(PeerClass::LocalNetworks),
            manufacturer: None,
            encrypted: None,
            purpose: "x".into(),
        }],
    };
    let file = export(
        &network,
        "https://x.example/m",
        "v",
        "m",
        "s",
        "2026-01-01T00:00:00Z",
    );
    let back = import(serde_json::to_string(&file).unwrap().as_bytes()).unwrap();
    assert_eq!(keys(&back.network), keys(&network));
}

#[test]
fn direction_initiated_on_udp_is_ignored_so_imports_round_trip() {
    // Found by the mud_import fuzz target: RFC 8520 defines
    // direction-initiated for TCP only. Read on UDP, a portless "to-device"
    // UDP entry imported as to-device, and its export imported back as
    // from-device.
    let udp = ace(
        "u",
        serde_json::json!({
            "ietf-mud:mud": {"local-networks": [null]},
            "ipv4": {"protocol": 17},
            "udp": {"ietf-mud:direction-initiated": "to-device"}
        }),
        "accept",
    );
    let first = import(&mud_with("ietf-access-control-list:acls", vec![udp])).unwrap();
    assert_eq!(keys(&first.network).len(), 1);
    assert_eq!(first.network.flows[0].direction, Direction::FromDevice);
    let file = export(
        &first.network,
        "https://x.example/m",
        "v",
        "m",
        "s",
        "2026-01-01T00:00:00Z",
    );
    let back = import(serde_json::to_string(&file).unwrap().as_bytes()).unwrap();
    assert_eq!(keys(&back.network), keys(&first.network));
}
