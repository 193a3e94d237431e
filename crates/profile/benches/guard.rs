//! Per-packet cost of the guard's profiles (`Sink::packet` in `warden run`):
//! a household of 250 devices, every packet judged against its profile
//! (`Judge`) or, for devices without one, learned from (`Learner`).
//! `cargo bench -p warden-profile --bench guard`.
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use warden_decode::{decode, LinkType, Mac, Packet};
use warden_profile::guard::{Assigned, Judge};
use warden_profile::learn::Learner;
use warden_profile::Profile;

const DEVICES: u8 = 250;
const ROUTER: [u8; 4] = [192, 168, 1, 1];
const S: i64 = 1_000_000_000;

fn profile() -> Arc<Profile> {
    let yaml = "format_version: 1\nidentity:\n  vendor: Acme\n  model: Cam 1\nnetwork:\n  flows:
    - {direction: from_device, protocol: tcp, port: 443, dns_name: cloud.example.test, purpose: cloud}
    - {direction: from_device, protocol: udp, port: 123, dns_name: ntp.example.test, purpose: time}
    - {direction: from_device, protocol: udp, port: 53, class: local_networks, purpose: DNS}
";
    let m = warden_model::load(yaml.as_bytes()).expect("a valid model");
    Arc::new(Profile::from_model(&m.model.network))
}

/// A device's traffic as the guard sees it: mostly packets of established
/// TCP to its cloud and both directions, some new connections (allowed and
/// not), DNS and NTP. (device index, outbound, frame)
fn workload() -> Vec<(u8, bool, Vec<u8>)> {
    let mut v = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let dev = (x % u64::from(DEVICES)) as u8;
        let mac = [0x02, 0, 0, 0, 1, dev];
        let ip = [192, 168, 1, 10 + dev % 200];
        let cloud = [203, 0, 113, 10];
        let (out, b) = match i % 10 {
            0 => (
                true,
                PacketBuilder::ethernet2(mac, [2, 0, 0, 0, 0, 1]).ipv4(ip, cloud, 64),
            ),
            1 => (
                false,
                PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], mac).ipv4(cloud, ip, 64),
            ),
            _ => (
                true,
                PacketBuilder::ethernet2(mac, [2, 0, 0, 0, 0, 1]).ipv4(ip, cloud, 64),
            ),
        };
        let mut f = Vec::new();
        match i % 10 {
            // A new connection: to the cloud (allowed), or to a random address (not).
            0 if i % 20 == 0 => {
                let other = [198, 51, (x >> 8) as u8, (x >> 16) as u8];
                PacketBuilder::ethernet2(mac, [2, 0, 0, 0, 0, 1])
                    .ipv4(ip, other, 64)
                    .tcp(40_000 + (i % 1000) as u16, 443, 1, 64_000)
                    .syn()
                    .write(&mut f, &[])
                    .unwrap();
            }
            0 => b
                .tcp(40_000, 443, 1, 64_000)
                .syn()
                .write(&mut f, &[])
                .unwrap(),
            1 => b
                .tcp(443, 40_000, 1, 64_000)
                .ack(1)
                .write(&mut f, &[0; 200])
                .unwrap(),
            2 => PacketBuilder::ethernet2(mac, [2, 0, 0, 0, 0, 1])
                .ipv4(ip, ROUTER, 64)
                .udp(5353, 53)
                .write(&mut f, &[0; 40])
                .unwrap(),
            _ => b
                .tcp(40_000, 443, 1, 64_000)
                .ack(1)
                .write(&mut f, &[0; 100])
                .unwrap(),
        }
        v.push((dev, out, f));
    }
    v
}

/// 250 devices held to one profile, each having resolved its cloud's name.
fn judge() -> Judge {
    let mut j = Judge::new(vec![IpAddr::from(ROUTER)]);
    let p = profile();
    for d in 0..DEVICES {
        let mac = Mac([0x02, 0, 0, 0, 1, d]);
        j.assign(
            mac,
            Some(Assigned {
                profile: p.clone(),
                source: "model",
                label: "Acme Cam 1".into(),
            }),
        );
        j.dns_answer(
            mac,
            "cloud.example.test",
            &[IpAddr::from([203, 0, 113, 10])],
            3_600,
            0,
        );
    }
    j
}

fn bench(c: &mut Criterion) {
    let frames = workload();
    let packets: Vec<(Mac, bool, Packet<'_>)> = frames
        .iter()
        .map(|(d, out, f)| {
            (
                Mac([0x02, 0, 0, 0, 1, *d]),
                *out,
                decode(LinkType::Ethernet, f).unwrap(),
            )
        })
        .collect();
    let mut g = c.benchmark_group("guard");
    g.throughput(Throughput::Elements(packets.len() as u64));

    // The workload must exercise the judging: some new flows are not
    // allowed and raise incidents.
    let mut j = judge();
    let events = packets
        .iter()
        .enumerate()
        .filter(|(i, (mac, out, p))| j.packet(*mac, S + *i as i64 * 50_000, *out, p).is_some())
        .count();
    assert!(events > 0, "the workload raised no incident");

    g.bench_function("judge_250_devices_with_profiles", |b| {
        let mut j = judge();
        let mut ts = S;
        b.iter(|| {
            for (mac, out, p) in &packets {
                ts += 50_000;
                black_box(j.packet(*mac, ts, *out, p));
            }
        })
    });

    g.bench_function("learn_250_devices_without_profiles", |b| {
        let mut l = Learner::new(vec![IpAddr::from(ROUTER)], 3_600);
        for d in 0..DEVICES {
            let mac = Mac([0x02, 0, 0, 0, 1, d]);
            l.dns_answer(
                mac,
                "cloud.example.test",
                &[IpAddr::from([203, 0, 113, 10])],
                0,
            );
        }
        let mut ts = S;
        b.iter(|| {
            for (mac, out, p) in &packets {
                ts += 50_000;
                l.packet(*mac, ts, *out, p);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
