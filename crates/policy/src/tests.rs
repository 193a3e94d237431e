use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

const S: i64 = 1_000_000_000;
const H: i64 = 3_600 * S;
const T0: Timestamp = Timestamp(1_768_478_400 * S); // 2026-01-15T12:00:00Z

fn mac(n: u8) -> Mac {
    Mac([0x00, 0x11, 0x22, 0x33, 0x44, n])
}

fn at(ns: i64) -> Timestamp {
    Timestamp(T0.0 + ns)
}

fn summary(kind: AlertKind) -> AlertSummary {
    AlertSummary::new(
        format!("This device did a {kind}."),
        format!("{kind}: some figures"),
    )
}

fn policy() -> Policy {
    Policy::new(PolicyConfig::default()).unwrap()
}

fn started(changes: &[Change]) -> Vec<&Decision> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Started(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn ended(changes: &[Change]) -> Vec<(u64, ActionKind, EndReason)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Ended {
                id, action, why, ..
            } => Some((*id, action.kind(), *why)),
            _ => None,
        })
        .collect()
}

fn active_kinds(p: &Policy, dev: Mac, now: Timestamp) -> Vec<ActionKind> {
    p.active_for(dev, now)
        .iter()
        .map(|d| d.action.kind())
        .collect()
}

#[test]
fn defaults_per_kind() {
    let rl = Action::RateLimit {
        packets_per_s: 100,
        bytes_per_s: 125_000,
    };
    for (kind, want) in [
        (AlertKind::Flood, vec![rl, Action::BlockUpnp]),
        (AlertKind::Scan, vec![Action::Quarantine]),
        (AlertKind::Spam, vec![Action::BlockSmtp, Action::BlockUpnp]),
        (AlertKind::BruteForce, vec![Action::Quarantine]),
    ] {
        let mut p = policy();
        let changes = p.on_alert(mac(1), kind, &summary(kind), T0);
        let got = started(&changes);
        assert_eq!(
            got.iter().map(|d| d.action).collect::<Vec<_>>(),
            want,
            "{kind}"
        );
        for d in got {
            assert_eq!(d.device, mac(1));
            assert_eq!(d.start, T0);
            assert_eq!(d.expires, Some(at(H)), "{kind}: one hour");
            assert_eq!(d.escalation_level, 0);
            assert_eq!(d.source, Source::Automatic { alert: kind });
            assert_eq!(d.reason.alert, Some(kind));
            assert_eq!(d.reason.text, summary(kind).text);
            assert_eq!(d.reason.evidence, summary(kind).evidence);
        }
        assert_eq!(
            changes.last(),
            Some(&Change::Escalation(Escalation {
                device: mac(1),
                level: 0,
                until: Some(at(H + 24 * H)),
            }))
        );
        assert_eq!(p.active(T0).count(), want.len());
    }
}

#[test]
fn decisions_expire_at_their_time_and_not_before() {
    let mut p = policy();
    p.on_alert(mac(1), AlertKind::Scan, &summary(AlertKind::Scan), T0);
    assert_eq!(p.next_expiry(), Some(at(H)));
    assert!(p.tick(at(H - 1)).is_empty());
    assert_eq!(p.active(at(H - 1)).count(), 1);
    // In force up to, not at, its expiry, even before a tick says so.
    assert_eq!(p.active(at(H)).count(), 0);
    let changes = p.tick(at(H));
    assert_eq!(
        ended(&changes),
        vec![(1, ActionKind::Quarantine, EndReason::Expired)]
    );
    assert!(p.tick(at(2 * H)).is_empty());
    assert_eq!(p.next_expiry(), None);
    // The escalation memory outlives the decision...
    assert_eq!(p.escalation(mac(1), at(2 * H)).level, 0);
    assert_eq!(p.escalation(mac(1), at(2 * H)).until, Some(at(25 * H)));
    assert_eq!(p.stats().devices, 1);
    // ...and is forgotten once it runs out.
    p.tick(at(25 * H));
    assert_eq!(p.stats().devices, 0);
}

