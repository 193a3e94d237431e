//! A device held to its network profile by the live guard, end to end, as
//! root, in network namespaces (the lab of guard_e2e): the owner maps the
//! device to a threat model; the flow it declares passes once the router's
//! resolver has answered the device; an address it never resolved and
//! another port of the allowed host are blocked, with a profile-violation
//! alert stored; a device without a profile is untouched. Times are printed
//! (`cargo test -p warden --test profile_e2e -- --nocapture`).

mod e2e;

use std::time::{Duration, Instant};

use e2e::*;

const MODEL: &str = "format_version: 1
identity:
  vendor: Acme
  model: Cam 1
network:
  flows:
    - {direction: from_device, protocol: tcp, port: 443, dns_name: update.example.test, purpose: firmware updates}
    - {direction: from_device, protocol: udp, port: 53, class: local_networks, purpose: DNS}
";

/// The profile's set (or chain) names the device: it is held to its profile.
fn held(lab: &Lab) -> bool {
    lab.nft_table("inet")
        .is_some_and(|t| t.contains("set profiled") && t.contains(DEV_MAC))
}

#[test]
fn a_device_is_held_to_its_profile_and_a_device_without_one_is_untouched() {
    let lab = Lab::new("prof");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warden.toml");
    // No threat models or MUD files from the host's /etc.
    std::fs::write(&config, "[profiles]\nmodels = \"\"\nmud_dir = \"\"\n").unwrap();
    let model = dir.path().join("acme-cam.yaml");
    std::fs::write(&model, MODEL).unwrap();
    let db = dir.path().join("warden.db");
    let mut guard = Guard::start_with(&lab, db.clone(), &["--config", config.to_str().unwrap()]);
    let other = inet_extra(1);
    let _servers = [
        TcpServer::start(&lab.inet, sa(INET_IP, 443)),
        TcpServer::start(&lab.inet, sa(INET_IP, 8443)),
        TcpServer::start(&lab.inet, sa(&other, 443)),
    ];
    let resolver = sa(ROUTER_LAN, 53);
    let _dns = DnsServer::start(
        &lab.router,
        resolver,
        vec![("update.example.test".into(), INET_IP.parse().unwrap())],
    );
    for ns in [&lab.dev, &lab.dev2] {
        assert!(tcp_connects(ns, sa(INET_IP, 8443)));
        assert!(tcp_connects(ns, sa(&other, 443)));
    }
    // The capture hands frames over in blocks: let the guard take these in
    // before the profile exists, or it would judge them under it.
    std::thread::sleep(Duration::from_millis(1500));

    warden_device(
        &db,
        &["profile", DEV_MAC, "--model", model.to_str().unwrap()],
    );
    let taken = wait_for(Duration::from_secs(10), || {
        guard.logged("the owner asked to profile")
    });
    assert!(taken.is_some(), "{:?}", guard.log());

    // The router's resolver answers the device: the name is bound.
    assert_eq!(
        dns_lookup(&lab.dev, resolver, "update.example.test"),
        Some(INET_IP.parse().unwrap())
    );
    assert!(
        wait_for(Duration::from_secs(5), || guard
            .logged("network profile acme-cam.yaml (owner)"))
        .is_some(),
        "{:?}",
        guard.log()
    );
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 443)));
    assert!(!held(&lab), "a declared flow is no violation");

    // An address the device never resolved: the first SYN is the
    // violation; the guard answers with the profile's rules.
    let first = Instant::now();
    let _ = tcp_connects(&lab.dev, sa(&other, 443));
    // Polled every 5 ms (each poll runs `nft list`, a few ms itself).
    let took = loop {
        if held(&lab) {
            break first.elapsed();
        }
        guard.assert_running();
        assert!(
            first.elapsed() < Duration::from_secs(10),
            "no profile rules after the violation: {:?}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!(
        "profile: rules in force {:.0} ms after the first off-profile packet",
        took.as_secs_f64() * 1e3
    );

    assert!(
        tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "the declared flow must still pass: {:?}",
        guard.log()
    );
    assert!(!tcp_connects(&lab.dev, sa(&other, 443)), "never resolved");
    assert!(
        !tcp_connects(&lab.dev, sa(INET_IP, 8443)),
        "other port of the allowed host"
    );
    // DNS to the router is plumbing; the device still resolves.
    assert_eq!(
        dns_lookup(&lab.dev, resolver, "update.example.test"),
        Some(INET_IP.parse().unwrap())
    );
    // The device without a profile is untouched.
    assert!(tcp_connects(&lab.dev2, sa(&other, 443)));
    assert!(tcp_connects(&lab.dev2, sa(INET_IP, 8443)));

    // One alert for the incident; later flows update it, not add alerts.
    let stored = wait_for(Duration::from_secs(5), || {
        warden_device(&db, &["show", DEV_MAC]).contains("\"profile-violation\"")
    });
    let show = warden_device(&db, &["show", DEV_MAC]);
    assert!(stored.is_some(), "{show}");
    let doc: serde_json::Value = serde_json::from_str(&show).unwrap();
    let alerts: Vec<&serde_json::Value> = doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "profile-violation")
        .collect();
    assert_eq!(alerts.len(), 1, "one incident, one alert: {show}");
    assert!(
        alerts[0]["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("tried to reach {other} on TCP port 443")),
        "{show}"
    );
    assert!(guard.logged("network profile allows"), "{:?}", guard.log());
    guard.assert_running();

    // The owner's trust lifts the profile's limits.
    warden_device(&db, &["trust", DEV_MAC]);
    let lifted = wait_for(Duration::from_secs(10), || {
        tcp_connects(&lab.dev, sa(&other, 443))
    });
    assert!(lifted.is_some(), "trust did not lift: {:?}", guard.log());
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}

