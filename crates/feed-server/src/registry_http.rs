//! The registry over HTTP (docs/registry.md): publication endpoints, a JSON
//! API, and the public device pages (server-rendered HTML, no script).
//!
//! - `POST /v1/registry/threat-models`, `POST /v1/registry/test-reports`:
//!   one envelope each; 201 published, 200 already there, 400, 401, 403,
//!   413, 422 (a report scoped against a model the registry does not hold).
//! - `GET /v1/registry/devices[?after=SLUG&limit=N]`,
//!   `GET /v1/registry/devices/{vendor}/{model}`,
//!   `GET /v1/registry/documents/{sha256}` (the envelope as published).
//! - `GET /devices`, `GET /devices/{vendor}/{model}`,
//!   `GET /devices/{vendor}/{model}/threat-model[?sha256=HEX]`.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_feed::Listing;

use crate::api::{read_body, ApiError, AppState};
use crate::registry::{self, RegistryError, MAX_DOCUMENTS_PER_PAGE, MAX_DOCUMENT_BYTES};
use crate::store::{ListingRow, RegistryDevice, RegistryDoc};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/registry/threat-models", post(post_model))
        .route("/v1/registry/test-reports", post(post_report))
        .route("/v1/registry/devices", get(get_devices))
        .route("/v1/registry/devices/{vendor}/{model}", get(get_device))
        .route("/v1/registry/documents/{sha256}", get(get_document))
        .route("/devices", get(page_index))
        .route("/devices/{vendor}/{model}", get(page_device))
        .route("/devices/{vendor}/{model}/threat-model", get(page_model))
}

pub(crate) fn registry_error(e: RegistryError) -> ApiError {
    let status = match &e {
        RegistryError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        RegistryError::Malformed(_) | RegistryError::Invalid(_) => StatusCode::BAD_REQUEST,
        RegistryError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        RegistryError::Forbidden(_) => StatusCode::FORBIDDEN,
        RegistryError::UnknownScope(_) => StatusCode::UNPROCESSABLE_ENTITY,
        RegistryError::Store(_) => {
            let RegistryError::Store(s) = e else {
                unreachable!()
            };
            return ApiError::from(s);
        }
    };
    ApiError(status, e.to_string())
}

fn published(p: registry::Published) -> Response {
    let status = if p.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let page = format!("/devices/{}", p.device);
    (
        status,
        Json(serde_json::json!({ "sha256": p.sha256, "device": p.device,
        "created": p.created, "page": page })),
    )
        .into_response()
}

async fn post_model(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let now = (st.clock)();
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, MAX_DOCUMENT_BYTES).await?;
    let p = registry::publish_model(&bytes, &st.curators, st.store.as_ref(), now)
        .await
        .map_err(registry_error)?;
    Ok(published(p))
}

async fn post_report(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let now = (st.clock)();
    let (parts, body) = req.into_parts();
    let bytes = read_body(body, &parts.headers, MAX_DOCUMENT_BYTES).await?;
    let p = registry::publish_report(&bytes, &st.curators, st.store.as_ref(), now)
        .await
        .map_err(registry_error)?;
    Ok(published(p))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevicesQuery {
    after: Option<String>,
    limit: Option<i64>,
}

async fn get_devices(
    State(st): State<Arc<AppState>>,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q.after.unwrap_or_default();
    if after.len() > 200 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "after is too long".into(),
        ));
    }
    let devices = st.store.registry_devices(&after, limit).await?;
    let next = (devices.len() as i64 == limit).then(|| devices.last().map(|d| d.device.clone()));
    Ok(Json(serde_json::json!({ "devices": devices, "next": next.flatten() })).into_response())
}

/// One document as the API and the pages show it (the envelope is fetched
/// separately, by its SHA-256).
#[derive(Serialize)]
struct DocView {
    sha256: String,
    kind: String,
    version: String,
    scope: Option<String>,
    signer: String,
    published_at: i64,
    meta: Value,
    envelope: String,
}

