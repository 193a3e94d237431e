//! The registry (docs/registry.md): signed threat models and test reports
//! in, public device pages and a JSON API out; each test against SQLite and
//! PostgreSQL.

mod common;

use common::*;
use warden_feed::{DeviceMatch, Envelope, FeedAction, KeyPair, Severity, PAYLOAD_CURATION};
use warden_feed_server::curation::{Change, Curation, Curators, OperatorKey, TesterKey, VendorKey};
use warden_feed_server::engine::ListingConfig;
use warden_feed_server::registry::{PAYLOAD_TEST_REPORT, PAYLOAD_THREAT_MODEL};

both!(
    models_are_published_only_by_who_speaks_for_the_vendor,
    device_pages_show_model_lint_reports_and_feed_status,
    reports_are_scoped_against_published_models,
);

const GOOD: &[u8] = include_bytes!("../../../models/good-camera.yaml");
const POOR: &[u8] = include_bytes!("../../../models/poor-camera.yaml");

struct Keys {
    op: KeyPair,
    vendor: KeyPair,
    tester: KeyPair,
    stranger: KeyPair,
}

fn setup(db: &TestDb) -> (App, Keys) {
    let k = Keys {
        op: key(300),
        vendor: key(301),
        tester: key(302),
        stranger: key(303),
    };
    let curators = Curators {
        operators: vec![OperatorKey {
            name: "ops".into(),
            key: k.op.public(),
        }],
        vendors: vec![VendorKey {
            name: "northwind".into(),
            key: k.vendor.public(),
            prefixes: vec![],
            names: vec!["Northwind Optics".into()],
        }],
        testers: vec![TesterKey {
            name: "lab".into(),
            key: k.tester.public(),
        }],
    };
    (app(db.store.clone(), ListingConfig::default(), curators), k)
}

fn signed(payload_type: &str, bytes: &[u8], k: &KeyPair) -> Vec<u8> {
    Envelope::sign_bytes(payload_type, bytes.to_vec(), &[k]).to_vec()
}

async fn post_model(app: &App, body: Vec<u8>) -> (u16, serde_json::Value) {
    post(app, "/v1/registry/threat-models", "192.0.2.1:1000", body).await
}

async fn audit_len(db: &TestDb) -> usize {
    db.store.audit(0, 1000).await.unwrap().len()
}

async fn models_are_published_only_by_who_speaks_for_the_vendor(db: TestDb) {
    let (app, k) = setup(&db);
    let (status, body) = post_model(&app, signed(PAYLOAD_THREAT_MODEL, GOOD, &k.vendor)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["device"], "northwind-optics/nw-cam-2");
    assert_eq!(body["sha256"], warden_feed::sha256_hex(GOOD));
    assert_eq!(audit_len(&db).await, 1);

    // The same document again: nothing new, no second audit line.
    let (status, body) = post_model(&app, signed(PAYLOAD_THREAT_MODEL, GOOD, &k.vendor)).await;
    assert_eq!((status, &body["created"]), (200, &serde_json::json!(false)));
    assert_eq!(audit_len(&db).await, 1);

    // Refusals, each with a sentence, none of them stored.
    let mut garbage = GOOD.to_vec();
    garbage.extend_from_slice(b"\nnot_a_field: 1\n");
    let oversized = vec![b' '; warden_feed_server::registry::MAX_DOCUMENT_BYTES + 1];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "stranger",
            signed(PAYLOAD_THREAT_MODEL, POOR, &k.stranger),
            401,
        ),
        ("tester", signed(PAYLOAD_THREAT_MODEL, POOR, &k.tester), 401),
        (
            "other vendor",
            signed(PAYLOAD_THREAT_MODEL, POOR, &k.vendor),
            403,
        ),
        ("payload type", signed(PAYLOAD_CURATION, POOR, &k.op), 400),
        (
            "unknown field",
            signed(PAYLOAD_THREAT_MODEL, &garbage, &k.op),
            400,
        ),
        ("not an envelope", b"{\"x\":1}".to_vec(), 400),
        ("oversized", oversized, 413),
    ];
    for (what, body, want) in cases {
        let (status, answer) = post_model(&app, body).await;
        assert_eq!(status, want, "{what}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|s| s.len() > 10),
            "{what}: {answer}"
        );
    }
    // A tampered payload: the signature no longer holds.
    let mut env = Envelope::sign_bytes(PAYLOAD_THREAT_MODEL, GOOD.to_vec(), &[&k.vendor]);
    env.payload[20] ^= 1;
    let (status, _) = post_model(&app, env.to_vec()).await;
    assert_eq!(status, 401);
    assert_eq!(audit_len(&db).await, 1, "refusals wrote to the audit log");
    let (_, devices) = get(&app, "/v1/registry/devices").await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1);

    // An operator may publish any vendor's model; the lint result comes along.
    let (status, body) = post_model(&app, signed(PAYLOAD_THREAT_MODEL, POOR, &k.op)).await;
    assert_eq!(status, 201, "{body}");
    let (_, devices) = get(&app, "/v1/registry/devices").await;
    let slugs: Vec<&str> = devices["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(
        slugs,
        ["northwind-optics/nw-cam-2", "shenlan-vision/sv-ipc-720"]
    );

    // The stored envelope verifies against the vendor's key, byte for byte.
    let sha = warden_feed::sha256_hex(GOOD);
    let (status, env) = get(&app, &format!("/v1/registry/documents/{sha}")).await;
    assert_eq!(status, 200);
    let env = Envelope::from_slice(env.to_string().as_bytes(), 1 << 22).unwrap();
    assert_eq!(env.payload, GOOD);
    assert_eq!(
        env.valid_signers(PAYLOAD_THREAT_MODEL, &[k.vendor.public()], 1)
            .unwrap()
            .len(),
        1
    );
    db.drop_pg().await;
}

