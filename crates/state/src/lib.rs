//! The guard's state in one embedded SQLite file: devices, alerts,
//! decisions, owner choices, and a timeline of what warden did.
//!
//! - **Durable**: WAL journal with `synchronous = FULL` by default, so a
//!   commit that returned survives a power cut (see [`Durability`] and
//!   docs/policy.md for why); every multi-row change is one transaction.
//! - **Rebuildable**: every [`Change`] of the policy is recorded, and
//!   [`Store::policy_state`] gives back what [`Policy::restore`] needs, so a
//!   restart neither loses a quarantine nor leaves a stale one.
//! - **Bounded**: [`Store::retention`] deletes old rows and caps each table,
//!   never touching a decision in force, an owner's choice, or the device
//!   they belong to.
//! - **Versioned**: the schema is a list of migrations in code
//!   ([`schema::MIGRATIONS`]); `PRAGMA user_version` says how many ran.
//!
//! Every value reaches SQLite as a bound parameter; no SQL is built from
//! data.
//!
//! [`Policy::restore`]: warden_policy::Policy::restore

pub mod schema;
pub mod traffic;

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use serde::Serialize;
use warden_decode::Mac;

pub use traffic::{TrafficCounter, TrafficPoint};
use warden_detect::{Alert, AlertKind, Timestamp};
use warden_policy::{
    Action, Change, Choice, Decision, Escalation, OwnerChoice, PolicyState, Reason, Source,
};

/// Longest alert summary, device name or vendor stored (bytes); longer
/// text from the network is cut.
pub const MAX_TEXT: usize = 8_192;

const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Something the store could not do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path} was written by a newer warden (schema version {found}; this one knows up to {known})")]
    TooNew {
        path: String,
        found: u32,
        known: u32,
    },
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("state database: unreadable {what} in {table}: {value:?}")]
    Corrupt {
        table: &'static str,
        what: &'static str,
        value: String,
    },
    #[error("state database failed its integrity check: {0}")]
    Integrity(String),
}

pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// How hard a commit works to survive a power cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: the WAL is synced at every commit; a commit
    /// that returned survives a power cut. The default: warden commits a
    /// few times per incident, not per packet, so the sync costs nothing
    /// that matters, and a lost owner command or quarantine does.
    #[default]
    Full,
    /// `synchronous = NORMAL`: synced at checkpoints only; a power cut may
    /// lose the last commits (never corrupt the file). For benchmarks and
    /// write-heavy tools.
    Normal,
}

/// How to open a store.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub durability: Durability,
    /// How long to wait for another connection's write lock.
    pub busy_timeout: Duration,
    /// Open for reading only (e.g. `warden device list` beside a running
    /// daemon); the file must exist and be migrated.
    pub read_only: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::Full,
            busy_timeout: Duration::from_secs(5),
            read_only: false,
        }
    }
}

/// What [`Store::retention`] keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Alerts, ended decisions, events and idle devices older than this go.
    pub keep_days: u32,
    /// At most this many rows of alerts, of ended decisions, of events and
    /// of devices (rows that must stay do not count against it).
    pub max_rows: u32,
}

impl Default for Retention {
    fn default() -> Self {
        // About 13 MB of alerts, decisions and events at the measured row
        // sizes, plus the devices (docs/policy.md): fits a router's flash.
        Retention {
            keep_days: 90,
            max_rows: 10_000,
        }
    }
}

/// Rows [`Store::retention`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub alerts: u64,
    pub decisions: u64,
    pub events: u64,
    pub devices: u64,
}

/// A device as the store knows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRecord {
    pub mac: Mac,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub vendor: Option<String>,
    /// The identity as JSON.
    pub identity: Option<String>,
}

impl DeviceRecord {
    pub fn from_device(d: &warden_devices::Device) -> Self {
        DeviceRecord {
            mac: d.mac,
            first_seen: Timestamp(d.first_seen_ns),
            last_seen: Timestamp(d.last_seen_ns),
            vendor: d.vendor().map(str::to_owned),
            identity: serde_json::to_string(&d.identity).ok(),
        }
    }
}