#[test]
fn repeated_floods_escalate_from_rate_limit_to_quarantine_with_doubling_lifetimes() {
    let mut p = policy();
    let dev = mac(7);
    let flood = summary(AlertKind::Flood);
    p.on_alert(dev, AlertKind::Flood, &flood, T0);
    assert_eq!(
        active_kinds(&p, dev, T0),
        vec![ActionKind::RateLimit, ActionKind::BlockUpnp]
    );

    // Second flood while still limited: the limit gives way to quarantine.
    let t1 = at(10 * 60 * S);
    let changes = p.on_alert(dev, AlertKind::Flood, &flood, t1);
    assert_eq!(
        ended(&changes),
        vec![
            (1, ActionKind::RateLimit, EndReason::Escalated),
            (2, ActionKind::BlockUpnp, EndReason::Escalated)
        ]
    );
    let q = started(&changes);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].action, Action::Quarantine);
    assert_eq!(q[0].escalation_level, 1);
    assert_eq!(q[0].expires, Some(Timestamp(t1.0 + 2 * H)));
    assert_eq!(active_kinds(&p, dev, t1), vec![ActionKind::Quarantine]);

    // Later repeats (after the quarantine ran out, within the window)
    // double again, then stop at a week.
    let mut now = t1;
    let mut lifetimes = Vec::new();
    for _ in 0..10 {
        let expires = p.active_for(dev, now)[0].expires.unwrap();
        now = Timestamp(expires.0 + H); // an hour of quiet, then again
        let changes = p.on_alert(dev, AlertKind::Flood, &flood, now);
        assert_eq!(
            ended(&changes)[0].2,
            EndReason::Expired,
            "the old one ended first"
        );
        let d = started(&changes)[0];
        assert_eq!(d.action, Action::Quarantine);
        lifetimes.push((d.expires.unwrap().0 - d.start.0) / H);
    }
    assert_eq!(lifetimes, vec![4, 8, 16, 32, 64, 128, 168, 168, 168, 168]);
    assert_eq!(p.escalation(dev, now).level, 11);

    // A full window of good behaviour after the last expiry: a first offence.
    let last = p.active_for(dev, now)[0].expires.unwrap();
    let later = Timestamp(last.0 + 24 * H);
    p.tick(later);
    let changes = p.on_alert(dev, AlertKind::Flood, &flood, later);
    let fresh = started(&changes);
    assert_eq!(fresh[0].escalation_level, 0);
    assert_eq!(fresh[0].action.kind(), ActionKind::RateLimit);
    assert_eq!(fresh[0].expires, Some(Timestamp(later.0 + H)));
}

#[test]
fn just_inside_and_just_outside_the_window() {
    for (gap, level) in [(24 * H - 1, 1), (24 * H, 0)] {
        let mut p = policy();
        p.on_alert(mac(1), AlertKind::Scan, &summary(AlertKind::Scan), T0);
        let now = at(H + gap);
        let changes = p.on_alert(mac(1), AlertKind::Scan, &summary(AlertKind::Scan), now);
        assert_eq!(started(&changes)[0].escalation_level, level, "gap {gap}");
    }
}

#[test]
fn spam_quarantines_on_the_third_offence() {
    let mut p = policy();
    let dev = mac(2);
    let spam = summary(AlertKind::Spam);
    let mut now = T0;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let changes = p.on_alert(dev, AlertKind::Spam, &spam, now);
        seen.push(
            started(&changes)
                .iter()
                .map(|d| d.action.kind())
                .collect::<Vec<_>>(),
        );
        now = Timestamp(now.0 + 3 * H);
    }
    assert_eq!(
        seen,
        vec![
            vec![ActionKind::BlockSmtp, ActionKind::BlockUpnp],
            vec![ActionKind::BlockSmtp, ActionKind::BlockUpnp],
            vec![ActionKind::Quarantine]
        ]
    );
}

#[test]
fn a_repeat_of_another_kind_extends_the_same_action() {
    let mut p = policy();
    let dev = mac(3);
    p.on_alert(dev, AlertKind::Scan, &summary(AlertKind::Scan), T0);
    let t = at(5 * S);
    let changes = p.on_alert(
        dev,
        AlertKind::BruteForce,
        &summary(AlertKind::BruteForce),
        t,
    );
    assert!(started(&changes).is_empty(), "{changes:?}");
    assert_eq!(
        changes[0],
        Change::Extended {
            id: 1,
            device: dev,
            action: ActionKind::Quarantine,
            expires: Some(Timestamp(t.0 + 2 * H)),
            escalation_level: 1,
            at: t,
        }
    );
    let active: Vec<&Decision> = p.active(t).collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].reason.alert, Some(AlertKind::Scan));
}

#[test]
fn an_ongoing_incident_keeps_its_decision_alive_with_few_changes() {
    let mut p = policy();
    let dev = mac(4);
    let flood = summary(AlertKind::Flood);
    p.on_alert(dev, AlertKind::Flood, &flood, T0);
    // The flood goes on for six hours, updated every second.
    let mut extended = 0;
    for s in 1..=6 * 3_600 {
        let now = at(s * S);
        let mut changes = p.on_ongoing(dev, AlertKind::Flood, &flood, now);
        changes.extend(p.tick(now));
        assert!(
            ended(&changes).is_empty(),
            "nothing may end under a live attack: {changes:?}"
        );
        assert!(started(&changes).is_empty());
        extended += changes
            .iter()
            .filter(|c| matches!(c, Change::Extended { .. }))
            .count();
        assert_eq!(active_kinds(&p, dev, now).len(), 2);
    }
    // Two decisions, each extended when half its hour is left: at 30 min
    // + 1 s, then every 30 min + 1 s, 11 times in 6 hours.
    assert_eq!(extended, 2 * 11);
    // It stops: the limit ends about an hour later, at the latest.
    let last = p.next_expiry().unwrap();
    assert!(last.0 - at(6 * H).0 <= H && last.0 - at(6 * H).0 > H / 2);
    assert_eq!(ended(&p.tick(last)).len(), 2);
}

