//! Behaviour tests: synthetic packet sequences of attacks and of the benign
//! look-alikes each detector must leave alone.

use std::net::{IpAddr, Ipv4Addr};

use warden_decode::{QuotedPacket, TcpFlags, Transport};

use crate::*;

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_768_478_400 * SEC;

struct Run {
    d: Detectors,
    st: DeviceDetectors,
    raised: Vec<Alert>,
    updates: usize,
    buf: Vec<Finding>,
}

impl Run {
    fn new() -> Self {
        Run::with(DetectConfig::default())
    }
    fn with(cfg: DetectConfig) -> Self {
        Run {
            d: Detectors::new(cfg),
            st: DeviceDetectors::default(),
            raised: Vec::new(),
            updates: 0,
            buf: Vec::new(),
        }
    }
    fn feed(&mut self, s: Seen<'_>) {
        self.d.observe(&mut self.st, &s, &mut self.buf);
        self.drain();
    }
    fn tick(&mut self, now: i64) {
        self.d.tick(&mut self.st, now, &mut self.buf);
        self.drain();
    }
    fn drain(&mut self) {
        for f in self.buf.drain(..) {
            match f {
                Finding::Raised(a) => self.raised.push(a),
                Finding::Updated { .. } => self.updates += 1,
            }
        }
    }
    fn kinds(&self) -> Vec<AlertKind> {
        self.raised.iter().map(|a| a.kind).collect()
    }
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// Payload bytes for synthetic packets (content irrelevant to most tests).
static ZEROS: [u8; 1500] = [0; 1500];

fn out(ts: i64, remote: IpAddr, port: u16, t: Transport, len: u32) -> Seen<'static> {
    Seen {
        ts_ns: ts,
        direction: Direction::Outbound,
        remote,
        remote_port: port,
        local_port: 40000,
        transport: t,
        wire_len: len,
        payload: &ZEROS[..(len.saturating_sub(42) as usize).min(ZEROS.len())],
        scope: Scope::Internet,
        remote_named: false,
        spoofed: false,
        dns: None,
    }
}

fn inb(ts: i64, remote: IpAddr, port: u16, t: Transport, len: u32) -> Seen<'static> {
    Seen {
        direction: Direction::Inbound,
        ..out(ts, remote, port, t, len)
    }
}

fn udp(dst_port: u16) -> Transport {
    Transport::Udp {
        src_port: 40000,
        dst_port,
    }
}

fn tcp(flags: u8) -> Transport {
    Transport::Tcp {
        src_port: 40000,
        dst_port: 0,
        flags: TcpFlags(flags),
    }
}

/// A deterministic pseudo-random sequence (xorshift) for addresses and ports.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn public_ip(&mut self) -> IpAddr {
        let v = self.next();
        ip(
            11 + (v % 180) as u8,
            (v >> 8) as u8,
            (v >> 16) as u8,
            (v >> 24) as u8,
        )
    }
}

#[test]
fn state_is_small() {
    // Also a compile-time assertion in lib.rs; printed for the docs.
    println!(
        "detector state: {} bytes per device, +{} for devices that speak SMTP",
        DeviceDetectors::SIZE,
        DeviceDetectors::SPAM_SIZE
    );
}

#[test]
fn udp_flood_with_random_ports_is_detected_in_seconds() {
    // Twice the threshold: three hot seconds are needed.
    let mut r = Run::new();
    let mut rng = Rng(7);
    for i in 0..(400 * 10) {
        let ts = T0 + i * SEC / 400;
        let port = (rng.next() % 65535) as u16 + 1;
        r.feed(out(ts, ip(203, 0, 113, 9), port, udp(0), 554));
    }
    let ttd = (r.raised[0].detected_at.0 - T0) as f64 / 1e9;
    assert!((3.0..=4.5).contains(&ttd), "time to detect {ttd}");

    // Four times the threshold (`strong_excess`): one second fewer.
    let mut r = Run::new();
    let mut rng = Rng(7);
    let target = ip(203, 0, 113, 9);
    let pps = 800;
    for i in 0..(pps * 10) {
        let ts = T0 + i * SEC / pps;
        r.feed(out(
            ts,
            target,
            (rng.next() % 65535) as u16 + 1,
            udp(0),
            554,
        ));
    }
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
    let a = &r.raised[0];
    let ttd = (a.detected_at.0 - T0) as f64 / 1e9;
    assert!((2.0..=3.0).contains(&ttd), "time to detect {ttd}");
    let Evidence::Flood(e) = &a.evidence else {
        panic!()
    };
    assert_eq!(e.variant, "udp");
    assert_eq!(e.top_destinations[0].address, target);
    assert!(r.updates >= 4, "incident evidence keeps updating");
}

