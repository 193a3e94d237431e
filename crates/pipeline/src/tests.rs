//! Pipeline tests over frames built byte by byte: who counts as a device,
//! which way a packet goes, and what comes out.

use etherparse::PacketBuilder;
use warden_capture::Frame;
use warden_decode::{LinkType, Mac};
use warden_detect::AlertKind;

use crate::*;

const ROUTER: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
const CAM: [u8; 6] = [0xb0, 0xc5, 0x54, 0x25, 0x5b, 0x0e];
const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_768_478_400 * SEC;

fn run(frames: &[(i64, Vec<u8>)], link: LinkType) -> Pipeline {
    let mut p = Pipeline::new(&Config::default());
    for (ts, f) in frames {
        p.process(
            &Frame {
                ts_ns: *ts,
                link,
                data: f,
                wire_len: f.len() as u32,
            },
            &mut CollectOnly,
        );
    }
    p.finish(&mut CollectOnly);
    p
}

fn udp4(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sp: u16,
    dp: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn device(p: &Pipeline, mac: [u8; 6]) -> Option<&warden_devices::Device> {
    p.devices().find(&Mac(mac)).map(|i| p.devices().get(i))
}

#[test]
fn lan_senders_are_devices_and_the_internet_is_not() {
    let frames = vec![
        // The camera talks to a cloud server through the router.
        (
            T0,
            udp4(
                CAM,
                ROUTER,
                [192, 168, 1, 20],
                [52, 1, 2, 3],
                5000,
                443,
                b"hello",
            ),
        ),
        // The router forwards the reply: public source address.
        (
            T0 + 1,
            udp4(
                ROUTER,
                CAM,
                [52, 1, 2, 3],
                [192, 168, 1, 20],
                443,
                5000,
                b"hi!",
            ),
        ),
    ];
    let p = run(&frames, LinkType::Ethernet);
    assert_eq!(p.devices().len(), 1, "only the camera is a LAN device");
    let cam = device(&p, CAM).unwrap();
    assert_eq!((cam.packets_out, cam.packets_in), (1, 1));
    assert_eq!(cam.ips, vec!["192.168.1.20".parse::<IpAddr>().unwrap()]);
}

#[test]
fn dhcp_from_nowhere_creates_the_device_and_identifies_it() {
    // A DHCPDISCOVER: 0.0.0.0 -> 255.255.255.255, hostname and vendor class.
    let mut bootp = vec![0u8; 236];
    bootp[0] = 1; // BOOTREQUEST
    bootp[1] = 1;
    bootp[2] = 6;
    bootp[28..34].copy_from_slice(&CAM);
    bootp.extend_from_slice(&[99, 130, 83, 99]);
    bootp.extend_from_slice(&[53, 1, 1]);
    bootp.extend_from_slice(&[12, 8]);
    bootp.extend_from_slice(b"DCS-935L");
    bootp.extend_from_slice(&[60, 12]);
    bootp.extend_from_slice(b"udhcp 1.22.1");
    bootp.push(255);
    let f = udp4(
        CAM,
        [0xff; 6],
        [0, 0, 0, 0],
        [255, 255, 255, 255],
        68,
        67,
        &bootp,
    );
    let p = run(&[(T0, f)], LinkType::Ethernet);
    let cam = device(&p, CAM).expect("the DHCP client is a device");
    assert_eq!(cam.identity.hostname(), Some("DCS-935L"));
    assert!(
        cam.ips.is_empty(),
        "0.0.0.0 is not an address of the device"
    );
}

#[test]
fn cooked_capture_attributes_replies_by_address() {
    // SLL2 has no destination MAC: replies are matched by the LAN address.
    let sll2 = |dir: u8, mac: [u8; 6], ip_packet: &[u8]| {
        let mut f = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, dir, 6];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(ip_packet);
        f
    };
    let out = udp4(
        CAM,
        ROUTER,
        [192, 168, 1, 20],
        [52, 1, 2, 3],
        5000,
        443,
        b"x",
    );
    let back = udp4(
        ROUTER,
        CAM,
        [52, 1, 2, 3],
        [192, 168, 1, 20],
        443,
        5000,
        b"y",
    );
    let frames = vec![
        (T0, sll2(0, CAM, &out[14..])),
        (T0 + 1, sll2(4, ROUTER, &back[14..])),
    ];
    let p = run(&frames, LinkType::LinuxSll2);
    let cam = device(&p, CAM).unwrap();
    assert_eq!((cam.packets_out, cam.packets_in), (1, 1));
}