#[test]
fn ongoing_without_a_decision_is_a_new_offence() {
    let mut p = policy();
    let dev = mac(5);
    let changes = p.on_ongoing(dev, AlertKind::Scan, &summary(AlertKind::Scan), T0);
    assert_eq!(started(&changes).len(), 1);
    // After it expired, an update of the same incident acts again (repeat).
    let later = at(2 * H);
    let changes = p.on_ongoing(dev, AlertKind::Scan, &summary(AlertKind::Scan), later);
    assert_eq!(ended(&changes)[0].2, EndReason::Expired);
    assert_eq!(started(&changes)[0].escalation_level, 1);
}

#[test]
fn trust_ends_decisions_and_blocks_automation_until_released() {
    let mut p = policy();
    let dev = mac(6);
    p.on_alert(dev, AlertKind::Flood, &summary(AlertKind::Flood), T0);
    p.on_alert(dev, AlertKind::Spam, &summary(AlertKind::Spam), at(S));
    let changes = p.trust(dev, at(2 * S));
    let mut why: Vec<EndReason> = ended(&changes).iter().map(|e| e.2).collect();
    why.dedup();
    assert_eq!(why, vec![EndReason::Trusted]);
    assert_eq!(
        ended(&changes).len(),
        3,
        "rate-limit, block-upnp, block-smtp"
    );
    assert!(changes.contains(&Change::Owner {
        device: dev,
        choice: Some(Choice::Trust),
        at: at(2 * S)
    }));
    assert!(changes.contains(&Change::Escalation(Escalation {
        device: dev,
        level: 0,
        until: None
    })));
    assert_eq!(p.active(at(2 * S)).count(), 0);
    for (i, kind) in AlertKind::ALL.into_iter().enumerate() {
        let now = at((10 + i as i64) * S);
        assert!(p.on_alert(dev, kind, &summary(kind), now).is_empty());
        assert!(p.on_ongoing(dev, kind, &summary(kind), now).is_empty());
    }
    assert!(p.tick(at(100 * H)).is_empty());
    assert_eq!(
        p.owner_choice(dev).map(|o| o.choice),
        Some(Choice::Trust),
        "trust survives ticks"
    );
    assert!(p.trust(dev, at(101 * H)).is_empty(), "idempotent");

    let changes = p.release(dev, at(102 * H));
    assert_eq!(
        changes,
        vec![Change::Owner {
            device: dev,
            choice: None,
            at: at(102 * H)
        }]
    );
    // Back to automation, as a first offence.
    let changes = p.on_alert(dev, AlertKind::Scan, &summary(AlertKind::Scan), at(103 * H));
    assert_eq!(started(&changes)[0].escalation_level, 0);
}

#[test]
fn owner_quarantine_survives_alerts_and_expiry() {
    let mut p = policy();
    let dev = mac(8);
    p.on_alert(dev, AlertKind::Flood, &summary(AlertKind::Flood), T0);
    let changes = p.quarantine(dev, at(S));
    assert_eq!(
        ended(&changes).iter().map(|e| e.2).collect::<Vec<_>>(),
        vec![EndReason::OwnerQuarantine, EndReason::OwnerQuarantine]
    );
    let q = started(&changes);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].source, Source::Owner);
    assert_eq!(q[0].expires, None);
    assert_eq!(q[0].action, Action::Quarantine);
    let id = q[0].id;

    let mut now = at(S);
    for i in 0..200 {
        now = Timestamp(now.0 + (i % 7 + 1) * 5 * H);
        let kind = AlertKind::ALL[i as usize % 4];
        assert!(p.on_alert(dev, kind, &summary(kind), now).is_empty());
        assert!(p.on_ongoing(dev, kind, &summary(kind), now).is_empty());
        assert!(p.tick(now).is_empty());
        let active: Vec<&Decision> = p.active(now).collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].id, id);
    }
    assert!(p.quarantine(dev, now).is_empty(), "idempotent");
    let changes = p.release(dev, now);
    assert_eq!(
        ended(&changes),
        vec![(id, ActionKind::Quarantine, EndReason::Released)]
    );
    assert_eq!(p.active(now).count(), 0);
    assert_eq!(p.owner_choice(dev), None);
}