#[test]
fn camera_stream_to_its_cloud_is_not_a_flood() {
    // 8 Mbit/s of RTP to one port, a receiver report back every second:
    // both to a resolved name and to a relay address handed over TLS.
    for named in [true, false] {
        let mut r = Run::new();
        let server = ip(52, 28, 1, 7);
        let pps = 700;
        for i in 0..(pps * 60) {
            let ts = T0 + i * SEC / pps;
            let mut s = out(ts, server, 10554, udp(10554), 1200);
            s.remote_named = named;
            r.feed(s);
            if i % pps == 0 {
                r.feed(inb(ts + 1000, server, 10554, udp(0), 90));
            }
        }
        assert!(r.raised.is_empty(), "named={named}: {:?}", r.raised);
    }
}

#[test]
fn backup_upload_and_video_call_are_not_floods() {
    let mut r = Run::new();
    let server = ip(34, 120, 5, 5);
    let pps = 9000;
    for i in 0..(pps * 20) {
        let ts = T0 + i * SEC / pps;
        let mut s = out(ts, server, 443, tcp(TcpFlags::ACK | TcpFlags::PSH), 1514);
        s.remote_named = true;
        r.feed(s);
        if i % 2 == 0 {
            r.feed(inb(ts + 5_000_000, server, 443, tcp(TcpFlags::ACK), 66));
        }
    }
    // Video call: 300 pps each way to a relay.
    let relay = ip(142, 250, 1, 1);
    for i in 0..(300 * 30) {
        let ts = T0 + 30 * SEC + i * SEC / 300;
        r.feed(out(ts, relay, 3478, udp(3478), 900));
        r.feed(inb(ts + 2000, relay, 3478, udp(0), 900));
    }
    assert!(r.raised.is_empty(), "{:?}", r.raised);
}

#[test]
fn syn_flood_even_when_answered_and_ack_flood_refused() {
    let mut r = Run::new();
    let target = ip(198, 51, 100, 20);
    for i in 0..(500 * 8) {
        let ts = T0 + i * SEC / 500;
        r.feed(out(ts, target, 80, tcp(TcpFlags::SYN), 60));
        r.feed(inb(
            ts + 100,
            target,
            80,
            tcp(TcpFlags::SYN | TcpFlags::ACK),
            60,
        ));
    }
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
    let Evidence::Flood(e) = &r.raised[0].evidence else {
        panic!()
    };
    assert_eq!(e.variant, "syn");

    let mut r = Run::new();
    let mut rng = Rng(3);
    for i in 0..(400 * 8) {
        let ts = T0 + i * SEC / 400;
        r.feed(out(
            ts,
            target,
            (rng.next() % 60000) as u16,
            tcp(TcpFlags::ACK | TcpFlags::PSH),
            600,
        ));
        r.feed(inb(ts + 100, target, 0, tcp(TcpFlags::RST), 60));
    }
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
    let Evidence::Flood(e) = &r.raised[0].evidence else {
        panic!()
    };
    assert_eq!(e.variant, "ack");
}

#[test]
fn dns_water_torture() {
    let mut r = Run::new();
    let resolver = ip(192, 168, 1, 1);
    let names: Vec<String> = (0..2000)
        .map(|i| format!("x{i:05}q.victim.example"))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let ts = T0 + i as i64 * SEC / 200;
        let mut q = out(ts, resolver, 53, udp(53), 80);
        q.scope = Scope::Lan;
        q.dns = Some(DnsEvent::Query { name });
        r.feed(q);
        let mut a = inb(ts + 1_000_000, resolver, 53, udp(0), 120);
        a.scope = Scope::Lan;
        a.dns = Some(DnsEvent::Response { rcode: 3 });
        r.feed(a);
    }
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
    let Evidence::Flood(e) = &r.raised[0].evidence else {
        panic!()
    };
    assert_eq!(e.variant, "dns");
    assert_eq!(e.dns_domain.as_deref(), Some("victim.example"));
}

