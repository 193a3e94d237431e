//! `warden model lint|render|schema` as a vendor's CI runs them: exit status
//! 0 without errors, 1 with errors, 2 for unusable input; the three output
//! formats; the committed schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

#[test]
fn lint_exit_status_follows_the_findings() {
    for (model, expected) in [
        ("models/good-camera.yaml", 0),
        ("models/smart-plug.yaml", 0),
        ("models/hub.yaml", 1),
        ("models/poor-camera.yaml", 1),
    ] {
        let out = warden(&["model", "lint", model, "--today", "2026-11-25"]);
        assert_eq!(
            code(&out),
            expected,
            "{model}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.lines()
                .last()
                .unwrap()
                .starts_with(&format!("{model}: ")),
            "{text}"
        );
    }
}

#[test]
fn unusable_input_exits_2_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "format_version: 1\nidentity:\n  vendor: A\n  model: B\n  colour: red\n",
    )
    .unwrap();
    let out = warden(&["model", "lint", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("identity.colour (line 5): unknown field `colour`"),
        "{err}"
    );

    let missing = dir.path().join("missing.yaml");
    assert_eq!(
        code(&warden(&["model", "lint", missing.to_str().unwrap()])),
        2
    );

    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; warden_model::MAX_INPUT_BYTES + 10]).unwrap();
    let out = warden(&["model", "lint", big.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most"));

    let out = warden(&["model", "lint", "models/hub.yaml", "--today", "tomorrow"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn lint_formats_json_and_sarif() {
    let out = warden(&[
        "model",
        "lint",
        "models/poor-camera.yaml",
        "--format",
        "json",
        "--today",
        "2026-11-25",
    ]);
    assert_eq!(code(&out), 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["summary"]["errors"].as_u64().unwrap() > 10);
    assert_eq!(v["file"], "models/poor-camera.yaml");

    let out = warden(&[
        "model",
        "lint",
        "models/poor-camera.yaml",
        "--format",
        "sarif",
        "--today",
        "2026-11-25",
    ]);
    assert_eq!(code(&out), 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len() as u64, v_count(&v));
    assert!(results.iter().all(
        |r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            == "models/poor-camera.yaml"
    ));

    // A clean model gives SARIF with no error-level results and exit 0.
    let out = warden(&[
        "model",
        "lint",
        "models/good-camera.yaml",
        "--format",
        "sarif",
        "--today",
        "2026-11-25",
    ]);
    assert_eq!(code(&out), 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["level"] != "error"));
}

fn v_count(v: &serde_json::Value) -> u64 {
    v["runs"][0]["results"].as_array().unwrap().len() as u64
}

#[test]
fn json_models_lint_like_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(repo().join("models/hub.yaml")).unwrap();
    let json = dir.path().join("hub.json");
    let loaded = warden_model::load(yaml.as_bytes()).unwrap();
    std::fs::write(&json, warden_model::to_json(&loaded.model)).unwrap();
    let a = warden(&[
        "model",
        "lint",
        "models/hub.yaml",
        "--format",
        "json",
        "--today",
        "2026-11-25",
    ]);
    let b = warden(&[
        "model",
        "lint",
        json.to_str().unwrap(),
        "--format",
        "json",
        "--today",
        "2026-11-25",
    ]);
    assert_eq!(code(&a), code(&b));
    let fa: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let fb: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    let strip = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["rule"].to_string(), f["path"].to_string()))
            .collect()
    };
    assert_eq!(strip(&fa), strip(&fb));
}

