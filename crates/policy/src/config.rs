//! `[policy]` of the configuration file. Every key is optional; a table
//! such as `[policy.flood]` may name only the keys it changes, and the
//! others keep that kind's own defaults. docs/policy.md says why each
//! default is what it is.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use serde::{Deserialize, Serialize};
use warden_detect::AlertKind;

use crate::{Action, ActionKind};

const NS: i64 = 1_000_000_000;

/// How warden answers each kind of alert, how long, and how it escalates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "raw::Policy")]
pub struct PolicyConfig {
    pub flood: KindPolicy,
    pub scan: KindPolicy,
    pub spam: KindPolicy,
    pub brute_force: KindPolicy,
    /// Profile violations (`[policy.profile]`): enforce the profile or only tell.
    pub profile: ProfilePolicyConfig,
    /// A new offence this soon after the previous decisions on the device
    /// expire is a repeat: its lifetime doubles, and the kind may escalate.
    pub escalation_window_s: u64,
    /// No automatic decision lasts longer than this, however often the
    /// device offends.
    pub max_lifetime_s: u64,
    pub rate_limit: RateLimitConfig,
    pub quarantine: QuarantineConfig,
    /// What a feed listing may make warden do by itself.
    pub feed: FeedPolicyConfig,
    /// Devices the policy remembers at once (decisions, owner choices,
    /// escalation history). Owner choices and active decisions are never
    /// dropped to make room; see [`Policy`](crate::Policy).
    pub max_devices: usize,
}

/// What one kind of alert leads to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindPolicy {
    /// The action on a first offence.
    pub action: ActionKind,
    /// How long the first offence's decision lasts; doubles per repeat.
    pub lifetime_s: u64,
    /// The action from the `escalate_from_offence`-th offence within the
    /// escalation window on (0 = never escalate the action, only the
    /// lifetime).
    pub escalate_to: ActionKind,
    pub escalate_from_offence: u32,
    /// Also stop the device from opening ports on the router (UPnP) while
    /// the decision lasts. Ignored when the action is a quarantine, which
    /// already covers it.
    pub block_upnp: bool,
}

/// What a `profile-violation` leads to. `action = "enforce"` (the default)
/// drops what the device sends outside its profile; `"notify"` only tells.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfilePolicyConfig {
    pub action: ProfileAction,
    /// How long the first offence's enforcement lasts; doubles per repeat,
    /// and a violation that goes on renews it.
    pub lifetime_s: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileAction {
    Enforce,
    Notify,
}

impl Default for ProfilePolicyConfig {
    fn default() -> Self {
        // A day: a profile describes the device's whole job, so holding it
        // to that for a day breaks nothing it declared, while a taken-over
        // device's own connections stay cut.
        ProfilePolicyConfig {
            action: ProfileAction::Enforce,
            lifetime_s: 86_400,
        }
    }
}

impl ProfilePolicyConfig {
    fn kind_policy(&self) -> KindPolicy {
        let action = match self.action {
            ProfileAction::Enforce => ActionKind::EnforceProfile,
            ProfileAction::Notify => ActionKind::Notify,
        };
        KindPolicy {
            action,
            lifetime_s: self.lifetime_s,
            escalate_to: action,
            escalate_from_offence: 0,
            block_upnp: false,
        }
    }
}

/// The limits of the `rate-limit` action, on everything the device sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub packets_per_s: u32,
    pub bytes_per_s: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        // 1 Mbit/s and 100 packets/s: a camera still sends its snapshots
        // and control traffic; a 10,000 packets/s flood loses 99 %.
        RateLimitConfig {
            packets_per_s: 100,
            bytes_per_s: 125_000,
        }
    }
}

