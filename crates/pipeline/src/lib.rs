//! The one pipeline: frame → packet record → device → detectors → findings.
//!
//! `warden analyze` and the live guard run exactly this code; they differ
//! only in the [`FrameSource`](warden_capture::FrameSource) that feeds
//! [`Pipeline::process`] and in the [`Sink`] that receives alerts (offline
//! analysis collects them into a [`Report`]; the daemon turns them into
//! decisions).
//!
//! Per packet the pipeline decodes once, finds the device by MAC (a hash
//! lookup), updates counters and detector state in place, and parses
//! payloads only on identification ports. Nothing is allocated per packet.

mod config;
mod lan;
mod names;
pub mod report;

pub use config::{
    Config, ConfigError, DashboardTls, DevicesConfig, FeedConfig, ProfilesConfig, RunConfig,
    SmtpConfig,
};
pub use lan::LanRanges;
pub use report::{AlertReport, DeviceReport, InputReport, Report};

use std::collections::BTreeMap;
use std::net::IpAddr;

use arrayvec::ArrayVec;
use rustc_hash::FxHashMap;
use serde::Serialize;
use warden_capture::Frame;
use warden_decode::{decode, IpHeader, Mac, Network, Packet, Transport};
use warden_detect::{Alert, Detectors, Direction, DnsEvent, Finding, Scope, Seen};
use warden_devices::{Device, DeviceTable};
use warden_identify::dns::{DnsMessage, RData, Section};

use crate::lan::{is_group, is_unspecified};
use crate::names::NameBindings;

/// Receives alerts as they happen.
pub trait Sink {
    /// A new incident.
    fn alert(&mut self, device: &Device, alert: &Alert);
    /// An incident goes on; `alert` carries its newest evidence.
    fn update(&mut self, _device: &Device, _alert: &Alert) {}
    /// A DNS answer reached the device: what its resolver said a name is.
    /// The guard binds host-name allow-lists to these addresses, per
    /// device, rather than resolving names itself (a name's addresses
    /// differ by resolver, place and time; these are the ones the device
    /// will use).
    fn dns_answer(&mut self, _device: &Device, _answer: &DnsAnswer<'_>) {}
    /// An IP packet the device sent (`outbound`) or received, after the
    /// detectors saw it. The guard judges devices' network profiles with
    /// it; it is called for every packet, so it must return fast.
    fn packet(&mut self, _device: &Device, _ts_ns: i64, _outbound: bool, _packet: &Packet<'_>) {}
}

/// Most addresses of one DNS answer passed to [`Sink::dns_answer`].
pub const MAX_ANSWER_ADDRS: usize = 16;

/// A DNS response with addresses, as one device received it (UDP only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer<'a> {
    pub ts_ns: i64,
    /// Who answered (the source of the response).
    pub resolver: IpAddr,
    /// The question's name: lowercase, no trailing dot. The A and AAAA
    /// records of the answer section are taken as its addresses, CNAME
    /// chains included, as a stub resolver takes them.
    pub name: &'a str,
    /// At most [`MAX_ANSWER_ADDRS`], in the order of the answer.
    pub addrs: &'a [IpAddr],
    /// The smallest TTL among those records (seconds).
    pub ttl_s: u32,
}

/// A sink that only lets the device table keep the alerts.
pub struct CollectOnly;

impl Sink for CollectOnly {
    fn alert(&mut self, _: &Device, _: &Alert) {}
}

/// What the pipeline counted besides devices.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PipelineStats {
    pub frames: u64,
    pub bytes: u64,
    /// Frames that could not be decoded, by reason.
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Frames with no IP layer (ARP, LLDP, EAPOL, ...).
    pub non_ip_frames: u64,
    /// IP frames neither sent nor received by a LAN device (transit, or
    /// from a device the full table turned away).
    pub unattributed_frames: u64,
    /// Frames whose transport header the capture cut off.
    pub truncated_transport: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

/// Sizes of the pipeline's tables, from [`Pipeline::footprint`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    pub devices: usize,
    /// Approximate bytes of the device entries, heap included.
    pub device_bytes: usize,
    /// LAN addresses indexed to their device.
    pub address_index: usize,
    /// Addresses remembered from DNS answers.
    pub dns_bindings: usize,
}

