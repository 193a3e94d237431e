//! Infected-device behaviours, modelled on Mirai's public source
//! (attack_udp.c, attack_tcp.c, attack_gre.c, scanner.c) and its common
//! descendants. Every frame the device sends for a behaviour carries the
//! behaviour's tag; the labels' onset/end come from those frames.

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use crate::ctx::{BehaviourMeta, Ctx};
use crate::device::Dev;
use crate::engine::{periodic, Gen, Micros, Sink, MS, NO_TAG, SEC};
use crate::mail::{self, Outcome};
use crate::net::{self, fmt_ip, Ip, Mac, TcpSeg, ACK, BROADCAST, L3, PSH, RST, SYN};
use crate::profiles::{arp_reply, Setup};
use crate::proto::dns;
use crate::tcp::{Flow, Side, Stack};
use crate::world::{self, ROUTER_IP};
use crate::Behaviour;

fn secs_f(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> Micros {
    (rng.gen_range(lo..hi) * SEC as f64) as Micros
}

fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (rng.gen_range(lo.ln()..hi.ln())).exp()
}

/// Gap to the next packet of a sender averaging `rate` per second.
fn gap(rng: &mut ChaCha8Rng, rate: f64) -> Micros {
    let mean = SEC as f64 / rate.max(0.001);
    ((mean * rng.gen_range(0.3..1.7)) as Micros).max(1)
}

/// When a behaviour runs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub onset: Micros,
    pub stop: Micros,
}

// ------------------------------------------------------------------- flood

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FloodKind {
    Udp,
    UdpPlain,
    Vse,
    Syn,
    Ack,
    GreIp,
    GreEth,
    Icmp,
    Dns,
}

impl FloodKind {
    const ALL: [FloodKind; 9] = [
        FloodKind::Udp,
        FloodKind::UdpPlain,
        FloodKind::Vse,
        FloodKind::Syn,
        FloodKind::Ack,
        FloodKind::GreIp,
        FloodKind::GreEth,
        FloodKind::Icmp,
        FloodKind::Dns,
    ];

    fn name(self) -> &'static str {
        match self {
            FloodKind::Udp => "udp",
            FloodKind::UdpPlain => "udpplain",
            FloodKind::Vse => "vse",
            FloodKind::Syn => "syn",
            FloodKind::Ack => "ack",
            FloodKind::GreIp => "greip",
            FloodKind::GreEth => "greeth",
            FloodKind::Icmp => "icmp",
            FloodKind::Dns => "dns",
        }
    }
}

struct Target {
    ip: Ip,
    ttl: u8,
    rtt: Micros,
    /// Fixed destination port (None: random per packet).
    dport: Option<u16>,
    /// Whether this target answers (RST, echo reply, NXDOMAIN).
    answers: bool,
}

struct Flood {
    dev: Dev,
    rng: ChaCha8Rng,
    tag: u32,
    kind: FloodKind,
    targets: Vec<Target>,
    rate: f64,
    stop: Micros,
    next: Option<Micros>,
    payload: usize,
    spoof: bool,
    /// Source port for udpplain (one connected socket per target).
    sport: u16,
    domain: String,
    icmp_seq: u16,
    ip_id: u16,
    n: u64,
}

const SLICE: Micros = 5 * MS;