impl From<&RegistryDoc> for DocView {
    fn from(d: &RegistryDoc) -> Self {
        DocView {
            sha256: d.sha256.clone(),
            kind: d.kind.clone(),
            version: d.version.clone(),
            scope: d.scope.clone(),
            signer: d.signer.clone(),
            published_at: d.published_at,
            meta: serde_json::from_str(&d.meta).unwrap_or(Value::Null),
            envelope: format!("/v1/registry/documents/{}", d.sha256),
        }
    }
}

/// A listing that names this device type's model, as the page shows it.
#[derive(Serialize)]
struct FeedView {
    id: String,
    state: String,
    severity: String,
    action: String,
    reason: String,
    first_seen: i64,
    last_seen: i64,
    fixed_in: Vec<String>,
}

/// Everything about one device type.
#[derive(Serialize)]
struct DeviceView {
    device: String,
    vendor: String,
    model: String,
    threat_models: Vec<DocView>,
    test_reports: Vec<DocView>,
    /// Listings (any state) whose match names this model and, if it names a
    /// vendor, this vendor.
    feed: Vec<FeedView>,
}

fn slug_param(s: &str) -> Result<String, ApiError> {
    // Slugs are what `registry::slug` makes; anything else names nothing.
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no such device type".into(),
        ));
    }
    Ok(s.to_string())
}

async fn device_view(st: &AppState, vendor: &str, model: &str) -> Result<DeviceView, ApiError> {
    let device = format!("{}/{}", slug_param(vendor)?, slug_param(model)?);
    let docs = st.store.documents(&device, MAX_DOCUMENTS_PER_PAGE).await?;
    let Some(first) = docs.first() else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("the registry holds nothing for {device}"),
        ));
    };
    // The newest threat model names the device; a device with reports only
    // keeps the names its first report gave.
    let named = docs
        .iter()
        .find(|d| d.kind == "threat-model")
        .unwrap_or(first);
    let (vendor_name, model_name) = (named.vendor.clone(), named.model.clone());
    let listings = st.store.listings_for_model(&model_name, 50).await?;
    let feed = listings
        .iter()
        .filter_map(|row| feed_view(row, &vendor_name))
        .collect();
    Ok(DeviceView {
        device,
        vendor: vendor_name,
        model: model_name,
        threat_models: docs
            .iter()
            .filter(|d| d.kind == "threat-model")
            .map(DocView::from)
            .collect(),
        test_reports: docs
            .iter()
            .filter(|d| d.kind == "test-report")
            .map(DocView::from)
            .collect(),
        feed,
    })
}

fn feed_view(row: &ListingRow, vendor: &str) -> Option<FeedView> {
    let l: Listing = serde_json::from_str(&row.body).ok()?;
    if let Some(v) = &l.matches.vendor {
        if registry::slug(v) != registry::slug(vendor) {
            return None;
        }
    }
    Some(FeedView {
        id: row.id.clone(),
        state: row.state.clone(),
        severity: wire_name(&l.severity),
        action: wire_name(&l.action),
        reason: l.reason.clone(),
        first_seen: l.first_seen,
        last_seen: l.last_seen,
        fixed_in: l
            .matches
            .firmware
            .as_ref()
            .map(|f| f.fixed_in.clone())
            .unwrap_or_default(),
    })
}

/// A serde enum's wire name ("compromised-in-the-wild").
fn wire_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(v) => v.to_string(),
        Err(_) => String::new(),
    }
}

async fn get_device(
    State(st): State<Arc<AppState>>,
    Path((vendor, model)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(device_view(&st, &vendor, &model).await?).into_response())
}

async fn get_document(
    State(st): State<Arc<AppState>>,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError(StatusCode::NOT_FOUND, "no such document".into()));
    }
    match st.store.document(&sha.to_ascii_lowercase()).await? {
        Some(d) => Ok(([(header::CONTENT_TYPE, "application/json")], d.envelope).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, "no such document".into())),
    }
}

