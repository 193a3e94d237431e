//! Benign device behaviour, per profile. Light background traffic is
//! untagged; the high-volume or otherwise detector-relevant benign cases are
//! tagged as labelled *activities* so an evaluation can name the benign case
//! behind a false positive.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::bulk::{Bulk, Pattern};
use crate::catalog::Profile;
use crate::ctx::Ctx;
use crate::device::Dev;
use crate::engine::{periodic, Gen, Micros, Sink, MS, NO_TAG, SEC};
use crate::mail;
use crate::net::{self, fmt_ip, Ip, Mac, BROADCAST};
use crate::proto::{dns, tls};
use crate::tcp::{Flow, Side};
use crate::world;

/// Where one device sits in the plan.
#[derive(Clone, Copy)]
pub(crate) struct Setup {
    pub idx: usize,
    pub dev: Dev,
    /// When its DHCP exchange starts.
    pub boot: Micros,
    /// When it has an address and starts its normal traffic.
    pub ready: Micros,
    /// Whether it runs its high-volume benign activities.
    pub heavy: bool,
}

/// Per-device variety switches decided by the planner.
#[derive(Clone, Copy, Default)]
pub(crate) struct Options {
    /// Camera: RTP over UDP (true) or TCP upload.
    pub camera_rtp: bool,
    /// Laptop: keeps retrying an offline printer.
    pub printer: Option<(Ip, Mac)>,
    /// NAS: also relays mail through a port-25 smarthost.
    pub smarthost: bool,
}

fn secs(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> Micros {
    (rng.gen_range(lo..hi) * SEC as f64) as Micros
}

/// Traffic every device has: DHCP at boot, ARP, NTP, SSDP, mDNS and a
/// firmware check over plain HTTP for devices with a known User-Agent.
pub(crate) fn common(ctx: &mut Ctx, s: &Setup) {
    let dev = s.dev;
    let lease = [3600u32, 43_200, 86_400][ctx.plan_rng().gen_range(0..3)];
    let rng = ctx.rng();
    ctx.add(periodic(s.boot, rng, move |rng, sink| {
        dev.boot(sink, rng, sink.now(), NO_TAG, lease);
        None
    }));

    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 20.0, 120.0);
    ctx.add(periodic(first, rng, move |rng, sink| {
        dev.arp_refresh(sink, rng, sink.now(), NO_TAG);
        Some(sink.now() + secs(rng, 60.0, 300.0))
    }));

    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 0.5, 5.0);
    let ntp_period = secs(ctx.plan_rng(), 600.0, 3600.0);
    ctx.add(periodic(first, rng, move |rng, sink| {
        dev.ntp(sink, rng, sink.now(), NO_TAG);
        Some(sink.now() + ntp_period)
    }));

    if dev.id.ssdp_server.is_some() {
        let rng = ctx.rng();
        let first = s.ready + secs(ctx.plan_rng(), 1.0, 10.0);
        let period = secs(ctx.plan_rng(), 30.0, 180.0);
        ctx.add(periodic(first, rng, move |rng, sink| {
            dev.ssdp_notify(sink, rng, sink.now(), NO_TAG);
            Some(sink.now() + period + secs(rng, 0.0, 2.0))
        }));
    }

    if dev.id.mdns.is_some() {
        let rng = ctx.rng();
        let first = s.ready + secs(ctx.plan_rng(), 1.0, 5.0);
        let mut n = 0u32;
        ctx.add(periodic(first, rng, move |rng, sink| {
            dev.mdns(sink, rng, sink.now(), NO_TAG, None);
            n += 1;
            // Three start-up announcements one and two seconds apart, then
            // periodic refreshes.
            Some(
                sink.now()
                    + if n < 3 {
                        u64::from(n) * SEC
                    } else {
                        secs(rng, 60.0, 300.0)
                    },
            )
        }));
    }

    if let (Some(ua), false) = (
        dev.id.user_agent,
        matches!(
            dev.id.profile,
            Profile::Phone | Profile::Laptop | Profile::Tv
        ),
    ) {
        let rng = ctx.rng();
        let first = s.ready + secs(ctx.plan_rng(), 3.0, 60.0);
        ctx.add(periodic(first, rng, move |rng, sink| {
            firmware_check(&dev, sink, rng, sink.now(), ua);
            Some(sink.now() + secs(rng, 3000.0, 7200.0))
        }));
    }
}

