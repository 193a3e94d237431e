//! Device network profiles: what a device was seen doing on the network,
//! judged against what its threat model declares (`network.flows`, shaped
//! like RFC 8520 MUD access lists). `warden model verify MODEL --capture
//! FILE` uses it so that a vendor's claim can be tested; docs/profiles.md.
//!
//! A flow is a direction (who opened it), a protocol, the port on the
//! accepting side, and the peer. The peer is judged by the names the
//! device's own DNS answers gave its address (never by a lookup of ours:
//! a name's addresses depend on the resolver, the place and the time), or
//! by class: the local network, devices of the same or a named maker.
//!
//! Memory is bounded: at most [`MAX_FLOWS`] flows, [`MAX_BOUND_ADDRS`]
//! named addresses with [`MAX_NAMES_PER_ADDR`] names each, and
//! [`MAX_PENDING`] UDP exchanges waiting to be told apart; what does not
//! fit is counted, never silently dropped.

pub mod catalog;
pub mod guard;
pub mod learn;
pub mod mud;
pub mod mud_sig;

pub use catalog::Catalog;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use serde::Serialize;
use warden_decode::{Mac, Network as Net, Packet, Transport};
use warden_identify::dns::{DnsMessage, RData, Section};
use warden_model::model::{Direction, Network, PeerClass, Protocol};

pub const MAX_FLOWS: usize = 4_096;
pub const MAX_BOUND_ADDRS: usize = 8_192;
pub const MAX_NAMES_PER_ADDR: usize = 4;
pub const MAX_PENDING: usize = 16_384;

/// Who a rule lets the device talk to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// A DNS name (lowercase, no trailing dot).
    Name(String),
    /// A MUD class; `manufacturer` carries its name.
    Class {
        class: PeerClass,
        manufacturer: Option<String>,
    },
}

/// One declared flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub direction: Direction,
    pub protocol: Protocol,
    pub port: Option<u16>,
    pub peer: Peer,
    pub purpose: String,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = match self.direction {
            Direction::FromDevice => "to",
            Direction::ToDevice => "from",
        };
        let proto = protocol_name(self.protocol);
        let peer = match &self.peer {
            Peer::Name(n) => n.clone(),
            Peer::Class {
                class,
                manufacturer: Some(m),
            } => format!("{} {m}", class_name(*class)),
            Peer::Class { class, .. } => class_name(*class).to_owned(),
        };
        match self.port {
            Some(p) => write!(f, "{proto} {dir} {peer} port {p}"),
            None => write!(f, "{proto} {dir} {peer}"),
        }
    }
}

/// The class as the model file spells it.
fn class_name(c: PeerClass) -> &'static str {
    match c {
        PeerClass::LocalNetworks => "local_networks",
        PeerClass::SameManufacturer => "same_manufacturer",
        PeerClass::Manufacturer => "manufacturer",
        PeerClass::Controller => "controller",
        PeerClass::MyController => "my_controller",
    }
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Icmp => "icmp",
        Protocol::Icmpv6 => "icmpv6",
        Protocol::Any => "any",
    }
}

/// The declared flows of one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub rules: Vec<Rule>,
}

impl Profile {
    /// The network part of a threat model.
    pub fn from_model(network: &Network) -> Profile {
        let rules = network
            .flows
            .iter()
            .filter_map(|f| {
                let peer = match (&f.dns_name, f.class) {
                    (Some(n), _) => Peer::Name(normalise(n)),
                    (None, Some(class)) => Peer::Class {
                        class,
                        manufacturer: f.manufacturer.clone(),
                    },
                    // The loader refuses this; a rule with no peer allows nothing.
                    (None, None) => return None,
                };
                Some(Rule {
                    direction: f.direction,
                    protocol: f.protocol,
                    port: f.port,
                    peer,
                    purpose: f.purpose.clone(),
                })
            })
            .collect();
        Profile { rules }
    }
}

