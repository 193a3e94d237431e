//! Text for people: what happened, what warden did, what to do.

use warden_detect::{AlertKind, Timestamp};

use crate::{Action, Change, Choice, Decision, EndReason, Source};

/// "1 hour", "90 minutes", "2 days".
pub fn duration(ns: i64) -> String {
    let s = (ns.max(0) / 1_000_000_000) as u64;
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match s {
        s if s < 120 => plural(s, "second"),
        s if s < 2 * 3_600 && s % 3_600 != 0 => plural(s / 60, "minute"),
        s if s < 2 * 86_400 && s % 86_400 != 0 => plural(s / 3_600, "hour"),
        s => plural(s / 86_400, "day"),
    }
}

fn rate(bytes_per_s: u64) -> String {
    let bits = bytes_per_s.saturating_mul(8);
    if bits >= 1_000_000 {
        format!("{:.1} Mbit/s", bits as f64 / 1e6)
    } else {
        format!("{} kbit/s", bits / 1_000)
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// What warden did, as a verb phrase ("warden " goes before it).
fn what_warden_did(action: &Action) -> String {
    match action {
        Action::Notify => "has not restricted it (for this kind of alert it is set to tell you only)".into(),
        Action::RateLimit {
            packets_per_s,
            bytes_per_s,
        } => format!(
            "limited everything it sends to {packets_per_s} packets per second and {}",
            rate(*bytes_per_s)
        ),
        Action::BlockSmtp => "blocked its outgoing mail (ports 25, 465 and 587)".into(),
        Action::BlockUpnp => "stopped it from opening ports on your router (UPnP)".into(),
        Action::EnforceProfile => "now lets it make only the connections its network profile allows (the rest are dropped)".into(),
        Action::Quarantine => "cut it off from the network (only name lookups, the clock and allowed update servers still work)".into(),
    }
}

fn what_was_lifted(action: &Action) -> &'static str {
    match action {
        Action::Notify => "the notice",
        Action::RateLimit { .. } => "the rate limit",
        Action::BlockSmtp => "the mail block",
        Action::BlockUpnp => "the UPnP block",
        Action::EnforceProfile => "the profile's limits",
        Action::Quarantine => "the quarantine",
    }
}

fn advice(kind: AlertKind) -> String {
    if kind == AlertKind::ProfileViolation {
        return "What to do: if you changed how you use the device or it was just updated, its \
                profile may be out of date; `warden device trust` lifts the limits, and a new \
                profile (warden device profile) replaces the old one. If you did nothing, treat it \
                as possibly infected: restart it, update its firmware, and change its password."
            .to_owned();
    }
    let specific = match kind {
        AlertKind::Flood => "It was sending attack traffic to someone else on the internet.",
        AlertKind::Scan => "It was searching for other devices to break into; check that your other devices do not use their factory passwords.",
        AlertKind::Spam => "Mail from it is almost certainly spam sent for a botnet.",
        AlertKind::BruteForce => "It was guessing passwords; change the password of the device it targeted, and of this one.",
        AlertKind::ProfileViolation => "",
    };
    format!(
        "{specific} What to do: the device is probably infected. Unplug it and plug it back in \
         (most such malware lives only in memory), change its password if it has one, and install \
         the latest firmware from the vendor. If it happens again, factory-reset it; if no update \
         fixes it, contact the vendor or stop using the device."
    )
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

impl Decision {
    /// The decision told to a person: what happened, what warden did and
    /// for how long, and what to do about it.
    pub fn message(&self) -> String {
        compose(&[self])
    }

    /// Whether two decisions were taken together, for the same reason, and
    /// read best as one message.
    fn same_notice(&self, other: &Decision) -> bool {
        self.device == other.device
            && self.source == other.source
            && self.start == other.start
            && self.expires == other.expires
            && self.escalation_level == other.escalation_level
            && self.reason == other.reason
    }
}

/// One message for decisions taken together (`ds` is not empty and all
/// `same_notice`).
fn compose(ds: &[&Decision]) -> String {
    let first = ds[0];
    let mut out = sentence(&first.reason.text);
    let did: Vec<String> = ds
        .iter()
        .map(|d| match (&d.action, &d.source) {
            // A listing's notice follows the owner's feed policy, not an
            // alert kind's setting.
            (Action::Notify, Source::Feed { .. }) => "is keeping an eye on it".to_owned(),
            (action, _) => what_warden_did(action),
        })
        .collect();
    out.push_str("warden ");
    out.push_str(&match did.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{}, and {last},", init.join(", ")),
        [] => String::new(),
    });
    match first.expires {
        Some(e) => out.push_str(&format!(
            " for {}, until {}.",
            duration(e.0.saturating_sub(first.start.0)),
            short_time(e)
        )),
        None => out.push_str(&format!(
            " until you release it (warden device release {}).",
            first.device
        )),
    }
    if first.escalation_level > 0 {
        out.push_str(&format!(
            " This is its {} offence in a row, so the restriction lasts longer than the last one.",
            ordinal(u64::from(first.escalation_level) + 1)
        ));
    }
    match &first.source {
        Source::Automatic { alert } => {
            out.push(' ');
            out.push_str(&advice(*alert));
            out.push_str(&format!(
                " If you know this traffic is expected, run: warden device trust {}",
                first.device
            ));
        }
        Source::Owner => out.push_str(" You chose this yourself."),
        Source::Feed { .. } => out.push_str(&format!(
            " Install the vendor's latest firmware, or contact the vendor; warden lifts this by itself once the feed stops listing the device. If you accept the risk, run: warden device trust {}",
            first.device
        )),
    }
    out
}

/// The messages for people from one policy call's changes: decisions
/// taken together become one message, and bookkeeping (escalation
/// memory, a decision replaced by a stronger one that has its own
/// message) is left out. What the log line and the webhook say.
pub fn messages(changes: &[Change]) -> Vec<String> {
    let mut out = Vec::new();
    let mut group: Vec<&Decision> = Vec::new();
    for c in changes {
        if let Change::Started(d) = c {
            if group.first().is_some_and(|g| !g.same_notice(d)) {
                out.push(compose(&group));
                group.clear();
            }
            group.push(d);
            continue;
        }
        if !group.is_empty() {
            out.push(compose(&group));
            group.clear();
        }
        if let Change::Ended {
            why: EndReason::Escalated,
            ..
        } = c
        {
            continue;
        }
        out.extend(c.message());
    }
    if !group.is_empty() {
        out.push(compose(&group));
    }
    out
}

impl Decision {
    /// One line for a timeline: what warden did to which device, for how
    /// long, and why (without the advice of [`message`](Self::message)).
    pub fn headline(&self) -> String {
        let what = match self.action {
            Action::Notify => "noted an alert on",
            Action::RateLimit { .. } => "rate-limited",
            Action::BlockSmtp => "blocked outgoing mail of",
            Action::BlockUpnp => "blocked UPnP for",
            Action::EnforceProfile => "held to its network profile",
            Action::Quarantine => "quarantined",
        };
        let how_long = match self.expires {
            Some(e) => format!("for {}", duration(e.0.saturating_sub(self.start.0))),
            None => "until you release it".to_owned(),
        };
        format!(
            "warden {what} {} {how_long}: {}",
            self.device,
            self.reason.text.trim()
        )
    }
}

/// "2026-01-15 13:00 UTC"
fn short_time(t: Timestamp) -> String {
    let full = t.to_string();
    format!("{} {} UTC", &full[..10], &full[11..16])
}

impl Change {
    /// One line for a timeline: [`Decision::headline`] for a new decision,
    /// [`message`](Self::message) for the others.
    pub fn headline(&self) -> Option<String> {
        match self {
            Change::Started(d) => Some(d.headline()),
            other => other.message(),
        }
    }

    /// A line for the log and the owner, for the changes people care about
    /// (not for escalation bookkeeping).
    pub fn message(&self) -> Option<String> {
        match self {
            Change::Started(d) => Some(d.message()),
            Change::Extended {
                device, expires, ..
            } => Some(match expires {
                Some(e) => format!(
                    "Device {device} keeps misbehaving: warden keeps its restriction until {}.",
                    short_time(*e)
                ),
                None => format!("Device {device} stays restricted until you release it."),
            }),
            Change::Ended {
                device,
                action,
                why,
                ..
            } => {
                let what = what_was_lifted(action);
                Some(match why {
                    EndReason::Expired => format!("warden lifted {what} on device {device}: its time ran out. If the device misbehaves again, warden will act again, for longer."),
                    EndReason::Escalated => format!("warden replaced {what} on device {device} by a stronger measure, because it misbehaved again."),
                    EndReason::Trusted => format!("warden lifted {what} on device {device} because you trust it."),
                    EndReason::Released => format!("warden lifted {what} on device {device} because you released it."),
                    EndReason::OwnerQuarantine => format!("Your quarantine of device {device} replaces {what}."),
                    EndReason::Inconsistent => format!("warden dropped {what} on device {device}: it contradicted your choices."),
                    EndReason::Delisted => format!("warden lifted {what} on device {device}: the threat feed no longer lists it (its firmware is fixed, or the listing was withdrawn)."),
                })
            }
            Change::Owner { device, choice, .. } => Some(match choice {
                Some(Choice::Trust) => format!(
                    "You trust device {device}: warden will not restrict it until you release it."
                ),
                Some(Choice::Quarantine) => format!(
                    "You quarantined device {device}: it stays cut off until you release it."
                ),
                None => format!(
                    "You released device {device}: warden watches it again and acts on its own."
                ),
            }),
            Change::Escalation(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let s = 1_000_000_000i64;
        assert_eq!(duration(0), "0 seconds");
        assert_eq!(duration(s), "1 second");
        assert_eq!(duration(90 * 60 * s), "90 minutes");
        assert_eq!(duration(3_600 * s), "1 hour");
        assert_eq!(duration(2 * 3_600 * s), "2 hours");
        assert_eq!(duration(86_400 * s), "1 day");
        assert_eq!(duration(36 * 3_600 * s), "36 hours");
        assert_eq!(duration(2 * 86_400 * s), "2 days");
        assert_eq!(duration(7 * 86_400 * s), "7 days");
        assert_eq!(duration(-5), "0 seconds");
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }

    #[test]
    fn rates() {
        assert_eq!(rate(125_000), "1.0 Mbit/s");
        assert_eq!(rate(12_500), "100 kbit/s");
    }
}