/// Plain-HTTP firmware / config check, as busybox wget does it.
fn firmware_check(dev: &Dev, sink: &mut Sink, rng: &mut ChaCha8Rng, t: Micros, ua: &str) {
    let host = dev.id.cloud.last().copied().unwrap_or("update.example.net");
    let (ip, t) = dev.resolve(sink, rng, t, host, NO_TAG);
    let e = dev.endpoints(rng, ip, 80);
    let mut f = Flow::new(rng, &e, t, NO_TAG);
    f.connect(sink, rng);
    let req = format!(
        "GET /fw/{}/latest.xml HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        dev.id.model.replace(' ', "_")
    );
    f.send(
        sink,
        Side::Client,
        req.as_bytes(),
        rng.gen_range(MS..10 * MS),
    );
    let body = format!(
        "<?xml version=\"1.0\"?><firmware><model>{}</model><version>1.{}.{}</version></firmware>\n",
        dev.id.model,
        rng.gen_range(0..20),
        rng.gen_range(0..99)
    );
    let resp = format!("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    f.send(
        sink,
        Side::Server,
        resp.as_bytes(),
        rng.gen_range(MS..40 * MS),
    );
    f.close(sink, Side::Server, 0);
}

/// A long-lived TLS session (MQTT, push channel, camera signalling): open,
/// then keep-alives and occasional events both ways.
fn persistent(
    ctx: &mut Ctx,
    dev: Dev,
    start: Micros,
    host: &'static str,
    port: u16,
    keepalive: (f64, f64),
    event_p: f64,
) {
    let rng = ctx.rng();
    let mut flow: Option<Flow> = None;
    ctx.add(periodic(start, rng, move |rng, sink| {
        let now = sink.now();
        match flow.as_mut() {
            None => {
                let (ip, t) = dev.resolve(sink, rng, now, host, NO_TAG);
                let mut f = dev.tls_open(sink, rng, t, ip, port, host, NO_TAG);
                // MQTT CONNECT / CONNACK (or the vendor's equivalent hello).
                let arg12_3 = rng.gen_range(60..300);
                let arg12_4 = rng.gen_range(4..120);
                let arg12_5 = rng.gen_range(MS..10 * MS);
                dev.tls_exchange(sink, rng, &mut f, arg12_3, arg12_4, arg12_5);
                f.idle(sink, 0);
                flow = Some(f);
            }
            Some(f) => {
                f.t = f.t.max(now);
                let r: f64 = rng.gen();
                if r < event_p {
                    // Device publishes a state change; broker acknowledges.
                    let arg11_3 = rng.gen_range(40..600);
                    dev.tls_exchange(sink, rng, f, arg11_3, 4, 0);
                } else if r < event_p * 1.5 {
                    // Cloud pushes a command; device acknowledges.
                    let arg10_1 = rng.gen_range(40..400);
                    let cmd = tls::app_data(rng, arg10_1);
                    f.send(sink, Side::Server, &cmd, 0);
                    let arg9_1 = rng.gen_range(4..60);
                    let ack = tls::app_data(rng, arg9_1);
                    f.send(sink, Side::Client, &ack, rng.gen_range(MS..30 * MS));
                } else {
                    // PINGREQ / PINGRESP.
                    dev.tls_exchange(sink, rng, f, 2, 2, 0);
                }
                f.idle(sink, 0);
            }
        }
        Some(now + secs(rng, keepalive.0, keepalive.1))
    }));
}

// ------------------------------------------------------------------ camera

pub(crate) fn camera(ctx: &mut Ctx, s: &Setup, o: &Options) {
    let (heavy_share, cap_end) = (ctx.heavy_share as f64, ctx.end);
    let dev = s.dev;
    let signal = dev.id.cloud.get(1).copied().unwrap_or(dev.id.cloud[0]);
    let start = s.ready + secs(ctx.plan_rng(), 1.0, 8.0);
    persistent(ctx, dev, start, signal, 443, (20.0, 90.0), 0.1);

    if !s.heavy {
        // Event snapshots: a still image uploaded on motion.
        let rng = ctx.rng();
        let first = s.ready + secs(ctx.plan_rng(), 10.0, 120.0);
        let host = dev.id.cloud[0];
        let port = dev.id.cloud_port;
        ctx.add(periodic(first, rng, move |rng, sink| {
            let (ip, t) = dev.resolve(sink, rng, sink.now(), host, NO_TAG);
            let mut f = dev.tls_open(sink, rng, t, ip, port, host, NO_TAG);
            let arg8_3 = rng.gen_range(40_000..300_000);
            let arg8_4 = rng.gen_range(100..600);
            let arg8_5 = rng.gen_range(MS..10 * MS);
            dev.tls_exchange(sink, rng, &mut f, arg8_3, arg8_4, arg8_5);
            dev.tls_close(sink, rng, &mut f, Side::Client);
            Some(sink.now() + secs(rng, 30.0, 240.0))
        }));
        return;
    }

    let r = ctx.plan_rng();
    let mbps = r.gen_range(1.5..8.0);
    let bps = (mbps * 1e6) as u64;
    let start = s.ready + secs(r, 5.0, 30.0);
    let pps = bps as f64 / 8.0 / 1_250.0;
    let budget_s = heavy_share / (pps * if o.camera_rtp { 1.02 } else { 1.5 });
    let stop = (start + (budget_s * SEC as f64) as Micros).min(cap_end);
    let relay = format!(
        "relay-{}.{}",
        ["eu", "us", "ap"][r.gen_range(0..3)],
        dev.id.cloud[0]
            .split_once('.')
            .map_or(dev.id.cloud[0], |x| x.1)
    );
    let server = dev.world.resolve(&relay);
    if o.camera_rtp {
        let tag = ctx.activity(
            s.idx,
            "video-upload-rtp",
            fmt_ip(&server),
            pps,
            format!(
                "RTP/UDP H.264 to one cloud relay at {mbps:.1} Mbit/s, RTCP every ~5 s both ways"
            ),
        );
        let rng = ctx.rng();
        let r = ctx.plan_rng();
        let g = Rtp {
            dev,
            server,
            server_ttl: world::remote_ttl(r),
            rtt: world::remote_rtt(r),
            sport: r.gen_range(5000..30000) & !1,
            dport: r.gen_range(10000..60000) & !1,
            ssrc: r.gen(),
            seq: r.gen(),
            ts: r.gen(),
            fps: [15u32, 20, 25, 30][r.gen_range(0..4)],
            gop: r.gen_range(1..3),
            bps,
            frame: 0,
            next: Some(start),
            next_rtcp: start + 5 * SEC,
            stop,
            tag,
            rng,
        };
        ctx.add(Box::new(g));
    } else {
        let tag = ctx.activity(
            s.idx,
            "video-upload-tcp",
            fmt_ip(&server),
            pps * 1.5,
            format!("TLS/TCP video upload to one cloud server at {mbps:.1} Mbit/s"),
        );
        let rng = ctx.rng();
        ctx.add(Box::new(Bulk::new(
            dev,
            rng,
            tag,
            server,
            443,
            &relay,
            Side::Client,
            bps,
            start,
            stop,
            Pattern::Continuous,
        )));
    }
}