#[test]
fn a_profile_is_learned_for_a_device_without_one_and_proposed_to_the_owner() {
    let lab = Lab::new("learn");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[profiles]\nmodels = \"\"\nmud_dir = \"\"\n").unwrap();
    let db = dir.path().join("warden.db");
    let mut guard = Guard::start_with(&lab, db.clone(), &["--config", config.to_str().unwrap()]);
    // The capture opens after the guard says it started: give it a moment,
    // or the first lookup is never seen.
    std::thread::sleep(Duration::from_secs(1));
    let other = inet_extra(2);
    let _servers = [
        TcpServer::start(&lab.inet, sa(INET_IP, 443)),
        TcpServer::start(&lab.inet, sa(&other, 443)),
    ];
    let resolver = sa(ROUTER_LAN, 53);
    let _dns = DnsServer::start(
        &lab.router,
        resolver,
        vec![("update.example.test".into(), INET_IP.parse().unwrap())],
    );
    assert_eq!(
        dns_lookup(&lab.dev, resolver, "update.example.test"),
        Some(INET_IP.parse().unwrap())
    );
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 443)));
    // An address it never looked up: no profile can name it.
    assert!(tcp_connects(&lab.dev, sa(&other, 443)));
    std::thread::sleep(Duration::from_millis(1500));
    guard.assert_running();
    let guard_log = guard.log();
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");

    let learned = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["device", "profile", DEV_MAC, "--learned", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        learned.status.success(),
        "{}\n{}\n{:?}",
        String::from_utf8_lossy(&learned.stderr),
        warden_device(&db, &["show", DEV_MAC]),
        guard_log
    );
    let yaml = String::from_utf8(learned.stdout).unwrap();
    let proposal = warden_model::load(yaml.as_bytes())
        .unwrap_or_else(|e| panic!("the proposal is not a valid model: {e}\n{yaml}"));
    let flows = &proposal.model.network.flows;
    assert!(
        flows
            .iter()
            .any(|f| f.dns_name.as_deref() == Some("update.example.test") && f.port == Some(443)),
        "{yaml}"
    );
    assert!(
        !yaml.contains(&other),
        "an unnamed address was proposed: {yaml}"
    );
    let mud = warden_device(&db, &["profile", DEV_MAC, "--learned", "--mud"]);
    assert!(
        mud.contains("update.example.test") && mud.contains("ietf-mud:mud"),
        "{mud}"
    );

    warden_device(&db, &["profile", DEV_MAC, "--learned", "--accept"]);
    let show = warden_device(&db, &["show", DEV_MAC]);
    let doc: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(doc["profile_mapping"]["source"], "learned", "{show}");
}

/// A real camera's capture (IoT Sentinel, D-Link DCS-935L) replayed through
/// the guard with a catalog of threat models: the camera is identified,
/// matched to its model, its undeclared flows raise one profile-violation,
/// and the dry run prints its profile's rules with the address the
/// capture's resolver gave it for its cloud name. No root needed.
#[test]
fn a_replayed_camera_is_matched_to_its_threat_model_and_held_to_it() {
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap");
    assert!(capture.exists(), "missing {}", capture.display());
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    std::fs::write(
        models.join("dlink-dcs935l.yaml"),
        "format_version: 1
identity:
  vendor: D-Link
  model: DCS-935L
network:
  flows:
    - {direction: from_device, protocol: tcp, port: 443, dns_name: signal.mydlink.com, purpose: cloud}
    - {direction: from_device, protocol: udp, port: 123, dns_name: ntp1.dlink.com, purpose: clock}
    - {direction: from_device, protocol: udp, port: 53, class: local_networks, purpose: DNS}
",
    )
    .unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles]\nmodels = {:?}\nmud_dir = \"\"\n",
            models.to_str().unwrap()
        ),
    )
    .unwrap();
    let db = dir.path().join("warden.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["run", "--replay"])
        .arg(&capture)
        .args(["--dry-run", "--router-addr", "10.10.10.1", "--config"])
        .arg(&config)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{log}");
    let cam = "b0:c5:54:25:5b:0e";
    assert!(
        log.contains(&format!("{cam}: network profile D-Link DCS-935L (model)")),
        "{log}"
    );
    // The dry run holds the camera to its profile: its chain, and the set
    // of its cloud name with the address the resolver gave it.
    assert!(script.contains("chain pf_b0c554255b0e"), "{script}");
    let set = script
        .split("set pn4_b0c554255b0e_0 {")
        .nth(1)
        .and_then(|s| s.split('}').next())
        .unwrap_or_else(|| panic!("no set for signal.mydlink.com:\n{script}"));
    assert!(set.contains("timeout"), "{set}");
    // Undeclared flows (mDNS, SSDP, the phone opening its web page): one
    // incident, one alert.
    let show = warden_device(&db, &["show", cam]);
    let doc: serde_json::Value = serde_json::from_str(&show).unwrap();
    let alerts: Vec<&serde_json::Value> = doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "profile-violation")
        .collect();
    assert_eq!(alerts.len(), 1, "{show}");
    // Devices without a model in the catalog are not held to anything.
    assert!(
        script
            .lines()
            .filter(|l| l.trim_start().starts_with("chain pf_"))
            .all(|l| l.contains("pf_b0c554255b0e")),
        "{script}"
    );
}
