//! RFC 8520 MUD files: the network part of a threat model written as one,
//! and MUD files read back into flows (docs/profiles.md).
//!
//! Export writes one ACL per direction and address family
//! (`ipv4-acl-type`, `ipv6-acl-type`): each declared flow becomes an ACE in
//! the from-device ACL and its mirror in the to-device ACL, with
//! `ietf-mud:direction-initiated` on TCP as the RFC does.
//!
//! Import is lenient about what real files contain: the pre-RFC container
//! names (`ietf-access-control-list:access-lists`, `access-list-entries`),
//! missing module prefixes, and port matches written as `{"operator": "eq",
//! "port": N}` or as a bare number. It is strict about size: at most
//! [`MAX_MUD_BYTES`] bytes, [`MAX_ACLS`] ACLs and [`MAX_ACES`] entries in
//! all. Entries that do not accept, or that match on what a flow cannot say
//! (address ranges, ICMP types), are counted and left out, never guessed.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use warden_model::model::{Direction, Flow, Network, PeerClass, Protocol};

pub const MAX_MUD_BYTES: usize = 256 * 1024;
pub const MAX_ACLS: usize = 64;
pub const MAX_ACES: usize = 2_048;

/// What identifies the device in a MUD file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MudInfo {
    pub mud_url: Option<String>,
    pub systeminfo: Option<String>,
    pub mfg_name: Option<String>,
    pub model_name: Option<String>,
    pub firmware_rev: Option<String>,
}

/// A MUD file read into flows.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub info: MudInfo,
    pub network: Network,
    /// Entries left out (not `accept`, or matching on what a flow cannot
    /// express), with why.
    pub skipped: Vec<String>,
}

/// Why a MUD file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MudError {
    #[error("the MUD file is {0} bytes; at most {MAX_MUD_BYTES} are accepted")]
    TooLarge(usize),
    #[error("the MUD file is not JSON: {0}")]
    NotJson(String),
    #[error("the MUD file has no `ietf-mud:mud` container")]
    NoMud,
    #[error("the MUD file has more than {0}")]
    TooMany(&'static str),
    #[error("the MUD file's policy names ACL {0:?}, which it does not define")]
    MissingAcl(String),
}

/// The network part of a model as an RFC 8520 MUD file. `mud_url` is the
/// URL the file will be served at (the model's `identity.mud_url`).
pub fn export(
    network: &Network,
    mud_url: &str,
    mfg_name: &str,
    model_name: &str,
    systeminfo: &str,
    last_update: &str,
) -> Value {
    let base = acl_base(mud_url);
    let mut acls = Vec::new();
    for (family, v6) in [("v4", false), ("v6", true)] {
        let mut from = Vec::new();
        let mut to = Vec::new();
        for (i, flow) in network.flows.iter().enumerate() {
            let Some((fr, todev)) = aces(flow, i, v6) else {
                continue;
            };
            from.push(fr);
            to.push(todev);
        }
        let kind = if v6 { "ipv6-acl-type" } else { "ipv4-acl-type" };
        acls.push(
            json!({"name": format!("{base}-{family}fr"), "type": kind, "aces": {"ace": from}}),
        );
        acls.push(json!({"name": format!("{base}-{family}to"), "type": kind, "aces": {"ace": to}}));
    }
    let list = |suffix: &str| {
        json!({"access-lists": {"access-list": [
            {"name": format!("{base}-v4{suffix}")},
            {"name": format!("{base}-v6{suffix}")}
        ]}})
    };
    json!({
        "ietf-mud:mud": {
            "mud-version": 1,
            "mud-url": mud_url,
            "last-update": last_update,
            "cache-validity": 48,
            "is-supported": true,
            "systeminfo": systeminfo,
            "mfg-name": mfg_name,
            "model-name": model_name,
            "from-device-policy": list("fr"),
            "to-device-policy": list("to"),
        },
        "ietf-access-control-list:acls": {"acl": acls}
    })
}

