//! The analysis report: the stable JSON document of `warden analyze --json`
//! (documented in docs/json-output.md) and the data behind the table.

use std::net::IpAddr;

use serde::Serialize;
use warden_decode::Mac;
use warden_detect::{AlertKind, Evidence, Timestamp};
use warden_devices::{Device, TableStats};
use warden_identify::Identity;
use warden_oui::Registry;

use crate::{Pipeline, PipelineStats};

/// Format identifier of the JSON document; bumped on incompatible change.
pub const REPORT_FORMAT: &str = "warden-analyze/1";

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: &'static str,
    pub warden_version: &'static str,
    pub devices: Vec<DeviceReport>,
    pub input: InputReport,
    pub stats: PipelineStats,
    pub device_table: TableStats,
    /// Date of the embedded IEEE registry snapshot used for vendors.
    pub vendor_registry_date: &'static str,
}

/// Where the frames came from.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InputReport {
    pub files: Vec<InputFile>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputFile {
    pub path: String,
    pub frames: u64,
    pub snapped_frames: u64,
    /// Why the file ended before its end, if it did (damaged or cut off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MacFacts {
    /// Randomised or otherwise locally administered: no vendor applies.
    pub locally_administered: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<Registry>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeviceReport {
    pub mac: Mac,
    pub ips: Vec<IpAddr>,
    /// Organisation the IEEE registry lists for the MAC prefix (often the
    /// maker of the network chip rather than the brand).
    pub vendor: Option<&'static str>,
    pub mac_info: MacFacts,
    pub identity: Identity,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub bytes_in: u64,
    pub alerts: Vec<AlertReport>,
    #[serde(skip_serializing_if = "is_zero")]
    pub alerts_dropped: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Serialize)]
pub struct AlertReport {
    pub kind: AlertKind,
    pub detected_at: Timestamp,
    pub confidence: f32,
    pub summary: String,
    pub evidence: Evidence,
}

impl DeviceReport {
    pub fn from_device(d: &Device) -> Self {
        let info = warden_oui::lookup(d.mac.0);
        let label = d.label();
        DeviceReport {
            mac: d.mac,
            ips: d.ips.clone(),
            vendor: info.vendor,
            mac_info: MacFacts {
                locally_administered: info.locally_administered,
                registry: info.registry,
            },
            identity: d.identity.clone(),
            first_seen: Timestamp(d.first_seen_ns),
            last_seen: Timestamp(d.last_seen_ns),
            packets_out: d.packets_out,
            bytes_out: d.bytes_out,
            packets_in: d.packets_in,
            bytes_in: d.bytes_in,
            alerts: d
                .alerts
                .iter()
                .map(|a| AlertReport {
                    kind: a.kind,
                    detected_at: a.detected_at,
                    confidence: (a.confidence * 100.0).round() / 100.0,
                    summary: warden_detect::summary(a, &label),
                    evidence: a.evidence.clone(),
                })
                .collect(),
            alerts_dropped: d.alerts_dropped,
        }
    }
}

impl Report {
    pub(crate) fn build(p: &Pipeline, input: InputReport) -> Self {
        Report {
            format: REPORT_FORMAT,
            warden_version: env!("CARGO_PKG_VERSION"),
            devices: p.devices.iter().map(DeviceReport::from_device).collect(),
            input,
            stats: p.stats.clone(),
            device_table: p.devices.stats(),
            vendor_registry_date: warden_oui::registry_date(),
        }
    }
}
