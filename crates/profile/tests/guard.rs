//! Profiles in the live guard: new flows judged against the profile, names
//! bound only to the answers the device got, one incident per device, and
//! where a device's profile comes from.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use etherparse::PacketBuilder;
use warden_decode::{decode, LinkType, Mac};
use warden_profile::guard::{Assigned, DeviceId, Event, Judge, Peers, Sources};
use warden_profile::{Catalog, Profile, Proto};

const DEV: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x20];
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const DEV_IP: [u8; 4] = [192, 168, 1, 10];
const ROUTER_IP: [u8; 4] = [192, 168, 1, 1];
const S: i64 = 1_000_000_000;

fn profile(flows: &str) -> Arc<Profile> {
    let yaml = format!(
        "format_version: 1\nidentity:\n  vendor: Acme\n  model: Cam 1\nnetwork:\n  flows:\n{flows}"
    );
    let m = warden_model::load(yaml.as_bytes()).expect("a valid model");
    Arc::new(Profile::from_model(&m.model.network))
}

const FLOWS: &str = "    - {direction: from_device, protocol: tcp, port: 443, dns_name: update.example.test, purpose: updates}
    - {direction: from_device, protocol: udp, port: 53, class: local_networks, purpose: DNS}
";

fn assigned() -> Assigned {
    Assigned {
        profile: profile(FLOWS),
        source: "owner",
        label: "cam.yaml".into(),
    }
}

/// A TCP SYN (or SYN-ACK) from `src` to `dst`.
fn tcp(out: bool, peer: [u8; 4], sport: u16, dport: u16, ack: bool) -> Vec<u8> {
    let b = if out {
        PacketBuilder::ethernet2(DEV, ROUTER_MAC).ipv4(DEV_IP, peer, 64)
    } else {
        PacketBuilder::ethernet2(PEER_MAC, DEV).ipv4(peer, DEV_IP, 64)
    };
    let mut t = b.tcp(sport, dport, 1, 64_000).syn();
    if ack {
        t = t.ack(1);
    }
    let mut f = Vec::new();
    t.write(&mut f, &[]).unwrap();
    f
}

fn udp(out: bool, peer: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let b = if out {
        PacketBuilder::ethernet2(DEV, ROUTER_MAC).ipv4(DEV_IP, peer, 64)
    } else {
        PacketBuilder::ethernet2(ROUTER_MAC, DEV).ipv4(peer, DEV_IP, 64)
    };
    let mut f = Vec::new();
    b.udp(sport, dport).write(&mut f, b"x").unwrap();
    f
}

fn feed(j: &mut Judge, ts: i64, out: bool, frame: &[u8]) -> Option<Event> {
    let p = decode(LinkType::Ethernet, frame).unwrap();
    j.packet(Mac(DEV), ts, out, &p)
}

const CLOUD: [u8; 4] = [203, 0, 113, 5];

