//! Input formats shared by the fuzz targets and the seed-corpus writer.
//!
//! Each target reads its input in one of these formats, and
//! `examples/seed_corpus.rs` writes real packets in the same formats, so the
//! seeds start where the targets can use them. Every reader is total: any
//! byte string is a valid input (short or odd bytes just mean fewer or
//! shorter records).

use warden_decode::LinkType;
use warden_identify::Transport;

/// The link types a selector byte can pick. Ethernet twice: it is what real
/// captures mostly are. The last slot is an unsupported type.
const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Ethernet,
    LinkType::Unknown(147),
];

/// The link type a selector byte picks (low three bits).
pub fn link_type(selector: u8) -> LinkType {
    LINKS[usize::from(selector & 7)]
}

/// A selector byte for `link` (the inverse of [`link_type`]).
pub fn link_selector(link: LinkType) -> u8 {
    LINKS.iter().position(|&l| l == link).unwrap_or(7) as u8
}

/// Splits `data` into records of `[header: H bytes][len: u16 BE][len bytes]`.
/// A record whose length runs past the end takes what is left; a trailing
/// piece shorter than a record header is ignored.
pub fn records<const H: usize>(mut data: &[u8]) -> impl Iterator<Item = ([u8; H], &[u8])> {
    core::iter::from_fn(move || {
        let head = data.get(..H)?;
        let len = data.get(H..H + 2)?;
        let header = <[u8; H]>::try_from(head).ok()?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let rest = &data[H + 2..];
        let (body, tail) = rest.split_at(len.min(rest.len()));
        data = tail;
        Some((header, body))
    })
}