/// The owner's policy for what a feed listing may make warden do by itself
/// to a matching device, by the listing's severity. The listing's own
/// recommended action is shown to people but does not widen this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedPolicyConfig {
    /// A device type with a known, exploitable weakness: tell the owner and
    /// close the router's UPnP to it (the usual way such devices are
    /// exposed), without cutting it off.
    pub vulnerable: Vec<ActionKind>,
    /// A device type seen compromised in the wild on several independent
    /// networks: quarantine.
    pub compromised: Vec<ActionKind>,
    /// A feed decision lasts this long past the last feed check that found
    /// the device still listed (each check renews it). Withdrawn listings
    /// and fixed firmware end it at the next check.
    pub lifetime_s: u64,
}

impl Default for FeedPolicyConfig {
    fn default() -> Self {
        FeedPolicyConfig {
            vulnerable: vec![ActionKind::Notify, ActionKind::BlockUpnp],
            compromised: vec![ActionKind::Quarantine],
            lifetime_s: 86_400,
        }
    }
}

/// What a quarantined device may still reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuarantineConfig {
    /// DNS to the router's own resolver (not to outside resolvers).
    pub allow_dns: bool,
    /// DHCP with the router, so the device keeps its address.
    pub allow_dhcp: bool,
    /// NTP (UDP 123): devices with a wrong clock fail TLS, updates included.
    pub allow_ntp: bool,
    /// Host names or addresses every quarantined device may reach on
    /// HTTPS and HTTP (TCP 443 and 80).
    pub allow_hosts: Vec<String>,
    /// Update servers by vendor (the IEEE registry's vendor name, as
    /// `warden analyze` shows it), reachable on TCP 443 and 80 by that
    /// vendor's quarantined devices so they can fetch a fix. Empty by
    /// default: warden ships no guesses; a vendor's threat model or MUD
    /// file, or the owner, fills it.
    pub update_hosts: BTreeMap<String, Vec<String>>,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        QuarantineConfig {
            allow_dns: true,
            allow_dhcp: true,
            allow_ntp: true,
            allow_hosts: Vec::new(),
            update_hosts: BTreeMap::new(),
        }
    }
}

/// What one quarantined device may reach: the allow-list resolved for its
/// vendor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuarantineAllowance {
    pub dns: bool,
    pub dhcp: bool,
    pub ntp: bool,
    /// Addresses and prefixes, TCP 443 and 80; sorted, no duplicates.
    pub nets: Vec<IpNet>,
    /// Host names, TCP 443 and 80, reachable at the addresses the device's
    /// resolver gave it for them: `updates.example.com` (that name only) or
    /// `*.example.com` (any name below it). Lowercase, sorted, no
    /// duplicates.
    pub names: Vec<String>,
}

impl QuarantineAllowance {
    /// Whether `name` (as a DNS question carries it) is one of [`names`](Self::names).
    pub fn allows_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.');
        self.names.iter().any(|pattern| host_matches(pattern, name))
    }
}

/// `pattern` is a lowercase name or `*.suffix`; `name` is compared without
/// regard to case. `*.example.com` matches `a.example.com` and
/// `a.b.example.com`, not `example.com` nor `badexample.com`.
fn host_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            name.len() > suffix.len() + 1
                && name.is_char_boundary(name.len() - suffix.len() - 1)
                && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
        }
        None => name.eq_ignore_ascii_case(pattern),
    }
}

/// An allow-list entry as a host-name pattern, or None if it is not one
/// (letters, digits, `-` and `.`, at most 253 bytes, optionally `*.` first).
fn host_pattern(entry: &str) -> Option<String> {
    let entry = entry.trim().trim_end_matches('.').to_ascii_lowercase();
    let body = entry.strip_prefix("*.").unwrap_or(&entry);
    let valid = !body.is_empty()
        && body.len() <= 253
        && body.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then_some(entry)
}

