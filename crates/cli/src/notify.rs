//! The warnings people get (webhook, ntfy, e-mail), written from the
//! message catalog of `[run] language` (crates/dashboard/i18n): the same
//! story as the policy's English log lines, in the owner's language. The
//! alert's own sentence (what the detector saw) comes from the detector
//! and stays English.

use warden_dashboard::i18n::Catalog;
use warden_detect::{AlertKind, Timestamp};
use warden_policy::{Action, Change, Choice, Decision, EndReason, Source};

fn short_time(t: Timestamp) -> String {
    let full = t.to_string();
    format!("{} {} UTC", &full[..10], &full[11..16])
}

fn rate(bytes_per_s: u64) -> String {
    let bits = bytes_per_s.saturating_mul(8);
    if bits >= 1_000_000 {
        format!("{:.1} Mbit/s", bits as f64 / 1e6)
    } else {
        format!("{} kbit/s", bits / 1_000)
    }
}

fn what_warden_did(action: &Action, cat: &Catalog) -> String {
    match action {
        Action::Notify => cat.t("did-notify", &[]),
        Action::RateLimit {
            packets_per_s,
            bytes_per_s,
        } => cat.t(
            "did-rate-limit",
            &[
                ("packets", &packets_per_s.to_string()),
                ("rate", &rate(*bytes_per_s)),
            ],
        ),
        Action::BlockSmtp => cat.t("did-block-smtp", &[]),
        Action::BlockUpnp => cat.t("did-block-upnp", &[]),
        Action::EnforceProfile => cat.t("did-enforce-profile", &[]),
        Action::Quarantine => cat.t("did-quarantine", &[]),
    }
}

fn what_was_lifted(action: &Action, cat: &Catalog) -> String {
    cat.t(
        match action {
            Action::Notify => "lifted-notify",
            Action::RateLimit { .. } => "lifted-rate-limit",
            Action::BlockSmtp => "lifted-block-smtp",
            Action::BlockUpnp => "lifted-block-upnp",
            Action::EnforceProfile => "lifted-enforce-profile",
            Action::Quarantine => "lifted-quarantine",
        },
        &[],
    )
}

fn advice(kind: AlertKind, cat: &Catalog) -> String {
    let specific = match kind {
        AlertKind::ProfileViolation => return cat.t("advice-profile-violation", &[]),
        AlertKind::Flood => "advice-flood",
        AlertKind::Scan => "advice-scan",
        AlertKind::Spam => "advice-spam",
        AlertKind::BruteForce => "advice-brute-force",
    };
    format!("{} {}", cat.t(specific, &[]), cat.t("advice-infected", &[]))
}

fn sentence(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        String::new()
    } else if t.ends_with(['.', '!', '?']) {
        format!("{t} ")
    } else {
        format!("{t}. ")
    }
}

fn same_notice(a: &Decision, b: &Decision) -> bool {
    a.device == b.device
        && a.source == b.source
        && a.start == b.start
        && a.expires == b.expires
        && a.escalation_level == b.escalation_level
        && a.reason == b.reason
}

/// One message for decisions taken together.
fn compose(ds: &[&Decision], cat: &Catalog) -> String {
    let first = ds[0];
    let device = first.device.to_string();
    let mut out = sentence(&first.reason.text);
    let did: Vec<String> = ds
        .iter()
        .map(|d| match (&d.action, &d.source) {
            (Action::Notify, Source::Feed { .. }) => cat.t("did-watch-feed", &[]),
            (action, _) => what_warden_did(action, cat),
        })
        .collect();
    let did = match did.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => cat.t("list-and", &[("init", &init.join(", ")), ("last", last)]),
        [] => String::new(),
    };
    out.push_str(&match first.expires {
        Some(e) => cat.t(
            "started-for",
            &[
                ("did", &did),
                ("duration", &cat.duration(e.0.saturating_sub(first.start.0))),
                ("until", &short_time(e)),
            ],
        ),
        None => cat.t(
            "started-until-release",
            &[("did", &did), ("device", &device)],
        ),
    });
    if first.escalation_level > 0 {
        out.push(' ');
        out.push_str(&cat.t(
            "started-again",
            &[("n", &(u64::from(first.escalation_level) + 1).to_string())],
        ));
    }
    out.push(' ');
    out.push_str(&match &first.source {
        Source::Automatic { alert } => format!(
            "{} {}",
            advice(*alert, cat),
            cat.t("trust-hint", &[("device", &device)])
        ),
        Source::Owner => cat.t("source-owner", &[]),
        Source::Feed { .. } => cat.t("source-feed", &[("device", &device)]),
    });
    out
}