impl Flood {
    fn packet(&mut self, sink: &mut Sink, at: Micros) {
        let rng = &mut self.rng;
        let ti = (self.n % self.targets.len() as u64) as usize;
        self.n += 1;
        let t = &self.targets[ti];
        let src = if self.spoof { rng.gen() } else { self.dev.ip };
        let dport = t.dport.unwrap_or_else(|| rng.gen());
        let mut l3 = L3 {
            src_mac: self.dev.mac,
            dst_mac: self.dev.router_mac(),
            src,
            dst: t.ip,
            ttl: 64,
            id: rng.gen(),
            df: false,
        };
        let mut payload = vec![0u8; self.payload];
        let reply_l3 = |rng: &mut ChaCha8Rng, dev: &Dev| L3 {
            src_mac: dev.router_mac(),
            dst_mac: dev.mac,
            src: t.ip,
            dst: dev.ip,
            ttl: t.ttl,
            id: rng.gen(),
            df: true,
        };
        // Spoofed floods never see the replies: they go to the forged source.
        let answer = t.answers && !self.spoof && rng.gen_bool(0.9);
        match self.kind {
            FloodKind::Udp => {
                rng.fill_bytes(&mut payload);
                sink.push(at, net::udp(&l3, rng.gen(), dport, &payload), self.tag);
            }
            FloodKind::UdpPlain => {
                // Kernel socket: sequential IP IDs, DF from PMTU discovery.
                l3.id = self.ip_id;
                self.ip_id = self.ip_id.wrapping_add(1);
                l3.df = true;
                rng.fill_bytes(&mut payload);
                sink.push(at, net::udp(&l3, self.sport, dport, &payload), self.tag);
            }
            FloodKind::Vse => {
                let q = b"\xff\xff\xff\xffTSource Engine Query\x00";
                sink.push(at, net::udp(&l3, rng.gen(), 27015, q), self.tag);
            }
            FloodKind::Syn => {
                l3.df = true;
                let mut o = [0u8; 20];
                o[..2].copy_from_slice(&[2, 4]);
                o[2..4].copy_from_slice(&(1400 + (rng.gen::<u16>() & 0x0f)).to_be_bytes());
                o[4..8].copy_from_slice(&[4, 2, 8, 10]);
                rng.fill_bytes(&mut o[8..12]);
                o[16..20].copy_from_slice(&[1, 3, 3, 6]);
                let sport: u16 = rng.gen();
                let seq: u32 = rng.gen();
                let seg = TcpSeg {
                    sport,
                    dport,
                    seq,
                    ack: 0,
                    flags: SYN,
                    window: rng.gen(),
                    options: &o,
                };
                sink.push(at, net::tcp(&l3, &seg, &[]), self.tag);
                if answer {
                    let r = TcpSeg {
                        sport: dport,
                        dport: sport,
                        seq: 0,
                        ack: seq.wrapping_add(1),
                        flags: RST | ACK,
                        window: 0,
                        options: &[],
                    };
                    sink.push(
                        at + t.rtt,
                        net::tcp(&reply_l3(rng, &self.dev), &r, &[]),
                        self.tag,
                    );
                }
            }
            FloodKind::Ack => {
                l3.df = true;
                rng.fill_bytes(&mut payload);
                let sport: u16 = rng.gen();
                let ack: u32 = rng.gen();
                let seg = TcpSeg {
                    sport,
                    dport,
                    seq: rng.gen(),
                    ack,
                    flags: ACK,
                    window: rng.gen(),
                    options: &[],
                };
                sink.push(at, net::tcp(&l3, &seg, &payload), self.tag);
                if answer {
                    let r = TcpSeg {
                        sport: dport,
                        dport: sport,
                        seq: ack,
                        ack: 0,
                        flags: RST,
                        window: 0,
                        options: &[],
                    };
                    sink.push(
                        at + t.rtt,
                        net::tcp(&reply_l3(rng, &self.dev), &r, &[]),
                        self.tag,
                    );
                }
            }
            FloodKind::GreIp | FloodKind::GreEth => {
                rng.fill_bytes(&mut payload);
                let inner =
                    net::ipv4_udp_packet(src, t.ip, 64, rng.gen(), rng.gen(), dport, &payload);
                let mut gre = Vec::with_capacity(inner.len() + 18);
                if self.kind == FloodKind::GreIp {
                    gre.extend_from_slice(&[0, 0, 0x08, 0x00]);
                } else {
                    gre.extend_from_slice(&[0, 0, 0x65, 0x58]);
                    let mut macs = [0u8; 12];
                    rng.fill_bytes(&mut macs);
                    macs[0] &= 0xfe;
                    macs[6] &= 0xfe;
                    gre.extend_from_slice(&macs);
                    gre.extend_from_slice(&[0x08, 0x00]);
                }
                gre.extend_from_slice(&inner);
                sink.push(at, net::raw_ip(&l3, 47, &gre), self.tag);
            }
            FloodKind::Icmp => {
                rng.fill_bytes(&mut payload);
                let id = (self.sport ^ ti as u16).wrapping_add(1);
                self.icmp_seq = self.icmp_seq.wrapping_add(1);
                sink.push(
                    at,
                    net::icmp_echo(&l3, true, id, self.icmp_seq, &payload),
                    self.tag,
                );
                if answer {
                    sink.push(
                        at + t.rtt,
                        net::icmp_echo(
                            &reply_l3(rng, &self.dev),
                            false,
                            id,
                            self.icmp_seq,
                            &payload,
                        ),
                        self.tag,
                    );
                }
            }
            FloodKind::Dns => {
                // Random 12-char label under the victim domain, to the
                // resolver from resolv.conf (the router).
                const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                let label: String = (0..12)
                    .map(|_| ALNUM[rng.gen_range(0..ALNUM.len())] as char)
                    .collect();
                let name = format!("{label}.{}", self.domain);
                let id: u16 = rng.gen();
                let sport: u16 = rng.gen_range(1024..65535);
                l3.dst = ROUTER_IP;
                l3.src = self.dev.ip;
                let q = dns::query(id, &name, dns::A);
                sink.push(at, net::udp(&l3, sport, 53, &q), self.tag);
                if answer {
                    let rcode = if rng.gen_bool(0.85) {
                        dns::NXDOMAIN
                    } else {
                        dns::SERVFAIL
                    };
                    let a = dns::answer(id, &name, dns::A, rcode, &[]);
                    let mut r = reply_l3(rng, &self.dev);
                    r.src = ROUTER_IP;
                    r.ttl = 64;
                    sink.push(at + t.rtt, net::udp(&r, 53, sport, &a), self.tag);
                }
            }
        }
    }
}

impl Gen for Flood {
    fn next_start(&self) -> Option<Micros> {
        self.next
    }

    fn step(&mut self, sink: &mut Sink) {
        let now = sink.now();
        let mut t = now;
        while t < now + SLICE && t < self.stop {
            self.packet(sink, t);
            t += gap(&mut self.rng, self.rate);
        }
        self.next = (t < self.stop).then_some(t.max(now + 1));
    }
}

