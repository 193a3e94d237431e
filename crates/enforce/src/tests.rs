//! Tests of the script text and of input validation; no root, no nft.

use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64};

use crate::*;

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

fn cam() -> Mac {
    mac("02:77:00:00:00:10")
}

fn plug() -> Mac {
    mac("02:77:00:00:00:20")
}

fn full() -> Enforcement {
    let mut e = Enforcement {
        lan_interfaces: vec![
            IfName::new("br-lan").unwrap(),
            IfName::new("wlan0").unwrap(),
        ],
        router_addrs: vec![
            "192.168.77.1".parse().unwrap(),
            "fd77::1".parse().unwrap(),
            "192.168.77.1".parse().unwrap(),
        ],
        ..Enforcement::default()
    };
    e.devices.insert(
        cam(),
        DeviceRules {
            name: "cam-1 Acme IPC".into(),
            rate_limit: Some(RateLimit {
                packets_per_s: NonZeroU32::new(100),
                bytes_per_s: NonZeroU64::new(1_000_000),
                reason: "UDP flood".into(),
            }),
            block_smtp: Some("spam".into()),
            block_upnp: Some("port mapping".into()),
            quarantine: Some(Quarantine {
                allow: vec![
                    Allow::Dns,
                    Allow::Ntp,
                    Allow::Net {
                        net: "203.0.113.77/24".parse().unwrap(),
                        proto: Some(Proto::Tcp),
                        port: Some(443),
                    },
                    Allow::Net {
                        net: "2001:db8::5/128".parse().unwrap(),
                        proto: None,
                        port: Some(8883),
                    },
                ],
                reason: "telnet scan".into(),
            }),
            profile: None,
        },
    );
    e.devices.insert(
        plug(),
        DeviceRules {
            name: "plug".into(),
            block_smtp: Some("spam".into()),
            profile: Some(ProfileRules {
                allow: vec![
                    ProfileAllow {
                        from_device: true,
                        proto: Some(L4::Tcp),
                        port: Some(8883),
                        peer: ProfilePeer::Addrs {
                            name: "mqtt.example.test".into(),
                            addrs: vec![
                                ("203.0.113.9".parse().unwrap(), 300),
                                ("2001:db8::9".parse().unwrap(), 60),
                            ],
                        },
                    },
                    ProfileAllow {
                        from_device: false,
                        proto: Some(L4::Tcp),
                        port: Some(80),
                        peer: ProfilePeer::Local,
                    },
                    ProfileAllow {
                        from_device: true,
                        proto: Some(L4::Icmp),
                        port: None,
                        peer: ProfilePeer::Local,
                    },
                ],
                reason: "profile-violation".into(),
            }),
            ..Default::default()
        },
    );
    e
}

/// The lines of one table's block, `table FAMILY NAME {` to its `}`.
fn table_block<'a>(s: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = s.lines().skip_while(|l| *l != header);
    let mut out = Vec::new();
    for l in lines.by_ref() {
        out.push(l);
        if l == "}" {
            break;
        }
    }
    assert!(!out.is_empty(), "no {header:?} in\n{s}");
    out
}

/// The body lines of `chain NAME { ... }` in a table block.
fn chain<'a>(block: &[&'a str], name: &str) -> Vec<&'a str> {
    let head = format!("\tchain {name} {{");
    let start = block
        .iter()
        .position(|l| *l == head)
        .unwrap_or_else(|| panic!("no chain {name}"));
    block[start + 1..]
        .iter()
        .take_while(|l| **l != "\t}")
        .copied()
        .collect()
}

