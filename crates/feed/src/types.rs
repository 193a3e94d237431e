//! The feed's documents: sightings (router -> server), listings, and the
//! signed distribution files (root, snapshot, delta, timestamp).
//!
//! JSON field names are snake_case; enums are kebab-case.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::keys::{KeyId, PublicKey};

/// A MAC prefix: the first `bits` bits of `bytes` (the rest are zero).
/// Serialized as lowercase hex bytes covering the prefix, then `/bits`:
/// `00:17:88/24`, `70:b3:d5:e0/28`, `70:b3:d5:1f:30/36`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacPrefix {
    pub bytes: [u8; 6],
    pub bits: u8,
}

/// Prefixes shorter than this would match too much of the world to be a device type.
pub const MIN_PREFIX_BITS: u8 = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad MAC prefix {0:?}: expected hex bytes and /bits, like 00:17:88/24 (24 to 48 bits, bits past the prefix zero)")]
pub struct BadMacPrefix(pub String);

impl MacPrefix {
    /// The prefix of `mac` of length `bits` (clamped to 24..=48), trailing bits zeroed.
    pub fn of(mac: [u8; 6], bits: u8) -> MacPrefix {
        let bits = bits.clamp(MIN_PREFIX_BITS, 48);
        MacPrefix {
            bytes: mask(mac, bits),
            bits,
        }
    }

    /// Whether `mac` starts with this prefix.
    pub fn contains(&self, mac: [u8; 6]) -> bool {
        mask(mac, self.bits) == self.bytes
    }

    /// The prefix as a number: the 48-bit MAC value (masked) shifted left by 8, plus bits.
    pub fn key(&self) -> u64 {
        (mac_u64(self.bytes) << 8) | u64::from(self.bits)
    }
}

pub(crate) fn mac_u64(b: [u8; 6]) -> u64 {
    b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

fn mask(mac: [u8; 6], bits: u8) -> [u8; 6] {
    let v = mac_u64(mac);
    let keep = if bits >= 48 {
        v
    } else {
        v & !((1u64 << (48 - bits)) - 1)
    };
    let mut out = [0u8; 6];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (keep >> (8 * (5 - i))) as u8;
    }
    out
}

impl fmt::Display for MacPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = usize::from(self.bits).div_ceil(8);
        for (i, b) in self.bytes[..n].iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        write!(f, "/{}", self.bits)
    }
}

impl MacPrefix {
    /// Parses the canonical text form (`00:17:88/24`) from bytes; `None`
    /// for anything else (the matcher's fast path reads prefixes this way).
    pub fn parse_bytes(s: &[u8]) -> Option<MacPrefix> {
        let slash = s.iter().position(|&b| b == b'/')?;
        let (hex, bits) = (&s[..slash], &s[slash + 1..]);
        if bits.is_empty() || bits.len() > 2 || !bits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let bits = bits.iter().fold(0u8, |a, &d| a * 10 + (d - b'0'));
        if !(MIN_PREFIX_BITS..=48).contains(&bits) {
            return None;
        }
        let n = usize::from(bits).div_ceil(8);
        // n pairs of hex digits separated by n-1 colons.
        if hex.len() != 3 * n - 1 {
            return None;
        }
        let nib = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut bytes = [0u8; 6];
        for (i, b) in bytes.iter_mut().take(n).enumerate() {
            let at = 3 * i;
            if i > 0 && hex[at - 1] != b':' {
                return None;
            }
            *b = nib(hex[at])? << 4 | nib(hex[at + 1])?;
        }
        if mask(bytes, bits) != bytes {
            return None;
        }
        Some(MacPrefix { bytes, bits })
    }
}

impl FromStr for MacPrefix {
    type Err = BadMacPrefix;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MacPrefix::parse_bytes(s.as_bytes())
            .ok_or_else(|| BadMacPrefix(s.chars().take(40).collect()))
    }
}

impl Serialize for MacPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacPrefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Sighting: what one router saw one device type do, signed by the router's key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// Format version, 1.
    pub version: u32,
    /// 32 lowercase hex characters, random per sighting (the server refuses replays).
    pub nonce: String,
    /// Unix seconds when it was sent; the server refuses it when more than
    /// [`MAX_CLOCK_SKEW_S`](crate::MAX_CLOCK_SKEW_S) away from its clock.
    pub sent_at: i64,
    /// Unix seconds, floored to the hour: the only time of the behaviour that is told.
    pub window_start: i64,
    pub window_hours: u32,
    /// The router's public key; the envelope must be signed by it. Its key
    /// id is the reporter's identity.
    pub reporter: PublicKey,
    pub device: DeviceType,
    pub behaviour: Behaviour,
}