/// RTP video with sparse RTCP back: bursts of packets per video frame,
/// key frames several times larger.
struct Rtp {
    dev: Dev,
    server: Ip,
    server_ttl: u8,
    rtt: Micros,
    sport: u16,
    dport: u16,
    ssrc: u32,
    seq: u16,
    ts: u32,
    fps: u32,
    /// Seconds between key frames.
    gop: u32,
    bps: u64,
    frame: u64,
    next: Option<Micros>,
    next_rtcp: Micros,
    stop: Micros,
    tag: u32,
    rng: ChaCha8Rng,
}

impl Gen for Rtp {
    fn next_start(&self) -> Option<Micros> {
        self.next
    }

    fn step(&mut self, sink: &mut Sink) {
        let now = sink.now();
        if now >= self.stop {
            self.next = None;
            return;
        }
        let rng = &mut self.rng;
        let per_gop = u64::from(self.fps * self.gop);
        let key = self.frame.is_multiple_of(per_gop);
        // Key frame = 6 delta frames; average matches the bitrate.
        let unit = self.bps / 8 / u64::from(self.fps) * per_gop / (per_gop + 5);
        let size = if key { unit * 6 } else { unit } as f64 * rng.gen_range(0.7..1.3);
        let mut left = size as usize;
        let mut at = now;
        while left > 0 {
            let chunk = left.min(1_388);
            left -= chunk;
            let mut p = vec![0u8; 12 + chunk];
            p[0] = 0x80;
            p[1] = 96 | if left == 0 { 0x80 } else { 0 };
            p[2..4].copy_from_slice(&self.seq.to_be_bytes());
            p[4..8].copy_from_slice(&self.ts.to_be_bytes());
            p[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
            rand::RngCore::fill_bytes(rng, &mut p[12..]);
            self.seq = self.seq.wrapping_add(1);
            let l3 = self.dev.out(rng, self.server);
            sink.push(at, net::udp(&l3, self.sport, self.dport, &p), self.tag);
            at += rng.gen_range(40..250);
        }
        self.ts = self.ts.wrapping_add(90_000 / self.fps);
        self.frame += 1;
        if now >= self.next_rtcp {
            // Sender report from the camera, receiver report from the relay.
            let mut sr = vec![0x80, 200, 0, 6];
            sr.extend_from_slice(&self.ssrc.to_be_bytes());
            sr.extend_from_slice(&[0; 20]);
            rand::RngCore::fill_bytes(rng, &mut sr[8..16]);
            let l3 = self.dev.out(rng, self.server);
            sink.push(
                at,
                net::udp(&l3, self.sport + 1, self.dport + 1, &sr),
                self.tag,
            );
            let mut rr = vec![0x81, 201, 0, 7];
            rr.extend_from_slice(&rng.gen::<u32>().to_be_bytes());
            rr.extend_from_slice(&self.ssrc.to_be_bytes());
            rr.extend_from_slice(&[0; 20]);
            let l3 = self.dev.inbound(rng, self.server, self.server_ttl);
            sink.push(
                at + self.rtt,
                net::udp(&l3, self.dport + 1, self.sport + 1, &rr),
                self.tag,
            );
            self.next_rtcp = now + secs(rng, 4.0, 6.0);
        }
        let frame_gap = SEC / u64::from(self.fps);
        self.next = Some(now + frame_gap + rng.gen_range(0..2 * MS) - MS);
    }
}

// -------------------------------------------------------------- smart plug

pub(crate) fn smart_plug(ctx: &mut Ctx, s: &Setup) {
    let dev = s.dev;
    let r = ctx.plan_rng();
    let period = r.gen_range(5.0..60.0);
    let host = dev.id.cloud[0];
    let port = dev.id.cloud_port;
    let server = dev.world.resolve(host);
    let tag = ctx.activity(
        s.idx,
        "cloud-heartbeat",
        format!("{}:{port}", fmt_ip(&server)),
        0.0,
        format!("new TLS connection to the vendor cloud every {period:.0} s (handshake, one status exchange, close)"),
    );
    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 1.0, 10.0);
    let mut n = 0u32;
    ctx.add(periodic(first, rng, move |rng, sink| {
        let now = sink.now();
        // The name is looked up again when the cached answer expires.
        let t = if n.is_multiple_of(10) {
            dev.resolve(sink, rng, now, host, tag).1
        } else {
            now
        };
        n += 1;
        let mut f = dev.tls_open(sink, rng, t, server, port, host, tag);
        for _ in 0..rng.gen_range(1..3) {
            let arg7_3 = rng.gen_range(90..450);
            let arg7_4 = rng.gen_range(60..400);
            let arg7_5 = rng.gen_range(MS..20 * MS);
            dev.tls_exchange(sink, rng, &mut f, arg7_3, arg7_4, arg7_5);
        }
        let arg6_3 = if rng.gen_bool(0.7) {
            Side::Client
        } else {
            Side::Server
        };
        dev.tls_close(sink, rng, &mut f, arg6_3);
        Some(now + ((period * rng.gen_range(0.9..1.1)) * SEC as f64) as Micros)
    }));

