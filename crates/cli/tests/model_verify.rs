//! `warden model verify`: a real capture against models of its device.

use std::path::{Path, PathBuf};
use std::process::Command;

fn capture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap")
}

fn verify(model: &str, extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.yaml");
    std::fs::write(&path, model).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["model", "verify"])
        .arg(&path)
        .arg("--capture")
        .arg(capture())
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

const MODEL: &str = "format_version: 1
identity:
  vendor: D-Link
  model: DCS-935L
network:
  flows:
    - {direction: from_device, protocol: tcp, port: 443, dns_name: signal.mydlink.com, purpose: cloud}
";

#[test]
fn finds_the_device_by_its_model_and_lists_what_the_model_leaves_out() {
    let (code, out) = verify(MODEL, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("device b0:c5:54:25:5b:0e"), "{out}");
    assert!(
        out.contains("tcp from 10.10.10.28, device port 80"),
        "{out}"
    );
    assert!(out.contains("tcp to signal.mydlink.com port 443:"), "{out}");

    let (code, json) = verify(MODEL, &["--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(!v["undeclared"].as_array().unwrap().is_empty());
    assert!(v["declared"][0]["packets"].as_u64().unwrap() > 0);
}

#[test]
fn an_unusable_model_or_an_unknown_device_is_a_clear_error() {
    let (code, out) = verify("format_version: 1\nidentity: {vendor: X}\n", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not a usable threat model"), "{out}");

    let other = MODEL
        .replace("D-Link", "Nobody")
        .replace("DCS-935L", "Nothing");
    let (code, out) = verify(&other, &[]);
    assert_ne!(code, 0);
    assert!(out.contains("--device"), "{out}");
    let (code, out) = verify(&other, &["--device", "b0:c5:54:25:5b:0e"]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn mud_export_and_import_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let mud = dir.path().join("camera.mud.json");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["model", "mud"])
        .arg(root.join("models/good-camera.yaml"))
        .args(["--url", "https://mud.example.com/camera", "--out"])
        .arg(&mud)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&mud).unwrap()).unwrap();
    assert_eq!(
        json["ietf-mud:mud"]["mud-url"],
        "https://mud.example.com/camera"
    );

    // Back into a model skeleton that the model tools accept.
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["model", "import-mud"])
        .arg(&mud)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let skeleton = dir.path().join("skeleton.yaml");
    std::fs::write(&skeleton, &out.stdout).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("relay.northwind-optics.example"), "{text}");
    let lint = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["model", "lint"])
        .arg(&skeleton)
        .output()
        .unwrap();
    assert_ne!(
        lint.status.code(),
        Some(2),
        "the skeleton is not a usable model"
    );

    // A file that is not MUD: a clear error, exit 2.
    std::fs::write(dir.path().join("x.json"), "{}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["model", "import-mud"])
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `ietf-mud:mud` container"));
}
