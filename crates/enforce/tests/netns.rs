//! warden-enforce against the real kernel and the real `nft`, with real
//! traffic between network namespaces (topology in lab/mod.rs). Needs root;
//! fails, never skips, without it.

mod lab;

use std::net::Ipv4Addr;
use std::num::{NonZeroU32, NonZeroU64};
use std::time::{Duration, Instant};

use lab::*;
use warden_enforce::{
    script, Allow, DeviceRules, EnforceError, Enforcement, IfName, Label, Proto, Quarantine,
    RateLimit, TableName,
};

fn state(dev: DeviceRules) -> Enforcement {
    let mut e = Enforcement {
        router_addrs: vec![ROUTER_LAN.parse().unwrap(), ROUTER_LAN6.parse().unwrap()],
        ..Enforcement::default()
    };
    e.devices.insert(mac(DEV_MAC), dev);
    e
}

fn quarantine(allow: Vec<Allow>) -> DeviceRules {
    DeviceRules {
        name: "cam-1 (Acme IPC)".into(),
        quarantine: Some(Quarantine {
            allow,
            reason: "telnet scan".into(),
        }),
        ..Default::default()
    }
}

#[test]
fn quarantine_blocks_the_internet_and_the_lan_keeps_dns_and_spares_dev2() {
    let lab = Lab::new("quar");
    // Dual-stack: one socket answers IPv4 and IPv6.
    let _dns = UdpEcho::start(&lab.router, sa("::", 53));
    let _dhcp = UdpEcho::start(&lab.router, sa("0.0.0.0", 67));
    let _ui = TcpServer::start(&lab.router, sa(ROUTER_LAN, 8080));
    let _web = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    let _web6 = TcpServer::start(&lab.inet, sa(INET_IP6, 443));
    let _lan = TcpServer::start(&lab.dev2, sa(DEV2_IP, 80));

    // Everything works before warden acts.
    let reach = |ns: &str| {
        [
            ping(ns, INET_IP),
            tcp_connects(ns, sa(INET_IP, 443)),
            tcp_connects(ns, sa(INET_IP6, 443)),
            udp_echoes(ns, sa(ROUTER_LAN, 53)),
            udp_echoes(ns, sa(ROUTER_LAN6, 53)),
            tcp_connects(ns, sa(ROUTER_LAN, 8080)),
        ]
    };
    assert_eq!(reach(&lab.dev), [true; 6], "dev before");
    assert!(ping(&lab.dev, DEV2_IP) && tcp_connects(&lab.dev, sa(DEV2_IP, 80)));

    let e = state(quarantine(vec![Allow::Dns]));
    lab.nft().apply(&e).unwrap();
    // Forget learned neighbours: ARP and neighbour discovery must still work.
    for ns in [&lab.dev, &lab.router] {
        let _ = std::process::Command::new("ip")
            .args(["-n", ns, "neigh", "flush", "all"])
            .output();
    }

    let [ping_inet, tcp4, tcp6, dns4, dns6, ui] = reach(&lab.dev);
    assert!(!ping_inet, "quarantined dev still pings the internet host");
    assert!(!tcp4, "quarantined dev still connects to TCP 443 over IPv4");
    assert!(!tcp6, "quarantined dev still connects to TCP 443 over IPv6");
    assert!(dns4, "DNS to the router over IPv4 was blocked");
    assert!(
        dns6,
        "DNS to the router over IPv6 was blocked (neighbour discovery?)"
    );
    assert!(!ui, "quarantined dev still reaches the router's TCP 8080");
    assert!(
        udp_echoes(&lab.dev, sa(ROUTER_LAN, 67)),
        "DHCP to the router was blocked"
    );
    assert!(
        !ping(&lab.dev, ROUTER_LAN),
        "quarantined dev still pings the router"
    );
    // Lateral traffic through the bridge: the bridge table.
    assert!(!ping(&lab.dev, DEV2_IP), "quarantined dev still pings dev2");
    assert!(!tcp_connects(&lab.dev, sa(DEV2_IP, 80)));
    // The benign device is untouched.
    assert_eq!(reach(&lab.dev2), [true; 6], "dev2 while dev is quarantined");

    // What the kernel holds names the device and the reason.
    let json = lab.nft().json("inet", &e);
    let set = json["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o.get("set").filter(|s| s["name"] == "quarantined"))
        .expect("set quarantined");
    let elem = &set["elem"][0]["elem"];
    assert_eq!(elem["val"], DEV_MAC, "{set}");
    assert_eq!(
        elem["comment"],
        "cam-1 (Acme IPC) 02:77:00:00:00:10: quarantine (telnet scan)"
    );

    // Without the bridge table, what the bridge switches is not seen: the
    // lateral check above depended on it.
    let no_bridge = Enforcement {
        bridge: false,
        ..e.clone()
    };
    lab.nft().remove(&e).unwrap();
    lab.nft().apply(&no_bridge).unwrap();
    assert!(
        ping(&lab.dev, DEV2_IP),
        "bridge=false still blocks dev -> dev2"
    );
    assert!(!ping(&lab.dev, INET_IP));
}

#[test]
fn quarantine_allowances_open_only_what_they_name() {
    let lab = Lab::new("allow");
    let _web = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    let _other = TcpServer::start(&lab.inet, sa(INET_IP, 8443));
    let _ntp = UdpEcho::start(&lab.inet, sa(INET_IP, 123));
    let _udp = UdpEcho::start(&lab.inet, sa(INET_IP, 4000));
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 8443)));
    assert!(udp_echoes(&lab.dev, sa(INET_IP, 4000)));

    let e = state(quarantine(vec![
        Allow::Ntp,
        Allow::Net {
            net: "198.51.100.0/30".parse().unwrap(),
            proto: Some(Proto::Tcp),
            port: Some(443),
        },
    ]));
    lab.nft().apply(&e).unwrap();
    assert!(
        tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "allowed update server"
    );
    assert!(udp_echoes(&lab.dev, sa(INET_IP, 123)), "allowed NTP");
    assert!(
        !tcp_connects(&lab.dev, sa(INET_IP, 8443)),
        "other port, same host"
    );
    assert!(
        !udp_echoes(&lab.dev, sa(INET_IP, 4000)),
        "other UDP, same host"
    );
    assert!(!ping(&lab.dev, INET_IP));
    // No Allow::Dns this time: DNS to the router is dropped too.
    let _dns = UdpEcho::start(&lab.router, sa(ROUTER_LAN, 53));
    assert!(!udp_echoes(&lab.dev, sa(ROUTER_LAN, 53)));
    assert!(udp_echoes(&lab.dev2, sa(ROUTER_LAN, 53)));
}

