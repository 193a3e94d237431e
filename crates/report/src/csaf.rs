//! CSAF 2.0 (OASIS Common Security Advisory Framework): a report as a VEX
//! document (profile 5, `csaf_vex`), and a CSAF advisory's vulnerabilities
//! read into a report.
//!
//! The mapping (docs/test-reports.md): the product tree has one product, the
//! tested firmware of the device (with the image hash when given). Each
//! finding is a vulnerability `known_affected` by it, with an action
//! statement (`none_available`: the tester knows no fix) as the profile
//! requires. A `no-finding` result becomes `known_not_affected` only where it
//! names something a VEX consumer can match: a CVE it checked for, or a CWE
//! of the model's threat; the impact statement is the tester's own
//! `vex_justification` flag if given, and always a human-readable `impact`
//! threat saying what was tried. `not-tested` results are not VEX statements
//! and are left out (the document's notes give the coverage).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use warden_model::model::ThreatModel;

use crate::check::Checked;
use crate::format::{Access, CveId, Finding, Outcome, Report, Severity, Target};

/// Largest CSAF document [`import_csaf`] reads. Real advisories run to
/// megabytes (Cisco's list hundreds of product versions); 32 MiB is room
/// for the biggest while keeping a hostile file bounded.
pub const MAX_CSAF_BYTES: usize = 32 << 20;
/// At most this many vulnerabilities are imported from one advisory.
pub const MAX_CSAF_VULNERABILITIES: usize = 10_000;

const PRODUCT_ID: &str = "WARDEN-DUT-1";

/// Official names of the CWEs IoT test reports use most (CSAF requires the
/// name with the id, and its mandatory test 6.1.11 checks it against the
/// catalogue). A CWE not listed here is stated in the notes instead.
const CWE_NAMES: &[(&str, &str)] = &[
    ("CWE-20", "Improper Input Validation"),
    ("CWE-22", "Improper Limitation of a Pathname to a Restricted Directory ('Path Traversal')"),
    ("CWE-78", "Improper Neutralization of Special Elements used in an OS Command ('OS Command Injection')"),
    ("CWE-79", "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"),
    ("CWE-120", "Buffer Copy without Checking Size of Input ('Classic Buffer Overflow')"),
    ("CWE-121", "Stack-based Buffer Overflow"),
    ("CWE-200", "Exposure of Sensitive Information to an Unauthorized Actor"),
    ("CWE-250", "Execution with Unnecessary Privileges"),
    ("CWE-259", "Use of Hard-coded Password"),
    ("CWE-284", "Improper Access Control"),
    ("CWE-287", "Improper Authentication"),
    ("CWE-295", "Improper Certificate Validation"),
    ("CWE-306", "Missing Authentication for Critical Function"),
    ("CWE-307", "Improper Restriction of Excessive Authentication Attempts"),
    ("CWE-311", "Missing Encryption of Sensitive Data"),
    ("CWE-319", "Cleartext Transmission of Sensitive Information"),
    ("CWE-321", "Use of Hard-coded Cryptographic Key"),
    ("CWE-327", "Use of a Broken or Risky Cryptographic Algorithm"),
    ("CWE-352", "Cross-Site Request Forgery (CSRF)"),
    ("CWE-400", "Uncontrolled Resource Consumption"),
    ("CWE-494", "Download of Code Without Integrity Check"),
    ("CWE-521", "Weak Password Requirements"),
    ("CWE-522", "Insufficiently Protected Credentials"),
    ("CWE-787", "Out-of-bounds Write"),
    ("CWE-798", "Use of Hard-coded Credentials"),
    ("CWE-862", "Missing Authorization"),
    ("CWE-912", "Hidden Functionality"),
    ("CWE-1188", "Initialization of a Resource with an Insecure Default"),
    ("CWE-1191", "On-Chip Debug and Test Interface With Improper Access Control"),
    ("CWE-1328", "Security Version Number Mutable to Older Versions"),
    ("CWE-1392", "Use of Default Credentials"),
    ("CWE-1393", "Use of Default Password"),
];

