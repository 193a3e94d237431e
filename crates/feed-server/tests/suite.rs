//! The feed server's suite: storage, the listing engine under poisoning,
//! curation, and the HTTP API's refusals, each against SQLite and PostgreSQL.

mod common;

use common::*;
use warden_feed::{
    DeviceMatch, Envelope, FeedAction, KeyPair, Listing, Severity, PAYLOAD_CURATION,
};
use warden_feed_server::curation::{
    self, Actor, Change, Curation, Curators, OperatorKey, VendorKey,
};
use warden_feed_server::engine::{run_pass, ListingConfig};
use warden_feed_server::store::{IngestParams, ListingRow, ListingWrite, NewAudit, Outcome, Store};

both!(
    audit_log_refuses_update_and_delete,
    migrations_are_idempotent_and_keep_data,
    ingest_refusals_change_nothing,
    sybil_keys_from_one_network_cannot_list,
    one_noisy_reporter_cannot_list,
    genuine_outbreak_is_listed_at_the_threshold_and_not_before,
    sybils_cannot_delist_and_evidence_ages_out,
    operator_delist_sticks_until_an_operator_relists,
    vendor_fix_marks_firmware_and_stays_in_its_prefixes,
    api_accepts_a_signed_sighting_and_never_stores_the_address,
    api_refusals_are_clear_and_change_nothing,
    api_batch_reports_each_envelope,
    api_curation_envelopes_are_checked,
    publish_writes_signed_snapshot_delta_and_timestamp,
    concurrent_ingest_keeps_nonces_and_limits_exact,
    api_request_flood_is_refused_before_verification,
    evaluator_lease_has_one_holder_at_a_time,
    false_positive_delist_takes_back_the_weight_it_gave,
);

fn params() -> IngestParams {
    IngestParams {
        reporter_per_hour: 60,
        network_per_hour: 600,
        nonce_ttl_secs: 1260,
        initial_weight: 0.5,
    }
}

