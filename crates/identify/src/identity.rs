//! The per-device identity record: bounded, serialisable, with model, firmware
//! and OS guesses.
//!
//! Policy (documented in `docs/identification.md`):
//! - Scalars (hostname, DHCP fields): the first value seen wins.
//! - Lists keep the first distinct values up to a per-list cap; later values
//!   are dropped.
//! - Every stored string is cut to [`MAX_TEXT`] bytes.
//! - `model`, `firmware` and `os` are guesses ranked by how specific their
//!   source is; a candidate replaces the current guess only when its source
//!   ranks strictly higher, so equal-rank ties go to the first seen.

use core::fmt::Write as _;
use std::io::Write as _;

use serde::Serialize;

use crate::product::{products, Product};
use crate::text::truncate;
use crate::Observation;

/// Longest string kept, in bytes.
pub const MAX_TEXT: usize = 128;
/// Longest DHCP parameter request list kept.
const MAX_PRL: usize = 64;
/// Longest client identifier kept, in bytes (rendered as hex).
const MAX_CLIENT_ID: usize = 32;
/// Longest DHCPv6 option request list kept, in codes.
const MAX_ORO: usize = 32;

const CAP_UPNP_SERVER: usize = 4;
const CAP_UPNP_LOCATIONS: usize = 4;
const CAP_UPNP_DEVICE_TYPES: usize = 8;
const CAP_USER_AGENTS: usize = 8;
const CAP_HTTP_SERVERS: usize = 4;
const CAP_HTTP_HOSTS: usize = 16;
const CAP_MDNS_NAMES: usize = 8;
const CAP_MDNS_SERVICES: usize = 8;
const CAP_MDNS_TXT: usize = 16;
const CAP_DNS_NAMES: usize = 16;
const CAP_TLS_NAMES: usize = 16;
const CAP_SOFTWARE: usize = 16;

/// mDNS TXT keys that carry a model (HomeKit `md`, printers `ty`/`usb_MDL`,
/// AirPlay `am`, D-Link `model_number`, ...). Compared case-insensitively.
const TXT_MODEL_KEYS: &[&str] = &[
    "model",
    "model_number",
    "modelnumber",
    "modelid",
    "md",
    "mdl",
    "usb_mdl",
    "ty",
    "am",
];
/// mDNS TXT keys that carry a firmware or software version. A bare `version`
/// is not one of them: D-Link sends `version=0124` from devices whose firmware
/// queries name 0120, 0122 and 0222.
const TXT_FIRMWARE_KEYS: &[&str] = &[
    "fw",
    "fwver",
    "fw_ver",
    "fwversion",
    "firmware",
    "fv",
    "sw",
    "swver",
    "swversion",
    "sw_version",
];

/// Rank of each source for the model guess (higher wins).
mod model_rank {
    pub const MDNS_TXT: u8 = 5;
    pub const DHCP_HOSTNAME: u8 = 4;
    pub const UPNP_PRODUCT: u8 = 3;
    pub const MDNS_HOSTNAME: u8 = 2;
    pub const DHCP_FQDN: u8 = 1;
}

/// Rank of each source for the firmware guess (higher wins). Only sources
/// that state the device's own version count: a DHCP client (`udhcp
/// 1.31.1`, `dhcpcd-9.4.1`), a browser or HTTP client (`Mozilla/5.0`,
/// `Wget/1.13`), a web server (`lighttpd/1.4.34`) or a UPnP SDK is the same
/// version across many devices and firmware releases, and a feed listing
/// that names a firmware range would match it by accident. Those versions
/// stay in `software`.
mod firmware_rank {
    pub const MDNS_TXT: u8 = 2;
    pub const UPNP_PRODUCT: u8 = 1;
}

/// UPnP SERVER products that are a UPnP library, not the device's own
/// software: their version is the library's (compared in lowercase).
fn is_upnp_stack(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("sdk for upnp devices") || matches!(n.as_str(), "miniupnpd" | "libupnp")
}

/// Rank of each source for the OS guess (higher wins).
mod os_rank {
    pub const UPNP_VERSIONED: u8 = 3;
    pub const UPNP: u8 = 2;
    pub const USER_AGENT_COMMENT: u8 = 1;
}

/// Where a [`Software`] entry was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SoftwareSource {
    /// DHCPv4 vendor class (option 60).
    Dhcp,
    /// DHCPv6 vendor class (option 16).
    Dhcp6,
    /// SSDP `SERVER`.
    Upnp,
    /// HTTP `Server` of the device's own responses.
    HttpServer,
    /// HTTP or SSDP `User-Agent`.
    UserAgent,
}

/// A product and version the device runs, e.g. `IpBridge 1.9.0` from UPnP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Software {
    pub product: String,
    pub version: String,
    pub source: SoftwareSource,
}

/// DHCP facts; see [`Identity`].
#[derive(Default, Clone, Debug, Serialize)]
pub struct Dhcp {
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_class: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parameter_request_list: Vec<u8>,
    /// Hex, colon-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fqdn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mud_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_message_size: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    v6_enterprise: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    v6_vendor_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    v6_fqdn: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    v6_option_request: Vec<u16>,
}