#[test]
fn block_smtp_drops_mail_ports_keeps_https_despite_distro_accept_rules() {
    let lab = Lab::new("smtp");
    let servers: Vec<TcpServer> = [25, 465, 587, 443]
        .iter()
        .map(|&p| TcpServer::start(&lab.inet, sa(INET_IP, p)))
        .collect();
    for p in [25, 465, 587, 443] {
        assert!(tcp_connects(&lab.dev, sa(INET_IP, p)), "port {p} before");
    }
    // A distribution's firewall that accepts everything, before warden's
    // chain (priority -300) and after it (filter, 0). An accept ends only its
    // own chain; warden's drop is final.
    lab.nft()
        .run_script(
            "table inet distro {\n\
             chain early { type filter hook forward priority -300; policy accept; ct state established,related accept; accept; }\n\
             chain forward { type filter hook forward priority filter; policy accept; tcp dport { 25, 465, 587 } accept; accept; }\n\
             }\n",
        )
        .unwrap();
    let e = state(DeviceRules {
        name: "plug".into(),
        block_smtp: Some("spam bot: SMTP to 40 servers".into()),
        ..Default::default()
    });
    lab.nft().apply(&e).unwrap();
    for p in [25, 465, 587] {
        assert!(
            !tcp_connects(&lab.dev, sa(INET_IP, p)),
            "dev's port {p} not blocked"
        );
        assert!(
            tcp_connects(&lab.dev2, sa(INET_IP, p)),
            "dev2's port {p} blocked"
        );
    }
    assert!(
        tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "HTTPS blocked too"
    );
    assert!(ping(&lab.dev, INET_IP));
    assert!(lab.nft().ruleset().contains("table inet distro"));
    drop(servers);
}

