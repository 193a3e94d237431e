use std::net::IpAddr;

use serde::Serialize;

use crate::Timestamp;

/// The behaviour an alert reports. Serialized as the stable strings of the
/// JSON output (`flood`, `scan`, `spam`, `brute-force`,
/// `profile-violation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    Flood,
    Scan,
    Spam,
    BruteForce,
    /// A device with a network profile (docs/profiles.md) opened, or was
    /// opened, a flow its profile does not allow. Raised by the live guard,
    /// which knows the profiles, not by the per-packet detectors.
    ProfileViolation,
}

impl AlertKind {
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Flood,
        AlertKind::Scan,
        AlertKind::Spam,
        AlertKind::BruteForce,
        AlertKind::ProfileViolation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Flood => "flood",
            AlertKind::Scan => "scan",
            AlertKind::Spam => "spam",
            AlertKind::BruteForce => "brute-force",
            AlertKind::ProfileViolation => "profile-violation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One incident of one behaviour on one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// Capture time of the packet that triggered the alert.
    pub detected_at: Timestamp,
    /// 0.0 to 1.0: how far past the thresholds the evidence is.
    pub confidence: f32,
    pub evidence: Evidence,
}

/// What the detector saw, per kind. Serialized without a tag: the alert's
/// `kind` says which one it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    Flood(FloodEvidence),
    Scan(ScanEvidence),
    Spam(SpamEvidence),
    BruteForce(BruteForceEvidence),
    ProfileViolation(ProfileEvidence),
}

impl Evidence {
    /// When the behaviour was first and last seen in this incident.
    pub fn window(&self) -> (Timestamp, Timestamp) {
        match self {
            Evidence::Flood(e) => (e.first_seen, e.last_seen),
            Evidence::Scan(e) => (e.first_seen, e.last_seen),
            Evidence::Spam(e) => (e.first_seen, e.last_seen),
            Evidence::BruteForce(e) => (e.first_seen, e.last_seen),
            Evidence::ProfileViolation(e) => (e.first_seen, e.last_seen),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloodTarget {
    pub address: IpAddr,
    /// Packets sent to it in the second the alert was raised.
    pub packets: u32,
    /// Its share of the device's packets in that second.
    pub share: f32,
    /// Distinct destination ports in that second.
    pub ports: u32,
    /// Whether the device had resolved this address through DNS.
    pub resolved_by_dns: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloodEvidence {
    /// udp, udp-query, syn, ack, gre, icmp, dns, ip.
    pub variant: &'static str,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Seconds over the thresholds so far.
    pub hot_seconds: u32,
    pub peak_pps: u32,
    pub peak_bytes_per_s: u64,
    /// Packets of this flood's kind sent during the hot seconds.
    pub packets: u64,
    /// Answers per packet sent to the top destinations (refusals excluded).
    pub answer_ratio: f32,
    pub top_destinations: Vec<FloodTarget>,
    /// For DNS floods: the domain under the random names, and the NXDOMAIN share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nxdomain_share: Option<f32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PortCount {
    pub port: u16,
    pub attempts: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScanEvidence {
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// First contacts (new address and port) since the test started.
    pub attempts: u64,
    /// Distinct first contacts whose outcome was observed.
    pub failed: u32,
    pub answered: u32,
    /// Attempts per second over the window.
    pub rate_per_s: f32,
    /// log of the sequential likelihood ratio (scanner vs benign).
    pub likelihood_ratio_log: f32,
    pub top_ports: Vec<PortCount>,
    pub sample_targets: Vec<IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpamEvidence {
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Distinct mail servers contacted on port 25 in the window.
    pub smtp_servers: u32,
    /// Distinct servers on the submission ports (465, 587).
    pub submission_servers: u32,
    pub connections: u64,
    pub sample_servers: Vec<IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BruteForceEvidence {
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub target: IpAddr,
    pub port: u16,
    /// Connections the service accepted, in the sliding window.
    pub answered_connections: u32,
    /// All attempts to it in this incident.
    pub attempts: u64,
    pub window_s: u32,
}

/// Most flows a profile-violation alert lists; the rest are counted.
pub const MAX_PROFILE_FLOWS: usize = 16;

/// One flow a device's profile does not allow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeniedFlow {
    /// `from-device` (the device opened it) or `to-device`.
    pub direction: &'static str,
    /// tcp, udp, icmp, icmpv6.
    pub protocol: &'static str,
    pub peer: IpAddr,
    /// The accepting side's port (0 for ICMP).
    pub port: u16,
    /// Names the router's resolver gave the peer's address for this device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Packets that opened (or tried to open) it in this incident.
    pub attempts: u64,
    pub first_seen: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileEvidence {
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Where the profile came from: `owner`, `mud-url`, `model`.
    pub source: String,
    /// What it is (a model's vendor and model, a MUD URL, a file).
    pub profile: String,
    /// Distinct flows not allowed in this incident.
    pub denied_flows: u64,
    /// The first [`MAX_PROFILE_FLOWS`] of them.
    pub flows: Vec<DeniedFlow>,
}