/// A stable ACL name prefix from the MUD URL (`mud-` and 5 digits, as the
/// RFC's examples).
fn acl_base(mud_url: &str) -> String {
    let h = mud_url
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("mud-{:05}", h % 100_000)
}

/// The from-device ACE of a flow and its to-device mirror.
fn aces(flow: &Flow, i: usize, v6: bool) -> Option<(Value, Value)> {
    let proto = match (flow.protocol, v6) {
        (Protocol::Tcp, _) => Some(6),
        (Protocol::Udp, _) => Some(17),
        (Protocol::Icmp, false) => Some(1),
        (Protocol::Icmpv6, true) => Some(58),
        (Protocol::Icmp, true) | (Protocol::Icmpv6, false) => return None,
        (Protocol::Any, _) => None,
    };
    let l3 = if v6 { "ipv6" } else { "ipv4" };
    let outbound = flow.direction == Direction::FromDevice;
    // The peer's side: dst of from-device packets, src of to-device ones.
    let mut fr = Map::new();
    let mut to = Map::new();
    let mut fr_l3 = Map::new();
    let mut to_l3 = Map::new();
    if let Some(p) = proto {
        fr_l3.insert("protocol".into(), json!(p));
        to_l3.insert("protocol".into(), json!(p));
    }
    if let Some(name) = &flow.dns_name {
        fr_l3.insert("ietf-acldns:dst-dnsname".into(), json!(name));
        to_l3.insert("ietf-acldns:src-dnsname".into(), json!(name));
    }
    if let Some(class) = flow.class {
        let m = class_match(class, flow.manufacturer.as_deref());
        fr.insert("ietf-mud:mud".into(), m.clone());
        to.insert("ietf-mud:mud".into(), m);
    }
    if !fr_l3.is_empty() {
        fr.insert(l3.into(), Value::Object(fr_l3));
        to.insert(l3.into(), Value::Object(to_l3));
    }
    let l4 = match flow.protocol {
        Protocol::Tcp => Some("tcp"),
        Protocol::Udp => Some("udp"),
        _ => None,
    };
    if let Some(l4) = l4 {
        let mut fr4 = Map::new();
        let mut to4 = Map::new();
        if let Some(port) = flow.port {
            let eq = json!({"operator": "eq", "port": port});
            // The accepting side's port: the peer's when the device opens.
            let (fr_key, to_key) = if outbound {
                ("destination-port", "source-port")
            } else {
                ("source-port", "destination-port")
            };
            fr4.insert(fr_key.into(), eq.clone());
            to4.insert(to_key.into(), eq);
        }
        // TCP says who opens, with or without a port (RFC 8520 section 2.2).
        if l4 == "tcp" {
            let who = if outbound { "from-device" } else { "to-device" };
            fr4.insert("ietf-mud:direction-initiated".into(), json!(who));
            to4.insert("ietf-mud:direction-initiated".into(), json!(who));
        }
        if !fr4.is_empty() {
            fr.insert(l4.into(), Value::Object(fr4));
            to.insert(l4.into(), Value::Object(to4));
        }
    }
    let accept = json!({"forwarding": "accept"});
    Some((
        json!({"name": format!("flow{i}-frdev"), "matches": fr, "actions": accept}),
        json!({"name": format!("flow{i}-todev"), "matches": to, "actions": accept}),
    ))
}

fn class_match(class: PeerClass, manufacturer: Option<&str>) -> Value {
    match class {
        PeerClass::LocalNetworks => json!({"local-networks": [null]}),
        PeerClass::SameManufacturer => json!({"same-manufacturer": [null]}),
        PeerClass::MyController => json!({"my-controller": [null]}),
        PeerClass::Controller => json!({"controller": manufacturer.unwrap_or("")}),
        PeerClass::Manufacturer => json!({"manufacturer": manufacturer.unwrap_or("")}),
    }
}

/// `key` or its module-prefixed form (`prefix:key`), as real files use both.
fn get<'a>(v: &'a Value, prefix: &str, key: &str) -> Option<&'a Value> {
    v.get(format!("{prefix}:{key}")).or_else(|| v.get(key))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| s.chars().take(256).collect())
}

