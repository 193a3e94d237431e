//! Live capture: frames from one or more LAN interfaces, as they happen.
//!
//! Each interface gets an AF_PACKET socket with a TPACKET_V3 ring (through
//! the `netring` crate, so this crate has no `unsafe` of its own): the kernel
//! copies each frame, with its kernel timestamp, into memory shared with
//! this process, and hands over whole blocks of frames at a time. Frames
//! are delivered in place (no copy, no allocation per frame), incoming and
//! outgoing alike, in timestamp order across interfaces within each round.
//! See docs/live-capture.md for the choice, the measurements and the
//! behaviour under flaps and bursts.
//!
//! A live source never ends by itself: [`LiveCapture::run`] loops until its
//! stop flag is set, calls `on_idle` when nothing arrives (so time-driven
//! work can go on without frames), and reopens interfaces that go away.

mod iface;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrayvec::ArrayVec;
use nix::poll::{PollFd, PollFlags, PollTimeout};
pub use warden_capture::Frame;

use crate::iface::{Iface, OpenError};

/// The most interfaces one capture watches (a home router has one to a few
/// LAN interfaces; a fixed bound keeps the per-round bookkeeping on the stack).
pub const MAX_INTERFACES: usize = 16;

/// How often open interfaces are checked (still the same interface? socket
/// errors? kernel drop counters) and gone ones looked for again.
const CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// The longest single wait, so a stop request is seen promptly.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// What to capture and how.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface names (e.g. `br-lan`), at most [`MAX_INTERFACES`].
    pub interfaces: Vec<String>,
    /// Bytes kept of each frame (the rest is counted in `wire_len` only).
    pub snaplen: u32,
    /// Ring memory per interface, in bytes. It is locked in the kernel and
    /// mapped into this process for as long as the capture is open.
    pub ring_bytes: usize,
    /// Ask for frames not addressed to this host too (on a bridge, this is
    /// what shows device-to-device traffic). Reference-counted by the kernel
    /// and undone when the socket closes, even if the process dies.
    pub promiscuous: bool,
    /// Longest quiet time before `on_idle` is called.
    pub idle_interval: Duration,
}

impl LiveConfig {
    /// Defaults for `interfaces`: 2048-byte snap length (a full Ethernet
    /// frame, and the head of larger GRO/GSO aggregates), 4 MiB of ring per
    /// interface, promiscuous, idle every 200 ms.
    pub fn new(interfaces: Vec<String>) -> Self {
        LiveConfig {
            interfaces,
            snaplen: 2048,
            ring_bytes: 4 << 20,
            promiscuous: true,
            idle_interval: Duration::from_millis(200),
        }
    }

    fn validate(&self) -> Result<(), LiveError> {
        let bad = |m: String| Err(LiveError::Config(m));
        if self.interfaces.is_empty() {
            return bad("no interface to capture on".into());
        }
        if self.interfaces.len() > MAX_INTERFACES {
            return bad(format!(
                "{} interfaces; at most {MAX_INTERFACES} are supported",
                self.interfaces.len()
            ));
        }
        for (i, name) in self.interfaces.iter().enumerate() {
            // IFNAMSIZ is 16 with the terminating NUL.
            if name.is_empty()
                || name.len() > 15
                || name.contains(['/', ' ', '\0'])
                || name == "."
                || name == ".."
            {
                return bad(format!("{name:?} is not an interface name"));
            }
            if self.interfaces[..i].contains(name) {
                return bad(format!("interface {name} is listed twice"));
            }
        }
        if !(64..=65535).contains(&self.snaplen) {
            return bad(format!("snaplen {} is outside 64..=65535", self.snaplen));
        }
        if !(MIN_RING_BYTES..=MAX_RING_BYTES).contains(&self.ring_bytes) {
            return bad(format!(
                "ring_bytes {} is outside {MIN_RING_BYTES}..={MAX_RING_BYTES}",
                self.ring_bytes
            ));
        }
        if self.idle_interval.is_zero() {
            return bad("idle_interval must be above zero".into());
        }
        Ok(())
    }
}

const MIN_RING_BYTES: usize = 16 << 10;
const MAX_RING_BYTES: usize = 1 << 30;

