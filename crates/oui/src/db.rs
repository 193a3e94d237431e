//! The registry data file format and its in-memory form.
//!
//! The file is UTF-8 text, gzip-compressed. Lines starting with `#` are
//! header/comments (`# date: YYYY-MM-DD` gives the snapshot date); every other
//! non-empty line is `REGISTRY<TAB>PREFIX<TAB>NAME`, e.g.
//! `MA-L\t20F85E\tDelta Electronics`, with the prefix in upper-case hex of
//! exactly 6 (MA-L), 7 (MA-M) or 9 (MA-S, IAB) digits.

use std::collections::HashMap;
use std::io::Read;

use flate2::read::GzDecoder;

use crate::Registry;

/// First line of every data file; names the format version.
pub(crate) const MAGIC: &str = "# warden-oui registry v1";
/// Header line prefix carrying the snapshot date.
pub(crate) const DATE_KEY: &str = "# date: ";

/// Low bits of a table entry holding the name id; the prefix sits above them.
const NAME_BITS: u32 = 24;
const NAME_MASK: u64 = (1 << NAME_BITS) - 1;
/// The decompressed registry is about 1.5 MB; refuse to inflate far beyond
/// that rather than trust any input blindly.
const MAX_DECOMPRESSED: u64 = 64 << 20;

/// Decoded registry: per registry one sorted `Vec<u64>` whose entries pack
/// `prefix << 24 | name_id` (8 bytes per assignment, one allocation, binary
/// searchable on the prefix), and all distinct names in one string.
#[derive(Debug, Default)]
pub(crate) struct Db {
    date: Option<String>,
    names: String,
    /// End offset in `names` of each name id (start is the previous end).
    name_ends: Vec<u32>,
    tables: [Vec<u64>; 4],
    skipped: usize,
}

impl Db {
    /// Decodes a gzip-compressed data file. Never fails: bad lines are
    /// counted in `skipped_lines`, and an undecompressable file yields an
    /// empty registry with `skipped_lines == 1`.
    pub(crate) fn from_gzip(bytes: &[u8]) -> Db {
        let mut text = Vec::new();
        match GzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED)
            .read_to_end(&mut text)
        {
            Ok(_) => Db::parse(&text),
            Err(_) => Db {
                skipped: 1,
                ..Db::default()
            },
        }
    }

    /// Decodes the uncompressed text of a data file.
    pub(crate) fn parse(text: &[u8]) -> Db {
        let mut db = Db::default();
        let mut interned: HashMap<&str, u32> = HashMap::new();
        for raw in text.split(|&b| b == b'\n') {
            let Ok(line) = std::str::from_utf8(raw) else {
                db.skipped += 1;
                continue;
            };
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                if let Some(date) = line.strip_prefix(DATE_KEY) {
                    db.date = Some(date.trim().to_owned());
                }
                continue;
            }
            let Some((registry, prefix, name)) = parse_entry(line) else {
                db.skipped += 1;
                continue;
            };
            let id = match interned.get(name) {
                Some(&id) => id,
                None => {
                    let Some(id) = db.push_name(name) else {
                        db.skipped += 1;
                        continue;
                    };
                    interned.insert(name, id);
                    id
                }
            };
            db.tables[registry.index()].push(prefix << NAME_BITS | u64::from(id));
        }
        for table in &mut db.tables {
            // Stable sort on the prefix alone so that, should a prefix repeat,
            // the first line in the file wins.
            table.sort_by_key(|e| e >> NAME_BITS);
            let before = table.len();
            table.dedup_by_key(|e| *e >> NAME_BITS);
            db.skipped += before - table.len();
            table.shrink_to_fit();
        }
        db.names.shrink_to_fit();
        db.name_ends.shrink_to_fit();
        db
    }

    fn push_name(&mut self, name: &str) -> Option<u32> {
        let id = u32::try_from(self.name_ends.len()).ok()?;
        if u64::from(id) > NAME_MASK {
            return None;
        }
        let end = u32::try_from(self.names.len() + name.len()).ok()?;
        self.names.push_str(name);
        self.name_ends.push(end);
        Some(id)
    }

    fn name(&self, id: u64) -> Option<&str> {
        let id = usize::try_from(id).ok()?;
        let end = *self.name_ends.get(id)? as usize;
        let start = match id.checked_sub(1) {
            Some(prev) => *self.name_ends.get(prev)? as usize,
            None => 0,
        };
        self.names.get(start..end)
    }

    /// Longest-prefix match: the 36-bit registries first, then MA-M, then
    /// MA-L. Flag bits are the caller's business.
    pub(crate) fn find_longest(&self, mac: [u8; 6]) -> Option<(Registry, &str)> {
        let addr = u64::from_be_bytes([0, 0, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]]);
        for registry in [Registry::MaS, Registry::Iab, Registry::MaM, Registry::MaL] {
            let key = addr >> (48 - u32::from(registry.prefix_bits()));
            let table = &self.tables[registry.index()];
            if let Ok(i) = table.binary_search_by_key(&key, |e| e >> NAME_BITS) {
                let id = table.get(i)? & NAME_MASK;
                return self.name(id).map(|name| (registry, name));
            }
        }
        None
    }

    pub(crate) fn date(&self) -> &str {
        self.date.as_deref().unwrap_or("unknown")
    }

    pub(crate) fn entries(&self, registry: Registry) -> usize {
        self.tables[registry.index()].len()
    }

    pub(crate) fn name_count(&self) -> usize {
        self.name_ends.len()
    }

    pub(crate) fn skipped_lines(&self) -> usize {
        self.skipped
    }
}

