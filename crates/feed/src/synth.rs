//! Deterministic synthetic listings and devices, for tests, the benchmark
//! and the size measurements (docs/feed.md). Not part of the protocol.

use crate::matcher::DeviceFacts;
use crate::types::*;

fn mix(mut x: u64) -> u64 {
    // splitmix64: cheap, deterministic, well spread.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The OUI of listing group `g` (eight listings share one: one vendor, several models).
fn oui(g: u64) -> [u8; 3] {
    let h = mix(g);
    // Globally administered, unicast.
    [(h as u8) & 0xfc, (h >> 8) as u8, (h >> 16) as u8]
}

/// Listing number `i`: about what the server lists from evidence: an OUI
/// (one in sixteen a 28-bit block, one in twenty vendor/model only), a
/// model, a firmware range (a third with fixed versions), evidence counts,
/// a reference for a third, a one-sentence reason.
pub fn listing(i: u64) -> Listing {
    let g = i / 8;
    let h = mix(i ^ 0x5eed);
    let o = oui(g);
    let vendor = format!("Vendor {g:06}");
    let model = format!("M{}-{:04}", i % 8, (h >> 20) % 10_000);
    let mac_prefixes = match h % 20 {
        0 => vec![],
        1 => vec![MacPrefix::of(
            [o[0], o[1], o[2], ((h >> 8) as u8) & 0xf0, 0, 0],
            28,
        )],
        _ => vec![MacPrefix::of([o[0], o[1], o[2], 0, 0, 0], 24)],
    };
    let major = 1 + (h >> 32) % 4;
    let minor = (h >> 36) % 20;
    let firmware = Some(VersionRange {
        min: None,
        below: Some(format!("{major}.{minor}.0")),
        fixed_in: if h.is_multiple_of(3) {
            vec![format!(
                "{}.{}.{}",
                major.saturating_sub(1),
                9,
                (h >> 40) % 10
            )]
        } else {
            vec![]
        },
    });
    let matches = DeviceMatch {
        mac_prefixes,
        vendor: Some(vendor),
        model: Some(model),
        firmware,
        fingerprint: None,
    };
    let behaviour = [
        BehaviourKind::Flood,
        BehaviourKind::Scan,
        BehaviourKind::Spam,
        BehaviourKind::BruteForce,
    ][(h >> 8) as usize % 4];
    let reporters = 5 + (h >> 12) as u32 % 40;
    let networks = 3 + (h >> 18) as u32 % 30;
    let first_seen = 1_760_000_000 + (h >> 24) as i64 % 5_000_000;
    Listing {
        id: matches.listing_id(),
        severity: if h.is_multiple_of(4) {
            Severity::Vulnerable
        } else {
            Severity::CompromisedInTheWild
        },
        action: if h.is_multiple_of(4) {
            FeedAction::BlockUpnp
        } else {
            FeedAction::Quarantine
        },
        matches,
        evidence: ListingEvidence {
            reporters,
            networks,
            sightings: reporters * 3,
        },
        behaviours: vec![behaviour],
        first_seen,
        last_seen: first_seen + 86_400,
        references: if h % 3 == 1 {
            vec![format!(
                "CVE-20{}-{}",
                18 + h % 8,
                10_000 + (h >> 44) % 40_000
            )]
        } else {
            vec![]
        },
        reason: format!(
            "Seen {} by {reporters} reporters on {networks} networks.",
            match behaviour {
                BehaviourKind::Flood => "flooding",
                BehaviourKind::Scan => "scanning",
                BehaviourKind::Spam => "sending spam",
                _ => "brute-forcing logins",
            }
        ),
        source: ListingSource::Evidence,
    }
}

/// `n` household devices against a feed of `feed_len` listings: every
/// fifth device is of a listed type with firmware in range, the others
/// are of unlisted vendors.
pub fn devices(n: usize, feed_len: u64) -> Vec<DeviceFacts> {
    (0..n as u64)
        .map(|k| {
            let h = mix(k ^ 0xdead_beef);
            if k.is_multiple_of(5) && feed_len > 0 {
                let l = listing(h % feed_len);
                let mac = match l.matches.mac_prefixes.first() {
                    Some(p) => {
                        let mut m = p.bytes;
                        m[5] = h as u8;
                        m
                    }
                    None => [0x00, 0x00, 0x5e, 0, 1, h as u8],
                };
                DeviceFacts {
                    mac,
                    vendor: l.matches.vendor.clone(),
                    model: l.matches.model.clone(),
                    firmware: Some("0.1.0".into()),
                    fingerprint: None,
                }
            } else {
                DeviceFacts {
                    mac: [0x00, 0x1b, 0x63, (h >> 8) as u8, (h >> 16) as u8, h as u8],
                    vendor: Some("Apple, Inc.".into()),
                    model: Some(format!("Phone{}", h % 16)),
                    firmware: Some("17.1".into()),
                    fingerprint: None,
                }
            }
        })
        .collect()
}

/// Listings `0..n`, sorted by id without holding them all (for
/// [`crate::publish::publish_sorted`]): only the ids are sorted.
pub fn sorted(range: std::ops::Range<u64>) -> impl Iterator<Item = Listing> {
    let mut ids: Vec<(String, u64)> = range.map(|i| (listing(i).id, i)).collect();
    ids.sort_unstable();
    ids.into_iter().map(|(_, i)| listing(i))
}
