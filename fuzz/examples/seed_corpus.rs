//! Writes seed corpora for the fuzz targets from real captures.
//!
//! Usage: `cargo run --example seed_corpus -- [DATA_DIR] [CORPUS_DIR]`
//! (defaults: `../shared/data/iot-sentinel` beside the repository and
//! `fuzz/corpus`). DATA_DIR holds one directory per device with a capture
//! and a `mac.txt`; every capture is read with warden's own reader.
//!
//! Per target (`CORPUS_DIR/<target>/seed-<hash>`, content-addressed, so
//! rerunning adds nothing twice):
//! - `decode_frame`: one frame per packet shape (network, protocol, ports,
//!   flags), each also re-framed as Linux SLL/SLL2, raw IP and VLAN-tagged.
//! - `pipeline_frames`: stretches of each capture (start and middle) with
//!   their real timing, under the four configurations, some as SLL2.
//! - `capture_file`: the first few KiB of each capture rewritten as pcap
//!   (little/big endian, micro/nanoseconds, snapped), pcapng (one or two
//!   interfaces, simple and statistics blocks) and gzip.
//! - `identify_payload`: each distinct payload on an identification port,
//!   and per device everything it said in one input.
//! - `dns_message`: each distinct DNS/mDNS payload.
//! - `model_parse`: the example threat models (models/) and the lint
//!   fixtures, each as YAML and as JSON.
//! - `mud_import`: the public MUD file of the profile tests and the example
//!   models exported as MUD files.
//! - `report_parse`: the example test reports, as YAML and JSON, and a
//!   skeleton of a shipped model.
//! - `mud_signature`: the real openssl signatures and signer certificates
//!   of the profile tests (crates/profile/tests/mud/sig).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use warden_capture::{FrameSource, PcapFile};
use warden_decode::{decode, LinkType, Network, Packet, Transport};
use warden_fuzz::{identify_header_for, link_selector, push_record, ts_code_for};

/// Largest pipeline and per-device identification seed.
const MAX_SEED: usize = 16 * 1024;
/// Payload bytes of real frames put into one capture-file seed.
const CAPTURE_SEED_BYTES: usize = 6 * 1024;

struct OwnedFrame {
    ts_ns: i64,
    data: Vec<u8>,
    wire_len: u32,
}

struct Capture {
    name: String,
    device_mac: Option<[u8; 6]>,
    link: LinkType,
    frames: Vec<OwnedFrame>,
}

/// Content-addressed output directory of one target.
struct Corpus {
    dir: PathBuf,
    seen: HashSet<u64>,
    bytes: usize,
}

impl Corpus {
    fn new(root: &Path, target: &str) -> Self {
        let dir = root.join(target);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Corpus {
            dir,
            seen: HashSet::new(),
            bytes: 0,
        }
    }

    fn add(&mut self, data: &[u8]) {
        let h = fnv1a(data);
        if self.seen.insert(h) {
            let path = self.dir.join(format!("seed-{h:016x}"));
            fs::write(&path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            self.bytes += data.len();
        }
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.trim().split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn read_captures(data_dir: &Path) -> Vec<Capture> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(data_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", data_dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let device_mac = fs::read_to_string(dir.join("mac.txt"))
            .ok()
            .and_then(|s| parse_mac(s.split_whitespace().next().unwrap_or("")));
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = p.to_string_lossy();
                n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".gz")
            })
            .collect();
        files.sort();
        for path in files {
            let mut file = match PcapFile::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("skipping {}: {e}", path.display());
                    continue;
                }
            };
            let mut frames = Vec::new();
            let mut link = LinkType::Ethernet;
            if let Err(e) = file.run(&mut |f| {
                link = f.link;
                frames.push(OwnedFrame {
                    ts_ns: f.ts_ns,
                    data: f.data.to_vec(),
                    wire_len: f.wire_len,
                });
            }) {
                eprintln!("skipping {}: {e}", path.display());
                continue;
            }
            out.push(Capture {
                name: path.display().to_string(),
                device_mac,
                link,
                frames,
            });
        }
    }
    out
}

