//! Feed server benchmarks (docs/feed-server.md has the figures).
//!
//! ```text
//! feed_bench ingest  --db URL [--n 200000] [--batch 500] [--mode store|http]
//! feed_bench publish --db URL [--listings 1000000] [--out DIR]
//! ```
//!
//! `ingest --mode store` times the storage alone (sightings already
//! verified); `--mode http` times the whole path: batch bodies of signed
//! envelopes through the router (parse, Ed25519 verification, network tag,
//! storage). Run under `taskset -c 0` for one core. `publish` fills the store
//! with warden-feed's synthetic listings, then times `publish_store`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use warden_feed::publish::PublishOptions;
use warden_feed::{Behaviour, BehaviourKind, DeviceType, KeyPair, MacPrefix, Sighting};
use warden_feed_server::api::{self, AppState};
use warden_feed_server::curation::Curators;
use warden_feed_server::engine::{device_key, ListingConfig};
use warden_feed_server::nettag::NetworkTagger;
use warden_feed_server::store::{self, IngestParams, NewSighting, Store};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// CPU seconds (user + system) used so far by this process and, summed,
/// by every `postgres` process: on a busy machine wall time says little,
/// CPU time says what one core can do.
fn cpu_secs() -> (f64, f64) {
    fn ticks(stat: &str) -> Option<(String, f64)> {
        let (head, rest) = stat.rsplit_once(") ")?;
        let comm = head.split_once(" (")?.1.to_string();
        let f: Vec<&str> = rest.split_whitespace().collect();
        let t = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some((comm, t / 100.0))
    }
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .map_or(0.0, |t| t.1);
    let mut pg = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some((comm, t)) = std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| ticks(&s))
            {
                if comm == "postgres" {
                    pg += t;
                }
            }
        }
    }
    (own, pg)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn device(i: u64) -> DeviceType {
    let b = (i as u32).to_be_bytes();
    DeviceType {
        mac_prefix: MacPrefix::of([b[1] & 0xfc, b[2], b[3], 0, 0, 0], 24),
        vendor: Some(format!("Vendor {}", i % 500)),
        model: Some(format!("Model {i}")),
        firmware: Some(format!("1.{}.{}", i % 7, i % 13)),
        fingerprint: format!("{:064x}", i),
    }
}

/// Sighting `i` of a population of 20,000 reporters in 10,000 networks
/// reporting 2,000 device types.
fn parts(i: u64) -> (u64, u64, u64) {
    (i % 20_000, (i * 7) % 10_000, (i * 13) % 2_000)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cmd = std::env::args().nth(1).unwrap_or_default();
    let db = arg("--db", "sqlite:/tmp/warden-feed-bench.db");
    match cmd.as_str() {
        "ingest" => ingest(&db).await,
        "publish" => publish(&db).await,
        _ => anyhow::bail!("usage: feed_bench ingest|publish --db URL ..."),
    }
}

async fn open_fresh(db: &str) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = db.strip_prefix("sqlite:") {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    } else {
        // A clean schema each run.
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(db).await?;
        sqlx::raw_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .execute(&mut c)
            .await?;
    }
    Ok(Arc::from(store::open(db).await?))
}

