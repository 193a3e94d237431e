//! Profiles in the live guard (`warden run`, docs/profiles.md): which
//! devices have one and where it came from ([`Sources`]), every new flow
//! of those devices judged against it ([`Judge`]), violations aggregated per
//! device into one incident, and what the enforcer needs to allow exactly
//! the declared flows ([`Judge::allowances`]).
//!
//! A rule naming a host allows only the addresses that the router's own
//! resolver gave that very device for that name, for the answer's TTL
//! clamped to [`MIN_BIND_S`]..[`MAX_BIND_S`]. The caller passes only answers
//! from the router's resolver: another LAN host could forge one to open a
//! way out.
//!
//! Memory is bounded: per device [`MAX_BOUND_PER_DEVICE`] named addresses,
//! [`MAX_JUDGED_UDP`] UDP exchanges, [`MAX_INCIDENT_FLOWS`] denied flows;
//! the number of devices with a profile is bounded by the caller's device
//! table (and [`MAX_DEVICES`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use warden_decode::{Mac, Network as Net, Packet, Transport};
use warden_model::model::{Direction, Network, PeerClass, Protocol};

use crate::{is_local, matches_rule, normalise, FlowKey, Peer, Profile, Proto};

/// Shortest and longest time an answer binds an address to a name.
pub const MIN_BIND_S: u32 = 60;
pub const MAX_BIND_S: u32 = 86_400;
pub const MAX_BOUND_PER_DEVICE: usize = 256;
pub const MAX_JUDGED_UDP: usize = 1_024;
pub const MAX_INCIDENT_FLOWS: usize = 16;
pub const MAX_DEVICES: usize = 4_096;
/// An incident with no new denied packet for this long is over; the next
/// violation raises a new alert.
pub const INCIDENT_QUIET_NS: i64 = 600 * 1_000_000_000;
/// A violation that goes on is reported at most this often.
const UPDATE_EVERY_NS: i64 = 1_000_000_000;

/// A device's profile and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Assigned {
    pub profile: Arc<Profile>,
    /// `owner`, `mud-url` or `model`.
    pub source: &'static str,
    /// For people: the owner's file, the MUD URL, the model's vendor and model.
    pub label: String,
}

/// Where profiles come from, in order of precedence: the owner's mapping,
/// then the device's MUD URL (DHCP option 161) found in the local MUD
/// directory, then a threat model of the catalog matching the device's
/// identified vendor, model and firmware.
#[derive(Default)]
pub struct Sources {
    /// The owner's word: `None` is "no profile for this device".
    owner: HashMap<Mac, Option<Assigned>>,
    catalog: Option<crate::Catalog>,
    /// MUD URL -> file, from the MUD directory's index.
    mud_index: HashMap<String, PathBuf>,
    /// MUD URL -> its imported profile (None: unusable), read once.
    mud_cache: HashMap<String, Option<Arc<Profile>>>,
    /// Catalog entry index -> its profile, made once.
    model_cache: HashMap<usize, Arc<Profile>>,
    /// MUD index entries left out, with the reason.
    skipped: Vec<String>,
}

/// Skipped entries named at most.
const MAX_SKIPPED: usize = 64;

/// One entry of the MUD directory's index.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum IndexEntry {
    File(String),
    Signed {
        file: String,
        signature: String,
        /// `sha256:HEX` of the signer's key, or its certificate's file name.
        signer: String,
    },
}

