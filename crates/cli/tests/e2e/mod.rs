//! A small network of namespaces and a running `warden run` for the
//! end-to-end tests (the design of crates/enforce/tests/lab, IPv4 only).
//!
//! ```text
//!  dev  eth0 02:77:00:00:00:10 ─┐          router                      inet
//!       192.168.77.10           │  lan-dev ┐                           eth0
//!                               ├──────────┤ br-lan 192.168.77.1  wan0 ──── 198.51.100.2
//!  dev2 eth0 02:77:00:00:00:20 ─┘  lan-dev2┘                      198.51.100.1  (+ .10-.59)
//!       192.168.77.20
//! ```
//!
//! The router forwards between its LAN bridge and its WAN veth (no NAT: the
//! inet namespace routes 192.168.77.0/24 back). Namespace names carry the
//! process id and the test's name, so tests run in parallel; [`Lab`]'s Drop
//! deletes them, also when a test panics. Traffic comes from std::net
//! sockets opened by threads that entered a namespace (setns) and only ever
//! goes to namespaces the test created.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{sendto, socket, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockType};
use nix::unistd::Pid;
pub use warden_netlab::{
    in_ns, require_root_and, run, sa, spawn_in_ns, sysctl, tcp_connects, TcpServer,
};

pub const DEV_MAC: &str = "02:77:00:00:00:10";
pub const DEV2_MAC: &str = "02:77:00:00:00:20";
pub const ROUTER_MAC: [u8; 6] = [0x02, 0x77, 0, 0, 0, 0x01];
pub const DEV_IP: &str = "192.168.77.10";
pub const DEV2_IP: &str = "192.168.77.20";
pub const ROUTER_LAN: &str = "192.168.77.1";
pub const INET_IP: &str = "198.51.100.2";

/// Extra addresses of the inet host, for scans across many addresses.
pub fn inet_extra(i: u8) -> String {
    format!("198.51.100.{}", 10 + i)
}
pub const INET_EXTRA: u8 = 50;

/// Fails the test, with what to do, unless it runs as root with ip and nft.
/// These tests never skip.
pub fn require_root_and_tools() {
    require_root_and(
        "the end-to-end guard tests",
        &[("nft", "--version", "nftables"), ("ip", "-V", "iproute2")],
    );
}

pub struct Lab {
    pub dev: String,
    pub dev2: String,
    pub router: String,
    pub inet: String,
    created: Vec<String>,
}