pub(crate) fn flood(ctx: &mut Ctx, s: &Setup, w: Window) {
    let flood_share = ctx.flood_share as f64;
    let r = ctx.plan_rng();
    let kind = FloodKind::ALL[r.gen_range(0..FloodKind::ALL.len())];
    let mut rate = log_uniform(r, 150.0, 20_000.0);
    let ntargets = if r.gen_bool(0.7) {
        1
    } else {
        r.gen_range(2..6)
    };
    let spoof =
        matches!(kind, FloodKind::Udp | FloodKind::Syn | FloodKind::Ack) && r.gen_bool(0.15);
    let fixed_port = r.gen_bool(0.4);
    let answering = r.gen_bool(0.5);
    let mut targets = Vec::new();
    for _ in 0..ntargets {
        let ip = if r.gen_bool(0.3) {
            world::documentation_ip(r)
        } else {
            s.dev.world.hosting(r)
        };
        let dport = match kind {
            FloodKind::UdpPlain => Some(r.gen()),
            FloodKind::Dns => Some(53),
            FloodKind::Vse => Some(27015),
            _ if fixed_port => {
                Some([80u16, 443, 53, 27015, 3074, 25565, 22, 8080][r.gen_range(0..8)])
            }
            _ => None,
        };
        targets.push(Target {
            ip,
            ttl: world::remote_ttl(r),
            rtt: if kind == FloodKind::Dns {
                r.gen_range(MS..30 * MS)
            } else {
                world::remote_rtt(r)
            },
            dport,
            answers: match kind {
                FloodKind::Dns => true,
                FloodKind::Syn | FloodKind::Ack | FloodKind::Icmp => answering,
                _ => false,
            },
        });
    }
    let payload = match kind {
        FloodKind::Icmp => r.gen_range(56..1_400),
        _ if r.gen_bool(0.7) => 512,
        _ => r.gen_range(64..1_400),
    };
    let domain = [
        "game-server-hosting.net",
        "shop-example.com",
        "bank-portal.example",
        "minecraft-pvp.org",
    ][r.gen_range(0..4)]
    .to_string();
    // Duration from 10-120 s, then shrunk to the frame budget.
    let mut dur = secs_f(r, 10.0, 120.0).min(w.stop.saturating_sub(w.onset));
    let factor = if targets.iter().any(|t| t.answers) {
        1.9
    } else {
        1.0
    };
    let max_s = flood_share / (rate * factor);
    if (dur as f64 / SEC as f64) > max_s {
        dur = ((max_s.max(10.0)) * SEC as f64) as Micros;
        rate = rate.min(flood_share / factor / (dur as f64 / SEC as f64));
    }
    let stop = (w.onset + dur).min(w.stop);
    let ports: Vec<u16> = targets.iter().filter_map(|t| t.dport).collect();
    let target = if kind == FloodKind::Dns {
        domain.clone()
    } else {
        fmt_ip(&targets[0].ip)
    };
    let targets_s: Vec<String> = if kind == FloodKind::Dns {
        vec![fmt_ip(&ROUTER_IP)]
    } else {
        targets.iter().map(|t| fmt_ip(&t.ip)).collect()
    };
    let notes = format!(
        "{} flood, {} target(s), {}{}, {} B payload, {}",
        kind.name(),
        ntargets,
        if ports.is_empty() {
            "random dst ports".to_string()
        } else {
            format!("dst port(s) {ports:?}")
        },
        if spoof {
            ", spoofed source addresses"
        } else {
            ""
        },
        payload,
        if targets.iter().any(|t| t.answers) {
            if kind == FloodKind::Dns {
                "resolver answers NXDOMAIN/SERVFAIL"
            } else {
                "target answers"
            }
        } else {
            "target silent"
        }
    );
    let sport = r.gen_range(32768..60999);
    let tag = ctx.behaviour(
        s.idx,
        BehaviourMeta {
            kind: Behaviour::Flood,
            variant: kind.name().into(),
            target,
            targets: targets_s,
            dst_ports: ports,
            rate_pps: rate,
            notes,
        },
    );
    let rng = ctx.rng();
    ctx.add(Box::new(Flood {
        dev: s.dev,
        rng,
        tag,
        kind,
        targets,
        rate,
        stop,
        next: (stop > w.onset).then_some(w.onset),
        payload,
        spoof,
        sport,
        domain,
        icmp_seq: 0,
        ip_id: 1,
        n: 0,
    }));
}

// -------------------------------------------------------------------- scan

