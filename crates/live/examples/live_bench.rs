//! Live-capture benchmark tool (see docs/live-capture.md and
//! crates/live/bench.sh, which runs it between two network namespaces).
//!
//! ```text
//! live_bench send IFACE SECONDS PPS SIZES   # PPS 0 = as fast as possible; SIZES min|mixed
//! live_bench recv IFACE SECONDS RING_BYTES [pipeline]
//! live_bench pcap FILE COUNT SIZES          # the same frames as a pcap, for tcpreplay
//! ```
//!
//! The sender writes whole Ethernet frames with a plain AF_PACKET socket and
//! sendmmsg (64 frames per call), paced to PPS when asked. Frames are IPv4
//! UDP from 16 LAN devices to public addresses, so the pipeline has real
//! work: devices, counters, detectors.

use std::io::{IoSlice, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::socket::{
    sendmmsg, socket, AddressFamily, LinkAddr, MsgFlags, MultiHeaders, SockFlag, SockType,
};
use warden_live::{LiveCapture, LiveConfig};

const BATCH: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str { args.get(i).map(String::as_str).unwrap_or_else(|| usage()) };
    match arg(0) {
        "send" => send(
            arg(1),
            secs(arg(2)),
            arg(3).parse().unwrap_or_else(|_| usage()),
            arg(4),
        ),
        "recv" => recv(
            arg(1),
            secs(arg(2)),
            arg(3).parse().unwrap_or_else(|_| usage()),
            args.get(4).is_some_and(|a| a == "pipeline"),
        ),
        "pcap" => pcap(arg(1), arg(2).parse().unwrap_or_else(|_| usage()), arg(3)),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: live_bench send IFACE SECONDS PPS min|mixed\n       live_bench recv IFACE SECONDS RING_BYTES [pipeline]\n       live_bench pcap FILE COUNT min|mixed"
    );
    std::process::exit(2)
}

fn secs(s: &str) -> Duration {
    Duration::from_secs_f64(s.parse().unwrap_or_else(|_| usage()))
}

/// Frame lengths (without the FCS) of one size set: the 60-byte minimum,
/// or the classic IMIX mix 7:4:1 of 60, 590 and 1514 bytes.
fn sizes(set: &str) -> Vec<usize> {
    match set {
        "min" => vec![60],
        "mixed" => [vec![60; 7], vec![590; 4], vec![1514]].concat(),
        _ => usage(),
    }
}

