//! Identification on the real IoT Sentinel captures: for every device in
//! `EXPECTED.tsv`, feed the UDP/TCP payloads of frames sent by or to its MAC
//! through `observe` and check that the hostname, DHCP vendor class and UPnP
//! SERVER / User-Agent strings that independent tools see are recovered.
//!
//! `cargo test -p warden-identify --test iot_sentinel -- --nocapture` prints
//! the model/firmware table that `docs/identification.md` quotes.

use std::path::{Path, PathBuf};

use etherparse::{LinkSlice, SlicedPacket, TransportSlice};
use warden_identify::{observe, Identity, Transport};

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join("iot-sentinel")
}

struct Expected {
    device: String,
    mac: [u8; 6],
    hostname: String,
    vendor_class: String,
    upnp_or_ua: Vec<String>,
    capture: String,
}

fn parse_mac(s: &str) -> [u8; 6] {
    let mut mac = [0u8; 6];
    let parts: Vec<_> = s.split(':').collect();
    assert_eq!(parts.len(), 6, "bad MAC {s}");
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16).expect("hex MAC");
    }
    mac
}

fn expected() -> Vec<Expected> {
    let tsv = std::fs::read_to_string(data_dir().join("EXPECTED.tsv"))
        .expect("EXPECTED.tsv must exist (CI has ../shared/data)");
    let mut lines = tsv.lines();
    let header: Vec<_> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (c_dev, c_mac, c_host, c_vc, c_up, c_cap) = (
        col("device"),
        col("mac"),
        col("dhcp_hostname"),
        col("dhcp_vendor_class"),
        col("upnp_server_or_user_agent"),
        col("capture"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<_> = l.split('\t').collect();
            Expected {
                device: f[c_dev].to_string(),
                mac: parse_mac(f[c_mac]),
                hostname: f[c_host].to_string(),
                vendor_class: f[c_vc].to_string(),
                upnp_or_ua: f[c_up]
                    .split('|')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                capture: f[c_cap].to_string(),
            }
        })
        .collect()
}

/// Runs every frame to or from `mac` through `observe`; returns the identity
/// and the number of observations made.
fn identify(path: &Path, mac: [u8; 6]) -> (Identity, usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, capture) = pcap_parser::parse_pcap(&bytes).expect("legacy pcap");
    let mut id = Identity::new();
    id.set_mac(mac);
    let mut n = 0;
    for block in &capture.blocks {
        let Ok(pkt) = SlicedPacket::from_ethernet(block.data) else {
            continue;
        };
        let Some(LinkSlice::Ethernet2(eth)) = &pkt.link else {
            continue;
        };
        let from_device = eth.source() == mac;
        if !from_device && eth.destination() != mac {
            continue;
        }
        let (t, sp, dp, payload) = match &pkt.transport {
            Some(TransportSlice::Udp(u)) => (
                Transport::Udp,
                u.source_port(),
                u.destination_port(),
                u.payload(),
            ),
            Some(TransportSlice::Tcp(t)) => (
                Transport::Tcp,
                t.source_port(),
                t.destination_port(),
                t.payload(),
            ),
            _ => continue,
        };
        observe(t, sp, dp, payload, from_device, &mut |o| {
            n += 1;
            id.apply(&o);
        });
    }
    (id, n)
}

#[test]
fn recovers_expected_identities() {
    let rows = expected();
    assert!(rows.len() >= 31, "expected 31 devices, got {}", rows.len());
    let mut failures = Vec::new();
    let mut max_heap = 0;
    let mut summaries = Vec::new();
    println!(
        "\n| device | hostname | model | firmware | os | DHCP fingerprint |\n|---|---|---|---|---|---|"
    );
    for row in &rows {
        let path = data_dir().join(&row.device).join(&row.capture);
        let (id, n) = identify(&path, row.mac);
        let cell = |s: Option<&str>| s.unwrap_or("").replace('|', "\\|");
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.device,
            cell(id.hostname()),
            cell(id.model()),
            cell(id.firmware()),
            cell(id.os()),
            cell(id.fingerprint()),
        );
        max_heap = max_heap.max(id.approx_heap_bytes());
        summaries.push(format!("{}: {}", row.device, id.summary()));
        if row.device == "HueBridge" || row.device == "D-LinkCam" {
            summaries.push(serde_json::to_string_pretty(&id).expect("json"));
        }

        let want_host = Some(row.hostname.as_str()).filter(|h| !h.is_empty());
        if id.hostname() != want_host {
            failures.push(format!(
                "{}: hostname {:?} != {want_host:?}",
                row.device,
                id.hostname()
            ));
        }
        let want_vc = Some(row.vendor_class.as_str()).filter(|h| !h.is_empty());
        if id.dhcp().vendor_class() != want_vc {
            failures.push(format!(
                "{}: vendor class {:?} != {want_vc:?}",
                row.device,
                id.dhcp().vendor_class()
            ));
        }
        for want in &row.upnp_or_ua {
            let seen = id
                .upnp_server()
                .iter()
                .chain(id.user_agents())
                .any(|s| s == want);
            if !seen {
                failures.push(format!(
                    "{}: {want:?} not in UPnP {:?} / UA {:?}",
                    row.device,
                    id.upnp_server(),
                    id.user_agents()
                ));
            }
        }
        if id.dhcp().vendor_class().is_some() {
            // The fingerprint ends with the vendor class it was built from.
            let fp = id.fingerprint().unwrap_or("");
            assert!(
                fp.ends_with(&format!("|{}", row.vendor_class)),
                "{}: {fp}",
                row.device
            );
        }
        // The firmware guess is never a DHCP client's, an HTTP client's or a
        // web server's version: those are the same on many devices and
        // firmware releases, and would match a feed's firmware ranges.
        if let Some(fw) = id.firmware() {
            let fw_l = fw.to_ascii_lowercase();
            if Some(fw) == id.dhcp().vendor_class()
                || fw_l.starts_with("udhcp")
                || fw_l.starts_with("dhcpcd")
                || fw_l.contains("sdk for upnp devices")
            {
                failures.push(format!(
                    "{}: firmware {fw:?} is client software",
                    row.device
                ));
            }
            for s in id.software() {
                use warden_identify::identity::SoftwareSource as S;
                let client = matches!(s.source, S::Dhcp | S::Dhcp6 | S::UserAgent | S::HttpServer);
                if client && fw == format!("{}/{}", s.product, s.version) {
                    failures.push(format!(
                        "{}: firmware {fw:?} is {:?} software",
                        row.device, s.source
                    ));
                }
            }
        }
        // A device that independent tools saw something for must have an identity.
        if want_host.is_some() || want_vc.is_some() || !row.upnp_or_ua.is_empty() {
            assert!(n > 0 && !id.is_empty(), "{}: nothing observed", row.device);
        }
        let json = serde_json::to_value(&id).expect("serialise");
        assert!(json.is_object());
        if let Some(h) = id.hostname() {
            assert_eq!(json["hostname"], h);
        }
        assert!(json.get("mac").is_none() && json.get("model_rank").is_none());
    }
    println!("\n{}", summaries.join("\n"));
    println!(
        "\nlargest approx_heap_bytes: {max_heap}, size_of::<Identity>(): {}",
        std::mem::size_of::<Identity>()
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