/// An Ethernet frame re-framed as `to` (None when it cannot be: raw IP
/// link types need an IP packet).
fn relink(eth: &[u8], to: LinkType, outgoing: bool) -> Option<Vec<u8>> {
    let src = eth.get(6..12)?;
    let ethertype = eth.get(12..14)?;
    let body = &eth[14..];
    let mut out = Vec::with_capacity(eth.len() + 8);
    let pkttype: u8 = if outgoing { 4 } else { 0 };
    match to {
        LinkType::Ethernet | LinkType::Unknown(_) => out.extend_from_slice(eth),
        LinkType::LinuxSll => {
            out.extend_from_slice(&[0, pkttype, 0, 1, 0, 6]);
            out.extend_from_slice(src);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(ethertype);
            out.extend_from_slice(body);
        }
        LinkType::LinuxSll2 => {
            out.extend_from_slice(ethertype);
            out.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, pkttype, 6]);
            out.extend_from_slice(src);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(body);
        }
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 => {
            let fits = match to {
                LinkType::Ipv4 => ethertype == [0x08, 0x00],
                LinkType::Ipv6 => ethertype == [0x86, 0xdd],
                _ => ethertype == [0x08, 0x00] || ethertype == [0x86, 0xdd],
            };
            if !fits {
                return None;
            }
            out.extend_from_slice(body);
        }
    }
    Some(out)
}

/// The frame with an 802.1Q tag (VLAN 100) after the MACs.
fn vlan_tagged(eth: &[u8]) -> Option<Vec<u8>> {
    let macs = eth.get(..12)?;
    let mut out = macs.to_vec();
    out.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    out.extend_from_slice(&eth[12..]);
    Some(out)
}

/// Ports that mean something to the decoder's users; others become 0.
fn port_class(p: u16) -> u16 {
    if p < 1024 || matches!(p, 1900 | 5353 | 8080 | 8443 | 49152) {
        p
    } else {
        0
    }
}

/// What makes two frames alike for the decoder and its users.
fn shape(p: &Packet<'_>) -> String {
    let net = match p.network {
        Network::Ip(ip) => format!("ip{}-{}", if ip.src.is_ipv4() { 4 } else { 6 }, ip.protocol),
        Network::Arp(a) => format!("arp{}", a.operation),
        Network::Other(t) => format!("eth{t:04x}"),
    };
    let transport = match p.transport {
        Transport::Tcp {
            src_port,
            dst_port,
            flags,
        } => format!(
            "tcp{}-{}-{:02x}",
            port_class(src_port),
            port_class(dst_port),
            flags.0 & 0x17
        ),
        Transport::Udp { src_port, dst_port } => {
            format!("udp{}-{}", port_class(src_port), port_class(dst_port))
        }
        Transport::Icmp {
            v6,
            icmp_type,
            code,
            quoted,
        } => format!("icmp{v6}-{icmp_type}-{code}-{}", quoted.is_some()),
        Transport::Gre { protocol } => format!("gre{protocol:04x}"),
        other => format!("{other:?}"),
    };
    format!("{net}/{transport}/{}", p.payload.is_empty())
}

fn decode_seeds(captures: &[Capture], corpus: &mut Corpus) {
    let mut shapes = HashSet::new();
    for c in captures {
        for f in &c.frames {
            let Ok(p) = decode(c.link, &f.data) else {
                continue;
            };
            if !shapes.insert(shape(&p)) {
                continue;
            }
            let outgoing = c.device_mac == Some(p.src_mac.0);
            let mut add = |link: LinkType, frame: &[u8]| {
                let mut seed = vec![link_selector(link)];
                seed.extend_from_slice(frame);
                corpus.add(&seed);
            };
            add(c.link, &f.data);
            if c.link != LinkType::Ethernet {
                continue;
            }
            for to in [
                LinkType::LinuxSll,
                LinkType::LinuxSll2,
                LinkType::RawIp,
                LinkType::Ipv4,
                LinkType::Ipv6,
            ] {
                if let Some(frame) = relink(&f.data, to, outgoing) {
                    add(to, &frame);
                }
            }
            if let Some(frame) = vlan_tagged(&f.data) {
                add(LinkType::Ethernet, &frame);
            }
        }
    }
    corpus.add(&[link_selector(LinkType::Unknown(147))]);
}

