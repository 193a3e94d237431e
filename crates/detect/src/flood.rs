//! Flood detection: rate and destination concentration, judged per second.
//!
//! Each second of a device's outbound traffic is counted by packet class and
//! by destination (a space-saving top list). When the second ends it is
//! judged "hot" if one class is both fast and concentrated on a few
//! destinations and looks like an attack rather than a stream:
//!
//! * SYNs or ICMP echo requests at a rate no client sends to one server;
//! * unanswered traffic (the destinations send back almost nothing but
//!   refusals), where a stream to one port of an address the device never
//!   resolved must be much faster than a sprayed one, and an address the
//!   device did resolve faster still — a camera streaming video to its cloud
//!   is fast, unanswered and concentrated too, but to a fixed port of a name;
//! * small UDP queries at a high rate even when answered (query floods);
//! * DNS queries for random names (mostly NXDOMAIN).
//!
//! `min_hot_seconds` hot seconds within `window_s` raise an alert.

use std::net::IpAddr;

use warden_decode::Transport;

use crate::{
    Alert, AlertKind, Direction, DnsEvent, Evidence, Finding, FloodConfig, FloodEvidence,
    FloodTarget, Scope, Seen, Timestamp,
};

const CLASSES: usize = 6;
const UDP: usize = 0;
const SYN: usize = 1;
const ACK: usize = 2;
const GRE: usize = 3;
const ICMP: usize = 4;
const IP: usize = 5;
const CLASS_NAMES: [&str; CLASSES] = ["udp", "syn", "ack", "gre", "icmp", "ip"];

/// Destinations tracked per second (space-saving heavy hitters).
const TOP: usize = 8;
/// Distinct ports remembered per destination.
const PORTS: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Target {
    addr: IpAddr,
    packets: u32,
    answers: u32,
    named: bool,
    /// Packet classes sent to it (bit per class).
    classes: u8,
    /// Packets to it with a forged source address.
    spoofed: u32,
    n_ports: u8,
    ports: [u16; PORTS],
}

impl Target {
    fn new(addr: IpAddr, named: bool) -> Self {
        Target {
            addr,
            packets: 0,
            answers: 0,
            named,
            classes: 0,
            spoofed: 0,
            n_ports: 0,
            ports: [0; PORTS],
        }
    }

