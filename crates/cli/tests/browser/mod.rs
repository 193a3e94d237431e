//! Headless Chromium driven over the DevTools protocol (a small client
//! over a WebSocket), shared by the dashboard's browser tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub const PHONE: (u32, u32) = (390, 844);
pub const DESKTOP: (u32, u32) = (1280, 900);

pub fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

pub fn chromium() -> PathBuf {
    warden_netlab::chromium()
}

pub fn out_dir() -> PathBuf {
    warden_netlab::screenshots_dir(env!("CARGO_TARGET_TMPDIR"))
}

/// Kills a child process when dropped (the test's own children only).
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stderr, as they come.
pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
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

pub fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
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
pub struct Browser {
    _child: Kill,
    _profile: tempfile::TempDir,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
}

impl Browser {
    pub fn launch() -> Browser {
        Browser::launch_in(None)
    }

    /// Chromium in network namespace `ns` (`ip netns exec`), so it reaches
    /// what listens on that namespace's loopback; the DevTools socket is
    /// opened from inside it too.
    pub fn launch_in(ns: Option<&str>) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut command = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(chromium());
                c
            }
            None => Command::new(chromium()),
        };
        let mut child = command
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
        let connect = || tungstenite::connect(url.as_str()).expect("connect to DevTools");
        let (ws, _) = match ns {
            Some(ns) => warden_netlab::in_ns(ns, connect),
            None => connect(),
        };
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

    pub fn send(&mut self, method: &str, params: Value, session: bool) -> Value {
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

    pub fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false)
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true)
    }

    pub fn size(&mut self, (w, h): (u32, u32)) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600}),
        );
    }

    /// Evaluates JavaScript in the page (DevTools, not the page: the
    /// page's CSP allows no script of its own).
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{js}: {e}");
        }
        r["result"]["value"].clone()
    }

    pub fn location(&mut self) -> String {
        self.eval("location.pathname + location.search")
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub fn wait_loaded(&mut self, from: &str) -> String {
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
    pub fn goto(&mut self, url: &str) -> String {
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
    pub fn type_into(&mut self, selector: &str, text: &str) {
        let found = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.focus(); return document.activeElement === e; }})()",
            json!(selector)
        ));
        assert_eq!(found, json!(true), "cannot focus {selector}");
        self.call("Input.insertText", json!({"text": text}));
    }

    pub fn press_enter(&mut self) {
        for kind in ["keyDown", "keyUp"] {
            let mut p = json!({"type": kind, "key": "Enter", "code": "Enter",
                "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13});
            if kind == "keyDown" {
                p["text"] = json!("\r");
            }
            self.call("Input.dispatchKeyEvent", p);
        }
    }

    pub fn text(&mut self, selector: &str) -> String {
        self.eval(&format!(
            "(document.querySelector({}) || {{}}).innerText || ''",
            json!(selector)
        ))
        .as_str()
        .unwrap()
        .to_owned()
    }

    pub fn screenshot(&mut self, name: &str) -> PathBuf {
        self.capture(name, true)
    }

    /// Whole page, or only what the viewport shows (the small copies in docs/img).
    pub fn capture(&mut self, name: &str, whole: bool) -> PathBuf {
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
    pub fn assert_fits(&mut self, what: &str) {
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
    pub fn assert_accessible(&mut self, what: &str) {
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
    pub fn figures(&mut self) -> Value {
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
