//! `Pipeline::process` allocates nothing per packet in steady state.
//!
//! A counting global allocator wraps the system one. After a warm-up (the
//! devices exist, their identities and address maps are filled), ordinary
//! traffic (TCP connections, UDP, DNS queries and answers, ICMP, ARP, and
//! the 31 real IoT Sentinel captures replayed) must cost zero allocations,
//! per-second detector work included.
//!
//! Set `WARDEN_ALLOC_BACKTRACE=1` to print where an unexpected allocation
//! came from.
//!
//! This file is the one place in the workspace with `unsafe`: implementing
//! `GlobalAlloc` requires `unsafe impl` (the trait's contract cannot be
//! checked by the compiler). The implementation only forwards to `System`
//! and bumps a thread-local counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use etherparse::PacketBuilder;
use warden_capture::{Frame, FrameSource, PcapFile};
use warden_decode::LinkType;
use warden_pipeline::{CollectOnly, Config, InputReport, Pipeline};

struct Counting;

thread_local! {
    // Const-initialised Cells: reading them never allocates.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static BACKTRACE: Cell<bool> = const { Cell::new(false) };
}

fn note_allocation() {
    // `try_with`: the thread-locals may be gone while a thread exits.
    if ARMED.try_with(Cell::get) == Ok(true) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        if BACKTRACE.try_with(Cell::get) == Ok(true) {
            // Disarm while printing: the backtrace allocates too.
            ARMED.set(false);
            eprintln!(
                "allocation in the hot path:\n{}",
                std::backtrace::Backtrace::force_capture()
            );
            ARMED.set(true);
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counter has no effect on
// the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    BACKTRACE.set(std::env::var_os("WARDEN_ALLOC_BACKTRACE").is_some());
    COUNT.set(0);
    ARMED.set(true);
    f();
    ARMED.set(false);
    COUNT.get()
}

const ROUTER_MAC: [u8; 6] = [0x00, 0x11, 0x32, 0xa0, 0x00, 0x01];
const ROUTER_IP: [u8; 4] = [192, 168, 1, 1];
const DEVICES: u8 = 64;
const CONNECTIONS: u8 = 8;

fn remote(d: u8, c: u8) -> [u8; 4] {
    [52 + c, 10 + d, 7, d.wrapping_mul(c) | 1]
}

fn dns_name(d: u8, c: u8) -> String {
    format!("api{c}.vendor{}.example.com", d % 5)
}

/// A DNS query (or, with `answer`, its response with one A record).
fn dns_payload(id: u16, name: &str, answer: Option<[u8; 4]>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if answer.is_some() {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some(a) = answer {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        m.extend_from_slice(&a);
    }
    m
}

fn pad(mut f: Vec<u8>) -> Vec<u8> {
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

/// One round of ordinary LAN traffic: per device, DNS lookups answered by
/// the router, TCP connections (handshake, data both ways, close) and UDP
/// exchanges with the looked-up addresses, a ping of the router and an
/// ARP request. Devices' frames are interleaved.
fn lan_round() -> Vec<Vec<u8>> {
    let mut per_device: Vec<Vec<Vec<u8>>> = Vec::new();
    for d in 0..DEVICES {
        let mac = [0x02, 0x57, 0x44, 0, 0, d];
        let ip = [192, 168, 1, 10 + d];
        let out = |dst: [u8; 4]| PacketBuilder::ethernet2(mac, ROUTER_MAC).ipv4(ip, dst, 64);
        let inb = |src: [u8; 4]| PacketBuilder::ethernet2(ROUTER_MAC, mac).ipv4(src, ip, 56);
        let mut frames = Vec::new();
        for c in 0..CONNECTIONS {
            let r = remote(d, c);
            let mut f = Vec::new();
            if c < 4 {
                let name = dns_name(d, c);
                let id = u16::from(d) << 8 | u16::from(c);
                out(ROUTER_IP)
                    .udp(50_000 + u16::from(c), 53)
                    .write(&mut f, &dns_payload(id, &name, None))
                    .unwrap();
                frames.push(pad(f));
                let mut f = Vec::new();
                inb(ROUTER_IP)
                    .udp(53, 50_000 + u16::from(c))
                    .write(&mut f, &dns_payload(id, &name, Some(r)))
                    .unwrap();
                frames.push(pad(f));
            }
            let port = [443, 80, 8883, 443][usize::from(c % 4)];
            let sport = 40_000 + u16::from(c);
            let (mut so, mut si) = (1000u32, 9000u32);
            let mut f = Vec::new();
            out(r)
                .tcp(sport, port, so, 64_000)
                .syn()
                .write(&mut f, &[])
                .unwrap();
            frames.push(pad(f));
            so += 1;
            let mut f = Vec::new();
            inb(r)
                .tcp(port, sport, si, 64_000)
                .syn()
                .ack(so)
                .write(&mut f, &[])
                .unwrap();
            frames.push(pad(f));
            si += 1;
            for k in 0..6u32 {
                let mut f = Vec::new();
                let body = [0x17u8; 200];
                let len = 20 + 90 * k as usize;
                let body = &body[..len.min(200)];
                if k % 2 == 0 {
                    out(r)
                        .tcp(sport, port, so, 64_000)
                        .ack(si)
                        .psh()
                        .write(&mut f, body)
                        .unwrap();
                    so += body.len() as u32;
                } else {
                    inb(r)
                        .tcp(port, sport, si, 64_000)
                        .ack(so)
                        .psh()
                        .write(&mut f, body)
                        .unwrap();
                    si += body.len() as u32;
                }
                frames.push(pad(f));
            }
            let mut f = Vec::new();
            out(r)
                .tcp(sport, port, so, 64_000)
                .ack(si)
                .fin()
                .write(&mut f, &[])
                .unwrap();
            frames.push(pad(f));
            let mut f = Vec::new();
            inb(r)
                .tcp(port, sport, si, 64_000)
                .ack(so + 1)
                .fin()
                .write(&mut f, &[])
                .unwrap();
            frames.push(pad(f));
            // A UDP exchange (NTP-like) with the same remote.
            for k in 0..2 {
                let mut f = Vec::new();
                if k == 0 {
                    out(r).udp(123, 123).write(&mut f, &[0x23; 48]).unwrap();
                } else {
                    inb(r).udp(123, 123).write(&mut f, &[0x24; 48]).unwrap();
                }
                frames.push(pad(f));
            }
        }
        let mut f = Vec::new();
        out(ROUTER_IP)
            .icmpv4_echo_request(d.into(), 1)
            .write(&mut f, &[0; 32])
            .unwrap();
        frames.push(pad(f));
        let mut f = Vec::new();
        inb(ROUTER_IP)
            .icmpv4_echo_reply(d.into(), 1)
            .write(&mut f, &[0; 32])
            .unwrap();
        frames.push(pad(f));
        // ARP: who has the router?
        let mut f = Vec::new();
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&mac);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&ROUTER_IP);
        frames.push(pad(f));
        per_device.push(frames);
    }
    // Interleave: one frame of each device in turn.
    let longest = per_device.iter().map(Vec::len).max().unwrap_or(0);
    let mut round = Vec::new();
    for i in 0..longest {
        for frames in &per_device {
            if let Some(f) = frames.get(i) {
                round.push(f.clone());
            }
        }
    }
    round
}

fn feed(p: &mut Pipeline, frames: &[Vec<u8>], ts: &mut i64, gap_ns: i64) {
    for f in frames {
        *ts += gap_ns;
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
}

#[test]
fn ordinary_lan_traffic_allocates_nothing_per_packet() {
    let round = lan_round();
    let mut p = Pipeline::new(&Config::default());
    // 20 µs apart: about 780 packets per second per device, so the
    // per-second flood judgement runs its full path, and a round spans
    // 0.17 s of capture time.
    let gap_ns = 20_000;
    let mut ts = 1_700_000_000_000_000_000i64;
    for _ in 0..3 {
        feed(&mut p, &round, &mut ts, gap_ns);
    }
    let rounds = 150;
    let n = allocations(|| {
        for _ in 0..rounds {
            feed(&mut p, &round, &mut ts, gap_ns);
        }
    });
    let frames = round.len() * rounds;
    let seconds = (frames as i64 * gap_ns) / 1_000_000_000;
    assert!(frames > 1_000_000, "{frames} frames");
    assert!(seconds >= 20, "{seconds} s of capture time");
    assert_eq!(
        n, 0,
        "{n} allocations over {frames} frames ({seconds} s of capture time)"
    );

    // The traffic was what it claims: every device seen and attributed,
    // and nothing alarming about it.
    p.finish(&mut CollectOnly);
    let report = p.report(InputReport::default());
    assert_eq!(report.stats.unattributed_frames, 0);
    assert!(report.stats.decode_errors.is_empty());
    let devices: Vec<_> = report
        .devices
        .iter()
        .filter(|d| d.mac.to_string().starts_with("02:57:44"))
        .collect();
    assert_eq!(devices.len(), usize::from(DEVICES));
    for d in &devices {
        assert!(d.alerts.is_empty(), "{}: {:?}", d.mac, d.alerts);
        assert!(d.packets_out > 100 * rounds as u64 / 2);
    }
    assert!(report.devices.iter().all(|d| d.alerts.is_empty()));
}

fn sentinel_frames() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/iot-sentinel");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("../shared/data/iot-sentinel (see .ci/run)")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .flat_map(|e| std::fs::read_dir(e.path()).unwrap().filter_map(Result::ok))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 31);
    let mut frames = Vec::new();
    for path in files {
        let mut src = PcapFile::open(&path).unwrap();
        src.run(&mut |f| {
            assert_eq!(f.link, LinkType::Ethernet);
            frames.push(f.data.to_vec());
        })
        .unwrap();
    }
    frames
}

#[test]
fn replayed_real_iot_traffic_allocates_nothing_once_identified() {
    // DHCP, DNS, mDNS, SSDP, HTTP and TLS of 31 real devices: the first
    // pass learns identities (that allocates, bounded); later passes of the
    // same traffic parse every payload again and must not allocate.
    let frames = sentinel_frames();
    assert!(frames.len() > 5_000);
    let mut p = Pipeline::new(&Config::default());
    let gap_ns = 1_000_000;
    let mut ts = 1_700_000_000_000_000_000i64;
    feed(&mut p, &frames, &mut ts, gap_ns);
    let n = allocations(|| {
        for _ in 0..4 {
            feed(&mut p, &frames, &mut ts, gap_ns);
        }
    });
    assert_eq!(n, 0, "{n} allocations over {} frames", 4 * frames.len());
    // Identification really ran on these frames.
    let report = p.report(InputReport::default());
    let named = report
        .devices
        .iter()
        .filter(|d| d.identity.hostname().is_some())
        .count();
    assert!(named >= 15, "{named} devices with a DHCP host name");
    // What a real device costs: fixed state plus its identity strings.
    let fp = p.footprint();
    let largest = p.devices().iter().map(|d| d.approx_bytes()).max().unwrap();
    println!(
        "{} real devices: {} bytes in all, {} on average, {largest} at most",
        fp.devices,
        fp.device_bytes,
        fp.device_bytes / fp.devices
    );
    // docs/architecture.md: fixed state plus at most ~22.8 KB of identity.
    assert!(largest < 32 * 1024, "{largest}");
}