/// Telnet login attempt after a successful probe / for brute force:
/// IAC negotiation, login prompt, user, password, verdict.
#[allow(clippy::too_many_arguments)]
fn telnet_attempt(
    dev: &Dev,
    sink: &mut Sink,
    rng: &mut ChaCha8Rng,
    t: Micros,
    ip: Ip,
    port: u16,
    tag: u32,
    success: bool,
) -> Micros {
    const CREDS: &[(&str, &str)] = &[
        ("root", "xc3511"),
        ("root", "vizxv"),
        ("root", "admin"),
        ("admin", "admin"),
        ("root", "888888"),
        ("root", "xmhdipc"),
        ("root", "default"),
        ("root", "juantech"),
        ("root", "123456"),
        ("root", "54321"),
        ("support", "support"),
        ("root", ""),
        ("admin", "password"),
        ("root", "root"),
        ("root", "12345"),
        ("user", "user"),
        ("admin", ""),
        ("root", "pass"),
        ("admin", "admin1234"),
        ("root", "1111"),
        ("admin", "smcadmin"),
        ("root", "666666"),
        ("root", "klv123"),
        ("ubnt", "ubnt"),
        ("root", "Zte521"),
        ("root", "hi3518"),
        ("root", "jvbzd"),
        ("root", "anko"),
        ("root", "7ujMko0vizxv"),
        ("root", "dreambox"),
        ("guest", "12345"),
        ("tech", "tech"),
        ("root", "realtek"),
        ("root", "00000000"),
        ("admin", "1234"),
    ];
    let e = dev.endpoints(rng, ip, port);
    let mut f = Flow::new(rng, &e, t, tag);
    f.connect(sink, rng);
    let iac = [
        0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20, 0xff, 0xfd, 0x23, 0xff, 0xfd, 0x27,
    ];
    f.send(sink, Side::Server, &iac, rng.gen_range(5 * MS..200 * MS));
    let wont = [
        0xff, 0xfc, 0x18, 0xff, 0xfc, 0x20, 0xff, 0xfc, 0x23, 0xff, 0xfc, 0x27,
    ];
    f.send(sink, Side::Client, &wont, rng.gen_range(MS..20 * MS));
    f.send(
        sink,
        Side::Server,
        b"\r\nlogin: ",
        rng.gen_range(10 * MS..300 * MS),
    );
    let (u, p) = CREDS[rng.gen_range(0..CREDS.len())];
    f.send(
        sink,
        Side::Client,
        format!("{u}\r\n").as_bytes(),
        rng.gen_range(MS..50 * MS),
    );
    f.send(
        sink,
        Side::Server,
        b"Password: ",
        rng.gen_range(5 * MS..100 * MS),
    );
    f.send(
        sink,
        Side::Client,
        format!("{p}\r\n").as_bytes(),
        rng.gen_range(MS..50 * MS),
    );
    if success {
        f.send(
            sink,
            Side::Server,
            b"\r\n\r\nBusyBox v1.19.4 built-in shell (ash)\r\n# ",
            rng.gen_range(100 * MS..900 * MS),
        );
        f.send(
            sink,
            Side::Client,
            b"enable\r\nsystem\r\nshell\r\nsh\r\n/bin/busybox MIRAI\r\n",
            rng.gen_range(MS..50 * MS),
        );
        f.send(
            sink,
            Side::Server,
            b"MIRAI: applet not found\r\n# ",
            rng.gen_range(20 * MS..200 * MS),
        );
        f.close(sink, Side::Client, rng.gen_range(MS..30 * MS));
    } else {
        f.send(
            sink,
            Side::Server,
            b"\r\nLogin incorrect\r\nlogin: ",
            rng.gen_range(800 * MS..3 * SEC),
        );
        if rng.gen_bool(0.6) {
            f.close(sink, Side::Client, rng.gen_range(MS..50 * MS));
        } else {
            f.reset(sink, Side::Client, rng.gen_range(MS..50 * MS));
        }
    }
    f.t
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanKind {
    /// Mirai scanner.c: raw SYNs to random IPv4 on 23 (90%) / 2323 (10%).
    TelnetSweep,
    /// connect()-based slow scan over IoT ports, ~1 probe/s.
    Slow,
    /// ARP sweep of the /24 then SYNs to live neighbours.
    LanSweep,
}

struct TelnetSweep {
    dev: Dev,
    rng: ChaCha8Rng,
    tag: u32,
    rate: f64,
    synack_p: f64,
    rst_p: f64,
    sport: u16,
    stop: Micros,
    next: Option<Micros>,
}

impl Gen for TelnetSweep {
    fn next_start(&self) -> Option<Micros> {
        self.next
    }

    fn step(&mut self, sink: &mut Sink) {
        let now = sink.now();
        let mut t = now;
        while t < now + SLICE && t < self.stop {
            let rng = &mut self.rng;
            let dst = world::random_public(rng);
            let dport = if rng.gen_range(0..10) == 0 { 2323 } else { 23 };
            let seq = u32::from_be_bytes(dst);
            let l3 = L3 {
                src_mac: self.dev.mac,
                dst_mac: self.dev.router_mac(),
                src: self.dev.ip,
                dst,
                ttl: 64,
                id: rng.gen(),
                df: false,
            };
            let seg = TcpSeg {
                sport: self.sport,
                dport,
                seq,
                ack: 0,
                flags: SYN,
                window: rng.gen(),
                options: &[],
            };
            sink.push(t, net::tcp(&l3, &seg, &[]), self.tag);
            let r: f64 = rng.gen();
            if r < self.synack_p + self.rst_p {
                let rtt = world::remote_rtt(rng);
                let back = L3 {
                    src_mac: self.dev.router_mac(),
                    dst_mac: self.dev.mac,
                    src: dst,
                    dst: self.dev.ip,
                    ttl: world::remote_ttl(rng),
                    id: rng.gen(),
                    df: true,
                };
                if r < self.synack_p {
                    let sa = TcpSeg {
                        sport: dport,
                        dport: self.sport,
                        seq: rng.gen(),
                        ack: seq.wrapping_add(1),
                        flags: SYN | ACK,
                        window: 5840,
                        options: &[2, 4, 5, 0xb4],
                    };
                    sink.push(t + rtt, net::tcp(&back, &sa, &[]), self.tag);
                    // No socket owns the raw SYN, so the kernel resets it...
                    let rst = TcpSeg {
                        sport: self.sport,
                        dport,
                        seq: seq.wrapping_add(1),
                        ack: 0,
                        flags: RST,
                        window: 0,
                        options: &[],
                    };
                    let mut l3r = l3;
                    l3r.id = rng.gen();
                    l3r.df = true;
                    sink.push(t + rtt + self.dev.lan, net::tcp(&l3r, &rst, &[]), self.tag);
                    // ...and the bot comes back with a real connection to try
                    // credentials.
                    if rng.gen_bool(0.8) {
                        let at = t + rtt + rng.gen_range(10 * MS..500 * MS);
                        let arg1_7 = rng.gen_bool(0.05);
                        telnet_attempt(&self.dev, sink, rng, at, dst, dport, self.tag, arg1_7);
                    }
                } else {
                    let rs = TcpSeg {
                        sport: dport,
                        dport: self.sport,
                        seq: 0,
                        ack: seq.wrapping_add(1),
                        flags: RST | ACK,
                        window: 0,
                        options: &[],
                    };
                    sink.push(t + rtt, net::tcp(&back, &rs, &[]), self.tag);
                }
            }
            t += gap(&mut self.rng, self.rate);
        }
        self.next = (t < self.stop).then_some(t.max(now + 1));
    }
}

pub(crate) fn scan(ctx: &mut Ctx, s: &Setup, w: Window, lan: &[(Mac, Ip)], force: Option<u8>) {
    let r = ctx.plan_rng();
    let kind = match force.unwrap_or_else(|| r.gen_range(0..10)) {
        0..=5 => ScanKind::TelnetSweep,
        6..=8 => ScanKind::Slow,
        _ => ScanKind::LanSweep,
    };
    let dev = s.dev;
    match kind {
        ScanKind::TelnetSweep => {
            let rate = log_uniform(r, 20.0, 300.0);
            let synack_p = r.gen_range(0.01..0.03);
            let rst_p = r.gen_range(0.02..0.15);
            let dur = secs_f(r, 30.0, 600.0);
            let stop = (w.onset + dur).min(w.stop);
            let sport = r.gen();
            let tag = ctx.behaviour(
                s.idx,
                BehaviourMeta {
                    kind: Behaviour::Scan,
                    variant: "telnet-sweep".into(),
                    target: "0.0.0.0/0".into(),
                    targets: vec![],
                    dst_ports: vec![23, 2323],
                    rate_pps: rate,
                    notes: format!("Mirai raw SYN sweep of random IPv4, 23 (90%) / 2323 (10%), fixed source port {sport}, {:.1}% SYN-ACK (followed by telnet login attempts), {:.1}% RST, rest silent", synack_p * 100.0, rst_p * 100.0),
                },
            );
            let rng = ctx.rng();
            ctx.add(Box::new(TelnetSweep {
                dev,
                rng,
                tag,
                rate,
                synack_p,
                rst_p,
                sport,
                stop,
                next: (stop > w.onset).then_some(w.onset),
            }));
        }
        ScanKind::Slow => {
            const PORTS: &[u16] = &[23, 2323, 22, 80, 8080, 81, 8443, 5555, 7547, 37215, 52869];
            let rate = r.gen_range(0.5..2.0);
            let stop = w.stop;
            let tag = ctx.behaviour(
                s.idx,
                BehaviourMeta {
                    kind: Behaviour::Scan,
                    variant: "slow".into(),
                    target: "0.0.0.0/0".into(),
                    targets: vec![],
                    dst_ports: PORTS.to_vec(),
                    rate_pps: rate,
                    notes: format!("slow connect() scan of random IPv4 over IoT service ports at {rate:.2} probes/s (kernel SYN retransmissions on silent hosts)"),
                },
            );
            let rng = ctx.rng();
            ctx.add(periodic(w.onset, rng, move |rng, sink| {
                let now = sink.now();
                if now >= stop {
                    return None;
                }
                let dst = world::random_public(rng);
                let port = PORTS[rng.gen_range(0..PORTS.len())];
                let e = dev.endpoints(rng, dst, port);
                let mut f = Flow::new(rng, &e, now, tag);
                let r: f64 = rng.gen();
                if r < 0.03 {
                    f.connect(sink, rng);
                    f.close(sink, Side::Client, rng.gen_range(MS..20 * MS));
                } else if r < 0.15 {
                    f.connect_refused(sink);
                } else {
                    f.connect_silent(sink, rng.gen_range(2..4));
                }
                Some(now + gap(rng, rate))
            }));
        }
        ScanKind::LanSweep => {
            let rate = r.gen_range(5.0..50.0);
            let ports: Vec<u16> = vec![23, 22, 80, 8080, 2323, 5555];
            let tag = ctx.behaviour(
                s.idx,
                BehaviourMeta {
                    kind: Behaviour::Scan,
                    variant: "lan-sweep".into(),
                    target: "192.168.1.0/24".into(),
                    targets: vec![],
                    dst_ports: ports.clone(),
                    rate_pps: rate,
                    notes: format!("ARP sweep of the LAN at {rate:.0}/s, then SYNs to live neighbours on {ports:?}"),
                },
            );
            let lan: Vec<(Mac, Ip)> = lan.iter().copied().filter(|(m, _)| *m != dev.mac).collect();
            let rng = ctx.rng();
            let mut host: u16 = 1;
            let stop = w.stop;
            ctx.add(periodic(w.onset, rng, move |rng, sink| {
                let now = sink.now();
                if now >= stop || host > 254 {
                    return None;
                }
                let ip: Ip = [192, 168, 1, host as u8];
                host += 1;
                if ip == dev.ip {
                    return Some(now + 1);
                }
                sink.push(
                    now,
                    net::arp(BROADCAST, 1, dev.mac, dev.ip, [0; 6], ip),
                    tag,
                );
                if let Some(&(mac, _)) = lan.iter().find(|(_, i)| *i == ip) {
                    let at = now + rng.gen_range(MS..20 * MS);
                    arp_reply(sink, at, (dev.mac, dev.ip), (mac, ip), tag);
                    let mut t = at + rng.gen_range(MS..30 * MS);
                    for &port in &ports {
                        let open = (ip == ROUTER_IP && port == 80) || rng.gen_bool(0.1);
                        let sport = rng.gen();
                        let seq = rng.gen();
                        let out = L3 {
                            src_mac: dev.mac,
                            dst_mac: mac,
                            src: dev.ip,
                            dst: ip,
                            ttl: 64,
                            id: rng.gen(),
                            df: true,
                        };
                        let back = L3 {
                            src_mac: mac,
                            dst_mac: dev.mac,
                            src: ip,
                            dst: dev.ip,
                            ttl: 64,
                            id: rng.gen(),
                            df: true,
                        };
                        sink.push(
                            t,
                            net::tcp(
                                &out,
                                &TcpSeg {
                                    sport,
                                    dport: port,
                                    seq,
                                    ack: 0,
                                    flags: SYN,
                                    window: 14600,
                                    options: &[],
                                },
                                &[],
                            ),
                            tag,
                        );
                        let rt = t + rng.gen_range(300..5 * MS);
                        if open {
                            sink.push(
                                rt,
                                net::tcp(
                                    &back,
                                    &TcpSeg {
                                        sport: port,
                                        dport: sport,
                                        seq: rng.gen(),
                                        ack: seq.wrapping_add(1),
                                        flags: SYN | ACK,
                                        window: 29200,
                                        options: &[2, 4, 5, 0xb4],
                                    },
                                    &[],
                                ),
                                tag,
                            );
                            sink.push(
                                rt + 200,
                                net::tcp(
                                    &out,
                                    &TcpSeg {
                                        sport,
                                        dport: port,
                                        seq: seq.wrapping_add(1),
                                        ack: 0,
                                        flags: RST,
                                        window: 0,
                                        options: &[],
                                    },
                                    &[],
                                ),
                                tag,
                            );
                        } else {
                            sink.push(
                                rt,
                                net::tcp(
                                    &back,
                                    &TcpSeg {
                                        sport: port,
                                        dport: sport,
                                        seq: 0,
                                        ack: seq.wrapping_add(1),
                                        flags: RST | ACK,
                                        window: 0,
                                        options: &[],
                                    },
                                    &[],
                                ),
                                tag,
                            );
                        }
                        t += rng.gen_range(MS..10 * MS);
                    }
                }
                Some(now + gap(rng, rate))
            }));
        }
    }
}

// -------------------------------------------------------------------- spam

const MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "aol.com",
    "gmx.de",
    "web.de",
    "mail.ru",
    "yandex.ru",
    "comcast.net",
    "att.net",
    "orange.fr",
    "free.fr",
    "libero.it",
    "t-online.de",
    "btinternet.com",
    "qq.com",
    "163.com",
    "naver.com",
    "seznam.cz",
    "wp.pl",
    "interia.pl",
    "virgilio.it",
    "laposte.net",
    "sfr.fr",
    "verizon.net",
    "cox.net",
    "shaw.ca",
    "bigpond.com",
    "rediffmail.com",
];
const SYLLABLES: &[&str] = &[
    "tech", "home", "garden", "north", "blue", "star", "metro", "alpha", "green", "solar", "prime",
    "auto", "craft", "law", "dental", "media", "print", "farm", "travel", "build",
];