// ---- pages ----------------------------------------------------------------

const CSS: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff}\
main{max-width:46rem;margin:0 auto;padding:1rem}h1{font-size:1.6rem;margin:.5rem 0}\
h2{font-size:1.2rem;margin-top:1.6rem;border-bottom:1px solid #ccc}\
.ok{color:#0a5c2b}.bad{color:#a30000}.warn{color:#7a4b00}\
.box{border:1px solid #bbb;border-radius:6px;padding:.6rem .8rem;margin:.6rem 0}\
.muted{color:#555;font-size:.9rem}code{word-break:break-all}a{color:#0645ad}\
table{border-collapse:collapse}td,th{text-align:left;padding:.2rem .6rem .2rem 0}";

/// Pages load nothing: no script, no outside style, no images.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page(title: &str, body: Markup) -> Response {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    };
    html_response(doc.into_string())
}

fn html_response(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn error_page(e: ApiError) -> Response {
    let status = e.0;
    let mut r = page(
        "Not found",
        html! { h1 { "Not found" } p { (e.1) } p { a href="/devices" { "All device types" } } },
    );
    *r.status_mut() = status;
    r
}

async fn page_index(State(st): State<Arc<AppState>>, Query(q): Query<DevicesQuery>) -> Response {
    let after = q.after.unwrap_or_default();
    if after.len() > 200 {
        return error_page(ApiError(
            StatusCode::BAD_REQUEST,
            "after is too long".into(),
        ));
    }
    let devices: Vec<RegistryDevice> = match st.store.registry_devices(&after, 200).await {
        Ok(d) => d,
        Err(e) => return error_page(e.into()),
    };
    page(
        "Device types — warden registry",
        html! {
            h1 { "Device types" }
            p { "Each device type's threat model as its vendor published it, the baseline check of it, "
                "and every security test report, whether it found something or not." }
            @if devices.is_empty() { p { "The registry holds no device types yet." } }
            ul {
                @for d in &devices {
                    li {
                        a href={ "/devices/" (d.device) } { (d.vendor) " " (d.model) }
                        span.muted { " — " (d.threat_models) " threat model(s), "
                            (d.test_reports) " test report(s)" }
                    }
                }
            }
            @if devices.len() == 200 {
                @if let Some(last) = devices.last() {
                    p { a href={ "/devices?after=" (last.device) } { "More" } }
                }
            }
        },
    )
}

fn lint_line(meta: &Value) -> Markup {
    let n = |k: &str| meta["lint"][k].as_u64().unwrap_or(0);
    let (e, w) = (n("errors"), n("warnings"));
    let failed: Vec<&str> = meta["lint"]["failed"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        @if e == 0 {
            p.ok { "Meets the baseline check (" (w) " warning(s))." }
        } @else {
            p.bad { "Fails " (failed.len()) " baseline rule(s) with " (e) " error(s): " (failed.join(", "))
                " (" (w) " warning(s))." }
        }
    }
}

fn report_block(r: &DocView, latest_model: Option<&str>) -> Markup {
    let m = &r.meta;
    let n = |k: &str| m["results"][k].as_u64().unwrap_or(0);
    let (found, items, clean, untested, outside) = (
        n("finding"),
        n("items_with_findings"),
        n("no_finding"),
        n("not_tested"),
        n("out_of_declared_scope"),
    );
    let tester = m["tester"].as_str().unwrap_or("");
    html! {
        div.box {
            p {
                strong { @if found == 0 { "Tested: nothing found in scope" } @else { (found) " finding(s)" } }
                " — by " (tester) ", " (m["date"].as_str().unwrap_or(""))
            }
            p { (clean) " item(s) tested with nothing found, " (items) " with findings, "
                (untested) " not tested."
                @if outside > 0 { " " (outside) " finding(s) outside the vendor's declared scope." } }
            @if let (Some(s), Some(l)) = (r.scope.as_deref(), latest_model) {
                @if s != l { p.warn { "Scoped against an older version of the threat model." } }
            }
            p.muted { "Signed by " code { (r.signer) } ". " a href=(r.envelope) { "Signed report" } }
        }
    }
}

async fn page_device(
    State(st): State<Arc<AppState>>,
    Path((vendor, model)): Path<(String, String)>,
) -> Response {
    let v = match device_view(&st, &vendor, &model).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let latest = v.threat_models.first();
    let listed: Vec<&FeedView> = v.feed.iter().filter(|f| f.state == "listed").collect();
    page(
        &format!("{} {} — warden registry", v.vendor, v.model),
        html! {
            p.muted { a href="/devices" { "All device types" } }
            h1 { (v.vendor) " " (v.model) }
            h2 { "Feed status" }
            @if listed.is_empty() {
                p.ok { "Not listed in the feed: routers take no action against this device type." }
            }
            @for f in &listed {
                div.box {
                    p.bad { strong { "Listed: " (f.severity) } " since " (date(f.first_seen))
                        ". Routers " (f.action) " matching devices." }
                    p { (f.reason) }
                    @if !f.fixed_in.is_empty() { p { "Fixed in firmware " (f.fixed_in.join(", ")) "." } }
                }
            }
            @let gone = v.feed.len() - listed.len();
            @if gone > 0 { p.muted { (gone) " earlier listing(s), now taken off the feed." } }
            h2 { "Threat model" }
            @match latest {
                None => p { "The vendor has not published a threat model for this device." },
                Some(m) => {
                    @if let Some(s) = m.meta["summary"].as_str() { p { (s) } }
                    (lint_line(&m.meta))
                    @match m.meta["updates_until"].as_str() {
                        Some(u) => p { "Security updates until " (u) "." },
                        None => p.warn { "No end date for security updates is given." },
                    }
                    @if !m.version.is_empty() { p { "Firmware: " (m.version) } }
                    p { a href={ "/devices/" (v.device) "/threat-model" } { "Read the threat model" } }
                    p.muted { "Published " (date(m.published_at)) ", signed by " code { (m.signer) } ". "
                        a href=(m.envelope) { "Signed document" } }
                }
            }
            h2 { "Security test reports" }
            @if v.test_reports.is_empty() { p { "No test reports have been published." } }
            @for r in &v.test_reports { (report_block(r, latest.map(|m| m.sha256.as_str()))) }
            @if v.threat_models.len() > 1 {
                h2 { "Earlier threat models" }
                ul { @for m in v.threat_models.iter().skip(1) {
                    li { (date(m.published_at)) " — "
                        a href={ "/devices/" (v.device) "/threat-model?sha256=" (m.sha256) } { code { (m.sha256[..16]) } } }
                } }
            }
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelQuery {
    sha256: Option<String>,
}

/// The consumer page of a published threat model (`warden model render`'s
/// page), linted as of today.
async fn page_model(
    State(st): State<Arc<AppState>>,
    Path((vendor, model)): Path<(String, String)>,
    Query(q): Query<ModelQuery>,
) -> Response {
    let not_found = || {
        error_page(ApiError(
            StatusCode::NOT_FOUND,
            "no such threat model".into(),
        ))
    };
    let (Ok(vendor), Ok(model)) = (slug_param(&vendor), slug_param(&model)) else {
        return not_found();
    };
    // Newest first: without a SHA-256, the newest model.
    let docs = match st
        .store
        .documents(&format!("{vendor}/{model}"), MAX_DOCUMENTS_PER_PAGE)
        .await
    {
        Ok(d) => d,
        Err(e) => return error_page(e.into()),
    };
    let Some(doc) = docs
        .iter()
        .find(|d| d.kind == "threat-model" && q.sha256.as_ref().is_none_or(|s| *s == d.sha256))
    else {
        return not_found();
    };
    match registry::render_model(doc, (st.clock)()) {
        Ok(html) => html_response(html),
        Err(e) => error_page(registry_error(e)),
    }
}
