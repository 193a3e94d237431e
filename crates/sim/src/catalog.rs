//! Device identities: real OUIs, DHCP fingerprints, UPnP SERVER strings and
//! cloud endpoints, modelled on real products (several taken from the IoT
//! Sentinel captures in shared/data).

use crate::proto::tls::Style;
use crate::tcp::Stack;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Profile {
    Camera,
    SmartPlug,
    Hub,
    Phone,
    Laptop,
    Tv,
    Nas,
}

impl Profile {
    #[cfg(test)]
    pub const ALL: [Profile; 7] = [
        Profile::Camera,
        Profile::SmartPlug,
        Profile::Hub,
        Profile::Phone,
        Profile::Laptop,
        Profile::Tv,
        Profile::Nas,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Camera => "camera",
            Profile::SmartPlug => "smart-plug",
            Profile::Hub => "hub",
            Profile::Phone => "phone",
            Profile::Laptop => "laptop",
            Profile::Tv => "tv",
            Profile::Nas => "nas",
        }
    }

    /// Linux/busybox devices Mirai-family malware actually infects.
    pub fn infectable(self) -> bool {
        matches!(
            self,
            Profile::Camera | Profile::SmartPlug | Profile::Hub | Profile::Tv | Profile::Nas
        )
    }
}

/// DHCP client implementation: decides option order and packet size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DhcpClient {
    /// busybox udhcpc: 53, 61, 57, 55, 60, 12 (or without some).
    Udhcp,
    /// Old udhcp 0.9.x (TP-Link): 53, 61, 12, 60, 55; 548-byte payload.
    UdhcpOld,
    /// lwIP (ESP8266/ESP32): 53, 57, 12, 55, 60.
    Lwip,
    /// Windows: 53, 61, 50, 12, 81, 60, 55.
    Windows,
    /// Android dhcpcd/IpClient: 53, 61, 57, 60, 12, 55.
    Android,
    /// iOS/macOS: 53, 55, 57, 61, 51, 12.
    Apple,
}

pub(crate) struct Identity {
    pub profile: Profile,
    /// Brand and model (for labels and notes).
    pub vendor: &'static str,
    pub model: &'static str,
    pub ouis: &'static [[u8; 3]],
    /// Host name; `{mac6}` is replaced by the last 3 MAC bytes in hex.
    pub hostname: &'static str,
    pub vendor_class: Option<&'static str>,
    pub prl: &'static [u8],
    pub dhcp: DhcpClient,
    pub stack: Stack,
    pub tls: Style,
    pub ssdp_server: Option<&'static str>,
    pub user_agent: Option<&'static str>,
    /// Cloud names the device talks to (first is the main one).
    pub cloud: &'static [&'static str],
    pub cloud_port: u16,
    pub ntp: &'static str,
    pub mdns: Option<&'static str>,
}

const UDHCP_PRL: &[u8] = &[1, 3, 6, 12, 15, 28, 42];
const WIN_PRL: &[u8] = &[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252];
const APPLE_PRL: &[u8] = &[1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46];
const ANDROID_PRL: &[u8] = &[1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108];
const ESP_PRL: &[u8] = &[1, 3, 28, 6, 15, 44, 46, 47, 31, 33, 121, 43];