impl QuarantineConfig {
    pub fn allowance(&self, vendor: Option<&str>) -> QuarantineAllowance {
        let mut out = QuarantineAllowance {
            dns: self.allow_dns,
            dhcp: self.allow_dhcp,
            ntp: self.allow_ntp,
            nets: Vec::new(),
            names: Vec::new(),
        };
        let vendor_hosts = vendor.and_then(|v| self.update_hosts.get(v));
        for entry in self
            .allow_hosts
            .iter()
            .chain(vendor_hosts.into_iter().flatten())
        {
            if let Ok(net) = entry.trim().parse::<IpNet>() {
                out.nets.push(net);
            } else if let Ok(ip) = entry.trim().parse::<IpAddr>() {
                out.nets.push(ip.into());
            } else if let Some(name) = host_pattern(entry) {
                out.names.push(name);
            }
        }
        out.nets.sort();
        out.nets.dedup();
        out.names.sort();
        out.names.dedup();
        out
    }
}

impl KindPolicy {
    /// The defaults of one kind of alert (docs/policy.md says why).
    pub fn default_for(kind: AlertKind) -> KindPolicy {
        let hour = 3_600;
        match kind {
            // Limit at once (the flood is someone else's outage), keep the
            // device usable; a second flood within the window means it is
            // still infected: quarantine.
            AlertKind::Flood => KindPolicy {
                action: ActionKind::RateLimit,
                lifetime_s: hour,
                escalate_to: ActionKind::Quarantine,
                escalate_from_offence: 2,
                block_upnp: true,
            },
            // A scanner is spreading the infection, inside the home too.
            AlertKind::Scan => KindPolicy {
                action: ActionKind::Quarantine,
                lifetime_s: hour,
                escalate_to: ActionKind::Quarantine,
                escalate_from_offence: 0,
                block_upnp: false,
            },
            // Blocking mail removes all of a spam bot's harm; a third
            // offence means it is kept infected: quarantine.
            AlertKind::Spam => KindPolicy {
                action: ActionKind::BlockSmtp,
                lifetime_s: hour,
                escalate_to: ActionKind::Quarantine,
                escalate_from_offence: 3,
                block_upnp: true,
            },
            // Password guessing is how worms take over the next device
            // (Mirai's telnet list); the bot is compromised, not just noisy.
            AlertKind::BruteForce => KindPolicy {
                action: ActionKind::Quarantine,
                lifetime_s: hour,
                escalate_to: ActionKind::Quarantine,
                escalate_from_offence: 0,
                block_upnp: false,
            },
            AlertKind::ProfileViolation => ProfilePolicyConfig::default().kind_policy(),
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            flood: KindPolicy::default_for(AlertKind::Flood),
            scan: KindPolicy::default_for(AlertKind::Scan),
            spam: KindPolicy::default_for(AlertKind::Spam),
            brute_force: KindPolicy::default_for(AlertKind::BruteForce),
            profile: ProfilePolicyConfig::default(),
            escalation_window_s: 86_400,
            max_lifetime_s: 7 * 86_400,
            rate_limit: RateLimitConfig::default(),
            quarantine: QuarantineConfig::default(),
            feed: FeedPolicyConfig::default(),
            max_devices: 4_096,
        }
    }
}

/// Longest accepted lifetime or window: a year. Keeps every product with
/// nanoseconds far from overflow.
pub(crate) const MAX_SECONDS: u64 = 366 * 86_400;

impl PolicyConfig {
    pub fn kind(&self, kind: AlertKind) -> KindPolicy {
        match kind {
            AlertKind::Flood => self.flood.clone(),
            AlertKind::Scan => self.scan.clone(),
            AlertKind::Spam => self.spam.clone(),
            AlertKind::BruteForce => self.brute_force.clone(),
            AlertKind::ProfileViolation => self.profile.kind_policy(),
        }
    }

