//! Listings against devices.
//!
//! A device matches a listing when (every condition the listing gives):
//! its MAC is in one of `mac_prefixes`; its vendor and model equal the
//! listing's, ignoring case; its fingerprint equals the listing's; its
//! firmware is in the range ([`crate::version`], including the rule for
//! unknown firmware). A listing that gives none of prefixes, vendor, model
//! or fingerprint would match every device; it is ignored and counted.
//!
//! Two ways to match:
//! - [`FeedIndex`]: listings in memory, indexed by MAC prefix and by
//!   model/vendor/fingerprint; for feeds that fit in memory (the matched
//!   subset, tests, the server).
//! - [`DeviceSet::scan`]: a router's few hundred devices indexed, and the
//!   listings streamed past them line by line from the snapshot file; memory
//!   does not grow with the feed (1,000,000 listings, docs/feed.md).

use std::borrow::Cow;
use std::collections::HashMap;

// The device index is looked up once per listing line: a fast hash.
type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;
use std::io::BufRead;

use serde::Deserialize;

use crate::types::{DeviceMatch, Listing, MacPrefix, MIN_PREFIX_BITS};
use crate::version;

/// What the guard identified about one of its devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceFacts {
    pub mac: [u8; 6],
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    /// [`crate::sighting::fingerprint`] of its identity, when computed.
    pub fingerprint: Option<String>,
}

impl DeviceFacts {
    /// The facts of a guard device: registry vendor, identified model and firmware, fingerprint.
    pub fn of_device(d: &warden_devices::Device) -> DeviceFacts {
        DeviceFacts {
            mac: d.mac.0,
            vendor: d.vendor().map(str::to_owned),
            model: d.identity.model().map(str::to_owned),
            firmware: d.identity.firmware().map(str::to_owned),
            fingerprint: Some(crate::sighting::fingerprint(&d.identity, d.mac.0, &d.ips)),
        }
    }
}

fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

fn opt_eq(want: Option<&str>, have: Option<&str>) -> bool {
    match (want, have) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(w), Some(h)) => eq_ci(w, h),
    }
}

/// Whether a listing's match names anything at all (an empty one would match every device).
pub fn is_specific(m: &DeviceMatch) -> bool {
    !m.mac_prefixes.is_empty() || m.vendor.is_some() || m.model.is_some() || m.fingerprint.is_some()
}

/// The match rule (module docs).
pub fn device_matches(m: &DeviceMatch, d: &DeviceFacts) -> bool {
    is_specific(m)
        && (m.mac_prefixes.is_empty() || m.mac_prefixes.iter().any(|p| p.contains(d.mac)))
        && opt_eq(m.vendor.as_deref(), d.vendor.as_deref())
        && opt_eq(m.model.as_deref(), d.model.as_deref())
        && opt_eq(m.fingerprint.as_deref(), d.fingerprint.as_deref())
        && version::in_range(d.firmware.as_deref(), m.firmware.as_ref())
}