#[test]
fn ipv6_global_address_claimed_by_neighbour_advertisement() {
    let gua: [u8; 16] = "2001:db8:1::20"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    let ll: [u8; 16] = "fe80::b2c5:54ff:fe25:5b0e"
        .parse::<std::net::Ipv6Addr>()
        .unwrap()
        .octets();
    // NA: type 136, target = the global address.
    let mut na = Vec::new();
    PacketBuilder::ethernet2(CAM, [0x33, 0x33, 0, 0, 0, 1])
        .ipv6(ll, [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 255)
        .icmpv6(etherparse::Icmpv6Type::Unknown {
            type_u8: 136,
            code_u8: 0,
            bytes5to8: [0x20, 0, 0, 0],
        })
        .write(&mut na, &gua)
        .unwrap();
    let mut tcp = Vec::new();
    PacketBuilder::ethernet2(CAM, ROUTER)
        .ipv6(
            gua,
            "2a00:1450::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            64,
        )
        .tcp(50000, 443, 1, 1000)
        .syn()
        .write(&mut tcp, &[])
        .unwrap();
    let p = run(&[(T0, na), (T0 + 1, tcp)], LinkType::Ethernet);
    let cam = device(&p, CAM).unwrap();
    assert!(cam.ips.contains(&IpAddr::from(gua)));
    assert_eq!(
        cam.packets_out, 2,
        "the SYN from the global address is the camera's"
    );
}

#[test]
fn a_flood_in_frames_becomes_an_alert_with_a_sentence() {
    let mut frames = Vec::new();
    for i in 0..(1500 * 6) {
        let ts = T0 + i * SEC / 1500;
        let port = (i * 7919 % 60000) as u16 + 1;
        frames.push((
            ts,
            udp4(
                CAM,
                ROUTER,
                [192, 168, 1, 20],
                [203, 0, 113, 9],
                4444,
                port,
                &[0u8; 512],
            ),
        ));
    }
    let p = run(&frames, LinkType::Ethernet);
    let cam = device(&p, CAM).unwrap();
    assert_eq!(cam.alerts.len(), 1);
    assert_eq!(cam.alerts[0].kind, AlertKind::Flood);
    let report = p.report(InputReport::default());
    let json = serde_json::to_value(&report).unwrap();
    let alert = &json["devices"][0]["alerts"][0];
    assert_eq!(alert["kind"], "flood");
    assert!(alert["detected_at"]
        .as_str()
        .unwrap()
        .starts_with("2026-01-15T12:00:0"));
    let summary = alert["summary"].as_str().unwrap();
    assert!(
        summary.contains("1,500 UDP packets per second to one internet address (203.0.113.9)"),
        "{summary}"
    );
    assert_eq!(json["devices"][0]["mac"], "b0:c5:54:25:5b:0e");
    assert_eq!(json["devices"][0]["vendor"], "D-Link International");
}

#[test]
fn spoofed_sources_count_for_the_known_sender_but_forwarded_traffic_does_not() {
    // The camera is known by its LAN address, then floods with random
    // source addresses (Mirai's spoofing option).
    let mut frames = vec![(
        T0,
        udp4(
            CAM,
            ROUTER,
            [192, 168, 1, 20],
            [192, 168, 1, 1],
            5000,
            53,
            b"q",
        ),
    )];
    for i in 0..(1500 * 6) {
        let ts = T0 + SEC + i * SEC / 1500;
        let r = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes();
        let src = [r[0] | 1, r[1], r[2], r[3]];
        frames.push((
            ts,
            udp4(
                CAM,
                ROUTER,
                src,
                [203, 0, 113, 9],
                4444,
                (i % 60000) as u16 + 1,
                &[0u8; 512],
            ),
        ));
        // Internet traffic the router forwards in: public source, LAN
        // destination, the router's MAC. Not the router's own traffic.
        frames.push((
            ts,
            udp4(
                ROUTER,
                CAM,
                [8, 8, 8, 8],
                [192, 168, 1, 20],
                443,
                5000,
                &[0u8; 512],
            ),
        ));
    }
    let p = run(&frames, LinkType::Ethernet);
    let cam = device(&p, CAM).unwrap();
    assert_eq!(cam.packets_out, 1 + 1500 * 6);
    assert_eq!(cam.alerts.len(), 1);
    assert_eq!(cam.alerts[0].kind, AlertKind::Flood);
    // Never a LAN source, never a device.
    assert!(device(&p, ROUTER).is_none());
}

#[test]
fn hostile_frames_are_counted_not_fatal() {
    let good = udp4(
        CAM,
        ROUTER,
        [192, 168, 1, 20],
        [52, 1, 2, 3],
        5000,
        53,
        b"\x12\x34\x01\x00\x00\x01",
    );
    let mut frames = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..20_000i64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut f = good.clone();
        // Flip a few bytes and cut at a random length.
        for k in 0..3 {
            let at = ((x >> (k * 16)) as usize) % f.len();
            f[at] ^= (x >> 40) as u8 | 1;
        }
        f.truncate((x as usize >> 3) % (f.len() + 1));
        frames.push((T0 + i * 1000, f));
    }
    let p = run(&frames, LinkType::Ethernet);
    let s = p.stats();
    assert_eq!(s.frames, 20_000);
    assert!(s.decode_errors.values().sum::<u64>() > 0);
    assert!(p.devices().len() <= 4096);
}

