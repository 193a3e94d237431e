//! The listing engine: when independent evidence lists a device type.
//!
//! The rule ([`ListingConfig`], defaults in brackets): within the window
//! [7 days], a device type is listed when the **weighted reporters** reach
//! [5.0] and the **distinct networks** reach [3]. Counted so that keys and
//! one network are cheap to multiply but do not help:
//!
//! - each reporter counts once, in one network: the network it sent most of
//!   its sightings of this device type from (a key hopping networks is still
//!   one reporter, in one network);
//! - a network contributes at most [1.0] however many reporters it holds:
//!   any number of Sybil keys behind one /24 (or /48) is worth one reporter;
//! - a reporter's weight starts at [0.5] and grows by [0.1] for every
//!   listing its earlier sightings corroborated, up to [1.0]: new keys need
//!   twice as many networks as established ones;
//! - a reporter sends at most [60] sightings an hour and a network [600]
//!   (enforced at ingest, [`crate::store::IngestParams`]).
//!
//! Sightings never delist: a listing leaves the feed when an operator
//! delists it (and then evidence cannot list it again until an operator
//! relists it), when its vendor marks the firmware fixed (devices on fixed
//! firmware stop matching), or when no sighting came for [30 days].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use warden_feed::{
    BehaviourKind, DeviceMatch, DeviceType, FeedAction, Listing, ListingEvidence, ListingSource,
    MacPrefix, Severity, VersionRange,
};

use crate::store::{
    Evidence, EvidenceRow, FixRow, ListingRow, ListingWrite, NewAudit, Result, Store, StoreError,
    WeightRule,
};

/// Every threshold of the listing rule and the ingest limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListingConfig {
    /// Sightings older than this do not count.
    pub window_secs: i64,
    pub min_weighted_reporters: f64,
    pub min_networks: u32,
    /// What all reporters of one network together can weigh.
    pub max_weight_per_network: f64,
    pub initial_weight: f64,
    pub corroboration_step: f64,
    pub max_weight: f64,
    /// An evidence listing with no sighting for this long is delisted.
    pub expire_after_secs: i64,
    pub reporter_per_hour: i64,
    pub network_per_hour: i64,
    /// What an evidence listing says.
    pub severity: Severity,
    pub action: FeedAction,
}

impl Default for ListingConfig {
    fn default() -> Self {
        ListingConfig {
            window_secs: 7 * 24 * 3600,
            min_weighted_reporters: 5.0,
            min_networks: 3,
            max_weight_per_network: 1.0,
            initial_weight: 0.5,
            corroboration_step: 0.1,
            max_weight: 1.0,
            expire_after_secs: 30 * 24 * 3600,
            reporter_per_hour: 60,
            network_per_hour: 600,
            severity: Severity::CompromisedInTheWild,
            action: FeedAction::Quarantine,
        }
    }
}

impl ListingConfig {
    pub fn weights(&self) -> WeightRule {
        WeightRule {
            initial: self.initial_weight,
            step: self.corroboration_step,
            max: self.max_weight,
        }
    }

    /// Refuses settings that would let anything be listed on nothing.
    pub fn validate(&self) -> Result<(), String> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if !(pos(self.min_weighted_reporters) && self.min_networks >= 1) {
            return Err("min_weighted_reporters must be > 0 and min_networks >= 1".into());
        }
        if !(pos(self.max_weight_per_network) && pos(self.initial_weight) && pos(self.max_weight)) {
            return Err("weights must be > 0".into());
        }
        if !(self.corroboration_step.is_finite() && self.corroboration_step >= 0.0) {
            return Err("corroboration_step must be >= 0".into());
        }
        if self.initial_weight > self.max_weight {
            return Err("initial_weight must not exceed max_weight".into());
        }
        if self.window_secs < 3600 || self.expire_after_secs < 3600 {
            return Err("window_secs and expire_after_secs must be at least an hour".into());
        }
        if self.reporter_per_hour < 1 || self.network_per_hour < 1 {
            return Err("rate limits must be at least 1".into());
        }
        Ok(())
    }
}

