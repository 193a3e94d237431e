//! Per-device traffic counters (docs/dashboard.md): packets and bytes per
//! device per minute for the last 24 hours, rolled up into hours kept for
//! 7 days. The guard counts frames in memory ([`TrafficCounter`]) and
//! writes them in one transaction per batch, never per packet.

use std::collections::HashMap;

use rusqlite::{params, TransactionBehavior};
use serde::Serialize;
use warden_decode::{LinkType, Mac};
use warden_detect::Timestamp;

use crate::{mac_of, Result, Store};

pub const NS_PER_MINUTE: i64 = 60 * 1_000_000_000;
pub const NS_PER_HOUR: i64 = 60 * NS_PER_MINUTE;
/// Minutes are kept this long, then rolled into hours.
pub const MINUTES_KEPT_NS: i64 = 24 * NS_PER_HOUR;
/// Hours are kept this long.
pub const HOURS_KEPT_NS: i64 = 7 * 24 * NS_PER_HOUR;

/// The schema of the two tables (a migration in [`crate::schema`]). A
/// device's counters go with the device.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE traffic_minutes (
    device TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    -- Start of the minute (ns since the Unix epoch, a multiple of 60 s).
    start INTEGER NOT NULL,
    packets INTEGER NOT NULL CHECK (packets >= 0),
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (device, start)
) STRICT, WITHOUT ROWID;
CREATE INDEX traffic_minutes_by_time ON traffic_minutes (start);

CREATE TABLE traffic_hours (
    device TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    packets INTEGER NOT NULL CHECK (packets >= 0),
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (device, start)
) STRICT, WITHOUT ROWID;
CREATE INDEX traffic_hours_by_time ON traffic_hours (start);
"#;

/// Packets and bytes of one device in one minute (or hour).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TrafficPoint {
    pub device: Mac,
    /// Start of the interval.
    pub start: Timestamp,
    /// 60 (a minute) or 3,600 (an hour).
    pub seconds: u32,
    /// Frames sent or received by the device.
    pub packets: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
}

/// Distinct (device, minute) pairs held in memory at most between two
/// flushes; more (a flood of spoofed source addresses) are counted in
/// [`TrafficCounter::dropped`] instead.
pub const MAX_PENDING: usize = 16_384;

/// Counts frames per device and minute in memory, for [`Store::add_traffic`].
#[derive(Debug, Default)]
pub struct TrafficCounter {
    pending: HashMap<(Mac, i64), (u64, u64)>,
    /// Frames not counted because [`MAX_PENDING`] was reached.
    pub dropped: u64,
}

impl TrafficCounter {
    pub fn new() -> TrafficCounter {
        TrafficCounter::default()
    }

    /// Counts one frame for its sender and its receiver (unicast
    /// addresses only: a broadcast is nobody's traffic). Only Ethernet
    /// frames carry both addresses; other link types are not counted.
    pub fn count(&mut self, link: LinkType, data: &[u8], wire_len: u32, ts_ns: i64) {
        if link != LinkType::Ethernet || data.len() < 12 {
            return;
        }
        let minute = ts_ns.div_euclid(NS_PER_MINUTE) * NS_PER_MINUTE;
        for addr in [&data[6..12], &data[0..6]] {
            // The group bit: multicast and broadcast.
            if addr[0] & 1 == 1 || addr == [0; 6] {
                continue;
            }
            let mac = Mac(addr.try_into().expect("six bytes"));
            let full = self.pending.len() >= MAX_PENDING;
            match self.pending.get_mut(&(mac, minute)) {
                Some(c) => {
                    c.0 += 1;
                    c.1 += u64::from(wire_len);
                }
                None if full => self.dropped += 1,
                None => {
                    self.pending.insert((mac, minute), (1, u64::from(wire_len)));
                }
            }
        }
    }

