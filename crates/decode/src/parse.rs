//! The decoder proper. Every header read is a bounds-checked `get`, so a
//! hostile or truncated frame yields an error or a shorter record, never a
//! panic. Offsets are written once, next to the header they belong to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{
    ArpInfo, CookedDirection, DecodeError, IpHeader, LinkType, Mac, Network, Packet, QuotedPacket,
    TcpFlags, Transport,
};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_GRE: u8 = 47;
const PROTO_ICMPV6: u8 = 58;

/// Most VLAN tags we follow (QinQ is 2; 4 leaves room for odd carriers).
const MAX_VLAN_TAGS: usize = 4;
/// Most IPv6 extension headers we walk before giving up.
const MAX_IPV6_EXTENSIONS: usize = 8;

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

#[inline]
fn mac_at(b: &[u8], at: usize) -> Option<Mac> {
    let s = b.get(at..at + 6)?;
    Some(Mac([s[0], s[1], s[2], s[3], s[4], s[5]]))
}

#[inline]
fn v4_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s = b.get(at..at + 4)?;
    Some(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
}

#[inline]
fn v6_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

/// Decode one captured frame of the given link type.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let mut packet = Packet {
        src_mac: Mac::ZERO,
        dst_mac: Mac::ZERO,
        vlan: None,
        cooked_direction: None,
        network: Network::Other(0),
        transport: Transport::Other,
        payload: &[],
    };
    let (ethertype, rest) = match link {
        LinkType::Ethernet => {
            packet.dst_mac = mac_at(frame, 0).ok_or(DecodeError::TruncatedLinkHeader)?;
            packet.src_mac = mac_at(frame, 6).ok_or(DecodeError::TruncatedLinkHeader)?;
            let ethertype = be16(frame, 12).ok_or(DecodeError::TruncatedLinkHeader)?;
            strip_vlans(&mut packet, ethertype, &frame[14..])?
        }
        LinkType::LinuxSll => {
            // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
            let hdr = frame.get(..16).ok_or(DecodeError::TruncatedLinkHeader)?;
            packet.cooked_direction = Some(cooked_direction(be16(hdr, 0).unwrap_or(0)));
            packet.src_mac = cooked_mac(be16(hdr, 2), be16(hdr, 4), &hdr[6..14]);
            let ethertype = be16(hdr, 14).unwrap_or(0);
            strip_vlans(&mut packet, ethertype, &frame[16..])?
        }
        LinkType::LinuxSll2 => {
            // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
            let hdr = frame.get(..20).ok_or(DecodeError::TruncatedLinkHeader)?;
            let ethertype = be16(hdr, 0).unwrap_or(0);
            packet.cooked_direction = Some(cooked_direction(u16::from(hdr[10])));
            packet.src_mac = cooked_mac(be16(hdr, 8), Some(u16::from(hdr[11])), &hdr[12..20]);
            strip_vlans(&mut packet, ethertype, &frame[20..])?
        }
        LinkType::RawIp => match frame.first().map(|b| b >> 4) {
            Some(4) => (ETHERTYPE_IPV4, frame),
            Some(6) => (ETHERTYPE_IPV6, frame),
            Some(_) => return Err(DecodeError::BadIpVersion),
            None => return Err(DecodeError::TruncatedIpHeader),
        },
        LinkType::Ipv4 => (ETHERTYPE_IPV4, frame),
        LinkType::Ipv6 => (ETHERTYPE_IPV6, frame),
        LinkType::Unknown(t) => return Err(DecodeError::UnsupportedLinkType(t)),
    };
    match ethertype {
        ETHERTYPE_IPV4 => decode_ipv4(&mut packet, rest)?,
        ETHERTYPE_IPV6 => decode_ipv6(&mut packet, rest)?,
        ETHERTYPE_ARP => packet.network = decode_arp(rest).unwrap_or(Network::Other(ETHERTYPE_ARP)),
        other => packet.network = Network::Other(other),
    }
    Ok(packet)
}

