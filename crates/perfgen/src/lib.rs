//! Deterministic capture files for performance measurements.
//!
//! Three captures, each a pure function of its parameters and seed:
//!
//! * [`min_frames`]: minimum-size (60-byte) Ethernet frames of a plausible
//!   home LAN: a few dozen devices holding TCP connections (handshake, small
//!   segments both ways, close) and UDP exchanges with many internet
//!   addresses. The worst case per byte: every frame is a full pass through
//!   the pipeline.
//! * [`mixed`]: the same kind of LAN with a realistic size mix (bulk TCP
//!   downloads of 1514-byte segments and their ACKs, QUIC-sized and small
//!   UDP, interactive TCP), interleaved with the real IoT Sentinel frames
//!   (DHCP, DNS, mDNS, SSDP, HTTP, TLS) replayed at shifted times so that
//!   identification runs too.
//! * [`random_macs`]: every frame from a different random source MAC and
//!   random private source address: the table-exhaustion attack.
//!
//! Files are legacy pcap (microsecond timestamps, Ethernet).

use std::io::{self, Write};
use std::path::Path;

use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// First timestamp of every capture: 2023-11-14T22:13:20Z.
pub const START_S: u64 = 1_700_000_000;
/// The router's MAC: internet traffic reaches the LAN from it.
pub const ROUTER_MAC: [u8; 6] = [0x00, 0x11, 0x32, 0xa0, 0x00, 0x01];
/// Minimum Ethernet frame without its FCS, as captures record it.
pub const MIN_FRAME: usize = 60;
/// A full-size Ethernet frame without its FCS.
pub const MAX_FRAME: usize = 1514;

/// What a generator wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub frames: u64,
    /// Bytes of frame data (not counting pcap headers).
    pub frame_bytes: u64,
}

/// A legacy pcap writer. The format is two fixed little-endian headers, so
/// it is written directly rather than through a per-record allocation.
pub struct PcapWriter<W: Write> {
    out: W,
    written: Written,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?; // microsecond timestamps
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?; // thiszone
        out.write_all(&0u32.to_le_bytes())?; // sigfigs
        out.write_all(&65_535u32.to_le_bytes())?; // snaplen
        out.write_all(&1u32.to_le_bytes())?; // LINKTYPE_ETHERNET
        Ok(PcapWriter {
            out,
            written: Written::default(),
        })
    }

    /// Writes one frame captured at `ts_us` microseconds since the epoch.
    pub fn frame(&mut self, ts_us: u64, data: &[u8]) -> io::Result<()> {
        let len = data.len() as u32;
        self.out
            .write_all(&((ts_us / 1_000_000) as u32).to_le_bytes())?;
        self.out
            .write_all(&((ts_us % 1_000_000) as u32).to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(data)?;
        self.written.frames += 1;
        self.written.frame_bytes += u64::from(len);
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<Written> {
        self.out.flush()?;
        Ok(self.written)
    }
}

/// A public IPv4 address derived from `i` (never private, loopback,
/// link-local, shared, multicast or reserved).
pub fn public_addr(i: u32) -> [u8; 4] {
    // A multiplicative hash spreads consecutive indexes over the space.
    let h = i.wrapping_mul(0x9e37_79b1).rotate_left(7) ^ i;
    let b = h.to_be_bytes();
    let first = match b[0] % 223 + 1 {
        10 | 100 | 127 | 169 | 172 | 192 | 198 | 203 => 45,
        f => f,
    };
    [first, b[1], b[2], b[3] | 1]
}

/// One LAN device of the synthetic home network.
#[derive(Clone, Copy, Debug)]
struct Device {
    mac: [u8; 6],
    ip: [u8; 4],
}

fn lan_devices(n: usize) -> Vec<Device> {
    (0..n)
        .map(|i| Device {
            // Locally administered, one per device.
            mac: [0x02, 0x57, 0x44, 0x00, (i >> 8) as u8, i as u8],
            ip: [192, 168, 1 + (i / 200) as u8, 10 + (i % 200) as u8],
        })
        .collect()
}

/// How big the segments of a flow are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Everything minimum-size.
    Min,
    /// A download: 1514-byte segments in, an ACK out every second one.
    Bulk,
    /// Request/response: segments of a few hundred bytes both ways.
    Interactive,
}

