//! Storage behind one trait, [`Store`], with two implementations: SQLite
//! (embedded, the default, [`sqlite::SqliteStore`]) and PostgreSQL
//! ([`postgres::PgStore`]). Both keep the same tables (migrations in code):
//!
//! - `sightings`: reporter key id, network tag, device type key, behaviour,
//!   firmware, coarse window, received_at. Never a client address.
//! - `device_types`: one row per device type key, with the device type as
//!   the first reporter described it and a counter the evaluator compares with
//!   the one it last evaluated (so "dirty" is never lost to a race).
//! - `nonces`: (reporter, nonce) with an expiry, for replay protection.
//! - `rate_counters`: accepted sightings per reporter and per network per hour.
//! - `reporters`: weight, sightings, corroborations.
//! - `listings` and `corroborations`, `fixes` (vendor firmware fixes).
//! - `audit`: append-only; the code only inserts, and a trigger in both
//!   databases refuses UPDATE and DELETE.
//!
//! Ingest works on whole batches: the replay and rate decisions are taken by
//! one pure function ([`plan_batch`]) over what the database holds, so both
//! databases decide identically, and a refused sighting leaves no trace.

pub mod postgres;
pub mod sqlite;

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde::Serialize;

/// A storage error: the database's own message, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(String),
    #[error("bad database url {0:?}: use sqlite:PATH or postgres://...")]
    BadUrl(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One verified sighting, ready to store.
#[derive(Debug, Clone)]
pub struct NewSighting {
    /// The signing key's id (hex SHA-256 of the public key).
    pub reporter: String,
    /// HMAC of the client's /24 or /48 (hex); never the address.
    pub network: String,
    pub nonce: String,
    /// The device type key: see `engine::device_key`.
    pub device_key: String,
    /// The device type as JSON (stored once per key).
    pub device: String,
    /// Behaviour kind, kebab-case.
    pub behaviour: String,
    pub firmware: Option<String>,
    pub window_start: i64,
    pub sent_at: i64,
    /// The behaviour summary as JSON.
    pub detail: String,
}

/// What became of one sighting of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Accepted,
    /// The (reporter, nonce) pair was seen before (or twice in the batch).
    Replay,
    /// The reporter's hourly limit is used up.
    ReporterLimited,
    /// The network's hourly limit is used up.
    NetworkLimited,
}

/// Limits applied while ingesting.
#[derive(Debug, Clone)]
pub struct IngestParams {
    pub reporter_per_hour: i64,
    pub network_per_hour: i64,
    /// How long a nonce is remembered after `max(sent_at, now)`; must exceed
    /// the allowed clock skew, so a replay is caught by one or the other.
    pub nonce_ttl_secs: i64,
    /// The weight a new reporter starts with.
    pub initial_weight: f64,
}

/// Sightings of one device type per (reporter, network) within a window.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRow {
    pub reporter: String,
    pub network: String,
    pub sightings: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Everything the engine needs to judge one device type.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub device_key: String,
    /// The device type JSON; empty when the key is unknown.
    pub device: String,
    /// The device type's sighting counter when this was read.
    pub counter: i64,
    pub rows: Vec<EvidenceRow>,
    /// Weight of every reporter in `rows`.
    pub weights: HashMap<String, f64>,
    pub behaviours: Vec<String>,
    pub firmwares: Vec<String>,
}

/// A stored listing: the published body (JSON of `warden_feed::Listing`)
/// plus the server's own bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingRow {
    pub id: String,
    /// The device type key for listings made from evidence.
    pub device_key: Option<String>,
    /// `listed` or `delisted`.
    pub state: String,
    /// `evidence` or `operator`.
    pub source: String,
    /// Set when an operator delisted it: evidence cannot list it again.
    pub suppressed: bool,
    pub body: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub updated_at: i64,
}

/// One line to append to the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct NewAudit {
    pub at: i64,
    /// `engine`, `operator:<keyid>`, `vendor:<keyid>`, `cli:<user>`.
    pub actor: String,
    /// `list`, `delist`, `expire`, `update`, `fix`, `relist`.
    pub action: String,
    pub listing_id: Option<String>,
    pub reason: String,
    /// JSON with the change (the listing body, the fix...).
    pub detail: String,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub listing_id: Option<String>,
    pub reason: String,
    /// The stored JSON detail, embedded as JSON.
    pub detail: serde_json::Value,
}

