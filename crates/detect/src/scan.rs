//! Scan detection by Threshold Random Walk (Jung, Paxson, Berger,
//! Balakrishnan, "Fast Portscan Detection Using Sequential Hypothesis
//! Testing", IEEE S&P 2004).
//!
//! Every *first contact* of the device (a TCP SYN to an address and port it
//! has not contacted before) is a Bernoulli trial: answered (SYN-ACK) or
//! failed (RST, ICMP unreachable, or no answer within the timeout). Benign
//! hosts' first contacts mostly succeed (θ0), scanners' mostly fail (θ1).
//! The log-likelihood ratio walks up on failures and down on successes; it
//! declares a scanner at ln(β/α) and restarts the test at ln((1-β)/(1-α)).
//!
//! Two refinements for home networks:
//! * a failed contact to an address the device resolved through DNS is not
//!   evidence (dead cloud endpoints and broken IPv6 fail often; scanners
//!   pick addresses, not names);
//! * at most `PENDING` attempts are followed at once; further attempts are
//!   counted but not followed, which samples a fast sweep instead of
//!   letting it evict every attempt before its timeout.

use std::net::IpAddr;

use warden_decode::Transport;

use crate::{
    Alert, AlertKind, Detectors, Direction, Evidence, Finding, PortCount, ScanConfig, ScanEvidence,
    Scope, Seen, Timestamp,
};

const BLOOM_WORDS: usize = 32; // 2048 bits of "contacted before"
const PENDING: usize = 32;
const TOP_PORTS: usize = 4;
const SAMPLES: usize = 5;

/// TRW thresholds and step sizes, precomputed from the config.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Llr {
    on_failure: f64,
    on_success: f64,
    upper: f64,
    lower: f64,
    timeout_ns: i64,
    min_failures: u32,
    udp: bool,
}