#[derive(Clone, Copy, Debug)]
struct Flow {
    dev: Device,
    remote: [u8; 4],
    tcp: bool,
    shape: Shape,
    local_port: u16,
    remote_port: u16,
    /// Data packets (TCP segments after the handshake, or UDP datagrams).
    data: u32,
    step: u32,
    seq_out: u32,
    seq_in: u32,
    /// UDP datagram size for this flow (frame bytes).
    udp_frame: usize,
}

const TCP_PORTS: [u16; 8] = [443, 443, 443, 80, 8883, 1883, 5222, 8080];
const UDP_PORTS: [u16; 6] = [443, 443, 123, 3478, 5683, 19302];

/// The flow mix of a synthetic LAN, frame by frame.
struct Lan {
    rng: ChaCha8Rng,
    devices: Vec<Device>,
    flows: Vec<Flow>,
    remotes: u32,
    sized: bool,
    buf: Vec<u8>,
}

impl Lan {
    fn new(seed: u64, devices: usize, concurrent: usize, remotes: u32, sized: bool) -> Self {
        let mut lan = Lan {
            rng: ChaCha8Rng::seed_from_u64(seed),
            devices: lan_devices(devices.max(1)),
            flows: Vec::with_capacity(concurrent),
            remotes: remotes.max(1),
            sized,
            buf: Vec::with_capacity(MAX_FRAME),
        };
        for _ in 0..concurrent.max(1) {
            let f = lan.new_flow();
            lan.flows.push(f);
        }
        lan
    }

    fn new_flow(&mut self) -> Flow {
        let rng = &mut self.rng;
        let dev = self.devices[rng.gen_range(0..self.devices.len())];
        // Popular services are shared by many devices; a long tail is not.
        let remote = if rng.gen_bool(0.5) {
            public_addr(rng.gen_range(0..64))
        } else {
            public_addr(rng.gen_range(0..self.remotes))
        };
        let tcp = rng.gen_bool(0.7);
        let shape = match (self.sized, tcp, rng.gen_range(0..10)) {
            (false, _, _) => Shape::Min,
            (true, true, 0..=1) => Shape::Bulk,
            (true, _, _) => Shape::Interactive,
        };
        let data = match shape {
            Shape::Bulk => rng.gen_range(20..200),
            _ => rng.gen_range(2..40),
        };
        let udp_frame = if !self.sized {
            MIN_FRAME
        } else if rng.gen_bool(0.4) {
            rng.gen_range(1_250..=1_392) // QUIC
        } else {
            rng.gen_range(60..=300) // NTP, STUN, CoAP and the like
        };
        Flow {
            dev,
            remote,
            tcp,
            shape,
            local_port: rng.gen_range(32_768..61_000),
            remote_port: if tcp {
                TCP_PORTS[rng.gen_range(0..TCP_PORTS.len())]
            } else {
                UDP_PORTS[rng.gen_range(0..UDP_PORTS.len())]
            },
            data,
            step: 0,
            seq_out: rng.gen(),
            seq_in: rng.gen(),
            udp_frame,
        }
    }

    /// Builds the next frame into `self.buf`.
    fn next_frame(&mut self) -> &[u8] {
        let k = self.rng.gen_range(0..self.flows.len());
        let mut f = self.flows[k];
        let done = if f.tcp {
            self.tcp_frame(&mut f)
        } else {
            self.udp_frame(&mut f)
        };
        self.flows[k] = if done { self.new_flow() } else { f };
        &self.buf
    }