pub(crate) fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A flow's transport as observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
        }
    }

    fn allowed_by(self, p: Protocol) -> bool {
        matches!(
            (self, p),
            (_, Protocol::Any)
                | (Proto::Tcp, Protocol::Tcp)
                | (Proto::Udp, Protocol::Udp)
                | (Proto::Icmp, Protocol::Icmp)
                | (Proto::Icmpv6, Protocol::Icmpv6)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct FlowKey {
    outbound: bool,
    proto: Proto,
    peer: IpAddr,
    /// The accepting side's port (0 for ICMP).
    port: u16,
}

#[derive(Clone, Debug)]
struct FlowStat {
    packets: u64,
    first_ns: i64,
    /// The peer's MAC, when the peer is on the LAN (for maker classes).
    peer_mac: Option<Mac>,
}

/// What the device was seen doing, one flow at a time.
pub struct Observer {
    device: Mac,
    /// Address -> names the device's DNS answers gave it.
    names: HashMap<IpAddr, Vec<String>>,
    flows: BTreeMap<FlowKey, FlowStat>,
    /// UDP exchanges by (peer, peer port, own port): who sent first.
    udp_first: HashMap<(IpAddr, u16, u16), bool>,
    pub stats: ObserverStats,
}

/// Counters of what was not judged, so that nothing vanishes unseen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ObserverStats {
    /// Packets of the device (sent or received).
    pub packets: u64,
    /// DHCP, DHCPv6, ARP, neighbour discovery, IGMP/MLD: what every device
    /// needs to be on a network, allowed without a rule.
    pub infrastructure: u64,
    /// TCP segments of connections opened before the capture started (no
    /// SYN seen), ICMP errors, other IP protocols.
    pub unjudged: u64,
    /// Flows, names or exchanges not kept because a bound was reached.
    pub over_capacity: u64,
}

impl Observer {
    pub fn new(device: Mac) -> Observer {
        Observer {
            device,
            names: HashMap::new(),
            flows: BTreeMap::new(),
            udp_first: HashMap::new(),
            stats: ObserverStats::default(),
        }
    }

    /// One decoded frame; frames that are not the device's are ignored.
    pub fn packet(&mut self, ts_ns: i64, p: &Packet<'_>) {
        let outbound = p.src_mac == self.device;
        if !outbound && p.dst_mac != self.device {
            return;
        }
        self.stats.packets += 1;
        let ip = match p.network {
            Net::Ip(ip) => ip,
            Net::Arp(_) => {
                self.stats.infrastructure += 1;
                return;
            }
            Net::Other(_) => {
                self.stats.unjudged += 1;
                return;
            }
        };
        let (peer, peer_mac) = if outbound {
            (ip.dst, p.dst_mac)
        } else {
            (ip.src, p.src_mac)
        };
        let peer_mac = is_local(peer).then_some(peer_mac);
        match p.transport {
            Transport::Tcp {
                src_port,
                dst_port,
                flags,
            } => {
                // Judged by the connection's opening: a SYN without ACK.
                if !flags.syn() || flags.ack() {
                    if !self.has_tcp(outbound, peer, src_port, dst_port) {
                        self.stats.unjudged += 1;
                    }
                    return;
                }
                // The accepting side's port: the SYN's destination port.
                self.flow(ts_ns, outbound, Proto::Tcp, peer, dst_port, peer_mac);
            }
            Transport::Udp { src_port, dst_port } => {
                if matches!(src_port, 67 | 68 | 546 | 547)
                    && matches!(dst_port, 67 | 68 | 546 | 547)
                {
                    self.stats.infrastructure += 1;
                    return;
                }
                if !outbound && src_port == 53 {
                    self.bind_names(p.payload);
                }
                let (peer_port, own_port) = if outbound {
                    (dst_port, src_port)
                } else {
                    (src_port, dst_port)
                };
                let key = (peer, peer_port, own_port);
                let device_first = match self.udp_first.get(&key) {
                    Some(first) => *first,
                    None => {
                        if self.udp_first.len() >= MAX_PENDING {
                            self.stats.over_capacity += 1;
                        } else {
                            self.udp_first.insert(key, outbound);
                        }
                        outbound
                    }
                };
                // The side that did not send first accepts: its port names the flow.
                let port = if device_first { peer_port } else { own_port };
                self.flow(ts_ns, device_first, Proto::Udp, peer, port, peer_mac);
            }
            Transport::Icmp { v6, icmp_type, .. } => {
                let proto = if v6 { Proto::Icmpv6 } else { Proto::Icmp };
                if v6 && (130..=143).contains(&icmp_type) {
                    // MLD and neighbour discovery.
                    self.stats.infrastructure += 1;
                    return;
                }
                let echo_request = if v6 { icmp_type == 128 } else { icmp_type == 8 };
                let echo_reply = if v6 { icmp_type == 129 } else { icmp_type == 0 };
                if echo_request {
                    self.flow(ts_ns, outbound, proto, peer, 0, peer_mac);
                } else if echo_reply {
                    self.flow(ts_ns, !outbound, proto, peer, 0, peer_mac);
                } else {
                    self.stats.unjudged += 1;
                }
            }
            _ => {
                if ip.protocol == 2 {
                    self.stats.infrastructure += 1; // IGMP
                } else {
                    self.stats.unjudged += 1;
                }
            }
        }
    }

    fn has_tcp(&mut self, outbound: bool, peer: IpAddr, src_port: u16, dst_port: u16) -> bool {
        // A segment belongs to a flow the device opened (its destination
        // port is the flow's port when outbound, its source port when not)
        // or one the peer opened.
        let mut hit = |opened_by_device: bool, port: u16| {
            let key = FlowKey {
                outbound: opened_by_device,
                proto: Proto::Tcp,
                peer,
                port,
            };
            match self.flows.get_mut(&key) {
                Some(stat) => {
                    stat.packets += 1;
                    true
                }
                None => false,
            }
        };
        if outbound {
            hit(true, dst_port) || hit(false, src_port)
        } else {
            hit(true, src_port) || hit(false, dst_port)
        }
    }

    fn flow(
        &mut self,
        ts_ns: i64,
        opened_by_device: bool,
        proto: Proto,
        peer: IpAddr,
        port: u16,
        peer_mac: Option<Mac>,
    ) {
        let key = FlowKey {
            outbound: opened_by_device,
            proto,
            peer,
            port,
        };
        if let Some(stat) = self.flows.get_mut(&key) {
            stat.packets += 1;
            return;
        }
        if self.flows.len() >= MAX_FLOWS {
            self.stats.over_capacity += 1;
            return;
        }
        self.flows.insert(
            key,
            FlowStat {
                packets: 1,
                first_ns: ts_ns,
                peer_mac,
            },
        );
    }

    /// Remembers the names a DNS answer to the device gave addresses: the
    /// question's name for every A/AAAA record of the answer section (CNAME
    /// chains included, as a stub resolver takes them), and the records'
    /// own owner names.
    fn bind_names(&mut self, payload: &[u8]) {
        let Ok(m) = DnsMessage::parse(payload) else {
            return;
        };
        if !m.is_response() || m.rcode() != 0 {
            return;
        }
        let question = m
            .questions()
            .next()
            .and_then(Result::ok)
            .map(|q| normalise(q.name.as_str()));
        for rec in m.records().take(64).map_while(Result::ok) {
            if rec.section != Section::Answer {
                continue;
            }
            let addr = match rec.data {
                RData::A(a) => IpAddr::V4(a),
                RData::Aaaa(a) => IpAddr::V6(a),
                _ => continue,
            };
            let owner = normalise(rec.name.as_str());
            for name in question.iter().chain(std::iter::once(&owner)) {
                if name.is_empty() {
                    continue;
                }
                if !self.names.contains_key(&addr) && self.names.len() >= MAX_BOUND_ADDRS {
                    self.stats.over_capacity += 1;
                    continue;
                }
                let bound = self.names.entry(addr).or_default();
                if !bound.contains(name) && bound.len() < MAX_NAMES_PER_ADDR {
                    bound.push(name.clone());
                }
            }
        }
    }

    /// Every observed flow, judged against `profile`. `vendor` is the
    /// device's maker (for the same-manufacturer class).
    pub fn report(&self, profile: &Profile, vendor: Option<&str>) -> Report {
        let mut used = vec![0u64; profile.rules.len()];
        let mut undeclared = Vec::new();
        let mut allowed_flows = 0;
        for (key, stat) in &self.flows {
            let names = self.names.get(&key.peer).cloned().unwrap_or_default();
            let peer_vendor = stat.peer_mac.and_then(|m| warden_oui::lookup(m.0).vendor);
            let rule = profile
                .rules
                .iter()
                .position(|r| matches_rule(r, key, &names, vendor, peer_vendor));
            match rule {
                Some(i) => {
                    used[i] += stat.packets;
                    allowed_flows += 1;
                }
                None => undeclared.push(FlowView {
                    direction: if key.outbound {
                        "from-device"
                    } else {
                        "to-device"
                    },
                    protocol: key.proto,
                    peer: key.peer,
                    port: key.port,
                    names,
                    local: is_local(key.peer),
                    packets: stat.packets,
                    first_seen_ns: stat.first_ns,
                }),
            }
        }
        undeclared.sort_by(|a, b| b.packets.cmp(&a.packets).then(a.peer.cmp(&b.peer)));
        let declared = profile
            .rules
            .iter()
            .zip(used)
            .map(|(r, packets)| RuleUse {
                rule: r.to_string(),
                purpose: r.purpose.clone(),
                packets,
                verifiable: !matches!(
                    r.peer,
                    Peer::Class {
                        class: PeerClass::Controller | PeerClass::MyController,
                        ..
                    }
                ),
            })
            .collect();
        Report {
            device: self.device.to_string(),
            flows: self.flows.len(),
            allowed_flows,
            undeclared,
            declared,
            stats: self.stats,
        }
    }
}

pub(crate) fn matches_rule(
    r: &Rule,
    key: &FlowKey,
    names: &[String],
    vendor: Option<&str>,
    peer_vendor: Option<&str>,
) -> bool {
    let direction = matches!(
        (r.direction, key.outbound),
        (Direction::FromDevice, true) | (Direction::ToDevice, false)
    );
    if !direction || !key.proto.allowed_by(r.protocol) {
        return false;
    }
    if r.port.is_some_and(|p| p != key.port) {
        return false;
    }
    match &r.peer {
        Peer::Name(n) => names.iter().any(|m| m == n),
        Peer::Class {
            class,
            manufacturer,
        } => match class {
            PeerClass::LocalNetworks => is_local(key.peer),
            PeerClass::SameManufacturer => {
                is_local(key.peer) && vendor.is_some() && vendor == peer_vendor
            }
            PeerClass::Manufacturer => {
                is_local(key.peer)
                    && match (manufacturer, peer_vendor) {
                        (Some(m), Some(v)) => v.to_lowercase().contains(&m.to_lowercase()),
                        _ => false,
                    }
            }
            // Which address is the controller is the network's to say; a
            // capture alone cannot show it.
            PeerClass::Controller | PeerClass::MyController => false,
        },
    }
}

/// Private, link-local, unique-local, multicast and broadcast addresses:
/// the local network in MUD's sense.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private() || a.is_link_local() || a.is_multicast() || a.is_broadcast()
        }
        IpAddr::V6(a) => {
            let seg = a.segments()[0];
            a.is_multicast() || (seg & 0xfe00) == 0xfc00 || (seg & 0xffc0) == 0xfe80
        }
    }
}

/// One observed flow, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowView {
    pub direction: &'static str,
    pub protocol: Proto,
    pub peer: IpAddr,
    pub port: u16,
    /// The names the device's DNS answers gave the peer's address.
    pub names: Vec<String>,
    /// The peer is on the local network.
    pub local: bool,
    pub packets: u64,
    pub first_seen_ns: i64,
}

/// How much one declared flow was used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleUse {
    pub rule: String,
    pub purpose: String,
    /// Packets of the flows it allowed (0: declared but not seen).
    pub packets: u64,
    /// False for controller classes, which a capture alone cannot check.
    pub verifiable: bool,
}

/// A device's flows judged against its profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub device: String,
    pub flows: usize,
    pub allowed_flows: usize,
    /// Flows the profile does not declare, busiest first.
    pub undeclared: Vec<FlowView>,
    /// Every declared flow with how much it was used.
    pub declared: Vec<RuleUse>,
    pub stats: ObserverStats,
}