    if dev.id.stack == crate::tcp::Stack::Lwip {
        // Tuya-style LAN discovery beacon: encrypted JSON to UDP 6667.
        let rng = ctx.rng();
        let first = s.ready + secs(ctx.plan_rng(), 0.5, 5.0);
        ctx.add(periodic(first, rng, move |rng, sink| {
            let mut l3 = dev.out(rng, [255; 4]);
            l3.dst_mac = BROADCAST;
            l3.df = false;
            let mut p = vec![0u8; 172];
            p[..4].copy_from_slice(&[0, 0, 0x55, 0xaa]);
            rand::RngCore::fill_bytes(rng, &mut p[4..168]);
            p[168..].copy_from_slice(&[0, 0, 0xaa, 0x55]);
            sink.push(sink.now(), net::udp(&l3, 6667, 6667, &p), NO_TAG);
            Some(sink.now() + 5 * SEC + rng.gen_range(0..50 * MS))
        }));
    }
}

// --------------------------------------------------------------------- hub

pub(crate) fn hub(ctx: &mut Ctx, s: &Setup) {
    let dev = s.dev;
    let start = s.ready + secs(ctx.plan_rng(), 1.0, 6.0);
    persistent(ctx, dev, start, dev.id.cloud[0], 8883, (15.0, 60.0), 0.35);
    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 30.0, 300.0);
    let diag = dev.id.cloud.get(1).copied().unwrap_or(dev.id.cloud[0]);
    ctx.add(periodic(first, rng, move |rng, sink| {
        let (ip, t) = dev.resolve(sink, rng, sink.now(), diag, NO_TAG);
        let mut f = dev.tls_open(sink, rng, t, ip, 443, diag, NO_TAG);
        let arg5_3 = rng.gen_range(500..4000);
        let arg5_4 = rng.gen_range(100..500);
        dev.tls_exchange(sink, rng, &mut f, arg5_3, arg5_4, 0);
        dev.tls_close(sink, rng, &mut f, Side::Client);
        Some(sink.now() + secs(rng, 300.0, 900.0))
    }));
}

// ------------------------------------------------------- browsing (phone/pc)

