//! Building a [`Sighting`] from what the guard knows, so that it describes a
//! device *type* and cannot identify the household; and checking one that
//! arrives at the server.
//!
//! What goes in (docs/feed.md, "Privacy"):
//! - the registry block of the MAC (24, 28 or 36 bits as the IEEE assigned
//!   it; 24 when the registry does not know it), never the full MAC; a
//!   locally administered (random) MAC is refused, as its "prefix" would be
//!   nearly unique;
//! - vendor (from the registry), model and firmware as identified;
//! - a fingerprint: SHA-256 of the sorted identifying features every device
//!   of the type shares (DHCP option 55 and 60, DHCPv6 vendor class, DHCP
//!   max message size, SSDP server, UPnP device types, HTTP user agent and
//!   server, DNS-SD service types). Names (DHCP host name, FQDN, mDNS names,
//!   instance names, TXT), looked-up domains, SNI, UPnP locations and client
//!   ids never go in, and a feature that contains the device's MAC (any
//!   spelling, or its last three bytes), one of its addresses or its host
//!   name is dropped;
//! - the behaviour kind, peak rate and target count rounded down to powers
//!   of two, at most five destination ports; never target addresses;
//! - the hour the behaviour was detected in, never the exact time.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};

use hashlink::LruCache;

use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use warden_detect::{Alert, Evidence};
use warden_identify::Identity;

use crate::envelope::{Envelope, EnvelopeError};
use crate::keys::{KeyError, KeyId, KeyPair, PublicKey};
use crate::types::{Behaviour, BehaviourKind, DeviceType, MacPrefix, Sighting};
use crate::{MAX_CLOCK_SKEW_S, MAX_PORTS, MAX_SIGHTING_BYTES, PAYLOAD_SIGHTING};
use serde::Deserialize;

/// Strings in a sighting (vendor, model, firmware) are at most this long.
pub const MAX_SIGHTING_TEXT: usize = 128;
/// The server refuses a window that started longer ago than this.
pub const MAX_WINDOW_AGE_S: i64 = 7 * 24 * 3600;

/// Why no sighting can be built for a device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the device's MAC is locally administered (randomised): its prefix would identify the device, not its type")]
    RandomizedMac,
    #[error("the device's MAC is a group address")]
    MulticastMac,
}

/// Why a received sighting was refused.
#[derive(Debug, thiserror::Error)]
pub enum SightingError {
    #[error("sighting is {len} bytes, more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("sighting payload is malformed: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("sighting sent at {sent_at} is more than {MAX_CLOCK_SKEW_S} s from the server's clock ({now})")]
    ClockSkew { sent_at: i64, now: i64 },
    #[error("invalid sighting: {0}")]
    Invalid(&'static str),
}

/// A sighting whose signature checked out, and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSighting {
    pub sighting: Sighting,
    pub reporter: KeyId,
}

/// Rounds down to a power of two (0 stays 0).
pub fn pow2_bucket(n: u64) -> u32 {
    if n == 0 {
        0
    } else {
        let n = n.min(u64::from(u32::MAX));
        1u32 << (63 - n.leading_zeros())
    }
}

/// The registry block of `mac`: what the IEEE assigned (24/28/36 bits), else 24.
pub fn mac_prefix_of(mac: [u8; 6]) -> Result<MacPrefix, BuildError> {
    let info = warden_oui::lookup(mac);
    if info.multicast {
        return Err(BuildError::MulticastMac);
    }
    if info.locally_administered {
        return Err(BuildError::RandomizedMac);
    }
    let bits = if info.prefix_bits == 0 {
        24
    } else {
        info.prefix_bits
    };
    Ok(MacPrefix::of(mac, bits))
}

/// The household-specific strings a feature must not contain.
struct Secrets {
    needles: Vec<String>,
}