/// Counters of one interface, since [`LiveCapture::open`] (they survive
/// reopens).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceStats {
    pub name: String,
    /// Frames delivered.
    pub frames: u64,
    /// Their lengths on the wire.
    pub bytes: u64,
    /// Frames the kernel saw but could not put in the ring (it was full).
    pub drops: u64,
    /// Delivered frames the host received (addressed to it or not).
    pub incoming: u64,
    /// Delivered frames the host sent.
    pub outgoing: u64,
    /// Times the interface was opened again after it went away.
    pub reopens: u64,
    /// Whether a capture is open on it now.
    pub open: bool,
}

/// Counters of a live capture: totals and each interface's.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LiveStats {
    pub frames: u64,
    pub bytes: u64,
    pub drops: u64,
    pub reopens: u64,
    pub interfaces: Vec<InterfaceStats>,
}

/// Errors that stop a live capture.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("invalid live capture settings: {0}")]
    Config(String),
    #[error("capturing on {interface} needs root or the CAP_NET_RAW capability ({reason})")]
    Permission { interface: String, reason: String },
    #[error("cannot capture on {interface}: {reason}")]
    Open { interface: String, reason: String },
    #[error("waiting for frames failed: {0}")]
    Poll(#[source] nix::Error),
}

/// Capture on a set of interfaces.
pub struct LiveCapture {
    ifaces: Vec<Iface>,
    idle_interval: Duration,
    next_check: Instant,
}

impl LiveCapture {
    /// Opens every interface. A missing interface is not an error (it is
    /// waited for, and a warning is logged); missing privileges, invalid
    /// settings and failures to set up a ring are.
    pub fn open(cfg: &LiveConfig) -> Result<Self, LiveError> {
        cfg.validate()?;
        let now = Instant::now();
        let mut ifaces = Vec::with_capacity(cfg.interfaces.len());
        for name in &cfg.interfaces {
            let mut iface = Iface::new(name.clone(), cfg, now);
            match iface.try_open(now) {
                Ok(()) | Err(OpenError::Missing) => {}
                Err(OpenError::Permission(reason)) => {
                    return Err(LiveError::Permission {
                        interface: name.clone(),
                        reason,
                    })
                }
                Err(OpenError::Other(reason)) => {
                    return Err(LiveError::Open {
                        interface: name.clone(),
                        reason,
                    })
                }
            }
            ifaces.push(iface);
        }
        Ok(LiveCapture {
            ifaces,
            idle_interval: cfg.idle_interval,
            next_check: now + CHECK_INTERVAL,
        })
    }

