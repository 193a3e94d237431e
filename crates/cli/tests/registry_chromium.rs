//! The registry end to end: `warden feed serve` on a loopback port with
//! vendor, operator and tester keys in its config; `warden feed submit`
//! publishes the shipped threat models and test reports (a report signed
//! first with `warden report sign`); and the public device pages are read
//! in a real headless Chromium at phone width (no sideways scroll, the
//! accessibility basics, screenshots in target/screenshots/).
//!
//! Chromium comes from .ci/setup.d/chromium.sh. Without it this test fails
//! (it never skips).

mod browser;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use browser::*;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

fn out(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn ok(cmd: &mut Command) -> String {
    let o = out(cmd);
    assert!(
        o.status.success(),
        "{cmd:?}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Makes a key and returns (key file, base64 public key).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(format!("{name}.key"));
    let text = ok(warden().args(["feed", "keygen", "--out"]).arg(&path));
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("public key:"))
        .unwrap()
        .trim()
        .to_string();
    (path, public)
}

fn submit(server: &str, file: &Path, key: Option<&Path>) -> Output {
    let mut c = warden();
    c.args(["feed", "submit"])
        .arg(file)
        .args(["--server", server]);
    if let Some(k) = key {
        c.arg("--key").arg(k);
    }
    out(&mut c)
}

#[test]
fn registry_pages_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (vendor, vendor_pub) = keygen(d, "vendor");
    let (operator, operator_pub) = keygen(d, "operator");
    let (tester, tester_pub) = keygen(d, "tester");
    let (stranger, _) = keygen(d, "stranger");
    let config = d.join("feed-server.toml");
    std::fs::write(
        &config,
        format!(
            "db = \"sqlite:{db}\"\nsecret = \"{secret}\"\n\n\
             [[curators.operators]]\nname = \"ops\"\nkey = \"{operator_pub}\"\n\n\
             [[curators.vendors]]\nname = \"northwind\"\nkey = \"{vendor_pub}\"\nprefixes = []\nnames = [\"Northwind Optics\"]\n\n\
             [[curators.testers]]\nname = \"fjord-lab\"\nkey = \"{tester_pub}\"\n",
            db = d.join("feed.db").display(),
            secret = d.join("server.secret").display(),
        ),
    )
    .unwrap();
    let mut child = warden()
        .args(["feed", "serve", "--config"])
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let _server = Kill(child);
    let line = wait_for_line(&rx, "the feed server", |l| l.contains("serving on http://"));
    let server = line
        .split("serving on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    std::thread::spawn(move || while rx.recv().is_ok() {});

    // The vendor publishes its model; the same file again changes nothing.
    let good = repo("models/good-camera.yaml");
    let o = submit(&server, &good, Some(&vendor));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.starts_with("published:"), "{text}");
    let page = format!("{server}/devices/northwind-optics/nw-cam-2");
    assert!(text.contains(&format!("page: {page}")), "{text}");
    let o = submit(&server, &good, Some(&vendor));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("already published"));

    // A key the server does not know, and a vendor's key on another vendor's model.
    let poor = repo("models/poor-camera.yaml");
    for key in [&stranger, &vendor] {
        let o = submit(&server, &poor, Some(key));
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("the registry refused it (40"), "{err}");
    }
    // The operator publishes the poor camera's model for its vendor.
    assert!(submit(&server, &poor, Some(&operator)).status.success());

    // The tester signs the negative report with `warden report sign`, then submits the envelope.
    let negative = repo("reports/good-camera-2026-11-negative.yaml");
    let signed = d.join("negative.dsse.json");
    ok(warden()
        .args(["report", "sign"])
        .arg(&negative)
        .arg("--key")
        .arg(&tester)
        .arg("--out")
        .arg(&signed));
    let o = submit(&server, &signed, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let findings = repo("reports/poor-camera-2026-11-findings.yaml");
    let o = submit(&server, &findings, Some(&tester));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The pages, as a phone shows them.
    let mut b = Browser::launch();
    b.size(PHONE);
    b.goto(&format!("{server}/devices"));
    let index = b.text("main");
    assert!(index.contains("Northwind Optics NW-Cam 2"), "{index}");
    assert!(index.contains("Shenlan Vision SV-IPC 720"), "{index}");
    b.assert_fits("device index");
    b.assert_accessible("device index");

    b.goto(&page);
    let text = b.text("main");
    for needle in [
        "Not listed in the feed",
        "Meets the baseline check",
        "Tested: nothing found in scope",
        "Fjord Security Lab",
    ] {
        assert!(text.contains(needle), "missing {needle:?}:\n{text}");
    }
    b.assert_fits("device page");
    b.assert_accessible("device page");
    b.screenshot("registry-good-camera-phone.png");

    b.goto(&format!("{server}/devices/shenlan-vision/sv-ipc-720"));
    let text = b.text("main");
    assert!(text.contains("baseline rule(s) with"), "{text}");
    assert!(text.contains("finding(s)"), "{text}");
    assert!(!text.contains("Tested: nothing found"), "{text}");
    b.assert_fits("poor camera page");
    b.screenshot("registry-poor-camera-phone.png");

    // The consumer page of the published model, served by the registry.
    b.goto(&format!("{page}/threat-model"));
    let text = b.text("body");
    assert!(text.contains("NW-Cam 2"), "{text}");
    b.assert_fits("threat model page");
    let figures = b.figures();
    assert_eq!(figures["resources"], serde_json::json!([]), "{figures}");
    println!("registry pages: {figures}");
}
