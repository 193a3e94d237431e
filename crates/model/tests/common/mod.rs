//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use warden_model::{lint, load, Finding, Loaded};

/// The date the tests judge support periods by, fixed so results do not age.
pub fn today() -> time::Date {
    time::Date::from_calendar_date(2026, time::Month::November, 25).unwrap()
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The four example models shipped in models/.
pub fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("models"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

pub fn load_file(path: &Path) -> Loaded {
    let bytes = std::fs::read(path).unwrap();
    load(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn lint_file(path: &Path) -> (Loaded, Vec<Finding>) {
    let loaded = load_file(path);
    let findings = lint(&loaded, today());
    (loaded, findings)
}
