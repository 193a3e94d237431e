//! The whole protocol in one process: a guard device's alert becomes a
//! signed sighting, the server's checks accept it, a listing made from it
//! is published, and another household's router, which never saw the
//! attack, syncs the feed and finds its own device of the same type.

use std::net::{IpAddr, Ipv4Addr};

use warden_decode::Mac;
use warden_detect::{Alert, AlertKind, Evidence, PortCount, ScanEvidence, Timestamp};
use warden_devices::DeviceTable;
use warden_feed::client::{DirFetcher, TrustedFeed};
use warden_feed::publish::{self, new_root, PublishOptions};
use warden_feed::{
    open_sighting, DeviceFacts, DeviceMatch, DeviceSet, FeedAction, KeyPair, Listing,
    ListingEvidence, ListingSource, Severity, Sighting, VersionRange,
};
use warden_identify::Observation;

const NOW: i64 = 1_764_081_300;

fn hue_device(table: &mut DeviceTable, mac: [u8; 6], ip: Ipv4Addr, firmware: &str) -> u32 {
    let i = table.find_or_insert(Mac(mac), NOW * 1_000_000_000).unwrap();
    let d = table.get_mut(i);
    d.learn_ip(IpAddr::V4(ip));
    let server = format!("Linux/3.14.0 UPnP/1.0 IpBridge/{firmware}");
    for obs in [
        Observation::DhcpVendorClass("udhcp 1.23.2"),
        Observation::DhcpParameterList(&[1, 3, 6, 12, 15, 28, 42]),
        Observation::UpnpServer(&server),
    ] {
        d.identity.apply(&obs);
    }
    i
}

fn scan_alert() -> Alert {
    let t = (NOW - 200) * 1_000_000_000;
    Alert {
        kind: AlertKind::Scan,
        detected_at: Timestamp(t),
        confidence: 1.0,
        evidence: Evidence::Scan(ScanEvidence {
            first_seen: Timestamp(t),
            last_seen: Timestamp(t),
            attempts: 300,
            failed: 290,
            answered: 2,
            rate_per_s: 40.0,
            likelihood_ratio_log: 8.0,
            top_ports: vec![PortCount {
                port: 23,
                attempts: 300,
            }],
            sample_targets: vec![],
        }),
    }
}

#[test]
fn sighting_to_listing_to_another_routers_device() {
    // Household A: its Hue bridge scans.
    let mut a = DeviceTable::new(16, 600);
    let ia = hue_device(
        &mut a,
        [0x00, 0x17, 0x88, 0x11, 0x22, 0x33],
        Ipv4Addr::new(192, 168, 1, 20),
        "1.50.0",
    );
    let router_a = KeyPair::from_seed([41; 32]);
    let sighting = Sighting::from_device(a.get(ia), &scan_alert(), &router_a, NOW).unwrap();
    let body = sighting.sign(&router_a).to_vec();

    // The server accepts it.
    let v = open_sighting(&body, NOW + 3).unwrap();
    assert_eq!(v.reporter, router_a.key_id());
    let seen = &v.sighting.device;

    // ... and, with enough independent evidence, lists the type.
    let matches = DeviceMatch {
        mac_prefixes: vec![seen.mac_prefix],
        vendor: seen.vendor.clone(),
        model: seen.model.clone(),
        firmware: Some(VersionRange {
            below: Some("1.60".into()),
            ..Default::default()
        }),
        fingerprint: Some(seen.fingerprint.clone()),
    };
    let listing = Listing {
        id: matches.listing_id(),
        severity: Severity::CompromisedInTheWild,
        matches,
        action: FeedAction::Quarantine,
        evidence: ListingEvidence {
            reporters: 5,
            networks: 3,
            sightings: 12,
        },
        behaviours: vec![v.sighting.behaviour.kind],
        first_seen: v.sighting.window_start,
        last_seen: v.sighting.window_start,
        references: vec![],
        reason: "Seen scanning telnet by 5 reporters on 3 networks.".into(),
        source: ListingSource::Evidence,
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let root_key = KeyPair::from_seed([1; 32]);
    let feed_key = KeyPair::from_seed([2; 32]);
    let root = new_root(
        1,
        NOW + 86_400 * 365,
        &[root_key.public()],
        1,
        &[feed_key.public()],
        1,
    );
    let pinned = publish::write_root(&out, &root, &[&root_key])
        .unwrap()
        .to_vec();
    publish::publish(
        &out,
        vec![listing.clone()],
        &[&feed_key],
        &PublishOptions::at(NOW),
    )
    .unwrap();

    // Household B never saw the attack: an older bridge of the same type
    // (other MAC, other address) and an updated one.
    let mut b = DeviceTable::new(16, 600);
    let old = hue_device(
        &mut b,
        [0x00, 0x17, 0x88, 0xaa, 0xbb, 0xcc],
        Ipv4Addr::new(10, 0, 0, 7),
        "1.41.0",
    );
    let new = hue_device(
        &mut b,
        [0x00, 0x17, 0x88, 0xaa, 0xbb, 0xcd],
        Ipv4Addr::new(10, 0, 0, 8),
        "1.65.0",
    );
    let facts: Vec<DeviceFacts> = [old, new]
        .iter()
        .map(|&i| DeviceFacts::of_device(b.get(i)))
        .collect();
    assert_eq!(
        facts[0].fingerprint.as_deref(),
        Some(seen.fingerprint.as_str())
    );
    let set = DeviceSet::new(facts);
    let mut feed = TrustedFeed::open(&tmp.path().join("state-b"), &pinned).unwrap();
    let (_, scan) = feed
        .sync_and_scan(&DirFetcher::new(&out), NOW + 60, &set)
        .unwrap();
    assert_eq!(scan.matches.len(), 1, "{:?}", scan.matches);
    let m = &scan.matches[0];
    assert_eq!(m.device, 0, "only the bridge with the old firmware");
    assert_eq!(m.listing.id, listing.id);
    assert_eq!(m.listing.action, FeedAction::Quarantine);
    assert!(m.why.contains("MAC in 00:17:88/24"), "{}", m.why);
    assert!(m.why.contains("IpBridge/1.41.0 below 1.60"), "{}", m.why);
}
