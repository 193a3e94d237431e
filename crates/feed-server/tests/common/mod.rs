//! The test harness: every scenario runs against SQLite and PostgreSQL.
//! PostgreSQL comes from WARDEN_TEST_POSTGRES_URL (.ci/setup.d/postgres.sh
//! sets it); each test gets its own schema. Under CI a missing URL fails
//! the test; elsewhere it fails too unless WARDEN_TEST_SKIP_POSTGRES=1.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};
use warden_feed::{Behaviour, BehaviourKind, DeviceType, KeyPair, MacPrefix, Sighting};
use warden_feed_server::api::{self, AppState};
use warden_feed_server::curation::Curators;
use warden_feed_server::engine::{device_key, ListingConfig};
use warden_feed_server::nettag::NetworkTagger;
use warden_feed_server::store::{postgres::PgStore, sqlite::SqliteStore, NewSighting, Store};

/// A fixed "now" on the hour.
pub const NOW: i64 = 1_800_001_800;

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    pub pg: Option<(String, String)>,
}

pub async fn open(db: Db) -> Option<TestDb> {
    let dir = tempfile::tempdir().unwrap();
    match db {
        Db::Sqlite => {
            let store = SqliteStore::open(dir.path().join("feed.db")).await.unwrap();
            Some(TestDb {
                store: Arc::new(store),
                dir,
                pg: None,
            })
        }
        Db::Postgres => {
            let url = match std::env::var("WARDEN_TEST_POSTGRES_URL") {
                Ok(u) if !u.is_empty() => u,
                _ => {
                    if std::env::var_os("CI").is_none()
                        && std::env::var("WARDEN_TEST_SKIP_POSTGRES").as_deref() == Ok("1")
                    {
                        eprintln!(
                            "WARDEN_TEST_SKIP_POSTGRES=1: PostgreSQL half of this test not run"
                        );
                        return None;
                    }
                    panic!(
                        "WARDEN_TEST_POSTGRES_URL is not set: the feed server's suite must also run against PostgreSQL \
                         (source .ci/setup.d/postgres.sh; outside CI, WARDEN_TEST_SKIP_POSTGRES=1 runs SQLite alone)"
                    );
                }
            };
            let schema = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
            let opts: PgConnectOptions = url.parse().unwrap();
            let mut c = opts
                .connect()
                .await
                .expect("connecting to WARDEN_TEST_POSTGRES_URL");
            sqlx::raw_sql(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
            let store = PgStore::connect_with(opts.options([("search_path", schema.as_str())]))
                .await
                .unwrap();
            Some(TestDb {
                store: Arc::new(store),
                dir,
                pg: Some((url, schema)),
            })
        }
    }
}

impl TestDb {
    /// Reopens the same database (migrations must be idempotent).
    pub async fn reopen(&self) -> Arc<dyn Store> {
        match &self.pg {
            None => Arc::new(
                SqliteStore::open(self.dir.path().join("feed.db"))
                    .await
                    .unwrap(),
            ),
            Some((url, schema)) => {
                let opts: PgConnectOptions = url.parse().unwrap();
                Arc::new(
                    PgStore::connect_with(opts.options([("search_path", schema.as_str())]))
                        .await
                        .unwrap(),
                )
            }
        }
    }

    /// Every stored byte as text (SQLite: the files; PostgreSQL: every row as JSON).
    pub async fn dump(&self) -> String {
        match &self.pg {
            None => {
                let mut out = String::new();
                for e in std::fs::read_dir(self.dir.path()).unwrap() {
                    let bytes = std::fs::read(e.unwrap().path()).unwrap();
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
                out
            }
            Some((url, schema)) => {
                let opts: PgConnectOptions = url.parse().unwrap();
                let mut c = opts
                    .options([("search_path", schema.as_str())])
                    .connect()
                    .await
                    .unwrap();
                let mut out = String::new();
                for t in [
                    "sightings",
                    "nonces",
                    "reporters",
                    "device_types",
                    "rate_counters",
                    "listings",
                    "audit",
                ] {
                    for r in sqlx::query(&format!("SELECT row_to_json(t)::text FROM {t} t"))
                        .fetch_all(&mut c)
                        .await
                        .unwrap()
                    {
                        out.push_str(&r.get::<String, _>(0));
                    }
                }
                out
            }
        }
    }

    pub async fn drop_pg(self) {
        if let Some((url, schema)) = &self.pg {
            let opts: PgConnectOptions = url.parse().unwrap();
            if let Ok(mut c) = opts.connect().await {
                let _ = sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut c)
                    .await;
            }
        }
    }
}

/// Runs `$body` (an async fn taking `TestDb`) against both databases.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   let db = $crate::common::open($crate::common::Db::Sqlite).await.unwrap();
                   super::$name(db).await;
               } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() {
                   if let Some(db) = $crate::common::open($crate::common::Db::Postgres).await {
                       super::$name(db).await;
                   }
               } )*
        }
    };
}

