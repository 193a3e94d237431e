//! Decode cost per frame, beside etherparse's zero-copy slicer on the same
//! frames (the crate we would otherwise use): `cargo bench -p warden-decode`.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use warden_decode::{decode, LinkType};

fn frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut f = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 168, 1, 20], [203, 0, 113, 9], 64)
        .tcp(40000, 23, 1, 1024)
        .syn()
        .write(&mut f, &[])
        .unwrap();
    f.resize(60, 0);
    out.push(f);
    let mut f = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([192, 168, 1, 20], [203, 0, 113, 9], 64)
        .udp(40000, 53)
        .write(&mut f, &[0u8; 512])
        .unwrap();
    out.push(f);
    let mut f = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .single_vlan(etherparse::VlanId::try_new(10).unwrap())
        .ipv6([0xfd; 16], [0x20; 16], 64)
        .tcp(443, 50000, 1, 1024)
        .ack(5)
        .write(&mut f, &[0u8; 1200])
        .unwrap();
    out.push(f);
    out
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("warden", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(decode(LinkType::Ethernet, black_box(f)));
            }
        })
    });
    g.bench_function("etherparse_sliced", |b| {
        b.iter(|| {
            for f in &frames {
                let _ = black_box(etherparse::SlicedPacket::from_ethernet(black_box(f)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
