//! A small network of namespaces for tests against the real kernel and nft.
//!
//! ```text
//!  dev  eth0 02:77:00:00:00:10 ─┐          router                      inet
//!       192.168.77.10, fd77::10 │  lan-dev ┐                           eth0
//!                               ├──────────┤ br-lan 192.168.77.1  wan0 ──── 198.51.100.2
//!  dev2 eth0 02:77:00:00:00:20 ─┘  lan-dev2┘        fd77::1       198.51.100.1   2001:db8:100::2
//!       192.168.77.20, fd77::20                                   2001:db8:100::1
//! ```
//!
//! The router forwards between its LAN bridge and its WAN veth (no NAT: the
//! inet namespace routes 192.168.77.0/24 back). bridge-nf-call-* is off in
//! the router, as on a router without br_netfilter, so frames switched
//! between dev and dev2 are seen only by the bridge family.
//!
//! Namespace names carry the process id and the test's name, so tests run
//! in parallel. Traffic comes from std::net sockets opened by threads that
//! entered a namespace (setns), and from `ping`. [`Lab`]'s Drop deletes the
//! namespaces, also when the test panics.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::num::{NonZeroU32, NonZeroU64};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use warden_enforce::{
    Allow, DeviceRules, EnforceError, Enforcement, IfName, Mac, Nft, Proto, Quarantine, RateLimit,
};
// The bench includes this module too and uses only part of it.
#[allow(unused_imports)]
pub use warden_netlab::{in_ns, require_root_and, run, sa, sysctl, tcp_connects, TcpServer};

pub const DEV_MAC: &str = "02:77:00:00:00:10";
pub const DEV2_MAC: &str = "02:77:00:00:00:20";
pub const DEV_IP: &str = "192.168.77.10";
pub const DEV2_IP: &str = "192.168.77.20";
pub const ROUTER_LAN: &str = "192.168.77.1";
pub const ROUTER_LAN6: &str = "fd77::1";
pub const INET_IP: &str = "198.51.100.2";
pub const INET_IP6: &str = "2001:db8:100::2";

pub fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

