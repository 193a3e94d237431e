//! Firmware versions and ranges.
//!
//! **Comparison.** Anything before the first digit is not part of the
//! version (`IpBridge/1.50.0` is `1.50.0`, `v2.1` is `2.1`; identification
//! reports firmware with its product name). The version is split into segments: runs of digits
//! (numbers) and runs of letters (words); everything else (`.`, `-`, `_`,
//! `/`, spaces) only separates. Segments are compared left to right: two
//! numbers numerically (leading zeros ignored, any length), two words
//! case-insensitively, and a number is greater than a word (`1.0.1 > 1.0.rc`).
//! When one version runs out: a missing segment counts as 0 against a
//! number (`1.2 == 1.2.0`) and as greater than a word (`1.2 > 1.2rc1`, a
//! release comes after its candidates).
//!
//! **Range.** A known version `v` is in a [`VersionRange`] when
//! `min <= v` (if `min` is given), `v < below` (if given), and `v` is not
//! fixed. `v` is fixed when a `fixed_in` version `f` of the same major line
//! (same first segment) has `f <= v`, or, when no `fixed_in` version shares
//! its major line, when `v` is at or after the greatest `fixed_in` version
//! (a later major line is assumed to carry the fix; an earlier one not).
//! So `fixed_in: [1.9.8, 2.3.1]` leaves 1.9.7 and 2.0.0 listed and drops
//! 1.9.8, 2.3.1 and 3.0.
//!
//! **Unknown firmware.** A device whose firmware was not identified
//! matches only listings with no firmware range at all (every version; an
//! empty range counts as none). A
//! listing restricted to some versions says nothing about a device whose
//! version is unknown, and acting on a guess would quarantine fixed
//! devices.

use std::cmp::Ordering;

use crate::types::VersionRange;

#[derive(Debug, PartialEq, Eq)]
enum Seg<'a> {
    Num(&'a str),
    Word(&'a str),
}

fn segments(v: &str) -> impl Iterator<Item = Seg<'_>> {
    let b = v.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && !b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        let digit = b[i].is_ascii_digit();
        while i < b.len() && b[i].is_ascii_alphanumeric() && b[i].is_ascii_digit() == digit {
            i += 1;
        }
        let s = &v[start..i];
        Some(if digit { Seg::Num(s) } else { Seg::Word(s) })
    })
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_word(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// The version part of a firmware string: from its first digit on, so that
/// a product name or `v` in front (`IpBridge/1.50.0`, `V2.1`) is not compared.
/// A string without digits is kept whole.
fn version_part(v: &str) -> &str {
    match v.find(|c: char| c.is_ascii_digit()) {
        Some(i) => &v[i..],
        None => v,
    }
}

/// Compares two version strings (rule in the module docs).
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut x = segments(version_part(a));
    let mut y = segments(version_part(b));
    loop {
        let o = match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (Some(Seg::Num(p)), Some(Seg::Num(q))) => cmp_num(p, q),
            (Some(Seg::Word(p)), Some(Seg::Word(q))) => cmp_word(p, q),
            (Some(Seg::Num(_)), Some(Seg::Word(_))) => Ordering::Greater,
            (Some(Seg::Word(_)), Some(Seg::Num(_))) => Ordering::Less,
            (Some(Seg::Num(p)), None) => cmp_num(p, "0"),
            (None, Some(Seg::Num(q))) => cmp_num("0", q),
            (Some(Seg::Word(_)), None) => Ordering::Less,
            (None, Some(Seg::Word(_))) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
}

fn major(v: &str) -> Option<Seg<'_>> {
    segments(version_part(v)).next()
}

fn same_major(a: &str, b: &str) -> bool {
    match (major(a), major(b)) {
        (Some(Seg::Num(p)), Some(Seg::Num(q))) => cmp_num(p, q) == Ordering::Equal,
        (Some(Seg::Word(p)), Some(Seg::Word(q))) => cmp_word(p, q) == Ordering::Equal,
        _ => false,
    }
}