/// How reporter weights grow with corroboration.
#[derive(Debug, Clone, Copy)]
pub struct WeightRule {
    pub initial: f64,
    pub step: f64,
    pub max: f64,
}

/// A listing change, written in one transaction with its audit line.
#[derive(Debug, Clone)]
pub struct ListingWrite {
    pub row: ListingRow,
    pub audit: Option<NewAudit>,
    /// Reporters whose earlier sightings this listing corroborates: each
    /// gains one corroboration per listing (once).
    pub corroborate: Vec<String>,
    pub weights: WeightRule,
    /// (device key, counter) to mark as evaluated.
    pub evaluated: Option<(String, i64)>,
    /// An operator found the listing false: the reporters it credited lose
    /// that corroboration (and the weight it gave them).
    pub withdraw_corroboration: bool,
}

/// A vendor's firmware fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixRow {
    pub actor: String,
    /// "00:17:88/24" form.
    pub mac_prefix: String,
    /// Lowercased model, or none for every model under the prefix.
    pub model: Option<String>,
    pub fixed_in: String,
    pub at: i64,
}

/// A reporter's standing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReporterRow {
    pub key_id: String,
    pub weight: f64,
    pub sightings: i64,
    pub corroborated: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// Row counts of every table (status, and the tests' "nothing changed").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub sightings: i64,
    pub nonces: i64,
    pub reporters: i64,
    pub device_types: i64,
    pub listings_listed: i64,
    pub listings_delisted: i64,
    pub rate_counters: i64,
    pub fixes: i64,
    pub audit: i64,
}

/// A signed document in the registry (docs/registry.md): a vendor's threat
/// model or a tester's report, stored as the envelope it arrived in so that
/// anyone can verify it again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryDoc {
    /// Hex SHA-256 of the envelope's payload (the document's own bytes).
    pub sha256: String,
    /// `threat-model` or `test-report`.
    pub kind: String,
    /// The device type's slug, `vendor/model` (see `registry::slug`).
    pub device: String,
    pub vendor: String,
    pub model: String,
    /// The model's version, or the report's date.
    pub version: String,
    /// For a report: the SHA-256 of the threat model it is scoped against.
    pub scope: Option<String>,
    /// Who signed it: `vendor:NAME:KEYID`, `tester:NAME:KEYID`, `operator:...`.
    pub signer: String,
    pub published_at: i64,
    /// The DSSE envelope, JSON.
    pub envelope: String,
    /// What the server worked out at publication (lint or coverage), JSON.
    pub meta: String,
}