pub struct Pipeline {
    detectors: Detectors,
    lan: LanRanges,
    devices: DeviceTable,
    /// LAN address -> device slot, for captures that do not record the
    /// destination MAC (Linux cooked) and for IPv6 global addresses.
    by_ip: FxHashMap<IpAddr, u32>,
    /// Entries `by_ip` may hold before stale ones are swept out: twice
    /// what the table's devices can own.
    by_ip_limit: usize,
    names: NameBindings,
    stats: PipelineStats,
    /// Capture time: the latest frame timestamp seen.
    clock_ns: i64,
    next_tick_ns: i64,
    findings: Vec<Finding>,
}

const TICK_NS: i64 = 1_000_000_000;

impl Pipeline {
    pub fn new(cfg: &Config) -> Self {
        Pipeline {
            detectors: Detectors::new(cfg.detect.clone()),
            lan: LanRanges::new(&cfg.devices.lan),
            devices: DeviceTable::new(cfg.devices.max_devices, cfg.devices.idle_evict_s),
            by_ip: FxHashMap::default(),
            by_ip_limit: 2 * cfg.devices.max_devices.max(1) * warden_devices::MAX_IPS,
            names: NameBindings::new(cfg.devices.max_dns_bindings),
            stats: PipelineStats::default(),
            clock_ns: i64::MIN,
            next_tick_ns: i64::MIN,
            findings: Vec::new(),
        }
    }

    pub fn devices(&self) -> &DeviceTable {
        &self.devices
    }

    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// What the pipeline holds in memory now (each part is bounded; see
    /// docs/architecture.md, "Bounded memory").
    pub fn footprint(&self) -> Footprint {
        Footprint {
            devices: self.devices.len(),
            device_bytes: self.devices.iter().map(Device::approx_bytes).sum(),
            address_index: self.by_ip.len(),
            dns_bindings: self.names.len(),
        }
    }

    /// Feeds one captured frame through the pipeline.
    pub fn process(&mut self, frame: &Frame<'_>, sink: &mut dyn Sink) {
        let ts = frame.ts_ns;
        self.stats.frames += 1;
        self.stats.bytes += u64::from(frame.wire_len);
        self.stats.first_ns.get_or_insert(ts);
        self.stats.last_ns = Some(ts);
        if ts > self.clock_ns {
            self.clock_ns = ts;
            if ts >= self.next_tick_ns {
                self.tick(sink);
            }
        }
        let packet = match decode(frame.link, frame.data) {
            Ok(p) => p,
            Err(e) => {
                *self.stats.decode_errors.entry(e.reason()).or_default() += 1;
                return;
            }
        };
        match packet.network {
            Network::Ip(ip) => {
                if packet.transport == Transport::Truncated {
                    self.stats.truncated_transport += 1;
                }
                self.ip_packet(&packet, &ip, ts, frame.wire_len, sink);
            }
            Network::Arp(arp) => {
                self.stats.non_ip_frames += 1;
                let ip = IpAddr::V4(arp.sender_ip);
                if self.lan.contains(ip) && !arp.sender_mac.is_group() && !arp.sender_mac.is_zero()
                {
                    if let Some(i) = self.devices.find_or_insert(arp.sender_mac, ts) {
                        self.learn(i, ip);
                        self.touch_out(i, ts, frame.wire_len);
                    }
                }
            }
            Network::Other(_) => {
                self.stats.non_ip_frames += 1;
                if let Some(i) = self.devices.find(&packet.src_mac) {
                    self.touch_out(i, ts, frame.wire_len);
                }
            }
        }
    }