    /// Whether anything waits to be written.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Writes what was counted (for devices the store knows) in one
    /// transaction, rolls old minutes into hours, and forgets it.
    /// `now` is the guard's clock (capture time in a replay).
    pub fn flush(&mut self, store: &mut Store, now: Timestamp) -> Result<()> {
        let points: Vec<TrafficPoint> = self
            .pending
            .drain()
            .map(|((device, start), (packets, bytes))| TrafficPoint {
                device,
                start: Timestamp(start),
                seconds: 60,
                packets,
                bytes,
            })
            .collect();
        store.add_traffic(&points, now)
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Adds per-minute counts (`seconds` is taken as 60) to the devices'
    /// minutes, skipping devices the store does not know, then rolls
    /// minutes older than 24 h (before `now`) into hours and deletes hours
    /// older than 7 days. One transaction.
    pub fn add_traffic(&mut self, points: &[TrafficPoint], now: Timestamp) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut add = tx.prepare_cached(
                "INSERT INTO traffic_minutes (device, start, packets, bytes)
                 SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM devices WHERE mac = ?1)
                 ON CONFLICT (device, start) DO UPDATE
                 SET packets = packets + excluded.packets, bytes = bytes + excluded.bytes",
            )?;
            for p in points {
                let start = p.start.0.div_euclid(NS_PER_MINUTE) * NS_PER_MINUTE;
                add.execute(params![
                    p.device.to_string(),
                    start,
                    to_i64(p.packets),
                    to_i64(p.bytes)
                ])?;
            }
        }
        let cutoff = now.0.saturating_sub(MINUTES_KEPT_NS);
        tx.execute(
            "INSERT INTO traffic_hours (device, start, packets, bytes)
             SELECT device, (start / ?2) * ?2 AS hour, SUM(packets), SUM(bytes)
             FROM traffic_minutes WHERE start < ?1 GROUP BY device, hour
             ON CONFLICT (device, start) DO UPDATE
             SET packets = packets + excluded.packets, bytes = bytes + excluded.bytes",
            params![cutoff, NS_PER_HOUR],
        )?;
        tx.execute("DELETE FROM traffic_minutes WHERE start < ?1", [cutoff])?;
        tx.execute(
            "DELETE FROM traffic_hours WHERE start < ?1",
            [now.0.saturating_sub(HOURS_KEPT_NS)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One device's counters from `since` on, oldest first: hours, then
    /// the minutes of the last 24 hours.
    pub fn traffic(&self, device: Mac, since: Timestamp) -> Result<Vec<TrafficPoint>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT start, 3600, packets, bytes FROM traffic_hours WHERE device = ?1 AND start >= ?2
             UNION ALL
             SELECT start, 60, packets, bytes FROM traffic_minutes WHERE device = ?1 AND start >= ?2
             ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![device.to_string(), since.0], |r| {
            Ok(TrafficPoint {
                device,
                start: Timestamp(r.get(0)?),
                seconds: r.get(1)?,
                packets: r.get::<_, i64>(2)?.max(0) as u64,
                bytes: r.get::<_, i64>(3)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every device's traffic per hour from `since` on (minutes summed,
    /// then the rolled-up hours), for the device list's sparklines.
    pub fn traffic_by_hour(&self, since: Timestamp) -> Result<Vec<TrafficPoint>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT device, (start / ?2) * ?2 AS hour, SUM(packets), SUM(bytes)
             FROM traffic_minutes WHERE start >= ?1 GROUP BY device, hour
             UNION ALL
             SELECT device, start, packets, bytes FROM traffic_hours WHERE start >= ?1
             ORDER BY 1, 2",
        )?;
        let rows = stmt.query_map(params![since.0, NS_PER_HOUR], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out: Vec<TrafficPoint> = Vec::new();
        for row in rows {
            let (mac, start, packets, bytes) = row?;
            let device = mac_of(mac, "traffic_minutes")?;
            // An hour half rolled up appears twice: add the two.
            match out.last_mut() {
                Some(p) if p.device == device && p.start.0 == start => {
                    p.packets += packets.max(0) as u64;
                    p.bytes += bytes.max(0) as u64;
                }
                _ => out.push(TrafficPoint {
                    device,
                    start: Timestamp(start),
                    seconds: 3_600,
                    packets: packets.max(0) as u64,
                    bytes: bytes.max(0) as u64,
                }),
            }
        }
        Ok(out)
    }

    /// The newest minute with traffic of any device (the guard's clock as
    /// far as the counters know), if any.
    pub fn traffic_latest(&self) -> Result<Option<Timestamp>> {
        let t: Option<i64> =
            self.conn
                .query_row("SELECT MAX(start) FROM traffic_minutes", [], |r| r.get(0))?;
        Ok(t.map(Timestamp))
    }
}