fn change_message(c: &Change, cat: &Catalog) -> Option<String> {
    match c {
        Change::Started(d) => Some(compose(&[d], cat)),
        Change::Ended {
            device,
            action,
            why,
            ..
        } => {
            let key = match why {
                EndReason::Expired => "ended-expired",
                // A stronger measure follows with its own message.
                EndReason::Escalated => return None,
                EndReason::Trusted => "ended-trusted",
                EndReason::Released => "ended-released",
                EndReason::OwnerQuarantine => "ended-owner-quarantine",
                EndReason::Inconsistent => "ended-inconsistent",
                EndReason::Delisted => "ended-delisted",
            };
            Some(cat.t(
                key,
                &[
                    ("what", &what_was_lifted(action, cat)),
                    ("device", &device.to_string()),
                ],
            ))
        }
        Change::Owner { device, choice, .. } => Some(cat.t(
            match choice {
                Some(Choice::Trust) => "owner-trust",
                Some(Choice::Quarantine) => "owner-quarantine",
                None => "owner-release",
            },
            &[("device", &device.to_string())],
        )),
        // An incident that goes on is not news (logged by the guard only).
        Change::Extended { .. } | Change::Escalation(_) => None,
    }
}

/// The warnings for people from one policy call's changes, in the
/// catalog's language: decisions taken together become one message;
/// extensions and bookkeeping are left out (one message per incident).
pub fn messages(changes: &[Change], cat: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    let mut group: Vec<&Decision> = Vec::new();
    for c in changes {
        if let Change::Started(d) = c {
            if group.first().is_some_and(|g| !same_notice(g, d)) {
                out.push(compose(&group, cat));
                group.clear();
            }
            group.push(d);
            continue;
        }
        if !group.is_empty() {
            out.push(compose(&group, cat));
            group.clear();
        }
        out.extend(change_message(c, cat));
    }
    if !group.is_empty() {
        out.push(compose(&group, cat));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_policy::Reason;

    fn decision(action: Action, level: u32) -> Decision {
        Decision {
            id: 1,
            device: "02:00:00:00:00:0e".parse().unwrap(),
            action,
            reason: Reason {
                alert: Some(AlertKind::Scan),
                text: "It scanned 40 addresses".into(),
                evidence: String::new(),
            },
            source: Source::Automatic {
                alert: AlertKind::Scan,
            },
            start: Timestamp(1_768_478_400_000_000_000),
            expires: Some(Timestamp(1_768_478_400_000_000_000 + 3_600_000_000_000)),
            escalation_level: level,
        }
    }

    #[test]
    fn english_reads_as_the_policy_messages_do() {
        let en = Catalog::get("en").unwrap();
        let d = decision(Action::Quarantine, 0);
        let m = messages(&[Change::Started(d.clone())], en);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0], d.message(), "catalog and policy disagree");
    }

    #[test]
    fn german_says_the_same_in_german() {
        let de = Catalog::get("de").unwrap();
        let m = messages(&[Change::Started(decision(Action::Quarantine, 1))], de);
        let m = &m[0];
        assert!(
            m.starts_with("It scanned 40 addresses. warden hat es vom Netz getrennt"),
            "{m}"
        );
        assert!(m.contains("für 1 Stunde, bis 2026-01-15 13:00 UTC."), "{m}");
        assert!(m.contains("Vorfall Nummer 2"), "{m}");
        assert!(m.contains("wahrscheinlich infiziert"), "{m}");
        assert!(m.contains("warden device trust 02:00:00:00:00:0e"), "{m}");
        let ended = messages(
            &[Change::Ended {
                id: 1,
                device: "02:00:00:00:00:0e".parse().unwrap(),
                action: Action::Quarantine,
                why: EndReason::Released,
                at: Timestamp(0),
            }],
            de,
        );
        assert_eq!(
            ended,
            vec!["warden hat die Quarantäne für Gerät 02:00:00:00:00:0e aufgehoben, weil Sie es freigegeben haben."]
        );
    }
}