#[test]
fn a_quiet_network_still_ends_scans_by_the_clock() {
    // Ten SYNs to ten addresses, never answered, then silence: only the
    // clock can time the attempts out. `advance` is that clock.
    let mut p = Pipeline::new(&Config::default());
    let mut frames = Vec::new();
    for i in 0..10u8 {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(CAM, ROUTER)
            .ipv4([192, 168, 1, 20], [198, 51, 100, i + 1], 64)
            .tcp(40000 + u16::from(i), 23, 1, 1000)
            .syn()
            .write(&mut f, &[])
            .unwrap();
        frames.push((T0 + i64::from(i) * SEC / 10, f));
    }
    for (ts, f) in &frames {
        p.process(
            &Frame {
                ts_ns: *ts,
                link: LinkType::Ethernet,
                data: f,
                wire_len: f.len() as u32,
            },
            &mut CollectOnly,
        );
    }
    assert!(device(&p, CAM).unwrap().alerts.is_empty());
    p.advance(T0 + 5 * SEC, &mut CollectOnly);
    let cam = device(&p, CAM).unwrap();
    assert_eq!(cam.alerts.len(), 1);
    assert_eq!(cam.alerts[0].kind, AlertKind::Scan);
    // The clock never runs backwards.
    p.advance(T0, &mut CollectOnly);
    assert_eq!(device(&p, CAM).unwrap().alerts.len(), 1);
}

/// A DNS response in wire form: `name` with a CNAME to `alias`, then A
/// records for the alias in the answer section, and `extra` as an A record
/// in the additional section.
fn dns_response(
    id: u16,
    rcode: u8,
    name: &str,
    alias: &str,
    ttls_addrs: &[(u32, [u8; 4])],
    extra: [u8; 4],
) -> Vec<u8> {
    fn put_name(out: &mut Vec<u8>, name: &str) {
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
    }
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&(0x8180u16 | u16::from(rcode)).to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&(1 + ttls_addrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    put_name(&mut m, name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    // CNAME name -> alias
    put_name(&mut m, name);
    m.extend_from_slice(&[0, 5, 0, 1, 0, 0, 1, 44]);
    let mut rdata = Vec::new();
    put_name(&mut rdata, alias);
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
    for (ttl, a) in ttls_addrs {
        put_name(&mut m, alias);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&[0, 4]);
        m.extend_from_slice(a);
    }
    put_name(&mut m, "ns.example.net");
    m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 14, 16, 0, 4]);
    m.extend_from_slice(&extra);
    m
}