#[test]
fn names_allow_only_the_resolved_addresses_and_violations_make_one_incident() {
    let mut j = Judge::new(vec![IpAddr::from(ROUTER_IP)]);
    assert!(j.assign(Mac(DEV), Some(assigned())));
    assert!(
        !j.assign(Mac(DEV), Some(assigned())),
        "the same profile again"
    );

    // Before any answer, the name allows nothing.
    let e = feed(&mut j, S, true, &tcp(true, CLOUD, 40_000, 443, false));
    let Some(Event::Raised(i)) = e else {
        panic!("{e:?}")
    };
    assert_eq!((i.distinct, i.flows[0].port), (1, 443));
    assert!(i.flows[0].outbound && i.flows[0].proto == Proto::Tcp);

    // An answer for another name binds nothing; the profile's name does.
    assert!(!j.dns_answer(Mac(DEV), "other.example.test", &[CLOUD.into()], 300, 2 * S));
    assert!(j.dns_answer(Mac(DEV), "Update.Example.Test.", &[CLOUD.into()], 10, 2 * S));
    let allow = j.allowances(Mac(DEV), 2 * S).unwrap();
    assert_eq!(
        allow[0].peers,
        Peers::Addrs {
            name: "update.example.test".into(),
            addrs: vec![(CLOUD.into(), 60)]
        },
        "a 10 s TTL binds for the 60 s floor"
    );
    assert_eq!(allow[1].peers, Peers::Local);

    assert_eq!(
        feed(&mut j, 3 * S, true, &tcp(true, CLOUD, 40_001, 443, false)),
        None
    );
    // A SYN-ACK is not a new flow.
    assert_eq!(
        feed(&mut j, 3 * S, false, &tcp(false, CLOUD, 443, 40_001, true)),
        None
    );
    // Another port of the allowed host is a new denied flow of the same incident.
    let e = feed(&mut j, 3 * S, true, &tcp(true, CLOUD, 40_002, 8443, false));
    let Some(Event::Updated(i)) = e else {
        panic!("{e:?}")
    };
    assert_eq!(i.distinct, 2);
    assert_eq!(i.flows[1].names, vec!["update.example.test".to_owned()]);
    // Retries within a second are counted, not reported; later ones are.
    assert_eq!(
        feed(
            &mut j,
            3 * S + 1,
            true,
            &tcp(true, CLOUD, 40_002, 8443, false)
        ),
        None
    );
    let Some(Event::Updated(i)) = feed(&mut j, 5 * S, true, &tcp(true, CLOUD, 40_002, 8443, false))
    else {
        panic!("a retry after a second is reported")
    };
    assert_eq!((i.distinct, i.flows[1].attempts), (2, 3));

    // DNS: to the router is plumbing, to a LAN resolver is declared, to
    // the internet is not.
    assert_eq!(
        feed(&mut j, 6 * S, true, &udp(true, ROUTER_IP, 5000, 53)),
        None
    );
    assert_eq!(
        feed(&mut j, 6 * S, true, &udp(true, [192, 168, 1, 7], 5001, 53)),
        None
    );
    assert!(matches!(
        feed(&mut j, 6 * S, true, &udp(true, [8, 8, 8, 8], 5002, 53)),
        Some(Event::Updated(_))
    ));
    // The answer of a judged exchange is not judged again.
    assert_eq!(
        feed(&mut j, 6 * S, false, &udp(false, [8, 8, 8, 8], 53, 5002)),
        None
    );
    // DHCP is plumbing.
    assert_eq!(
        feed(
            &mut j,
            6 * S,
            true,
            &udp(true, [255, 255, 255, 255], 68, 67)
        ),
        None
    );
    // A LAN host opening the device's port 22: a to-device flow.
    let Some(Event::Updated(i)) = feed(
        &mut j,
        7 * S,
        false,
        &tcp(false, [192, 168, 1, 20], 50_000, 22, false),
    ) else {
        panic!("inbound SYN not judged")
    };
    let inbound = i.flows.iter().find(|f| f.port == 22).unwrap();
    assert!(!inbound.outbound);

    // The binding ends with its time: the host is denied again.
    assert!(j.prune(63 * S));
    assert!(matches!(
        j.allowances(Mac(DEV), 63 * S).unwrap()[0].peers,
        Peers::Addrs { ref addrs, .. } if addrs.is_empty()
    ));
    assert!(feed(&mut j, 64 * S, true, &tcp(true, CLOUD, 40_009, 443, false)).is_some());

    // A quiet device's incident ends; the next violation raises anew.
    j.prune(64 * S + 601 * S);
    assert!(matches!(
        feed(
            &mut j,
            64 * S + 602 * S,
            true,
            &tcp(true, CLOUD, 40_010, 443, false)
        ),
        Some(Event::Raised(_))
    ));
}

#[test]
fn devices_without_a_profile_are_not_judged_and_memory_is_bounded() {
    let mut j = Judge::new(vec![]);
    assert_eq!(
        feed(&mut j, S, true, &tcp(true, CLOUD, 1, 9999, false)),
        None
    );
    assert!(!j.dns_answer(Mac(DEV), "update.example.test", &[CLOUD.into()], 300, S));
    j.assign(Mac(DEV), Some(assigned()));
    let addrs: Vec<IpAddr> = (0..300u32)
        .map(|i| IpAddr::from((0x0a00_0000 + i).to_be_bytes()))
        .collect();
    for chunk in addrs.chunks(16) {
        j.dns_answer(Mac(DEV), "update.example.test", chunk, 300, S);
    }
    let Peers::Addrs { addrs: bound, .. } = &j.allowances(Mac(DEV), S).unwrap()[0].peers else {
        panic!()
    };
    assert_eq!(bound.len(), warden_profile::guard::MAX_BOUND_PER_DEVICE);
    assert!(j.over_capacity > 0);
    // Many denied flows: the incident lists a bounded number, counts all.
    let mut last = None;
    for port in 1..=100u16 {
        last = feed(&mut j, S, true, &tcp(true, CLOUD, 1, port, false)).or(last);
    }
    let Some(Event::Updated(i)) = last else {
        panic!()
    };
    assert_eq!(i.distinct, 100);
    assert_eq!(i.flows.len(), warden_profile::guard::MAX_INCIDENT_FLOWS);
    assert!(j.assign(Mac(DEV), None));
    assert!(j.is_empty());
}

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

