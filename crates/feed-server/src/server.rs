//! `warden feed serve`: the store, the network tagger, the HTTP API and the
//! evaluator that lists device types, in one process.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::api::{self, AppState, Clock};
use crate::curation::Curators;
use crate::engine::{self, ListingConfig};
use crate::nettag::NetworkTagger;
use crate::store::{self, Store};

/// The server's configuration (`--config FILE`, TOML); the command line
/// overrides `listen`, `db` and `secret`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Loopback unless said otherwise.
    pub listen: SocketAddr,
    /// `sqlite:PATH` or `postgres://...`.
    pub db: String,
    /// The network-tag secret; created 0600 on first run.
    pub secret: PathBuf,
    /// Seconds between evaluator passes.
    pub evaluate_every_secs: u64,
    /// Peers whose X-Forwarded-For names the client (a load balancer).
    pub trusted_proxies: Vec<IpAddr>,
    /// Sighting requests (single or batch) per network per minute, counted
    /// before signatures are checked.
    pub requests_per_minute: u32,
    pub listing: ListingConfig,
    pub curators: Curators,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8470)),
            db: "sqlite:warden-feed.db".into(),
            secret: PathBuf::from("warden-feed.secret"),
            evaluate_every_secs: 5,
            trusted_proxies: Vec::new(),
            requests_per_minute: 120,
            listing: ListingConfig::default(),
            curators: Curators::default(),
        }
    }
}

impl ServerConfig {
    pub fn load(path: &std::path::Path) -> anyhow::Result<ServerConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: ServerConfig =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.listing
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: [listing] {e}", path.display()))?;
        Ok(cfg)
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(cfg: ServerConfig) -> anyhow::Result<()> {
    cfg.listing
        .validate()
        .map_err(|e| anyhow::anyhow!("listing rule: {e}"))?;
    let store: Arc<dyn Store> = Arc::from(
        store::open(&cfg.db)
            .await
            .with_context(|| format!("opening {}", cfg.db))?,
    );
    let tagger = NetworkTagger::load_or_create(&cfg.secret)?;
    let clock: Clock = api::system_clock();
    let state = Arc::new(AppState {
        store: store.clone(),
        limiter: api::RequestLimiter::new(cfg.requests_per_minute),
        listing: cfg.listing.clone(),
        curators: cfg.curators.clone(),
        tagger,
        trusted_proxies: cfg.trusted_proxies.clone(),
        clock: clock.clone(),
    });
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.listen))?;
    tracing::info!(
        "feed server on http://{} ({} store)",
        listener.local_addr()?,
        store.kind()
    );
    eprintln!(
        "warden feed: serving on http://{} ({} store)",
        listener.local_addr()?,
        store.kind()
    );

    let every = Duration::from_secs(cfg.evaluate_every_secs.max(1));
    let eval_store = store.clone();
    let eval_cfg = cfg.listing.clone();
    // Every node may evaluate; one at a time does (a lease in the database,
    // renewed each pass), so two nodes never list the same type twice.
    let node = format!(
        "{}-{}",
        std::process::id(),
        hex::encode(rand::random::<[u8; 8]>())
    );
    let lease_secs = (3 * every.as_secs() as i64).max(30);
    let evaluator = tokio::spawn(async move {
        loop {
            let now = clock();
            match eval_store
                .lease("evaluator", &node, now, now + lease_secs)
                .await
            {
                Ok(true) => match engine::run_pass(eval_store.as_ref(), &eval_cfg, now).await {
                    Ok(r) if r.listed + r.expired > 0 => {
                        tracing::info!("evaluator: {} listed, {} expired", r.listed, r.expired)
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("evaluator: {e}"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!("evaluator lease: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    });
    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    evaluator.abort();
    Ok(())
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
