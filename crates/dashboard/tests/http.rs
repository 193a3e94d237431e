//! The dashboard over HTTP, in process (tower's `oneshot`): first-run
//! setup, cookies, CSRF, the login limit, security headers, escaping of
//! hostile names, the owner's commands in the queue, and the API.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use common::*;
use http_body_util::BodyExt;
use tower::ServiceExt;
use warden_dashboard::{router, App, Config};
use warden_state::{OwnerCommand, Store};

const HOST: &str = "127.0.0.1:8080";

struct Harness {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    app: Arc<App>,
    router: Router,
    code: Option<String>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    fill(&db);
    let addr: SocketAddr = HOST.parse().unwrap();
    let (app, code) = App::new(&Config::new(&db, addr), addr).unwrap();
    let router = router(app.clone()).layer(MockConnectInfo(SocketAddr::from((
        [192, 168, 1, 50],
        40000,
    ))));
    Harness {
        _dir: dir,
        db,
        app,
        router,
        code,
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// `name=value` of a Set-Cookie with a value.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .filter_map(|c| c.split(';').next().map(str::to_owned))
            .find(|kv| kv.starts_with(&format!("{name}=")) && kv.len() > name.len() + 1)
    }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(path).header(header::HOST, HOST);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post_form(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Reply {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body)).unwrap()).await
    }

    /// First-run setup through the pages; returns the session cookie and
    /// the session's CSRF token.
    async fn set_up(&self) -> (String, String) {
        let page = self.get("/setup", None).await;
        assert_eq!(page.status, StatusCode::OK);
        let pre = page
            .cookie("__Host-warden-pre")
            .expect("a pre-login cookie");
        let token = csrf_in(&page.body);
        let code = self.code.clone().expect("a setup code");
        let done = self
            .post_form(
                "/setup",
                Some(&pre),
                &[
                    ("csrf", &token),
                    ("code", &code),
                    ("password", "a long enough password"),
                    ("confirm", "a long enough password"),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let session = done.cookie("__Host-warden-session").expect("a session");
        let list = self.get("/", Some(&session)).await;
        assert_eq!(list.status, StatusCode::OK);
        (session.clone(), csrf_in(&list.body))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn first_visit_needs_the_setup_code_once_and_cookies_are_locked_down() {
    let h = harness();
    // No password: every page leads to the setup, none shows data.
    for path in ["/", "/timeline", &format!("/devices/{EVIL}"), "/login"] {
        let r = h.get(path, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.location(), "/setup", "{path}");
        assert!(!r.body.contains(QUIET));
    }
    let api = h.get("/api/v1/devices", None).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    let page = h.get("/setup", None).await;
    let pre = page.cookie("__Host-warden-pre").unwrap();
    let token = csrf_in(&page.body);
    // A wrong code sets nothing.
    let wrong = h
        .post_form(
            "/setup",
            Some(&pre),
            &[
                ("csrf", &token),
                ("code", "AAAA-AAAA-AAAA"),
                ("password", "a long enough password"),
                ("confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.cookie("__Host-warden-session").is_none());
    assert!(!h.db.with_extension("db.dashboard-auth").exists());

    let (session, _) = h.set_up().await;
    // The cookie's flags.
    let done_cookie_line = {
        // Log in again to see the Set-Cookie line of a login.
        let page = h.get("/login", None).await;
        let pre = page.cookie("__Host-warden-pre").unwrap();
        let r = h
            .post_form(
                "/login",
                Some(&pre),
                &[
                    ("csrf", &csrf_in(&page.body)),
                    ("password", "a long enough password"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        r.set_cookies()
            .into_iter()
            .find(|c| {
                c.starts_with("__Host-warden-session=") && !c.starts_with("__Host-warden-session=;")
            })
            .unwrap()
    };
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            done_cookie_line.split("; ").any(|p| p == flag),
            "{flag} missing in {done_cookie_line}"
        );
    }
    assert!(!done_cookie_line.contains("Domain"));
    // The password file holds an Argon2id hash, not the password.
    let stored = std::fs::read_to_string(h.db.with_extension("db.dashboard-auth")).unwrap();
    assert!(stored.starts_with("$argon2id$"));
    // The code was one-time: the setup page is gone, posting it again fails.
    let again = h.get("/setup", Some(&session)).await;
    assert_eq!(again.location(), "/login");
    let page = h.get("/login", None).await;
    let pre = page.cookie("__Host-warden-pre").unwrap();
    let replay = h
        .post_form(
            "/setup",
            Some(&pre),
            &[
                ("csrf", &csrf_in(&page.body)),
                ("code", h.code.as_deref().unwrap()),
                ("password", "the attacker's password"),
                ("confirm", "the attacker's password"),
            ],
        )
        .await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert!(replay.cookie("__Host-warden-session").is_none());
}

#[tokio::test]
async fn every_post_needs_its_csrf_token() {
    let h = harness();
    let (session, csrf) = h.set_up().await;
    let pending = |db: &std::path::Path| Store::open(db).unwrap().pending_commands().unwrap().len();
    let path = format!("/devices/{EVIL}/command");
    // Without a token, with another session's token, with a wrong one.
    let r = h
        .post_form(&path, Some(&session), &[("command", "release")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .post_form(
            &path,
            Some(&session),
            &[("command", "release"), ("csrf", &"0".repeat(64))],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Cross-origin, even with the right token.
    let req = Request::post(&path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "http://evil.example")
        .header(header::COOKIE, &session)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("command=release&csrf={csrf}")))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::FORBIDDEN);
    // A browser's cross-site request, whose Origin is hidden ("null").
    let req = Request::post(&path)
        .header(header::HOST, HOST)
        .header(header::ORIGIN, "null")
        .header("sec-fetch-site", "cross-site")
        .header(header::COOKIE, &session)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("command=release&csrf={csrf}")))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::FORBIDDEN);
    // Rename and logout too.
    let r = h
        .post_form(
            &format!("/devices/{EVIL}/name"),
            Some(&session),
            &[("name", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h.post_form("/logout", Some(&session), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The login form needs the pre-login token as cookie and field.
    let r = h
        .post_form("/login", None, &[("password", "a long enough password")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.cookie("__Host-warden-session").is_none());
    // The API needs the header.
    let req = Request::post(format!("/api/v1/devices/{EVIL}/commands"))
        .header(header::HOST, HOST)
        .header(header::COOKIE, &session)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"command":"release"}"#))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::FORBIDDEN);
    assert_eq!(pending(&h.db), 0, "nothing was queued");
    // With the token it works.
    let r = h
        .post_form(
            &path,
            Some(&session),
            &[("command", "release"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(pending(&h.db), 1);
}

#[tokio::test]
async fn wrong_passwords_are_rate_limited() {
    let h = harness();
    let _ = h.set_up().await;
    let attempt = |password: &'static str| {
        let h = &h;
        async move {
            let page = h.get("/login", None).await;
            let pre = page.cookie("__Host-warden-pre").unwrap();
            h.post_form(
                "/login",
                Some(&pre),
                &[("csrf", &csrf_in(&page.body)), ("password", password)],
            )
            .await
        }
    };
    for _ in 0..warden_dashboard::auth::MAX_FAILURES {
        assert_eq!(
            attempt("not the password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = attempt("a long enough password").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.get(header::RETRY_AFTER).is_some());
    assert!(limited.cookie("__Host-warden-session").is_none());
}

#[tokio::test]
async fn hostile_names_are_escaped_everywhere() {
    let h = harness();
    let (session, csrf) = h.set_up().await;
    // The owner's own name can be hostile too.
    let r = h
        .post_form(
            &format!("/devices/{QUIET}/name"),
            Some(&session),
            &[
                ("csrf", &csrf),
                ("name", "<script>alert(3)</script>\u{7}bell"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let stored = Store::open(&h.db)
        .unwrap()
        .device(mac(QUIET))
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.name.as_deref(),
        Some("<script>alert(3)</script>bell")
    );
    for path in [
        "/".to_owned(),
        format!("/devices/{EVIL}"),
        format!("/devices/{QUIET}"),
        "/timeline".to_owned(),
    ] {
        let page = h.get(&path, Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for raw in ["<script>alert", "<img src=x", "\"><img"] {
            assert!(!page.body.contains(raw), "{path} contains {raw} unescaped");
        }
        assert!(
            page.body.contains("&lt;script&gt;alert("),
            "{path}: escaped text missing"
        );
        // No script element at all, ours or theirs.
        assert!(!page.body.contains("<script"), "{path}");
    }
    // The evil device's page shows the escaped model and the why.
    let page = h.get(&format!("/devices/{EVIL}"), Some(&session)).await;
    assert!(page
        .body
        .contains("It was scanning for devices to break into &lt;script&gt;"));
    assert!(page
        .body
        .contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
}

#[tokio::test]
async fn owner_actions_land_in_the_command_queue() {
    let h = harness();
    let (session, csrf) = h.set_up().await;
    for command in ["release", "trust", "quarantine"] {
        let r = h
            .post_form(
                &format!("/devices/{EVIL}/command"),
                Some(&session),
                &[("csrf", &csrf), ("command", command)],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), format!("/devices/{EVIL}?queued={command}"));
    }
    // An unknown command or device queues nothing.
    let r = h
        .post_form(
            &format!("/devices/{EVIL}/command"),
            Some(&session),
            &[("csrf", &csrf), ("command", "delete")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h
        .post_form(
            "/devices/02:00:00:00:00:99/command",
            Some(&session),
            &[("csrf", &csrf), ("command", "release")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Through the API as well.
    let api_csrf: serde_json::Value =
        serde_json::from_str(&h.get("/api/v1/session", Some(&session)).await.body).unwrap();
    let req = Request::post(format!("/api/v1/devices/{LISTED}/commands"))
        .header(header::HOST, HOST)
        .header(header::COOKIE, &session)
        .header("x-csrf-token", api_csrf["csrf_token"].as_str().unwrap())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"command":"trust"}"#))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::ACCEPTED);
    let queued: Vec<(String, OwnerCommand)> = Store::open(&h.db)
        .unwrap()
        .pending_commands()
        .unwrap()
        .into_iter()
        .map(|c| (c.device.to_string(), c.command))
        .collect();
    assert_eq!(
        queued,
        vec![
            (EVIL.to_owned(), OwnerCommand::Release),
            (EVIL.to_owned(), OwnerCommand::Trust),
            (EVIL.to_owned(), OwnerCommand::Quarantine),
            (LISTED.to_owned(), OwnerCommand::Trust),
        ]
    );
    // The page says they are waiting for the guard.
    let page = h
        .get(&format!("/devices/{EVIL}?queued=release"), Some(&session))
        .await;
    assert!(page.body.contains("Release queued"));
    assert!(page
        .body
        .contains("Waiting for warden to carry out: release, trust, quarantine."));
}

#[tokio::test]
async fn security_headers_on_every_response_and_unknown_hosts_refused() {
    let h = harness();
    let (session, _) = h.set_up().await;
    for (path, cookie) in [
        ("/login", None),
        ("/", Some(session.as_str())),
        ("/api/v1/devices", Some(session.as_str())),
        ("/devices/not-a-mac", Some(session.as_str())),
        ("/api/v1/openapi.json", None),
    ] {
        let r = h.get(path, cookie).await;
        let hdr = |n: &str| {
            r.headers
                .get(n)
                .unwrap_or_else(|| panic!("{path}: no {n}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let csp = hdr("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("script-src"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(hdr("x-frame-options"), "DENY");
        assert_eq!(hdr("referrer-policy"), "no-referrer");
        assert_eq!(hdr("x-content-type-options"), "nosniff");
        assert_eq!(hdr("cache-control"), "no-store");
    }
    // DNS rebinding: a page of evil.example resolved to 127.0.0.1.
    let req = Request::get("/login")
        .header(header::HOST, "evil.example:8080")
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn pages_and_api_show_the_same_devices_and_statuses() {
    let h = harness();
    let (session, _) = h.set_up().await;
    let list: serde_json::Value =
        serde_json::from_str(&h.get("/api/v1/devices", Some(&session)).await.body).unwrap();
    let status = |m: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["mac"] == m)
            .map(|d| d["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status(EVIL), "quarantined");
    assert_eq!(status(LISTED), "listed-by-feed");
    assert_eq!(status(QUIET), "ok");
    assert_eq!(status(LIMITED), "limited");
    assert_eq!(status(WATCHED), "watched");
    // Most recently seen first, in the page as in the API.
    let page = h.get("/", Some(&session)).await.body;
    // The summary names the restricted devices (three: quarantined,
    // listed, limited), with links to them.
    let summary = &page[page.find("<main").unwrap()..page.find("<table").unwrap()];
    assert!(summary.contains("3 are restricted:"), "{summary}");
    for m in [EVIL, LISTED, LIMITED] {
        assert!(
            summary.contains(&format!("href=\"/devices/{m}\"")),
            "{m}: {summary}"
        );
    }
    assert!(!summary.contains(QUIET) && !summary.contains(WATCHED));
    let table = &page[page.find("<table").unwrap()..];
    let pos = |m: &str| table.find(m).unwrap();
    assert!(pos(EVIL) < pos(QUIET) && pos(QUIET) < pos(LISTED));
    assert_eq!(list[0]["mac"], EVIL);
    assert!(page.contains("Quarantined") && page.contains("Listed by the feed"));
    let detail: serde_json::Value = serde_json::from_str(
        &h.get(&format!("/api/v1/devices/{EVIL}"), Some(&session))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(detail["decisions"][0]["action"], "quarantine");
    assert_eq!(detail["decisions"][0]["in_force"], true);
    assert_eq!(detail["alerts"][0]["kind"], "scan");
    assert_eq!(detail["alerts"][0]["evidence"]["attempts"], 40);
    assert!(detail["next_steps"]
        .as_str()
        .unwrap()
        .contains("probably infected"));
    let timeline: serde_json::Value =
        serde_json::from_str(&h.get("/api/v1/timeline?limit=2", Some(&session)).await.body)
            .unwrap();
    assert_eq!(timeline.as_array().unwrap().len(), 2);
    // The OpenAPI document describes what the code serves.
    let doc: serde_json::Value =
        serde_json::from_str(&h.get("/api/v1/openapi.json", None).await.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/devices",
        "/api/v1/devices/{mac}",
        "/api/v1/devices/{mac}/commands",
        "/api/v1/devices/{mac}/name",
        "/api/v1/timeline",
        "/api/v1/session",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["DeviceSummary"].is_object());
    // The evidence chart: the window the scan was seen and the detection
    // moment, from the stored evidence (70 s to 60 s before now).
    let page = h
        .get(&format!("/devices/{EVIL}"), Some(&session))
        .await
        .body;
    let svg = &page[page.find("<svg").expect("an evidence chart")..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert!(svg.contains("role=\"img\""));
    assert!(
        svg.contains("scan seen from") && svg.contains("(10 s); detected at"),
        "{svg}"
    );
    assert!(page.contains("40 first contacts, 4.0 per second"));
    let _ = &h.app;
}

/// What `warden run` calls: a dashboard on its own thread, reachable at
/// once, stopped cleanly.
#[test]
fn spawn_serves_on_its_own_thread_and_stops() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    fill(&db);
    let running =
        warden_dashboard::spawn(Config::new(&db, "127.0.0.1:0".parse().unwrap())).unwrap();
    assert!(running.addr.ip().is_loopback() && running.addr.port() != 0);
    assert!(running.setup_code.is_some());
    assert!(running.is_running());
    let mut conn = std::net::TcpStream::connect(running.addr).unwrap();
    write!(
        conn,
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        running.addr
    )
    .unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 303"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("location: /setup"),
        "{reply}"
    );
    let addr = running.addr;
    running.stop().unwrap();
    // Stopped: nothing listens there any more.
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn the_feed_status_shows_the_last_sync_and_the_listed_devices() {
    let h = harness();
    let (session, _) = h.set_up().await;
    let feed = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    // No sync recorded: the guard follows no feed.
    let none = feed(&h.get("/api/v1/feed", Some(&session)).await.body);
    assert_eq!(none["configured"], false);
    let page = h.get("/", Some(&session)).await.body;
    assert!(page.contains("Threat feed: not followed."), "{page}");

    // A failed sync after a good one: the failure is the status.
    let mut store = warden_state::Store::open(&h.db).unwrap();
    let at = |s: i64| warden_detect::Timestamp(1_795_600_000_000_000_000 + s * 1_000_000_000);
    store
        .record_event(
            at(0),
            None,
            "feed-sync",
            "feed: now at version 3 (was 2, Deltas(1))",
        )
        .unwrap();
    let status = feed(&h.get("/api/v1/feed", Some(&session)).await.body);
    assert_eq!(status["configured"], true);
    assert_eq!(status["ok"], true);
    assert_eq!(status["devices_listed"], 1, "{status}");
    assert!(h
        .get("/", Some(&session))
        .await
        .body
        .contains("Threat feed: up to date"));
    store
        .record_event(
            at(3600),
            None,
            "feed-sync-failed",
            "feed: sync failed, keeping version 3: timeout",
        )
        .unwrap();
    let status = feed(&h.get("/api/v1/feed", Some(&session)).await.body);
    assert_eq!(status["ok"], false);
    assert!(status["message"]
        .as_str()
        .unwrap()
        .contains("keeping version 3"));
    let page = h.get("/", Some(&session)).await.body;
    assert!(page.contains("the last update failed"), "{page}");
    // Without a session, nothing.
    assert_eq!(
        h.get("/api/v1/feed", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Traffic counters: a sparkline per device on the list, a packets/s chart
/// with the detection marked on the device page, and the series in the API
/// (and its OpenAPI document).
#[tokio::test]
async fn traffic_shows_as_sparklines_a_chart_with_the_detection_and_in_the_api() {
    use warden_state::TrafficPoint;
    let h = harness();
    let t = now().0;
    let minute = 60 * 1_000_000_000i64;
    let min0 = t.div_euclid(minute) * minute;
    // EVIL: 30 quiet minutes at 60 packets each, then 6,000 in the minute
    // of its scan alert (detected one minute ago).
    let mut points: Vec<TrafficPoint> = (0..30)
        .map(|i| TrafficPoint {
            device: mac(EVIL),
            start: warden_detect::Timestamp(min0 - (31 - i) * minute),
            seconds: 60,
            packets: 60,
            bytes: 6_000,
        })
        .collect();
    points.push(TrafficPoint {
        device: mac(EVIL),
        start: warden_detect::Timestamp((t - minute).div_euclid(minute) * minute),
        seconds: 60,
        packets: 6_000,
        bytes: 600_000,
    });
    Store::open(&h.db)
        .unwrap()
        .add_traffic(&points, warden_detect::Timestamp(t))
        .unwrap();
    let (session, _) = h.set_up().await;

    let api = h
        .get(&format!("/api/v1/devices/{EVIL}/traffic"), Some(&session))
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 31);
    let total: u64 = pts.iter().map(|p| p["packets"].as_u64().unwrap()).sum();
    assert_eq!(total, 30 * 60 + 6_000);
    assert_eq!(pts[30]["packets_per_second"], 100.0);
    assert_eq!(v["detections"][0]["kind"], "scan");
    // A device without counters has an empty series; an unknown one is 404.
    let quiet = h
        .get(&format!("/api/v1/devices/{QUIET}/traffic"), Some(&session))
        .await;
    assert_eq!(quiet.status, StatusCode::OK);
    assert!(quiet.body.contains("\"points\":[]"), "{}", quiet.body);
    let unknown = h
        .get("/api/v1/devices/02:99:00:00:00:99/traffic", Some(&session))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        h.get(&format!("/api/v1/devices/{EVIL}/traffic"), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // The list: 24 hourly values that add up, and a sparkline.
    let list: serde_json::Value =
        serde_json::from_str(&h.get("/api/v1/devices", Some(&session)).await.body).unwrap();
    let evil = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["mac"] == EVIL)
        .unwrap();
    let hours = evil["traffic_24h"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(
        hours.iter().map(|x| x.as_u64().unwrap()).sum::<u64>(),
        total
    );
    let page = h.get("/", Some(&session)).await.body;
    assert!(
        page.contains(&format!("{total} packets in 24 hours")),
        "no sparkline for the scanner"
    );
    assert!(page.contains("<svg class=\"spark\""));
    assert!(page.contains("none counted"), "the quiet device");

    // The device page: the chart, its peak, the detection marked.
    let dev = h
        .get(&format!("/devices/{EVIL}"), Some(&session))
        .await
        .body;
    assert!(dev.contains("<path class=\"traffic\""), "no traffic chart");
    assert_eq!(dev.matches("<line class=\"detection\"").count(), 1);
    assert!(dev.contains("peak 100.0/s"), "peak missing");
    assert!(dev.contains("Red lines: the moments warden detected scan"));
    let quiet_page = h
        .get(&format!("/devices/{QUIET}"), Some(&session))
        .await
        .body;
    assert!(quiet_page.contains("No traffic counted yet"));

    // The OpenAPI document describes the call.
    let doc = h.get("/api/v1/openapi.json", None).await.body;
    assert!(doc.contains("/api/v1/devices/{mac}/traffic"));
    assert!(doc.contains("\"TrafficSeries\""));
}

/// A device whose vendor, model and firmware match a published threat
/// model shows its summary on the list, its page and in the API; others
/// show none.
#[tokio::test]
async fn threat_model_summaries_next_to_matching_devices() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    fill(&db);
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/good-camera.yaml"),
        models.join("good-camera.yaml"),
    )
    .unwrap();
    let cam = "02:00:00:00:00:42";
    Store::open(&db)
        .unwrap()
        .upsert_devices(&[warden_state::DeviceRecord {
            mac: mac(cam),
            first_seen: now(),
            last_seen: now(),
            vendor: Some("Northwind Optics Ltd.".into()),
            identity: Some(r#"{"model":"NW-Cam 2","firmware":"2.4.1"}"#.into()),
        }])
        .unwrap();
    let addr: SocketAddr = HOST.parse().unwrap();
    let mut config = Config::new(&db, addr);
    config.models = Some(models);
    let (app, code) = App::new(&config, addr).unwrap();
    let router = router(app.clone()).layer(MockConnectInfo(SocketAddr::from((
        [192, 168, 1, 50],
        40000,
    ))));
    let h = Harness {
        _dir: dir,
        db,
        app,
        router,
        code,
    };
    let (session, _) = h.set_up().await;
    let list: serde_json::Value =
        serde_json::from_str(&h.get("/api/v1/devices", Some(&session)).await.body).unwrap();
    let summary = |m: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["mac"] == m)
            .unwrap()["threat_model"]
            .clone()
    };
    let tm = summary(cam);
    assert_eq!(tm["file"], "good-camera.yaml");
    assert_eq!(tm["security_updates_until"], "2031-12-31");
    assert_eq!(tm["shared_default_password"], false);
    assert_eq!(
        tm["summary"],
        "updates until 2031-12-31, no default password"
    );
    assert!(summary(QUIET).is_null());
    let page = h.get("/", Some(&session)).await.body;
    assert!(page.contains("updates until 2031-12-31, no default password"));
    let dev = h.get(&format!("/devices/{cam}"), Some(&session)).await.body;
    assert!(dev.contains("Threat model"), "{dev}");
    assert!(dev.contains("(good-camera.yaml)"));
}

/// A profile the guard learned is proposed on the device page; accepting it
/// (with the session's CSRF token) holds the device to it, as
/// `warden device profile MAC --learned --accept` does, and queues the change.
#[tokio::test]
async fn a_learned_profile_is_proposed_and_accepted_from_the_page() {
    let h = harness();
    let (session, csrf) = h.set_up().await;
    let path = format!("/devices/{EVIL}");
    let page = h.get(&path, Some(&session)).await;
    assert!(page.body.contains("Network profile"), "{}", page.body);
    assert!(!page.body.contains("Accept this profile"));
    // Nothing learned: nothing to accept.
    let r = h
        .post_form(
            &format!("{path}/profile"),
            Some(&session),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let network = r#"{"flows":[{"direction":"from_device","protocol":"tcp","port":443,"dns_name":"cloud.example.test","purpose":"seen"}]}"#;
    Store::open(&h.db)
        .unwrap()
        .set_learned_profile(
            mac(EVIL),
            &warden_state::LearnedProfile {
                since: now(),
                updated: now(),
                network: network.into(),
                unnamed: 2,
            },
        )
        .unwrap();
    let page = h.get(&path, Some(&session)).await;
    for needle in [
        "Accept this profile",
        "cloud.example.test",
        "443",
        "2 connection(s) to internet addresses",
    ] {
        assert!(page.body.contains(needle), "missing {needle:?}");
    }
    let api: serde_json::Value = serde_json::from_str(
        &h.get(&format!("/api/v1/devices/{EVIL}"), Some(&session))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(api["profile"]["state"], "proposed", "{api}");

    // Without the token nothing changes.
    let r = h
        .post_form(&format!("{path}/profile"), Some(&session), &[("csrf", "x")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(Store::open(&h.db)
        .unwrap()
        .profile_mapping(mac(EVIL))
        .unwrap()
        .is_none());

    let r = h
        .post_form(
            &format!("{path}/profile"),
            Some(&session),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("{path}?queued=profile"));
    let store = Store::open(&h.db).unwrap();
    let m = store.profile_mapping(mac(EVIL)).unwrap().unwrap();
    assert_eq!(
        (m.source.as_str(), m.network.as_deref()),
        ("learned", Some(network))
    );
    let queued: Vec<OwnerCommand> = store
        .pending_commands()
        .unwrap()
        .into_iter()
        .map(|c| c.command)
        .collect();
    assert_eq!(queued, vec![OwnerCommand::Profile]);
    let page = h.get(&path, Some(&session)).await;
    assert!(page.body.contains("Held to learned"), "{}", page.body);
    assert!(!page.body.contains("Accept this profile"));
}