/// Mirai-style sweep: SYNs to random addresses on 23/2323, ~2% answered,
/// ~10% refused, the rest silent.
fn sweep(r: &mut Run, rate: i64, probes: i64, seed: u64) {
    let mut rng = Rng(seed);
    for i in 0..probes {
        let ts = T0 + i * SEC / rate;
        let dst = rng.public_ip();
        let port = if rng.next().is_multiple_of(10) {
            2323
        } else {
            23
        };
        r.feed(out(ts, dst, port, tcp(TcpFlags::SYN), 60));
        match rng.next() % 100 {
            0 | 1 => r.feed(inb(
                ts + 50_000_000,
                dst,
                port,
                tcp(TcpFlags::SYN | TcpFlags::ACK),
                60,
            )),
            2..=11 => r.feed(inb(
                ts + 50_000_000,
                dst,
                port,
                tcp(TcpFlags::RST | TcpFlags::ACK),
                60,
            )),
            _ => {}
        }
        if i % rate == 0 {
            r.tick(ts);
        }
    }
    r.tick(T0 + probes * SEC / rate + 10 * SEC);
}

#[test]
fn mirai_telnet_sweep_is_a_scan() {
    for seed in 1..6 {
        let mut r = Run::new();
        sweep(&mut r, 200, 2000, seed);
        assert_eq!(r.kinds(), vec![AlertKind::Scan], "seed {seed}");
        let a = &r.raised[0];
        let Evidence::Scan(e) = &a.evidence else {
            panic!()
        };
        assert_eq!(e.top_ports[0].port, 23);
        assert!(e.attempts > 0 && e.failed >= 6);
        let ttd = (a.detected_at.0 - T0) as f64 / 1e9;
        assert!(ttd < 4.0, "seed {seed}: detected after {ttd} s");
    }
}

/// A capture clock that jumps from the far past to the present (a broken or
/// hostile file) must not overflow the scan's time span (found by fuzzing).
#[test]
fn a_scan_across_a_clock_jump_does_not_overflow() {
    let mut r = Run::new();
    let mut rng = Rng(7);
    r.feed(out(i64::MIN, rng.public_ip(), 23, tcp(TcpFlags::SYN), 60));
    for i in 0..200 {
        let (ts, dst) = (T0 + i * SEC / 100, rng.public_ip());
        r.feed(out(ts, dst, 23, tcp(TcpFlags::SYN), 60));
        r.feed(inb(ts + 1, dst, 23, tcp(TcpFlags::RST | TcpFlags::ACK), 60));
    }
    assert_eq!(r.kinds(), vec![AlertKind::Scan]);
    let Evidence::Scan(e) = &r.raised[0].evidence else {
        panic!()
    };
    assert!(e.rate_per_s.is_finite() && e.rate_per_s >= 0.0);
}

#[test]
fn slow_scan_is_caught_within_a_few_dozen_probes() {
    let mut r = Run::new();
    sweep(&mut r, 1, 60, 11);
    assert_eq!(r.kinds(), vec![AlertKind::Scan]);
    let probes_before = (r.raised[0].detected_at.0 - T0) / SEC + 1;
    assert!(probes_before <= 36, "needed {probes_before} probes");
}