async fn audit_log_refuses_update_and_delete(db: TestDb) {
    let s = db.store.as_ref();
    s.write_listing(&ListingWrite {
        row: ListingRow {
            id: "a".repeat(32),
            device_key: None,
            state: "listed".into(),
            source: "operator".into(),
            suppressed: false,
            body: "{}".into(),
            first_seen: 1,
            last_seen: 1,
            updated_at: 1,
        },
        audit: Some(NewAudit {
            at: 1,
            actor: "test".into(),
            action: "list".into(),
            listing_id: Some("a".repeat(32)),
            reason: "r".into(),
            detail: "{}".into(),
        }),
        corroborate: vec![],
        weights: ListingConfig::default().weights(),
        evaluated: None,
        withdraw_corroboration: false,
    })
    .await
    .unwrap();
    let before = s.audit(0, 10).await.unwrap();
    assert_eq!(before.len(), 1);
    for sql in ["UPDATE audit SET reason = 'rewritten'", "DELETE FROM audit"] {
        let err = s.execute_raw(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if s.kind() == "postgres" {
        let err = s.execute_raw("TRUNCATE audit").await.expect_err("truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(s.audit(0, 10).await.unwrap(), before);
    db.drop_pg().await;
}

async fn migrations_are_idempotent_and_keep_data(db: TestDb) {
    let dev = device("Cam X1");
    let out = db
        .store
        .ingest(&[new_sighting("r1", "n1", &dev)], NOW, &params())
        .await
        .unwrap();
    assert_eq!(out, vec![Outcome::Accepted]);
    let again = db.reopen().await;
    let c = again.counts().await.unwrap();
    assert_eq!(
        (c.sightings, c.nonces, c.reporters, c.device_types),
        (1, 1, 1, 1)
    );
    db.drop_pg().await;
}

async fn ingest_refusals_change_nothing(db: TestDb) {
    let s = db.store.as_ref();
    let dev = device("Cam X1");
    let first = new_sighting("r1", "n1", &dev);
    assert_eq!(
        s.ingest(std::slice::from_ref(&first), NOW, &params())
            .await
            .unwrap(),
        vec![Outcome::Accepted]
    );
    let before = s.counts().await.unwrap();
    // Replay: same reporter and nonce.
    assert_eq!(
        s.ingest(std::slice::from_ref(&first), NOW + 5, &params())
            .await
            .unwrap(),
        vec![Outcome::Replay]
    );
    assert_eq!(s.counts().await.unwrap(), before);
    // Rate limits: reporter, then network.
    let tight = IngestParams {
        reporter_per_hour: 1,
        network_per_hour: 1,
        ..params()
    };
    assert_eq!(
        s.ingest(&[new_sighting("r1", "n2", &dev)], NOW, &tight)
            .await
            .unwrap(),
        vec![Outcome::ReporterLimited]
    );
    assert_eq!(
        s.ingest(&[new_sighting("r2", "n1", &dev)], NOW, &tight)
            .await
            .unwrap(),
        vec![Outcome::NetworkLimited]
    );
    assert_eq!(s.counts().await.unwrap(), before);
    // A mixed batch stores exactly the accepted ones.
    let fresh = new_sighting("r3", "n3", &dev);
    let out = s
        .ingest(&[first, fresh.clone(), fresh], NOW, &params())
        .await
        .unwrap();
    assert_eq!(
        out,
        vec![Outcome::Replay, Outcome::Accepted, Outcome::Replay]
    );
    let after = s.counts().await.unwrap();
    assert_eq!(after.sightings, before.sightings + 1);
    assert_eq!(after.nonces, before.nonces + 1);
    // The same reporter may reuse a nonce only after it expired and was purged;
    // by then its sent_at is refused anyway (checked at the API).
    assert!(s.purge(NOW + 100_000, NOW).await.unwrap() >= 2);
    assert_eq!(
        s.counts().await.unwrap().sightings,
        after.sightings,
        "no sighting before NOW"
    );
    s.purge(NOW + 100_000, NOW + 1).await.unwrap();
    assert_eq!(
        s.counts().await.unwrap().sightings,
        0,
        "sightings past the window are forgotten"
    );
    db.drop_pg().await;
}

async fn sybil_keys_from_one_network_cannot_list(db: TestDb) {
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let dev = device("Cam X1");
    // 300 fresh keys behind one /24, each reporting the device several times.
    let batch: Vec<_> = (0..300)
        .map(|i| new_sighting(&format!("sybil{i}"), "one-net", &dev))
        .collect();
    let out = s.ingest(&batch, NOW, &params()).await.unwrap();
    assert!(out.iter().all(|o| *o == Outcome::Accepted));
    // Even if every Sybil had full weight.
    s.execute_raw("UPDATE reporters SET weight = 1.0")
        .await
        .unwrap();
    let r = run_pass(s, &cfg, NOW).await.unwrap();
    assert_eq!(r.evaluated, 1);
    assert_eq!(r.listed, 0);
    assert_eq!(s.counts().await.unwrap().listings_listed, 0);
    // The network limit caps what one network can even store.
    let more: Vec<_> = (0..400)
        .map(|i| new_sighting(&format!("sybil-b{i}"), "one-net", &dev))
        .collect();
    let out = s.ingest(&more, NOW, &params()).await.unwrap();
    assert_eq!(out.iter().filter(|o| **o == Outcome::Accepted).count(), 300);
    assert_eq!(
        out.iter()
            .filter(|o| **o == Outcome::NetworkLimited)
            .count(),
        100
    );
    db.drop_pg().await;
}

async fn one_noisy_reporter_cannot_list(db: TestDb) {
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let dev = device("Cam X1");
    // One key hopping across 30 networks, as fast as it is allowed.
    let batch: Vec<_> = (0..100)
        .map(|i| new_sighting("noisy", &format!("net{}", i % 30), &dev))
        .collect();
    let out = s.ingest(&batch, NOW, &params()).await.unwrap();
    assert_eq!(out.iter().filter(|o| **o == Outcome::Accepted).count(), 60);
    assert_eq!(
        out.iter()
            .filter(|o| **o == Outcome::ReporterLimited)
            .count(),
        40
    );
    s.execute_raw("UPDATE reporters SET weight = 1.0")
        .await
        .unwrap();
    run_pass(s, &cfg, NOW).await.unwrap();
    assert_eq!(s.counts().await.unwrap().listings_listed, 0);
    db.drop_pg().await;
}

async fn genuine_outbreak_is_listed_at_the_threshold_and_not_before(db: TestDb) {
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let dev = device("Cam X1");
    // Nine new routers in nine networks: 4.5 weighted reporters, not enough.
    for i in 0..9 {
        let b = vec![new_sighting(&format!("r{i}"), &format!("net{i}"), &dev); 1];
        s.ingest(&b, NOW + i, &params()).await.unwrap();
        assert_eq!(
            run_pass(s, &cfg, NOW + i).await.unwrap().listed,
            0,
            "listed after {} reporters",
            i + 1
        );
    }
    assert_eq!(s.counts().await.unwrap().listings_listed, 0);
    // The tenth independent network makes it 5.0.
    s.ingest(&[new_sighting("r9", "net9", &dev)], NOW + 20, &params())
        .await
        .unwrap();
    let r = run_pass(s, &cfg, NOW + 20).await.unwrap();
    assert_eq!(r.listed, 1);
    let rows = s.listings(Some("listed"), "", 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    let l: Listing = serde_json::from_str(&rows[0].body).unwrap();
    assert_eq!(l.severity, Severity::CompromisedInTheWild);
    assert_eq!(l.action, FeedAction::Quarantine);
    assert_eq!(
        (
            l.evidence.reporters,
            l.evidence.networks,
            l.evidence.sightings
        ),
        (10, 10, 10)
    );
    assert_eq!(l.matches.model.as_deref(), Some("Cam X1"));
    assert_eq!(l.matches.mac_prefixes[0].to_string(), "00:17:88/24");
    assert_eq!((l.first_seen, l.last_seen), (NOW, NOW + 20));
    assert!(
        l.reason.contains("10 independent reporters in 10 networks"),
        "{}",
        l.reason
    );
    assert_eq!(l.id, l.matches.listing_id());
    // Audit says who listed it and why; corroboration raised every weight.
    let audit = s.audit(0, 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].action.as_str()),
        ("engine", "list")
    );
    let r0 = s.reporter("r0").await.unwrap().unwrap();
    assert_eq!(r0.corroborated, 1);
    assert!((r0.weight - 0.6).abs() < 1e-9);
    // Re-evaluating does not credit twice.
    s.ingest(&[new_sighting("r0", "net0", &dev)], NOW + 30, &params())
        .await
        .unwrap();
    run_pass(s, &cfg, NOW + 30).await.unwrap();
    assert_eq!(s.reporter("r0").await.unwrap().unwrap().corroborated, 1);
    assert_eq!(s.audit(0, 10).await.unwrap().len(), 1);
    // Established reporters need fewer networks: five at full weight list a new type.
    s.execute_raw("UPDATE reporters SET weight = 1.0")
        .await
        .unwrap();
    let other = device("Cam X2");
    for i in 0..5 {
        s.ingest(
            &[new_sighting(&format!("r{i}"), &format!("net{i}"), &other)],
            NOW + 40,
            &params(),
        )
        .await
        .unwrap();
    }
    assert_eq!(run_pass(s, &cfg, NOW + 40).await.unwrap().listed, 1);
    db.drop_pg().await;
}

async fn list_outbreak(
    s: &dyn Store,
    cfg: &ListingConfig,
    dev: &warden_feed::DeviceType,
    at: i64,
) -> String {
    for i in 0..10 {
        s.ingest(
            &[new_sighting(&format!("g{i}"), &format!("gnet{i}"), dev)],
            at,
            &params(),
        )
        .await
        .unwrap();
    }
    assert_eq!(run_pass(s, cfg, at).await.unwrap().listed, 1);
    s.listings(Some("listed"), "", 1).await.unwrap()[0]
        .id
        .clone()
}

async fn sybils_cannot_delist_and_evidence_ages_out(db: TestDb) {
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let dev = device("Cam X1");
    let id = list_outbreak(s, &cfg, &dev, NOW).await;
    // Sybils flood the type (and a "fixed" firmware of it) afterwards: nothing delists.
    let mut fixed = dev.clone();
    fixed.firmware = Some("9.9".into());
    let batch: Vec<_> = (0..200)
        .map(|i| new_sighting(&format!("s{i}"), &format!("sn{}", i % 4), &fixed))
        .collect();
    s.ingest(&batch, NOW + 60, &params()).await.unwrap();
    run_pass(s, &cfg, NOW + 60).await.unwrap();
    let row = s.listing(&id).await.unwrap().unwrap();
    assert_eq!(row.state, "listed");
    // 29 days later still listed; after 30 days without a sighting it expires.
    run_pass(s, &cfg, NOW + 60 + 29 * 86400).await.unwrap();
    assert_eq!(s.listing(&id).await.unwrap().unwrap().state, "listed");
    let r = run_pass(s, &cfg, NOW + 61 + 30 * 86400).await.unwrap();
    assert_eq!(r.expired, 1);
    assert_eq!(s.listing(&id).await.unwrap().unwrap().state, "delisted");
    let audit = s.audit(0, 10).await.unwrap();
    assert_eq!(audit.last().unwrap().action, "expire");
    // Fresh independent evidence lists it again.
    let later = NOW + 40 * 86400;
    for i in 0..10 {
        s.ingest(
            &[new_sighting(&format!("h{i}"), &format!("hnet{i}"), &dev)],
            later,
            &params(),
        )
        .await
        .unwrap();
    }
    assert_eq!(run_pass(s, &cfg, later).await.unwrap().listed, 1);
    assert_eq!(
        s.audit(0, 10).await.unwrap().last().unwrap().action,
        "relist"
    );
    db.drop_pg().await;
}

async fn operator_delist_sticks_until_an_operator_relists(db: TestDb) {
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let dev = device("Cam X1");
    let id = list_outbreak(s, &cfg, &dev, NOW).await;
    let op = Actor::Cli {
        user: "alice".into(),
    };
    let delist = Change::Delist {
        false_positive: false,
        id: id.clone(),
        reason: "false positive: lab traffic".into(),
    };
    curation::apply(s, &op, &delist, cfg.weights(), NOW + 10)
        .await
        .unwrap();
    let row = s.listing(&id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.suppressed), ("delisted", true));
    // Overwhelming new evidence does not override the operator.
    for i in 0..20 {
        s.ingest(
            &[new_sighting(&format!("x{i}"), &format!("xnet{i}"), &dev)],
            NOW + 20,
            &params(),
        )
        .await
        .unwrap();
    }
    assert_eq!(run_pass(s, &cfg, NOW + 20).await.unwrap().listed, 0);
    assert_eq!(s.listing(&id).await.unwrap().unwrap().state, "delisted");
    // An operator relists it by hand, with a reason and references.
    let l: Listing = serde_json::from_str(&row.body).unwrap();
    let list = Change::List {
        severity: Severity::Vulnerable,
        matches: l.matches.clone(),
        action: FeedAction::BlockUpnp,
        references: vec!["CVE-2024-12345".into()],
        behaviours: vec![],
        reason: "vendor advisory confirms the UPnP flaw".into(),
    };
    curation::apply(s, &op, &list, cfg.weights(), NOW + 30)
        .await
        .unwrap();
    let row = s.listing(&id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.suppressed, row.source.as_str()),
        ("listed", false, "operator")
    );
    let l: Listing = serde_json::from_str(&row.body).unwrap();
    assert_eq!(l.references, vec!["CVE-2024-12345".to_string()]);
    let actions: Vec<_> = s
        .audit(0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.actor, a.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("engine".into(), "list".into()),
            ("cli:alice".into(), "delist".into()),
            ("cli:alice".into(), "relist".into())
        ]
    );
    // Delisting something unknown is a clear error and changes nothing.
    let before = s.counts().await.unwrap();
    let err = curation::apply(
        s,
        &op,
        &Change::Delist {
            false_positive: false,
            id: "0".repeat(32),
            reason: "x".into(),
        },
        cfg.weights(),
        NOW,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no listing"), "{err}");
    assert_eq!(s.counts().await.unwrap(), before);
    db.drop_pg().await;
}

async fn vendor_fix_marks_firmware_and_stays_in_its_prefixes(db: TestDb) {
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let id = list_outbreak(s, &cfg, &device("Cam X1"), NOW).await;
    let vendor = Actor::Vendor {
        name: "acme".into(),
        key_id: "f".repeat(64),
        prefixes: vec!["00:17:88/24".parse().unwrap()],
    };
    let fix = Change::MarkFixed {
        mac_prefix: "00:17:88/24".parse().unwrap(),
        model: Some("cam x1".into()),
        fixed_in: "1.0.4".into(),
        reason: "patched telnet backdoor".into(),
    };
    let applied = curation::apply(s, &vendor, &fix, cfg.weights(), NOW + 5)
        .await
        .unwrap();
    assert_eq!(applied.listings, vec![id.clone()]);
    let l: Listing = serde_json::from_str(&s.listing(&id).await.unwrap().unwrap().body).unwrap();
    assert_eq!(
        l.matches.firmware.unwrap().fixed_in,
        vec!["1.0.4".to_string()]
    );
    // A listing made later for the same type starts with the fix.
    let other = Change::List {
        severity: Severity::Vulnerable,
        matches: DeviceMatch {
            mac_prefixes: vec!["00:17:88/24".parse().unwrap()],
            model: Some("Cam X1".into()),
            vendor: Some("Other".into()),
            ..Default::default()
        },
        action: FeedAction::Notify,
        references: vec![],
        behaviours: vec![],
        reason: "manual".into(),
    };
    let op = Actor::Cli { user: "bob".into() };
    let a = curation::apply(s, &op, &other, cfg.weights(), NOW + 6)
        .await
        .unwrap();
    let l: Listing =
        serde_json::from_str(&s.listing(&a.listings[0]).await.unwrap().unwrap().body).unwrap();
    assert_eq!(
        l.matches.firmware.unwrap().fixed_in,
        vec!["1.0.4".to_string()]
    );
    // Outside its prefixes, or listing at all, a vendor is refused and nothing changes.
    let before = s.counts().await.unwrap();
    let foreign = Change::MarkFixed {
        mac_prefix: "00:11:22/24".parse().unwrap(),
        model: None,
        fixed_in: "2".into(),
        reason: "not mine".into(),
    };
    assert!(matches!(
        curation::apply(s, &vendor, &foreign, cfg.weights(), NOW).await,
        Err(curation::CurationError::Forbidden(_))
    ));
    assert!(matches!(
        curation::apply(s, &vendor, &other, cfg.weights(), NOW).await,
        Err(curation::CurationError::Forbidden(_))
    ));
    assert_eq!(s.counts().await.unwrap(), before);
    let fix_audit = s
        .audit(0, 20)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "fix")
        .count();
    assert_eq!(
        fix_audit, 2,
        "one line for the fix, one for the listing it changed"
    );
    db.drop_pg().await;
}