/// Frame `i`: IPv4/UDP from LAN device `i % 16` to a public address.
fn frame(i: usize, len: usize) -> Vec<u8> {
    let dev = (i % 16) as u8;
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[6..12].copy_from_slice(&[0x02, 0x11, 0x22, 0x33, 0x44, dev]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[192, 168, 1, 10 + dev]);
    ip[16..20].copy_from_slice(&[203, 0, 113, (i % 200) as u8 + 1]);
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&(40000 + (i % 1000) as u16).to_be_bytes());
    udp[2..4].copy_from_slice(&443u16.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

fn frames(set: &str) -> Vec<Vec<u8>> {
    let s = sizes(set);
    (0..BATCH * s.len())
        .map(|i| frame(i, s[i % s.len()]))
        .collect()
}

fn link_addr(iface: &str) -> LinkAddr {
    nix::ifaddrs::getifaddrs()
        .expect("getifaddrs")
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .unwrap_or_else(|| panic!("{iface}: no such interface"))
}

fn send(iface: &str, dur: Duration, pps: f64, set: &str) {
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("packet socket (run as root)");
    let to = link_addr(iface);
    let frames = frames(set);
    let batches: Vec<Vec<[IoSlice<'_>; 1]>> = frames
        .chunks(BATCH)
        .map(|c| c.iter().map(|f| [IoSlice::new(f)]).collect())
        .collect();
    let addrs = vec![Some(to); BATCH];
    let mut hdrs = MultiHeaders::<LinkAddr>::preallocate(BATCH, None);
    let (mut sent, mut bytes, mut full) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut b = 0;
    while start.elapsed() < dur {
        if pps > 0.0 {
            let due = (start.elapsed().as_secs_f64() * pps) as u64;
            if due < sent + BATCH as u64 {
                std::hint::spin_loop();
                continue;
            }
        }
        let batch = &batches[b % batches.len()];
        match sendmmsg(
            fd.as_raw_fd(),
            &mut hdrs,
            batch,
            &addrs,
            [],
            MsgFlags::empty(),
        ) {
            Ok(r) => {
                for m in r {
                    sent += 1;
                    bytes += m.bytes as u64;
                }
                b += 1;
            }
            Err(nix::errno::Errno::ENOBUFS | nix::errno::Errno::EAGAIN) => full += 1,
            Err(e) => panic!("sendmmsg: {e}"),
        }
    }
    let el = start.elapsed().as_secs_f64();
    println!(
        "send: {sent} frames {bytes} bytes in {el:.2} s = {:.0} frames/s ({:.1} Mbit/s); queue-full retries {full}",
        sent as f64 / el,
        bytes as f64 * 8.0 / el / 1e6
    );
}

fn recv(iface: &str, dur: Duration, ring_bytes: usize, pipeline: bool) {
    let mut cfg = LiveConfig::new(vec![iface.to_string()]);
    cfg.ring_bytes = ring_bytes;
    let mut cap = LiveCapture::open(&cfg).expect("open capture");
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(dur);
        s2.store(true, Ordering::Relaxed);
    });
    let mut p =
        pipeline.then(|| warden_pipeline::Pipeline::new(&warden_pipeline::Config::default()));
    let (mut first, mut last, mut n) = (0i64, 0i64, 0u64);
    let cpu0 = cpu_time();
    let stats = cap
        .run(
            &stop,
            &mut |f| {
                if n == 0 {
                    first = f.ts_ns;
                }
                last = f.ts_ns;
                n += 1;
                if let Some(p) = p.as_mut() {
                    p.process(&f, &mut warden_pipeline::CollectOnly);
                }
            },
            &mut |_| {},
        )
        .expect("run");
    let cpu = cpu_time() - cpu0;
    let span = (last - first) as f64 / 1e9;
    let offered = stats.frames + stats.drops;
    println!(
        "recv{}: {} frames, {} dropped ({:.3} %), {:.0} frames/s over {span:.2} s of traffic, {:.2} s CPU; rss {} KiB",
        if pipeline { "+pipeline" } else { "" },
        stats.frames,
        stats.drops,
        if offered > 0 { stats.drops as f64 * 100.0 / offered as f64 } else { 0.0 },
        if span > 0.0 { (n - 1) as f64 / span } else { 0.0 },
        cpu,
        rss_kib()
    );
    if let Some(p) = p {
        println!("pipeline: {} devices", p.devices().len());
    }
}

/// This process's user + system CPU seconds.
fn cpu_time() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

fn pcap(path: &str, count: usize, set: &str) {
    let frames = frames(set);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create pcap"));
    let mut head = Vec::new();
    head.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    head.extend_from_slice(&2u16.to_le_bytes());
    head.extend_from_slice(&4u16.to_le_bytes());
    head.extend_from_slice(&[0; 8]);
    head.extend_from_slice(&65535u32.to_le_bytes());
    head.extend_from_slice(&1u32.to_le_bytes());
    out.write_all(&head).expect("write");
    for i in 0..count {
        let f = &frames[i % frames.len()];
        let mut rec = Vec::with_capacity(16);
        rec.extend_from_slice(&((i / 1_000_000) as u32).to_le_bytes());
        rec.extend_from_slice(&((i % 1_000_000) as u32).to_le_bytes());
        rec.extend_from_slice(&(f.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.write_all(&rec).expect("write");
        out.write_all(f).expect("write");
    }
    out.flush().expect("write");
}
