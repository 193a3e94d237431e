//! The baseline lint: rules with stable ids, each naming the provisions it
//! checks. The theme: the device must not rely on its user to make a security
//! decision. A shared default password, updates off by default, a port the
//! device opens on the router by itself: each is a failure, whatever the
//! manual tells the user to do about it.
//!
//! Provisions are cited as: ETSI EN 303 645 V2.1.1 (2020-06) clause numbers;
//! UK PSTI = The Product Security and Telecommunications Infrastructure
//! (Security Requirements for Relevant Connectable Products) Regulations 2023
//! (SI 2023/1007), Schedule 1; EU CRA = Regulation (EU) 2024/2847; NIST IR
//! 8259A = IoT Device Cybersecurity Capability Core Baseline (2020).

use serde::Serialize;

use crate::load::Loaded;
use crate::model::{
    BruteForceProtection, CredentialSource, DefaultCredentials, DeviceClass, Direction,
    EntryPointKind, Exposure, InterfaceState, PortMapping, SecretStorage, SensingKind,
    ThreatStatus, UpdateMechanism,
};

/// How serious a finding is (the SARIF levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }
}

/// A lint rule. The id never changes meaning; retired ids are not reused.
#[derive(Debug, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    /// The provisions it checks (empty: a rule about the model itself).
    pub provisions: &'static [&'static str],
    /// What it checks.
    pub checks: &'static str,
    /// Why it matters.
    pub why: &'static str,
}

/// One finding: a rule, a level, where in the model, and a sentence.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub level: Level,
    /// Where in the model (`entry_points[1].logins[0].credential`).
    pub path: String,
    /// 1-based line of that path (or its nearest ancestor) in the source.
    pub line: usize,
    pub message: String,
}

macro_rules! rules {
    ($($id:ident = $num:literal, $name:literal, [$($prov:expr),* $(,)?], $checks:literal, $why:literal;)*) => {
        $(pub const $id: &Rule = &Rule { id: $num, name: $name, provisions: &[$($prov),*], checks: $checks, why: $why };)*
        /// Every rule, in id order.
        pub const RULES: &[&Rule] = &[$($id),*];
    };
}