#[test]
fn browsing_and_broken_ipv6_are_not_scans() {
    let mut r = Run::new();
    let mut rng = Rng(5);
    for i in 0..300 {
        let ts = T0 + i * SEC / 4;
        let dst = rng.public_ip();
        // A browser: 90% of new connections answered.
        let mut s = out(ts, dst, 443, tcp(TcpFlags::SYN), 60);
        s.remote_named = true;
        r.feed(s);
        if !rng.next().is_multiple_of(10) {
            r.feed(inb(
                ts + 30_000_000,
                dst,
                443,
                tcp(TcpFlags::SYN | TcpFlags::ACK),
                60,
            ));
        }
        // Broken IPv6 towards the same resolved names: every attempt times out.
        let v6: IpAddr = format!("2001:db8::{:x}", rng.next() % 65535)
            .parse()
            .unwrap();
        let mut s6 = out(ts, v6, 443, tcp(TcpFlags::SYN), 80);
        s6.remote_named = true;
        r.feed(s6);
        r.tick(ts);
    }
    // A laptop retrying an offline printer: one first contact, many retries.
    let printer = ip(192, 168, 1, 50);
    for i in 0..200 {
        let mut s = out(
            T0 + 100 * SEC + i * SEC,
            printer,
            9100,
            tcp(TcpFlags::SYN),
            60,
        );
        s.scope = Scope::Lan;
        r.feed(s);
        r.tick(T0 + 100 * SEC + i * SEC);
    }
    assert!(r.raised.is_empty(), "{:?}", r.raised);
}

#[test]
fn icmp_unreachable_counts_as_failure() {
    let mut r = Run::new();
    let mut rng = Rng(9);
    for i in 0..20 {
        let ts = T0 + i * SEC / 10;
        let dst = rng.public_ip();
        r.feed(out(ts, dst, 22, tcp(TcpFlags::SYN), 60));
        let quoted = QuotedPacket {
            src: ip(192, 168, 1, 9),
            dst,
            protocol: 6,
            dst_port: 22,
        };
        r.feed(inb(
            ts + 1_000_000,
            ip(10, 0, 0, 1),
            0,
            Transport::Icmp {
                v6: false,
                icmp_type: 3,
                code: 1,
                quoted: Some(quoted),
            },
            70,
        ));
    }
    assert_eq!(r.kinds(), vec![AlertKind::Scan]);
    // Detected on refusals alone, long before any timeout.
    assert!(r.raised[0].detected_at.0 - T0 < 2 * SEC);
}

#[test]
fn spam_to_many_mx_but_not_mail_submission() {
    let mut r = Run::new();
    let mut rng = Rng(13);
    // A NAS: 30 notifications to one provider on 587 and a smarthost on 25.
    for i in 0..30 {
        r.feed(out(
            T0 + i * 60 * SEC,
            ip(74, 125, 1, 1),
            587,
            tcp(TcpFlags::SYN),
            60,
        ));
        r.feed(out(
            T0 + i * 60 * SEC + SEC,
            ip(74, 125, 9, 9),
            25,
            tcp(TcpFlags::SYN),
            60,
        ));
    }
    assert!(r.raised.is_empty());
    // A spam bot: a new MX every 5 s.
    let start = T0 + 3600 * SEC;
    for i in 0..40 {
        let (ts, mx) = (start + i * 5 * SEC, rng.public_ip());
        r.feed(out(ts, mx, 25, tcp(TcpFlags::SYN), 60));
        r.feed(inb(
            ts + 40_000_000,
            mx,
            25,
            tcp(TcpFlags::SYN | TcpFlags::ACK),
            60,
        ));
    }
    assert_eq!(r.kinds(), vec![AlertKind::Spam]);
    let ttd = (r.raised[0].detected_at.0 - start) / SEC;
    assert!(ttd <= 30, "detected after {ttd} s");
}