/// Appends one record in the format [`records`] reads. Bodies longer than
/// `u16::MAX` are cut.
pub fn push_record<const H: usize>(out: &mut Vec<u8>, header: [u8; H], body: &[u8]) {
    let body = &body[..body.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&header);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// Port pairs the identification target can put a payload on: every
/// identification port in both directions, plus two that identify nothing.
pub const PORTS: [(u16, u16); 16] = [
    (68, 67),
    (67, 68),
    (546, 547),
    (547, 546),
    (5353, 5353),
    (49152, 5353),
    (49152, 53),
    (53, 49152),
    (1900, 1900),
    (49152, 1900),
    (1900, 49152),
    (49152, 80),
    (80, 49152),
    (49152, 443),
    (49152, 8080),
    (49152, 49153),
];

/// One identification-target record header: `[flags, port pair]`.
/// Flags bit 0: TCP (else UDP); bit 1: sent by the device.
pub fn identify_header(h: [u8; 2]) -> (Transport, u16, u16, bool) {
    let t = if h[0] & 1 != 0 {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let (src, dst) = PORTS[usize::from(h[1]) % PORTS.len()];
    (t, src, dst, h[0] & 2 != 0)
}

/// The header [`identify_header`] reads back as these values, if the port
/// pair is in [`PORTS`].
pub fn identify_header_for(t: Transport, src: u16, dst: u16, from_device: bool) -> Option<[u8; 2]> {
    let i = PORTS.iter().position(|&p| p == (src, dst))?;
    let flags = u8::from(t == Transport::Tcp) | (u8::from(from_device) << 1);
    Some([flags, i as u8])
}

/// Start of capture time for the pipeline target (2023-11-14, in ns).
pub const START_NS: i64 = 1_700_000_000_000_000_000;

/// The next timestamp after `ts` for a pipeline record's time byte: mostly
/// small steps forward (so rates build up), sometimes long gaps (so state
/// expires), backward steps and the extremes of `i64` (hostile clocks).
pub fn next_ts(ts: i64, code: u8) -> i64 {
    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;
    match code {
        0..=127 => ts.saturating_add(i64::from(code) * MS),
        128..=191 => ts.saturating_add(i64::from(code - 128) * S),
        192..=239 => ts.saturating_add(i64::from(code - 192) * 60 * S),
        240..=247 => ts.saturating_sub(i64::from(code - 239) * S),
        248 => i64::MAX - i64::from(code & 1),
        249 => i64::MIN,
        250 => 0,
        251 => ts.saturating_neg(),
        _ => ts,
    }
}

/// A time byte for a forward step of `delta_ns` (rounded to what the
/// encoding has), the inverse of [`next_ts`] for real captures.
pub fn ts_code_for(delta_ns: i64) -> u8 {
    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;
    if delta_ns <= 0 {
        252
    } else if delta_ns < 128 * MS {
        (delta_ns / MS) as u8
    } else if delta_ns < 64 * S {
        128 + (delta_ns / S) as u8
    } else {
        192 + (delta_ns / (60 * S)).min(47) as u8
    }
}

/// Configuration byte of the pipeline target: bits 0-2 pick the link type
/// (as [`link_type`]), bit 3 the touchy configuration below (tiny tables
/// and thresholds, so eviction and every detector's alert path are reachable
/// within a few frames), bit 4 an explicit LAN of 10.0.0.0/8 and fd00::/8.
pub fn pipeline_config(b: u8) -> (LinkType, bool, bool) {
    (link_type(b), b & 8 != 0, b & 16 != 0)
}

/// The touchy configuration (see [`pipeline_config`]).
pub const TOUCHY_CONFIG: &str = r#"
[devices]
max_devices = 4
idle_evict_s = 1
max_dns_bindings = 4

[detect]
incident_gap_s = 1

[detect.flood]
min_pps = 2
max_targets = 1
min_concentration = 0.5
single_port_min_pps = 2
sprayed_ports = 2
named_min_pps = 2
syn_min_pps = 2
icmp_min_pps = 2
query_min_pps = 2
dns_min_qps = 2
min_hot_seconds = 1
window_s = 2

[detect.scan]
min_failures = 1
attempt_timeout_ms = 10
udp = true

[detect.spam]
min_servers = 1
min_submission_servers = 1
window_s = 5

[detect.brute_force]
min_login_connections = 1
min_other_connections = 1
window_s = 5
"#;

/// The explicit LAN (see [`pipeline_config`]).
pub const EXPLICIT_LAN_CONFIG: &str = r#"
[devices]
lan = ["10.0.0.0/8", "fd00::/8"]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_tolerate_garbage() {
        let mut buf = Vec::new();
        push_record(&mut buf, [1u8, 2], b"abc");
        push_record(&mut buf, [3u8, 4], b"");
        push_record(&mut buf, [5u8, 6], b"xyz");
        let got: Vec<_> = records::<2>(&buf).collect();
        assert_eq!(
            got,
            vec![
                ([1, 2], &b"abc"[..]),
                ([3, 4], &b""[..]),
                ([5, 6], &b"xyz"[..])
            ]
        );
        // A length past the end takes the rest; a short tail is dropped.
        let got: Vec<_> = records::<1>(&[9, 0xff, 0xff, b'q', b'r']).collect();
        assert_eq!(got, vec![([9], &b"qr"[..])]);
        assert_eq!(records::<2>(&[1, 2, 3]).count(), 0);
    }

    #[test]
    fn selectors_round_trip() {
        for b in 0..=255u8 {
            let l = link_type(b);
            assert_eq!(link_type(link_selector(l)), l);
        }
        for &(s, d) in &PORTS {
            for t in [Transport::Udp, Transport::Tcp] {
                for from in [false, true] {
                    let h = identify_header_for(t, s, d, from).unwrap();
                    assert_eq!(identify_header(h), (t, s, d, from));
                }
            }
        }
        assert!(identify_header_for(Transport::Udp, 1, 2, true).is_none());
    }

    #[test]
    fn time_codes_step_forward_as_encoded() {
        for delta in [0, 1_000_000, 5_000_000, 2_000_000_000, 3_600_000_000_000] {
            let ts = next_ts(START_NS, ts_code_for(delta));
            assert!(ts >= START_NS && ts <= START_NS + delta, "{delta} -> {ts}");
        }
        assert_eq!(next_ts(START_NS, 249), i64::MIN);
        assert_eq!(next_ts(i64::MIN, 251), i64::MAX);
    }

    #[test]
    fn configurations_parse() {
        let c = warden_pipeline::Config::parse(TOUCHY_CONFIG).unwrap();
        assert_eq!(c.devices.max_devices, 4);
        let c = warden_pipeline::Config::parse(EXPLICIT_LAN_CONFIG).unwrap();
        assert_eq!(c.devices.lan.len(), 2);
    }
}