fn spam_domain(rng: &mut ChaCha8Rng, i: u64) -> String {
    if i < MAIL_DOMAINS.len() as u64 && rng.gen_bool(0.5) {
        return MAIL_DOMAINS[rng.gen_range(0..MAIL_DOMAINS.len())].to_string();
    }
    let tld = [
        "com", "net", "de", "co.uk", "fr", "it", "org", "nl", "pl", "com.br",
    ][rng.gen_range(0..10)];
    format!(
        "{}{}{}.{tld}",
        SYLLABLES[rng.gen_range(0..SYLLABLES.len())],
        SYLLABLES[rng.gen_range(0..SYLLABLES.len())],
        rng.gen_range(1..99)
    )
}

pub(crate) fn spam(ctx: &mut Ctx, s: &Setup, w: Window) {
    let r = ctx.plan_rng();
    let mean_gap = r.gen_range(2.0..15.0);
    let dur = secs_f(r, 60.0, 900.0);
    let stop = (w.onset + dur).min(w.stop);
    let public_dns = r.gen_bool(0.25);
    let dev = s.dev;
    let tag = ctx.behaviour(
        s.idx,
        BehaviourMeta {
            kind: Behaviour::Spam,
            variant: "smtp-direct".into(),
            target: "mx-hosts".into(),
            targets: vec![],
            dst_ports: vec![25],
            rate_pps: 0.0,
            notes: format!("direct-to-MX SMTP, one session every ~{mean_gap:.0} s to a different domain, MX lookup via {}; outcomes mix accept / 550 / 451 greylist / 554 blocklisted / no answer", if public_dns { "8.8.8.8" } else { "the router" }),
        },
    );
    let rng = ctx.rng();
    let mut i = 0u64;
    ctx.add(periodic(w.onset, rng, move |rng, sink| {
        let now = sink.now();
        if now >= stop {
            return None;
        }
        let domain = spam_domain(rng, i);
        i += 1;
        let mx = format!("mx{}.{}", rng.gen_range(1..3), domain);
        let server = dev.world.host_in(world::MAIL, rng);
        let t = if public_dns {
            // Straight to a public resolver, bypassing the router's.
            let id: u16 = rng.gen();
            let sport = rng.gen_range(32768..60999);
            let resolver = [8, 8, 8, 8];
            sink.push(
                now,
                net::udp(
                    &dev.out(rng, resolver),
                    sport,
                    53,
                    &dns::query(id, &domain, dns::MX),
                ),
                tag,
            );
            let a = dns::answer(
                id,
                &domain,
                dns::MX,
                dns::NOERROR,
                &[dns::Rr::new(&domain, 3600, dns::Rdata::Mx(10, &mx))],
            );
            let rtt = rng.gen_range(5 * MS..30 * MS);
            sink.push(
                now + rtt,
                net::udp(&dev.inbound(rng, resolver, 120), 53, sport, &a),
                tag,
            );
            let id: u16 = rng.gen();
            let t2 = now + rtt + MS;
            sink.push(
                t2,
                net::udp(
                    &dev.out(rng, resolver),
                    sport.wrapping_add(1),
                    53,
                    &dns::query(id, &mx, dns::A),
                ),
                tag,
            );
            let a = dns::answer(
                id,
                &mx,
                dns::A,
                dns::NOERROR,
                &[dns::Rr::new(&mx, 300, dns::Rdata::A(server))],
            );
            sink.push(
                t2 + rtt,
                net::udp(
                    &dev.inbound(rng, resolver, 120),
                    53,
                    sport.wrapping_add(1),
                    &a,
                ),
                tag,
            );
            t2 + rtt + MS
        } else {
            let t = dev.dns_exchange(
                sink,
                rng,
                now,
                &domain,
                dns::MX,
                dns::NOERROR,
                &[dns::Rr::new(&domain, 3600, dns::Rdata::Mx(10, &mx))],
                tag,
            );
            dev.dns_exchange(
                sink,
                rng,
                t + MS,
                &mx,
                dns::A,
                dns::NOERROR,
                &[dns::Rr::new(&mx, 300, dns::Rdata::A(server))],
                tag,
            )
        };
        let outcome = match rng.gen_range(0..100) {
            0..=44 => Outcome::Accept,
            45..=64 => Outcome::RejectRcpt,
            65..=74 => Outcome::Greylist,
            75..=86 => Outcome::Blocked,
            87..=94 => Outcome::Silent,
            _ => Outcome::Refused,
        };
        let helo = match rng.gen_range(0..4) {
            0 => format!("[{}]", fmt_ip(&dev.ip)),
            1 => "localhost".to_string(),
            2 => format!(
                "{}.{}",
                SYLLABLES[rng.gen_range(0..SYLLABLES.len())],
                MAIL_DOMAINS[rng.gen_range(0..MAIL_DOMAINS.len())]
            ),
            _ => format!("USER-{:06X}", rng.gen::<u32>() & 0xff_ffff),
        };
        let from = format!(
            "{}{}@{}",
            SYLLABLES[rng.gen_range(0..SYLLABLES.len())],
            rng.gen_range(1..999),
            spam_domain(rng, 99)
        );
        let rcpts: Vec<String> = (0..rng.gen_range(1..5))
            .map(|k| {
                format!(
                    "{}{}@{domain}",
                    ["info", "sales", "john", "maria", "admin", "contact"][rng.gen_range(0..6)],
                    k
                )
            })
            .collect();
        let arg0_10 = rng.gen_range(1_500..8_000);
        mail::smtp(
            &dev, sink, rng, t, server, &mx, &helo, &from, &rcpts, outcome, arg0_10, tag,
        );
        // Poisson arrivals: bots run several sessions at once now and then.
        let g = -mean_gap * (1.0 - rng.gen::<f64>()).ln();
        Some(now + (g.max(0.2) * SEC as f64) as Micros)
    }));
}

