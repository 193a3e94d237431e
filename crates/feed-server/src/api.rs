//! The HTTP API (axum). Every refusal is a 4xx with `{ "error": "..." }`
//! and changes nothing; bodies are read by hand with a hard cap, so an
//! oversized body is refused before it is buffered.
//!
//! - `POST /v1/sightings`: one envelope (at most 16 KiB). 202 accepted,
//!   400 malformed, 401 bad signature, 409 replay or stale, 413 too large,
//!   429 rate limited.
//! - `POST /v1/sightings/batch`: a JSON array of up to 500 envelopes; 202
//!   with one result per envelope, in order.
//! - `POST /v1/curation`: a curation envelope signed by an operator or vendor key.
//! - `GET /v1/listings[?state=listed|delisted|all&after=ID&limit=N]`,
//!   `GET /v1/listings/{id}`, `GET /v1/status`, `GET /v1/audit[?after=SEQ&limit=N]`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use warden_feed::sighting::open_sighting_envelope;
use warden_feed::{
    Envelope, EnvelopeError, Listing, SightingError, VerifiedSighting, MAX_SIGHTING_BYTES,
};

use crate::curation::{self, CurationError, Curators, MAX_CURATION_BYTES};
use crate::engine::{device_key, ListingConfig};
use crate::nettag::NetworkTagger;
use crate::store::{IngestParams, NewSighting, Outcome, Store, StoreError};

/// At most this many envelopes in one batch.
pub const MAX_BATCH: usize = 500;
/// A batch body: 500 envelopes of at most 16 KiB, commas and brackets.
pub const MAX_BATCH_BYTES: usize = MAX_BATCH * (MAX_SIGHTING_BYTES + 1) + 2;

/// The server's clock, injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// Requests per network per minute, counted before any signature is
/// checked: a flood of junk from one network costs a hash lookup, not an
/// Ed25519 verification each. Memory is bounded: at most `max_tracked`
/// networks per minute are counted (beyond that, new networks pass
/// uncounted; the per-reporter and per-network limits in the store still hold).
pub struct RequestLimiter {
    per_minute: u32,
    max_tracked: usize,
    state: std::sync::Mutex<(i64, std::collections::HashMap<String, u32>)>,
}

impl RequestLimiter {
    pub fn new(per_minute: u32) -> Self {
        RequestLimiter {
            per_minute,
            max_tracked: 100_000,
            state: std::sync::Mutex::new((i64::MIN, Default::default())),
        }
    }

    /// Counts one request from `network`; false when it is over the limit.
    pub fn allow(&self, network: &str, now: i64) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let minute = now.div_euclid(60);
        if g.0 != minute {
            g.0 = minute;
            g.1.clear();
        }
        if let Some(c) = g.1.get_mut(network) {
            if *c >= self.per_minute {
                return false;
            }
            *c += 1;
        } else if g.1.len() < self.max_tracked {
            g.1.insert(network.to_string(), 1);
        }
        true
    }
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limiter: RequestLimiter,
    pub listing: ListingConfig,
    pub curators: Curators,
    pub tagger: NetworkTagger,
    /// Peers whose X-Forwarded-For is believed (a load balancer in front).
    pub trusted_proxies: Vec<IpAddr>,
    pub clock: Clock,
}

impl AppState {
    fn ingest_params(&self) -> IngestParams {
        IngestParams {
            reporter_per_hour: self.listing.reporter_per_hour,
            network_per_hour: self.listing.network_per_hour,
            // A nonce outlives the window in which its sent_at is accepted.
            nonce_ttl_secs: 2 * warden_feed::MAX_CLOCK_SKEW_S + 60,
            initial_weight: self.listing.initial_weight,
        }
    }
}

/// A refusal: status and one clear sentence.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!("storage: {e}");
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage is unavailable; try again later".into(),
        )
    }
}

