//! Builds the embedded data file from the IEEE CSV listings.
//!
//! Input is the directory of Debian's `ieee-data` package
//! (`/usr/share/ieee-data`): `oui.csv`, `mam.csv`, `oui36.csv`, `iab.csv`,
//! each with rows `Registry,Assignment,Organization Name,Organization Address`,
//! plus `.lastupdate` (Unix time of the download) for the snapshot date.
//! Used by `examples/generate.rs`; see `docs/oui.md` for the refresh command.

use std::collections::btree_map::{BTreeMap, Entry};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::db::{parse_prefix, DATE_KEY, MAGIC};
use crate::Registry;

/// The CSV file holding each registry, as named in `ieee-data`.
pub const SOURCE_FILES: [(Registry, &str); 4] = [
    (Registry::MaL, "oui.csv"),
    (Registry::MaM, "mam.csv"),
    (Registry::MaS, "oui36.csv"),
    (Registry::Iab, "iab.csv"),
];

/// What happened to the rows read so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Data rows read (header rows excluded).
    pub rows: usize,
    /// Rows kept as assignments.
    pub kept: usize,
    /// Rows skipped as malformed: bad CSV or UTF-8, missing fields, wrong
    /// registry, bad prefix, empty name.
    pub malformed: usize,
    /// Rows skipped because an earlier row assigned the same prefix (the IEEE
    /// lists a few historical MA-L prefixes more than once; the first wins).
    pub duplicates: usize,
}

impl Stats {
    fn add(&mut self, other: Stats) {
        self.rows += other.rows;
        self.kept += other.kept;
        self.malformed += other.malformed;
        self.duplicates += other.duplicates;
    }
}

/// Collects assignments from CSV listings, then writes the data file.
#[derive(Debug, Default)]
pub struct Builder {
    /// Sorted by (registry, prefix), which is also the file order.
    assignments: BTreeMap<(Registry, u64), String>,
    stats: Stats,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads every `ieee-data` CSV in `dir`. A missing or unreadable file is
    /// an error: a registry silently left out would make lookups wrong.
    pub fn from_ieee_data_dir(dir: &Path) -> io::Result<Builder> {
        let mut builder = Builder::new();
        for (registry, file) in SOURCE_FILES {
            let path = dir.join(file);
            let input = File::open(&path).map_err(|e| with_path(&path, e))?;
            builder
                .add_csv(BufReader::new(input), registry)
                .map_err(|e| with_path(&path, e))?;
        }
        Ok(builder)
    }

    /// Adds the rows of one CSV listing whose rows must all belong to
    /// `registry`, skipping (and counting) bad rows. Returns this file's
    /// counts; only an I/O error stops the read.
    pub fn add_csv<R: Read>(&mut self, input: R, registry: Registry) -> io::Result<Stats> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut stats = Stats::default();
        for row in reader.records() {
            let row = match row {
                Ok(row) => row,
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Err(e.into()),
                Err(_) => {
                    stats.rows += 1;
                    stats.malformed += 1;
                    continue;
                }
            };
            if row.get(0) == Some("Registry") && row.get(1) == Some("Assignment") {
                continue;
            }
            stats.rows += 1;
            let Some((prefix, name)) = parse_row(&row, registry) else {
                stats.malformed += 1;
                continue;
            };
            match self.assignments.entry((registry, prefix)) {
                Entry::Occupied(_) => stats.duplicates += 1,
                Entry::Vacant(slot) => {
                    slot.insert(name);
                    stats.kept += 1;
                }
            }
        }
        self.stats.add(stats);
        Ok(stats)
    }

    /// Counts over all CSVs added so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Assignments kept so far.
    pub fn len(&self) -> usize {
        self.assignments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assignments.is_empty()
    }

    /// Writes the gzip-compressed data file. `date` must be `YYYY-MM-DD`.
    /// Output is deterministic (gzip mtime 0), so regenerating from the same
    /// snapshot gives the same bytes.
    pub fn write<W: Write>(&self, out: W, date: &str) -> io::Result<W> {
        let date = parse_date(date).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad snapshot date {date:?}, want YYYY-MM-DD"),
            )
        })?;
        let mut gz = GzEncoder::new(out, Compression::best());
        writeln!(gz, "{MAGIC}")?;
        writeln!(gz, "{DATE_KEY}{date}")?;
        writeln!(
            gz,
            "# source: IEEE Registration Authority public listings (MA-L, MA-M, MA-S, IAB) via Debian ieee-data"
        )?;
        writeln!(
            gz,
            "# format: REGISTRY<TAB>HEX PREFIX<TAB>ORGANIZATION NAME"
        )?;
        for ((registry, prefix), name) in &self.assignments {
            let width = usize::from(registry.prefix_bits() / 4);
            writeln!(gz, "{registry}\t{prefix:0width$X}\t{name}")?;
        }
        gz.finish()
    }
}

