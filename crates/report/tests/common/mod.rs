//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use warden_report::Report;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub const GOOD: &str = "reports/good-camera-2026-11-negative.yaml";
pub const POOR: &str = "reports/poor-camera-2026-11-findings.yaml";

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn report(rel: &str) -> Report {
    warden_report::load(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A model and its file's bytes.
pub fn model(rel: &str) -> (warden_model::Loaded, Vec<u8>) {
    let bytes = read(rel);
    let loaded = warden_model::load(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
    (loaded, bytes)
}

/// The report in `rel` (YAML) with `edit` applied to its JSON form.
pub fn edited(rel: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v = serde_json::to_value(report(rel)).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

pub fn date(y: i32, m: u8, d: u8) -> time::Date {
    time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap()
}