async fn api_accepts_a_signed_sighting_and_never_stores_the_address(db: TestDb) {
    let app = app(
        db.store.clone(),
        ListingConfig::default(),
        Curators::default(),
    );
    let k = key(1);
    let env = sighting(&k, &device("Cam X1"), NOW).sign(&k);
    let (status, body) = post(&app, "/v1/sightings", "203.0.113.77:5555", env.to_vec()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "accepted");
    let c = db.store.counts().await.unwrap();
    assert_eq!((c.sightings, c.reporters, c.nonces), (1, 1, 1));
    let r = db
        .store
        .reporter(k.key_id().as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.sightings, 1);
    let dump = db.dump().await;
    assert!(
        dump.contains(k.key_id().as_str()),
        "the dump should hold the reporter"
    );
    for needle in ["203.0.113", "203-0-113", "cb007100"] {
        assert!(!dump.contains(needle), "client address stored ({needle})");
    }
    let (status, body) = get(&app, "/v1/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["counts"]["sightings"], 1);
    db.drop_pg().await;
}

async fn api_refusals_are_clear_and_change_nothing(db: TestDb) {
    let app = app(
        db.store.clone(),
        ListingConfig {
            reporter_per_hour: 2,
            ..Default::default()
        },
        Curators::default(),
    );
    let k = key(2);
    let dev = device("Cam X1");
    let good = sighting(&k, &dev, NOW).sign(&k);
    assert_eq!(
        post(&app, "/v1/sightings", "198.51.100.1:1", good.to_vec())
            .await
            .0,
        202
    );
    let before = db.store.counts().await.unwrap();

    let mut forged = good.clone();
    forged.payload = serde_json::to_vec(&sighting(&k, &device("Cam X9"), NOW)).unwrap();
    let mut wrong_key = sighting(&k, &dev, NOW);
    wrong_key.reporter = key(3).public();
    let signed_by_other = Envelope::sign(warden_feed::PAYLOAD_SIGHTING, &wrong_key, &[&k]);
    let mut unsigned = sighting(&k, &dev, NOW).sign(&k);
    unsigned.signatures.clear();
    let stale = sighting(&k, &dev, NOW - 3600).sign(&k);
    let mut bad_field = sighting(&k, &dev, NOW);
    bad_field.nonce = "short".into();
    let curation_typed = Envelope::sign(PAYLOAD_CURATION, &sighting(&k, &dev, NOW), &[&k]);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed JSON",
            b"{\"payloadType\": ".to_vec(),
            400,
            "malformed envelope",
        ),
        (
            "not JSON",
            vec![0xff, 0xfe, 0x00],
            400,
            "malformed envelope",
        ),
        (
            "huge body",
            vec![b' '; 2 * 1024 * 1024],
            413,
            "larger than the limit",
        ),
        ("forged payload", forged.to_vec(), 401, "no valid signature"),
        (
            "signed by another key",
            signed_by_other.to_vec(),
            401,
            "no valid signature",
        ),
        ("unsigned", unsigned.to_vec(), 401, "no signatures"),
        ("replay", good.to_vec(), 409, "replay"),
        ("stale", stale.to_vec(), 409, "from the server's clock"),
        ("bad field", bad_field.sign(&k).to_vec(), 400, "nonce"),
        (
            "wrong payload type",
            curation_typed.to_vec(),
            400,
            "wrong payload type",
        ),
    ];
    for (what, body, want, text) in cases {
        let (status, json) = post(&app, "/v1/sightings", "198.51.100.1:1", body).await;
        assert_eq!(status, want, "{what}: {json}");
        let msg = json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error field: {json}"));
        assert!(msg.contains(text), "{what}: {msg}");
        assert_eq!(
            db.store.counts().await.unwrap(),
            before,
            "{what} changed the database"
        );
    }
    // Rate limit: the second is accepted, the third refused with 429.
    assert_eq!(
        post(
            &app,
            "/v1/sightings",
            "198.51.100.1:1",
            sighting(&k, &dev, NOW).sign(&k).to_vec()
        )
        .await
        .0,
        202
    );
    let before = db.store.counts().await.unwrap();
    let (status, json) = post(
        &app,
        "/v1/sightings",
        "198.51.100.1:1",
        sighting(&k, &dev, NOW).sign(&k).to_vec(),
    )
    .await;
    assert_eq!(status, 429, "{json}");
    assert!(json["error"].as_str().unwrap().contains("rate limited"));
    assert_eq!(db.store.counts().await.unwrap(), before);
    // Unknown endpoints and methods answer in JSON too.
    let (status, json) = get(&app, "/v1/nothing").await;
    assert_eq!((status, json["error"].is_string()), (404, true));
    let (status, json) = get(&app, "/v1/sightings").await;
    assert_eq!((status, json["error"].is_string()), (405, true));
    let (status, json) = get(&app, "/v1/listings?state=bogus").await;
    assert_eq!((status, json["error"].is_string()), (400, true));
    let (status, json) = get(&app, "/v1/listings?limit=abc").await;
    assert_eq!((status, json["error"].is_string()), (400, true));
    db.drop_pg().await;
}