#[test]
fn mac_parsing_accepts_only_unicast_device_addresses() {
    assert_eq!(mac("02:77:00:00:00:10").to_string(), "02:77:00:00:00:10");
    assert_eq!(mac("02-77-0A-bC-00-10").to_string(), "02:77:0a:bc:00:10");
    assert_eq!(mac("02:77:00:00:00:10").octets(), [2, 0x77, 0, 0, 0, 0x10]);
    for bad in [
        "",
        "02:77:00:00:00",
        "02:77:00:00:00:10:11",
        "02:77:00:00:00:1g",
        "02:77:00:00:00:100",
        "2:77:00:00:00:10",
        "02:77-00:00:00:10",
        "02:77:00:00:00:10 ",
        "02:77:00:00:00:10; flush ruleset",
        "02:77:00:00:00:10\" ; flush ruleset",
        "ff:ff:ff:ff:ff:ff",
        "01:00:5e:00:00:fb",
        "00:00:00:00:00:00",
        "+2:77:00:00:00:10",
    ] {
        let err = bad.parse::<Mac>().expect_err(bad);
        assert!(
            matches!(
                err,
                EnforceError::Invalid {
                    what: "MAC address",
                    ..
                }
            ),
            "{bad}: {err}"
        );
    }
    assert!(Mac::new([0x03, 0, 0, 0, 0, 1]).is_err());
    assert!(Mac::new([0x02, 0, 0, 0, 0, 1]).is_ok());
}