/// A stored device, with what the owner and the policy added.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceRow {
    pub mac: Mac,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub name: Option<String>,
    pub vendor: Option<String>,
    pub identity: Option<String>,
    pub escalation_level: u32,
    pub escalation_until: Option<Timestamp>,
}

/// A stored alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub device: Mac,
    pub kind: AlertKind,
    pub detected_at: Timestamp,
    pub confidence: f32,
    pub summary: String,
    /// The evidence as JSON.
    pub evidence: String,
}

/// A stored decision, with how it ended if it did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionRow {
    #[serde(flatten)]
    pub decision: Decision,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<String>,
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: Timestamp,
    pub device: Option<Mac>,
    /// alert, decision-started, decision-extended, decision-ended,
    /// owner-trust, owner-quarantine, owner-release, or what the daemon
    /// records itself (e.g. start).
    pub kind: String,
    pub message: String,
}

/// What the owner asked for, queued for the daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerCommand {
    Trust,
    Release,
    Quarantine,
    /// The owner's profile mapping of the device changed (`device_profiles`).
    Profile,
}

impl OwnerCommand {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerCommand::Trust => "trust",
            OwnerCommand::Release => "release",
            OwnerCommand::Quarantine => "quarantine",
            OwnerCommand::Profile => "profile",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            OwnerCommand::Trust,
            OwnerCommand::Release,
            OwnerCommand::Quarantine,
            OwnerCommand::Profile,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// The owner's profile mapping of one device (`warden device profile`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileMapping {
    /// `model`, `mud`, `learned`, or `none` (no profile, whatever the
    /// device's MUD URL or a matching model say).
    pub source: String,
    /// Where it came from, for people.
    pub label: String,
    /// A threat model's `network` section as JSON; None for `none`.
    pub network: Option<String>,
    pub since: Timestamp,
}

/// What the guard learned of a device without a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LearnedProfile {
    pub since: Timestamp,
    pub updated: Timestamp,
    /// A threat model's `network` section as JSON.
    pub network: String,
    /// Flows left out: internet addresses without a name.
    pub unnamed: u64,
}

/// A queued owner command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueuedCommand {
    pub id: i64,
    pub device: Mac,
    pub command: OwnerCommand,
    pub at: Timestamp,
}

/// The state database.
pub struct Store {
    conn: Connection,
}

