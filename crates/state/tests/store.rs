//! The store against real SQLite files in temporary directories.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use warden_detect::AlertKind;
use warden_policy::{
    Action, Change, Choice, Decision, EndReason, Policy, PolicyConfig, Source, Timestamp,
};
use warden_state::{
    schema, DeviceRecord, OpenOptions, OwnerCommand, Retention, StateError, Store, MAX_TEXT,
};

fn temp() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.db");
    (dir, path)
}

fn pragma(store: &Store, name: &str) -> String {
    store
        .connection()
        .query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .unwrap()
}

#[test]
fn opens_with_wal_full_sync_foreign_keys_and_the_schema() {
    let (_dir, path) = temp();
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as u32
    );
    assert_eq!(pragma(&store, "journal_mode"), "wal");
    assert_eq!(pragma(&store, "synchronous"), "2", "FULL");
    assert_eq!(pragma(&store, "foreign_keys"), "1");
    assert_eq!(pragma(&store, "auto_vacuum"), "2", "INCREMENTAL");
    store.integrity_check().unwrap();
    // Foreign keys hold: an alert for an unknown device is refused.
    let err = store
        .connection()
        .execute(
            "INSERT INTO alerts (device, kind, detected_at, confidence, summary, evidence)
             VALUES ('00:00:00:00:00:01', 'flood', 0, 1.0, 's', '{}')",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    // CHECK constraints hold.
    let err = store
        .connection()
        .execute(
            "INSERT INTO devices (mac, first_seen, last_seen) VALUES ('nonsense', 0, 0)",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("CHECK"), "{err}");
}

#[test]
fn rows_survive_a_reopen() {
    let (_dir, path) = temp();
    let dev = mac(1);
    {
        let mut store = Store::open(&path).unwrap();
        store
            .record_alert(dev, &flood_alert(T0, None), "This device flooded.")
            .unwrap();
        let mut p = Policy::new(PolicyConfig::default()).unwrap();
        let changes = p.on_alert(dev, AlertKind::Flood, &summary(AlertKind::Flood), T0);
        store.record_changes(&changes).unwrap();
        store.set_device_name(dev, Some("Kitchen camera")).unwrap();
    }
    let store = Store::open(&path).unwrap();
    let alerts = store.alerts(Some(dev), 10).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].summary, "This device flooded.");
    assert_eq!(alerts[0].kind, AlertKind::Flood);
    assert_eq!(alerts[0].detected_at, T0);
    assert!((alerts[0].confidence - 0.97).abs() < 1e-6);
    let ev: serde_json::Value = serde_json::from_str(&alerts[0].evidence).unwrap();
    assert_eq!(ev["peak_pps"], 9_000);
    let active = store.active_decisions(T0).unwrap();
    assert_eq!(
        active
            .iter()
            .map(|d| d.action.kind().as_str())
            .collect::<Vec<_>>(),
        ["rate-limit", "block-upnp"]
    );
    assert_eq!(
        store.device(dev).unwrap().unwrap().name.as_deref(),
        Some("Kitchen camera")
    );
    store.integrity_check().unwrap();
}

#[test]
fn a_newer_schema_is_refused_not_damaged() {
    let (_dir, path) = temp();
    drop(Store::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&path).err().expect("refused");
    match &err {
        StateError::TooNew { found, known, .. } => {
            assert_eq!((*found, *known), (99, schema::MIGRATIONS.len() as u32));
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("newer warden"));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99, "left as it was");
}

