//! Per-packet cost of the detectors on a mixed device workload:
//! `cargo bench -p warden-detect`.
use std::net::{IpAddr, Ipv4Addr};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use warden_decode::{TcpFlags, Transport};
use warden_detect::{DetectConfig, Detectors, DeviceDetectors, Direction, Finding, Scope, Seen};

fn workload() -> Vec<Seen<'static>> {
    let mut v = Vec::new();
    let mut x: u64 = 88172645463325252;
    for i in 0..10_000i64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let remote = IpAddr::V4(Ipv4Addr::from((x >> 32) as u32 | 0x0b00_0000));
        let transport = match i % 4 {
            0 => Transport::Udp {
                src_port: 4000,
                dst_port: (x % 65535) as u16,
            },
            1 => Transport::Tcp {
                src_port: 4000,
                dst_port: 23,
                flags: TcpFlags(TcpFlags::SYN),
            },
            2 => Transport::Tcp {
                src_port: 4000,
                dst_port: 443,
                flags: TcpFlags(TcpFlags::ACK),
            },
            _ => Transport::Udp {
                src_port: 123,
                dst_port: 123,
            },
        };
        v.push(Seen {
            ts_ns: 1_700_000_000_000_000_000 + i * 100_000,
            direction: if i % 7 == 0 {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            remote,
            remote_port: 23,
            local_port: 4000,
            transport,
            wire_len: 60,
            payload: &[],
            scope: Scope::Internet,
            remote_named: false,
            spoofed: false,
            dns: None,
        });
    }
    v
}

fn bench(c: &mut Criterion) {
    let seen = workload();
    let d = Detectors::new(DetectConfig::default());
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(seen.len() as u64));
    g.bench_function("observe_mixed", |b| {
        let mut st = DeviceDetectors::default();
        let mut out: Vec<Finding> = Vec::new();
        b.iter(|| {
            for s in &seen {
                d.observe(&mut st, black_box(s), &mut out);
            }
            out.clear();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