fn cooked_direction(t: u16) -> CookedDirection {
    match t {
        0 => CookedDirection::Host,
        1 => CookedDirection::Broadcast,
        2 => CookedDirection::Multicast,
        3 => CookedDirection::OtherHost,
        4 => CookedDirection::Outgoing,
        other => CookedDirection::Unknown(other),
    }
}

/// The sender's address in a cooked header, when it is an Ethernet MAC.
fn cooked_mac(arphrd: Option<u16>, addr_len: Option<u16>, addr: &[u8]) -> Mac {
    const ARPHRD_ETHER: u16 = 1;
    match (arphrd, addr_len) {
        (Some(ARPHRD_ETHER), Some(6)) => mac_at(addr, 0).unwrap_or(Mac::ZERO),
        _ => Mac::ZERO,
    }
}

fn strip_vlans<'a>(
    packet: &mut Packet<'a>,
    mut ethertype: u16,
    mut rest: &'a [u8],
) -> Result<(u16, &'a [u8]), DecodeError> {
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(DecodeError::TooManyHeaders);
        }
        let tci = be16(rest, 0).ok_or(DecodeError::TruncatedLinkHeader)?;
        ethertype = be16(rest, 2).ok_or(DecodeError::TruncatedLinkHeader)?;
        if packet.vlan.is_none() {
            packet.vlan = Some(tci & 0x0fff);
        }
        rest = &rest[4..];
    }
    Ok((ethertype, rest))
}

fn decode_arp(b: &[u8]) -> Option<Network> {
    // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4.
    if be16(b, 0)? != 1 || be16(b, 2)? != ETHERTYPE_IPV4 || *b.get(4)? != 6 || *b.get(5)? != 4 {
        return None;
    }
    Some(Network::Arp(ArpInfo {
        operation: be16(b, 6)?,
        sender_mac: mac_at(b, 8)?,
        sender_ip: v4_at(b, 14)?,
        target_ip: v4_at(b, 24)?,
    }))
}

fn decode_ipv4<'a>(packet: &mut Packet<'a>, b: &'a [u8]) -> Result<(), DecodeError> {
    let hdr = b.get(..20).ok_or(DecodeError::TruncatedIpHeader)?;
    if hdr[0] >> 4 != 4 {
        return Err(DecodeError::BadIpVersion);
    }
    let ihl = usize::from(hdr[0] & 0x0f) * 4;
    let total_len = u16::from_be_bytes([hdr[2], hdr[3]]);
    if ihl < 20 || usize::from(total_len) < ihl {
        return Err(DecodeError::BadIpHeaderLength);
    }
    if b.len() < ihl {
        return Err(DecodeError::TruncatedIpHeader);
    }
    let fragment_offset = u16::from_be_bytes([hdr[6], hdr[7]]) & 0x1fff;
    let protocol = hdr[9];
    let src = Ipv4Addr::new(hdr[12], hdr[13], hdr[14], hdr[15]);
    let dst = Ipv4Addr::new(hdr[16], hdr[17], hdr[18], hdr[19]);
    packet.network = Network::Ip(IpHeader {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        protocol,
        ttl: hdr[8],
        total_len,
    });
    // Trailing Ethernet padding is not payload: cut at the stated length.
    let end = usize::from(total_len).min(b.len());
    let body = &b[ihl..end];
    if fragment_offset != 0 {
        packet.transport = Transport::Fragment;
        packet.payload = body;
        return Ok(());
    }
    decode_transport(packet, protocol, body);
    Ok(())
}