    fn add_port(&mut self, port: u16) {
        let n = usize::from(self.n_ports);
        if n < PORTS && !self.ports[..n].contains(&port) {
            self.ports[n] = port;
            self.n_ports += 1;
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Second {
    packets: [u32; CLASSES],
    bytes: [u64; CLASSES],
    payload: [u64; CLASSES],
    echo_requests: u32,
    top: [Option<Target>; TOP],
    dns_queries: u32,
    dns_responses: u32,
    dns_nxdomain: u32,
    /// UDP sent from a well-known port (< 1024): a server's replies (the
    /// router's DNS answers), not queries.
    udp_from_service_port: u32,
}

impl Second {
    /// Nothing was counted: the second equals `Second::default()`
    /// (targets, bytes and answers are only counted with packets).
    fn is_silent(&self) -> bool {
        self.packets == [0; CLASSES]
            && self.echo_requests == 0
            && self.dns_queries == 0
            && self.dns_responses == 0
    }

    fn target_mut(&mut self, addr: IpAddr) -> Option<&mut Target> {
        self.top.iter_mut().flatten().find(|t| t.addr == addr)
    }

    /// Space-saving: an unseen destination replaces the smallest entry and
    /// inherits its count, so heavy hitters are never undercounted.
    fn count_target(&mut self, addr: IpAddr, named: bool, port: u16, class: usize, spoofed: bool) {
        let mut free = None;
        let mut min: Option<(usize, u32)> = None;
        for (i, slot) in self.top.iter_mut().enumerate() {
            match slot {
                Some(t) if t.addr == addr => {
                    t.packets += 1;
                    t.classes |= 1 << class;
                    t.spoofed += u32::from(spoofed);
                    t.add_port(port);
                    return;
                }
                Some(t) => {
                    if min.is_none_or(|(_, c)| t.packets < c) {
                        min = Some((i, t.packets));
                    }
                }
                None => {
                    if free.is_none() {
                        free = Some(i);
                    }
                }
            }
        }
        let (slot, inherited) = match (free, min) {
            (Some(i), _) => (i, 0),
            (None, Some((i, c))) => (i, c),
            (None, None) => return,
        };
        let mut t = Target::new(addr, named);
        t.packets = inherited + 1;
        t.classes = 1 << class;
        t.spoofed = u32::from(spoofed);
        t.add_port(port);
        self.top[slot] = Some(t);
    }
}

/// The verdict on one finished second.
struct Hot {
    variant: &'static str,
    pps: u32,
    bytes: u64,
    answer_ratio: f32,
    targets: Vec<FloodTarget>,
    /// How far past its threshold the rate was (>= 1).
    excess: f32,
    dns_domain: Option<String>,
    nxdomain_share: Option<f32>,
}

/// Longest parent domain remembered for DNS flood evidence.
const DOMAIN_MAX: usize = 128;

/// A domain name kept inline: devices look up a new domain every few
/// seconds, and remembering one must not allocate.
#[derive(Clone, Debug)]
struct Domain {
    len: Option<u8>,
    bytes: [u8; DOMAIN_MAX],
}

impl Default for Domain {
    fn default() -> Self {
        Domain {
            len: None,
            bytes: [0; DOMAIN_MAX],
        }
    }
}

impl Domain {
    /// Keeps `name` if it fits (callers check `DOMAIN_MAX`).
    fn set(&mut self, name: &str) {
        if let Some(dst) = self.bytes.get_mut(..name.len()) {
            dst.copy_from_slice(name.as_bytes());
            self.len = Some(name.len() as u8);
        }
    }

    fn as_str(&self) -> Option<&str> {
        let n = usize::from(self.len?);
        std::str::from_utf8(&self.bytes[..n]).ok()
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct FloodState {
    /// The second being counted (capture time, whole seconds).
    sec: i64,
    cur: Second,
    /// Bit i set: second `sec - 1 - i` was hot.
    hot_mask: u32,
    /// Where the last DNS query pointed: its parent domain, bounded.
    last_dns_parent: Domain,
    incident: Option<Incident>,
}

#[derive(Clone, Debug)]
struct Incident {
    evidence: FloodEvidence,
    last_hot_ns: i64,
}

impl FloodState {
    pub(crate) fn observe(
        &mut self,
        cfg: &FloodConfig,
        gap_ns: i64,
        seen: &Seen<'_>,
        out: &mut Vec<Finding>,
    ) {
        // Late (out-of-order) packets count in the current second.
        let sec = seen.ts_ns.div_euclid(1_000_000_000);
        if sec > self.sec {
            self.roll(cfg, gap_ns, sec, seen.ts_ns, out);
        }
        match seen.direction {
            Direction::Outbound => self.outbound(seen),
            Direction::Inbound => self.inbound(seen),
        }
    }

    pub(crate) fn tick(
        &mut self,
        cfg: &FloodConfig,
        gap_ns: i64,
        now_ns: i64,
        out: &mut Vec<Finding>,
    ) {
        let sec = now_ns.div_euclid(1_000_000_000);
        if sec > self.sec {
            self.roll(cfg, gap_ns, sec, now_ns, out);
        }
    }

    fn outbound(&mut self, seen: &Seen<'_>) {
        if let Some(DnsEvent::Query { name }) = seen.dns {
            self.cur.dns_queries += 1;
            // Remember the parent domain of random-label queries (bounded).
            if let Some((_, parent)) = name.split_once('.') {
                if parent.len() <= DOMAIN_MAX
                    && self.last_dns_parent.as_str() != Some(parent)
                    && self.cur.dns_queries < 4
                {
                    self.last_dns_parent.set(parent);
                }
            }
        }
        if seen.scope == Scope::Group {
            return;
        }
        let class = match seen.transport {
            Transport::Udp { .. } => {
                self.cur.udp_from_service_port += u32::from(seen.local_port < 1024);
                UDP
            }
            Transport::Tcp { flags, .. } if flags.is_syn_only() => SYN,
            Transport::Tcp { .. } => ACK,
            Transport::Gre { .. } => GRE,
            Transport::Icmp { icmp_type, v6, .. } => {
                if (!v6 && icmp_type == 8) || (v6 && icmp_type == 128) {
                    self.cur.echo_requests += 1;
                }
                ICMP
            }
            _ => IP,
        };
        self.cur.packets[class] += 1;
        self.cur.bytes[class] += u64::from(seen.wire_len);
        self.cur.payload[class] += seen.payload.len() as u64;
        self.cur.count_target(
            seen.remote,
            seen.remote_named,
            seen.remote_port,
            class,
            seen.spoofed,
        );
    }

    fn inbound(&mut self, seen: &Seen<'_>) {
        if let Some(DnsEvent::Response { rcode }) = seen.dns {
            self.cur.dns_responses += 1;
            self.cur.dns_nxdomain += u32::from(rcode == 3);
        }
        // Refusals (RST, ICMP errors) are not answers: a flooded host that
        // refuses every packet is still flooded.
        let answer = match seen.transport {
            Transport::Tcp { flags, .. } => !flags.rst(),
            Transport::Icmp { quoted, .. } => quoted.is_none(),
            _ => true,
        };
        if answer {
            if let Some(t) = self.cur.target_mut(seen.remote) {
                t.answers += 1;
            }
        }
    }

    fn roll(
        &mut self,
        cfg: &FloodConfig,
        gap_ns: i64,
        sec: i64,
        now_ns: i64,
        out: &mut Vec<Finding>,
    ) {
        let elapsed = sec.saturating_sub(self.sec).clamp(0, 32) as u32;
        // Most seconds of most devices are silent: nothing to judge, and
        // the (already empty) counters need no copy. Ticks roll every
        // device every second of capture time, so this is the common case.
        let hot = if self.cur.is_silent() {
            None
        } else {
            let finished = std::mem::take(&mut self.cur);
            judge(cfg, &finished, self.last_dns_parent.as_str())
        };
        // Shift the finished second in, then any silent seconds after it.
        self.hot_mask = (self.hot_mask << 1) | u32::from(hot.is_some());
        self.hot_mask = self
            .hot_mask
            .checked_shl(elapsed.saturating_sub(1))
            .unwrap_or(0);
        let window_mask = 1u32
            .checked_shl(cfg.window_s.min(31))
            .map_or(u32::MAX, |m| m - 1);
        let hot_in_window = (self.hot_mask & window_mask).count_ones();
        let finished_sec = self.sec;
        self.sec = sec;
        let Some(hot) = hot else { return };
        let sec_start = Timestamp(finished_sec.saturating_mul(1_000_000_000));
        let sec_end = Timestamp(sec_start.0.saturating_add(999_999_999));

        if let Some(inc) = self.incident.as_mut() {
            if now_ns.saturating_sub(inc.last_hot_ns) <= gap_ns {
                let e = &mut inc.evidence;
                e.last_seen = sec_end;
                e.hot_seconds += 1;
                e.packets += u64::from(hot.pps);
                if hot.pps > e.peak_pps {
                    e.peak_pps = hot.pps;
                    e.peak_bytes_per_s = hot.bytes;
                }
                inc.last_hot_ns = now_ns;
                out.push(Finding::Updated {
                    kind: AlertKind::Flood,
                    evidence: Evidence::Flood(e.clone()),
                });
                return;
            }
        }
        let needed = if hot.excess >= cfg.strong_excess {
            cfg.min_hot_seconds.saturating_sub(1).max(1)
        } else {
            cfg.min_hot_seconds
        };
        if hot_in_window < needed {
            return;
        }
        let hot_seconds = hot_in_window;
        let evidence = FloodEvidence {
            variant: hot.variant,
            first_seen: Timestamp(
                sec_start
                    .0
                    .saturating_sub(i64::from(hot_seconds - 1) * 1_000_000_000),
            ),
            last_seen: sec_end,
            hot_seconds,
            peak_pps: hot.pps,
            peak_bytes_per_s: hot.bytes,
            packets: u64::from(hot.pps) * u64::from(hot_seconds),
            answer_ratio: hot.answer_ratio,
            top_destinations: hot.targets,
            dns_domain: hot.dns_domain,
            nxdomain_share: hot.nxdomain_share,
        };
        // Confidence grows with how far past the threshold and how long.
        let confidence = (0.6
            + 0.2 * hot.excess.log10().min(1.0)
            + 0.2 * ((hot_seconds as f32 - needed as f32) / 3.0).clamp(0.0, 1.0))
        .clamp(0.0, 1.0);
        self.incident = Some(Incident {
            evidence: evidence.clone(),
            last_hot_ns: now_ns,
        });
        out.push(Finding::Raised(Alert {
            kind: AlertKind::Flood,
            detected_at: Timestamp(now_ns),
            confidence,
            evidence: Evidence::Flood(evidence),
        }));
    }
}

fn judge(cfg: &FloodConfig, s: &Second, dns_parent: Option<&str>) -> Option<Hot> {
    // Random-name DNS floods go to the resolver, so they are judged apart.
    if s.dns_queries >= cfg.dns_min_qps && s.dns_responses > 0 {
        let nx = s.dns_nxdomain as f32 / s.dns_responses as f32;
        if nx >= cfg.dns_min_nxdomain_share {
            return Some(Hot {
                variant: "dns",
                pps: s.dns_queries,
                bytes: s.bytes[UDP],
                answer_ratio: 1.0 - nx,
                targets: targets(s, cfg.max_targets),
                excess: s.dns_queries as f32 / cfg.dns_min_qps.max(1) as f32,
                dns_domain: dns_parent.map(str::to_owned),
                nxdomain_share: Some(nx),
            });
        }
    }
    let (class, &pps) = s.packets.iter().enumerate().max_by_key(|(_, p)| **p)?;
    if pps < cfg.min_pps {
        return None;
    }
    let total: u32 = s.packets.iter().sum();
    let (ranked, n) = ranked(s);
    let top = &ranked[..n.min(cfg.max_targets.max(1))];
    let to_top: u32 = top.iter().flatten().map(|t| t.packets).sum();
    if (to_top as f32) < cfg.min_concentration * total as f32 {
        return None;
    }
    let answers: u32 = top.iter().flatten().map(|t| t.answers).sum();
    let answer_ratio = answers as f32 / to_top.max(1) as f32;
    let (variant, threshold) = if class == SYN && pps >= cfg.syn_min_pps {
        ("syn", cfg.syn_min_pps)
    } else if class == ICMP && s.echo_requests >= cfg.icmp_min_pps {
        ("icmp", cfg.icmp_min_pps)
    } else if let Some(hot) = judge_unanswered(cfg, s, top) {
        return Some(hot);
    } else if class == UDP
        && answer_ratio > cfg.max_answer_ratio
        && s.udp_from_service_port * 2 < pps
        && s.payload[UDP] / u64::from(pps.max(1)) <= u64::from(cfg.query_max_payload)
    {
        ("udp-query", cfg.query_min_pps)
    } else {
        return None;
    };
    if pps < threshold {
        return None;
    }
    Some(Hot {
        variant,
        pps,
        bytes: s.bytes[class],
        answer_ratio,
        targets: targets(s, cfg.max_targets),
        excess: pps as f32 / threshold.max(1) as f32,
        dns_domain: None,
        nxdomain_share: None,
    })
}

/// The second's destinations, busiest first, in the first `n` slots. On
/// the stack, not in a `Vec`: every busy device's second is judged.
/// Unanswered traffic, judged per destination so that an answered upload
/// beside a flood cannot hide it. Each silent destination needs the rate
/// that fits what it could be: a stream to one port of an address the device
/// resolved (`named_min_pps`) or was handed (`single_port_min_pps`), or
/// nothing legitimate at all — portless (GRE, ICMP, raw IP), TCP that is
/// never acknowledged, sprayed over ports, or sent from forged source
/// addresses (`min_pps`). Several targets of
/// one tier add up (floods split their rate over up to `max_targets`).
fn judge_unanswered(cfg: &FloodConfig, s: &Second, top: &[Option<&Target>]) -> Option<Hot> {
    const PORTLESS: u8 = 1 << GRE | 1 << ICMP | 1 << IP;
    let tier = |t: &Target| -> usize {
        if t.spoofed * 2 >= t.packets {
            // Mostly forged sources: no stream of any kind looks like this.
            0
        } else if t.named {
            2
        } else if t.classes & !PORTLESS == 0
            || t.classes == 1 << ACK
            || u32::from(t.n_ports) >= cfg.sprayed_ports
        {
            0
        } else {
            1
        }
    };
    let thresholds = [cfg.min_pps, cfg.single_port_min_pps, cfg.named_min_pps];
    let silent = || top.iter().flatten().copied().filter(|t| is_silent(cfg, t));
    // The strictest tier whose rate, with every laxer tier's, passes.
    for (level, &threshold) in thresholds.iter().enumerate() {
        let members = || silent().filter(|t| tier(t) <= level);
        let pps: u32 = members().map(|t| t.packets).sum();
        if pps < threshold.max(1) {
            continue;
        }
        let answers: u32 = members().map(|t| t.answers).sum();
        let classes = members().fold(0u8, |m, t| m | t.classes);
        let class = (0..CLASSES)
            .filter(|c| classes & (1 << c) != 0)
            .max_by_key(|&c| s.packets[c])?;
        return Some(Hot {
            variant: CLASS_NAMES[class],
            pps,
            bytes: s.bytes[class],
            answer_ratio: answers as f32 / pps as f32,
            targets: targets(s, cfg.max_targets),
            excess: pps as f32 / threshold.max(1) as f32,
            dns_domain: None,
            nxdomain_share: None,
        });
    }
    None
}

/// A destination that sends back (almost) nothing but refusals.
fn is_silent(cfg: &FloodConfig, t: &Target) -> bool {
    t.answers as f32 <= cfg.max_answer_ratio * t.packets as f32
}

fn ranked(s: &Second) -> ([Option<&Target>; TOP], usize) {
    let mut ranked = [None; TOP];
    let mut n = 0;
    for (slot, t) in ranked.iter_mut().zip(s.top.iter().flatten()) {
        *slot = Some(t);
        n += 1;
    }
    ranked[..n].sort_unstable_by_key(|t| std::cmp::Reverse(t.map_or(0, |t| t.packets)));
    (ranked, n)
}

fn targets(s: &Second, max: usize) -> Vec<FloodTarget> {
    let total: u32 = s.packets.iter().sum::<u32>().max(1);
    let (ranked, n) = ranked(s);
    ranked[..n]
        .iter()
        .flatten()
        .take(max.max(1))
        .map(|t| FloodTarget {
            address: t.addr,
            packets: t.packets,
            share: t.packets as f32 / total as f32,
            ports: u32::from(t.n_ports),
            resolved_by_dns: t.named,
        })
        .collect()
}