/// Reads a MUD file into flows.
pub fn import(bytes: &[u8]) -> Result<Imported, MudError> {
    if bytes.len() > MAX_MUD_BYTES {
        return Err(MudError::TooLarge(bytes.len()));
    }
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| MudError::NotJson(e.to_string()))?;
    let mud = get(&doc, "ietf-mud", "mud").ok_or(MudError::NoMud)?;
    let info = MudInfo {
        mud_url: text(mud, "mud-url"),
        systeminfo: text(mud, "systeminfo"),
        mfg_name: text(mud, "mfg-name"),
        model_name: text(mud, "model-name"),
        firmware_rev: text(mud, "firmware-rev"),
    };
    let containers = ["acls", "access-lists"];
    let acl_list = containers
        .iter()
        .find_map(|c| get(&doc, "ietf-access-control-list", c))
        .and_then(|c| c.get("acl"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if acl_list.len() > MAX_ACLS {
        return Err(MudError::TooMany("64 ACLs"));
    }
    let policy_names = |policy: &str| -> Vec<String> {
        mud.get(policy)
            .and_then(|p| p.get("access-lists"))
            .and_then(|l| l.get("access-list"))
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|a| text(a, "name")).collect())
            .unwrap_or_default()
    };
    let mut flows: Vec<Flow> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut skipped = Vec::new();
    let mut total_aces = 0;
    for (policy, from_device) in [("from-device-policy", true), ("to-device-policy", false)] {
        for name in policy_names(policy) {
            let acl = acl_list
                .iter()
                .find(|a| text(a, "name").as_deref() == Some(&name))
                .ok_or_else(|| MudError::MissingAcl(name.clone()))?;
            let entries = acl
                .get("aces")
                .or_else(|| acl.get("access-list-entries"))
                .and_then(|a| a.get("ace"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            total_aces += entries.len();
            if total_aces > MAX_ACES {
                return Err(MudError::TooMany("2048 access-control entries"));
            }
            for ace in &entries {
                match flow_of(ace, from_device) {
                    Ok(flow) => {
                        let key = (
                            flow.direction == Direction::FromDevice,
                            format!("{:?}", flow.protocol),
                            flow.port,
                            flow.dns_name.clone(),
                            flow.class.map(|c| format!("{c:?}")),
                            flow.manufacturer.clone(),
                        );
                        if seen.insert(key) {
                            flows.push(flow);
                        }
                    }
                    Err(why) => skipped.push(format!(
                        "{}: {why}",
                        text(ace, "name").unwrap_or_else(|| "an entry".into())
                    )),
                }
            }
        }
    }
    Ok(Imported {
        info,
        network: Network {
            port_mapping: None,
            flows,
        },
        skipped,
    })
}

fn port_of(v: Option<&Value>) -> Result<Option<u16>, String> {
    let Some(v) = v else { return Ok(None) };
    if let Some(n) = v.as_u64() {
        return u16::try_from(n)
            .map(Some)
            .map_err(|_| "a port above 65535".into());
    }
    match (v.get("operator").and_then(Value::as_str), v.get("port")) {
        (Some("eq") | None, Some(p)) => p
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| "a port that is not a number up to 65535".into()),
        (Some(op), _) => Err(format!("a port range or operator {op:?}")),
        (None, None) => Err("a port match without a port".into()),
    }
}