async fn ingest(db: &str) -> anyhow::Result<()> {
    let n: u64 = arg("--n", "200000").parse()?;
    let batch: usize = arg("--batch", "500").parse()?;
    let mode = arg("--mode", "store");
    let store = open_fresh(db).await?;
    let t_now = now();
    let params = IngestParams {
        reporter_per_hour: 1_000_000,
        network_per_hour: 1_000_000,
        nonce_ttl_secs: 1260,
        initial_weight: 0.5,
    };
    let accepted;
    let secs;
    let cpu0;
    if mode == "store" {
        let all: Vec<NewSighting> = (0..n)
            .map(|i| {
                let (r, net, d) = parts(i);
                let dev = device(d);
                NewSighting {
                    reporter: format!("{:064x}", r),
                    network: format!("{:032x}", net),
                    nonce: format!("{:032x}", i),
                    device_key: device_key(&dev),
                    device: serde_json::to_string(&dev).unwrap(),
                    behaviour: "flood".into(),
                    firmware: dev.firmware.clone(),
                    window_start: t_now - t_now.rem_euclid(3600),
                    sent_at: t_now,
                    detail:
                        r#"{"kind":"flood","peak_pps_bucket":1024,"targets_bucket":1,"ports":[80]}"#
                            .into(),
                }
            })
            .collect();
        cpu0 = cpu_secs();
        let start = Instant::now();
        let mut ok = 0;
        for chunk in all.chunks(batch) {
            ok += store
                .ingest(chunk, t_now, &params)
                .await?
                .iter()
                .filter(|o| **o == store::Outcome::Accepted)
                .count();
        }
        secs = start.elapsed().as_secs_f64();
        accepted = ok;
    } else {
        use tower::ServiceExt as _;
        let keys: Vec<KeyPair> = (0..2_000u32)
            .map(|i| {
                let mut seed = [1u8; 32];
                seed[..4].copy_from_slice(&i.to_le_bytes());
                KeyPair::from_seed(seed)
            })
            .collect();
        eprintln!("signing {n} sightings...");
        let bodies: Vec<Vec<u8>> = (0..n)
            .collect::<Vec<_>>()
            .chunks(batch)
            .map(|c| {
                let envs: Vec<serde_json::Value> = c
                    .iter()
                    .map(|&i| {
                        let (r, _, d) = parts(i);
                        let k = &keys[(r % 2_000) as usize];
                        let s = Sighting {
                            version: 1,
                            nonce: format!("{:032x}", i),
                            sent_at: t_now,
                            window_start: t_now - t_now.rem_euclid(3600),
                            window_hours: 1,
                            reporter: k.public(),
                            device: device(d),
                            behaviour: Behaviour {
                                kind: BehaviourKind::Flood,
                                peak_pps_bucket: 1024,
                                targets_bucket: 1,
                                ports: vec![80],
                            },
                        };
                        serde_json::from_slice(&s.sign(k).to_vec()).unwrap()
                    })
                    .collect();
                serde_json::to_vec(&envs).unwrap()
            })
            .collect();
        let listing = ListingConfig {
            reporter_per_hour: 1_000_000,
            network_per_hour: 1_000_000,
            ..Default::default()
        };
        let state = Arc::new(AppState {
            store: store.clone(),
            limiter: api::RequestLimiter::new(u32::MAX),
            listing,
            curators: Curators::default(),
            tagger: NetworkTagger::from_secret([1; 32]),
            trusted_proxies: vec![],
            clock: Arc::new(move || t_now),
        });
        let router = api::router(state);
        // `perf record -p` can attach here, after the signing.
        eprintln!("sending {} batches...", bodies.len());
        cpu0 = cpu_secs();
        let start = Instant::now();
        let mut ok = 0u64;
        for (b, body) in bodies.into_iter().enumerate() {
            let mut req = axum::http::Request::post("/v1/sightings/batch")
                .body(axum::body::Body::from(body))?;
            let ip: SocketAddr = format!("10.{}.{}.1:1000", (b / 256) % 256, b % 256).parse()?;
            req.extensions_mut().insert(axum::extract::ConnectInfo(ip));
            let resp = router.clone().oneshot(req).await?;
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await?
                .to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes)?;
            ok += v["accepted"].as_u64().unwrap_or(0);
        }
        secs = start.elapsed().as_secs_f64();
        accepted = ok as usize;
    }
    let cpu1 = cpu_secs();
    let (own, pg) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    println!(
        "ingest mode={mode} store={} batch={batch}: {accepted} of {n} accepted in {secs:.2} s wall = {:.0} sightings/s; \
         CPU: server process {own:.2} s ({:.0} sightings per CPU-second), postgres processes {pg:.2} s",
        store.kind(),
        accepted as f64 / secs,
        accepted as f64 / own.max(0.01),
    );
    let t = Instant::now();
    let r = warden_feed_server::engine::run_pass(store.as_ref(), &ListingConfig::default(), t_now)
        .await?;
    println!(
        "evaluator pass: {} device types evaluated, {} listed in {:.2} s",
        r.evaluated,
        r.listed,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn publish(db: &str) -> anyhow::Result<()> {
    let n: u64 = arg("--listings", "1000000").parse()?;
    let out = std::path::PathBuf::from(arg("--out", "/tmp/warden-feed-bench-out"));
    let _ = std::fs::remove_dir_all(&out);
    let store = open_fresh(db).await?;
    drop(store);
    let t = Instant::now();
    fill(db, n).await?;
    eprintln!("filled {n} listings in {:.1} s", t.elapsed().as_secs_f64());
    let store: Arc<dyn Store> = Arc::from(store::open(db).await?);
    let root = KeyPair::from_seed([2; 32]);
    let feed = KeyPair::from_seed([3; 32]);
    warden_feed_server::publish::ensure_root(&out, Some(&root), &feed, now() + 86400 * 365)?;
    let t = Instant::now();
    let ts = warden_feed_server::publish::publish_store(
        store.as_ref(),
        &out,
        vec![KeyPair::from_seed([3; 32])],
        PublishOptions::at(now()),
    )
    .await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "publish store={} listings={}: {:.2} s, snapshot {} bytes ({:.1} MiB, {:.0} bytes per listing)",
        store.kind(),
        ts.snapshot.count,
        secs,
        ts.snapshot.size,
        ts.snapshot.size as f64 / 1048576.0,
        ts.snapshot.size as f64 / ts.snapshot.count.max(1) as f64
    );
    // A typical day: 1% of the listings change (new evidence counts), 0.1% removed.
    let changed = n / 100;
    let t = Instant::now();
    touch(db, n, changed).await?;
    let ts2 = warden_feed_server::publish::publish_store(
        store.as_ref(),
        &out,
        vec![KeyPair::from_seed([3; 32])],
        PublishOptions::at(now() + 60),
    )
    .await?;
    let d = ts2.deltas.last().map(|d| d.size).unwrap_or(0);
    println!(
        "republish after {changed} changed and {} removed: {:.2} s, delta {} bytes ({:.1} MiB)",
        n / 1000,
        t.elapsed().as_secs_f64(),
        d,
        d as f64 / 1048576.0
    );
    Ok(())
}

