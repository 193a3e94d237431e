//! The schema, as an ordered list of migrations. The database's
//! `PRAGMA user_version` is the number of migrations applied; opening a
//! database applies the missing ones, each in one transaction with the
//! version bump, so a crash mid-migration leaves the old version intact.
//! Never edit a released migration: append a new one.

use rusqlite::{Connection, TransactionBehavior};

use crate::StateError;

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// Version 1. Times are nanoseconds since the Unix epoch (UTC); MACs are
/// lower-case `aa:bb:cc:dd:ee:ff`; JSON columns are checked with
/// `json_valid`. STRICT tables refuse values of the wrong type.
const V1: &str = r#"
CREATE TABLE devices (
    mac TEXT PRIMARY KEY NOT NULL CHECK (length(mac) = 17),
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    -- Given by the owner; warden never changes it.
    name TEXT,
    vendor TEXT,
    -- The latest identity (warden_identify::Identity as JSON).
    identity TEXT CHECK (identity IS NULL OR json_valid(identity)),
    -- The policy's escalation memory (warden_policy::Escalation).
    escalation_level INTEGER NOT NULL DEFAULT 0,
    escalation_until INTEGER
) STRICT;

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('flood', 'scan', 'spam', 'brute-force')),
    detected_at INTEGER NOT NULL,
    confidence REAL NOT NULL,
    summary TEXT NOT NULL,
    evidence TEXT NOT NULL CHECK (json_valid(evidence))
) STRICT;
CREATE INDEX alerts_by_device ON alerts (device, detected_at);
CREATE INDEX alerts_by_time ON alerts (detected_at);

CREATE TABLE decisions (
    -- The policy's decision id.
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    -- warden_policy::Action as JSON, e.g. {"action":"quarantine"}.
    action TEXT NOT NULL CHECK (json_valid(action)),
    reason TEXT NOT NULL,
    alert_kind TEXT,
    evidence TEXT NOT NULL,
    -- automatic:<alert kind> | owner | feed:<entry>
    source TEXT NOT NULL,
    start INTEGER NOT NULL,
    -- NULL: until the owner changes it.
    expires INTEGER,
    escalation_level INTEGER NOT NULL,
    ended_at INTEGER,
    end_reason TEXT,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
) STRICT;
CREATE INDEX decisions_open ON decisions (device) WHERE ended_at IS NULL;
CREATE INDEX decisions_by_device ON decisions (device, id);

CREATE TABLE owner_choices (
    device TEXT PRIMARY KEY NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    choice TEXT NOT NULL CHECK (choice IN ('trust', 'quarantine')),
    since INTEGER NOT NULL
) STRICT;

-- What happened and what warden did, for the timeline of the dashboard.
-- No foreign key: the story outlives a forgotten device.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    device TEXT,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT CHECK (data IS NULL OR json_valid(data))
) STRICT;
CREATE INDEX events_by_time ON events (at);

CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('next_decision_id', 1);
"#;

/// The owner's commands from the CLI to the running daemon (`warden device
/// trust|release|quarantine`): queued here, carried out by the daemon's
/// policy, which records the resulting changes like any other.
const V2: &str = r#"
CREATE TABLE owner_commands (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL CHECK (length(device) = 17),
    command TEXT NOT NULL CHECK (command IN ('trust', 'release', 'quarantine')),
    at INTEGER NOT NULL,
    done_at INTEGER
) STRICT;
CREATE INDEX owner_commands_pending ON owner_commands (done_at, id);
"#;

/// Device network profiles (docs/profiles.md): the `profile-violation`
/// alert kind, the owner's `profile` command, and the owner's mapping of a
/// device to a profile. SQLite cannot change a CHECK constraint, so the two
/// tables are rebuilt with their rows.
const V3: &str = r#"
CREATE TABLE alerts_v3 (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('flood', 'scan', 'spam', 'brute-force', 'profile-violation')),
    detected_at INTEGER NOT NULL,
    confidence REAL NOT NULL,
    summary TEXT NOT NULL,
    evidence TEXT NOT NULL CHECK (json_valid(evidence))
) STRICT;
INSERT INTO alerts_v3 SELECT id, device, kind, detected_at, confidence, summary, evidence FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v3 RENAME TO alerts;
CREATE INDEX alerts_by_device ON alerts (device, detected_at);
CREATE INDEX alerts_by_time ON alerts (detected_at);

CREATE TABLE owner_commands_v3 (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL CHECK (length(device) = 17),
    command TEXT NOT NULL CHECK (command IN ('trust', 'release', 'quarantine', 'profile')),
    at INTEGER NOT NULL,
    done_at INTEGER
) STRICT;
INSERT INTO owner_commands_v3 SELECT id, device, command, at, done_at FROM owner_commands;
DROP TABLE owner_commands;
ALTER TABLE owner_commands_v3 RENAME TO owner_commands;
CREATE INDEX owner_commands_pending ON owner_commands (done_at, id);

-- The owner's word on a device's profile (`warden device profile`); it wins
-- over a MUD URL and a matched threat model. No foreign key: a device may
-- be mapped before it is first seen.
CREATE TABLE device_profiles (
    device TEXT PRIMARY KEY NOT NULL CHECK (length(device) = 17),
    -- model | mud | learned | none (the owner says: no profile)
    source TEXT NOT NULL CHECK (source IN ('model', 'mud', 'learned', 'none')),
    -- Where it came from, for people: a file name, a URL.
    label TEXT NOT NULL,
    -- A threat model's `network` section as JSON; NULL for `none`.
    network TEXT CHECK (network IS NULL OR json_valid(network)),
    since INTEGER NOT NULL,
    CHECK ((source = 'none') = (network IS NULL))
) STRICT;
"#;

/// Per-device traffic counters: minutes for 24 h, hours for 7 days
/// (crate::traffic).
const V4: &str = crate::traffic::SCHEMA;

/// What the guard learned of devices without a profile, proposed to the
/// owner as one (`warden device profile MAC --learned`). One row per
/// device, replaced as the guard learns; gone with the device.
const V5: &str = r#"
CREATE TABLE learned_profiles (
    device TEXT PRIMARY KEY NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    -- When the guard began and last added to what it learned.
    since INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    -- A threat model's `network` section as JSON.
    network TEXT NOT NULL CHECK (json_valid(network)),
    -- Flows seen that a profile cannot express (internet addresses with no
    -- name the device looked up), left out of the proposal.
    unnamed INTEGER NOT NULL
) STRICT;
"#;

pub fn version(conn: &Connection) -> Result<u32, StateError> {
    let v: i64 = conn.query_row("SELECT user_version FROM pragma_user_version", [], |r| {
        r.get(0)
    })?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

/// Brings the database up to `migrations.len()`.
pub fn migrate(conn: &mut Connection, migrations: &[&str], path: &str) -> Result<(), StateError> {
    let known = migrations.len() as u32;
    loop {
        // Read the version inside the write transaction: two processes
        // opening a new file at once must not both migrate.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        if found > known {
            return Err(StateError::TooNew {
                path: path.to_owned(),
                found,
                known,
            });
        }
        if found == known {
            tx.commit()?;
            return Ok(());
        }
        tx.execute_batch(migrations[found as usize])?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}