// ------------------------------------------------------------- brute force

#[allow(clippy::too_many_arguments)]
fn ssh_attempt(
    dev: &Dev,
    sink: &mut Sink,
    rng: &mut ChaCha8Rng,
    t: Micros,
    ip: Ip,
    port: u16,
    tag: u32,
    client_banner: &str,
) {
    let e = dev.endpoints(rng, ip, port);
    let mut f = Flow::new(rng, &e, t, tag);
    f.connect(sink, rng);
    f.send(
        sink,
        Side::Server,
        b"SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3\r\n",
        rng.gen_range(5 * MS..100 * MS),
    );
    f.send(
        sink,
        Side::Client,
        client_banner.as_bytes(),
        rng.gen_range(MS..20 * MS),
    );
    let mut kex = vec![0u8; rng.gen_range(900..1_500)];
    rng.fill_bytes(&mut kex);
    kex[5] = 20; // SSH_MSG_KEXINIT
    f.send(sink, Side::Server, &kex, rng.gen_range(MS..10 * MS));
    let mut ckex = vec![0u8; rng.gen_range(600..1_100)];
    rng.fill_bytes(&mut ckex);
    ckex[5] = 20;
    f.send(sink, Side::Client, &ckex, rng.gen_range(MS..10 * MS));
    let mut dh = vec![0u8; 48];
    rng.fill_bytes(&mut dh);
    f.send(sink, Side::Client, &dh, rng.gen_range(MS..5 * MS));
    let mut reply = vec![0u8; rng.gen_range(500..1_100)];
    rng.fill_bytes(&mut reply);
    f.send(sink, Side::Server, &reply, rng.gen_range(2 * MS..20 * MS));
    // NEWKEYS, service request, then one or more password tries.
    for _ in 0..rng.gen_range(1..4) {
        let mut a = vec![0u8; rng.gen_range(80..140)];
        rng.fill_bytes(&mut a);
        f.send(sink, Side::Client, &a, rng.gen_range(MS..30 * MS));
        let mut n = vec![0u8; 52];
        rng.fill_bytes(&mut n);
        f.send(sink, Side::Server, &n, rng.gen_range(200 * MS..2 * SEC));
    }
    if rng.gen_bool(0.7) {
        f.close(sink, Side::Client, rng.gen_range(MS..20 * MS));
    } else {
        f.close(sink, Side::Server, rng.gen_range(MS..20 * MS));
    }
}

