//! Spam: SMTP connections to many distinct mail servers.
//!
//! A mail client or a NAS sending notifications talks to one provider
//! (usually on 587/465, sometimes a smarthost on 25). A spam bot delivers
//! directly to each recipient's MX on port 25, so the number of distinct
//! port-25 servers in a window is the signal. State exists only for devices
//! that open SMTP connections.

use std::net::IpAddr;

use warden_decode::Transport;

use crate::{
    Alert, AlertKind, Direction, Evidence, Finding, Scope, Seen, SpamConfig, SpamEvidence,
    Timestamp,
};

/// Servers remembered per device; more than this in one window is spam by
/// any threshold anyone would set.
const SERVERS: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Server {
    addr: IpAddr,
    last_ns: i64,
    submission: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SpamState {
    servers: Vec<Server>,
    connections: u64,
    first_ns: i64,
    alerted: bool,
    last_alert_ns: i64,
}

pub(crate) fn observe(
    state: &mut Option<Box<SpamState>>,
    cfg: &SpamConfig,
    gap_ns: i64,
    seen: &Seen<'_>,
    out: &mut Vec<Finding>,
) {
    let Transport::Tcp { flags, .. } = seen.transport else {
        return;
    };
    if seen.direction != Direction::Outbound || !flags.is_syn_only() || seen.scope == Scope::Group {
        return;
    }
    let submission = match seen.remote_port {
        25 => false,
        465 | 587 => true,
        _ => return,
    };
    let st = state.get_or_insert_with(Default::default);
    st.record(cfg, gap_ns, seen, submission, out);
}

impl SpamState {
    fn record(
        &mut self,
        cfg: &SpamConfig,
        gap_ns: i64,
        seen: &Seen<'_>,
        submission: bool,
        out: &mut Vec<Finding>,
    ) {
        let now = seen.ts_ns;
        let window_ns = i64::from(cfg.window_s) * 1_000_000_000;
        self.servers
            .retain(|s| now.saturating_sub(s.last_ns) <= window_ns);
        if self.alerted && now.saturating_sub(self.last_alert_ns) > gap_ns.max(window_ns) {
            self.alerted = false;
        }
        if self.servers.is_empty() {
            self.first_ns = now;
            self.connections = 0;
        }
        self.connections += 1;
        match self.servers.iter_mut().find(|s| s.addr == seen.remote) {
            Some(s) => s.last_ns = now,
            None => {
                if self.servers.len() >= SERVERS {
                    // Forget the stalest: the count stays at the cap.
                    if let Some(i) =
                        (0..self.servers.len()).min_by_key(|&i| self.servers[i].last_ns)
                    {
                        self.servers.swap_remove(i);
                    }
                }
                self.servers.push(Server {
                    addr: seen.remote,
                    last_ns: now,
                    submission,
                });
            }
        }
        let smtp = self.servers.iter().filter(|s| !s.submission).count() as u32;
        let submission_servers = self.servers.len() as u32 - smtp;
        let over_smtp = smtp >= cfg.min_servers.max(1);
        let over_submission = submission_servers >= cfg.min_submission_servers.max(1);
        if !over_smtp && !over_submission {
            if self.alerted {
                self.last_alert_ns = now;
            }
            return;
        }
        let evidence = SpamEvidence {
            first_seen: Timestamp(self.first_ns),
            last_seen: Timestamp(now),
            smtp_servers: smtp,
            submission_servers,
            connections: self.connections,
            sample_servers: self.servers.iter().take(5).map(|s| s.addr).collect(),
        };
        self.last_alert_ns = now;
        if self.alerted {
            out.push(Finding::Updated {
                kind: AlertKind::Spam,
                evidence: Evidence::Spam(evidence),
            });
            return;
        }
        self.alerted = true;
        let ratio = if over_smtp {
            smtp as f32 / cfg.min_servers.max(1) as f32
        } else {
            submission_servers as f32 / cfg.min_submission_servers.max(1) as f32
        };
        out.push(Finding::Raised(Alert {
            kind: AlertKind::Spam,
            detected_at: Timestamp(now),
            confidence: (0.6 + 0.4 * (ratio - 1.0).clamp(0.0, 1.0)).min(1.0),
            evidence: Evidence::Spam(evidence),
        }));
    }
}
