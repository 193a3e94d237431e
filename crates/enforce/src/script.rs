//! The nftables script: one transaction that replaces warden's tables.
//!
//! Layout (docs/enforcement.md explains each part):
//!
//! ```text
//! table inet warden                       table bridge warden (when bridge)
//!   sets router4, router6                   the same sets, maps, limits and
//!   sets quarantined, smtp_blocked,         per-device chains, and one base
//!        upnp_blocked (ether_addr)          chain: forward (frames switched
//!   map rate_limited  MAC -> jump rl_<mac>  between LAN ports)
//!   map quarantine_allow    -> jump qf_<mac>
//!   map quarantine_allow_in -> jump qi_<mac>
//!   limit objects rlp_<mac>, rlb_<mac>
//!   chain forward  hook forward, priority filter - 10
//!   chain input    hook input,   priority filter - 10
//! ```
//!
//! Base chains look a device up once per set or map (hash lookups), so their
//! length does not grow with the number of devices.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{
    Allow, DeviceRules, Enforcement, Mac, ProfileAllow, ProfilePeer, ProfileRules, Proto,
    Quarantine, RateLimit, L4,
};
use crate::EnforceError;

/// Largest rate limits accepted (see `validate`).
pub const MAX_PACKETS_PER_S: u32 = 100_000_000;
pub const MAX_BYTES_PER_S: u64 = 10_000_000_000;

/// nft refuses comments longer than this.
const COMMENT_MAX: usize = 128;

/// Ports of SMTP (25), SMTPS (465) and mail submission (587).
const SMTP_PORTS: &str = "{ 25, 465, 587 }";
/// SSDP (UDP 1900) and NAT-PMP/PCP (UDP 5351).
const UPNP_UDP_PORTS: &str = "{ 1900, 5351 }";
const ND_TYPES: &str = "{ nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert }";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Inet,
    Bridge,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Bridge => "bridge",
        }
    }
}

/// The complete nftables script for `e`: deletes warden's tables if they
/// exist and creates them anew, in one transaction (`nft -f` applies a file
/// all or nothing).
///
/// Fails, before anything runs, when a value cannot be enforced: a rate
/// limit with neither bound, a port 0, a router address that is unspecified
/// or multicast.
pub fn script(e: &Enforcement) -> Result<String, EnforceError> {
    validate(e)?;
    let devices: Vec<(&Mac, &DeviceRules)> =
        e.devices.iter().filter(|(_, d)| !d.is_empty()).collect();
    let count = |f: fn(&DeviceRules) -> bool| devices.iter().filter(|(_, d)| f(d)).count();
    let mut s = String::with_capacity(4096 + devices.len() * 2048);
    let t = e.table.as_str();
    let _ = writeln!(
        s,
        "#!/usr/sbin/nft -f\n\
         # warden enforcement: {} devices ({} quarantined, {} rate-limited, {} SMTP-blocked, {} UPnP-blocked, {} held to their profile).\n\
         # One transaction: the tables are created if missing, deleted, and built again, all or nothing.",
        devices.len(),
        count(|d| d.quarantine.is_some()),
        count(|d| d.rate_limit.is_some()),
        count(|d| d.block_smtp.is_some()),
        count(|d| d.block_upnp.is_some()),
        count(|d| d.profile.is_some()),
    );
    let families: &[Family] = if e.bridge {
        &[Family::Inet, Family::Bridge]
    } else {
        &[Family::Inet]
    };
    for f in families {
        let _ = writeln!(
            s,
            "table {} {t} {{}}\ndelete table {} {t}",
            f.name(),
            f.name()
        );
    }
    for &f in families {
        table(&mut s, e, &devices, f);
    }
    Ok(s)
}