#[test]
fn the_owner_wins_over_a_mud_url_which_wins_over_a_matched_model() {
    let dir = std::env::temp_dir().join(format!("warden-mud-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo("crates/profile/tests/mud/Luminaire_150.json"),
        dir.join("luminaire.json"),
    )
    .unwrap();
    let url = "https://luminaire.example.com/Luminaire_150";
    std::fs::write(
        dir.join("index.json"),
        format!(r#"{{"{url}": "luminaire.json"}}"#),
    )
    .unwrap();
    let catalog = Catalog::load(&repo("models")).unwrap();
    let mut sources = Sources::new()
        .with_catalog(catalog)
        .with_mud_dir(&dir)
        .unwrap();
    assert_eq!(sources.sizes(), (4, 1));
    let dev = Mac(DEV);
    let camera = DeviceId {
        mud_url: None,
        vendor: Some("Northwind Optics Ltd."),
        model: Some("NW-Cam 2"),
        firmware: Some("2.4.1"),
    };
    let a = sources.resolve(dev, &camera).expect("the catalog's camera");
    assert_eq!(
        (a.source, a.label.as_str()),
        ("model", "Northwind Optics NW-Cam 2")
    );
    assert!(a.profile.rules.len() >= 4);
    // Another firmware: no match.
    let other_fw = DeviceId {
        firmware: Some("9.9"),
        ..camera
    };
    assert!(sources.resolve(dev, &other_fw).is_none());

    let with_url = DeviceId {
        mud_url: Some(url),
        ..camera
    };
    let a = sources.resolve(dev, &with_url).unwrap();
    assert_eq!((a.source, a.label.as_str()), ("mud-url", url));
    assert_eq!(a.profile.rules.len(), 3, "the Luminaire's three flows");
    // A URL not in the index falls back to the model.
    let unknown = DeviceId {
        mud_url: Some("https://elsewhere.example/x.json"),
        ..camera
    };
    assert_eq!(sources.resolve(dev, &unknown).unwrap().source, "model");

    sources.set_owner(dev, Some(Some(assigned())));
    assert_eq!(sources.resolve(dev, &with_url).unwrap().source, "owner");
    sources.set_owner(dev, Some(None));
    assert!(
        sources.resolve(dev, &with_url).is_none(),
        "the owner said: none"
    );
    sources.set_owner(dev, None);
    assert_eq!(sources.resolve(dev, &with_url).unwrap().source, "mud-url");

    // The index may not point outside its directory.
    std::fs::write(
        dir.join("index.json"),
        r#"{"https://x.example/": "../etc/passwd"}"#,
    )
    .unwrap();
    assert!(Sources::new().with_mud_dir(&dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Signed entries of the MUD index: used only when the detached CMS
/// signature verifies against the pinned signer (a key hash or a
/// certificate file); a changed file, another signer, or a missing
/// signature leaves the entry out with its reason.
#[test]
fn signed_mud_index_entries_are_used_only_when_their_signature_verifies() {
    let dir = std::env::temp_dir().join(format!("warden-mud-sig-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = |f: &str| repo(&format!("crates/profile/tests/mud/{f}"));
    std::fs::copy(fixture("Luminaire_150.json"), dir.join("lum.json")).unwrap();
    let mut changed = std::fs::read(fixture("Luminaire_150.json")).unwrap();
    let at = changed.iter().position(|&b| b == b'4').unwrap();
    changed[at] = b'5';
    std::fs::write(dir.join("changed.json"), changed).unwrap();
    std::fs::copy(fixture("sig/luminaire.p256.p7s"), dir.join("lum.p7s")).unwrap();
    std::fs::copy(fixture("sig/p256.pem"), dir.join("signer.pem")).unwrap();
    std::fs::copy(fixture("sig/other.pem"), dir.join("other.pem")).unwrap();
    let pin = std::fs::read_to_string(fixture("sig/pins.txt"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("p256 ").map(str::to_owned))
        .unwrap();
    let entry = |file: &str, signer: &str| {
        format!(r#"{{"file": "{file}", "signature": "lum.p7s", "signer": "{signer}"}}"#)
    };
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"https://a.example/pin": {}, "https://a.example/cert": {},
                "https://a.example/changed": {}, "https://a.example/other": {},
                "https://a.example/nosig": {{"file": "lum.json", "signature": "none.p7s", "signer": "{pin}"}}}}"#,
            entry("lum.json", &pin),
            entry("lum.json", "signer.pem"),
            entry("changed.json", &pin),
            entry("lum.json", "other.pem"),
        ),
    )
    .unwrap();
    let mut sources = Sources::new().with_mud_dir(&dir).unwrap();
    // Each is "URL: reason".
    let mut skipped: Vec<&str> = sources
        .skipped()
        .iter()
        .map(|s| s.split(": ").next().unwrap())
        .collect();
    skipped.sort_unstable();
    assert_eq!(
        skipped,
        [
            "https://a.example/changed",
            "https://a.example/nosig",
            "https://a.example/other"
        ],
        "{:?}",
        sources.skipped()
    );
    assert_eq!(sources.sizes().1, 2);
    for url in ["https://a.example/pin", "https://a.example/cert"] {
        let id = DeviceId {
            mud_url: Some(url),
            ..DeviceId::default()
        };
        let a = sources.resolve(Mac(DEV), &id).expect(url);
        assert_eq!(a.profile.rules.len(), 3, "{url}");
    }
    let changed = DeviceId {
        mud_url: Some("https://a.example/changed"),
        ..DeviceId::default()
    };
    assert!(sources.resolve(Mac(DEV), &changed).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_learned_profile_names_peers_as_a_profile_can_and_stays_bounded() {
    use warden_model::model::{Direction, PeerClass};
    use warden_profile::learn::{Learner, MAX_LEARNED_FLOWS};
    let mut l = Learner::new(vec![IpAddr::from(ROUTER_IP)], 3_600);
    let dev = Mac(DEV);
    let frame = |f: Vec<u8>| f;
    let feed = |l: &mut Learner, ts: i64, out: bool, f: Vec<u8>| {
        let p = decode(LinkType::Ethernet, &f).unwrap();
        l.packet(dev, ts, out, &p);
    };
    feed(&mut l, S, true, frame(udp(true, ROUTER_IP, 5000, 53)));
    l.dns_answer(dev, "Update.Example.Test", &[CLOUD.into()], S);
    feed(
        &mut l,
        2 * S,
        true,
        frame(tcp(true, CLOUD, 40_000, 443, false)),
    );
    feed(
        &mut l,
        2 * S,
        true,
        frame(tcp(true, CLOUD, 40_001, 443, false)),
    );
    feed(
        &mut l,
        3 * S,
        true,
        frame(udp(true, [192, 168, 1, 7], 5001, 123)),
    );
    // A LAN host opens the device's web page.
    feed(
        &mut l,
        4 * S,
        false,
        frame(tcp(false, [192, 168, 1, 20], 50_000, 80, false)),
    );
    // An internet address the device never looked up: not proposable.
    feed(
        &mut l,
        5 * S,
        true,
        frame(tcp(true, [198, 51, 100, 9], 40_002, 8443, false)),
    );
    let changed = l.take_changed();
    assert_eq!(changed.len(), 1);
    let learned = &changed[0].1;
    assert_eq!(learned.unnamed, 1);
    let flows = &learned.network.flows;
    assert_eq!(flows.len(), 3, "{flows:#?}");
    assert!(flows
        .iter()
        .any(|f| f.dns_name.as_deref() == Some("update.example.test")
            && f.port == Some(443)
            && f.direction == Direction::FromDevice));
    assert!(flows
        .iter()
        .any(|f| f.class == Some(PeerClass::LocalNetworks)
            && f.port == Some(80)
            && f.direction == Direction::ToDevice));
    // The proposal is a valid profile: the same traffic judged against it
    // is allowed.
    let profile = Arc::new(Profile::from_model(&learned.network));
    let mut j = Judge::new(vec![IpAddr::from(ROUTER_IP)]);
    j.assign(
        dev,
        Some(Assigned {
            profile,
            source: "owner",
            label: "learned".into(),
        }),
    );
    j.dns_answer(dev, "update.example.test", &[CLOUD.into()], 300, S);
    assert_eq!(
        feed_judge(&mut j, tcp(true, CLOUD, 40_003, 443, false)),
        None
    );
    assert!(feed_judge(&mut j, tcp(true, [198, 51, 100, 9], 40_004, 8443, false)).is_some());
    assert!(l.take_changed().is_empty(), "nothing new");

    // Bounded: a port scan's worth of LAN flows keeps MAX_LEARNED_FLOWS.
    for port in 1..=200u16 {
        feed(
            &mut l,
            6 * S,
            true,
            frame(tcp(true, [192, 168, 1, 7], 1, port, false)),
        );
    }
    assert_eq!(
        l.learned(dev).unwrap().network.flows.len(),
        MAX_LEARNED_FLOWS
    );
    assert!(l.over_capacity > 0);
    // After the window nothing is added.
    feed(
        &mut l,
        3_700 * S,
        true,
        frame(udp(true, [192, 168, 1, 8], 5, 9999)),
    );
    l.take_changed();
    assert_eq!(
        l.learned(dev).unwrap().network.flows.len(),
        MAX_LEARNED_FLOWS
    );
}

fn feed_judge(j: &mut Judge, f: Vec<u8>) -> Option<Event> {
    let p = decode(LinkType::Ethernet, &f).unwrap();
    j.packet(Mac(DEV), 3 * S, true, &p)
}