#[test]
fn block_upnp_drops_ssdp_natpmp_and_igd_keeps_dns() {
    let lab = Lab::new("upnp");
    let group = Ipv4Addr::new(239, 255, 255, 250);
    let lan: Ipv4Addr = ROUTER_LAN.parse().unwrap();
    let _ssdp = UdpEcho::start_with(&lab.router, sa("0.0.0.0", 1900), Some((group, lan)));
    let _natpmp = UdpEcho::start(&lab.router, sa(ROUTER_LAN, 5351));
    let _igd = TcpServer::start(&lab.router, sa(ROUTER_LAN, 5000));
    let _dns = UdpEcho::start(&lab.router, sa(ROUTER_LAN, 53));
    let checks = |ns: &str| {
        [
            udp_echoes(ns, sa(ROUTER_LAN, 1900)),
            udp_echoes(ns, sa("239.255.255.250", 1900)),
            udp_echoes(ns, sa(ROUTER_LAN, 5351)),
            tcp_connects(ns, sa(ROUTER_LAN, 5000)),
            udp_echoes(ns, sa(ROUTER_LAN, 53)),
        ]
    };
    assert_eq!(checks(&lab.dev), [true; 5], "before");
    let e = state(DeviceRules {
        name: "tv".into(),
        block_upnp: Some("opened a port mapping".into()),
        ..Default::default()
    });
    lab.nft().apply(&e).unwrap();
    assert_eq!(
        checks(&lab.dev),
        [false, false, false, false, true],
        "dev: SSDP unicast, SSDP multicast, NAT-PMP, IGD blocked; DNS works"
    );
    assert_eq!(checks(&lab.dev2), [true; 5], "dev2 untouched");
}

fn rate_limited(packets: Option<u32>, bytes: Option<u64>) -> Enforcement {
    state(DeviceRules {
        name: "cam".into(),
        rate_limit: Some(RateLimit {
            packets_per_s: packets.and_then(NonZeroU32::new),
            bytes_per_s: bytes.and_then(NonZeroU64::new),
            reason: "UDP flood".into(),
        }),
        ..Default::default()
    })
}

/// What a flood from `ns` delivered to the internet host.
struct Flood {
    sent: u64,
    /// How long the sending took.
    secs: f64,
    /// Packets and bytes that arrived over the whole flood.
    total: (u64, u64),
    /// Packets and bytes per second that arrived after the first second,
    /// once the initial bucket is spent: the steady rate.
    steady: (f64, f64),
}

fn flood(lab: &Lab, ns: &str, port: u16, pps: u64, size: usize, secs: f64) -> Flood {
    let counter = UdpCounter::start(&lab.inet, sa(INET_IP, port));
    let start = Instant::now();
    let (sent, at_1s, t_1s, t_end) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let sent = udp_flood(ns, sa(INET_IP, port), pps, size, secs);
            (sent, Instant::now())
        });
        std::thread::sleep(Duration::from_secs(1));
        let (at_1s, t_1s) = (counter.read(), Instant::now());
        let (sent, t_end) = sender.join().unwrap();
        (sent, at_1s, t_1s, t_end)
    });
    // Let the last packets arrive; none are sent after t_end.
    std::thread::sleep(Duration::from_millis(200));
    let total = counter.read();
    // Real durations: on a busy machine the sender may run late.
    let rest = (t_end - t_1s).as_secs_f64();
    Flood {
        sent,
        secs: (t_end - start).as_secs_f64(),
        total,
        steady: (
            (total.0 - at_1s.0) as f64 / rest,
            (total.1 - at_1s.1) as f64 / rest,
        ),
    }
}