async fn api_batch_reports_each_envelope(db: TestDb) {
    let app = app(
        db.store.clone(),
        ListingConfig::default(),
        Curators::default(),
    );
    let dev = device("Cam X1");
    let k = key(4);
    let good = sighting(&k, &dev, NOW).sign(&k);
    let mut forged = sighting(&k, &dev, NOW).sign(&k);
    forged.signatures[0].sig[0] ^= 1;
    let body = serde_json::to_vec(&serde_json::json!([
        serde_json::from_slice::<serde_json::Value>(&good.to_vec()).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&forged.to_vec()).unwrap(),
        {"payloadType": 5},
        serde_json::from_slice::<serde_json::Value>(&good.to_vec()).unwrap(),
    ]))
    .unwrap();
    let (status, json) = post(&app, "/v1/sightings/batch", "192.0.2.9:1", body).await;
    assert_eq!(status, 202, "{json}");
    assert_eq!(json["accepted"], 1);
    let statuses: Vec<u64> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![202, 401, 400, 409]);
    assert_eq!(db.store.counts().await.unwrap().sightings, 1);
    // A whole batch of many routers is one transaction.
    let many: Vec<serde_json::Value> = (10..510)
        .map(|i| {
            let k = key(i);
            serde_json::from_slice(&sighting(&k, &dev, NOW).sign(&k).to_vec()).unwrap()
        })
        .collect();
    let (status, json) = post(
        &app,
        "/v1/sightings/batch",
        "192.0.2.10:1",
        serde_json::to_vec(&many).unwrap(),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(json["accepted"], 500);
    let before = db.store.counts().await.unwrap();
    let too_many: Vec<serde_json::Value> = (0..501).map(|_| serde_json::json!({})).collect();
    let (status, json) = post(
        &app,
        "/v1/sightings/batch",
        "192.0.2.10:1",
        serde_json::to_vec(&too_many).unwrap(),
    )
    .await;
    assert_eq!(status, 413, "{json}");
    let (status, _) = post(
        &app,
        "/v1/sightings/batch",
        "192.0.2.10:1",
        b"{\"not\": \"an array\"}".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(db.store.counts().await.unwrap(), before);
    db.drop_pg().await;
}

fn curation_env(k: &KeyPair, change: Change, nonce: &str) -> Vec<u8> {
    let c = Curation {
        version: 1,
        nonce: nonce.into(),
        issued_at: NOW,
        change,
    };
    Envelope::sign(PAYLOAD_CURATION, &c, &[k]).to_vec()
}

async fn api_curation_envelopes_are_checked(db: TestDb) {
    let op = key(100);
    let vendor = key(101);
    let stranger = key(102);
    let curators = Curators {
        operators: vec![OperatorKey {
            name: "ops".into(),
            key: op.public(),
        }],
        vendors: vec![VendorKey {
            name: "acme".into(),
            key: vendor.public(),
            prefixes: vec!["00:17:88/24".parse().unwrap()],
            names: vec![],
        }],
        testers: vec![],
    };
    let app = app(db.store.clone(), ListingConfig::default(), curators);
    let list = Change::List {
        severity: Severity::Vulnerable,
        matches: DeviceMatch {
            mac_prefixes: vec!["00:17:88/24".parse().unwrap()],
            model: Some("Hub 2".into()),
            ..Default::default()
        },
        action: FeedAction::BlockUpnp,
        references: vec!["CVE-2023-0001".into()],
        behaviours: vec![],
        reason: "UPnP exposes the admin port".into(),
    };
    let n1 = "1".repeat(32);
    let (status, json) = post(
        &app,
        "/v1/curation",
        "127.0.0.1:1",
        curation_env(&op, list.clone(), &n1),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    let id = json["listings"][0].as_str().unwrap().to_string();
    let (status, json) = get(&app, &format!("/v1/listings/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(json["listing"]["severity"], "vulnerable");
    assert_eq!(json["listing"]["action"], "block-upnp");
    assert_eq!(json["listing"]["references"][0], "CVE-2023-0001");
    let before = db.store.counts().await.unwrap();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("replay", curation_env(&op, list.clone(), &n1), 409),
        (
            "stranger",
            curation_env(&stranger, list.clone(), &"2".repeat(32)),
            401,
        ),
        (
            "vendor lists",
            curation_env(&vendor, list.clone(), &"3".repeat(32)),
            403,
        ),
        (
            "vendor outside its prefix",
            curation_env(
                &vendor,
                Change::MarkFixed {
                    mac_prefix: "00:11:22/24".parse().unwrap(),
                    model: None,
                    fixed_in: "2".into(),
                    reason: "x".into(),
                },
                &"4".repeat(32),
            ),
            403,
        ),
        (
            "empty reason",
            curation_env(
                &op,
                Change::Delist {
                    false_positive: false,
                    id: id.clone(),
                    reason: " ".into(),
                },
                &"5".repeat(32),
            ),
            400,
        ),
        ("garbage", b"[1,2".to_vec(), 400),
        ("huge", vec![b'x'; 100_000], 413),
    ];
    for (what, body, want) in cases {
        let (status, json) = post(&app, "/v1/curation", "127.0.0.1:1", body).await;
        assert_eq!(status, want, "{what}: {json}");
        assert!(json["error"].is_string(), "{what}: {json}");
        assert_eq!(
            db.store.counts().await.unwrap(),
            before,
            "{what} changed the database"
        );
    }
    // The vendor marks its firmware fixed; the operator delists.
    let fix = Change::MarkFixed {
        mac_prefix: "00:17:88/24".parse().unwrap(),
        model: None,
        fixed_in: "4.2".into(),
        reason: "patched".into(),
    };
    let (status, json) = post(
        &app,
        "/v1/curation",
        "127.0.0.1:1",
        curation_env(&vendor, fix, &"6".repeat(32)),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    let (_, json) = get(&app, &format!("/v1/listings/{id}")).await;
    assert_eq!(json["listing"]["matches"]["firmware"]["fixed_in"][0], "4.2");
    let delist = Change::Delist {
        false_positive: false,
        id: id.clone(),
        reason: "withdrawn".into(),
    };
    let (status, _) = post(
        &app,
        "/v1/curation",
        "127.0.0.1:1",
        curation_env(&op, delist, &"7".repeat(32)),
    )
    .await;
    assert_eq!(status, 200);
    let (_, json) = get(&app, "/v1/listings?state=all").await;
    assert_eq!(json["listings"][0]["state"], "delisted");
    let (_, json) = get(&app, "/v1/audit").await;
    let actions: Vec<&str> = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["list", "fix", "fix", "delist"]);
    assert!(json["entries"][3]["actor"]
        .as_str()
        .unwrap()
        .starts_with("operator:ops:"));
    db.drop_pg().await;
}

async fn publish_writes_signed_snapshot_delta_and_timestamp(db: TestDb) {
    use warden_feed::publish::PublishOptions;
    use warden_feed::{Delta, Timestamp, PAYLOAD_DELTA, PAYLOAD_TIMESTAMP};
    use warden_feed_server::publish::{ensure_root, publish_store};
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let listed = list_outbreak(s, &cfg, &device("Cam X1"), NOW).await;
    let op = Actor::Cli {
        user: "carol".into(),
    };
    let manual = Change::List {
        severity: Severity::Vulnerable,
        matches: DeviceMatch {
            mac_prefixes: vec!["00:17:88/24".parse().unwrap()],
            model: Some("Plug".into()),
            ..Default::default()
        },
        action: FeedAction::Notify,
        references: vec![],
        behaviours: vec![],
        reason: "weak default password".into(),
    };
    curation::apply(s, &op, &manual, cfg.weights(), NOW)
        .await
        .unwrap();
    let out = db.dir.path().join("feed");
    let root_key = key(900);
    let feed_key = key(901);
    assert!(ensure_root(&out, Some(&root_key), &feed_key, NOW + 365 * 86400).unwrap());
    assert!(
        !ensure_root(&out, None, &feed_key, NOW).unwrap(),
        "an existing root is kept"
    );
    let ts = publish_store(s, &out, vec![key(901)], PublishOptions::at(NOW))
        .await
        .unwrap();
    assert_eq!((ts.version, ts.snapshot.count), (1, 2));
    let snap = std::fs::read_to_string(out.join(&ts.snapshot.path)).unwrap();
    assert_eq!(snap.lines().count(), 3, "header and two listings");
    assert!(snap.contains(&listed));
    // Delist one; the next version's delta removes it.
    curation::apply(
        s,
        &op,
        &Change::Delist {
            false_positive: false,
            id: listed.clone(),
            reason: "fixed upstream".into(),
        },
        cfg.weights(),
        NOW + 60,
    )
    .await
    .unwrap();
    publish_store(s, &out, vec![key(901)], PublishOptions::at(NOW + 120))
        .await
        .unwrap();
    let env =
        Envelope::from_slice(&std::fs::read(out.join("timestamp.json")).unwrap(), 1 << 20).unwrap();
    let ts: Timestamp = env
        .open(PAYLOAD_TIMESTAMP, &[feed_key.public()], 1)
        .unwrap();
    assert!(
        env.open::<Timestamp>(PAYLOAD_TIMESTAMP, &[root_key.public()], 1)
            .is_err(),
        "signed by the feed key only"
    );
    assert_eq!((ts.version, ts.snapshot.count, ts.deltas.len()), (2, 1, 1));
    let denv = Envelope::from_slice(
        &std::fs::read(out.join(&ts.deltas[0].path)).unwrap(),
        1 << 24,
    )
    .unwrap();
    let delta: Delta = denv.open(PAYLOAD_DELTA, &[feed_key.public()], 1).unwrap();
    assert_eq!(delta.removals, vec![listed]);
    assert!(delta.upserts.is_empty());
    // A key the root did not delegate cannot publish.
    assert!(
        publish_store(s, &out, vec![key(902)], PublishOptions::at(NOW + 180))
            .await
            .is_err()
    );
    db.drop_pg().await;
}

async fn concurrent_ingest_keeps_nonces_and_limits_exact(db: TestDb) {
    let dev = device("Cam X1");
    let same = new_sighting("r1", "n1", &dev);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, x) = (db.store.clone(), same.clone());
            tokio::spawn(async move { s.ingest(&[x], NOW, &params()).await.unwrap()[0] })
        })
        .collect();
    let mut outs = Vec::new();
    for t in tasks {
        outs.push(t.await.unwrap());
    }
    assert_eq!(
        outs.iter().filter(|o| **o == Outcome::Accepted).count(),
        1,
        "{outs:?}"
    );
    let limited = IngestParams {
        reporter_per_hour: 5,
        ..params()
    };
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = db.store.clone();
            let x = new_sighting("r2", &format!("n{i}"), &dev);
            let p = limited.clone();
            tokio::spawn(async move { s.ingest(&[x], NOW, &p).await.unwrap()[0] })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        if t.await.unwrap() == Outcome::Accepted {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 5);
    assert_eq!(db.store.counts().await.unwrap().sightings, 6);
    db.drop_pg().await;
}

