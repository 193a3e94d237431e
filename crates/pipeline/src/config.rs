//! The guard's configuration file (TOML). Every key is optional; see
//! `docs/warden.example.toml` for all of them with their defaults.

use std::path::Path;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use warden_detect::DetectConfig;
use warden_policy::PolicyConfig;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub devices: DevicesConfig,
    pub detect: DetectConfig,
    /// What alerts lead to (docs/policy.md): `warden analyze` shows the
    /// decisions it would have taken, `warden run` takes them.
    pub policy: PolicyConfig,
    /// The live guard (`warden run`); its command-line options override.
    pub run: RunConfig,
    /// The killswitch feed on the router (docs/feed-router.md).
    pub feed: FeedConfig,
    /// Where devices' network profiles come from (docs/profiles.md).
    pub profiles: ProfilesConfig,
}

/// Where the live guard finds devices' network profiles, besides the
/// owner's mappings (`warden device profile`), which win over both.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProfilesConfig {
    /// A directory of threat models (YAML or JSON); a device whose
    /// identified vendor, model and firmware match one is held to its
    /// `network` section. A missing directory means no models.
    pub models: std::path::PathBuf,
    /// A directory of MUD files with an `index.json` of MUD URL -> file
    /// name, for devices that announce a MUD URL in DHCP (option 161).
    /// Nothing is fetched from the internet. A missing directory means none.
    pub mud_dir: std::path::PathBuf,
    /// How long a device without a profile is watched before
    /// `warden device profile MAC --learned` proposes one (seconds).
    pub learn_window_s: u64,
}

impl Default for ProfilesConfig {
    fn default() -> Self {
        ProfilesConfig {
            models: "/etc/warden/models".into(),
            mud_dir: "/etc/warden/mud".into(),
            learn_window_s: 86_400,
        }
    }
}

/// The router's side of the killswitch feed: where the signed feed comes
/// from, what it is pinned to, and whether sightings are reported.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    /// Base URL of the published feed files (`timestamp.json` and the rest);
    /// "" = no feed.
    pub url: String,
    /// The pinned root of trust: the feed's `root.json` as first installed.
    /// Later roots are accepted only when signed by this one's keys.
    pub root: std::path::PathBuf,
    /// Where the last good copy of the feed is kept.
    pub dir: std::path::PathBuf,
    /// Seconds between syncs.
    pub sync_interval_s: u64,
    /// Seconds between matching the devices against the feed.
    pub check_interval_s: u64,
    /// Feed server that receives this router's sightings ("" = report
    /// nothing). Sightings carry no address, no full MAC, no name and no
    /// exact time (docs/feed.md, "Privacy").
    pub report_url: String,
    /// This router's Ed25519 key, created (mode 0600) on first use.
    pub key: std::path::PathBuf,
    /// Each sighting is signed and sent after a random delay of up to this
    /// many seconds (at most 3600), so its arrival does not date the
    /// incident more finely than its one-hour window.
    pub report_jitter_s: u64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            url: String::new(),
            root: "/etc/warden/feed-root.json".into(),
            dir: "/var/lib/warden/feed".into(),
            sync_interval_s: 3_600,
            check_interval_s: 60,
            report_url: String::new(),
            key: "/var/lib/warden/router.key".into(),
            report_jitter_s: 300,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// LAN interfaces to guard, e.g. `["br-lan"]`.
    pub interfaces: Vec<String>,
    /// The state database.
    pub db: std::path::PathBuf,
    /// The router's own LAN addresses.
    pub router_addrs: Vec<std::net::IpAddr>,
    /// Name of warden's nftables tables.
    pub table: String,
    /// Keep a bridge-family table for traffic switched between LAN ports.
    pub bridge: bool,
    /// Where each decision's message is POSTed as JSON ("" = nowhere).
    pub webhook: String,
    /// An ntfy topic URL each decision's message is pushed to ("" = none).
    pub ntfy: String,
    /// Where `warden run` serves the dashboard ("off" = nowhere). Loopback
    /// unless configured; anything else belongs behind a TLS proxy.
    pub dashboard: String,
    /// The dashboard's own TLS: "auto" (plain HTTP on loopback, a
    /// self-signed certificate made once elsewhere), "off", or the owner's
    /// `{ cert = "...", key = "..." }` PEM files.
    pub dashboard_tls: DashboardTls,
    /// The language of warnings and of the dashboard's advice ("en", "de").
    pub language: String,
    /// Warnings by e-mail (`[run.smtp]`).
    pub smtp: SmtpConfig,
}

/// `[run] dashboard_tls`: a word ("auto", "off") or certificate files.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum DashboardTls {
    Mode(String),
    Files {
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
    },
}

/// Warnings by e-mail through the household's mail server (docs/dashboard.md).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// The mail server's host name ("" = no e-mail).
    pub server: String,
    /// 0 = the usual port of `security`: 587 (starttls), 465 (tls), 25 (none).
    pub port: u16,
    /// "starttls", "tls", or "none" (plain text: only to a server on loopback).
    pub security: String,
    /// The sender address.
    pub from: String,
    /// Where warnings go.
    pub to: Vec<String>,
    /// A file with the user name on its first line and the password on its
    /// second ("" = no login). Kept out of the configuration file on purpose.
    pub credentials: String,
    /// A PEM file of a certificate to trust for the server besides the
    /// public web roots (a self-made one); "" = none.
    pub ca: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            server: String::new(),
            port: 0,
            security: "starttls".into(),
            from: String::new(),
            to: Vec::new(),
            credentials: String::new(),
            ca: String::new(),
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            interfaces: Vec::new(),
            db: "/var/lib/warden/warden.db".into(),
            router_addrs: Vec::new(),
            table: "warden".into(),
            bridge: true,
            webhook: String::new(),
            ntfy: String::new(),
            dashboard: "127.0.0.1:8080".into(),
            dashboard_tls: DashboardTls::Mode("auto".into()),
            language: "en".into(),
            smtp: SmtpConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DevicesConfig {
    /// Address ranges of the LAN. A MAC that sends from one of these is a
    /// device. Empty means the private ranges: RFC 1918, IPv4 link-local,
    /// IPv6 unique-local and link-local.
    pub lan: Vec<IpNet>,
    /// Most devices tracked at once.
    pub max_devices: usize,
    /// A device silent this long may make room for a new one when full.
    pub idle_evict_s: u32,
    /// DNS answers remembered (address -> "the device looked it up").
    pub max_dns_bindings: usize,
}

impl Default for DevicesConfig {
    fn default() -> Self {
        DevicesConfig {
            lan: Vec::new(),
            max_devices: 4096,
            idle_evict_s: 600,
            max_dns_bindings: 65_536,
        }
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: name,
            message,
        })
    }

    /// The file's configuration, or the defaults when there is no file.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, ConfigError> {
        path.map_or_else(|| Ok(Config::default()), Config::load)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_matches_defaults() {
        let text = include_str!("../../../docs/warden.example.toml");
        let cfg = Config::parse(text).unwrap();
        assert_eq!(
            cfg,
            Config::default(),
            "docs/warden.example.toml must show the defaults"
        );
    }

    #[test]
    fn bad_keys_are_reported() {
        let err = Config::parse("[devices]\nmax_device = 3\n").unwrap_err();
        assert!(err.contains("max_device"), "{err}");
        assert!(Config::parse("[devices]\nlan = [\"10.0.0.0/33\"]\n").is_err());
    }
}