/// One pipeline input: configuration byte, then the frames with their
/// real spacing, up to [`MAX_SEED`] bytes.
fn pipeline_input(
    cfg: u8,
    frames: &[OwnedFrame],
    relink_to: Option<(LinkType, [u8; 6])>,
) -> Vec<u8> {
    let mut out = vec![cfg];
    let mut prev = frames.first().map_or(0, |f| f.ts_ns);
    for f in frames {
        let data = match relink_to {
            Some((to, mac)) => match relink(&f.data, to, f.data.get(6..12) == Some(&mac[..])) {
                Some(d) => d,
                None => continue,
            },
            None => f.data.clone(),
        };
        if out.len() > 1 && out.len() + 3 + data.len() > MAX_SEED {
            break;
        }
        push_record(&mut out, [ts_code_for(f.ts_ns - prev)], &data);
        prev = f.ts_ns;
    }
    out
}

fn pipeline_seeds(captures: &[Capture], corpus: &mut Corpus) {
    for (i, c) in captures.iter().enumerate() {
        if c.frames.is_empty() {
            continue;
        }
        let link = link_selector(c.link);
        // Configurations in turn: default, touchy, explicit LAN, both.
        let flags = [0u8, 8, 16, 24][i % 4];
        corpus.add(&pipeline_input(link | flags, &c.frames, None));
        // The touchy configuration on the middle of every capture, so
        // detectors and eviction see real traffic at their thresholds.
        let mid = &c.frames[c.frames.len() / 2..];
        corpus.add(&pipeline_input(link | 8, mid, None));
        if c.link == LinkType::Ethernet {
            if let Some(mac) = c.device_mac {
                // Cooked captures record no destination MAC: attribution
                // goes by address instead.
                let sll2 = link_selector(LinkType::LinuxSll2) | flags;
                corpus.add(&pipeline_input(
                    sll2,
                    &c.frames,
                    Some((LinkType::LinuxSll2, mac)),
                ));
            }
        }
    }
}

/// Which capture-file layout a seed uses.
#[derive(Clone, Copy)]
enum Layout {
    PcapLe,
    PcapBeSnapped,
    PcapNano,
    PcapngMicro,
    PcapngTwoInterfaces,
    Gzip,
}

const LAYOUTS: [Layout; 6] = [
    Layout::PcapLe,
    Layout::PcapBeSnapped,
    Layout::PcapNano,
    Layout::PcapngMicro,
    Layout::PcapngTwoInterfaces,
    Layout::Gzip,
];

fn linktype_number(link: LinkType) -> u32 {
    match link {
        LinkType::Ethernet => 1,
        LinkType::RawIp => 101,
        LinkType::LinuxSll => 113,
        LinkType::LinuxSll2 => 276,
        LinkType::Ipv4 => 228,
        LinkType::Ipv6 => 229,
        LinkType::Unknown(n) => n,
    }
}

fn legacy_pcap(
    link: LinkType,
    frames: &[OwnedFrame],
    big_endian: bool,
    nanos: bool,
    snap: Option<usize>,
) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&u32b(snap.unwrap_or(262_144) as u32));
    out.extend_from_slice(&u32b(linktype_number(link)));
    for f in frames {
        let data = &f.data[..f.data.len().min(snap.unwrap_or(usize::MAX))];
        let secs = f.ts_ns.div_euclid(1_000_000_000) as u32;
        let frac = f.ts_ns.rem_euclid(1_000_000_000) as u32;
        out.extend_from_slice(&u32b(secs));
        out.extend_from_slice(&u32b(if nanos { frac } else { frac / 1000 }));
        out.extend_from_slice(&u32b(data.len() as u32));
        out.extend_from_slice(&u32b(f.wire_len));
        out.extend_from_slice(data);
    }
    out
}

