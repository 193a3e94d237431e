//! script() for 250 devices (the footprint target), and apply() of
//! the same states into the kernel in a network namespace (root only).
//!
//! cargo bench -p warden-enforce

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration;

#[path = "../tests/lab/mod.rs"]
mod lab;

use warden_enforce::{script, Nft};

fn bench_script(c: &mut Criterion) {
    for (name, all) in [("one action each", false), ("every action", true)] {
        let e = lab::many_devices(250, all);
        c.bench_function(&format!("script, 250 devices, {name}"), |b| {
            b.iter(|| script(black_box(&e)).unwrap())
        });
    }
}

fn bench_apply(c: &mut Criterion) {
    if !rustix::process::geteuid().is_root() {
        eprintln!("apply benchmarks need root (a network namespace and nft): not run");
        return;
    }
    let lab = lab::Lab::router_only("bench");
    let mut group = c.benchmark_group("apply");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for (name, all) in [("one action each", false), ("every action", true)] {
        let e = lab::many_devices(250, all);
        group.bench_function(format!("apply, 250 devices, {name}"), |b| {
            b.iter(|| lab::in_ns(&lab.router, || Nft::default().apply(&e)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_script, bench_apply);
criterion_main!(benches);