#[test]
fn trust_replaces_an_owner_quarantine_and_quarantine_replaces_trust() {
    let mut p = policy();
    let dev = mac(9);
    p.quarantine(dev, T0);
    let changes = p.trust(dev, at(S));
    assert_eq!(ended(&changes)[0].2, EndReason::Trusted);
    assert_eq!(p.active(at(S)).count(), 0);
    let changes = p.quarantine(dev, at(2 * S));
    assert!(ended(&changes).is_empty());
    assert_eq!(started(&changes).len(), 1);
    assert_eq!(
        p.owner_choice(dev).map(|o| o.choice),
        Some(Choice::Quarantine)
    );
}

#[test]
fn release_of_an_unknown_device_does_nothing() {
    let mut p = policy();
    assert!(p.release(mac(1), T0).is_empty());
    p.on_alert(mac(1), AlertKind::Scan, &summary(AlertKind::Scan), T0);
    p.tick(at(30 * H));
    assert!(p.release(mac(1), at(30 * H)).is_empty());
}

#[test]
fn notify_only_configuration_restricts_nothing() {
    let cfg = PolicyConfig::from_toml(
        "[flood]\naction = \"notify\"\nescalate_from_offence = 0\nblock_upnp = false\n",
    )
    .unwrap();
    let mut p = Policy::new(cfg).unwrap();
    let mut notices = 0;
    for i in 0..5 {
        let now = at(i * 2 * H);
        let changes = p.on_alert(mac(1), AlertKind::Flood, &summary(AlertKind::Flood), now);
        notices += started(&changes).len();
        assert!(started(&changes).iter().all(|d| d.action == Action::Notify));
        let active: Vec<&Decision> = p.active(now).collect();
        assert_eq!(active.len(), 1);
        assert!(!active[0].action.restricts());
    }
    // Lifetimes 1, 2, 4 h: the notice at 0 h and 2 h had expired when the
    // next came; the one from 4 h is extended at 6 h and 8 h.
    assert_eq!(notices, 3);
}

#[test]
fn memory_is_bounded_and_never_drops_a_decision() {
    let cfg = PolicyConfig {
        max_devices: 8,
        ..PolicyConfig::default()
    };
    let mut p = Policy::new(cfg).unwrap();
    // Eight devices under quarantine fill the table.
    for i in 0..8 {
        p.on_alert(mac(i), AlertKind::Scan, &summary(AlertKind::Scan), T0);
    }
    // A flood of random MACs cannot push them out: refused and counted.
    for i in 0..1000u32 {
        let b = i.to_be_bytes();
        let m = Mac([0x02, 0, b[0], b[1], b[2], b[3]]);
        assert!(p
            .on_alert(m, AlertKind::Flood, &summary(AlertKind::Flood), at(S))
            .is_empty());
    }
    assert_eq!(p.stats().devices, 8);
    assert_eq!(p.stats().refused, 1000);
    assert_eq!(p.active(at(S)).count(), 8);
    // The owner is never refused.
    assert_eq!(started(&p.quarantine(mac(200), at(S))).len(), 1);
    assert_eq!(p.stats().devices, 9);
    // Once the quarantines end, the memories are evicted soonest-ending
    // first, and say so for the store.
    p.tick(at(2 * H));
    let changes = p.on_alert(
        mac(100),
        AlertKind::Scan,
        &summary(AlertKind::Scan),
        at(2 * H),
    );
    assert_eq!(
        changes[0],
        Change::Escalation(Escalation {
            device: mac(0),
            level: 0,
            until: None
        })
    );
    assert_eq!(p.stats().evicted, 1);
    assert_eq!(p.stats().devices, 9);
}

#[test]
fn restore_repairs_contradictions() {
    let dev = mac(1);
    let other = mac(2);
    let mut p = policy();
    p.on_alert(dev, AlertKind::Scan, &summary(AlertKind::Scan), T0);
    p.on_alert(other, AlertKind::Flood, &summary(AlertKind::Flood), T0);
    let mut state = p.snapshot(T0);
    // The owner's choices were written but the daemon died before the
    // decisions changed: dev is trusted, other quarantined.
    state.owner_choices = vec![
        OwnerChoice {
            device: dev,
            choice: Choice::Trust,
            since: at(S),
        },
        OwnerChoice {
            device: other,
            choice: Choice::Quarantine,
            since: at(S),
        },
    ];
    let (p, changes) = Policy::restore(PolicyConfig::default(), state, at(2 * S)).unwrap();
    let mut why: Vec<EndReason> = ended(&changes).iter().map(|e| e.2).collect();
    why.dedup();
    assert_eq!(why, vec![EndReason::Inconsistent]);
    assert_eq!(ended(&changes).len(), 3);
    let s = started(&changes);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].device, s[0].source.clone()), (other, Source::Owner));
    assert_eq!(s[0].id, 4, "ids continue after the stored ones");
    let active: Vec<&Decision> = p.active(at(2 * S)).collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].device, other);
}