const SITES: &[&[&str]] = &[
    &[
        "www.google.com",
        "www.gstatic.com",
        "fonts.gstatic.com",
        "apis.google.com",
    ],
    &[
        "www.youtube.com",
        "i.ytimg.com",
        "yt3.ggpht.com",
        "www.googleapis.com",
        "rr4---sn-4g5e6nz7.googlevideo.com",
    ],
    &[
        "en.wikipedia.org",
        "upload.wikimedia.org",
        "meta.wikimedia.org",
    ],
    &[
        "www.bbc.co.uk",
        "static.files.bbci.co.uk",
        "ichef.bbci.co.uk",
        "nav.files.bbci.co.uk",
    ],
    &[
        "www.nytimes.com",
        "static01.nyt.com",
        "a.et.nytimes.com",
        "securepubads.g.doubleclick.net",
    ],
    &[
        "www.reddit.com",
        "www.redditstatic.com",
        "styles.redditmedia.com",
        "i.redd.it",
        "preview.redd.it",
    ],
    &[
        "www.amazon.com",
        "m.media-amazon.com",
        "images-na.ssl-images-amazon.com",
        "fls-na.amazon.com",
    ],
    &[
        "github.com",
        "github.githubassets.com",
        "avatars.githubusercontent.com",
        "api.github.com",
    ],
    &["stackoverflow.com", "cdn.sstatic.net", "i.sstatic.net"],
    &[
        "www.theguardian.com",
        "assets.guim.co.uk",
        "i.guim.co.uk",
        "interactive.guim.co.uk",
    ],
    &[
        "www.spiegel.de",
        "cdn.prod.www.spiegel.de",
        "www.googletagmanager.com",
    ],
    &[
        "www.instagram.com",
        "static.cdninstagram.com",
        "scontent.cdninstagram.com",
        "graph.instagram.com",
    ],
    &[
        "weather.com",
        "s.w-x.co",
        "cdn.jsdelivr.net",
        "www.google-analytics.com",
    ],
    &["www.ebay.com", "ir.ebaystatic.com", "i.ebayimg.com"],
    &[
        "outlook.office.com",
        "res.cdn.office.net",
        "login.microsoftonline.com",
    ],
    &["discord.com", "cdn.discordapp.com", "gateway.discord.gg"],
    &["medium.com", "cdn-static-1.medium.com", "miro.medium.com"],
    &[
        "www.netflix.com",
        "assets.nflxext.com",
        "occ-0-2794-2219.1.nflxso.net",
    ],
];

/// One page visit: lookups, a handful of TLS connections with a few
/// request/response rounds, closes of every kind, a few failures.
fn page_visit(dev: &Dev, sink: &mut Sink, rng: &mut ChaCha8Rng, t: Micros, tag: u32) {
    let site = SITES[rng.gen_range(0..SITES.len())];
    let n = rng.gen_range(1..=site.len());
    let mut at = t;
    for (i, name) in site.iter().take(n).enumerate() {
        let (ip, ready) = dev.resolve(sink, rng, at, name, tag);
        at += rng.gen_range(MS..40 * MS);
        for c in 0..rng.gen_range(1..3) {
            let start = ready + c * rng.gen_range(MS..20 * MS);
            let port = if rng.gen_bool(0.04) { 80 } else { 443 };
            let e = dev.endpoints(rng, ip, port);
            let mut f = Flow::new(rng, &e, start, tag);
            let fail: f64 = rng.gen();
            if fail < 0.03 {
                // Tracker blocked upstream / dead host: SYN goes unanswered.
                f.connect_silent(sink, rng.gen_range(2..4));
                continue;
            } else if fail < 0.05 {
                f.connect_refused(sink);
                continue;
            }
            if port == 80 {
                f.connect(sink, rng);
                let ua = dev.id.user_agent.unwrap_or("Mozilla/5.0");
                let req = format!(
                    "GET / HTTP/1.1\r\nHost: {name}\r\nUser-Agent: {ua}\r\nAccept: */*\r\n\r\n"
                );
                f.send(
                    sink,
                    Side::Client,
                    req.as_bytes(),
                    rng.gen_range(MS..5 * MS),
                );
                f.send(sink, Side::Server, b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://example/\r\nContent-Length: 0\r\n\r\n", rng.gen_range(MS..30 * MS));
                f.close(sink, Side::Client, rng.gen_range(MS..50 * MS));
                continue;
            }
            let mut f = dev.tls_open(sink, rng, start, ip, 443, name, tag);
            let rounds = rng.gen_range(1..6);
            for r in 0..rounds {
                let down = if i == 0 && r == 0 {
                    rng.gen_range(20_000..150_000)
                } else {
                    rng.gen_range(500..40_000)
                };
                let arg4_3 = rng.gen_range(300..1500);
                let arg4_5 = rng.gen_range(MS..150 * MS);
                dev.tls_exchange(sink, rng, &mut f, arg4_3, down, arg4_5);
            }
            match rng.gen_range(0..10) {
                0..=5 => dev.tls_close(sink, rng, &mut f, Side::Client),
                6..=7 => dev.tls_close(sink, rng, &mut f, Side::Server),
                _ => {
                    // Kept alive, then torn down after idling.
                    f.idle(sink, secs(rng, 2.0, 20.0));
                    f.reset(sink, Side::Client, 0);
                }
            }
        }
    }
}

fn browsing(ctx: &mut Ctx, s: &Setup) {
    let dev = s.dev;
    let tag = ctx.activity(
        s.idx,
        "browsing",
        "many".into(),
        0.0,
        "web browsing: many DNS names, many short TLS connections, ~5% failed connection attempts"
            .into(),
    );
    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 2.0, 30.0);
    let mut active_until = 0;
    ctx.add(periodic(first, rng, move |rng, sink| {
        let now = sink.now();
        if now >= active_until {
            // Alternate reading sessions with idle stretches.
            active_until = now + secs(rng, 30.0, 300.0);
            if rng.gen_bool(0.4) {
                return Some(now + secs(rng, 20.0, 300.0));
            }
        }
        page_visit(&dev, sink, rng, now, tag);
        Some(now + secs(rng, 3.0, 40.0))
    }));
}

