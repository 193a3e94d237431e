//! The pages: server-rendered HTML (maud escapes every interpolated value),
//! one inline style sheet allowed by its hash, no JavaScript.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use warden_decode::Mac;
use warden_state::OwnerCommand;

use crate::auth::{random_token, same, Refusal, PRE_COOKIE, SESSION_COOKIE, SESSION_LIFETIME};
use crate::data::{
    self, AlertView, DeviceDetail, DeviceSummary, ProfileView, Status, TimelineEntry, TrafficSeries,
};
use crate::{App, AppError};

const STYLE: &str = "\
:root{--fg:#1b1b1f;--muted:#4a4a55;--bg:#fff;--line:#d4d4dc;--accent:#1d4ed8}\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:var(--fg);background:var(--bg)}\
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.75rem 1rem;background:#10243e;color:#fff}\
header a,header button{color:#fff}\
header .brand{font-weight:700;font-size:1.15rem;text-decoration:none}\
nav ul{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;margin:0;padding:0}\
main{max-width:60rem;margin:0 auto;padding:1rem}\
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}\
a{color:var(--accent)}\
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.5rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}\
th{font-size:.9rem;color:var(--muted)}\
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;font-size:.85rem;font-weight:600;white-space:nowrap}\
.s-ok{background:#dcfce7;color:#14532d}.s-watched{background:#fef9c3;color:#713f12}\
.s-limited{background:#ffedd5;color:#7c2d12}.s-quarantined{background:#fee2e2;color:#7f1d1d}\
.s-listed-by-feed{background:#ede9fe;color:#4c1d95}\
.muted{color:var(--muted);font-size:.9rem}.mac{white-space:nowrap;font-variant-numeric:tabular-nums}\
.box{border:1px solid var(--line);border-radius:.5rem;padding:1rem;margin:1rem 0}\
.next{border-left:4px solid var(--accent);background:#eff6ff}\
.note{border-left:4px solid #15803d;background:#f0fdf4}\
.error{border-left:4px solid #b91c1c;background:#fef2f2}\
.actions{display:flex;flex-wrap:wrap;gap:.5rem}\
button{font:inherit;padding:.5rem 1rem;border-radius:.375rem;border:1px solid #1e3a8a;background:#1d4ed8;color:#fff;cursor:pointer;min-height:2.75rem}\
button.danger{background:#b91c1c;border-color:#7f1d1d}button.plain{background:#fff;color:#1e3a8a}\
header button{background:transparent;border-color:#fff;min-height:2rem;padding:.25rem .75rem}\
label{display:block;font-weight:600;margin:.75rem 0 .25rem}\
input[type=text],input[type=password]{font:inherit;width:100%;max-width:24rem;padding:.5rem;border:1px solid #6b7280;border-radius:.375rem}\
ul.plain{list-style:none;padding:0}ul.plain li{padding:.5rem 0;border-bottom:1px solid var(--line)}\
figure.chart{margin:.5rem 0}figure.chart svg{width:100%;height:auto;max-width:40rem;display:block}\
svg.spark{display:block;width:92px;height:20px}\
.box h2:first-child{margin-top:0}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}\
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}\
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.5rem}\
@media (max-width:40rem){\
table.devices thead{position:absolute;left:-9999px}\
table.devices tr{display:block;border:1px solid var(--line);border-radius:.5rem;margin:.75rem 0;padding:.25rem .5rem}\
table.devices td{display:block;border:0;padding:.2rem 0}\
table.devices td[data-label]::before{content:attr(data-label) ': ';color:var(--muted);font-size:.85rem}}\
";

/// The CSP source for the inline style sheet: `sha256-<base64>`.
pub fn style_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let digest = Sha256::digest(STYLE.as_bytes());
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(device_list))
        .route("/devices/{mac}", get(device_page))
        .route("/devices/{mac}/command", post(device_command))
        .route("/devices/{mac}/name", post(device_rename))
        .route("/devices/{mac}/profile", post(accept_profile))
        .route("/timeline", get(timeline_page))
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
}

// ---- requests

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn set_cookie(name: &str, value: &str, max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .expect("cookie values are hex")
}

/// The client's address (for the login rate limit).
pub(crate) fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

pub(crate) struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// A logged-in visitor; pages without one redirect to the login (or to the
/// setup while no password is set).
pub(crate) struct Session {
    pub token: String,
    pub csrf: String,
}

impl Session {
    pub(crate) fn of(app: &App, headers: &HeaderMap) -> Option<Session> {
        let token = cookie(headers, SESSION_COOKIE)?;
        let csrf = app.auth.session_csrf(&token)?;
        Some(Session { token, csrf })
    }