impl Secrets {
    fn new(mac: [u8; 6], ips: &[IpAddr], hostname: Option<&str>) -> Secrets {
        let h = |b: &[u8], sep: &str| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(sep)
        };
        let mut needles = vec![
            h(&mac, ""),
            h(&mac, ":"),
            h(&mac, "-"),
            h(&mac, "."),
            // Names like ESP_07AEFB or Lightify-7B5F6B carry the NIC half.
            h(&mac[3..], ""),
            h(&mac[3..], ":"),
        ];
        needles.extend(ips.iter().map(|ip| ip.to_string().to_lowercase()));
        if let Some(name) = hostname.filter(|n| n.len() >= 3) {
            needles.push(name.to_lowercase());
        }
        Secrets { needles }
    }

    fn leaks(&self, value: &str) -> bool {
        let v = value.to_lowercase();
        self.needles.iter().any(|n| v.contains(n.as_str()))
    }

    fn clean(&self, value: Option<&str>) -> Option<String> {
        let v = value?.trim();
        if v.is_empty() || self.leaks(v) {
            return None;
        }
        Some(cut(v, MAX_SIGHTING_TEXT).to_owned())
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The fingerprint of an identity: hex SHA-256 of its sorted type-level
/// features, one `key=value` per line.
pub fn fingerprint(identity: &Identity, mac: [u8; 6], ips: &[IpAddr]) -> String {
    let secrets = Secrets::new(mac, ips, identity.hostname());
    let mut features = BTreeSet::new();
    // Text features carry version numbers (`IpBridge/1.50.0`, `udhcp
    // 1.23.2`): those go (after the leak check, which needs them), so
    // that one type has one fingerprint across its firmware versions (the
    // firmware is a field of its own).
    let mut add = |key: &str, value: &str, text: bool| {
        let value = value.trim();
        if value.is_empty() || secrets.leaks(value) {
            return;
        }
        let value = if text {
            without_numbers(value)
        } else {
            value.to_owned()
        };
        features.insert(format!("{key}={}", cut(&value, MAX_SIGHTING_TEXT)));
    };
    let d = identity.dhcp();
    if !d.parameter_request_list().is_empty() {
        let prl: Vec<String> = d
            .parameter_request_list()
            .iter()
            .map(u8::to_string)
            .collect();
        add("dhcp.prl", &prl.join(","), false);
    }
    if let Some(vc) = d.vendor_class() {
        add("dhcp.vendor_class", vc, true);
    }
    if let Some(n) = d.max_message_size() {
        add("dhcp.max_message_size", &n.to_string(), false);
    }
    if let Some((ent, class)) = d.v6_vendor_class() {
        add("dhcp6.vendor_class", &format!("{ent}:{class}"), true);
    }
    for s in identity.upnp_server() {
        add("ssdp.server", s, true);
    }
    for s in identity.upnp_device_types() {
        add("upnp.device_type", s, true);
    }
    for s in identity.user_agents() {
        add("http.user_agent", s, true);
    }
    for s in identity.http_servers() {
        add("http.server", s, true);
    }
    for s in identity.mdns_services() {
        if let Some(t) = service_type(s) {
            add("mdns.service", &t, false);
        }
    }
    let joined = features.into_iter().collect::<Vec<_>>().join("\n");
    crate::hex(&Sha256::digest(joined.as_bytes()))
}

/// The DNS-SD service type of a service instance name (`_hap._tcp.local`
/// from `Kitchen Hue - 7B5F6B._hap._tcp.local`): the instance name is the
/// owner's and may contain anything, dots and underscores included, so the
/// type is found from the right: the `_tcp`/`_udp` label and the `_service`
/// label before it.
fn service_type(name: &str) -> Option<String> {
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    let proto = labels
        .iter()
        .rposition(|l| l.eq_ignore_ascii_case("_tcp") || l.eq_ignore_ascii_case("_udp"))?;
    let service = labels.get(proto.checked_sub(1)?)?;
    if !service.starts_with('_') || service.len() > 64 {
        return None;
    }
    Some(format!("{service}.{}.local", labels[proto]).to_lowercase())
}

/// `value` with every run of digits replaced by `#`.
fn without_numbers(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut in_digits = false;
    for c in value.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// The behaviour of an alert, coarsened.
pub fn behaviour_of(alert: &Alert) -> Behaviour {
    let mut ports: Vec<u16> = Vec::new();
    let (kind, pps, targets) = match &alert.evidence {
        Evidence::Flood(e) => (
            BehaviourKind::Flood,
            u64::from(e.peak_pps),
            e.top_destinations.len() as u64,
        ),
        Evidence::Scan(e) => {
            ports.extend(e.top_ports.iter().map(|p| p.port));
            (
                BehaviourKind::Scan,
                e.rate_per_s.max(0.0) as u64,
                e.attempts,
            )
        }
        Evidence::Spam(e) => {
            if e.smtp_servers > 0 {
                ports.push(25);
            }
            (
                BehaviourKind::Spam,
                0,
                u64::from(e.smtp_servers) + u64::from(e.submission_servers),
            )
        }
        Evidence::BruteForce(e) => {
            ports.push(e.port);
            (BehaviourKind::BruteForce, 0, 1)
        }
        Evidence::ProfileViolation(e) => {
            ports.extend(e.flows.iter().map(|f| f.port).filter(|p| *p != 0));
            (BehaviourKind::ProfileViolation, 0, e.denied_flows)
        }
    };
    ports.truncate(MAX_PORTS);
    ports.sort_unstable();
    ports.dedup();
    Behaviour {
        kind,
        peak_pps_bucket: pow2_bucket(pps),
        targets_bucket: pow2_bucket(targets),
        ports,
    }
}

impl Sighting {
    /// A sighting of the device whose MAC, addresses and identity are given,
    /// for one of its alerts, reported by `reporter`, sent at `now` (unix s).
    pub fn from_parts(
        mac: [u8; 6],
        ips: &[IpAddr],
        identity: &Identity,
        alert: &Alert,
        reporter: &KeyPair,
        now: i64,
    ) -> Result<Sighting, BuildError> {
        let mac_prefix = mac_prefix_of(mac)?;
        let secrets = Secrets::new(mac, ips, identity.hostname());
        let vendor = warden_oui::lookup(mac)
            .vendor
            .map(|v| cut(v, MAX_SIGHTING_TEXT).to_owned());
        let detected_s = alert.detected_at.0.div_euclid(1_000_000_000);
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        Ok(Sighting {
            version: 1,
            nonce: crate::hex(&nonce),
            sent_at: now,
            window_start: detected_s - detected_s.rem_euclid(3600),
            window_hours: 1,
            reporter: reporter.public(),
            device: DeviceType {
                mac_prefix,
                vendor,
                model: secrets.clean(identity.model()),
                firmware: secrets.clean(identity.firmware()),
                fingerprint: fingerprint(identity, mac, ips),
            },
            behaviour: behaviour_of(alert),
        })
    }

    /// A sighting of a guard device for one of its alerts.
    pub fn from_device(
        device: &warden_devices::Device,
        alert: &Alert,
        reporter: &KeyPair,
        now: i64,
    ) -> Result<Sighting, BuildError> {
        Self::from_parts(
            device.mac.0,
            &device.ips,
            &device.identity,
            alert,
            reporter,
            now,
        )
    }

    /// The signed envelope to POST; `reporter` must be the key named in the sighting.
    pub fn sign(&self, reporter: &KeyPair) -> Envelope {
        Envelope::sign(PAYLOAD_SIGHTING, self, &[reporter])
    }

    /// Checks the fields of a sighting (not its signature) at server time `now`.
    pub fn validate(&self, now: i64) -> Result<(), SightingError> {
        use SightingError::Invalid;
        if self.version != 1 {
            return Err(Invalid("unsupported version (expected 1)"));
        }
        if self.nonce.len() != 32
            || !self
                .nonce
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(Invalid("nonce must be 32 lowercase hex characters"));
        }
        if self.sent_at.abs_diff(now) > MAX_CLOCK_SKEW_S as u64 {
            return Err(SightingError::ClockSkew {
                sent_at: self.sent_at,
                now,
            });
        }
        if self.window_start.rem_euclid(3600) != 0 {
            return Err(Invalid("window_start must be on the hour"));
        }
        if !(1..=24).contains(&self.window_hours) {
            return Err(Invalid("window_hours must be 1 to 24"));
        }
        if self.window_start > now + MAX_CLOCK_SKEW_S
            || self.window_start < now.saturating_sub(MAX_WINDOW_AGE_S)
        {
            return Err(Invalid("window is in the future or more than 7 days old"));
        }
        let d = &self.device;
        if !matches!(d.mac_prefix.bits, 24 | 28 | 36) {
            return Err(Invalid(
                "mac_prefix must be a registry block (24, 28 or 36 bits)",
            ));
        }
        if d.mac_prefix.bytes[0] & 0x03 != 0 {
            return Err(Invalid("mac_prefix is a local or group address"));
        }
        for s in [&d.vendor, &d.model, &d.firmware].into_iter().flatten() {
            if s.is_empty() || s.len() > MAX_SIGHTING_TEXT || s.chars().any(char::is_control) {
                return Err(Invalid(
                    "vendor, model and firmware must be 1 to 128 bytes without control characters",
                ));
            }
        }
        if d.fingerprint.len() != 64
            || !d
                .fingerprint
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(Invalid("fingerprint must be 64 lowercase hex characters"));
        }
        let b = &self.behaviour;
        if b.ports.len() > MAX_PORTS {
            return Err(Invalid("at most 5 ports"));
        }
        for n in [b.peak_pps_bucket, b.targets_bucket] {
            if n != 0 && !n.is_power_of_two() {
                return Err(Invalid("buckets must be 0 or a power of two"));
            }
        }
        Ok(())
    }
}