fn sighting_error(e: &SightingError) -> ApiError {
    let status = match e {
        SightingError::TooLarge { .. }
        | SightingError::Envelope(EnvelopeError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        SightingError::Envelope(
            EnvelopeError::Unsigned
            | EnvelopeError::NoValidSignature
            | EnvelopeError::BelowThreshold { .. }
            | EnvelopeError::TooManySignatures(_),
        ) => StatusCode::UNAUTHORIZED,
        SightingError::ClockSkew { .. } => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError(status, e.to_string())
}

fn outcome_error(o: Outcome, st: &AppState) -> Option<ApiError> {
    match o {
        Outcome::Accepted => None,
        Outcome::Replay => Some(ApiError(
            StatusCode::CONFLICT,
            "replay: this sighting's nonce was seen before".into(),
        )),
        Outcome::ReporterLimited => Some(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "rate limited: this reporter sent {} sightings this hour",
                st.listing.reporter_per_hour
            ),
        )),
        Outcome::NetworkLimited => Some(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "rate limited: this network sent {} sightings this hour",
                st.listing.network_per_hour
            ),
        )),
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/sightings", post(post_sighting))
        .route("/v1/sightings/batch", post(post_batch))
        .route("/v1/curation", post(post_curation))
        .route("/v1/listings", get(get_listings))
        .route("/v1/listings/{id}", get(get_listing))
        .route("/v1/status", get(get_status))
        .route("/v1/audit", get(get_audit))
        .merge(crate::registry_http::routes())
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such endpoint".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint".into(),
            )
        })
        // Bodies are read by `read_body` with each endpoint's own cap.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// The client's address: the TCP peer, or the last X-Forwarded-For entry
/// when the peer is a trusted proxy.
fn client_ip(req: &Request, trusted: &[IpAddr]) -> Result<IpAddr, ApiError> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .ok_or_else(|| {
            ApiError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no client address".into(),
            )
        })?;
    if trusted.contains(&peer) {
        if let Some(fwd) = forwarded_for(req.headers()) {
            return Ok(fwd);
        }
    }
    Ok(peer)
}

fn forwarded_for(h: &HeaderMap) -> Option<IpAddr> {
    let v = h
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?;
    v.rsplit(',').next()?.trim().parse().ok()
}

pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    max: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body is larger than the limit of {max} bytes"),
        )
    };
    if let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        if len > max as u64 {
            return Err(too_large());
        }
    }
    match axum::body::to_bytes(body, max).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if limit {
                Err(too_large())
            } else {
                Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "could not read the request body".into(),
                ))
            }
        }
    }
}

fn limit(st: &AppState, network: &str, now: i64) -> Result<(), ApiError> {
    if st.limiter.allow(network, now) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "rate limited: more than {} requests this minute from this network",
                st.limiter.per_minute
            ),
        ))
    }
}

fn new_sighting(v: &VerifiedSighting, network: &str) -> Result<NewSighting, ApiError> {
    let s = &v.sighting;
    let enc = |e: serde_json::Error| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    Ok(NewSighting {
        reporter: v.reporter.to_string(),
        network: network.to_string(),
        nonce: s.nonce.clone(),
        device_key: device_key(&s.device),
        device: serde_json::to_string(&s.device).map_err(enc)?,
        behaviour: s.behaviour.kind.as_str().to_string(),
        firmware: s.device.firmware.clone(),
        window_start: s.window_start,
        sent_at: s.sent_at,
        detail: serde_json::to_string(&s.behaviour).map_err(enc)?,
    })
}

fn verify(bytes: &[u8], now: i64) -> Result<VerifiedSighting, ApiError> {
    let env = Envelope::from_slice(bytes, MAX_SIGHTING_BYTES)
        .map_err(|e| sighting_error(&SightingError::Envelope(e)))?;
    open_sighting_envelope(&env, now).map_err(|e| sighting_error(&e))
}

async fn post_sighting(
    State(st): State<Arc<AppState>>,
    req: Request,
) -> Result<Response, ApiError> {
    let now = (st.clock)();
    let ip = client_ip(&req, &st.trusted_proxies)?;
    let network = st.tagger.tag(ip);
    limit(&st, &network, now)?;
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, MAX_SIGHTING_BYTES).await?;
    let v = verify(&bytes, now)?;
    let ns = new_sighting(&v, &network)?;
    let out = st
        .store
        .ingest(std::slice::from_ref(&ns), now, &st.ingest_params())
        .await?;
    match out.first().copied().and_then(|o| outcome_error(o, &st)) {
        Some(e) => Err(e),
        None => Ok((StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response()),
    }
}

