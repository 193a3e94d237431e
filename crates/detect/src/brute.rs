//! Brute force: many connections that one remote service accepts.
//!
//! Password guessing against telnet or SSH is a stream of short connections
//! to the same address and port, each accepted (SYN-ACK), then used by the
//! device to send a guess, then closed. Only such *completed* connections
//! count: an accepted handshake followed by data from the device. That keeps
//! scans (unanswered) and SYN floods (answered, never used) out of this
//! detector. Counts use a sliding window estimated from the current and
//! previous fixed windows.
//!
//! A service is a login service when its port is a known login port or when
//! the device's first bytes on a connection speak a login protocol (an SSH
//! banner, telnet option negotiation, an FTP/POP `USER`): attackers move SSH
//! to odd ports, and a real SSH brute force in the public captures ran on
//! port 902.

use std::net::IpAddr;

use warden_decode::Transport;

use crate::{
    Alert, AlertKind, BruteForceConfig, BruteForceEvidence, Direction, Evidence, Finding, Scope,
    Seen, Timestamp,
};

const SERVICES: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Service {
    addr: IpAddr,
    port: u16,
    window_start_ns: i64,
    answered_prev: u32,
    answered_cur: u32,
    /// Handshakes accepted by the service that the device has not used yet.
    unused_handshakes: u8,
    attempts: u64,
    /// The device spoke a login protocol to it (whatever the port).
    login: bool,
    first_ns: i64,
    last_ns: i64,
    alerted: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct BruteState {
    services: [Option<Service>; SERVICES],
}

impl BruteState {
    pub(crate) fn observe(
        &mut self,
        cfg: &BruteForceConfig,
        gap_ns: i64,
        seen: &Seen<'_>,
        out: &mut Vec<Finding>,
    ) {
        let Transport::Tcp { flags, .. } = seen.transport else {
            return;
        };
        if seen.scope == Scope::Group {
            return;
        }
        let now = seen.ts_ns;
        match seen.direction {
            Direction::Outbound if flags.is_syn_only() => {
                let svc = self.service(seen.remote, seen.remote_port, now);
                if now.saturating_sub(svc.last_ns) > gap_ns {
                    svc.alerted = false;
                    svc.attempts = 0;
                    svc.first_ns = now;
                }
                svc.attempts += 1;
                svc.last_ns = now;
            }
            Direction::Inbound if flags.is_syn_ack() => {
                if let Some(svc) = self
                    .services
                    .iter_mut()
                    .flatten()
                    .find(|s| s.addr == seen.remote && s.port == seen.remote_port)
                {
                    svc.unused_handshakes = svc.unused_handshakes.saturating_add(1).min(64);
                }
            }
            Direction::Outbound if !seen.payload.is_empty() => {
                let window_ns = i64::from(cfg.window_s.max(1)) * 1_000_000_000;
                let Some(svc) = self
                    .services
                    .iter_mut()
                    .flatten()
                    .find(|s| s.addr == seen.remote && s.port == seen.remote_port)
                else {
                    return;
                };
                if svc.unused_handshakes == 0 {
                    return;
                }
                svc.unused_handshakes -= 1;
                svc.login |= speaks_login_protocol(seen.payload);
                // Roll the fixed windows forward.
                let elapsed = now.saturating_sub(svc.window_start_ns);
                if elapsed >= 2 * window_ns {
                    svc.answered_prev = 0;
                    svc.answered_cur = 0;
                    svc.window_start_ns = now;
                } else if elapsed >= window_ns {
                    svc.answered_prev = svc.answered_cur;
                    svc.answered_cur = 0;
                    svc.window_start_ns += window_ns;
                }
                svc.answered_cur += 1;
                let into = now.saturating_sub(svc.window_start_ns) as f64 / window_ns as f64;
                let sliding =
                    svc.answered_cur as f64 + svc.answered_prev as f64 * (1.0 - into).max(0.0);
                let threshold = if svc.login || cfg.login_ports.contains(&svc.port) {
                    cfg.min_login_connections
                } else {
                    cfg.min_other_connections
                };
                if threshold == 0 {
                    return; // this port is not watched
                }
                if sliding < f64::from(threshold) {
                    return;
                }
                let evidence = BruteForceEvidence {
                    first_seen: Timestamp(svc.first_ns),
                    last_seen: Timestamp(now),
                    target: svc.addr,
                    port: svc.port,
                    answered_connections: sliding.round() as u32,
                    attempts: svc.attempts,
                    window_s: cfg.window_s,
                };
                if svc.alerted {
                    out.push(Finding::Updated {
                        kind: AlertKind::BruteForce,
                        evidence: Evidence::BruteForce(evidence),
                    });
                } else {
                    svc.alerted = true;
                    let confidence =
                        (0.6 + 0.4 * (sliding / f64::from(threshold) - 1.0).clamp(0.0, 1.0)) as f32;
                    out.push(Finding::Raised(Alert {
                        kind: AlertKind::BruteForce,
                        detected_at: Timestamp(now),
                        confidence,
                        evidence: Evidence::BruteForce(evidence),
                    }));
                }
            }
            _ => {}
        }
    }

    /// The slot for this service, reusing the least recently used one.
    fn service(&mut self, addr: IpAddr, port: u16, now: i64) -> &mut Service {
        let idx = self
            .services
            .iter()
            .position(|s| matches!(s, Some(s) if s.addr == addr && s.port == port))
            .or_else(|| self.services.iter().position(Option::is_none))
            .unwrap_or_else(|| {
                (0..SERVICES)
                    .min_by_key(|&i| self.services[i].map_or(i64::MIN, |s| s.last_ns))
                    .unwrap_or(0)
            });
        let slot = &mut self.services[idx];
        match slot {
            Some(s) if s.addr == addr && s.port == port => {}
            _ => {
                *slot = Some(Service {
                    addr,
                    port,
                    window_start_ns: now,
                    answered_prev: 0,
                    answered_cur: 0,
                    unused_handshakes: 0,
                    attempts: 0,
                    login: false,
                    first_ns: now,
                    last_ns: now,
                    alerted: false,
                })
            }
        }
        slot.as_mut().expect("slot was just filled")
    }
}

/// Whether a client's first bytes on a connection are a login protocol.
fn speaks_login_protocol(payload: &[u8]) -> bool {
    match payload {
        // SSH identification string (RFC 4253 4.2).
        [b'S', b'S', b'H', b'-', ..] => true,
        // Telnet option negotiation: IAC WILL/WONT/DO/DONT (RFC 854).
        [0xff, 0xfb..=0xfe, ..] => true,
        // FTP and POP3 send the user name first.
        _ => payload.len() >= 5 && payload[..5].eq_ignore_ascii_case(b"USER "),
    }
}

#[cfg(test)]
mod tests {
    use super::speaks_login_protocol;

    #[test]
    fn login_protocols_by_their_first_bytes() {
        assert!(speaks_login_protocol(b"SSH-2.0-libssh2_1.9.0\r\n"));
        assert!(speaks_login_protocol(&[0xff, 0xfd, 0x18, 0xff, 0xfb, 0x1f]));
        assert!(speaks_login_protocol(b"user admin\r\n"));
        assert!(!speaks_login_protocol(b"GET / HTTP/1.1\r\n"));
        assert!(!speaks_login_protocol(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!speaks_login_protocol(&[0xff]));
        assert!(!speaks_login_protocol(b""));
    }
}
