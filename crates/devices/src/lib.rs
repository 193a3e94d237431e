//! The device table: one entry per LAN device, keyed by MAC.
//!
//! Memory is bounded: the table holds at most `capacity` devices, each with
//! fixed-size detector state and a size-capped identity. When it is full, a
//! new device may replace the least recently seen of a few randomly sampled
//! entries if that one has been idle long enough and has no alerts;
//! otherwise the newcomer is refused and counted. A flood of random MACs
//! therefore cannot grow memory, nor push out a device that is active or
//! under suspicion.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::Serialize;
use warden_decode::Mac;
use warden_detect::{Alert, AlertKind, DeviceDetectors, Evidence};
use warden_identify::Identity;

/// Addresses remembered per device (a dual-stack phone has several).
pub const MAX_IPS: usize = 8;
/// Alerts kept per device; older ones are dropped (and counted) past this.
pub const MAX_ALERTS: usize = 32;
/// Entries sampled when looking for one to evict.
const EVICTION_SAMPLES: usize = 8;

/// One LAN device.
#[derive(Clone, Debug)]
pub struct Device {
    pub mac: Mac,
    pub ips: Vec<IpAddr>,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    pub packets_out: u64,
    pub bytes_out: u64,
    pub packets_in: u64,
    pub bytes_in: u64,
    pub identity: Identity,
    pub detectors: DeviceDetectors,
    pub alerts: Vec<Alert>,
    pub alerts_dropped: u32,
}

impl Device {
    fn new(mac: Mac, now_ns: i64) -> Self {
        let mut identity = Identity::default();
        identity.set_mac(mac.0);
        Device {
            mac,
            ips: Vec::new(),
            first_seen_ns: now_ns,
            last_seen_ns: now_ns,
            packets_out: 0,
            bytes_out: 0,
            packets_in: 0,
            bytes_in: 0,
            identity,
            detectors: DeviceDetectors::default(),
            alerts: Vec::new(),
            alerts_dropped: 0,
        }
    }

    /// Remembers an address the device used (bounded; first ones win).
    pub fn learn_ip(&mut self, ip: IpAddr) -> bool {
        if self.ips.contains(&ip) || self.ips.len() >= MAX_IPS {
            return false;
        }
        self.ips.push(ip);
        true
    }

    pub fn add_alert(&mut self, alert: Alert) {
        if self.alerts.len() >= MAX_ALERTS {
            self.alerts.remove(0);
            self.alerts_dropped += 1;
        }
        self.alerts.push(alert);
    }

    /// Replaces the evidence of the latest alert of `kind`; returns it.
    pub fn update_alert(&mut self, kind: AlertKind, evidence: Evidence) -> Option<&Alert> {
        let alert = self.alerts.iter_mut().rev().find(|a| a.kind == kind)?;
        alert.evidence = evidence;
        Some(alert)
    }

    /// The vendor from the IEEE registry, or why there is none.
    pub fn vendor(&self) -> Option<&'static str> {
        warden_oui::lookup(self.mac.0).vendor
    }

    /// How the device is named in sentences: "This D-Link International
    /// device (DCS-935L)".
    pub fn label(&self) -> String {
        let what = self
            .identity
            .model()
            .or(self.identity.hostname())
            .map(str::to_owned)
            .unwrap_or_else(|| self.mac.to_string());
        match self.vendor() {
            Some(v) => format!("This {v} device ({what})"),
            None => format!("This device ({what})"),
        }
    }

    /// Approximate bytes this entry holds, heap included.
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Device>()
            + self.ips.capacity() * std::mem::size_of::<IpAddr>()
            + self.identity.approx_heap_bytes()
            + self.alerts.capacity() * std::mem::size_of::<Alert>()
            + if self.alerts.is_empty() {
                0
            } else {
                512 * self.alerts.len()
            }
    }
}

/// Counters of the table's own behaviour.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TableStats {
    pub devices: usize,
    pub capacity: usize,
    /// Idle devices replaced by new ones.
    pub evicted: u64,
    /// New devices turned away because the table was full of active ones.
    pub refused: u64,
}

/// The bounded device table.
pub struct DeviceTable {
    slots: Vec<Device>,
    index: FxHashMap<Mac, u32>,
    capacity: usize,
    idle_evict_ns: i64,
    rng: u64,
    evicted: u64,
    refused: u64,
}