#[derive(Serialize)]
struct ItemResult {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

async fn post_batch(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let now = (st.clock)();
    let ip = client_ip(&req, &st.trusted_proxies)?;
    let network = st.tagger.tag(ip);
    limit(&st, &network, now)?;
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, MAX_BATCH_BYTES).await?;
    // Up to 500 signature checks (~50 us each): off the async workers, so a
    // batch never stalls other requests, and batches verify on every core.
    // The envelopes are parsed there too, borrowed from the body (no copy
    // of each envelope's text).
    let (mut results, to_store, slots) = tokio::task::spawn_blocking(move || {
        let items: Vec<&serde_json::value::RawValue> =
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("batch must be a JSON array of envelopes: {e}"),
                )
            })?;
        if items.len() > MAX_BATCH {
            return Err(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "batch has {} envelopes, more than the limit of {MAX_BATCH}",
                    items.len()
                ),
            ));
        }
        if items.is_empty() {
            return Err(ApiError(StatusCode::BAD_REQUEST, "batch is empty".into()));
        }
        let mut results: Vec<ItemResult> = Vec::with_capacity(items.len());
        let mut to_store = Vec::with_capacity(items.len());
        let mut slots = Vec::with_capacity(items.len());
        for raw in &items {
            match verify(raw.get().as_bytes(), now).and_then(|v| new_sighting(&v, &network)) {
                Ok(ns) => {
                    slots.push(results.len());
                    to_store.push(ns);
                    results.push(ItemResult {
                        status: 202,
                        error: None,
                    });
                }
                Err(ApiError(s, m)) => results.push(ItemResult {
                    status: s.as_u16(),
                    error: Some(m),
                }),
            }
        }
        Ok((results, to_store, slots))
    })
    .await
    .map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("verification task failed: {e}"),
        )
    })??;
    if !to_store.is_empty() {
        let out = st.store.ingest(&to_store, now, &st.ingest_params()).await?;
        for (slot, o) in slots.into_iter().zip(out) {
            if let Some(ApiError(s, m)) = outcome_error(o, &st) {
                results[slot] = ItemResult {
                    status: s.as_u16(),
                    error: Some(m),
                };
            }
        }
    }
    let accepted = results.iter().filter(|r| r.status == 202).count();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": accepted, "refused": results.len() - accepted, "results": results })),
    )
        .into_response())
}

fn curation_error(e: CurationError) -> ApiError {
    let status = match &e {
        CurationError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        CurationError::Malformed(_) | CurationError::Invalid(_) => StatusCode::BAD_REQUEST,
        CurationError::Unauthorized => StatusCode::UNAUTHORIZED,
        CurationError::Forbidden(_) => StatusCode::FORBIDDEN,
        CurationError::Replay | CurationError::ClockSkew { .. } => StatusCode::CONFLICT,
        CurationError::NotFound(_) => StatusCode::NOT_FOUND,
        CurationError::Store(s) => return ApiError::from(StoreError::Database(s.to_string())),
    };
    ApiError(status, e.to_string())
}

async fn post_curation(
    State(st): State<Arc<AppState>>,
    req: Request,
) -> Result<Response, ApiError> {
    let now = (st.clock)();
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, MAX_CURATION_BYTES).await?;
    let (actor, change) = curation::open(&bytes, &st.curators, st.store.as_ref(), now)
        .await
        .map_err(curation_error)?;
    let applied = curation::apply(
        st.store.as_ref(),
        &actor,
        &change,
        st.listing.weights(),
        now,
    )
    .await
    .map_err(curation_error)?;
    Ok((StatusCode::OK, Json(applied)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

/// A listing as the API shows it: the published body and the server's state.
#[derive(Serialize)]
struct ListingView {
    state: String,
    suppressed: bool,
    updated_at: i64,
    listing: Listing,
}

fn view(row: crate::store::ListingRow) -> Result<ListingView, ApiError> {
    let listing = serde_json::from_str(&row.body)
        .map_err(|e| ApiError::from(StoreError::Corrupt(format!("listing {}: {e}", row.id))))?;
    Ok(ListingView {
        state: row.state,
        suppressed: row.suppressed,
        updated_at: row.updated_at,
        listing,
    })
}

async fn get_listings(
    State(st): State<Arc<AppState>>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let state = match q.state.as_deref() {
        None | Some("listed") => Some("listed"),
        Some("delisted") => Some("delisted"),
        Some("all") => None,
        Some(_) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "state must be listed, delisted or all".into(),
            ))
        }
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q.after.unwrap_or_default();
    if after.len() > 64 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "after must be a listing id".into(),
        ));
    }
    let rows = st.store.listings(state, &after, limit).await?;
    let next = if rows.len() as i64 == limit {
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    let views = rows.into_iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "listings": views, "next": next })).into_response())
}

