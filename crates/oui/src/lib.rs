//! warden-oui: offline IEEE MAC address registry.
//!
//! A snapshot of the IEEE Registration Authority's public listings (MA-L,
//! MA-M, MA-S and IAB, taken from Debian's `ieee-data` package) is embedded in
//! the binary as a gzip-compressed text table (`data/registry.tsv.gz`, written
//! by [`generate`]). It is decoded once, on first use, into one sorted array
//! per registry; [`lookup`] then does at most four binary searches and never
//! allocates.
//!
//! ```
//! let info = warden_oui::lookup([0x50, 0xc7, 0xbf, 0x00, 0xfc, 0xa3]);
//! assert_eq!(info.vendor, Some("TP-LINK TECHNOLOGIES CO.,LTD."));
//! assert_eq!(info.registry, Some(warden_oui::Registry::MaL));
//! assert_eq!(info.prefix_bits, 24);
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

mod db;
pub mod generate;

use db::Db;

/// The registry snapshot shipped with this crate (see `docs/oui.md`).
static EMBEDDED: &[u8] = include_bytes!("../data/registry.tsv.gz");

/// Which IEEE registry an assignment comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Registry {
    /// MAC Address Block Large: 24-bit prefix (the classic "OUI").
    #[serde(rename = "MA-L")]
    MaL,
    /// MAC Address Block Medium: 28-bit prefix.
    #[serde(rename = "MA-M")]
    MaM,
    /// MAC Address Block Small: 36-bit prefix.
    #[serde(rename = "MA-S")]
    MaS,
    /// Individual Address Block (predecessor of MA-S): 36-bit prefix.
    #[serde(rename = "IAB")]
    Iab,
}

impl Registry {
    /// All registries, in declaration order.
    pub const ALL: [Registry; 4] = [Registry::MaL, Registry::MaM, Registry::MaS, Registry::Iab];

    /// Length in bits of the prefixes this registry assigns.
    pub const fn prefix_bits(self) -> u8 {
        match self {
            Registry::MaL => 24,
            Registry::MaM => 28,
            Registry::MaS | Registry::Iab => 36,
        }
    }

    /// The IEEE's name for the registry, as in the CSV listings ("MA-L", ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Registry::MaL => "MA-L",
            Registry::MaM => "MA-M",
            Registry::MaS => "MA-S",
            Registry::Iab => "IAB",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a string that names no IEEE registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRegistry;

impl fmt::Display for UnknownRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown IEEE registry (expected MA-L, MA-M, MA-S or IAB)")
    }
}

impl std::error::Error for UnknownRegistry {}

impl FromStr for Registry {
    type Err = UnknownRegistry;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Registry::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRegistry)
    }
}

/// What the registry says about one MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MacInfo {
    /// Organisation the prefix is assigned to, as the IEEE lists it (whitespace
    /// trimmed and collapsed). `None` when unassigned, locally administered or
    /// multicast.
    pub vendor: Option<&'static str>,
    /// Registry of the longest matching assignment.
    pub registry: Option<Registry>,
    /// 24, 28 or 36 when found, 0 otherwise.
    pub prefix_bits: u8,
    /// U/L bit set: randomised or otherwise private address; the registry
    /// does not apply to it.
    pub locally_administered: bool,
    /// I/G bit set: group address (multicast or broadcast), never a device.
    pub multicast: bool,
}

/// Looks up the vendor of `mac`: longest prefix wins (MA-S/IAB, then MA-M,
/// then MA-L). Locally administered and multicast addresses get no vendor.
pub fn lookup(mac: [u8; 6]) -> MacInfo {
    lookup_in(db(), mac)
}

/// Date of the embedded registry snapshot, `YYYY-MM-DD` ("unknown" if the
/// embedded file lacks one).
pub fn registry_date() -> &'static str {
    db().date()
}

/// Size of the embedded registry, for diagnostics and docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RegistryStats {
    /// Snapshot date, as [`registry_date`].
    pub date: &'static str,
    /// Assignments per registry, indexed like [`Registry::ALL`].
    pub entries: [usize; 4],
    /// Distinct organisation names.
    pub names: usize,
    /// Lines of the embedded file that could not be decoded (0 for a file
    /// written by [`generate`]).
    pub skipped_lines: usize,
}

/// Counts of the embedded registry.
pub fn registry_stats() -> RegistryStats {
    let db = db();
    RegistryStats {
        date: db.date(),
        entries: Registry::ALL.map(|r| db.entries(r)),
        names: db.name_count(),
        skipped_lines: db.skipped_lines(),
    }
}

fn db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| Db::from_gzip(EMBEDDED))
}

fn lookup_in(db: &'static Db, mac: [u8; 6]) -> MacInfo {
    let multicast = mac[0] & 0x01 != 0;
    let locally_administered = mac[0] & 0x02 != 0;
    let mut info = MacInfo {
        vendor: None,
        registry: None,
        prefix_bits: 0,
        locally_administered,
        multicast,
    };
    // IEEE assignments cover only universally administered unicast addresses;
    // reporting the owner of the bits of a random or group address would be
    // wrong.
    if multicast || locally_administered {
        return info;
    }
    if let Some((registry, vendor)) = db.find_longest(mac) {
        info.vendor = Some(vendor);
        info.registry = Some(registry);
        info.prefix_bits = registry.prefix_bits();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_labels_round_trip() {
        for r in Registry::ALL {
            assert_eq!(r.as_str().parse::<Registry>(), Ok(r));
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{r}\""));
        }
        assert_eq!("OUI".parse::<Registry>(), Err(UnknownRegistry));
        assert_eq!("ma-l".parse::<Registry>(), Err(UnknownRegistry));
    }

    #[test]
    fn flag_bits_follow_first_octet() {
        let la = lookup([0x02, 0, 0, 0, 0, 1]);
        assert!(la.locally_administered && !la.multicast);
        let mc = lookup([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(mc.multicast && !mc.locally_administered);
        assert_eq!(mc.vendor, None);
        assert_eq!(mc.prefix_bits, 0);
    }
}