rules! {
    UNIVERSAL_DEFAULT_PASSWORD = "TM001", "no-universal-default-password",
        ["ETSI EN 303 645 5.1-1", "UK PSTI Sch. 1 para 1(2)", "EU CRA Annex I Part I (2)(b)", "EU CRA Annex I Part I (2)(d)", "NIST IR 8259A Logical Access to Interfaces"],
        "No password or PIN login uses a credential shared by every device (`shared_default`), and `baseline.default_credentials` is stated and agrees with the logins.",
        "One published password opens every device of the type: this is how Mirai recruited its botnet. Asking users to change it relies on them to make the security decision.";
    GUESSABLE_PASSWORD = "TM002", "unique-password-not-guessable",
        ["ETSI EN 303 645 5.1-2", "UK PSTI Sch. 1 para 1(3)"],
        "No per-device password is derived from public identifiers (MAC address, serial number, SSID) or counted up from device to device.",
        "A password that can be computed from what the device broadcasts is a universal password with an extra step.";
    CHANGEABLE_CREDENTIALS = "TM003", "credentials-changeable",
        ["ETSI EN 303 645 5.1-4", "NIST IR 8259A Logical Access to Interfaces"],
        "Every password or PIN login says the user can change it (`user_can_change: true`).",
        "A credential that cannot be changed stays valid after it leaks.";
    BRUTE_FORCE = "TM004", "brute-force-impracticable",
        ["ETSI EN 303 645 5.1-5", "EU CRA Annex I Part I (2)(d)"],
        "Every password or PIN login reachable over a network or radio has a brute-force protection (rate limit, increasing delay, lockout). Constrained devices are exempt.",
        "Without one, a weak password falls to an automated guesser in hours.";
    DISCLOSURE = "TM005", "vulnerability-disclosure",
        ["ETSI EN 303 645 5.2-1", "UK PSTI Sch. 1 para 2", "EU CRA Annex I Part II (5)", "EU CRA Annex I Part II (6)"],
        "A vulnerability disclosure contact (`mailto:` or `https:`) is given, with the timelines for acknowledging a report and for status updates; a security.txt is noted if absent.",
        "Researchers who find a flaw need somewhere to send it, and to know when they will hear back.";
    UPDATE_MECHANISM = "TM006", "secure-update-mechanism",
        ["ETSI EN 303 645 5.3-2", "ETSI EN 303 645 5.3-3", "EU CRA Annex I Part I (2)(c)", "NIST IR 8259A Software Update"],
        "The device can be updated (`baseline.updates.mechanism` is not `none`; constrained devices are exempt), and updates are simple to apply (not only with a cable or card).",
        "A device that cannot be fixed stays vulnerable for the rest of its life.";
    UPDATE_AUTHENTICITY = "TM007", "update-authenticity",
        ["ETSI EN 303 645 5.3-7", "ETSI EN 303 645 5.3-10", "EU CRA Annex I Part I (2)(f)", "NIST IR 8259A Software Update"],
        "Update images are signed and the device verifies the signature before installing; the signature algorithm is named and is not MD5, SHA-1, CRC or RSA-1024.",
        "An update channel that installs anything is a remote-code-execution channel for whoever can reach it.";
    ANTI_ROLLBACK = "TM008", "update-anti-rollback",
        [],
        "The device refuses firmware older than the installed version (`anti_rollback: true`).",
        "Without it an attacker can install an old, correctly signed image with a known hole. No baseline provision names it; it is what makes the signature check of TM007 hold over time.";
    AUTOMATIC_UPDATES = "TM009", "automatic-updates-on-by-default",
        ["ETSI EN 303 645 5.3-4", "ETSI EN 303 645 5.3-6", "EU CRA Annex I Part I (2)(c)"],
        "Automatic installation of security updates is on as shipped (`automatic_by_default: true`); whether the user can postpone them is stated.",
        "Updates that wait for the user to switch them on are, for most households, never installed.";
    SUPPORT_PERIOD = "TM010", "support-period",
        ["ETSI EN 303 645 5.3-13", "UK PSTI Sch. 1 para 3", "EU CRA Art. 13(8)"],
        "The last day of security updates is stated and where it is published; a date already past is reported.",
        "A buyer should know until when the device will be fixed, before buying it.";
    MODEL_DESIGNATION = "TM011", "model-designation-recognizable",
        ["ETSI EN 303 645 5.3-16", "NIST IR 8259A Device Identification"],
        "The model designation can be read on a label or in the interface.",
        "Users (and warden) can only match a device to advisories and updates if they can tell which model it is.";
    SECRETS = "TM012", "no-hard-coded-secrets",
        ["ETSI EN 303 645 5.4-1", "ETSI EN 303 645 5.4-3"],
        "No critical security parameter is hard-coded in the firmware, no login uses a hard-coded credential, and secrets are not kept in plain flash.",
        "A key or password in the firmware image is extracted once and then works on every device.";
    AUTHENTICATED_CONFIGURATION = "TM013", "configuration-needs-authentication",
        ["ETSI EN 303 645 5.5-5", "EU CRA Annex I Part I (2)(d)"],
        "Every enabled entry point reachable from a network or radio that allows security-relevant configuration changes has a login.",
        "Anyone on the network (or any web page the user visits, through the browser) could otherwise reconfigure the device.";
    UNUSED_INTERFACES = "TM014", "unused-interfaces-disabled",
        ["ETSI EN 303 645 5.6-1", "EU CRA Annex I Part I (2)(j)"],
        "No entry point marked as not needed (`used: false`) is enabled.",
        "An interface nobody needs is attack surface nobody watches.";
    DEBUG_INTERFACES = "TM015", "debug-interfaces-disabled",
        ["ETSI EN 303 645 5.6-4", "EU CRA Annex I Part I (2)(j)"],
        "Every physically accessible debug interface (UART, JTAG, SWD) is disabled in software or permanently.",
        "An open debug console hands a root shell to anyone with a screwdriver, and with it the keys shared by every device.";
    EXTERNAL_SENSING = "TM016", "external-sensing-documented",
        ["ETSI EN 303 645 5.8-3"],
        "Every external sensing capability (camera, microphone, ...) says where it is documented for users; cameras and doorbells declare their camera.",
        "People near the device have a right to know what it can see and hear.";
    DATA_DELETION = "TM017", "user-data-erasable",
        ["ETSI EN 303 645 5.11-1", "ETSI EN 303 645 5.11-2", "EU CRA Annex I Part I (2)(m)"],
        "A factory reset erases user data and credentials, and devices with a cloud say how cloud data is deleted.",
        "A sold, returned or discarded device must not carry its owner's data or network password to the next person.";
    USER_DECISIONS = "TM018", "no-insecure-defaults-left-to-the-user",
        ["ETSI EN 303 645 5.12-1", "EU CRA Annex I Part I (2)(b)"],
        "Every security-relevant setting left to the user ships with its secure value (`secure_default: true`).",
        "ETSI EN 303 645 5.12-1 asks that installation and maintenance involve minimal decisions by the user; security that depends on the user finding and changing a setting is, for most households, absent.";
    PORT_MAPPING = "TM019", "no-port-mapping-by-default",
        ["EU CRA Annex I Part I (2)(b)", "EU CRA Annex I Part I (2)(j)", "NIST IR 8259A Logical Access to Interfaces"],
        "The device does not ask the router to open ports (UPnP IGD, NAT-PMP, PCP) as shipped; whether it ever does is stated.",
        "A device that opens its own hole in the router exposes its services to the whole internet without anyone deciding so.";
    SBOM = "TM020", "sbom",
        ["EU CRA Annex I Part II (1)"],
        "A software bill of materials is declared (format and who can get it).",
        "Without a component list nobody can tell whether the device is affected by the next library vulnerability.";
    JUSTIFICATIONS = "TM021", "scope-and-status-justified",
        [],
        "Every out-of-scope component and attacker, and every threat that is accepted, transferred or out of scope, has a justification; open threats are reported.",
        "A threat model is judged by what it leaves out; unexplained omissions cannot be judged.";
    THREAT_REFERENCES = "TM022", "threats-referenced-and-controlled",
        [],
        "Threats cite CAPEC or CWE, and mitigated threats name their controls.",
        "Catalogue references let testers and tools line threats up across vendors; a mitigation without a control is an assertion.";
    NETWORK_BEHAVIOUR = "TM023", "network-behaviour-declared",
        [],
        "The expected network behaviour lists at least one flow.",
        "Without it the router cannot enforce a profile (RFC 8520 MUD) or notice the device doing something new.";
    ENCRYPTED_FLOWS = "TM024", "internet-flows-encrypted",
        ["ETSI EN 303 645 5.5-1", "EU CRA Annex I Part I (2)(e)"],
        "Every flow to or from an internet name says it is encrypted.",
        "Plain-text traffic to the cloud can be read and changed by anyone on the path.";
    IDENTITY = "TM025", "identity-complete",
        ["NIST IR 8259A Device Identification"],
        "The model names firmware versions with image hashes, and a CPE or purl and MUD URL where there is one.",
        "Advisories, feeds and the router's profile lookup all need to know exactly which device and firmware a model describes.";
    CREDENTIALS_IN_TRANSIT = "TM026", "credentials-encrypted-in-transit",
        ["ETSI EN 303 645 5.5-7", "ETSI EN 303 645 5.5-1", "EU CRA Annex I Part I (2)(e)"],
        "Every enabled entry point reachable over a network (internet, local network, cloud) where a password, PIN, token or account secret is sent says it is encrypted.",
        "A password sent over telnet or plain HTTP can be read by anything on the path, including every other compromised device on the home network.";
}

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