fn validate(e: &Enforcement) -> Result<(), EnforceError> {
    for a in &e.router_addrs {
        if a.is_unspecified() || a.is_multicast() {
            return Err(EnforceError::invalid(
                "router address",
                a,
                "unspecified or multicast",
            ));
        }
    }
    if e.igd_tcp_ports.contains(&0) {
        return Err(EnforceError::invalid("IGD TCP port", 0, "port 0"));
    }
    for (mac, d) in &e.devices {
        if let Some(r) = &d.rate_limit {
            if r.packets_per_s.is_none() && r.bytes_per_s.is_none() {
                return Err(EnforceError::invalid(
                    "rate limit",
                    mac,
                    "neither packets_per_s nor bytes_per_s is set",
                ));
            }
            // Beyond these the kernel's token arithmetic overflows or
            // rounds to nothing; no home link carries as much anyway.
            if r.packets_per_s.is_some_and(|p| p.get() > MAX_PACKETS_PER_S)
                || r.bytes_per_s.is_some_and(|b| b.get() > MAX_BYTES_PER_S)
            {
                return Err(EnforceError::invalid(
                    "rate limit",
                    mac,
                    "above 100 million packets/s or 10 GB/s",
                ));
            }
        }
        if let Some(q) = &d.quarantine {
            for a in &q.allow {
                if let Allow::Net { port: Some(0), .. } = a {
                    return Err(EnforceError::invalid("quarantine allow", mac, "port 0"));
                }
            }
        }
        if let Some(p) = &d.profile {
            for a in &p.allow {
                if a.port == Some(0) {
                    return Err(EnforceError::invalid("profile allow", mac, "port 0"));
                }
                if let ProfilePeer::Addrs { addrs, .. } = &a.peer {
                    if addrs.iter().any(|(ip, _)| ip.is_unspecified()) {
                        return Err(EnforceError::invalid(
                            "profile allow",
                            mac,
                            "unspecified address",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A quoted nft comment, cut to nft's limit. Every part comes from a
/// [`crate::Label`], a MAC, a number or this file, none of which holds `"`.
fn comment(text: &str) -> String {
    debug_assert!(!text.contains('"') && !text.contains('\\') && !text.contains('\n'));
    let mut end = text.len().min(COMMENT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("comment \"{}\"", &text[..end])
}

/// "cam-1 02:00:00:00:00:01: quarantine (scan)" — who, what, why.
fn device_comment(mac: &Mac, d: &DeviceRules, action: &str, reason: &str) -> String {
    comment(&format!("{} {mac}: {action} ({reason})", d.name))
}

fn table(s: &mut String, e: &Enforcement, devices: &[(&Mac, &DeviceRules)], f: Family) {
    let t = e.table.as_str();
    let _ = writeln!(s, "table {} {t} {{", f.name());
    let _ = writeln!(
        s,
        "\t{}",
        comment("warden: rebuilt whole on every change; remove with warden uninstall-rules")
    );
    router_sets(s, e);

    let quarantined: Vec<_> = devices
        .iter()
        .filter_map(|&(m, d)| d.quarantine.as_ref().map(|q| (m, d, q)))
        .collect();
    let rate_limited: Vec<_> = devices
        .iter()
        .filter_map(|&(m, d)| d.rate_limit.as_ref().map(|r| (m, d, r)))
        .collect();

    mac_set(
        s,
        "quarantined",
        "quarantine: everything these devices send is dropped but what they may still reach",
        quarantined
            .iter()
            .map(|&(m, d, q)| (m, device_comment(m, d, "quarantine", q.reason.as_str()))),
    );
    mac_set(
        s,
        "smtp_blocked",
        "block-smtp: these devices' TCP to ports 25, 465 and 587 is dropped",
        devices.iter().filter_map(|&(m, d)| {
            d.block_smtp
                .as_ref()
                .map(|r| (m, device_comment(m, d, "block-smtp", r.as_str())))
        }),
    );
    mac_set(
        s,
        "upnp_blocked",
        "block-upnp: these devices' SSDP, NAT-PMP/PCP and IGD control to the router is dropped",
        devices.iter().filter_map(|&(m, d)| {
            d.block_upnp
                .as_ref()
                .map(|r| (m, device_comment(m, d, "block-upnp", r.as_str())))
        }),
    );
    verdict_map(
        s,
        "rate_limited",
        "rate-limit: each device jumps to its own chain rl_<mac>",
        rate_limited.iter().map(|&(m, d, r)| {
            (
                m,
                device_comment(m, d, &rate_text(r), r.reason.as_str()),
                format!("rl_{}", m.hex()),
            )
        }),
    );
    let with_allow = || quarantined.iter().filter(|(_, _, q)| !q.allow.is_empty());
    verdict_map(
        s,
        "quarantine_allow",
        "quarantine: each device jumps to its own chain qf_<mac> of what it may still reach",
        with_allow().map(|&(m, d, q)| {
            (
                m,
                device_comment(m, d, "quarantine allowances", q.reason.as_str()),
                format!("qf_{}", m.hex()),
            )
        }),
    );
    if f == Family::Inet {
        verdict_map(
            s,
            "quarantine_allow_in",
            "quarantine: each device jumps to its own chain qi_<mac> of what it may still reach on the router",
            with_allow().map(|&(m, d, q)| {
                (
                    m,
                    device_comment(m, d, "quarantine allowances", q.reason.as_str()),
                    format!("qi_{}", m.hex()),
                )
            }),
        );
    }

    let profiled: Vec<_> = devices
        .iter()
        .filter_map(|&(m, d)| d.profile.as_ref().map(|p| (m, d, p)))
        .collect();
    mac_set(
        s,
        "profiled",
        "enforce-profile: what these devices send outside their network profile is dropped",
        profiled.iter().map(|&(m, d, p)| {
            (
                m,
                device_comment(m, d, "enforce-profile", p.reason.as_str()),
            )
        }),
    );
    verdict_map(
        s,
        "profile_allow",
        "enforce-profile: each device jumps to its own chain pf_<mac> of its declared flows",
        profiled.iter().map(|&(m, d, p)| {
            (
                m,
                device_comment(m, d, "profile flows", p.reason.as_str()),
                format!("pf_{}", m.hex()),
            )
        }),
    );
    if f == Family::Inet {
        verdict_map(
            s,
            "profile_allow_in",
            "enforce-profile: each device jumps to its own chain pi_<mac> of its declared flows to the router",
            profiled.iter().map(|&(m, d, p)| {
                (
                    m,
                    device_comment(m, d, "profile flows", p.reason.as_str()),
                    format!("pi_{}", m.hex()),
                )
            }),
        );
    }
    for &(m, d, p) in &profiled {
        profile_sets(s, m, d, p);
        profile_chain(s, &format!("pf_{}", m.hex()), m, d, p);
        if f == Family::Inet {
            profile_chain(s, &format!("pi_{}", m.hex()), m, d, p);
        }
    }

    for &(m, d, r) in &rate_limited {
        rate_limit_chain(s, m, d, r);
    }
    for &(m, d, q) in with_allow() {
        allow_chain(s, &format!("qf_{}", m.hex()), m, d, q, false);
        if f == Family::Inet {
            allow_chain(s, &format!("qi_{}", m.hex()), m, d, q, true);
        }
    }

    match f {
        Family::Inet => {
            forward_chain(s, e, f);
            input_chain(s, e);
        }
        Family::Bridge => forward_chain(s, e, f),
    }
    s.push_str("}\n");
}

fn router_sets(s: &mut String, e: &Enforcement) {
    let addrs: BTreeSet<IpAddr> = e.router_addrs.iter().copied().collect();
    let v4: Vec<String> = addrs
        .iter()
        .filter(|a| a.is_ipv4())
        .map(|a| a.to_string())
        .collect();
    let v6: Vec<String> = addrs
        .iter()
        .filter(|a| a.is_ipv6())
        .map(|a| a.to_string())
        .collect();
    for (name, ty, list) in [("router4", "ipv4_addr", v4), ("router6", "ipv6_addr", v6)] {
        let _ = writeln!(s, "\tset {name} {{\n\t\ttype {ty}");
        let _ = writeln!(
            s,
            "\t\t{}",
            comment(
                "the router's addresses for DNS and UPnP rules on forwarded and bridged traffic"
            )
        );
        if !list.is_empty() {
            let _ = writeln!(s, "\t\telements = {{ {} }}", list.join(", "));
        }
        s.push_str("\t}\n");
    }
}

fn mac_set<'a>(
    s: &mut String,
    name: &str,
    what: &str,
    elements: impl Iterator<Item = (&'a Mac, String)>,
) {
    let _ = writeln!(
        s,
        "\tset {name} {{\n\t\ttype ether_addr\n\t\t{}",
        comment(what)
    );
    let items: Vec<String> = elements.map(|(m, c)| format!("{m} {c}")).collect();
    elements_block(s, &items);
    s.push_str("\t}\n");
}

fn verdict_map<'a>(
    s: &mut String,
    name: &str,
    what: &str,
    elements: impl Iterator<Item = (&'a Mac, String, String)>,
) {
    let _ = writeln!(
        s,
        "\tmap {name} {{\n\t\ttype ether_addr : verdict\n\t\t{}",
        comment(what)
    );
    let items: Vec<String> = elements
        .map(|(m, c, chain)| format!("{m} {c} : jump {chain}"))
        .collect();
    elements_block(s, &items);
    s.push_str("\t}\n");
}

/// nft refuses `elements = { }`, so an empty set has no elements line.
fn elements_block(s: &mut String, items: &[String]) {
    if items.is_empty() {
        return;
    }
    s.push_str("\t\telements = {\n");
    for (i, item) in items.iter().enumerate() {
        let sep = if i + 1 < items.len() { "," } else { "" };
        let _ = writeln!(s, "\t\t\t{item}{sep}");
    }
    s.push_str("\t\t}\n");
}

fn rate_text(r: &RateLimit) -> String {
    match (r.packets_per_s, r.bytes_per_s) {
        (Some(p), Some(b)) => format!("rate-limit {p} packets/s {b} bytes/s"),
        (Some(p), None) => format!("rate-limit {p} packets/s"),
        (None, Some(b)) => format!("rate-limit {b} bytes/s"),
        (None, None) => "rate-limit".to_string(),
    }
}

/// Named limit objects, so the device's traffic through the router
/// (forward) and to it (input) draws on one bucket.
///
/// Bursts: a packet bucket holds `burst` packets; a fifth of a second of
/// traffic, at least 5. A byte bucket holds one second of the rate plus
/// `burst` (the kernel's nft_limit); the burst tops it up to 64 KiB, since
/// a forwarded GRO packet can be that large and a bucket smaller than a
/// packet would drop every such packet.
fn rate_limit_chain(s: &mut String, m: &Mac, d: &DeviceRules, r: &RateLimit) {
    let hex = m.hex();
    let reason = r.reason.as_str();
    if let Some(p) = r.packets_per_s {
        let p = p.get();
        let burst = (p / 5).max(5);
        let _ = writeln!(
            s,
            "\tlimit rlp_{hex} {{\n\t\t{}\n\t\trate over {p}/second burst {burst} packets\n\t}}",
            device_comment(m, d, &format!("rate-limit {p} packets/s"), reason)
        );
    }
    if let Some(b) = r.bytes_per_s {
        let b = b.get();
        let burst = match 65_536u64.saturating_sub(b) {
            0 => String::new(),
            n => format!(" burst {n} bytes"),
        };
        let _ = writeln!(
            s,
            "\tlimit rlb_{hex} {{\n\t\t{}\n\t\trate over {b} bytes/second{burst}\n\t}}",
            device_comment(m, d, &format!("rate-limit {b} bytes/s"), reason)
        );
    }
    let _ = writeln!(
        s,
        "\tchain rl_{hex} {{\n\t\t{}",
        device_comment(m, d, &rate_text(r), reason)
    );
    if let Some(p) = r.packets_per_s {
        let _ = writeln!(
            s,
            "\t\tlimit name \"rlp_{hex}\" drop {}",
            device_comment(m, d, &format!("over {p} packets/s dropped"), reason)
        );
    }
    if let Some(b) = r.bytes_per_s {
        let _ = writeln!(
            s,
            "\t\tlimit name \"rlb_{hex}\" drop {}",
            device_comment(m, d, &format!("over {b} bytes/s dropped"), reason)
        );
    }
    s.push_str("\t}\n");
}

/// The device's allowances, each ending in `accept`, which ends warden's
/// base chain for that packet (rate limits and blocks came before it); what
/// falls through is dropped by the `@quarantined` rule after the jump.
/// `to_router`: the input chain, where every packet is for this machine.
fn allow_chain(
    s: &mut String,
    name: &str,
    m: &Mac,
    d: &DeviceRules,
    q: &Quarantine,
    to_router: bool,
) {
    let reason = q.reason.as_str();
    let where_ = if to_router {
        "allowances to the router"
    } else {
        "allowances through the router"
    };
    let _ = writeln!(
        s,
        "\tchain {name} {{\n\t\t{}",
        device_comment(m, d, &format!("quarantine {where_}"), reason)
    );
    let mut rule = |matches: &str, what: &str| {
        let _ = writeln!(
            s,
            "\t\t{matches} accept {}",
            device_comment(m, d, &format!("quarantine allows {what}"), reason)
        );
    };
    for a in &q.allow {
        match a {
            Allow::Dns if to_router => rule("meta l4proto { tcp, udp } th dport 53", "DNS"),
            Allow::Dns => {
                rule(
                    "ip daddr @router4 meta l4proto { tcp, udp } th dport 53",
                    "DNS to the router",
                );
                rule(
                    "ip6 daddr @router6 meta l4proto { tcp, udp } th dport 53",
                    "DNS to the router",
                );
            }
            Allow::Ntp => rule("udp dport 123", "NTP"),
            Allow::Net { net, proto, port } => {
                let net = net.trunc();
                let addr = if net.prefix_len() == net.max_prefix_len() {
                    net.addr().to_string()
                } else {
                    net.to_string()
                };
                let family = match net {
                    IpNet::V4(_) => "ip",
                    IpNet::V6(_) => "ip6",
                };
                let l4 = match (proto, port) {
                    (Some(Proto::Tcp), Some(p)) => format!(" tcp dport {p}"),
                    (Some(Proto::Udp), Some(p)) => format!(" udp dport {p}"),
                    (None, Some(p)) => format!(" meta l4proto {{ tcp, udp }} th dport {p}"),
                    (Some(Proto::Tcp), None) => " meta l4proto tcp".to_string(),
                    (Some(Proto::Udp), None) => " meta l4proto udp".to_string(),
                    (None, None) => String::new(),
                };
                let what = match (proto, port) {
                    (Some(Proto::Tcp), Some(p)) => format!("{addr} tcp port {p}"),
                    (Some(Proto::Udp), Some(p)) => format!("{addr} udp port {p}"),
                    (None, Some(p)) => format!("{addr} port {p}"),
                    (Some(Proto::Tcp), None) => format!("{addr} tcp"),
                    (Some(Proto::Udp), None) => format!("{addr} udp"),
                    (None, None) => addr.clone(),
                };
                rule(&format!("{family} daddr {addr}{l4}"), &what);
            }
        }
    }
    s.push_str("\t}\n");
}

fn iif_guard(s: &mut String, e: &Enforcement) {
    if e.lan_interfaces.is_empty() {
        return;
    }
    let names: BTreeSet<String> = e
        .lan_interfaces
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect();
    let names: Vec<String> = names.into_iter().collect();
    let _ = writeln!(
        s,
        "\t\tiifname != {{ {} }} return {}",
        names.join(", "),
        comment("only traffic that arrives on a LAN interface")
    );
}

fn igd_ports(e: &Enforcement) -> Option<String> {
    let ports: BTreeSet<u16> = e.igd_tcp_ports.iter().copied().collect();
    if ports.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
    Some(format!("{{ {} }}", ports.join(", ")))
}

fn rule(s: &mut String, text: &str, why: &str) {
    let _ = writeln!(s, "\t\t{text} {}", comment(why));
}

/// Forwarded (inet) or switched (bridge) traffic from LAN devices.
///
/// Priority `filter - 10` (-10 inet, -210 bridge): after conntrack and
/// destination NAT, before the distribution's filter chains at `filter`.
/// A drop is final whatever runs later; running first means a packet warden
/// drops is never counted, logged, queued or offloaded by another chain.
fn forward_chain(s: &mut String, e: &Enforcement, f: Family) {
    let what = match f {
        Family::Inet => "warden: what LAN devices send through the router",
        Family::Bridge => "warden: what LAN devices send to each other across the bridge",
    };
    let _ = writeln!(
        s,
        "\tchain forward {{\n\t\ttype filter hook forward priority filter - 10; policy accept;\n\t\t{}",
        comment(what)
    );
    if f == Family::Inet {
        // Bridge ports have other names than the routed LAN interface.
        iif_guard(s, e);
    }
    rule(
        s,
        "ether saddr vmap @rate_limited",
        "rate-limit: per-device chains rl_<mac>",
    );
    rule(
        s,
        &format!("ether saddr @smtp_blocked tcp dport {SMTP_PORTS} drop"),
        "block-smtp: SMTP, SMTPS and submission",
    );
    for (fam, set) in [("ip", "@router4"), ("ip6", "@router6")] {
        rule(
            s,
            &format!("ether saddr @upnp_blocked {fam} daddr {set} udp dport {UPNP_UDP_PORTS} drop"),
            "block-upnp: SSDP and NAT-PMP/PCP to the router addresses",
        );
        if let Some(ports) = igd_ports(e) {
            rule(
                s,
                &format!("ether saddr @upnp_blocked {fam} daddr {set} tcp dport {ports} drop"),
                "block-upnp: IGD control to the router addresses",
            );
        }
    }
    if f == Family::Bridge {
        rule(
            s,
            "ether saddr @upnp_blocked ip daddr 239.255.255.250 udp dport 1900 drop",
            "block-upnp: SSDP multicast to other LAN hosts",
        );
        rule(
            s,
            "ether saddr @upnp_blocked ip6 daddr { ff02::c, ff05::c } udp dport 1900 drop",
            "block-upnp: SSDP multicast to other LAN hosts",
        );
        rule(
            s,
            "ether saddr @quarantined ether type arp accept",
            "quarantine: ARP passes so the device can still find its gateway",
        );
        quarantine_plumbing(s);
    }
    rule(
        s,
        "ether saddr vmap @quarantine_allow",
        "quarantine: per-device allowances qf_<mac>",
    );
    rule(
        s,
        "ether saddr @quarantined drop",
        "quarantine: everything else",
    );
    if f == Family::Bridge {
        rule(
            s,
            "ether saddr @profiled ether type arp accept",
            "enforce-profile: ARP passes",
        );
    }
    profile_plumbing(s, false);
    rule(
        s,
        "ether saddr vmap @profile_allow",
        "enforce-profile: per-device declared flows pf_<mac>",
    );
    rule(
        s,
        "ether saddr @profiled drop",
        "enforce-profile: everything the profile does not declare",
    );
    s.push_str("\t}\n");
}

/// DHCP, neighbour discovery and DNS to the router: what every device needs
/// to be on the network, never a profile's to forbid.
fn profile_plumbing(s: &mut String, to_router: bool) {
    rule(
        s,
        "ether saddr @profiled udp dport { 67, 547 } accept",
        "enforce-profile: DHCP and DHCPv6 pass",
    );
    rule(
        s,
        &format!("ether saddr @profiled icmpv6 type {ND_TYPES} accept"),
        "enforce-profile: IPv6 neighbour and router discovery pass",
    );
    if to_router {
        rule(
            s,
            "ether saddr @profiled meta l4proto { tcp, udp } th dport 53 accept",
            "enforce-profile: DNS to the router passes",
        );
    } else {
        for (fam, set) in [("ip", "@router4"), ("ip6", "@router6")] {
            rule(
                s,
                &format!("ether saddr @profiled {fam} daddr {set} meta l4proto {{ tcp, udp }} th dport 53 accept"),
                "enforce-profile: DNS to the router passes",
            );
        }
    }
}

/// The local network in MUD's sense (as warden_profile::is_local).
const LOCAL4: &str =
    "{ 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, 224.0.0.0/4, 255.255.255.255 }";
const LOCAL6: &str = "{ fc00::/7, fe80::/10, ff00::/8 }";

/// Name `k` of device `m`'s profile: the address sets its rules match.
fn name_set(m: &Mac, k: usize, v6: bool) -> String {
    format!("pn{}_{}_{k}", if v6 { 6 } else { 4 }, m.hex())
}

/// One set per family for every rule that names a host, holding the
/// addresses the router's resolver gave the device, each with its own
/// timeout: an address the device stops being told about drops out by
/// itself, even between two rebuilds.
fn profile_sets(s: &mut String, m: &Mac, d: &DeviceRules, p: &ProfileRules) {
    for (k, a) in p.allow.iter().enumerate() {
        let ProfilePeer::Addrs { name, addrs } = &a.peer else {
            continue;
        };
        for v6 in [false, true] {
            let ty = if v6 { "ipv6_addr" } else { "ipv4_addr" };
            let _ = writeln!(
                s,
                "\tset {} {{\n\t\ttype {ty}\n\t\tflags timeout\n\t\t{}",
                name_set(m, k, v6),
                device_comment(m, d, &format!("profile name {name}"), p.reason.as_str())
            );
            let items: Vec<String> = addrs
                .iter()
                .filter(|(a, _)| a.is_ipv6() == v6)
                .map(|(a, secs)| format!("{a} timeout {}s", (*secs).max(1)))
                .collect();
            if !items.is_empty() {
                let _ = writeln!(s, "\t\telements = {{ {} }}", items.join(", "));
            }
            s.push_str("\t}\n");
        }
    }
}

/// The device's declared flows, each ending in `accept`; what falls
/// through is dropped by the `@profiled` rule after the jump.
fn profile_chain(s: &mut String, name: &str, m: &Mac, d: &DeviceRules, p: &ProfileRules) {
    let reason = p.reason.as_str();
    let _ = writeln!(
        s,
        "\tchain {name} {{\n\t\t{}",
        device_comment(m, d, "profile: declared flows", reason)
    );
    for (k, a) in p.allow.iter().enumerate() {
        for v6 in [false, true] {
            let Some(l4) = profile_l4(a, v6) else {
                continue;
            };
            let fam = if v6 { "ip6" } else { "ip" };
            let peer = match &a.peer {
                ProfilePeer::Local => format!("{fam} daddr {}", if v6 { LOCAL6 } else { LOCAL4 }),
                ProfilePeer::Addrs { .. } => format!("{fam} daddr @{}", name_set(m, k, v6)),
            };
            let what = profile_what(a);
            let _ = writeln!(
                s,
                "\t\t{peer}{l4} accept {}",
                device_comment(m, d, &format!("profile allows {what}"), reason)
            );
        }
    }
    s.push_str("\t}\n");
}

/// The transport match of a rule in one family (with a leading space), or
/// None when the protocol cannot occur in it (ICMP in IPv6 and back).
fn profile_l4(a: &ProfileAllow, v6: bool) -> Option<String> {
    let side = if a.from_device { "dport" } else { "sport" };
    Some(match (a.proto, a.port) {
        (Some(L4::Tcp), Some(p)) => format!(" tcp {side} {p}"),
        (Some(L4::Udp), Some(p)) => format!(" udp {side} {p}"),
        (Some(L4::Tcp), None) => " meta l4proto tcp".to_owned(),
        (Some(L4::Udp), None) => " meta l4proto udp".to_owned(),
        (Some(L4::Icmp), _) if v6 => return None,
        (Some(L4::Icmp), _) => " meta l4proto icmp".to_owned(),
        (Some(L4::Icmpv6), _) if !v6 => return None,
        (Some(L4::Icmpv6), _) => " meta l4proto ipv6-icmp".to_owned(),
        (None, Some(p)) => format!(" meta l4proto {{ tcp, udp }} th {side} {p}"),
        (None, None) => String::new(),
    })
}

/// "tcp to update.example.test port 443", for comments.
fn profile_what(a: &ProfileAllow) -> String {
    let proto = match a.proto {
        Some(L4::Tcp) => "tcp",
        Some(L4::Udp) => "udp",
        Some(L4::Icmp) => "icmp",
        Some(L4::Icmpv6) => "icmpv6",
        None => "any",
    };
    let dir = if a.from_device { "to" } else { "from" };
    let peer = match &a.peer {
        ProfilePeer::Local => "local_networks".to_owned(),
        ProfilePeer::Addrs { name, .. } => name.as_str().to_owned(),
    };
    match a.port {
        Some(p) => format!("{proto} {dir} {peer} port {p}"),
        None => format!("{proto} {dir} {peer}"),
    }
}

/// DHCP and neighbour discovery: without them a quarantined device drops off
/// the network, and its owner can no longer see or update it.
fn quarantine_plumbing(s: &mut String) {
    rule(
        s,
        "ether saddr @quarantined udp dport { 67, 547 } accept",
        "quarantine: DHCP and DHCPv6 still pass",
    );
    rule(
        s,
        &format!("ether saddr @quarantined icmpv6 type {ND_TYPES} accept"),
        "quarantine: IPv6 neighbour and router discovery still pass",
    );
}

/// Traffic from LAN devices to the router itself. Same priority reasoning as
/// [`forward_chain`].
fn input_chain(s: &mut String, e: &Enforcement) {
    let _ = writeln!(
        s,
        "\tchain input {{\n\t\ttype filter hook input priority filter - 10; policy accept;\n\t\t{}",
        comment("warden: what LAN devices send to the router itself")
    );
    iif_guard(s, e);
    rule(
        s,
        "ether saddr vmap @rate_limited",
        "rate-limit: per-device chains rl_<mac>, one bucket with forward",
    );
    rule(
        s,
        &format!("ether saddr @smtp_blocked tcp dport {SMTP_PORTS} drop"),
        "block-smtp: SMTP, SMTPS and submission",
    );
    rule(
        s,
        &format!("ether saddr @upnp_blocked udp dport {UPNP_UDP_PORTS} drop"),
        "block-upnp: SSDP and NAT-PMP/PCP",
    );
    if let Some(ports) = igd_ports(e) {
        rule(
            s,
            &format!("ether saddr @upnp_blocked tcp dport {ports} drop"),
            "block-upnp: IGD control",
        );
    }
    quarantine_plumbing(s);
    rule(
        s,
        "ether saddr vmap @quarantine_allow_in",
        "quarantine: per-device allowances qi_<mac>",
    );
    rule(
        s,
        "ether saddr @quarantined drop",
        "quarantine: everything else",
    );
    profile_plumbing(s, true);
    rule(
        s,
        "ether saddr vmap @profile_allow_in",
        "enforce-profile: per-device declared flows to the router pi_<mac>",
    );
    rule(
        s,
        "ether saddr @profiled drop",
        "enforce-profile: everything the profile does not declare",
    );
    s.push_str("\t}\n");
}