/// One ACE as the flow it allows, seen from the policy it sits in.
fn flow_of(ace: &Value, from_device: bool) -> Result<Flow, String> {
    let action = ace
        .get("actions")
        .and_then(|a| a.get("forwarding"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if !action.ends_with("accept") {
        return Err(format!("its action is {action:?}, not accept"));
    }
    let m = ace.get("matches").ok_or("it has no matches")?;
    let l3 = m
        .get("ipv4")
        .or_else(|| m.get("ipv6"))
        .or_else(|| m.get("l3"));
    for key in [
        "source-ipv4-network",
        "destination-ipv4-network",
        "source-ipv6-network",
        "destination-ipv6-network",
    ] {
        if l3.and_then(|l| l.get(key)).is_some() {
            return Err(format!("it matches on {key}, an address range"));
        }
    }
    let protocol = match l3.and_then(|l| l.get("protocol")).and_then(Value::as_u64) {
        None => Protocol::Any,
        Some(6) => Protocol::Tcp,
        Some(17) => Protocol::Udp,
        Some(1) => Protocol::Icmp,
        Some(58) => Protocol::Icmpv6,
        Some(p) => return Err(format!("IP protocol {p}")),
    };
    let (mine, theirs) = if from_device {
        ("dst", "src")
    } else {
        ("src", "dst")
    };
    let dns_name = l3
        .and_then(|l| {
            l.get(format!("ietf-acldns:{mine}-dnsname"))
                .or_else(|| l.get(format!("{mine}-dnsname")))
        })
        .and_then(Value::as_str)
        .map(|s| s.trim_end_matches('.').to_ascii_lowercase());
    if l3
        .and_then(|l| l.get(format!("ietf-acldns:{theirs}-dnsname")))
        .is_some()
    {
        return Err("it names the device's own side by DNS name".into());
    }
    let (class, manufacturer) = match get(m, "ietf-mud", "mud") {
        None => (None, None),
        Some(c) => {
            let has = |k: &str| c.get(k).is_some();
            if has("local-networks") {
                (Some(PeerClass::LocalNetworks), None)
            } else if has("same-manufacturer") {
                (Some(PeerClass::SameManufacturer), None)
            } else if has("my-controller") {
                (Some(PeerClass::MyController), None)
            } else if let Some(x) = c.get("controller") {
                (Some(PeerClass::Controller), x.as_str().map(str::to_owned))
            } else if let Some(x) = c.get("manufacturer") {
                (Some(PeerClass::Manufacturer), x.as_str().map(str::to_owned))
            } else if has("model") {
                return Err("the `model` class is not supported".into());
            } else {
                return Err("an unknown MUD class".into());
            }
        }
    };
    if dns_name.is_some() == class.is_some() {
        return Err("it names its peer neither by one DNS name nor by one class".into());
    }
    // Ports and who opened: the accepting side's port names the flow.
    let l4 = match protocol {
        Protocol::Tcp => m.get("tcp"),
        Protocol::Udp => m.get("udp"),
        _ => None,
    };
    let src = port_of(l4.and_then(|l| l.get("source-port")))?;
    let dst = port_of(l4.and_then(|l| l.get("destination-port")))?;
    // RFC 8520 defines direction-initiated for TCP only; on UDP it is
    // ignored (export never writes it there, so reading it would not
    // round-trip: found by the mud_import fuzz target).
    let initiated = l4
        .filter(|_| protocol == Protocol::Tcp)
        .and_then(|l| {
            l.get("ietf-mud:direction-initiated")
                .or_else(|| l.get("direction-initiated"))
        })
        .and_then(Value::as_str);
    // The port on the peer's side (dst when from the device) and the
    // device's own.
    let (peer_port, own_port) = if from_device { (dst, src) } else { (src, dst) };
    let device_opens = match initiated {
        Some("from-device") => true,
        Some("to-device") => false,
        Some(other) => return Err(format!("direction-initiated {other:?}")),
        // UDP and the rest: the side whose port is named accepts.
        None => peer_port.is_some() || own_port.is_none(),
    };
    let port = if device_opens { peer_port } else { own_port };
    Ok(Flow {
        direction: if device_opens {
            Direction::FromDevice
        } else {
            Direction::ToDevice
        },
        protocol,
        port,
        dns_name,
        class,
        manufacturer,
        encrypted: None,
        purpose: format!(
            "imported from MUD entry {}",
            text(ace, "name").unwrap_or_else(|| "?".into())
        ),
    })
}