// ------------------------------------------------------------------- phone

pub(crate) fn phone(ctx: &mut Ctx, s: &Setup) {
    let dev = s.dev;
    browsing(ctx, s);
    let start = s.ready + secs(ctx.plan_rng(), 1.0, 5.0);
    persistent(
        ctx,
        dev,
        start,
        dev.id.cloud[0],
        dev.id.cloud_port,
        (240.0, 900.0),
        0.2,
    );
    control_point(ctx, s);
    if s.heavy {
        video_call(ctx, s);
    }
}

/// SSDP searches and mDNS queries of a phone / TV / laptop looking for
/// cast targets and printers.
fn control_point(ctx: &mut Ctx, s: &Setup) {
    let dev = s.dev;
    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 2.0, 60.0);
    ctx.add(periodic(first, rng, move |rng, sink| {
        let now = sink.now();
        dev.ssdp_search(sink, rng, now, NO_TAG);
        let q = [
            "_googlecast._tcp.local",
            "_airplay._tcp.local",
            "_spotify-connect._tcp.local",
            "_ipp._tcp.local",
        ][rng.gen_range(0..4)];
        let arg3_2 = now + rng.gen_range(MS..500 * MS);
        dev.mdns(sink, rng, arg3_2, NO_TAG, Some(q));
        Some(now + secs(rng, 60.0, 400.0))
    }));
}

/// Video call: RTP/SRTP over UDP both ways with one relay, 50-300 pps each.
fn video_call(ctx: &mut Ctx, s: &Setup) {
    let (heavy_share, cap_end) = (ctx.heavy_share as f64, ctx.end);
    let dev = s.dev;
    let r = ctx.plan_rng();
    let (relay, port) = if r.gen_bool(0.5) {
        (dev.world.resolve("meet-relay.l.google.com"), 19305)
    } else {
        ([157, 240, r.gen_range(0..255), r.gen_range(1..255)], 3478)
    };
    let up = r.gen_range(50.0..300.0);
    let down = r.gen_range(50.0..300.0);
    let span = cap_end.saturating_sub(s.ready + 10 * SEC);
    let r = ctx.plan_rng();
    let dur = secs(r, 60.0, 600.0).min(span);
    let start = s.ready + 10 * SEC + r.gen_range(0..=span.saturating_sub(dur).max(1));
    let budget_s = heavy_share / (up + down);
    let stop = (start + dur).min(start + (budget_s * SEC as f64) as Micros);
    let sport = r.gen_range(30000..60000);
    let ttl = world::remote_ttl(r);
    let rtt = world::remote_rtt(r);
    let tag = ctx.activity(
        s.idx,
        "video-call",
        format!("{}:{port}", fmt_ip(&relay)),
        up + down,
        format!("UDP media with one relay: {up:.0} pps up, {down:.0} pps down"),
    );
    for outbound in [true, false] {
        let pps = if outbound { up } else { down };
        let rng = ctx.rng();
        let mut stun_done = false;
        ctx.add(periodic(
            start + if outbound { 0 } else { rtt },
            rng,
            move |rng, sink| {
                let now = sink.now();
                if now >= stop {
                    return None;
                }
                let len = if rng.gen_bool(0.3) {
                    rng.gen_range(60..220)
                } else {
                    rng.gen_range(700..1_200)
                };
                let mut p = vec![0u8; len];
                rand::RngCore::fill_bytes(rng, &mut p);
                if !stun_done && outbound {
                    // STUN binding request opens the path.
                    p.truncate(20);
                    p[..4].copy_from_slice(&[0, 1, 0, 0]);
                    p[4..8].copy_from_slice(&0x2112_a442u32.to_be_bytes());
                    stun_done = true;
                } else {
                    p[0] = 0x80;
                    p[1] = 111;
                }
                let f = if outbound {
                    net::udp(&dev.out(rng, relay), sport, port, &p)
                } else {
                    net::udp(&dev.inbound(rng, relay, ttl), port, sport, &p)
                };
                sink.push(now, f, tag);
                let gap = SEC as f64 / pps;
                Some(now + (gap * rng.gen_range(0.5..1.5)) as Micros)
            },
        ));
    }
}

// ------------------------------------------------------------------ laptop

pub(crate) fn laptop(ctx: &mut Ctx, s: &Setup, o: &Options) {
    let dev = s.dev;
    browsing(ctx, s);
    control_point(ctx, s);
    let start = s.ready + secs(ctx.plan_rng(), 1.0, 5.0);
    persistent(ctx, dev, start, dev.id.cloud[0], 443, (120.0, 600.0), 0.3);
    if s.heavy {
        let host = if dev.id.stack == crate::tcp::Stack::Apple {
            "p45-content.icloud.com"
        } else {
            "bn1304files.storage.live.com"
        };
        backup(ctx, s, host, (20.0, 200.0));
    }
    if let Some((ip, mac)) = o.printer {
        printer_retry(ctx, s, ip, mac);
    }
}