/// Reads a signed MUD file, checks its signature against the pinned
/// signer, and imports it.
fn signed_profile(
    file: &Path,
    signature: &Path,
    signer: &str,
    signer_file: Option<&Path>,
) -> Result<Profile, String> {
    use crate::mud_sig::{verify, PinnedSigner, MAX_SIGNATURE_BYTES};
    let read = |p: &Path, max: usize| -> Result<Vec<u8>, String> {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if bytes.len() > max {
            return Err(format!("{}: larger than {max} bytes", p.display()));
        }
        Ok(bytes)
    };
    let pinned = match signer_file {
        Some(cert) => PinnedSigner::from_certificate(&read(cert, MAX_SIGNATURE_BYTES)?),
        None => PinnedSigner::from_pin(signer),
    }
    .map_err(|e| format!("signer: {e}"))?;
    let mud = read(file, crate::mud::MAX_MUD_BYTES)?;
    let sig = read(signature, MAX_SIGNATURE_BYTES)?;
    verify(&mud, &sig, &pinned).map_err(|e| format!("signature not accepted: {e}"))?;
    let imported = crate::mud::import(&mud).map_err(|e| format!("MUD file: {e}"))?;
    Ok(Profile::from_model(&imported.network))
}

/// Entries of a MUD directory index at most.
pub const MAX_MUD_INDEX: usize = 4_096;

/// The MUD directory's index: `index.json`, an object of MUD URL to file
/// name inside the directory (`{"https://mud.example/cam.json": "cam.json"}`).
pub const MUD_INDEX: &str = "index.json";

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }

    pub fn with_catalog(mut self, catalog: crate::Catalog) -> Sources {
        self.catalog = Some(catalog);
        self
    }

    /// Reads `dir/index.json`. File names must stay inside `dir` (no `/`,
    /// no `..`): the index must not point warden at other files.
    ///
    /// An entry is a file name, or `{"file", "signature", "signer"}`: then
    /// the file is used only if its detached CMS signature (RFC 8520 s.13)
    /// verifies against the pinned signer (`sha256:HEX` of its key, or a
    /// certificate file in the directory). Signed files are read, checked
    /// and imported here, once, so what was checked is what is enforced.
    /// Entries that fail are left out and named in [`Sources::skipped`].
    pub fn with_mud_dir(mut self, dir: &Path) -> Result<Sources, String> {
        let path = dir.join(MUD_INDEX);
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if text.len() > crate::mud::MAX_MUD_BYTES {
            return Err(format!("{}: larger than 256 KiB", path.display()));
        }
        let index: HashMap<String, IndexEntry> =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let inside = |file: &str| -> Result<PathBuf, String> {
            if file.is_empty() || file.contains('/') || file.contains('\\') || file.starts_with('.')
            {
                return Err(format!(
                    "{}: {file:?} is not a file name inside the directory",
                    path.display()
                ));
            }
            Ok(dir.join(file))
        };
        for (url, entry) in index.into_iter().take(MAX_MUD_INDEX) {
            match entry {
                IndexEntry::File(file) => {
                    self.mud_index.insert(url, inside(&file)?);
                }
                IndexEntry::Signed {
                    file,
                    signature,
                    signer,
                } => {
                    let (file, signature) = (inside(&file)?, inside(&signature)?);
                    let signer_file = (!signer.starts_with("sha256:"))
                        .then(|| inside(&signer))
                        .transpose()?;
                    match signed_profile(&file, &signature, &signer, signer_file.as_deref()) {
                        Ok(profile) => {
                            self.mud_cache.insert(url.clone(), Some(Arc::new(profile)));
                            self.mud_index.insert(url, file);
                        }
                        Err(why) => {
                            if self.skipped.len() < MAX_SKIPPED {
                                self.skipped.push(format!("{url}: {why}"));
                            }
                        }
                    }
                }
            }
        }
        Ok(self)
    }

    /// MUD index entries left out, each with its reason (for the log).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Models in the catalog and MUD URLs in the index.
    pub fn sizes(&self) -> (usize, usize) {
        (
            self.catalog.as_ref().map_or(0, crate::Catalog::len),
            self.mud_index.len(),
        )
    }

    /// Sets the owner's mapping; `None` removes it (the device falls back
    /// to its MUD URL or model), `Some(None)` is the owner's "no profile".
    pub fn set_owner(&mut self, device: Mac, mapping: Option<Option<Assigned>>) {
        match mapping {
            Some(m) => {
                if self.owner.len() < MAX_DEVICES || self.owner.contains_key(&device) {
                    self.owner.insert(device, m);
                }
            }
            None => {
                self.owner.remove(&device);
            }
        }
    }

    /// The owner's mappings to a profile (not the "no profile" ones): a
    /// restarted guard holds these devices to them before they are seen.
    pub fn owner_profiles(&self) -> impl Iterator<Item = (Mac, &Assigned)> + '_ {
        self.owner
            .iter()
            .filter_map(|(mac, a)| a.as_ref().map(|a| (*mac, a)))
    }

    /// The profile of a device, by precedence (see [`Sources`]).
    pub fn resolve(&mut self, device: Mac, id: &DeviceId<'_>) -> Option<Assigned> {
        if let Some(owner) = self.owner.get(&device) {
            return owner.clone();
        }
        if let Some(url) = id.mud_url {
            if let Some(profile) = self.mud_profile(url) {
                return Some(Assigned {
                    profile,
                    source: "mud-url",
                    label: url.to_owned(),
                });
            }
        }
        let catalog = self.catalog.as_ref()?;
        let (vendor, model) = (id.vendor?, id.model?);
        let found = catalog.find_entry(vendor, model, id.firmware)?;
        let i = catalog
            .entries()
            .iter()
            .position(|e| std::ptr::eq(e, found))?;
        let entry = &catalog.entries()[i];
        let profile = self
            .model_cache
            .entry(i)
            .or_insert_with(|| Arc::new(Profile::from_model(&entry.model.network)))
            .clone();
        Some(Assigned {
            profile,
            source: "model",
            label: format!(
                "{} {}",
                entry.model.identity.vendor, entry.model.identity.model
            ),
        })
    }

    fn mud_profile(&mut self, url: &str) -> Option<Arc<Profile>> {
        if let Some(p) = self.mud_cache.get(url) {
            return p.clone();
        }
        let path = self.mud_index.get(url)?;
        let profile = std::fs::read(path)
            .ok()
            .and_then(|bytes| crate::mud::import(&bytes).ok())
            .map(|imported| Arc::new(Profile::from_model(&imported.network)));
        if self.mud_cache.len() < MAX_MUD_INDEX {
            self.mud_cache.insert(url.to_owned(), profile.clone());
        }
        profile
    }
}

