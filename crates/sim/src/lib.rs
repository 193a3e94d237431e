//! warden-sim: a deterministic, labelled home-LAN traffic simulator.
//!
//! It writes an Ethernet pcap of a household as the router's LAN port sees
//! it (benign cameras, plugs, hubs, phones, laptops, TVs and NAS boxes,
//! including their legitimately heavy traffic: video upload, calls,
//! backups, mail submission) and, in the attack scenarios, infected devices
//! doing what Mirai and its relatives do: floods, telnet sweeps and slow
//! scans, spam, login brute force. Next to the capture it writes the ground
//! truth (`<pcap>.labels.json`): every device, whether it is infected, and
//! every malicious behaviour with the time of its first and last frame.
//!
//! The output is a pure function of [`SimOptions`]: the same seed gives the
//! same bytes. See docs/simulator.md for the models and their sources.

mod attacks;
mod bulk;
mod catalog;
mod clock;
mod ctx;
mod device;
mod engine;
mod labels;
mod mail;
mod net;
mod pcap;
mod plan;
mod profiles;
mod tcp;
mod world;
mod proto {
    pub(crate) mod dhcp;
    pub(crate) mod dns;
    pub(crate) mod tls;
}

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use clock::{format_timestamp, parse_timestamp};
pub use labels::{
    ActivityLabel, BehaviourLabel, DeviceClass, DeviceLabel, Labels, RouterLabel, LABELS_FORMAT,
};

/// A malicious behaviour, named as the detectors name their alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Behaviour {
    Flood,
    Scan,
    Spam,
    BruteForce,
}

impl Behaviour {
    pub const ALL: [Behaviour; 4] = [
        Behaviour::Flood,
        Behaviour::Scan,
        Behaviour::Spam,
        Behaviour::BruteForce,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Flood => "flood",
            Behaviour::Scan => "scan",
            Behaviour::Spam => "spam",
            Behaviour::BruteForce => "brute-force",
        }
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the capture contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A household with two or three infected devices, each doing a
    /// different behaviour, among benign ones.
    Household,
    /// Only benign devices, most of them running their heavy activities:
    /// the false-positive test bench.
    Benign,
    /// A household where one or two infected devices do this behaviour.
    Attack(Behaviour),
}

impl Scenario {
    /// Every scenario, in the order `warden simulate --help` lists them.
    pub const ALL: [Scenario; 6] = [
        Scenario::Household,
        Scenario::Benign,
        Scenario::Attack(Behaviour::Flood),
        Scenario::Attack(Behaviour::Scan),
        Scenario::Attack(Behaviour::Spam),
        Scenario::Attack(Behaviour::BruteForce),
    ];

    pub fn name(self) -> String {
        match self {
            Scenario::Household => "household".into(),
            Scenario::Benign => "benign".into(),
            Scenario::Attack(b) => format!("attack-{b}"),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<String> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {s:?} (one of: {})", names.join(", "))
            })
    }
}

/// Everything the output depends on.
#[derive(Clone, Debug)]
pub struct SimOptions {
    pub seed: u64,
    pub scenario: Scenario,
    /// Length of the capture in seconds (at least 60).
    pub duration_s: u32,
    /// Capture start, unix seconds.
    pub start_unix: i64,
    /// Hard cap on frames written; heavy activities and floods are sized to
    /// fit well inside it, so it only cuts in as a safety net.
    pub max_frames: u64,
}

/// 2026-01-15T12:00:00Z: a fixed start so captures are reproducible.
pub const DEFAULT_START_UNIX: i64 = 1_768_478_400;

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 1,
            scenario: Scenario::Household,
            duration_s: 600,
            start_unix: DEFAULT_START_UNIX,
            max_frames: 4_000_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("duration must be between 60 and 86400 seconds, not {0}")]
    Duration(u32),
    #[error("max_frames must be at least 10000, not {0}")]
    MaxFrames(u64),
    #[error("start time {0} is outside what a pcap file can hold (1970..2106)")]
    Start(i64),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl SimOptions {
    fn check(&self) -> Result<(), SimError> {
        if !(60..=86_400).contains(&self.duration_s) {
            return Err(SimError::Duration(self.duration_s));
        }
        if self.max_frames < 10_000 {
            return Err(SimError::MaxFrames(self.max_frames));
        }
        let end = self.start_unix.saturating_add(i64::from(self.duration_s));
        if self.start_unix < 0 || end > i64::from(u32::MAX) {
            return Err(SimError::Start(self.start_unix));
        }
        Ok(())
    }
}

/// Write the capture to `out` (pcap, Ethernet, microsecond timestamps) and
/// return its labels.
pub fn generate<W: Write>(opts: &SimOptions, out: W) -> Result<Labels, SimError> {
    opts.check()?;
    plan::run(opts, out).map_err(|source| SimError::Io {
        path: "output".into(),
        source,
    })
}

/// Write `pcap_path` and its labels beside it (`<pcap_path>.labels.json`).
pub fn write_files(opts: &SimOptions, pcap_path: &Path) -> Result<Labels, SimError> {
    opts.check()?;
    let io_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| SimError::Io { path, source }
    };
    let file = std::fs::File::create(pcap_path).map_err(io_err(pcap_path))?;
    let labels =
        plan::run(opts, BufWriter::with_capacity(1 << 20, file)).map_err(io_err(pcap_path))?;
    let lpath = labels_path(pcap_path);
    let mut text = serde_json::to_string_pretty(&labels).expect("labels serialise");
    text.push('\n');
    std::fs::write(&lpath, text).map_err(io_err(&lpath))?;
    Ok(labels)
}

/// Where the labels of a capture live: `<capture>.labels.json`.
pub fn labels_path(capture: &Path) -> PathBuf {
    let mut s = capture.as_os_str().to_owned();
    s.push(".labels.json");
    PathBuf::from(s)
}
