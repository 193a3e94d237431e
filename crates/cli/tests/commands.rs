//! The `warden` binary end to end: simulate a labelled capture, analyze it,
//! evaluate it, and the demo, as a user runs them.

use std::path::Path;
use std::process::{Command, Output};

fn warden(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .output()
        .expect("run warden");
    assert!(
        out.status.success(),
        "warden {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn simulate(dir: &Path, scenario: &str, seed: u64) -> String {
    let pcap = dir.join(format!("{scenario}-{seed}.pcap"));
    let pcap = pcap.to_str().unwrap().to_string();
    warden(&[
        "simulate",
        "-o",
        &pcap,
        "--scenario",
        scenario,
        "--seed",
        &seed.to_string(),
        "--duration",
        "240",
        "--max-frames",
        "300000",
    ]);
    pcap
}

#[test]
fn analyze_json_finds_the_labelled_attackers() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = simulate(dir.path(), "attack-scan", 3);
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{pcap}.labels.json")).unwrap())
            .unwrap();
    let out = warden(&["analyze", "--json", &pcap]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let devices = report["devices"].as_array().unwrap();
    for d in labels["devices"].as_array().unwrap() {
        let found = devices
            .iter()
            .find(|r| r["mac"] == d["mac"])
            .unwrap_or_else(|| panic!("{} not in the report", d["mac"]));
        let kinds: Vec<&str> = found["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["kind"].as_str().unwrap())
            .collect();
        // What warden would have done about it (the default policy
        // quarantines scanners; nothing happens to the others).
        let actions: Vec<&str> = report["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["device"] == d["mac"])
            .map(|x| x["action"].as_str().unwrap())
            .collect();
        if d["label"] == "infected" {
            assert!(kinds.contains(&"scan"), "{}: {kinds:?}", d["mac"]);
            assert_eq!(actions, ["quarantine"], "{}", d["mac"]);
        } else {
            assert!(kinds.is_empty(), "{}: {kinds:?}", d["mac"]);
            assert!(actions.is_empty(), "{}: {actions:?}", d["mac"]);
        }
    }
}

#[test]
fn evaluate_scores_labelled_captures() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulate(dir.path(), "attack-brute-force", 2);
    let b = simulate(dir.path(), "benign", 2);
    let out = warden(&["evaluate", "--json", &a, &b]);
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["captures"], 2);
    let bf = &e["per_kind"]["brute-force"];
    assert!(bf["behaviours"].as_u64().unwrap() >= 1);
    assert_eq!(bf["behaviours"], bf["detected"]);
    assert_eq!(e["false_positives_per_benign_device"], 0.0);
    // Without labels beside it, a capture cannot be evaluated.
    std::fs::remove_file(format!("{b}.labels.json")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["evaluate", &b])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("labels.json"));
}