#[test]
fn migrations_upgrade_in_place_and_keep_data() {
    let (_dir, path) = temp();
    {
        let mut store = Store::open(&path).unwrap();
        store
            .record_alert(mac(1), &flood_alert(T0, None), "kept")
            .unwrap();
    }
    // A later release adds a migration; the file moves up one version.
    let v2 = "ALTER TABLE devices ADD COLUMN room TEXT; \
              UPDATE devices SET room = 'kitchen';";
    let mut migrations = schema::MIGRATIONS.to_vec();
    migrations.push(v2);
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    schema::migrate(&mut conn, &migrations, "test").unwrap();
    assert_eq!(schema::version(&conn).unwrap(), migrations.len() as u32);
    let room: String = conn
        .query_row("SELECT room FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(room, "kitchen");
    // Running it again does nothing.
    schema::migrate(&mut conn, &migrations, "test").unwrap();
    let summary: String = conn
        .query_row("SELECT summary FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(summary, "kept");
    // A failing migration leaves the previous version whole.
    migrations.push("ALTER TABLE devices ADD COLUMN x TEXT; THIS IS NOT SQL;");
    assert!(schema::migrate(&mut conn, &migrations, "test").is_err());
    assert_eq!(schema::version(&conn).unwrap(), migrations.len() as u32 - 1);
    let cols: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('devices') WHERE name = 'x'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(cols, 0, "rolled back");
}

#[test]
fn hostile_strings_stay_data() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).unwrap();
    let hostile = [
        "'); DROP TABLE alerts; --",
        "\"; DELETE FROM decisions; --",
        "Robert'); DROP TABLE devices;--",
        "nul \0 inside",
        "%s %n ?1 ?2 :name @x $y",
        "emoji 🐛 and RTL \u{202e}gnp.exe",
        "line\nbreaks\r\nand\ttabs",
    ];
    for (i, s) in hostile.iter().enumerate() {
        let dev = mac(i as u32);
        let id = store
            .record_alert(dev, &flood_alert(at(i as i64 * S), Some(s)), s)
            .unwrap();
        assert!(store.set_device_name(dev, Some(s)).unwrap());
        store
            .upsert_device(&DeviceRecord {
                mac: dev,
                first_seen: T0,
                last_seen: T0,
                vendor: Some((*s).to_owned()),
                identity: Some(serde_json::json!({ "hostname": s }).to_string()),
            })
            .unwrap();
        let got = store.alerts(Some(dev), 1).unwrap();
        assert_eq!(got[0].id, id);
        assert_eq!(got[0].summary, *s);
        let ev: serde_json::Value = serde_json::from_str(&got[0].evidence).unwrap();
        assert_eq!(ev["dns_domain"], *s);
        let row = store.device(dev).unwrap().unwrap();
        assert_eq!(row.name.as_deref(), Some(*s));
        assert_eq!(row.vendor.as_deref(), Some(*s));
        // Decisions carry the text into reasons.
        let mut p = Policy::new(PolicyConfig::default()).unwrap();
        let changes = p.on_alert(
            dev,
            AlertKind::Scan,
            &warden_policy::AlertSummary::new(*s, *s),
            at(i as i64 * S),
        );
        // Ids from separate policies collide: keep them apart.
        let changes: Vec<Change> = changes
            .into_iter()
            .map(|c| match c {
                Change::Started(mut d) => {
                    d.id += 100 * i as u64;
                    Change::Started(d)
                }
                other => other,
            })
            .collect();
        store.record_changes(&changes).unwrap();
        let d = store.decisions(dev, 1).unwrap();
        assert_eq!(d[0].decision.reason.text, *s);
        assert_eq!(d[0].decision.reason.evidence, *s);
    }
    let [alerts, decisions, _, devices, _] = store.counts().unwrap();
    assert_eq!((alerts, decisions, devices), (7, 7, 7));
    store.integrity_check().unwrap();

    // Oversized text is cut, at a character boundary.
    let huge = "é".repeat(20_000);
    store
        .record_alert(mac(99), &flood_alert(T0, None), &huge)
        .unwrap();
    let s = &store.alerts(Some(mac(99)), 1).unwrap()[0].summary;
    assert!(s.len() <= MAX_TEXT && s.len() >= MAX_TEXT - 1 && s.chars().all(|c| c == 'é'));
}