    /// Parses the `[policy]` table alone (e.g. `toml::from_str` of a
    /// whole file's `policy` value goes through the same checks).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks the values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        for kind in AlertKind::ALL {
            let k = self.kind(kind);
            if k.lifetime_s == 0 || k.lifetime_s > MAX_SECONDS {
                return Err(format!(
                    "policy.{}.lifetime_s must be 1 to {MAX_SECONDS}",
                    key(kind)
                ));
            }
            if k.lifetime_s > self.max_lifetime_s {
                return Err(format!(
                    "policy.{}.lifetime_s is longer than policy.max_lifetime_s",
                    key(kind)
                ));
            }
        }
        if self.max_lifetime_s == 0 || self.max_lifetime_s > MAX_SECONDS {
            return Err(format!("policy.max_lifetime_s must be 1 to {MAX_SECONDS}"));
        }
        if self.escalation_window_s > MAX_SECONDS {
            return Err(format!(
                "policy.escalation_window_s must be at most {MAX_SECONDS}"
            ));
        }
        if self.rate_limit.packets_per_s == 0 || self.rate_limit.bytes_per_s == 0 {
            return Err("policy.rate_limit: limits must be above zero".into());
        }
        if self.max_devices == 0 {
            return Err("policy.max_devices must be above zero".into());
        }
        if self.feed.lifetime_s == 0 || self.feed.lifetime_s > MAX_SECONDS {
            return Err(format!("policy.feed.lifetime_s must be 1 to {MAX_SECONDS}"));
        }
        let hosts = self
            .quarantine
            .allow_hosts
            .iter()
            .chain(self.quarantine.update_hosts.values().flatten());
        for host in hosts {
            if !valid_host(host) {
                return Err(format!(
                    "policy.quarantine: {host:?} is not an address, a prefix or a host name (`*.` may start one)"
                ));
            }
        }
        Ok(())
    }

    /// The actions for an offence at this escalation level (0 = first).
    pub fn actions_for(&self, kind: AlertKind, level: u32) -> Vec<Action> {
        let k = self.kind(kind);
        let escalated =
            k.escalate_from_offence != 0 && level.saturating_add(1) >= k.escalate_from_offence;
        let main = if escalated { k.escalate_to } else { k.action };
        let mut out = vec![self.action(main)];
        if k.block_upnp && main != ActionKind::Quarantine && main != ActionKind::BlockUpnp {
            out.push(Action::BlockUpnp);
        }
        out.sort_by_key(Action::kind);
        out
    }

    /// The action of this name with its configured parameters.
    pub fn action(&self, kind: ActionKind) -> Action {
        match kind {
            ActionKind::Notify => Action::Notify,
            ActionKind::RateLimit => Action::RateLimit {
                packets_per_s: self.rate_limit.packets_per_s,
                bytes_per_s: self.rate_limit.bytes_per_s,
            },
            ActionKind::BlockSmtp => Action::BlockSmtp,
            ActionKind::BlockUpnp => Action::BlockUpnp,
            ActionKind::EnforceProfile => Action::EnforceProfile,
            ActionKind::Quarantine => Action::Quarantine,
        }
    }

    /// Nanoseconds an offence at this level lasts: the kind's lifetime
    /// doubled per level, capped at `max_lifetime_s`.
    pub fn lifetime_ns(&self, kind: AlertKind, level: u32) -> i64 {
        let base = self.kind(kind).lifetime_s.min(MAX_SECONDS);
        let max = self.max_lifetime_s.min(MAX_SECONDS);
        let secs = base.checked_shl(level.min(40)).unwrap_or(u64::MAX).min(max);
        secs as i64 * NS
    }

    pub fn escalation_window_ns(&self) -> i64 {
        self.escalation_window_s.min(MAX_SECONDS) as i64 * NS
    }
}

fn key(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::BruteForce => "brute_force",
        AlertKind::ProfileViolation => "profile",
        other => other.as_str(),
    }
}

/// An allow-list entry: an address, a prefix, or a host-name pattern.
fn valid_host(h: &str) -> bool {
    let h = h.trim();
    h.parse::<IpAddr>().is_ok() || h.parse::<IpNet>().is_ok() || host_pattern(h).is_some()
}

/// The file's shape: every key optional, unknown keys refused. Missing
/// keys of a kind take that kind's defaults, not a generic one.
mod raw {
    use serde::Deserialize;

    use super::*;