impl DeviceTable {
    pub fn new(capacity: usize, idle_evict_s: u32) -> Self {
        DeviceTable {
            slots: Vec::new(),
            index: FxHashMap::default(),
            capacity: capacity.max(1),
            idle_evict_ns: i64::from(idle_evict_s) * 1_000_000_000,
            rng: 0x9e37_79b9_7f4a_7c15,
            evicted: 0,
            refused: 0,
        }
    }

    #[inline]
    pub fn find(&self, mac: &Mac) -> Option<u32> {
        self.index.get(mac).copied()
    }

    /// The slot of `mac`, creating the device if there is room.
    #[inline]
    pub fn find_or_insert(&mut self, mac: Mac, now_ns: i64) -> Option<u32> {
        if let Some(&i) = self.index.get(&mac) {
            return Some(i);
        }
        self.insert(mac, now_ns)
    }

    fn insert(&mut self, mac: Mac, now_ns: i64) -> Option<u32> {
        if self.slots.len() < self.capacity {
            let i = self.slots.len() as u32;
            self.slots.push(Device::new(mac, now_ns));
            self.index.insert(mac, i);
            return Some(i);
        }
        // Sample a few entries; replace the stalest if it is idle and clean.
        let mut victim: Option<usize> = None;
        for _ in 0..EVICTION_SAMPLES {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let i = (self.rng % self.slots.len() as u64) as usize;
            if victim.is_none_or(|v| self.slots[i].last_seen_ns < self.slots[v].last_seen_ns) {
                victim = Some(i);
            }
        }
        let v = victim?;
        let old = &self.slots[v];
        if now_ns.saturating_sub(old.last_seen_ns) < self.idle_evict_ns || !old.alerts.is_empty() {
            self.refused += 1;
            return None;
        }
        self.index.remove(&old.mac);
        self.slots[v] = Device::new(mac, now_ns);
        self.index.insert(mac, v as u32);
        self.evicted += 1;
        Some(v as u32)
    }

    #[inline]
    pub fn get(&self, i: u32) -> &Device {
        &self.slots[i as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, i: u32) -> &mut Device {
        &mut self.slots[i as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Device> {
        self.slots.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Device> {
        self.slots.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn stats(&self) -> TableStats {
        TableStats {
            devices: self.slots.len(),
            capacity: self.capacity,
            evicted: self.evicted,
            refused: self.refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(i: u32) -> Mac {
        let b = i.to_be_bytes();
        Mac([0x02, 0, b[0], b[1], b[2], b[3]])
    }

    #[test]
    fn bounded_under_a_random_mac_flood() {
        let mut t = DeviceTable::new(100, 60);
        // 100 real devices, active now.
        for i in 0..100 {
            assert!(t.find_or_insert(mac(i), 0).is_some());
        }
        // A million new MACs within the same minute: all refused, nothing evicted.
        for i in 100..1_000_100 {
            assert!(t.find_or_insert(mac(i), 30_000_000_000).is_none());
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.stats().refused, 1_000_000);
        assert!(t.find(&mac(5)).is_some());
        // Much later, idle devices make room.
        let later = 3_600_000_000_000;
        assert!(t.find_or_insert(mac(2_000_000), later).is_some());
        assert_eq!(t.len(), 100);
        assert_eq!(t.stats().evicted, 1);
    }

    #[test]
    fn devices_with_alerts_are_never_evicted() {
        let mut t = DeviceTable::new(1, 1);
        let i = t.find_or_insert(mac(1), 0).unwrap();
        t.get_mut(i).add_alert(Alert {
            kind: AlertKind::Scan,
            detected_at: warden_detect::Timestamp(0),
            confidence: 1.0,
            evidence: Evidence::Spam(warden_detect::SpamEvidence {
                first_seen: Default::default(),
                last_seen: Default::default(),
                smtp_servers: 9,
                submission_servers: 0,
                connections: 9,
                sample_servers: vec![],
            }),
        });
        assert!(t.find_or_insert(mac(2), 1_000_000_000_000).is_none());
        assert!(t.find(&mac(1)).is_some());
    }

    #[test]
    fn ips_are_bounded() {
        let mut d = Device::new(mac(1), 0);
        for i in 0..100u8 {
            d.learn_ip(IpAddr::from([192, 168, 1, i]));
        }
        assert_eq!(d.ips.len(), MAX_IPS);
    }
}