#[test]
fn messages_say_what_happened_what_warden_did_and_what_to_do() {
    let mut p = policy();
    let dev = mac(0x0e);
    let text = "This D-Link device (DCS-935L) sent 9,000 UDP packets per second to one internet address (203.0.113.5) for 12 seconds: it is probably part of a botnet attack.";
    let s = AlertSummary::new(text, "udp flood");
    let changes = p.on_alert(dev, AlertKind::Flood, &s, T0);
    // One message for the decisions taken together.
    let all = messages(&changes);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].contains("warden limited everything it sends to 100 packets per second and 1.0 Mbit/s, and stopped it from opening ports on your router (UPnP), for 1 hour"),
        "{}",
        all[0]
    );
    let m = started(&changes)[0].message();
    assert!(m.starts_with(text), "{m}");
    assert!(
        m.contains("warden limited everything it sends to 100 packets per second and 1.0 Mbit/s for 1 hour, until 2026-01-15 13:00 UTC."),
        "{m}"
    );
    assert!(m.contains("firmware") && m.contains("factory-reset"), "{m}");
    assert!(m.contains("warden device trust 00:11:22:33:44:0e"), "{m}");
    assert!(!m.contains("offence"), "{m}");

    let changes = p.on_alert(dev, AlertKind::Flood, &s, at(60 * S));
    assert_eq!(
        messages(&changes),
        vec![started(&changes)[0].message()],
        "the replaced limits need no message of their own"
    );
    let m = started(&changes)[0].message();
    assert!(m.contains("cut it off from the network"), "{m}");
    assert!(m.contains("for 2 hours"), "{m}");
    assert!(m.contains("2nd offence in a row"), "{m}");

    let h = Change::Started(started(&changes)[0].clone())
        .headline()
        .unwrap();
    assert_eq!(
        h,
        format!("warden quarantined 00:11:22:33:44:0e for 2 hours: {text}")
    );

    let changes = p.quarantine(mac(1), T0);
    let m = started(&changes)[0].message();
    assert!(
        m.starts_with("You quarantined this device (00:11:22:33:44:01)."),
        "{m}"
    );
    assert!(
        m.contains("until you release it (warden device release 00:11:22:33:44:01)"),
        "{m}"
    );
    assert_eq!(messages(&changes).len(), 2, "the choice and the quarantine");
    for c in changes.iter().chain(p.release(mac(1), at(S)).iter()) {
        assert!(c.message().is_some_and(|m| m.contains("00:11:22:33:44:01")));
    }
    let spam = p.on_alert(mac(3), AlertKind::Spam, &summary(AlertKind::Spam), T0);
    let m = started(&spam)[0].message();
    assert!(
        m.contains("ports 25, 465 and 587") && m.contains("spam"),
        "{m}"
    );
}

#[test]
fn hostile_reason_text_is_clipped_at_a_char_boundary() {
    let long = "é".repeat(5_000);
    let s = AlertSummary::new(long.clone(), long);
    assert!(s.text.len() <= MAX_TEXT && s.text.ends_with("..."));
    assert!(s.evidence.len() <= MAX_EVIDENCE);
    let mut p = policy();
    let changes = p.on_alert(mac(1), AlertKind::Scan, &s, T0);
    assert!(started(&changes)[0].reason.text.len() <= MAX_TEXT);
}

#[test]
fn alert_summary_of_a_detector_alert() {
    use warden_detect::{Alert, BruteForceEvidence, Evidence};
    let alert = Alert {
        kind: AlertKind::BruteForce,
        detected_at: T0,
        confidence: 0.9,
        evidence: Evidence::BruteForce(BruteForceEvidence {
            first_seen: T0,
            last_seen: at(30 * S),
            target: "192.168.1.20".parse().unwrap(),
            port: 23,
            answered_connections: 12,
            attempts: 40,
            window_s: 60,
        }),
    };
    let s = AlertSummary::of(&alert, "This camera");
    assert!(s
        .text
        .starts_with("This camera made 12 login connections to 192.168.1.20:23"));
    assert_eq!(
        s.evidence,
        "brute force: 12 answered connections to 192.168.1.20:23 within 60 s, 40 attempts, confidence 0.90"
    );
}