async fn get_listing(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if id.len() > 64 {
        return Err(ApiError(StatusCode::BAD_REQUEST, "not a listing id".into()));
    }
    match st.store.listing(&id).await? {
        Some(row) => Ok(Json(view(row)?).into_response()),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no listing with id {id:?}"),
        )),
    }
}

async fn get_status(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let counts = st.store.counts().await?;
    Ok(Json(json!({
        "store": st.store.kind(),
        "time": (st.clock)(),
        "counts": counts,
        "listing_rule": st.listing,
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn get_audit(
    State(st): State<Arc<AppState>>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let entries = st
        .store
        .audit(q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000))
        .await?;
    Ok(Json(json!({ "entries": entries })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_feed::{Behaviour, BehaviourKind, DeviceType, KeyPair, MacPrefix, Sighting};

    const NOW: i64 = 1_800_001_800;

    fn signed(seed: u8) -> Envelope {
        let key = KeyPair::from_seed([seed; 32]);
        Sighting {
            version: 1,
            nonce: format!("{:032x}", u128::from(seed) << 64 | 0xfeed),
            sent_at: NOW,
            window_start: NOW - NOW.rem_euclid(3600),
            window_hours: 1,
            reporter: key.public(),
            device: DeviceType {
                mac_prefix: "00:17:88/24".parse::<MacPrefix>().unwrap(),
                vendor: Some("Acme".into()),
                model: Some("Cam X1".into()),
                firmware: Some("1.0.3".into()),
                fingerprint: "ab".repeat(32),
            },
            behaviour: Behaviour {
                kind: BehaviourKind::Flood,
                peak_pps_bucket: 1024,
                targets_bucket: 1,
                ports: vec![80],
            },
        }
        .sign(&key)
    }

    /// `s + ℓ`, little-endian: the same scalar mod ℓ, not its canonical encoding.
    fn plus_ell(s: &mut [u8]) {
        const ELL: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (b, l) in s.iter_mut().zip(ELL) {
            let v = u16::from(*b) + u16::from(l) + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batch_refuses_forged_weak_key_and_non_canonical_s_each_in_place() {
        use tower::ServiceExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(dir.path().join("f.db"))
            .await
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let state = Arc::new(AppState {
            store: store.clone(),
            limiter: RequestLimiter::new(1000),
            listing: ListingConfig::default(),
            curators: Curators::default(),
            tagger: NetworkTagger::from_secret([42; 32]),
            trusted_proxies: vec![],
            clock: Arc::new(|| NOW),
        });
        let app = router(state);

        let mut forged = signed(2);
        forged.signatures[0].sig[5] ^= 0x40;
        // The identity point as the reporter key, R = identity and S = 0:
        // the plain equation holds for any message; only the weak-key check refuses it.
        let mut weak_key = [0u8; 32];
        weak_key[0] = 1;
        let mut weak = signed(3);
        let mut doc: serde_json::Value = serde_json::from_slice(&weak.payload).unwrap();
        use base64::Engine as _;
        doc["reporter"] = base64::engine::general_purpose::STANDARD
            .encode(weak_key)
            .into();
        weak.payload = serde_json::to_vec(&doc).unwrap();
        weak.signatures[0].sig = [&[1u8][..], &[0u8; 63][..]].concat();
        let mut non_canonical = signed(4);
        plus_ell(&mut non_canonical.signatures[0].sig[32..]);
        let envs = [signed(1), forged, weak, non_canonical, signed(5)];
        let body = format!(
            "[{}]",
            envs.iter()
                .map(|e| String::from_utf8(e.to_vec()).unwrap())
                .collect::<Vec<_>>()
                .join(",")
        );

        let mut req = axum::http::Request::post("/v1/sightings/batch")
            .body(Body::from(body))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo("192.0.2.9:1".parse::<SocketAddr>().unwrap()));
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let statuses: Vec<u64> = json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_u64().unwrap())
            .collect();
        assert_eq!(statuses, vec![202, 401, 400, 401, 202], "{json}");
        assert_eq!(
            (json["accepted"].as_u64(), json["refused"].as_u64()),
            (Some(2), Some(3))
        );
        assert!(json["results"][2]["error"]
            .as_str()
            .unwrap()
            .contains("not a valid Ed25519 key"));
        assert_eq!(store.counts().await.unwrap().sightings, 2);
    }
}
