//! The router's side at scale: verify a snapshot of 1,000,000 listings
//! (signature, size, SHA-256), keep it, and match 250 devices against it,
//! in one pass; then matching again from the kept copy; and the in-memory
//! index on a smaller feed. `FEED_BENCH_LISTINGS` changes the feed size.
//! Figures and peak memory (measured with the `feed_measure` example under
//! /usr/bin/time -v) are in docs/feed.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use warden_feed::client::{DirFetcher, TrustedFeed};
use warden_feed::publish::{self, new_root, PublishOptions};
use warden_feed::{synth, DeviceSet, FeedIndex, KeyPair};

const T0: i64 = 1_764_000_000;

fn bench(c: &mut Criterion) {
    let n: u64 = std::env::var("FEED_BENCH_LISTINGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let root_key = KeyPair::from_seed([1; 32]);
    let feed_key = KeyPair::from_seed([2; 32]);
    let root = new_root(
        1,
        T0 + 86_400 * 365,
        &[root_key.public()],
        1,
        &[feed_key.public()],
        1,
    );
    let pinned = publish::write_root(&out, &root, &[&root_key])
        .unwrap()
        .to_vec();
    publish::publish_sorted(
        &out,
        synth::sorted(0..n),
        &[&feed_key],
        &PublishOptions::at(T0),
    )
    .unwrap();
    let set = DeviceSet::new(synth::devices(250, n));
    let fetcher = DirFetcher::new(&out);

    let mut g = c.benchmark_group("feed");
    g.sample_size(10);
    g.bench_function(
        format!("sync_verify_keep_match_{n}_listings_250_devices"),
        |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |state| {
                    let mut feed = TrustedFeed::open(state.path(), &pinned).unwrap();
                    feed.limits.max_snapshot_bytes = 1 << 30;
                    let (_, scan) = feed.sync_and_scan(&fetcher, T0 + 60, &set).unwrap();
                    assert_eq!(scan.listings, n);
                    state
                },
                BatchSize::PerIteration,
            )
        },
    );

    let state = tempfile::tempdir().unwrap();
    let mut feed = TrustedFeed::open(state.path(), &pinned).unwrap();
    feed.limits.max_snapshot_bytes = 1 << 30;
    feed.sync(&fetcher, T0 + 60).unwrap();
    g.bench_function(format!("match_kept_copy_{n}_listings_250_devices"), |b| {
        b.iter(|| feed.scan(&set).unwrap())
    });

    let small: Vec<_> = (0..100_000).map(synth::listing).collect();
    let devices = synth::devices(250, 100_000);
    g.bench_function("feed_index_build_100k_and_match_250", |b| {
        b.iter(|| {
            let ix = FeedIndex::build(small.clone());
            devices.iter().map(|d| ix.matches(d).len()).sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