/// What the server does with a POSTed body: size check, envelope, payload
/// type, signature by the reporter key the sighting names, then the fields.
/// Replay (the nonce seen before) is the server's to check, with its store.
///
/// The payload is parsed before the signature is checked because the key
/// is in it; the body is at most 16 KiB and nothing is acted on before the
/// signature checks out.
pub fn open_sighting(body: &[u8], now: i64) -> Result<VerifiedSighting, SightingError> {
    if body.len() > MAX_SIGHTING_BYTES {
        return Err(SightingError::TooLarge {
            len: body.len(),
            max: MAX_SIGHTING_BYTES,
        });
    }
    let env = Envelope::from_slice(body, MAX_SIGHTING_BYTES)?;
    open_sighting_envelope(&env, now)
}

/// [`open_sighting`] for an envelope already parsed (batch bodies).
pub fn open_sighting_envelope(env: &Envelope, now: i64) -> Result<VerifiedSighting, SightingError> {
    if env.payload_type != PAYLOAD_SIGHTING {
        return Err(EnvelopeError::WrongType {
            expected: PAYLOAD_SIGHTING,
            found: env.payload_type.chars().take(80).collect(),
        }
        .into());
    }
    if env.payload.len() > MAX_SIGHTING_BYTES {
        return Err(SightingError::TooLarge {
            len: env.payload.len(),
            max: MAX_SIGHTING_BYTES,
        });
    }
    let wire: WireSighting =
        serde_json::from_slice(&env.payload).map_err(SightingError::Malformed)?;
    let CachedKey(key, reporter) = wire.reporter;
    env.verify_by(PAYLOAD_SIGHTING, &key, &reporter)?;
    let claimed = Sighting {
        version: wire.version,
        nonce: wire.nonce,
        sent_at: wire.sent_at,
        window_start: wire.window_start,
        window_hours: wire.window_hours,
        reporter: key,
        device: wire.device,
        behaviour: wire.behaviour,
    };
    claimed.validate(now)?;
    Ok(VerifiedSighting {
        reporter,
        sighting: claimed,
    })
}