/// Whether `v` is fixed by one of `fixed_in` (rule in the module docs).
pub fn is_fixed(v: &str, fixed_in: &[String]) -> bool {
    let mut any_same_line = false;
    for f in fixed_in {
        if same_major(v, f) {
            any_same_line = true;
            if compare(v, f) != Ordering::Less {
                return true;
            }
        }
    }
    if any_same_line {
        return false;
    }
    fixed_in
        .iter()
        .max_by(|a, b| compare(a, b))
        .is_some_and(|max| compare(v, max) != Ordering::Less)
}

/// Whether a device with firmware `v` (None: unknown) falls in `range`
/// (None: every version).
pub fn in_range(v: Option<&str>, range: Option<&VersionRange>) -> bool {
    let Some(r) = range else { return true };
    if r.min.is_none() && r.below.is_none() && r.fixed_in.is_empty() {
        return true;
    }
    let Some(v) = v else { return false };
    if let Some(min) = &r.min {
        if compare(v, min) == Ordering::Less {
            return false;
        }
    }
    if let Some(below) = &r.below {
        if compare(v, below) != Ordering::Less {
            return false;
        }
    }
    !is_fixed(v, &r.fixed_in)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dotted_numeric_then_lexical() {
        for (a, b, o) in [
            ("1.2.10", "1.2.9", Greater),
            ("1.10", "1.9", Greater),
            ("1.2", "1.2.0", Equal),
            ("01.002", "1.2", Equal),
            ("1.2", "1.2.1", Less),
            ("1.2rc1", "1.2", Less),
            ("1.2rc1", "1.2rc2", Less),
            ("1.2-beta", "1.2-alpha", Greater),
            ("1.0.1", "1.0.rc", Greater),
            ("V2.1", "v2.1", Equal),
            ("v2.1", "2.1", Equal),
            ("IpBridge/1.65.0", "1.60", Greater),
            ("IpBridge/1.41.0", "1.60", Less),
            ("IpBridge/1.41.0", "Other/1.41", Equal),
            ("beta", "alpha", Greater),
            ("2.0.0.1234", "2.0.0.999", Greater),
            ("99999999999999999999999", "1", Greater),
            ("", "", Equal),
            ("", "0", Equal),
            ("1.50.0", "1.9.0", Greater),
        ] {
            assert_eq!(compare(a, b), o, "{a} vs {b}");
            assert_eq!(compare(b, a), o.reverse(), "{b} vs {a}");
        }
    }

    fn range(min: Option<&str>, below: Option<&str>, fixed: &[&str]) -> VersionRange {
        VersionRange {
            min: min.map(Into::into),
            below: below.map(Into::into),
            fixed_in: fixed.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn range_bounds() {
        let r = range(Some("1.2"), Some("2.0"), &[]);
        assert!(!in_range(Some("1.1.9"), Some(&r)));
        assert!(in_range(Some("1.2"), Some(&r)));
        assert!(in_range(Some("1.99"), Some(&r)));
        assert!(!in_range(Some("2.0"), Some(&r)));
        assert!(!in_range(Some("2.0.0"), Some(&r)));
        assert!(in_range(Some("anything"), None));
    }

    #[test]
    fn fixed_in_respects_major_lines() {
        let r = range(None, None, &["1.9.8", "2.3.1"]);
        for (v, listed) in [
            ("1.9.7", true),
            ("1.9.8", false),
            ("1.10", false),
            ("2.0.0", true),
            ("2.3.0", true),
            ("2.3.1", false),
            ("3.0", false),
            ("0.9", true),
        ] {
            assert_eq!(in_range(Some(v), Some(&r)), listed, "{v}");
        }
    }

    #[test]
    fn unknown_firmware_matches_only_unrestricted_listings() {
        assert!(in_range(None, None));
        assert!(!in_range(None, Some(&range(None, Some("2.0"), &[]))));
        assert!(!in_range(None, Some(&range(None, None, &["1.0"]))));
        // An empty range is no range.
        assert!(in_range(None, Some(&VersionRange::default())));
    }
}