#[test]
fn rate_limit_caps_a_udp_flood_in_packets() {
    let lab = Lab::new("rlpkt");
    let (limit, pps, secs) = (100u64, 1000u64, 3.0);
    // Without a limit nearly all arrive: losses below come from the rule.
    let base = flood(&lab, &lab.dev, 9000, pps, 64, secs);
    assert!(
        base.total.0 * 10 >= base.sent * 9,
        "baseline: {} of {} arrived",
        base.total.0,
        base.sent
    );

    lab.nft()
        .apply(&rate_limited(Some(limit as u32), None))
        .unwrap();
    let dev = flood(&lab, &lab.dev, 9001, pps, 64, secs);
    let dev2 = flood(&lab, &lab.dev2, 9002, pps, 64, secs);
    let per_s = dev.total.0 as f64 / dev.secs;
    let sent_per_s = dev.sent as f64 / dev.secs;
    println!(
        "rate-limit {limit} packets/s: dev sent {} in {:.2} s ({sent_per_s:.0}/s), {} arrived ({per_s:.0}/s overall, {:.0}/s after the first second); dev2 sent {}, {} arrived",
        dev.sent, dev.secs, dev.total.0, dev.steady.0, dev2.sent, dev2.total.0
    );
    assert!(
        sent_per_s >= 9.0 * limit as f64,
        "sent only {sent_per_s:.0}/s"
    );
    assert!(
        per_s <= 2.0 * limit as f64,
        "{per_s:.0}/s arrived, limit {limit}/s"
    );
    let steady = dev.steady.0 / limit as f64;
    assert!(
        (0.5..=1.5).contains(&steady),
        "steady {:.0}/s, limit {limit}/s",
        dev.steady.0
    );
    assert!(
        dev2.total.0 * 10 >= dev2.sent * 9,
        "dev2 limited too: {} of {}",
        dev2.total.0,
        dev2.sent
    );
}

#[test]
fn rate_limit_caps_a_udp_flood_in_bytes() {
    let lab = Lab::new("rlbyte");
    let (limit, pps, size, secs) = (50_000u64, 500u64, 1000usize, 3.0);
    lab.nft().apply(&rate_limited(None, Some(limit))).unwrap();
    let dev = flood(&lab, &lab.dev, 9000, pps, size, secs);
    let sent_per_s = (dev.sent * size as u64) as f64 / dev.secs;
    let per_s = dev.total.1 as f64 / dev.secs;
    println!(
        "rate-limit {limit} bytes/s: dev sent {sent_per_s:.0} payload bytes/s, {per_s:.0}/s arrived overall, {:.0}/s after the first second",
        dev.steady.1
    );
    assert!(
        sent_per_s >= 9.0 * limit as f64,
        "sent only {sent_per_s:.0} bytes/s"
    );
    // The kernel's byte bucket starts full with one second of the rate
    // (plus the burst up to 64 KiB); the limit counts IP packets, payload
    // plus 28 bytes of headers.
    assert!(
        per_s <= 2.0 * limit as f64,
        "{per_s:.0} bytes/s arrived, limit {limit}"
    );
    let steady = dev.steady.1 / limit as f64;
    assert!(
        (0.5..=1.5).contains(&steady),
        "steady {:.0} bytes/s, limit {limit}",
        dev.steady.1
    );
}

#[test]
fn apply_is_idempotent_replacing_releases_and_remove_leaves_nothing() {
    let lab = Lab::new("idem");
    let _web = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    let mut both = state(quarantine(vec![Allow::Dns]));
    both.devices.insert(
        mac(DEV2_MAC),
        DeviceRules {
            name: "plug".into(),
            block_smtp: Some("spam".into()),
            ..Default::default()
        },
    );
    lab.nft().apply(&both).unwrap();
    let first = lab.nft().current(&both).expect("tables after apply");
    lab.nft().apply(&both).unwrap();
    let second = lab.nft().current(&both).unwrap();
    assert_eq!(first, second, "applying the same state twice differs");
    assert!(first.contains("table inet warden") && first.contains("table bridge warden"));
    assert!(first.contains(DEV_MAC) && first.contains(DEV2_MAC));
    assert!(!tcp_connects(&lab.dev, sa(INET_IP, 443)));

    // The owner releases dev: its rules go, dev2's stay.
    let mut released = both.clone();
    released.devices.remove(&mac(DEV_MAC));
    lab.nft().apply(&released).unwrap();
    let now = lab.nft().current(&released).unwrap();
    assert!(
        !now.contains(DEV_MAC),
        "released device still in the tables:\n{now}"
    );
    assert!(!now.contains("chain qf_0") && !now.contains("chain qi_0"));
    assert!(now.contains(DEV2_MAC));
    assert!(
        tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "release did not lift"
    );

    lab.nft().remove(&released).unwrap();
    assert_eq!(lab.nft().current(&released), None);
    assert!(!lab.nft().ruleset().contains("warden"));
    lab.nft().remove(&released).unwrap(); // nothing left: still fine
                                          // And rebuilding from the stored state after a "restart" gives the same.
    lab.nft().apply(&both).unwrap();
    assert_eq!(lab.nft().current(&both).unwrap(), first);
}