fn decode_ipv6<'a>(packet: &mut Packet<'a>, b: &'a [u8]) -> Result<(), DecodeError> {
    let hdr = b.get(..40).ok_or(DecodeError::TruncatedIpHeader)?;
    if hdr[0] >> 4 != 6 {
        return Err(DecodeError::BadIpVersion);
    }
    let payload_len = u16::from_be_bytes([hdr[4], hdr[5]]);
    let src = v6_at(hdr, 8).ok_or(DecodeError::TruncatedIpHeader)?;
    let dst = v6_at(hdr, 24).ok_or(DecodeError::TruncatedIpHeader)?;
    let end = (40 + usize::from(payload_len)).min(b.len());
    let mut body = &b[40..end];
    let mut next = hdr[6];
    let mut fragment = false;
    for _ in 0..=MAX_IPV6_EXTENSIONS {
        match next {
            // Hop-by-hop, routing, destination options: length in 8-octet units.
            0 | 43 | 60 => {
                let (Some(&n), Some(&len)) = (body.first(), body.get(1)) else {
                    return finish_ipv6(
                        packet,
                        src,
                        dst,
                        next,
                        hdr[7],
                        payload_len,
                        Transport::Truncated,
                        &[],
                    );
                };
                let skip = (usize::from(len) + 1) * 8;
                next = n;
                body = body.get(skip..).unwrap_or(&[]);
            }
            // Fragment header: fixed 8 octets.
            44 => {
                let (Some(&n), Some(off)) = (body.first(), be16(body, 2)) else {
                    return finish_ipv6(
                        packet,
                        src,
                        dst,
                        next,
                        hdr[7],
                        payload_len,
                        Transport::Truncated,
                        &[],
                    );
                };
                next = n;
                fragment = off & 0xfff8 != 0;
                body = body.get(8..).unwrap_or(&[]);
            }
            // Authentication header: length in 4-octet units, plus 2.
            51 => {
                let (Some(&n), Some(&len)) = (body.first(), body.get(1)) else {
                    return finish_ipv6(
                        packet,
                        src,
                        dst,
                        next,
                        hdr[7],
                        payload_len,
                        Transport::Truncated,
                        &[],
                    );
                };
                next = n;
                body = body.get((usize::from(len) + 2) * 4..).unwrap_or(&[]);
            }
            _ => {
                packet.network = Network::Ip(IpHeader {
                    src: IpAddr::V6(src),
                    dst: IpAddr::V6(dst),
                    protocol: next,
                    ttl: hdr[7],
                    total_len: payload_len.saturating_add(40),
                });
                if fragment {
                    packet.transport = Transport::Fragment;
                    packet.payload = body;
                } else {
                    decode_transport(packet, next, body);
                }
                return Ok(());
            }
        }
    }
    Err(DecodeError::TooManyHeaders)
}

#[allow(clippy::too_many_arguments)]
fn finish_ipv6<'a>(
    packet: &mut Packet<'a>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    protocol: u8,
    hop_limit: u8,
    payload_len: u16,
    transport: Transport,
    payload: &'a [u8],
) -> Result<(), DecodeError> {
    packet.network = Network::Ip(IpHeader {
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        protocol,
        ttl: hop_limit,
        total_len: payload_len.saturating_add(40),
    });
    packet.transport = transport;
    packet.payload = payload;
    Ok(())
}