struct Out<'a> {
    loaded: &'a Loaded,
    findings: Vec<Finding>,
}

impl Out<'_> {
    fn add(
        &mut self,
        rule: &Rule,
        level: Level,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        let path = path.into();
        let line = self.loaded.lines.line_of(&path);
        self.findings.push(Finding {
            rule: rule.id,
            level,
            path,
            line,
            message: message.into(),
        });
    }
}

fn networked(e: Exposure) -> bool {
    !matches!(e, Exposure::Physical)
}

/// Runs every rule. `today` decides whether a support period has ended (a
/// parameter, so the same model lints the same way in tests next year).
pub fn lint(loaded: &Loaded, today: time::Date) -> Vec<Finding> {
    let m = &loaded.model;
    let mut o = Out {
        loaded,
        findings: Vec::new(),
    };
    let b = &m.baseline;

    // Every login, with its path and the entry point it belongs to.
    let logins: Vec<_> = m
        .entry_points
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            e.logins
                .iter()
                .enumerate()
                .map(move |(j, l)| (format!("entry_points[{i}].logins[{j}]"), e, l))
        })
        .collect();
    let passwordish = || {
        logins.iter().filter(|(_, e, l)| {
            l.mechanism.is_password_like() && e.state == InterfaceState::Enabled
        })
    };

    // TM001
    let shared: Vec<_> = passwordish()
        .filter(|(_, _, l)| l.credential == CredentialSource::SharedDefault)
        .collect();
    for (p, e, l) in &shared {
        o.add(
            UNIVERSAL_DEFAULT_PASSWORD,
            Level::Error,
            format!("{p}.credential"),
            format!(
                "{} login{} on {:?} uses a password shared by every device",
                l.mechanism_name(),
                l.user
                    .as_deref()
                    .map(|u| format!(" for {u:?}"))
                    .unwrap_or_default(),
                e.name
            ),
        );
    }
    match b.default_credentials {
        Some(DefaultCredentials::SharedDefault) => o.add(
            UNIVERSAL_DEFAULT_PASSWORD,
            Level::Error,
            "baseline.default_credentials",
            "the device ships with a default password shared by every device",
        ),
        Some(DefaultCredentials::NoPasswords) if passwordish().next().is_some() => o.add(
            UNIVERSAL_DEFAULT_PASSWORD,
            Level::Error,
            "baseline.default_credentials",
            "the baseline claims no password logins, but an enabled entry point has one",
        ),
        Some(_) if !shared.is_empty() => o.add(
            UNIVERSAL_DEFAULT_PASSWORD,
            Level::Error,
            "baseline.default_credentials",
            "the baseline claim contradicts a login that uses a shared default password",
        ),
        None if passwordish().next().is_some() => o.add(
            UNIVERSAL_DEFAULT_PASSWORD,
            Level::Warning,
            "baseline.default_credentials",
            "the device has password logins but does not state how default passwords are set",
        ),
        _ => {}
    }

    // TM002
    for (p, _, l) in passwordish() {
        if matches!(
            l.credential,
            CredentialSource::DerivedFromPublicIdentifier | CredentialSource::IncrementalCounter
        ) {
            o.add(
                GUESSABLE_PASSWORD,
                Level::Error,
                format!("{p}.credential"),
                format!(
                    "the per-device {} is {}, so it can be guessed",
                    l.mechanism_name(),
                    l.credential.plain()
                ),
            );
        }
    }

    // TM003
    for (p, _, l) in passwordish() {
        match l.user_can_change {
            Some(true) => {}
            Some(false) => o.add(
                CHANGEABLE_CREDENTIALS,
                Level::Error,
                format!("{p}.user_can_change"),
                format!("the user cannot change this {}", l.mechanism_name()),
            ),
            None => o.add(
                CHANGEABLE_CREDENTIALS,
                Level::Warning,
                p.clone(),
                format!(
                    "does not say whether the user can change this {}",
                    l.mechanism_name()
                ),
            ),
        }
    }

    // TM004
    if !m.identity.constrained {
        for (p, e, l) in passwordish() {
            if networked(e.exposure)
                && matches!(
                    l.brute_force_protection,
                    None | Some(BruteForceProtection::None)
                )
            {
                o.add(
                    BRUTE_FORCE,
                    Level::Error,
                    format!("{p}.brute_force_protection"),
                    format!(
                        "nothing stops guessing the {} on {:?} over the network",
                        l.mechanism_name(),
                        e.name
                    ),
                );
            }
        }
    }

    // TM005
    match &b.vulnerability_disclosure {
        None => o.add(
            DISCLOSURE,
            Level::Error,
            "baseline.vulnerability_disclosure",
            "no vulnerability disclosure contact",
        ),
        Some(d) => {
            let c = d.contact.trim();
            if !(c.starts_with("mailto:") && c.len() > 7
                || c.starts_with("https://") && c.len() > 8)
            {
                o.add(
                    DISCLOSURE,
                    Level::Error,
                    "baseline.vulnerability_disclosure.contact",
                    format!("{c:?} is not a mailto: or https:// contact"),
                );
            }
            if d.acknowledgement_days.is_none() || d.status_update_days.is_none() {
                o.add(
                    DISCLOSURE,
                    Level::Warning,
                    "baseline.vulnerability_disclosure",
                    "the disclosure policy does not give timelines for acknowledgement and status updates",
                );
            }
            if d.policy_url.is_none() {
                o.add(
                    DISCLOSURE,
                    Level::Warning,
                    "baseline.vulnerability_disclosure.policy_url",
                    "no published disclosure policy",
                );
            }
            if d.security_txt.is_none() {
                o.add(
                    DISCLOSURE,
                    Level::Note,
                    "baseline.vulnerability_disclosure.security_txt",
                    "no security.txt (RFC 9116) given",
                );
            }
        }
    }

    // TM006, TM007, TM008, TM009
    match &b.updates {
        None => {
            if !m.identity.constrained {
                o.add(
                    UPDATE_MECHANISM,
                    Level::Error,
                    "baseline.updates",
                    "the model does not say how the device is updated",
                );
            }
        }
        Some(u) => {
            match u.mechanism {
                UpdateMechanism::None if !m.identity.constrained => o.add(
                    UPDATE_MECHANISM,
                    Level::Error,
                    "baseline.updates.mechanism",
                    "the device's software cannot be updated",
                ),
                UpdateMechanism::PhysicalOnly => o.add(
                    UPDATE_MECHANISM,
                    Level::Warning,
                    "baseline.updates.mechanism",
                    "updates need a cable, card or service visit: not simple for the user to apply",
                ),
                _ => {}
            }
            if u.mechanism != UpdateMechanism::None {
                if !u.signed {
                    o.add(
                        UPDATE_AUTHENTICITY,
                        Level::Error,
                        "baseline.updates.signed",
                        "update images are not signed",
                    );
                }
                if !u.verified_on_device {
                    o.add(
                        UPDATE_AUTHENTICITY,
                        Level::Error,
                        "baseline.updates.verified_on_device",
                        "the device installs updates without verifying their signature",
                    );
                }
                match &u.signature_algorithm {
                    None if u.signed => o.add(
                        UPDATE_AUTHENTICITY,
                        Level::Warning,
                        "baseline.updates.signature_algorithm",
                        "the signature algorithm is not named",
                    ),
                    Some(a) if is_weak_algorithm(a) => o.add(
                        UPDATE_AUTHENTICITY,
                        Level::Error,
                        "baseline.updates.signature_algorithm",
                        format!("{a:?} is not best-practice cryptography for update signatures"),
                    ),
                    _ => {}
                }
                if !u.anti_rollback {
                    o.add(
                        ANTI_ROLLBACK,
                        Level::Warning,
                        "baseline.updates.anti_rollback",
                        "the device accepts older firmware, so a signed image with a known hole can be reinstalled",
                    );
                }
                if !u.automatic_by_default {
                    o.add(
                        AUTOMATIC_UPDATES,
                        Level::Error,
                        "baseline.updates.automatic_by_default",
                        "automatic security updates are off as shipped: the user has to turn them on",
                    );
                } else if u.user_can_postpone.is_none() {
                    o.add(
                        AUTOMATIC_UPDATES,
                        Level::Note,
                        "baseline.updates.user_can_postpone",
                        "does not say whether the user can postpone an update",
                    );
                }
            }
        }
    }

    // TM010
    match &b.support {
        None => o.add(
            SUPPORT_PERIOD,
            Level::Error,
            "baseline.support",
            "no support period: no date until which security updates are promised",
        ),
        Some(s) => {
            if s.published_at.is_none() {
                o.add(
                    SUPPORT_PERIOD,
                    Level::Warning,
                    "baseline.support.published_at",
                    "the support period is not said to be published anywhere",
                );
            }
            if s.security_updates_until.0 < today {
                o.add(
                    SUPPORT_PERIOD,
                    Level::Warning,
                    "baseline.support.security_updates_until",
                    format!("security updates ended on {}", s.security_updates_until),
                );
            }
        }
    }

    // TM011
    match m.identity.model_designation {
        None => o.add(
            MODEL_DESIGNATION,
            Level::Warning,
            "identity.model_designation",
            "does not say where the model designation can be read",
        ),
        Some(crate::model::ModelDesignation::None) => o.add(
            MODEL_DESIGNATION,
            Level::Warning,
            "identity.model_designation",
            "the model designation cannot be read on the device or in its interface",
        ),
        Some(_) => {}
    }

    // TM012
    match &b.secrets {
        None => o.add(
            SECRETS,
            Level::Warning,
            "baseline.secrets",
            "does not say how secrets are stored on the device",
        ),
        Some(s) => {
            if s.hard_coded_in_firmware {
                o.add(
                    SECRETS,
                    Level::Error,
                    "baseline.secrets.hard_coded_in_firmware",
                    "a critical security parameter is the same in every copy of the firmware",
                );
            }
            if s.storage == SecretStorage::PlainFlash {
                o.add(
                    SECRETS,
                    Level::Warning,
                    "baseline.secrets.storage",
                    "secrets are kept in plain flash",
                );
            }
        }
    }
    for (p, e, l) in &logins {
        if l.credential == CredentialSource::HardCoded && e.state == InterfaceState::Enabled {
            o.add(
                SECRETS,
                Level::Error,
                format!("{p}.credential"),
                format!(
                    "the {} login on {:?} uses a credential written into the firmware",
                    l.mechanism_name(),
                    e.name
                ),
            );
        }
    }

    // TM013, TM014, TM015
    for (i, e) in m.entry_points.iter().enumerate() {
        let enabled = e.state == InterfaceState::Enabled;
        if enabled && networked(e.exposure) && e.allows_configuration_change && e.logins.is_empty()
        {
            o.add(
                AUTHENTICATED_CONFIGURATION,
                Level::Error,
                format!("entry_points[{i}].logins"),
                format!(
                    "{:?} changes security-relevant configuration without authentication",
                    e.name
                ),
            );
        }
        if enabled && !e.used {
            o.add(
                UNUSED_INTERFACES,
                Level::Error,
                format!("entry_points[{i}].state"),
                format!("{:?} is not needed but enabled", e.name),
            );
        }
        if enabled && e.kind == EntryPointKind::PhysicalDebug {
            o.add(
                DEBUG_INTERFACES,
                Level::Error,
                format!("entry_points[{i}].state"),
                format!("debug interface {:?} is enabled", e.name),
            );
        }
    }

    // TM016
    for (i, s) in b.external_sensing.iter().enumerate() {
        if s.documented_at.is_none() {
            o.add(
                EXTERNAL_SENSING,
                Level::Warning,
                format!("baseline.external_sensing[{i}]"),
                format!("the {} is not documented for users", s.kind.plain()),
            );
        }
    }
    if matches!(
        m.identity.device_class,
        Some(DeviceClass::Camera | DeviceClass::Doorbell)
    ) && !b
        .external_sensing
        .iter()
        .any(|s| s.kind == SensingKind::Camera)
    {
        o.add(
            EXTERNAL_SENSING,
            Level::Warning,
            "baseline.external_sensing",
            "a camera or doorbell that declares no camera among its external sensing capabilities",
        );
    }

    // TM017
    match &b.data_deletion {
        None => o.add(
            DATA_DELETION,
            Level::Error,
            "baseline.data_deletion",
            "does not say how users erase their data",
        ),
        Some(d) => {
            if !d.factory_reset_erases_user_data {
                o.add(
                    DATA_DELETION,
                    Level::Error,
                    "baseline.data_deletion.factory_reset_erases_user_data",
                    "a factory reset leaves user data on the device",
                );
            }
            let has_cloud = m
                .entry_points
                .iter()
                .any(|e| e.kind == EntryPointKind::CloudApi);
            if has_cloud && d.cloud_data.is_none() {
                o.add(
                    DATA_DELETION,
                    Level::Warning,
                    "baseline.data_deletion.cloud_data", "the device has a cloud service but the model does not say how cloud data is deleted",
                );
            }
        }
    }

    // TM018
    for (i, d) in b.user_decisions.iter().enumerate() {
        if !d.secure_default {
            o.add(
                USER_DECISIONS,
                Level::Error,
                format!("baseline.user_decisions[{i}].secure_default"),
                format!(
                    "{:?} ships as {:?}; the user has to change it to be safe",
                    d.setting, d.default
                ),
            );
        }
    }

    // TM019
    match m.network.port_mapping {
        None => o.add(
            PORT_MAPPING,
            Level::Warning,
            "network.port_mapping",
            "does not say whether the device opens ports on the router",
        ),
        Some(PortMapping::OnByDefault) => o.add(
            PORT_MAPPING,
            Level::Error,
            "network.port_mapping",
            "the device opens ports on the router by itself (UPnP/NAT-PMP/PCP) as shipped",
        ),
        Some(PortMapping::UserOptIn) => o.add(
            PORT_MAPPING,
            Level::Note,
            "network.port_mapping",
            "the device can open ports on the router after the user turns it on",
        ),
        Some(PortMapping::Never) => {}
    }

    // TM020
    if b.sbom.is_none() {
        o.add(
            SBOM,
            Level::Warning,
            "baseline.sbom",
            "no software bill of materials declared",
        );
    }

    // TM021
    for (i, s) in m.scope.out_of_scope.iter().enumerate() {
        if blank(&s.justification) {
            o.add(
                JUSTIFICATIONS,
                Level::Error,
                format!("scope.out_of_scope[{i}]"),
                format!("{:?} is out of scope without a justification", s.component),
            );
        }
    }
    for (i, a) in m.attackers.out_of_scope.iter().enumerate() {
        if blank(&a.justification) {
            o.add(
                JUSTIFICATIONS,
                Level::Error,
                format!("attackers.out_of_scope[{i}]"),
                format!(
                    "attacker {:?} is out of scope without a justification",
                    a.id
                ),
            );
        }
    }
    for (i, t) in m.threats.iter().enumerate() {
        match t.status {
            ThreatStatus::Accepted | ThreatStatus::Transferred | ThreatStatus::OutOfScope
                if blank(&t.justification) =>
            {
                o.add(
                    JUSTIFICATIONS,
                    Level::Error,
                    format!("threats[{i}].status"),
                    format!(
                        "threat {:?} is {} without a justification",
                        t.id,
                        status_word(t.status)
                    ),
                )
            }
            ThreatStatus::Open => o.add(
                JUSTIFICATIONS,
                Level::Warning,
                format!("threats[{i}].status"),
                format!("threat {:?} is open", t.id),
            ),
            _ => {}
        }
    }

    // TM022
    for (i, t) in m.threats.iter().enumerate() {
        if t.capec.is_empty() && t.cwe.is_empty() {
            o.add(
                THREAT_REFERENCES,
                Level::Note,
                format!("threats[{i}]"),
                format!("threat {:?} cites no CAPEC or CWE entry", t.id),
            );
        }
        if t.status == ThreatStatus::Mitigated && t.controls.is_empty() {
            o.add(
                THREAT_REFERENCES,
                Level::Warning,
                format!("threats[{i}].status"),
                format!("threat {:?} is mitigated but names no control", t.id),
            );
        }
    }

    // TM023
    if m.network.flows.is_empty() {
        o.add(
            NETWORK_BEHAVIOUR,
            Level::Warning,
            "network.flows",
            "no expected network flows: the router has nothing to enforce",
        );
    }

    // TM024
    for (i, f) in m.network.flows.iter().enumerate() {
        let Some(name) = &f.dns_name else { continue };
        let towards = if f.direction == Direction::FromDevice {
            "to"
        } else {
            "from"
        };
        match f.encrypted {
            Some(true) => {}
            Some(false) => o.add(
                ENCRYPTED_FLOWS,
                Level::Warning,
                format!("network.flows[{i}].encrypted"),
                format!("traffic {towards} {name} ({}) is not encrypted", f.purpose),
            ),
            None => o.add(
                ENCRYPTED_FLOWS,
                Level::Note,
                format!("network.flows[{i}]"),
                format!("does not say whether traffic {towards} {name} is encrypted"),
            ),
        }
    }

    // TM026
    for (i, e) in m.entry_points.iter().enumerate() {
        let reachable = matches!(
            e.exposure,
            Exposure::Internet | Exposure::LocalNetwork | Exposure::Cloud
        );
        if e.state != InterfaceState::Enabled || !reachable {
            continue;
        }
        let Some(l) = e.logins.iter().find(|l| l.mechanism.sends_secret()) else {
            continue;
        };
        match e.encrypted {
            Some(true) => {}
            Some(false) => o.add(
                CREDENTIALS_IN_TRANSIT,
                Level::Error,
                format!("entry_points[{i}].encrypted"),
                format!(
                    "the {} for {:?} crosses the network unencrypted",
                    l.mechanism_name(),
                    e.name
                ),
            ),
            None => o.add(
                CREDENTIALS_IN_TRANSIT,
                Level::Note,
                format!("entry_points[{i}].encrypted"),
                format!(
                    "does not say whether {:?} is encrypted; its {} crosses the network",
                    e.name,
                    l.mechanism_name()
                ),
            ),
        }
    }

    // TM025
    if m.identity.firmware.is_empty() {
        o.add(
            IDENTITY,
            Level::Warning,
            "identity.firmware",
            "no firmware versions with image hashes",
        );
    }
    if m.identity.cpe.is_none() && m.identity.purl.is_none() {
        o.add(IDENTITY, Level::Note, "identity.cpe", "no CPE name or purl");
    }
    if m.identity.mud_url.is_none() {
        o.add(IDENTITY, Level::Note, "identity.mud_url", "no MUD URL");
    }

    let mut findings = o.findings;
    findings.sort_by(|a, b| {
        a.level
            .cmp(&b.level)
            .then(a.rule.cmp(b.rule))
            .then(a.line.cmp(&b.line))
    });
    findings
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn status_word(s: ThreatStatus) -> &'static str {
    match s {
        ThreatStatus::Mitigated => "mitigated",
        ThreatStatus::Accepted => "accepted",
        ThreatStatus::Transferred => "transferred",
        ThreatStatus::OutOfScope => "out of scope",
        ThreatStatus::Open => "open",
    }
}

/// Algorithms that are not best practice for signing updates.
fn is_weak_algorithm(a: &str) -> bool {
    let a = a.to_ascii_lowercase();
    [
        "md5", "sha1", "sha-1", "crc", "rsa-1024", "rsa1024", "dsa-1024",
    ]
    .iter()
    .any(|w| a.contains(w))
}

impl crate::model::Login {
    fn mechanism_name(&self) -> &'static str {
        match self.mechanism {
            crate::model::LoginMechanism::Password => "password",
            crate::model::LoginMechanism::Pin => "PIN",
            crate::model::LoginMechanism::PairingCode => "pairing code",
            crate::model::LoginMechanism::Key => "key",
            crate::model::LoginMechanism::Certificate => "certificate",
            crate::model::LoginMechanism::Token => "token",
            crate::model::LoginMechanism::CloudAccount => "cloud account",
        }
    }
}

/// Counts by level: (errors, warnings, notes).
pub fn counts(findings: &[Finding]) -> (usize, usize, usize) {
    findings
        .iter()
        .fold((0, 0, 0), |(e, w, n), f| match f.level {
            Level::Error => (e + 1, w, n),
            Level::Warning => (e, w + 1, n),
            Level::Note => (e, w, n + 1),
        })
}