/// The device type, never the device: no full MAC, no name, no address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceType {
    /// The IEEE registry block (24, 28 or 36 bits), never the full MAC.
    pub mac_prefix: MacPrefix,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// Hex SHA-256 of the sorted identifying features that the device type
    /// shares with every device of its kind (DHCP parameter list, vendor
    /// class, SSDP server string, HTTP user agent); never names.
    pub fingerprint: String,
}

/// What the device did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BehaviourKind {
    Flood,
    Scan,
    Spam,
    BruteForce,
    ProfileViolation,
}

impl BehaviourKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BehaviourKind::Flood => "flood",
            BehaviourKind::Scan => "scan",
            BehaviourKind::Spam => "spam",
            BehaviourKind::BruteForce => "brute-force",
            BehaviourKind::ProfileViolation => "profile-violation",
        }
    }
}

/// The evidence, coarsened: powers of two and a few ports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    pub kind: BehaviourKind,
    /// Peak packets per second, rounded down to a power of two (0 when unknown).
    pub peak_pps_bucket: u32,
    /// Distinct targets, rounded down to a power of two (0 when unknown).
    pub targets_bucket: u32,
    /// At most [`MAX_PORTS`](crate::MAX_PORTS) destination ports, sorted.
    pub ports: Vec<u16>,
}

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Known weakness; no evidence that it is being exploited.
    Vulnerable,
    /// Independent routers saw devices of this type attack.
    CompromisedInTheWild,
}

/// What the feed recommends a router do about a matching device. The owner's
/// policy decides what it does automatically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedAction {
    Notify,
    BlockUpnp,
    RateLimit,
    Quarantine,
}

/// Where a listing came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListingSource {
    /// Listed automatically on independent sightings.
    Evidence,
    /// Listed by an operator by hand, with a reason.
    Operator,
}

/// Evidence counts behind a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingEvidence {
    pub reporters: u32,
    pub networks: u32,
    pub sightings: u32,
}

/// A firmware range: `min <= v < below`, and not at or after any `fixed_in`
/// version of the same major line (see [`crate::version`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_in: Vec<String>,
}

/// Which devices a listing is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMatch {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mac_prefixes: Vec<MacPrefix>,
    /// Case-insensitive equality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Case-insensitive equality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// None: every version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<VersionRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl DeviceMatch {
    /// The stable listing id of this match: hex SHA-256 of its canonical form
    /// (prefixes sorted and deduplicated, vendor/model lowercased, fixed
    /// versions sorted), first 32 characters.
    pub fn listing_id(&self) -> String {
        let mut c = self.clone();
        c.mac_prefixes.sort();
        c.mac_prefixes.dedup();
        c.vendor = c.vendor.map(|s| s.to_lowercase());
        c.model = c.model.map(|s| s.to_lowercase());
        c.fingerprint = c.fingerprint.map(|s| s.to_lowercase());
        if let Some(f) = &mut c.firmware {
            f.fixed_in.sort();
            f.fixed_in.dedup();
        }
        let json = serde_json::to_vec(&c).expect("matches serialize");
        let mut id = crate::hex(&Sha256::digest(&json));
        id.truncate(32);
        id
    }
}

/// A device type the feed lists, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Stable: [`DeviceMatch::listing_id`].
    pub id: String,
    pub severity: Severity,
    pub matches: DeviceMatch,
    pub action: FeedAction,
    pub evidence: ListingEvidence,
    #[serde(default)]
    pub behaviours: Vec<BehaviourKind>,
    pub first_seen: i64,
    pub last_seen: i64,
    /// CVE ids, URLs.
    #[serde(default)]
    pub references: Vec<String>,
    /// One sentence for people.
    pub reason: String,
    pub source: ListingSource,
}

/// One role of the root: which keys may sign for it, and how many must.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub keyids: Vec<KeyId>,
    pub threshold: u32,
}

/// The two roles: `root` signs roots (including its own successor), `feed`
/// signs everything else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    pub root: Role,
    pub feed: Role,
}

/// `root.json` / `root.<N>.json`: the keys and who may sign what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    pub version: u64,
    pub expires: i64,
    pub keys: BTreeMap<KeyId, PublicKey>,
    pub roles: Roles,
}

/// The signed first line of `snapshot.<V>.jsonl`; the listings follow, one
/// JSON object per line, sorted by id, and hash to `listings_sha256`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    pub version: u64,
    pub generated_at: i64,
    pub expires: i64,
    pub count: u64,
    pub listings_sha256: String,
    pub listings_size: u64,
}

/// The logical content of a snapshot (what the writer takes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    pub generated_at: i64,
    pub expires: i64,
    pub listings: Vec<Listing>,
}

/// `delta.<V-1>-<V>.json`: the changes from one version to the next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub from: u64,
    pub to: u64,
    pub generated_at: i64,
    pub expires: i64,
    /// New or changed listings, sorted by id.
    pub upserts: Vec<Listing>,
    /// Ids of listings that are gone, sorted.
    pub removals: Vec<String>,
}

