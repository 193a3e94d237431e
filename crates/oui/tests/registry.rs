//! Lookups against the embedded registry snapshot (no `ieee-data` needed).

use warden_oui::{lookup, registry_date, registry_stats, MacInfo, Registry};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

fn mac(s: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut out {
        let part = parts.next().unwrap_or_else(|| panic!("short MAC {s:?}"));
        *byte = u8::from_str_radix(part, 16).unwrap_or_else(|_| panic!("bad MAC {s:?}"));
    }
    assert!(parts.next().is_none(), "long MAC {s:?}");
    out
}

#[test]
fn iot_sentinel_devices_get_their_ieee_vendor() {
    let path = format!("{DATA}/iot-sentinel/EXPECTED.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (device_col, mac_col, vendor_col) = (col("device"), col("mac"), col("ieee_vendor"));

    let mut checked = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (device, addr, want) = (fields[device_col], fields[mac_col], fields[vendor_col]);
        let info = lookup(mac(addr));
        assert_eq!(info.vendor, Some(want), "{device} {addr}");
        assert_eq!(info.registry, Some(Registry::MaL), "{device} {addr}");
        assert_eq!(info.prefix_bits, 24, "{device} {addr}");
        assert!(
            !info.locally_administered && !info.multicast,
            "{device} {addr}"
        );
        checked += 1;
    }
    assert!(checked >= 31, "only {checked} devices in {path}");
}

#[test]
fn ma_m_beats_the_covering_ma_l() {
    // mam.csv: MA-M,208593B,IOG Products LLC; oui.csv: MA-L,208593,IEEE Registration Authority.
    let info = lookup(mac("20:85:93:b1:23:45"));
    assert_eq!(info.vendor, Some("IOG Products LLC"));
    assert_eq!(info.registry, Some(Registry::MaM));
    assert_eq!(info.prefix_bits, 28);
    // 208593F is not assigned in mam.csv, so the MA-L block owner answers.
    let info = lookup(mac("20:85:93:f1:23:45"));
    assert_eq!(info.vendor, Some("IEEE Registration Authority"));
    assert_eq!(info.registry, Some(Registry::MaL));
    assert_eq!(info.prefix_bits, 24);
}

#[test]
fn ma_s_beats_the_covering_ma_l() {
    // oui36.csv: MA-S,70B3D5F2F,TELEPLATFORMS and neighbour F2D is ID Lock AS.
    let info = lookup(mac("70:b3:d5:f2:f9:99"));
    assert_eq!(info.vendor, Some("TELEPLATFORMS"));
    assert_eq!(info.registry, Some(Registry::MaS));
    assert_eq!(info.prefix_bits, 36);
    assert_eq!(lookup(mac("70:b3:d5:f2:d0:00")).vendor, Some("ID Lock AS"));
}

#[test]
fn iab_blocks_resolve() {
    // iab.csv: IAB,0050C27D5,DEUTA-WERKE GmbH inside MA-L 0050C2.
    let info = lookup(mac("00:50:c2:7d:5a:bc"));
    assert_eq!(info.vendor, Some("DEUTA-WERKE GmbH"));
    assert_eq!(info.registry, Some(Registry::Iab));
    assert_eq!(info.prefix_bits, 36);
}

#[test]
fn locally_administered_macs_have_no_vendor() {
    for addr in [
        "02:00:00:00:00:01",
        "da:a1:19:12:34:56",
        "52:c7:bf:00:fc:a3",
    ] {
        let info = lookup(mac(addr));
        assert!(info.locally_administered, "{addr}");
        assert!(!info.multicast, "{addr}");
        assert_eq!(
            (info.vendor, info.registry, info.prefix_bits),
            (None, None, 0),
            "{addr}"
        );
    }
    // 52:c7:bf is the TP-Link OUI with the U/L bit set: the bit, not the
    // table, must be what hides the vendor.
    assert!(lookup(mac("50:c7:bf:00:fc:a3")).vendor.is_some());
}

#[test]
fn broadcast_and_multicast_have_no_vendor() {
    let info = lookup([0xff; 6]);
    assert!(info.multicast && info.locally_administered);
    assert_eq!(
        (info.vendor, info.registry, info.prefix_bits),
        (None, None, 0)
    );
    // IPv4 multicast lives under IANA's OUI 00:00:5E with the I/G bit set.
    let info = lookup(mac("01:00:5e:00:00:fb"));
    assert!(info.multicast && !info.locally_administered);
    assert_eq!(info.vendor, None);
    assert!(lookup(mac("00:00:5e:00:00:fb")).vendor.is_some());
}

#[test]
fn unassigned_prefix_is_unknown() {
    // FC:00:00 is not in the 2022-08-27 MA-L listing; if a refresh assigns
    // it, pick another unassigned universally administered prefix.
    let info = lookup(mac("fc:00:00:12:34:56"));
    assert_eq!(
        info,
        MacInfo {
            vendor: None,
            registry: None,
            prefix_bits: 0,
            locally_administered: false,
            multicast: false
        }
    );
}

#[test]
fn embedded_snapshot_is_complete_and_dated() {
    let stats = registry_stats();
    assert_eq!(stats.skipped_lines, 0);
    assert_eq!(stats.date, registry_date());
    assert_eq!(
        warden_oui::generate::parse_date(registry_date()).as_deref(),
        Some(registry_date())
    );
    // Registry sizes of the 2022 snapshot: 32k MA-L, 4k+ each of the others.
    let [mal, mam, mas, iab] = stats.entries;
    assert!(
        mal > 30_000 && mam > 4_000 && mas > 4_000 && iab > 4_000,
        "{stats:?}"
    );
    assert!(
        stats.names > 20_000 && stats.names < mal + mam + mas + iab,
        "{stats:?}"
    );
}

#[test]
fn mac_info_serialises_registry_names() {
    let json = serde_json::to_value(lookup(mac("20:85:93:b1:23:45"))).unwrap();
    assert_eq!(json["registry"], "MA-M");
    assert_eq!(json["vendor"], "IOG Products LLC");
    assert_eq!(json["prefix_bits"], 28);
    assert_eq!(json["locally_administered"], false);
}