fn row(i: u64, bump: u32) -> (String, String) {
    let mut l = warden_feed::synth::listing(i);
    l.evidence.sightings += bump;
    (l.id.clone(), serde_json::to_string(&l).unwrap())
}

/// Bulk insert (bench setup only: real listings are written with their audit line).
async fn fill(db: &str, n: u64) -> anyhow::Result<()> {
    write_rows(db, (0..n).map(|i| row(i, 0)), false).await
}

async fn touch(db: &str, n: u64, changed: u64) -> anyhow::Result<()> {
    write_rows(
        db,
        (0..changed).map(|k| row(k * (n / changed.max(1)), 1)),
        false,
    )
    .await?;
    write_rows(db, (0..n / 1000).map(|k| row(k * 1000 + 7, 0)), true).await
}

async fn write_rows(
    db: &str,
    rows: impl Iterator<Item = (String, String)>,
    delist: bool,
) -> anyhow::Result<()> {
    let state = if delist { "delisted" } else { "listed" };
    if let Some(path) = db.strip_prefix("sqlite:") {
        let mut c = rusqlite::Connection::open(path)?;
        let tx = c.transaction()?;
        {
            let mut q = tx.prepare(
                "INSERT INTO listings (id, device_key, state, source, suppressed, body, first_seen, last_seen, updated_at)
                 VALUES (?1, NULL, ?3, 'evidence', 0, ?2, 0, 0, 0)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, state = excluded.state",
            )?;
            for (id, body) in rows {
                q.execute(rusqlite::params![id, body, state])?;
            }
        }
        tx.commit()?;
    } else {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(db).await?;
        let rows: Vec<(String, String)> = rows.collect();
        for chunk in rows.chunks(10_000) {
            let ids: Vec<&str> = chunk.iter().map(|r| r.0.as_str()).collect();
            let bodies: Vec<&str> = chunk.iter().map(|r| r.1.as_str()).collect();
            sqlx::query(
                "INSERT INTO listings (id, device_key, state, source, suppressed, body, first_seen, last_seen, updated_at)
                 SELECT i, NULL, $3, 'evidence', 0, b, 0, 0, 0 FROM UNNEST($1::text[], $2::text[]) AS t(i, b)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, state = excluded.state",
            )
            .bind(&ids)
            .bind(&bodies)
            .bind(state)
            .execute(&mut c)
            .await?;
        }
    }
    Ok(())
}
