//! The dashboard end to end in a real headless Chromium, driven over the
//! DevTools protocol: a state database filled by `warden run --replay`
//! (a public capture, then a simulated household whose clock is now),
//! `warden dashboard` on a loopback port, and a browser that types the
//! one-time setup code, reads the device list (desktop and phone width),
//! opens the quarantined device, presses Release with the keyboard, meets
//! a cross-site form and the login limit. Screenshots and page figures go
//! to target/screenshots/.
//!
//! Chromium comes from .ci/setup.d/chromium.sh. Without it this test fails
//! (it never skips).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};
use warden_state::{OwnerCommand, Store};

const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn chromium() -> PathBuf {
    warden_netlab::chromium()
}

fn out_dir() -> PathBuf {
    warden_netlab::screenshots_dir(env!("CARGO_TARGET_TMPDIR"))
}

/// Kills a child process when dropped (the test's own children only).
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stderr, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for_line(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no {what} within 60 s; stderr was:\n{}", seen.join("\n"));
}

/// A minimal DevTools-protocol client: one page, flat sessions.
struct Browser {
    _child: Kill,
    _profile: tempfile::TempDir,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
}

impl Browser {
    fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let rx = lines_of(&mut child);
        let child = Kill(child);
        let line = wait_for_line(&rx, "DevTools URL", |l| {
            l.contains("DevTools listening on ws://")
        });
        let url = line
            .split("listening on ")
            .nth(1)
            .unwrap()
            .trim()
            .to_owned();
        // Keep draining Chromium's stderr so it never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        let (ws, _) = tungstenite::connect(url.as_str()).expect("connect to DevTools");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        let mut b = Browser {
            _child: child,
            _profile: profile,
            ws,
            session: String::new(),
            next_id: 1,
        };
        let target = b.call_browser("Target.createTarget", json!({"url": "about:blank"}));
        let attached = b.call_browser(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        b.call("Page.enable", json!({}));
        b.size(DESKTOP);
        b
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.ws.read().expect("DevTools message");
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == id {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false)
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true)
    }

    fn size(&mut self, (w, h): (u32, u32)) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600}),
        );
    }

    /// Evaluates JavaScript in the page (DevTools, not the page: the
    /// page's CSP allows no script of its own).
    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{js}: {e}");
        }
        r["result"]["value"].clone()
    }

    fn location(&mut self) -> String {
        self.eval("location.pathname + location.search")
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    fn wait_loaded(&mut self, from: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let here = self.location();
            let ready = self.eval("document.readyState") == "complete";
            if here != from && ready {
                return here;
            }
            if Instant::now() > deadline {
                let text = self.eval("document.body ? document.body.innerText : ''");
                panic!("still at {here} after 30 s; the page says: {text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Navigates and waits for the new document (marked: the old one has
    /// a variable the new one lacks), then returns its path.
    fn goto(&mut self, url: &str) -> String {
        self.eval("window.__wardenOld = true");
        self.call("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval("window.__wardenOld === undefined && document.readyState === 'complete'")
            != json!(true)
        {
            assert!(Instant::now() < deadline, "{url} did not load in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.location()
    }

    /// Focuses an element and types into it, as a person would.
    fn type_into(&mut self, selector: &str, text: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.focus(); return document.activeElement === e; }})()",
            json!(selector)
        ));
        assert_eq!(found, json!(true), "cannot focus {selector}");
        self.call("Input.insertText", json!({"text": text}));
    }

    fn press_enter(&mut self) {
        for kind in ["keyDown", "keyUp"] {
            let mut p = json!({"type": kind, "key": "Enter", "code": "Enter",
                "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13});
            if kind == "keyDown" {
                p["text"] = json!("\r");
            }
            self.call("Input.dispatchKeyEvent", p);
        }
    }

    fn text(&mut self, selector: &str) -> String {
        self.eval(&format!(
            "(document.querySelector({}) || {{}}).innerText || ''",
            json!(selector)
        ))
        .as_str()
        .unwrap()
        .to_owned()
    }

    fn screenshot(&mut self, name: &str) -> PathBuf {
        self.capture(name, true)
    }

    /// Whole page, or only what the viewport shows (the small copies in docs/img).
    fn capture(&mut self, name: &str, whole: bool) -> PathBuf {
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": whole}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{name}: blank?"
        );
        let path = out_dir().join(name);
        std::fs::write(&path, png).unwrap();
        path
    }

    /// No element wider than the viewport: nothing to scroll sideways.
    fn assert_fits(&mut self, what: &str) {
        let r = self.eval(
            "JSON.stringify({sw: document.documentElement.scrollWidth, iw: window.innerWidth})",
        );
        let v: Value = serde_json::from_str(r.as_str().unwrap()).unwrap();
        assert!(
            v["sw"].as_u64().unwrap() <= v["iw"].as_u64().unwrap(),
            "{what} overflows sideways: {v}"
        );
    }

    /// What a screen reader and a keyboard need: a language, one h1, a
    /// main landmark, a label for every field, a name for every button and
    /// link, and nothing taken out of the tab order.
    fn assert_accessible(&mut self, what: &str) {
        let r = self.eval(
            "JSON.stringify({ \
               lang: document.documentElement.lang, \
               h1: document.querySelectorAll('h1').length, \
               main: document.querySelectorAll('main').length, \
               unlabelled: [...document.querySelectorAll('input:not([type=hidden])')].filter(i => i.labels.length === 0).map(i => i.name), \
               unnamed: [...document.querySelectorAll('button, a')].filter(e => !e.innerText.trim() && !e.getAttribute('aria-label')).length, \
               untabbable: document.querySelectorAll('[tabindex=\"-1\"]').length, \
               viewport: !!document.querySelector('meta[name=viewport]') })",
        );
        let v: Value = serde_json::from_str(r.as_str().unwrap()).unwrap();
        assert_eq!(v["lang"], "en", "{what}: {v}");
        assert_eq!(v["h1"], 1, "{what}: {v}");
        assert_eq!(v["main"], 1, "{what}: {v}");
        assert_eq!(v["unlabelled"], json!([]), "{what}: {v}");
        assert_eq!(v["unnamed"], 0, "{what}: {v}");
        assert_eq!(v["untabbable"], 0, "{what}: {v}");
        assert_eq!(v["viewport"], true, "{what}: {v}");
    }

    /// The page's own figures: HTML bytes and first contentful paint.
    fn figures(&mut self) -> Value {
        let r = self.eval(
            "new Promise(done => setTimeout(() => { \
               const n = performance.getEntriesByType('navigation')[0]; \
               const p = performance.getEntriesByName('first-contentful-paint')[0]; \
               done(JSON.stringify({bytes: n.decodedBodySize, response_ms: n.responseEnd, \
                 fcp_ms: p ? p.startTime : null, resources: performance.getEntriesByType('resource').map(r => r.name)})); \
             }, 200))",
        );
        serde_json::from_str(r.as_str().unwrap()).unwrap()
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dashboard_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/public/ndpi-tplink-shp.pcap.gz");
    // A real public capture, then a simulated household whose clock is now
    // (so its decisions are in force while the test looks at them).
    run_ok(
        warden()
            .arg("run")
            .arg("--replay")
            .arg(&capture)
            .args(["--dry-run", "--db"])
            .arg(&db),
    );
    let sim = dir.path().join("household.pcap");
    run_ok(
        warden()
            .args(["simulate", "--start", "now", "--duration", "60", "-o"])
            .arg(&sim),
    );
    run_ok(
        warden()
            .arg("run")
            .arg("--replay")
            .arg(&sim)
            .args(["--dry-run", "--db"])
            .arg(&db),
    );

    let store = Store::open(&db).unwrap();
    let devices = store.devices().unwrap();
    assert!(devices.len() >= 8, "{} devices", devices.len());
    let now = warden_detect::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64,
    );
    let quarantine = store
        .active_decisions(now)
        .unwrap()
        .into_iter()
        .find(|d| d.action == warden_policy::Action::Quarantine)
        .expect("the simulated household has a quarantined device");
    let qmac = quarantine.device.to_string();

    let mut server = warden()
        .args(["dashboard", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut server);
    let _server = Kill(server);
    let code_line = wait_for_line(&rx, "setup code", |l| l.contains("setup code: "));
    let code = code_line
        .rsplit("setup code: ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let base = code_line
        .split("Open ")
        .nth(1)
        .unwrap()
        .split("/setup")
        .next()
        .unwrap()
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let mut b = Browser::launch();
    let mut figures = Vec::new();

    // First visit: straight to the setup.
    assert_eq!(b.goto(&format!("{base}/")), "/setup");
    figures.push(("setup", b.figures()));
    b.assert_accessible("setup");
    b.screenshot("dashboard-setup.png");
    b.type_into("#code", &code.to_lowercase());
    b.type_into("#password", "correct horse battery");
    b.type_into("#confirm", "correct horse battery");
    b.press_enter();
    assert_eq!(b.wait_loaded("/setup"), "/");
    // The session cookie is HttpOnly: no script can read it.
    assert_eq!(b.eval("document.cookie"), json!(""));

    // The device list: every stored device, the quarantined one marked.
    let table = b.text("table.devices");
    for d in &devices {
        assert!(
            table.contains(&d.mac.to_string()),
            "{} missing from the list",
            d.mac
        );
    }
    let row = b.eval(&format!(
        "[...document.querySelectorAll('table.devices tbody tr')].find(r => r.innerText.includes('{qmac}')).innerText"
    ));
    assert!(row.as_str().unwrap().contains("Quarantined"), "{row}");
    assert_eq!(
        b.eval("document.querySelectorAll('script').length"),
        json!(0)
    );
    b.screenshot("dashboard-devices-desktop.png");
    b.size(PHONE);
    b.goto(&format!("{base}/"));
    b.assert_fits("device list at phone width");
    b.screenshot("dashboard-devices-phone.png");
    b.capture("dashboard-devices-phone-top.png", false);

    // The quarantined device says why, and what to do.
    let page = format!("/devices/{qmac}");
    assert_eq!(b.goto(&format!("{base}{page}")), page);
    b.assert_fits("device page at phone width");
    let why = b.text("section[aria-labelledby=why]");
    assert!(why.contains(quarantine.reason.text.trim()), "{why}");
    assert!(why.to_lowercase().contains("quarantine"), "{why}");
    let next = b.text("section[aria-labelledby=next]");
    assert!(next.contains("probably infected"), "{next}");
    // The evidence chart: the window the behaviour was seen, the detection.
    let chart = b.text("figure.chart figcaption");
    assert!(chart.contains("moment warden detected it"), "{chart}");
    assert_eq!(
        b.eval("document.querySelectorAll('figure.chart svg[role=img] title').length > 0"),
        json!(true)
    );
    b.screenshot("dashboard-device-phone.png");
    b.capture("dashboard-device-phone-top.png", false);
    b.size(DESKTOP);
    b.goto(&format!("{base}{page}"));
    b.screenshot("dashboard-device-desktop.png");

    // Release, with the keyboard: focus the button, press Enter.
    let focused = b.eval(
        "(() => { const btn = [...document.querySelectorAll('button')].find(x => x.innerText === 'Release'); \
           btn.focus(); return document.activeElement === btn; })()",
    );
    assert_eq!(focused, json!(true));
    b.press_enter();
    assert_eq!(b.wait_loaded(&page), format!("{page}?queued=release"));
    assert!(b.text("main").contains("Release queued"));
    let pending: Vec<(String, OwnerCommand)> = store
        .pending_commands()
        .unwrap()
        .into_iter()
        .map(|c| (c.device.to_string(), c.command))
        .collect();
    assert_eq!(pending, vec![(qmac.clone(), OwnerCommand::Release)]);

    // The timeline.
    assert_eq!(b.goto(&format!("{base}/timeline")), "/timeline");
    assert!(b.text("main").contains("quarantined"));
    b.screenshot("dashboard-timeline.png");

    // A cross-site page that posts a form to the dashboard queues nothing:
    // the browser sends no SameSite=Strict cookie, and the Origin is foreign.
    let attack = format!(
        "data:text/html,<form method=post action='{base}/devices/{qmac}/command'>\
         <input name=command value=trust><input name=csrf value=x></form>\
         <script>document.forms[0].submit()</script>"
    );
    b.call("Page.navigate", json!({"url": attack}));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        store.pending_commands().unwrap().len(),
        1,
        "the cross-site form queued something"
    );

    // The guard carries the release out: a quiet capture whose clock starts
    // after the household's, replayed by `warden run` on the same database.
    // Its last nftables script no longer quarantines the device, and the
    // dashboard shows the decision ended by the release.
    let after = store
        .devices()
        .unwrap()
        .iter()
        .map(|d| d.last_seen.0)
        .max()
        .unwrap();
    let quiet = dir.path().join("quiet.pcap");
    run_ok(
        warden()
            .args([
                "simulate",
                "--scenario",
                "benign",
                "--duration",
                "60",
                "--start",
            ])
            .arg((after / 1_000_000_000 + 2).to_string())
            .arg("-o")
            .arg(&quiet),
    );
    let out = warden()
        .arg("run")
        .arg("--replay")
        .arg(&quiet)
        .args(["--dry-run", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(&format!("the owner asked to release {qmac}")),
        "{log}"
    );
    let script = String::from_utf8_lossy(&out.stdout);
    let last = script.rsplit("# nftables for").next().unwrap();
    assert!(!last.contains(&qmac), "{qmac} still in the rules:\n{last}");
    assert!(store.pending_commands().unwrap().is_empty());
    b.goto(&format!("{base}{page}"));
    assert!(!b.text("h1").contains("Quarantined"), "{}", b.text("h1"));
    let decisions = b.text("section[aria-labelledby=decisions]");
    assert!(decisions.contains("(released)"), "{decisions}");
    b.screenshot("dashboard-device-released.png");

    // Each page's own figures, on a fresh load (GET) at desktop size.
    for (name, path) in [
        ("device list", "/".to_owned()),
        ("device page", page.clone()),
        ("timeline", "/timeline".to_owned()),
    ] {
        b.goto("about:blank");
        b.goto(&format!("{base}{path}"));
        figures.push((name, b.figures()));
        b.assert_accessible(name);
    }

    // Log out, then the login limit: five wrong passwords, then even the
    // right one is refused for a while.
    b.goto(&format!("{base}/"));
    let focused = b.eval(
        "(() => { const btn = [...document.querySelectorAll('button')].find(x => x.innerText === 'Log out'); \
           btn.focus(); return document.activeElement === btn; })()",
    );
    assert_eq!(focused, json!(true));
    b.press_enter();
    assert_eq!(b.wait_loaded("/"), "/login");
    b.goto(&format!("{base}/login"));
    figures.push(("login", b.figures()));
    b.assert_accessible("login");
    b.screenshot("dashboard-login.png");
    for i in 0..6 {
        let password = if i < 5 {
            "wrong password"
        } else {
            "correct horse battery"
        };
        // The answer is a new page with its own alert: drop the old one first.
        b.eval("document.querySelector('[role=alert]')?.remove()");
        b.type_into("#password", password);
        b.press_enter();
        let deadline = Instant::now() + Duration::from_secs(30);
        while b.text("[role=alert]").is_empty() || b.eval("document.readyState") != "complete" {
            assert!(Instant::now() < deadline, "no answer to login {i}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let alert = b.text("[role=alert]");
        if i < 5 {
            assert!(alert.contains("not right"), "attempt {i}: {alert}");
        } else {
            assert!(alert.contains("Too many wrong attempts"), "{alert}");
        }
        assert_eq!(b.location(), "/login");
    }

    // The figures, for docs/dashboard.md.
    let mut report =
        String::from("page\tHTML bytes\tresponse ms\tfirst contentful paint ms\tsubresources\n");
    for (name, f) in &figures {
        let bytes = f["bytes"].as_u64().unwrap();
        assert!(bytes > 1_000 && bytes < 64 * 1024, "{name}: {bytes} bytes");
        assert_eq!(
            f["resources"],
            json!([]),
            "{name} loads something besides its HTML"
        );
        assert!(f["fcp_ms"].is_number(), "{name}: never painted");
        report.push_str(&format!(
            "{name}\t{bytes}\t{:.1}\t{:.1}\t{}\n",
            f["response_ms"].as_f64().unwrap(),
            f["fcp_ms"].as_f64().unwrap(),
            f["resources"].as_array().unwrap().len()
        ));
    }
    std::fs::write(out_dir().join("dashboard-figures.tsv"), &report).unwrap();
    eprintln!("{report}");
}
