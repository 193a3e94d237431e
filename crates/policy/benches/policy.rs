//! Policy costs with 250 devices under decisions.
//!
//! cargo bench -p warden-policy

use criterion::{criterion_group, criterion_main, Criterion};
use warden_policy::{AlertKind, AlertSummary, Mac, Policy, PolicyConfig, Timestamp};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_768_478_400 * S;

fn mac(n: u32) -> Mac {
    let b = n.to_be_bytes();
    Mac([0x00, 0x11, b[0], b[1], b[2], b[3]])
}

fn loaded() -> (Policy, AlertSummary) {
    let summary = AlertSummary::new(
        "This device sent 9,000 UDP packets per second to one internet address (203.0.113.5) for 3 seconds: it is probably part of a botnet attack.",
        "udp flood: peak 9000 packets/s",
    );
    let mut p = Policy::new(PolicyConfig::default()).unwrap();
    for i in 0..250 {
        let kind = AlertKind::ALL[i as usize % 4];
        p.on_alert(mac(i), kind, &summary, Timestamp(T0 + i64::from(i) * S));
    }
    (p, summary)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy");
    let (p, summary) = loaded();
    let now = Timestamp(T0 + 300 * S);
    g.bench_function("on_alert/repeat_of_250", |b| {
        let mut p = p.clone();
        let mut i = 0u32;
        b.iter(|| {
            i += 1;
            p.on_alert(mac(i % 250), AlertKind::Flood, &summary, now)
        })
    });
    g.bench_function("on_ongoing/250", |b| {
        let mut p = p.clone();
        let mut i = 0u32;
        b.iter(|| {
            i += 1;
            p.on_ongoing(mac(i % 250), AlertKind::Flood, &summary, now)
        })
    });
    g.bench_function("tick/250_devices_nothing_due", |b| {
        let mut p = p.clone();
        b.iter(|| p.tick(now))
    });
    g.bench_function("active/250_devices", |b| b.iter(|| p.active(now).count()));
    g.bench_function("snapshot_restore/250_devices", |b| {
        b.iter(|| Policy::restore(PolicyConfig::default(), p.snapshot(now), now).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