#[test]
fn a_failed_transaction_changes_nothing() {
    let lab = Lab::router_only("atomic");
    let old = state(quarantine(vec![Allow::Dns]));
    lab.nft().apply(&old).unwrap();
    let before = lab.nft().current(&old).unwrap();
    let mut new = old.clone();
    new.devices.insert(
        mac(DEV2_MAC),
        DeviceRules {
            name: "plug".into(),
            block_smtp: Some("spam".into()),
            ..Default::default()
        },
    );
    // The new state, then one broken line at the very end.
    let broken = format!(
        "{}add rule inet warden forward ether saddr @no_such_set drop\n",
        script(&new).unwrap()
    );
    let err = lab.nft().run_script(&broken).unwrap_err();
    match &err {
        EnforceError::Nft { stderr, .. } => {
            assert!(stderr.contains("no_such_set"), "nft's message: {stderr}")
        }
        other => panic!("expected an nft error, got {other}"),
    }
    assert!(err.to_string().contains("nft -f - failed"), "{err}");
    assert_eq!(lab.nft().current(&old).unwrap(), before, "partly applied");
    // A check (for --dry-run) accepts the good state and changes nothing.
    in_ns(&lab.router, || warden_enforce::Nft::default().check(&new)).unwrap();
    assert_eq!(lab.nft().current(&old).unwrap(), before, "check applied");
}

#[test]
fn hostile_input_never_reaches_nft() {
    let lab = Lab::router_only("hostile");
    lab.nft()
        .run_script("table inet sentinel {\n chain c { }\n}\n")
        .unwrap();
    // Refused at parse time: nothing to run.
    assert!("02:77:00:00:00:10\" ; flush ruleset"
        .parse::<warden_enforce::Mac>()
        .is_err());
    assert!(TableName::new("warden ; flush ruleset").is_err());
    assert!(IfName::new("br-lan\" } ; flush ruleset ; {").is_err());
    let bad: Result<Enforcement, _> =
        serde_json::from_str(r#"{"table": "x; flush ruleset", "devices": {}}"#);
    assert!(bad.is_err());

    // Refused by script(), before nft: no table appears.
    let mut no_bound = state(DeviceRules::default());
    no_bound.devices.values_mut().next().unwrap().rate_limit = Some(RateLimit {
        packets_per_s: None,
        bytes_per_s: None,
        reason: Label::default(),
    });
    let err = lab.nft().apply(&no_bound).unwrap_err();
    assert!(matches!(err, EnforceError::Invalid { .. }), "{err}");
    assert_eq!(lab.nft().current(&no_bound), None);

    // A device naming itself to break out of its comment is enforced anyway,
    // under a cleaned name, and nothing else in the ruleset changes.
    let evil = "x\" ; flush ruleset ; add table inet pwned { ; \"";
    let mut e = state(quarantine(vec![]));
    e.devices.values_mut().next().unwrap().name = Label::new(evil);
    lab.nft().apply(&e).unwrap();
    let rules = lab.nft().ruleset();
    assert!(rules.contains("table inet sentinel"), "{rules}");
    let tables: Vec<&str> = rules.lines().filter(|l| l.starts_with("table ")).collect();
    assert_eq!(
        tables,
        [
            "table inet sentinel {",
            "table inet warden {",
            "table bridge warden {"
        ],
        "{rules}"
    );
    assert!(
        rules.contains(
            "x_ _ flush ruleset _ add table inet pwned _ _ _ 02:77:00:00:00:10: quarantine"
        ),
        "{rules}"
    );
    assert!(rules.contains(&format!("elements = {{ {DEV_MAC} comment")));
}

#[test]
fn lan_interfaces_limit_where_rules_apply() {
    let lab = Lab::new("iif");
    let _web = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    let mut e = state(quarantine(vec![]));
    e.bridge = false;
    e.lan_interfaces = vec![IfName::new("br-lan").unwrap()];
    lab.nft().apply(&e).unwrap();
    assert!(!tcp_connects(&lab.dev, sa(INET_IP, 443)), "on br-lan");
    // The same device, with warden told the LAN is elsewhere.
    e.lan_interfaces = vec![IfName::new("eth9").unwrap()];
    lab.nft().apply(&e).unwrap();
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 443)), "guard ignored");
}