#[test]
fn telnet_brute_force_but_not_api_polling() {
    let mut r = Run::new();
    let api = ip(52, 1, 1, 1);
    // A plug polling its cloud: a new TLS connection every 5 s for an hour.
    for i in 0..720 {
        let ts = T0 + i * 5 * SEC;
        r.feed(out(ts, api, 443, tcp(TcpFlags::SYN), 60));
        r.feed(inb(
            ts + 30_000_000,
            api,
            443,
            tcp(TcpFlags::SYN | TcpFlags::ACK),
            60,
        ));
        r.feed(out(
            ts + 31_000_000,
            api,
            443,
            tcp(TcpFlags::ACK | TcpFlags::PSH),
            300,
        ));
    }
    assert!(r.raised.is_empty(), "{:?}", r.raised);
    let victim = ip(198, 51, 100, 77);
    let start = T0 + 4000 * SEC;
    for i in 0..30 {
        let ts = start + i * 2 * SEC;
        r.feed(out(ts, victim, 23, tcp(TcpFlags::SYN), 60));
        r.feed(inb(
            ts + 20_000_000,
            victim,
            23,
            tcp(TcpFlags::SYN | TcpFlags::ACK),
            60,
        ));
        // The guess: a user name and password.
        r.feed(out(
            ts + 21_000_000,
            victim,
            23,
            tcp(TcpFlags::ACK | TcpFlags::PSH),
            70,
        ));
    }
    assert_eq!(r.kinds(), vec![AlertKind::BruteForce]);
    let Evidence::BruteForce(e) = &r.raised[0].evidence else {
        panic!()
    };
    assert_eq!((e.target, e.port), (victim, 23));
}

#[test]
fn ssh_on_an_odd_port_is_a_login_service_http_is_not() {
    // 40 accepted connections a minute to one service on port 902: with an
    // SSH banner it is password guessing, with HTTP requests an app polling.
    let attempts = |payload: &'static [u8]| {
        let mut r = Run::new();
        let server = ip(147, 32, 80, 9);
        for i in 0..40 {
            let ts = T0 + i * 1_500_000_000;
            r.feed(out(ts, server, 902, tcp(TcpFlags::SYN), 60));
            r.feed(inb(
                ts + 10_000_000,
                server,
                902,
                tcp(TcpFlags::SYN | TcpFlags::ACK),
                60,
            ));
            r.feed(Seen {
                payload,
                ..out(
                    ts + 11_000_000,
                    server,
                    902,
                    tcp(TcpFlags::ACK | TcpFlags::PSH),
                    80,
                )
            });
        }
        r
    };
    assert_eq!(
        attempts(b"SSH-2.0-libssh_0.9.6\r\n").kinds(),
        vec![AlertKind::BruteForce]
    );
    assert!(attempts(b"GET /api/status HTTP/1.1\r\n").raised.is_empty());
}

#[test]
fn unacknowledged_tcp_to_one_port_is_a_flood_an_upload_is_not() {
    let target = ip(198, 51, 100, 62);
    // Mirai's ACK flood at 300 pps to port 80: nothing comes back.
    let mut r = Run::new();
    for i in 0..(300 * 8) {
        let ts = T0 + i * SEC / 300;
        r.feed(out(ts, target, 80, tcp(TcpFlags::ACK | TcpFlags::PSH), 566));
    }
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
    // An upload at the same rate, acknowledged every other segment.
    let mut r = Run::new();
    for i in 0..(300 * 8) {
        let ts = T0 + i * SEC / 300;
        r.feed(out(
            ts,
            target,
            443,
            tcp(TcpFlags::ACK | TcpFlags::PSH),
            1514,
        ));
        if i % 2 == 0 {
            r.feed(inb(ts + 20_000_000, target, 443, tcp(TcpFlags::ACK), 60));
        }
    }
    assert!(r.raised.is_empty(), "{:?}", r.raised);
}

#[test]
fn an_answered_upload_beside_a_flood_does_not_hide_it() {
    let cloud = ip(52, 28, 1, 1);
    let victim = ip(198, 51, 100, 62);
    let relay = ip(18, 184, 2, 2);
    // An upload at 600 pps, acknowledged, beside another stream.
    let run = |second: &dyn Fn(&mut Run, i64)| {
        let mut r = Run::new();
        for i in 0..(600 * 8) {
            let ts = T0 + i * SEC / 600;
            r.feed(out(
                ts,
                cloud,
                443,
                tcp(TcpFlags::ACK | TcpFlags::PSH),
                1514,
            ));
            if i % 2 == 0 {
                r.feed(inb(ts + 20_000_000, cloud, 443, tcp(TcpFlags::ACK), 60));
            }
            if i % 2 == 1 {
                second(&mut r, ts);
            }
        }
        r
    };
    // ...an ACK flood at 300 pps that nothing answers: a flood.
    let r = run(&|r: &mut Run, ts| r.feed(out(ts, victim, 80, tcp(TcpFlags::ACK), 566)));
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
    // ...RTP video at 300 pps to one port of a relay: a stream.
    let r = run(&|r: &mut Run, ts| r.feed(out(ts, relay, 5004, udp(5004), 1300)));
    assert!(r.raised.is_empty(), "{:?}", r.raised);
}