/// What identifies a device for [`Sources::resolve`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeviceId<'a> {
    pub mud_url: Option<&'a str>,
    pub vendor: Option<&'a str>,
    pub model: Option<&'a str>,
    pub firmware: Option<&'a str>,
}

/// A profile made from a threat model's `network` section as JSON (what
/// the state database keeps for an owner's mapping).
pub fn profile_from_network_json(json: &str) -> Result<Profile, String> {
    let network: Network = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(Profile::from_model(&network))
}

/// One flow not allowed, as the incident keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    /// The device opened it.
    pub outbound: bool,
    pub proto: Proto,
    pub peer: IpAddr,
    /// The accepting side's port (0 for ICMP).
    pub port: u16,
    /// Names the router's resolver gave the peer's address for this device.
    pub names: Vec<String>,
    pub attempts: u64,
    pub first_ns: i64,
}

/// The denied flows of one device since its incident started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub first_ns: i64,
    pub last_ns: i64,
    /// Distinct flows denied.
    pub distinct: u64,
    /// The first [`MAX_INCIDENT_FLOWS`] of them.
    pub flows: Vec<Denied>,
    reported_ns: i64,
}

/// What a packet did to a device's incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The first denied flow of a new incident.
    Raised(Incident),
    /// The incident goes on (a new flow, or at most once a second more attempts).
    Updated(Incident),
}

struct Bound {
    names: Vec<String>,
    expires_ns: i64,
}

