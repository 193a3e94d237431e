//! Per-device traffic counters: counted in memory, written in batches,
//! minutes rolled into hours after 24 h, hours gone after 7 days.

use warden_decode::{LinkType, Mac};
use warden_detect::Timestamp;
use warden_state::traffic::{NS_PER_HOUR, NS_PER_MINUTE};
use warden_state::{DeviceRecord, Store, TrafficCounter, TrafficPoint};

const A: Mac = Mac([0x02, 0, 0, 0, 0, 0x0a]);
const B: Mac = Mac([0x02, 0, 0, 0, 0, 0x0b]);
const STRANGER: Mac = Mac([0x02, 0, 0, 0, 0, 0x0c]);
/// 2026-01-15 00:00:00 UTC.
const T0: i64 = 1_768_435_200 * 1_000_000_000;

fn frame(dst: Mac, src: Mac) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&[0x08, 0x00]);
    f.resize(60, 0);
    f
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("w.db")).unwrap();
    for mac in [A, B] {
        store
            .upsert_device(&DeviceRecord {
                mac,
                first_seen: Timestamp(T0),
                last_seen: Timestamp(T0),
                vendor: None,
                identity: None,
            })
            .unwrap();
    }
    (dir, store)
}

#[test]
fn frames_are_counted_per_device_and_minute_for_sender_and_receiver() {
    let (_dir, mut store) = store();
    let mut c = TrafficCounter::new();
    // A sends 3 frames to B in the first minute, B answers once in the
    // second; a broadcast and a frame to an unknown device.
    for i in 0..3 {
        c.count(
            LinkType::Ethernet,
            &frame(B, A),
            100,
            T0 + i * 1_000_000_000,
        );
    }
    c.count(
        LinkType::Ethernet,
        &frame(A, B),
        1500,
        T0 + 61 * 1_000_000_000,
    );
    c.count(
        LinkType::Ethernet,
        &frame(Mac::BROADCAST, A),
        342,
        T0 + 2_000_000_000,
    );
    c.count(LinkType::Ethernet, &frame(STRANGER, STRANGER), 64, T0);
    // Not Ethernet: not counted.
    c.count(LinkType::RawIp, &frame(B, A), 100, T0);
    c.flush(&mut store, Timestamp(T0 + 2 * NS_PER_MINUTE))
        .unwrap();
    assert!(c.is_empty());

    let a = store.traffic(A, Timestamp(0)).unwrap();
    let point = |start: i64, packets: u64, bytes: u64| TrafficPoint {
        device: A,
        start: Timestamp(start),
        seconds: 60,
        packets,
        bytes,
    };
    // Minute 0: 3 sent + the broadcast it sent (its own traffic).
    assert_eq!(
        a,
        vec![point(T0, 4, 642), point(T0 + NS_PER_MINUTE, 1, 1500)]
    );
    let b = store.traffic(B, Timestamp(0)).unwrap();
    assert_eq!(
        b.iter().map(|p| (p.packets, p.bytes)).collect::<Vec<_>>(),
        vec![(3, 300), (1, 1500)]
    );
    // The unknown device is not stored.
    assert!(store.traffic(STRANGER, Timestamp(0)).unwrap().is_empty());

    // A second batch adds to the same minute.
    c.count(
        LinkType::Ethernet,
        &frame(B, A),
        100,
        T0 + 30 * 1_000_000_000,
    );
    c.flush(&mut store, Timestamp(T0 + 2 * NS_PER_MINUTE))
        .unwrap();
    assert_eq!(store.traffic(A, Timestamp(0)).unwrap()[0].packets, 5);
    assert_eq!(
        store.traffic_latest().unwrap(),
        Some(Timestamp(T0 + NS_PER_MINUTE))
    );
}

#[test]
fn old_minutes_roll_into_hours_and_old_hours_go() {
    let (_dir, mut store) = store();
    let minute = |t: i64, packets: u64| TrafficPoint {
        device: A,
        start: Timestamp(t),
        seconds: 60,
        packets,
        bytes: packets * 100,
    };
    // Two minutes of hour 0, one of hour 1, and one "now" (day 2).
    let now = T0 + 48 * NS_PER_HOUR;
    store
        .add_traffic(
            &[
                minute(T0, 10),
                minute(T0 + 5 * NS_PER_MINUTE, 20),
                minute(T0 + NS_PER_HOUR, 7),
                minute(now, 1),
            ],
            Timestamp(now),
        )
        .unwrap();
    let got = store.traffic(A, Timestamp(0)).unwrap();
    let brief: Vec<(i64, u32, u64)> = got
        .iter()
        .map(|p| (p.start.0, p.seconds, p.packets))
        .collect();
    assert_eq!(
        brief,
        vec![(T0, 3600, 30), (T0 + NS_PER_HOUR, 3600, 7), (now, 60, 1)]
    );
    assert_eq!(got[0].bytes, 3_000);
    // The sparkline query sums minutes into hours and includes the hours.
    let hours = store.traffic_by_hour(Timestamp(0)).unwrap();
    assert_eq!(
        hours
            .iter()
            .map(|p| (p.start.0, p.packets))
            .collect::<Vec<_>>(),
        vec![(T0, 30), (T0 + NS_PER_HOUR, 7), (now, 1)]
    );
    // Eight days later the hours are gone, the minute rolled up.
    let later = T0 + 8 * 24 * NS_PER_HOUR;
    store.add_traffic(&[], Timestamp(later)).unwrap();
    let left = store.traffic(A, Timestamp(0)).unwrap();
    assert_eq!(
        left.iter()
            .map(|p| (p.start.0, p.seconds, p.packets))
            .collect::<Vec<_>>(),
        vec![(now, 3600, 1)]
    );
}

#[test]
fn a_flood_of_spoofed_addresses_is_bounded_in_memory() {
    let mut c = TrafficCounter::new();
    let n = warden_state::traffic::MAX_PENDING as u32 + 100;
    for i in 0..n {
        let b = i.to_be_bytes();
        let src = Mac([0x02, 0, b[0], b[1], b[2], b[3]]);
        c.count(LinkType::Ethernet, &frame(Mac::BROADCAST, src), 60, T0);
    }
    assert_eq!(c.dropped, 100);
}

#[test]
fn a_forgotten_device_takes_its_counters_along() {
    let (_dir, mut store) = store();
    let mut c = TrafficCounter::new();
    c.count(LinkType::Ethernet, &frame(B, A), 100, T0);
    c.flush(&mut store, Timestamp(T0)).unwrap();
    store
        .connection()
        .execute("DELETE FROM devices WHERE mac = ?1", [A.to_string()])
        .unwrap();
    assert!(store.traffic(A, Timestamp(0)).unwrap().is_empty());
    assert_eq!(store.traffic(B, Timestamp(0)).unwrap().len(), 1);
}