#[test]
fn a_silent_stream_beside_a_flood_does_not_hide_it() {
    // A camera's RTP upload (one port, 550 pps, silent) and an ACK flood
    // (300 pps, silent) at once: the flood alone is past its threshold.
    let relay = ip(52, 28, 147, 127);
    let victim = ip(198, 51, 100, 62);
    let mut r = Run::new();
    for i in 0..(550 * 8) {
        let ts = T0 + i * SEC / 550;
        r.feed(out(ts, relay, 5004, udp(5004), 1300));
        if i % 11 < 6 {
            r.feed(out(ts + 1000, victim, 80, tcp(TcpFlags::ACK), 566));
        }
    }
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
    let Evidence::Flood(e) = &r.raised[0].evidence else {
        panic!()
    };
    assert_eq!(e.variant, "ack");
}

#[test]
fn forged_sources_need_no_stream_allowance() {
    // 600 pps of UDP to one port of one address: a stream's shape, so only
    // alarming when the sources are forged.
    let target = ip(192, 0, 2, 25);
    let run = |spoofed: bool| {
        let mut r = Run::new();
        for i in 0..(600 * 8) {
            let ts = T0 + i * SEC / 600;
            r.feed(Seen {
                spoofed,
                ..out(ts, target, 25565, udp(25565), 366)
            });
        }
        r
    };
    assert!(run(false).raised.is_empty());
    assert_eq!(run(true).kinds(), vec![AlertKind::Flood]);
}

#[test]
fn a_resolver_answering_fast_is_not_a_query_flood() {
    // The router's view of a DNS flood from a LAN device: thousands of
    // small answers a second from port 53, every one after a query.
    let client = ip(192, 168, 1, 11);
    let mut r = Run::new();
    for i in 0..(3000 * 8) {
        let ts = T0 + i * SEC / 3000;
        r.feed(Seen {
            scope: Scope::Lan,
            local_port: 53,
            ..inb(ts, client, 40000 + (i % 1000) as u16, udp(53), 90)
        });
        r.feed(Seen {
            scope: Scope::Lan,
            local_port: 53,
            ..out(ts + 50_000, client, 40000 + (i % 1000) as u16, udp(53), 120)
        });
    }
    assert!(r.raised.is_empty(), "{:?}", r.raised);
}

#[test]
fn thresholds_come_from_config() {
    // The same 150 pps sprayed flood: below the default, above a stricter config.
    let feed = |r: &mut Run| {
        let mut rng = Rng(21);
        for i in 0..(150 * 10) {
            let ts = T0 + i * SEC / 150;
            r.feed(out(
                ts,
                ip(203, 0, 113, 1),
                (rng.next() % 60000) as u16,
                udp(0),
                554,
            ));
        }
    };
    let mut r = Run::new();
    feed(&mut r);
    assert!(r.raised.is_empty());
    let mut cfg = DetectConfig::default();
    cfg.flood.min_pps = 100;
    let mut r = Run::with(cfg);
    feed(&mut r);
    assert_eq!(r.kinds(), vec![AlertKind::Flood]);
}

#[test]
fn summaries_are_plain_sentences() {
    let mut r = Run::new();
    let mut rng = Rng(1);
    for i in 0..(4000 * 20) {
        let ts = T0 + i * SEC / 4000;
        r.feed(out(
            ts,
            ip(203, 0, 113, 9),
            (rng.next() % 60000) as u16,
            udp(0),
            554,
        ));
    }
    r.tick(T0 + 25 * SEC);
    // The raised alert, with the incident's final evidence:
    let s = summary(&r.raised[0], "This camera");
    assert!(s.starts_with("This camera sent 4,000 UDP packets per second to one internet address (203.0.113.9) for"), "{s}");
    assert!(s.ends_with("botnet attack."), "{s}");
}