async fn device_pages_show_model_lint_reports_and_feed_status(db: TestDb) {
    let (app, k) = setup(&db);
    assert_eq!(
        post_model(&app, signed(PAYLOAD_THREAT_MODEL, GOOD, &k.vendor))
            .await
            .0,
        201
    );
    assert_eq!(
        post_model(&app, signed(PAYLOAD_THREAT_MODEL, POOR, &k.op))
            .await
            .0,
        201
    );

    // The JSON view: the lint result as the server computed it.
    let (status, good) = get(&app, "/v1/registry/devices/northwind-optics/nw-cam-2").await;
    assert_eq!(status, 200, "{good}");
    assert_eq!(good["vendor"], "Northwind Optics");
    assert_eq!(good["threat_models"][0]["meta"]["lint"]["errors"], 0);
    assert_eq!(good["feed"].as_array().unwrap().len(), 0);
    let (_, poor) = get(&app, "/v1/registry/devices/shenlan-vision/sv-ipc-720").await;
    let poor_errors = poor["threat_models"][0]["meta"]["lint"]["errors"]
        .as_u64()
        .unwrap();
    let poor_rules = poor["threat_models"][0]["meta"]["lint"]["failed"]
        .as_array()
        .unwrap()
        .len();
    assert!(poor_errors > 0 && poor_rules > 0, "{poor}");

    // An operator lists the poor camera; its page says so.
    let change = Change::List {
        severity: Severity::CompromisedInTheWild,
        matches: DeviceMatch {
            mac_prefixes: vec!["00:12:34/24".parse().unwrap()],
            model: Some("sv-ipc 720".into()),
            ..Default::default()
        },
        action: FeedAction::Quarantine,
        references: vec![],
        behaviours: vec![],
        reason: "Telnet with a shared default password, seen in a botnet".into(),
    };
    let cur = Curation {
        version: 1,
        nonce: "0123456789abcdef0123456789abcdef".into(),
        issued_at: NOW,
        change,
    };
    let env = Envelope::sign(PAYLOAD_CURATION, &cur, &[&k.op]);
    let (status, body) = post(&app, "/v1/curation", "192.0.2.1:1000", env.to_vec()).await;
    assert_eq!(status, 200, "{body}");
    let (_, poor) = get(&app, "/v1/registry/devices/shenlan-vision/sv-ipc-720").await;
    assert_eq!(poor["feed"][0]["state"], "listed", "{poor}");
    assert_eq!(poor["feed"][0]["action"], "quarantine");

    let (status, headers, html) = get_text(&app, "/devices/shenlan-vision/sv-ipc-720").await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!html.contains("<script"), "pages carry no script");
    for needle in [
        "Shenlan Vision SV-IPC 720",
        "Listed: compromised-in-the-wild",
        "Telnet with a shared default password",
        &format!("Fails {poor_rules} baseline rule(s) with {poor_errors} error(s)"),
        "No test reports have been published.",
    ] {
        assert!(html.contains(needle), "missing {needle:?} in\n{html}");
    }
    let (_, _, html) = get_text(&app, "/devices/northwind-optics/nw-cam-2").await;
    for needle in [
        "Not listed in the feed",
        "Meets the baseline check",
        "Security updates until",
    ] {
        assert!(html.contains(needle), "missing {needle:?} in\n{html}");
    }
    let (status, _, page) = get_text(&app, "/devices/northwind-optics/nw-cam-2/threat-model").await;
    assert_eq!(status, 200);
    assert!(page.contains("NW-Cam 2") && !page.contains("<script"));
    let (_, _, index) = get_text(&app, "/devices").await;
    assert!(
        index.contains("/devices/shenlan-vision/sv-ipc-720"),
        "{index}"
    );

    // Names nobody published, and hostile paths, find nothing.
    for path in [
        "/devices/acme/nothing",
        "/devices/..%2F..%2Fetc/passwd",
        "/devices/Shenlan-Vision/sv-ipc-720",
        "/v1/registry/devices/a/b",
        "/v1/registry/documents/zz",
    ] {
        let (status, _, _) = get_text(&app, path).await;
        assert_eq!(status, 404, "{path}");
    }

    // A hostile model: its text is shown, never run.
    let hostile = String::from_utf8(GOOD.to_vec()).unwrap().replace(
        "Indoor Wi-Fi camera with motion alerts",
        "<script>alert(1)</script> \\\" onload=x",
    );
    let hostile = hostile.replace("model: NW-Cam 2", "model: NW-Cam 3");
    let (status, body) = post_model(
        &app,
        signed(PAYLOAD_THREAT_MODEL, hostile.as_bytes(), &k.vendor),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, _, html) = get_text(&app, "/devices/northwind-optics/nw-cam-3").await;
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    db.drop_pg().await;
}