/// [`Sighting`] as it is parsed on the server: the same fields, names and
/// rules (serde derive, unknown fields ignored; the same struct name, which
/// serde puts in its error messages), except that the reporter key comes
/// from [`REPORTER_KEYS`] instead of being decompressed again.
mod wire {
    use super::{Behaviour, CachedKey, DeviceType};

    #[derive(serde::Deserialize)]
    pub(super) struct Sighting {
        pub version: u32,
        pub nonce: String,
        pub sent_at: i64,
        pub window_start: i64,
        pub window_hours: u32,
        pub reporter: CachedKey,
        pub device: DeviceType,
        pub behaviour: Behaviour,
    }
}
use wire::Sighting as WireSighting;

/// A reporter's key and its id.
struct CachedKey(PublicKey, KeyId);

impl<'de> Deserialize<'de> for CachedKey {
    /// The same checks and messages as `PublicKey`'s own `Deserialize`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.len() > 64 {
            return Err(serde::de::Error::custom("public key too long"));
        }
        let bytes = crate::b64::decode(&s).map_err(serde::de::Error::custom)?;
        reporter_key(&bytes).map_err(serde::de::Error::custom)
    }
}

type KeyCache = LruCache<[u8; 32], (PublicKey, KeyId)>;

/// How many reporters' keys are kept decompressed (about 400 bytes each).
pub const REPORTER_KEY_CACHE: usize = 16_384;

/// Decompressed reporter keys by their 32 bytes, least recently used out
/// first. Routers send sightings again and again; decompressing a key (a
/// field exponentiation, ~6 us), checking it is not weak and hashing its id
/// for each of them is work a returning key does not need. Only keys that passed
/// [`PublicKey::from_bytes`] are kept, and the value is a function of the
/// bytes alone, so nothing an attacker sends can change what a key means;
/// a flood of fresh keys only costs what every key cost without the cache.
static REPORTER_KEYS: LazyLock<Mutex<KeyCache>> =
    LazyLock::new(|| Mutex::new(LruCache::new(REPORTER_KEY_CACHE)));