fn decode_transport<'a>(packet: &mut Packet<'a>, protocol: u8, b: &'a [u8]) {
    let (transport, payload): (Transport, &'a [u8]) = match protocol {
        PROTO_TCP => match (be16(b, 0), be16(b, 2), b.get(12), b.get(13)) {
            (Some(src_port), Some(dst_port), Some(&off), Some(&flags)) => {
                let data_offset = usize::from(off >> 4) * 4;
                (
                    Transport::Tcp {
                        src_port,
                        dst_port,
                        flags: TcpFlags(flags),
                    },
                    b.get(data_offset.max(20)..).unwrap_or(&[]),
                )
            }
            _ => (Transport::Truncated, &[]),
        },
        PROTO_UDP => match (be16(b, 0), be16(b, 2)) {
            (Some(src_port), Some(dst_port)) if b.len() >= 8 => {
                (Transport::Udp { src_port, dst_port }, &b[8..])
            }
            _ => (Transport::Truncated, &[]),
        },
        PROTO_ICMP | PROTO_ICMPV6 => match (b.first(), b.get(1)) {
            (Some(&icmp_type), Some(&code)) => {
                let v6 = protocol == PROTO_ICMPV6;
                let is_error = if v6 {
                    icmp_type < 128
                } else {
                    matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
                };
                let body = b.get(8..).unwrap_or(&[]);
                let quoted = if is_error { quoted_packet(body) } else { None };
                (
                    Transport::Icmp {
                        v6,
                        icmp_type,
                        code,
                        quoted,
                    },
                    body,
                )
            }
            _ => (Transport::Truncated, &[]),
        },
        PROTO_GRE => match be16(b, 2) {
            Some(protocol) => {
                // Flags decide the header length: checksum/key/sequence add 4 each.
                let flags = b[0];
                let len = 4
                    + 4 * usize::from(flags & 0x80 != 0)
                    + 4 * usize::from(flags & 0x20 != 0)
                    + 4 * usize::from(flags & 0x10 != 0);
                (Transport::Gre { protocol }, b.get(len..).unwrap_or(&[]))
            }
            None => (Transport::Truncated, &[]),
        },
        _ => (Transport::Other, b),
    };
    packet.transport = transport;
    packet.payload = payload;
}

/// The original packet quoted by an ICMP error: enough to match it to a probe.
fn quoted_packet(b: &[u8]) -> Option<QuotedPacket> {
    match b.first()? >> 4 {
        4 => {
            let ihl = usize::from(b[0] & 0x0f) * 4;
            let protocol = *b.get(9)?;
            Some(QuotedPacket {
                src: IpAddr::V4(v4_at(b, 12)?),
                dst: IpAddr::V4(v4_at(b, 16)?),
                protocol,
                dst_port: ports_of(protocol, b.get(ihl.max(20)..)),
            })
        }
        6 => {
            let protocol = *b.get(6)?;
            Some(QuotedPacket {
                src: IpAddr::V6(v6_at(b, 8)?),
                dst: IpAddr::V6(v6_at(b, 24)?),
                protocol,
                dst_port: ports_of(protocol, b.get(40..)),
            })
        }
        _ => None,
    }
}