/// Prefix and normalised name of a CSV row, if it is a well-formed row of
/// `registry` (the address column is ignored).
fn parse_row(row: &csv::StringRecord, registry: Registry) -> Option<(u64, String)> {
    if row.get(0)? != registry.as_str() {
        return None;
    }
    let prefix = parse_prefix(row.get(1)?, registry)?;
    Some((prefix, normalize_name(row.get(2)?)?))
}

/// Trims an organisation name and collapses internal runs of whitespace and
/// control characters (the IEEE data has trailing tabs and double spaces;
/// tabs and newlines would also break the data file). `None` if empty.
pub fn normalize_name(raw: &str) -> Option<String> {
    let mut name = String::with_capacity(raw.len());
    for word in raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    (!name.is_empty()).then_some(name)
}

/// Validates a `YYYY-MM-DD` date, returning it canonicalised.
pub fn parse_date(s: &str) -> Option<String> {
    let mut parts = s.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    // Rejects 2022-02-30 and the like; Display gives zero-padded YYYY-MM-DD.
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    (1970..=9999).contains(&year).then(|| date.to_string())
}

/// Snapshot date from `ieee-data`'s `.lastupdate` (Unix seconds of the
/// download), as `YYYY-MM-DD` in UTC.
pub fn snapshot_date(dir: &Path) -> io::Result<String> {
    let path = dir.join(".lastupdate");
    let text = std::fs::read_to_string(&path).map_err(|e| with_path(&path, e))?;
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a Unix time", path.display()),
        )
    };
    let secs: i64 = text.trim().parse().map_err(|_| bad())?;
    let when = time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| bad())?;
    Ok(when.date().to_string())
}

