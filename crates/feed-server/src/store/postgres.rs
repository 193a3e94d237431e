//! The production store: PostgreSQL through sqlx (runtime queries; no
//! DATABASE_URL at compile time). A batch costs a fixed number of round trips
//! whatever its size: rows go in as arrays through UNNEST.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use super::*;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE reporters (
    key_id TEXT PRIMARY KEY,
    weight DOUBLE PRECISION NOT NULL,
    sightings BIGINT NOT NULL,
    corroborated BIGINT NOT NULL DEFAULT 0,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE TABLE device_types (
    device_key TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    sightings BIGINT NOT NULL,
    evaluated BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX device_types_dirty ON device_types (device_key) WHERE sightings <> evaluated;
CREATE TABLE sightings (
    id BIGSERIAL PRIMARY KEY,
    reporter TEXT NOT NULL,
    network TEXT NOT NULL,
    device_key TEXT NOT NULL,
    behaviour TEXT NOT NULL,
    firmware TEXT,
    window_start BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX sightings_device ON sightings (device_key, received_at);
CREATE TABLE nonces (
    reporter TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (reporter, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);
CREATE TABLE rate_counters (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    hour BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (scope, key, hour)
);
CREATE TABLE listings (
    id TEXT COLLATE "C" PRIMARY KEY,
    device_key TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('listed', 'delisted')),
    source TEXT NOT NULL,
    suppressed BIGINT NOT NULL,
    body TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX listings_stale ON listings (state, source, last_seen);
CREATE TABLE corroborations (
    listing_id TEXT NOT NULL,
    reporter TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (listing_id, reporter)
);
CREATE TABLE fixes (
    id BIGSERIAL PRIMARY KEY,
    actor TEXT NOT NULL,
    mac_prefix TEXT NOT NULL,
    model TEXT,
    fixed_in TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE TABLE audit (
    seq BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    listing_id TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE FUNCTION warden_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION warden_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION warden_audit_append_only();
"#,
    r#"
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until BIGINT NOT NULL
);
"#,
    // The registry (docs/registry.md), and the index its device pages use to
    // find the listings that name a model.
    r#"
CREATE TABLE registry_docs (
    sha256 TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('threat-model', 'test-report')),
    device TEXT COLLATE "C" NOT NULL,
    vendor TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    scope TEXT,
    signer TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    envelope TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX registry_docs_device ON registry_docs (device, published_at);
CREATE INDEX listings_model ON listings (lower((body::jsonb) -> 'matches' ->> 'model'));
"#,
];

pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let opts: PgConnectOptions = url
            .parse()
            .map_err(|_| StoreError::BadUrl(url.to_string()))?;
        Self::connect_with(opts).await
    }

    /// Connects with explicit options (tests set a private `search_path`).
    pub async fn connect_with(opts: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        // One migrator at a time when several ingest nodes start together.
        sqlx::query("SELECT pg_advisory_xact_lock(7346142)")
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let done: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await?;
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= done {
                continue;
            }
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
            )
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn listing_from_row(r: &PgRow) -> Result<ListingRow> {
    Ok(ListingRow {
        id: r.try_get(0)?,
        device_key: r.try_get(1)?,
        state: r.try_get(2)?,
        source: r.try_get(3)?,
        suppressed: r.try_get::<i64, _>(4)? != 0,
        body: r.try_get(5)?,
        first_seen: r.try_get(6)?,
        last_seen: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

const LISTING_COLS: &str =
    "id, device_key, state, source, suppressed, body, first_seen, last_seen, updated_at";

async fn insert_audit(tx: &mut sqlx::PgConnection, a: &NewAudit) -> Result<()> {
    sqlx::query("INSERT INTO audit (at, actor, action, listing_id, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(a.at)
        .bind(&a.actor)
        .bind(&a.action)
        .bind(&a.listing_id)
        .bind(&a.reason)
        .bind(&a.detail)
        .execute(tx)
        .await?;
    Ok(())
}

const DOC_COLS: &str =
    "sha256, kind, device, vendor, model, version, scope, signer, published_at, envelope, meta";

fn doc_from_row(r: &PgRow) -> Result<RegistryDoc> {
    Ok(RegistryDoc {
        sha256: r.try_get(0)?,
        kind: r.try_get(1)?,
        device: r.try_get(2)?,
        vendor: r.try_get(3)?,
        model: r.try_get(4)?,
        version: r.try_get(5)?,
        scope: r.try_get(6)?,
        signer: r.try_get(7)?,
        published_at: r.try_get(8)?,
        envelope: r.try_get(9)?,
        meta: r.try_get(10)?,
    })
}

#[async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ingest(
        &self,
        batch: &[NewSighting],
        now: i64,
        p: &IngestParams,
    ) -> Result<Vec<Outcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let hour = now.div_euclid(3600);
        let mut tx = self.pool.begin().await?;
        // Sightings are re-sent by routers that got no answer: a crash losing
        // the last few milliseconds of accepted ones costs nothing, and not
        // waiting for the WAL flush per batch doubles throughput.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        // This hour's counter rows of every reporter and network of the batch,
        // created at zero and locked in key order: concurrent batches of the
        // same reporter or network (several ingest nodes) take turns, so limits
        // and nonces are decided on what the others wrote. Row locks, unlike
        // advisory locks, do not fill PostgreSQL's lock table.
        let mut scopes: Vec<&str> = Vec::with_capacity(2 * batch.len());
        let mut keys: Vec<&str> = Vec::with_capacity(2 * batch.len());
        for s in batch {
            scopes.push(SCOPE_REPORTER);
            keys.push(&s.reporter);
            scopes.push(SCOPE_NETWORK);
            keys.push(&s.network);
        }
        sqlx::query(
            "INSERT INTO rate_counters (scope, key, hour, count)
             SELECT DISTINCT s, k, $3::bigint, 0::bigint FROM UNNEST($1::text[], $2::text[]) AS t(s, k)
             ON CONFLICT DO NOTHING",
        )
        .bind(&scopes)
        .bind(&keys)
        .bind(hour)
        .execute(&mut *tx)
        .await?;
        let mut reps: HashMap<String, i64> = HashMap::new();
        let mut nets: HashMap<String, i64> = HashMap::new();
        for r in sqlx::query(
            "SELECT c.scope, c.key, c.count FROM rate_counters c
             JOIN (SELECT DISTINCT s, k FROM UNNEST($1::text[], $2::text[]) AS t(s, k)) b ON c.scope = b.s AND c.key = b.k
             WHERE c.hour = $3 ORDER BY c.scope COLLATE \"C\", c.key COLLATE \"C\" FOR UPDATE OF c",
        )
        .bind(&scopes)
        .bind(&keys)
        .bind(hour)
        .fetch_all(&mut *tx)
        .await?
        {
            let scope: String = r.try_get(0)?;
            let key: String = r.try_get(1)?;
            let count: i64 = r.try_get(2)?;
            if scope == SCOPE_REPORTER {
                reps.insert(key, count);
            } else {
                nets.insert(key, count);
            }
        }

        let reporters: Vec<&str> = batch.iter().map(|s| s.reporter.as_str()).collect();
        let nonces: Vec<&str> = batch.iter().map(|s| s.nonce.as_str()).collect();
        let seen: HashSet<(String, String)> = sqlx::query(
            "SELECT n.reporter, n.nonce FROM nonces n JOIN UNNEST($1::text[], $2::text[]) AS b(reporter, nonce)
               ON n.reporter = b.reporter AND n.nonce = b.nonce",
        )
        .bind(&reporters)
        .bind(&nonces)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;

        let outcomes = plan_batch(batch, &seen, &reps, &nets, p);
        if !outcomes.contains(&Outcome::Accepted) {
            tx.rollback().await?;
            return Ok(outcomes);
        }
        let acc: Vec<&NewSighting> = batch
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| **o == Outcome::Accepted)
            .map(|(s, _)| s)
            .collect();
        let col = |f: fn(&NewSighting) -> &str| -> Vec<&str> { acc.iter().map(|s| f(s)).collect() };
        let expires: Vec<i64> = acc
            .iter()
            .map(|s| s.sent_at.max(now) + p.nonce_ttl_secs)
            .collect();
        sqlx::query("INSERT INTO nonces (reporter, nonce, expires_at) SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[])")
            .bind(col(|s| &s.reporter))
            .bind(col(|s| &s.nonce))
            .bind(&expires)
            .execute(&mut *tx)
            .await?;
        let firmwares: Vec<Option<&str>> = acc.iter().map(|s| s.firmware.as_deref()).collect();
        let windows: Vec<i64> = acc.iter().map(|s| s.window_start).collect();
        sqlx::query(
            "INSERT INTO sightings (reporter, network, device_key, behaviour, firmware, window_start, received_at, detail)
             SELECT r, n, d, b, f, w, $7, x FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $8::text[])
               AS t(r, n, d, b, f, w, x)",
        )
        .bind(col(|s| &s.reporter))
        .bind(col(|s| &s.network))
        .bind(col(|s| &s.device_key))
        .bind(col(|s| &s.behaviour))
        .bind(&firmwares)
        .bind(&windows)
        .bind(now)
        .bind(col(|s| &s.detail))
        .execute(&mut *tx)
        .await?;

        let rep_tally = tally(batch, &outcomes, |s| &s.reporter);
        let net_tally = tally(batch, &outcomes, |s| &s.network);
        let mut scopes = Vec::new();
        let mut keys = Vec::new();
        let mut counts = Vec::new();
        for (k, n) in &rep_tally {
            scopes.push(SCOPE_REPORTER);
            keys.push(*k);
            counts.push(*n);
        }
        for (k, n) in &net_tally {
            scopes.push(SCOPE_NETWORK);
            keys.push(*k);
            counts.push(*n);
        }
        sqlx::query(
            "INSERT INTO rate_counters (scope, key, hour, count)
             SELECT s, k, $3, c FROM UNNEST($1::text[], $2::text[], $4::bigint[]) AS t(s, k, c)
             ON CONFLICT (scope, key, hour) DO UPDATE SET count = rate_counters.count + excluded.count",
        )
        .bind(&scopes)
        .bind(&keys)
        .bind(hour)
        .bind(&counts)
        .execute(&mut *tx)
        .await?;
        let rk: Vec<&str> = rep_tally.iter().map(|(k, _)| *k).collect();
        let rn: Vec<i64> = rep_tally.iter().map(|(_, n)| *n).collect();
        sqlx::query(
            "INSERT INTO reporters (key_id, weight, sightings, corroborated, first_seen, last_seen)
             SELECT k, $3, n, 0, $4, $4 FROM UNNEST($1::text[], $2::bigint[]) AS t(k, n)
             ON CONFLICT (key_id) DO UPDATE SET sightings = reporters.sightings + excluded.sightings,
               last_seen = excluded.last_seen",
        )
        .bind(&rk)
        .bind(&rn)
        .bind(p.initial_weight)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let dev = device_tally(batch, &outcomes);
        let dk: Vec<&str> = dev.iter().map(|d| d.0).collect();
        let dj: Vec<&str> = dev.iter().map(|d| d.1).collect();
        let dn: Vec<i64> = dev.iter().map(|d| d.2).collect();
        sqlx::query(
            "INSERT INTO device_types (device_key, device, first_seen, last_seen, sightings, evaluated)
             SELECT k, j, $4, $4, n, 0 FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS t(k, j, n)
             ON CONFLICT (device_key) DO UPDATE SET last_seen = excluded.last_seen,
               sightings = device_types.sightings + excluded.sightings",
        )
        .bind(&dk)
        .bind(&dj)
        .bind(&dn)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn dirty_device_types(&self, limit: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT device_key FROM device_types WHERE sightings <> evaluated ORDER BY device_key LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn evidence(&self, device_key: &str, since: i64) -> Result<Evidence> {
        let mut tx = self.pool.begin().await?;
        let mut ev = Evidence {
            device_key: device_key.to_string(),
            ..Default::default()
        };
        if let Some(r) =
            sqlx::query("SELECT device, sightings FROM device_types WHERE device_key = $1")
                .bind(device_key)
                .fetch_optional(&mut *tx)
                .await?
        {
            ev.device = r.try_get(0)?;
            ev.counter = r.try_get(1)?;
        }
        for r in sqlx::query(
            "SELECT s.reporter, s.network, COUNT(*)::BIGINT, MIN(s.received_at), MAX(s.received_at),
                    COALESCE(MAX(p.weight), 0)
             FROM sightings s LEFT JOIN reporters p ON p.key_id = s.reporter
             WHERE s.device_key = $1 AND s.received_at >= $2 GROUP BY s.reporter, s.network ORDER BY s.reporter, s.network",
        )
        .bind(device_key)
        .bind(since)
        .fetch_all(&mut *tx)
        .await?
        {
            let row = EvidenceRow {
                reporter: r.try_get(0)?,
                network: r.try_get(1)?,
                sightings: r.try_get(2)?,
                first_seen: r.try_get(3)?,
                last_seen: r.try_get(4)?,
            };
            ev.weights.insert(row.reporter.clone(), r.try_get(5)?);
            ev.rows.push(row);
        }
        ev.behaviours = sqlx::query_scalar(
            "SELECT DISTINCT behaviour FROM sightings WHERE device_key = $1 AND received_at >= $2 ORDER BY 1",
        )
        .bind(device_key)
        .bind(since)
        .fetch_all(&mut *tx)
        .await?;
        ev.firmwares = sqlx::query_scalar(
            "SELECT DISTINCT firmware FROM sightings WHERE device_key = $1 AND received_at >= $2
             AND firmware IS NOT NULL ORDER BY 1 LIMIT 16",
        )
        .bind(device_key)
        .bind(since)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ev)
    }

    async fn mark_evaluated(&self, device_key: &str, counter: i64) -> Result<()> {
        sqlx::query("UPDATE device_types SET evaluated = $2 WHERE device_key = $1")
            .bind(device_key)
            .bind(counter)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn listing(&self, id: &str) -> Result<Option<ListingRow>> {
        sqlx::query(&format!(
            "SELECT {LISTING_COLS} FROM listings WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(listing_from_row)
        .transpose()
    }

    async fn listing_for_device(&self, device_key: &str) -> Result<Option<ListingRow>> {
        sqlx::query(&format!(
            "SELECT {LISTING_COLS} FROM listings WHERE device_key = $1"
        ))
        .bind(device_key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(listing_from_row)
        .transpose()
    }

    async fn listings(
        &self,
        state: Option<&str>,
        after_id: &str,
        limit: i64,
    ) -> Result<Vec<ListingRow>> {
        sqlx::query(&format!(
            "SELECT {LISTING_COLS} FROM listings WHERE ($1::text IS NULL OR state = $1) AND id > $2
             ORDER BY id LIMIT $3"
        ))
        .bind(state)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(listing_from_row)
        .collect()
    }

    async fn stale_evidence_listings(&self, before: i64, limit: i64) -> Result<Vec<ListingRow>> {
        sqlx::query(&format!(
            "SELECT {LISTING_COLS} FROM listings WHERE state = 'listed' AND source = 'evidence' AND last_seen < $1
             ORDER BY id LIMIT $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(listing_from_row)
        .collect()
    }

    async fn write_listing(&self, w: &ListingWrite) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let r = &w.row;
        sqlx::query(
            "INSERT INTO listings (id, device_key, state, source, suppressed, body, first_seen, last_seen, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE SET device_key = excluded.device_key, state = excluded.state,
               source = excluded.source, suppressed = excluded.suppressed, body = excluded.body,
               first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated_at = excluded.updated_at",
        )
        .bind(&r.id)
        .bind(&r.device_key)
        .bind(&r.state)
        .bind(&r.source)
        .bind(r.suppressed as i64)
        .bind(&r.body)
        .bind(r.first_seen)
        .bind(r.last_seen)
        .bind(r.updated_at)
        .execute(&mut *tx)
        .await?;
        if let Some(a) = &w.audit {
            insert_audit(&mut tx, a).await?;
        }
        if !w.corroborate.is_empty() {
            // Only reporters not yet credited for this listing gain weight.
            sqlx::query(
                "WITH new AS (
                   INSERT INTO corroborations (listing_id, reporter, at)
                   SELECT $1, k, $3 FROM UNNEST($2::text[]) AS k
                   ON CONFLICT DO NOTHING RETURNING reporter)
                 UPDATE reporters SET corroborated = corroborated + 1,
                   weight = LEAST($4, $5 + $6 * (corroborated + 1))
                 WHERE key_id IN (SELECT reporter FROM new)",
            )
            .bind(&r.id)
            .bind(&w.corroborate)
            .bind(r.updated_at)
            .bind(w.weights.max)
            .bind(w.weights.initial)
            .bind(w.weights.step)
            .execute(&mut *tx)
            .await?;
        }
        if w.withdraw_corroboration {
            sqlx::query(
                "UPDATE reporters SET corroborated = GREATEST(corroborated - 1, 0),
                   weight = LEAST($2, $3 + $4 * GREATEST(corroborated - 1, 0))
                 WHERE key_id IN (SELECT reporter FROM corroborations WHERE listing_id = $1)",
            )
            .bind(&r.id)
            .bind(w.weights.max)
            .bind(w.weights.initial)
            .bind(w.weights.step)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM corroborations WHERE listing_id = $1")
                .bind(&r.id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((key, counter)) = &w.evaluated {
            sqlx::query("UPDATE device_types SET evaluated = $2 WHERE device_key = $1")
                .bind(key)
                .bind(counter)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add_fix(&self, fix: &FixRow, audit: &NewAudit) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO fixes (actor, mac_prefix, model, fixed_in, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&fix.actor)
            .bind(&fix.mac_prefix)
            .bind(&fix.model)
            .bind(&fix.fixed_in)
            .bind(fix.at)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fixes(&self) -> Result<Vec<FixRow>> {
        sqlx::query("SELECT actor, mac_prefix, model, fixed_in, at FROM fixes ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(FixRow {
                    actor: r.try_get(0)?,
                    mac_prefix: r.try_get(1)?,
                    model: r.try_get(2)?,
                    fixed_in: r.try_get(3)?,
                    at: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn audit(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditEntry>> {
        sqlx::query(
            "SELECT seq, at, actor, action, listing_id, reason, detail FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let detail: String = r.try_get(6)?;
            Ok(AuditEntry {
                seq: r.try_get(0)?,
                at: r.try_get(1)?,
                actor: r.try_get(2)?,
                action: r.try_get(3)?,
                listing_id: r.try_get(4)?,
                reason: r.try_get(5)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
            })
        })
        .collect()
    }

    async fn claim_nonce(&self, owner: &str, nonce: &str, expires_at: i64) -> Result<bool> {
        let r = sqlx::query("INSERT INTO nonces (reporter, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(owner)
            .bind(nonce)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn reporter(&self, key_id: &str) -> Result<Option<ReporterRow>> {
        sqlx::query("SELECT key_id, weight, sightings, corroborated, first_seen, last_seen FROM reporters WHERE key_id = $1")
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| {
                Ok(ReporterRow {
                    key_id: r.try_get(0)?,
                    weight: r.try_get(1)?,
                    sightings: r.try_get(2)?,
                    corroborated: r.try_get(3)?,
                    first_seen: r.try_get(4)?,
                    last_seen: r.try_get(5)?,
                })
            })
            .transpose()
    }

    async fn counts(&self) -> Result<Counts> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM sightings), (SELECT COUNT(*) FROM nonces), (SELECT COUNT(*) FROM reporters),
                    (SELECT COUNT(*) FROM device_types), (SELECT COUNT(*) FROM listings WHERE state = 'listed'),
                    (SELECT COUNT(*) FROM listings WHERE state = 'delisted'), (SELECT COUNT(*) FROM rate_counters),
                    (SELECT COUNT(*) FROM fixes), (SELECT COUNT(*) FROM audit)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Counts {
            sightings: r.try_get(0)?,
            nonces: r.try_get(1)?,
            reporters: r.try_get(2)?,
            device_types: r.try_get(3)?,
            listings_listed: r.try_get(4)?,
            listings_delisted: r.try_get(5)?,
            rate_counters: r.try_get(6)?,
            fixes: r.try_get(7)?,
            audit: r.try_get(8)?,
        })
    }

    async fn purge(&self, now: i64, sightings_before: i64) -> Result<u64> {
        let a = sqlx::query("DELETE FROM nonces WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let b = sqlx::query("DELETE FROM rate_counters WHERE hour < $1")
            .bind(now.div_euclid(3600) - 1)
            .execute(&self.pool)
            .await?;
        // Ids grow with time: look at the oldest rows only, never scan the table.
        let c = sqlx::query(
            "DELETE FROM sightings WHERE id IN
               (SELECT id FROM (SELECT id, received_at FROM sightings ORDER BY id LIMIT $2) AS o WHERE received_at < $1)",
        )
        .bind(sightings_before)
        .bind(PURGE_CHUNK)
        .execute(&self.pool)
        .await?;
        Ok(a.rows_affected() + b.rows_affected() + c.rows_affected())
    }

    async fn lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $4)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE leases.until < $3 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn put_document(&self, d: &RegistryDoc, audit: &NewAudit) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(&format!(
            "INSERT INTO registry_docs ({DOC_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (sha256) DO NOTHING"
        ))
        .bind(&d.sha256)
        .bind(&d.kind)
        .bind(&d.device)
        .bind(&d.vendor)
        .bind(&d.model)
        .bind(&d.version)
        .bind(&d.scope)
        .bind(&d.signer)
        .bind(d.published_at)
        .bind(&d.envelope)
        .bind(&d.meta)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            insert_audit(&mut tx, audit).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn documents(&self, device: &str, limit: i64) -> Result<Vec<RegistryDoc>> {
        sqlx::query(&format!(
            "SELECT {DOC_COLS} FROM registry_docs WHERE device = $1 ORDER BY published_at DESC, sha256 LIMIT $2"
        ))
        .bind(device)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(doc_from_row)
        .collect()
    }

    async fn document(&self, sha256: &str) -> Result<Option<RegistryDoc>> {
        sqlx::query(&format!(
            "SELECT {DOC_COLS} FROM registry_docs WHERE sha256 = $1"
        ))
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(doc_from_row)
        .transpose()
    }

    async fn registry_devices(&self, after: &str, limit: i64) -> Result<Vec<RegistryDevice>> {
        sqlx::query(
            "SELECT device, MIN(vendor), MIN(model),
                    COUNT(*) FILTER (WHERE kind = 'threat-model'), COUNT(*) FILTER (WHERE kind = 'test-report'),
                    MAX(published_at)
             FROM registry_docs WHERE device > $1 GROUP BY device ORDER BY device LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(RegistryDevice {
                device: r.try_get(0)?,
                vendor: r.try_get(1)?,
                model: r.try_get(2)?,
                threat_models: r.try_get(3)?,
                test_reports: r.try_get(4)?,
                updated_at: r.try_get(5)?,
            })
        })
        .collect()
    }

    async fn listings_for_model(&self, model: &str, limit: i64) -> Result<Vec<ListingRow>> {
        // ASCII folding on both sides, as in the SQLite store.
        sqlx::query(&format!(
            "SELECT {LISTING_COLS} FROM listings
             WHERE lower((body::jsonb) -> 'matches' ->> 'model') = $1 ORDER BY id LIMIT $2"
        ))
        .bind(model.to_ascii_lowercase())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(listing_from_row)
        .collect()
    }

    async fn execute_raw(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(sql)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