    /// Whether a submitted token is this session's.
    pub(crate) fn csrf_ok(&self, submitted: &str) -> bool {
        same(submitted, &self.csrf)
    }
}

impl FromRequestParts<Arc<App>> for Session {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        Session::of(app, &parts.headers).ok_or_else(|| {
            let to = if app.auth.needs_setup() {
                "/setup"
            } else {
                "/login"
            };
            Redirect::to(to).into_response()
        })
    }
}

fn parse_mac(s: &str) -> Option<Mac> {
    s.parse::<Mac>().ok()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        html_response(page("Not found", None, html! { h1 { "No such device" } })),
    )
        .into_response()
}

fn forbidden_csrf() -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            "Refused",
            None,
            html! {
                h1 { "Refused" }
                p { "This form was not sent from your dashboard page (its security token is missing or old). Go back, reload the page and try again." }
            },
        ),
    )
        .into_response()
}

// ---- layout

fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                // No favicon request: one page, one response.
                link rel="icon" href="data:,";
                title { (title) " · warden" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    a.brand href="/" { "warden" }
                    @if let Some(s) = session {
                        nav aria-label="Main" {
                            ul {
                                li { a href="/" { "Devices" } }
                                li { a href="/timeline" { "Timeline" } }
                                li { a href="/api/v1/openapi.json" { "API" } }
                            }
                        }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

fn status_badge(s: Status) -> Markup {
    html! { span class={ "badge s-" (s.as_str()) } { (s.label()) } }
}

fn model_line(d: &DeviceSummary) -> String {
    match (&d.identity.model, &d.identity.firmware) {
        (Some(m), Some(f)) => format!("{m}, firmware {f}"),
        (Some(m), None) => m.clone(),
        (None, Some(f)) => format!("firmware {f}"),
        (None, None) => "unknown".into(),
    }
}

fn html_response(markup: Markup) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

// ---- pages

pub(crate) fn render_device_list(
    session: &Session,
    devices: &[DeviceSummary],
    feed: &data::FeedStatus,
) -> Markup {
    let restricted: Vec<&DeviceSummary> = devices
        .iter()
        .filter(|d| !matches!(d.status, Status::Ok | Status::Watched))
        .collect();
    let attention = restricted.len();
    page(
        "Devices",
        Some(session),
        html! {
            h1 { "Devices" }
            p {
                (devices.len()) " devices on your network. "
                @if attention == 0 { "None is restricted." }
                @else if attention == 1 { strong { "1 is restricted:" } }
                @else { strong { (attention) " are restricted:" } }
                @for (i, d) in restricted.iter().enumerate() {
                    @if i > 0 { "," }
                    " " a href={ "/devices/" (d.mac) } { (d.display_name) } " (" (d.status.label().to_lowercase()) ")"
                }
            }
            p.muted {
                @if !feed.configured {
                    "Threat feed: not followed."
                } @else if feed.ok {
                    "Threat feed: up to date (" (feed.at.as_deref().unwrap_or("").replace('T', " ").replace('Z', " UTC")) "). "
                } @else {
                    strong { "Threat feed: the last update failed" } " (" (feed.at.as_deref().unwrap_or("").replace('T', " ").replace('Z', " UTC")) "); warden keeps using the last good copy. "
                }
                @if feed.configured {
                    @if feed.devices_listed == 1 { "1 device of a listed type." }
                    @else { (feed.devices_listed) " devices of a listed type." }
                }
            }
            @if devices.is_empty() {
                p { "warden has not seen any device yet." }
            } @else {
                table.devices {
                    caption.sr-only { "Devices, most recently seen first" }
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Vendor" }
                        th scope="col" { "Model" } th scope="col" { "Traffic (24 h)" } th scope="col" { "Last seen" }
                    } }
                    tbody {
                        @for d in devices {
                            tr {
                                td data-label="Name" {
                                    a href={ "/devices/" (d.mac) } { (d.display_name) }
                                    br; span.muted.mac { (d.mac) }
                                }
                                td data-label="Status" { (status_badge(d.status)) }
                                td data-label="Vendor" { (d.vendor.as_deref().unwrap_or("unknown")) }
                                td data-label="Model" {
                                    (model_line(d))
                                    @if let Some(tm) = &d.threat_model { br; span.muted { (tm.summary) } }
                                }
                                td data-label="Traffic (24 h)" { (sparkline(&d.traffic_24h)) }
                                td data-label="Last seen" { time datetime=(d.last_seen) { (d.last_seen.replace('T', " ").replace('Z', " UTC")) } }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub(crate) fn render_device(
    session: &Session,
    d: &DeviceDetail,
    traffic: &TrafficSeries,
    notice: Option<String>,
) -> Markup {
    let s = &d.device;
    page(
        &s.display_name,
        Some(session),
        html! {
            p { a href="/" { "← All devices" } }
            h1 { (s.display_name) " " (status_badge(s.status)) }
            @if let Some(n) = notice { div.box.note role="status" { (n) } }
            dl {
                dt { "MAC address" } dd { (s.mac) }
                dt { "Vendor" } dd { (s.vendor.as_deref().unwrap_or("unknown")) }
                dt { "Model" } dd { (model_line(s)) }
                @if let Some(tm) = &s.threat_model {
                    dt { "Threat model" } dd { (tm.summary) " " span.muted { "(" (tm.file) ")" } }
                }
                @if let Some(h) = &s.identity.hostname { dt { "Name it gives itself" } dd { (h) } }
                dt { "First seen" } dd { (s.first_seen.replace('T', " ").replace('Z', " UTC")) }
                dt { "Last seen" } dd { (s.last_seen.replace('T', " ").replace('Z', " UTC")) }
                @if let Some(c) = &s.owner_choice { dt { "Your choice" } dd { (c) } }
            }
            @let active: Vec<_> = d.decisions.iter().filter(|x| x.in_force).collect();
            @if !active.is_empty() {
                section.box aria-labelledby="why" {
                    h2 id="why" { "Why" }
                    ul.plain {
                        @for x in &active {
                            li {
                                strong { (x.action_text) }
                                " — " (x.reason)
                                br;
                                span.muted {
                                    @if x.from_feed { "Listed by the feed (" (x.source) "). " }
                                    "Since " (x.start.replace('T', " ").replace('Z', " UTC")) ", "
                                    @match &x.expires {
                                        Some(e) => { "until " (e.replace('T', " ").replace('Z', " UTC")) "." }
                                        None => { "until you release it." }
                                    }
                                    @if !x.evidence.is_empty() { " Evidence: " (x.evidence) }
                                }
                            }
                        }
                    }
                }
            }
            section.box.next aria-labelledby="next" {
                h2 id="next" { "What to do next" }
                p { (d.next_steps) }
                @if !d.pending_commands.is_empty() {
                    p role="status" { "Waiting for warden to carry out: " (d.pending_commands.join(", ")) "." }
                }
                div.actions {
                    (command_button(session, &s.mac, OwnerCommand::Release, "Release", "plain"))
                    (command_button(session, &s.mac, OwnerCommand::Trust, "Trust", "plain"))
                    (command_button(session, &s.mac, OwnerCommand::Quarantine, "Quarantine", "danger"))
                }
            }
            (profile_section(session, &s.mac, d.profile.as_ref()))
            section aria-labelledby="rename" {
                h2 id="rename" { "Name" }
                form method="post" action={ "/devices/" (s.mac) "/name" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for="name" { "Your name for this device" }
                    input type="text" id="name" name="name" maxlength="64" value=(s.name.as_deref().unwrap_or(""));
                    p { button type="submit" { "Save name" } }
                }
            }
            section aria-labelledby="traffic" {
                h2 id="traffic" { "Traffic" }
                (traffic_chart(traffic))
            }
            section aria-labelledby="alerts" {
                h2 id="alerts" { "Alerts (" (d.alerts.len()) ")" }
                @if d.alerts.is_empty() { p { "None." } }
                ul.plain {
                    @for (i, a) in d.alerts.iter().enumerate() {
                        li {
                            strong { (a.kind) } " at " (a.detected_at.replace('T', " ").replace('Z', " UTC"))
                            br; (a.summary)
                            // Charts for the newest few: the page stays light.
                            @if i < 5 { @if let Some(chart) = evidence_chart(a) { (chart) } }
                        }
                    }
                }
            }
            section aria-labelledby="decisions" {
                h2 id="decisions" { "Decisions (" (d.decisions.len()) ")" }
                @if d.decisions.is_empty() { p { "None." } }
                ul.plain {
                    @for x in &d.decisions {
                        li {
                            strong { (x.action_text) }
                            @if x.in_force { " — in force" }
                            br; (x.headline)
                            br; span.muted {
                                "Source: " (x.source) ". Since " (x.start.replace('T', " ").replace('Z', " UTC"))
                                @match (&x.ended_at, &x.expires) {
                                    (Some(end), _) => { ", ended " (end.replace('T', " ").replace('Z', " UTC")) " (" (x.end_reason.as_deref().unwrap_or("")) ")." }
                                    (None, Some(e)) => { ", expires " (e.replace('T', " ").replace('Z', " UTC")) "." }
                                    (None, None) => { ", no expiry." }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Nanoseconds since the epoch of an RFC 3339 time from the evidence.
fn ns_of(v: &serde_json::Value) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(t.unix_timestamp_nanos()).ok()
}

/// The alert's figure in words, from its evidence.
fn evidence_figure(a: &AlertView) -> Option<String> {
    let e = &a.evidence;
    let n = |k: &str| e.get(k).and_then(|v| v.as_f64());
    Some(match a.kind.as_str() {
        "flood" => format!(
            "peak {} packets/s over {} hot seconds",
            n("peak_pps")?,
            n("hot_seconds")?
        ),
        "scan" => format!(
            "{} first contacts, {:.1} per second",
            n("attempts")?,
            n("rate_per_s")?
        ),
        "spam" => format!("{} mail servers contacted", n("smtp_servers")?),
        "brute-force" => format!("{} login attempts", n("attempts")?),
        _ => return None,
    })
}

/// When the behaviour was seen and when warden detected it, as an inline
/// SVG drawn only from what the database holds (the evidence window and
/// the detection time; per-second rates are not stored).
fn evidence_chart(a: &AlertView) -> Option<Markup> {
    let first = ns_of(a.evidence.get("first_seen")?)?;
    let last = ns_of(a.evidence.get("last_seen")?)?;
    let detected = a.detected_at_ns;
    let lo = first.min(detected);
    let hi = last.max(detected).max(lo + 1_000_000_000);
    let pad = (hi - lo) / 10;
    let (lo, hi) = (lo - pad, hi + pad);
    let x = |t: i64| 20.0 + 560.0 * (t - lo) as f64 / (hi - lo) as f64;
    let secs = (last - first) as f64 / 1e9;
    let clock = |t: i64| {
        let s = crate::data::rfc3339(warden_detect::Timestamp(t));
        s.get(11..19).unwrap_or("").to_owned()
    };
    let id = format!("chart-{}", a.id);
    let label = format!(
        "{} seen from {} to {} ({secs:.0} s); detected at {}",
        a.kind,
        clock(first),
        clock(last),
        clock(detected)
    );
    Some(html! {
        figure.chart {
            svg viewBox="0 0 600 96" role="img" aria-labelledby=(id) xmlns="http://www.w3.org/2000/svg" {
                title id=(id) { (label) }
                line x1="20" y1="70" x2="580" y2="70" stroke="#4a4a55" stroke-width="1" {}
                rect x=(format!("{:.1}", x(first))) y="44" width=(format!("{:.1}", (x(last) - x(first)).max(2.0))) height="22" fill="#fca5a5" stroke="#7f1d1d" {}
                line x1=(format!("{:.1}", x(detected))) y1="22" x2=(format!("{:.1}", x(detected))) y2="74" stroke="#7f1d1d" stroke-width="3" {}
                text x=(format!("{:.1}", x(detected).min(470.0))) y="16" font-size="13" fill="#1b1b1f" { "detected " (clock(detected)) }
                text x="20" y="90" font-size="12" fill="#4a4a55" { (clock(lo)) }
                text x="580" y="90" font-size="12" fill="#4a4a55" text-anchor="end" { (clock(hi)) }
            }
            figcaption.muted {
                "Shaded: the " (a.kind) " behaviour seen (" (format!("{secs:.0}")) " s); line: the moment warden detected it."
                @if let Some(f) = evidence_figure(a) { " " (f) "." }
            }
        }
    })
}

/// A time on the chart's axis: with seconds on a chart shorter than two
/// hours, with the day on one of about a day.
fn clock_of(t: i64, span_ns: i64) -> String {
    let s = data::rfc3339(warden_detect::Timestamp(t));
    if span_ns >= 20 * 3_600 * 1_000_000_000 {
        format!(
            "{} {}",
            s.get(5..10).unwrap_or(""),
            s.get(11..16).unwrap_or("")
        )
    } else if span_ns < 2 * 3_600 * 1_000_000_000 {
        s.get(11..19).unwrap_or("").to_owned()
    } else {
        s.get(11..16).unwrap_or("").to_owned()
    }
}

/// A device's packets per hour over 24 hours, as a small inline SVG.
fn sparkline(per_hour: &[u64]) -> Markup {
    let total: u64 = per_hour.iter().sum();
    if total == 0 {
        return html! { span.muted { "none counted" } };
    }
    let max = per_hour.iter().copied().max().unwrap_or(1).max(1);
    let step = 92.0 / per_hour.len().max(2).saturating_sub(1) as f64;
    let mut points = String::new();
    for (i, v) in per_hour.iter().enumerate() {
        let y = 18.0 - 16.0 * *v as f64 / max as f64;
        points.push_str(&format!("{:.1},{y:.1} ", i as f64 * step));
    }
    let label = format!("{total} packets in 24 hours, at most {max} in one hour");
    html! {
        svg.spark viewBox="0 0 92 20" role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            polyline points=(points.trim_end()) fill="none" stroke="#1d4ed8" stroke-width="1.5" {}
        }
    }
}

/// Columns of the traffic chart at most.
const CHART_COLUMNS: i64 = 120;

/// Packets per second over the last 24 hours of the device's counters, with
/// each detection in that window marked: an inline SVG, no script.
fn traffic_chart(t: &TrafficSeries) -> Markup {
    let Some(last) = t.points.last() else {
        return html! { p { "No traffic counted yet (warden counts each device's packets per minute)." } };
    };
    let end = last.start_ns + i64::from(last.seconds) * 1_000_000_000;
    let first = t.points.first().map_or(end, |p| p.start_ns);
    let start = first.max(end - 24 * 3_600 * 1_000_000_000);
    // Columns of whole minutes, at most CHART_COLUMNS of them.
    let minutes = ((end - start) / data::MINUTE_NS).max(1);
    let per_col = (minutes + CHART_COLUMNS - 1) / CHART_COLUMNS;
    let col_ns = per_col * data::MINUTE_NS;
    let cols = ((end - start) + col_ns - 1) / col_ns;
    let mut packets = vec![0f64; cols.max(1) as usize];
    for p in &t.points {
        let p_end = p.start_ns + i64::from(p.seconds) * 1_000_000_000;
        if p_end <= start {
            continue;
        }
        // An hour wider than a column is spread over the columns it covers.
        let from = p.start_ns.max(start);
        let span = (p_end - from) as f64;
        let mut at = from;
        while at < p_end {
            let col = ((at - start) / col_ns) as usize;
            let col_end = (start + (col as i64 + 1) * col_ns).min(p_end);
            if let Some(c) = packets.get_mut(col) {
                *c += p.packets as f64 * (col_end - at) as f64 / span;
            }
            at = col_end;
        }
    }
    let col_s = col_ns as f64 / 1e9;
    let pps: Vec<f64> = packets.iter().map(|n| n / col_s).collect();
    let peak = pps.iter().copied().fold(0.0, f64::max);
    let top = if peak > 0.0 { peak } else { 1.0 };
    let x = |ns: i64| 50.0 + 540.0 * (ns - start) as f64 / (end - start).max(1) as f64;
    let y = |v: f64| 110.0 - 90.0 * v / top;
    let mut path = format!("M{:.1},{:.1}", x(start), y(0.0));
    for (i, v) in pps.iter().enumerate() {
        let c0 = start + i as i64 * col_ns;
        let c1 = (c0 + col_ns).min(end);
        path.push_str(&format!(
            " L{:.1},{:.1} L{:.1},{:.1}",
            x(c0),
            y(*v),
            x(c1),
            y(*v)
        ));
    }
    path.push_str(&format!(" L{:.1},{:.1} Z", x(end), y(0.0)));
    let marks: Vec<&data::DetectionMark> = t
        .detections
        .iter()
        .filter(|d| d.at_ns >= start && d.at_ns <= end)
        .collect();
    let long = end - start;
    let column = if per_col == 1 {
        "minute".to_owned()
    } else {
        format!("{per_col} minutes")
    };
    let label = format!(
        "Packets per second from {} to {} UTC, per {column}; peak {peak:.1}; {} detection(s) marked",
        clock_of(start, long),
        clock_of(end, long),
        marks.len()
    );
    html! {
        figure.chart {
            svg viewBox="0 0 600 140" role="img" aria-labelledby="traffic-title" xmlns="http://www.w3.org/2000/svg" {
                title id="traffic-title" { (label) }
                line x1="50" y1="110" x2="590" y2="110" stroke="#4a4a55" stroke-width="1" {}
                line x1="50" y1="20" x2="590" y2="20" stroke="#d4d4dc" stroke-width="1" {}
                text x="46" y="24" font-size="12" fill="#4a4a55" text-anchor="end" { (format!("{peak:.1}")) }
                text x="46" y="114" font-size="12" fill="#4a4a55" text-anchor="end" { "0" }
                path.traffic d=(path) fill="#bfdbfe" stroke="#1d4ed8" stroke-width="1.5" {}
                @for m in &marks {
                    line.detection x1=(format!("{:.1}", x(m.at_ns))) y1="14" x2=(format!("{:.1}", x(m.at_ns))) y2="112" stroke="#b91c1c" stroke-width="2" {}
                    text x=(format!("{:.1}", x(m.at_ns).min(540.0))) y="11" font-size="11" fill="#7f1d1d" { (m.kind) }
                }
                text x="50" y="128" font-size="12" fill="#4a4a55" { (clock_of(start, long)) }
                text x="590" y="128" font-size="12" fill="#4a4a55" text-anchor="end" { (clock_of(end, long)) " UTC" }
            }
            figcaption.muted {
                "Packets per second the device sent and received, per " (column) ", from "
                (clock_of(start, long)) " to " (clock_of(end, long)) " UTC (peak " (format!("{peak:.1}")) "/s)."
                @if !marks.is_empty() {
                    " Red lines: the moments warden detected "
                    @for (i, m) in marks.iter().enumerate() {
                        @if i > 0 { ", " }
                        (m.kind) " (" (clock_of(m.at_ns, long)) ")"
                    }
                    "."
                }
            }
        }
    }
}

fn command_button(
    session: &Session,
    mac: &str,
    c: OwnerCommand,
    label: &str,
    class: &str,
) -> Markup {
    html! {
        form method="post" action={ "/devices/" (mac) "/command" } {
            input type="hidden" name="csrf" value=(session.csrf);
            input type="hidden" name="command" value=(c.as_str());
            button type="submit" class=(class) { (label) }
        }
    }
}

pub(crate) fn render_timeline(session: &Session, events: &[TimelineEntry]) -> Markup {
    page(
        "Timeline",
        Some(session),
        html! {
            h1 { "Timeline" }
            p { "What happened and what warden did, newest first." }
            @if events.is_empty() { p { "Nothing yet." } }
            ol.plain reversed {
                @for e in events {
                    li {
                        time datetime=(e.at) { (e.at.replace('T', " ").replace('Z', " UTC")) } " "
                        span.badge.s-ok { (e.kind) }
                        @if let Some(m) = &e.device { " " a href={ "/devices/" (m) } { (m) } }
                        br; (e.message)
                    }
                }
            }
        },
    )
}

async fn device_list(State(app): State<Arc<App>>, session: Session) -> Result<Response, AppError> {
    let view = app.view.clone();
    let (devices, feed) = app
        .with_store(move |s| {
            Ok((
                data::devices_in(s, data::now(), &view)?,
                data::feed_status(s, data::now())?,
            ))
        })
        .await?;
    Ok(html_response(render_device_list(&session, &devices, &feed)))
}

#[derive(Deserialize)]
struct DeviceQuery {
    queued: Option<String>,
    renamed: Option<String>,
}

async fn device_page(
    State(app): State<Arc<App>>,
    session: Session,
    Path(mac): Path<String>,
    Query(q): Query<DeviceQuery>,
) -> Result<Response, AppError> {
    let Some(mac) = parse_mac(&mac) else {
        return Ok(not_found());
    };
    let view = app.view.clone();
    let found = app
        .with_store(move |s| {
            Ok(match data::device_in(s, mac, data::now(), &view)? {
                Some(d) => data::traffic(s, mac)?.map(|t| (d, t)),
                None => None,
            })
        })
        .await?;
    let Some((detail, traffic)) = found else {
        return Ok(not_found());
    };
    // Only known words become a notice; the query string is not echoed.
    let notice = match (q.queued.as_deref().and_then(OwnerCommand::parse), q.renamed) {
        (Some(c), _) => Some(format!(
            "{} queued: warden carries it out within a second.",
            match c {
                OwnerCommand::Trust => "Trust",
                OwnerCommand::Release => "Release",
                OwnerCommand::Quarantine => "Quarantine",
                OwnerCommand::Profile => "Profile change",
            }
        )),
        (None, Some(_)) => Some("Name saved.".to_owned()),
        (None, None) => None,
    };
    Ok(html_response(render_device(
        &session, &detail, &traffic, notice,
    )))
}

#[derive(Deserialize)]
struct CommandForm {
    #[serde(default)]
    csrf: String,
    command: String,
}

async fn device_command(
    State(app): State<Arc<App>>,
    session: Session,
    Path(mac): Path<String>,
    Form(f): Form<CommandForm>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&f.csrf) {
        return Ok(forbidden_csrf());
    }
    let Some(mac) = parse_mac(&mac) else {
        return Ok(not_found());
    };
    let Some(command) = OwnerCommand::parse(&f.command) else {
        return Ok((StatusCode::BAD_REQUEST, "unknown command").into_response());
    };
    let known = app
        .with_store(move |s| {
            if s.device(mac)?.is_none() {
                return Ok(false);
            }
            s.queue_command(mac, command, data::now())?;
            Ok(true)
        })
        .await?;
    if !known {
        return Ok(not_found());
    }
    Ok(Redirect::to(&format!("/devices/{mac}?queued={}", command.as_str())).into_response())
}

/// The device's network profile: the one it is held to, or the one the
/// guard learned, with a button to hold the device to it.
fn profile_section(session: &Session, mac: &str, p: Option<&ProfileView>) -> Markup {
    html! {
        section aria-labelledby="profile" {
            h2 id="profile" { "Network profile" }
            @match p {
                None => p { "None yet. warden guards this device against attacks and learns whom it talks to; a profile to accept appears here." },
                Some(p) if p.state == "none" => p { "You chose no profile for this device." },
                Some(p) if p.state == "held" => {
                    p { "Held to " (p.label) " since " (p.since.replace('T', " ").replace('Z', " UTC"))
                        ": anything else it tries is blocked and you are told. It may:" }
                    ul { @for a in &p.allows { li { (a) } } }
                }
                Some(p) => {
                    p { "warden learned what this device does (" (p.label) "). Accept it to hold the device to exactly this: anything else it tries is then blocked and you are told." }
                    ul { @for a in &p.allows { li { (a) } } }
                    @if p.left_out > 0 {
                        p.muted { (p.left_out) " connection(s) to internet addresses it never looked up by name cannot be written in a profile and are not in it." }
                    }
                    form method="post" action={ "/devices/" (mac) "/profile" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" { "Accept this profile" }
                    }
                }
            }
        }
    }
}

/// Holds a device to the profile the guard learned for it, as
/// `warden device profile MAC --learned --accept` does.
async fn accept_profile(
    State(app): State<Arc<App>>,
    session: Session,
    Path(mac): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&f.csrf) {
        return Ok(forbidden_csrf());
    }
    let Some(mac) = parse_mac(&mac) else {
        return Ok(not_found());
    };
    let accepted = app
        .with_store(move |s| {
            let Some(l) = s.learned_profile(mac)? else {
                return Ok(false);
            };
            let now = data::now();
            s.set_profile_mapping(
                mac,
                &warden_state::ProfileMapping {
                    source: "learned".into(),
                    label: format!("learned {}", l.updated),
                    network: Some(l.network),
                    since: now,
                },
            )?;
            s.queue_command(mac, OwnerCommand::Profile, now)?;
            Ok(true)
        })
        .await?;
    if !accepted {
        return Ok(not_found());
    }
    Ok(Redirect::to(&format!("/devices/{mac}?queued=profile")).into_response())
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

/// A name as stored: trimmed, control characters removed, at most 64
/// characters; empty clears it.
pub(crate) fn clean_name(name: &str) -> Option<String> {
    let n: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect::<String>()
        .trim()
        .to_owned();
    (!n.is_empty()).then_some(n)
}

async fn device_rename(
    State(app): State<Arc<App>>,
    session: Session,
    Path(mac): Path<String>,
    Form(f): Form<NameForm>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&f.csrf) {
        return Ok(forbidden_csrf());
    }
    let Some(mac) = parse_mac(&mac) else {
        return Ok(not_found());
    };
    let name = clean_name(&f.name);
    let known = app
        .with_store(move |s| Ok(s.set_device_name(mac, name.as_deref())?))
        .await?;
    if !known {
        return Ok(not_found());
    }
    Ok(Redirect::to(&format!("/devices/{mac}?renamed=1")).into_response())
}

async fn timeline_page(
    State(app): State<Arc<App>>,
    session: Session,
) -> Result<Response, AppError> {
    let events = app
        .with_store(|s| data::timeline(s, data::TIMELINE_LIMIT))
        .await?;
    Ok(html_response(render_timeline(&session, &events)))
}

// ---- setup, login, logout

/// The pre-login CSRF token: the visitor's cookie if it has one, else a
/// new one to set.
fn pre_token(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, PRE_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        Some(t) => (t, None),
        None => {
            let t = random_token();
            let c = set_cookie(PRE_COOKIE, &t, 3_600);
            (t, Some(c))
        }
    }
}

fn with_cookie(mut resp: Response, c: Option<HeaderValue>) -> Response {
    if let Some(c) = c {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

fn setup_form(token: &str, error: Option<&str>) -> Markup {
    page(
        "First start",
        None,
        html! {
            h1 { "Set the dashboard password" }
            p { "warden has no password yet, and never has a default one. The one-time setup code was printed where warden was started (its log, or the terminal)." }
            @if let Some(e) = error { div.box.error role="alert" { (e) } }
            form method="post" action="/setup" {
                input type="hidden" name="csrf" value=(token);
                label for="code" { "Setup code" }
                input type="text" id="code" name="code" required autocomplete="off" autocapitalize="characters" spellcheck="false";
                label for="password" { "New password (at least 10 characters)" }
                input type="password" id="password" name="password" required minlength="10" maxlength="256" autocomplete="new-password";
                label for="confirm" { "The same password again" }
                input type="password" id="confirm" name="confirm" required minlength="10" maxlength="256" autocomplete="new-password";
                p { button type="submit" { "Set password" } }
            }
        },
    )
}

fn login_form(token: &str, error: Option<&str>) -> Markup {
    page(
        "Log in",
        None,
        html! {
            h1 { "Log in to warden" }
            @if let Some(e) = error { div.box.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                label for="password" { "Password" }
                input type="password" id="password" name="password" required autocomplete="current-password";
                p { button type="submit" { "Log in" } }
            }
        },
    )
}

async fn setup_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.auth.needs_setup() {
        return Redirect::to("/login").into_response();
    }
    let (token, set) = pre_token(&headers);
    with_cookie(html_response(setup_form(&token, None)), set)
}

async fn login_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.auth.needs_setup() {
        return Redirect::to("/setup").into_response();
    }
    let (token, set) = pre_token(&headers);
    with_cookie(html_response(login_form(&token, None)), set)
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    csrf: String,
    code: String,
    password: String,
    confirm: String,
}

/// The pre-login token must come back both as the cookie and in the form.
fn pre_ok(headers: &HeaderMap, submitted: &str) -> bool {
    cookie(headers, PRE_COOKIE).is_some_and(|c| same(&c, submitted))
}

fn logged_in(token: &str) -> Response {
    let mut resp = Redirect::to("/").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, token, SESSION_LIFETIME.as_secs()),
    );
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(PRE_COOKIE, "", 0));
    resp
}

fn refused(r: Refusal, form: impl Fn(&str) -> Markup) -> Response {
    let (status, msg) = match r {
        Refusal::RateLimited(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong attempts. Try again in {} minutes.",
                wait.as_secs().div_ceil(60)
            ),
        ),
        Refusal::Wrong => (
            StatusCode::UNAUTHORIZED,
            "That is not right. Try again.".to_owned(),
        ),
        Refusal::Weak(why) => (StatusCode::BAD_REQUEST, format!("Not set: {why}.")),
        Refusal::NoSetup => (
            StatusCode::CONFLICT,
            "The password is set already: log in.".to_owned(),
        ),
    };
    let mut resp = (status, html_response(form(&msg))).into_response();
    if let Refusal::RateLimited(wait) = r {
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

async fn setup_submit(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Response {
    if !pre_ok(&headers, &f.csrf) {
        return forbidden_csrf();
    }
    if f.password != f.confirm {
        return (
            StatusCode::BAD_REQUEST,
            html_response(setup_form(&f.csrf, Some("The two passwords differ."))),
        )
            .into_response();
    }
    // Argon2 takes tens of milliseconds: off the async thread.
    let auth_app = app.clone();
    let (code, password) = (f.code, f.password);
    let result =
        tokio::task::spawn_blocking(move || auth_app.auth.setup(ip, &code, &password)).await;
    match result {
        Ok(Ok(token)) => logged_in(&token),
        Ok(Err(r)) => refused(r, |m| setup_form(&f.csrf, Some(m))),
        Err(e) => AppError(anyhow::anyhow!("setup: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    password: String,
}

async fn login_submit(
    State(app): State<Arc<App>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !pre_ok(&headers, &f.csrf) {
        return forbidden_csrf();
    }
    // Argon2 takes tens of milliseconds: off the async thread.
    let auth_app = app.clone();
    let password = f.password;
    let result = tokio::task::spawn_blocking(move || auth_app.auth.login(ip, &password)).await;
    match result {
        Ok(Ok(token)) => logged_in(&token),
        Ok(Err(r)) => refused(r, |m| login_form(&f.csrf, Some(m))),
        Err(e) => AppError(anyhow::anyhow!("login: {e}")).into_response(),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): State<Arc<App>>,
    session: Session,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return forbidden_csrf();
    }
    app.auth.logout(&session.token);
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    resp
}