#[test]
fn changes_serialize_for_webhooks() {
    let mut p = policy();
    let changes = p.on_alert(mac(1), AlertKind::Flood, &summary(AlertKind::Flood), T0);
    let json = serde_json::to_value(&changes[0]).unwrap();
    assert_eq!(json["change"], "started");
    assert_eq!(json["action"], "rate-limit");
    assert_eq!(json["packets_per_s"], 100);
    assert_eq!(json["source"], "automatic:flood");
    assert_eq!(json["device"], "00:11:22:33:44:01");
    assert_eq!(json["expires"], "2026-01-15T13:00:00.000000Z");
}

#[test]
fn source_strings_round_trip() {
    for s in [
        Source::Owner,
        Source::Feed {
            entry: "acme-cam-1.2".into(),
        },
        Source::Automatic {
            alert: AlertKind::BruteForce,
        },
    ] {
        assert_eq!(s.to_string().parse::<Source>().unwrap(), s);
    }
    assert!("automatic:ddos".parse::<Source>().is_err());
    assert!("someone".parse::<Source>().is_err());
    for r in EndReason::ALL {
        assert_eq!(EndReason::parse(r.as_str()), Some(r));
    }
}

// ---- property-style: random sequences of alerts, updates, ticks and owner
// commands, checked against invariants and against replaying the changes.

#[derive(Clone, Copy, Debug)]
enum Op {
    Alert(u8, AlertKind),
    Ongoing(u8, AlertKind),
    Tick,
    Trust(u8),
    Release(u8),
    Quarantine(u8),
}

fn random_ops(seed: u64, n: usize) -> Vec<(i64, Op)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let steps = [S, 30 * S, 600 * S, H, 6 * H, 2 * 24 * H];
    let mut now = 0;
    (0..n)
        .map(|_| {
            now += steps[rng.gen_range(0..steps.len())] * rng.gen_range(0..3);
            let dev = rng.gen_range(0..5u8);
            let kind = AlertKind::ALL[rng.gen_range(0..4)];
            let op = match rng.gen_range(0..100) {
                0..=39 => Op::Alert(dev, kind),
                40..=64 => Op::Ongoing(dev, kind),
                65..=84 => Op::Tick,
                85..=90 => Op::Trust(dev),
                91..=95 => Op::Release(dev),
                _ => Op::Quarantine(dev),
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
    }
}

/// What a store that only sees the changes would hold.
#[derive(Default)]
struct Replay {
    decisions: BTreeMap<u64, Decision>,
    owners: BTreeMap<Mac, OwnerChoice>,
    escalations: BTreeMap<Mac, Escalation>,
    next_id: u64,
}

impl Replay {
    fn apply(&mut self, c: &Change) {
        match c {
            Change::Started(d) => {
                assert!(
                    self.decisions.insert(d.id, d.clone()).is_none(),
                    "id reused"
                );
                assert!(d.id >= self.next_id, "ids increase");
                self.next_id = d.id + 1;
            }
            Change::Extended {
                id,
                expires,
                escalation_level,
                action,
                device,
                ..
            } => {
                let d = self.decisions.get_mut(id).expect("extends a live decision");
                assert_eq!((d.device, d.action.kind()), (*device, *action));
                assert!(expires >= &d.expires, "never shortened");
                d.expires = *expires;
                d.escalation_level = *escalation_level;
            }
            Change::Ended { id, device, .. } => {
                let d = self.decisions.remove(id).expect("ends a live decision");
                assert_eq!(d.device, *device);
            }
            Change::Owner { device, choice, at } => match choice {
                Some(choice) => {
                    self.owners.insert(
                        *device,
                        OwnerChoice {
                            device: *device,
                            choice: *choice,
                            since: *at,
                        },
                    );
                }
                None => {
                    self.owners.remove(device);
                }
            },
            Change::Escalation(e) => {
                self.escalations.insert(e.device, *e);
            }
        }
    }

    fn state(&self, now: Timestamp) -> PolicyState {
        PolicyState {
            decisions: self.decisions.values().cloned().collect(),
            owner_choices: self.owners.values().copied().collect(),
            escalations: self
                .escalations
                .values()
                .filter(|e| e.until.is_some_and(|u| u > now))
                .copied()
                .collect(),
            next_id: self.next_id.max(1),
        }
    }
}

fn check_invariants(p: &Policy, now: Timestamp) {
    let cfg = p.config();
    let mut per_device: BTreeMap<Mac, Vec<&Decision>> = BTreeMap::new();
    for d in p.active(now) {
        per_device.entry(d.device).or_default().push(d);
        if let Source::Automatic { .. } = d.source {
            // Extensions move the expiry, never further than the cap from now.
            let left = d.expires.expect("automatic decisions expire").0 - now.0;
            assert!(left > 0 && left <= cfg.max_lifetime_s as i64 * S);
            assert!(d.start <= now);
        }
    }
    for (dev, ds) in &per_device {
        let mut kinds: Vec<ActionKind> = ds.iter().map(|d| d.action.kind()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), ds.len(), "one decision per action on {dev}");
    }
    for o in p.owner_choices() {
        let ds = per_device.get(&o.device).cloned().unwrap_or_default();
        match o.choice {
            Choice::Trust => assert!(ds.is_empty(), "trusted {} is restricted", o.device),
            Choice::Quarantine => {
                assert_eq!(ds.len(), 1);
                assert_eq!(ds[0].source, Source::Owner);
                assert_eq!(ds[0].expires, None);
            }
        }
    }
    for d in p.active(now) {
        if d.source == Source::Owner {
            assert_eq!(
                p.owner_choice(d.device).map(|o| o.choice),
                Some(Choice::Quarantine)
            );
        }
    }
}