#[derive(Default)]
struct Answers(Vec<(Mac, IpAddr, String, Vec<IpAddr>, u32)>);

impl Sink for Answers {
    fn alert(&mut self, _: &Device, _: &Alert) {}
    fn dns_answer(&mut self, device: &Device, a: &DnsAnswer<'_>) {
        self.0.push((
            device.mac,
            a.resolver,
            a.name.to_owned(),
            a.addrs.to_vec(),
            a.ttl_s,
        ));
    }
}

#[test]
fn dns_answers_reach_the_sink_with_the_question_and_answer_addresses() {
    let query = |id: u16| {
        let mut q = Vec::new();
        q.extend_from_slice(&id.to_be_bytes());
        q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        q.extend_from_slice(b"\x07Updates\x07example\x03com\x00\x00\x01\x00\x01");
        q
    };
    let (cam_ip, router_ip) = ([192, 168, 1, 20], [192, 168, 1, 1]);
    let frames = [
        udp4(CAM, ROUTER, cam_ip, router_ip, 40000, 53, &query(7)),
        udp4(
            ROUTER,
            CAM,
            router_ip,
            cam_ip,
            53,
            40000,
            &dns_response(
                7,
                0,
                "Updates.example.com",
                "cdn.example.net",
                &[(300, [203, 0, 113, 7]), (60, [203, 0, 113, 8])],
                [203, 0, 113, 99],
            ),
        ),
        // NXDOMAIN, and an answer with no address: nothing to bind.
        udp4(
            ROUTER,
            CAM,
            router_ip,
            cam_ip,
            53,
            40001,
            &dns_response(
                8,
                3,
                "gone.example.com",
                "x.example.net",
                &[],
                [203, 0, 113, 98],
            ),
        ),
    ];
    let mut p = Pipeline::new(&Config::default());
    let mut sink = Answers::default();
    for (k, f) in frames.iter().enumerate() {
        let frame = Frame {
            ts_ns: T0 + k as i64 * SEC,
            link: LinkType::Ethernet,
            data: f,
            wire_len: f.len() as u32,
        };
        p.process(&frame, &mut sink);
    }
    let ip = |a: [u8; 4]| IpAddr::from(a);
    assert_eq!(
        sink.0,
        vec![(
            Mac(CAM),
            ip(router_ip),
            "updates.example.com".to_owned(),
            vec![ip([203, 0, 113, 7]), ip([203, 0, 113, 8])],
            60
        )]
    );
}

#[derive(Default)]
struct Packets(Vec<(Mac, bool, u16, u16)>);

impl Sink for Packets {
    fn alert(&mut self, _: &Device, _: &Alert) {}
    fn packet(&mut self, device: &Device, _ts: i64, outbound: bool, p: &Packet<'_>) {
        if let Transport::Udp { src_port, dst_port } = p.transport {
            self.0.push((device.mac, outbound, src_port, dst_port));
        }
    }
}

#[test]
fn every_packet_of_a_device_reaches_the_sink_once_per_side() {
    let (cam_ip, router_ip) = ([192, 168, 1, 20], [192, 168, 1, 1]);
    let frames = [
        udp4(CAM, ROUTER, cam_ip, router_ip, 40000, 123, b"q"),
        udp4(ROUTER, CAM, router_ip, cam_ip, 123, 40000, b"a"),
    ];
    let mut p = Pipeline::new(&Config::default());
    let mut sink = Packets::default();
    for (k, f) in frames.iter().enumerate() {
        let frame = Frame {
            ts_ns: T0 + k as i64 * SEC,
            link: LinkType::Ethernet,
            data: f,
            wire_len: f.len() as u32,
        };
        p.process(&frame, &mut sink);
    }
    // The router's MAC sends from a LAN address too, so it is a device: its
    // side of each packet is reported as well.
    assert!(sink.0.contains(&(Mac(CAM), true, 40000, 123)));
    assert!(sink.0.contains(&(Mac(CAM), false, 123, 40000)));
    assert_eq!(sink.0.iter().filter(|e| e.0 == Mac(CAM)).count(), 2);
}