struct DeviceState {
    assigned: Assigned,
    vendor: Option<&'static str>,
    bound: HashMap<IpAddr, Bound>,
    /// UDP exchanges (peer, peer port, own port) already judged.
    udp: HashMap<(IpAddr, u16, u16), ()>,
    incident: Option<Incident>,
}

/// New flows of devices with a profile, judged.
#[derive(Default)]
pub struct Judge {
    router_addrs: Vec<IpAddr>,
    devices: HashMap<Mac, DeviceState>,
    /// Names, exchanges or devices not kept because a bound was reached.
    pub over_capacity: u64,
}

impl Judge {
    /// `router_addrs`: the router's own addresses, where DNS is plumbing.
    pub fn new(router_addrs: Vec<IpAddr>) -> Judge {
        Judge {
            router_addrs,
            ..Judge::default()
        }
    }

    /// Gives `device` a profile, or takes it away. Returns whether anything
    /// changed; a changed profile starts over (no names, no incident).
    pub fn assign(&mut self, device: Mac, assigned: Option<Assigned>) -> bool {
        match assigned {
            None => self.devices.remove(&device).is_some(),
            Some(a) => {
                if let Some(d) = self.devices.get(&device) {
                    if d.assigned == a {
                        return false;
                    }
                } else if self.devices.len() >= MAX_DEVICES {
                    self.over_capacity += 1;
                    return false;
                }
                self.devices.insert(
                    device,
                    DeviceState {
                        assigned: a,
                        vendor: warden_oui::lookup(device.0).vendor,
                        bound: HashMap::new(),
                        udp: HashMap::new(),
                        incident: None,
                    },
                );
                true
            }
        }
    }

    pub fn assigned(&self, device: Mac) -> Option<&Assigned> {
        self.devices.get(&device).map(|d| &d.assigned)
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Devices with a profile.
    pub fn devices(&self) -> impl Iterator<Item = Mac> + '_ {
        self.devices.keys().copied()
    }

    /// The router's resolver answered `name` with `addrs` to `device`:
    /// binds them if a rule of its profile names `name`. Returns whether
    /// the enforcer's address sets must change (a new address, or one
    /// whose binding was more than half used up).
    pub fn dns_answer(
        &mut self,
        device: Mac,
        name: &str,
        addrs: &[IpAddr],
        ttl_s: u32,
        now_ns: i64,
    ) -> bool {
        let Some(d) = self.devices.get_mut(&device) else {
            return false;
        };
        let name = normalise(name);
        let named = d
            .assigned
            .profile
            .rules
            .iter()
            .any(|r| matches!(&r.peer, Peer::Name(n) if *n == name));
        if !named {
            return false;
        }
        let ttl_ns = i64::from(ttl_s.clamp(MIN_BIND_S, MAX_BIND_S)) * 1_000_000_000;
        let expires_ns = now_ns.saturating_add(ttl_ns);
        let mut changed = false;
        for &addr in addrs {
            if !d.bound.contains_key(&addr) && d.bound.len() >= MAX_BOUND_PER_DEVICE {
                // Make room from expired ones first.
                d.bound.retain(|_, b| b.expires_ns > now_ns);
                if d.bound.len() >= MAX_BOUND_PER_DEVICE {
                    self.over_capacity += 1;
                    continue;
                }
            }
            let b = d.bound.entry(addr).or_insert_with(|| {
                changed = true;
                Bound {
                    names: Vec::new(),
                    expires_ns: i64::MIN,
                }
            });
            if !b.names.contains(&name) && b.names.len() < crate::MAX_NAMES_PER_ADDR {
                b.names.push(name.clone());
                changed = true;
            }
            // Renewed in the enforcer once more than half of it is used up.
            if b.expires_ns.saturating_sub(now_ns) < ttl_ns / 2 {
                changed = true;
            }
            b.expires_ns = b.expires_ns.max(expires_ns);
        }
        changed
    }