#[test]
fn upsert_widens_times_keeps_the_name_and_ignores_bad_identity() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).unwrap();
    let dev = mac(5);
    let rec = |first: i64, last: i64, vendor: Option<&str>, identity: Option<&str>| DeviceRecord {
        mac: dev,
        first_seen: at(first),
        last_seen: at(last),
        vendor: vendor.map(str::to_owned),
        identity: identity.map(str::to_owned),
    };
    store
        .upsert_device(&rec(10, 20, Some("ACME"), Some(r#"{"model":"cam"}"#)))
        .unwrap();
    store.set_device_name(dev, Some("Door")).unwrap();
    store
        .upsert_device(&rec(5, 15, None, Some("{not json")))
        .unwrap();
    let row = store.device(dev).unwrap().unwrap();
    assert_eq!((row.first_seen, row.last_seen), (at(5), at(20)));
    assert_eq!(row.vendor.as_deref(), Some("ACME"));
    assert_eq!(row.identity.as_deref(), Some(r#"{"model":"cam"}"#));
    assert_eq!(row.name.as_deref(), Some("Door"));
    assert!(!store.set_device_name(mac(6), Some("nobody")).unwrap());

    // From the pipeline's device table.
    let mut table = warden_devices::DeviceTable::new(8, 600);
    let i = table.find_or_insert(mac(7), T0.0).unwrap();
    let d = DeviceRecord::from_device(table.get(i));
    assert_eq!(d.first_seen, T0);
    assert!(serde_json::from_str::<serde_json::Value>(d.identity.as_deref().unwrap()).is_ok());
    store.upsert_devices(&[d]).unwrap();
    assert_eq!(store.devices().unwrap().len(), 2);
}

#[test]
fn a_batch_is_all_or_nothing() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).unwrap();
    let mut p = Policy::new(PolicyConfig::default()).unwrap();
    let first = p.on_alert(mac(1), AlertKind::Scan, &summary(AlertKind::Scan), T0);
    store.record_changes(&first).unwrap();
    let before = store.counts().unwrap();
    // A batch whose last change repeats a stored id fails as a whole.
    let mut batch = p.on_alert(mac(2), AlertKind::Flood, &summary(AlertKind::Flood), T0);
    batch.push(first[0].clone());
    assert!(store.record_changes(&batch).is_err());
    assert_eq!(store.counts().unwrap(), before);
    assert!(store.device(mac(2)).unwrap().is_none());
    assert_eq!(store.active_decisions(T0).unwrap().len(), 1);
}

#[test]
fn a_restart_neither_loses_a_quarantine_nor_leaves_a_stale_one() {
    let (_dir, path) = temp();
    let cfg = PolicyConfig::default();
    let owner_q = mac(1);
    let flooder = mac(2);
    let released = mac(3);
    {
        let mut store = Store::open(&path).unwrap();
        let mut p = Policy::new(cfg.clone()).unwrap();
        for changes in [
            p.quarantine(owner_q, T0),
            p.on_alert(flooder, AlertKind::Flood, &summary(AlertKind::Flood), T0),
            p.on_alert(released, AlertKind::Scan, &summary(AlertKind::Scan), T0),
            p.release(released, at(60 * S)),
        ] {
            store.record_changes(&changes).unwrap();
        }
        // warden stops here; two hours pass.
    }
    let now = at(2 * H);
    let store = Store::open(&path).unwrap();
    let active = store.active_decisions(now).unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(
        (active[0].device, &active[0].source, active[0].action),
        (owner_q, &Source::Owner, Action::Quarantine)
    );
    let mut store = store;
    let (mut p, repairs) = Policy::restore(cfg, store.policy_state().unwrap(), now).unwrap();
    assert!(repairs.is_empty());
    assert_eq!(p.active(now).cloned().collect::<Vec<Decision>>(), active);
    // The first tick ends what expired while warden was down, and the
    // store then holds no open decision that is not in force.
    let ended = p.tick(now);
    assert_eq!(ended.len(), 2, "flood's rate-limit and block-upnp");
    store.record_changes(&ended).unwrap();
    let open = store.policy_state().unwrap().decisions;
    assert_eq!(open, active);
    // The flooder's record survived: a new flood is a repeat (quarantine).
    let changes = p.on_alert(flooder, AlertKind::Flood, &summary(AlertKind::Flood), now);
    let started: Vec<&Decision> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Started(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(started[0].action, Action::Quarantine);
    assert_eq!(started[0].id, 5, "ids go on after the stored ones");
    assert_eq!(
        store
            .owner_choices()
            .unwrap()
            .iter()
            .map(|o| (o.device, o.choice))
            .collect::<Vec<_>>(),
        vec![(owner_q, Choice::Quarantine)]
    );
}

// ---- property-style: random policy calls recorded through SQLite, with
// reopen and restore at random points, must behave exactly like a policy
// that never stopped.

#[derive(Clone, Copy, Debug)]
enum Op {
    Alert(u32, AlertKind),
    Ongoing(u32, AlertKind),
    Tick,
    Trust(u32),
    Release(u32),
    Quarantine(u32),
    Restart,
}

fn random_ops(seed: u64, n: usize) -> Vec<(i64, Op)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let steps = [S, 30 * S, 600 * S, H, 6 * H, 2 * 24 * H];
    let mut now = 0;
    (0..n)
        .map(|_| {
            now += steps[rng.gen_range(0..steps.len())] * rng.gen_range(0..3);
            let dev = rng.gen_range(0..6u32);
            let kind = AlertKind::ALL[rng.gen_range(0..4)];
            let op = match rng.gen_range(0..100) {
                0..=37 => Op::Alert(dev, kind),
                38..=59 => Op::Ongoing(dev, kind),
                60..=79 => Op::Tick,
                80..=85 => Op::Trust(dev),
                86..=90 => Op::Release(dev),
                91..=95 => Op::Quarantine(dev),
                _ => Op::Restart,
            };
            (now, op)
        })
        .collect()
}

fn apply(p: &mut Policy, now: Timestamp, op: Op) -> Vec<Change> {
    match op {
        Op::Alert(d, k) => p.on_alert(mac(d), k, &summary(k), now),
        Op::Ongoing(d, k) => p.on_ongoing(mac(d), k, &summary(k), now),
        Op::Tick => p.tick(now),
        Op::Trust(d) => p.trust(mac(d), now),
        Op::Release(d) => p.release(mac(d), now),
        Op::Quarantine(d) => p.quarantine(mac(d), now),
        Op::Restart => Vec::new(),
    }
}

#[test]
fn save_reopen_restore_gives_the_same_policy() {
    let mut restarts = 0;
    for seed in 0..40 {
        let (_dir, path) = temp();
        let cfg = PolicyConfig::default();
        let mut original = Policy::new(cfg.clone()).unwrap();
        let mut live = Policy::new(cfg.clone()).unwrap();
        let mut store = Store::open(&path).unwrap();
        for (t, op) in random_ops(seed, 150) {
            let now = at(t);
            if let Op::Restart = op {
                drop(store);
                store = Store::open(&path).unwrap();
                let (restored, repairs) =
                    Policy::restore(cfg.clone(), store.policy_state().unwrap(), now).unwrap();
                assert!(repairs.is_empty(), "seed {seed}: {repairs:?}");
                live = restored;
                restarts += 1;
                assert_eq!(
                    store.active_decisions(now).unwrap(),
                    original.active(now).cloned().collect::<Vec<_>>(),
                    "seed {seed}: the stored active set"
                );
                continue;
            }
            let want = apply(&mut original, now, op);
            let got = apply(&mut live, now, op);
            assert_eq!(got, want, "seed {seed} {op:?}");
            store.record_changes(&got).unwrap();
            assert_eq!(
                live.active(now).collect::<Vec<_>>(),
                original.active(now).collect::<Vec<_>>()
            );
        }
        let end = at(400 * 24 * H);
        assert_eq!(
            store.policy_state().unwrap().decisions,
            original.snapshot(end).decisions,
            "seed {seed}"
        );
        store.integrity_check().unwrap();
    }
    assert!(restarts > 40, "restarts exercised: {restarts}");
}

#[test]
fn the_timeline_tells_what_happened_newest_first() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).unwrap();
    let mut p = Policy::new(PolicyConfig::default()).unwrap();
    let dev = mac(0x0e);
    store
        .record_alert(dev, &flood_alert(T0, None), "The camera flooded.")
        .unwrap();
    store
        .record_changes(&p.on_alert(dev, AlertKind::Flood, &summary(AlertKind::Flood), T0))
        .unwrap();
    store.record_changes(&p.trust(dev, at(S))).unwrap();
    store
        .record_event(at(2 * S), None, "start", "warden started.")
        .unwrap();
    let tl = store.timeline(100).unwrap();
    let kinds: Vec<&str> = tl.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "start",
            "owner-trust",
            "decision-ended",
            "decision-ended",
            "decision-started",
            "decision-started",
            "alert"
        ]
    );
    assert_eq!(tl[6].message, "The camera flooded.");
    assert!(tl[4].message.contains("warden"), "{}", tl[4].message);
    assert!(tl[2].message.contains("because you trust it"));
    assert_eq!(tl[1].device, Some(dev));
    assert_eq!(store.timeline(2).unwrap().len(), 2);
    // The stored change is there in full for the dashboard.
    let data: String = store
        .connection()
        .query_row(
            "SELECT data FROM events WHERE kind = 'owner-trust'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(v["choice"], "trust");
}