/// A device type in the registry, for the index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegistryDevice {
    pub device: String,
    pub vendor: String,
    pub model: String,
    pub threat_models: i64,
    pub test_reports: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;

    /// Stores what may be stored of `batch` in one transaction and says what
    /// became of each sighting, in order.
    async fn ingest(
        &self,
        batch: &[NewSighting],
        now: i64,
        p: &IngestParams,
    ) -> Result<Vec<Outcome>>;

    /// Device types with sightings not yet evaluated, at most `limit`.
    async fn dirty_device_types(&self, limit: i64) -> Result<Vec<String>>;

    /// Evidence for one device type since `since` (received_at).
    async fn evidence(&self, device_key: &str, since: i64) -> Result<Evidence>;

    /// Marks a device type evaluated up to `counter` (no listing change).
    async fn mark_evaluated(&self, device_key: &str, counter: i64) -> Result<()>;

    async fn listing(&self, id: &str) -> Result<Option<ListingRow>>;
    async fn listing_for_device(&self, device_key: &str) -> Result<Option<ListingRow>>;
    /// Listings ordered by id after `after_id`, `state` filtering if given.
    async fn listings(
        &self,
        state: Option<&str>,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<ListingRow>>;
    /// Evidence listings still listed whose last sighting is before `before`.
    async fn stale_evidence_listings(&self, before: i64, limit: i64) -> Result<Vec<ListingRow>>;

    /// Writes a listing (insert or replace), its audit line, corroborations
    /// and evaluation mark in one transaction.
    async fn write_listing(&self, w: &ListingWrite) -> Result<()>;

    /// Records a vendor fix with its audit line.
    async fn add_fix(&self, fix: &FixRow, audit: &NewAudit) -> Result<()>;
    async fn fixes(&self) -> Result<Vec<FixRow>>;

    async fn audit(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>>;

    /// Records a one-time nonce (curation envelopes); false if it was seen.
    async fn claim_nonce(&self, owner: &str, nonce: &str, expires_at: i64) -> Result<bool>;

    async fn reporter(&self, key_id: &str) -> Result<Option<ReporterRow>>;
    async fn counts(&self) -> Result<Counts>;

    /// Forgets expired nonces, rate counters older than `now`'s previous
    /// hour, and up to [`PURGE_CHUNK`] of the oldest sightings received before
    /// `sightings_before` (outside every window: they count for nothing).
    /// None of it can let anything through: an expired nonce's sighting is
    /// refused for its age.
    async fn purge(&self, now: i64, sightings_before: i64) -> Result<u64>;

    /// Takes or renews the lease `name` for `holder` until `until`, if it is
    /// free, expired (before `now`) or already `holder`'s. Several server
    /// nodes share one database; the one holding "evaluator" runs the pass.
    async fn lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool>;

    /// Stores a registry document with its audit line; false (and nothing
    /// written) when a document with the same SHA-256 is already there.
    async fn put_document(&self, doc: &RegistryDoc, audit: &NewAudit) -> Result<bool>;
    /// A device type's documents, newest first.
    async fn documents(&self, device: &str, limit: i64) -> Result<Vec<RegistryDoc>>;
    async fn document(&self, sha256: &str) -> Result<Option<RegistryDoc>>;
    /// Device types with documents, by slug, after `after`.
    async fn registry_devices(&self, after: &str, limit: i64) -> Result<Vec<RegistryDevice>>;
    /// Listings (any state) whose match names this model, case-insensitively
    /// (an expression index keeps this off a full scan).
    async fn listings_for_model(&self, model: &str, limit: i64) -> Result<Vec<ListingRow>>;

    /// Runs one SQL statement as is. For tests (the audit trigger) and
    /// operators' maintenance; never called by the server itself.
    async fn execute_raw(&self, sql: &str) -> Result<u64>;
}

/// Opens `sqlite:PATH` or `postgres://...` and runs the migrations.
pub async fn open(url: &str) -> Result<Box<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(StoreError::BadUrl(url.to_string()));
        }
        Ok(Box::new(sqlite::SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::BadUrl(url.to_string()))
    }
}

/// Sightings looked at per purge call (oldest first, by id).
pub const PURGE_CHUNK: i64 = 10_000;

/// Rate-counter scopes.
pub(crate) const SCOPE_REPORTER: &str = "reporter";
pub(crate) const SCOPE_NETWORK: &str = "network";

/// The replay and rate decision for a batch, given the nonces already
/// stored and this hour's counters. Pure, so SQLite and PostgreSQL decide
/// alike; sightings are taken in order, first come first served.
pub(crate) fn plan_batch(
    batch: &[NewSighting],
    seen_nonces: &HashSet<(String, String)>,
    reporter_counts: &HashMap<String, i64>,
    network_counts: &HashMap<String, i64>,
    p: &IngestParams,
) -> Vec<Outcome> {
    let mut in_batch: HashSet<(&str, &str)> = HashSet::new();
    let mut rep_add: HashMap<&str, i64> = HashMap::new();
    let mut net_add: HashMap<&str, i64> = HashMap::new();
    batch
        .iter()
        .map(|s| {
            let key = (s.reporter.as_str(), s.nonce.as_str());
            if seen_nonces.contains(&(s.reporter.clone(), s.nonce.clone()))
                || in_batch.contains(&key)
            {
                return Outcome::Replay;
            }
            let r = reporter_counts.get(&s.reporter).copied().unwrap_or(0)
                + rep_add.get(s.reporter.as_str()).copied().unwrap_or(0);
            if r >= p.reporter_per_hour {
                return Outcome::ReporterLimited;
            }
            let n = network_counts.get(&s.network).copied().unwrap_or(0)
                + net_add.get(s.network.as_str()).copied().unwrap_or(0);
            if n >= p.network_per_hour {
                return Outcome::NetworkLimited;
            }
            in_batch.insert(key);
            *rep_add.entry(&s.reporter).or_default() += 1;
            *net_add.entry(&s.network).or_default() += 1;
            Outcome::Accepted
        })
        .collect()
}