pub(crate) fn brute_force(ctx: &mut Ctx, s: &Setup, w: Window) {
    let r = ctx.plan_rng();
    let telnet = r.gen_bool(0.55);
    let port = if telnet {
        [23u16, 23, 2323][r.gen_range(0..3)]
    } else {
        [22u16, 22, 2222][r.gen_range(0..3)]
    };
    let target = if r.gen_bool(0.3) {
        world::documentation_ip(r)
    } else {
        s.dev.world.hosting(r)
    };
    let rate = log_uniform(r, 0.3, 5.0);
    let dur = secs_f(r, 30.0, 600.0);
    let stop = (w.onset + dur).min(w.stop);
    let banner = [
        "SSH-2.0-Go\r\n",
        "SSH-2.0-libssh2_1.9.0\r\n",
        "SSH-2.0-PUTTY\r\n",
        "SSH-2.0-libssh_0.9.6\r\n",
    ][r.gen_range(0..4)];
    let dev = s.dev;
    let tag = ctx.behaviour(
        s.idx,
        BehaviourMeta {
            kind: Behaviour::BruteForce,
            variant: if telnet { "telnet".into() } else { "ssh".into() },
            target: format!("{}:{port}", fmt_ip(&target)),
            targets: vec![fmt_ip(&target)],
            dst_ports: vec![port],
            rate_pps: rate,
            notes: format!("{rate:.2} login attempts/s, one short connection each (handshake, {} exchange, close)", if telnet { "telnet login/password" } else { "SSH banner/KEX/password" }),
        },
    );
    let rng = ctx.rng();
    ctx.add(periodic(w.onset, rng, move |rng, sink| {
        let now = sink.now();
        if now >= stop {
            return None;
        }
        if telnet {
            telnet_attempt(&dev, sink, rng, now, target, port, tag, false);
        } else {
            ssh_attempt(&dev, sink, rng, now, target, port, tag, banner);
        }
        Some(now + gap(rng, rate))
    }));
}