fn with_path(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    /// Shaped like `ieee-data`'s CSVs, with one good row per kind of damage.
    const MAL_CSV: &[u8] = b"Registry,Assignment,Organization Name,Organization Address\n\
        MA-L,20F85E,Delta Electronics,252 Shangying Road Taoyuan County Taiwan TW 33341 \n\
        MA-L,50C7BF,\"TP-LINK TECHNOLOGIES CO.,LTD.\",\"Building 24,Shenzhen CN 518057 \"\n\
        MA-L,0024E4,\"  Withings\t \",2 rue Maurice Hartmann\n\
        MA-L,ACCF23\n\
        MA-L,XYZ123,Bad Hex,\n\
        MA-L,ACCF2,Short Prefix,\n\
        MA-M,ACCF231,Wrong Registry,\n\
        MA-L,ACCF24,   ,\n\
        MA-L,ACCF25,Bad \xff UTF-8,\n\
        MA-L,20F85E,Second Delta,\n\
        \n\
        MA-L,001788,Philips   Lighting BV,\n";
    const MAM_CSV: &[u8] = b"Registry,Assignment,Organization Name,Organization Address\n\
        MA-M,20F85E7,Medium Inside Delta,\n";

    #[test]
    fn bad_rows_are_counted_and_skipped() {
        let mut builder = Builder::new();
        let stats = builder.add_csv(MAL_CSV, Registry::MaL).unwrap();
        assert_eq!(
            stats,
            Stats {
                rows: 11,
                kept: 4,
                malformed: 6,
                duplicates: 1
            }
        );
        let more = builder.add_csv(MAM_CSV, Registry::MaM).unwrap();
        assert_eq!(
            more,
            Stats {
                rows: 1,
                kept: 1,
                malformed: 0,
                duplicates: 0
            }
        );
        assert_eq!(builder.stats().rows, 12);
        assert_eq!(builder.len(), 5);
    }

    #[test]
    fn written_file_round_trips_through_the_decoder() {
        let mut builder = Builder::new();
        builder.add_csv(MAL_CSV, Registry::MaL).unwrap();
        builder.add_csv(MAM_CSV, Registry::MaM).unwrap();
        let gz = builder.write(Vec::new(), "2022-08-27").unwrap();
        // Deterministic: the same input gives the same bytes.
        assert_eq!(gz, builder.write(Vec::new(), "2022-08-27").unwrap());

        let db = Db::from_gzip(&gz);
        assert_eq!(db.skipped_lines(), 0);
        assert_eq!(db.date(), "2022-08-27");
        assert_eq!(db.entries(Registry::MaL), 4);
        let find = |mac| db.find_longest(mac);
        assert_eq!(
            find([0x20, 0xf8, 0x5e, 0xca, 0x91, 0x52]),
            Some((Registry::MaL, "Delta Electronics"))
        );
        assert_eq!(
            find([0x20, 0xf8, 0x5e, 0x70, 0, 0]),
            Some((Registry::MaM, "Medium Inside Delta"))
        );
        assert_eq!(
            find([0x50, 0xc7, 0xbf, 0, 0, 0]),
            Some((Registry::MaL, "TP-LINK TECHNOLOGIES CO.,LTD."))
        );
        assert_eq!(
            find([0x00, 0x24, 0xe4, 0, 0, 0]),
            Some((Registry::MaL, "Withings"))
        );
        assert_eq!(
            find([0x00, 0x17, 0x88, 0, 0, 0]),
            Some((Registry::MaL, "Philips Lighting BV"))
        );
        assert_eq!(find([0xac, 0xcf, 0x23, 0, 0, 0]), None);
    }

    #[test]
    fn bad_dates_are_refused() {
        assert_eq!(parse_date("2022-8-27").as_deref(), Some("2022-08-27"));
        for bad in [
            "",
            "2022-02-30",
            "2022-13-01",
            "27/08/2022",
            "2022-08-27\n# x",
            "0000-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
        assert!(Builder::new()
            .write(Vec::new(), "2022-08-27\nMA-L\t000000\tx")
            .is_err());
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(
            normalize_name(" Shenzhen YOUHUA Technology Co., Ltd\t").as_deref(),
            Some("Shenzhen YOUHUA Technology Co., Ltd")
        );
        assert_eq!(
            normalize_name("Jiangsu fulian  Communication\r\nTech").as_deref(),
            Some("Jiangsu fulian Communication Tech")
        );
        assert_eq!(normalize_name(" \t\u{0}"), None);
    }

    #[test]
    fn directory_input() {
        assert!(Builder::from_ieee_data_dir(Path::new("/nonexistent/ieee-data")).is_err());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".lastupdate"), "1661630937\n").unwrap();
        assert_eq!(snapshot_date(dir.path()).unwrap(), "2022-08-27");
        std::fs::write(dir.path().join(".lastupdate"), "yesterday").unwrap();
        assert!(snapshot_date(dir.path()).is_err());
        // A missing registry file is an error, not an empty registry.
        std::fs::write(dir.path().join("oui.csv"), MAL_CSV).unwrap();
        std::fs::write(dir.path().join("mam.csv"), MAM_CSV).unwrap();
        std::fs::write(
            dir.path().join("oui36.csv"),
            "Registry,Assignment,Organization Name,Organization Address\n",
        )
        .unwrap();
        assert!(Builder::from_ieee_data_dir(dir.path()).is_err());
        std::fs::write(dir.path().join("iab.csv"), "").unwrap();
        let builder = Builder::from_ieee_data_dir(dir.path()).unwrap();
        assert_eq!(builder.len(), 5);
        assert_eq!(builder.stats().malformed, 6);
    }
}