/// Why a device matched, in words, for the `feed-match` alert.
pub fn explain(m: &DeviceMatch, d: &DeviceFacts) -> String {
    let mut why = Vec::new();
    if let Some(p) = m.mac_prefixes.iter().find(|p| p.contains(d.mac)) {
        why.push(format!("MAC in {p}"));
    }
    if let Some(v) = &m.vendor {
        why.push(format!("vendor {v}"));
    }
    if let Some(v) = &m.model {
        why.push(format!("model {v}"));
    }
    if m.fingerprint.is_some() {
        why.push("same identification fingerprint".to_owned());
    }
    match (&m.firmware, &d.firmware) {
        (Some(r), Some(fw)) => {
            let mut s = format!("firmware {fw}");
            if let Some(min) = &r.min {
                s.push_str(&format!(" at or after {min}"));
            }
            if let Some(below) = &r.below {
                s.push_str(&format!(" below {below}"));
            }
            if !r.fixed_in.is_empty() {
                s.push_str(&format!(", not fixed (fixed in {})", r.fixed_in.join(", ")));
            }
            why.push(s);
        }
        _ => why.push("every firmware version".to_owned()),
    }
    why.join(", ")
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// Listings in memory, indexed for matching.
#[derive(Debug, Default)]
pub struct FeedIndex {
    listings: Vec<Listing>,
    by_prefix: HashMap<u64, Vec<u32>>,
    prefix_bits: Vec<u8>,
    by_model: HashMap<String, Vec<u32>>,
    by_vendor: HashMap<String, Vec<u32>>,
    by_fingerprint: HashMap<String, Vec<u32>>,
    ignored: usize,
}

impl FeedIndex {
    /// Indexes listings: by each MAC prefix; a listing without prefixes by
    /// its model, else vendor, else fingerprint (lowercased). Listings that
    /// name nothing are ignored (counted in [`ignored`](Self::ignored)).
    pub fn build(listings: Vec<Listing>) -> FeedIndex {
        let mut ix = FeedIndex::default();
        for (i, l) in listings.iter().enumerate() {
            let i = i as u32;
            let m = &l.matches;
            if !is_specific(m) {
                ix.ignored += 1;
            } else if !m.mac_prefixes.is_empty() {
                for p in &m.mac_prefixes {
                    ix.by_prefix.entry(p.key()).or_default().push(i);
                    if !ix.prefix_bits.contains(&p.bits) {
                        ix.prefix_bits.push(p.bits);
                    }
                }
            } else if let Some(model) = &m.model {
                ix.by_model.entry(lower(model)).or_default().push(i);
            } else if let Some(vendor) = &m.vendor {
                ix.by_vendor.entry(lower(vendor)).or_default().push(i);
            } else if let Some(fp) = &m.fingerprint {
                ix.by_fingerprint.entry(lower(fp)).or_default().push(i);
            }
        }
        ix.listings = listings;
        ix
    }

    pub fn len(&self) -> usize {
        self.listings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.listings.is_empty()
    }

    /// Listings that name nothing and so are never matched.
    pub fn ignored(&self) -> usize {
        self.ignored
    }

    pub fn listings(&self) -> &[Listing] {
        &self.listings
    }

    /// Listings that match `d`, in feed order, each once.
    pub fn matches(&self, d: &DeviceFacts) -> Vec<&Listing> {
        let mut cand: Vec<u32> = Vec::new();
        for &bits in &self.prefix_bits {
            if let Some(v) = self.by_prefix.get(&MacPrefix::of(d.mac, bits).key()) {
                cand.extend_from_slice(v);
            }
        }
        for (map, key) in [
            (&self.by_model, &d.model),
            (&self.by_vendor, &d.vendor),
            (&self.by_fingerprint, &d.fingerprint),
        ] {
            if let Some(v) = key.as_deref().and_then(|k| map.get(&lower(k))) {
                cand.extend_from_slice(v);
            }
        }
        cand.sort_unstable();
        cand.dedup();
        cand.into_iter()
            .map(|i| &self.listings[i as usize])
            .filter(|l| device_matches(&l.matches, d))
            .collect()
    }
}

/// Only what is needed to find candidate devices for a listing line; the
/// rest of the line is skipped without allocating.
#[derive(Deserialize)]
struct LineView<'a> {
    #[serde(borrow)]
    matches: MatchView<'a>,
}

#[derive(Deserialize)]
struct MatchView<'a> {
    #[serde(default)]
    mac_prefixes: Vec<MacPrefix>,
    #[serde(borrow, default)]
    vendor: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    fingerprint: Option<Cow<'a, str>>,
}

/// A router's devices, indexed so that a stream of listings can be matched
/// against them one line at a time.
#[derive(Debug)]
pub struct DeviceSet {
    devices: Vec<DeviceFacts>,
    by_prefix: FastMap<u64, Vec<u32>>,
    by_model: HashMap<String, Vec<u32>>,
    by_vendor: HashMap<String, Vec<u32>>,
    by_fingerprint: HashMap<String, Vec<u32>>,
}

/// One listing that matched one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedMatch {
    /// Index into the devices given to [`DeviceSet::new`].
    pub device: usize,
    pub listing: Listing,
    /// Why, in words.
    pub why: String,
}

/// What a scan saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    pub matches: Vec<FeedMatch>,
    pub listings: u64,
    /// Lines that were not a listing (skipped, never fatal).
    pub malformed: u64,
    /// Listings that name nothing (never matched).
    pub ignored: u64,
}