fn ports_of(protocol: u8, l4: Option<&[u8]>) -> u16 {
    match (protocol, l4) {
        (PROTO_TCP | PROTO_UDP, Some(l4)) => be16(l4, 2).unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(flags_syn: bool, payload: &[u8]) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([192, 168, 1, 20], [203, 0, 113, 9], 64)
            .tcp(40000, 23, 1, 1024);
        if flags_syn {
            b = b.syn();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn tcp_syn_over_ethernet() {
        let frame = tcp_frame(true, b"");
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.src_mac, Mac([2, 0, 0, 0, 0, 1]));
        let ip = p.ip().unwrap();
        assert_eq!(ip.src, "192.168.1.20".parse::<IpAddr>().unwrap());
        assert_eq!(ip.dst, "203.0.113.9".parse::<IpAddr>().unwrap());
        match p.transport {
            Transport::Tcp {
                dst_port, flags, ..
            } => {
                assert_eq!(dst_port, 23);
                assert!(flags.is_syn_only());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn payload_excludes_ethernet_padding() {
        // A 1-byte TCP payload is padded to the 60-byte Ethernet minimum.
        let mut frame = tcp_frame(false, b"x");
        frame.resize(60, 0);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.payload, b"x");
    }

    #[test]
    fn vlan_and_qinq() {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .double_vlan(
                etherparse::VlanId::try_new(100).unwrap(),
                etherparse::VlanId::try_new(7).unwrap(),
            )
            .ipv6([0xfd; 16], [0x20; 16], 9)
            .udp(5353, 53)
            .write(&mut out, b"abc")
            .unwrap();
        let p = decode(LinkType::Ethernet, &out).unwrap();
        assert_eq!(p.vlan, Some(100));
        assert!(matches!(p.transport, Transport::Udp { dst_port: 53, .. }));
        assert_eq!(p.payload, b"abc");
    }

    #[test]
    fn icmp_unreachable_quotes_probe() {
        let probe = tcp_frame(true, b"");
        let quoted_ip = &probe[14..]; // the IPv4 packet of the probe
        let mut out = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
            .ipv4([203, 0, 113, 9], [192, 168, 1, 20], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut out, quoted_ip)
            .unwrap();
        let p = decode(LinkType::Ethernet, &out).unwrap();
        let Transport::Icmp {
            quoted: Some(q),
            icmp_type: 3,
            ..
        } = p.transport
        else {
            panic!("{:?}", p.transport)
        };
        assert_eq!(q.dst, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(q.dst_port, 23);
        assert_eq!(q.protocol, PROTO_TCP);
    }

    #[test]
    fn cooked_v1_and_v2() {
        let eth = tcp_frame(true, b"");
        let ip = &eth[14..];
        let mut sll = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(ip);
        let p = decode(LinkType::LinuxSll, &sll).unwrap();
        assert_eq!(p.src_mac, Mac([2, 0, 0, 0, 0, 1]));
        assert_eq!(p.cooked_direction, Some(CookedDirection::Outgoing));
        assert!(p.ip().is_some());

        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        sll2.extend_from_slice(ip);
        let p2 = decode(LinkType::LinuxSll2, &sll2).unwrap();
        assert_eq!(p2.src_mac, p.src_mac);
        assert_eq!(p2.network, p.network);
        assert_eq!(p2.transport, p.transport);
    }

    #[test]
    fn every_prefix_decodes_or_errs_without_panic() {
        let frames = [tcp_frame(true, b"hello"), tcp_frame(false, &[0u8; 100])];
        for frame in frames {
            for len in 0..=frame.len() {
                for link in [
                    LinkType::Ethernet,
                    LinkType::LinuxSll,
                    LinkType::LinuxSll2,
                    LinkType::RawIp,
                ] {
                    let _ = decode(link, &frame[..len]);
                }
            }
        }
        // A snap-length cut inside TCP still yields the IP layer.
        let frame = tcp_frame(true, b"");
        let p = decode(LinkType::Ethernet, &frame[..14 + 20 + 10]).unwrap();
        assert!(p.ip().is_some());
        assert_eq!(p.transport, Transport::Truncated);
        assert_eq!(
            decode(LinkType::Ethernet, &frame[..20]),
            Err(DecodeError::TruncatedIpHeader)
        );
        assert_eq!(
            decode(LinkType::Ethernet, &frame[..10]),
            Err(DecodeError::TruncatedLinkHeader)
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let mut frame = tcp_frame(true, b"");
        frame[14] = 0x42; // IHL 2
        assert_eq!(
            decode(LinkType::Ethernet, &frame),
            Err(DecodeError::BadIpHeaderLength)
        );
        frame[14] = 0x55; // version 5
        assert_eq!(
            decode(LinkType::Ethernet, &frame),
            Err(DecodeError::BadIpVersion)
        );
        assert_eq!(
            decode(LinkType::Unknown(147), &frame),
            Err(DecodeError::UnsupportedLinkType(147))
        );
        // Endless VLAN tags.
        let mut vlans = vec![0u8; 12];
        for _ in 0..10 {
            vlans.extend_from_slice(&[0x81, 0x00, 0x00, 0x01]);
        }
        vlans.extend_from_slice(&[0x08, 0x00]);
        assert_eq!(
            decode(LinkType::Ethernet, &vlans),
            Err(DecodeError::TooManyHeaders)
        );
    }

    #[test]
    fn arp_sender() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 168, 1, 5]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 192, 168, 1, 1]);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        let Network::Arp(a) = p.network else { panic!() };
        assert_eq!(a.sender_ip, Ipv4Addr::new(192, 168, 1, 5));
        assert_eq!(a.target_ip, Ipv4Addr::new(192, 168, 1, 1));
    }
}