impl Lab {
    /// The whole topology, checked to pass traffic before warden starts.
    pub fn new(test: &str) -> Lab {
        require_root_and_tools();
        let base = format!("we{}-{test}", std::process::id());
        let mut lab = Lab {
            dev: format!("{base}-dev"),
            dev2: format!("{base}-dev2"),
            router: format!("{base}-router"),
            inet: format!("{base}-inet"),
            created: Vec::new(),
        };
        for ns in [
            lab.router.clone(),
            lab.dev.clone(),
            lab.dev2.clone(),
            lab.inet.clone(),
        ] {
            lab.add_ns(&ns);
        }
        let r = lab.router.clone();
        let router_mac = fmt_mac(&ROUTER_MAC);
        run(&[
            "ip",
            "-n",
            &r,
            "link",
            "add",
            "br-lan",
            "address",
            &router_mac,
            "type",
            "bridge",
        ]);
        run(&[
            "ip",
            "-n",
            &r,
            "addr",
            "add",
            "192.168.77.1/24",
            "dev",
            "br-lan",
        ]);
        run(&["ip", "-n", &r, "link", "set", "br-lan", "up"]);
        for (ns, port, mac, ip4) in [
            (&lab.dev, "lan-dev", DEV_MAC, DEV_IP),
            (&lab.dev2, "lan-dev2", DEV2_MAC, DEV2_IP),
        ] {
            run(&[
                "ip", "-n", &r, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ]);
            run(&[
                "ip", "-n", &r, "link", "set", port, "master", "br-lan", "up",
            ]);
            run(&["ip", "-n", ns, "link", "set", "eth0", "address", mac, "up"]);
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip4}/24"),
                "dev",
                "eth0",
            ]);
            run(&["ip", "-n", ns, "route", "add", "default", "via", ROUTER_LAN]);
        }
        let i = lab.inet.clone();
        run(&[
            "ip", "-n", &r, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns",
            &i,
        ]);
        run(&[
            "ip",
            "-n",
            &r,
            "addr",
            "add",
            "198.51.100.1/24",
            "dev",
            "wan0",
        ]);
        run(&["ip", "-n", &r, "link", "set", "wan0", "up"]);
        run(&["ip", "-n", &i, "link", "set", "eth0", "up"]);
        run(&[
            "ip",
            "-n",
            &i,
            "addr",
            "add",
            &format!("{INET_IP}/24"),
            "dev",
            "eth0",
        ]);
        // More hosts for a scan to find (one namespace answers for all).
        let mut batch = String::new();
        for k in 0..INET_EXTRA {
            batch += &format!("addr add {}/32 dev eth0\n", inet_extra(k));
        }
        let path = std::env::temp_dir().join(format!("{base}-addrs.batch"));
        std::fs::write(&path, batch).unwrap();
        run(&["ip", "-n", &i, "-batch", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(&path);
        run(&[
            "ip",
            "-n",
            &i,
            "route",
            "add",
            "192.168.77.0/24",
            "via",
            "198.51.100.1",
        ]);
        in_ns(&r, || {
            sysctl("net.ipv4.ip_forward", "1");
            for k in ["iptables", "ip6tables", "arptables"] {
                let key = format!("net/bridge/bridge-nf-call-{k}");
                // Present only where br_netfilter is loaded.
                if std::path::Path::new(&format!("/proc/sys/{key}")).exists() {
                    sysctl(&key, "0");
                }
            }
        });
        lab.wait_until_up();
        lab
    }

    fn add_ns(&mut self, name: &str) {
        // A leftover of an earlier run with the same pid would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        run(&["ip", "netns", "add", name]);
        self.created.push(name.to_string());
        run(&["ip", "-n", name, "link", "set", "lo", "up"]);
    }

    fn wait_until_up(&self) {
        let server = TcpServer::start(&self.inet, sa(INET_IP, 9));
        let ok = wait_for(Duration::from_secs(10), || {
            tcp_connects(&self.dev, sa(INET_IP, 9)) && tcp_connects(&self.dev2, sa(INET_IP, 9))
        });
        drop(server);
        assert!(ok.is_some(), "the lab network did not come up within 10 s");
    }

    /// `nft list table FAMILY warden` in the router, None without the table.
    pub fn nft_table(&self, family: &str) -> Option<String> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.router,
                "nft",
                "list",
                "table",
                family,
                "warden",
            ])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

pub fn fmt_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Polls `cond` every 50 ms until it holds (returns the time it took) or
/// `limit` passes.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `warden run` in the router namespace, its log collected line by line
/// (and echoed, so a failing test shows it).
pub struct Guard {
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
    pub db: PathBuf,
    router: String,
}

impl Guard {
    /// Starts the guard on br-lan and waits until its tables are in place.
    pub fn start(lab: &Lab, db: PathBuf) -> Guard {
        Guard::start_with(lab, db, &[])
    }