/// The snapshot that `timestamp.json` points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub path: String,
    /// Hex SHA-256 of the whole file.
    pub sha256: String,
    pub size: u64,
    /// Hex SHA-256 of the listing lines alone: a client that applied deltas
    /// checks that it arrived at exactly these bytes.
    pub listings_sha256: String,
    pub count: u64,
}

/// One delta that `timestamp.json` points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaMeta {
    pub from: u64,
    pub to: u64,
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// `timestamp.json`: the small, short-lived document a client fetches first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    pub version: u64,
    pub generated_at: i64,
    pub expires: i64,
    /// The newest root version; a client that has an older one walks root.<N>.json up to it.
    pub root_version: u64,
    pub snapshot: SnapshotMeta,
    pub deltas: Vec<DeltaMeta>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_prefix_display_parse_roundtrip() {
        let cases = [
            ([0x00, 0x17, 0x88, 0x12, 0x34, 0x56], 24, "00:17:88/24"),
            ([0x70, 0xb3, 0xd5, 0xe7, 0x34, 0x56], 28, "70:b3:d5:e0/28"),
            (
                [0x70, 0xb3, 0xd5, 0x1f, 0x3a, 0x56],
                36,
                "70:b3:d5:1f:30/36",
            ),
            ([1, 2, 3, 4, 5, 6], 48, "01:02:03:04:05:06/48"),
        ];
        for (mac, bits, text) in cases {
            let p = MacPrefix::of(mac, bits);
            assert_eq!(p.to_string(), text);
            assert_eq!(text.parse::<MacPrefix>().unwrap(), p);
            assert!(p.contains(mac));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<MacPrefix>(&json).unwrap(), p);
        }
        let p = MacPrefix::of([0x70, 0xb3, 0xd5, 0xe7, 0, 0], 28);
        assert!(p.contains([0x70, 0xb3, 0xd5, 0xef, 9, 9]));
        assert!(!p.contains([0x70, 0xb3, 0xd5, 0xd7, 9, 9]));
    }

    #[test]
    fn mac_prefix_rejects_non_canonical_and_junk() {
        for bad in [
            "00:17:88",
            "00:17:88/23",
            "00:17:88/49",
            "00:17:88:01/24",
            "00:17/24",
            "70:b3:d5:e7/28",
            "zz:17:88/24",
            "00:17:88/x",
            "0:17:88/24",
            "00:17:88:00:00:00:00/24",
            "",
        ] {
            assert!(bad.parse::<MacPrefix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_are_kebab_case() {
        assert_eq!(
            serde_json::to_string(&Severity::CompromisedInTheWild).unwrap(),
            "\"compromised-in-the-wild\""
        );
        assert_eq!(
            serde_json::to_string(&FeedAction::BlockUpnp).unwrap(),
            "\"block-upnp\""
        );
        assert_eq!(
            serde_json::to_string(&BehaviourKind::BruteForce).unwrap(),
            "\"brute-force\""
        );
        for k in [
            BehaviourKind::Flood,
            BehaviourKind::Scan,
            BehaviourKind::Spam,
            BehaviourKind::BruteForce,
            BehaviourKind::ProfileViolation,
        ] {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.as_str())
            );
        }
    }

    #[test]
    fn listing_id_is_stable_and_canonical() {
        let a = DeviceMatch {
            mac_prefixes: vec![
                "00:17:88/24".parse().unwrap(),
                "00:11:22/24".parse().unwrap(),
            ],
            vendor: Some("Acme".into()),
            model: Some("Cam X1".into()),
            firmware: None,
            fingerprint: None,
        };
        let mut b = a.clone();
        b.mac_prefixes.reverse();
        b.vendor = Some("ACME".into());
        assert_eq!(a.listing_id(), b.listing_id());
        assert_eq!(a.listing_id().len(), 32);
        b.model = Some("Cam X2".into());
        assert_ne!(a.listing_id(), b.listing_id());
    }

    #[test]
    fn listing_json_is_snake_case() {
        let l = Listing {
            id: "0".repeat(32),
            severity: Severity::Vulnerable,
            matches: DeviceMatch::default(),
            action: FeedAction::Notify,
            evidence: ListingEvidence::default(),
            behaviours: vec![BehaviourKind::Scan],
            first_seen: 1,
            last_seen: 2,
            references: vec!["CVE-2024-0001".into()],
            reason: "x".into(),
            source: ListingSource::Evidence,
        };
        let json = serde_json::to_string(&l).unwrap();
        assert!(json.contains("\"first_seen\":1"), "{json}");
        assert!(json.contains("\"last_seen\":2"), "{json}");
        assert_eq!(serde_json::from_str::<Listing>(&json).unwrap(), l);
    }
}