/// A pcapng block: type, length, body padded to 4, length.
fn ng_block(out: &mut Vec<u8>, block_type: u32, body: &[u8]) {
    let padded = body.len().next_multiple_of(4);
    let total = (12 + padded) as u32;
    out.extend_from_slice(&block_type.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.resize(out.len() + padded - body.len(), 0);
    out.extend_from_slice(&total.to_le_bytes());
}

fn ng_interface(out: &mut Vec<u8>, link: LinkType, tsresol: u8) {
    let mut body = Vec::new();
    body.extend_from_slice(&(linktype_number(link) as u16).to_le_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&262_144u32.to_le_bytes());
    // if_tsresol (code 9, one byte), then opt_endofopt.
    body.extend_from_slice(&[9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0]);
    ng_block(out, 1, &body);
}

fn ng_packet(out: &mut Vec<u8>, if_id: u32, units: u64, data: &[u8], wire_len: u32) {
    let mut body = Vec::new();
    body.extend_from_slice(&if_id.to_le_bytes());
    body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(units as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&wire_len.to_le_bytes());
    body.extend_from_slice(data);
    body.resize(body.len().next_multiple_of(4), 0);
    ng_block(out, 6, &body);
}

fn pcapng(link: LinkType, frames: &[OwnedFrame], two_interfaces: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(&mut out, 0x0a0d_0d0a, &shb);
    // Microseconds (10^-6) on interface 0; nanoseconds on interface 1.
    ng_interface(&mut out, link, 6);
    if two_interfaces {
        ng_interface(&mut out, LinkType::LinuxSll2, 9);
    }
    for (i, f) in frames.iter().enumerate() {
        let ts = u64::try_from(f.ts_ns).unwrap_or(0);
        if two_interfaces && i % 2 == 1 {
            match relink(&f.data, LinkType::LinuxSll2, false) {
                Some(d) => ng_packet(&mut out, 1, ts, &d, f.wire_len + 6),
                None => ng_packet(&mut out, 0, ts / 1000, &f.data, f.wire_len),
            }
        } else if two_interfaces && i % 5 == 4 {
            // Simple packet block: original length and data, no timestamp.
            let mut body = f.wire_len.to_le_bytes().to_vec();
            body.extend_from_slice(&f.data);
            ng_block(&mut out, 3, &body);
        } else {
            ng_packet(&mut out, 0, ts / 1000, &f.data, f.wire_len);
        }
    }
    if two_interfaces {
        // Interface statistics block: counted, not a packet.
        let mut isb = 0u32.to_le_bytes().to_vec();
        isb.extend_from_slice(&[0; 8]);
        ng_block(&mut out, 5, &isb);
    }
    out
}

fn capture_seeds(captures: &[Capture], corpus: &mut Corpus) {
    for (i, c) in captures.iter().enumerate() {
        // The first frames, up to a few KiB (at least one frame).
        let mut n = 0;
        let mut bytes = 0;
        for f in &c.frames {
            if n > 0 && bytes + f.data.len() > CAPTURE_SEED_BYTES {
                break;
            }
            n += 1;
            bytes += f.data.len();
        }
        let frames = &c.frames[..n];
        let seed = match LAYOUTS[i % LAYOUTS.len()] {
            Layout::PcapLe => legacy_pcap(c.link, frames, false, false, None),
            Layout::PcapBeSnapped => legacy_pcap(c.link, frames, true, false, Some(96)),
            Layout::PcapNano => legacy_pcap(c.link, frames, false, true, None),
            Layout::PcapngMicro => pcapng(c.link, frames, false),
            Layout::PcapngTwoInterfaces => pcapng(c.link, frames, true),
            Layout::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&legacy_pcap(c.link, frames, false, false, None))
                    .expect("write to memory");
                gz.finish().expect("write to memory")
            }
        };
        corpus.add(&seed);
    }
}