impl DeviceSet {
    pub fn new(devices: Vec<DeviceFacts>) -> DeviceSet {
        let mut s = DeviceSet {
            by_prefix: FastMap::default(),
            by_model: HashMap::new(),
            by_vendor: HashMap::new(),
            by_fingerprint: HashMap::new(),
            devices: Vec::new(),
        };
        for (i, d) in devices.iter().enumerate() {
            let i = i as u32;
            for bits in MIN_PREFIX_BITS..=48 {
                s.by_prefix
                    .entry(MacPrefix::of(d.mac, bits).key())
                    .or_default()
                    .push(i);
            }
            for (map, key) in [
                (&mut s.by_model, &d.model),
                (&mut s.by_vendor, &d.vendor),
                (&mut s.by_fingerprint, &d.fingerprint),
            ] {
                if let Some(k) = key {
                    map.entry(lower(k)).or_default().push(i);
                }
            }
        }
        s.devices = devices;
        s
    }

    pub fn devices(&self) -> &[DeviceFacts] {
        &self.devices
    }

    fn candidates(&self, m: &MatchView<'_>, out: &mut Vec<u32>) {
        out.clear();
        if !m.mac_prefixes.is_empty() {
            for p in &m.mac_prefixes {
                if let Some(v) = self.by_prefix.get(&p.key()) {
                    out.extend_from_slice(v);
                }
            }
        } else if let Some(k) = &m.model {
            out.extend(self.by_model.get(&lower(k)).into_iter().flatten());
        } else if let Some(k) = &m.vendor {
            out.extend(self.by_vendor.get(&lower(k)).into_iter().flatten());
        } else if let Some(k) = &m.fingerprint {
            out.extend(self.by_fingerprint.get(&lower(k)).into_iter().flatten());
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Matches every listing line of `reader` (one JSON listing per line)
    /// against the devices. Only lines with a candidate device are parsed
    /// in full; memory stays that of one line plus the matches.
    pub fn scan<R: BufRead>(&self, mut reader: R) -> std::io::Result<ScanOutcome> {
        let mut scanner = self.scanner();
        let mut line = Vec::with_capacity(1024);
        loop {
            line.clear();
            let n = read_line_capped(&mut reader, &mut line, crate::MAX_LISTING_LINE_BYTES)?;
            if n == 0 {
                break;
            }
            scanner.line(line.strip_suffix(b"\n").unwrap_or(&line));
        }
        Ok(scanner.finish())
    }

    /// A scanner fed one line at a time (used while a snapshot downloads).
    pub fn scanner(&self) -> LineScanner<'_> {
        LineScanner {
            set: self,
            out: ScanOutcome::default(),
            cand: Vec::new(),
        }
    }
}

/// Matches listing lines against a [`DeviceSet`] one at a time.
pub struct LineScanner<'a> {
    set: &'a DeviceSet,
    out: ScanOutcome,
    cand: Vec<u32>,
}

/// Reads a JSON string body that has no escapes: up to its closing quote.
fn plain_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr2(b'"', b'\\', b)?;
    (b[end] == b'"').then(|| (&b[..end], &b[end + 1..]))
}

impl LineScanner<'_> {
    /// Finds candidate devices by the line's MAC prefixes without parsing
    /// the whole line, for lines exactly as the publisher writes them:
    /// `{"id":"…","severity":"…","matches":{"mac_prefixes":["…",…]` with
    /// no escapes in id and severity. Reading from the start of the line
    /// this way can only land on the top-level match (a later duplicate
    /// `matches` makes the line fail to parse, so it matches nothing
    /// anyway). The prefixes must be written canonically. `None` for any
    /// other line, which is parsed instead. The fuzz target
    /// `feed_envelope` checks that this agrees with parsing.
    fn prefix_candidates(&mut self, body: &[u8]) -> Option<()> {
        let rest = body.strip_prefix(b"{\"id\":\"")?;
        let (_, rest) = plain_string(rest)?;
        let rest = rest.strip_prefix(b",\"severity\":\"")?;
        let (_, rest) = plain_string(rest)?;
        let rest = rest.strip_prefix(b",\"matches\":{\"mac_prefixes\":[")?;
        let end = memchr::memchr(b']', rest)?;
        self.cand.clear();
        for item in rest[..end].split(|&b| b == b',') {
            let p = MacPrefix::parse_bytes(item.strip_prefix(b"\"")?.strip_suffix(b"\"")?)?;
            if let Some(v) = self.set.by_prefix.get(&p.key()) {
                self.cand.extend_from_slice(v);
            }
        }
        Some(())
    }

    /// One listing line (without its newline).
    pub fn line(&mut self, body: &[u8]) {
        if body.is_empty() {
            return;
        }
        self.out.listings += 1;
        if self.prefix_candidates(body).is_some() {
            if self.cand.is_empty() {
                return;
            }
            self.cand.sort_unstable();
            self.cand.dedup();
        } else {
            let view: LineView<'_> = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => {
                    self.out.malformed += 1;
                    return;
                }
            };
            let m = &view.matches;
            if m.mac_prefixes.is_empty()
                && m.vendor.is_none()
                && m.model.is_none()
                && m.fingerprint.is_none()
            {
                self.out.ignored += 1;
                return;
            }
            self.set.candidates(m, &mut self.cand);
            if self.cand.is_empty() {
                return;
            }
        }
        let listing: Listing = match serde_json::from_slice(body) {
            Ok(l) => l,
            Err(_) => {
                self.out.malformed += 1;
                return;
            }
        };
        for &i in &self.cand {
            let d = &self.set.devices[i as usize];
            if device_matches(&listing.matches, d) {
                self.out.matches.push(FeedMatch {
                    device: i as usize,
                    why: explain(&listing.matches, d),
                    listing: listing.clone(),
                });
            }
        }
    }

    pub fn finish(self) -> ScanOutcome {
        self.out
    }
}

