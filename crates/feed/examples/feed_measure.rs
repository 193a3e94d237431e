//! Measures the feed at scale (docs/feed.md, "Measurements").
//!
//! ```text
//! cargo run --release -p warden-feed --example feed_measure -- publish DIR N
//! /usr/bin/time -v target/release/examples/feed_measure sync DIR STATE DEVICES [once]
//! ```
//!
//! `publish` writes root.1.json and two versions of N synthetic listings
//! (the second changes 0.2 % of them: 500 removed, 500 added, 1,000
//! updated per million) and prints the time and the file sizes, raw and
//! gzip. `sync` is the router: verify root, timestamp and snapshot, keep
//! the listings, and match DEVICES devices against them.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use warden_feed::client::{DirFetcher, TrustedFeed};
use warden_feed::publish::{self, new_root, PublishOptions};
use warden_feed::{synth, DeviceSet, KeyPair};

const T0: i64 = 1_764_000_000;

fn gzip_size(path: &Path) -> u64 {
    let mut enc = flate2::write::GzEncoder::new(CountingSink(0), flate2::Compression::default());
    std::io::copy(&mut fs::File::open(path).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap().0
}

struct CountingSink(u64);

impl std::io::Write for CountingSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The listing count of the published feed (to pick devices that match).
fn count_hint(dir: &Path) -> u64 {
    let env =
        warden_feed::Envelope::from_slice(&fs::read(dir.join("timestamp.json")).unwrap(), 1 << 20)
            .unwrap();
    let ts: warden_feed::Timestamp = serde_json::from_slice(&env.payload).unwrap();
    ts.snapshot.count
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("publish") => {
            let dir = Path::new(&args[2]);
            let n: u64 = args[3].parse().unwrap();
            let root_key = KeyPair::from_seed([1; 32]);
            let feed_key = KeyPair::from_seed([2; 32]);
            let _ = fs::remove_dir_all(dir);
            let root = new_root(
                1,
                T0 + 86_400 * 365,
                &[root_key.public()],
                1,
                &[feed_key.public()],
                1,
            );
            publish::write_root(dir, &root, &[&root_key]).unwrap();
            let t = Instant::now();
            let ts = publish::publish_sorted(
                dir,
                synth::sorted(0..n),
                &[&feed_key],
                &PublishOptions::at(T0),
            )
            .unwrap();
            let took = t.elapsed();
            let snap = dir.join(&ts.snapshot.path);
            println!(
                "v1: {n} listings published in {:.2} s; {}: {} bytes ({:.1} MiB, {:.0} bytes/listing), gzip {} bytes ({:.1} MiB)",
                took.as_secs_f64(),
                ts.snapshot.path,
                ts.snapshot.size,
                ts.snapshot.size as f64 / 1048576.0,
                ts.snapshot.size as f64 / n as f64,
                gzip_size(&snap),
                gzip_size(&snap) as f64 / 1048576.0,
            );
            // v2: per million, 500 removed (the first ids), 500 added, 1,000 updated.
            let k = (n / 2000).max(1);
            let mut changed = 0;
            let v2 = synth::sorted(k..n + k).map(|mut l| {
                if changed < 2 * k && l.id.as_bytes()[0] == b'7' {
                    l.evidence.reporters += 1;
                    l.evidence.sightings += 3;
                    l.last_seen += 86_400;
                    changed += 1;
                }
                l
            });
            let t = Instant::now();
            let ts2 =
                publish::publish_sorted(dir, v2, &[&feed_key], &PublishOptions::at(T0 + 3600))
                    .unwrap();
            let took = t.elapsed();
            let d = &ts2.deltas[0];
            println!(
                "v2: published in {:.2} s; {}: {} bytes ({:.1} KiB), gzip {} bytes ({:.1} KiB); timestamp.json {} bytes",
                took.as_secs_f64(),
                d.path,
                d.size,
                d.size as f64 / 1024.0,
                gzip_size(&dir.join(&d.path)),
                gzip_size(&dir.join(&d.path)) as f64 / 1024.0,
                fs::metadata(dir.join("timestamp.json")).unwrap().len(),
            );
        }
        Some("sync") => {
            let dir = Path::new(&args[2]);
            let state = Path::new(&args[3]);
            let n_dev: usize = args.get(4).map_or(250, |s| s.parse().unwrap());
            let _ = fs::remove_dir_all(state);
            let pinned = fs::read(dir.join("root.1.json")).unwrap();
            // The devices are the guard's: known before the feed arrives.
            let listings = fs::read(dir.join("timestamp.json"))
                .map(|_| count_hint(dir))
                .unwrap();
            let devices = synth::devices(n_dev, listings);
            let t = Instant::now();
            let mut feed = TrustedFeed::open(state, &pinned).unwrap();
            feed.limits.max_snapshot_bytes = 1 << 30;
            let set = DeviceSet::new(devices);
            let (r, out) = feed
                .sync_and_scan(&DirFetcher::new(dir), T0 + 7200, &set)
                .unwrap();
            let t_first = t.elapsed();
            if args.get(5).map(String::as_str) == Some("once") {
                println!(
                    "sync v{} ({:?}) verifying {} listings and matching {n_dev} devices in the same pass: {:.3} s, {} matches",
                    r.to,
                    r.via,
                    out.listings,
                    t_first.as_secs_f64(),
                    out.matches.len()
                );
                return;
            }
            // Matching again later (a new device): a pass over the kept copy.
            let t2 = Instant::now();
            let again = feed.scan(&set).unwrap();
            let t_scan = t2.elapsed();
            assert_eq!(again.matches.len(), out.matches.len());
            println!(
                "sync v{} ({:?}) verifying {} listings and matching {n_dev} devices in the same pass: {:.3} s, {} matches, {} malformed; matching again from the kept copy: {:.3} s",
                r.to,
                r.via,
                out.listings,
                t_first.as_secs_f64(),
                out.matches.len(),
                out.malformed,
                t_scan.as_secs_f64(),
            );
            std::io::stdout().flush().unwrap();
        }
        Some("seeds") => {
            // Seed inputs for the fuzz target feed_envelope.
            let dir = Path::new(&args[2]);
            fs::create_dir_all(dir).unwrap();
            let key = KeyPair::from_seed([3; 32]);
            let mut i = 0;
            let mut put = |bytes: &[u8]| {
                fs::write(dir.join(format!("seed-{i:02}")), bytes).unwrap();
                i += 1;
            };
            for n in [0, 1, 7, 19] {
                put(serde_json::to_string(&synth::listing(n))
                    .unwrap()
                    .as_bytes());
            }
            let out = std::env::temp_dir().join(format!("feed-seeds-{}", std::process::id()));
            let root = new_root(1, T0 + 86_400, &[key.public()], 1, &[key.public()], 1);
            publish::write_root(&out, &root, &[&key]).unwrap();
            publish::publish_sorted(&out, synth::sorted(0..3), &[&key], &PublishOptions::at(T0))
                .unwrap();
            for name in ["root.json", "timestamp.json", "snapshot.1.jsonl"] {
                put(&fs::read(out.join(name)).unwrap());
            }
            let _ = fs::remove_dir_all(&out);
            let sighting = warden_feed::Sighting {
                version: 1,
                nonce: "0123456789abcdef0123456789abcdef".into(),
                sent_at: T0,
                window_start: T0 - T0 % 3600,
                window_hours: 1,
                reporter: key.public(),
                device: warden_feed::DeviceType {
                    mac_prefix: "00:17:88/24".parse().unwrap(),
                    vendor: Some("Philips Lighting BV".into()),
                    model: Some("BSB002".into()),
                    firmware: Some("1.50.0".into()),
                    fingerprint: "ab".repeat(32),
                },
                behaviour: warden_feed::Behaviour {
                    kind: warden_feed::BehaviourKind::Scan,
                    peak_pps_bucket: 128,
                    targets_bucket: 512,
                    ports: vec![22, 23],
                },
            };
            put(&sighting.sign(&key).to_vec());
            put(&serde_json::to_vec(&sighting).unwrap());
            for text in [
                "00:17:88/24",
                "70:b3:d5:e0/28",
                "70:b3:d5:1f:30/36",
                "1.2.10|1.2.9",
                "1.2rc1|1.2",
            ] {
                put(text.as_bytes());
            }
        }
        _ => eprintln!(
            "usage: feed_measure publish DIR N | sync DIR STATE [DEVICES [once]] | seeds DIR"
        ),
    }
}