/// A backup upload to one server: 30-120 s at `mbps` range.
fn backup(ctx: &mut Ctx, s: &Setup, host: &str, mbps: (f64, f64)) {
    let (heavy_share, cap_end) = (ctx.heavy_share as f64, ctx.end);
    let dev = s.dev;
    let r = ctx.plan_rng();
    let rate = r.gen_range(mbps.0..mbps.1);
    let span = cap_end.saturating_sub(s.ready + 5 * SEC);
    let dur = secs(r, 30.0, 120.0).min(span);
    let start = s.ready + 5 * SEC + r.gen_range(0..=span.saturating_sub(dur).max(1));
    // Data segments plus one ACK per two segments.
    let pps = rate * 1e6 / 8.0 / 1_448.0 * 1.5;
    let budget_s = heavy_share / pps;
    let (rate, dur) = if (dur as f64 / SEC as f64) > budget_s && budget_s < 30.0 {
        // The frame budget cannot hold 30 s at this rate: keep the duration
        // realistic and lower the rate instead.
        let d = dur.min(30 * SEC);
        (rate * budget_s / (d as f64 / SEC as f64), d)
    } else {
        (rate, dur.min((budget_s * SEC as f64) as Micros))
    };
    let server = dev.world.resolve(host);
    let tag = ctx.activity(
        s.idx,
        "backup-upload",
        fmt_ip(&server),
        rate * 1e6 / 8.0 / 1_448.0,
        format!(
            "TLS upload to one server at {rate:.0} Mbit/s for {:.0} s",
            dur as f64 / SEC as f64
        ),
    );
    let rng = ctx.rng();
    ctx.add(Box::new(Bulk::new(
        dev,
        rng,
        tag,
        server,
        443,
        host,
        Side::Client,
        (rate * 1e6) as u64,
        start,
        start + dur,
        Pattern::Continuous,
    )));
}

/// The laptop keeps trying a printer that is switched off: SYNs to its
/// stale MAC, then ARP requests nobody answers.
fn printer_retry(ctx: &mut Ctx, s: &Setup, ip: Ip, mac: Mac) {
    let dev = s.dev;
    let tag = ctx.activity(
        s.idx,
        "printer-retry",
        fmt_ip(&ip),
        0.0,
        "connections to an offline LAN printer (9100/631/515) that fail, plus unanswered ARP"
            .into(),
    );
    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 5.0, 90.0);
    ctx.add(periodic(first, rng, move |rng, sink| {
        let now = sink.now();
        dev.mdns(sink, rng, now, tag, Some("_ipp._tcp.local"));
        let port = [9100u16, 631, 515][rng.gen_range(0..3)];
        let mut e = dev.endpoints(rng, ip, port);
        e.server_mac = mac;
        let arg2_2 = now + rng.gen_range(10 * MS..200 * MS);
        let mut f = Flow::new(rng, &e, arg2_2, tag);
        f.connect_silent(sink, 3);
        let mut at = f.t + SEC;
        for _ in 0..3 {
            sink.push(at, net::arp(BROADCAST, 1, dev.mac, dev.ip, [0; 6], ip), tag);
            at += SEC;
        }
        Some(now + secs(rng, 60.0, 300.0))
    }));
}

// ---------------------------------------------------------------------- TV

pub(crate) fn tv(ctx: &mut Ctx, s: &Setup) {
    let (heavy_share, cap_end) = (ctx.heavy_share as f64, ctx.end);
    let dev = s.dev;
    control_point(ctx, s);
    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 5.0, 60.0);
    let host = dev.id.cloud[1];
    ctx.add(periodic(first, rng, move |rng, sink| {
        let (ip, t) = dev.resolve(sink, rng, sink.now(), host, NO_TAG);
        let mut f = dev.tls_open(sink, rng, t, ip, 443, host, NO_TAG);
        let arg1_3 = rng.gen_range(800..6000);
        let arg1_4 = rng.gen_range(100..2000);
        dev.tls_exchange(sink, rng, &mut f, arg1_3, arg1_4, 0);
        dev.tls_close(sink, rng, &mut f, Side::Client);
        Some(sink.now() + secs(rng, 60.0, 300.0))
    }));
    if !s.heavy {
        return;
    }
    let r = ctx.plan_rng();
    let mbps = r.gen_range(3.0..16.0);
    let period = secs(r, 2.0, 6.0);
    let burst = r.gen_range(30.0..150.0);
    let netflix = r.gen_bool(0.5);
    let host = if netflix {
        format!(
            "ipv4-c{:03}-fra00{}-ix.1.oca.nflxvideo.net",
            r.gen_range(1..200),
            r.gen_range(1..9)
        )
    } else {
        format!(
            "rr{}---sn-4g5e6n{:02}.googlevideo.com",
            r.gen_range(1..6),
            r.gen_range(10..99)
        )
    };
    let start = s.ready + secs(r, 10.0, 60.0);
    let span = cap_end.saturating_sub(start);
    let dur = (span as f64 * r.gen_range(0.5..1.0)) as Micros;
    let pps = mbps * 1e6 / 8.0 / 1_448.0 * 1.5;
    let budget_s = heavy_share / pps;
    let stop = start + dur.min((budget_s * SEC as f64) as Micros);
    let server = dev.world.resolve(&host);
    let tag = ctx.activity(s.idx, "video-streaming", fmt_ip(&server), pps, format!("adaptive streaming download at {mbps:.1} Mbit/s average, segments every {:.1} s in {burst:.0} Mbit/s bursts", period as f64 / SEC as f64));
    let rng = ctx.rng();
    let seg_bytes = (mbps * 1e6 / 8.0 * period as f64 / SEC as f64) as usize;
    ctx.add(Box::new(Bulk::new(
        dev,
        rng,
        tag,
        server,
        443,
        &host,
        Side::Server,
        (mbps * 1e6) as u64,
        start,
        stop,
        Pattern::Segments {
            seg_bytes,
            period,
            burst_bps: (burst * 1e6) as u64,
        },
    )));
}