impl Dhcp {
    fn is_empty(&self) -> bool {
        self.vendor_class.is_none()
            && self.parameter_request_list.is_empty()
            && self.client_id.is_none()
            && self.fqdn.is_none()
            && self.mud_url.is_none()
            && self.max_message_size.is_none()
            && self.v6_vendor_class.is_none()
            && self.v6_fqdn.is_none()
            && self.v6_option_request.is_empty()
    }

    pub fn vendor_class(&self) -> Option<&str> {
        self.vendor_class.as_deref()
    }

    pub fn parameter_request_list(&self) -> &[u8] {
        &self.parameter_request_list
    }

    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    pub fn fqdn(&self) -> Option<&str> {
        self.fqdn.as_deref()
    }

    pub fn mud_url(&self) -> Option<&str> {
        self.mud_url.as_deref()
    }

    pub fn max_message_size(&self) -> Option<u16> {
        self.max_message_size
    }

    pub fn v6_vendor_class(&self) -> Option<(u32, &str)> {
        Some((self.v6_enterprise?, self.v6_vendor_class.as_deref()?))
    }

    pub fn v6_fqdn(&self) -> Option<&str> {
        self.v6_fqdn.as_deref()
    }

    fn heap_bytes(&self) -> usize {
        opt_heap(&self.vendor_class)
            + self.parameter_request_list.capacity()
            + opt_heap(&self.client_id)
            + opt_heap(&self.fqdn)
            + opt_heap(&self.mud_url)
            + opt_heap(&self.fingerprint)
            + opt_heap(&self.v6_vendor_class)
            + opt_heap(&self.v6_fqdn)
            + self.v6_option_request.capacity() * 2
    }
}

/// What is known about one device. Serialises to a flat JSON object with
/// empty fields left out (shape in `docs/identification.md`).
#[derive(Default, Clone, Debug, Serialize)]
pub struct Identity {
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    firmware: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<String>,
    #[serde(skip_serializing_if = "Dhcp::is_empty")]
    dhcp: Dhcp,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    upnp_server: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    upnp_device_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    upnp_locations: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    user_agents: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    http_servers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    http_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mdns_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mdns_services: Vec<String>,
    /// `key=value` strings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mdns_txt: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dns_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tls_server_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    software: Vec<Software>,
    /// The device's MAC, used to strip MAC-derived suffixes from names.
    #[serde(skip)]
    mac: Option<[u8; 6]>,
    #[serde(skip)]
    model_rank: u8,
    #[serde(skip)]
    firmware_rank: u8,
    #[serde(skip)]
    os_rank: u8,
}

fn opt_heap(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::capacity)
}

fn list_heap(v: &[String], cap: usize) -> usize {
    cap * core::mem::size_of::<String>() + v.iter().map(String::capacity).sum::<usize>()
}

/// Sets `slot` from `value` (cut to [`MAX_TEXT`]) if it is still empty.
fn set_first(slot: &mut Option<String>, value: &str) -> bool {
    if slot.is_some() || value.is_empty() {
        return false;
    }
    *slot = Some(truncate(value, MAX_TEXT).to_string());
    true
}

/// Appends `value` (cut to [`MAX_TEXT`]) unless present or the list is full.
fn push_distinct(list: &mut Vec<String>, cap: usize, value: &str) {
    let value = truncate(value, MAX_TEXT);
    if value.is_empty() || list.len() >= cap || list.iter().any(|v| v == value) {
        return;
    }
    if list.capacity() == 0 {
        // Most lists hold one or two values; avoid doubling growth past that.
        list.reserve_exact(2);
    }
    list.push(value.to_string());
}

fn hex_digit_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Removes a suffix derived from the device's MAC (`Lightify-7B5F6B`,
/// `ESP_07AEFB`, `GainSpanca9152`, `DCS-935L-B0C554255B0E`): trailing hex
/// digits whose last 4 or more equal the end of the MAC. A longer hex run that
/// a separator sets apart (`lightify-017b5f6b`) goes whole. Then one
/// separator before it goes too.
fn strip_mac_suffix(name: &str, mac: Option<[u8; 6]>) -> &str {
    let Some(mac) = mac else { return name };
    let mac_nibbles = mac.iter().flat_map(|b| [b >> 4, b & 0xf]);
    let b = name.as_bytes();
    let mut k = 0;
    for (c, m) in b.iter().rev().zip(mac_nibbles.rev()) {
        if hex_digit_value(*c) != Some(m) {
            break;
        }
        k += 1;
    }
    if k < 4 {
        return name;
    }
    let run = b.iter().rev().take_while(|c| c.is_ascii_hexdigit()).count();
    if run > k && run <= 16 && run < b.len() && matches!(b[b.len() - run - 1], b'-' | b'_' | b' ') {
        k = run;
    }
    if k >= b.len() {
        return name;
    }
    let rest = &name[..b.len() - k];
    rest.strip_suffix(['-', '_', ' ']).unwrap_or(rest)
}

/// Whether `s` looks like a model designation rather than a name, brand or
/// serial number: letters and digits, no long digit or hex runs, no spaces.
fn looks_like_model(s: &str) -> bool {
    let b = s.as_bytes();
    if !(3..=32).contains(&b.len()) || b.iter().any(|c| c.is_ascii_whitespace()) {
        return false;
    }
    let has_alpha = b.iter().any(u8::is_ascii_alphabetic);
    let has_digit = b.iter().any(u8::is_ascii_digit);
    let longest = |pred: fn(&u8) -> bool| b.split(|c| !pred(c)).map(<[u8]>::len).max().unwrap_or(0);
    has_alpha && has_digit && longest(u8::is_ascii_digit) <= 5 && longest(u8::is_ascii_hexdigit) < 8
}