    fn headers(f: &Flow, outbound: bool) -> PacketBuilderStep<IpHeaders> {
        if outbound {
            PacketBuilder::ethernet2(f.dev.mac, ROUTER_MAC).ipv4(f.dev.ip, f.remote, 64)
        } else {
            PacketBuilder::ethernet2(ROUTER_MAC, f.dev.mac).ipv4(f.remote, f.dev.ip, 56)
        }
    }

    /// One step of a TCP connection; true when the connection is over.
    fn tcp_frame(&mut self, f: &mut Flow) -> bool {
        let data = f.data;
        let step = f.step;
        f.step += 1;
        // (outbound, flags, payload length)
        let (out, syn, ack, fin, payload) = match step {
            0 => (true, true, false, false, 0),
            1 => (false, true, true, false, 0),
            2 => (true, false, true, false, 0),
            s if s < 3 + data => {
                let i = s - 3;
                match f.shape {
                    Shape::Min => (i % 2 == 1, false, true, false, 6),
                    // Two full segments in, one ACK out.
                    Shape::Bulk if i % 3 == 2 => (true, false, true, false, 0),
                    Shape::Bulk => (false, false, true, false, MAX_FRAME - 54),
                    Shape::Interactive => (
                        i % 2 == 0,
                        false,
                        true,
                        false,
                        self.rng.gen_range(0..=540usize),
                    ),
                }
            }
            s if s == 3 + data => (true, false, true, true, 0),
            s if s == 4 + data => (false, false, true, true, 0),
            _ => (true, false, true, false, 0),
        };
        let (src_port, dst_port, seq, ack_no) = if out {
            (f.local_port, f.remote_port, f.seq_out, f.seq_in)
        } else {
            (f.remote_port, f.local_port, f.seq_in, f.seq_out)
        };
        let mut b = Self::headers(f, out).tcp(src_port, dst_port, seq, 64_240);
        if syn {
            b = b.syn();
        }
        if ack {
            b = b.ack(ack_no);
        }
        if fin {
            b = b.fin();
        }
        if payload > 0 {
            b = b.psh();
        }
        let consumed = payload as u32 + u32::from(syn || fin);
        if out {
            f.seq_out = f.seq_out.wrapping_add(consumed);
        } else {
            f.seq_in = f.seq_in.wrapping_add(consumed);
        }
        let mut body = [0u8; MAX_FRAME];
        self.rng.fill(&mut body[..payload.min(64)]);
        self.buf.clear();
        // Writing into a Vec cannot fail; sizes are far below the limits.
        b.write(&mut self.buf, &body[..payload]).expect("tcp frame");
        pad(&mut self.buf);
        step > 4 + data
    }

    /// One datagram of a UDP exchange; true when the exchange is over.
    fn udp_frame(&mut self, f: &mut Flow) -> bool {
        let out = f.step.is_multiple_of(2);
        f.step += 1;
        let (src_port, dst_port) = if out {
            (f.local_port, f.remote_port)
        } else {
            (f.remote_port, f.local_port)
        };
        let b = Self::headers(f, out).udp(src_port, dst_port);
        let payload = f.udp_frame.saturating_sub(42).max(18);
        let mut body = [0u8; MAX_FRAME];
        self.rng.fill(&mut body[..payload.min(64)]);
        self.buf.clear();
        b.write(&mut self.buf, &body[..payload]).expect("udp frame");
        pad(&mut self.buf);
        f.step >= f.data
    }
}

/// Pads a built frame to the Ethernet minimum, as a NIC would.
fn pad(buf: &mut Vec<u8>) {
    if buf.len() < MIN_FRAME {
        buf.resize(MIN_FRAME, 0);
    }
}

/// Minimum-size frames of a plausible LAN: `devices` devices, 70% TCP
/// connections and 30% UDP exchanges with up to 100,000 internet addresses,
/// both directions, one frame every `gap_us` microseconds.
pub fn min_frames<W: Write>(
    out: W,
    frames: u64,
    devices: usize,
    gap_us: u64,
    seed: u64,
) -> io::Result<Written> {
    let mut w = PcapWriter::new(out)?;
    let mut lan = Lan::new(seed, devices, 512, 100_000, false);
    for i in 0..frames {
        let frame = lan.next_frame();
        debug_assert_eq!(frame.len(), MIN_FRAME);
        w.frame(START_S * 1_000_000 + i * gap_us, frame)?;
    }
    w.finish()
}