#[test]
fn retention_bounds_every_table_and_keeps_what_must_stay() {
    let (_dir, path) = temp();
    let mut store = Store::open_with(
        &path,
        &OpenOptions {
            durability: warden_state::Durability::Normal,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let cfg = PolicyConfig::default();
    let mut p = Policy::new(cfg).unwrap();
    // 200 days of a busy network: 3,000 devices, alerts and decisions.
    let day = 24 * H;
    for i in 0..3_000u32 {
        let now = at(i64::from(i) * day / 15);
        let dev = mac(i);
        store
            .upsert_device(&DeviceRecord {
                mac: dev,
                first_seen: now,
                last_seen: now,
                vendor: None,
                identity: None,
            })
            .unwrap();
        store
            .record_alert(dev, &flood_alert(now, None), "x")
            .unwrap();
        let mut changes = p.on_alert(dev, AlertKind::Scan, &summary(AlertKind::Scan), now);
        changes.extend(p.tick(now));
        store.record_changes(&changes).unwrap();
    }
    // Long ago, the owner quarantined one device; it must stay.
    store.record_changes(&p.quarantine(mac(0), at(S))).unwrap();
    let now = at(200 * day);
    store.record_changes(&p.tick(now)).unwrap();
    let pages_before: i64 = store
        .connection()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();

    let keep = Retention {
        keep_days: 30,
        max_rows: 500,
    };
    let report = store.retention(now, &keep).unwrap();
    let [alerts, decisions, events, devices, owners] = store.counts().unwrap();
    assert!(alerts <= 500 && decisions <= 500 + 1 && events <= 500 && devices <= 500 + 1);
    assert!(report.alerts > 0 && report.devices > 0 && report.events > 0 && report.decisions > 0);
    assert_eq!(owners, 1);
    // Nothing older than 30 days is left, except what must stay.
    let old: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM alerts WHERE detected_at < ?1",
            [at(170 * day).0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0);
    let active = store.active_decisions(now).unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].device, mac(0));
    assert!(store.device(mac(0)).unwrap().is_some());
    let pages_after: i64 = store
        .connection()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    assert!(pages_after < pages_before, "{pages_after} < {pages_before}");
    store.integrity_check().unwrap();
    // Restoring after retention still gives the same active set.
    let (restored, _) =
        Policy::restore(PolicyConfig::default(), store.policy_state().unwrap(), now).unwrap();
    assert_eq!(restored.active(now).cloned().collect::<Vec<_>>(), active);
    // Idempotent.
    let again = store.retention(now, &keep).unwrap();
    assert_eq!(again, warden_state::RetentionReport::default());
}

