//! Lookup cost on the embedded registry: `cargo bench -p warden-oui`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn lookups(c: &mut Criterion) {
    // First call decodes the embedded file; keep that out of the timings.
    let _ = warden_oui::lookup([0; 6]);
    let macs: [[u8; 6]; 4] = [
        [0x50, 0xc7, 0xbf, 0x00, 0xfc, 0xa3], // MA-L hit (after three misses)
        [0x70, 0xb3, 0xd5, 0xf2, 0xf9, 0x99], // MA-S hit (first search)
        [0xfc, 0x00, 0x00, 0x12, 0x34, 0x56], // unassigned: four misses
        [0xda, 0xa1, 0x19, 0x12, 0x34, 0x56], // locally administered: no search
    ];
    c.bench_function("lookup mixed x4", |b| {
        b.iter(|| {
            for mac in &macs {
                black_box(warden_oui::lookup(black_box(*mac)));
            }
        })
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);
