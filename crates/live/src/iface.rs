//! One interface: its ring, its health, and reopening it when it goes away.

use std::iter::Peekable;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use netring::{BatchIter, Capture, PacketBatch, PacketDirection};
use nix::errno::Errno;
use nix::sys::socket::{getsockopt, sockopt};
use tracing::{info, warn};
use warden_decode::LinkType;

use crate::{Frame, InterfaceStats, LiveConfig};

/// A partly filled block is handed over after this long, which bounds the
/// delay a frame can wait in the ring when traffic is light.
const BLOCK_TIMEOUT_MS: u32 = 50;
const PAGE: usize = 4096;
/// Blocks larger than this make reclaiming ring space coarse.
const MAX_BLOCK: usize = 1 << 20;
/// Backoff between attempts to open an interface that failed to open.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Ring blocks for `ring_bytes` of ring and frames up to `snaplen`: eight
/// or more blocks (so the kernel fills some while others are read), each a
/// power of two between a page and 1 MiB, and large enough for one frame
/// with its headers.
pub(crate) fn ring_layout(ring_bytes: usize, snaplen: u32) -> (usize, usize) {
    let frame = (snaplen as usize + 128).next_power_of_two();
    let target = (ring_bytes / 8).clamp(PAGE, MAX_BLOCK);
    let floor_pow2 = 1usize << (usize::BITS - 1 - target.leading_zeros());
    let block = floor_pow2.max(frame).max(PAGE);
    (block, (ring_bytes / block).max(2))
}

/// Why an interface could not be opened.
pub(crate) enum OpenError {
    /// No interface of that name (yet).
    Missing,
    Permission(String),
    Other(String),
}

/// How an interface is, as last logged (logged once per change).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Health {
    /// Not tried yet.
    New,
    Capturing,
    /// The kernel reported the link down; the socket stays bound and the
    /// kernel resumes delivery when it comes back up.
    LinkDown,
    Missing,
    Failed(String),
}

enum State {
    Open { cap: Capture, ifindex: u32 },
    Closed,
}

pub(crate) struct Iface {
    pub(crate) stats: InterfaceStats,
    snaplen: u32,
    block_size: usize,
    block_count: usize,
    promiscuous: bool,
    state: State,
    health: Health,
    ever_opened: bool,
    backoff: Duration,
    next_try: Instant,
}

impl Iface {
    pub(crate) fn new(name: String, cfg: &LiveConfig, now: Instant) -> Self {
        let (block_size, block_count) = ring_layout(cfg.ring_bytes, cfg.snaplen);
        Iface {
            stats: InterfaceStats {
                name,
                ..InterfaceStats::default()
            },
            snaplen: cfg.snaplen,
            block_size,
            block_count,
            promiscuous: cfg.promiscuous,
            state: State::Closed,
            health: Health::New,
            ever_opened: false,
            backoff: FIRST_BACKOFF,
            next_try: now,
        }
    }

