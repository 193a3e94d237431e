//! Botnet behaviour detectors, run per device over its own traffic.
//!
//! The pipeline turns every packet a device sends or receives into a
//! [`Seen`] (the device's view: remote address, ports, flags, whether the
//! remote is a name the device resolved) and hands it to that device's
//! [`DeviceDetectors`]. All state is fixed-size per device (see
//! `DeviceDetectors::SIZE`), and time is the packets' own capture time, so
//! replaying a capture gives exactly the live verdicts.
//!
//! Each detector raises one [`Alert`] per incident and then keeps its
//! evidence up to date while the behaviour goes on ([`Finding::Updated`]).

mod alert;
mod brute;
mod config;
mod flood;
mod scan;
mod spam;
mod summary;
mod time;

pub use alert::{
    Alert, AlertKind, BruteForceEvidence, DeniedFlow, Evidence, FloodEvidence, FloodTarget,
    PortCount, ProfileEvidence, ScanEvidence, SpamEvidence, MAX_PROFILE_FLOWS,
};
pub use config::{BruteForceConfig, DetectConfig, FloodConfig, ScanConfig, SpamConfig};
pub use summary::summary;
pub use time::Timestamp;

use std::net::IpAddr;

use warden_decode::Transport;

/// Which way a packet went, from the device's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the device.
    Outbound,
    /// Received by the device.
    Inbound,
}

/// Where the remote end is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Another host on the LAN (private address).
    Lan,
    /// Beyond the router.
    Internet,
    /// Multicast or broadcast: never a flood or scan target.
    Group,
}

/// DNS facts the pipeline extracted from a packet of the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsEvent<'a> {
    /// The device asked for this name.
    Query { name: &'a str },
    /// The device got an answer with this response code (3 = NXDOMAIN).
    Response { rcode: u8 },
}

/// One packet as its device sees it.
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    pub ts_ns: i64,
    pub direction: Direction,
    pub remote: IpAddr,
    pub remote_port: u16,
    pub local_port: u16,
    pub transport: Transport,
    /// Bytes on the wire.
    pub wire_len: u32,
    /// Transport payload as captured (a snap length may have cut it).
    pub payload: &'a [u8],
    pub scope: Scope,
    /// The remote address came from a DNS answer the router saw: it is a
    /// service the device looked up by name, not an address handed to it.
    pub remote_named: bool,
    /// Outbound only: the source address is not the device's (a LAN
    /// device sending from a foreign address forges it; nothing benign
    /// does, so a flood of such packets needs no stream allowance).
    pub spoofed: bool,
    pub dns: Option<DnsEvent<'a>>,
}

/// What a detector found on this packet or tick.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// A new incident.
    Raised(Alert),
    /// The incident of this kind goes on: here is its evidence now.
    Updated { kind: AlertKind, evidence: Evidence },
}

/// Thresholds, precomputed for the hot path.
#[derive(Clone, Debug)]
pub struct Detectors {
    cfg: DetectConfig,
    scan_llr: scan::Llr,
    gap_ns: i64,
}

impl Detectors {
    pub fn new(cfg: DetectConfig) -> Self {
        let scan_llr = scan::Llr::new(&cfg.scan);
        let gap_ns = i64::from(cfg.incident_gap_s) * 1_000_000_000;
        Detectors {
            cfg,
            scan_llr,
            gap_ns,
        }
    }

    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// Feed one packet of a device to its detectors.
    #[inline]
    pub fn observe(&self, state: &mut DeviceDetectors, seen: &Seen<'_>, out: &mut Vec<Finding>) {
        state.flood.observe(&self.cfg.flood, self.gap_ns, seen, out);
        if let Transport::Tcp { .. } | Transport::Icmp { .. } | Transport::Udp { .. } =
            seen.transport
        {
            state.scan.observe(self, seen, out);
            state
                .brute
                .observe(&self.cfg.brute_force, self.gap_ns, seen, out);
            spam::observe(&mut state.spam, &self.cfg.spam, self.gap_ns, seen, out);
        }
    }

    /// Advance a device's clock without a packet of its own: ends windows
    /// and times out unanswered connection attempts. The pipeline calls it
    /// about once a second of capture time.
    pub fn tick(&self, state: &mut DeviceDetectors, now_ns: i64, out: &mut Vec<Finding>) {
        state.flood.tick(&self.cfg.flood, self.gap_ns, now_ns, out);
        state.scan.tick(self, now_ns, out);
    }
}

/// All detector state of one device. Fixed size; spam state is allocated
/// only for devices that speak SMTP.
#[derive(Clone, Debug, Default)]
pub struct DeviceDetectors {
    flood: flood::FloodState,
    scan: scan::ScanState,
    brute: brute::BruteState,
    spam: Option<Box<spam::SpamState>>,
}

impl DeviceDetectors {
    /// Bytes of detector state per device (plus `spam::SpamState` for
    /// devices that open SMTP connections).
    pub const SIZE: usize = std::mem::size_of::<DeviceDetectors>();
    pub const SPAM_SIZE: usize = std::mem::size_of::<spam::SpamState>();
}

// The per-device budget (docs/architecture.md): fail the build, not a test.
const _: () = assert!(DeviceDetectors::SIZE < 4096);

#[cfg(test)]
mod tests;