// --------------------------------------------------------------------- C2

/// Mirai bot <-> CNC channel on TCP 23: hello with the bot id, two-byte
/// keep-alives every minute, attack commands just before each flood.
pub(crate) fn c2(ctx: &mut Ctx, s: &Setup, start: Micros, commands: Vec<Micros>) {
    let dev = s.dev;
    let r = ctx.plan_rng();
    let domain = format!(
        "{}{}.{}",
        SYLLABLES[r.gen_range(0..SYLLABLES.len())],
        r.gen_range(10..999),
        ["duckdns.org", "ddns.net", "xyz", "top"][r.gen_range(0..4)]
    );
    let cnc = s.dev.world.hosting(r);
    let tag = ctx.activity(s.idx, "c2", format!("{}:23", fmt_ip(&cnc)), 0.0, format!("Mirai-style CNC channel to {domain} on TCP 23: keep-alives every 60 s and attack commands"));
    let rng = ctx.rng();
    let mut flow: Option<Flow> = None;
    let mut cmds = commands.into_iter().peekable();
    let mut next_ka = 0;
    ctx.add(periodic(start, rng, move |rng, sink| {
        let now = sink.now();
        match flow.as_mut() {
            None => {
                let t = dev.dns_exchange(
                    sink,
                    rng,
                    now,
                    &domain,
                    dns::A,
                    dns::NOERROR,
                    &[dns::Rr::new(&domain, 60, dns::Rdata::A(cnc))],
                    tag,
                );
                let e = dev.endpoints(rng, cnc, 23);
                let mut f = Flow::new(rng, &e, t, tag);
                f.connect(sink, rng);
                f.send(
                    sink,
                    Side::Client,
                    &[0, 0, 0, 1],
                    rng.gen_range(MS..10 * MS),
                );
                f.send(sink, Side::Client, &[0], 0);
                f.idle(sink, 0);
                flow = Some(f);
                next_ka = now + 60 * SEC;
            }
            Some(f) => {
                f.t = f.t.max(now);
                if cmds.peek().is_some_and(|&c| c <= now) {
                    cmds.next();
                    let mut cmd = vec![0u8; rng.gen_range(20..60)];
                    rng.fill_bytes(&mut cmd);
                    let l = cmd.len() as u16;
                    cmd[..2].copy_from_slice(&l.to_be_bytes());
                    f.send(sink, Side::Server, &cmd, 0);
                } else {
                    f.send(sink, Side::Client, &[0, 0], 0);
                    f.send(sink, Side::Server, &[0, 0], rng.gen_range(MS..20 * MS));
                    next_ka = now + 60 * SEC;
                }
                f.idle(sink, 0);
            }
        }
        let next = cmds.peek().map_or(next_ka, |&c| c.min(next_ka));
        Some(next.max(now + 1))
    }));
}

#[allow(dead_code)]
fn unused(_: Stack, _: u8, _: u8) {
    let _ = (PSH, NO_TAG);
}