fn clip(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn mac_of(s: String, table: &'static str) -> Result<Mac> {
    s.parse().map_err(|_| StateError::Corrupt {
        table,
        what: "MAC",
        value: s,
    })
}

impl Store {
    /// Opens (creating and migrating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, &OpenOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Store> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let flags = if opts.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let open_err = |source| StateError::Open {
            path: name.clone(),
            source,
        };
        let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(opts.busy_timeout).map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(open_err)?;
        if opts.read_only {
            let store = Store { conn };
            let (found, known) = (store.schema_version()?, schema::MIGRATIONS.len() as u32);
            if found != known {
                return Err(StateError::TooNew {
                    path: name,
                    found,
                    known,
                });
            }
            return Ok(store);
        }
        if schema::version(&conn)? == 0 {
            // Only possible before the first table: lets retention give
            // freed pages back to the file system.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
                .map_err(open_err)?;
        }
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError::Integrity(format!(
                "{name}: journal mode {mode}, not WAL"
            )));
        }
        let sync = match opts.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(open_err)?;
        // The WAL is truncated back to this after checkpoints (bytes).
        conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)
            .map_err(open_err)?;
        schema::migrate(&mut conn, schema::MIGRATIONS, &name)?;
        Ok(Store { conn })
    }

    /// The underlying connection, for tools and tests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn schema_version(&self) -> Result<u32> {
        schema::version(&self.conn)
    }

    /// SQLite's own full check of the file.
    pub fn integrity_check(&self) -> Result<()> {
        let mut problems = Vec::new();
        self.conn.pragma_query(None, "integrity_check", |r| {
            problems.push(r.get::<_, String>(0)?);
            Ok(())
        })?;
        let mut fk = self.conn.prepare("PRAGMA foreign_key_check")?;
        let broken = fk.query_map([], |r| r.get::<_, String>(0))?.count();
        if problems != ["ok"] || broken > 0 {
            problems.push(format!("{broken} rows break foreign keys"));
            return Err(StateError::Integrity(problems.join("; ")));
        }
        Ok(())
    }

    // ---- devices

    /// Inserts or refreshes a device (first/last seen widen, vendor and
    /// identity replace when given; the owner's name is kept).
    pub fn upsert_device(&mut self, d: &DeviceRecord) -> Result<()> {
        self.upsert_devices(std::slice::from_ref(d))
    }

    /// Many devices in one transaction (the daemon's periodic flush).
    pub fn upsert_devices(&mut self, devices: &[DeviceRecord]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO devices (mac, first_seen, last_seen, vendor, identity)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (mac) DO UPDATE SET
                   first_seen = min(first_seen, excluded.first_seen),
                   last_seen = max(last_seen, excluded.last_seen),
                   vendor = coalesce(excluded.vendor, vendor),
                   identity = coalesce(excluded.identity, identity)",
            )?;
            for d in devices {
                let identity = d
                    .identity
                    .as_deref()
                    .filter(|j| serde_json::from_str::<serde::de::IgnoredAny>(j).is_ok());
                stmt.execute(params![
                    d.mac.to_string(),
                    d.first_seen.0,
                    d.last_seen.0,
                    d.vendor.as_deref().map(clip),
                    identity,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The owner names a device (None clears). False if it is unknown.
    pub fn set_device_name(&mut self, mac: Mac, name: Option<&str>) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE devices SET name = ?2 WHERE mac = ?1",
            params![mac.to_string(), name.map(clip)],
        )?;
        Ok(n == 1)
    }

    pub fn device(&self, mac: Mac) -> Result<Option<DeviceRow>> {
        let row = self
            .conn
            .prepare_cached(&format!("{DEVICE_COLUMNS} WHERE mac = ?1"))?
            .query_row([mac.to_string()], raw_device)
            .optional()?;
        row.map(device_row).transpose()
    }

    /// All devices, most recently seen first.
    pub fn devices(&self) -> Result<Vec<DeviceRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{DEVICE_COLUMNS} ORDER BY last_seen DESC, mac"))?;
        let rows = stmt.query_map([], raw_device)?;
        rows.map(|r| device_row(r?)).collect()
    }

    // ---- alerts

    /// Stores an alert (and the device, if new); returns its id.
    pub fn record_alert(&mut self, device: Mac, alert: &Alert, summary: &str) -> Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_device(&tx, device, alert.detected_at)?;
        tx.prepare_cached("UPDATE devices SET last_seen = max(last_seen, ?2) WHERE mac = ?1")?
            .execute(params![device.to_string(), alert.detected_at.0])?;
        let evidence = serde_json::to_string(&alert.evidence).unwrap_or_else(|_| "{}".into());
        let confidence = if alert.confidence.is_finite() {
            f64::from(alert.confidence)
        } else {
            0.0
        };
        tx.prepare_cached(
            "INSERT INTO alerts (device, kind, detected_at, confidence, summary, evidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            device.to_string(),
            alert.kind.as_str(),
            alert.detected_at.0,
            confidence,
            clip(summary),
            evidence,
        ])?;
        let id = tx.last_insert_rowid();
        insert_event(
            &tx,
            alert.detected_at,
            Some(device),
            "alert",
            clip(summary),
            None,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// The newest alerts, of one device or of all.
    pub fn alerts(&self, device: Option<Mac>, limit: u32) -> Result<Vec<AlertRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, device, kind, detected_at, confidence, summary, evidence FROM alerts
             WHERE ?1 IS NULL OR device = ?1 ORDER BY detected_at DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![device.map(|m| m.to_string()), limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, f64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        rows.map(|r| {
            let (id, mac, kind, at, confidence, summary, evidence) = r?;
            Ok(AlertRow {
                id,
                device: mac_of(mac, "alerts")?,
                kind: AlertKind::parse(&kind).ok_or(StateError::Corrupt {
                    table: "alerts",
                    what: "kind",
                    value: kind.clone(),
                })?,
                detected_at: Timestamp(at),
                confidence: confidence as f32,
                summary,
                evidence,
            })
        })
        .collect()
    }

    // ---- decisions and owner choices

    /// Records one change of the policy.
    pub fn record_change(&mut self, change: &Change) -> Result<()> {
        self.record_changes(std::slice::from_ref(change))
    }

    /// Records the changes of one policy call, in one transaction: all of
    /// them or none survive a crash.
    pub fn record_changes(&mut self, changes: &[Change]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for c in changes {
            apply_change(&tx, c)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The decisions in force at `now`, by device then id: what the
    /// enforcer rebuilds on start.
    pub fn active_decisions(&self, now: Timestamp) -> Result<Vec<Decision>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{DECISION_COLUMNS} WHERE ended_at IS NULL AND (expires IS NULL OR expires > ?1)
             ORDER BY device, id"
        ))?;
        let rows = stmt.query_map([now.0], raw_decision)?;
        rows.map(|r| decision_row(r?).map(|d| d.decision)).collect()
    }

    /// A device's decisions, newest first, ended ones included.
    pub fn decisions(&self, device: Mac, limit: u32) -> Result<Vec<DecisionRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{DECISION_COLUMNS} WHERE device = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![device.to_string(), limit], raw_decision)?;
        rows.map(|r| decision_row(r?)).collect()
    }

    pub fn owner_choices(&self) -> Result<Vec<OwnerChoice>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT device, choice, since FROM owner_choices ORDER BY device")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (mac, choice, since) = r?;
            Ok(OwnerChoice {
                device: mac_of(mac, "owner_choices")?,
                choice: Choice::parse(&choice).ok_or(StateError::Corrupt {
                    table: "owner_choices",
                    what: "choice",
                    value: choice.clone(),
                })?,
                since: Timestamp(since),
            })
        })
        .collect()
    }

    /// Sets (or, with None, clears) the owner's choice for a device. The
    /// daemon records it through [`record_change`](Self::record_change)
    /// of the policy's `Change::Owner`; this is that step alone.
    pub fn set_owner_choice(
        &mut self,
        device: Mac,
        choice: Option<Choice>,
        at: Timestamp,
    ) -> Result<()> {
        self.record_change(&Change::Owner { device, choice, at })
    }

    /// What [`Policy::restore`](warden_policy::Policy::restore) needs:
    /// the decisions not ended, the owner's choices, the escalation
    /// memories, and the next decision id.
    pub fn policy_state(&self) -> Result<PolicyState> {
        // One read transaction: a consistent view while the daemon writes.
        let tx = self.conn.unchecked_transaction()?;
        let decisions = {
            let mut stmt = tx.prepare_cached(&format!(
                "{DECISION_COLUMNS} WHERE ended_at IS NULL ORDER BY id"
            ))?;
            let rows = stmt.query_map([], raw_decision)?;
            rows.map(|r| decision_row(r?).map(|d| d.decision))
                .collect::<Result<Vec<_>>>()?
        };
        let owner_choices = self.owner_choices()?;
        let escalations = {
            let mut stmt = tx.prepare_cached(
                "SELECT mac, escalation_level, escalation_until FROM devices
                 WHERE escalation_until IS NOT NULL ORDER BY mac",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            rows.map(|r| {
                let (mac, level, until) = r?;
                Ok(Escalation {
                    device: mac_of(mac, "devices")?,
                    level: u32::try_from(level).unwrap_or(0),
                    until: Some(Timestamp(until)),
                })
            })
            .collect::<Result<Vec<_>>>()?
        };
        let next_id: i64 = tx.query_row(
            "SELECT value FROM meta WHERE key = 'next_decision_id'",
            [],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(PolicyState {
            decisions,
            owner_choices,
            escalations,
            next_id: u64::try_from(next_id).unwrap_or(1).max(1),
        })
    }

    // ---- profile mappings (CLI -> daemon, with an owner command)

    /// Stores (replaces) the owner's profile mapping of `device`.
    pub fn set_profile_mapping(&mut self, device: Mac, m: &ProfileMapping) -> Result<()> {
        self.conn.execute(
            "INSERT INTO device_profiles (device, source, label, network, since)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (device) DO UPDATE SET source = ?2, label = ?3, network = ?4, since = ?5",
            params![
                device.to_string(),
                m.source,
                clip(&m.label),
                m.network,
                m.since.0
            ],
        )?;
        Ok(())
    }

    /// Stores (replaces) what the guard learned of `device`; the device is
    /// created if the store does not know it yet.
    pub fn set_learned_profile(&mut self, device: Mac, l: &LearnedProfile) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_device(&tx, device, l.updated)?;
        tx.execute(
            "INSERT INTO learned_profiles (device, since, updated, network, unnamed)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (device) DO UPDATE SET since = ?2, updated = ?3, network = ?4, unnamed = ?5",
            params![
                device.to_string(),
                l.since.0,
                l.updated.0,
                l.network,
                i64::try_from(l.unnamed).unwrap_or(i64::MAX)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// What the guard learned of `device`, if anything.
    pub fn learned_profile(&self, device: Mac) -> Result<Option<LearnedProfile>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT since, updated, network, unnamed FROM learned_profiles WHERE device = ?1",
        )?;
        let mut rows = stmt.query_map(params![device.to_string()], |r| {
            Ok(LearnedProfile {
                since: Timestamp(r.get(0)?),
                updated: Timestamp(r.get(1)?),
                network: r.get(2)?,
                unnamed: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            })
        })?;
        Ok(rows.next().transpose()?)
    }

    /// Forgets the owner's mapping of `device`.
    pub fn clear_profile_mapping(&mut self, device: Mac) -> Result<()> {
        self.conn.execute(
            "DELETE FROM device_profiles WHERE device = ?1",
            params![device.to_string()],
        )?;
        Ok(())
    }

    /// The owner's mapping of `device`, if any.
    pub fn profile_mapping(&self, device: Mac) -> Result<Option<ProfileMapping>> {
        Ok(self
            .profile_mappings_where(Some(device))?
            .into_iter()
            .next()
            .map(|(_, m)| m))
    }

    /// Every owner mapping.
    pub fn profile_mappings(&self) -> Result<Vec<(Mac, ProfileMapping)>> {
        self.profile_mappings_where(None)
    }

    fn profile_mappings_where(&self, device: Option<Mac>) -> Result<Vec<(Mac, ProfileMapping)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT device, source, label, network, since FROM device_profiles
             WHERE ?1 IS NULL OR device = ?1 ORDER BY device",
        )?;
        let rows = stmt.query_map(params![device.map(|d| d.to_string())], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ProfileMapping {
                    source: r.get(1)?,
                    label: r.get(2)?,
                    network: r.get(3)?,
                    since: Timestamp(r.get(4)?),
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mac, m) = row?;
            out.push((mac_of(mac, "device_profiles")?, m));
        }
        Ok(out)
    }

    // ---- owner commands (CLI -> daemon)

    /// Queues an owner command for the daemon (which polls for them).
    pub fn queue_command(
        &mut self,
        device: Mac,
        command: OwnerCommand,
        at: Timestamp,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO owner_commands (device, command, at) VALUES (?1, ?2, ?3)",
            params![device.to_string(), command.as_str(), at.0],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Commands not carried out yet, oldest first.
    pub fn pending_commands(&self) -> Result<Vec<QueuedCommand>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, device, command, at FROM owner_commands WHERE done_at IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, device, command, at) = row?;
            let Some(command) = OwnerCommand::parse(&command) else {
                continue; // the CHECK constraint makes this unreachable
            };
            out.push(QueuedCommand {
                id,
                device: mac_of(device, "owner_commands")?,
                command,
                at: Timestamp(at),
            });
        }
        Ok(out)
    }

    /// Marks a command carried out.
    pub fn finish_command(&mut self, id: i64, at: Timestamp) -> Result<()> {
        self.conn.execute(
            "UPDATE owner_commands SET done_at = ?2 WHERE id = ?1",
            params![id, at.0],
        )?;
        Ok(())
    }

    // ---- timeline

    /// Records something the daemon did that is not a policy change (e.g.
    /// "started", "rules rebuilt").
    pub fn record_event(
        &mut self,
        at: Timestamp,
        device: Option<Mac>,
        kind: &str,
        message: &str,
    ) -> Result<()> {
        insert_event(&self.conn, at, device, clip(kind), clip(message), None)
    }

    /// The newest event of one of these kinds (e.g. the last feed sync).
    pub fn latest_event(&self, kinds: &[&str]) -> Result<Option<Event>> {
        let mut newest: Option<Event> = None;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, device, kind, message FROM events WHERE kind = ?1
             ORDER BY at DESC, id DESC LIMIT 1",
        )?;
        for kind in kinds {
            let row = stmt
                .query_row([kind], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .optional()?;
            if let Some((id, at, device, kind, message)) = row {
                let e = Event {
                    id,
                    at: Timestamp(at),
                    device: device.map(|m| mac_of(m, "events")).transpose()?,
                    kind,
                    message,
                };
                if newest.as_ref().is_none_or(|n| (e.at, e.id) > (n.at, n.id)) {
                    newest = Some(e);
                }
            }
        }
        Ok(newest)
    }

    /// The newest events first.
    pub fn timeline(&self, limit: u32) -> Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, at, device, kind, message FROM events ORDER BY at DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        rows.map(|r| {
            let (id, at, device, kind, message) = r?;
            Ok(Event {
                id,
                at: Timestamp(at),
                device: device.map(|m| mac_of(m, "events")).transpose()?,
                kind,
                message,
            })
        })
        .collect()
    }

    // ---- retention

    /// Deletes what is older than `keep_days` and caps each table at
    /// `max_rows` (newest kept), in one transaction, then returns the freed
    /// pages to the file system. Decisions not ended, owner choices, and the
    /// devices that have either (or a live escalation memory) always stay.
    pub fn retention(&mut self, now: Timestamp, keep: &Retention) -> Result<RetentionReport> {
        let cutoff = now
            .0
            .saturating_sub(i64::from(keep.keep_days).saturating_mul(NS_PER_DAY));
        let max = i64::from(keep.max_rows);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut report = RetentionReport::default();
        // Devices first: their alerts and ended decisions go with them.
        let unprotected = "NOT EXISTS (SELECT 1 FROM owner_choices o WHERE o.device = devices.mac)
             AND NOT EXISTS (SELECT 1 FROM decisions x
                             WHERE x.device = devices.mac AND x.ended_at IS NULL)
             AND (devices.escalation_until IS NULL OR devices.escalation_until <= ?1)";
        report.devices += tx.execute(
            &format!("DELETE FROM devices WHERE last_seen < ?2 AND {unprotected}"),
            params![now.0, cutoff],
        )? as u64;
        report.devices += tx.execute(
            &format!(
                "DELETE FROM devices WHERE mac IN (
                   SELECT mac FROM devices WHERE {unprotected}
                   ORDER BY last_seen DESC, mac LIMIT -1 OFFSET ?2)"
            ),
            params![now.0, max],
        )? as u64;
        // Owner commands carried out long ago are history (the decisions
        // they caused are kept with the decisions).
        tx.execute(
            "DELETE FROM owner_commands WHERE done_at IS NOT NULL AND done_at < ?1",
            [cutoff],
        )?;
        report.alerts += tx.execute("DELETE FROM alerts WHERE detected_at < ?1", [cutoff])? as u64;
        report.alerts += tx.execute(
            "DELETE FROM alerts WHERE id IN (
               SELECT id FROM alerts ORDER BY id DESC LIMIT -1 OFFSET ?1)",
            [max],
        )? as u64;
        report.decisions += tx.execute(
            "DELETE FROM decisions WHERE ended_at IS NOT NULL AND ended_at < ?1",
            [cutoff],
        )? as u64;
        report.decisions += tx.execute(
            "DELETE FROM decisions WHERE id IN (
               SELECT id FROM decisions WHERE ended_at IS NOT NULL
               ORDER BY id DESC LIMIT -1 OFFSET ?1)",
            [max],
        )? as u64;
        report.events += tx.execute("DELETE FROM events WHERE at < ?1", [cutoff])? as u64;
        report.events += tx.execute(
            "DELETE FROM events WHERE id IN (
               SELECT id FROM events ORDER BY id DESC LIMIT -1 OFFSET ?1)",
            [max],
        )? as u64;
        tx.commit()?;
        self.conn.execute_batch("PRAGMA incremental_vacuum;")?;
        Ok(report)
    }

    /// Rows per table: alerts, decisions, events, devices, owner choices.
    pub fn counts(&self) -> Result<[u64; 5]> {
        let mut out = [0u64; 5];
        for (i, table) in ["alerts", "decisions", "events", "devices", "owner_choices"]
            .iter()
            .enumerate()
        {
            let n: i64 =
                self.conn
                    .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            out[i] = n as u64;
        }
        Ok(out)
    }
}

