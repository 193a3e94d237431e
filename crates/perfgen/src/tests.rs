use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use warden_decode::{decode, LinkType, Network, Transport};

use super::*;

fn frames_of(pcap: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let (_, cap) = pcap_parser::parse_pcap(pcap).expect("a valid pcap");
    assert_eq!(cap.header.network.0, 1);
    cap.blocks
        .iter()
        .map(|b| {
            (
                u64::from(b.ts_sec) * 1_000_000 + u64::from(b.ts_usec),
                b.data[..b.caplen as usize].to_vec(),
            )
        })
        .collect()
}

fn is_private(ip: Ipv4Addr) -> bool {
    ip.is_private() || ip.is_link_local() || ip.is_loopback() || ip.is_multicast()
}

#[test]
fn min_frames_are_minimum_size_lan_traffic_both_ways() {
    let mut out = Vec::new();
    let w = min_frames(&mut out, 20_000, 32, 10, 7).unwrap();
    assert_eq!(w.frames, 20_000);
    assert_eq!(w.frame_bytes, 20_000 * MIN_FRAME as u64);
    let frames = frames_of(&out);
    assert_eq!(frames.len(), 20_000);
    let (mut tcp, mut udp, mut outbound, mut inbound) = (0, 0, 0, 0);
    let (mut syn, mut syn_ack) = (0, 0);
    let mut devices = HashSet::new();
    let mut remotes = HashSet::new();
    let mut last_ts = 0;
    for (ts, f) in &frames {
        assert_eq!(f.len(), MIN_FRAME);
        assert!(*ts > last_ts, "timestamps increase");
        last_ts = *ts;
        let p = decode(LinkType::Ethernet, f).unwrap();
        let Network::Ip(ip) = p.network else {
            panic!("not IP")
        };
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (ip.src, ip.dst) else {
            panic!("not IPv4")
        };
        match p.transport {
            Transport::Tcp { flags, .. } => {
                tcp += 1;
                syn += u32::from(flags.is_syn_only());
                syn_ack += u32::from(flags.is_syn_ack());
            }
            Transport::Udp { .. } => udp += 1,
            t => panic!("unexpected {t:?}"),
        }
        if p.src_mac.0 == ROUTER_MAC {
            inbound += 1;
            assert!(!is_private(src) && is_private(dst));
            devices.insert(p.dst_mac);
            remotes.insert(src);
        } else {
            outbound += 1;
            assert_eq!(p.dst_mac.0, ROUTER_MAC);
            assert!(is_private(src) && !is_private(dst), "{src} -> {dst}");
            devices.insert(p.src_mac);
            remotes.insert(dst);
        }
    }
    assert_eq!(devices.len(), 32);
    assert!(
        remotes.len() > 500,
        "many internet addresses: {}",
        remotes.len()
    );
    assert!(tcp > 2 * udp && udp > tcp / 10, "tcp {tcp} udp {udp}");
    assert!(inbound > frames.len() / 3 && outbound > frames.len() / 3);
    // Connections open with a handshake that is answered.
    assert!(
        syn > 100 && syn_ack > 100 && syn_ack <= syn,
        "{syn} {syn_ack}"
    );
}

#[test]
fn same_seed_same_file_other_seed_other_file() {
    let gen = |seed| {
        let mut out = Vec::new();
        min_frames(&mut out, 2_000, 8, 10, seed).unwrap();
        out
    };
    assert_eq!(gen(1), gen(1));
    assert_ne!(gen(1), gen(2));
    let gen = |seed| {
        let mut out = Vec::new();
        random_macs(&mut out, 1_000, 10, seed).unwrap();
        out
    };
    assert_eq!(gen(5), gen(5));
    assert_ne!(gen(5), gen(6));
}

#[test]
fn random_macs_are_all_different_unicast_from_private_addresses() {
    let mut out = Vec::new();
    let w = random_macs(&mut out, 50_000, 100, 3).unwrap();
    assert_eq!(w.frames, 50_000);
    let frames = frames_of(&out);
    let mut macs = HashSet::new();
    for (_, f) in &frames {
        let p = decode(LinkType::Ethernet, f).unwrap();
        assert!(!p.src_mac.is_group());
        assert!(macs.insert(p.src_mac), "repeated MAC {}", p.src_mac);
        let ip = p.ip().unwrap();
        let IpAddr::V4(src) = ip.src else { panic!() };
        assert_eq!(src.octets()[0], 10);
    }
    // Spread over the requested capture time.
    let span = frames.last().unwrap().0 - frames[0].0;
    assert!((99_000_000..=100_000_000).contains(&span), "{span}");
}

#[test]
fn mixed_has_a_size_mix_and_replays_real_frames() {
    let real = vec![
        RealFrame {
            data: vec![0xaa; 100],
        },
        RealFrame {
            data: vec![0xbb; 342],
        },
    ];
    let mut out = Vec::new();
    let w = mixed(&mut out, 20_000, 16, 20, &real, 10, 9).unwrap();
    let frames = frames_of(&out);
    assert_eq!(frames.len() as u64, w.frames);
    let count = |n: usize| frames.iter().filter(|(_, f)| f.len() == n).count();
    let full = count(MAX_FRAME);
    let small = frames.iter().filter(|(_, f)| f.len() <= 100).count();
    assert!(full > 2_000, "bulk segments: {full}");
    assert!(small > 4_000, "small frames: {small}");
    let mid = frames
        .iter()
        .filter(|(_, f)| f.len() > 100 && f.len() < MAX_FRAME)
        .count();
    assert!(mid > 2_000, "medium frames: {mid}");
    // Every 10th frame is a real one, cycled.
    assert_eq!(frames[9].1, real[0].data);
    assert_eq!(frames[19].1, real[1].data);
    assert_eq!(frames[29].1, real[0].data);
    let mean = w.frame_bytes as f64 / w.frames as f64;
    assert!((300.0..900.0).contains(&mean), "mean frame {mean}");
}

#[test]
fn sentinel_frames_are_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/iot-sentinel");
    let real = read_sentinel(&dir).unwrap();
    // 31 captures, thousands of frames, all of them decodable Ethernet.
    assert!(real.len() > 5_000, "{}", real.len());
    for f in &real {
        decode(LinkType::Ethernet, &f.data).unwrap();
    }
}

#[test]
fn public_addresses_are_public() {
    for i in 0..200_000u32 {
        let a = Ipv4Addr::from(public_addr(i));
        assert!(
            !is_private(a) && !a.is_broadcast() && a.octets()[0] != 0 && a.octets()[0] < 224,
            "{a}"
        );
        assert!(a.octets()[0] != 100 && a.octets()[0] != 172 && a.octets()[0] != 192);
    }
}
