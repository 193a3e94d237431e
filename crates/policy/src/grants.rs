//! Host-name allowances of quarantined devices, bound to DNS answers.
//!
//! A quarantine may allow host names (the vendor's update server). Names
//! are not resolved by warden: the addresses a name has depend on the
//! resolver, the place and the time (CDNs answer differently per client).
//! Instead, when the router's resolver answers a quarantined device's
//! question for an allowed name, those addresses are granted to that
//! device alone, for the answer's TTL (at least [`MIN_GRANT_S`], at most
//! [`MAX_GRANT_S`]). The table is bounded: [`MAX_GRANTS_PER_DEVICE`]
//! addresses per device, the one expiring first giving way.

use std::collections::BTreeMap;
use std::net::IpAddr;

use warden_decode::Mac;
use warden_detect::Timestamp;

/// Shortest grant: a device may use an answer for a moment past a 0 TTL,
/// and the connection after it needs time to start.
pub const MIN_GRANT_S: u32 = 60;
/// Longest grant: a day, whatever the TTL says.
pub const MAX_GRANT_S: u32 = 86_400;
/// Addresses granted per device at once.
pub const MAX_GRANTS_PER_DEVICE: usize = 32;

const NS: i64 = 1_000_000_000;

/// Addresses each device may reach because its resolver named them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameGrants {
    by_device: BTreeMap<Mac, BTreeMap<IpAddr, Timestamp>>,
}

impl NameGrants {
    /// Grants `addrs` to `device` until `now + ttl` (clamped). True when an
    /// address is new to the device (the rules must change); a refresh of
    /// a granted address only moves its expiry.
    pub fn grant(&mut self, device: Mac, addrs: &[IpAddr], ttl_s: u32, now: Timestamp) -> bool {
        let until = Timestamp(now.0 + i64::from(ttl_s.clamp(MIN_GRANT_S, MAX_GRANT_S)) * NS);
        let granted = self.by_device.entry(device).or_default();
        let mut changed = false;
        for &addr in addrs {
            if let Some(expiry) = granted.get_mut(&addr) {
                *expiry = (*expiry).max(until);
                continue;
            }
            if granted.len() >= MAX_GRANTS_PER_DEVICE {
                let first = granted.iter().min_by_key(|(_, t)| **t).map(|(a, _)| *a);
                if let Some(first) = first {
                    granted.remove(&first);
                }
            }
            granted.insert(addr, until);
            changed = true;
        }
        changed
    }

    /// Drops expired grants, and every grant of a device for which `keep`
    /// says no (its quarantine ended). True when anything was dropped.
    pub fn prune(&mut self, now: Timestamp, mut keep: impl FnMut(Mac) -> bool) -> bool {
        let before = self.len();
        self.by_device.retain(|mac, granted| {
            if !keep(*mac) {
                return false;
            }
            granted.retain(|_, until| *until > now);
            !granted.is_empty()
        });
        self.len() != before
    }

    /// The addresses granted to `device`, in order.
    pub fn addrs(&self, device: Mac) -> impl Iterator<Item = IpAddr> + '_ {
        self.by_device
            .get(&device)
            .into_iter()
            .flat_map(|g| g.keys().copied())
    }

    /// Grants held, all devices together.
    pub fn len(&self) -> usize {
        self.by_device.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_device.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAM: Mac = Mac([2, 0, 0, 0, 0, 1]);
    const PLUG: Mac = Mac([2, 0, 0, 0, 0, 2]);

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    fn at(s: i64) -> Timestamp {
        Timestamp(s * NS)
    }

    #[test]
    fn grants_are_per_device_and_end_with_their_ttl() {
        let mut g = NameGrants::default();
        assert!(g.grant(CAM, &[ip(1), ip(2)], 300, at(0)));
        assert!(
            !g.grant(CAM, &[ip(1)], 300, at(10)),
            "a refresh is no change"
        );
        assert_eq!(g.addrs(CAM).collect::<Vec<_>>(), vec![ip(1), ip(2)]);
        assert_eq!(g.addrs(PLUG).count(), 0);

        // ip(1) was refreshed at 10 s: it outlives ip(2) by 10 s.
        assert!(!g.prune(at(299), |_| true));
        assert!(g.prune(at(300), |_| true));
        assert_eq!(g.addrs(CAM).collect::<Vec<_>>(), vec![ip(1)]);
        assert!(g.prune(at(310), |_| true));
        assert!(g.is_empty());
    }

    #[test]
    fn ttls_are_clamped() {
        let mut g = NameGrants::default();
        g.grant(CAM, &[ip(1)], 0, at(0));
        g.grant(PLUG, &[ip(2)], u32::MAX, at(0));
        g.prune(at(i64::from(MIN_GRANT_S) - 1), |_| true);
        assert_eq!(g.len(), 2);
        g.prune(at(i64::from(MIN_GRANT_S)), |_| true);
        assert_eq!(g.addrs(CAM).count(), 0, "a 0 TTL lasts the minimum");
        g.prune(at(i64::from(MAX_GRANT_S) - 1), |_| true);
        assert_eq!(g.addrs(PLUG).count(), 1);
        g.prune(at(i64::from(MAX_GRANT_S)), |_| true);
        assert!(g.is_empty(), "a huge TTL lasts the maximum");
    }

    #[test]
    fn bounded_per_device_and_dropped_with_the_quarantine() {
        let mut g = NameGrants::default();
        for i in 0..200u32 {
            let addr = IpAddr::from(i.to_be_bytes());
            g.grant(CAM, &[addr], 60 + i, at(0));
            assert!(g.len() <= MAX_GRANTS_PER_DEVICE);
        }
        // The newest (longest-lived) survive.
        assert!(g
            .addrs(CAM)
            .any(|a| a == IpAddr::from(199u32.to_be_bytes())));
        assert!(!g.addrs(CAM).any(|a| a == IpAddr::from(0u32.to_be_bytes())));

        g.grant(PLUG, &[ip(9)], 600, at(0));
        assert!(g.prune(at(1), |mac| mac == PLUG));
        assert_eq!(g.addrs(CAM).count(), 0);
        assert_eq!(g.addrs(PLUG).count(), 1);
    }
}
