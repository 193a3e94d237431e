//! RFC 3339 timestamps as used in the labels ("2026-01-15T12:03:10.250000Z").

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Format absolute unix microseconds as UTC RFC 3339: whole seconds as
/// `...:SSZ`, anything else with exactly six fractional digits.
pub fn format_timestamp(unix_us: i64) -> String {
    let secs = unix_us.div_euclid(1_000_000);
    let usec = unix_us.rem_euclid(1_000_000);
    let Ok(dt) = OffsetDateTime::from_unix_timestamp(secs) else {
        return format!("@{unix_us}us");
    };
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if usec == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{usec:06}Z")
    }
}

/// Parse an RFC 3339 timestamp (as written in the labels, or any offset) to
/// unix microseconds. Sub-microsecond digits are truncated.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    let ns = dt.unix_timestamp_nanos();
    i64::try_from(ns.div_euclid(1000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = 1_768_478_400_000_000i64; // 2026-01-15T12:00:00Z
        assert_eq!(format_timestamp(t), "2026-01-15T12:00:00Z");
        let t2 = t + 190_250_000;
        assert_eq!(format_timestamp(t2), "2026-01-15T12:03:10.250000Z");
        assert_eq!(parse_timestamp(&format_timestamp(t2)), Some(t2));
        assert_eq!(parse_timestamp("2026-01-15T13:00:00+01:00"), Some(t));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