/// The official name of a CWE, if warden knows it.
pub fn cwe_name(id: &str) -> Option<&'static str> {
    CWE_NAMES.iter().find(|(i, _)| *i == id).map(|(_, n)| *n)
}

fn datetime(report: &Report) -> String {
    format!("{}T00:00:00.000Z", report.date)
}

fn publisher_namespace(report: &Report) -> String {
    let t = &report.tester;
    if let Some(u) = t.url.as_deref().filter(|u| u.starts_with("https://")) {
        return u.to_string();
    }
    // mailto:someone@lab.example -> https://lab.example
    if let Some(domain) = t
        .contact
        .strip_prefix("mailto:")
        .and_then(|m| m.rsplit_once('@'))
        .map(|(_, d)| d.trim())
        .filter(|d| {
            !d.is_empty()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        })
    {
        return format!("https://{domain}");
    }
    if t.contact.starts_with("https://") {
        return t.contact.clone();
    }
    "https://tester.invalid".into()
}

fn note(category: &str, title: &str, text: &str) -> Value {
    json!({"category": category, "title": title, "text": text})
}

/// A report with nothing a VEX document can state: no finding, and no
/// `no-finding` result naming a CVE (or, with the model, a threat with a
/// CWE). CSAF requires at least one vulnerability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nothing to state in CSAF VEX: the report has no finding and no no-finding result that names a CVE (cves_checked){}", if *.with_model { "" } else { " or, with --model, a threat with a CWE" })]
pub struct NoVexStatements {
    /// Whether the model was given (its threats' CWEs were looked at).
    pub with_model: bool,
}