#[test]
fn names_that_could_break_out_of_the_script_are_refused() {
    assert_eq!(TableName::default().as_str(), "warden");
    assert!(TableName::new("warden_test2").is_ok());
    for bad in [
        "",
        "2warden",
        "warden; flush ruleset",
        "warden {}",
        "war\"den",
        "warden\nflush",
        "a_table_name_that_is_far_too_long",
    ] {
        assert!(TableName::new(bad).is_err(), "{bad:?}");
    }
    for good in ["br-lan", "eth0.100", "wlan0", "lan_1", "abcdefghijklmno"] {
        assert!(IfName::new(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        ".",
        "..",
        "abcdefghijklmnop",
        "eth0\" ; flush",
        "eth 0",
        "eth0}",
        "eth*",
        "eth/0",
    ] {
        assert!(IfName::new(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn labels_are_cleaned_not_refused() {
    assert_eq!(
        Label::new("Living room cam (v2.1)").as_str(),
        "Living room cam (v2.1)"
    );
    assert_eq!(
        Label::new("x\" ; flush ruleset ; \\n{}").as_str(),
        "x_ _ flush ruleset _ _n__"
    );
    assert_eq!(Label::new("Küche\nLicht").as_str(), "K_che_Licht");
    assert_eq!(Label::new("   ").as_str(), "unnamed");
    assert_eq!(Label::new(&"a".repeat(500)).as_str().len(), Label::MAX);
    assert_eq!(Label::from("#$`'").as_str(), "____");
}

#[test]
fn empty_state_still_replaces_both_tables_atomically() {
    let s = script(&Enforcement::default()).unwrap();
    let lines: Vec<&str> = s.lines().filter(|l| !l.starts_with('#')).collect();
    // Create (no-op if present), delete, create: valid whether or not the
    // tables existed, in one nft transaction.
    assert_eq!(
        lines[..4],
        [
            "table inet warden {}",
            "delete table inet warden",
            "table bridge warden {}",
            "delete table bridge warden",
        ]
    );
    assert!(s.contains("\ntable inet warden {\n"));
    assert!(s.contains("\ntable bridge warden {\n"));
    assert_eq!(
        s.matches("type filter hook forward priority filter - 10; policy accept;")
            .count(),
        2
    );
    assert_eq!(
        s.matches("type filter hook input priority filter - 10; policy accept;")
            .count(),
        1
    );
    assert!(!s.contains("elements"), "{s}");
    assert!(!s.contains("iifname"), "no LAN interfaces: no guard\n{s}");
    assert!(
        !s.contains("\tchain rl_") && !s.contains("\tchain q"),
        "{s}"
    );
    // Ends with the last table's closing brace.
    assert!(s.ends_with("}\n"));
}

#[test]
fn bridge_table_is_optional() {
    let e = Enforcement {
        bridge: false,
        ..full()
    };
    let s = script(&e).unwrap();
    assert!(!s.contains("bridge warden"), "{s}");
    assert!(s.contains("table inet warden {\n"));
}

#[test]
fn devices_appear_in_sets_maps_and_own_chains() {
    let s = script(&full()).unwrap();
    let inet = table_block(&s, "table inet warden {");
    let text = inet.join("\n");

    assert!(
        text.contains("\t\telements = { 192.168.77.1 }\n"),
        "deduplicated"
    );
    assert!(text.contains("\t\telements = { fd77::1 }\n"));
    assert!(text.contains(
        "\t\t\t02:77:00:00:00:10 comment \"cam-1 Acme IPC 02:77:00:00:00:10: quarantine (telnet scan)\"\n"
    ));
    assert!(text.contains(
        "\t\t\t02:77:00:00:00:10 comment \"cam-1 Acme IPC 02:77:00:00:00:10: block-smtp (spam)\",\n\t\t\t02:77:00:00:00:20 comment \"plug 02:77:00:00:00:20: block-smtp (spam)\"\n"
    ));
    assert!(text.contains(": jump rl_027700000010\n"));
    assert!(text.contains(": jump qf_027700000010\n"));
    assert!(text.contains(": jump qi_027700000010\n"));
    assert!(text.contains("\t\trate over 100/second burst 20 packets\n"));
    assert!(text.contains("\t\trate over 1000000 bytes/second\n"));

    let rl = chain(&inet, "rl_027700000010");
    assert!(rl[1].starts_with("\t\tlimit name \"rlp_027700000010\" drop comment"));
    assert!(rl[2].starts_with("\t\tlimit name \"rlb_027700000010\" drop comment"));

    let qf = chain(&inet, "qf_027700000010");
    let rules: Vec<&str> = qf[1..]
        .iter()
        .map(|l| l.split(" comment ").next().unwrap().trim())
        .collect();
    assert_eq!(
        rules,
        [
            "ip daddr @router4 meta l4proto { tcp, udp } th dport 53 accept",
            "ip6 daddr @router6 meta l4proto { tcp, udp } th dport 53 accept",
            "udp dport 123 accept",
            "ip daddr 203.0.113.0/24 tcp dport 443 accept",
            "ip6 daddr 2001:db8::5 meta l4proto { tcp, udp } th dport 8883 accept",
        ]
    );
    assert!(qf[4].contains("quarantine allows 203.0.113.0/24 tcp port 443 (telnet scan)"));
    let qi = chain(&inet, "qi_027700000010");
    assert!(qi[1].starts_with("\t\tmeta l4proto { tcp, udp } th dport 53 accept comment"));

    let fwd: Vec<String> = chain(&inet, "forward")
        .iter()
        .map(|l| l.split(" comment ").next().unwrap().trim().to_string())
        .collect();
    assert_eq!(
        fwd[2..],
        [
            "iifname != { \"br-lan\", \"wlan0\" } return",
            "ether saddr vmap @rate_limited",
            "ether saddr @smtp_blocked tcp dport { 25, 465, 587 } drop",
            "ether saddr @upnp_blocked ip daddr @router4 udp dport { 1900, 5351 } drop",
            "ether saddr @upnp_blocked ip daddr @router4 tcp dport { 2189, 5000, 49000, 49152 } drop",
            "ether saddr @upnp_blocked ip6 daddr @router6 udp dport { 1900, 5351 } drop",
            "ether saddr @upnp_blocked ip6 daddr @router6 tcp dport { 2189, 5000, 49000, 49152 } drop",
            "ether saddr vmap @quarantine_allow",
            "ether saddr @quarantined drop",
            "ether saddr @profiled udp dport { 67, 547 } accept",
            "ether saddr @profiled icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept",
            "ether saddr @profiled ip daddr @router4 meta l4proto { tcp, udp } th dport 53 accept",
            "ether saddr @profiled ip6 daddr @router6 meta l4proto { tcp, udp } th dport 53 accept",
            "ether saddr vmap @profile_allow",
            "ether saddr @profiled drop",
        ]
    );
    let input: Vec<String> = chain(&inet, "input")
        .iter()
        .map(|l| l.split(" comment ").next().unwrap().trim().to_string())
        .collect();
    assert_eq!(
        input[2..],
        [
            "iifname != { \"br-lan\", \"wlan0\" } return",
            "ether saddr vmap @rate_limited",
            "ether saddr @smtp_blocked tcp dport { 25, 465, 587 } drop",
            "ether saddr @upnp_blocked udp dport { 1900, 5351 } drop",
            "ether saddr @upnp_blocked tcp dport { 2189, 5000, 49000, 49152 } drop",
            "ether saddr @quarantined udp dport { 67, 547 } accept",
            "ether saddr @quarantined icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept",
            "ether saddr vmap @quarantine_allow_in",
            "ether saddr @quarantined drop",
            "ether saddr @profiled udp dport { 67, 547 } accept",
            "ether saddr @profiled icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept",
            "ether saddr @profiled meta l4proto { tcp, udp } th dport 53 accept",
            "ether saddr vmap @profile_allow_in",
            "ether saddr @profiled drop",
        ]
    );

    let bridge = table_block(&s, "table bridge warden {");
    let bfwd = chain(&bridge, "forward").join("\n");
    assert!(
        !bfwd.contains("iifname"),
        "bridge ports are not the LAN interfaces"
    );
    assert!(bfwd.contains("ether saddr @quarantined ether type arp accept"));
    assert!(bfwd.contains("ip daddr 239.255.255.250 udp dport 1900 drop"));
    assert!(
        !bridge.join("\n").contains("qi_"),
        "no input hook in the bridge table"
    );
}

#[test]
fn every_rule_and_element_carries_a_comment_within_nfts_limit() {
    let mut e = full();
    // The longest names and reasons a Label can hold.
    let long = "n".repeat(500);
    for d in e.devices.values_mut() {
        d.name = Label::new(&long);
        d.block_smtp = Some(Label::new(&long));
    }
    let s = script(&e).unwrap();
    let mut in_chain = false;
    let mut rules = 0;
    for line in s.lines() {
        if line.starts_with("\tchain ") {
            in_chain = true;
            continue;
        }
        if line == "\t}" {
            in_chain = false;
            continue;
        }
        let t = line.trim();
        let is_rule = in_chain && !t.starts_with("type ") && !t.starts_with("comment ");
        let is_element = line.starts_with("\t\t\t");
        if is_rule || is_element {
            assert!(line.contains(" comment \""), "no comment: {line}");
            rules += 1;
        }
        for (i, part) in line.split('"').enumerate() {
            if i % 2 == 1 {
                assert!(part.len() <= 128, "comment over 128: {part}");
            }
        }
        assert_eq!(
            line.matches('"').count() % 2,
            0,
            "unbalanced quotes: {line}"
        );
    }
    assert!(rules > 40, "{rules} rules");
}

#[test]
fn hostile_names_change_only_the_comment_text() {
    let mut hostile = full();
    let mut clean = full();
    let evil = "x\" ; flush ruleset ; add table inet pwned { ; \"";
    hostile.devices.get_mut(&cam()).unwrap().name = Label::new(evil);
    clean.devices.get_mut(&cam()).unwrap().name = Label::new(&evil.replace(['"', ';', '{'], "_"));
    let s = script(&hostile).unwrap();
    assert_eq!(s, script(&clean).unwrap());
    assert!(
        s.contains("comment \"x_ _ flush ruleset _ add table inet pwned _ _ _ 02:77:00:00:00:10")
    );
}

#[test]
fn the_script_is_deterministic_whatever_the_insertion_order() {
    let a = full();
    let mut b = Enforcement {
        devices: Default::default(),
        ..full()
    };
    for (m, d) in full().devices.into_iter().rev() {
        b.devices.insert(m, d);
    }
    b.router_addrs.reverse();
    b.lan_interfaces.reverse();
    b.igd_tcp_ports.reverse();
    assert_eq!(script(&a).unwrap(), script(&b).unwrap());
}

#[test]
fn a_device_without_actions_adds_nothing() {
    let mut e = full();
    let before = script(&e).unwrap();
    e.devices.insert(
        mac("02:77:00:00:00:99"),
        DeviceRules {
            name: "trusted tv".into(),
            ..Default::default()
        },
    );
    let after = script(&e).unwrap();
    assert_eq!(
        before.replace("2 devices", "N devices"),
        after.replace("2 devices", "N devices")
    );
}

#[test]
fn small_byte_limits_get_a_bucket_of_at_least_64_kib() {
    let mut e = full();
    e.devices.get_mut(&plug()).unwrap().rate_limit = Some(RateLimit {
        packets_per_s: None,
        bytes_per_s: NonZeroU64::new(10_000),
        reason: "flood".into(),
    });
    let s = script(&e).unwrap();
    // One second of rate plus the burst: 10000 + 55536 = 65536.
    assert!(
        s.contains("\t\trate over 10000 bytes/second burst 55536 bytes\n"),
        "{s}"
    );
    assert!(s.contains("\t\trate over 1000000 bytes/second\n"));
}

#[test]
fn header_counts_actions() {
    let s = script(&full()).unwrap();
    assert!(s.contains(
        "# warden enforcement: 2 devices (1 quarantined, 1 rate-limited, 2 SMTP-blocked, 1 UPnP-blocked, 1 held to their profile)."
    ));
}

#[test]
fn a_profile_allows_its_flows_by_name_sets_with_timeouts_and_drops_the_rest() {
    let s = script(&full()).unwrap();
    for header in ["table inet warden {", "table bridge warden {"] {
        let t = table_block(&s, header);
        let text = t.join("\n");
        assert!(text.contains("set pn4_027700000020_0 {"), "{text}");
        assert!(text.contains("elements = { 203.0.113.9 timeout 300s }"));
        assert!(text.contains("elements = { 2001:db8::9 timeout 60s }"));
        let pf = chain(&t, "pf_027700000020");
        let rules = pf.join("\n");
        assert!(rules.contains("ip daddr @pn4_027700000020_0 tcp dport 8883 accept"));
        assert!(rules.contains("ip6 daddr @pn6_027700000020_0 tcp dport 8883 accept"));
        // A flow the peer opens: the device's answers come from the port.
        assert!(rules.contains("tcp sport 80 accept"));
        // ICMP only where it can occur.
        assert!(rules.contains("meta l4proto icmp accept"));
        assert!(!rules.contains("ip6 daddr { fc00::/7, fe80::/10, ff00::/8 } meta l4proto icmp"));
        let fwd = chain(&t, "forward").join("\n");
        let jump = fwd.find("ether saddr vmap @profile_allow").unwrap();
        let drop = fwd.find("ether saddr @profiled drop").unwrap();
        let dhcp = fwd
            .find("ether saddr @profiled udp dport { 67, 547 } accept")
            .unwrap();
        assert!(
            dhcp < jump && jump < drop,
            "plumbing, then the flows, then the drop"
        );
        // The quarantine comes first: its allowances are not widened by a profile.
        assert!(fwd.find("ether saddr @quarantined drop").unwrap() < jump);
    }
    let input = chain(&table_block(&s, "table inet warden {"), "input").join("\n");
    assert!(input.contains("ether saddr @profiled meta l4proto { tcp, udp } th dport 53 accept"));
    assert!(input.contains("ether saddr vmap @profile_allow_in"));
    let mut bad = full();
    bad.devices
        .get_mut(&plug())
        .unwrap()
        .profile
        .as_mut()
        .unwrap()
        .allow[0]
        .port = Some(0);
    assert!(script(&bad).is_err());
}

#[test]
fn unenforceable_values_are_refused_before_nft_runs() {
    // A program that does not exist: if validation let these through, the
    // error would be Spawn, not Invalid.
    let nft = Nft::new("/nonexistent/nft");
    let mut no_bound = full();
    no_bound.devices.get_mut(&plug()).unwrap().rate_limit = Some(RateLimit {
        packets_per_s: None,
        bytes_per_s: None,
        reason: "flood".into(),
    });
    let mut port0 = full();
    port0
        .devices
        .get_mut(&cam())
        .unwrap()
        .quarantine
        .as_mut()
        .unwrap()
        .allow
        .push(Allow::Net {
            net: "203.0.113.1/32".parse().unwrap(),
            proto: Some(Proto::Udp),
            port: Some(0),
        });
    let mut huge = full();
    huge.devices.get_mut(&plug()).unwrap().rate_limit = Some(RateLimit {
        packets_per_s: None,
        bytes_per_s: NonZeroU64::new(20_000_000_000),
        reason: "flood".into(),
    });
    let mut igd0 = full();
    igd0.igd_tcp_ports.push(0);
    let mut unspecified = full();
    unspecified.router_addrs.push(IpAddr::from([0, 0, 0, 0]));
    let mut multicast = full();
    multicast.router_addrs.push("ff02::1".parse().unwrap());
    for (what, e) in [
        ("rate limit", no_bound),
        ("quarantine allow", port0),
        ("rate limit", huge),
        ("IGD TCP port", igd0),
        ("router address", unspecified),
        ("router address", multicast),
    ] {
        let err = nft.apply(&e).expect_err(what);
        match &err {
            EnforceError::Invalid { what: w, .. } => assert_eq!(*w, what),
            other => panic!("{what}: expected Invalid, got {other}"),
        }
        assert!(script(&e).is_err());
        assert!(nft.check(&e).is_err());
    }
}

#[test]
fn a_missing_nft_is_a_clear_error() {
    let err = Nft::new("/nonexistent/nft").apply(&full()).unwrap_err();
    assert!(matches!(err, EnforceError::Spawn { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("/nonexistent/nft") && text.contains("nftables"),
        "{text}"
    );
    let err = Nft::new("/nonexistent/nft")
        .remove(&TableName::default())
        .unwrap_err();
    assert!(matches!(err, EnforceError::Spawn { .. }), "{err}");
}

#[test]
fn enforcement_reads_from_json_and_refuses_bad_macs() {
    let json = r#"{
        "lan_interfaces": ["br-lan"],
        "router_addrs": ["192.168.1.1"],
        "devices": {
            "02:77:00:00:00:10": {
                "name": "cam",
                "rate_limit": { "packets_per_s": 100, "bytes_per_s": null, "reason": "flood" },
                "quarantine": { "allow": [ { "kind": "dns" },
                    { "kind": "net", "net": "203.0.113.0/24", "proto": "tcp", "port": 443 } ] }
            }
        }
    }"#;
    let e: Enforcement = serde_json::from_str(json).unwrap();
    assert_eq!(e.table.as_str(), "warden");
    assert!(e.bridge);
    assert_eq!(e.igd_tcp_ports, default_igd_ports());
    assert_eq!(
        e.devices[&cam()].rate_limit.as_ref().unwrap().packets_per_s,
        NonZeroU32::new(100)
    );
    let back: Enforcement = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back, e);

    for bad in [
        json.replace("02:77:00:00:00:10", "02:77:00:00:00:10\\\"; flush ruleset"),
        json.replace("02:77:00:00:00:10", "ff:ff:ff:ff:ff:ff"),
        json.replace("\"br-lan\"", "\"br-lan\\\" }\""),
        json.replace("\"packets_per_s\": 100", "\"packets_per_s\": 0"),
    ] {
        assert!(serde_json::from_str::<Enforcement>(&bad).is_err(), "{bad}");
    }
    // Hostile names deserialize, cleaned.
    let e: Enforcement =
        serde_json::from_str(&json.replace("\"cam\"", "\"cam\\\"; flush ruleset\"")).unwrap();
    assert_eq!(e.devices[&cam()].name.as_str(), "cam__ flush ruleset");
}

#[test]
fn dry_run_is_the_script() {
    assert_eq!(dry_run(&full()).unwrap(), script(&full()).unwrap());
}