#[test]
fn random_sequences_keep_the_invariants_and_replay_to_the_same_state() {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..200 {
        let mut p = policy();
        let mut replay = Replay {
            next_id: 1,
            ..Replay::default()
        };
        for (t, op) in random_ops(seed, 300) {
            let now = at(t);
            for c in apply(&mut p, now, op) {
                replay.apply(&c);
                let name = match &c {
                    Change::Ended { why, .. } => format!("ended:{why}"),
                    Change::Started(d) => {
                        format!("started:{}:{}", d.action.kind(), d.escalation_level.min(2))
                    }
                    other => serde_json::to_value(other).unwrap()["change"].to_string(),
                };
                *seen.entry(name).or_default() += 1;
            }
            check_invariants(&p, now);
            assert_eq!(replay.state(now), p.snapshot(now), "seed {seed} {op:?}");
        }
    }
    // The sequences reach every path worth checking.
    for want in [
        "ended:expired",
        "ended:escalated",
        "ended:trusted",
        "ended:released",
        "ended:owner-quarantine",
        "started:rate-limit:0",
        "started:quarantine:2",
        "started:block-smtp:1",
        "\"extended\"",
        "\"owner\"",
        "\"escalation\"",
    ] {
        assert!(seen.get(want).is_some_and(|n| *n >= 10), "{want}: {seen:?}");
    }
}

#[test]
fn same_calls_same_changes() {
    for seed in 0..50 {
        let ops = random_ops(seed, 300);
        let run = || {
            let mut p = policy();
            ops.iter()
                .flat_map(|(t, op)| apply(&mut p, at(*t), *op))
                .collect::<Vec<Change>>()
        };
        let a = run();
        assert!(!a.is_empty());
        assert_eq!(a, run(), "seed {seed}");
    }
}

#[test]
fn restored_policy_behaves_exactly_like_the_original() {
    for seed in 0..200 {
        let ops = random_ops(seed, 200);
        let split = (seed as usize * 7) % ops.len();
        let mut original = policy();
        let mut replay = Replay {
            next_id: 1,
            ..Replay::default()
        };
        for (t, op) in &ops[..split] {
            for c in apply(&mut original, at(*t), *op) {
                replay.apply(&c);
            }
        }
        let restore_at = at(ops[split].0);
        // Restore from what a store would hold, shuffled: order must not matter.
        let mut state = replay.state(restore_at);
        state.decisions.reverse();
        state.owner_choices.reverse();
        state.escalations.reverse();
        let (mut restored, repairs) =
            Policy::restore(PolicyConfig::default(), state, restore_at).unwrap();
        assert!(repairs.is_empty(), "seed {seed}: {repairs:?}");
        assert_eq!(
            restored.active(restore_at).collect::<Vec<_>>(),
            original.active(restore_at).collect::<Vec<_>>()
        );
        for (t, op) in &ops[split..] {
            let now = at(*t);
            assert_eq!(
                apply(&mut restored, now, *op),
                apply(&mut original, now, *op),
                "seed {seed} after restore, {op:?}"
            );
            assert_eq!(restored.snapshot(now), original.snapshot(now));
        }
    }
}

fn feed_summary() -> AlertSummary {
    AlertSummary::new(
        "The threat feed lists this device's type as compromised in the wild.",
        "listing abc: 12 reporters on 7 networks",
    )
}

