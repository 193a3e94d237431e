//! `/api/v1`: the pages' data as JSON, and the owner's commands. The
//! OpenAPI document (`/api/v1/openapi.json`) is generated from these
//! handlers' annotations and the [`data`](crate::data) types.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use warden_decode::Mac;
use warden_state::OwnerCommand;

use crate::data::{self, DeviceDetail, DeviceSummary, TimelineEntry, TrafficSeries};
use crate::pages::{clean_name, Session};
use crate::{App, AppError};

/// The header that carries the session's CSRF token on API writes.
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "warden dashboard API",
        description = "What warden knows and did, and the owner's commands. Every call needs the \
                       dashboard's session cookie; writes also need the session's CSRF token in \
                       the X-CSRF-Token header (from GET /api/v1/session)."
    ),
    paths(devices, device, traffic, timeline, feed, session, command, rename),
    components(schemas(
        DeviceSummary,
        DeviceDetail,
        TimelineEntry,
        data::Status,
        data::IdentityView,
        data::AlertView,
        data::DecisionView,
        data::FeedStatus,
        data::TrafficSeries,
        data::ThreatModelSummary,
        data::ProfileView,
        data::TrafficPointView,
        data::DetectionMark,
        SessionInfo,
        CommandRequest,
        CommandQueued,
        RenameRequest,
        ApiError
    ))
)]
pub struct ApiDoc;

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/session", get(session))
        .route("/api/v1/devices", get(devices))
        .route("/api/v1/devices/{mac}", get(device))
        .route("/api/v1/devices/{mac}/traffic", get(traffic))
        .route("/api/v1/devices/{mac}/commands", post(command))
        .route("/api/v1/devices/{mac}/name", post(rename))
        .route("/api/v1/timeline", get(timeline))
        .route("/api/v1/feed", get(feed))
}

/// An error as JSON.
#[derive(Serialize, ToSchema)]
pub struct ApiError {
    pub error: String,
}

fn err(status: StatusCode, msg: &str) -> Response {
    (
        status,
        Json(ApiError {
            error: msg.to_owned(),
        }),
    )
        .into_response()
}

/// Why a request was refused before it reached the data.
enum Denied {
    NoSession,
    Csrf,
    NoDevice,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::NoSession => err(StatusCode::UNAUTHORIZED, "log in first"),
            Denied::Csrf => err(StatusCode::FORBIDDEN, "missing or wrong X-CSRF-Token"),
            Denied::NoDevice => err(StatusCode::NOT_FOUND, "no such device"),
        }
    }
}

fn authed(app: &App, headers: &HeaderMap) -> Result<Session, Denied> {
    Session::of(app, headers).ok_or(Denied::NoSession)
}

fn authed_write(app: &App, headers: &HeaderMap) -> Result<Session, Denied> {
    let s = authed(app, headers)?;
    let token = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !s.csrf_ok(token) {
        return Err(Denied::Csrf);
    }
    Ok(s)
}

fn mac_of(s: &str) -> Result<Mac, Denied> {
    s.parse().map_err(|_| Denied::NoDevice)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The session's CSRF token, for API writes.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    pub csrf_token: String,
}

#[utoipa::path(get, path = "/api/v1/session", responses(
    (status = 200, body = SessionInfo), (status = 401, body = ApiError)))]
async fn session(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    match authed(&app, &headers) {
        Ok(s) => Json(SessionInfo { csrf_token: s.csrf }).into_response(),
        Err(r) => r.into_response(),
    }
}

/// Every device, most recently seen first, with its status.
#[utoipa::path(get, path = "/api/v1/devices", responses(
    (status = 200, body = [DeviceSummary]), (status = 401, body = ApiError)))]
async fn devices(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Err(r) = authed(&app, &headers) {
        return Ok(r.into_response());
    }
    let view = app.view.clone();
    let list = app
        .with_store(move |s| data::devices_in(s, data::now(), &view))
        .await?;
    Ok(Json(list).into_response())
}

/// One device: alerts, decisions, what to do next.
#[utoipa::path(get, path = "/api/v1/devices/{mac}",
    params(("mac" = String, Path, description = "aa:bb:cc:dd:ee:ff")),
    responses((status = 200, body = DeviceDetail), (status = 401, body = ApiError),
        (status = 404, body = ApiError)))]
async fn device(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(mac): Path<String>,
) -> Result<Response, AppError> {
    if let Err(r) = authed(&app, &headers) {
        return Ok(r.into_response());
    }
    let mac = match mac_of(&mac) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    let view = app.view.clone();
    Ok(
        match app
            .with_store(move |s| data::device_in(s, mac, data::now(), &view))
            .await?
        {
            Some(d) => Json(d).into_response(),
            None => err(StatusCode::NOT_FOUND, "no such device"),
        },
    )
}