    /// [`Guard::start`] with more arguments for `warden run`.
    pub fn start_with(lab: &Lab, db: PathBuf, extra: &[&str]) -> Guard {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &lab.router])
            .arg(env!("CARGO_BIN_EXE_warden"))
            .args(["run", "-i", "br-lan", "--router-addr", ROUTER_LAN, "--db"])
            .arg(&db)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start warden run");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let tag = lab.router.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{tag}] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let mut guard = Guard {
            child: Some(child),
            log,
            reader: Some(reader),
            db,
            router: lab.router.clone(),
        };
        let up = wait_for(Duration::from_secs(20), || {
            guard.assert_running();
            guard.logged("started;") && lab.nft_table("inet").is_some()
        });
        assert!(
            up.is_some(),
            "warden run did not start within 20 s: {:?}",
            guard.log()
        );
        guard
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Panics, with the log, if the guard has exited.
    pub fn assert_running(&mut self) {
        let status = self.child.as_mut().unwrap().try_wait().unwrap();
        assert!(
            status.is_none(),
            "warden run exited ({status:?}): {:?}",
            self.log()
        );
    }

    /// SIGTERM, and the exit status within 10 s.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate()
            .expect("warden run did not exit within 10 s of SIGTERM")
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // `ip netns exec` execs warden: the child is warden itself.
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        status
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// `warden device ARGS --db DB`, which must succeed; its stdout.
pub fn warden_device(db: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("device")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("run warden device");
    assert!(
        out.status.success(),
        "warden device {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks a TCP connection from `ns` to `to` every `every` on a thread of
/// its own, counting successes and failures, until dropped.
pub struct Prober {
    pub ok: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Prober {
    pub fn start(ns: &str, to: SocketAddr, every: Duration) -> Prober {
        let (ok, failed, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (o, f, flag) = (ok.clone(), failed.clone(), stop.clone());
        let thread = spawn_in_ns(ns, move || {
            while !flag.load(Ordering::Relaxed) {
                let good = TcpStream::connect_timeout(&to, Duration::from_secs(1))
                    .and_then(|mut s| {
                        s.set_read_timeout(Some(Duration::from_secs(1)))?;
                        let mut buf = [0u8; 2];
                        s.read_exact(&mut buf)?;
                        Ok(&buf == b"ok")
                    })
                    .unwrap_or(false);
                if good { &o } else { &f }.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(every);
            }
        });
        Prober {
            ok,
            failed,
            stop,
            thread: Some(thread),
        }
    }

    /// (successes, failures) so far.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A scanner in `ns`: TCP connection attempts (SYNs) at about `per_s` per
/// second to port 23/2323/8080 of the inet host's extra addresses, which
/// refuse them (closed ports answer RST), until stopped. Counts attempts.
pub struct Scanner {
    pub attempts: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scanner {
    pub fn start(ns: &str, per_s: u32) -> Scanner {
        let attempts = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, flag) = (attempts.clone(), stop.clone());
        let thread = spawn_in_ns(ns, move || {
            let ports = [23u16, 2323, 8080, 5555];
            let gap = Duration::from_secs(1) / per_s;
            let start = Instant::now();
            let mut n: u64 = 0;
            while !flag.load(Ordering::Relaxed) {
                let addr = inet_extra((n % u64::from(INET_EXTRA)) as u8);
                let port = ports[(n / u64::from(INET_EXTRA)) as usize % ports.len()];
                // Short timeout: once quarantined nothing answers at all.
                let _ = TcpStream::connect_timeout(&sa(&addr, port), Duration::from_millis(20));
                n += 1;
                a.store(n, Ordering::Relaxed);
                let due = start + gap * n as u32;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
        });
        Scanner {
            attempts,
            stop,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) -> u64 {
        self.halt();
        self.attempts.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Arrival times of the datagrams at a UDP port, relative to the first.
pub struct UdpRecorder {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpRecorder {
    pub fn start(ns: &str, at: SocketAddr) -> UdpRecorder {
        let sock = in_ns(ns, || UdpSocket::bind(at)).unwrap_or_else(|e| panic!("bind {at}: {e}"));
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        // 8 MiB past rmem_max (root may): a receiver starved by a busy
        // machine must not lose, and so hide, what the firewall let through.
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::RcvBufForce, &(8 << 20))
            .unwrap();
        let arrivals = Arc::new(Mutex::new(Vec::with_capacity(100_000)));
        let stop = Arc::new(AtomicBool::new(false));
        let (arr, flag) = (arrivals.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if sock.recv(&mut buf).is_ok() {
                    arr.lock().unwrap().push(Instant::now());
                }
            }
        });
        UdpRecorder {
            arrivals,
            stop,
            thread: Some(thread),
        }
    }

    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }
}

impl Drop for UdpRecorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `pps` datagrams of `size` bytes per second from `ns` to `to`
/// until `stop`, paced in 5 ms slices; returns (sent, first send time).
pub fn udp_flood(
    ns: &str,
    to: SocketAddr,
    pps: u64,
    size: usize,
    stop: Arc<AtomicBool>,
) -> JoinHandle<(u64, Instant)> {
    spawn_in_ns(ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        let payload = vec![0x5au8; size];
        let start = Instant::now();
        let mut sent = 0;
        while !stop.load(Ordering::Relaxed) {
            let due = (start.elapsed().as_secs_f64() * pps as f64) as u64;
            while sent < due {
                if sock.send_to(&payload, to).is_ok() {
                    sent += 1;
                } else {
                    // A full queue: try again in the next slice.
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (sent, start)
    })
}

/// Like [`udp_flood`], with a new destination port for every packet (the
/// way Mirai's UDP flood randomises them).
pub fn udp_flood_sprayed(
    ns: &str,
    to: SocketAddr,
    pps: u64,
    size: usize,
    stop: Arc<AtomicBool>,
) -> JoinHandle<(u64, Instant)> {
    spawn_in_ns(ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        let payload = vec![0x5au8; size];
        let start = Instant::now();
        let mut sent: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            let due = (start.elapsed().as_secs_f64() * pps as f64) as u64;
            while sent < due {
                let port = 1024 + (sent.wrapping_mul(7919) % 60_000) as u16;
                if sock
                    .send_to(&payload, SocketAddr::new(to.ip(), port))
                    .is_ok()
                {
                    sent += 1;
                } else {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        (sent, start)
    })
}

/// The link-layer address of `iface` in the calling thread's namespace.
fn link_addr(iface: &str) -> LinkAddr {
    nix::ifaddrs::getifaddrs()
        .expect("getifaddrs")
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .unwrap_or_else(|| panic!("{iface} has no link-layer address"))
}

/// Sends raw Ethernet frames out of `iface` in `ns` with a packet socket;
/// returns how many the kernel took (it refuses some malformed ones).
pub fn send_raw_frames(ns: &str, iface: &str, frames: Vec<Vec<u8>>) -> usize {
    let iface = iface.to_string();
    in_ns(ns, move || {
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .expect("packet socket");
        let to = link_addr(&iface);
        let mut sent = 0;
        for f in &frames {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match sendto(fd.as_raw_fd(), f, &to, MsgFlags::empty()) {
                    Ok(_) => {
                        sent += 1;
                        break;
                    }
                    Err(nix::errno::Errno::ENOBUFS | nix::errno::Errno::EAGAIN)
                        if Instant::now() < deadline =>
                    {
                        std::thread::yield_now()
                    }
                    Err(_) => break,
                }
            }
        }
        sent
    })
}

/// A small deterministic generator (xorshift64*) for garbage frames.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A DNS query for `name`, type A, in wire form.
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The answer to `query` (one A question): `addr` with this TTL, or
/// NXDOMAIN for `None`.
pub fn dns_reply(query: &[u8], addr: Option<std::net::Ipv4Addr>, ttl: u32) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2] = 0x81;
    r[3] = if addr.is_some() { 0x80 } else { 0x83 };
    r[6..8].copy_from_slice(&u16::from(addr.is_some()).to_be_bytes());
    if let Some(a) = addr {
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&[0, 4]);
        r.extend_from_slice(&a.octets());
    }
    r
}

/// The question name of a DNS message (lowercase), if it has one.
fn dns_question(msg: &[u8]) -> Option<String> {
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(pos)?);
        if len == 0 {
            break;
        }
        let label = msg.get(pos + 1..pos + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).to_lowercase());
        pos += 1 + len;
    }
    Some(labels.join("."))
}

/// A resolver in a namespace: A records for the names it knows (TTL 120),
/// NXDOMAIN for the rest.
pub struct DnsServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    pub fn start(ns: &str, at: SocketAddr, names: Vec<(String, std::net::Ipv4Addr)>) -> DnsServer {
        let sock = in_ns(ns, || UdpSocket::bind(at)).unwrap_or_else(|e| panic!("bind {at}: {e}"));
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Some(q) = dns_question(&buf[..n]) else {
                    continue;
                };
                let addr = names.iter().find(|(name, _)| *name == q).map(|(_, a)| *a);
                let _ = sock.send_to(&dns_reply(&buf[..n], addr, 120), from);
            }
        });
        DnsServer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Asks `server` for `name` from namespace `ns`, as a device's stub
/// resolver would; the address of the answer, if any.
pub fn dns_lookup(ns: &str, server: SocketAddr, name: &str) -> Option<std::net::Ipv4Addr> {
    in_ns(ns, || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let query = dns_query(0x5a5a, name);
        for _ in 0..3 {
            sock.send_to(&query, server).unwrap();
            let mut buf = [0u8; 512];
            if let Ok(n) = sock.recv(&mut buf) {
                let r = &buf[..n];
                if n >= query.len() + 16 && r[3] & 0x0f == 0 {
                    let a = &r[n - 4..];
                    return Some(std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]));
                }
                return None;
            }
        }
        None
    })
}
