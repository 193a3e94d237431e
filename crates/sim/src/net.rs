//! Ethernet/IPv4 frame construction.
//!
//! All IP, UDP, TCP and ICMP headers (lengths and checksums) are written by
//! `etherparse`; only ARP (which etherparse 0.16 cannot build) is assembled by
//! hand. Frames shorter than the Ethernet minimum are zero-padded to 60 bytes,
//! as a router's receiving NIC sees them (the FCS is not captured).

use etherparse::{
    EtherType, Ethernet2Header, IpHeaders, IpNumber, Ipv4Header, PacketBuilder, PacketBuilderStep,
};

pub(crate) type Mac = [u8; 6];
pub(crate) type Ip = [u8; 4];

pub(crate) const BROADCAST: Mac = [0xff; 6];
pub(crate) const MIN_FRAME: usize = 60;
/// Largest L4 payload we ever ask for: keeps every builder call inside IPv4
/// and Ethernet limits, so the builders below cannot fail.
pub(crate) const MAX_PAYLOAD: usize = 1480;

pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;

pub(crate) fn fmt_mac(m: &Mac) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

pub(crate) fn fmt_ip(ip: &Ip) -> String {
    std::net::Ipv4Addr::from(*ip).to_string()
}

/// IPv4 multicast group -> Ethernet multicast MAC (RFC 1112).
pub(crate) fn multicast_mac(ip: Ip) -> Mac {
    [0x01, 0x00, 0x5e, ip[1] & 0x7f, ip[2], ip[3]]
}

/// Link and network layer of one frame.
#[derive(Clone, Copy, Debug)]
pub(crate) struct L3 {
    pub src_mac: Mac,
    pub dst_mac: Mac,
    pub src: Ip,
    pub dst: Ip,
    pub ttl: u8,
    pub id: u16,
    pub df: bool,
}

impl L3 {}

fn ip_step(l: &L3) -> PacketBuilderStep<IpHeaders> {
    let h = Ipv4Header {
        source: l.src,
        destination: l.dst,
        time_to_live: l.ttl,
        identification: l.id,
        dont_fragment: l.df,
        ..Default::default()
    };
    PacketBuilder::ethernet2(l.src_mac, l.dst_mac).ip(IpHeaders::Ipv4(h, Default::default()))
}

fn clamp(payload: &[u8]) -> &[u8] {
    debug_assert!(payload.len() <= MAX_PAYLOAD, "payload {}", payload.len());
    &payload[..payload.len().min(MAX_PAYLOAD)]
}

fn pad(mut v: Vec<u8>) -> Vec<u8> {
    if v.len() < MIN_FRAME {
        v.resize(MIN_FRAME, 0);
    }
    v
}

pub(crate) fn udp(l: &L3, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let payload = clamp(payload);
    let b = ip_step(l).udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()).max(MIN_FRAME));
    b.write(&mut v, payload).expect("udp frame within limits");
    pad(v)
}

/// One TCP segment's header fields.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TcpSeg<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Raw option bytes, a multiple of 4 and at most 40 bytes.
    pub options: &'a [u8],
}

pub(crate) fn tcp(l: &L3, s: &TcpSeg<'_>, payload: &[u8]) -> Vec<u8> {
    let payload = clamp(payload);
    let mut b = ip_step(l).tcp(s.sport, s.dport, s.seq, s.window);
    if s.flags & SYN != 0 {
        b = b.syn();
    }
    if s.flags & FIN != 0 {
        b = b.fin();
    }
    if s.flags & RST != 0 {
        b = b.rst();
    }
    if s.flags & PSH != 0 {
        b = b.psh();
    }
    if s.flags & ACK != 0 {
        b = b.ack(s.ack);
    }
    if !s.options.is_empty() {
        b = b
            .options_raw(s.options)
            .expect("tcp options are built padded to 4 bytes and <= 40");
    }
    let mut v = Vec::with_capacity(b.size(payload.len()).max(MIN_FRAME));
    b.write(&mut v, payload).expect("tcp frame within limits");
    pad(v)
}

