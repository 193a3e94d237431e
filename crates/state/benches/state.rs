//! Store costs on a real file: one alert, one policy call's changes, and
//! the start-up reads with 250 devices under decisions.
//!
//! cargo bench -p warden-state

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use warden_decode::Mac;
use warden_detect::{Alert, AlertKind, Evidence, FloodEvidence, FloodTarget, Timestamp};
use warden_policy::{AlertSummary, Policy, PolicyConfig};
use warden_state::{Durability, OpenOptions, Store};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_768_478_400 * S;

fn mac(n: u32) -> Mac {
    let b = n.to_be_bytes();
    Mac([0x00, 0x11, b[0], b[1], b[2], b[3]])
}

fn alert(now: i64) -> Alert {
    Alert {
        kind: AlertKind::Flood,
        detected_at: Timestamp(now),
        confidence: 0.97,
        evidence: Evidence::Flood(FloodEvidence {
            variant: "udp",
            first_seen: Timestamp(now - 3 * S),
            last_seen: Timestamp(now),
            hot_seconds: 3,
            peak_pps: 9_000,
            peak_bytes_per_s: 4_608_000,
            packets: 27_000,
            answer_ratio: 0.0,
            top_destinations: vec![FloodTarget {
                address: "203.0.113.5".parse().unwrap(),
                packets: 9_000,
                share: 1.0,
                ports: 40,
                resolved_by_dns: false,
            }],
            dns_domain: None,
            nxdomain_share: None,
        }),
    }
}

const SENTENCE: &str = "This D-Link device (DCS-935L) sent 9,000 UDP packets per second to one internet address (203.0.113.5) for 3 seconds: it is probably part of a botnet attack.";

fn open(dir: &tempfile::TempDir, durability: Durability) -> Store {
    Store::open_with(
        dir.path().join("bench.db"),
        &OpenOptions {
            durability,
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

fn writes(c: &mut Criterion) {
    let mut g = c.benchmark_group("state");
    g.measurement_time(Duration::from_secs(5));
    for (name, durability) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir, durability);
        let mut i = 0u32;
        g.bench_function(format!("insert_alert/{name}"), |b| {
            b.iter(|| {
                i += 1;
                store
                    .record_alert(mac(i % 250), &alert(T0 + i64::from(i) * S), SENTENCE)
                    .unwrap()
            })
        });

        // One policy call: a flood on a new device starts two decisions and
        // sets the escalation memory (three changes, one transaction).
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(&dir, durability);
        let mut p = Policy::new(PolicyConfig {
            max_devices: 1 << 20,
            ..PolicyConfig::default()
        })
        .unwrap();
        let summary = AlertSummary::new(SENTENCE, "udp flood: peak 9000 packets/s");
        let mut i = 0u32;
        g.bench_function(format!("record_change/{name}"), |b| {
            b.iter_batched(
                || {
                    i += 1;
                    p.on_alert(
                        mac(i),
                        AlertKind::Flood,
                        &summary,
                        Timestamp(T0 + i64::from(i)),
                    )
                },
                |changes| store.record_changes(&changes).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn reads(c: &mut Criterion) {
    // 250 devices, each flooding once a day for 20 days: escalation turns
    // the rate limits into quarantines, whose lifetimes grow past a day and
    // are then extended: 250 quarantines in force among 1,750 decisions,
    // 5,000 alerts, 6,750 events.
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(&dir, Durability::Normal);
    let mut p = Policy::new(PolicyConfig::default()).unwrap();
    let summary = AlertSummary::new(SENTENCE, "udp flood: peak 9000 packets/s");
    let day = 86_400 * S;
    let mut now = Timestamp(T0);
    for d in 0..20 {
        for i in 0..250 {
            now = Timestamp(T0 + d * day + i64::from(i) * S);
            store.record_alert(mac(i), &alert(now.0), SENTENCE).unwrap();
            let mut changes = p.tick(now);
            changes.extend(p.on_alert(mac(i), AlertKind::Flood, &summary, now));
            store.record_changes(&changes).unwrap();
        }
    }
    let active = store.active_decisions(now).unwrap();
    assert_eq!(active.len(), 250, "quarantines after repeats");
    assert_eq!(store.counts().unwrap()[1], 1_750, "decisions stored");
    let mut g = c.benchmark_group("state");
    g.bench_function("active_decisions/250_devices", |b| {
        b.iter(|| store.active_decisions(now).unwrap())
    });
    g.bench_function("policy_state/250_devices", |b| {
        b.iter(|| store.policy_state().unwrap())
    });
    g.bench_function("restore/250_devices", |b| {
        b.iter(|| {
            Policy::restore(PolicyConfig::default(), store.policy_state().unwrap(), now).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, writes, reads);
criterion_main!(benches);