async fn reports_are_scoped_against_published_models(db: TestDb) {
    let (app, k) = setup(&db);
    let report = report_for_good_camera();
    let post_report =
        |body: Vec<u8>| post(&app, "/v1/registry/test-reports", "192.0.2.1:1000", body);

    // Before the vendor publishes the model, a report has nothing to be scoped against.
    let (status, body) =
        post_report(signed(PAYLOAD_TEST_REPORT, report.as_bytes(), &k.tester)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        post_model(&app, signed(PAYLOAD_THREAT_MODEL, GOOD, &k.vendor))
            .await
            .0,
        201
    );

    // Refusals: unknown signer, a vendor's key on someone else's device,
    // a report whose threat ids the model does not have.
    let (status, _) =
        post_report(signed(PAYLOAD_TEST_REPORT, report.as_bytes(), &k.stranger)).await;
    assert_eq!(status, 401);
    let bad_ids = report.replace("threat: ", "threat: NOPE-");
    let (status, body) =
        post_report(signed(PAYLOAD_TEST_REPORT, bad_ids.as_bytes(), &k.tester)).await;
    assert_eq!(status, 400, "{body}");

    // A tester's negative result: published, and shown as plainly as a finding.
    let (status, body) =
        post_report(signed(PAYLOAD_TEST_REPORT, report.as_bytes(), &k.tester)).await;
    assert_eq!(status, 201, "{body}");
    let (_, dev) = get(&app, "/v1/registry/devices/northwind-optics/nw-cam-2").await;
    let r = &dev["test_reports"][0];
    assert_eq!(
        r["signer"].as_str().unwrap().split(':').next(),
        Some("tester")
    );
    assert_eq!(r["scope"], warden_feed::sha256_hex(GOOD));
    assert_eq!(r["meta"]["results"]["finding"], 0, "{r}");
    assert!(
        r["meta"]["results"]["no_finding"].as_u64().unwrap() > 0,
        "{r}"
    );
    let (_, _, html) = get_text(&app, "/devices/northwind-optics/nw-cam-2").await;
    assert!(html.contains("Tested: nothing found in scope"), "{html}");
    db.drop_pg().await;
}

/// A negative-result report for models/good-camera.yaml: every threat and
/// entry point tested, nothing found. Built from the model's own ids.
fn report_for_good_camera() -> String {
    let model = warden_model::load(GOOD).unwrap().model;
    let mut s = format!(
        "format_version: 1
tester:
  name: Example Lab
  contact: mailto:lab@example.org
date: 2026-11-20
device:
  vendor: Northwind Optics
  model: NW-Cam 2
  firmware_version: \"{}\"
threat_model:
  vendor: Northwind Optics
  model: NW-Cam 2
  format_version: 1
  sha256: {}
method:
  tools: [nmap 7.95]
  duration_hours: 16
  access: grey-box
  physical_access: true
results:
",
        model.identity.firmware[0].version,
        warden_feed::sha256_hex(GOOD)
    );
    for t in &model.threats {
        s.push_str(&format!(
            "  - threat: {}\n    result: no-finding\n    tried: Looked for it and found nothing.\n",
            t.id
        ));
    }
    for e in &model.entry_points {
        s.push_str(&format!(
            "  - entry_point: {}\n    result: no-finding\n    tried: Probed it and found nothing.\n",
            e.id
        ));
    }
    s
}