    #[derive(Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub struct Policy {
        flood: Option<Kind>,
        scan: Option<Kind>,
        spam: Option<Kind>,
        brute_force: Option<Kind>,
        profile: Option<ProfilePolicyConfig>,
        escalation_window_s: Option<u64>,
        max_lifetime_s: Option<u64>,
        rate_limit: Option<RateLimitConfig>,
        quarantine: Option<QuarantineConfig>,
        feed: Option<FeedPolicyConfig>,
        max_devices: Option<usize>,
    }

    #[derive(Default, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub struct Kind {
        action: Option<ActionKind>,
        lifetime_s: Option<u64>,
        escalate_to: Option<ActionKind>,
        escalate_from_offence: Option<u32>,
        block_upnp: Option<bool>,
    }

    fn kind(raw: Option<Kind>, kind: AlertKind) -> KindPolicy {
        let d = KindPolicy::default_for(kind);
        let r = raw.unwrap_or_default();
        KindPolicy {
            action: r.action.unwrap_or(d.action),
            lifetime_s: r.lifetime_s.unwrap_or(d.lifetime_s),
            escalate_to: r.escalate_to.unwrap_or(d.escalate_to),
            escalate_from_offence: r.escalate_from_offence.unwrap_or(d.escalate_from_offence),
            block_upnp: r.block_upnp.unwrap_or(d.block_upnp),
        }
    }

    impl TryFrom<Policy> for PolicyConfig {
        type Error = String;

        fn try_from(r: Policy) -> Result<Self, String> {
            let d = PolicyConfig::default();
            let cfg = PolicyConfig {
                flood: kind(r.flood, AlertKind::Flood),
                scan: kind(r.scan, AlertKind::Scan),
                spam: kind(r.spam, AlertKind::Spam),
                brute_force: kind(r.brute_force, AlertKind::BruteForce),
                profile: r.profile.unwrap_or(d.profile),
                escalation_window_s: r.escalation_window_s.unwrap_or(d.escalation_window_s),
                max_lifetime_s: r.max_lifetime_s.unwrap_or(d.max_lifetime_s),
                rate_limit: r.rate_limit.unwrap_or(d.rate_limit),
                quarantine: r.quarantine.unwrap_or(d.quarantine),
                feed: r.feed.unwrap_or(d.feed),
                max_devices: r.max_devices.unwrap_or(d.max_devices),
            };
            cfg.validate()?;
            Ok(cfg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_act_without_the_owner() {
        let c = PolicyConfig::default();
        c.validate().unwrap();
        let rl = Action::RateLimit {
            packets_per_s: 100,
            bytes_per_s: 125_000,
        };
        assert_eq!(
            c.actions_for(AlertKind::Flood, 0),
            vec![rl, Action::BlockUpnp]
        );
        assert_eq!(c.actions_for(AlertKind::Flood, 1), vec![Action::Quarantine]);
        assert_eq!(c.actions_for(AlertKind::Scan, 0), vec![Action::Quarantine]);
        assert_eq!(c.actions_for(AlertKind::Scan, 9), vec![Action::Quarantine]);
        assert_eq!(
            c.actions_for(AlertKind::Spam, 1),
            vec![Action::BlockSmtp, Action::BlockUpnp]
        );
        assert_eq!(c.actions_for(AlertKind::Spam, 2), vec![Action::Quarantine]);
        assert_eq!(
            c.actions_for(AlertKind::BruteForce, 0),
            vec![Action::Quarantine]
        );
        for kind in AlertKind::ALL {
            assert!(c.actions_for(kind, 0).iter().all(Action::restricts));
        }
    }

    #[test]
    fn lifetimes_double_and_cap() {
        let c = PolicyConfig::default();
        let h = 3_600 * NS;
        assert_eq!(c.lifetime_ns(AlertKind::Flood, 0), h);
        assert_eq!(c.lifetime_ns(AlertKind::Flood, 1), 2 * h);
        assert_eq!(c.lifetime_ns(AlertKind::Flood, 3), 8 * h);
        assert_eq!(c.lifetime_ns(AlertKind::Flood, 8), 168 * h);
        assert_eq!(c.lifetime_ns(AlertKind::Flood, 63), 168 * h);
        assert_eq!(c.lifetime_ns(AlertKind::Flood, u32::MAX), 168 * h);
    }

    #[test]
    fn toml_overrides_keep_the_kinds_own_defaults() {
        let c = PolicyConfig::from_toml(
            "[flood]\naction = \"notify\"\n[rate_limit]\npackets_per_s = 50\n",
        )
        .unwrap();
        assert_eq!(c.flood.action, ActionKind::Notify);
        assert_eq!(c.flood.escalate_to, ActionKind::Quarantine);
        assert_eq!(c.flood.escalate_from_offence, 2);
        assert_eq!(c.rate_limit.packets_per_s, 50);
        assert_eq!(c.rate_limit.bytes_per_s, 125_000);
        assert_eq!(c.scan, KindPolicy::default_for(AlertKind::Scan));
        assert_eq!(
            PolicyConfig::from_toml("").unwrap(),
            PolicyConfig::default()
        );
    }

    #[test]
    fn bad_files_are_refused_with_the_key() {
        for (text, needle) in [
            ("[flood]\nactoin = \"notify\"\n", "actoin"),
            ("max_device = 3\n", "max_device"),
            ("[scan]\naction = \"drop\"\n", "drop"),
            ("[scan]\nlifetime_s = 0\n", "policy.scan.lifetime_s"),
            (
                "max_lifetime_s = 60\n",
                "policy.flood.lifetime_s is longer than policy.max_lifetime_s",
            ),
            ("[rate_limit]\nbytes_per_s = 0\n", "rate_limit"),
            ("[quarantine]\nallow_hosts = [\"a b\"]\n", "\"a b\""),
            (
                "[quarantine]\nallow_hosts = [\"a.*.example\"]\n",
                "a.*.example",
            ),
            (
                "[quarantine]\nallow_hosts = [\"10.0.0.0/33\"]\n",
                "10.0.0.0/33",
            ),
            (
                "[quarantine.update_hosts]\n\"ACME\" = [\"-bad.example\"]\n",
                "-bad.example",
            ),
            ("max_devices = 0\n", "max_devices"),
        ] {
            let err = PolicyConfig::from_toml(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn serialized_defaults_parse_back_equal() {
        let c = PolicyConfig::default();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(PolicyConfig::from_toml(&text).unwrap(), c);
    }

    #[test]
    fn quarantine_allowance_per_vendor() {
        let c = PolicyConfig::from_toml(
            "[quarantine]\nallow_hosts = [\"192.0.2.7\", \"FW.example.net.\", \"2001:db8::/64\"]\n\
             [quarantine.update_hosts]\n\"ACME Corp\" = [\"*.acme.example\", \"fw.example.net\"]\n",
        )
        .unwrap();
        let acme = c.quarantine.allowance(Some("ACME Corp"));
        let nets: Vec<IpNet> = vec![
            "192.0.2.7/32".parse().unwrap(),
            "2001:db8::/64".parse().unwrap(),
        ];
        assert_eq!(acme.nets, nets);
        assert_eq!(acme.names, vec!["*.acme.example", "fw.example.net"]);
        assert!(acme.dns && acme.dhcp && acme.ntp);
        let other = c.quarantine.allowance(Some("Other"));
        assert_eq!(other.names, vec!["fw.example.net"]);
        assert_eq!(other.nets, nets);
        assert_eq!(c.quarantine.allowance(None), other);

        // Names as DNS questions carry them.
        assert!(acme.allows_name("fw.example.net"));
        assert!(acme.allows_name("Fw.Example.Net."));
        assert!(acme.allows_name("updates.acme.example"));
        assert!(acme.allows_name("a.b.acme.example"));
        assert!(!acme.allows_name("acme.example"));
        assert!(!acme.allows_name("badacme.example"));
        assert!(!acme.allows_name("fw.example.net.evil.example"));
        assert!(!acme.allows_name("xfw.example.net"));
        assert!(!other.allows_name("updates.acme.example"));
    }
}