/// One real frame to replay.
pub struct RealFrame {
    pub data: Vec<u8>,
}

/// Reads every Ethernet frame of the IoT Sentinel captures under `dir`
/// (`*/*.pcap`), in a fixed order (folder, then file, then frame).
pub fn read_sentinel(dir: &Path) -> anyhow::Result<Vec<RealFrame>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            for f in std::fs::read_dir(entry.path())? {
                let p = f?.path();
                if p.extension().is_some_and(|e| e == "pcap") {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    let mut frames = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path)?;
        let (_, cap) = pcap_parser::parse_pcap(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
        if cap.header.network.0 != 1 {
            continue;
        }
        for b in cap.blocks {
            let n = (b.caplen as usize).min(b.data.len());
            frames.push(RealFrame {
                data: b.data[..n].to_vec(),
            });
        }
    }
    Ok(frames)
}

/// A realistic size mix: the synthetic LAN with bulk downloads,
/// interactive TCP and small/QUIC-sized UDP, and every `real_every`-th
/// frame a real IoT Sentinel frame (cycled, re-timed). One frame every
/// `gap_us` microseconds.
pub fn mixed<W: Write>(
    out: W,
    frames: u64,
    devices: usize,
    gap_us: u64,
    real: &[RealFrame],
    real_every: u64,
    seed: u64,
) -> io::Result<Written> {
    let mut w = PcapWriter::new(out)?;
    let mut lan = Lan::new(seed, devices, 256, 100_000, true);
    let mut next_real = 0usize;
    for i in 0..frames {
        let ts = START_S * 1_000_000 + i * gap_us;
        if real_every > 0 && !real.is_empty() && i % real_every == real_every - 1 {
            w.frame(ts, &real[next_real].data)?;
            next_real = (next_real + 1) % real.len();
        } else {
            let frame = lan.next_frame();
            w.frame(ts, frame)?;
        }
    }
    w.finish()
}

/// The table-exhaustion attack: every frame from a new random unicast
/// source MAC and random 10.0.0.0/8 source address, a TCP SYN or UDP
/// datagram to a random internet address, `frames` frames spread evenly
/// over `seconds`.
pub fn random_macs<W: Write>(out: W, frames: u64, seconds: u64, seed: u64) -> io::Result<Written> {
    let mut w = PcapWriter::new(out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut buf = Vec::with_capacity(MIN_FRAME);
    let span_us = seconds.max(1) * 1_000_000;
    for i in 0..frames {
        // Random vendor part; the low 24 bits are a bijection of the frame
        // number, so no two frames (up to 16 M) share a MAC.
        let oui: [u8; 3] = rng.gen();
        let low = ((i as u32).wrapping_mul(0x9e_3779) & 0xff_ffff).to_be_bytes();
        let mac = [oui[0] & 0xfe, oui[1], oui[2], low[1], low[2], low[3]];
        let src = [10, rng.gen(), rng.gen(), rng.gen_range(1..255)];
        let dst = public_addr(rng.gen());
        let b = PacketBuilder::ethernet2(mac, ROUTER_MAC).ipv4(src, dst, 64);
        buf.clear();
        if rng.gen_bool(0.5) {
            b.tcp(rng.gen_range(1024..65_535), 23, rng.gen(), 1024)
                .syn()
                .write(&mut buf, &[])
                .expect("tcp frame");
        } else {
            b.udp(rng.gen_range(1024..65_535), rng.gen_range(1..65_535))
                .write(&mut buf, &[0u8; 18])
                .expect("udp frame");
        }
        pad(&mut buf);
        let ts = START_S * 1_000_000 + i * span_us / frames.max(1);
        w.frame(ts, &buf)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests;
