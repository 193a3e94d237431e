use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use warden_decode::Mac;
use warden_detect::{Alert, AlertKind, Evidence, Timestamp};

use crate::{Action, ActionKind};

/// Longest reason sentence kept (evidence from the network is hostile: a
/// DNS flood's domain can be long).
pub const MAX_TEXT: usize = 2_000;
/// Longest evidence summary kept.
pub const MAX_EVIDENCE: usize = 1_000;

/// One thing warden does to one device, for a reason, for a while.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Unique and increasing within one policy (and its restored copies).
    pub id: u64,
    pub device: Mac,
    #[serde(flatten)]
    pub action: Action,
    pub reason: Reason,
    pub source: Source,
    pub start: Timestamp,
    /// None: until the owner changes it.
    pub expires: Option<Timestamp>,
    /// 0 on a first offence; +1 per repeat within the escalation window.
    pub escalation_level: u32,
}

impl Decision {
    /// Whether the decision is in force at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// Why a decision was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The alert behind it; None for the owner's own decisions.
    pub alert: Option<AlertKind>,
    /// What happened, for a person (the alert's sentence).
    pub text: String,
    /// The figures behind it, in one short line.
    pub evidence: String,
}

/// Who took a decision.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The policy, on an alert of this kind.
    Automatic { alert: AlertKind },
    /// The owner, by hand.
    Owner,
    /// A feed listing (its id), under the owner's feed policy.
    Feed { entry: String },
}

impl Source {
    /// A feed listing's decision.
    pub fn is_feed(&self) -> bool {
        matches!(self, Source::Feed { .. })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Automatic { alert } => write!(f, "automatic:{alert}"),
            Source::Owner => f.write_str("owner"),
            Source::Feed { entry } => write!(f, "feed:{entry}"),
        }
    }
}

impl FromStr for Source {
    type Err = String;

    /// The form `Display` writes: `automatic:flood`, `owner`, `feed:<entry>`.
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "owner" {
            return Ok(Source::Owner);
        }
        if let Some(kind) = s.strip_prefix("automatic:") {
            let alert =
                AlertKind::parse(kind).ok_or_else(|| format!("unknown alert kind {kind:?}"))?;
            return Ok(Source::Automatic { alert });
        }
        if let Some(entry) = s.strip_prefix("feed:") {
            return Ok(Source::Feed {
                entry: entry.to_owned(),
            });
        }
        Err(format!("unknown decision source {s:?}"))
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The owner's standing word on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Choice {
    /// Automation never acts on it.
    Trust,
    /// Quarantined, with no expiry.
    Quarantine,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Trust => "trust",
            Choice::Quarantine => "quarantine",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Choice::Trust, Choice::Quarantine]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct OwnerChoice {
    pub device: Mac,
    pub choice: Choice,
    pub since: Timestamp,
}

/// Why a decision ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// Its lifetime ran out.
    Expired,
    /// A repeat offence of the same kind replaced it by a stronger action.
    Escalated,
    /// The owner trusts the device.
    Trusted,
    /// The owner released the device.
    Released,
    /// The owner quarantined the device, which replaces automatic decisions.
    OwnerQuarantine,
    /// It contradicted the owner's choice or a duplicate when restored.
    Inconsistent,
    /// The feed no longer lists the device (withdrawn, or its firmware is fixed).
    Delisted,
}