/// The report as a CSAF 2.0 VEX document. With the check against the model
/// (`against`), findings carry their declared-scope mark and `no-finding`
/// results on threats name the threats' CWEs.
pub fn to_csaf(
    report: &Report,
    against: Option<(&ThreatModel, &Checked)>,
) -> Result<Value, NoVexStatements> {
    let d = &report.device;
    let id = crate::report_id(report);
    let publisher_name = report
        .tester
        .organisation
        .clone()
        .unwrap_or_else(|| report.tester.name.clone());

    let mut product = Map::new();
    product.insert(
        "name".into(),
        json!(format!(
            "{} {} firmware {}",
            d.vendor, d.model, d.firmware_version
        )),
    );
    product.insert("product_id".into(), json!(PRODUCT_ID));
    if let Some(h) = &d.image_sha256 {
        product.insert(
            "product_identification_helper".into(),
            json!({"hashes": [{
                "file_hashes": [{"algorithm": "sha256", "value": h}],
                "filename": format!("{} firmware {} image", d.model, d.firmware_version),
            }]}),
        );
    }
    let product_tree = json!({"branches": [{
        "category": "vendor", "name": d.vendor,
        "branches": [{
            "category": "product_name", "name": d.model,
            "branches": [{
                "category": "product_version", "name": d.firmware_version,
                "product": Value::Object(product),
            }],
        }],
    }]});

    let mut notes = vec![note(
        "general",
        "Method",
        &format!(
            "{} test, {}physical access, {} hours. Tools: {}.{}",
            match report.method.access {
                Access::BlackBox => "Black-box",
                Access::GreyBox => "Grey-box",
                Access::WhiteBox => "White-box",
            },
            if report.method.physical_access {
                ""
            } else {
                "no "
            },
            report.method.duration_hours,
            if report.method.tools.is_empty() {
                "not stated".to_string()
            } else {
                report.method.tools.join(", ")
            },
            report
                .method
                .notes
                .as_ref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default()
        ),
    )];
    notes.push(note(
        "general",
        "Scope",
        &format!(
            "Scoped against the threat model of {} {} (format version {}, SHA-256 {}). \
             Only tested results with a CVE or CWE appear as vulnerabilities; \
             the summary lists every result.",
            report.threat_model.vendor,
            report.threat_model.model,
            report.threat_model.format_version,
            report.threat_model.sha256
        ),
    ));
    match against {
        Some((_, c)) => notes.push(note("summary", "Coverage", &c.summary)),
        None => notes.push(note("summary", "Coverage", &plain_summary(report))),
    }
    if let Some(n) = report.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        notes.push(note("other", "Tester's notes", n));
    }

    let mut references = Vec::new();
    if let Some(u) = report
        .threat_model
        .url
        .as_deref()
        .filter(|u| u.starts_with("https://"))
    {
        references.push(
            json!({"category": "external", "summary": "The device's threat model", "url": u}),
        );
    }

    let mut document = json!({
        "category": "csaf_vex",
        "csaf_version": "2.0",
        "lang": "en",
        "title": format!(
            "Security test of {} {} firmware {} by {}",
            d.vendor, d.model, d.firmware_version, report.tester.name
        ),
        "publisher": {
            "category": "discoverer",
            "name": publisher_name,
            "namespace": publisher_namespace(report),
            "contact_details": report.tester.contact,
        },
        "tracking": {
            "id": id,
            "status": "final",
            "version": "1",
            "initial_release_date": datetime(report),
            "current_release_date": datetime(report),
            "revision_history": [{
                "date": datetime(report),
                "number": "1",
                "summary": "Test report",
            }],
            "generator": {"engine": {"name": "warden", "version": env!("CARGO_PKG_VERSION")}},
        },
        "notes": notes,
    });
    if !references.is_empty() {
        document["references"] = json!(references);
    }

    let mut vulnerabilities = Vec::new();
    let mut used_cves = BTreeSet::new();
    let scope_of =
        |source: &str| against.and_then(|(_, c)| c.findings.iter().find(|f| f.source == source));
    let mut affected_targets = BTreeSet::new();
    for (i, e) in report.results.iter().enumerate() {
        if let Some(f) = &e.finding {
            affected_targets.insert(e.target());
            let source = format!("results[{i}].finding");
            vulnerabilities.push(affected(
                report,
                &id,
                f,
                &source,
                Some(e.target()),
                scope_of(&source).map(|s| s.scope_notes.join("; ")),
                &mut used_cves,
            ));
        }
    }
    for (i, f) in report.extra_findings.iter().enumerate() {
        let source = format!("extra_findings[{i}]");
        let scope = scope_of(&source)
            .map(|s| s.scope_notes.join("; "))
            .or_else(|| Some("it maps to no threat or entry point of the model".into()));
        vulnerabilities.push(affected(
            report,
            &id,
            f,
            &source,
            None,
            scope,
            &mut used_cves,
        ));
    }
    for e in report
        .results
        .iter()
        .filter(|e| e.result == Outcome::NoFinding && !affected_targets.contains(&e.target()))
    {
        let tried = e.tried.as_deref().unwrap_or_default();
        let impact = format!(
            "Tested by {} on {} ({}): {} Nothing was found.",
            report.tester.name,
            report.date,
            e.target(),
            tried.trim_end_matches('.').to_string() + "."
        );
        let base = |v: &mut Map<String, Value>| {
            v.insert(
                "product_status".into(),
                json!({"known_not_affected": [PRODUCT_ID]}),
            );
            v.insert(
                "threats".into(),
                json!([{"category": "impact", "details": impact, "product_ids": [PRODUCT_ID]}]),
            );
            if let Some(j) = e.vex_justification {
                v.insert(
                    "flags".into(),
                    json!([{"label": j.as_str(), "product_ids": [PRODUCT_ID]}]),
                );
            }
        };
        for cve in &e.cves_checked {
            if !used_cves.insert(cve.clone()) {
                continue;
            }
            let mut v = Map::new();
            v.insert("cve".into(), json!(cve.as_str()));
            v.insert(
                "notes".into(),
                json!([note(
                    "description",
                    "Checked for",
                    &format!(
                        "{} was checked for on this firmware ({}).",
                        cve.as_str(),
                        e.target()
                    )
                )]),
            );
            base(&mut v);
            vulnerabilities.push(Value::Object(v));
        }
        // The model's CWEs for a threat tested clean.
        let Some((model, _)) = against else { continue };
        let Target::Threat(tid) = e.target() else {
            continue;
        };
        let Some(threat) = model.threats.iter().find(|t| t.id == tid) else {
            continue;
        };
        for cwe in &threat.cwe {
            let mut v = Map::new();
            v.insert("title".into(), json!(threat.title));
            v.insert(
                "ids".into(),
                json!([{"system_name": format!("warden threat model {} {}", model.identity.vendor, model.identity.model), "text": format!("{} {}", threat.id, cwe.as_str())}]),
            );
            let mut vnotes = vec![note(
                "description",
                "Threat",
                &format!(
                    "Threat {} of the model: {}. Weakness {}.",
                    threat.id,
                    threat.title,
                    cwe.as_str()
                ),
            )];
            match cwe_name(cwe.as_str()) {
                Some(name) => {
                    v.insert("cwe".into(), json!({"id": cwe.as_str(), "name": name}));
                }
                None => vnotes.push(note("other", "CWE", cwe.as_str())),
            }
            v.insert("notes".into(), json!(vnotes));
            base(&mut v);
            vulnerabilities.push(Value::Object(v));
        }
    }

    if vulnerabilities.is_empty() {
        return Err(NoVexStatements {
            with_model: against.is_some(),
        });
    }
    Ok(json!({
        "document": document,
        "product_tree": product_tree,
        "vulnerabilities": vulnerabilities,
    }))
}

