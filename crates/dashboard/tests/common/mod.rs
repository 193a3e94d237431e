//! A state database with hostile names, a quarantine, a feed listing and a
//! quiet device; helpers shared by the tests.
#![allow(dead_code)]

use std::path::Path;

use warden_decode::Mac;
use warden_detect::{Alert, AlertKind, Evidence, ScanEvidence, Timestamp};
use warden_policy::{Action, Change, Decision, Reason, Source};
use warden_state::{DeviceRecord, Store};

/// What a hostile device calls itself (DHCP hostname, model, vendor), and
/// what its alert and the timeline say.
pub const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

pub fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

pub const EVIL: &str = "02:00:00:00:00:01";
pub const QUIET: &str = "02:00:00:00:00:02";
pub const LISTED: &str = "02:00:00:00:00:03";
pub const LIMITED: &str = "02:00:00:00:00:04";
pub const WATCHED: &str = "02:00:00:00:00:05";

pub fn now() -> Timestamp {
    Timestamp(time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64)
}

const HOUR: i64 = 3_600 * 1_000_000_000;

fn decision(id: u64, device: &str, action: Action, source: Source, text: &str) -> Decision {
    let start = Timestamp(now().0 - 60 * 1_000_000_000);
    Decision {
        id,
        device: mac(device),
        action,
        reason: Reason {
            alert: match &source {
                Source::Automatic { alert } => Some(*alert),
                _ => None,
            },
            text: text.to_owned(),
            evidence: format!("evidence {HOSTILE}"),
        },
        source,
        start,
        expires: Some(Timestamp(start.0 + HOUR)),
        escalation_level: 0,
    }
}

/// Fills `db` with three devices: a hostile-named scanner in quarantine,
/// a quiet one, and one a feed listing limits.
pub fn fill(db: &Path) {
    let mut store = Store::open(db).unwrap();
    let t = now();
    let identity = serde_json::json!({
        "hostname": HOSTILE,
        "model": HOSTILE,
        "firmware": "1.0<b>",
    })
    .to_string();
    store
        .upsert_devices(&[
            DeviceRecord {
                mac: mac(EVIL),
                first_seen: Timestamp(t.0 - 2 * HOUR),
                last_seen: t,
                vendor: Some(HOSTILE.to_owned()),
                identity: Some(identity),
            },
            DeviceRecord {
                mac: mac(QUIET),
                first_seen: Timestamp(t.0 - 2 * HOUR),
                last_seen: Timestamp(t.0 - HOUR),
                vendor: Some("Quiet Devices Ltd".to_owned()),
                identity: Some(r#"{"hostname":"kitchen-plug","model":"Plug Mini"}"#.to_owned()),
            },
            DeviceRecord {
                mac: mac(LISTED),
                first_seen: Timestamp(t.0 - 2 * HOUR),
                last_seen: Timestamp(t.0 - 2 * HOUR),
                vendor: Some("Camera Co".to_owned()),
                identity: None,
            },
            DeviceRecord {
                mac: mac(LIMITED),
                first_seen: Timestamp(t.0 - 3 * HOUR),
                last_seen: Timestamp(t.0 - 3 * HOUR),
                vendor: None,
                identity: None,
            },
            DeviceRecord {
                mac: mac(WATCHED),
                first_seen: Timestamp(t.0 - 4 * HOUR),
                last_seen: Timestamp(t.0 - 4 * HOUR),
                vendor: None,
                identity: None,
            },
        ])
        .unwrap();
    let alert = Alert {
        kind: AlertKind::Scan,
        detected_at: Timestamp(t.0 - 60 * 1_000_000_000),
        confidence: 0.9,
        evidence: Evidence::Scan(ScanEvidence {
            first_seen: Timestamp(t.0 - 70 * 1_000_000_000),
            last_seen: Timestamp(t.0 - 60 * 1_000_000_000),
            attempts: 40,
            failed: 38,
            answered: 2,
            rate_per_s: 4.0,
            likelihood_ratio_log: 9.2,
            top_ports: Vec::new(),
            sample_targets: Vec::new(),
        }),
    };
    store
        .record_alert(
            mac(EVIL),
            &alert,
            &format!("It scanned 40 addresses {HOSTILE}"),
        )
        .unwrap();
    // An alert two hours ago and no decision: watched.
    let mut old_alert = alert.clone();
    old_alert.detected_at = Timestamp(t.0 - 2 * HOUR);
    store
        .record_alert(mac(WATCHED), &old_alert, "It scanned, briefly.")
        .unwrap();
    store
        .record_changes(&[
            Change::Started(decision(
                1,
                EVIL,
                Action::Quarantine,
                Source::Automatic {
                    alert: AlertKind::Scan,
                },
                &format!("It was scanning for devices to break into {HOSTILE}"),
            )),
            Change::Started(decision(
                2,
                LISTED,
                Action::Quarantine,
                Source::Feed {
                    entry: "WF-2026-0001".to_owned(),
                },
                "The feed lists this camera's firmware as being taken over.",
            )),
            Change::Started(decision(
                3,
                LIMITED,
                Action::RateLimit {
                    packets_per_s: 100,
                    bytes_per_s: 125_000,
                },
                Source::Automatic {
                    alert: AlertKind::Flood,
                },
                "It flooded a host on the internet.",
            )),
        ])
        .unwrap();
    store
        .record_event(t, Some(mac(EVIL)), "note", &format!("timeline {HOSTILE}"))
        .unwrap();
}

/// The value of `name="csrf" value="..."` in a page.
pub fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + 64].to_owned()
}