fn is_placeholder(name: &str) -> bool {
    name.eq_ignore_ascii_case("unspecified") || name.eq_ignore_ascii_case("unknown")
}

impl Identity {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the identity the device's MAC, for stripping MAC-derived name
    /// suffixes. DHCP sets it too (from `chaddr`); the first value wins.
    pub fn set_mac(&mut self, mac: [u8; 6]) {
        self.mac.get_or_insert(mac);
    }

    /// Folds one observation in. Bounded: see the module documentation.
    pub fn apply(&mut self, obs: &Observation<'_>) {
        match *obs {
            Observation::DhcpClientMac(mac) => self.set_mac(mac),
            Observation::DhcpHostname(h) => {
                if set_first(&mut self.hostname, h) {
                    let m = strip_mac_suffix(h, self.mac);
                    self.offer_model(m, model_rank::DHCP_HOSTNAME);
                }
            }
            Observation::DhcpVendorClass(vc) => {
                if set_first(&mut self.dhcp.vendor_class, vc) {
                    self.update_fingerprint();
                    // The DHCP client's version, not the device's firmware.
                    self.add_software(vc, SoftwareSource::Dhcp);
                }
            }
            Observation::DhcpParameterList(prl) => {
                if self.dhcp.parameter_request_list.is_empty() {
                    let prl = &prl[..prl.len().min(MAX_PRL)];
                    self.dhcp.parameter_request_list = prl.to_vec();
                    self.update_fingerprint();
                }
            }
            Observation::DhcpClientId(id) => {
                if self.dhcp.client_id.is_none() && !id.is_empty() {
                    let id = &id[..id.len().min(MAX_CLIENT_ID)];
                    let mut s = String::with_capacity(id.len() * 3);
                    for (i, b) in id.iter().enumerate() {
                        let sep = if i == 0 { "" } else { ":" };
                        let _ = write!(s, "{sep}{b:02x}");
                    }
                    self.dhcp.client_id = Some(s);
                }
            }
            Observation::DhcpFqdn(f) => {
                if set_first(&mut self.dhcp.fqdn, f) {
                    let label = f.split('.').next().unwrap_or("");
                    self.offer_model(strip_mac_suffix(label, self.mac), model_rank::DHCP_FQDN);
                }
            }
            Observation::DhcpMudUrl(u) => {
                set_first(&mut self.dhcp.mud_url, u);
            }
            Observation::DhcpMaxMessageSize(n) => {
                self.dhcp.max_message_size.get_or_insert(n);
            }
            Observation::DhcpRequestedIp(_) => {}
            Observation::Dhcp6VendorClass { enterprise, class } => {
                if set_first(&mut self.dhcp.v6_vendor_class, class) {
                    self.dhcp.v6_enterprise = Some(enterprise);
                    self.add_software(class, SoftwareSource::Dhcp6);
                }
            }
            Observation::Dhcp6Fqdn(f) => {
                set_first(&mut self.dhcp.v6_fqdn, f);
            }
            Observation::Dhcp6OptionRequest(oro) => {
                if self.dhcp.v6_option_request.is_empty() {
                    self.dhcp.v6_option_request = oro
                        .chunks_exact(2)
                        .take(MAX_ORO)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                }
            }
            Observation::MdnsHostname(h) => {
                push_distinct(&mut self.mdns_names, CAP_MDNS_NAMES, h);
                let label = h.split('.').next().unwrap_or("");
                self.offer_model(strip_mac_suffix(label, self.mac), model_rank::MDNS_HOSTNAME);
            }
            Observation::MdnsService(s) => {
                push_distinct(&mut self.mdns_services, CAP_MDNS_SERVICES, s)
            }
            Observation::MdnsTxt { key, value } => self.apply_txt(key, value),
            Observation::DnsQuery(n) => push_distinct(&mut self.dns_names, CAP_DNS_NAMES, n),
            Observation::UpnpServer(s) => {
                if !self.upnp_server.iter().any(|v| v == truncate(s, MAX_TEXT)) {
                    push_distinct(&mut self.upnp_server, CAP_UPNP_SERVER, s);
                    self.apply_upnp_server(s);
                }
            }
            Observation::UpnpLocation(l) => {
                push_distinct(&mut self.upnp_locations, CAP_UPNP_LOCATIONS, l)
            }
            Observation::UpnpDeviceType(t) => {
                push_distinct(&mut self.upnp_device_types, CAP_UPNP_DEVICE_TYPES, t)
            }
            Observation::UserAgent(ua) => {
                if !self.user_agents.iter().any(|v| v == truncate(ua, MAX_TEXT)) {
                    push_distinct(&mut self.user_agents, CAP_USER_AGENTS, ua);
                    self.apply_user_agent(ua);
                }
            }
            Observation::HttpServer(s) => {
                if !self.http_servers.iter().any(|v| v == truncate(s, MAX_TEXT)) {
                    push_distinct(&mut self.http_servers, CAP_HTTP_SERVERS, s);
                    // The web server's version, not the device's firmware.
                    if let Some(p) = products(s).find(|p| p.version.is_some()) {
                        self.push_software(&p, SoftwareSource::HttpServer);
                    }
                }
            }
            Observation::HttpHost(h) => push_distinct(&mut self.http_hosts, CAP_HTTP_HOSTS, h),
            Observation::TlsServerName(n) => {
                push_distinct(&mut self.tls_server_names, CAP_TLS_NAMES, n)
            }
        }
    }

