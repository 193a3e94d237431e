//! Ground truth written next to every capture (`<pcap>.labels.json`).
//! The shape is a contract with the evaluation; see docs/simulator.md.

use serde::{Deserialize, Serialize};

use crate::Behaviour;

/// Value of [`Labels::format`].
pub const LABELS_FORMAT: &str = "warden-sim-labels/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// Always [`LABELS_FORMAT`].
    pub format: String,
    pub seed: u64,
    /// `household`, `benign`, `attack-flood`, `attack-scan`, `attack-spam`,
    /// `attack-brute-force` or `throughput`.
    pub scenario: String,
    /// Capture start, RFC 3339 UTC.
    pub start: String,
    pub duration_s: u32,
    /// Frames written to the pcap.
    #[serde(default)]
    pub frames: u64,
    /// True if the hard frame cap cut the capture short.
    #[serde(default)]
    pub truncated: bool,
    pub router: RouterLabel,
    pub devices: Vec<DeviceLabel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterLabel {
    pub mac: String,
    pub ip: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceClass {
    Benign,
    Infected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceLabel {
    /// Lower-case colon-separated MAC, the device table key.
    pub mac: String,
    pub ips: Vec<String>,
    /// `camera`, `smart-plug`, `hub`, `phone`, `laptop`, `tv` or `nas`.
    pub profile: String,
    pub label: DeviceClass,
    /// Brand (identification ground truth).
    #[serde(default)]
    pub vendor: String,
    #[serde(default)]
    pub model: String,
    /// DHCP option 12 as sent.
    #[serde(default)]
    pub hostname: String,
    /// DHCP option 60 as sent, if any.
    #[serde(default)]
    pub dhcp_vendor_class: Option<String>,
    /// Malicious behaviours (empty for benign devices).
    pub behaviours: Vec<BehaviourLabel>,
    /// Benign activities an evaluation may want to name when a detector
    /// fires on them (backups, calls, heartbeats, ...). Not behaviours.
    #[serde(default)]
    pub activities: Vec<ActivityLabel>,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehaviourLabel {
    pub kind: Behaviour,
    /// e.g. `udp`, `syn`, `greip`, `telnet-sweep`, `slow`, `ssh`.
    pub variant: String,
    /// Timestamp of the first malicious frame the device sent.
    pub onset: String,
    /// Timestamp of the last malicious frame the device sent.
    pub end: String,
    /// Main target: an address, `addr:port`, a domain (DNS flood),
    /// a prefix (`0.0.0.0/0`, `192.168.1.0/24`) or `mx-hosts` (spam).
    pub target: String,
    /// All target addresses when they are few (floods, brute force).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Destination ports used (empty: random per packet).
    #[serde(default)]
    pub dst_ports: Vec<u16>,
    /// Nominal rate: packets/s (flood), probes/s (scan), attempts/s
    /// (brute force); 0 for spam (see notes).
    pub rate_pps: f64,
    /// Frames the device sent for this behaviour.
    #[serde(default)]
    pub packets: u64,
    /// Frames received for it (replies, RSTs, NXDOMAIN...).
    #[serde(default)]
    pub packets_in: u64,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityLabel {
    /// e.g. `backup-upload`, `video-call`, `video-upload-rtp`,
    /// `cloud-heartbeat`, `browsing`, `printer-retry`, `mail-submission`,
    /// `smarthost-relay`, `video-streaming`, `c2`.
    pub kind: String,
    /// First and last frame of the activity (either direction).
    pub start: String,
    pub end: String,
    /// Remote end (`addr`, `addr:port` or `many`).
    pub peer: String,
    /// Nominal packet rate when meaningful, else 0.
    pub rate_pps: f64,
    /// Frames in both directions.
    pub packets: u64,
    #[serde(default)]
    pub notes: String,
}

impl Labels {
    pub fn device(&self, mac: &str) -> Option<&DeviceLabel> {
        self.devices
            .iter()
            .find(|d| d.mac.eq_ignore_ascii_case(mac))
    }

    /// All behaviours with the MAC of the device showing them.
    pub fn behaviours(&self) -> impl Iterator<Item = (&DeviceLabel, &BehaviourLabel)> {
        self.devices
            .iter()
            .flat_map(|d| d.behaviours.iter().map(move |b| (d, b)))
    }
}