/// A device's packets and bytes per minute (last 24 hours) and per hour
/// (up to 7 days), with the moments of its detections: what the device
/// page's chart is drawn from.
#[utoipa::path(get, path = "/api/v1/devices/{mac}/traffic",
    params(("mac" = String, Path, description = "aa:bb:cc:dd:ee:ff")),
    responses((status = 200, body = TrafficSeries), (status = 401, body = ApiError),
        (status = 404, body = ApiError)))]
async fn traffic(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(mac): Path<String>,
) -> Result<Response, AppError> {
    if let Err(r) = authed(&app, &headers) {
        return Ok(r.into_response());
    }
    let mac = match mac_of(&mac) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    Ok(
        match app.with_store(move |s| data::traffic(s, mac)).await? {
            Some(t) => Json(t).into_response(),
            None => err(StatusCode::NOT_FOUND, "no such device"),
        },
    )
}

#[derive(Deserialize, IntoParams)]
pub struct TimelineQuery {
    /// At most this many entries (default and maximum 200).
    pub limit: Option<u32>,
}

/// What happened and what warden did, newest first.
#[utoipa::path(get, path = "/api/v1/timeline", params(TimelineQuery), responses(
    (status = 200, body = [TimelineEntry]), (status = 401, body = ApiError)))]
async fn timeline(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<TimelineQuery>,
) -> Result<Response, AppError> {
    if let Err(r) = authed(&app, &headers) {
        return Ok(r.into_response());
    }
    let limit = q
        .limit
        .unwrap_or(data::TIMELINE_LIMIT)
        .min(data::TIMELINE_LIMIT);
    let list = app.with_store(move |s| data::timeline(s, limit)).await?;
    Ok(Json(list).into_response())
}

/// The killswitch feed: the last sync the guard recorded, and how many
/// devices a feed listing restricts now.
#[utoipa::path(get, path = "/api/v1/feed", responses(
    (status = 200, body = data::FeedStatus), (status = 401, body = ApiError)))]
async fn feed(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, AppError> {
    if let Err(r) = authed(&app, &headers) {
        return Ok(r.into_response());
    }
    let status = app
        .with_store(|s| data::feed_status(s, data::now()))
        .await?;
    Ok(Json(status).into_response())
}

#[derive(Deserialize, ToSchema)]
pub struct CommandRequest {
    /// trust, release or quarantine
    pub command: String,
}

#[derive(Serialize, ToSchema)]
pub struct CommandQueued {
    /// The queue entry; the guard carries it out within a second.
    pub id: i64,
    pub command: String,
}

/// Queue the owner's command for the running guard.
#[utoipa::path(post, path = "/api/v1/devices/{mac}/commands",
    params(("mac" = String, Path, description = "aa:bb:cc:dd:ee:ff"),
        ("X-CSRF-Token" = String, Header, description = "from GET /api/v1/session")),
    request_body = CommandRequest,
    responses((status = 202, body = CommandQueued), (status = 400, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
async fn command(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(mac): Path<String>,
    Json(req): Json<CommandRequest>,
) -> Result<Response, AppError> {
    if let Err(r) = authed_write(&app, &headers) {
        return Ok(r.into_response());
    }
    let mac = match mac_of(&mac) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    let Some(c) = OwnerCommand::parse(&req.command) else {
        return Ok(err(
            StatusCode::BAD_REQUEST,
            "command must be trust, release or quarantine",
        ));
    };
    let id = app
        .with_store(move |s| {
            if s.device(mac)?.is_none() {
                return Ok(None);
            }
            Ok(Some(s.queue_command(mac, c, data::now())?))
        })
        .await?;
    Ok(match id {
        Some(id) => (
            StatusCode::ACCEPTED,
            Json(CommandQueued {
                id,
                command: c.as_str().to_owned(),
            }),
        )
            .into_response(),
        None => err(StatusCode::NOT_FOUND, "no such device"),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct RenameRequest {
    /// The owner's name (at most 64 characters); empty clears it.
    pub name: String,
}

/// Name a device.
#[utoipa::path(post, path = "/api/v1/devices/{mac}/name",
    params(("mac" = String, Path, description = "aa:bb:cc:dd:ee:ff"),
        ("X-CSRF-Token" = String, Header, description = "from GET /api/v1/session")),
    request_body = RenameRequest,
    responses((status = 204), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
async fn rename(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(mac): Path<String>,
    Json(req): Json<RenameRequest>,
) -> Result<Response, AppError> {
    if let Err(r) = authed_write(&app, &headers) {
        return Ok(r.into_response());
    }
    let mac = match mac_of(&mac) {
        Ok(m) => m,
        Err(r) => return Ok(r.into_response()),
    };
    let name = clean_name(&req.name);
    let known = app
        .with_store(move |s| Ok(s.set_device_name(mac, name.as_deref())?))
        .await?;
    Ok(if known {
        StatusCode::NO_CONTENT.into_response()
    } else {
        err(StatusCode::NOT_FOUND, "no such device")
    })
}