#[test]
fn render_writes_page_and_label() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(&[
        "model",
        "render",
        "models/smart-plug.yaml",
        "--out",
        dir.path().to_str().unwrap(),
        "--today",
        "2026-11-25",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    assert!(page.contains("<h1>Brightwell Home BW-Plug Mini</h1>"));
    let label = std::fs::read_to_string(dir.path().join("label.svg")).unwrap();
    assert!(label.contains("until 2029-06-30"));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = warden(&["model", "schema"]);
    assert_eq!(code(&out), 0);
    let committed = std::fs::read(repo().join("docs/schema/threat-model-v1.json")).unwrap();
    assert!(
        out.stdout == committed,
        "docs/schema/threat-model-v1.json differs from `warden model schema`"
    );
}

#[test]
fn text_output_carries_no_terminal_escapes_from_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("evil.yaml");
    std::fs::write(
        &model,
        "format_version: 1\nidentity: {vendor: \"Evil\\e[2J\", model: \"X\\r\"}\nnetwork:\n  flows:\n    - {direction: from_device, protocol: tcp, port: 80, dns_name: a.example, encrypted: false, purpose: \"\\e]0;pwned\\a\"}\n",
    )
    .unwrap();
    let out = warden(&["model", "lint", model.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("a.example"), "{text}");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    let bad = dir.path().join("evil2.yaml");
    std::fs::write(
        &bad,
        "format_version: 1\nidentity: {vendor: A, model: B, \"\\e[31mred\": 1}\n",
    )
    .unwrap();
    let out = warden(&["model", "lint", bad.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown field"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn several_models_in_one_run() {
    let today = ["--today", "2026-11-25"];
    let run = |args: &[&str]| warden(&[&["model", "lint"], args, &today].concat());
    assert_eq!(
        code(&run(&["models/good-camera.yaml", "models/smart-plug.yaml"])),
        0
    );
    let out = run(&["models/good-camera.yaml", "models/hub.yaml"]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("models/good-camera.yaml: Northwind Optics NW-Cam 2: 0 errors"));
    assert!(text.contains("models/hub.yaml: Corvid Systems Corvid Hub 3: 1 error"));

    // An unusable model is reported, the others are still linted, and the
    // exit status says the input was unusable.
    let out = run(&[
        "models/good-camera.yaml",
        "missing.yaml",
        "models/hub.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["models/good-camera.yaml", "models/hub.yaml"]);

    let out = run(&[
        "models/poor-camera.yaml",
        "models/hub.yaml",
        "--format",
        "sarif",
    ]);
    assert_eq!(code(&out), 1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run0 = &v["runs"][0];
    assert_eq!(run0["artifacts"][1]["location"]["uri"], "models/hub.yaml");
    let hub_results: Vec<&serde_json::Value> = run0["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["index"] == 1)
        .collect();
    assert!(!hub_results.is_empty());
    assert!(hub_results.iter().all(
        |r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/hub.yaml"
    ));
    assert!(hub_results.iter().any(|r| r["ruleId"] == "TM018"));
}

// MUD file signatures (docs/profiles.md): real openssl cms signatures of the
// Luminaire MUD file, crates/profile/tests/mud/sig/README.md.

const SIGNED_MUD: &str = "crates/profile/tests/mud/Luminaire_150.json";
const SIG_DIR: &str = "crates/profile/tests/mud/sig";

fn sig_fixture(name: &str) -> String {
    format!("{SIG_DIR}/{name}")
}

/// The SPKI pin openssl computed for a fixture signer.
fn sig_pin(signer: &str) -> String {
    let pins = std::fs::read_to_string(repo().join(SIG_DIR).join("pins.txt")).unwrap();
    pins.lines()
        .find_map(|l| l.strip_prefix(signer)?.strip_prefix(' '))
        .unwrap()
        .to_owned()
}

#[test]
fn verify_mud_signature_with_certificate_or_pin() {
    for (sig, signer, key) in [
        ("luminaire.p256.p7s", "p256", "ECDSA P-256"),
        ("luminaire.p384.p7s", "p384", "ECDSA P-384"),
        ("luminaire.rsa2048.p7s", "rsa2048", "RSA-2048"),
    ] {
        for pinned in [sig_fixture(&format!("{signer}.pem")), sig_pin(signer)] {
            let out = warden(&[
                "model",
                "verify-mud-signature",
                SIGNED_MUD,
                &sig_fixture(sig),
                "--signer",
                &pinned,
            ]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(code(&out), 0, "{sig} {pinned}: {text}");
            assert!(text.contains("signature verified"), "{text}");
            assert!(text.contains(key), "{text}");
            assert!(text.contains(&sig_pin(signer)), "{text}");
        }
    }
}

#[test]
fn verify_mud_signature_refuses_wrong_signer_and_changed_file() {
    // Signed by another (valid) key than the pinned one.
    let out = warden(&[
        "model",
        "verify-mud-signature",
        SIGNED_MUD,
        &sig_fixture("luminaire.other.p7s"),
        "--signer",
        &sig_fixture("p256.pem"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("NOT verified"), "{text}");
    assert!(text.contains("not by the pinned signer"), "{text}");

    // One byte of the MUD file changed.
    let dir = tempfile::tempdir().unwrap();
    let mut mud = std::fs::read(repo().join(SIGNED_MUD)).unwrap();
    let at = mud.len() / 2;
    mud[at] ^= 0x20;
    let changed = dir.path().join("changed.json");
    std::fs::write(&changed, &mud).unwrap();
    let out = warden(&[
        "model",
        "verify-mud-signature",
        changed.to_str().unwrap(),
        &sig_fixture("luminaire.p256.p7s"),
        "--signer",
        &sig_pin("p256"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("not the one that was signed"), "{text}");
}

#[test]
fn verify_mud_signature_unusable_input_exits_2() {
    for signer in [
        "sha256:1234".to_owned(),
        sig_fixture("no-such-cert.pem"),
        sig_fixture("luminaire.p256.p7s"), // a signature, not a certificate
    ] {
        let out = warden(&[
            "model",
            "verify-mud-signature",
            SIGNED_MUD,
            &sig_fixture("luminaire.p256.p7s"),
            "--signer",
            &signer,
        ]);
        assert_eq!(code(&out), 2, "{signer}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--signer"),
            "{signer}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = warden(&[
        "model",
        "verify-mud-signature",
        SIGNED_MUD,
        &sig_fixture("no-such.p7s"),
        "--signer",
        &sig_pin("p256"),
    ]);
    assert_eq!(code(&out), 2);
}

#[test]
fn import_mud_with_a_signer_imports_only_verified_files() {
    let good = warden(&[
        "model",
        "import-mud",
        SIGNED_MUD,
        "--signature",
        &sig_fixture("luminaire.rsa2048.p7s"),
        "--signer",
        &sig_fixture("rsa2048.pem"),
    ]);
    assert_eq!(code(&good), 0, "{}", String::from_utf8_lossy(&good.stderr));
    assert!(String::from_utf8_lossy(&good.stderr).contains("signature verified"));
    // The same skeleton as an unsigned import.
    let plain = warden(&["model", "import-mud", SIGNED_MUD]);
    assert_eq!(code(&plain), 0);
    assert_eq!(good.stdout, plain.stdout);
    assert!(String::from_utf8_lossy(&good.stdout).contains("flows:"));

    let bad = warden(&[
        "model",
        "import-mud",
        SIGNED_MUD,
        "--signature",
        &sig_fixture("luminaire.other.p7s"),
        "--signer",
        &sig_pin("p256"),
    ]);
    assert_eq!(code(&bad), 2);
    assert!(bad.stdout.is_empty(), "nothing imported");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("not imported"), "{err}");
    assert!(err.contains("not by the pinned signer"), "{err}");

    // A signature without a signer (or the other way round) is a usage error:
    // a signature checked against nobody in particular proves nothing.
    for args in [
        vec![
            "--signature",
            "crates/profile/tests/mud/sig/luminaire.p256.p7s",
        ],
        vec!["--signer", "crates/profile/tests/mud/sig/p256.pem"],
    ] {
        let mut all = vec!["model", "import-mud", SIGNED_MUD];
        all.extend(args.iter());
        let out = warden(&all);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