async fn api_request_flood_is_refused_before_verification(db: TestDb) {
    let app = app_with(
        db.store.clone(),
        ListingConfig::default(),
        Curators::default(),
        3,
    );
    for _ in 0..3 {
        let (status, _) = post(&app, "/v1/sightings", "198.51.100.7:1", b"junk".to_vec()).await;
        assert_eq!(status, 400);
    }
    let k = key(7);
    let good = sighting(&k, &device("Cam X1"), NOW).sign(&k);
    let before = db.store.counts().await.unwrap();
    for path in ["/v1/sightings", "/v1/sightings/batch"] {
        let (status, json) = post(&app, path, "198.51.100.200:1", good.to_vec()).await;
        assert_eq!(status, 429, "{path}: {json}");
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("requests this minute"),
            "{json}"
        );
    }
    assert_eq!(db.store.counts().await.unwrap(), before);
    // Another network is not affected; the next minute starts afresh.
    assert_eq!(
        post(&app, "/v1/sightings", "198.51.101.7:1", good.to_vec())
            .await
            .0,
        202
    );
    app.clock
        .store(NOW + 60, std::sync::atomic::Ordering::SeqCst);
    let again = sighting(&k, &device("Cam X1"), NOW + 60).sign(&k);
    assert_eq!(
        post(&app, "/v1/sightings", "198.51.100.7:1", again.to_vec())
            .await
            .0,
        202
    );
    db.drop_pg().await;
}