pub fn key(i: u32) -> KeyPair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    seed[31] = 7;
    KeyPair::from_seed(seed)
}

pub fn device(model: &str) -> DeviceType {
    DeviceType {
        mac_prefix: "00:17:88/24".parse::<MacPrefix>().unwrap(),
        vendor: Some("Acme".into()),
        model: Some(model.into()),
        firmware: Some("1.0.3".into()),
        fingerprint: "ab".repeat(32),
    }
}

pub fn sighting(reporter: &KeyPair, dev: &DeviceType, now: i64) -> Sighting {
    Sighting {
        version: 1,
        nonce: hex::encode(rand::random::<[u8; 16]>()),
        sent_at: now,
        window_start: now - now.rem_euclid(3600),
        window_hours: 1,
        reporter: reporter.public(),
        device: dev.clone(),
        behaviour: Behaviour {
            kind: BehaviourKind::Flood,
            peak_pps_bucket: 1024,
            targets_bucket: 1,
            ports: vec![80],
        },
    }
}

/// A stored-form sighting without HTTP (store and engine tests).
pub fn new_sighting(reporter: &str, network: &str, dev: &DeviceType) -> NewSighting {
    NewSighting {
        reporter: reporter.into(),
        network: network.into(),
        nonce: hex::encode(rand::random::<[u8; 16]>()),
        device_key: device_key(dev),
        device: serde_json::to_string(dev).unwrap(),
        behaviour: "flood".into(),
        firmware: dev.firmware.clone(),
        window_start: NOW - NOW.rem_euclid(3600),
        sent_at: NOW,
        detail: "{}".into(),
    }
}

pub struct App {
    pub router: axum::Router,
    pub clock: Arc<AtomicI64>,
    pub state: Arc<AppState>,
}

pub fn app(store: Arc<dyn Store>, listing: ListingConfig, curators: Curators) -> App {
    app_with(store, listing, curators, 1000)
}

pub fn app_with(
    store: Arc<dyn Store>,
    listing: ListingConfig,
    curators: Curators,
    per_minute: u32,
) -> App {
    let clock = Arc::new(AtomicI64::new(NOW));
    let c = clock.clone();
    let state = Arc::new(AppState {
        store,
        limiter: api::RequestLimiter::new(per_minute),
        listing,
        curators,
        tagger: NetworkTagger::from_secret([42; 32]),
        trusted_proxies: vec![],
        clock: Arc::new(move || c.load(Ordering::SeqCst)),
    });
    App {
        router: api::router(state.clone()),
        clock,
        state,
    }
}

/// POSTs `body` to `path` from `from`; returns status and JSON body.
pub async fn post(app: &App, path: &str, from: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    use tower::ServiceExt as _;
    let mut req = axum::http::Request::post(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap();
    let addr: SocketAddr = from.parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

pub async fn get(app: &App, path: &str) -> (u16, serde_json::Value) {
    use tower::ServiceExt as _;
    let resp = app
        .router
        .clone()
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// GETs `path`; returns status, headers and the body as text (for pages).
pub async fn get_text(app: &App, path: &str) -> (u16, axum::http::HeaderMap, String) {
    use tower::ServiceExt as _;
    let resp = app
        .router
        .clone()
        .oneshot(
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}