/// Apply latency for 250 devices, in an empty namespace. Prints the
/// distribution; docs/enforcement.md quotes it.
#[test]
fn apply_latency_for_250_devices() {
    let lab = Lab::router_only("latency");
    for (label, all) in [("one action each", false), ("every action", true)] {
        let e = many_devices(250, all);
        let bytes = script(&e).unwrap().len();
        let mut times: Vec<Duration> = (0..15)
            .map(|_| {
                let t = Instant::now();
                lab.nft().apply(&e).unwrap();
                t.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "apply, 250 devices, {label} ({bytes} bytes of script): min {:.1} ms, median {:.1} ms, max {:.1} ms",
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
        let listed = lab.nft().current(&e).unwrap();
        assert!(listed.matches("02:aa:00:00:").count() >= 250);
        // The issue's budget from flood to active rule is 2 s; apply must
        // be a small part of it.
        assert!(times[times.len() / 2] < Duration::from_secs(1), "{times:?}");
    }
    let t = Instant::now();
    lab.nft().remove(&Enforcement::default()).unwrap();
    println!("remove: {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
    assert_eq!(lab.nft().current(&Enforcement::default()), None);
}

#[test]
fn a_profile_lets_through_only_its_flows_and_the_plumbing() {
    use warden_enforce::{ProfileAllow, ProfilePeer, ProfileRules, L4};
    let lab = Lab::new("prof");
    let _web = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    let _other = TcpServer::start(&lab.inet, sa(INET_IP, 8443));
    let _dns = UdpEcho::start(&lab.router, sa("::", 53));
    let _lan = TcpServer::start(&lab.dev2, sa(DEV2_IP, 80));
    let _lan_dns = UdpEcho::start(&lab.dev2, sa(DEV2_IP, 53));
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 8443)));
    assert!(tcp_connects(&lab.dev, sa(DEV2_IP, 80)));

    let profile = |addrs: Vec<(std::net::IpAddr, u32)>| {
        state(DeviceRules {
            name: "cam-1".into(),
            profile: Some(ProfileRules {
                allow: vec![
                    ProfileAllow {
                        from_device: true,
                        proto: Some(L4::Tcp),
                        port: Some(443),
                        peer: ProfilePeer::Addrs {
                            name: "update.example.test".into(),
                            addrs,
                        },
                    },
                    ProfileAllow {
                        from_device: true,
                        proto: Some(L4::Udp),
                        port: Some(53),
                        peer: ProfilePeer::Local,
                    },
                ],
                reason: "profile-violation".into(),
            }),
            ..Default::default()
        })
    };
    // Before the device's name was answered: the host is not allowed.
    lab.nft().apply(&profile(vec![])).unwrap();
    assert!(
        !tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "name not yet answered"
    );
    lab.nft()
        .apply(&profile(vec![(INET_IP.parse().unwrap(), 300)]))
        .unwrap();
    assert!(
        tcp_connects(&lab.dev, sa(INET_IP, 443)),
        "the answered address"
    );
    assert!(!tcp_connects(&lab.dev, sa(INET_IP, 8443)), "other port");
    assert!(!ping(&lab.dev, INET_IP), "ICMP not declared");
    assert!(
        udp_echoes(&lab.dev, sa(ROUTER_LAN, 53)),
        "DNS to the router"
    );
    assert!(
        udp_echoes(&lab.dev, sa(DEV2_IP, 53)),
        "declared: udp 53 on the LAN"
    );
    assert!(
        !tcp_connects(&lab.dev, sa(DEV2_IP, 80)),
        "LAN TCP not declared"
    );
    // The other device is untouched.
    assert!(tcp_connects(&lab.dev2, sa(INET_IP, 8443)));
    // A set element's timeout ends the binding by itself.
    lab.nft()
        .apply(&profile(vec![(INET_IP.parse().unwrap(), 1)]))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!tcp_connects(&lab.dev, sa(INET_IP, 443)), "timed out");
}