/// Ports [`warden_fuzz::PORTS`] knows by number; the rest map to 49152.
fn canonical_port(p: u16) -> u16 {
    if matches!(p, 53 | 67 | 68 | 80 | 443 | 546 | 547 | 1900 | 5353 | 8080) {
        p
    } else {
        49152
    }
}

fn identify_and_dns_seeds(captures: &[Capture], identify: &mut Corpus, dns: &mut Corpus) {
    for c in captures {
        let mut chatty = Vec::new();
        for f in &c.frames {
            let Ok(p) = decode(c.link, &f.data) else {
                continue;
            };
            if p.payload.is_empty() {
                continue;
            }
            let from_device = c.device_mac == Some(p.src_mac.0);
            let (t, src, dst) = match p.transport {
                Transport::Udp { src_port, dst_port } => {
                    if matches!(src_port, 53 | 5353) || matches!(dst_port, 53 | 5353) {
                        dns.add(p.payload);
                    }
                    (warden_identify::Transport::Udp, src_port, dst_port)
                }
                // The start of an HTTP or TLS exchange, not bulk data.
                Transport::Tcp {
                    src_port, dst_port, ..
                } if matches!(p.payload[0], 0x16 | b'A'..=b'Z') => {
                    (warden_identify::Transport::Tcp, src_port, dst_port)
                }
                _ => continue,
            };
            let (src, dst) = match (canonical_port(src), canonical_port(dst)) {
                (49152, 49152) => (49152, 49153),
                pair => pair,
            };
            let Some(header) = identify_header_for(t, src, dst, from_device) else {
                continue;
            };
            let mut one = Vec::new();
            push_record(&mut one, header, p.payload);
            identify.add(&one);
            if chatty.len() + one.len() <= MAX_SEED {
                chatty.extend_from_slice(&one);
            }
        }
        if !chatty.is_empty() {
            identify.add(&chatty);
        }
    }
}

/// Threat models: the shipped examples and every lint fixture, as written
/// (YAML) and as warden writes them in JSON.
fn model_seeds(repo: &Path, corpus: &mut Corpus) {
    let models = repo.join("models");
    let mut files: Vec<PathBuf> = fs::read_dir(&models)
        .unwrap_or_else(|e| panic!("{}: {e}", models.display()))
        .map(|e| e.unwrap().path())
        .collect();
    let fixtures = repo.join("crates/model/tests/fixtures");
    for rule in fs::read_dir(&fixtures).unwrap_or_else(|e| panic!("{}: {e}", fixtures.display())) {
        let rule = rule.unwrap().path();
        if rule.is_dir() {
            files.extend(fs::read_dir(&rule).unwrap().map(|e| e.unwrap().path()));
        }
    }
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let yaml = fs::read(f).unwrap();
        corpus.add(&yaml);
        if let Ok(loaded) = warden_model::load(&yaml) {
            corpus.add(warden_model::to_json(&loaded.model).as_bytes());
        }
    }
}

/// `mud_import`: the public MUD file in the profile tests, and the example
/// models' network parts exported as MUD.
fn mud_seeds(root: &Path, corpus: &mut Corpus) {
    if let Ok(bytes) = std::fs::read(root.join("crates/profile/tests/mud/Luminaire_150.json")) {
        corpus.add(&bytes);
    }
    let Ok(dir) = std::fs::read_dir(root.join("models")) else {
        return;
    };
    for entry in dir.flatten() {
        let Ok(yaml) = std::fs::read(entry.path()) else {
            continue;
        };
        if let Ok(loaded) = warden_model::load(&yaml) {
            let file = warden_profile::mud::export(
                &loaded.model.network,
                "https://mud.example.com/device",
                &loaded.model.identity.vendor,
                &loaded.model.identity.model,
                "seed",
                "2026-01-01T00:00:00Z",
            );
            corpus.add(
                serde_json::to_string_pretty(&file)
                    .unwrap_or_default()
                    .as_bytes(),
            );
        }
    }
}