    /// Ends the input: expires what the capture's own time allows.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        if self.clock_ns != i64::MIN {
            self.tick(sink);
        }
    }

    /// Moves the clock to `now_ns` without a frame: a live source calls it
    /// when the network is quiet, so detectors still end their seconds and
    /// time out unanswered attempts. Time never goes back; the frames that
    /// follow must not be older than `now_ns` by more than the sources'
    /// ordering bound.
    pub fn advance(&mut self, now_ns: i64, sink: &mut dyn Sink) {
        if now_ns > self.clock_ns {
            self.clock_ns = now_ns;
            if now_ns >= self.next_tick_ns {
                self.tick(sink);
            }
        }
    }

    /// The report of everything seen so far.
    pub fn report(&self, input: InputReport) -> Report {
        Report::build(self, input)
    }

    fn tick(&mut self, sink: &mut dyn Sink) {
        let now = self.clock_ns;
        self.next_tick_ns = now
            .div_euclid(TICK_NS)
            .saturating_add(1)
            .saturating_mul(TICK_NS);
        for i in 0..self.devices.len() as u32 {
            let dev = self.devices.get_mut(i);
            self.detectors
                .tick(&mut dev.detectors, now, &mut self.findings);
            if !self.findings.is_empty() {
                apply_findings(dev, &mut self.findings, sink);
            }
        }
    }

    fn touch_out(&mut self, i: u32, ts: i64, len: u32) {
        let d = self.devices.get_mut(i);
        d.packets_out += 1;
        d.bytes_out += u64::from(len);
        d.last_seen_ns = d.last_seen_ns.max(ts);
    }

    fn learn(&mut self, i: u32, ip: IpAddr) {
        if self.devices.get_mut(i).learn_ip(ip) {
            self.by_ip.insert(ip, i);
            if self.by_ip.len() > self.by_ip_limit {
                // Evicted devices leave their addresses behind (lookups
                // check the owner, so they are only stale, not wrong).
                // Drop them; the live ones are at most half the limit, so
                // this runs rarely and costs O(1) per insertion over time.
                let devices = &self.devices;
                self.by_ip.retain(|ip, i| devices.get(*i).ips.contains(ip));
            }
        }
    }

    /// The device that owns `ip` (checked, since slots get reused).
    fn device_by_ip(&self, ip: IpAddr) -> Option<u32> {
        let i = *self.by_ip.get(&ip)?;
        self.devices.get(i).ips.contains(&ip).then_some(i)
    }

    fn ip_packet(
        &mut self,
        p: &Packet<'_>,
        ip: &IpHeader,
        ts: i64,
        wire_len: u32,
        sink: &mut dyn Sink,
    ) {
        let src_lan = self.lan.contains(ip.src);
        let dst_lan = self.lan.contains(ip.dst);
        let src_usable = !p.src_mac.is_zero() && !p.src_mac.is_group();

        // Sent by a device: a unicast MAC sending from a LAN address (or
        // from none yet, as in DHCP), or from a global IPv6 address that
        // device announced as its own.
        let from = if src_usable && (src_lan || is_unspecified(ip.src)) {
            self.devices.find_or_insert(p.src_mac, ts)
        } else if ip.src.is_ipv6() {
            self.device_by_ip(ip.src)
                .filter(|&i| p.src_mac.is_zero() || self.devices.get(i).mac == p.src_mac)
        } else if src_usable && !dst_lan {
            // A known device's MAC sending from a foreign address to a
            // foreign one: a spoofed source (Mirai's floods randomise them).
            // The router's forwarding never looks like this on the LAN side:
            // what it forwards in goes to LAN addresses.
            self.devices.find(&p.src_mac)
        } else {
            None
        };
        // Received by a device: addressed to a LAN address (or one a device
        // owns), on its MAC when the capture records it.
        let to = if dst_lan || ip.dst.is_ipv6() {
            let dst_mac_usable = !p.dst_mac.is_zero() && !p.dst_mac.is_group();
            if dst_mac_usable {
                self.devices
                    .find(&p.dst_mac)
                    .filter(|&i| dst_lan || self.devices.get(i).ips.contains(&ip.dst))
            } else {
                self.device_by_ip(ip.dst)
            }
        } else {
            None
        };
        if from.is_none() && to.is_none() {
            self.stats.unattributed_frames += 1;
            return;
        }
        let (src_port, dst_port) = ports(&p.transport);
        if let Some(i) = from {
            if src_lan && !is_unspecified(ip.src) {
                self.learn(i, ip.src);
            }
            self.learn_from_ndp(i, p, ip);
            self.outbound(i, p, ip, ts, wire_len, src_port, dst_port, sink);
        }
        if let Some(i) = to {
            if to != from {
                self.inbound(i, p, ip, ts, wire_len, src_port, dst_port, sink);
            }
        }
    }

    /// IPv6 neighbour discovery: a device announcing (NA) or probing for
    /// (DAD NS) an address claims it, global ones included.
    fn learn_from_ndp(&mut self, i: u32, p: &Packet<'_>, ip: &IpHeader) {
        if let Transport::Icmp {
            v6: true,
            icmp_type,
            ..
        } = p.transport
        {
            let claims = icmp_type == 136 || (icmp_type == 135 && is_unspecified(ip.src));
            if let (true, Some(t)) = (claims, p.payload.get(..16)) {
                if let Ok(bytes) = <[u8; 16]>::try_from(t) {
                    let target = IpAddr::from(bytes);
                    if !is_group(target) && !is_unspecified(target) {
                        self.learn(i, target);
                    }
                }
            }
        }
    }

    fn scope(&self, remote: IpAddr, remote_mac: Mac) -> Scope {
        if is_group(remote) || remote_mac.is_group() {
            Scope::Group
        } else if self.lan.contains(remote) {
            Scope::Lan
        } else {
            Scope::Internet
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn outbound(
        &mut self,
        i: u32,
        p: &Packet<'_>,
        ip: &IpHeader,
        ts: i64,
        wire_len: u32,
        src_port: u16,
        dst_port: u16,
        sink: &mut dyn Sink,
    ) {
        let scope = self.scope(ip.dst, p.dst_mac);
        let remote_named = scope != Scope::Group && self.names.contains(ip.dst);
        let dev = self.devices.get_mut(i);
        dev.packets_out += 1;
        dev.bytes_out += u64::from(wire_len);
        dev.last_seen_ns = dev.last_seen_ns.max(ts);

        identify(dev, &p.transport, src_port, dst_port, p.payload, true);
        // The name a DNS query asks for (the DNS flood detector wants it).
        let qname;
        let mut dns = None;
        if matches!(p.transport, Transport::Udp { .. }) && dst_port == 53 {
            if let Some(Ok(q)) = DnsMessage::parse(p.payload)
                .ok()
                .filter(|m| !m.is_response())
                .and_then(|m| m.questions().next())
            {
                qname = q.name;
                dns = Some(DnsEvent::Query {
                    name: qname.as_str(),
                });
            }
        }
        let seen = Seen {
            ts_ns: ts,
            direction: Direction::Outbound,
            remote: ip.dst,
            remote_port: dst_port,
            local_port: src_port,
            transport: p.transport,
            wire_len,
            payload: p.payload,
            scope,
            remote_named,
            spoofed: !self.lan.contains(ip.src) && !is_unspecified(ip.src) && !ip.src.is_ipv6(),
            dns,
        };
        self.detectors
            .observe(&mut dev.detectors, &seen, &mut self.findings);
        if !self.findings.is_empty() {
            apply_findings(dev, &mut self.findings, sink);
        }
        sink.packet(self.devices.get(i), ts, true, p);
    }

    #[allow(clippy::too_many_arguments)]
    fn inbound(
        &mut self,
        i: u32,
        p: &Packet<'_>,
        ip: &IpHeader,
        ts: i64,
        wire_len: u32,
        src_port: u16,
        dst_port: u16,
        sink: &mut dyn Sink,
    ) {
        let scope = self.scope(ip.src, p.src_mac);
        let mut dns = None;
        let mut question = None;
        let mut answer_addrs = ArrayVec::<IpAddr, MAX_ANSWER_ADDRS>::new();
        let mut answer_ttl = u32::MAX;
        if matches!(p.transport, Transport::Udp { .. }) && src_port == 53 {
            if let Ok(m) = DnsMessage::parse(p.payload) {
                if m.is_response() {
                    dns = Some(DnsEvent::Response { rcode: m.rcode() });
                    if m.rcode() == 0 {
                        question = m.questions().next().and_then(Result::ok);
                    }
                    // Remember what the answers resolve to (bounded).
                    for rec in m.records().take(32).map_while(Result::ok) {
                        let addr = match rec.data {
                            RData::A(a) => IpAddr::V4(a),
                            RData::Aaaa(a) => IpAddr::V6(a),
                            _ => continue,
                        };
                        self.names.insert(addr);
                        if rec.section == Section::Answer && !answer_addrs.is_full() {
                            answer_addrs.push(addr);
                            answer_ttl = answer_ttl.min(rec.ttl);
                        }
                    }
                }
            }
        }
        if let Some(q) = question.filter(|q| !q.name.is_root() && !answer_addrs.is_empty()) {
            let answer = DnsAnswer {
                ts_ns: ts,
                resolver: ip.src,
                name: q.name.as_str(),
                addrs: &answer_addrs,
                ttl_s: answer_ttl,
            };
            sink.dns_answer(self.devices.get(i), &answer);
        }
        let dev = self.devices.get_mut(i);
        dev.packets_in += 1;
        dev.bytes_in += u64::from(wire_len);
        identify(dev, &p.transport, src_port, dst_port, p.payload, false);
        let seen = Seen {
            ts_ns: ts,
            direction: Direction::Inbound,
            remote: ip.src,
            remote_port: src_port,
            local_port: dst_port,
            transport: p.transport,
            wire_len,
            payload: p.payload,
            scope,
            remote_named: false,
            spoofed: false,
            dns,
        };
        self.detectors
            .observe(&mut dev.detectors, &seen, &mut self.findings);
        if !self.findings.is_empty() {
            apply_findings(dev, &mut self.findings, sink);
        }
        sink.packet(self.devices.get(i), ts, false, p);
    }
}

fn ports(t: &Transport) -> (u16, u16) {
    match *t {
        Transport::Tcp {
            src_port, dst_port, ..
        }
        | Transport::Udp { src_port, dst_port } => (src_port, dst_port),
        _ => (0, 0),
    }
}

/// UDP ports whose payloads identify devices (DHCP, DHCPv6, DNS, mDNS, SSDP).
fn identifying_udp_port(p: u16) -> bool {
    matches!(p, 53 | 67 | 68 | 546 | 547 | 1900 | 5353)
}

/// A TCP payload worth a look: the start of a TLS handshake or of an
/// HTTP request/response. Cheap enough to ask of every segment.
fn identifying_tcp_payload(b: &[u8]) -> bool {
    matches!(
        b,
        [0x16, 0x03, ..]
            | [b'G', b'E', b'T', b' ', ..]
            | [b'P', b'O', b'S', b'T', ..]
            | [b'H', b'E', b'A', b'D', ..]
            | [b'P', b'U', b'T', b' ', ..]
            | [b'H', b'T', b'T', b'P', ..]
            | [b'N', b'O', b'T', b'I', ..]
            | [b'M', b'-', b'S', b'E', ..]
            | [b'S', b'U', b'B', b'S', ..]
    )
}

fn identify(
    dev: &mut Device,
    t: &Transport,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    from_device: bool,
) {
    let transport = match t {
        Transport::Udp { .. }
            if identifying_udp_port(src_port) || identifying_udp_port(dst_port) =>
        {
            warden_identify::Transport::Udp
        }
        Transport::Tcp { .. } if from_device && identifying_tcp_payload(payload) => {
            warden_identify::Transport::Tcp
        }
        _ => return,
    };
    let identity = &mut dev.identity;
    warden_identify::observe(
        transport,
        src_port,
        dst_port,
        payload,
        from_device,
        &mut |obs| identity.apply(&obs),
    );
}

fn apply_findings(dev: &mut Device, findings: &mut Vec<Finding>, sink: &mut dyn Sink) {
    for f in findings.drain(..) {
        match f {
            Finding::Raised(alert) => {
                sink.alert(dev, &alert);
                dev.add_alert(alert);
            }
            Finding::Updated { kind, evidence } => {
                if dev.update_alert(kind, evidence).is_some() {
                    if let Some(a) = dev.alerts.iter().rev().find(|a| a.kind == kind) {
                        sink.update(dev, a);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
