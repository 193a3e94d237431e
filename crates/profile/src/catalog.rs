//! A directory of threat models and the matcher that finds a device's model
//! by its identified vendor, model and firmware (`[profiles] models` in the
//! guard; the dashboard's threat-model summaries use it too).
//!
//! Matching is deliberately strict: vendor and model must be equal ignoring
//! case and runs of white space (the vendor also ignoring `.`/`,` and
//! trailing company-form words such as "Inc", "Ltd", "Corporation",
//! "International", because the device's vendor usually comes from the IEEE
//! registry, which spells "D-Link International" what a model calls
//! "D-Link"), and when the model lists firmware versions
//! the device's firmware must be one of them. A model that promises the
//! behaviour of firmware 2.4 says nothing about 1.0, so an unknown or other
//! firmware does not match; enforcing the wrong promise would break the
//! device or allow too much.

use std::fmt;
use std::path::{Path, PathBuf};

use warden_model::ThreatModel;

/// At most this many model files are read from a directory; the rest are
/// reported as skipped. Real catalogs hold tens.
pub const MAX_MODELS: usize = 4_096;

/// One model of the catalog and the file it came from.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: PathBuf,
    pub model: ThreatModel,
}

/// A file the catalog could not use, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// Threat models by vendor and model.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
    /// Files that were not loaded (unreadable, invalid, over the bound).
    pub skipped: Vec<Skipped>,
}

impl Catalog {
    /// Reads every `*.yaml`, `*.yml` and `*.json` file of `dir` (not its
    /// subdirectories), in file-name order so that the first match is the
    /// same on every start. Files that are not valid models are listed in
    /// [`Catalog::skipped`], not fatal: one vendor's broken file must not
    /// take every other profile away. Only a missing or unreadable
    /// directory is an error.
    pub fn load(dir: &Path) -> std::io::Result<Catalog> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            })
            .collect();
        paths.sort();
        let mut catalog = Catalog::default();
        for path in paths {
            if catalog.entries.len() >= MAX_MODELS {
                catalog.skipped.push(Skipped {
                    path,
                    reason: format!("the catalog holds at most {MAX_MODELS} models"),
                });
                continue;
            }
            match read_model(&path) {
                Ok(model) => catalog.entries.push(Entry { path, model }),
                Err(reason) => catalog.skipped.push(Skipped { path, reason }),
            }
        }
        Ok(catalog)
    }

    /// A catalog of models already in memory (tests, callers with their own storage).
    pub fn from_models(models: impl IntoIterator<Item = (PathBuf, ThreatModel)>) -> Catalog {
        Catalog {
            entries: models
                .into_iter()
                .map(|(path, model)| Entry { path, model })
                .collect(),
            skipped: Vec::new(),
        }
    }

    /// Every loaded model, in file-name order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The model of a device identified as `vendor` `model` running
    /// `firmware`, if the catalog has one: see the module comment for the rule.
    pub fn find(&self, vendor: &str, model: &str, firmware: Option<&str>) -> Option<&ThreatModel> {
        self.find_entry(vendor, model, firmware).map(|e| &e.model)
    }

    /// [`Catalog::find`], with the file the model came from.
    pub fn find_entry(&self, vendor: &str, model: &str, firmware: Option<&str>) -> Option<&Entry> {
        let vendor = fold_vendor(vendor);
        let model = fold(model);
        if vendor.is_empty() || model.is_empty() {
            return None;
        }
        self.entries.iter().find(|e| {
            let id = &e.model.identity;
            fold_vendor(&id.vendor) == vendor
                && fold(&id.model) == model
                && firmware_fits(&id.firmware, firmware)
        })
    }
}

/// True when the model declares no firmware, or declares `firmware`.
fn firmware_fits(declared: &[warden_model::model::Firmware], firmware: Option<&str>) -> bool {
    if declared.is_empty() {
        return true;
    }
    let Some(fw) = firmware.map(fold) else {
        return false;
    };
    declared.iter().any(|d| fold(&d.version) == fw)
}

/// Lowercase with white space runs made one space, trimmed.
fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Words that name a company's legal form, not the company.
const COMPANY_FORMS: &[&str] = &[
    "inc",
    "incorporated",
    "ltd",
    "limited",
    "llc",
    "co",
    "corp",
    "corporation",
    "company",
    "gmbh",
    "ag",
    "sa",
    "bv",
    "plc",
    "pte",
    "international",
    "technology",
    "technologies",
    "electronics",
];

/// [`fold`], without `.`/`,` and trailing company-form words.
fn fold_vendor(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c == '.' || c == ',' { ' ' } else { c })
        .collect();
    let folded = fold(&cleaned);
    let mut words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    while words.len() > 1 && words.last().is_some_and(|w| COMPANY_FORMS.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

fn read_model(path: &Path) -> Result<ThreatModel, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > warden_model::MAX_INPUT_BYTES as u64 {
        return Err(format!(
            "{} bytes; a model is at most {} bytes",
            meta.len(),
            warden_model::MAX_INPUT_BYTES
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    warden_model::load(&bytes)
        .map(|l| l.model)
        .map_err(|e| e.to_string().replace('\n', "; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temporary one, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "warden-profile-{tag}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos()
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn models_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
    }

    #[test]
    fn the_shipped_models_load_and_match_by_vendor_model_and_firmware() {
        let c = Catalog::load(&models_dir()).unwrap();
        assert_eq!(c.len(), 4, "skipped: {:?}", c.skipped);
        assert!(c.skipped.is_empty());
        // good-camera declares firmware 2.4.1 and 2.3.7.
        let m = c
            .find("northwind OPTICS", "  NW-Cam   2 ", Some("2.4.1"))
            .expect("case and white space do not matter");
        assert_eq!(m.identity.model, "NW-Cam 2");
        assert!(c
            .find("Northwind Optics", "NW-Cam 2", Some("2.3.7"))
            .is_some());
        assert!(c
            .find("Northwind Optics", "NW-Cam 2", Some("1.0"))
            .is_none());
        assert!(
            c.find("Northwind Optics", "NW-Cam 2", None).is_none(),
            "an unknown firmware is not inside the declared versions"
        );
        assert!(c
            .find("Northwind Optics", "NW-Cam 3", Some("2.4.1"))
            .is_none());
        assert!(c.find("", "", None).is_none());
        // The registry's spelling of a vendor.
        assert!(c
            .find("Northwind Optics Co., Ltd.", "NW-Cam 2", Some("2.4.1"))
            .is_some());
        assert!(c.find("Northwind", "NW-Cam 2", Some("2.4.1")).is_none());
    }

    #[test]
    fn a_model_without_firmware_matches_any_firmware_and_bad_files_are_skipped() {
        let dir = TempDir::new("catalog");
        let text = "format_version: 1\nidentity:\n  vendor: Acme\n  model: Plug 1\n";
        std::fs::write(dir.path().join("a.yaml"), text).unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            "format_version: 1\nidentity: 3\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a model").unwrap();
        let c = Catalog::load(dir.path()).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c.skipped.len(), 1);
        assert!(c.skipped[0].path.ends_with("b.yaml"));
        assert!(c.find("ACME", "plug 1", None).is_some());
        assert!(c.find("ACME", "plug 1", Some("9.9")).is_some());
        assert!(c.find("ACME", "plug 2", None).is_none());
        assert!(Catalog::load(&dir.path().join("missing")).is_err());
    }
}