    /// Forgets expired names and quiet incidents; returns whether any name
    /// expired (the enforcer's sets then shrink).
    pub fn prune(&mut self, now_ns: i64) -> bool {
        let mut changed = false;
        for d in self.devices.values_mut() {
            let before = d.bound.len();
            d.bound.retain(|_, b| b.expires_ns > now_ns);
            changed |= d.bound.len() != before;
            if d.incident
                .as_ref()
                .is_some_and(|i| now_ns.saturating_sub(i.last_ns) > INCIDENT_QUIET_NS)
            {
                d.incident = None;
            }
        }
        changed
    }

    /// One frame sent (`outbound`) or received by `device`. Returns what it
    /// did to the device's incident when it opens a flow the profile does
    /// not allow.
    pub fn packet(
        &mut self,
        device: Mac,
        ts_ns: i64,
        outbound: bool,
        p: &Packet<'_>,
    ) -> Option<Event> {
        let d = self.devices.get_mut(&device)?;
        let (key, peer_mac) = classify(
            &self.router_addrs,
            &mut d.udp,
            &mut self.over_capacity,
            outbound,
            p,
        )?;
        let peer = key.peer;
        let names: Vec<String> = d
            .bound
            .get(&peer)
            .filter(|b| b.expires_ns > ts_ns)
            .map(|b| b.names.clone())
            .unwrap_or_default();
        let peer_vendor = if is_local(peer) {
            warden_oui::lookup(peer_mac.0).vendor
        } else {
            None
        };
        let allowed = d
            .assigned
            .profile
            .rules
            .iter()
            .any(|r| matches_rule(r, &key, &names, d.vendor, peer_vendor));
        if allowed {
            return None;
        }
        let incident = match &mut d.incident {
            Some(i) => i,
            None => {
                d.incident = Some(Incident {
                    first_ns: ts_ns,
                    last_ns: ts_ns,
                    distinct: 0,
                    flows: Vec::new(),
                    reported_ns: ts_ns,
                });
                let i = d.incident.as_mut().expect("just set");
                add_flow(i, &key, names, ts_ns);
                return Some(Event::Raised(i.clone()));
            }
        };
        incident.last_ns = incident.last_ns.max(ts_ns);
        let new_flow = add_flow(incident, &key, names, ts_ns);
        if new_flow || ts_ns.saturating_sub(incident.reported_ns) >= UPDATE_EVERY_NS {
            incident.reported_ns = ts_ns;
            return Some(Event::Updated(incident.clone()));
        }
        None
    }

    /// What the enforcer lets `device` do: one entry per rule of its
    /// profile, names given as the addresses bound now with the seconds
    /// left. None when the device has no profile.
    pub fn allowances(&self, device: Mac, now_ns: i64) -> Option<Vec<Allowance>> {
        let d = self.devices.get(&device)?;
        let out = d
            .assigned
            .profile
            .rules
            .iter()
            .map(|r| {
                let peers = match &r.peer {
                    Peer::Name(n) => {
                        let mut addrs: Vec<(IpAddr, u32)> = d
                            .bound
                            .iter()
                            .filter(|(_, b)| b.expires_ns > now_ns && b.names.contains(n))
                            .map(|(a, b)| {
                                let left = (b.expires_ns - now_ns).div_euclid(1_000_000_000);
                                (*a, left.clamp(1, i64::from(MAX_BIND_S)) as u32)
                            })
                            .collect();
                        addrs.sort();
                        Peers::Addrs {
                            name: n.clone(),
                            addrs,
                        }
                    }
                    Peer::Class {
                        class: PeerClass::LocalNetworks,
                        ..
                    } => Peers::Local,
                    // Which LAN hosts are a maker's or the controller is not
                    // something the router can tell from a MAC's registry
                    // entry reliably enough to open the firewall for; such
                    // rules allow nothing when enforced (docs/profiles.md).
                    Peer::Class { .. } => Peers::None,
                };
                Allowance {
                    from_device: r.direction == Direction::FromDevice,
                    protocol: r.protocol,
                    port: r.port,
                    peers,
                }
            })
            .collect();
        Some(out)
    }
}