    fn apply_txt(&mut self, key: &str, value: &str) {
        if self.mdns_txt.len() < CAP_MDNS_TXT {
            // `key=value` is joined on the stack: devices repeat their TXT
            // records in every announcement, and only a new entry may
            // allocate. A few bytes past MAX_TEXT are enough to cut it on
            // the same character boundary as the whole string.
            let mut buf = [0u8; MAX_TEXT + 4];
            let mut w = &mut buf[..];
            let _ = w.write_all(key.as_bytes());
            if !value.is_empty() {
                let _ = w.write_all(b"=");
                let _ = w.write_all(value.as_bytes());
            }
            let n = MAX_TEXT + 4 - w.len();
            let joined = match core::str::from_utf8(&buf[..n]) {
                Ok(s) => s,
                Err(e) => core::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or(""),
            };
            push_distinct(&mut self.mdns_txt, CAP_MDNS_TXT, truncate(joined, MAX_TEXT));
        }
        if value.is_empty() {
            return;
        }
        if TXT_MODEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            self.offer_model(value, model_rank::MDNS_TXT);
        } else if TXT_FIRMWARE_KEYS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            self.offer_firmware(value, firmware_rank::MDNS_TXT);
        }
    }

    /// `OS/version UPnP/1.x product/version`: products before the UPnP marker
    /// describe the OS, those after it the device's software.
    fn apply_upnp_server(&mut self, s: &str) {
        let has_marker = products(s).any(|p| p.is_upnp_marker());
        let mut after_marker = !has_marker;
        let mut first = true;
        for p in products(s) {
            if p.is_upnp_marker() {
                after_marker = true;
                continue;
            }
            if is_placeholder(p.name) {
                first = false;
                continue;
            }
            // Without a marker, a leading product is the OS only when more follow.
            let is_os = if has_marker {
                !after_marker
            } else {
                first && products(s).nth(1).is_some()
            };
            first = false;
            if p.version.is_some() {
                self.push_software(&p, SoftwareSource::Upnp);
            }
            if is_os {
                let rank = if p.version.is_some() {
                    os_rank::UPNP_VERSIONED
                } else {
                    os_rank::UPNP
                };
                self.offer_os(&p, rank);
            } else {
                if looks_like_model(p.name) {
                    self.offer_model(p.name, model_rank::UPNP_PRODUCT);
                }
                if !is_upnp_stack(p.name) {
                    self.offer_firmware_product(&p, firmware_rank::UPNP_PRODUCT);
                }
            }
        }
    }

    /// A client's products are software, never the firmware guess.
    fn apply_user_agent(&mut self, ua: &str) {
        for p in products(ua) {
            if p.version.is_some() {
                self.push_software(&p, SoftwareSource::UserAgent);
            }
            // `Wget/1.13 (linux-uclibc)`: the first comment item names the platform.
            if let Some(c) = p.comment {
                let platform = c.split(';').next().unwrap_or("").trim();
                if !platform.is_empty() {
                    let os = Product {
                        name: platform,
                        version: None,
                        comment: None,
                    };
                    self.offer_os(&os, os_rank::USER_AGENT_COMMENT);
                }
            }
        }
    }

    fn offer_model(&mut self, candidate: &str, rank: u8) {
        // Sources below the explicit TXT keys only count if the text looks like a model.
        if rank <= self.model_rank || (rank < model_rank::MDNS_TXT && !looks_like_model(candidate))
        {
            return;
        }
        if candidate.is_empty() {
            return;
        }
        self.model = Some(truncate(candidate, MAX_TEXT).to_string());
        self.model_rank = rank;
    }

    fn offer_firmware(&mut self, candidate: &str, rank: u8) {
        if rank <= self.firmware_rank || candidate.is_empty() {
            return;
        }
        self.firmware = Some(truncate(candidate, MAX_TEXT).to_string());
        self.firmware_rank = rank;
    }

    fn offer_firmware_product(&mut self, p: &Product<'_>, rank: u8) {
        if let Some(v) = p.version {
            if rank > self.firmware_rank {
                self.offer_firmware(&format!("{}/{}", p.name, v), rank);
            }
        }
    }

    fn offer_os(&mut self, p: &Product<'_>, rank: u8) {
        if rank <= self.os_rank || p.name.is_empty() {
            return;
        }
        let os = match p.version {
            Some(v) => format!("{}/{}", p.name, v),
            None => p.name.to_string(),
        };
        self.os = Some(truncate(&os, MAX_TEXT).to_string());
        self.os_rank = rank;
    }

    /// Adds every versioned product of `s`.
    fn add_software(&mut self, s: &str, source: SoftwareSource) {
        for p in products(s) {
            if p.version.is_some() {
                self.push_software(&p, source);
            }
        }
    }

    fn push_software(&mut self, p: &Product<'_>, source: SoftwareSource) {
        let (Some(version), false) = (p.version, p.name.is_empty()) else {
            return;
        };
        let product = truncate(p.name, MAX_TEXT);
        let version = truncate(version, MAX_TEXT);
        if self.software.len() >= CAP_SOFTWARE
            || self
                .software
                .iter()
                .any(|s| s.product == product && s.version == version)
        {
            return;
        }
        self.software.push(Software {
            product: product.to_string(),
            version: version.to_string(),
            source,
        });
    }

    /// `1,3,6,12,15,28,42|udhcp 1.22.1`: the parameter request list in the
    /// client's order, `|`, and the vendor class (empty if none).
    fn update_fingerprint(&mut self) {
        let d = &mut self.dhcp;
        if d.parameter_request_list.is_empty() {
            return;
        }
        let vc = d.vendor_class.as_deref().unwrap_or("");
        let mut f = String::with_capacity(d.parameter_request_list.len() * 4 + 1 + vc.len());
        for (i, code) in d.parameter_request_list.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(f, "{sep}{code}");
        }
        f.push('|');
        f.push_str(vc);
        d.fingerprint = Some(f);
    }

    pub fn hostname(&self) -> Option<&str> {
        self.hostname.as_deref()
    }

    /// Best model guess.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// Best firmware / software-version guess.
    pub fn firmware(&self) -> Option<&str> {
        self.firmware.as_deref()
    }

    /// Best operating-system guess (`Linux/3.14.0`, `linux-uclibc`).
    pub fn os(&self) -> Option<&str> {
        self.os.as_deref()
    }

    /// Stable DHCP fingerprint for the feed to hash, see [`Identity::apply`]:
    /// `"<option 55 codes joined by commas>|<option 60>"`.
    pub fn fingerprint(&self) -> Option<&str> {
        self.dhcp.fingerprint.as_deref()
    }

    pub fn dhcp(&self) -> &Dhcp {
        &self.dhcp
    }

    pub fn upnp_server(&self) -> &[String] {
        &self.upnp_server
    }

    pub fn upnp_device_types(&self) -> &[String] {
        &self.upnp_device_types
    }

    pub fn upnp_locations(&self) -> &[String] {
        &self.upnp_locations
    }

    pub fn user_agents(&self) -> &[String] {
        &self.user_agents
    }

    pub fn http_servers(&self) -> &[String] {
        &self.http_servers
    }

    pub fn http_hosts(&self) -> &[String] {
        &self.http_hosts
    }

    pub fn mdns_names(&self) -> &[String] {
        &self.mdns_names
    }

    pub fn mdns_services(&self) -> &[String] {
        &self.mdns_services
    }

    pub fn mdns_txt(&self) -> &[String] {
        &self.mdns_txt
    }

    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    pub fn tls_server_names(&self) -> &[String] {
        &self.tls_server_names
    }

    pub fn software(&self) -> &[Software] {
        &self.software
    }

    /// True when nothing has been learned.
    pub fn is_empty(&self) -> bool {
        self.hostname.is_none()
            && self.model.is_none()
            && self.firmware.is_none()
            && self.os.is_none()
            && self.dhcp.is_empty()
            && self.upnp_server.is_empty()
            && self.user_agents.is_empty()
            && self.http_servers.is_empty()
            && self.mdns_names.is_empty()
            && self.mdns_services.is_empty()
            && self.mdns_txt.is_empty()
            && self.dns_names.is_empty()
            && self.tls_server_names.is_empty()
            && self.http_hosts.is_empty()
            && self.upnp_device_types.is_empty()
            && self.upnp_locations.is_empty()
    }

    /// One short line for a table: model (or hostname), firmware, DHCP
    /// vendor class, OS; each once, ` · `-separated, at most 160 bytes.
    pub fn summary(&self) -> String {
        let parts = [
            self.model.as_deref().or(self.hostname.as_deref()),
            self.firmware.as_deref(),
            self.dhcp.vendor_class.as_deref(),
            self.os.as_deref(),
        ];
        let mut out = String::new();
        let mut used: [&str; 4] = [""; 4];
        for (i, p) in parts.into_iter().flatten().enumerate() {
            if used.contains(&p) {
                continue;
            }
            used[i] = p;
            if !out.is_empty() {
                out.push_str(" · ");
            }
            out.push_str(p);
        }
        truncate(&out, 160).to_string()
    }

    /// Heap memory held, for the documented per-device memory figure (add
    /// `size_of::<Identity>()` for the inline part).
    pub fn approx_heap_bytes(&self) -> usize {
        opt_heap(&self.hostname)
            + opt_heap(&self.model)
            + opt_heap(&self.firmware)
            + opt_heap(&self.os)
            + self.dhcp.heap_bytes()
            + list_heap(&self.upnp_server, self.upnp_server.capacity())
            + list_heap(&self.upnp_device_types, self.upnp_device_types.capacity())
            + list_heap(&self.upnp_locations, self.upnp_locations.capacity())
            + list_heap(&self.user_agents, self.user_agents.capacity())
            + list_heap(&self.http_servers, self.http_servers.capacity())
            + list_heap(&self.http_hosts, self.http_hosts.capacity())
            + list_heap(&self.mdns_names, self.mdns_names.capacity())
            + list_heap(&self.mdns_services, self.mdns_services.capacity())
            + list_heap(&self.mdns_txt, self.mdns_txt.capacity())
            + list_heap(&self.dns_names, self.dns_names.capacity())
            + list_heap(&self.tls_server_names, self.tls_server_names.capacity())
            + self.software.capacity() * core::mem::size_of::<Software>()
            + self
                .software
                .iter()
                .map(|s| s.product.capacity() + s.version.capacity())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Observation as O;

    const HUB_MAC: [u8; 6] = [0x1c, 0x5f, 0x2b, 0xaa, 0xfd, 0x4e];

    fn with(obs: &[Observation<'_>]) -> Identity {
        let mut id = Identity::new();
        for o in obs {
            id.apply(o);
        }
        id
    }

    #[test]
    fn dhcp_facts_and_fingerprint() {
        let id = with(&[
            O::DhcpClientMac(HUB_MAC),
            O::DhcpParameterList(&[1, 3, 6, 12, 15, 28, 42]),
            O::DhcpVendorClass("udhcp 1.21.1--LSDK-10.2-00082-4"),
            O::DhcpHostname("DCH-G020"),
            O::DhcpClientId(&[1, 0x1c, 0x5f, 0x2b, 0xaa, 0xfd, 0x4e]),
            O::DhcpMaxMessageSize(576),
            O::DhcpMudUrl("https://mud.example/dch"),
        ]);
        assert_eq!(id.hostname(), Some("DCH-G020"));
        assert_eq!(id.model(), Some("DCH-G020"));
        assert_eq!(id.firmware(), None, "the DHCP client is not the firmware");
        assert_eq!(
            id.fingerprint(),
            Some("1,3,6,12,15,28,42|udhcp 1.21.1--LSDK-10.2-00082-4")
        );
        assert_eq!(id.dhcp().client_id(), Some("01:1c:5f:2b:aa:fd:4e"));
        assert_eq!(id.software()[0].product, "udhcp");
        assert_eq!(id.software()[0].source, SoftwareSource::Dhcp);
        let json = serde_json::to_value(&id).unwrap();
        assert_eq!(json["dhcp"]["parameter_request_list"][6], 42);
        assert_eq!(json["dhcp"]["mud_url"], "https://mud.example/dch");
        assert_eq!(json["software"][0]["source"], "dhcp");
        assert!(json.get("upnp_server").is_none(), "empty lists are skipped");
    }

    #[test]
    fn first_seen_wins_for_scalars() {
        let id = with(&[
            O::DhcpHostname("first"),
            O::DhcpHostname("second"),
            O::DhcpVendorClass("a 1"),
            O::DhcpVendorClass("b 2"),
        ]);
        assert_eq!(id.hostname(), Some("first"));
        assert_eq!(id.dhcp().vendor_class(), Some("a 1"));
        // The fingerprint is built once both parts are known, in either order.
        let id = with(&[O::DhcpVendorClass("v 1"), O::DhcpParameterList(&[1, 3])]);
        assert_eq!(id.fingerprint(), Some("1,3|v 1"));
        let id = with(&[O::DhcpParameterList(&[1, 3])]);
        assert_eq!(id.fingerprint(), Some("1,3|"));
    }

    #[test]
    fn model_and_firmware_ranks() {
        // UPnP product first, then a more specific source replaces it.
        let mut id = with(&[O::UpnpServer("Linux,    UPnP/1.0 DCS-935L/1.0")]);
        assert_eq!(id.model(), Some("DCS-935L"));
        assert_eq!(id.firmware(), Some("DCS-935L/1.0"));
        assert_eq!(id.os(), Some("Linux"));
        id.apply(&O::MdnsTxt {
            key: "model_number",
            value: "DCS-935L-A1",
        });
        assert_eq!(id.model(), Some("DCS-935L-A1"));
        id.apply(&O::DhcpHostname("DCS-935X"));
        assert_eq!(
            id.model(),
            Some("DCS-935L-A1"),
            "lower rank does not replace"
        );
        id.apply(&O::MdnsTxt {
            key: "fw",
            value: "1.06.02",
        });
        assert_eq!(id.firmware(), Some("1.06.02"));
        id.apply(&O::DhcpVendorClass("udhcp 1.22.1"));
        assert_eq!(id.firmware(), Some("1.06.02"));

        let id = with(&[
            O::UserAgent("Wget/1.13 (linux-uclibc)"),
            O::HttpServer("lighttpd/1.4.34"),
        ]);
        assert_eq!(id.firmware(), None);
        assert_eq!(id.os(), Some("linux-uclibc"));
        let id = with(&[O::UpnpServer("Linux/3.14.0 UPnP/1.0 IpBridge/1.9.0")]);
        assert_eq!(
            (id.firmware(), id.os(), id.model()),
            (Some("IpBridge/1.9.0"), Some("Linux/3.14.0"), None)
        );
        let products: Vec<_> = id.software().iter().map(|s| s.product.as_str()).collect();
        assert_eq!(products, ["Linux", "IpBridge"]);
        // Placeholders are not products.
        let id = with(&[O::UpnpServer("Unspecified, UPnP/1.0, Unspecified")]);
        assert_eq!(
            (id.firmware(), id.os(), id.software().len()),
            (None, None, 0)
        );
    }

    /// Versions of DHCP clients, browsers and other clients, web servers
    /// and UPnP libraries are software the device runs, not its firmware: a
    /// feed listing for a firmware range must not match them.
    #[test]
    fn client_and_server_software_is_not_firmware() {
        for obs in [
            O::DhcpVendorClass("udhcp 1.31.1"),
            O::DhcpVendorClass("dhcpcd-9.4.1:Linux-5.10.17-v7+:armv7l:BCM2835"),
            O::DhcpVendorClass("MSFT 5.0"),
            O::Dhcp6VendorClass {
                enterprise: 4413,
                class: "udhcp 1.31.1",
            },
            O::UserAgent(
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
            ),
            O::UserAgent("Wget/1.13 (linux-uclibc)"),
            O::UserAgent("curl/7.64.0"),
            O::HttpServer("lighttpd/1.4.34"),
            O::UpnpServer("Linux/2.6.21, UPnP/1.0, Portable SDK for UPnP devices/1.6.18"),
            O::UpnpServer("Linux/4.9 UPnP/1.1 MiniUPnPd/2.1"),
        ] {
            let id = with(&[obs]);
            assert_eq!(id.firmware(), None, "{obs:?}");
        }
        // All together, then the device's own version: that one is the firmware.
        let mut id = with(&[
            O::DhcpVendorClass("udhcp 1.31.1"),
            O::UserAgent("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
            O::HttpServer("lighttpd/1.4.34"),
        ]);
        assert_eq!(id.firmware(), None);
        // ... and kept as software seen, with where each came from.
        let seen: Vec<_> = id
            .software()
            .iter()
            .map(|s| (s.product.as_str(), s.version.as_str(), s.source))
            .collect();
        assert!(
            seen.contains(&("udhcp", "1.31.1", SoftwareSource::Dhcp)),
            "{seen:?}"
        );
        assert!(
            seen.contains(&("Mozilla", "5.0", SoftwareSource::UserAgent)),
            "{seen:?}"
        );
        assert!(
            seen.contains(&("Firefox", "120.0", SoftwareSource::UserAgent)),
            "{seen:?}"
        );
        assert!(
            seen.contains(&("lighttpd", "1.4.34", SoftwareSource::HttpServer)),
            "{seen:?}"
        );
        id.apply(&O::UpnpServer("Linux/3.14.0 UPnP/1.0 IpBridge/1.9.0"));
        assert_eq!(id.firmware(), Some("IpBridge/1.9.0"));
        id.apply(&O::MdnsTxt {
            key: "fwver",
            value: "1.60.0",
        });
        assert_eq!(id.firmware(), Some("1.60.0"));
    }

    #[test]
    fn names_that_are_not_models() {
        let id = with(&[
            O::DhcpClientMac([0x5c, 0xcf, 0x7f, 0x07, 0xae, 0xfb]),
            O::DhcpHostname("ESP_07AEFB"),
        ]);
        assert_eq!((id.hostname(), id.model()), (Some("ESP_07AEFB"), None));
        for serial_or_name in [
            "KEQ0817541",
            "Philips-hue",
            "android-5f3a2b1c9d8e7f6a",
            "x1",
        ] {
            assert_eq!(
                with(&[O::DhcpHostname(serial_or_name)]).model(),
                None,
                "{serial_or_name}"
            );
        }
        assert_eq!(
            with(&[O::DhcpHostname("HS110(EU)")]).model(),
            Some("HS110(EU)")
        );
    }

    #[test]
    fn mac_suffixes() {
        let lightify = Some([0x84, 0x18, 0x26, 0x7b, 0x5f, 0x6b]);
        assert_eq!(strip_mac_suffix("Lightify-7B5F6B", lightify), "Lightify");
        assert_eq!(strip_mac_suffix("lightify-017b5f6b", lightify), "lightify");
        assert_eq!(strip_mac_suffix("Lightify-7B5F6B", None), "Lightify-7B5F6B");
        let aria = Some([0x20, 0xf8, 0x5e, 0xca, 0x91, 0x52]);
        assert_eq!(strip_mac_suffix("GainSpanca9152", aria), "GainSpan");
        let cam_mac = [0xb0, 0xc5, 0x54, 0x25, 0x5b, 0x0e];
        let cam = Some(cam_mac);
        assert_eq!(strip_mac_suffix("DCS-935L-B0C554255B0E", cam), "DCS-935L");
        assert_eq!(strip_mac_suffix("HF-LPB100", cam), "HF-LPB100");
        assert_eq!(
            strip_mac_suffix("5b0e", cam),
            "5b0e",
            "never strips to nothing"
        );
        let id = with(&[
            O::DhcpClientMac(cam_mac),
            O::MdnsHostname("dcs-935l-b0c554255b0e.local"),
        ]);
        assert_eq!(id.model(), Some("dcs-935l"));
    }

    #[test]
    fn txt_entries_are_joined_and_cut_on_a_character_boundary() {
        let mut id = Identity::new();
        id.apply(&O::MdnsTxt {
            key: "md",
            value: "Hue Bridge",
        });
        id.apply(&O::MdnsTxt {
            key: "ro",
            value: "",
        });
        // 2-byte characters straddling the limit: cut before the one that
        // does not fit, exactly as the whole joined string would be.
        let long = "é".repeat(100);
        id.apply(&O::MdnsTxt {
            key: "xy",
            value: &long,
        });
        id.apply(&O::MdnsTxt {
            key: "md",
            value: "Hue Bridge",
        });
        let whole = format!("xy={long}");
        assert_eq!(
            id.mdns_txt(),
            ["md=Hue Bridge", "ro", truncate(&whole, MAX_TEXT)]
        );
        assert_eq!(id.mdns_txt()[2].len(), MAX_TEXT - 1);
    }

    #[test]
    fn bounded_lists_and_strings() {
        let mut id = Identity::new();
        let long = "n".repeat(1000);
        for i in 0..1000 {
            let name = format!("host{i}.example");
            id.apply(&O::DnsQuery(&name));
            id.apply(&O::TlsServerName(&name));
            id.apply(&O::UserAgent(&format!("agent/{i}")));
            id.apply(&O::UpnpServer(&format!("Linux/{i} UPnP/1.0 p{i}/1")));
            id.apply(&O::MdnsTxt {
                key: "k",
                value: &name,
            });
            id.apply(&O::HttpHost(&name));
        }
        id.apply(&O::DhcpHostname(&long));
        assert_eq!(id.dns_names().len(), CAP_DNS_NAMES);
        assert_eq!(id.tls_server_names().len(), CAP_TLS_NAMES);
        assert_eq!(id.user_agents().len(), CAP_USER_AGENTS);
        assert_eq!(id.upnp_server().len(), CAP_UPNP_SERVER);
        assert_eq!(id.mdns_txt().len(), CAP_MDNS_TXT);
        assert_eq!(id.software().len(), CAP_SOFTWARE);
        assert_eq!(id.hostname().map(str::len), Some(MAX_TEXT));
        assert_eq!(id.dns_names()[0], "host0.example", "first seen are kept");
        // Everything full: the heap figure is bounded no matter how much more comes.
        let full = id.approx_heap_bytes();
        assert!(full < 16 * 1024, "{full}");
        for i in 0..100 {
            id.apply(&O::DnsQuery(&format!("more{i}")));
        }
        assert_eq!(id.approx_heap_bytes(), full);
        // Duplicates are not stored twice.
        let id = with(&[O::DnsQuery("a"), O::DnsQuery("a"), O::DnsQuery("b")]);
        assert_eq!(id.dns_names(), ["a", "b"]);
    }

    /// Every list full of maximum-length strings: the per-device ceiling
    /// that `docs/identification.md` quotes.
    #[test]
    fn worst_case_heap() {
        let mut id = Identity::new();
        let big = |i: usize| format!("{i:04}{}", "w".repeat(300));
        let prl: Vec<u8> = (0..=255).collect();
        let cid = [7u8; 255];
        id.apply(&O::DhcpParameterList(&prl));
        id.apply(&O::DhcpClientId(&cid));
        id.apply(&O::Dhcp6OptionRequest(&[1; 255]));
        for i in 0..64 {
            let s = big(i);
            id.apply(&O::DhcpHostname(&s));
            id.apply(&O::DhcpVendorClass(&format!("{s} 1.{i}")));
            id.apply(&O::DhcpFqdn(&s));
            id.apply(&O::DhcpMudUrl(&s));
            id.apply(&O::Dhcp6VendorClass {
                enterprise: 1,
                class: &s,
            });
            id.apply(&O::Dhcp6Fqdn(&s));
            id.apply(&O::MdnsHostname(&s));
            id.apply(&O::MdnsService(&s));
            id.apply(&O::MdnsTxt {
                key: "fw",
                value: &s,
            });
            id.apply(&O::DnsQuery(&s));
            id.apply(&O::UpnpServer(&format!("{s}/{s}")));
            id.apply(&O::UpnpLocation(&s));
            id.apply(&O::UpnpDeviceType(&s));
            id.apply(&O::UserAgent(&format!("{s}/{s}")));
            id.apply(&O::HttpServer(&format!("{s}/{s}")));
            id.apply(&O::HttpHost(&s));
            id.apply(&O::TlsServerName(&s));
        }
        let heap = id.approx_heap_bytes();
        println!("worst-case approx_heap_bytes: {heap}");
        assert!(heap < 24 * 1024, "{heap}");
        assert!(id.mdns_txt().iter().all(|t| t.len() <= MAX_TEXT));
        assert!(id
            .software()
            .iter()
            .all(|s| s.product.len() <= MAX_TEXT && s.version.len() <= MAX_TEXT));
    }

    #[test]
    fn summary_line() {
        let id = with(&[
            O::DhcpHostname("DCS-935L"),
            O::DhcpVendorClass("udhcp 1.22.1"),
            O::UpnpServer("Linux,    UPnP/1.0 DCS-935L/1.0"),
        ]);
        assert_eq!(
            id.summary(),
            "DCS-935L · DCS-935L/1.0 · udhcp 1.22.1 · Linux"
        );
        let id = with(&[
            O::DhcpHostname("Philips-hue"),
            O::DhcpVendorClass("udhcp 1.19.4"),
        ]);
        assert_eq!(id.summary(), "Philips-hue · udhcp 1.19.4");
        assert_eq!(Identity::new().summary(), "");
        assert!(Identity::new().is_empty());
    }
}