fn plain_summary(report: &Report) -> String {
    let count = |o: Outcome| report.results.iter().filter(|e| e.result == o).count();
    format!(
        "{} results: {} with findings, {} tested with nothing found, {} not tested; {} findings outside the model.",
        report.results.len(),
        count(Outcome::Finding),
        count(Outcome::NoFinding),
        count(Outcome::NotTested),
        report.extra_findings.len()
    )
}

fn affected(
    report: &Report,
    id: &str,
    f: &Finding,
    source: &str,
    target: Option<Target<'_>>,
    scope: Option<String>,
    used_cves: &mut BTreeSet<CveId>,
) -> Value {
    let mut v = Map::new();
    v.insert("title".into(), json!(f.title));
    let mut notes = vec![
        note("description", "Description", &f.description),
        note("details", "Evidence", &f.evidence),
    ];
    match &f.cve {
        Some(c) if used_cves.insert(c.clone()) => {
            v.insert("cve".into(), json!(c.as_str()));
        }
        other => {
            if let Some(c) = other {
                notes.push(note(
                    "other",
                    "CVE",
                    &format!("{} (stated once in this document)", c.as_str()),
                ));
            }
            v.insert(
                "ids".into(),
                json!([{"system_name": format!("warden test report {id}"), "text": source}]),
            );
        }
    }
    if let Some(c) = &f.cwe {
        match cwe_name(c.as_str()) {
            Some(name) => {
                v.insert("cwe".into(), json!({"id": c.as_str(), "name": name}));
            }
            None => notes.push(note("other", "CWE", c.as_str())),
        }
    }
    if let Some(t) = target {
        notes.push(note(
            "other",
            "Threat model",
            &format!("Reported under {t}."),
        ));
    }
    match scope.filter(|s| !s.is_empty()) {
        Some(s) => notes.push(note(
            "other",
            "Scope",
            &format!("out-of-declared-scope: {s}"),
        )),
        None if target.is_some() => notes.push(note("other", "Scope", "in-declared-scope")),
        None => {}
    }
    v.insert("notes".into(), json!(notes));
    v.insert("discovery_date".into(), json!(datetime(report)));
    v.insert(
        "product_status".into(),
        json!({"known_affected": [PRODUCT_ID]}),
    );
    v.insert(
        "remediations".into(),
        json!([{
            "category": "none_available",
            "details": "The tester knows of no fix at the time of the report; ask the manufacturer.",
            "product_ids": [PRODUCT_ID],
        }]),
    );
    v.insert(
        "threats".into(),
        json!([{
            "category": "impact",
            "details": format!("Severity assessed by the tester: {}.", f.severity.as_str()),
            "product_ids": [PRODUCT_ID],
        }]),
    );
    Value::Object(v)
}