/// The device type key: what sightings must share to count together. The
/// registry block, vendor and model (case-insensitive); the fingerprint only
/// when the model is unknown (a model's fingerprint changes with firmware).
/// Firmware is not part of it: a listing covers every version until the
/// vendor marks one fixed.
pub fn device_key(d: &DeviceType) -> String {
    let lower = |s: &Option<String>| s.as_deref().map(str::to_lowercase).unwrap_or_default();
    let fp = if d.model.is_some() {
        ""
    } else {
        d.fingerprint.as_str()
    };
    let canon = serde_json::json!([
        d.mac_prefix.to_string(),
        lower(&d.vendor),
        lower(&d.model),
        fp
    ]);
    let mut k = warden_feed::sha256_hex(canon.to_string().as_bytes());
    k.truncate(32);
    k
}

/// What the evidence adds up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assessment {
    pub weighted_reporters: f64,
    pub networks: u32,
    pub reporters: u32,
    pub sightings: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Reporters with weight that counted (corroborated if this lists).
    pub contributors: Vec<String>,
}

impl Assessment {
    pub fn meets(&self, cfg: &ListingConfig) -> bool {
        // A tiny epsilon: 10 x 0.5 must reach 5.0.
        self.weighted_reporters + 1e-9 >= cfg.min_weighted_reporters
            && self.networks >= cfg.min_networks
    }
}

/// Adds up the evidence (pure): each reporter in its main network, each
/// network capped.
pub fn assess(
    cfg: &ListingConfig,
    rows: &[EvidenceRow],
    weights: &HashMap<String, f64>,
) -> Assessment {
    let mut a = Assessment {
        first_seen: i64::MAX,
        last_seen: i64::MIN,
        ..Default::default()
    };
    // reporter -> network -> sightings (BTreeMaps: ties resolve the same way everywhere).
    let mut per_reporter: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for r in rows {
        *per_reporter
            .entry(&r.reporter)
            .or_default()
            .entry(&r.network)
            .or_default() += r.sightings.max(0);
        a.sightings += r.sightings.max(0) as u64;
        a.first_seen = a.first_seen.min(r.first_seen);
        a.last_seen = a.last_seen.max(r.last_seen);
    }
    if rows.is_empty() {
        a.first_seen = 0;
        a.last_seen = 0;
    }
    let mut per_network: BTreeMap<&str, f64> = BTreeMap::new();
    for (reporter, nets) in &per_reporter {
        let Some((home, _)) = nets.iter().max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0))) else {
            continue;
        };
        let w = weights.get(*reporter).copied().unwrap_or(0.0);
        let w = if w.is_finite() {
            w.clamp(0.0, cfg.max_weight)
        } else {
            0.0
        };
        a.reporters += 1;
        if w > 0.0 {
            a.contributors.push(reporter.to_string());
            *per_network.entry(home).or_default() += w;
        }
    }
    for w in per_network.values() {
        a.weighted_reporters += w.min(cfg.max_weight_per_network);
        a.networks += 1;
    }
    a
}

/// What one evaluation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluated {
    Nothing,
    Listed(String),
    Updated(String),
    /// The operator delisted it; evidence does not override that.
    Suppressed(String),
}

