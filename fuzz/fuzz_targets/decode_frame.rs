//! One frame through the decoder: byte 0 picks the link type, the rest is
//! the frame. The decoder must return a packet or an error, never panic,
//! and what it returns must agree with itself and with the frame: the
//! payload lies inside the frame and within the IP length, the transport
//! matches the IP protocol, link-layer fields exist only for link types
//! that carry them, and decoding is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_decode::{decode, DecodeError, LinkType, Mac, Network, Transport};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = warden_fuzz::link_type(selector);
    let result = decode(link, frame);
    // Same bytes, same answer (no hidden state).
    assert_eq!(result, decode(link, frame));
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            assert!(!e.reason().is_empty() && !e.to_string().is_empty());
            if let LinkType::Unknown(t) = link {
                assert_eq!(e, DecodeError::UnsupportedLinkType(t));
            }
            return;
        }
    };
    assert!(
        !matches!(link, LinkType::Unknown(_)),
        "decoded an unsupported link type"
    );

    // The payload is borrowed from the frame, never past its end.
    let frame_range = frame.as_ptr_range();
    let payload_range = p.payload.as_ptr_range();
    assert!(
        p.payload.is_empty()
            || (frame_range.start <= payload_range.start && payload_range.end <= frame_range.end),
        "payload outside the frame"
    );

    // Link-layer fields only where the link type records them.
    let cooked = matches!(link, LinkType::LinuxSll | LinkType::LinuxSll2);
    assert_eq!(p.cooked_direction.is_some(), cooked);
    if cooked || matches!(link, LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6) {
        assert_eq!(p.dst_mac, Mac::ZERO);
    }
    if matches!(link, LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6) {
        assert_eq!(p.src_mac, Mac::ZERO);
        assert_eq!(p.vlan, None);
        assert!(
            matches!(p.network, Network::Ip(_)),
            "raw IP link without IP"
        );
    }
    if let Some(v) = p.vlan {
        assert!(v <= 0x0fff, "VLAN id {v}");
    }

    match p.network {
        Network::Ip(ip) => {
            assert_eq!(ip.src.is_ipv4(), ip.dst.is_ipv4());
            // The payload is cut at the length the IP header states.
            assert!(
                p.payload.len() <= usize::from(ip.total_len),
                "payload {} > IP length {}",
                p.payload.len(),
                ip.total_len
            );
            let protocol_matches = match p.transport {
                Transport::Tcp { .. } => ip.protocol == 6,
                Transport::Udp { .. } => ip.protocol == 17,
                Transport::Icmp { v6: false, .. } => ip.protocol == 1,
                Transport::Icmp { v6: true, .. } => ip.protocol == 58,
                Transport::Gre { .. } => ip.protocol == 47,
                Transport::Other => !matches!(ip.protocol, 1 | 6 | 17 | 47 | 58),
                Transport::Fragment | Transport::Truncated => true,
            };
            assert!(
                protocol_matches,
                "{:?} with protocol {}",
                p.transport, ip.protocol
            );
            if p.transport == Transport::Truncated {
                assert!(p.payload.is_empty());
            }
            if let Transport::Icmp {
                quoted: Some(q), ..
            } = p.transport
            {
                assert_eq!(q.src.is_ipv4(), q.dst.is_ipv4());
                // The quoted packet is read from the ICMP body.
                assert!(p.payload.len() >= if q.src.is_ipv4() { 20 } else { 40 });
            }
        }
        // No IP layer, no transport.
        Network::Arp(_) | Network::Other(_) => {
            assert_eq!(p.transport, Transport::Other);
            assert!(p.payload.is_empty());
        }
    }
    // Formatting is what logs do with a packet; it must not panic either.
    let _ = format!("{p:?}");
});
