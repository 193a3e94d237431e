//! The embedded store: one SQLite file (WAL), one connection behind a mutex,
//! used from tokio's blocking pool. SQLite serialises writers anyway; one
//! connection with prepared statements ingests faster than a pool.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::*;

/// Migrations, in order; `schema_migrations` records the applied ones.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE reporters (
    key_id TEXT PRIMARY KEY,
    weight REAL NOT NULL,
    sightings INTEGER NOT NULL,
    corroborated INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE device_types (
    device_key TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    sightings INTEGER NOT NULL,
    evaluated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX device_types_dirty ON device_types (device_key) WHERE sightings <> evaluated;
CREATE TABLE sightings (
    id INTEGER PRIMARY KEY,
    reporter TEXT NOT NULL,
    network TEXT NOT NULL,
    device_key TEXT NOT NULL,
    behaviour TEXT NOT NULL,
    firmware TEXT,
    window_start INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX sightings_device ON sightings (device_key, received_at);
CREATE TABLE nonces (
    reporter TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (reporter, nonce)
) WITHOUT ROWID;
CREATE INDEX nonces_expiry ON nonces (expires_at);
CREATE TABLE rate_counters (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    hour INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (scope, key, hour)
) WITHOUT ROWID;
CREATE TABLE listings (
    id TEXT PRIMARY KEY,
    device_key TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('listed', 'delisted')),
    source TEXT NOT NULL,
    suppressed INTEGER NOT NULL,
    body TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX listings_stale ON listings (state, source, last_seen);
CREATE TABLE corroborations (
    listing_id TEXT NOT NULL,
    reporter TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (listing_id, reporter)
) WITHOUT ROWID;
CREATE TABLE fixes (
    id INTEGER PRIMARY KEY,
    actor TEXT NOT NULL,
    mac_prefix TEXT NOT NULL,
    model TEXT,
    fixed_in TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    listing_id TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    r#"
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
);
"#,
    // The registry (docs/registry.md), and the index its device pages use to
    // find the listings that name a model.
    r#"
CREATE TABLE registry_docs (
    sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('threat-model', 'test-report')),
    device TEXT NOT NULL,
    vendor TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    scope TEXT,
    signer TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX registry_docs_device ON registry_docs (device, published_at);
CREATE INDEX listings_model ON listings (lower(json_extract(body, '$.matches.model')));
"#,
];

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let mut conn = Connection::open(&path)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // 64 MiB of page cache: the nonce and sighting indexes take random inserts.
            conn.pragma_update(None, "cache_size", -65536)?;
            migrate(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))??;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself
            // is still consistent (SQLite rolls back an open transaction).
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Database(format!("storage task failed: {e}")))?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let done: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= done {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            params![version],
        )?;
        tx.commit()?;
    }
    Ok(())
}

