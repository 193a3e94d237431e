//! The consumer page (self-contained HTML) and the compact label (SVG).
//!
//! Written for someone deciding whether to buy or keep a device, not for a
//! security engineer: what it protects against and what not, until when it is
//! fixed, how to report a problem, what it talks to, and what the lint found.
//! Every string from the model is escaped; links are made only from `https:`
//! and `mailto:` URLs. The page loads nothing (a Content-Security-Policy of
//! `default-src 'none'` says so to the browser too) and has no script.

use std::fmt::Write as _;

use crate::lint::{counts, rule, Finding, Level};
use crate::model::{
    CredentialSource, DefaultCredentials, Direction, EntryPointKind, InterfaceState,
    LoginMechanism, PortMapping, Protocol, SensingKind, ThreatModel, ThreatStatus, UpdateMechanism,
};

/// Escapes text for HTML and XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab and newline are not allowed in XML 1.0.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A contact a reporter can use: a `mailto:` address or an `https:` page.
fn is_contact(c: &str) -> bool {
    let c = c.trim();
    (c.starts_with("mailto:") && c.len() > 7 && c.contains('@'))
        || (c.starts_with("https://") && c.len() > 8)
}

/// A link if the URL is `https:` or `mailto:` (never `javascript:`, `data:`, ...),
/// otherwise the escaped text.
fn link(url: &str, text: &str) -> String {
    let u = url.trim();
    let safe = (u.starts_with("https://") || u.starts_with("mailto:"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if safe {
        format!("<a href=\"{}\">{}</a>", escape(u), escape(text))
    } else {
        escape(text)
    }
}

fn long_date(d: time::Date) -> String {
    format!("{} {} {}", d.day(), d.month(), d.year())
}

const CSS: &str = r#"
:root{--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--ok:#1a7f37;--okbg:#dafbe1;--warn:#9a6700;--warnbg:#fff8c5;--bad:#cf222e;--badbg:#ffebe9}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f6f8fa;color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:46rem;margin:0 auto;padding:1rem}
section,header{background:var(--bg);border:1px solid var(--line);border-radius:.75rem;padding:1rem 1.1rem;margin:0 0 1rem}
h1{font-size:1.6rem;line-height:1.2;margin:.2rem 0 .4rem}
h2{font-size:1.15rem;margin:0 0 .5rem}
p{margin:.3rem 0}
ul{margin:.3rem 0;padding-left:1.2rem}
li{margin:.25rem 0}
.kicker{text-transform:uppercase;letter-spacing:.08em;font-size:.75rem;color:var(--muted);margin:0}
.meta{color:var(--muted);font-size:.9rem}
.why{color:var(--muted);font-size:.92rem}
.verdict{border-width:2px}
.verdict.ok{border-color:var(--ok);background:var(--okbg)}
.verdict.warn{border-color:var(--warn);background:var(--warnbg)}
.verdict.bad{border-color:var(--bad);background:var(--badbg)}
.big{font-size:1.2rem;font-weight:600}
.tag{display:inline-block;border-radius:1rem;padding:0 .5rem;font-size:.8rem;font-weight:600;margin-right:.3rem}
.tag.error{background:var(--badbg);color:var(--bad)}
.tag.warning{background:var(--warnbg);color:var(--warn)}
.tag.note{background:#ddf4ff;color:#0969da}
.good{color:var(--ok);font-weight:600}
.poor{color:var(--bad);font-weight:600}
.prov{color:var(--muted);font-size:.85rem}
a{color:#0969da}
body,main,section,header,li,p,td{overflow-wrap:anywhere;word-break:normal}
article.test{border-top:1px solid var(--line);padding:.5rem 0 0;margin:.5rem 0 0}
article.test:first-of-type{border-top:0;margin-top:0;padding-top:0}
footer{color:var(--muted);font-size:.85rem;padding:0 .2rem 2rem}
"#;

/// What the consumer page shows of one security test report (built by
/// `warden_report::view`; this crate cannot depend on that one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestReportView {
    pub tester: String,
    pub organisation: Option<String>,
    /// YYYY-MM-DD.
    pub date: String,
    /// The firmware version tested.
    pub firmware: String,
    /// `black-box`, `grey-box` or `white-box`.
    pub access: String,
    pub physical_access: bool,
    /// Key id of the verified signer; `None`: an unsigned report.
    pub signed_by: Option<String>,
    /// The name the page's maker gave that pinned key (`--signer NAME:KEY`).
    pub signer_name: Option<String>,
    /// The report is scoped against another version of this model.
    pub model_changed: bool,
    /// Names of threats and entry points tested with nothing found.
    pub tested_clean: Vec<String>,
    /// Names of threats and entry points not tested.
    pub not_tested: Vec<String>,
    pub findings: Vec<ViewFinding>,
    pub threats_tested: usize,
    pub threats_total: usize,
    pub entry_points_tested: usize,
    pub entry_points_total: usize,
}

/// One finding of a test report, as the consumer page shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewFinding {
    pub title: String,
    /// `none`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    pub cve: Option<String>,
    /// Why it is outside the maker's declared scope, if it is.
    pub out_of_scope: Option<String>,
}

/// The consumer page.
pub fn html(model: &ThreatModel, findings: &[Finding], today: time::Date) -> String {
    html_with_reports(model, findings, today, &[])
}

/// The "Independent security tests" section: every report, negative and
/// positive alike, with who signed it.
fn tests_section(h: &mut String, reports: &[TestReportView]) {
    h.push_str("<section id=\"tests\">\n<h2>Independent security tests</h2>\n");
    if reports.is_empty() {
        h.push_str("<p>No test reports were given for this page.</p>\n</section>\n");
        return;
    }
    for r in reports {
        let who = match &r.organisation {
            Some(o) => format!("{} ({})", escape(&r.tester), escape(o)),
            None => escape(&r.tester),
        };
        let _ = write!(
            h,
            "<article class=\"test\">\n<p class=\"big\">{who}, {}</p>\n<p class=\"meta\">Firmware {} · {} test, {} · ",
            escape(&r.date),
            escape(&r.firmware),
            escape(&r.access),
            if r.physical_access { "device opened and probed" } else { "no physical access" }
        );
        match &r.signed_by {
            Some(k) => {
                let short: String = k.chars().take(16).collect();
                let by = match &r.signer_name {
                    Some(n) => format!("{} (key {})", escape(n), escape(&short)),
                    None => format!("key {}", escape(&short)),
                };
                let _ = write!(h, "<span class=\"good\">signed</span> by {by}");
            }
            None => h.push_str("<span class=\"poor\">unsigned</span>"),
        }
        h.push_str("</p>\n");
        if r.model_changed {
            h.push_str(
                "<p class=\"why\">Tested against an earlier version of this threat model.</p>\n",
            );
        }
        let _ = writeln!(
            h,
            "<p>Tested {} of {} threats and {} of {} ways into the device.</p>",
            r.threats_tested, r.threats_total, r.entry_points_tested, r.entry_points_total
        );
        if r.findings.is_empty() {
            h.push_str("<p><span class=\"good\">Nothing found.</span></p>\n");
        } else {
            h.push_str("<ul>\n");
            for f in &r.findings {
                let class = match f.severity.as_str() {
                    "critical" | "high" => "error",
                    "medium" => "warning",
                    _ => "note",
                };
                let _ = write!(
                    h,
                    "<li><span class=\"tag {class}\">{}</span>{}",
                    escape(&f.severity),
                    escape(&f.title)
                );
                if let Some(c) = &f.cve {
                    let _ = write!(h, " <span class=\"prov\">{}</span>", escape(c));
                }
                if let Some(o) = &f.out_of_scope {
                    let _ = write!(
                        h,
                        " <span class=\"why\">(outside what the maker declared in scope: {})</span>",
                        escape(o)
                    );
                }
                h.push_str("</li>\n");
            }
            h.push_str("</ul>\n");
        }
        if !r.tested_clean.is_empty() {
            let names: Vec<String> = r.tested_clean.iter().map(|n| escape(n)).collect();
            let _ = writeln!(h, "<p>Tested, nothing found: {}.</p>", names.join("; "));
        }
        if !r.not_tested.is_empty() {
            let names: Vec<String> = r.not_tested.iter().map(|n| escape(n)).collect();
            let _ = writeln!(h, "<p class=\"why\">Not tested: {}.</p>", names.join("; "));
        }
        h.push_str("</article>\n");
    }
    h.push_str("</section>\n");
}

/// The consumer page with the test reports given for the model.
pub fn html_with_reports(
    model: &ThreatModel,
    findings: &[Finding],
    today: time::Date,
    reports: &[TestReportView],
) -> String {
    let m = model;
    let id = &m.identity;
    let name = format!("{} {}", id.vendor, id.model);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>{} — security facts</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(&name)
    );

    // Header: what the device is.
    let _ = write!(
        h,
        "<header id=\"device\">\n<p class=\"kicker\">Security facts</p>\n<h1>{}</h1>\n",
        escape(&name)
    );
    if let Some(s) = &id.summary {
        let _ = writeln!(h, "<p>{}</p>", escape(s));
    }
    let mut meta = Vec::new();
    if let Some(hw) = &id.hardware_revision {
        meta.push(format!("Hardware revision {}", escape(hw)));
    }
    if !id.firmware.is_empty() {
        let versions: Vec<String> = id.firmware.iter().map(|f| escape(&f.version)).collect();
        meta.push(format!("Firmware {}", versions.join(", ")));
    }
    if !meta.is_empty() {
        let _ = writeln!(h, "<p class=\"meta\">{}</p>", meta.join(" · "));
    }
    h.push_str("</header>\n");

    // Verdict from the lint.
    let (errors, warnings, notes) = counts(findings);
    let (class, headline) = if errors > 0 {
        (
            "bad",
            format!(
                "{errors} serious problem{} found",
                if errors == 1 { "" } else { "s" }
            ),
        )
    } else if warnings > 0 {
        (
            "warn",
            format!(
                "No serious problems; {warnings} thing{} to know",
                if warnings == 1 { "" } else { "s" }
            ),
        )
    } else {
        (
            "ok",
            "Meets the baseline requirements warden checks".to_string(),
        )
    };
    let _ = write!(
        h,
        "<section id=\"verdict\" class=\"verdict {class}\">\n<p class=\"big\">{headline}</p>\n\
         <p>Checked against the consumer IoT baseline (ETSI EN 303 645, UK PSTI, EU Cyber Resilience Act, NIST IR 8259A): \
         {errors} serious, {warnings} to know, {notes} minor. Details at the end of this page.</p>\n</section>\n"
    );

    // Updates.
    h.push_str("<section id=\"updates\">\n<h2>Updates</h2>\n<ul>\n");
    match &m.baseline.support {
        Some(s) if s.security_updates_until.0 >= today => {
            let _ = writeln!(
                h,
                "<li><span class=\"good\">Security updates until {}.</span>{}</li>",
                long_date(s.security_updates_until.0),
                s.published_at.as_deref().map(|u| format!(" ({})", link(u, "published here"))).unwrap_or_default()
            );
        }
        Some(s) => {
            let _ = writeln!(
                h,
                "<li><span class=\"poor\">Security updates ended on {}.</span> Known problems found since then will not be fixed.</li>",
                long_date(s.security_updates_until.0)
            );
        }
        None => h.push_str("<li><span class=\"poor\">The maker does not say until when it will fix security problems.</span></li>\n"),
    }
    match &m.baseline.updates {
        None => h.push_str("<li><span class=\"poor\">The maker does not say how the device gets updates.</span></li>\n"),
        Some(u) => {
            let how = match (u.mechanism, u.automatic_by_default) {
                (UpdateMechanism::None, _) => "<span class=\"poor\">Its software cannot be updated.</span>".to_string(),
                (UpdateMechanism::PhysicalOnly, _) => {
                    "<span class=\"poor\">Updates need a cable, memory card or a service visit.</span>".to_string()
                }
                (_, true) => format!(
                    "<span class=\"good\">Installs security updates by itself</span>{}.",
                    if u.user_can_postpone == Some(true) { "; you can postpone one" } else { "" }
                ),
                (_, false) => {
                    "<span class=\"poor\">Does not update by itself: you have to install every update.</span>".to_string()
                }
            };
            let _ = writeln!(h, "<li>{how}</li>");
            if u.mechanism != UpdateMechanism::None {
                let _ = writeln!(
                    h,
                    "<li>{}</li>",
                    if u.signed && u.verified_on_device {
                        "<span class=\"good\">Only installs updates signed by the maker.</span>"
                    } else {
                        "<span class=\"poor\">Would install an update that does not come from the maker.</span>"
                    }
                );
                if !u.anti_rollback {
                    h.push_str("<li>Can be put back on older firmware with known holes.</li>\n");
                }
            }
        }
    }
    h.push_str("</ul>\n</section>\n");

    // Reporting a problem.
    h.push_str("<section id=\"report\">\n<h2>Found a security problem?</h2>\n");
    match &m.baseline.vulnerability_disclosure {
        Some(d) => {
            let shown = d.contact.trim().strip_prefix("mailto:").unwrap_or(d.contact.trim());
            if is_contact(&d.contact) {
                let _ = writeln!(h, "<p>Report it to {}.</p>", link(&d.contact, shown));
            } else {
                let _ = writeln!(
                    h,
                    "<p><span class=\"poor\">No address to write to.</span> The maker only says: “{}”.</p>",
                    escape(shown)
                );
            }
            if let (Some(a), Some(s)) = (d.acknowledgement_days, d.status_update_days) {
                let _ = writeln!(
                    h,
                    "<p>The maker promises to answer within {a} day{} and to send news every {s} day{} until it is fixed.</p>",
                    if a == 1 { "" } else { "s" },
                    if s == 1 { "" } else { "s" }
                );
            }
            if let Some(p) = &d.policy_url {
                let _ = writeln!(h, "<p>{}</p>", link(p, "The maker's disclosure policy"));
            }
        }
        None => h.push_str("<p><span class=\"poor\">The maker gives no way to report security problems.</span></p>\n"),
    }
    h.push_str("</section>\n");

    // What it protects against, and what not.
    let protects: Vec<_> = m
        .threats
        .iter()
        .filter(|t| t.status == ThreatStatus::Mitigated)
        .collect();
    let not: Vec<_> = m
        .threats
        .iter()
        .filter(|t| t.status != ThreatStatus::Mitigated)
        .collect();
    h.push_str("<section id=\"protects\">\n<h2>What it protects against</h2>\n");
    if protects.is_empty() {
        h.push_str("<p>The maker claims no protections.</p>\n");
    } else {
        h.push_str("<ul>\n");
        for t in &protects {
            let _ = writeln!(h, "<li>{}</li>", escape(&t.title));
        }
        h.push_str("</ul>\n");
    }
    h.push_str(
        "</section>\n<section id=\"not-protected\">\n<h2>What it does not protect against</h2>\n",
    );
    if not.is_empty() && m.attackers.out_of_scope.is_empty() {
        h.push_str("<p>The maker lists nothing it leaves unprotected.</p>\n");
    } else {
        h.push_str("<ul>\n");
        for t in &not {
            let state = match t.status {
                ThreatStatus::Open => "not dealt with yet",
                ThreatStatus::Accepted => "risk accepted by the maker",
                ThreatStatus::Transferred => "left to someone else",
                ThreatStatus::OutOfScope => "not considered",
                ThreatStatus::Mitigated => "",
            };
            let _ = write!(h, "<li>{} <span class=\"why\">({state})", escape(&t.title));
            if let Some(j) = &t.justification {
                let _ = write!(h, ": {}", escape(j));
            }
            h.push_str("</span></li>\n");
        }
        for a in &m.attackers.out_of_scope {
            let _ = write!(
                h,
                "<li>Attacks by {} <span class=\"why\">(not considered",
                escape(&a.description)
            );
            if let Some(j) = &a.justification {
                let _ = write!(h, ": {}", escape(j));
            }
            h.push_str(")</span></li>\n");
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");

    // Logins.
    h.push_str("<section id=\"logins\">\n<h2>Passwords and logins</h2>\n<ul>\n");
    let mut any_login = false;
    for e in m
        .entry_points
        .iter()
        .filter(|e| e.state == InterfaceState::Enabled)
    {
        for l in &e.logins {
            any_login = true;
            let what = match l.mechanism {
                LoginMechanism::Password => "password",
                LoginMechanism::Pin => "PIN",
                LoginMechanism::PairingCode => "pairing code",
                LoginMechanism::Key => "key",
                LoginMechanism::Certificate => "certificate",
                LoginMechanism::Token => "access token",
                LoginMechanism::CloudAccount => "account",
            };
            let bad = matches!(
                l.credential,
                CredentialSource::SharedDefault
                    | CredentialSource::DerivedFromPublicIdentifier
                    | CredentialSource::IncrementalCounter
                    | CredentialSource::HardCoded
            );
            let _ = writeln!(
                h,
                "<li>{}: {what} {}<span class=\"{}\">{}</span>.</li>",
                escape(&e.name),
                l.user
                    .as_deref()
                    .map(|u| format!("for user “{}” ", escape(u)))
                    .unwrap_or_default(),
                if bad { "poor" } else { "good" },
                l.credential.plain()
            );
        }
        if e.logins.is_empty()
            && e.allows_configuration_change
            && !matches!(
                e.kind,
                EntryPointKind::PhysicalButton | EntryPointKind::PhysicalPort
            )
        {
            any_login = true;
            let _ = writeln!(h, "<li>{}: <span class=\"poor\">anyone who can reach it can change settings</span>.</li>", escape(&e.name));
        }
    }
    if !any_login {
        h.push_str("<li>No logins are listed.</li>\n");
    }
    match m.baseline.default_credentials {
        Some(DefaultCredentials::SharedDefault) => {
            h.push_str("<li><span class=\"poor\">It ships with the same password as every other device of its kind.</span></li>\n")
        }
        Some(DefaultCredentials::UniquePerDevice) => h.push_str("<li>Each device comes with its own password.</li>\n"),
        Some(DefaultCredentials::UserDefinedAtSetup) => h.push_str("<li>You choose the password when you set it up.</li>\n"),
        Some(DefaultCredentials::NoPasswords) => h.push_str("<li>It has no passwords to leak.</li>\n"),
        None => {}
    }
    for e in m
        .entry_points
        .iter()
        .filter(|e| e.kind == EntryPointKind::PhysicalDebug)
    {
        let _ = writeln!(
            h,
            "<li>{}: {}</li>",
            escape(&e.name),
            if e.state == InterfaceState::Enabled {
                "<span class=\"poor\">open to anyone who opens the case</span>"
            } else {
                "<span class=\"good\">switched off</span>"
            }
        );
    }
    h.push_str("</ul>\n</section>\n");

    // Sensing and data.
    let sensing: Vec<&str> = m
        .baseline
        .external_sensing
        .iter()
        .map(|s| match s.kind {
            SensingKind::Camera => "a camera",
            SensingKind::Microphone => "a microphone",
            SensingKind::Motion => "a motion sensor",
            SensingKind::Presence => "presence detection",
            SensingKind::Location => "location",
            SensingKind::Energy => "energy metering",
            SensingKind::Temperature => "a temperature sensor",
            SensingKind::Other => "other sensors",
        })
        .collect();
    h.push_str("<section id=\"data\">\n<h2>What it senses and how to erase it</h2>\n<ul>\n");
    if !sensing.is_empty() {
        let _ = writeln!(h, "<li>It has {}.</li>", sensing.join(", "));
    }
    match &m.baseline.data_deletion {
        Some(d) if d.factory_reset_erases_user_data => h.push_str("<li><span class=\"good\">A factory reset erases your data from the device.</span></li>\n"),
        Some(_) => h.push_str("<li><span class=\"poor\">A factory reset leaves your data on the device.</span> Think before selling or discarding it.</li>\n"),
        None => h.push_str("<li>The maker does not say how to erase your data.</li>\n"),
    }
    if let Some(c) = m
        .baseline
        .data_deletion
        .as_ref()
        .and_then(|d| d.cloud_data.as_ref())
    {
        let _ = writeln!(h, "<li>Cloud data: {}</li>", escape(c));
    }
    for d in &m.baseline.user_decisions {
        let _ = writeln!(
            h,
            "<li>Setting “{}” ({}) is “{}” when shipped{}</li>",
            escape(&d.setting),
            escape(&d.description),
            escape(&d.default),
            if d.secure_default {
                " — the safe choice."
            } else {
                " — <span class=\"poor\">change it to be safe</span>."
            }
        );
    }
    h.push_str("</ul>\n</section>\n");

    // Network.
    h.push_str("<section id=\"network\">\n<h2>What it talks to on the network</h2>\n");
    if m.network.flows.is_empty() {
        h.push_str("<p>The maker does not say. Your router cannot tell normal from abnormal traffic for it.</p>\n");
    } else {
        h.push_str("<ul>\n");
        for f in &m.network.flows {
            let peer = match (&f.dns_name, f.class) {
                (Some(n), _) => escape(n),
                (None, Some(c)) => c.plain().to_string(),
                (None, None) => "?".into(),
            };
            let proto = match f.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Icmp | Protocol::Icmpv6 => "ICMP",
                Protocol::Any => "any protocol",
            };
            let port = f.port.map(|p| format!(" port {p}")).unwrap_or_default();
            let enc = match f.encrypted {
                Some(true) => ", encrypted",
                Some(false) => ", <span class=\"poor\">not encrypted</span>",
                None => "",
            };
            let sentence = match f.direction {
                Direction::FromDevice => format!("Connects to <b>{peer}</b> ({proto}{port}{enc})"),
                Direction::ToDevice => {
                    format!("Accepts connections from <b>{peer}</b> ({proto}{port}{enc})")
                }
            };
            let _ = writeln!(h, "<li>{sentence}: {}</li>", escape(&f.purpose));
        }
        h.push_str("</ul>\n<p class=\"why\">Anything else it sends is not part of its declared behaviour; warden can block it.</p>\n");
    }
    match m.network.port_mapping {
        Some(PortMapping::OnByDefault) => h.push_str(
            "<p><span class=\"poor\">It opens ports on your router by itself (UPnP), which exposes it to the whole internet.</span></p>\n",
        ),
        Some(PortMapping::UserOptIn) => h.push_str("<p>It can open ports on your router, only if you turn that on.</p>\n"),
        Some(PortMapping::Never) => h.push_str("<p><span class=\"good\">It never opens ports on your router.</span></p>\n"),
        None => {}
    }
    h.push_str("</section>\n");

    // Lint.
    h.push_str("<section id=\"lint\">\n<h2>Checked against baseline requirements</h2>\n");
    if findings.is_empty() {
        h.push_str("<p class=\"good\">No findings.</p>\n");
    } else {
        h.push_str("<ul>\n");
        for f in findings {
            let r = rule(f.rule).expect("findings name known rules");
            let label = match f.level {
                Level::Error => "serious",
                Level::Warning => "to know",
                Level::Note => "minor",
            };
            let _ = write!(
                h,
                "<li><span class=\"tag {}\">{label}</span>{}",
                f.level.as_str(),
                escape(&f.message)
            );
            let _ = write!(h, " <span class=\"prov\">{} {}", r.id, r.name);
            if !r.provisions.is_empty() {
                let _ = write!(h, " — {}", escape(&r.provisions.join("; ")));
            }
            h.push_str("</span></li>\n");
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n");

    tests_section(&mut h, reports);

    let _ = write!(
        h,
        "<footer>Made by warden from the maker's threat model (format version {}). The maker's claims are shown as made; \
         warden checks them for consistency with baseline requirements, not by testing the device.</footer>\n</main>\n</body>\n</html>\n",
        m.format_version
    );
    h
}

/// Shortens to `max` characters with an ellipsis (labels have fixed width).
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The compact label: a card of six facts, 360 px wide.
pub fn svg(model: &ThreatModel, findings: &[Finding], today: time::Date) -> String {
    let m = model;
    let (errors, warnings, _) = counts(findings);
    let title = clip(&format!("{} {}", m.identity.vendor, m.identity.model), 30);
    let support = match &m.baseline.support {
        Some(s) if s.security_updates_until.0 >= today => {
            (format!("until {}", s.security_updates_until), true)
        }
        Some(s) => (format!("ended {}", s.security_updates_until), false),
        None => ("no end date given".into(), false),
    };
    let auto = match &m.baseline.updates {
        Some(u) if u.mechanism != UpdateMechanism::None && u.automatic_by_default => {
            ("on by default".to_string(), true)
        }
        Some(u) if u.mechanism == UpdateMechanism::None => ("cannot be updated".into(), false),
        Some(_) => ("off: you must install them".into(), false),
        None => ("not stated".into(), false),
    };
    let shared = m
        .entry_points
        .iter()
        .flat_map(|e| e.logins.iter())
        .any(|l| {
            l.mechanism.is_password_like()
                && matches!(l.credential, CredentialSource::SharedDefault)
        })
        || m.baseline.default_credentials == Some(DefaultCredentials::SharedDefault);
    let password = if shared {
        ("same on every device".to_string(), false)
    } else if m.baseline.default_credentials.is_some() {
        ("no shared default".to_string(), true)
    } else {
        ("not stated".to_string(), false)
    };
    let report = match &m.baseline.vulnerability_disclosure {
        Some(d) => (
            clip(
                d.contact
                    .trim()
                    .strip_prefix("mailto:")
                    .unwrap_or(d.contact.trim()),
                34,
            ),
            is_contact(&d.contact),
        ),
        None => ("no contact".into(), false),
    };
    let internet = m
        .network
        .flows
        .iter()
        .filter(|f| f.dns_name.is_some())
        .count();
    let network = if m.network.flows.is_empty() {
        ("not declared".to_string(), false)
    } else if m.network.port_mapping == Some(PortMapping::OnByDefault) {
        ("opens router ports".to_string(), false)
    } else {
        (
            format!(
                "{internet} internet service{}",
                if internet == 1 { "" } else { "s" }
            ),
            true,
        )
    };
    let lint = (format!("{errors} serious, {warnings} to know"), errors == 0);
    let rows = [
        ("Security updates", support),
        ("Automatic updates", auto),
        ("Default password", password),
        ("Report problems", report),
        ("Network", network),
        ("Baseline check", lint),
    ];
    let height = 64 + rows.len() * 30 + 16;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"360\" height=\"{height}\" viewBox=\"0 0 360 {height}\" role=\"img\" aria-label=\"Security label: {}\">\n\
         <rect x=\"1\" y=\"1\" width=\"358\" height=\"{}\" rx=\"10\" fill=\"#fff\" stroke=\"#1b1f24\" stroke-width=\"2\"/>\n\
         <text x=\"16\" y=\"26\" font-family=\"system-ui,sans-serif\" font-size=\"11\" fill=\"#57606a\" letter-spacing=\"1\">SECURITY FACTS</text>\n\
         <text x=\"16\" y=\"50\" font-family=\"system-ui,sans-serif\" font-size=\"18\" font-weight=\"700\" fill=\"#1b1f24\">{}</text>\n\
         <line x1=\"16\" y1=\"62\" x2=\"344\" y2=\"62\" stroke=\"#1b1f24\" stroke-width=\"3\"/>\n",
        escape(&title),
        height - 2,
        escape(&title)
    );
    for (i, (label, (value, good))) in rows.iter().enumerate() {
        let y = 64 + i * 30 + 20;
        let colour = if *good { "#1a7f37" } else { "#cf222e" };
        // Long values (a contact address) are squeezed into the space right of the label.
        let squeeze = if value.chars().count() > 24 {
            " textLength=\"200\" lengthAdjust=\"spacingAndGlyphs\""
        } else {
            ""
        };
        let _ = write!(
            s,
            "<text x=\"16\" y=\"{y}\" font-family=\"system-ui,sans-serif\" font-size=\"13\" fill=\"#1b1f24\">{}</text>\n\
             <text x=\"344\" y=\"{y}\" text-anchor=\"end\" font-family=\"system-ui,sans-serif\" font-size=\"13\" font-weight=\"600\" fill=\"{colour}\"{squeeze}>{}</text>\n\
             <line x1=\"16\" y1=\"{}\" x2=\"344\" y2=\"{}\" stroke=\"#d0d7de\"/>\n",
            escape(label),
            escape(value),
            y + 9,
            y + 9
        );
    }
    s.push_str("</svg>\n");
    s
}