/// `mud_signature`: each signature fixture under both pin modes (byte 0
/// even: pinned certificate, odd: pinned key hash), and each certificate
/// fixture as the pinned certificate itself (byte 0 = 2).
fn mud_signature_seeds(root: &Path, corpus: &mut Corpus) {
    let Ok(dir) = std::fs::read_dir(root.join("crates/profile/tests/mud/sig")) else {
        return;
    };
    let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let modes: &[u8] = if name.starts_with("luminaire.") {
            &[0, 1]
        } else if name.ends_with(".der") || name.ends_with(".pem") {
            &[2]
        } else {
            continue;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for &mode in modes {
            let mut seed = vec![mode];
            seed.extend_from_slice(&bytes);
            corpus.add(&seed);
        }
    }
}

/// `report_parse`: the example test reports (reports/), each as written
/// (YAML) and as warden writes it in JSON, and each as a skeleton of a shipped model.
fn report_seeds(root: &Path, corpus: &mut Corpus) {
    let Ok(dir) = std::fs::read_dir(root.join("reports")) else {
        return;
    };
    let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        corpus.add(&bytes);
        if let Ok(r) = warden_report::load(&bytes) {
            corpus.add(warden_report::to_json(&r).as_bytes());
        }
    }
    let model_bytes = include_bytes!("../../models/poor-camera.yaml");
    if let Ok(m) = warden_model::load(model_bytes) {
        let date = "2026-01-01"
            .parse::<warden_model::model::Date>()
            .map(|d| d.0);
        if let Ok(date) = date {
            let skeleton = warden_report::skeleton(&m.model, model_bytes, date);
            corpus.add(warden_report::to_yaml(&skeleton).as_bytes());
        }
    }
}

fn main() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args_os().skip(1);
    let data_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../shared/data/iot-sentinel"));
    let out_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("corpus"));

    let captures = read_captures(&data_dir);
    let frames: usize = captures.iter().map(|c| c.frames.len()).sum();
    if captures.is_empty() || frames == 0 {
        eprintln!("error: no readable captures under {}", data_dir.display());
        std::process::exit(1);
    }
    let mut per_link = BTreeMap::new();
    for c in &captures {
        *per_link.entry(format!("{:?}", c.link)).or_insert(0usize) += 1;
        if c.device_mac.is_none() {
            eprintln!("note: {} has no mac.txt; device direction unknown", c.name);
        }
    }
    println!(
        "read {} captures ({frames} frames, link types {per_link:?}) from {}",
        captures.len(),
        data_dir.display()
    );

    let mut decode_c = Corpus::new(&out_dir, "decode_frame");
    let mut pipeline_c = Corpus::new(&out_dir, "pipeline_frames");
    let mut capture_c = Corpus::new(&out_dir, "capture_file");
    let mut identify_c = Corpus::new(&out_dir, "identify_payload");
    let mut dns_c = Corpus::new(&out_dir, "dns_message");
    decode_seeds(&captures, &mut decode_c);
    pipeline_seeds(&captures, &mut pipeline_c);
    capture_seeds(&captures, &mut capture_c);
    identify_and_dns_seeds(&captures, &mut identify_c, &mut dns_c);
    let mut model_c = Corpus::new(&out_dir, "model_parse");
    model_seeds(&manifest.join(".."), &mut model_c);
    let mut mud_c = Corpus::new(&out_dir, "mud_import");
    mud_seeds(&manifest.join(".."), &mut mud_c);
    let mut mud_sig_c = Corpus::new(&out_dir, "mud_signature");
    mud_signature_seeds(&manifest.join(".."), &mut mud_sig_c);
    let mut report_c = Corpus::new(&out_dir, "report_parse");
    report_seeds(&manifest.join(".."), &mut report_c);
    for c in [
        &decode_c,
        &pipeline_c,
        &capture_c,
        &identify_c,
        &dns_c,
        &model_c,
        &mud_c,
        &mud_sig_c,
        &report_c,
    ] {
        println!(
            "{}: {} seeds, {} bytes",
            c.dir.display(),
            c.seen.len(),
            c.bytes
        );
    }
}
