//! One plain-language sentence per alert, for the people who own the device.

use std::net::IpAddr;

use crate::{Alert, Evidence, Timestamp};

/// Thousands separators: 4000 -> "4,000".
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn duration(from: Timestamp, to: Timestamp) -> String {
    // Capture clocks can jump anywhere (hostile or broken files): saturate.
    let s = (to.0.saturating_sub(from.0).max(0) as f64 / 1e9)
        .round()
        .max(1.0) as u64;
    match s {
        1 => "1 second".into(),
        s if s < 120 => format!("{s} seconds"),
        s if s < 7200 => format!("{} minutes", s / 60),
        s => format!("{} hours", s / 3600),
    }
}

fn addresses(targets: &[IpAddr], noun: &str) -> String {
    let internet = targets.iter().all(|a| !is_private(*a));
    let place = if internet { "internet " } else { "" };
    match targets {
        [one] => format!("one {place}{noun} ({one})"),
        // "address" -> "addresses"; other nouns take an s.
        many if noun.ends_with('s') => format!("{} {place}{noun}es", many.len()),
        many => format!("{} {place}{noun}s", many.len()),
    }
}

fn is_private(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_private() || v.is_link_local() || v.is_loopback(),
        IpAddr::V6(v) => {
            (v.segments()[0] & 0xfe00) == 0xfc00 || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// `device` names the device as the sentence should start, e.g.
/// "This camera (D-Link DCS-935L)" or "This device".
pub fn summary(alert: &Alert, device: &str) -> String {
    let (first, last) = alert.evidence.window();
    let how_long = duration(first, last);
    match &alert.evidence {
        Evidence::Flood(e) => {
            let what = match e.variant {
                "syn" => "TCP connection requests (SYN)",
                "ack" => "TCP packets",
                "udp" | "udp-query" => "UDP packets",
                "gre" => "GRE packets",
                "icmp" => "ping packets",
                "dns" => "DNS queries for random names",
                _ => "packets",
            };
            if e.variant == "dns" {
                let domain = e
                    .dns_domain
                    .as_deref()
                    .map(|d| format!(" under {d}"))
                    .unwrap_or_default();
                return format!(
                    "{device} sent {} {what}{domain} per second for {how_long}: it is probably part of a botnet attack on that domain's name servers.",
                    count(u64::from(e.peak_pps))
                );
            }
            let targets: Vec<IpAddr> = e
                .top_destinations
                .iter()
                .filter(|t| t.share >= 0.05)
                .map(|t| t.address)
                .collect();
            format!(
                "{device} sent {} {what} per second to {} for {how_long}: it is probably part of a botnet attack.",
                count(u64::from(e.peak_pps)),
                addresses(if targets.is_empty() { &[] } else { &targets }, "address")
            )
        }
        Evidence::Scan(e) => {
            let ports: Vec<String> = e.top_ports.iter().take(2).map(|p| p.port.to_string()).collect();
            let port = match ports.as_slice() {
                [] => String::new(),
                [p] => format!(" on port {p}"),
                ps => format!(" on ports {}", ps.join(" and ")),
            };
            format!(
                "{device} tried {} new connections (addresses and ports it had not contacted before){port} in {how_long}, and {} of the attempts it could follow went unanswered: it is probably infected and searching for other devices to infect.",
                count(e.attempts),
                count(u64::from(e.failed))
            )
        }
        Evidence::Spam(e) => format!(
            "{device} connected to {} different mail servers in {how_long}: it is probably sending spam for a botnet.",
            count(u64::from(e.smtp_servers.max(e.submission_servers)))
        ),
        Evidence::BruteForce(e) => format!(
            "{device} made {} login connections to {}:{} within {} seconds: it is probably trying to guess passwords.",
            count(u64::from(e.answered_connections)),
            e.target,
            e.port,
            e.window_s
        ),
        Evidence::ProfileViolation(e) => {
            let first = e.flows.first().map(denied_flow).unwrap_or_default();
            let more = match e.denied_flows {
                0 | 1 => String::new(),
                n => format!(" and {} other flow{}", count(n - 1), if n == 2 { "" } else { "s" }),
            };
            format!(
                "{device} {first}{more}, which its network profile ({}) does not allow: a device doing what its maker declared does not do this, so it may be misconfigured, updated to new behaviour, or taken over.",
                e.profile
            )
        }
    }
}

/// "tried to reach 203.0.113.9 (x.example) on TCP port 8443".
fn denied_flow(f: &crate::DeniedFlow) -> String {
    let names = match f.names.first() {
        Some(n) => format!(" ({n})"),
        None => String::new(),
    };
    let proto = f.protocol.to_uppercase();
    let port = if f.port == 0 {
        String::new()
    } else {
        format!(" on {proto} port {}", f.port)
    };
    let ping = if f.port == 0 { " with a ping" } else { "" };
    if f.direction == "to-device" {
        format!("was contacted by {}{names}{port}{ping}", f.peer)
    } else {
        format!("tried to reach {}{names}{port}{ping}", f.peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_of_address() {
        let two = [
            IpAddr::from([198, 51, 100, 1]),
            IpAddr::from([198, 51, 100, 2]),
        ];
        assert_eq!(addresses(&two, "address"), "2 internet addresses");
        assert_eq!(
            addresses(&two[..1], "address"),
            "one internet address (198.51.100.1)"
        );
    }

    #[test]
    fn profile_violation_sentence() {
        let flow = |port, peer: [u8; 4]| crate::DeniedFlow {
            direction: "from-device",
            protocol: "tcp",
            peer: IpAddr::from(peer),
            port,
            names: vec!["update.example.test".into()],
            attempts: 2,
            first_seen: Timestamp(1),
        };
        let alert = Alert {
            kind: crate::AlertKind::ProfileViolation,
            detected_at: Timestamp(1),
            confidence: 1.0,
            evidence: Evidence::ProfileViolation(crate::ProfileEvidence {
                first_seen: Timestamp(1),
                last_seen: Timestamp(2),
                source: "owner".into(),
                profile: "Acme Cam 1".into(),
                denied_flows: 3,
                flows: vec![flow(8443, [203, 0, 113, 9]), flow(22, [203, 0, 113, 10])],
            }),
        };
        assert_eq!(
            summary(&alert, "This camera"),
            "This camera tried to reach 203.0.113.9 (update.example.test) on TCP port 8443 and 2 other flows, which its network profile (Acme Cam 1) does not allow: a device doing what its maker declared does not do this, so it may be misconfigured, updated to new behaviour, or taken over."
        );
    }

    #[test]
    fn thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(4000), "4,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn windows_across_the_whole_clock_range() {
        // Found by the pipeline_frames fuzz target: a capture whose clock
        // jumped from 2023 back to near i64::MIN gave a scan alert this
        // window, and the sentence's duration overflowed.
        let alert = |first: i64, last: i64| Alert {
            kind: crate::AlertKind::Scan,
            detected_at: Timestamp(last),
            confidence: 1.0,
            evidence: Evidence::Scan(crate::ScanEvidence {
                first_seen: Timestamp(first),
                last_seen: Timestamp(last),
                attempts: 2,
                failed: 2,
                answered: 0,
                rate_per_s: 1.0,
                likelihood_ratio_log: 5.0,
                top_ports: Vec::new(),
                sample_targets: vec!["10.10.10.1".parse().unwrap()],
            }),
        };
        let backwards = summary(
            &alert(1_700_000_000_000_000_000, -9_223_372_034_773_775_808),
            "This device",
        );
        assert!(backwards.contains("1 second"), "{backwards}");
        let everything = summary(&alert(i64::MIN, i64::MAX), "This device");
        assert!(everything.contains("2562047 hours"), "{everything}");
    }
}
