//! Detector thresholds. Every field has a default chosen from what real
//! devices do (see docs/detectors.md for the reasoning behind each number);
//! a TOML file may override any of them.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    pub flood: FloodConfig,
    pub scan: ScanConfig,
    pub spam: SpamConfig,
    pub brute_force: BruteForceConfig,
    /// Seconds without the behaviour after which an incident is over and a
    /// new one would raise a new alert.
    pub incident_gap_s: u32,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            flood: FloodConfig::default(),
            scan: ScanConfig::default(),
            spam: SpamConfig::default(),
            brute_force: BruteForceConfig::default(),
            incident_gap_s: 60,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FloodConfig {
    /// Packets per second of one kind (UDP, TCP ACK, GRE, ...) below which
    /// nothing is a flood.
    pub min_pps: u32,
    /// How many destinations count as "few".
    pub max_targets: usize,
    /// Share of the packets that must go to those few destinations.
    pub min_concentration: f32,
    /// Traffic counts as unanswered when the destinations sent back less
    /// than this many packets per packet sent (RSTs and ICMP errors are
    /// refusals, not answers).
    pub max_answer_ratio: f32,
    /// Unanswered traffic to one port of an address the device never
    /// resolved must exceed this rate (a video stream to a relay looks like
    /// this at a few hundred packets per second).
    pub single_port_min_pps: u32,
    /// Distinct destination ports per second to the top destination that
    /// mark packets as sprayed (floods randomise ports; streams do not).
    pub sprayed_ports: u32,
    /// Addresses the device resolved through DNS are services it uses; a
    /// flood against one must exceed this rate.
    pub named_min_pps: u32,
    /// TCP SYNs per second to few destinations: no client opens this many
    /// connections to one server.
    pub syn_min_pps: u32,
    /// ICMP echo requests per second to few destinations.
    pub icmp_min_pps: u32,
    /// Small answered UDP queries per second (query floods such as VSE get
    /// answers); mean payload must stay under `query_max_payload`.
    pub query_min_pps: u32,
    pub query_max_payload: u32,
    /// DNS queries per second from the device...
    pub dns_min_qps: u32,
    /// ...of which at least this share answered NXDOMAIN (random-subdomain
    /// "water torture").
    pub dns_min_nxdomain_share: f32,
    /// Hot seconds needed among the last `window_s` seconds.
    pub min_hot_seconds: u32,
    /// A second this many times past its rate threshold is strong
    /// evidence: one hot second fewer is needed (never fewer than one).
    /// Attacks are that far past it; benign bursts that reach a threshold
    /// at all barely do.
    pub strong_excess: f32,
    pub window_s: u32,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            min_pps: 200,
            max_targets: 4,
            min_concentration: 0.75,
            max_answer_ratio: 0.05,
            single_port_min_pps: 2_000,
            sprayed_ports: 4,
            named_min_pps: 5_000,
            syn_min_pps: 100,
            icmp_min_pps: 100,
            query_min_pps: 2_000,
            query_max_payload: 128,
            dns_min_qps: 50,
            dns_min_nxdomain_share: 0.5,
            min_hot_seconds: 3,
            strong_excess: 4.0,
            window_s: 5,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// Success probability of a benign host's first contacts (TRW θ0).
    pub benign_success: f64,
    /// Success probability of a scanner's first contacts (TRW θ1).
    pub scanner_success: f64,
    /// Target false-positive rate (TRW α) and detection probability (β).
    pub false_positive_rate: f64,
    pub detection_rate: f64,
    /// Unanswered first contacts needed besides the likelihood ratio.
    pub min_failures: u32,
    /// A first contact with no answer after this long has failed.
    pub attempt_timeout_ms: u32,
    /// Also treat UDP first contacts as probes (off: P2P and NTP pools
    /// make UDP fan-out common on benign devices).
    pub udp: bool,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            benign_success: 0.8,
            scanner_success: 0.2,
            false_positive_rate: 0.001,
            detection_rate: 0.99,
            min_failures: 6,
            attempt_timeout_ms: 3_000,
            udp: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SpamConfig {
    /// Distinct mail servers contacted on port 25 within `window_s`.
    pub min_servers: u32,
    /// Distinct servers on the submission ports (465, 587): mail clients
    /// talk to one provider, so many distinct ones are suspicious too.
    pub min_submission_servers: u32,
    pub window_s: u32,
}

impl Default for SpamConfig {
    fn default() -> Self {
        SpamConfig {
            min_servers: 5,
            min_submission_servers: 10,
            window_s: 900,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    /// Ports of login services (telnet, SSH, FTP, RDP, VNC, databases, ...).
    pub login_ports: Vec<u16>,
    /// Answered connections to one login service within `window_s`.
    pub min_login_connections: u32,
    /// Completed connections to one service on any other port within
    /// `window_s`; 0 (the default) leaves other ports alone. Apps poll LAN
    /// hubs over HTTP with a new connection each time (the Hue app in the
    /// IoT Sentinel captures makes over 120 a minute), so a count alone
    /// cannot tell a web-login attack from an app.
    pub min_other_connections: u32,
    pub window_s: u32,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            login_ports: vec![
                21, 22, 23, 110, 143, 445, 993, 995, 1433, 2323, 3306, 3389, 5432, 5900, 8291,
            ],
            min_login_connections: 8,
            min_other_connections: 0,
            window_s: 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_only_what_it_names() {
        let cfg: DetectConfig = toml::from_str("[flood]\nmin_pps = 50\n").unwrap();
        assert_eq!(cfg.flood.min_pps, 50);
        assert_eq!(cfg.flood.syn_min_pps, FloodConfig::default().syn_min_pps);
        assert_eq!(cfg.scan, ScanConfig::default());
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<DetectConfig>("[flood]\nmin_ppps = 50\n").is_err());
    }
}