pub(crate) fn icmp_echo(l: &L3, request: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let payload = clamp(payload);
    let mut v = Vec::with_capacity(42 + payload.len().max(MIN_FRAME));
    let r = if request {
        ip_step(l)
            .icmpv4_echo_request(id, seq)
            .write(&mut v, payload)
    } else {
        ip_step(l).icmpv4_echo_reply(id, seq).write(&mut v, payload)
    };
    r.expect("icmp frame within limits");
    pad(v)
}

/// An IPv4 packet with an arbitrary protocol (GRE here) and prebuilt payload.
pub(crate) fn raw_ip(l: &L3, proto: u8, payload: &[u8]) -> Vec<u8> {
    let payload = clamp(payload);
    let b = ip_step(l);
    let mut v = Vec::with_capacity(b.size(payload.len()).max(MIN_FRAME));
    b.write(&mut v, IpNumber(proto), payload)
        .expect("ip frame within limits");
    pad(v)
}

/// The IPv4 part of a UDP datagram (no Ethernet header), for tunnelling.
pub(crate) fn ipv4_udp_packet(
    src: Ip,
    dst: Ip,
    ttl: u8,
    id: u16,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let payload = clamp(payload);
    let h = Ipv4Header {
        source: src,
        destination: dst,
        time_to_live: ttl,
        identification: id,
        dont_fragment: true,
        ..Default::default()
    };
    let b = PacketBuilder::ip(IpHeaders::Ipv4(h, Default::default())).udp(sport, dport);
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).expect("udp packet within limits");
    v
}

/// ARP request (op 1) or reply (op 2) for IPv4 over Ethernet.
pub(crate) fn arp(
    eth_dst: Mac,
    op: u16,
    sender_mac: Mac,
    sender_ip: Ip,
    target_mac: Mac,
    target_ip: Ip,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(MIN_FRAME);
    Ethernet2Header {
        source: sender_mac,
        destination: eth_dst,
        ether_type: EtherType::ARP,
    }
    .write(&mut v)
    .expect("writing to a Vec cannot fail");
    v.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4]);
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&sender_mac);
    v.extend_from_slice(&sender_ip);
    v.extend_from_slice(&target_mac);
    v.extend_from_slice(&target_ip);
    pad(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn l3() -> L3 {
        L3 {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: [192, 168, 1, 20],
            dst: [203, 0, 113, 9],
            ttl: 64,
            id: 7,
            df: true,
        }
    }

    #[test]
    fn small_frames_are_padded_and_parse() {
        let f = udp(&l3(), 1000, 53, b"x");
        assert_eq!(f.len(), MIN_FRAME);
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        match p.transport {
            Some(TransportSlice::Udp(u)) => {
                assert_eq!(u.destination_port(), 53);
                assert_eq!(u.payload(), b"x");
            }
            other => panic!("not udp: {other:?}"),
        }
    }

    #[test]
    fn tcp_flags_and_options_survive() {
        let opts = [2, 4, 5, 0xb4, 1, 3, 3, 7];
        let f = tcp(
            &l3(),
            &TcpSeg {
                sport: 40000,
                dport: 23,
                seq: 5,
                ack: 9,
                flags: SYN | ACK,
                window: 1000,
                options: &opts,
            },
            &[],
        );
        let p = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("not tcp")
        };
        assert!(t.syn() && t.ack() && !t.fin());
        assert_eq!(t.acknowledgment_number(), 9);
        assert_eq!(t.options(), &opts);
    }

    #[test]
    fn arp_and_gre_frames() {
        let a = arp(
            BROADCAST,
            1,
            [2, 0, 0, 0, 0, 1],
            [192, 168, 1, 20],
            [0; 6],
            [192, 168, 1, 1],
        );
        assert_eq!(a.len(), MIN_FRAME);
        assert_eq!(&a[12..14], &[0x08, 0x06]);
        let inner = ipv4_udp_packet([1, 2, 3, 4], [5, 6, 7, 8], 64, 1, 1, 2, &[0; 32]);
        let g = raw_ip(&l3(), 47, &inner);
        let p = SlicedPacket::from_ethernet(&g).unwrap();
        let Some(NetSlice::Ipv4(ip)) = p.net else {
            panic!("not ipv4")
        };
        assert_eq!(ip.header().protocol(), IpNumber(47));
        assert_eq!(ip.payload().payload, &inner[..]);
    }
}
