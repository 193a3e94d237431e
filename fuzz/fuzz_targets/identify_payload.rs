//! Payloads on identification ports through `observe`, folded into one
//! `Identity`. The input is a sequence of records
//! `[flags][port pair][len: u16 BE][payload]` (see `warden_fuzz::records`
//! and `identify_header`), so one input can build up a device's identity
//! from many messages, as a chatty or hostile device would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_identify::identity::MAX_TEXT;
use warden_identify::text::{is_displayable, OBSERVATION_TEXT};
use warden_identify::{observe, Identity, Observation, Transport};

/// `docs/identification.md`: every list full of maximum-length strings
/// stays under this (test `identity::tests::worst_case_heap`).
const MAX_IDENTITY_HEAP: usize = 24 * 1024;

/// The DHCP fingerprint is option 55 (at most 64 codes of up to three
/// digits, comma-separated), `|`, and the vendor class (a stored string).
const MAX_FINGERPRINT: usize = 64 * 4 + MAX_TEXT;

/// The texts an observation carries (all must be display-safe and bounded).
fn texts<'a>(o: &Observation<'a>) -> [&'a str; 2] {
    use Observation as O;
    match *o {
        O::DhcpHostname(s)
        | O::DhcpVendorClass(s)
        | O::DhcpFqdn(s)
        | O::DhcpMudUrl(s)
        | O::Dhcp6Fqdn(s)
        | O::MdnsHostname(s)
        | O::MdnsService(s)
        | O::DnsQuery(s)
        | O::UpnpServer(s)
        | O::UpnpLocation(s)
        | O::UpnpDeviceType(s)
        | O::UserAgent(s)
        | O::HttpServer(s)
        | O::HttpHost(s)
        | O::TlsServerName(s) => [s, ""],
        O::Dhcp6VendorClass { class, .. } => [class, ""],
        O::MdnsTxt { key, value } => [key, value],
        _ => ["", ""],
    }
}

fn check_text(s: &str, max: usize) {
    assert!(s.len() <= max, "{} bytes: {s:?}", s.len());
    assert!(s.chars().all(is_displayable), "{s:?}");
}

/// Every string the identity serialises (it goes into reports and alert
/// evidence) is display-safe and cut to the stored-text bound.
fn check_json(key: &str, v: &serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            let max = if key == "fingerprint" {
                MAX_FINGERPRINT
            } else {
                MAX_TEXT
            };
            check_text(s, max);
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| check_json(key, v)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| check_json(k, v)),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut identity = Identity::new();
    identity.set_mac([0x02, 0, 0, 0, 0, 1]);
    for (header, payload) in warden_fuzz::records::<2>(data) {
        let (t, src, dst, from_device) = warden_fuzz::identify_header(header);
        let mut observations = 0;
        observe(t, src, dst, payload, from_device, &mut |o| {
            observations += 1;
            for s in texts(&o) {
                check_text(s, OBSERVATION_TEXT);
            }
            identity.apply(&o);
        });
        // Only the device's own words describe it: nothing from TCP it
        // received, nothing from ports that identify nothing.
        if (t == Transport::Tcp && !from_device)
            || (t == Transport::Udp && (src, dst) == (49152, 49153))
        {
            assert_eq!(
                observations, 0,
                "{t:?} {src}->{dst} from_device={from_device}"
            );
        }
    }
    // Inference and display run on whatever was folded in.
    for s in [
        identity.hostname(),
        identity.model(),
        identity.firmware(),
        identity.os(),
    ]
    .into_iter()
    .flatten()
    {
        check_text(s, MAX_TEXT);
    }
    if let Some(f) = identity.fingerprint() {
        check_text(f, MAX_FINGERPRINT);
    }
    for sw in identity.software() {
        check_text(&sw.product, MAX_TEXT);
        check_text(&sw.version, MAX_TEXT);
    }
    // The table line: at most 160 bytes (`Identity::summary` docs).
    check_text(&identity.summary(), 160);
    let json = serde_json::to_value(&identity).expect("identity serializes");
    check_json("", &json);
    assert!(
        identity.approx_heap_bytes() < MAX_IDENTITY_HEAP,
        "identity heap {} bytes",
        identity.approx_heap_bytes()
    );
});