#[test]
fn a_reader_is_never_blocked_by_the_writer() {
    let (_dir, path) = temp();
    drop(Store::open(&path).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let writes = 300;
    let writer = {
        let path = path.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let mut store = Store::open(&path).unwrap();
            let mut p = Policy::new(PolicyConfig::default()).unwrap();
            for i in 0..writes {
                let now = at(i64::from(i) * S);
                store
                    .record_alert(mac(i), &flood_alert(now, None), "flood")
                    .unwrap();
                let changes = p.on_alert(mac(i), AlertKind::Flood, &summary(AlertKind::Flood), now);
                store.record_changes(&changes).unwrap();
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let reader = Store::open_with(
        &path,
        &OpenOptions {
            read_only: true,
            busy_timeout: std::time::Duration::ZERO,
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let mut reads = 0u64;
    let mut last = [0u64; 5];
    loop {
        let finished = done.load(Ordering::SeqCst);
        // With no busy timeout at all, any lock wait would be an error.
        let counts = reader.counts().unwrap();
        let state = reader.policy_state().unwrap();
        assert!(
            counts[0] >= last[0] && counts[1] >= last[1],
            "never goes back"
        );
        // A consistent snapshot: each flood's two decisions appear together.
        assert_eq!(state.decisions.len() % 2, 0);
        last = counts;
        reads += 1;
        if finished {
            break;
        }
    }
    writer.join().unwrap();
    let counts = reader.counts().unwrap();
    assert_eq!(counts[0], u64::from(writes));
    assert_eq!(counts[1], 2 * u64::from(writes));
    assert!(reads > 10, "reads {reads}");
    // A read-only store cannot write.
    assert!(reader
        .connection()
        .execute("DELETE FROM alerts", [])
        .is_err());
}

#[test]
fn restore_ends_expired_decisions_with_their_reasons() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).unwrap();
    let mut p = Policy::new(PolicyConfig::default()).unwrap();
    store
        .record_changes(&p.on_alert(mac(1), AlertKind::Spam, &summary(AlertKind::Spam), T0))
        .unwrap();
    let later = at(3 * H);
    let ended = p.tick(later);
    store.record_changes(&ended).unwrap();
    let rows = store.decisions(mac(1), 10).unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r.ended_at, Some(later));
        assert_eq!(r.end_reason.as_deref(), Some(EndReason::Expired.as_str()));
    }
    assert!(store.active_decisions(later).unwrap().is_empty());
}

fn used_bytes(store: &Store) -> i64 {
    store
        .connection()
        .query_row(
            "SELECT (page_count - freelist_count) * page_size
             FROM pragma_page_count, pragma_freelist_count, pragma_page_size",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// The figures behind the retention defaults (docs/policy.md): run with
/// `--nocapture` to see them.
#[test]
fn rows_cost_about_a_kilobyte() {
    let n = 2_000u32;
    let fast = OpenOptions {
        durability: warden_state::Durability::Normal,
        ..OpenOptions::default()
    };
    let sentence = "This D-Link device (DCS-935L) sent 9,000 UDP packets per second to one internet address (203.0.113.5) for 3 seconds: it is probably part of a botnet attack.";

    let (_dir, path) = temp();
    let mut store = Store::open_with(&path, &fast).unwrap();
    let empty = used_bytes(&store);
    for i in 0..n {
        store
            .record_alert(
                mac(i % 250),
                &flood_alert(at(i64::from(i) * S), None),
                sentence,
            )
            .unwrap();
    }
    let per_alert = (used_bytes(&store) - empty) / i64::from(n);

    let (_dir2, path2) = temp();
    let mut store = Store::open_with(&path2, &fast).unwrap();
    let empty = used_bytes(&store);
    let mut p = Policy::new(PolicyConfig {
        max_devices: 1 << 20,
        ..PolicyConfig::default()
    })
    .unwrap();
    let s = warden_policy::AlertSummary::new(sentence, "udp flood: peak 9000 packets/s and 4608000 bytes/s, 3 hot seconds, 27000 packets, top target 203.0.113.5 (100 %), confidence 0.97");
    let mut decisions = 0;
    for i in 0..n {
        let changes = p.on_alert(mac(i), AlertKind::Flood, &s, at(i64::from(i) * S));
        decisions += changes
            .iter()
            .filter(|c| matches!(c, Change::Started(_)))
            .count() as i64;
        store.record_changes(&changes).unwrap();
    }
    let per_decision = (used_bytes(&store) - empty) / decisions;
    eprintln!(
        "bytes per stored alert (with its timeline event): {per_alert}; \
         per decision (with its event and a share of its device row): {per_decision}"
    );
    assert!(per_alert > 200 && per_alert < 2_048, "{per_alert}");
    assert!(per_decision > 200 && per_decision < 4_096, "{per_decision}");
}

#[test]
fn owner_commands_queue_for_the_daemon_in_order() {
    let (_dir, path) = temp();
    let mac: warden_policy::Mac = "aa:bb:cc:00:00:01".parse().unwrap();
    let mut cli = Store::open(&path).unwrap();
    let a = cli
        .queue_command(mac, OwnerCommand::Quarantine, Timestamp(10))
        .unwrap();
    let b = cli
        .queue_command(mac, OwnerCommand::Release, Timestamp(20))
        .unwrap();
    // The daemon (another connection) sees both, oldest first.
    let mut daemon = Store::open(&path).unwrap();
    let pending = daemon.pending_commands().unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|c| (c.id, c.command))
            .collect::<Vec<_>>(),
        [(a, OwnerCommand::Quarantine), (b, OwnerCommand::Release)]
    );
    daemon.finish_command(a, Timestamp(30)).unwrap();
    let pending = daemon.pending_commands().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].device, mac);
    // Nothing but the three commands is accepted.
    assert!(daemon
        .connection()
        .execute(
            "INSERT INTO owner_commands (device, command, at) VALUES ('aa:bb:cc:00:00:01', 'drop table', 1)",
            [],
        )
        .is_err());
}

