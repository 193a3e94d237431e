//! warden-identify: what a LAN device says about itself, and the bounded
//! [`Identity`] record built from it.
//!
//! The parsers ([`dhcp`], [`dns`], [`ssdp`], [`http`], [`tls`]) read one
//! transport payload in place: they borrow from the packet, never allocate,
//! and return an error instead of panicking on any input. [`observe`] runs the
//! right parser for a packet on an identification port and hands each
//! identifying fact to a callback as an [`Observation`], already cleaned for
//! display (no control characters, valid UTF-8, bounded length).
//! [`Identity::apply`] folds observations into a per-device record whose size
//! is bounded, and infers model, firmware and OS from them.
//!
//! See `docs/identification.md` for what is read from where and how the
//! model and firmware guesses are made.

pub mod dhcp;
pub mod dns;
mod head;
pub mod http;
pub mod identity;
pub mod product;
pub mod ssdp;
pub mod text;
pub mod tls;

pub use head::HeadError;
pub use identity::{Identity, Software, SoftwareSource};

use core::net::Ipv4Addr;
use text::Text;

/// Transport protocol of the payload handed to [`observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One identifying fact, borrowed from the packet (or from a stack buffer
/// holding its cleaned text). Strings are display-safe and at most
/// [`text::OBSERVATION_TEXT`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Observation<'a> {
    /// DHCPv4 client hardware address (`chaddr`) of a client message.
    DhcpClientMac([u8; 6]),
    /// DHCPv4 option 12.
    DhcpHostname(&'a str),
    /// DHCPv4 option 60.
    DhcpVendorClass(&'a str),
    /// DHCPv4 option 55, raw codes in the client's order.
    DhcpParameterList(&'a [u8]),
    /// DHCPv4 option 61, raw.
    DhcpClientId(&'a [u8]),
    /// DHCPv4 option 81 name.
    DhcpFqdn(&'a str),
    /// DHCPv4 option 161 (RFC 8520 MUD URL).
    DhcpMudUrl(&'a str),
    /// DHCPv4 option 57.
    DhcpMaxMessageSize(u16),
    /// DHCPv4 option 50.
    DhcpRequestedIp(Ipv4Addr),
    /// DHCPv6 option 16: enterprise number and first vendor-class string.
    Dhcp6VendorClass { enterprise: u32, class: &'a str },
    /// DHCPv6 option 39 name.
    Dhcp6Fqdn(&'a str),
    /// DHCPv6 option 6, big-endian u16 codes.
    Dhcp6OptionRequest(&'a [u8]),
    /// A host name the device announces over mDNS (owner of its A/AAAA
    /// records, SRV target, reverse-lookup PTR target), e.g. `dcs-935l.local`.
    MdnsHostname(&'a str),
    /// A DNS-SD service instance the device announces, e.g.
    /// `philips hue - 2476ff._hap._tcp.local`.
    MdnsService(&'a str),
    /// One `key=value` string of a TXT record the device announces (value
    /// empty for a bare key).
    MdnsTxt { key: &'a str, value: &'a str },
    /// A name the device looked up over unicast DNS.
    DnsQuery(&'a str),
    /// SSDP `SERVER` of a NOTIFY or search response the device sent.
    UpnpServer(&'a str),
    /// SSDP `LOCATION` of the device's description.
    UpnpLocation(&'a str),
    /// SSDP `NT`/`ST` naming a UPnP device type (`urn:...:device:...`).
    UpnpDeviceType(&'a str),
    /// HTTP `User-Agent` (or SSDP M-SEARCH `USER-AGENT`) the device sent.
    UserAgent(&'a str),
    /// HTTP `Server` of a response the device sent.
    HttpServer(&'a str),
    /// HTTP `Host` (without port) of a request the device sent.
    HttpHost(&'a str),
    /// TLS SNI of a ClientHello the device sent.
    TlsServerName(&'a str),
}

/// Records per mDNS message looked at; bounds work on hostile messages.
const MAX_MDNS_RECORDS: usize = 64;
/// Questions per DNS message looked at.
const MAX_DNS_QUESTIONS: usize = 4;
/// TXT strings per record looked at.
const MAX_TXT_STRINGS: usize = 32;

/// Extracts identifying facts from one payload on an identification port.
///
/// `from_device` is true when the device sent this payload (outbound), false
/// when it received it. Only what describes the device is reported: its own
/// DHCP, mDNS, SSDP, HTTP and TLS messages, and the answers to its DNS
/// queries. Unknown ports and malformed payloads produce nothing.
pub fn observe<'a>(
    t: Transport,
    src_port: u16,
    dst_port: u16,
    payload: &'a [u8],
    from_device: bool,
    sink: &mut impl FnMut(Observation<'_>),
) {
    match t {
        Transport::Udp => match (src_port, dst_port) {
            (68, 67) if from_device => observe_dhcp(payload, sink),
            (546, 547) if from_device => observe_dhcp6(payload, sink),
            (5353, _) | (_, 5353) if from_device => observe_mdns(payload, sink),
            (_, 53) if from_device => observe_dns(payload, false, sink),
            (53, _) if !from_device => observe_dns(payload, true, sink),
            (1900, _) | (_, 1900) if from_device => observe_ssdp(payload, sink),
            _ => {}
        },
        Transport::Tcp if from_device => match payload.first() {
            Some(0x16) => observe_tls(payload, sink),
            Some(_) => observe_http(payload, sink),
            None => {}
        },
        Transport::Tcp => {}
    }
}

/// Cleans the bytes into a stack buffer and reports them as the given
/// variant, unless nothing displayable is left. (A macro because tuple-variant
/// constructors are not generic over the borrow's lifetime.)
macro_rules! emit_text {
    ($bytes:expr, $sink:expr, $variant:path) => {{
        let t = Text::<{ text::OBSERVATION_TEXT }>::new($bytes);
        if !t.as_str().is_empty() {
            $sink($variant(t.as_str()));
        }
    }};
}

fn observe_dhcp(payload: &[u8], sink: &mut impl FnMut(Observation<'_>)) {
    let Ok(m) = dhcp::DhcpMessage::parse(payload) else {
        return;
    };
    if m.op() != dhcp::BOOTREQUEST {
        return;
    }
    if let Some(mac) = m.chaddr() {
        sink(Observation::DhcpClientMac(mac));
    }
    // One pass over the options; the first instance of each wins.
    let mut seen = [false; 256];
    for opt in m.options().map_while(Result::ok) {
        let first = !core::mem::replace(&mut seen[usize::from(opt.code)], true);
        if !first {
            continue;
        }
        let d = opt.data;
        match opt.code {
            dhcp::code::HOSTNAME => emit_text!(d, sink, Observation::DhcpHostname),
            dhcp::code::VENDOR_CLASS => emit_text!(d, sink, Observation::DhcpVendorClass),
            dhcp::code::MUD_URL => emit_text!(d, sink, Observation::DhcpMudUrl),
            dhcp::code::PARAMETER_REQUEST_LIST if !d.is_empty() => {
                sink(Observation::DhcpParameterList(d))
            }
            dhcp::code::CLIENT_ID if !d.is_empty() => sink(Observation::DhcpClientId(d)),
            dhcp::code::MAX_MESSAGE_SIZE => {
                if let Ok(b) = <[u8; 2]>::try_from(d) {
                    sink(Observation::DhcpMaxMessageSize(u16::from_be_bytes(b)));
                }
            }
            dhcp::code::REQUESTED_IP => {
                if let Ok(b) = <[u8; 4]>::try_from(d) {
                    sink(Observation::DhcpRequestedIp(Ipv4Addr::from(b)));
                }
            }
            dhcp::code::CLIENT_FQDN => {
                let Some(name) = d.get(3..) else { continue };
                let flags = d[0];
                if flags & 0x04 != 0 {
                    if let Ok((n, _)) = dns::read_name(name, 0) {
                        emit_text!(n.as_str().as_bytes(), sink, Observation::DhcpFqdn);
                    }
                } else {
                    emit_text!(name, sink, Observation::DhcpFqdn);
                }
            }
            _ => {}
        }
    }
}

fn observe_dhcp6(payload: &[u8], sink: &mut impl FnMut(Observation<'_>)) {
    let Ok(m) = dhcp::Dhcp6Message::parse(payload) else {
        return;
    };
    if !m.is_from_client() {
        return;
    }
    if let Some((enterprise, class)) = m.vendor_class() {
        let class = Text::<{ text::OBSERVATION_TEXT }>::new(class);
        if !class.as_str().is_empty() {
            sink(Observation::Dhcp6VendorClass {
                enterprise,
                class: class.as_str(),
            });
        }
    }
    if let Some((_, wire)) = m.client_fqdn() {
        if let Ok((n, _)) = dns::read_name(wire, 0) {
            emit_text!(n.as_str().as_bytes(), sink, Observation::Dhcp6Fqdn);
        }
    }
    if let Some(oro) = m.option_request() {
        sink(Observation::Dhcp6OptionRequest(oro));
    }
}

fn is_reverse_zone(name: &str) -> bool {
    name.ends_with(".in-addr.arpa") || name.ends_with(".ip6.arpa")
}

fn observe_mdns(payload: &[u8], sink: &mut impl FnMut(Observation<'_>)) {
    use dns::{RData, Section};
    let Ok(m) = dns::DnsMessage::parse(payload) else {
        return;
    };
    let response = m.is_response();
    for r in m.records().take(MAX_MDNS_RECORDS) {
        let Ok(r) = r else { break };
        // In a query, answers are known answers about other hosts; only a
        // probe's authority records describe the sender.
        if !response && r.section != Section::Authority {
            continue;
        }
        let owner = r.name.as_str();
        match r.data {
            RData::A(_) | RData::Aaaa(_) if !is_reverse_zone(owner) => {
                emit_text!(owner.as_bytes(), sink, Observation::MdnsHostname)
            }
            RData::Ptr(target) if is_reverse_zone(owner) => {
                emit_text!(target.as_str().as_bytes(), sink, Observation::MdnsHostname)
            }
            // Service-type enumeration lists types, not instances.
            RData::Ptr(_) if owner == "_services._dns-sd._udp.local" => {}
            RData::Ptr(target) => {
                emit_text!(target.as_str().as_bytes(), sink, Observation::MdnsService)
            }
            RData::Srv { target, .. } => {
                emit_text!(owner.as_bytes(), sink, Observation::MdnsService);
                emit_text!(target.as_str().as_bytes(), sink, Observation::MdnsHostname);
            }
            RData::Txt(txt) => {
                for s in txt.strings().take(MAX_TXT_STRINGS) {
                    let (k, v) = match s.iter().position(|&b| b == b'=') {
                        Some(i) => (&s[..i], &s[i + 1..]),
                        None => (s, &[][..]),
                    };
                    let key = Text::<64>::new(k);
                    let value = Text::<{ text::OBSERVATION_TEXT }>::new(v);
                    if !key.as_str().is_empty() {
                        sink(Observation::MdnsTxt {
                            key: key.as_str(),
                            value: value.as_str(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

fn observe_dns(payload: &[u8], want_response: bool, sink: &mut impl FnMut(Observation<'_>)) {
    let Ok(m) = dns::DnsMessage::parse(payload) else {
        return;
    };
    if m.is_response() != want_response || m.opcode() != 0 {
        return;
    }
    for q in m.questions().take(MAX_DNS_QUESTIONS) {
        let Ok(q) = q else { break };
        if !q.name.is_root() {
            emit_text!(q.name.as_str().as_bytes(), sink, Observation::DnsQuery);
        }
    }
}

fn observe_ssdp(payload: &[u8], sink: &mut impl FnMut(Observation<'_>)) {
    use ssdp::SsdpKind;
    let Ok(m) = ssdp::SsdpMessage::parse(payload) else {
        return;
    };
    match m.kind() {
        SsdpKind::Search => {
            if let Some(ua) = m.user_agent() {
                emit_text!(ua, sink, Observation::UserAgent);
            }
        }
        SsdpKind::Notify | SsdpKind::Response(_) => {
            if let Some(s) = m.server() {
                emit_text!(s, sink, Observation::UpnpServer);
            }
            if let Some(l) = m.location() {
                emit_text!(l, sink, Observation::UpnpLocation);
            }
            let kind = if m.kind() == SsdpKind::Notify {
                m.nt()
            } else {
                m.st()
            };
            if let Some(k) = kind.filter(|k| contains(k, b":device:")) {
                emit_text!(k, sink, Observation::UpnpDeviceType);
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn observe_http(payload: &[u8], sink: &mut impl FnMut(Observation<'_>)) {
    match http::parse(payload) {
        Ok(http::HttpHead::Request {
            host, user_agent, ..
        }) => {
            if let Some(ua) = user_agent {
                emit_text!(ua, sink, Observation::UserAgent);
            }
            if let Some(h) = host {
                emit_text!(http::host_without_port(h), sink, Observation::HttpHost);
            }
        }
        Ok(http::HttpHead::Response {
            server: Some(s), ..
        }) => emit_text!(s, sink, Observation::HttpServer),
        _ => {}
    }
}

fn observe_tls(payload: &[u8], sink: &mut impl FnMut(Observation<'_>)) {
    if let Ok(Some(name)) = tls::client_hello_sni(payload) {
        emit_text!(name, sink, Observation::TlsServerName);
    }
}