/// Reads one line into `buf` (newline included). A line longer than `max`
/// is consumed and replaced by a single invalid byte, so it counts as
/// malformed without growing memory. Returns bytes consumed (0 at the end).
pub(crate) fn read_line_capped<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut consumed = 0;
    let mut overflow = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match memchr_nl(chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !overflow {
            if buf.len() + take > max + 1 {
                overflow = true;
                buf.clear();
                buf.push(0xff);
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::*;

    fn listing(m: DeviceMatch) -> Listing {
        Listing {
            id: m.listing_id(),
            severity: Severity::CompromisedInTheWild,
            matches: m,
            action: FeedAction::Quarantine,
            evidence: ListingEvidence {
                reporters: 5,
                networks: 3,
                sightings: 9,
            },
            behaviours: vec![BehaviourKind::Scan],
            first_seen: 1,
            last_seen: 2,
            references: vec![],
            reason: "test".into(),
            source: ListingSource::Evidence,
        }
    }

    fn pfx(s: &str) -> MacPrefix {
        s.parse().unwrap()
    }

    fn hue(firmware: Option<&str>) -> DeviceFacts {
        DeviceFacts {
            mac: [0x00, 0x17, 0x88, 0x7b, 0x5f, 0x6b],
            vendor: Some("Philips Lighting BV".into()),
            model: Some("BSB002".into()),
            firmware: firmware.map(Into::into),
            fingerprint: None,
        }
    }

    fn fixture() -> Vec<Listing> {
        vec![
            // 0: the Hue OUI, model, firmware below 1.60.
            listing(DeviceMatch {
                mac_prefixes: vec![pfx("00:17:88/24")],
                model: Some("bsb002".into()),
                firmware: Some(VersionRange {
                    below: Some("1.60".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            // 1: a 28-bit block the device is not in.
            listing(DeviceMatch {
                mac_prefixes: vec![pfx("00:17:88:80/28")],
                ..Default::default()
            }),
            // 2: a 28-bit block the device is in, every version.
            listing(DeviceMatch {
                mac_prefixes: vec![pfx("00:17:88:70/28")],
                ..Default::default()
            }),
            // 3: vendor and model only.
            listing(DeviceMatch {
                vendor: Some("PHILIPS LIGHTING BV".into()),
                model: Some("BSB002".into()),
                ..Default::default()
            }),
            // 4: other model.
            listing(DeviceMatch {
                mac_prefixes: vec![pfx("00:17:88/24")],
                model: Some("BSB001".into()),
                ..Default::default()
            }),
            // 5: empty: must never match.
            listing(DeviceMatch::default()),
            // 6: fixed in 1.50.
            listing(DeviceMatch {
                mac_prefixes: vec![pfx("00:17:88/24")],
                firmware: Some(VersionRange {
                    fixed_in: vec!["1.50".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
        ]
    }

    fn ids(v: &[&Listing], all: &[Listing]) -> Vec<usize> {
        v.iter()
            .map(|l| all.iter().position(|x| x.id == l.id).unwrap())
            .collect()
    }

    #[test]
    fn index_matches_by_prefix_model_and_firmware() {
        let all = fixture();
        let ix = FeedIndex::build(all.clone());
        assert_eq!(ix.ignored(), 1);
        assert_eq!(
            ids(&ix.matches(&hue(Some("1.41.0"))), &all),
            vec![0, 2, 3, 6]
        );
        // 1.60 is at `below`; 1.50 is fixed.
        assert_eq!(ids(&ix.matches(&hue(Some("1.60.0"))), &all), vec![2, 3]);
        // Unknown firmware: only listings without a firmware range.
        assert_eq!(ids(&ix.matches(&hue(None)), &all), vec![2, 3]);
        // Another vendor's device.
        let other = DeviceFacts {
            mac: [0x00, 0x11, 0x22, 0, 0, 1],
            ..Default::default()
        };
        assert!(ix.matches(&other).is_empty());
    }

    #[test]
    fn streaming_scan_agrees_with_the_index() {
        let all = fixture();
        let mut text = Vec::new();
        for l in &all {
            serde_json::to_writer(&mut text, l).unwrap();
            text.push(b'\n');
        }
        text.extend_from_slice(b"not json\n\n{\"matches\":17}\n");
        let devices = vec![
            hue(Some("1.41.0")),
            hue(None),
            DeviceFacts {
                mac: [0x00, 0x11, 0x22, 0, 0, 1],
                ..Default::default()
            },
        ];
        let set = DeviceSet::new(devices.clone());
        let out = set.scan(&text[..]).unwrap();
        assert_eq!(out.malformed, 2);
        assert_eq!(out.ignored, 1);
        assert_eq!(out.listings, all.len() as u64 + 2);
        let ix = FeedIndex::build(all.clone());
        for (i, d) in devices.iter().enumerate() {
            let mut want: Vec<&str> = ix.matches(d).iter().map(|l| l.id.as_str()).collect();
            let mut got: Vec<&str> = out
                .matches
                .iter()
                .filter(|m| m.device == i)
                .map(|m| m.listing.id.as_str())
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "device {i}");
        }
        let why = &out
            .matches
            .iter()
            .find(|m| m.listing.id == all[0].id)
            .unwrap()
            .why;
        assert!(why.contains("MAC in 00:17:88/24"), "{why}");
        assert!(why.contains("below 1.60"), "{why}");
    }

    #[test]
    fn prefilter_is_not_fooled_by_other_prefix_lists() {
        // An unknown field with its own prefix list before the real match
        // (vendor/model only): the device must still be found.
        let l = listing(DeviceMatch {
            vendor: Some("Philips Lighting BV".into()),
            model: Some("BSB002".into()),
            ..Default::default()
        });
        let json = serde_json::to_string(&l).unwrap();
        let tricky = json.replacen(
            "{\"id\"",
            "{\"extra\":{\"matches\":{\"mac_prefixes\":[\"aa:bb:cc/24\"]}},\"id\"",
            1,
        );
        assert_ne!(tricky, json);
        let set = DeviceSet::new(vec![hue(None)]);
        for line in [json, tricky] {
            let out = set.scan(line.as_bytes()).unwrap();
            assert_eq!(out.matches.len(), 1, "{line}");
        }
        // Prefixes written with spaces or escapes take the parsing path.
        let spaced = r#"{"id":"x","severity":"vulnerable","matches":{"mac_prefixes":[ "00:17:88/24" ]},"action":"notify","evidence":{"reporters":1,"networks":1,"sightings":1},"first_seen":0,"last_seen":0,"reason":"r","source":"operator"}"#;
        let out = set.scan(spaced.as_bytes()).unwrap();
        assert_eq!(out.matches.len(), 1);
        let escaped = spaced.replace("00:17:88/24\"", "00:17:88\\/24\"");
        let out = set.scan(escaped.as_bytes()).unwrap();
        assert_eq!(out.matches.len(), 1, "{escaped}");
    }

    #[test]
    fn overlong_lines_are_skipped_not_buffered() {
        let mut text = vec![b'x'; crate::MAX_LISTING_LINE_BYTES * 3];
        text.push(b'\n');
        serde_json::to_writer(&mut text, &fixture()[2]).unwrap();
        text.push(b'\n');
        let set = DeviceSet::new(vec![hue(None)]);
        let out = set.scan(&text[..]).unwrap();
        assert_eq!(out.malformed, 1);
        assert_eq!(out.matches.len(), 1);
    }
}