#[test]
fn a_version_2_database_keeps_its_rows_and_takes_profile_violations_and_mappings() {
    let (_dir, path) = temp();
    {
        // A database as version 2 left it, with an alert and a command.
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        schema::migrate(&mut conn, &schema::MIGRATIONS[..2], "old").unwrap();
        conn.execute_batch(
            "INSERT INTO devices (mac, first_seen, last_seen) VALUES ('00:00:00:00:00:01', 0, 0);
             INSERT INTO alerts (device, kind, detected_at, confidence, summary, evidence)
                 VALUES ('00:00:00:00:00:01', 'scan', 5, 1.0, 'old alert', '{}');
             INSERT INTO owner_commands (device, command, at) VALUES ('00:00:00:00:00:01', 'trust', 7);",
        )
        .unwrap();
        assert!(conn
            .execute(
                "INSERT INTO alerts (device, kind, detected_at, confidence, summary, evidence)
                 VALUES ('00:00:00:00:00:01', 'profile-violation', 6, 1.0, 's', '{}')",
                [],
            )
            .is_err());
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as u32
    );
    store.integrity_check().unwrap();
    let kept: (String, i64) = store
        .connection()
        .query_row("SELECT summary, detected_at FROM alerts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(kept, ("old alert".to_owned(), 5));
    assert_eq!(store.pending_commands().unwrap().len(), 1);
    store
        .connection()
        .execute(
            "INSERT INTO alerts (device, kind, detected_at, confidence, summary, evidence)
             VALUES ('00:00:00:00:00:01', 'profile-violation', 6, 1.0, 's', '{}')",
            [],
        )
        .unwrap();
    let device = mac(1);
    store
        .queue_command(device, OwnerCommand::Profile, at(8))
        .unwrap();
    assert_eq!(
        store.pending_commands().unwrap()[1].command,
        OwnerCommand::Profile
    );
    let m = warden_state::ProfileMapping {
        source: "model".into(),
        label: "cam.yaml".into(),
        network: Some(r#"{"flows":[]}"#.into()),
        since: at(9),
    };
    store.set_profile_mapping(device, &m).unwrap();
    assert_eq!(store.profile_mapping(device).unwrap(), Some(m));
    let none = warden_state::ProfileMapping {
        source: "none".into(),
        label: "the owner".into(),
        network: None,
        since: at(10),
    };
    store.set_profile_mapping(device, &none).unwrap();
    assert_eq!(store.profile_mappings().unwrap(), vec![(device, none)]);
    // `none` carries no profile, and anything else must.
    let bad = warden_state::ProfileMapping {
        source: "model".into(),
        label: "x".into(),
        network: None,
        since: at(11),
    };
    assert!(store.set_profile_mapping(mac(2), &bad).is_err());
}

#[test]
fn learned_profiles_are_replaced_per_device_and_go_with_it() {
    let (_dir, path) = temp();
    let mut store = Store::open(&path).unwrap();
    let device = mac(3);
    assert_eq!(store.learned_profile(device).unwrap(), None);
    let mut l = warden_state::LearnedProfile {
        since: at(1),
        updated: at(2),
        network: r#"{"flows":[]}"#.into(),
        unnamed: 2,
    };
    store.set_learned_profile(device, &l).unwrap();
    l.updated = at(5);
    l.unnamed = 3;
    store.set_learned_profile(device, &l).unwrap();
    assert_eq!(store.learned_profile(device).unwrap(), Some(l.clone()));
    l.network = "not json".into();
    assert!(store.set_learned_profile(device, &l).is_err());
}