async fn evaluator_lease_has_one_holder_at_a_time(db: TestDb) {
    let s = db.store.as_ref();
    assert!(s.lease("evaluator", "node-a", NOW, NOW + 30).await.unwrap());
    assert!(
        !s.lease("evaluator", "node-b", NOW + 10, NOW + 40)
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        s.lease("evaluator", "node-a", NOW + 10, NOW + 40)
            .await
            .unwrap(),
        "a renews"
    );
    assert!(!s
        .lease("evaluator", "node-b", NOW + 39, NOW + 69)
        .await
        .unwrap());
    assert!(
        s.lease("evaluator", "node-b", NOW + 41, NOW + 71)
            .await
            .unwrap(),
        "a's lease expired"
    );
    assert!(!s
        .lease("evaluator", "node-a", NOW + 42, NOW + 72)
        .await
        .unwrap());
    db.drop_pg().await;
}

async fn false_positive_delist_takes_back_the_weight_it_gave(db: TestDb) {
    let s = db.store.as_ref();
    let cfg = ListingConfig::default();
    let id = list_outbreak(s, &cfg, &device("Cam X1"), NOW).await;
    let g0 = s.reporter("g0").await.unwrap().unwrap();
    assert_eq!(g0.corroborated, 1);
    assert!((g0.weight - 0.6).abs() < 1e-9);
    let op = Actor::Cli {
        user: "dana".into(),
    };
    let change = Change::Delist {
        id: id.clone(),
        reason: "coordinated false reports".into(),
        false_positive: true,
    };
    curation::apply(s, &op, &change, cfg.weights(), NOW + 10)
        .await
        .unwrap();
    let g0 = s.reporter("g0").await.unwrap().unwrap();
    assert_eq!(g0.corroborated, 0);
    assert!((g0.weight - 0.5).abs() < 1e-9, "{}", g0.weight);
    assert_eq!(
        s.audit(0, 10).await.unwrap().last().unwrap().action,
        "delist-false-positive"
    );
    // Doing it twice takes nothing more.
    let change = Change::Delist {
        id,
        reason: "again".into(),
        false_positive: true,
    };
    curation::apply(s, &op, &change, cfg.weights(), NOW + 20)
        .await
        .unwrap();
    assert_eq!(s.reporter("g0").await.unwrap().unwrap().corroborated, 0);
    db.drop_pg().await;
}