impl EndReason {
    pub const ALL: [EndReason; 7] = [
        EndReason::Expired,
        EndReason::Escalated,
        EndReason::Trusted,
        EndReason::Released,
        EndReason::OwnerQuarantine,
        EndReason::Inconsistent,
        EndReason::Delisted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Escalated => "escalated",
            EndReason::Trusted => "trusted",
            EndReason::Released => "released",
            EndReason::OwnerQuarantine => "owner-quarantine",
            EndReason::Inconsistent => "inconsistent",
            EndReason::Delisted => "delisted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The escalation memory of one device: the level of its last offence, and
/// until when a new offence counts as a repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub device: Mac,
    pub level: u32,
    /// None: no history (a new offence is a first offence).
    pub until: Option<Timestamp>,
}

/// One change of the policy's state: what the daemon logs, notifies,
/// stores, and (through [`Policy::active`](crate::Policy::active)) enforces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    Started(Decision),
    /// A repeat or an ongoing incident moved the expiry later.
    Extended {
        id: u64,
        device: Mac,
        action: ActionKind,
        expires: Option<Timestamp>,
        escalation_level: u32,
        at: Timestamp,
    },
    Ended {
        id: u64,
        device: Mac,
        action: Action,
        why: EndReason,
        at: Timestamp,
    },
    /// The owner's choice for a device was set (or cleared: None).
    Owner {
        device: Mac,
        choice: Option<Choice>,
        at: Timestamp,
    },
    /// The device's escalation memory changed (to store; nothing to tell).
    Escalation(Escalation),
}

impl Change {
    pub fn device(&self) -> Mac {
        match self {
            Change::Started(d) => d.device,
            Change::Extended { device, .. }
            | Change::Ended { device, .. }
            | Change::Owner { device, .. } => *device,
            Change::Escalation(e) => e.device,
        }
    }
}

/// What the policy needs to know of an alert: its sentence and its figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertSummary {
    pub text: String,
    pub evidence: String,
}

impl AlertSummary {
    pub fn new(text: impl Into<String>, evidence: impl Into<String>) -> Self {
        AlertSummary {
            text: clip(text.into(), MAX_TEXT),
            evidence: clip(evidence.into(), MAX_EVIDENCE),
        }
    }

    /// From a detector's alert; `device_label` starts the sentence, e.g.
    /// "This D-Link device (DCS-935L)" (`warden_devices::Device::label`).
    pub fn of(alert: &Alert, device_label: &str) -> Self {
        let mut evidence = evidence_line(&alert.evidence);
        evidence.push_str(&format!(", confidence {:.2}", alert.confidence));
        AlertSummary::new(warden_detect::summary(alert, device_label), evidence)
    }
}

/// Cuts a string to at most `max` bytes, at a character boundary.
pub(crate) fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// The figures of an alert's evidence in one line.
pub fn evidence_line(e: &Evidence) -> String {
    match e {
        Evidence::Flood(f) => {
            let mut s = format!(
                "{} flood: peak {} packets/s and {} bytes/s, {} hot seconds, {} packets",
                f.variant, f.peak_pps, f.peak_bytes_per_s, f.hot_seconds, f.packets
            );
            if let Some(t) = f.top_destinations.first() {
                s.push_str(&format!(
                    ", top target {} ({:.0} %)",
                    t.address,
                    t.share * 100.0
                ));
            }
            if let Some(d) = &f.dns_domain {
                s.push_str(&format!(", domain {d}"));
            }
            s
        }
        Evidence::Scan(s) => {
            let ports: Vec<String> = s
                .top_ports
                .iter()
                .take(3)
                .map(|p| p.port.to_string())
                .collect();
            format!(
                "scan: {} first contacts, {} failed, {} answered, {:.1}/s, ports {}",
                s.attempts,
                s.failed,
                s.answered,
                s.rate_per_s,
                if ports.is_empty() {
                    "-".into()
                } else {
                    ports.join(",")
                }
            )
        }
        Evidence::Spam(s) => format!(
            "spam: {} SMTP servers, {} submission servers, {} connections",
            s.smtp_servers, s.submission_servers, s.connections
        ),
        Evidence::BruteForce(b) => format!(
            "brute force: {} answered connections to {}:{} within {} s, {} attempts",
            b.answered_connections, b.target, b.port, b.window_s, b.attempts
        ),
        Evidence::ProfileViolation(p) => {
            let flows: Vec<String> = p
                .flows
                .iter()
                .take(4)
                .map(|f| format!("{} {} {} port {}", f.direction, f.protocol, f.peer, f.port))
                .collect();
            format!(
                "profile-violation: {} flows not allowed by {} profile {}: {}",
                p.denied_flows,
                p.source,
                p.profile,
                flows.join("; ")
            )
        }
    }
}