impl Llr {
    pub(crate) fn new(cfg: &ScanConfig) -> Self {
        let t0 = cfg.benign_success.clamp(0.01, 0.99);
        let t1 = cfg.scanner_success.clamp(0.01, 0.99);
        let a = cfg.false_positive_rate.clamp(1e-9, 0.5);
        let b = cfg.detection_rate.clamp(0.5, 1.0 - 1e-9);
        Llr {
            on_failure: ((1.0 - t1) / (1.0 - t0)).ln(),
            on_success: (t1 / t0).ln(),
            upper: (b / a).ln(),
            lower: ((1.0 - b) / (1.0 - a)).ln(),
            timeout_ns: i64::from(cfg.attempt_timeout_ms) * 1_000_000,
            min_failures: cfg.min_failures,
            udp: cfg.udp,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    key: u64,
    sent_ns: i64,
    named: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ScanState {
    contacted: [u64; BLOOM_WORDS],
    contacted_bits: u32,
    pending: [Pending; PENDING],
    n_pending: u8,
    // The running test.
    llr: f64,
    failures: u32,
    successes: u32,
    test_start_ns: i64,
    attempts: u64,
    last_attempt_ns: i64,
    ports: [PortCount; TOP_PORTS],
    samples: [Option<IpAddr>; SAMPLES],
    /// The incident, once the test declared a scanner.
    alerted: bool,
    last_alert_ns: i64,
}

/// Hash of (address, port): bloom and pending key.
fn contact_key(addr: IpAddr, port: u16) -> u64 {
    // FNV-1a over the address bytes and port; cheap and well mixed enough
    // for a 2048-bit filter.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    match addr {
        IpAddr::V4(a) => a.octets().into_iter().for_each(&mut eat),
        IpAddr::V6(a) => a.octets().into_iter().for_each(&mut eat),
    }
    port.to_be_bytes().into_iter().for_each(&mut eat);
    h ^ (h >> 29)
}

impl ScanState {
    pub(crate) fn observe(&mut self, d: &Detectors, seen: &Seen<'_>, out: &mut Vec<Finding>) {
        let llr = &d.scan_llr;
        if self.n_pending > 0 {
            self.expire(d, seen.ts_ns, out);
        }
        match (seen.direction, seen.transport) {
            (Direction::Outbound, Transport::Tcp { flags, .. }) if flags.is_syn_only() => {
                self.attempt(seen);
            }
            (Direction::Outbound, Transport::Udp { .. }) if llr.udp && seen.dns.is_none() => {
                self.attempt(seen);
            }
            (Direction::Inbound, Transport::Tcp { flags, .. })
                if self.n_pending > 0 && (flags.is_syn_ack() || flags.rst()) =>
            {
                let key = contact_key(seen.remote, seen.remote_port);
                self.resolve(d, key, flags.is_syn_ack(), seen.ts_ns, out);
            }
            (Direction::Inbound, Transport::Udp { .. }) if self.n_pending > 0 && llr.udp => {
                let key = contact_key(seen.remote, seen.remote_port);
                self.resolve(d, key, true, seen.ts_ns, out);
            }
            (
                Direction::Inbound,
                Transport::Icmp {
                    quoted: Some(q), ..
                },
            ) if self.n_pending > 0 => {
                let key = contact_key(q.dst, q.dst_port);
                self.resolve(d, key, false, seen.ts_ns, out);
            }
            _ => {}
        }
    }

    pub(crate) fn tick(&mut self, d: &Detectors, now_ns: i64, out: &mut Vec<Finding>) {
        if self.n_pending > 0 {
            self.expire(d, now_ns, out);
        }
    }

    fn attempt(&mut self, seen: &Seen<'_>) {
        if seen.scope == Scope::Group {
            return;
        }
        let key = contact_key(seen.remote, seen.remote_port);
        let (word, bit) = ((key as usize >> 6) % BLOOM_WORDS, 1u64 << (key & 63));
        let (word2, bit2) = (
            ((key >> 32) as usize >> 6) % BLOOM_WORDS,
            1u64 << ((key >> 32) & 63),
        );
        if self.contacted[word] & bit != 0 && self.contacted[word2] & bit2 != 0 {
            return; // contacted before (or a rare filter collision)
        }
        // A full filter forgets everything rather than calling all new
        // contacts old.
        if self.contacted_bits > (BLOOM_WORDS as u32 * 64) / 2 {
            self.contacted = [0; BLOOM_WORDS];
            self.contacted_bits = 0;
        }
        self.contacted_bits += u32::from(self.contacted[word] & bit == 0);
        self.contacted[word] |= bit;
        self.contacted_bits += u32::from(self.contacted[word2] & bit2 == 0);
        self.contacted[word2] |= bit2;

        if self.attempts == 0 {
            self.test_start_ns = seen.ts_ns;
        }
        self.attempts += 1;
        self.last_attempt_ns = seen.ts_ns;
        self.count_port(seen.remote_port);
        if let Some(slot) = self.samples.iter_mut().find(|s| s.is_none()) {
            *slot = Some(seen.remote);
        }
        let n = usize::from(self.n_pending);
        if n < PENDING {
            self.pending[n] = Pending {
                key,
                sent_ns: seen.ts_ns,
                named: seen.remote_named,
            };
            self.n_pending += 1;
        }
    }

    fn count_port(&mut self, port: u16) {
        if let Some(p) = self
            .ports
            .iter_mut()
            .find(|p| p.port == port && p.attempts > 0)
        {
            p.attempts += 1;
            return;
        }
        // Replace the least-used slot (space-saving, like the flood top list).
        if let Some(p) = self.ports.iter_mut().min_by_key(|p| p.attempts) {
            p.attempts += 1;
            p.port = port;
        }
    }

    fn expire(&mut self, d: &Detectors, now_ns: i64, out: &mut Vec<Finding>) {
        let timeout = d.scan_llr.timeout_ns;
        let mut i = 0;
        while i < usize::from(self.n_pending) {
            let p = self.pending[i];
            if now_ns.saturating_sub(p.sent_ns) >= timeout {
                self.remove(i);
                self.outcome(d, false, p.named, now_ns, out);
            } else {
                i += 1;
            }
        }
    }

    fn resolve(
        &mut self,
        d: &Detectors,
        key: u64,
        success: bool,
        now_ns: i64,
        out: &mut Vec<Finding>,
    ) {
        let n = usize::from(self.n_pending);
        if let Some(i) = self.pending[..n].iter().position(|p| p.key == key) {
            let named = self.pending[i].named;
            self.remove(i);
            self.outcome(d, success, named, now_ns, out);
        }
    }

    fn remove(&mut self, i: usize) {
        let last = usize::from(self.n_pending) - 1;
        self.pending.swap(i, last);
        self.n_pending -= 1;
    }

    fn outcome(
        &mut self,
        d: &Detectors,
        success: bool,
        named: bool,
        now_ns: i64,
        out: &mut Vec<Finding>,
    ) {
        let llr = &d.scan_llr;
        if self.alerted && now_ns.saturating_sub(self.last_alert_ns) > d.gap_ns {
            // The last incident is over: start a fresh test.
            self.alerted = false;
            self.reset_test();
        }
        if success {
            self.successes += 1;
            self.llr += llr.on_success;
        } else if !named {
            self.failures += 1;
            self.llr += llr.on_failure;
        } else {
            return;
        }
        if self.alerted {
            // The incident goes on while attempts keep failing.
            if !success {
                self.last_alert_ns = now_ns;
                if let Some(e) = self.evidence(now_ns) {
                    out.push(Finding::Updated {
                        kind: AlertKind::Scan,
                        evidence: Evidence::Scan(e),
                    });
                }
            }
            return;
        }
        if self.llr <= llr.lower {
            self.reset_test();
        } else if self.llr >= llr.upper && self.failures >= llr.min_failures {
            self.alerted = true;
            self.last_alert_ns = now_ns;
            if let Some(evidence) = self.evidence(now_ns) {
                let fail_share = self.failures as f32 / (self.failures + self.successes) as f32;
                let confidence = (0.5
                    + 0.3 * fail_share
                    + 0.2 * ((self.llr - llr.upper) / llr.upper.max(1.0)).clamp(0.0, 1.0) as f32)
                    .clamp(0.0, 1.0);
                out.push(Finding::Raised(Alert {
                    kind: AlertKind::Scan,
                    detected_at: Timestamp(now_ns),
                    confidence,
                    evidence: Evidence::Scan(evidence),
                }));
            }
        }
    }

    fn reset_test(&mut self) {
        self.llr = 0.0;
        self.failures = 0;
        self.successes = 0;
        self.attempts = 0;
        self.ports = Default::default();
        self.samples = Default::default();
    }

    fn evidence(&self, now_ns: i64) -> Option<ScanEvidence> {
        // Saturating: capture clocks can jump anywhere (a hostile or broken file).
        let span_s = self
            .last_attempt_ns
            .max(now_ns)
            .saturating_sub(self.test_start_ns) as f32
            / 1e9;
        let mut top_ports: Vec<PortCount> = self
            .ports
            .iter()
            .copied()
            .filter(|p| p.attempts > 0)
            .collect();
        top_ports.sort_unstable_by_key(|p| std::cmp::Reverse(p.attempts));
        Some(ScanEvidence {
            first_seen: Timestamp(self.test_start_ns),
            last_seen: Timestamp(self.last_attempt_ns),
            attempts: self.attempts,
            failed: self.failures,
            answered: self.successes,
            rate_per_s: self.attempts as f32 / span_s.max(1.0),
            likelihood_ratio_log: self.llr as f32,
            top_ports,
            sample_targets: self.samples.iter().flatten().copied().collect(),
        })
    }
}