fn kinds(behaviours: &[String]) -> Vec<BehaviourKind> {
    let mut v: Vec<BehaviourKind> = behaviours
        .iter()
        .filter_map(|b| serde_json::from_value(serde_json::Value::String(b.clone())).ok())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Whether a vendor fix applies to a listing's match.
pub fn fix_applies(fix: &FixRow, m: &DeviceMatch) -> bool {
    let Ok(fp) = fix.mac_prefix.parse::<MacPrefix>() else {
        return false;
    };
    let prefix_ok = m
        .mac_prefixes
        .iter()
        .any(|p| p.bits >= fp.bits && fp.contains(p.bytes));
    let model_ok = match (&fix.model, &m.model) {
        (None, _) => true,
        (Some(f), Some(lm)) => f.eq_ignore_ascii_case(lm),
        (Some(_), None) => false,
    };
    prefix_ok && model_ok
}

/// Adds a fixed version to a match (idempotent). Returns whether it changed.
pub fn add_fixed(m: &mut DeviceMatch, version: &str) -> bool {
    let r = m.firmware.get_or_insert_with(VersionRange::default);
    if r.fixed_in.iter().any(|v| v == version) {
        return false;
    }
    r.fixed_in.push(version.to_string());
    r.fixed_in.sort();
    true
}

fn reason_for(a: &Assessment, kinds: &[BehaviourKind], firmwares: &[String]) -> String {
    let what = if kinds.is_empty() {
        "misbehaving".to_string()
    } else {
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut s = format!(
        "Seen {what} by {} independent reporters in {} networks ({} sightings)",
        a.reporters, a.networks, a.sightings
    );
    if !firmwares.is_empty() {
        s.push_str(&format!("; firmware seen: {}", firmwares.join(", ")));
    }
    s.push('.');
    s
}

fn evidence_counts(a: &Assessment) -> ListingEvidence {
    ListingEvidence {
        reporters: a.reporters,
        networks: a.networks,
        sightings: u32::try_from(a.sightings).unwrap_or(u32::MAX),
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Judges one device type on its evidence and writes what follows.
pub async fn evaluate_device(
    store: &dyn Store,
    cfg: &ListingConfig,
    key: &str,
    now: i64,
) -> Result<Evaluated> {
    let ev: Evidence = store.evidence(key, now - cfg.window_secs).await?;
    let a = assess(cfg, &ev.rows, &ev.weights);
    let existing = store.listing_for_device(key).await?;
    let kinds = kinds(&ev.behaviours);
    match existing {
        Some(row) if row.suppressed => {
            store.mark_evaluated(key, ev.counter).await?;
            Ok(Evaluated::Suppressed(row.id))
        }
        Some(row) if row.state == "listed" => {
            // Still listed: fresher counts and times; nothing here can delist.
            let mut l: Listing = serde_json::from_str(&row.body).map_err(corrupt)?;
            if a.reporters == 0 {
                store.mark_evaluated(key, ev.counter).await?;
                return Ok(Evaluated::Nothing);
            }
            l.evidence = evidence_counts(&a);
            l.last_seen = l.last_seen.max(a.last_seen);
            let mut b: BTreeSet<BehaviourKind> = l.behaviours.iter().copied().collect();
            b.extend(kinds);
            l.behaviours = b.into_iter().collect();
            let body = serde_json::to_string(&l).map_err(corrupt)?;
            store
                .write_listing(&ListingWrite {
                    row: ListingRow {
                        body,
                        last_seen: l.last_seen,
                        updated_at: now,
                        ..row
                    },
                    audit: None,
                    corroborate: Vec::new(),
                    weights: cfg.weights(),
                    evaluated: Some((key.to_string(), ev.counter)),
                    withdraw_corroboration: false,
                })
                .await?;
            Ok(Evaluated::Updated(l.id))
        }
        previous => {
            if ev.device.is_empty() || !a.meets(cfg) {
                store.mark_evaluated(key, ev.counter).await?;
                return Ok(Evaluated::Nothing);
            }
            let device: DeviceType = serde_json::from_str(&ev.device).map_err(corrupt)?;
            let mut matches = DeviceMatch {
                mac_prefixes: vec![device.mac_prefix],
                vendor: device.vendor.clone(),
                model: device.model.clone(),
                firmware: None,
                fingerprint: if device.model.is_some() {
                    None
                } else {
                    Some(device.fingerprint.clone())
                },
            };
            let id = previous
                .as_ref()
                .map(|r| r.id.clone())
                .unwrap_or_else(|| matches.listing_id());
            for fix in store.fixes().await? {
                if fix_applies(&fix, &matches) {
                    add_fixed(&mut matches, &fix.fixed_in);
                }
            }
            let listing = Listing {
                id: id.clone(),
                severity: cfg.severity,
                matches,
                action: cfg.action,
                evidence: evidence_counts(&a),
                behaviours: kinds.clone(),
                first_seen: a.first_seen,
                last_seen: a.last_seen,
                references: Vec::new(),
                reason: reason_for(&a, &kinds, &ev.firmwares),
                source: ListingSource::Evidence,
            };
            let body = serde_json::to_string(&listing).map_err(corrupt)?;
            let action = if previous.is_some() { "relist" } else { "list" };
            store
                .write_listing(&ListingWrite {
                    row: ListingRow {
                        id: id.clone(),
                        device_key: Some(key.to_string()),
                        state: "listed".into(),
                        source: "evidence".into(),
                        suppressed: false,
                        body: body.clone(),
                        first_seen: a.first_seen,
                        last_seen: a.last_seen,
                        updated_at: now,
                    },
                    audit: Some(NewAudit {
                        at: now,
                        actor: "engine".into(),
                        action: action.into(),
                        listing_id: Some(id.clone()),
                        reason: format!(
                            "weighted reporters {:.1} >= {:.1} and networks {} >= {} within {} days",
                            a.weighted_reporters,
                            cfg.min_weighted_reporters,
                            a.networks,
                            cfg.min_networks,
                            cfg.window_secs / 86400
                        ),
                        detail: body,
                    }),
                    corroborate: a.contributors.clone(),
                    weights: cfg.weights(),
                    evaluated: Some((key.to_string(), ev.counter)),
                    withdraw_corroboration: false,
                })
                .await?;
            Ok(Evaluated::Listed(id))
        }
    }
}

/// What one pass of the evaluator did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    pub evaluated: u64,
    pub listed: u64,
    pub updated: u64,
    pub expired: u64,
    pub purged: u64,
}

/// Evaluates every dirty device type, expires stale evidence listings and
/// forgets expired nonces. The server runs it every few seconds; tests call it.
pub async fn run_pass(store: &dyn Store, cfg: &ListingConfig, now: i64) -> Result<PassReport> {
    let mut rep = PassReport::default();
    loop {
        let keys = store.dirty_device_types(500).await?;
        if keys.is_empty() {
            break;
        }
        let n = keys.len();
        for key in keys {
            rep.evaluated += 1;
            match evaluate_device(store, cfg, &key, now).await? {
                Evaluated::Listed(_) => rep.listed += 1,
                Evaluated::Updated(_) => rep.updated += 1,
                Evaluated::Nothing | Evaluated::Suppressed(_) => {}
            }
        }
        if n < 500 {
            break;
        }
    }
    loop {
        let stale = store
            .stale_evidence_listings(now - cfg.expire_after_secs, 500)
            .await?;
        if stale.is_empty() {
            break;
        }
        for row in stale {
            let id = row.id.clone();
            store
                .write_listing(&ListingWrite {
                    row: ListingRow {
                        state: "delisted".into(),
                        updated_at: now,
                        ..row.clone()
                    },
                    audit: Some(NewAudit {
                        at: now,
                        actor: "engine".into(),
                        action: "expire".into(),
                        listing_id: Some(id),
                        reason: format!("no sighting for {} days", cfg.expire_after_secs / 86400),
                        detail: row.body,
                    }),
                    corroborate: Vec::new(),
                    weights: cfg.weights(),
                    evaluated: None,
                    withdraw_corroboration: false,
                })
                .await?;
            rep.expired += 1;
        }
    }
    // Sightings a day past the window count for nothing any more.
    let before = now - cfg.window_secs - 86_400;
    for _ in 0..100 {
        let n = store.purge(now, before).await?;
        rep.purged += n;
        if n < crate::store::PURGE_CHUNK as u64 {
            break;
        }
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rep: &str, net: &str, n: i64) -> EvidenceRow {
        EvidenceRow {
            reporter: rep.into(),
            network: net.into(),
            sightings: n,
            first_seen: 100,
            last_seen: 200,
        }
    }

    fn w(pairs: &[(&str, f64)]) -> HashMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn sybils_in_one_network_weigh_one_reporter() {
        let cfg = ListingConfig::default();
        let rows: Vec<_> = (0..100).map(|i| row(&format!("k{i}"), "net", 1)).collect();
        let weights: HashMap<_, _> = (0..100).map(|i| (format!("k{i}"), 1.0)).collect();
        let a = assess(&cfg, &rows, &weights);
        assert_eq!(a.reporters, 100);
        assert_eq!(a.networks, 1);
        assert!((a.weighted_reporters - 1.0).abs() < 1e-9);
        assert!(!a.meets(&cfg));
    }

    #[test]
    fn a_key_hopping_networks_counts_once_in_its_main_network() {
        let cfg = ListingConfig::default();
        let rows = vec![
            row("k", "a", 5),
            row("k", "b", 1),
            row("k", "c", 1),
            row("k", "d", 1),
        ];
        let a = assess(&cfg, &rows, &w(&[("k", 1.0)]));
        assert_eq!((a.reporters, a.networks), (1, 1));
        assert_eq!(a.sightings, 8);
        assert!((a.weighted_reporters - 1.0).abs() < 1e-9);
    }

    #[test]
    fn ten_new_reporters_in_ten_networks_meet_the_default_threshold_nine_do_not() {
        let cfg = ListingConfig::default();
        let rows: Vec<_> = (0..10)
            .map(|i| row(&format!("k{i}"), &format!("n{i}"), 1))
            .collect();
        let weights: HashMap<_, _> = (0..10).map(|i| (format!("k{i}"), 0.5)).collect();
        assert!(assess(&cfg, &rows, &weights).meets(&cfg));
        assert!(!assess(&cfg, &rows[..9], &weights).meets(&cfg));
    }

    #[test]
    fn network_threshold_binds_when_network_cap_is_raised() {
        let cfg = ListingConfig {
            max_weight_per_network: 10.0,
            ..Default::default()
        };
        let rows: Vec<_> = (0..10)
            .map(|i| row(&format!("k{i}"), &format!("n{}", i % 2), 1))
            .collect();
        let weights: HashMap<_, _> = (0..10).map(|i| (format!("k{i}"), 1.0)).collect();
        let a = assess(&cfg, &rows, &weights);
        assert!((a.weighted_reporters - 10.0).abs() < 1e-9);
        assert_eq!(a.networks, 2);
        assert!(!a.meets(&cfg));
    }

    #[test]
    fn unknown_or_hostile_weights_count_nothing() {
        let cfg = ListingConfig::default();
        let rows = vec![row("a", "1", 1), row("b", "2", 1), row("c", "3", 1)];
        let a = assess(&cfg, &rows, &w(&[("a", f64::NAN), ("b", -3.0), ("c", 1e9)]));
        assert!((a.weighted_reporters - 1.0).abs() < 1e-9, "{a:?}");
        assert_eq!(a.networks, 1);
        assert_eq!(a.contributors, vec!["c".to_string()]);
    }

    #[test]
    fn config_validation_refuses_zero_thresholds() {
        assert!(ListingConfig::default().validate().is_ok());
        assert!(ListingConfig {
            min_networks: 0,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(ListingConfig {
            min_weighted_reporters: f64::NAN,
            ..Default::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn fixes_apply_within_the_vendor_prefix_and_model() {
        let m = DeviceMatch {
            mac_prefixes: vec!["00:17:88/24".parse().unwrap()],
            model: Some("Cam X1".into()),
            ..Default::default()
        };
        let fix = |p: &str, model: Option<&str>| FixRow {
            actor: "v".into(),
            mac_prefix: p.into(),
            model: model.map(String::from),
            fixed_in: "2.0".into(),
            at: 0,
        };
        assert!(fix_applies(&fix("00:17:88/24", None), &m));
        assert!(fix_applies(&fix("00:17:88/24", Some("cam x1")), &m));
        assert!(!fix_applies(&fix("00:17:88/24", Some("Cam X2")), &m));
        assert!(!fix_applies(&fix("00:17:89/24", None), &m));
        let mut m2 = m.clone();
        assert!(add_fixed(&mut m2, "2.0"));
        assert!(!add_fixed(&mut m2, "2.0"));
        assert_eq!(m2.firmware.unwrap().fixed_in, vec!["2.0".to_string()]);
    }
}