#[test]
fn feed_matches_follow_the_owners_feed_policy_by_severity() {
    let mut p = policy();
    let c = p.on_feed_match(mac(1), "vuln", false, &feed_summary(), at(0));
    // One message: what the feed says, what warden did, what to do.
    let said = messages(&c);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("is keeping an eye on it, and stopped it from opening ports"),
        "{}",
        said[0]
    );
    assert!(said[0].contains("warden device trust"), "{}", said[0]);
    let kinds: Vec<_> = started(&c).iter().map(|d| d.action.kind()).collect();
    assert_eq!(kinds, vec![ActionKind::Notify, ActionKind::BlockUpnp]);
    assert!(started(&c).iter().all(|d| d.source
        == Source::Feed {
            entry: "vuln".into()
        }
        && d.reason.alert.is_none()
        && d.escalation_level == 0));

    let c = p.on_feed_match(mac(2), "bot", true, &feed_summary(), at(0));
    assert_eq!(
        started(&c)
            .iter()
            .map(|d| d.action.kind())
            .collect::<Vec<_>>(),
        vec![ActionKind::Quarantine]
    );
    // Not an offence: no escalation memory, so a later flood is a first one.
    assert_eq!(p.escalation(mac(2), at(0)).level, 0);
    assert!(p.escalation(mac(2), at(0)).until.is_none());

    // The owner's feed policy may be milder.
    let cfg = PolicyConfig::from_toml("[feed]\ncompromised = [\"notify\"]\n").unwrap();
    let mut mild = Policy::new(cfg).unwrap();
    let c = mild.on_feed_match(mac(2), "bot", true, &feed_summary(), at(0));
    assert_eq!(
        started(&c)
            .iter()
            .map(|d| d.action.kind())
            .collect::<Vec<_>>(),
        vec![ActionKind::Notify]
    );
}

#[test]
fn feed_decisions_are_renewed_while_listed_and_end_when_delisted() {
    let mut p = policy();
    let life = p.config().feed.lifetime_s as i64 * S;
    let first = p.on_feed_match(mac(1), "bot", true, &feed_summary(), at(0));
    let id = started(&first)[0].id;
    // A check soon after changes nothing; a later one renews.
    let soon = p.on_feed_match(mac(1), "bot", true, &feed_summary(), at(10 * S));
    assert!(started(&soon).is_empty());
    let renewed = p.on_feed_match(mac(1), "bot", true, &feed_summary(), at(life / 2 + S));
    assert!(renewed
        .iter()
        .any(|c| matches!(c, Change::Extended { id: i, .. } if *i == id)));
    assert!(
        started(&renewed).is_empty(),
        "renewal must not stack decisions"
    );
    assert_eq!(
        active_kinds(&p, mac(1), at(life)),
        vec![ActionKind::Quarantine]
    );

    // Unchecked for a whole lifetime: it expires by itself.
    assert!(active_kinds(&p, mac(1), at(life / 2 + S + life)).is_empty());

    // Delisted: ended at the next check, with that reason.
    let mut p = policy();
    p.on_feed_match(mac(1), "bot", true, &feed_summary(), at(0));
    p.on_feed_match(mac(2), "other", false, &feed_summary(), at(0));
    let c = p.feed_unlisted(at(S), |dev, entry| !(dev == mac(1) && entry == "bot"));
    assert_eq!(ended(&c).len(), 1);
    assert_eq!(ended(&c)[0].1, ActionKind::Quarantine);
    assert_eq!(ended(&c)[0].2, EndReason::Delisted);
    assert!(active_kinds(&p, mac(1), at(S)).is_empty());
    assert_eq!(active_kinds(&p, mac(2), at(S)).len(), 2);
}

#[test]
fn the_owner_wins_over_the_feed_and_alerts_keep_their_own_decisions() {
    let mut p = policy();
    p.trust(mac(1), at(0));
    assert!(p
        .on_feed_match(mac(1), "bot", true, &feed_summary(), at(S))
        .is_empty());
    assert!(active_kinds(&p, mac(1), at(S)).is_empty());

    // A device quarantined by the feed that then scans: the scan's own
    // quarantine stands beside the feed's, and survives the delisting.
    let mut p = policy();
    p.on_feed_match(mac(2), "bot", true, &feed_summary(), at(0));
    let scan = p.on_alert(mac(2), AlertKind::Scan, &summary(AlertKind::Scan), at(S));
    assert_eq!(started(&scan).len(), 1);
    assert_eq!(
        started(&scan)[0].source,
        Source::Automatic {
            alert: AlertKind::Scan
        }
    );
    p.feed_unlisted(at(2 * S), |_, _| false);
    assert_eq!(
        active_kinds(&p, mac(2), at(2 * S)),
        vec![ActionKind::Quarantine]
    );
    assert!(p
        .active_for(mac(2), at(2 * S))
        .iter()
        .all(|d| !d.source.is_feed()));

    // Both kinds of decision survive a restore side by side.
    let mut p = policy();
    p.on_feed_match(mac(3), "bot", true, &feed_summary(), at(0));
    p.on_alert(mac(3), AlertKind::Scan, &summary(AlertKind::Scan), at(S));
    let (restored, repairs) =
        Policy::restore(PolicyConfig::default(), p.snapshot(at(S)), at(2 * S)).unwrap();
    assert!(repairs.is_empty(), "{repairs:?}");
    assert_eq!(restored.active_for(mac(3), at(2 * S)).len(), 2);
}
