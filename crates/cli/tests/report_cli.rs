//! `warden report new|check|sign|verify|export|import-csaf` and
//! `warden model render --reports` as testers and vendors run them: exit
//! status 0 fine, 1 the report does not fit / the envelope is refused, 2
//! unusable input; the consumer page lists reports in headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const GOOD: &str = "reports/good-camera-2026-11-negative.yaml";
const POOR: &str = "reports/poor-camera-2026-11-findings.yaml";
const GOOD_MODEL: &str = "models/good-camera.yaml";
const POOR_MODEL: &str = "models/poor-camera.yaml";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("run warden")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A key pair made by `warden feed keygen`: (key file, public key base64).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.key"));
    let out = warden(&["feed", "keygen", "--out", s(&key)]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let public = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("public key:"))
        .expect("keygen prints the public key")
        .trim()
        .to_string();
    (key, public)
}

#[test]
fn new_writes_a_skeleton_that_checks_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.yaml");
    let o = warden(&[
        "report",
        "new",
        "--model",
        GOOD_MODEL,
        "--out",
        s(&out),
        "--date",
        "2026-11-25",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let sha = warden_feed::sha256_hex(&std::fs::read(repo().join(GOOD_MODEL)).unwrap());
    assert!(text.contains(&sha), "the model hash is filled in");
    assert_eq!(
        text.matches("result: not-tested").count(),
        12,
        "6 threats + 6 entry points"
    );
    let o = warden(&["report", "check", s(&out), "--model", GOOD_MODEL]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("TODO placeholder"));
    // An existing file is left alone.
    let o = warden(&["report", "new", "--model", GOOD_MODEL, "--out", s(&out)]);
    assert_eq!(code(&o), 2);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

#[test]
fn check_exit_status_follows_the_fit() {
    for (r, m) in [(GOOD, GOOD_MODEL), (POOR, POOR_MODEL)] {
        let o = warden(&["report", "check", r, "--model", m]);
        assert_eq!(code(&o), 0, "{r}: {}", stdout(&o));
    }
    // Against another device's model: errors, exit 1.
    let o = warden(&["report", "check", GOOD, "--model", POOR_MODEL]);
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("changed since the test"),
        "{}",
        stdout(&o)
    );
    // A changed model file: exit 1, and the JSON says so.
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("m.yaml");
    let mut bytes = std::fs::read(repo().join(GOOD_MODEL)).unwrap();
    bytes.extend_from_slice(b"# edited\n");
    std::fs::write(&changed, bytes).unwrap();
    let o = warden(&[
        "report",
        "check",
        GOOD,
        "--model",
        s(&changed),
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["check"]["model_changed"], true);
    assert_eq!(v["errors"], 1);
    // Unusable input: exit 2 and the path named.
    let junk = dir.path().join("junk.yaml");
    std::fs::write(&junk, "format_version: 1\ntester: {name: x}\n").unwrap();
    let o = warden(&["report", "check", s(&junk), "--model", GOOD_MODEL]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("tester"), "{}", stderr(&o));
    let o = warden(&["report", "check", GOOD, "--model", "no/such/model.yaml"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn check_json_has_coverage_and_scope_marks() {
    let o = warden(&[
        "report", "check", POOR, "--model", POOR_MODEL, "--format", "json",
    ]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let c = &v["check"];
    assert_eq!(c["threats"]["total"], 2);
    assert_eq!(c["threats"]["with_findings"], 2);
    let scopes: Vec<&str> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes.len(), 6);
    assert_eq!(
        scopes
            .iter()
            .filter(|s| **s == "out-of-declared-scope")
            .count(),
        3
    );
}

#[test]
fn sign_and_verify_with_a_pinned_signer() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "lab");
    let (_, other) = keygen(dir.path(), "other");
    let env = dir.path().join("good.dsse.json");
    let o = warden(&["report", "sign", GOOD, "--key", s(&key), "--out", s(&env)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_slice(&std::fs::read(&env).unwrap()).unwrap();
    assert_eq!(e["payloadType"], "application/vnd.warden.test-report+json");

    let o = warden(&["report", "verify", s(&env), "--signer", &public]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("verified"));
    // The key file's keygen output works as --signer too.
    let pubfile = dir.path().join("lab.pub");
    std::fs::write(&pubfile, format!("public key: {public}\n")).unwrap();
    let out_report = dir.path().join("verified.json");
    let o = warden(&[
        "report",
        "verify",
        s(&env),
        "--signer",
        s(&pubfile),
        "--model",
        GOOD_MODEL,
        "--out-report",
        s(&out_report),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("6 of 6 tested"), "{}", stdout(&o));
    let o = warden(&["report", "check", s(&out_report), "--model", GOOD_MODEL]);
    assert_eq!(code(&o), 0, "the verified report is written out intact");

    // Wrong signer: refused, exit 1.
    let o = warden(&["report", "verify", s(&env), "--signer", &other]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("no valid signature"), "{}", stderr(&o));
    // A payload byte flipped, a signature changed: refused.
    for field in ["payload", "sig"] {
        let mut t = e.clone();
        let slot = if field == "payload" {
            &mut t["payload"]
        } else {
            &mut t["signatures"][0]["sig"]
        };
        let b64 = slot.as_str().unwrap().to_string();
        use base64::Engine as _;
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .unwrap();
        raw[20] ^= 0x04;
        *slot = base64::engine::general_purpose::STANDARD
            .encode(&raw)
            .into();
        let tampered = dir.path().join(format!("tampered-{field}.json"));
        std::fs::write(&tampered, t.to_string()).unwrap();
        let o = warden(&["report", "verify", s(&tampered), "--signer", &public]);
        assert_eq!(code(&o), 1, "{field}: {}", stderr(&o));
    }
    // Hostile input: a clear refusal, never a panic.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, b"{\"payloadType\":1}\xff").unwrap();
    let o = warden(&["report", "verify", s(&junk), "--signer", &public]);
    assert_eq!(code(&o), 1);
    assert!(!stderr(&o).contains("panicked"));
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 3 << 20]).unwrap();
    let o = warden(&["report", "verify", s(&big), "--signer", &public]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("larger than"), "{}", stderr(&o));
    // A --signer that is no key: unusable, exit 2.
    let o = warden(&["report", "verify", s(&env), "--signer", "not-a-key"]);
    assert_eq!(code(&o), 2);
    // A signed envelope is not a plain report.
    let o = warden(&["report", "check", s(&env), "--model", GOOD_MODEL]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("verify"), "{}", stderr(&o));
}

#[test]
fn export_csaf_and_sarif() {
    let o = warden(&[
        "report", "export", POOR, "--format", "csaf", "--model", POOR_MODEL,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let csaf: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(csaf["document"]["category"], "csaf_vex");
    assert_eq!(csaf["document"]["tracking"]["id"], "fjordlab-2026-032");
    assert_eq!(csaf["vulnerabilities"].as_array().unwrap().len(), 6);

    let o = warden(&[
        "report", "export", GOOD, "--format", "sarif", "--model", GOOD_MODEL,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let sarif: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let kinds: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 12);
    assert_eq!(kinds.iter().filter(|k| **k == "pass").count(), 11);
    assert_eq!(kinds.iter().filter(|k| **k == "review").count(), 1);
    assert_eq!(
        sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
            ["uri"],
        GOOD
    );
}

#[test]
fn import_csaf_gives_a_report_skeleton() {
    let dir = tempfile::tempdir().unwrap();
    let o = warden(&[
        "report",
        "import-csaf",
        "crates/report/tests/csaf-examples/cisco-sa-20180328-smi2.json",
        "--model",
        "models/hub.yaml",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let path = dir.path().join("imported.yaml");
    std::fs::write(&path, stdout(&o)).unwrap();
    assert!(stdout(&o).contains("CVE-2018-0171"));
    let o = warden(&[
        "report",
        "check",
        s(&path),
        "--model",
        "models/hub.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["check"]["findings"][0]["scope"], "out-of-declared-scope");
    // Not CSAF: exit 2.
    let o = warden(&["report", "import-csaf", GOOD_MODEL]);
    assert_eq!(code(&o), 2);
}

/// Renders the good camera's page with a signed negative report, an
/// unsigned report with findings (for another device: skipped) and returns
/// the page.
fn render_with_reports(dir: &Path) -> (PathBuf, String) {
    let (key, public) = keygen(dir, "lab");
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let o = warden(&[
        "report",
        "sign",
        GOOD,
        "--key",
        s(&key),
        "--out",
        s(&reports.join("good.json")),
    ]);
    assert_eq!(code(&o), 0);
    std::fs::copy(repo().join(POOR), reports.join("poor.yaml")).unwrap();
    // An unsigned report for the good camera with a finding.
    let unsigned = std::fs::read_to_string(repo().join(GOOD))
        .unwrap()
        .replace(
            "  - threat: T6\n    result: not-tested\n    reason: the model declares radio jamming out of scope and so does this test.\n",
            "  - threat: T6\n    result: finding\n    finding:\n      title: Jamming <b>stops</b> recording silently\n      severity: low\n      description: d\n      evidence: e\n",
        );
    assert!(unsigned.contains("Jamming"));
    std::fs::write(reports.join("unsigned.yaml"), unsigned).unwrap();
    let out = dir.join("page");
    let o = warden(&[
        "model",
        "render",
        GOOD_MODEL,
        "--out",
        s(&out),
        "--today",
        "2026-11-25",
        "--reports",
        s(&reports),
        "--signer",
        &format!("Fjord Security Lab:{public}"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("not this model"), "{}", stderr(&o));
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    (out, page)
}

#[test]
fn render_lists_reports_negative_and_positive() {
    let dir = tempfile::tempdir().unwrap();
    let (_, page) = render_with_reports(dir.path());
    let section = &page[page.find("<section id=\"tests\">").expect("tests section")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert_eq!(section.matches("<article").count(), 2, "{section}");
    assert!(section.contains("Nothing found."));
    assert!(section.contains("signed</span> by Fjord Security Lab (key "));
    assert!(section.contains("unsigned"));
    // The finding under a threat the model puts out of scope: shown and marked.
    assert!(section.contains("Jamming &lt;b&gt;stops&lt;/b&gt; recording silently"));
    assert!(section.contains("outside what the maker declared in scope"));
    assert!(
        !section.contains("Shenlan"),
        "the other device's report is not shown"
    );
    // A tampered envelope is an error, not a silently missing report.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("reports/good.json")).unwrap())
            .unwrap();
    e["signatures"][0]["sig"] = "AAAA".into();
    std::fs::write(bad.join("good.json"), e.to_string()).unwrap();
    let (_, public) = keygen(dir.path(), "lab");
    let o = warden(&[
        "model",
        "render",
        GOOD_MODEL,
        "--out",
        s(&dir.path().join("p2")),
        "--reports",
        s(&bad),
        "--signer",
        &public,
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("refused"), "{}", stderr(&o));
}

#[test]
fn render_with_reports_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = render_with_reports(dir.path());
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[String]| {
        let o = Command::new(warden_netlab::chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("start chromium");
        assert!(
            o.status.success(),
            "chromium: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let url = format!(
        "file://{}",
        out.join("index.html").canonicalize().unwrap().display()
    );
    let dom = run(&["--dump-dom".into(), url.clone()]);
    let tests = &dom[dom
        .find("<section id=\"tests\">")
        .expect("rendered tests section")..];
    assert_eq!(
        tests[..tests.find("</section>").unwrap()]
            .matches("<article")
            .count(),
        2
    );
    // The hostile title stays text: no <b> element appears in the DOM.
    assert!(!tests.contains("<b>stops</b>"));
    assert!(!dom.contains("<script"));
    let shots = warden_netlab::screenshots_dir(env!("CARGO_TARGET_TMPDIR")).join("report-page");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("good-camera-with-reports.png");
    let _ = std::fs::remove_file(&shot);
    run(&[
        "--window-size=390,5600".into(),
        format!("--screenshot={}", shot.display()),
        url,
    ]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "screenshot looks blank ({} bytes)",
        png.len()
    );
}