fn reporter_key(bytes: &[u8]) -> Result<CachedKey, KeyError> {
    let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadPublicKey)?;
    let cache = || REPORTER_KEYS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((key, id)) = cache().get(&arr) {
        return Ok(CachedKey(*key, id.clone()));
    }
    let key = PublicKey::from_bytes(&arr)?;
    let id = key.key_id();
    cache().insert(arr, (key, id.clone()));
    Ok(CachedKey(key, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use warden_detect::{
        AlertKind, BruteForceEvidence, FloodEvidence, FloodTarget, PortCount, ScanEvidence,
        Timestamp,
    };
    use warden_identify::Observation;

    // Philips Hue bridge OUI (MA-L 00:17:88), a made-up NIC half.
    const MAC: [u8; 6] = [0x00, 0x17, 0x88, 0x7b, 0x5f, 0x6b];
    const DETECTED_NS: i64 = 1_764_081_234_567_891_234; // 2025-11-25 14:33:54.567 UTC

    fn identity() -> Identity {
        let mut id = Identity::new();
        id.set_mac(MAC);
        for obs in [
            Observation::DhcpHostname("Philips-hue-7B5F6B"),
            Observation::DhcpVendorClass("udhcp 1.23.2"),
            Observation::DhcpParameterList(&[1, 3, 6, 12, 15, 28, 42]),
            Observation::DhcpFqdn("kitchen-bridge.smith-family.example"),
            Observation::MdnsHostname("smiths-hue.local"),
            Observation::MdnsService("Philips Hue - 7B5F6B._hue._tcp.local"),
            Observation::UpnpServer("Linux/3.14.0 UPnP/1.0 IpBridge/1.50.0"),
            Observation::UpnpLocation("http://192.168.1.23:80/description.xml"),
            Observation::DnsQuery("smith-family-photos.example.com"),
            Observation::UserAgent("hue-bridge/1.50.0 id=0017887b5f6b"),
            Observation::UserAgent("Mozilla/5.0 (serial 7b5f6b)"),
        ] {
            id.apply(&obs);
        }
        id
    }

    fn ips() -> Vec<IpAddr> {
        vec![
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 23)),
            IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0x42, 7, 0x217, 0x88ff, 0xfe7b, 0x5f6b,
            )),
        ]
    }

    fn scan_alert() -> Alert {
        Alert {
            kind: AlertKind::Scan,
            detected_at: Timestamp(DETECTED_NS),
            confidence: 0.9,
            evidence: Evidence::Scan(ScanEvidence {
                first_seen: Timestamp(DETECTED_NS - 5_000_000_000),
                last_seen: Timestamp(DETECTED_NS),
                attempts: 700,
                failed: 650,
                answered: 3,
                rate_per_s: 130.5,
                likelihood_ratio_log: 9.0,
                top_ports: [23, 2323, 22, 80, 8080, 7547]
                    .into_iter()
                    .map(|port| PortCount { port, attempts: 10 })
                    .collect(),
                sample_targets: vec![
                    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 77)),
                    IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9)),
                ],
            }),
        }
    }

    #[test]
    fn sighting_reveals_no_household_data() {
        let key = KeyPair::from_seed([9; 32]);
        let now = DETECTED_NS / 1_000_000_000 + 42;
        let s = Sighting::from_parts(MAC, &ips(), &identity(), &scan_alert(), &key, now).unwrap();
        let json = String::from_utf8(s.sign(&key).payload.clone()).unwrap();
        let lower = json.to_lowercase();
        for secret in [
            "00:17:88:7b:5f:6b",
            "0017887b5f6b",
            "00-17-88-7b-5f-6b",
            "7b:5f:6b",
            "7b5f6b",
            "192.168.1.23",
            "2001:db8",
            "203.0.113.77",
            "198.51.100.9",
            "philips-hue",
            "kitchen",
            "smith",
            "smiths-hue",
            "description.xml",
            "1764081234",
            "1764081229",
        ] {
            assert!(!lower.contains(secret), "{secret:?} leaked into {json}");
        }
        // What the sighting does say, coarsely.
        assert_eq!(s.device.mac_prefix.to_string(), "00:17:88/24");
        assert_eq!(s.window_start, 1_764_079_200); // 14:00 UTC
        assert_eq!(s.window_start % 3600, 0);
        assert_eq!(s.behaviour.kind, BehaviourKind::Scan);
        assert_eq!(s.behaviour.peak_pps_bucket, 128);
        assert_eq!(s.behaviour.targets_bucket, 512);
        assert!(s.behaviour.ports.len() <= MAX_PORTS);
        assert_eq!(s.behaviour.ports, vec![22, 23, 80, 2323, 8080]);
        assert_eq!(s.device.fingerprint.len(), 64);
        assert!(s.device.vendor.as_deref().unwrap().contains("Philips"));
        // The same type in another household gets the same fingerprint.
        let mut other = Identity::new();
        let other_mac = [0x00, 0x17, 0x88, 0x01, 0x02, 0x03];
        other.set_mac(other_mac);
        for obs in [
            Observation::DhcpHostname("Philips-hue-010203"),
            Observation::DhcpVendorClass("udhcp 1.23.2"),
            Observation::DhcpParameterList(&[1, 3, 6, 12, 15, 28, 42]),
            Observation::MdnsService("Philips Hue - 010203._hue._tcp.local"),
            Observation::UpnpServer("Linux/3.14.0 UPnP/1.0 IpBridge/1.50.0"),
            Observation::UserAgent("hue-bridge/1.50.0 id=001788010203"),
        ] {
            other.apply(&obs);
        }
        let other_ips = [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))];
        assert_eq!(
            fingerprint(&other, other_mac, &other_ips),
            s.device.fingerprint
        );
    }

    #[test]
    fn service_type_keeps_only_the_type() {
        assert_eq!(
            service_type("Philips Hue - 7B5F6B._hue._tcp.local").as_deref(),
            Some("_hue._tcp.local")
        );
        // An owner's instance name with dots and underscores of its own.
        assert_eq!(
            service_type("smith._family. printer._ipp._tcp.local.").as_deref(),
            Some("_ipp._tcp.local")
        );
        assert_eq!(service_type("no service here.local"), None);
        assert_eq!(service_type("_tcp.local"), None);
    }

    #[test]
    fn randomized_and_group_macs_are_refused() {
        let key = KeyPair::from_seed([9; 32]);
        let id = Identity::new();
        let err = Sighting::from_parts([0x02, 1, 2, 3, 4, 5], &[], &id, &scan_alert(), &key, 0);
        assert_eq!(err.unwrap_err(), BuildError::RandomizedMac);
        let err = Sighting::from_parts([0x01, 0, 0x5e, 3, 4, 5], &[], &id, &scan_alert(), &key, 0);
        assert_eq!(err.unwrap_err(), BuildError::MulticastMac);
    }

    #[test]
    fn registry_block_size_is_used() {
        // 70:B3:D5 is the IEEE's MA-S/IAB space (36-bit blocks).
        let p = mac_prefix_of([0x70, 0xb3, 0xd5, 0x1f, 0x30, 0x01]).unwrap();
        let info = warden_oui::lookup([0x70, 0xb3, 0xd5, 0x1f, 0x30, 0x01]);
        assert_eq!(u32::from(p.bits), u32::from(info.prefix_bits.max(24)));
        // An unassigned prefix falls back to /24.
        let unknown = [0x04, 0xff, 0xfe, 1, 2, 3];
        if warden_oui::lookup(unknown).prefix_bits == 0 {
            assert_eq!(mac_prefix_of(unknown).unwrap().bits, 24);
        }
    }

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(pow2_bucket(0), 0);
        assert_eq!(pow2_bucket(1), 1);
        assert_eq!(pow2_bucket(3), 2);
        assert_eq!(pow2_bucket(1000), 512);
        assert_eq!(pow2_bucket(1024), 1024);
        assert_eq!(pow2_bucket(u64::MAX), 1 << 31);
        let flood = Alert {
            kind: AlertKind::Flood,
            detected_at: Timestamp(DETECTED_NS),
            confidence: 1.0,
            evidence: Evidence::Flood(FloodEvidence {
                variant: "udp",
                first_seen: Timestamp(DETECTED_NS),
                last_seen: Timestamp(DETECTED_NS),
                hot_seconds: 3,
                peak_pps: 5000,
                peak_bytes_per_s: 1,
                packets: 1,
                answer_ratio: 0.0,
                top_destinations: vec![FloodTarget {
                    address: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
                    packets: 5000,
                    share: 1.0,
                    ports: 1,
                    resolved_by_dns: false,
                }],
                dns_domain: None,
                nxdomain_share: None,
            }),
        };
        let b = behaviour_of(&flood);
        assert_eq!((b.peak_pps_bucket, b.targets_bucket), (4096, 1));
        let brute = Alert {
            kind: AlertKind::BruteForce,
            detected_at: Timestamp(DETECTED_NS),
            confidence: 1.0,
            evidence: Evidence::BruteForce(BruteForceEvidence {
                first_seen: Timestamp(DETECTED_NS),
                last_seen: Timestamp(DETECTED_NS),
                target: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
                port: 22,
                answered_connections: 9,
                attempts: 50,
                window_s: 60,
            }),
        };
        assert_eq!(behaviour_of(&brute).ports, vec![22]);
    }

    #[test]
    fn from_device_uses_the_guard_table() {
        let mut table = warden_devices::DeviceTable::new(16, 600);
        let i = table
            .find_or_insert(warden_decode::Mac(MAC), DETECTED_NS)
            .unwrap();
        let dev = table.get_mut(i);
        dev.learn_ip(ips()[0]);
        dev.identity = identity();
        let key = KeyPair::from_seed([9; 32]);
        let s = Sighting::from_device(table.get(i), &scan_alert(), &key, 1_764_081_300).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("192.168.1.23"));
        assert!(!json.to_lowercase().contains("7b:5f:6b"));
    }

    fn signed(now: i64) -> (KeyPair, Sighting, Vec<u8>) {
        let key = KeyPair::from_seed([5; 32]);
        let s = Sighting::from_parts(MAC, &ips(), &identity(), &scan_alert(), &key, now).unwrap();
        let body = s.sign(&key).to_vec();
        (key, s, body)
    }

    #[test]
    fn open_sighting_accepts_a_good_one() {
        let now = DETECTED_NS / 1_000_000_000 + 60;
        let (key, s, body) = signed(now);
        let v = open_sighting(&body, now + 5).unwrap();
        assert_eq!(v.sighting, s);
        assert_eq!(v.reporter, key.key_id());
    }

    #[test]
    fn open_sighting_refuses_forged_unsigned_skewed_oversized() {
        let now = DETECTED_NS / 1_000_000_000 + 60;
        let (key, s, body) = signed(now);
        // Oversized.
        let mut big = body.clone();
        big.resize(MAX_SIGHTING_BYTES + 1, b' ');
        assert!(matches!(
            open_sighting(&big, now),
            Err(SightingError::TooLarge { .. })
        ));
        // Forged: payload changed after signing.
        let mut env = Envelope::from_slice(&body, MAX_SIGHTING_BYTES).unwrap();
        let mut evil = s.clone();
        evil.device.model = Some("Other".into());
        env.payload = serde_json::to_vec(&evil).unwrap();
        assert!(matches!(
            open_sighting(&env.to_vec(), now),
            Err(SightingError::Envelope(EnvelopeError::NoValidSignature))
        ));
        // Signed by a key other than the one it names.
        let mallory = KeyPair::from_seed([6; 32]);
        let env = Envelope::sign(PAYLOAD_SIGHTING, &s, &[&mallory]);
        assert!(matches!(
            open_sighting(&env.to_vec(), now),
            Err(SightingError::Envelope(EnvelopeError::NoValidSignature))
        ));
        // Unsigned.
        let mut env = s.sign(&key);
        env.signatures.clear();
        assert!(matches!(
            open_sighting(&env.to_vec(), now),
            Err(SightingError::Envelope(EnvelopeError::Unsigned))
        ));
        // Clock skew.
        assert!(matches!(
            open_sighting(&body, now + MAX_CLOCK_SKEW_S + 1),
            Err(SightingError::ClockSkew { .. })
        ));
        // Wrong payload type.
        let env = Envelope::sign(crate::PAYLOAD_SNAPSHOT, &s, &[&key]);
        assert!(matches!(
            open_sighting(&env.to_vec(), now),
            Err(SightingError::Envelope(EnvelopeError::WrongType { .. }))
        ));
        // Validly signed but invalid fields: six ports, exact minute.
        let mut bad = s.clone();
        bad.behaviour.ports = vec![1, 2, 3, 4, 5, 6];
        assert!(matches!(
            open_sighting(&bad.sign(&key).to_vec(), now),
            Err(SightingError::Invalid(_))
        ));
        let mut bad = s.clone();
        bad.window_start += 60;
        assert!(matches!(
            open_sighting(&bad.sign(&key).to_vec(), now),
            Err(SightingError::Invalid(_))
        ));
        let mut bad = s;
        bad.behaviour.peak_pps_bucket = 100;
        assert!(matches!(
            open_sighting(&bad.sign(&key).to_vec(), now),
            Err(SightingError::Invalid(_))
        ));
        // Junk.
        for junk in [&b"{}"[..], b"[]", b"\x00\x01", b"{\"payloadType\":1}"] {
            assert!(open_sighting(junk, now).is_err());
        }
    }

    /// The group order ℓ, little-endian.
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    /// `s + ℓ` (little-endian; no overflow for a reduced `s`).
    fn plus_ell(s: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s[i]) + u16::from(ELL[i]) + carry;
            out[i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        out
    }

    fn envelope_of(body: &[u8]) -> Envelope {
        Envelope::from_slice(body, MAX_SIGHTING_BYTES).unwrap()
    }

    #[test]
    fn refuses_non_canonical_s_like_verify_strict() {
        use curve25519_dalek::Scalar;
        let now = DETECTED_NS / 1_000_000_000 + 60;
        let (_, _, body) = signed(now);
        let good = envelope_of(&body);
        assert!(open_sighting_envelope(&good, now).is_ok());
        let mut bad = good.clone();
        let s = plus_ell(&good.signatures[0].sig[32..]);
        // The same scalar mod ℓ: only the encoding check tells them apart.
        assert_eq!(
            Scalar::from_bytes_mod_order(s),
            Scalar::from_bytes_mod_order(good.signatures[0].sig[32..].try_into().unwrap())
        );
        bad.signatures[0].sig[32..].copy_from_slice(&s);
        assert!(matches!(
            open_sighting_envelope(&bad, now),
            Err(SightingError::Envelope(EnvelopeError::NoValidSignature))
        ));
        // A forged payload, for comparison, and the good one still passes after both.
        let mut forged = good.clone();
        forged.signatures[0].sig[0] ^= 1;
        assert!(matches!(
            open_sighting_envelope(&forged, now),
            Err(SightingError::Envelope(EnvelopeError::NoValidSignature))
        ));
        assert!(open_sighting_envelope(&good, now).is_ok());
    }

    #[test]
    fn refuses_small_order_reporter_key_every_time() {
        // The identity point as a key: R = identity, S = 0 satisfies the
        // plain equation [S]B = R + [k]A for every message, so only the
        // weak-key check refuses it.
        let now = DETECTED_NS / 1_000_000_000 + 60;
        let (_, s, _) = signed(now);
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let mut doc = serde_json::to_value(&s).unwrap();
        doc["reporter"] = crate::b64::encode(&weak).into();
        let payload = serde_json::to_vec(&doc).unwrap();
        let mut sig = vec![0u8; 64];
        sig[0] = 1;
        let env = Envelope {
            payload_type: PAYLOAD_SIGHTING.into(),
            payload,
            signatures: vec![crate::envelope::Signature {
                keyid: KeyId::parse(&crate::sha256_hex(&weak)).unwrap(),
                sig,
            }],
        };
        // Twice: a refused key is never cached as if it were good.
        for _ in 0..2 {
            match open_sighting_envelope(&env, now) {
                Err(SightingError::Malformed(e)) => {
                    assert!(e.to_string().contains("not a valid Ed25519 key"), "{e}")
                }
                other => panic!("weak key not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_r_with_a_torsion_component_like_verify_strict() {
        // R' = [r]B + T (T of order 2), S = r + k·a: the cofactored equation
        // holds, and so does a batch equation whose random coefficient is
        // even; verify_strict's exact equation does not, so it is refused.
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        use curve25519_dalek::traits::IsIdentity as _;
        use curve25519_dalek::Scalar;
        use sha2::Sha512;

        let now = DETECTED_NS / 1_000_000_000 + 60;
        let seed = [9u8; 32];
        let key = KeyPair::from_seed(seed);
        let s = Sighting::from_parts(MAC, &ips(), &identity(), &scan_alert(), &key, now).unwrap();
        let payload = serde_json::to_vec(&s).unwrap();
        let msg = crate::envelope::pae(PAYLOAD_SIGHTING, &payload);
        let h = Sha512::digest(seed);
        let a = Scalar::from_bytes_mod_order(curve25519_dalek::scalar::clamp_integer(
            h[..32].try_into().unwrap(),
        ));
        let big_a = a * B;
        assert_eq!(big_a.compress().to_bytes(), key.public().to_bytes());
        let mut t2 = [0xffu8; 32];
        t2[0] = 0xec;
        t2[31] = 0x7f;
        let t = CompressedEdwardsY(t2).decompress().unwrap();
        assert!(t.is_small_order() && !t.is_identity());
        let r = Scalar::from_bytes_mod_order([3; 32]);
        let big_r = r * B + t;
        assert!(!big_r.is_small_order() && !big_r.is_torsion_free());
        let r_bytes = big_r.compress().to_bytes();
        let mut hk = Sha512::new();
        hk.update(r_bytes);
        hk.update(big_a.compress().as_bytes());
        hk.update(&msg);
        let k = Scalar::from_bytes_mod_order_wide(&hk.finalize().into());
        let s_scalar = r + k * a;
        let residual = s_scalar * B - big_r - k * big_a;
        assert!(!residual.is_identity() && residual.mul_by_cofactor().is_identity());
        let mut sig = r_bytes.to_vec();
        sig.extend_from_slice(s_scalar.as_bytes());
        let env = Envelope {
            payload_type: PAYLOAD_SIGHTING.into(),
            payload,
            signatures: vec![crate::envelope::Signature {
                keyid: key.key_id(),
                sig,
            }],
        };
        assert!(matches!(
            open_sighting_envelope(&env, now),
            Err(SightingError::Envelope(EnvelopeError::NoValidSignature))
        ));
        // The honest signature of the same payload passes.
        let honest = Envelope::sign_bytes(PAYLOAD_SIGHTING, env.payload.clone(), &[&key]);
        assert!(open_sighting_envelope(&honest, now).is_ok());
    }

    #[test]
    fn server_parse_of_a_sighting_is_the_same_as_the_type_s() {
        // WireSighting (with the key cache) must accept and refuse exactly
        // the documents Sighting's own Deserialize does, with the same words.
        let now = DETECTED_NS / 1_000_000_000 + 60;
        let (key, s, _) = signed(now);
        let good = serde_json::to_value(&s).unwrap();
        let mut docs = vec![good.to_string()];
        let mut with = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut d = good.clone();
            f(&mut d);
            docs.push(d.to_string());
        };
        with(&|d| d["extra"] = 1.into());
        with(&|d| {
            d.as_object_mut().unwrap().remove("reporter");
        });
        with(&|d| d["reporter"] = "!!".into());
        with(&|d| d["reporter"] = "A".repeat(65).into());
        with(&|d| d["reporter"] = crate::b64::encode(&[7u8; 31]).into());
        with(&|d| d["reporter"] = crate::b64::encode(&[0u8; 32]).into());
        with(&|d| d["reporter"] = 5.into());
        with(&|d| d["version"] = "1".into());
        with(&|d| d["device"]["mac_prefix"] = "zz".into());
        let dup = good.to_string().replacen(
            "{",
            &format!("{{\"reporter\":\"{}\",", crate::b64::encode(&[5u8; 32])),
            1,
        );
        docs.push(dup);
        docs.push("[]".into());
        let mut oks = 0;
        for doc in &docs {
            let want = serde_json::from_str::<Sighting>(doc);
            let got = serde_json::from_str::<WireSighting>(doc);
            match (want, got) {
                (Ok(w), Ok(g)) => {
                    oks += 1;
                    assert_eq!(g.reporter.0, w.reporter);
                    assert_eq!(g.reporter.1, w.reporter.key_id());
                    assert_eq!(
                        (g.nonce, g.device, g.behaviour),
                        (w.nonce, w.device, w.behaviour)
                    );
                }
                (Err(w), Err(g)) => assert_eq!(w.to_string(), g.to_string(), "{doc}"),
                (w, g) => panic!(
                    "{doc}: Sighting {:?}, WireSighting {:?}",
                    w.is_ok(),
                    g.is_ok()
                ),
            }
        }
        // The good one and the one with an unknown field.
        assert_eq!(oks, 2);
        assert_eq!(key.public(), s.reporter);
    }
}