    /// Delivers frames until `stop` is set, then returns the counters.
    ///
    /// `on_frame` gets each frame (borrowed from the ring); `on_idle` gets
    /// the current time (nanoseconds since the Unix epoch, the clock frame
    /// timestamps use) whenever `idle_interval` passed with no frame and no
    /// earlier `on_idle`. `stop` is looked at least every 100 ms.
    /// Interfaces that go down, vanish or are replaced are reopened; frames
    /// the kernel could not queue are counted as drops.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        on_frame: &mut dyn FnMut(Frame<'_>),
        on_idle: &mut dyn FnMut(i64),
    ) -> Result<LiveStats, LiveError> {
        let mut last_activity = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= self.next_check {
                for iface in &mut self.ifaces {
                    iface.check(now);
                }
                self.next_check = now + CHECK_INTERVAL;
            }
            if self.deliver_ready(on_frame) > 0 {
                last_activity = Instant::now();
                continue;
            }
            let now = Instant::now();
            let quiet = now.duration_since(last_activity);
            if quiet >= self.idle_interval {
                on_idle(now_ns());
                last_activity = now;
                continue;
            }
            let wait = (self.idle_interval - quiet)
                .min(POLL_SLICE)
                .min(self.next_check.saturating_duration_since(now));
            self.wait(wait)?;
        }
        for iface in &mut self.ifaces {
            iface.refresh_drops();
        }
        Ok(self.stats())
    }

    /// Counters so far. Kernel drop counts are as of the last check (at
    /// most a quarter second old while running).
    pub fn stats(&self) -> LiveStats {
        let mut s = LiveStats::default();
        for iface in &self.ifaces {
            let i = &iface.stats;
            s.frames += i.frames;
            s.bytes += i.bytes;
            s.drops += i.drops;
            s.reopens += i.reopens;
            s.interfaces.push(i.clone());
        }
        s
    }

    /// Takes one ready block from each interface that has one and delivers
    /// their frames merged by timestamp. Returns how many were delivered.
    fn deliver_ready(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> usize {
        let mut cursors: ArrayVec<iface::Cursor<'_>, MAX_INTERFACES> = ArrayVec::new();
        for iface in &mut self.ifaces {
            if let Some(c) = iface.next_batch() {
                cursors.push(c);
            }
        }
        let mut delivered = 0;
        if let [only] = cursors.as_mut_slice() {
            while only.deliver_next(on_frame) {
                delivered += 1;
            }
        } else {
            loop {
                let mut earliest: Option<(usize, i64)> = None;
                for (i, c) in cursors.iter_mut().enumerate() {
                    if let Some(ts) = c.peek_ts() {
                        if earliest.is_none_or(|(_, e)| ts < e) {
                            earliest = Some((i, ts));
                        }
                    }
                }
                let Some((i, _)) = earliest else { break };
                cursors[i].deliver_next(on_frame);
                delivered += 1;
            }
        }
        delivered
    }

    /// Waits up to `timeout` for a ready block or a socket error.
    fn wait(&mut self, timeout: Duration) -> Result<(), LiveError> {
        let mut fds: ArrayVec<PollFd<'_>, MAX_INTERFACES> = ArrayVec::new();
        let mut which: ArrayVec<usize, MAX_INTERFACES> = ArrayVec::new();
        for (i, iface) in self.ifaces.iter().enumerate() {
            if let Some(fd) = iface.fd() {
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                which.push(i);
            }
        }
        if fds.is_empty() {
            // Nothing open: wait for the next look for the interfaces.
            std::thread::sleep(timeout);
            return Ok(());
        }
        let ms = u16::try_from(timeout.as_millis().max(1)).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(LiveError::Poll(e)),
        }
        let bad = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
        let mut failed: ArrayVec<usize, MAX_INTERFACES> = ArrayVec::new();
        for (fd, &i) in fds.iter().zip(&which) {
            if fd.revents().is_some_and(|r| r.intersects(bad)) {
                failed.push(i);
            }
        }
        drop(fds);
        let now = Instant::now();
        for i in failed {
            // A socket error (the interface went down or away) is checked
            // at once: it must be read to be cleared, or poll spins.
            self.ifaces[i].check(now);
        }
        Ok(())
    }
}

/// Wall-clock time in nanoseconds since the Unix epoch (the clock of the
/// kernel's software packet timestamps).
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let ok = LiveConfig::new(vec!["eth0".into()]);
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.interfaces.clear();
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.interfaces = vec!["a-name-longer-than-15".into()];
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.interfaces = vec!["eth0".into(), "eth0".into()];
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.interfaces = (0..=MAX_INTERFACES).map(|i| format!("e{i}")).collect();
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.snaplen = 10;
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.ring_bytes = 1024;
        assert!(c.validate().is_err());
        let mut c = ok;
        c.idle_interval = Duration::ZERO;
        assert!(c.validate().is_err());
    }

    #[test]
    fn ring_layout_fits_the_request() {
        for (ring, snap) in [
            (16 << 10, 256),
            (4 << 20, 2048),
            (64 << 20, 65535),
            (1 << 30, 64),
        ] {
            let (block, count) = iface::ring_layout(ring, snap);
            assert!(
                block.is_power_of_two() && block >= 4096,
                "{ring} {snap}: {block}"
            );
            assert!(block >= snap as usize + 128, "{ring} {snap}: {block}");
            assert!(count >= 2, "{ring} {snap}: {count}");
            assert!(
                block * count <= ring.max(2 * block),
                "{ring} {snap}: {block}x{count}"
            );
            assert!(
                block * count * 2 > ring || count == 2,
                "{ring} {snap}: {block}x{count}"
            );
        }
    }
}