const DEVICE_COLUMNS: &str = "SELECT mac, first_seen, last_seen, name, vendor, identity,
    escalation_level, escalation_until FROM devices";

type RawDevice = (
    String,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

fn raw_device(r: &Row<'_>) -> rusqlite::Result<RawDevice> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn device_row(r: RawDevice) -> Result<DeviceRow> {
    let (mac, first, last, name, vendor, identity, level, until) = r;
    Ok(DeviceRow {
        mac: mac_of(mac, "devices")?,
        first_seen: Timestamp(first),
        last_seen: Timestamp(last),
        name,
        vendor,
        identity,
        escalation_level: u32::try_from(level).unwrap_or(0),
        escalation_until: until.map(Timestamp),
    })
}

const DECISION_COLUMNS: &str = "SELECT id, device, action, reason, alert_kind, evidence, source,
    start, expires, escalation_level, ended_at, end_reason FROM decisions";

struct RawDecision {
    id: i64,
    device: String,
    action: String,
    reason: String,
    alert_kind: Option<String>,
    evidence: String,
    source: String,
    start: i64,
    expires: Option<i64>,
    level: i64,
    ended_at: Option<i64>,
    end_reason: Option<String>,
}

fn raw_decision(r: &Row<'_>) -> rusqlite::Result<RawDecision> {
    Ok(RawDecision {
        id: r.get(0)?,
        device: r.get(1)?,
        action: r.get(2)?,
        reason: r.get(3)?,
        alert_kind: r.get(4)?,
        evidence: r.get(5)?,
        source: r.get(6)?,
        start: r.get(7)?,
        expires: r.get(8)?,
        level: r.get(9)?,
        ended_at: r.get(10)?,
        end_reason: r.get(11)?,
    })
}

fn decision_row(r: RawDecision) -> Result<DecisionRow> {
    let corrupt = |what, value: &str| StateError::Corrupt {
        table: "decisions",
        what,
        value: value.to_owned(),
    };
    let action: Action =
        serde_json::from_str(&r.action).map_err(|_| corrupt("action", &r.action))?;
    let source: Source = r.source.parse().map_err(|_| corrupt("source", &r.source))?;
    let alert = match &r.alert_kind {
        None => None,
        Some(k) => Some(AlertKind::parse(k).ok_or_else(|| corrupt("alert kind", k))?),
    };
    Ok(DecisionRow {
        decision: Decision {
            id: u64::try_from(r.id).map_err(|_| corrupt("id", &r.id.to_string()))?,
            device: mac_of(r.device, "decisions")?,
            action,
            reason: Reason {
                alert,
                text: r.reason,
                evidence: r.evidence,
            },
            source,
            start: Timestamp(r.start),
            expires: r.expires.map(Timestamp),
            escalation_level: u32::try_from(r.level).unwrap_or(0),
        },
        ended_at: r.ended_at.map(Timestamp),
        end_reason: r.end_reason,
    })
}

fn ensure_device(conn: &Connection, device: Mac, at: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO devices (mac, first_seen, last_seen) VALUES (?1, ?2, ?2)
         ON CONFLICT (mac) DO NOTHING",
    )?
    .execute(params![device.to_string(), at.0])?;
    Ok(())
}