/// The new flow a frame opens, with the peer's MAC: TCP SYN either way,
/// the first packet of a UDP exchange (`udp` remembers the exchanges seen),
/// an ICMP echo request. None for everything else, and for the plumbing
/// every device needs: ARP, DHCP, DNS with the router, neighbour discovery.
pub(crate) fn classify(
    router_addrs: &[IpAddr],
    udp: &mut HashMap<(IpAddr, u16, u16), ()>,
    over_capacity: &mut u64,
    outbound: bool,
    p: &Packet<'_>,
) -> Option<(FlowKey, Mac)> {
    let Net::Ip(ip) = p.network else {
        return None; // ARP and the rest: plumbing
    };
    let (peer, peer_mac) = if outbound {
        (ip.dst, p.dst_mac)
    } else {
        (ip.src, p.src_mac)
    };
    let to_router = router_addrs.contains(&peer);
    let (proto, port) = match p.transport {
        Transport::Tcp {
            dst_port, flags, ..
        } => {
            if !flags.syn() || flags.ack() {
                return None;
            }
            if outbound && to_router && dst_port == 53 {
                return None; // DNS to the router
            }
            (Proto::Tcp, dst_port)
        }
        Transport::Udp { src_port, dst_port } => {
            if matches!(src_port, 67 | 68 | 546 | 547) && matches!(dst_port, 67 | 68 | 546 | 547) {
                return None; // DHCP
            }
            if to_router && ((outbound && dst_port == 53) || (!outbound && src_port == 53)) {
                return None; // DNS with the router
            }
            let (peer_port, own_port) = if outbound {
                (dst_port, src_port)
            } else {
                (src_port, dst_port)
            };
            let key = (peer, peer_port, own_port);
            if udp.contains_key(&key) {
                return None;
            }
            if udp.len() >= MAX_JUDGED_UDP {
                // Judging an exchange again costs little; growing does not.
                udp.clear();
                *over_capacity += 1;
            }
            udp.insert(key, ());
            (Proto::Udp, dst_port)
        }
        Transport::Icmp { v6, icmp_type, .. } => {
            let request = if v6 { icmp_type == 128 } else { icmp_type == 8 };
            if !request {
                return None; // replies, errors, ND and MLD
            }
            (if v6 { Proto::Icmpv6 } else { Proto::Icmp }, 0)
        }
        _ => return None,
    };
    Some((
        FlowKey {
            outbound,
            proto,
            peer,
            port,
        },
        peer_mac,
    ))
}

fn add_flow(i: &mut Incident, key: &FlowKey, names: Vec<String>, ts_ns: i64) -> bool {
    let same = |f: &&mut Denied| {
        f.outbound == key.outbound
            && f.proto == key.proto
            && f.peer == key.peer
            && f.port == key.port
    };
    if let Some(f) = i.flows.iter_mut().find(same) {
        f.attempts += 1;
        return false;
    }
    i.distinct += 1;
    if i.flows.len() < MAX_INCIDENT_FLOWS {
        i.flows.push(Denied {
            outbound: key.outbound,
            proto: key.proto,
            peer: key.peer,
            port: key.port,
            names,
            attempts: 1,
            first_ns: ts_ns,
        });
    }
    true
}

/// One rule of a profile, ready for the firewall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// The device opens it (else a peer opens it to the device).
    pub from_device: bool,
    pub protocol: Protocol,
    /// The accepting side's port.
    pub port: Option<u16>,
    pub peers: Peers,
}

/// Who an [`Allowance`] lets the device talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peers {
    /// Private, link-local, unique-local, multicast and broadcast addresses.
    Local,
    /// The addresses the router's resolver gave the device for `name`, with
    /// the seconds each stays bound.
    Addrs {
        name: String,
        addrs: Vec<(IpAddr, u32)>,
    },
    /// Nothing the router can enforce.
    None,
}