/// Parses the hex prefix of an assignment: exactly `bits / 4` hex digits.
pub(crate) fn parse_prefix(hex: &str, registry: Registry) -> Option<u64> {
    let digits = usize::from(registry.prefix_bits() / 4);
    // `from_str_radix` alone would also accept a leading '+'.
    if hex.len() != digits || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn parse_entry(line: &str) -> Option<(Registry, u64, &str)> {
    let mut fields = line.splitn(3, '\t');
    let registry: Registry = fields.next()?.parse().ok()?;
    let prefix = parse_prefix(fields.next()?, registry)?;
    let name = fields.next()?.trim();
    if name.is_empty() {
        return None;
    }
    Some((registry, prefix, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# warden-oui registry v1\n\
        # date: 2020-01-02\n\
        MA-L\tAABBCC\tBig Vendor\n\
        MA-M\tAABBCCD\tMedium Vendor\n\
        MA-S\tAABBCCDDE\tSmall Vendor\n\
        IAB\t0050C2123\tOld Vendor\n\
        MA-L\t0050C2\tIEEE Registration Authority\n";

    #[test]
    fn longest_prefix_wins() {
        let db = Db::parse(SAMPLE.as_bytes());
        assert_eq!(db.skipped_lines(), 0);
        assert_eq!(db.date(), "2020-01-02");
        let find = |mac| db.find_longest(mac);
        assert_eq!(
            find([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01]),
            Some((Registry::MaS, "Small Vendor"))
        );
        assert_eq!(
            find([0xaa, 0xbb, 0xcc, 0xdf, 0xff, 0x01]),
            Some((Registry::MaM, "Medium Vendor"))
        );
        assert_eq!(
            find([0xaa, 0xbb, 0xcc, 0xd0, 0x00, 0x00]),
            Some((Registry::MaM, "Medium Vendor"))
        );
        assert_eq!(
            find([0xaa, 0xbb, 0xcc, 0xe0, 0x00, 0x00]),
            Some((Registry::MaL, "Big Vendor"))
        );
        assert_eq!(
            find([0x00, 0x50, 0xc2, 0x12, 0x3f, 0xff]),
            Some((Registry::Iab, "Old Vendor"))
        );
        assert_eq!(
            find([0x00, 0x50, 0xc2, 0x12, 0x40, 0x00]),
            Some((Registry::MaL, "IEEE Registration Authority"))
        );
        assert_eq!(find([0xaa, 0xbb, 0xcd, 0x00, 0x00, 0x00]), None);
    }

    #[test]
    fn bad_lines_are_counted_not_fatal() {
        let text = b"MA-L\tAABBCC\tGood\n\
            MA-L\tAABBC\tshort prefix\n\
            MA-L\t+ABBCC\tsign\n\
            MA-X\tAABBCD\tunknown registry\n\
            MA-L\tAABBCE\t   \n\
            MA-L\tAABBCF\n\
            MA-L\tAABBCC\tduplicate prefix\n\
            \xff\xfe\n\
            \n";
        let db = Db::parse(text);
        assert_eq!(db.skipped_lines(), 7);
        assert_eq!(db.date(), "unknown");
        assert_eq!(db.entries(Registry::MaL), 1);
        assert_eq!(
            db.find_longest([0xaa, 0xbb, 0xcc, 0, 0, 0]),
            Some((Registry::MaL, "Good"))
        );
    }

    #[test]
    fn names_are_interned() {
        let db = Db::parse(b"MA-L\t000001\tSame\nMA-L\t000002\tSame\nMA-M\t0000031\tOther\n");
        assert_eq!(db.name_count(), 2);
        assert_eq!(
            db.find_longest([0, 0, 2, 0, 0, 0]),
            Some((Registry::MaL, "Same"))
        );
        assert_eq!(
            db.find_longest([0, 0, 3, 0x10, 0, 0]),
            Some((Registry::MaM, "Other"))
        );
    }

    #[test]
    fn garbage_is_not_gzip() {
        let db = Db::from_gzip(b"definitely not gzip");
        assert_eq!(db.skipped_lines(), 1);
        assert_eq!(db.find_longest([0, 0, 0, 0, 0, 0]), None);
    }
}
