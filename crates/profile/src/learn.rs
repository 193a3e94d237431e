//! Learning a profile for a device that has none (docs/profiles.md): the
//! flows it opens or accepts during its first learning window, each peer
//! named as a profile can name it — by a name the router's resolver gave
//! the device for that address, or as the local network. Internet
//! addresses the device never looked up cannot be named in a profile; they
//! are counted, not proposed. The owner reads the proposal with `warden
//! device profile MAC --learned` and may accept it.
//!
//! Bounded: [`MAX_LEARNING_DEVICES`] devices, per device
//! [`MAX_LEARNED_FLOWS`] flows, [`MAX_LEARNED_NAMES`] named addresses and
//! [`crate::guard::MAX_JUDGED_UDP`] UDP exchanges; past the window a
//! device's names and exchanges are let go.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use warden_decode::{Mac, Packet};
use warden_model::model::{Direction, Flow, Network, PeerClass, Protocol};

use crate::guard::classify;
use crate::{is_local, normalise, Proto};

pub const MAX_LEARNING_DEVICES: usize = 1_024;
pub const MAX_LEARNED_FLOWS: usize = 64;
pub const MAX_LEARNED_NAMES: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LearnedPeer {
    Local,
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LearnedFlow {
    from_device: bool,
    proto: Proto,
    /// TCP and UDP: the accepting side's port.
    port: Option<u16>,
    peer: LearnedPeer,
}

struct Learning {
    since_ns: i64,
    updated_ns: i64,
    names: HashMap<IpAddr, String>,
    udp: HashMap<(IpAddr, u16, u16), ()>,
    flows: BTreeSet<LearnedFlow>,
    unnamed: u64,
    changed: bool,
    done: bool,
}

/// What was learned of one device, ready to store or show.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    pub since_ns: i64,
    pub updated_ns: i64,
    pub network: Network,
    /// Flows left out: internet addresses the device never looked up.
    pub unnamed: u64,
}

/// The behaviour of devices without a profile, learned.
pub struct Learner {
    router_addrs: Vec<IpAddr>,
    window_ns: i64,
    devices: HashMap<Mac, Learning>,
    /// Devices, flows or names not kept because a bound was reached.
    pub over_capacity: u64,
}

impl Learner {
    /// Devices are watched for `window_s` from the first packet seen.
    pub fn new(router_addrs: Vec<IpAddr>, window_s: u64) -> Learner {
        Learner {
            router_addrs,
            window_ns: i64::try_from(window_s)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000_000),
            devices: HashMap::new(),
            over_capacity: 0,
        }
    }

    fn learning(&mut self, device: Mac, ts_ns: i64) -> Option<&mut Learning> {
        if !self.devices.contains_key(&device) {
            if self.devices.len() >= MAX_LEARNING_DEVICES {
                self.over_capacity += 1;
                return None;
            }
            self.devices.insert(
                device,
                Learning {
                    since_ns: ts_ns,
                    updated_ns: ts_ns,
                    names: HashMap::new(),
                    udp: HashMap::new(),
                    flows: BTreeSet::new(),
                    unnamed: 0,
                    changed: false,
                    done: false,
                },
            );
        }
        let window = self.window_ns;
        let l = self.devices.get_mut(&device)?;
        if ts_ns.saturating_sub(l.since_ns) > window {
            if !l.done {
                // The window is over: keep the flows, let the rest go.
                l.done = true;
                l.names = HashMap::new();
                l.udp = HashMap::new();
            }
            return None;
        }
        Some(l)
    }

    /// The router's resolver answered `name` with `addrs` to `device`.
    pub fn dns_answer(&mut self, device: Mac, name: &str, addrs: &[IpAddr], ts_ns: i64) {
        let mut over = 0;
        if let Some(l) = self.learning(device, ts_ns) {
            let name = normalise(name);
            for &a in addrs {
                if l.names.len() >= MAX_LEARNED_NAMES && !l.names.contains_key(&a) {
                    over += 1;
                    continue;
                }
                l.names.insert(a, name.clone());
            }
        }
        self.over_capacity += over;
    }

    /// One frame sent (`outbound`) or received by `device`.
    pub fn packet(&mut self, device: Mac, ts_ns: i64, outbound: bool, p: &Packet<'_>) {
        let router_addrs = std::mem::take(&mut self.router_addrs);
        let mut over = 0;
        if let Some(l) = self.learning(device, ts_ns) {
            if let Some((key, _)) = classify(&router_addrs, &mut l.udp, &mut over, outbound, p) {
                let peer = if is_local(key.peer) {
                    Some(LearnedPeer::Local)
                } else {
                    l.names.get(&key.peer).cloned().map(LearnedPeer::Name)
                };
                match peer {
                    None => l.unnamed += 1,
                    Some(peer) => {
                        let flow = LearnedFlow {
                            from_device: key.outbound,
                            proto: key.proto,
                            port: matches!(key.proto, Proto::Tcp | Proto::Udp).then_some(key.port),
                            peer,
                        };
                        if !l.flows.contains(&flow) {
                            if l.flows.len() >= MAX_LEARNED_FLOWS {
                                over += 1;
                            } else {
                                l.flows.insert(flow);
                                l.updated_ns = ts_ns;
                                l.changed = true;
                            }
                        }
                    }
                }
            }
        }
        self.over_capacity += over;
        self.router_addrs = router_addrs;
    }

    /// Stops learning `device` (it has a profile now).
    pub fn forget(&mut self, device: Mac) {
        self.devices.remove(&device);
    }

    /// What was learned of `device` so far.
    pub fn learned(&self, device: Mac) -> Option<Learned> {
        self.devices.get(&device).map(view)
    }

    /// Devices whose proposal changed since the last call, with it.
    pub fn take_changed(&mut self) -> Vec<(Mac, Learned)> {
        let mut out = Vec::new();
        for (mac, l) in self.devices.iter_mut() {
            if l.changed {
                l.changed = false;
                out.push((*mac, view(l)));
            }
        }
        out.sort_by_key(|(m, _)| *m);
        out
    }
}

fn view(l: &Learning) -> Learned {
    let flows = l
        .flows
        .iter()
        .map(|f| {
            let (dns_name, class) = match &f.peer {
                LearnedPeer::Local => (None, Some(PeerClass::LocalNetworks)),
                LearnedPeer::Name(n) => (Some(n.clone()), None),
            };
            Flow {
                direction: if f.from_device {
                    Direction::FromDevice
                } else {
                    Direction::ToDevice
                },
                protocol: match f.proto {
                    Proto::Tcp => Protocol::Tcp,
                    Proto::Udp => Protocol::Udp,
                    Proto::Icmp => Protocol::Icmp,
                    Proto::Icmpv6 => Protocol::Icmpv6,
                },
                port: f.port,
                dns_name,
                class,
                manufacturer: None,
                encrypted: None,
                purpose: "seen while learning; say why the device needs it".to_owned(),
            }
        })
        .collect();
    Learned {
        since_ns: l.since_ns,
        updated_ns: l.updated_ns,
        network: Network {
            port_mapping: None,
            flows,
        },
        unnamed: l.unnamed,
    }
}