#[test]
fn demo_shows_alerts_and_the_truth_beside_them() {
    let out = warden(&["demo", "--duration", "240"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("What really happened"), "{text}");
    assert!(text.contains("detected"), "{text}");
    assert!(text.contains("it is probably"), "{text}");
    assert!(!text.contains("NOT detected"), "{text}");
}

#[test]
fn simulate_is_deterministic_and_refuses_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let a = simulate(dir.path(), "household", 9);
    let first = std::fs::read(&a).unwrap();
    let b = simulate(dir.path(), "household", 9);
    assert_eq!(first, std::fs::read(&b).unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["simulate", "-o", "/dev/null", "--scenario", "nonsense"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario"));
}

/// The live guard's decision path, fed from a capture: alerts become
/// decisions, stored in SQLite, printed as nftables (dry run).
#[test]
fn run_replay_decides_stores_and_prints_rules() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = simulate(dir.path(), "attack-scan", 3);
    let db = dir.path().join("warden.db");
    let db = db.to_str().unwrap();
    let out = warden(&["run", "--replay", &pcap, "--dry-run", "--db", db]);
    let script = String::from_utf8(out.stdout).unwrap();
    let log = String::from_utf8(out.stderr).unwrap();
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{pcap}.labels.json")).unwrap())
            .unwrap();
    for d in labels["devices"].as_array().unwrap() {
        let mac = d["mac"].as_str().unwrap();
        let quarantined = script
            .lines()
            .any(|l| l.contains(mac) && l.contains("quarantine"));
        assert_eq!(quarantined, d["label"] == "infected", "{mac}\n{script}");
    }
    assert!(log.contains("warden cut it off from the network"), "{log}");
    // The owner's view of it.
    let devices = labels["devices"].as_array().unwrap();
    let infected = devices.iter().find(|d| d["label"] == "infected").unwrap()["mac"]
        .as_str()
        .unwrap();
    let benign = devices.iter().find(|d| d["label"] == "benign").unwrap()["mac"]
        .as_str()
        .unwrap();
    let list = String::from_utf8(warden(&["device", "list", "--db", db]).stdout).unwrap();
    let line = list.lines().find(|l| l.starts_with(infected)).unwrap();
    assert!(line.contains("quarantine"), "{list}");
    // Every device that sent traffic is listed, not only those that alerted.
    for d in devices {
        let mac = d["mac"].as_str().unwrap();
        assert!(
            list.lines().any(|l| l.starts_with(mac)),
            "{mac} missing:\n{list}"
        );
    }
    // The owner's word wins over automation: quarantine a benign device,
    // trust the infected one; the guard carries it out on its next tick.
    warden(&["device", "quarantine", benign, "--db", db]);
    warden(&["device", "trust", infected, "--db", db]);
    let out = warden(&["run", "--replay", &pcap, "--dry-run", "--db", db]);
    let script = String::from_utf8(out.stdout).unwrap();
    let log = String::from_utf8(out.stderr).unwrap();
    assert!(
        log.contains(&format!("the owner asked to quarantine {benign}")),
        "{log}"
    );
    let last = script.rsplit("# nftables for").next().unwrap();
    assert!(
        last.lines()
            .any(|l| l.contains(benign) && l.contains("quarantine")),
        "{last}"
    );
    assert!(!last.contains(infected), "{last}");
    let shown: serde_json::Value =
        serde_json::from_slice(&warden(&["device", "show", benign, "--db", db]).stdout).unwrap();
    assert!(shown["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["action"] == "quarantine" && d["source"] == "owner"));
}

/// Real nftables in a namespace of the test's own: `warden run` installs
/// the quarantine, `warden uninstall-rules` removes every trace.
#[test]
fn run_replay_applies_nftables_and_uninstall_removes_them() {
    assert!(
        Command::new("id").arg("-u").output().unwrap().stdout == b"0\n",
        "this test needs root (CI runs it as root): it creates a network namespace"
    );
    let ns = format!("wcli{}", std::process::id());
    let ok = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(Command::new("ip").args(["netns", "add", &ns]));
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _cleanup = Cleanup(ns.clone());
    let dir = tempfile::tempdir().unwrap();
    let pcap = simulate(dir.path(), "attack-scan", 3);
    let db = dir.path().join("warden.db");
    let bin = env!("CARGO_BIN_EXE_warden");
    ok(Command::new("ip")
        .args(["netns", "exec", &ns, bin, "run", "--replay", &pcap, "--db"])
        .arg(&db));
    let table = ok(Command::new("ip").args([
        "netns", "exec", &ns, "nft", "list", "table", "inet", "warden",
    ]));
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{pcap}.labels.json")).unwrap())
            .unwrap();
    for d in labels["devices"].as_array().unwrap() {
        let mac = d["mac"].as_str().unwrap();
        assert_eq!(
            table.contains(mac),
            d["label"] == "infected",
            "{mac}\n{table}"
        );
    }
    ok(Command::new("ip").args(["netns", "exec", &ns, bin, "uninstall-rules"]));
    let tables = ok(Command::new("ip").args(["netns", "exec", &ns, "nft", "list", "tables"]));
    assert!(!tables.contains("warden"), "{tables}");
    // Twice is fine.
    ok(Command::new("ip").args(["netns", "exec", &ns, bin, "uninstall-rules"]));
}

/// A minimal HTTP endpoint on loopback: answers 500 to the first request
/// and 200 after, and hands over every body it got.
fn webhook_endpoint() -> (String, std::sync::mpsc::Receiver<(u16, String)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).ok();
            let status = if n == 0 { 500 } else { 200 };
            let reply =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            conn.write_all(reply.as_bytes()).ok();
            if tx
                .send((status, String::from_utf8_lossy(&body).into_owned()))
                .is_err()
            {
                break;
            }
        }
    });
    (url, rx)
}

