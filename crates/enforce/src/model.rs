//! The desired state warden enforces, and the validated names and addresses it
//! is built from. Everything that ends up in an nftables script passes through
//! a type here that cannot hold text able to break out of its place in the
//! script: MACs, table and interface names are refused when malformed, free
//! text (device names, reasons) is cleaned because it comes from the network.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::EnforceError;

/// A device's Ethernet address: unicast and not all-zero (a source address
/// that is neither cannot belong to one device).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac([u8; 6]);

impl Mac {
    pub fn new(octets: [u8; 6]) -> Result<Mac, EnforceError> {
        if octets[0] & 1 == 1 {
            return Err(EnforceError::invalid(
                "MAC address",
                Mac(octets),
                "group (multicast or broadcast) address, not a device",
            ));
        }
        if octets == [0; 6] {
            return Err(EnforceError::invalid(
                "MAC address",
                Mac(octets),
                "all-zero address",
            ));
        }
        Ok(Mac(octets))
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Twelve lowercase hex digits: the suffix of the per-device chain and
    /// limit names (nft identifiers cannot hold colons).
    pub(crate) fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl FromStr for Mac {
    type Err = EnforceError;

    /// `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, either case; nothing else.
    fn from_str(s: &str) -> Result<Mac, EnforceError> {
        let bad = |why| EnforceError::invalid("MAC address", s, why);
        let parts: Vec<&str> = if s.contains(':') {
            s.split(':').collect()
        } else {
            s.split('-').collect()
        };
        if parts.len() != 6 {
            return Err(bad("expected six hex pairs separated by ':' or '-'"));
        }
        let mut octets = [0u8; 6];
        for (octet, part) in octets.iter_mut().zip(&parts) {
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("expected six hex pairs separated by ':' or '-'"));
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| bad("not hex"))?;
        }
        Mac::new(octets)
    }
}