fn insert_event(
    conn: &Connection,
    at: Timestamp,
    device: Option<Mac>,
    kind: &str,
    message: &str,
    data: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (at, device, kind, message, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        at.0,
        device.map(|m| m.to_string()),
        kind,
        message,
        data
    ])?;
    Ok(())
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn apply_change(tx: &Connection, c: &Change) -> Result<()> {
    let message = c.headline();
    // The event points at the decision; the decision row has the rest.
    let data = match c {
        Change::Started(d) => serde_json::json!({
            "decision": d.id, "action": d.action.kind(), "source": d.source,
            "expires": d.expires, "escalation_level": d.escalation_level,
        }),
        Change::Extended {
            id,
            expires,
            escalation_level,
            ..
        } => serde_json::json!({
            "decision": id, "expires": expires, "escalation_level": escalation_level,
        }),
        Change::Ended { id, why, .. } => serde_json::json!({ "decision": id, "why": why }),
        Change::Owner { choice, .. } => serde_json::json!({ "choice": choice }),
        Change::Escalation(e) => serde_json::json!(e),
    }
    .to_string();
    let data = Some(data);
    let event = |kind: &str, at: Timestamp| {
        insert_event(
            tx,
            at,
            Some(c.device()),
            kind,
            clip(message.as_deref().unwrap_or("")),
            data.as_deref(),
        )
    };
    match c {
        Change::Started(d) => {
            ensure_device(tx, d.device, d.start)?;
            let action = serde_json::to_string(&d.action).unwrap_or_default();
            tx.prepare_cached(
                "INSERT INTO decisions (id, device, action, reason, alert_kind, evidence, source,
                   start, expires, escalation_level)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                i64_of(d.id),
                d.device.to_string(),
                action,
                clip(&d.reason.text),
                d.reason.alert.map(AlertKind::as_str),
                clip(&d.reason.evidence),
                d.source.to_string(),
                d.start.0,
                d.expires.map(|e| e.0),
                d.escalation_level,
            ])?;
            tx.prepare_cached(
                "UPDATE meta SET value = max(value, ?1) WHERE key = 'next_decision_id'",
            )?
            .execute([i64_of(d.id.saturating_add(1))])?;
            event("decision-started", d.start)?;
        }
        Change::Extended {
            id,
            expires,
            escalation_level,
            at,
            ..
        } => {
            tx.prepare_cached(
                "UPDATE decisions SET expires = ?2, escalation_level = ?3
                 WHERE id = ?1 AND ended_at IS NULL",
            )?
            .execute(params![i64_of(*id), expires.map(|e| e.0), escalation_level])?;
            event("decision-extended", *at)?;
        }
        Change::Ended { id, why, at, .. } => {
            tx.prepare_cached(
                "UPDATE decisions SET ended_at = ?2, end_reason = ?3
                 WHERE id = ?1 AND ended_at IS NULL",
            )?
            .execute(params![i64_of(*id), at.0, why.as_str()])?;
            event("decision-ended", *at)?;
        }
        Change::Owner { device, choice, at } => {
            ensure_device(tx, *device, *at)?;
            match choice {
                Some(choice) => {
                    tx.prepare_cached(
                        "INSERT INTO owner_choices (device, choice, since) VALUES (?1, ?2, ?3)
                         ON CONFLICT (device) DO UPDATE SET choice = excluded.choice,
                           since = excluded.since",
                    )?
                    .execute(params![
                        device.to_string(),
                        choice.as_str(),
                        at.0
                    ])?;
                }
                None => {
                    tx.prepare_cached("DELETE FROM owner_choices WHERE device = ?1")?
                        .execute([device.to_string()])?;
                }
            }
            let kind = match choice {
                Some(Choice::Trust) => "owner-trust",
                Some(Choice::Quarantine) => "owner-quarantine",
                None => "owner-release",
            };
            event(kind, *at)?;
        }
        Change::Escalation(e) => {
            // The row exists: a live memory comes with a decision recorded
            // before it, and retention keeps devices with live memories.
            // A memory being cleared for a forgotten device clears nothing.
            tx.prepare_cached(
                "UPDATE devices SET escalation_level = ?2, escalation_until = ?3 WHERE mac = ?1",
            )?
            .execute(params![e.device.to_string(), e.level, e.until.map(|u| u.0)])?;
        }
    }
    Ok(())
}