#[test]
fn run_sends_each_decision_to_the_webhook_and_retries() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = simulate(dir.path(), "attack-scan", 3);
    let db = dir.path().join("warden.db");
    let (url, rx) = webhook_endpoint();
    let out = warden(&[
        "run",
        "--replay",
        &pcap,
        "--dry-run",
        "--db",
        db.to_str().unwrap(),
        "--webhook",
        &url,
    ]);
    let log = String::from_utf8(out.stderr).unwrap();
    let got: Vec<(u16, String)> = rx.try_iter().collect();
    assert_eq!(got[0].0, 500, "the first attempt is refused");
    let delivered: Vec<serde_json::Value> = got
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{pcap}.labels.json")).unwrap())
            .unwrap();
    for d in labels["devices"].as_array().unwrap() {
        let told = delivered.iter().any(|n| {
            n["device"] == d["mac"]
                && n["source"] == "warden"
                && n["text"].as_str().unwrap().contains("What to do")
        });
        assert_eq!(
            told,
            d["label"] == "infected",
            "{}: {delivered:?}",
            d["mac"]
        );
    }
    // Every decision's message arrived once the retry went through.
    assert!(log.contains("webhook attempt 1 of 5 failed"), "{log}");
    assert!(
        log.contains(&format!(
            "webhook: {} delivered, 0 given up",
            delivered.len()
        )),
        "{log}"
    );
}

#[test]
fn an_incident_that_goes_on_is_pushed_once_and_logged_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = simulate(dir.path(), "attack-flood", 4);
    let db = dir.path().join("warden.db");
    // Short lifetimes, so that the flood outlasts half of one and its
    // decisions are extended during the capture.
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        "[policy.flood]\nlifetime_s = 60\n[policy.scan]\nlifetime_s = 60\n",
    )
    .unwrap();
    let (url, rx) = webhook_endpoint();
    let out = warden(&[
        "run",
        "--replay",
        &pcap,
        "--dry-run",
        "--db",
        db.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--webhook",
        &url,
    ]);
    let log = String::from_utf8(out.stderr).unwrap();
    assert!(
        log.contains("keeps misbehaving"),
        "no decision was extended, the test proves nothing: {log}"
    );
    let delivered: Vec<serde_json::Value> = rx
        .try_iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| serde_json::from_str(&b).unwrap())
        .collect();
    assert!(!delivered.is_empty());
    for n in &delivered {
        assert!(
            !n["text"].as_str().unwrap().contains("keeps misbehaving"),
            "an ongoing incident was pushed again: {n}"
        );
    }
}

#[test]
fn run_pushes_to_ntfy_as_plain_text_with_a_title() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/home-warden", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<(String, Vec<String>, String)>();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).ok();
            let (mut headers, mut len) = (Vec::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push(line.trim_end().to_owned());
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).ok();
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .ok();
            let body = String::from_utf8_lossy(&body).into_owned();
            if tx.send((request, headers, body)).is_err() {
                break;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let pcap = simulate(dir.path(), "attack-scan", 3);
    let out = warden(&[
        "run",
        "--replay",
        &pcap,
        "--dry-run",
        "--db",
        dir.path().join("w.db").to_str().unwrap(),
        "--ntfy",
        &url,
    ]);
    let log = String::from_utf8(out.stderr).unwrap();
    let got: Vec<_> = rx.try_iter().collect();
    assert!(!got.is_empty(), "nothing pushed: {log}");
    for (request, headers, body) in &got {
        assert!(request.starts_with("POST /home-warden "), "{request}");
        let title = headers
            .iter()
            .find(|h| h.to_ascii_lowercase().starts_with("title:"))
            .unwrap_or_else(|| panic!("no Title header: {headers:?}"));
        assert!(title.contains("warden: device "), "{title}");
        // The sentence itself, for a person, not JSON.
        assert!(!body.trim_start().starts_with('{'), "{body}");
        assert!(body.contains("warden"), "{body}");
    }
    assert!(
        log.contains(&format!("ntfy: {} delivered, 0 given up", got.len())),
        "{log}"
    );
}

/// `warden dashboard` on its own takes the guard's language, TLS and models
/// settings, and refuses ones it cannot honour before it listens.
#[test]
fn dashboard_refuses_an_unknown_language_or_tls_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    drop(warden_state::Store::open(&db).unwrap());
    let db = db.to_str().unwrap();
    for (flag, value, says) in [
        ("--language", "xx", "xx"),
        ("--tls", "sometimes", "sometimes"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args([
                "dashboard",
                "--db",
                db,
                "--listen",
                "127.0.0.1:0",
                flag,
                value,
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}