// --------------------------------------------------------------------- NAS

pub(crate) fn nas(ctx: &mut Ctx, s: &Setup, o: &Options) {
    let dev = s.dev;
    let start = s.ready + secs(ctx.plan_rng(), 1.0, 10.0);
    persistent(ctx, dev, start, dev.id.cloud[0], 443, (30.0, 120.0), 0.05);
    if !s.heavy {
        return;
    }
    backup(ctx, s, "s3.eu-central-003.backblazeb2.com", (10.0, 100.0));

    // Notifications and reports through ONE mail provider.
    let r = ctx.plan_rng();
    let (host, port) = [
        ("smtp.gmail.com", 587u16),
        ("smtp.gmail.com", 465),
        ("smtp.office365.com", 587),
        ("mail.gmx.net", 465),
    ][r.gen_range(0..4)];
    let server = dev.world.resolve(host);
    let tag = ctx.activity(s.idx, "mail-submission", format!("{}:{port}", fmt_ip(&server)), 0.0, format!("authenticated mail submission to one provider ({host}:{port}), batches of notifications"));
    let rng = ctx.rng();
    let first = s.ready + secs(ctx.plan_rng(), 10.0, 120.0);
    ctx.add(periodic(first, rng, move |rng, sink| {
        let mut t = sink.now();
        for _ in 0..rng.gen_range(1..8) {
            t = mail::submission(&dev, sink, rng, t, server, port, host, tag)
                + rng.gen_range(200 * MS..3 * SEC);
        }
        Some(sink.now() + secs(rng, 60.0, 400.0))
    }));

    if o.smarthost {
        let host = ["smtp.kabelmail.de", "mail.isp-relay.net", "relay.plus.net"]
            [ctx.plan_rng().gen_range(0..3)];
        let server = dev.world.resolve(host);
        let tag = ctx.activity(
            s.idx,
            "smarthost-relay",
            format!("{}:25", fmt_ip(&server)),
            0.0,
            format!("plain SMTP on port 25 to one ISP smarthost ({host})"),
        );
        let rng = ctx.rng();
        let first = s.ready + secs(ctx.plan_rng(), 10.0, 200.0);
        let helo = dev.hostname();
        ctx.add(periodic(first, rng, move |rng, sink| {
            let mut t = sink.now();
            for _ in 0..rng.gen_range(1..5) {
                let rcpt = ["admin@familie-meyer.de".to_string()];
                let arg0_10 = rng.gen_range(2_000..30_000);
                t = mail::smtp(
                    &dev,
                    sink,
                    rng,
                    t,
                    server,
                    host,
                    &helo,
                    "diskstation@familie-meyer.de",
                    &rcpt,
                    mail::Outcome::Accept,
                    arg0_10,
                    tag,
                ) + rng.gen_range(500 * MS..5 * SEC);
            }
            Some(sink.now() + secs(rng, 120.0, 600.0))
        }));
    }
}

/// Answer an ARP for a live host (used by the LAN sweep).
pub(crate) fn arp_reply(sink: &mut Sink, at: Micros, asker: (Mac, Ip), host: (Mac, Ip), tag: u32) {
    sink.push(
        at,
        net::arp(asker.0, 2, host.0, host.1, asker.0, asker.1),
        tag,
    );
}

#[allow(dead_code)]
pub(crate) fn dns_nodata(
    dev: &Dev,
    sink: &mut Sink,
    rng: &mut ChaCha8Rng,
    t: Micros,
    name: &str,
) -> Micros {
    dev.dns_exchange(sink, rng, t, name, dns::AAAA, dns::NOERROR, &[], NO_TAG)
}