pub(crate) static CATALOG: &[Identity] = &[
    // ---- cameras
    Identity {
        profile: Profile::Camera,
        vendor: "D-Link",
        model: "DCS-935L",
        ouis: &[[0xb0, 0xc5, 0x54], [0x1c, 0x5f, 0x2b]],
        hostname: "DCS-935L",
        vendor_class: Some("udhcp 1.22.1"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: Some("Linux,    UPnP/1.0 DCS-935L/1.0"),
        user_agent: Some("Wget/1.13 (linux-uclibc)"),
        cloud: &["mp-eu-dcdda.auto.mydlink.com", "signal.auto.mydlink.com"],
        cloud_port: 443,
        ntp: "ntp1.dlink.com",
        mdns: None,
    },
    Identity {
        profile: Profile::Camera,
        vendor: "Hikvision",
        model: "DS-2CD2143G0-I",
        ouis: &[[0x44, 0x47, 0xcc], [0x58, 0x03, 0xfb], [0xc0, 0x56, 0xe3]],
        hostname: "DS-2CD2143G0-I",
        vendor_class: Some("udhcp 1.20.2"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: Some("Linux/3.0.8, UPnP/1.0, Portable SDK for UPnP devices/1.6.6"),
        user_agent: None,
        cloud: &["litedev.eu.ezvizlife.com", "dev.hik-connect.com"],
        cloud_port: 443,
        ntp: "time.windows.com",
        mdns: None,
    },
    Identity {
        profile: Profile::Camera,
        vendor: "Wyze",
        model: "WYZE_CAKP2JFUS",
        ouis: &[[0x2c, 0xaa, 0x8e], [0xd0, 0x3f, 0x27], [0x7c, 0x78, 0xb2]],
        hostname: "WYZE_CAKP2JFUS",
        vendor_class: Some("udhcp 1.31.1"),
        prl: &[1, 3, 6, 12, 15, 28, 42, 33, 121],
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: None,
        user_agent: Some("Wyze/2.3.1 (Linux; Ingenic T31)"),
        cloud: &["api.wyzecam.com", "wyze-mars-service.wyzecam.com"],
        cloud_port: 443,
        ntp: "pool.ntp.org",
        mdns: None,
    },
    Identity {
        profile: Profile::Camera,
        vendor: "Dahua",
        model: "IPC-HDW2431T-AS",
        ouis: &[[0x08, 0xed, 0xed], [0x6c, 0x1c, 0x71], [0x3c, 0xef, 0x8c]],
        hostname: "IPC-HDW2431T-AS",
        vendor_class: Some("udhcp 1.25.1"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: Some("Linux/3.10.0, UPnP/1.0, Dahua UPnP SDK/1.0"),
        user_agent: None,
        cloud: &["www.easy4ipcloud.com", "p2p.easy4ipcloud.com"],
        cloud_port: 8800,
        ntp: "time.windows.com",
        mdns: None,
    },
    // ---- smart plugs
    Identity {
        profile: Profile::SmartPlug,
        vendor: "TP-Link",
        model: "HS110(EU)",
        ouis: &[[0x50, 0xc7, 0xbf], [0xb0, 0xbe, 0x76], [0x54, 0xa7, 0x03]],
        hostname: "HS110(EU)",
        vendor_class: Some("udhcp 0.9.9-pre"),
        prl: &[1, 3, 6, 12, 15, 28],
        dhcp: DhcpClient::UdhcpOld,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: None,
        user_agent: None,
        cloud: &["n-devs.tplinkcloud.com", "devs.tplinkcloud.com"],
        cloud_port: 50443,
        ntp: "time.nist.gov",
        mdns: None,
    },
    Identity {
        profile: Profile::SmartPlug,
        vendor: "D-Link",
        model: "DSP-W215",
        ouis: &[[0x90, 0x8d, 0x78], [0x6c, 0x72, 0x20]],
        hostname: "DSP-W215",
        vendor_class: Some("udhcp 1.21.1--LSDK-10.2-00082-4"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: Some("Unspecified, UPnP/1.0, Unspecified"),
        user_agent: Some("Wget/1.13 (linux-uclibc)"),
        cloud: &["mp-us-dcdda.auto.mydlink.com", "signal.auto.mydlink.com"],
        cloud_port: 443,
        ntp: "ntp1.dlink.com",
        mdns: None,
    },
    Identity {
        profile: Profile::SmartPlug,
        vendor: "Belkin",
        model: "WeMo Insight F7C029",
        ouis: &[[0x94, 0x10, 0x3e], [0xec, 0x1a, 0x59], [0x58, 0xef, 0x68]],
        hostname: "wemo",
        vendor_class: Some("udhcp 1.22.1"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: Some("Unspecified, UPnP/1.0, Unspecified"),
        user_agent: None,
        cloud: &["api.xbcs.net", "nat.wemo2.com"],
        cloud_port: 8443,
        ntp: "pool.ntp.org",
        mdns: None,
    },
    Identity {
        profile: Profile::SmartPlug,
        vendor: "Tuya (Espressif module)",
        model: "ESP8266 smart plug",
        ouis: &[[0x24, 0x6f, 0x28], [0x80, 0x7d, 0x3a], [0x68, 0xc6, 0x3a]],
        hostname: "ESP_{mac6}",
        vendor_class: Some("ESP8266 lwIP"),
        prl: ESP_PRL,
        dhcp: DhcpClient::Lwip,
        stack: Stack::Lwip,
        tls: Style::Embedded,
        ssdp_server: None,
        user_agent: None,
        cloud: &["m1.tuyaeu.com", "a1.tuyaeu.com"],
        cloud_port: 8883,
        ntp: "pool.ntp.org",
        mdns: None,
    },
    // ---- hubs
    Identity {
        profile: Profile::Hub,
        vendor: "Philips",
        model: "Hue Bridge BSB002",
        ouis: &[[0x00, 0x17, 0x88], [0xec, 0xb5, 0xfa]],
        hostname: "Philips-hue",
        vendor_class: Some("udhcp 1.19.4"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: Some("Linux/3.14.0 UPnP/1.0 IpBridge/1.9.0"),
        user_agent: None,
        cloud: &["ws.meethue.com", "diag.meethue.com"],
        cloud_port: 443,
        ntp: "time.meethue.com",
        mdns: Some("_hue._tcp.local"),
    },
    Identity {
        profile: Profile::Hub,
        vendor: "D-Link",
        model: "DCH-G020",
        ouis: &[[0x1c, 0x5f, 0x2b], [0x90, 0x8d, 0x78]],
        hostname: "DCH-G020",
        vendor_class: Some("udhcp 1.21.1--LSDK-10.2-00082-4"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Embedded,
        ssdp_server: Some("Unspecified, UPnP/1.0, Unspecified"),
        user_agent: Some("Wget/1.13 (linux-uclibc)"),
        cloud: &["mp-eu-dcdda.auto.mydlink.com", "signal.auto.mydlink.com"],
        cloud_port: 443,
        ntp: "ntp1.dlink.com",
        mdns: None,
    },
    // ---- phones
    Identity {
        profile: Profile::Phone,
        vendor: "Samsung",
        model: "Galaxy S23 (Android 14)",
        ouis: &[[0x8c, 0x79, 0xf5], [0xd0, 0xd0, 0x03]],
        hostname: "Galaxy-S23",
        vendor_class: Some("android-dhcp-14"),
        prl: ANDROID_PRL,
        dhcp: DhcpClient::Android,
        stack: Stack::Linux,
        tls: Style::Modern,
        ssdp_server: None,
        user_agent: Some("Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"),
        cloud: &["mtalk.google.com", "android.clients.google.com"],
        cloud_port: 5228,
        ntp: "time.android.com",
        mdns: None,
    },
    Identity {
        profile: Profile::Phone,
        vendor: "Apple",
        model: "iPhone (iOS 18)",
        ouis: &[[0x60, 0x8b, 0x0e], [0x88, 0xb2, 0x91]],
        hostname: "iPhone",
        vendor_class: None,
        prl: APPLE_PRL,
        dhcp: DhcpClient::Apple,
        stack: Stack::Apple,
        tls: Style::Modern,
        ssdp_server: None,
        user_agent: Some("Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1"),
        cloud: &["gateway.icloud.com", "api.push.apple.com"],
        cloud_port: 5223,
        ntp: "time.apple.com",
        mdns: Some("_companion-link._tcp.local"),
    },
    // ---- laptops
    Identity {
        profile: Profile::Laptop,
        vendor: "Dell (Intel Wi-Fi)",
        model: "Windows 11 laptop",
        ouis: &[[0xac, 0xed, 0x5c], [0x34, 0xf6, 0x4b], [0x90, 0x61, 0xae]],
        hostname: "LAPTOP-{mac6}",
        vendor_class: Some("MSFT 5.0"),
        prl: WIN_PRL,
        dhcp: DhcpClient::Windows,
        stack: Stack::Windows,
        tls: Style::Modern,
        ssdp_server: None,
        user_agent: Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"),
        cloud: &["settings-win.data.microsoft.com", "login.live.com"],
        cloud_port: 443,
        ntp: "time.windows.com",
        mdns: None,
    },
    Identity {
        profile: Profile::Laptop,
        vendor: "Apple",
        model: "MacBook Air (macOS 15)",
        ouis: &[[0xc4, 0x2a, 0xd0], [0xcc, 0xd2, 0x81]],
        hostname: "Annas-MacBook-Air",
        vendor_class: None,
        prl: APPLE_PRL,
        dhcp: DhcpClient::Apple,
        stack: Stack::Apple,
        tls: Style::Modern,
        ssdp_server: None,
        user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15"),
        cloud: &["gateway.icloud.com", "api.push.apple.com"],
        cloud_port: 443,
        ntp: "time.apple.com",
        mdns: Some("_companion-link._tcp.local"),
    },
    // ---- TVs
    Identity {
        profile: Profile::Tv,
        vendor: "Samsung",
        model: "Tizen TV QE55Q80",
        ouis: &[[0x7c, 0x89, 0x56], [0x88, 0x29, 0x9c], [0x8c, 0x79, 0xf5]],
        hostname: "Samsung",
        vendor_class: Some("udhcp 1.30.1"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Modern,
        ssdp_server: Some("SHP, UPnP/1.0, Samsung UPnP SDK/1.0"),
        user_agent: Some("Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) 85.0.4183.93/6.5 TV Safari/537.36"),
        cloud: &["time.samsungcloudsolution.com", "log-config.samsungacr.com"],
        cloud_port: 443,
        ntp: "time.samsungcloudsolution.com",
        mdns: Some("_airplay._tcp.local"),
    },
    Identity {
        profile: Profile::Tv,
        vendor: "LG",
        model: "webOS TV OLED55C2",
        ouis: &[[0x20, 0x17, 0x42], [0xac, 0xf6, 0xf7], [0x64, 0xc2, 0xde]],
        hostname: "LGwebOSTV",
        vendor_class: Some("udhcp 1.29.3"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Modern,
        ssdp_server: Some("Linux/4.4.84-223.gld4.lm21a UPnP/1.0 webOS/6.0 TV"),
        user_agent: Some("Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36 WebAppManager"),
        cloud: &["eic.lgtvsdp.com", "snu.lge.com"],
        cloud_port: 443,
        ntp: "pool.ntp.org",
        mdns: Some("_googlecast._tcp.local"),
    },
    // ---- NAS
    Identity {
        profile: Profile::Nas,
        vendor: "Synology",
        model: "DS220+",
        ouis: &[[0x00, 0x11, 0x32], [0x90, 0x09, 0xd0]],
        hostname: "DiskStation",
        vendor_class: Some("udhcp 1.23.2"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Modern,
        ssdp_server: Some("Synology/DSM/7.2"),
        user_agent: None,
        cloud: &["global.quickconnect.to", "checkip.synology.com"],
        cloud_port: 443,
        ntp: "time.google.com",
        mdns: Some("_smb._tcp.local"),
    },
    Identity {
        profile: Profile::Nas,
        vendor: "QNAP",
        model: "TS-253D",
        ouis: &[[0x24, 0x5e, 0xbe], [0xe8, 0x43, 0xb6]],
        hostname: "NAS{mac6}",
        vendor_class: Some("udhcp 1.20.2"),
        prl: UDHCP_PRL,
        dhcp: DhcpClient::Udhcp,
        stack: Stack::Linux,
        tls: Style::Modern,
        ssdp_server: Some("Linux/4.14.24-qnap, UPnP/1.0, Portable SDK for UPnP devices/1.6.22"),
        user_agent: None,
        cloud: &["myqnapcloud.com", "update.qnap.com"],
        cloud_port: 443,
        ntp: "pool.ntp.org",
        mdns: Some("_qdiscover._tcp.local"),
    },
];

pub(crate) fn identities(p: Profile) -> impl Iterator<Item = &'static Identity> {
    CATALOG.iter().filter(move |i| i.profile == p)
}

/// The home router: an AVM FRITZ!Box.
pub(crate) const ROUTER_OUIS: &[[u8; 3]] =
    &[[0x98, 0x9b, 0xcb], [0x7c, 0xff, 0x4d], [0xcc, 0xce, 0x1e]];
/// Offline printer the laptop keeps trying (Brother).
pub(crate) const PRINTER_OUIS: &[[u8; 3]] =
    &[[0x00, 0x80, 0x77], [0x00, 0x1b, 0xa9], [0x3c, 0x2a, 0xf4]];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_has_identities_with_globally_unique_ouis() {
        for p in Profile::ALL {
            let ids: Vec<_> = identities(p).collect();
            assert!(!ids.is_empty(), "{p:?}");
            for id in ids {
                assert!(!id.ouis.is_empty());
                for o in id.ouis {
                    assert_eq!(o[0] & 0x03, 0, "{} OUI must be universal unicast", id.model);
                }
                assert!(id.prl.contains(&1) && id.prl.contains(&3));
            }
        }
    }
}