/// Fails the test, with what to do, unless it runs as root with ip, nft and
/// ping installed. These tests never skip.
pub fn require_tools() {
    require_root_and(
        "the nftables tests",
        &[
            ("nft", "--version", "nftables"),
            ("ip", "-V", "iproute2"),
            ("ping", "-V", "iputils-ping"),
        ],
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
    /// The whole topology, checked to pass traffic before any rule exists.
    pub fn new(test: &str) -> Lab {
        let mut lab = Lab::router_only(test);
        for ns in ["dev", "dev2", "inet"] {
            lab.add_ns(&format!("{}-{ns}", lab.router.trim_end_matches("-router")));
        }
        lab.dev = lab.created[1].clone();
        lab.dev2 = lab.created[2].clone();
        lab.inet = lab.created[3].clone();
        let r = lab.router.clone();
        run(&["ip", "-n", &r, "link", "add", "br-lan", "type", "bridge"]);
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
        run(&[
            "ip",
            "-n",
            &r,
            "addr",
            "add",
            "fd77::1/64",
            "dev",
            "br-lan",
            "nodad",
        ]);
        run(&["ip", "-n", &r, "link", "set", "br-lan", "up"]);
        for (ns, port, mac, ip4, ip6) in [
            (&lab.dev, "lan-dev", DEV_MAC, DEV_IP, "fd77::10"),
            (&lab.dev2, "lan-dev2", DEV2_MAC, DEV2_IP, "fd77::20"),
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
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{ip6}/64"),
                "dev",
                "eth0",
                "nodad",
            ]);
            run(&["ip", "-n", ns, "route", "add", "default", "via", ROUTER_LAN]);
            run(&[
                "ip",
                "-n",
                ns,
                "-6",
                "route",
                "add",
                "default",
                "via",
                ROUTER_LAN6,
            ]);
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
        run(&[
            "ip",
            "-n",
            &r,
            "addr",
            "add",
            "2001:db8:100::1/64",
            "dev",
            "wan0",
            "nodad",
        ]);
        run(&["ip", "-n", &r, "link", "set", "wan0", "up"]);
        run(&["ip", "-n", &i, "link", "set", "eth0", "up"]);
        run(&[
            "ip",
            "-n",
            &i,
            "addr",
            "add",
            "198.51.100.2/24",
            "dev",
            "eth0",
        ]);
        run(&[
            "ip",
            "-n",
            &i,
            "addr",
            "add",
            "2001:db8:100::2/64",
            "dev",
            "eth0",
            "nodad",
        ]);
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
        run(&[
            "ip",
            "-n",
            &i,
            "-6",
            "route",
            "add",
            "fd77::/64",
            "via",
            "2001:db8:100::1",
        ]);
        in_ns(&r, || {
            sysctl("net.ipv4.ip_forward", "1");
            sysctl("net.ipv6.conf.all.forwarding", "1");
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

    /// Only the router namespace, empty: for tests of nft itself.
    pub fn router_only(test: &str) -> Lab {
        require_tools();
        let mut lab = Lab {
            dev: String::new(),
            dev2: String::new(),
            router: String::new(),
            inet: String::new(),
            created: Vec::new(),
        };
        let base = format!("wen{}-{test}", std::process::id());
        lab.router = format!("{base}-router");
        lab.add_ns(&lab.router.clone());
        lab
    }

    fn add_ns(&mut self, name: &str) {
        // A leftover of an earlier run with the same pid would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        run(&["ip", "netns", "add", name]);
        self.created.push(name.to_string());
        run(&["ip", "-n", name, "link", "set", "lo", "up"]);
        in_ns(name, || {
            // Addresses usable at once; no duplicate detection to wait for.
            sysctl("net.ipv6.conf.all.accept_dad", "0");
            sysctl("net.ipv6.conf.default.accept_dad", "0");
        });
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = [
                (&self.dev, INET_IP),
                (&self.dev2, INET_IP),
                (&self.dev, INET_IP6),
            ]
            .iter()
            .all(|(ns, ip)| ping(ns, ip));
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the lab network did not come up within 10 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn nft(&self) -> RouterNft<'_> {
        RouterNft { lab: self }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// warden_enforce's nft calls, run in the router namespace.
pub struct RouterNft<'a> {
    lab: &'a Lab,
}

impl RouterNft<'_> {
    pub fn apply(&self, e: &Enforcement) -> Result<(), EnforceError> {
        in_ns(&self.lab.router, || Nft::default().apply(e))
    }

    pub fn remove(&self, e: &Enforcement) -> Result<(), EnforceError> {
        in_ns(&self.lab.router, || Nft::default().remove(&e.table))
    }

    pub fn current(&self, e: &Enforcement) -> Option<String> {
        in_ns(&self.lab.router, || Nft::default().current(&e.table)).unwrap()
    }

    pub fn run_script(&self, script: &str) -> Result<(), EnforceError> {
        in_ns(&self.lab.router, || {
            Nft::default().run_script(script, false)
        })
    }

    pub fn json(&self, family: &str, e: &Enforcement) -> serde_json::Value {
        in_ns(&self.lab.router, || {
            Nft::default().current_json(family, &e.table)
        })
        .unwrap()
    }

    /// `nft list ruleset`: every table, warden's or not.
    pub fn ruleset(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.lab.router, "nft", "list", "ruleset"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }
}

/// One ICMP echo, one second to answer.
pub fn ping(ns: &str, ip: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q", ip])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// A UDP echo server (a stand-in for DNS, SSDP, NAT-PMP).
pub struct UdpEcho {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpEcho {
    pub fn start(ns: &str, at: SocketAddr) -> UdpEcho {
        UdpEcho::start_with(ns, at, None)
    }

    /// Also a member of multicast group `group` on the interface with
    /// address `iface` (SSDP's 239.255.255.250).
    pub fn start_with(ns: &str, at: SocketAddr, group: Option<(Ipv4Addr, Ipv4Addr)>) -> UdpEcho {
        let sock = in_ns(ns, || UdpSocket::bind(at)).unwrap_or_else(|e| panic!("bind {at}: {e}"));
        if let Some((group, iface)) = group {
            sock.join_multicast_v4(&group, &iface).unwrap();
        }
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(&buf[..n], from);
                }
            }
        });
        UdpEcho {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A datagram to an echo server comes back: three tries, 300 ms each.
pub fn udp_echoes(ns: &str, to: SocketAddr) -> bool {
    let any: SocketAddr = match to.ip() {
        IpAddr::V4(_) => "0.0.0.0:0".parse().unwrap(),
        IpAddr::V6(_) => "[::]:0".parse().unwrap(),
    };
    let sock = in_ns(ns, || UdpSocket::bind(any)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for i in 0..3u8 {
        let msg = [b'w', b'a', b'r', b'd', i];
        if sock.send_to(&msg, to).is_err() {
            continue;
        }
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            if buf[..n] == msg {
                return true;
            }
        }
    }
    false
}

/// Counts the datagrams and bytes (UDP payload) that arrive.
pub struct UdpCounter {
    packets: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpCounter {
    pub fn start(ns: &str, at: SocketAddr) -> UdpCounter {
        let sock = in_ns(ns, || UdpSocket::bind(at)).unwrap_or_else(|e| panic!("bind {at}: {e}"));
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        // 8 MiB, past rmem_max (root may): a receiver starved by a busy
        // machine must not lose what the firewall let through.
        rustix::net::sockopt::set_socket_recv_buffer_size_force(&sock, 8 << 20).unwrap();
        let (packets, bytes, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (p, b, flag) = (packets.clone(), bytes.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while !flag.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    p.fetch_add(1, Ordering::Relaxed);
                    b.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        });
        UdpCounter {
            packets,
            bytes,
            stop,
            thread: Some(thread),
        }
    }

    /// Packets and bytes received so far.
    pub fn read(&self) -> (u64, u64) {
        (
            self.packets.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

impl Drop for UdpCounter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `pps` datagrams of `size` bytes per second for `secs`, paced in
/// 10 ms slices; returns how many were sent.
pub fn udp_flood(ns: &str, to: SocketAddr, pps: u64, size: usize, secs: f64) -> u64 {
    let sock = in_ns(ns, || UdpSocket::bind("0.0.0.0:0")).unwrap();
    let payload = vec![0x5au8; size];
    let start = Instant::now();
    let total = (pps as f64 * secs) as u64;
    let mut sent = 0;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * pps as f64) as u64).min(total);
        while sent < due {
            if sock.send_to(&payload, to).is_ok() {
                sent += 1;
            } else {
                // A full queue: try again in the next slice.
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sent
}

/// `n` devices with MACs 02:aa:00:00:hi:lo. `all_actions`: every device is
/// rate-limited, SMTP- and UPnP-blocked and quarantined with three
/// allowances (the heaviest script); otherwise one action each in turn.
pub fn many_devices(n: usize, all_actions: bool) -> Enforcement {
    let mut e = Enforcement {
        lan_interfaces: vec![IfName::new("br-lan").unwrap()],
        router_addrs: vec![ROUTER_LAN.parse().unwrap(), ROUTER_LAN6.parse().unwrap()],
        ..Enforcement::default()
    };
    for i in 0..n {
        let m = Mac::new([0x02, 0xaa, 0, 0, (i >> 8) as u8, i as u8]).unwrap();
        let rate = Some(RateLimit {
            packets_per_s: NonZeroU32::new(100 + i as u32),
            bytes_per_s: NonZeroU64::new(125_000),
            reason: "flood of 4000 UDP packets/s".into(),
        });
        let quarantine = Some(Quarantine {
            allow: vec![
                Allow::Dns,
                Allow::Ntp,
                Allow::Net {
                    net: "203.0.113.0/24".parse().unwrap(),
                    proto: Some(Proto::Tcp),
                    port: Some(443),
                },
            ],
            reason: "telnet scan of 900 addresses".into(),
        });
        let mut d = DeviceRules {
            name: format!("device {i} (Acme cam v1.{i})").into(),
            ..Default::default()
        };
        if all_actions || i % 4 == 0 {
            d.rate_limit = rate;
        }
        if all_actions || i % 4 == 1 {
            d.block_smtp = Some("spam: SMTP to 40 servers".into());
        }
        if all_actions || i % 4 == 2 {
            d.block_upnp = Some("UPnP port mapping".into());
        }
        if all_actions || i % 4 == 3 {
            d.quarantine = quarantine;
        }
        e.devices.insert(m, d);
    }
    e
}