    fn name(&self) -> &str {
        &self.stats.name
    }

    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.state {
            State::Open { cap, .. } => Some(cap.as_fd()),
            State::Closed => None,
        }
    }

    /// Opens the interface now. On failure the next attempt is scheduled
    /// with a growing backoff.
    pub(crate) fn try_open(&mut self, now: Instant) -> Result<(), OpenError> {
        match self.open_capture() {
            Ok((cap, ifindex)) => {
                if self.ever_opened {
                    self.stats.reopens += 1;
                }
                self.ever_opened = true;
                self.state = State::Open { cap, ifindex };
                self.stats.open = true;
                self.backoff = FIRST_BACKOFF;
                self.set_health(Health::Capturing);
                Ok(())
            }
            Err(e) => {
                self.next_try = now + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                self.set_health(match &e {
                    OpenError::Missing => Health::Missing,
                    OpenError::Permission(m) | OpenError::Other(m) => Health::Failed(m.clone()),
                });
                Err(e)
            }
        }
    }

    fn open_capture(&self) -> Result<(Capture, u32), OpenError> {
        let name = self.name();
        let ifindex = nix::net::if_::if_nametoindex(name).map_err(|e| match e {
            Errno::ENODEV | Errno::ENXIO => OpenError::Missing,
            e => OpenError::Other(format!("looking up the interface: {e}")),
        })?;
        // The kernel truncates each frame to what the filter returns: a
        // one-instruction classic BPF program "return snaplen".
        let snap = netring::BpfFilter::new(vec![netring::BpfInsn {
            code: 0x06, // BPF_RET | BPF_K
            jt: 0,
            jf: 0,
            k: self.snaplen,
        }])
        .map_err(|e| OpenError::Other(e.to_string()))?;
        let cap = Capture::builder()
            .interface(name)
            .snap_len(self.snaplen)
            .block_size(self.block_size)
            .block_count(self.block_count)
            .block_timeout_ms(BLOCK_TIMEOUT_MS)
            .fill_rxhash(false)
            .promiscuous(self.promiscuous)
            .bpf_filter(snap)
            .build()
            .map_err(classify)?;
        // The name may have moved to a new interface between the lookup and
        // the bind (nix cannot read a packet socket's own address, whose
        // length is the hardware address's, so ask for the index again).
        if nix::net::if_::if_nametoindex(name) != Ok(ifindex) {
            return Err(OpenError::Other(
                "the interface was replaced while opening it".into(),
            ));
        }
        Ok((cap, ifindex))
    }

    /// Periodic look: kernel drop counters, socket errors, whether the
    /// socket is still bound to the interface that now has this name; and,
    /// for a closed interface whose backoff ran out, another attempt.
    pub(crate) fn check(&mut self, now: Instant) {
        let State::Open { cap, ifindex } = &self.state else {
            if now >= self.next_try {
                let _ = self.try_open(now);
            }
            return;
        };
        let ifindex = *ifindex;
        // Reading SO_ERROR clears it. ENETDOWN is the kernel telling a
        // bound packet socket that its interface went down or away.
        let link_down = matches!(
            getsockopt(cap, sockopt::SocketError),
            Ok(e) if e == Errno::ENETDOWN as i32
        );
        // A deleted interface's name resolves to nothing; a re-created one
        // has a new index. Either way this socket will see nothing more.
        let current = nix::net::if_::if_nametoindex(self.name());
        let same = current == Ok(ifindex);
        self.refresh_drops();
        if !same {
            let why = if current.is_err() {
                "the interface is gone"
            } else {
                "the interface was replaced"
            };
            warn!("{}: {why}; closing its capture and reopening", self.name());
            self.state = State::Closed;
            self.stats.open = false;
            self.backoff = FIRST_BACKOFF;
            // Straight away: if it is already back, no frame need be missed.
            let _ = self.try_open(now);
        } else if link_down {
            self.set_health(Health::LinkDown);
        }
    }

    /// Adds the kernel's drop count since the last read (reading resets it).
    pub(crate) fn refresh_drops(&mut self) {
        if let State::Open { cap, .. } = &self.state {
            if let Ok(s) = cap.stats() {
                self.stats.drops += u64::from(s.drops);
            }
        }
    }

    /// The next block of frames, if the kernel has handed one over.
    pub(crate) fn next_batch(&mut self) -> Option<Cursor<'_>> {
        let Iface {
            state,
            stats,
            health,
            ..
        } = self;
        let State::Open { cap, .. } = state else {
            return None;
        };
        let batch = cap.next_batch()?;
        if *health == Health::LinkDown {
            info!("{}: link up, frames arrive again", stats.name);
            *health = Health::Capturing;
        }
        Some(Cursor {
            packets: batch.iter().peekable(),
            _batch: batch,
            stats,
        })
    }

    fn set_health(&mut self, new: Health) {
        if self.health == new {
            return;
        }
        let name = &self.stats.name;
        match &new {
            Health::New => {}
            Health::Capturing if self.stats.reopens > 0 || self.health != Health::New => {
                info!("{name}: capturing again (reopened)")
            }
            Health::Capturing => info!("{name}: capturing"),
            Health::LinkDown => {
                warn!("{name}: link down; capture resumes when it comes back up")
            }
            Health::Missing => {
                warn!("{name}: no such interface; it will be opened when it appears")
            }
            Health::Failed(m) => warn!("{name}: cannot capture ({m}); retrying"),
        }
        self.health = new;
    }
}

fn classify(e: netring::Error) -> OpenError {
    let code = |io: &std::io::Error| io.raw_os_error().map(Errno::from_raw);
    match &e {
        netring::Error::InterfaceNotFound(_) => OpenError::Missing,
        netring::Error::PermissionDenied => OpenError::Permission(e.to_string()),
        netring::Error::Socket(io) | netring::Error::Bind(io) | netring::Error::Io(io)
            if matches!(code(io), Some(Errno::EPERM | Errno::EACCES)) =>
        {
            OpenError::Permission(io.to_string())
        }
        netring::Error::Bind(io) if code(io) == Some(Errno::ENODEV) => OpenError::Missing,
        _ => {
            // The whole chain: netring's top-level messages are terse.
            let mut m = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                m.push_str(": ");
                m.push_str(&s.to_string());
                src = s.source();
            }
            OpenError::Other(m)
        }
    }
}

/// The frames of one ready block, read in place.
pub(crate) struct Cursor<'a> {
    // Declared before the batch, so it is dropped first: the iterator reads
    // the block that dropping the batch hands back to the kernel.
    packets: Peekable<BatchIter<'a>>,
    _batch: PacketBatch<'a>,
    stats: &'a mut InterfaceStats,
}

impl Cursor<'_> {
    pub(crate) fn peek_ts(&mut self) -> Option<i64> {
        self.packets.peek().map(|p| ts_ns(p.timestamp()))
    }

    /// Hands the next frame to `on_frame`; false when the block is done.
    pub(crate) fn deliver_next(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> bool {
        let Some(p) = self.packets.next() else {
            return false;
        };
        let wire_len = u32::try_from(p.original_len()).unwrap_or(u32::MAX);
        let s = &mut *self.stats;
        s.frames += 1;
        s.bytes += u64::from(wire_len);
        if p.direction() == PacketDirection::Outgoing {
            s.outgoing += 1;
        } else {
            s.incoming += 1;
        }
        // Ethernet-like links (Ethernet, bridges, veth, Wi-Fi in AP mode,
        // loopback) carry a 6-byte hardware address; links without one
        // (tun, WireGuard) carry bare IP packets.
        let link = if p.source_ll_addr().is_empty() {
            LinkType::RawIp
        } else {
            LinkType::Ethernet
        };
        on_frame(Frame {
            ts_ns: ts_ns(p.timestamp()),
            link,
            data: p.data(),
            wire_len,
        });
        true
    }
}

fn ts_ns(t: netring::Timestamp) -> i64 {
    i64::from(t.sec) * 1_000_000_000 + i64::from(t.nsec)
}