fn listing_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListingRow> {
    Ok(ListingRow {
        id: r.get(0)?,
        device_key: r.get(1)?,
        state: r.get(2)?,
        source: r.get(3)?,
        suppressed: r.get::<_, i64>(4)? != 0,
        body: r.get(5)?,
        first_seen: r.get(6)?,
        last_seen: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

const LISTING_COLS: &str =
    "id, device_key, state, source, suppressed, body, first_seen, last_seen, updated_at";

fn insert_audit(tx: &rusqlite::Transaction<'_>, a: &NewAudit) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit (at, actor, action, listing_id, reason, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![a.at, a.actor, a.action, a.listing_id, a.reason, a.detail])?;
    Ok(())
}

const DOC_COLS: &str =
    "sha256, kind, device, vendor, model, version, scope, signer, published_at, envelope, meta";

fn doc_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RegistryDoc> {
    Ok(RegistryDoc {
        sha256: r.get(0)?,
        kind: r.get(1)?,
        device: r.get(2)?,
        vendor: r.get(3)?,
        model: r.get(4)?,
        version: r.get(5)?,
        scope: r.get(6)?,
        signer: r.get(7)?,
        published_at: r.get(8)?,
        envelope: r.get(9)?,
        meta: r.get(10)?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ingest(
        &self,
        batch: &[NewSighting],
        now: i64,
        p: &IngestParams,
    ) -> Result<Vec<Outcome>> {
        let batch = batch.to_vec();
        let p = p.clone();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let hour = now.div_euclid(3600);
            let mut seen = HashSet::new();
            let mut reps = HashMap::new();
            let mut nets = HashMap::new();
            {
                let mut nonce_q = tx.prepare_cached("SELECT 1 FROM nonces WHERE reporter = ?1 AND nonce = ?2")?;
                let mut count_q =
                    tx.prepare_cached("SELECT count FROM rate_counters WHERE scope = ?1 AND key = ?2 AND hour = ?3")?;
                for s in &batch {
                    if nonce_q.exists(params![s.reporter, s.nonce])? {
                        seen.insert((s.reporter.clone(), s.nonce.clone()));
                    }
                    if !reps.contains_key(&s.reporter) {
                        let c: Option<i64> =
                            count_q.query_row(params![SCOPE_REPORTER, s.reporter, hour], |r| r.get(0)).optional()?;
                        reps.insert(s.reporter.clone(), c.unwrap_or(0));
                    }
                    if !nets.contains_key(&s.network) {
                        let c: Option<i64> =
                            count_q.query_row(params![SCOPE_NETWORK, s.network, hour], |r| r.get(0)).optional()?;
                        nets.insert(s.network.clone(), c.unwrap_or(0));
                    }
                }
            }
            let outcomes = plan_batch(&batch, &seen, &reps, &nets, &p);
            if !outcomes.contains(&Outcome::Accepted) {
                // Nothing to write: leave the database exactly as it was.
                return Ok(outcomes);
            }
            {
                let mut nonce_i = tx.prepare_cached("INSERT INTO nonces (reporter, nonce, expires_at) VALUES (?1, ?2, ?3)")?;
                let mut sight_i = tx.prepare_cached(
                    "INSERT INTO sightings (reporter, network, device_key, behaviour, firmware, window_start, received_at, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for (s, o) in batch.iter().zip(&outcomes) {
                    if *o != Outcome::Accepted {
                        continue;
                    }
                    nonce_i.execute(params![s.reporter, s.nonce, s.sent_at.max(now) + p.nonce_ttl_secs])?;
                    sight_i.execute(params![
                        s.reporter,
                        s.network,
                        s.device_key,
                        s.behaviour,
                        s.firmware,
                        s.window_start,
                        now,
                        s.detail
                    ])?;
                }
                let mut counter_u = tx.prepare_cached(
                    "INSERT INTO rate_counters (scope, key, hour, count) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (scope, key, hour) DO UPDATE SET count = count + excluded.count",
                )?;
                let mut rep_u = tx.prepare_cached(
                    "INSERT INTO reporters (key_id, weight, sightings, corroborated, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, 0, ?4, ?4)
                     ON CONFLICT (key_id) DO UPDATE SET sightings = sightings + excluded.sightings, last_seen = excluded.last_seen",
                )?;
                for (k, n) in tally(&batch, &outcomes, |s| &s.reporter) {
                    counter_u.execute(params![SCOPE_REPORTER, k, hour, n])?;
                    rep_u.execute(params![k, p.initial_weight, n, now])?;
                }
                for (k, n) in tally(&batch, &outcomes, |s| &s.network) {
                    counter_u.execute(params![SCOPE_NETWORK, k, hour, n])?;
                }
                let mut dev_u = tx.prepare_cached(
                    "INSERT INTO device_types (device_key, device, first_seen, last_seen, sightings, evaluated)
                     VALUES (?1, ?2, ?3, ?3, ?4, 0)
                     ON CONFLICT (device_key) DO UPDATE SET last_seen = excluded.last_seen, sightings = sightings + excluded.sightings",
                )?;
                for (k, dev, n) in device_tally(&batch, &outcomes) {
                    dev_u.execute(params![k, dev, now, n])?;
                }
            }
            tx.commit()?;
            Ok(outcomes)
        })
        .await
    }

    async fn dirty_device_types(&self, limit: i64) -> Result<Vec<String>> {
        self.with(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT device_key FROM device_types WHERE sightings <> evaluated ORDER BY device_key LIMIT ?1",
            )?;
            let keys = q.query_map(params![limit], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(keys)
        })
        .await
    }

    async fn evidence(&self, device_key: &str, since: i64) -> Result<Evidence> {
        let key = device_key.to_string();
        self.with(move |conn| {
            let tx = conn.transaction()?;
            let mut ev = Evidence { device_key: key.clone(), ..Default::default() };
            if let Some((device, counter)) = tx
                .query_row("SELECT device, sightings FROM device_types WHERE device_key = ?1", params![key], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .optional()?
            {
                ev.device = device;
                ev.counter = counter;
            }
            {
                let mut q = tx.prepare_cached(
                    "SELECT reporter, network, COUNT(*), MIN(received_at), MAX(received_at) FROM sightings
                     WHERE device_key = ?1 AND received_at >= ?2 GROUP BY reporter, network ORDER BY reporter, network",
                )?;
                ev.rows = q
                    .query_map(params![key, since], |r| {
                        Ok(EvidenceRow {
                            reporter: r.get(0)?,
                            network: r.get(1)?,
                            sightings: r.get(2)?,
                            first_seen: r.get(3)?,
                            last_seen: r.get(4)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                let mut w = tx.prepare_cached("SELECT weight FROM reporters WHERE key_id = ?1")?;
                for row in &ev.rows {
                    if !ev.weights.contains_key(&row.reporter) {
                        let weight: f64 = w.query_row(params![row.reporter], |r| r.get(0)).optional()?.unwrap_or(0.0);
                        ev.weights.insert(row.reporter.clone(), weight);
                    }
                }
                let mut b = tx.prepare_cached(
                    "SELECT DISTINCT behaviour FROM sightings WHERE device_key = ?1 AND received_at >= ?2 ORDER BY 1",
                )?;
                ev.behaviours = b.query_map(params![key, since], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                let mut f = tx.prepare_cached(
                    "SELECT DISTINCT firmware FROM sightings WHERE device_key = ?1 AND received_at >= ?2
                     AND firmware IS NOT NULL ORDER BY 1 LIMIT 16",
                )?;
                ev.firmwares = f.query_map(params![key, since], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            }
            tx.commit()?;
            Ok(ev)
        })
        .await
    }

    async fn mark_evaluated(&self, device_key: &str, counter: i64) -> Result<()> {
        let key = device_key.to_string();
        self.with(move |conn| {
            conn.prepare_cached("UPDATE device_types SET evaluated = ?2 WHERE device_key = ?1")?
                .execute(params![key, counter])?;
            Ok(())
        })
        .await
    }

    async fn listing(&self, id: &str) -> Result<Option<ListingRow>> {
        let id = id.to_string();
        self.with(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {LISTING_COLS} FROM listings WHERE id = ?1"
                ))?
                .query_row(params![id], listing_from_row)
                .optional()?)
        })
        .await
    }

    async fn listing_for_device(&self, device_key: &str) -> Result<Option<ListingRow>> {
        let key = device_key.to_string();
        self.with(move |conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {LISTING_COLS} FROM listings WHERE device_key = ?1"
                ))?
                .query_row(params![key], listing_from_row)
                .optional()?)
        })
        .await
    }

    async fn listings(
        &self,
        state: Option<&str>,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<ListingRow>> {
        let state = state.map(str::to_string);
        let after = after_id.to_string();
        self.with(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {LISTING_COLS} FROM listings WHERE (?1 IS NULL OR state = ?1) AND id > ?2 ORDER BY id LIMIT ?3"
            ))?;
            let rows = q.query_map(params![state, after, limit], listing_from_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn stale_evidence_listings(&self, before: i64, limit: i64) -> Result<Vec<ListingRow>> {
        self.with(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {LISTING_COLS} FROM listings WHERE state = 'listed' AND source = 'evidence' AND last_seen < ?1
                 ORDER BY id LIMIT ?2"
            ))?;
            let rows = q.query_map(params![before, limit], listing_from_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn write_listing(&self, w: &ListingWrite) -> Result<()> {
        let w = w.clone();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let r = &w.row;
            tx.prepare_cached(
                "INSERT INTO listings (id, device_key, state, source, suppressed, body, first_seen, last_seen, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET device_key = excluded.device_key, state = excluded.state,
                   source = excluded.source, suppressed = excluded.suppressed, body = excluded.body,
                   first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated_at = excluded.updated_at",
            )?
            .execute(params![
                r.id,
                r.device_key,
                r.state,
                r.source,
                r.suppressed as i64,
                r.body,
                r.first_seen,
                r.last_seen,
                r.updated_at
            ])?;
            if let Some(a) = &w.audit {
                insert_audit(&tx, a)?;
            }
            {
                let mut c = tx.prepare_cached(
                    "INSERT INTO corroborations (listing_id, reporter, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                )?;
                let mut up = tx.prepare_cached(
                    "UPDATE reporters SET corroborated = corroborated + 1,
                       weight = MIN(?2, ?3 + ?4 * (corroborated + 1)) WHERE key_id = ?1",
                )?;
                for rep in &w.corroborate {
                    if c.execute(params![r.id, rep, r.updated_at])? == 1 {
                        up.execute(params![rep, w.weights.max, w.weights.initial, w.weights.step])?;
                    }
                }
            }
            if w.withdraw_corroboration {
                tx.execute(
                    "UPDATE reporters SET corroborated = MAX(corroborated - 1, 0),
                       weight = MIN(?2, ?3 + ?4 * MAX(corroborated - 1, 0))
                     WHERE key_id IN (SELECT reporter FROM corroborations WHERE listing_id = ?1)",
                    params![r.id, w.weights.max, w.weights.initial, w.weights.step],
                )?;
                tx.execute("DELETE FROM corroborations WHERE listing_id = ?1", params![r.id])?;
            }
            if let Some((key, counter)) = &w.evaluated {
                tx.prepare_cached("UPDATE device_types SET evaluated = ?2 WHERE device_key = ?1")?
                    .execute(params![key, counter])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn add_fix(&self, fix: &FixRow, audit: &NewAudit) -> Result<()> {
        let fix = fix.clone();
        let audit = audit.clone();
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO fixes (actor, mac_prefix, model, fixed_in, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![fix.actor, fix.mac_prefix, fix.model, fix.fixed_in, fix.at],
            )?;
            insert_audit(&tx, &audit)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn fixes(&self) -> Result<Vec<FixRow>> {
        self.with(|conn| {
            let mut q = conn.prepare_cached(
                "SELECT actor, mac_prefix, model, fixed_in, at FROM fixes ORDER BY id",
            )?;
            let rows = q
                .query_map([], |r| {
                    Ok(FixRow {
                        actor: r.get(0)?,
                        mac_prefix: r.get(1)?,
                        model: r.get(2)?,
                        fixed_in: r.get(3)?,
                        at: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn audit(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        self.with(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT seq, at, actor, action, listing_id, reason, detail FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = q
                .query_map(params![after_seq, limit], |r| {
                    let detail: String = r.get(6)?;
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        listing_id: r.get(4)?,
                        reason: r.get(5)?,
                        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn claim_nonce(&self, owner: &str, nonce: &str, expires_at: i64) -> Result<bool> {
        let (owner, nonce) = (owner.to_string(), nonce.to_string());
        self.with(move |conn| {
            let n = conn.execute(
                "INSERT INTO nonces (reporter, nonce, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![owner, nonce, expires_at],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn reporter(&self, key_id: &str) -> Result<Option<ReporterRow>> {
        let key = key_id.to_string();
        self.with(move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT key_id, weight, sightings, corroborated, first_seen, last_seen FROM reporters WHERE key_id = ?1",
                )?
                .query_row(params![key], |r| {
                    Ok(ReporterRow {
                        key_id: r.get(0)?,
                        weight: r.get(1)?,
                        sightings: r.get(2)?,
                        corroborated: r.get(3)?,
                        first_seen: r.get(4)?,
                        last_seen: r.get(5)?,
                    })
                })
                .optional()?)
        })
        .await
    }

    async fn counts(&self) -> Result<Counts> {
        self.with(|conn| {
            let n = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
            Ok(Counts {
                sightings: n("SELECT COUNT(*) FROM sightings")?,
                nonces: n("SELECT COUNT(*) FROM nonces")?,
                reporters: n("SELECT COUNT(*) FROM reporters")?,
                device_types: n("SELECT COUNT(*) FROM device_types")?,
                listings_listed: n("SELECT COUNT(*) FROM listings WHERE state = 'listed'")?,
                listings_delisted: n("SELECT COUNT(*) FROM listings WHERE state = 'delisted'")?,
                rate_counters: n("SELECT COUNT(*) FROM rate_counters")?,
                fixes: n("SELECT COUNT(*) FROM fixes")?,
                audit: n("SELECT COUNT(*) FROM audit")?,
            })
        })
        .await
    }

    async fn purge(&self, now: i64, sightings_before: i64) -> Result<u64> {
        self.with(move |conn| {
            let a = conn.execute("DELETE FROM nonces WHERE expires_at < ?1", params![now])?;
            let b = conn.execute(
                "DELETE FROM rate_counters WHERE hour < ?1",
                params![now.div_euclid(3600) - 1],
            )?;
            // Ids grow with time: look at the oldest rows only, never scan the table.
            let c = conn.execute(
                "DELETE FROM sightings WHERE id IN
                   (SELECT id FROM (SELECT id, received_at FROM sightings ORDER BY id LIMIT ?2) WHERE received_at < ?1)",
                params![sightings_before, PURGE_CHUNK],
            )?;
            Ok((a + b + c) as u64)
        })
        .await
    }

    async fn lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.with(move |conn| {
            let n = conn.execute(
                "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?4)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                 WHERE leases.until < ?3 OR leases.holder = excluded.holder",
                params![name, holder, now, until],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn put_document(&self, doc: &RegistryDoc, audit: &NewAudit) -> Result<bool> {
        let (d, audit) = (doc.clone(), audit.clone());
        self.with(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let n = tx.execute(
                &format!("INSERT INTO registry_docs ({DOC_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (sha256) DO NOTHING"),
                params![d.sha256, d.kind, d.device, d.vendor, d.model, d.version, d.scope, d.signer,
                        d.published_at, d.envelope, d.meta],
            )?;
            if n == 1 {
                insert_audit(&tx, &audit)?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn documents(&self, device: &str, limit: i64) -> Result<Vec<RegistryDoc>> {
        let device = device.to_string();
        self.with(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {DOC_COLS} FROM registry_docs WHERE device = ?1 ORDER BY published_at DESC, sha256 LIMIT ?2"
            ))?;
            let rows = q.query_map(params![device, limit], doc_from_row)?.collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn document(&self, sha256: &str) -> Result<Option<RegistryDoc>> {
        let sha = sha256.to_string();
        self.with(move |conn| {
            Ok(conn
                .query_row(
                    &format!("SELECT {DOC_COLS} FROM registry_docs WHERE sha256 = ?1"),
                    params![sha],
                    doc_from_row,
                )
                .optional()?)
        })
        .await
    }

    async fn registry_devices(&self, after: &str, limit: i64) -> Result<Vec<RegistryDevice>> {
        let after = after.to_string();
        self.with(move |conn| {
            let mut q = conn.prepare_cached(
                "SELECT device, MIN(vendor), MIN(model),
                        SUM(kind = 'threat-model'), SUM(kind = 'test-report'), MAX(published_at)
                 FROM registry_docs WHERE device > ?1 GROUP BY device ORDER BY device LIMIT ?2",
            )?;
            let rows = q
                .query_map(params![after, limit], |r| {
                    Ok(RegistryDevice {
                        device: r.get(0)?,
                        vendor: r.get(1)?,
                        model: r.get(2)?,
                        threat_models: r.get(3)?,
                        test_reports: r.get(4)?,
                        updated_at: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn listings_for_model(&self, model: &str, limit: i64) -> Result<Vec<ListingRow>> {
        // SQLite's lower() folds ASCII only; so does this side.
        let model = model.to_ascii_lowercase();
        self.with(move |conn| {
            let mut q = conn.prepare_cached(&format!(
                "SELECT {LISTING_COLS} FROM listings
                 WHERE lower(json_extract(body, '$.matches.model')) = ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = q
                .query_map(params![model, limit], listing_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn execute_raw(&self, sql: &str) -> Result<u64> {
        let sql = sql.to_string();
        self.with(move |conn| Ok(conn.execute(&sql, [])? as u64))
            .await
    }
}
