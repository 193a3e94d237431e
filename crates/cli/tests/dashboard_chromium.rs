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

mod browser;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use browser::*;
use serde_json::json;
use warden_state::{OwnerCommand, Store};

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
    // Every device that sent or received anything has its sparkline.
    let sparks = b.eval("document.querySelectorAll('table.devices svg.spark').length");
    assert!(
        sparks.as_u64().unwrap() * 2 >= devices.len() as u64,
        "{sparks} sparklines for {} devices",
        devices.len()
    );
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
    let chart = b.text("section[aria-labelledby=alerts] figure.chart figcaption");
    assert!(chart.contains("moment warden detected it"), "{chart}");
    assert_eq!(
        b.eval("document.querySelectorAll('section[aria-labelledby=alerts] figure.chart svg[role=img] title').length > 0"),
        json!(true)
    );
    // The traffic chart from the guard's per-minute counters, with the
    // detection marked.
    assert_eq!(
        b.eval(
            "document.querySelectorAll('section[aria-labelledby=traffic] svg path.traffic').length"
        ),
        json!(1)
    );
    let marks = b.eval(
        "document.querySelectorAll('section[aria-labelledby=traffic] line.detection').length",
    );
    assert!(marks.as_u64().unwrap() >= 1, "no detection marked: {marks}");
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