/// Accepted sightings per key, for the counter and reporter upserts.
pub(crate) fn tally<'a>(
    batch: &'a [NewSighting],
    outcomes: &[Outcome],
    key: impl Fn(&'a NewSighting) -> &'a str,
) -> Vec<(&'a str, i64)> {
    let mut m: HashMap<&str, i64> = HashMap::new();
    let mut order = Vec::new();
    for (s, o) in batch.iter().zip(outcomes) {
        if *o == Outcome::Accepted {
            let k = key(s);
            let c = m.entry(k).or_insert_with(|| {
                order.push(k);
                0
            });
            *c += 1;
        }
    }
    order.into_iter().map(|k| (k, m[k])).collect()
}

/// Per accepted device type: (key, device JSON of its first sighting here, count).
pub(crate) fn device_tally<'a>(
    batch: &'a [NewSighting],
    outcomes: &[Outcome],
) -> Vec<(&'a str, &'a str, i64)> {
    let mut m: HashMap<&str, (usize, i64)> = HashMap::new();
    let mut order = Vec::new();
    for (i, (s, o)) in batch.iter().zip(outcomes).enumerate() {
        if *o == Outcome::Accepted {
            let e = m.entry(&s.device_key).or_insert_with(|| {
                order.push(s.device_key.as_str());
                (i, 0)
            });
            e.1 += 1;
        }
    }
    order
        .into_iter()
        .map(|k| {
            let (i, c) = m[k];
            (k, batch[i].device.as_str(), c)
        })
        .collect()
}

/// A reporter's weight after `corroborated` corroborations.
pub fn weight_for(rule: &WeightRule, corroborated: i64) -> f64 {
    (rule.initial + rule.step * corroborated as f64).min(rule.max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(rep: &str, net: &str, nonce: &str) -> NewSighting {
        NewSighting {
            reporter: rep.into(),
            network: net.into(),
            nonce: nonce.into(),
            device_key: "d".into(),
            device: "{}".into(),
            behaviour: "flood".into(),
            firmware: None,
            window_start: 0,
            sent_at: 0,
            detail: "{}".into(),
        }
    }

    fn params(rep: i64, net: i64) -> IngestParams {
        IngestParams {
            reporter_per_hour: rep,
            network_per_hour: net,
            nonce_ttl_secs: 900,
            initial_weight: 0.5,
        }
    }

    #[test]
    fn plan_refuses_replays_within_and_across_batches() {
        let seen: HashSet<_> = [("r".to_string(), "n1".to_string())].into_iter().collect();
        let out = plan_batch(
            &[
                s("r", "a", "n1"),
                s("r", "a", "n2"),
                s("r", "a", "n2"),
                s("q", "a", "n2"),
            ],
            &seen,
            &HashMap::new(),
            &HashMap::new(),
            &params(10, 10),
        );
        assert_eq!(
            out,
            vec![
                Outcome::Replay,
                Outcome::Accepted,
                Outcome::Replay,
                Outcome::Accepted
            ]
        );
    }

    #[test]
    fn plan_applies_reporter_then_network_limits() {
        let counts: HashMap<_, _> = [("r".to_string(), 1)].into_iter().collect();
        let out = plan_batch(
            &[
                s("r", "a", "1"),
                s("r", "a", "2"),
                s("q", "a", "3"),
                s("p", "a", "4"),
            ],
            &HashSet::new(),
            &counts,
            &HashMap::new(),
            &params(2, 2),
        );
        assert_eq!(
            out,
            vec![
                Outcome::Accepted,
                Outcome::ReporterLimited,
                Outcome::Accepted,
                Outcome::NetworkLimited
            ]
        );
        let two = [s("r", "a", "1"), s("r", "a", "2")];
        let t = tally(&two, &[Outcome::Accepted, Outcome::Replay], |s| &s.reporter);
        assert_eq!(t, vec![("r", 1)]);
    }

    #[test]
    fn weight_grows_and_is_capped() {
        let r = WeightRule {
            initial: 0.5,
            step: 0.1,
            max: 1.0,
        };
        assert!((weight_for(&r, 0) - 0.5).abs() < 1e-9);
        assert!((weight_for(&r, 3) - 0.8).abs() < 1e-9);
        assert!((weight_for(&r, 50) - 1.0).abs() < 1e-9);
    }
}
