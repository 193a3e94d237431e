//! Per-frame cost of the whole pipeline (decode, device lookup, counters,
//! detectors) on minimum-size frames from 64 devices:
//! `cargo bench -p warden-pipeline`.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use warden_capture::Frame;
use warden_decode::LinkType;
use warden_pipeline::{CollectOnly, Config, Pipeline};

fn frames() -> Vec<Vec<u8>> {
    let router = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..4096u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let dev = (i % 64) as u8;
        let mac = [0x02, 0x42, 0, 0, 0, dev];
        let src = [192, 168, 1, 10 + dev];
        let dst = [
            (x >> 8) as u8 | 1,
            (x >> 16) as u8,
            (x >> 24) as u8,
            (x >> 32) as u8,
        ];
        let b = PacketBuilder::ethernet2(mac, router).ipv4(src, dst, 64);
        let mut f = Vec::new();
        match i % 3 {
            0 => b
                .udp(40000, (x % 65535) as u16)
                .write(&mut f, &[0; 18])
                .unwrap(),
            1 => b
                .tcp(40000, 443, 1, 1000)
                .ack(1)
                .write(&mut f, &[0; 6])
                .unwrap(),
            _ => b
                .tcp(40000, 23, 1, 1000)
                .syn()
                .write(&mut f, &[0; 6])
                .unwrap(),
        }
        f.resize(60, 0);
        out.push(f);
    }
    out
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("process_min_frames_64_devices", |b| {
        let mut p = Pipeline::new(&Config::default());
        let mut ts = 1_700_000_000_000_000_000i64;
        b.iter(|| {
            for f in &frames {
                ts += 2_000;
                p.process(
                    &Frame {
                        ts_ns: ts,
                        link: LinkType::Ethernet,
                        data: black_box(f),
                        wire_len: 60,
                    },
                    &mut CollectOnly,
                );
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