impl TryFrom<String> for Mac {
    type Error = EnforceError;
    fn try_from(s: String) -> Result<Mac, EnforceError> {
        s.parse()
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.to_string()
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

/// The name of warden's nftables tables: a letter, then letters, digits or
/// `_`, at most 32 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TableName(String);

impl TableName {
    pub fn new(name: &str) -> Result<TableName, EnforceError> {
        let ok = !name.is_empty()
            && name.len() <= 32
            && name.as_bytes()[0].is_ascii_alphabetic()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ok {
            Ok(TableName(name.to_string()))
        } else {
            Err(EnforceError::invalid(
                "table name",
                name,
                "a letter, then letters, digits or '_', at most 32 characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TableName {
    fn default() -> TableName {
        TableName("warden".to_string())
    }
}

impl TryFrom<String> for TableName {
    type Error = EnforceError;
    fn try_from(s: String) -> Result<TableName, EnforceError> {
        TableName::new(&s)
    }
}

impl From<TableName> for String {
    fn from(t: TableName) -> String {
        t.0
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TableName({})", self.0)
    }
}

/// A network interface name: 1 to 15 bytes (Linux's limit) of letters,
/// digits, `_`, `.` and `-`. Linux allows more characters; warden refuses
/// them rather than quote them into a script.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IfName(String);

impl IfName {
    pub fn new(name: &str) -> Result<IfName, EnforceError> {
        let ok = !name.is_empty()
            && name.len() <= 15
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok {
            Ok(IfName(name.to_string()))
        } else {
            Err(EnforceError::invalid(
                "interface name",
                name,
                "1 to 15 letters, digits, '_', '.' or '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IfName {
    type Error = EnforceError;
    fn try_from(s: String) -> Result<IfName, EnforceError> {
        IfName::new(&s)
    }
}

impl From<IfName> for String {
    fn from(i: IfName) -> String {
        i.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IfName({})", self.0)
    }
}

/// Free text that goes into nftables comments: a device's name, a reason.
///
/// It is cleaned, not refused: names come from the devices themselves (DHCP
/// host names, SSDP strings), and refusing them would let a device keep
/// itself out of the firewall by choosing a name with a quote in it. Every
/// character outside ASCII letters, digits, space and `-_.:,()/+@=` becomes
/// `_`, and the text is cut to [`Label::MAX`] characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Label(String);

impl Label {
    pub const MAX: usize = 48;

    pub fn new(text: &str) -> Label {
        let clean: String = text
            .trim()
            .chars()
            .take(Label::MAX)
            .map(|c| {
                if c.is_ascii_alphanumeric() || " -_.:,()/+@=".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if clean.is_empty() {
            Label("unnamed".to_string())
        } else {
            Label(clean)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Label {
    fn default() -> Label {
        Label::new("")
    }
}

impl From<&str> for Label {
    fn from(s: &str) -> Label {
        Label::new(s)
    }
}

impl From<String> for Label {
    fn from(s: String) -> Label {
        Label::new(&s)
    }
}

impl From<Label> for String {
    fn from(l: Label) -> String {
        l.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({:?})", self.0)
    }
}

/// A cap on what one device sends through and to the router. Either bound
/// or both; the packets bound is checked first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub packets_per_s: Option<NonZeroU32>,
    pub bytes_per_s: Option<NonZeroU64>,
    #[serde(default)]
    pub reason: Label,
}

/// A transport protocol for an [`Allow::Net`] entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

/// Something a quarantined device may still reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Allow {
    /// DNS (UDP and TCP 53) to the router itself, and to the
    /// [`Enforcement::router_addrs`] when traffic to them is forwarded or
    /// bridged. Not DNS to other resolvers.
    Dns,
    /// NTP (UDP 123) to any address: a device with a wrong clock cannot
    /// check the certificate of its update server.
    Ntp,
    /// An address or prefix (for example the vendor's update server), with
    /// an optional protocol and destination port. A port without a protocol
    /// means TCP or UDP.
    Net {
        net: IpNet,
        #[serde(default)]
        proto: Option<Proto>,
        #[serde(default)]
        port: Option<u16>,
    },
}

/// Drop everything the device sends except DHCP, IPv6 neighbour discovery
/// (and, between LAN ports, ARP) and what `allow` lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantine {
    #[serde(default)]
    pub allow: Vec<Allow>,
    #[serde(default)]
    pub reason: Label,
}

/// A transport protocol of a profile rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum L4 {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
}

/// Who a profile rule lets the device talk to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProfilePeer {
    /// Private, link-local, unique-local, multicast and broadcast addresses.
    Local,
    /// The addresses the router's resolver gave the device for a name, each
    /// with the seconds it stays allowed (an nftables set element timeout).
    Addrs {
        name: Label,
        addrs: Vec<(IpAddr, u32)>,
    },
}

/// One declared flow, as the firewall allows it. Only what the device
/// sends is filtered (as for quarantine): for a flow the device opens its
/// packets to `port` pass; for one a peer opens, its packets from `port`
/// (the answers) pass, so an undeclared inbound connection cannot be
/// completed either.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileAllow {
    pub from_device: bool,
    /// None: any protocol.
    #[serde(default)]
    pub proto: Option<L4>,
    /// The accepting side's port (TCP and UDP only).
    #[serde(default)]
    pub port: Option<u16>,
    pub peer: ProfilePeer,
}

/// Hold a device to its network profile: drop what it sends that no
/// `allow` entry lets through, except DHCP, DNS to the router, ARP and
/// neighbour discovery.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRules {
    #[serde(default)]
    pub allow: Vec<ProfileAllow>,
    #[serde(default)]
    pub reason: Label,
}

/// What to do about one device. Each `Option` is one action; `None` means
/// not taken. The `Label`s in `block_smtp` and `block_upnp` are the reasons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRules {
    /// How the household knows the device (host name, vendor and model).
    #[serde(default)]
    pub name: Label,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Drop its TCP to ports 25, 465 and 587.
    #[serde(default)]
    pub block_smtp: Option<Label>,
    /// Drop its SSDP (UDP 1900), NAT-PMP/PCP (UDP 5351) and IGD control
    /// (TCP [`Enforcement::igd_tcp_ports`]) to the router.
    #[serde(default)]
    pub block_upnp: Option<Label>,
    #[serde(default)]
    pub quarantine: Option<Quarantine>,
    #[serde(default)]
    pub profile: Option<ProfileRules>,
}

impl DeviceRules {
    /// True when no action is taken (such a device adds nothing to the script).
    pub fn is_empty(&self) -> bool {
        self.rate_limit.is_none()
            && self.block_smtp.is_none()
            && self.block_upnp.is_none()
            && self.quarantine.is_none()
            && self.profile.is_none()
    }
}

/// The whole desired state: applying it makes warden's tables exactly this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// Name of warden's tables (`inet NAME`, and `bridge NAME` when `bridge`).
    #[serde(default)]
    pub table: TableName,
    /// LAN interfaces (as the router routes them, e.g. `br-lan`). Empty:
    /// warden's inet chains look at traffic from any interface.
    #[serde(default)]
    pub lan_interfaces: Vec<IfName>,
    /// The router's own addresses (and a separate resolver or IGD on the
    /// LAN, if any): where quarantined devices may send DNS and where
    /// UPnP-blocked devices may not send UPnP, when such traffic is
    /// forwarded or bridged rather than addressed to this machine.
    #[serde(default)]
    pub router_addrs: Vec<IpAddr>,
    /// TCP ports of the router's UPnP IGD control (SOAP) server.
    #[serde(default = "default_igd_ports")]
    pub igd_tcp_ports: Vec<u16>,
    /// Also keep a `bridge` family table, for what a Linux bridge switches
    /// between LAN ports without routing (one device to another on the same
    /// LAN). Turn off on kernels without nf_tables bridge support.
    #[serde(default = "default_true")]
    pub bridge: bool,
    #[serde(default)]
    pub devices: BTreeMap<Mac, DeviceRules>,
}

/// OpenWrt and Tomato miniupnpd (5000), pfSense miniupnpd (2189), AVM
/// FRITZ!Box (49000), libupnp and linux-igd (49152).
pub fn default_igd_ports() -> Vec<u16> {
    vec![2189, 5000, 49000, 49152]
}

fn default_true() -> bool {
    true
}

impl Default for Enforcement {
    fn default() -> Enforcement {
        Enforcement {
            table: TableName::default(),
            lan_interfaces: Vec::new(),
            router_addrs: Vec::new(),
            igd_tcp_ports: default_igd_ports(),
            bridge: true,
            devices: BTreeMap::new(),
        }
    }
}
