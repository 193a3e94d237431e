#![allow(dead_code)]

use warden_detect::{Alert, AlertKind, Evidence, FloodEvidence, FloodTarget, Timestamp};
use warden_policy::{AlertSummary, Mac};

pub const S: i64 = 1_000_000_000;
pub const H: i64 = 3_600 * S;
pub const T0: Timestamp = Timestamp(1_768_478_400 * S); // 2026-01-15T12:00:00Z

pub fn at(ns: i64) -> Timestamp {
    Timestamp(T0.0 + ns)
}

pub fn mac(n: u32) -> Mac {
    let b = n.to_be_bytes();
    Mac([0x00, 0x11, b[0], b[1], b[2], b[3]])
}

pub fn summary(kind: AlertKind) -> AlertSummary {
    AlertSummary::new(
        format!("This device did a {kind}."),
        format!("{kind}: figures"),
    )
}

pub fn flood_alert(now: Timestamp, domain: Option<&str>) -> Alert {
    Alert {
        kind: AlertKind::Flood,
        detected_at: now,
        confidence: 0.97,
        evidence: Evidence::Flood(FloodEvidence {
            variant: "udp",
            first_seen: Timestamp(now.0 - 3 * S),
            last_seen: now,
            hot_seconds: 3,
            peak_pps: 9_000,
            peak_bytes_per_s: 9_000 * 512,
            packets: 27_000,
            answer_ratio: 0.0,
            top_destinations: vec![FloodTarget {
                address: "203.0.113.5".parse().unwrap(),
                packets: 9_000,
                share: 1.0,
                ports: 40,
                resolved_by_dns: false,
            }],
            dns_domain: domain.map(str::to_owned),
            nxdomain_share: None,
        }),
    }
}
