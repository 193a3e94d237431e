//! Addresses that DNS answers on the LAN resolved names to.
//!
//! A device that connects to an address it looked up by name is using a
//! service; one that sprays packets at addresses it never looked up is
//! following orders. The detectors use this distinction, so the set must be
//! cheap to query per packet and bounded: two generations of at most
//! `capacity / 2` entries each; when the young one fills, the old one is
//! dropped (recently seen answers survive).

use std::net::IpAddr;

use rustc_hash::FxHashSet;

pub struct NameBindings {
    young: FxHashSet<IpAddr>,
    old: FxHashSet<IpAddr>,
    half: usize,
}

impl NameBindings {
    pub fn new(capacity: usize) -> Self {
        NameBindings {
            young: FxHashSet::default(),
            old: FxHashSet::default(),
            half: (capacity / 2).max(1),
        }
    }

    pub fn insert(&mut self, ip: IpAddr) {
        if self.young.len() >= self.half {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(ip);
    }

    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.young.is_empty() {
            return false;
        }
        self.young.contains(&ip) || self.old.contains(&ip)
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_recent_survive() {
        let mut n = NameBindings::new(100);
        for i in 0..10_000u32 {
            n.insert(IpAddr::from(i.to_be_bytes()));
            assert!(n.len() <= 100);
        }
        assert!(n.contains(IpAddr::from(9_999u32.to_be_bytes())));
        assert!(!n.contains(IpAddr::from(5u32.to_be_bytes())));
    }
}