/// Why a CSAF document could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the document is {len} bytes; at most {max} are accepted")]
    TooLarge { len: usize, max: usize },
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a CSAF 2.0 document: {0}")]
    NotCsaf(String),
}

/// Findings read from a CSAF advisory.
#[derive(Debug, Clone)]
pub struct Imported {
    /// `/document/tracking/id`.
    pub advisory_id: String,
    /// The first vendor and product name of the product tree.
    pub vendor: Option<String>,
    pub product: Option<String>,
    /// One finding per vulnerability that affects some product.
    pub findings: Vec<Finding>,
    /// Vulnerabilities left out and why (no affected product, too many).
    pub skipped: Vec<String>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn band(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::None,
    }
}

/// The highest severity among a vulnerability's scores (CVSS v3 rating, or
/// the v3/v2 base score in the v3 bands).
fn severity(v: &Value) -> Option<Severity> {
    let scores = v.get("scores")?.as_array()?;
    scores
        .iter()
        .filter_map(|s| {
            if let Some(r) = str_at(s, &["cvss_v3", "baseSeverity"]) {
                return match r.to_ascii_uppercase().as_str() {
                    "CRITICAL" => Some(Severity::Critical),
                    "HIGH" => Some(Severity::High),
                    "MEDIUM" => Some(Severity::Medium),
                    "LOW" => Some(Severity::Low),
                    "NONE" => Some(Severity::None),
                    _ => None,
                };
            }
            s.get("cvss_v3")
                .or_else(|| s.get("cvss_v2"))
                .and_then(|c| c.get("baseScore"))
                .and_then(Value::as_f64)
                .map(band)
        })
        .max()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// Reads a CSAF 2.0 document (any profile) from untrusted bytes, bounded by
/// [`MAX_CSAF_BYTES`]: each vulnerability that some product is affected by
/// (`known_affected`, `first_affected`, `last_affected`) or that is `fixed`
/// in some product (so older firmware had it) becomes a finding; one only
/// `known_not_affected` or `under_investigation` is left out (and said).
pub fn import_csaf(bytes: &[u8]) -> Result<Imported, ImportError> {
    if bytes.len() > MAX_CSAF_BYTES {
        return Err(ImportError::TooLarge {
            len: bytes.len(),
            max: MAX_CSAF_BYTES,
        });
    }
    let doc: Value = serde_json::from_slice(bytes)?;
    let version = str_at(&doc, &["document", "csaf_version"])
        .ok_or_else(|| ImportError::NotCsaf("no /document/csaf_version".into()))?;
    if version != "2.0" {
        return Err(ImportError::NotCsaf(format!(
            "csaf_version {:?}; this warden reads 2.0",
            clip(version, 20)
        )));
    }
    let advisory_id = str_at(&doc, &["document", "tracking", "id"])
        .ok_or_else(|| ImportError::NotCsaf("no /document/tracking/id".into()))?
        .to_string();
    let publisher = str_at(&doc, &["document", "publisher", "name"]).unwrap_or("unknown publisher");
    let aggregate = str_at(&doc, &["document", "aggregate_severity", "text"]);

    let branch = |v: Option<&Value>, category: &str| -> Option<(String, Option<Value>)> {
        v?.as_array()?
            .iter()
            .find(|b| b.get("category").and_then(Value::as_str) == Some(category))
            .and_then(|b| {
                Some((
                    b.get("name")?.as_str()?.to_string(),
                    b.get("branches").cloned(),
                ))
            })
    };
    let vendor_branch = branch(doc.pointer("/product_tree/branches"), "vendor");
    let vendor = vendor_branch.as_ref().map(|(n, _)| n.clone());
    let product = vendor_branch
        .as_ref()
        .and_then(|(_, b)| branch(b.as_ref(), "product_name"))
        .or_else(|| branch(doc.pointer("/product_tree/branches"), "product_name"))
        .map(|(n, _)| n);

    let mut findings = Vec::new();
    let mut skipped = Vec::new();
    let empty = Vec::new();
    let vulns = doc
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (i, v) in vulns.iter().enumerate() {
        let nonempty = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        };
        let name = nonempty("cve")
            .or_else(|| nonempty("title"))
            .map(|s| clip(s, 80))
            .unwrap_or_else(|| format!("vulnerabilities[{i}]"));
        if findings.len() >= MAX_CSAF_VULNERABILITIES {
            skipped.push(format!(
                "{name}: more than {MAX_CSAF_VULNERABILITIES} vulnerabilities"
            ));
            continue;
        }
        let affected: usize = ["known_affected", "first_affected", "last_affected"]
            .iter()
            .filter_map(|k| v.pointer(&format!("/product_status/{k}")))
            .filter_map(Value::as_array)
            .map(Vec::len)
            .sum();
        let fixed = v
            .pointer("/product_status/fixed")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if affected == 0 && fixed == 0 {
            skipped.push(format!("{name}: no product is affected"));
            continue;
        }
        let cve = v
            .get("cve")
            .and_then(Value::as_str)
            .and_then(|c| CveId::try_from(c.to_string()).ok());
        let cwe = str_at(v, &["cwe", "id"])
            .and_then(|c| warden_model::model::CweId::try_from(c.to_string()).ok());
        let notes = v.get("notes").and_then(Value::as_array);
        let note_of = |cat: &str| {
            notes.and_then(|n| {
                n.iter()
                    .find(|n| n.get("category").and_then(Value::as_str) == Some(cat))
                    .and_then(|n| n.get("text").and_then(Value::as_str))
                    .filter(|t| !t.trim().is_empty())
            })
        };
        let description = note_of("description")
            .or_else(|| note_of("summary"))
            .or_else(|| note_of("details"))
            .map(|s| clip(s, 4000))
            .unwrap_or_else(|| "The advisory gives no description.".into());
        let (severity, how) = match severity(v) {
            Some(s) => (s, "from the advisory's CVSS score"),
            None => match aggregate.map(str::to_ascii_lowercase).as_deref() {
                Some("critical") => (Severity::Critical, "from the advisory's aggregate severity"),
                Some("important" | "high") => {
                    (Severity::High, "from the advisory's aggregate severity")
                }
                Some("moderate" | "medium") => {
                    (Severity::Medium, "from the advisory's aggregate severity")
                }
                Some("low") => (Severity::Low, "from the advisory's aggregate severity"),
                _ => (
                    Severity::Medium,
                    "not given by the advisory: set to medium on import, review it",
                ),
            },
        };
        let title = nonempty("title")
            .map(|s| clip(s, 200))
            .unwrap_or_else(|| name.clone());
        findings.push(Finding {
            title,
            severity,
            cwe,
            cve,
            description,
            evidence: format!(
                "CSAF advisory {} by {} lists {}; severity {how}.",
                clip(&advisory_id, 100),
                clip(publisher, 100),
                if affected > 0 {
                    format!("{affected} affected product{}", if affected == 1 { "" } else { "s" })
                } else {
                    format!(
                        "it as fixed in {fixed} product{}: check that the tested firmware predates the fix",
                        if fixed == 1 { "" } else { "s" }
                    )
                }
            ),
            component: None,
            attacker: None,
        });
    }
    Ok(Imported {
        advisory_id,
        vendor,
        product,
        findings,
        skipped,
    })
}
