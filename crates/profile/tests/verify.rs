//! A real device's capture judged against models of it: what a model
//! leaves out is listed, what it declares is counted, and a model that
//! declares everything leaves nothing over.

use std::path::{Path, PathBuf};

use warden_capture::{FrameSource, PcapFile};
use warden_decode::Mac;
use warden_profile::{Observer, Profile, Proto, Report, MAX_FLOWS};

const CAM: Mac = Mac([0xb0, 0xc5, 0x54, 0x25, 0x5b, 0x0e]);

fn capture() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap");
    assert!(
        p.exists(),
        "missing {}: the tests read ../shared/data",
        p.display()
    );
    p
}

fn judge(model_yaml: &str) -> Report {
    let loaded = warden_model::load(model_yaml.as_bytes()).expect("a valid model");
    let profile = Profile::from_model(&loaded.model.network);
    let mut observer = Observer::new(CAM);
    let mut source = PcapFile::open(&capture()).unwrap();
    source
        .run(&mut |f| {
            if let Ok(p) = warden_decode::decode(f.link, f.data) {
                observer.packet(f.ts_ns, &p);
            }
        })
        .unwrap();
    observer.report(&profile, warden_oui::lookup(CAM.0).vendor)
}

const HEAD: &str =
    "format_version: 1\nidentity:\n  vendor: D-Link\n  model: DCS-935L\nnetwork:\n  flows:\n";

const CLOUD: &str = "    - {direction: from_device, protocol: tcp, port: 443, dns_name: signal.mydlink.com, purpose: cloud}
    - {direction: from_device, protocol: udp, port: 123, dns_name: ntp1.dlink.com, purpose: clock}
    - {direction: from_device, protocol: udp, port: 53, class: local_networks, purpose: DNS}
";

const LOCAL: &str = "    - {direction: from_device, protocol: udp, port: 5353, class: local_networks, purpose: mDNS}
    - {direction: from_device, protocol: udp, port: 1900, class: local_networks, purpose: SSDP}
    - {direction: from_device, protocol: udp, class: local_networks, purpose: discovery broadcast}
    - {direction: to_device, protocol: tcp, port: 80, class: local_networks, purpose: setup web page}
";

#[test]
fn undeclared_flows_are_listed_and_declared_ones_counted() {
    let r = judge(&format!("{HEAD}{CLOUD}"));
    // The camera's own web page, opened from the phone on the LAN, is not
    // in this model: an inbound flow to port 80.
    let web = r
        .undeclared
        .iter()
        .find(|f| f.direction == "to-device" && f.protocol == Proto::Tcp && f.port == 80)
        .unwrap_or_else(|| panic!("inbound port 80 not listed: {:#?}", r.undeclared));
    assert!(web.local && web.packets > 10);
    assert!(r
        .undeclared
        .iter()
        .any(|f| f.protocol == Proto::Udp && f.port == 5353));
    // The cloud flows are declared, by the names the camera's DNS answers
    // gave their addresses.
    let cloud = &r.declared[0];
    assert!(
        cloud.rule.contains("signal.mydlink.com") && cloud.packets > 0,
        "{cloud:?}"
    );
    assert!(
        r.declared.iter().all(|d| d.packets > 0),
        "{:#?}",
        r.declared
    );
    assert!(r.stats.infrastructure > 0, "DHCP and ARP are plumbing");
    assert_eq!(r.allowed_flows + r.undeclared.len(), r.flows);
}

#[test]
fn a_model_that_declares_everything_leaves_nothing_over() {
    let r = judge(&format!("{HEAD}{CLOUD}{LOCAL}"));
    assert!(r.undeclared.is_empty(), "{:#?}", r.undeclared);
    assert_eq!(r.allowed_flows, r.flows);
}

#[test]
fn a_name_is_not_an_address_the_device_was_never_told() {
    // The same port to a name the camera never resolved allows nothing.
    let r = judge(&format!(
        "{HEAD}    - {{direction: from_device, protocol: tcp, port: 443, dns_name: evil.example, purpose: x}}\n"
    ));
    assert!(r
        .undeclared
        .iter()
        .any(|f| f.port == 443 && f.names.iter().any(|n| n == "signal.mydlink.com")));
    assert_eq!(r.declared[0].packets, 0);
}

#[test]
fn the_observer_is_bounded() {
    use etherparse::PacketBuilder;
    let mut observer = Observer::new(CAM);
    let mut frame = Vec::new();
    for i in 0..(MAX_FLOWS as u32 + 500) {
        frame.clear();
        PacketBuilder::ethernet2(CAM.0, [2, 0, 0, 0, 0, 1])
            .ipv4([192, 168, 1, 20], (0x0a00_0000 + i).to_be_bytes(), 64)
            .udp(40000, 9999)
            .write(&mut frame, b"x")
            .unwrap();
        let p = warden_decode::decode(warden_decode::LinkType::Ethernet, &frame).unwrap();
        observer.packet(i64::from(i), &p);
    }
    let r = observer.report(&Profile::default(), None);
    assert_eq!(r.flows, MAX_FLOWS);
    assert_eq!(r.stats.over_capacity, 500);
}
