//! A throwaway lab for live-capture tests: two network namespaces joined by
//! a veth pair, named after the test process so parallel runs never meet,
//! and removed by `Drop` even when the test panics.
//!
//! The tests need root (namespaces, AF_PACKET); they fail, not skip, without
//! it. Traffic goes only between the namespaces created here.

#![allow(dead_code)]

use std::fs::File;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{sendto, socket, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockType};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// EtherType of test frames (IEEE "local experimental").
pub const ETHERTYPE: [u8; 2] = [0x88, 0xb5];
pub const MARK: &[u8; 8] = b"WARDENLV";

pub struct Lab {
    /// Namespace holding the captured interface.
    pub cap_ns: String,
    /// Namespace of the sending peer.
    pub peer_ns: String,
    pub cap_if: String,
    pub peer_if: String,
}

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the live-capture tests create network namespaces and AF_PACKET sockets: \
         run them as root (e.g. `sudo -E cargo test -p warden-live`)"
    );
}

pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running `ip` (iproute2) failed: {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    pub fn new() -> Lab {
        require_root();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let lab = Lab {
            cap_ns: format!("wl{pid}-{n}-cap"),
            peer_ns: format!("wl{pid}-{n}-peer"),
            cap_if: format!("wl{pid}x{n}c"),
            peer_if: format!("wl{pid}x{n}p"),
        };
        assert!(lab.cap_if.len() <= 15);
        // Dropped (and so cleaned up) from here on if anything fails.
        ip(&["netns", "add", &lab.cap_ns]);
        ip(&["netns", "add", &lab.peer_ns]);
        for ns in [&lab.cap_ns, &lab.peer_ns] {
            // No IPv6 chatter (router solicitations, MLD) on the test links.
            for key in ["all", "default"] {
                ip(&[
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
                ]);
            }
        }
        lab.create_link();
        lab
    }

    /// (Re-)creates the veth pair, up on both sides.
    pub fn create_link(&self) {
        ip(&[
            "link",
            "add",
            &self.cap_if,
            "netns",
            &self.cap_ns,
            "type",
            "veth",
            "peer",
            "name",
            &self.peer_if,
            "netns",
            &self.peer_ns,
        ]);
        ip(&["-n", &self.cap_ns, "link", "set", &self.cap_if, "up"]);
        ip(&["-n", &self.peer_ns, "link", "set", &self.peer_if, "up"]);
    }

    /// Another veth pair between the same namespaces; returns the names of
    /// its capture-side and peer-side ends.
    pub fn extra_pair(&self, k: u32) -> (String, String) {
        let (c, p) = (
            format!("{}{k}", self.cap_if),
            format!("{}{k}", self.peer_if),
        );
        ip(&[
            "link",
            "add",
            &c,
            "netns",
            &self.cap_ns,
            "type",
            "veth",
            "peer",
            "name",
            &p,
            "netns",
            &self.peer_ns,
        ]);
        ip(&["-n", &self.cap_ns, "link", "set", &c, "up"]);
        ip(&["-n", &self.peer_ns, "link", "set", &p, "up"]);
        (c, p)
    }

    /// Sends `frames` from the peer namespace on another of its interfaces.
    pub fn send_from_peer_on(&self, iface: &str, frames: Vec<Vec<u8>>) -> usize {
        let iface = iface.to_string();
        in_netns(&self.peer_ns, move || send_frames(&iface, &frames))
            .join()
            .expect("sender thread")
    }

    /// Deletes the veth pair (both ends).
    pub fn delete_link(&self) {
        ip(&["-n", &self.cap_ns, "link", "del", &self.cap_if]);
    }

    pub fn set_cap_link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.cap_ns, "link", "set", &self.cap_if, state]);
    }

    /// Runs `f` on a new thread inside the capture namespace.
    pub fn in_cap<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        in_netns(&self.cap_ns, f)
    }

    /// Sends `frames` from the peer namespace (they arrive on the captured
    /// interface as incoming) and returns how many the kernel took.
    pub fn send_from_peer(&self, frames: Vec<Vec<u8>>) -> usize {
        let iface = self.peer_if.clone();
        in_netns(&self.peer_ns, move || send_frames(&iface, &frames))
            .join()
            .expect("sender thread")
    }

    /// Sends `frames` out of the captured interface itself (outgoing).
    pub fn send_from_cap(&self, frames: Vec<Vec<u8>>) -> usize {
        let iface = self.cap_if.clone();
        self.in_cap(move || send_frames(&iface, &frames))
            .join()
            .expect("sender thread")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and so the pair.
        for ns in [&self.cap_ns, &self.peer_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

pub fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        setns(file, CloneFlags::CLONE_NEWNET).expect("setns into the test namespace");
        f()
    })
}

/// The link-layer address of `iface` (index, hardware type, MAC), as the
/// kernel lists it among the interface's addresses.
pub fn link_addr(iface: &str) -> LinkAddr {
    nix::ifaddrs::getifaddrs()
        .expect("getifaddrs")
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .unwrap_or_else(|| panic!("{iface} has no link-layer address"))
}

/// Sends raw Ethernet frames out of `iface` with a plain packet socket
/// (protocol 0: it sends, it never receives) and returns how many were sent.
pub fn send_frames(iface: &str, frames: &[Vec<u8>]) -> usize {
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("packet socket");
    let to = link_addr(iface);
    let mut sent = 0;
    for f in frames {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match sendto(fd.as_raw_fd(), f, &to, MsgFlags::empty()) {
                Ok(_) => break,
                // The device queue is full: let it drain.
                Err(Errno::ENOBUFS | Errno::EAGAIN) if Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => panic!("sending on {iface}: {e}"),
            }
        }
        sent += 1;
    }
    sent
}

/// A test frame: broadcast-free unicast MACs, the test EtherType, the mark,
/// a sequence number and `fill` up to `len` bytes.
pub fn frame(seq: u32, len: usize, src_mac: u8) -> Vec<u8> {
    assert!(len >= 26);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, src_mac]);
    f.extend_from_slice(&ETHERTYPE);
    f.extend_from_slice(MARK);
    f.extend_from_slice(&seq.to_be_bytes());
    let mut x = seq.wrapping_mul(2_654_435_761);
    while f.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        f.push(x as u8);
    }
    f
}

/// The sequence number of a test frame, if `data` is one.
pub fn seq_of(data: &[u8]) -> Option<u32> {
    if data.get(12..14)? != ETHERTYPE || data.get(14..22)? != MARK {
        return None;
    }
    Some(u32::from_be_bytes(data.get(22..26)?.try_into().ok()?))
}

/// Waits until `cond` holds, up to `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}
