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

/// Tag names and attribute names of an HTML/SVG text, in order.
pub fn tags(doc: &str) -> Vec<String> {
    // Tag names and attribute names, in order; quoted values skipped (they
    // hold the escaped text, and a quote inside one would end it early).
    let mut out = Vec::new();
    let b = doc.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        let mut t = String::new();
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
            t.push(b[i] as char);
            i += 1;
        }
        loop {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            assert!(i < b.len(), "unclosed tag {t}");
            if b[i] == b'>' {
                i += 1;
                break;
            }
            let start = i;
            while i < b.len() && !b"= >".contains(&b[i]) {
                i += 1;
            }
            t.push(' ');
            t.push_str(&doc[start..i]);
            if i < b.len() && b[i] == b'=' {
                i += 1;
                let q = b[i];
                assert!(q == b'"', "attribute values are double-quoted: {t}");
                i += 1;
                while b[i] != q {
                    i += 1;
                }
                i += 1;
            }
        }
        out.push(t);
    }
    out
}
