//! `warden run` end to end, as root, with real traffic: namespaces for two
//! devices, a router (LAN bridge, forwarding, warden's nftables) and an
//! "internet" host; warden guards br-lan in the router namespace. Each test
//! builds its own network, so they run in parallel. Times are printed
//! (`cargo test -p warden --test guard_e2e -- --nocapture`).

mod e2e;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::*;

/// The default policy's rate limit for a flooding device (packets/s).
const RATE_LIMIT_PPS: f64 = 100.0;

/// Whether `mac` is in warden's inet table (a rule or set element for it).
fn in_table(lab: &Lab, mac: &str) -> bool {
    lab.nft_table("inet")
        .is_some_and(|t| t.to_lowercase().contains(mac))
}

/// The table with the counters' values taken out: they move with traffic.
fn without_counters(table: &str) -> String {
    table
        .lines()
        .map(|l| match l.find("counter packets") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Scans from `dev` until the guard's table names it (quarantine); returns
/// how long that took from the first SYN, and the SYNs sent.
fn scan_until_quarantined(lab: &Lab, guard: &mut Guard) -> (Duration, u64) {
    let scanner = Scanner::start(&lab.dev, 50);
    let start = Instant::now();
    let took = wait_for(Duration::from_secs(30), || {
        guard.assert_running();
        in_table(lab, DEV_MAC)
    });
    let syns = scanner.stop();
    let took = took.unwrap_or_else(|| {
        panic!(
            "the scanner ({syns} SYNs at 50/s) was not quarantined within 30 s: {:?}",
            guard.log()
        )
    });
    assert!(start.elapsed() >= took);
    (took, syns)
}

#[test]
fn a_udp_flood_is_rate_limited_within_seconds() {
    let lab = Lab::new("flood");
    let dir = tempfile::tempdir().unwrap();
    let mut guard = Guard::start(&lab, dir.path().join("warden.db"));
    let recorder = UdpRecorder::start(&lab.inet, sa(INET_IP, 9999));

    let stop = Arc::new(AtomicBool::new(false));
    let flood = udp_flood(&lab.dev, sa(INET_IP, 9999), 3000, 512, stop.clone());
    std::thread::sleep(Duration::from_secs(14));
    stop.store(true, Ordering::Relaxed);
    let (sent, sent_from) = flood.join().unwrap();
    let flood_s = sent_from.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    guard.assert_running();

    let arrivals = recorder.arrivals();
    assert!(
        arrivals.len() > 1000,
        "only {} of {sent} flood packets reached the internet host",
        arrivals.len()
    );
    let first = arrivals[0];
    let at: Vec<f64> = arrivals
        .iter()
        .map(|t| t.duration_since(first).as_secs_f64())
        .collect();
    let count = |from: f64, to: f64| at.iter().filter(|&&t| t >= from && t < to).count() as f64;
    // The delivered rate is "about the limit" from the moment every later
    // half-second window carries at most three times the limit (the
    // bucket's burst included); a pause of a starved receiver followed by
    // its backlog does not count.
    let window = 0.5;
    let step = 0.05;
    let starts: Vec<f64> = (0..)
        .map(|i| f64::from(i) * step)
        .take_while(|t| t + window <= flood_s)
        .collect();
    let limited_at = match starts
        .iter()
        .rposition(|&t| count(t, t + window) / window > 3.0 * RATE_LIMIT_PPS)
    {
        Some(i) if i + 1 < starts.len() => Some(starts[i + 1]),
        Some(_) => None,
        None => Some(0.0),
    };
    let full_rate = count(0.0, 1.0);
    let tail_rate = count(flood_s - 4.0, flood_s - 0.5) / 3.5;
    eprintln!(
        "flood: sent {sent} packets in {flood_s:.1} s ({:.0}/s); delivered {} ({full_rate:.0}/s in the first second, \
         {tail_rate:.0}/s in the last seconds); limited after {}",
        sent as f64 / flood_s,
        at.len(),
        limited_at.map_or("never".to_string(), |t| format!("{t:.2} s")),
    );
    assert!(
        full_rate > 1000.0,
        "the flood did not reach the internet host at full rate before the guard acted ({full_rate}/s)"
    );
    let limited_at = limited_at.unwrap_or_else(|| {
        panic!(
            "the flood was never limited to about {RATE_LIMIT_PPS}/s: {:?}",
            guard.log()
        )
    });
    assert!(
        limited_at < 10.0,
        "the flood took {limited_at:.2} s to be limited (must be under 10 s)"
    );
    // Limited for good, not a pause.
    assert!(
        tail_rate <= 2.0 * RATE_LIMIT_PPS,
        "{tail_rate}/s still got through at the end of the flood"
    );
    assert!(in_table(&lab, DEV_MAC), "no rule for the flooding device");
    assert!(!in_table(&lab, DEV2_MAC), "the quiet device got a rule");
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}

/// The figure: time from the first packet of a 1,000 packets/s
/// flood (ports sprayed, as Mirai's UDP flood does) to the device's rule
/// being in warden's table.
#[test]
fn a_sprayed_flood_gets_its_rule_within_seconds() {
    let lab = Lab::new("spray");
    let dir = tempfile::tempdir().unwrap();
    let mut guard = Guard::start(&lab, dir.path().join("warden.db"));
    let stop = Arc::new(AtomicBool::new(false));
    let flood = udp_flood_sprayed(&lab.dev, sa(INET_IP, 9999), 1000, 512, stop.clone());
    let started = Instant::now();
    let mut rule_at = None;
    while started.elapsed() < Duration::from_secs(12) {
        if in_table(&lab, DEV_MAC) {
            rule_at = Some(started.elapsed().as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, _) = flood.join().unwrap();
    guard.assert_running();
    eprintln!(
        "sprayed flood: {sent} packets sent; rule active {}",
        rule_at.map_or("never".into(), |t| format!(
            "{t:.2} s after the first packet"
        ))
    );
    let rule_at = rule_at.unwrap_or_else(|| panic!("no rule within 12 s: {:?}", guard.log()));
    assert!(rule_at < 6.0, "the rule took {rule_at:.2} s");
    assert!(!in_table(&lab, DEV2_MAC), "the quiet device got a rule");
    assert!(guard.stop().success());
}

#[test]
fn a_scanner_is_quarantined_and_a_benign_device_keeps_working() {
    let lab = Lab::new("scan");
    let dir = tempfile::tempdir().unwrap();
    let mut guard = Guard::start(&lab, dir.path().join("warden.db"));
    let _https = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 443)));

    let benign = Prober::start(&lab.dev2, sa(INET_IP, 443), Duration::from_millis(100));
    let (took, syns) = scan_until_quarantined(&lab, &mut guard);
    eprintln!(
        "scan: quarantined {:.2} s after the first SYN ({syns} SYNs)",
        took.as_secs_f64()
    );

    // The scanner reaches nothing any more; the benign device still does.
    for _ in 0..3 {
        assert!(
            !tcp_connects(&lab.dev, sa(INET_IP, 443)),
            "the quarantined scanner still reaches the internet host"
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    let (ok, failed) = benign.counts();
    drop(benign);
    eprintln!("scan: benign device {ok} connections, {failed} failed");
    assert!(ok >= 20, "the benign device made only {ok} connections");
    assert_eq!(
        failed, 0,
        "{failed} of the benign device's connections failed during the scan"
    );
    assert!(tcp_connects(&lab.dev2, sa(INET_IP, 443)));
    assert!(!in_table(&lab, DEV2_MAC), "the benign device got a rule");
    guard.assert_running();
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}

#[test]
fn a_restart_restores_the_quarantine_and_a_release_lifts_it() {
    let lab = Lab::new("restart");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    let mut guard = Guard::start(&lab, db.clone());
    let _https = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    let (took, _) = scan_until_quarantined(&lab, &mut guard);
    eprintln!(
        "restart: quarantined {:.2} s after the first SYN",
        took.as_secs_f64()
    );
    assert!(!tcp_connects(&lab.dev, sa(INET_IP, 443)));
    let before = lab.nft_table("inet").unwrap();
    let before_bridge = lab.nft_table("bridge");

    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
    // Stopping keeps the decisions enforced.
    assert!(
        !tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "the quarantine ended when warden stopped"
    );

    let guard = Guard::start(&lab, db.clone());
    assert!(
        guard
            .log()
            .iter()
            .any(|l| l.contains("started; 1 decision(s) in force")),
        "the restart did not restore the one decision: {:?}",
        guard.log()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let after = lab.nft_table("inet").unwrap();
    assert_eq!(
        without_counters(&before),
        without_counters(&after),
        "the inet table differs after a restart"
    );
    assert_eq!(
        before_bridge.as_deref().map(without_counters),
        lab.nft_table("bridge").as_deref().map(without_counters),
        "the bridge table differs after a restart"
    );
    assert!(
        !tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "the quarantine was lost in the restart"
    );

    // The owner's release lifts it within seconds.
    let asked = Instant::now();
    warden_device(&db, &["release", DEV_MAC]);
    let lifted = wait_for(Duration::from_secs(10), || {
        tcp_connects(&lab.dev, sa(INET_IP, 443))
    });
    let lifted = lifted.unwrap_or_else(|| {
        panic!(
            "the device could not reach the internet host 10 s after its release: {:?}",
            guard.log()
        )
    });
    eprintln!(
        "restart: release took effect after {:.2} s ({:.2} s end to end)",
        lifted.as_secs_f64(),
        asked.elapsed().as_secs_f64()
    );
    assert!(lifted < Duration::from_secs(5), "release took {lifted:?}");
    assert!(
        !in_table(&lab, DEV_MAC),
        "a rule for the released device remains"
    );

    // A second restart brings back no stale quarantine.
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
    let guard = Guard::start(&lab, db.clone());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "the released device is blocked again after a restart"
    );
    assert!(!in_table(&lab, DEV_MAC));
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}

/// Garbage: truncated headers, lying length fields, stacked VLAN tags,
/// random EtherTypes and bytes, to the router's MAC and to broadcast.
fn garbage_frames(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(0x05ee_de2e);
    let src = [0x02, 0x77, 0, 0, 0, 0x10];
    (0..n)
        .map(|i| {
            let dst = if i % 2 == 0 { ROUTER_MAC } else { [0xff; 6] };
            let mut f = Vec::new();
            f.extend_from_slice(&dst);
            f.extend_from_slice(&src);
            match i % 8 {
                // IPv4 with a random header (bad IHL, lengths, protocol).
                0 => {
                    f.extend_from_slice(&[0x08, 0x00]);
                    let len = rng.below(60) as usize;
                    f.extend(rng.bytes(len));
                }
                // IPv4 that claims more than it carries: truncated TCP/UDP.
                1 => {
                    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0x05, 0xdc, 0, 0, 0x40, 0]);
                    f.push([6u8, 17, 1, 47][rng.below(4) as usize]);
                    f.extend_from_slice(&[0, 0, 192, 168, 77, 10, 198, 51, 100, 2]);
                    let len = rng.below(12) as usize;
                    f.extend(rng.bytes(len));
                }
                // IPv6 with a random, mostly short remainder.
                2 => {
                    f.extend_from_slice(&[0x86, 0xdd, 0x60]);
                    let len = rng.below(80) as usize;
                    f.extend(rng.bytes(len));
                }
                // Stacked VLAN tags, then nothing much.
                3 => {
                    for _ in 0..rng.below(6) {
                        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
                    }
                    f.extend_from_slice(&[0x88, 0xa8]);
                    let len = rng.below(8) as usize;
                    f.extend(rng.bytes(len));
                }
                // ARP, truncated.
                4 => {
                    f.extend_from_slice(&[0x08, 0x06]);
                    let len = rng.below(28) as usize;
                    f.extend(rng.bytes(len));
                }
                // A frame cut inside the Ethernet header.
                5 => f.truncate(6 + rng.below(8) as usize),
                // Random EtherType and bytes, up to a full frame.
                _ => {
                    let len = 2 + rng.below(1500) as usize;
                    f.extend(rng.bytes(len));
                }
            }
            f
        })
        .collect()
}

#[test]
fn malformed_frames_do_not_stop_the_guard() {
    let lab = Lab::new("garbage");
    let dir = tempfile::tempdir().unwrap();
    let mut guard = Guard::start(&lab, dir.path().join("warden.db"));
    let _https = TcpServer::start(&lab.inet, sa(INET_IP, 443));

    let frames = garbage_frames(20_000);
    let start = Instant::now();
    let sent = send_raw_frames(&lab.dev, "eth0", frames);
    eprintln!(
        "garbage: {sent} of 20000 malformed frames sent in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert!(sent >= 15_000, "the kernel took only {sent} of the frames");
    std::thread::sleep(Duration::from_secs(1));
    guard.assert_running();

    // Still guarding: the benign device works, a scan is caught.
    assert!(tcp_connects(&lab.dev2, sa(INET_IP, 443)));
    let (took, _) = scan_until_quarantined(&lab, &mut guard);
    eprintln!(
        "garbage: after the garbage, quarantined {:.2} s after the first SYN",
        took.as_secs_f64()
    );
    assert!(!tcp_connects(&lab.dev, sa(INET_IP, 443)));
    assert!(tcp_connects(&lab.dev2, sa(INET_IP, 443)));
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}

#[test]
fn a_spam_device_loses_smtp_but_keeps_https() {
    let lab = Lab::new("spam");
    let dir = tempfile::tempdir().unwrap();
    let mut guard = Guard::start(&lab, dir.path().join("warden.db"));
    // Mail servers on every address of the internet host, and HTTPS.
    let _smtp = TcpServer::start(&lab.inet, sa("0.0.0.0", 25));
    let _https = TcpServer::start(&lab.inet, sa(INET_IP, 443));

    // Direct delivery to 8 distinct mail servers, all of which answer.
    let start = Instant::now();
    let mut delivered = 0;
    for k in 0..8 {
        if in_table(&lab, DEV_MAC) {
            break;
        }
        if tcp_connects(&lab.dev, sa(&inet_extra(k), 25)) {
            delivered += 1;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The fifth may race the rule it causes; the four before it cannot.
    assert!(
        delivered >= 4,
        "only {delivered} SMTP connections got through before any decision"
    );
    let blocked = wait_for(Duration::from_secs(10), || {
        guard.assert_running();
        in_table(&lab, DEV_MAC)
    });
    assert!(
        blocked.is_some(),
        "no decision for the spam device within 10 s: {:?}",
        guard.log()
    );
    eprintln!(
        "spam: SMTP block seen {:.2} s after the first SMTP connection ({delivered} connections, 200 ms apart)",
        start.elapsed().as_secs_f64()
    );
    for k in 0..3 {
        assert!(
            !tcp_connects(&lab.dev, sa(&inet_extra(k), 25)),
            "the spam device still reaches a mail server"
        );
    }
    for _ in 0..3 {
        assert!(
            tcp_connects(&lab.dev, sa(INET_IP, 443)),
            "the spam device lost HTTPS too"
        );
    }
    // Only that device: the other one still sends mail.
    assert!(tcp_connects(&lab.dev2, sa(&inet_extra(0), 25)));
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}

#[test]
fn a_quarantined_device_reaches_only_the_host_names_its_quarantine_allows() {
    let lab = Lab::new("names");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        "[policy.quarantine]\nallow_hosts = [\"updates.example.test\"]\n",
    )
    .unwrap();
    let db = dir.path().join("warden.db");
    let mut guard = Guard::start_with(&lab, db.clone(), &["--config", config.to_str().unwrap()]);
    let other = inet_extra(1);
    let _servers = [
        TcpServer::start(&lab.inet, sa(INET_IP, 443)),
        TcpServer::start(&lab.inet, sa(INET_IP, 8443)),
        TcpServer::start(&lab.inet, sa(&other, 443)),
    ];
    let _dns = DnsServer::start(
        &lab.router,
        sa(ROUTER_LAN, 53),
        vec![
            ("updates.example.test".into(), INET_IP.parse().unwrap()),
            ("other.example.test".into(), other.parse().unwrap()),
        ],
    );
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 443)));

    warden_device(&db, &["quarantine", DEV_MAC]);
    let blocked = wait_for(Duration::from_secs(10), || {
        !tcp_connects(&lab.dev, sa(INET_IP, 443))
    });
    assert!(blocked.is_some(), "not quarantined: {:?}", guard.log());

    // A name the quarantine does not allow stays blocked, answer or not.
    let resolver = sa(ROUTER_LAN, 53);
    assert_eq!(
        dns_lookup(&lab.dev, resolver, "other.example.test"),
        Some(other.parse().unwrap()),
        "the quarantine must leave DNS to the router"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!tcp_connects(&lab.dev, sa(&other, 443)));

    // Another LAN device forges an answer naming `other` as the allowed
    // host: it is not the router's resolver, so nothing opens.
    let forged = dns_reply(
        &dns_query(7, "updates.example.test"),
        Some(other.parse().unwrap()),
        300,
    );
    in_ns(&lab.dev2, || {
        let s = std::net::UdpSocket::bind(sa(DEV2_IP, 53)).unwrap();
        for _ in 0..3 {
            s.send_to(&forged, sa(DEV_IP, 40053)).unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !tcp_connects(&lab.dev, sa(&other, 443)),
        "a forged answer from a LAN device opened the quarantine"
    );

    // The allowed name, answered by the router: its address opens on
    // HTTPS, for this device, and nothing else does.
    let asked = Instant::now();
    assert_eq!(
        dns_lookup(&lab.dev, resolver, "updates.example.test"),
        Some(INET_IP.parse().unwrap())
    );
    let opened = wait_for(Duration::from_secs(5), || {
        tcp_connects(&lab.dev, sa(INET_IP, 443))
    });
    let opened = opened.unwrap_or_else(|| {
        panic!(
            "the allowed update host stayed blocked after the router's answer: {:?}",
            guard.log()
        )
    });
    eprintln!(
        "names: the allowed host opened {:.2} s after the DNS answer ({:.2} s end to end)",
        opened.as_secs_f64(),
        asked.elapsed().as_secs_f64()
    );
    assert!(
        !tcp_connects(&lab.dev, sa(INET_IP, 8443)),
        "the grant opened more than HTTPS and HTTP"
    );
    assert!(!tcp_connects(&lab.dev, sa(&other, 443)));
    assert!(guard.logged("may reach updates.example.test (198.51.100.2)"));
    guard.assert_running();

    // The release ends the quarantine and its grants with it.
    warden_device(&db, &["release", DEV_MAC]);
    let released = wait_for(Duration::from_secs(10), || {
        tcp_connects(&lab.dev, sa(&other, 443))
    });
    assert!(released.is_some(), "not released: {:?}", guard.log());
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}

#[test]
fn the_dashboard_is_served_beside_the_guard_on_loopback_only() {
    use std::io::{Read, Write};
    let lab = Lab::new("dash");
    let dir = tempfile::tempdir().unwrap();
    let guard = Guard::start(&lab, dir.path().join("warden.db"));
    assert!(
        wait_for(Duration::from_secs(5), || guard
            .logged("one-time setup code"))
        .is_some(),
        "no setup code printed: {:?}",
        guard.log()
    );
    let get = |ns: &str, addr: &str| {
        let addr = addr.to_owned();
        in_ns(ns, move || {
            let mut s = std::net::TcpStream::connect_timeout(
                &addr.parse().unwrap(),
                Duration::from_secs(1),
            )
            .ok()?;
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n")
                .ok()?;
            let mut head = String::new();
            s.read_to_string(&mut head).ok()?;
            Some(head)
        })
    };
    let reply = wait_for(Duration::from_secs(5), || {
        get(&lab.router, "127.0.0.1:8080").is_some()
    });
    assert!(
        reply.is_some(),
        "the dashboard does not answer on the router's loopback"
    );
    let head = get(&lab.router, "127.0.0.1:8080").unwrap();
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    assert!(
        head.to_lowercase().contains("/setup"),
        "before a password is set, the dashboard must lead to the setup page: {head}"
    );
    // Not on the LAN unless configured.
    assert!(
        get(&lab.dev, &format!("{ROUTER_LAN}:8080")).is_none(),
        "the dashboard answers on the LAN by default"
    );
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}
