//! Frames to compact packet records.
//!
//! `decode(link, bytes)` turns one captured frame into a [`Packet`]: a small
//! `Copy` record of what the guard needs (MACs, VLANs, IP addresses, transport
//! ports and flags, the transport payload as a borrowed slice). It never
//! allocates and never panics: every read goes through bounds-checked slice
//! access, and a frame that cannot be read says why in a [`DecodeError`] so
//! that drops can be counted by reason.
//!
//! Truncation is not an error once the network header is readable: a frame cut
//! by the capture's snap length still counts for its device, with
//! [`Transport::Truncated`] where the transport header is missing.

mod mac;
mod parse;

pub use mac::Mac;
pub use parse::decode;

use std::net::IpAddr;

/// Link-layer header types (the pcap `LINKTYPE_*` registry values we read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101) and the BSD alias 12: the frame is an IP packet.
    RawIp,
    /// LINKTYPE_LINUX_SLL (113): Linux "any" device capture, version 1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked capture, version 2.
    LinuxSll2,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// Anything else: frames of this link type are skipped and counted.
    Unknown(u32),
}

impl LinkType {
    pub fn from_pcap(linktype: u32) -> Self {
        match linktype {
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::RawIp,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            other => LinkType::Unknown(other),
        }
    }
}

/// Why a frame could not be decoded. Each reason is counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    /// The link type is not one warden reads.
    UnsupportedLinkType(u32),
    /// The frame ends inside the link-layer header (or a VLAN tag).
    TruncatedLinkHeader,
    /// The frame ends inside the IPv4/IPv6 header.
    TruncatedIpHeader,
    /// The IP version nibble does not match the EtherType (or is neither 4 nor 6).
    BadIpVersion,
    /// IPv4 IHL below 5, or total length shorter than the header.
    BadIpHeaderLength,
    /// More VLAN tags or IPv6 extension headers than any sane frame has.
    TooManyHeaders,
}

impl DecodeError {
    /// A stable, snake_case name for counters and JSON.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::UnsupportedLinkType(_) => "unsupported_link_type",
            DecodeError::TruncatedLinkHeader => "truncated_link_header",
            DecodeError::TruncatedIpHeader => "truncated_ip_header",
            DecodeError::BadIpVersion => "bad_ip_version",
            DecodeError::BadIpHeaderLength => "bad_ip_header_length",
            DecodeError::TooManyHeaders => "too_many_headers",
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::UnsupportedLinkType(t) => write!(f, "unsupported link type {t}"),
            other => f.write_str(&other.reason().replace('_', " ")),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Direction recorded by Linux cooked captures (SLL/SLL2 packet type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookedDirection {
    /// Addressed to the capturing host.
    Host,
    Broadcast,
    Multicast,
    /// Addressed to another host (promiscuous).
    OtherHost,
    /// Sent by the capturing host.
    Outgoing,
    Unknown(u16),
}

/// TCP header flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    /// A connection attempt: SYN without ACK.
    pub fn is_syn_only(self) -> bool {
        self.syn() && !self.ack()
    }
    /// A connection acceptance: SYN with ACK.
    pub fn is_syn_ack(self) -> bool {
        self.syn() && self.ack()
    }
}

/// The packet an ICMP error message quotes: which of our probes it answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedPacket {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Destination port of the quoted TCP/UDP header, 0 when absent.
    pub dst_port: u16,
}

/// The transport layer as far as it was readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        src_port: u16,
        dst_port: u16,
        flags: TcpFlags,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    /// ICMP or ICMPv6 (`v6` tells which). Errors carry the quoted packet.
    Icmp {
        v6: bool,
        icmp_type: u8,
        code: u8,
        quoted: Option<QuotedPacket>,
    },
    /// GRE with the protocol it carries (0x0800 IPv4, 0x6558 Ethernet, ...).
    Gre {
        protocol: u16,
    },
    /// A non-first IP fragment: no transport header in this packet.
    Fragment,
    /// The capture cut the transport header (snap length).
    Truncated,
    /// Any other IP protocol.
    Other,
}

/// The network layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHeader {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number (after IPv6 extension headers).
    pub protocol: u8,
    pub ttl: u8,
    /// Length of the IP packet as its header states it.
    pub total_len: u16,
}

/// ARP request or reply: who claims which IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpInfo {
    pub operation: u16,
    pub sender_mac: Mac,
    pub sender_ip: std::net::Ipv4Addr,
    pub target_ip: std::net::Ipv4Addr,
}

/// What the network layer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    Ip(IpHeader),
    Arp(ArpInfo),
    /// A non-IP EtherType (LLDP, EAPOL, ...), or a truncated ARP.
    Other(u16),
}

/// One decoded frame. Borrowed from the capture buffer, `Copy`, no heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source MAC; for cooked captures the link-layer address in the header
    /// (zero when the capture does not say).
    pub src_mac: Mac,
    /// Destination MAC; zero for cooked and raw-IP captures, which do not record it.
    pub dst_mac: Mac,
    /// Outermost VLAN ID (802.1Q / 802.1ad), if tagged.
    pub vlan: Option<u16>,
    /// Direction recorded by a Linux cooked capture.
    pub cooked_direction: Option<CookedDirection>,
    pub network: Network,
    /// Meaningful when `network` is `Network::Ip`.
    pub transport: Transport,
    /// Transport payload as captured (may be shorter than on the wire).
    pub payload: &'a [u8],
}

impl Packet<'_> {
    pub fn ip(&self) -> Option<&IpHeader> {
        match &self.network {
            Network::Ip(ip) => Some(ip),
            _ => None,
        }
    }
}
