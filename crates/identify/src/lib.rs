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
pub fn observe(
    t: Transport,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::rtype;
    use crate::dns::tests::{txt, wire, Builder};

    /// Observations rendered with Debug (they borrow short-lived buffers).
    fn seen(t: Transport, sp: u16, dp: u16, payload: &[u8], from_device: bool) -> Vec<String> {
        let mut out = Vec::new();
        observe(t, sp, dp, payload, from_device, &mut |o| {
            out.push(format!("{o:?}"))
        });
        out
    }

    #[test]
    fn dhcp_request_from_device() {
        let p = dhcp::tests::request();
        let got = seen(Transport::Udp, 68, 67, &p, true);
        assert_eq!(
            got,
            [
                "DhcpClientMac([28, 95, 43, 170, 253, 78])",
                "DhcpClientId([1, 28, 95, 43, 170, 253, 78])",
                "DhcpRequestedIp(10.10.10.87)",
                "DhcpMaxMessageSize(576)",
                "DhcpParameterList([1, 3, 6, 12, 15, 28, 42])",
                "DhcpVendorClass(\"udhcp 1.21.1--LSDK-10.2-00082-4\")",
                "DhcpHostname(\"DCH-G020\")",
                "DhcpFqdn(\"hub.example\")",
                "DhcpMudUrl(\"https://mud.example.com/dch.json\")",
            ]
        );
        // Received by the device, or a server reply: not about the device.
        assert!(seen(Transport::Udp, 68, 67, &p, false).is_empty());
        let mut reply = p.clone();
        reply[0] = 2;
        assert!(seen(Transport::Udp, 68, 67, &reply, true).is_empty());
    }

    #[test]
    fn hostile_text_is_cleaned() {
        let mut p = dhcp::tests::request()[..240].to_vec();
        let evil = b"\x1b]0;pwned\x07cam\r\n\xff";
        p.push(12);
        p.push(evil.len() as u8);
        p.extend_from_slice(evil);
        // Option 81 with the E flag: wire-format name.
        let name = wire("Cam.Example");
        p.push(81);
        p.push(3 + name.len() as u8);
        p.extend_from_slice(&[0x04, 0, 0]);
        p.extend_from_slice(&name);
        let got = seen(Transport::Udp, 68, 67, &p, true);
        assert!(
            got.contains(&"DhcpHostname(\"]0;pwnedcam\u{FFFD}\")".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"DhcpFqdn(\"cam.example\")".to_string()),
            "{got:?}"
        );
    }

    fn mdns_response() -> Vec<u8> {
        let mut b = Builder::new(0, 0x8400, [0, 5, 0, 0]);
        b.record(
            "_hap._tcp.local",
            rtype::PTR,
            &wire("Philips hue - 2476FF._hap._tcp.local"),
        );
        b.record(
            "_services._dns-sd._udp.local",
            rtype::PTR,
            &wire("_hap._tcp.local"),
        );
        b.record(
            "Philips hue - 2476FF._hap._tcp.local",
            rtype::TXT,
            &txt(&["md=BSB002", "flag"]),
        );
        let mut srv = vec![0, 0, 0, 0, 0x1f, 0x90];
        srv.extend_from_slice(&wire("Philips-hue.local"));
        b.record("Philips hue - 2476FF._hap._tcp.local", rtype::SRV, &srv);
        b.record(
            "6.10.10.10.in-addr.arpa",
            rtype::PTR,
            &wire("Philips-hue.local"),
        );
        b.0
    }

    #[test]
    fn mdns_announcement() {
        let got = seen(Transport::Udp, 5353, 5353, &mdns_response(), true);
        assert_eq!(
            got,
            [
                "MdnsService(\"philips hue - 2476ff._hap._tcp.local\")",
                "MdnsTxt { key: \"md\", value: \"BSB002\" }",
                "MdnsTxt { key: \"flag\", value: \"\" }",
                "MdnsService(\"philips hue - 2476ff._hap._tcp.local\")",
                "MdnsHostname(\"philips-hue.local\")",
                "MdnsHostname(\"philips-hue.local\")",
            ]
        );
        assert!(seen(Transport::Udp, 5353, 5353, &mdns_response(), false).is_empty());
    }

    #[test]
    fn mdns_queries_report_only_probed_records() {
        // Known answers in a query are other hosts' records: ignored.
        let mut b = Builder::new(0, 0, [1, 1, 1, 0]);
        b.question("_hap._tcp.local", rtype::PTR);
        b.record(
            "_hap._tcp.local",
            rtype::PTR,
            &wire("Someone Else._hap._tcp.local"),
        );
        b.record("dch.local", rtype::A, &[10, 0, 0, 9]);
        let got = seen(Transport::Udp, 5353, 5353, &b.0, true);
        assert_eq!(got, ["MdnsHostname(\"dch.local\")"]);
    }

    #[test]
    fn unicast_dns_names() {
        let mut q = Builder::new(1, 0x0100, [1, 0, 0, 0]);
        q.question("scalews.withings.net", rtype::A);
        assert_eq!(
            seen(Transport::Udp, 49153, 53, &q.0, true),
            ["DnsQuery(\"scalews.withings.net\")"]
        );
        // A query *to* the device (it is not a resolver) says nothing about it.
        assert!(seen(Transport::Udp, 40000, 53, &q.0, false).is_empty());
        let mut r = Builder::new(1, 0x8180, [1, 1, 0, 0]);
        r.question("api.dch.dlink.com", rtype::A);
        r.record("api.dch.dlink.com", rtype::A, &[1, 2, 3, 4]);
        assert_eq!(
            seen(Transport::Udp, 53, 40000, &r.0, false),
            ["DnsQuery(\"api.dch.dlink.com\")"]
        );
        assert!(seen(Transport::Udp, 53, 40000, &r.0, true).is_empty());
    }

    #[test]
    fn ssdp_from_device() {
        let notify = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nLOCATION: http://10.0.0.5:49153/setup.xml\r\n\
NT: urn:Belkin:device:controllee:1\r\nNTS: ssdp:alive\r\nSERVER: Unspecified, UPnP/1.0, Unspecified\r\n\r\n";
        assert_eq!(
            seen(Transport::Udp, 3082, 1900, notify, true),
            [
                "UpnpServer(\"Unspecified, UPnP/1.0, Unspecified\")",
                "UpnpLocation(\"http://10.0.0.5:49153/setup.xml\")",
                "UpnpDeviceType(\"urn:Belkin:device:controllee:1\")",
            ]
        );
        assert!(seen(Transport::Udp, 3082, 1900, notify, false).is_empty());
        let search = b"M-SEARCH * HTTP/1.1\r\nST: upnp:rootdevice\r\nUSER-AGENT: Linux/4.9 UPnP/1.1 cam/2.0\r\n\r\n";
        assert_eq!(
            seen(Transport::Udp, 5000, 1900, search, true),
            ["UserAgent(\"Linux/4.9 UPnP/1.1 cam/2.0\")"]
        );
    }

    #[test]
    fn http_and_tls_from_device() {
        let req = b"POST /cgi-bin/once HTTP/1.1\r\nUser-Agent: Withings UserAgent\r\nHost: scalews.withings.net:80\r\n\r\n";
        assert_eq!(
            seen(Transport::Tcp, 49153, 80, req, true),
            [
                "UserAgent(\"Withings UserAgent\")",
                "HttpHost(\"scalews.withings.net\")"
            ]
        );
        // A phone's request to the device describes the phone.
        assert!(seen(Transport::Tcp, 45525, 80, req, false).is_empty());
        let resp = b"HTTP/1.1 200 OK\r\nServer: lighttpd/1.4.34\r\n\r\n";
        assert_eq!(
            seen(Transport::Tcp, 80, 45525, resp, true),
            ["HttpServer(\"lighttpd/1.4.34\")"]
        );
        let mut hello = vec![0x16, 3, 1, 0, 0, 1, 0, 0, 0, 3, 3];
        hello.extend_from_slice(&[0; 32]);
        hello.extend_from_slice(&[0, 0, 2, 0, 0x2f, 1, 0]);
        let ext = [
            0u8, 0, 0, 14, 0, 12, 0, 0, 9, b'a', b'.', b'e', b'x', b'a', b'm', b'p', b'l', b'e',
        ];
        hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        hello.extend_from_slice(&ext);
        assert_eq!(
            seen(Transport::Tcp, 40000, 443, &hello, true),
            ["TlsServerName(\"a.example\")"]
        );
        assert!(seen(Transport::Tcp, 40000, 443, &[], true).is_empty());
    }

    #[test]
    fn random_and_mutated_payloads_never_panic() {
        // xorshift: deterministic, no dependency.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let seeds = [dhcp::tests::request(), mdns_response()];
        let ports = [
            (68, 67),
            (546, 547),
            (5353, 5353),
            (40000, 53),
            (53, 40000),
            (1900, 1900),
        ];
        let mut id = Identity::new();
        for round in 0..3000 {
            let mut p = if round % 3 == 0 {
                (0..rnd() % 600).map(|_| rnd() as u8).collect::<Vec<_>>()
            } else {
                let mut p = seeds[round % 2].clone();
                for _ in 0..1 + rnd() % 8 {
                    let i = (rnd() as usize) % p.len();
                    p[i] = rnd() as u8;
                }
                p
            };
            p.truncate((rnd() as usize) % (p.len() + 1));
            for &(sp, dp) in &ports {
                for from in [true, false] {
                    observe(Transport::Udp, sp, dp, &p, from, &mut |o| id.apply(&o));
                }
            }
            observe(Transport::Tcp, 1, 80, &p, true, &mut |o| id.apply(&o));
        }
        assert!(id.approx_heap_bytes() < 16 * 1024);
    }
}
