//! A report against the threat model it claims to be scoped against: is it
//! the same model (hash), do its ids exist, what did it cover, and which
//! findings fall outside what the vendor declared in scope.

use std::collections::BTreeMap;

use serde::Serialize;
use warden_model::model::{ThreatModel, ThreatStatus};

use crate::format::{Finding, Outcome, Report, Target};

/// How bad a problem with a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The report does not fit the model: unknown ids, another model, a changed model.
    Error,
    /// Worth knowing: targets without a result, a firmware the model does not list.
    Warning,
}

/// One problem found while checking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub level: Level,
    /// Where in the report (`results[2].threat`), empty for the whole report.
    pub path: String,
    pub message: String,
}

/// What the report says about one threat or entry point of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// At least one finding.
    Finding,
    /// Tested, nothing found.
    NoFinding,
    /// Said not to be tested.
    NotTested,
    /// The report does not mention it (counts as not tested).
    Missing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Finding => "finding",
            Self::NoFinding => "no-finding",
            Self::NotTested => "not-tested",
            Self::Missing => "missing",
        }
    }
}

/// One threat or entry point of the model and what the report says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetStatus {
    /// `threat` or `entry_point`.
    pub kind: &'static str,
    pub id: String,
    /// The threat's title or the entry point's name.
    pub name: String,
    pub status: Status,
}

/// Counts for threats or for entry points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// How many the model declares.
    pub total: usize,
    /// Tested (with or without findings).
    pub tested: usize,
    pub with_findings: usize,
    pub no_finding: usize,
    pub not_tested: usize,
    /// Not mentioned by the report.
    pub missing: usize,
}

/// A finding with its place in the model's declared scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScopedFinding {
    /// Where in the report (`results[3].finding`, `extra_findings[0]`).
    pub source: String,
    /// The threat or entry point it is reported under (`threat T1`), if any.
    pub target: Option<String>,
    #[serde(flatten)]
    pub finding: Finding,
    /// `in-declared-scope` or `out-of-declared-scope`.
    pub scope: &'static str,
    /// Why it is out of the declared scope.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope_notes: Vec<String>,
}

impl ScopedFinding {
    pub fn in_declared_scope(&self) -> bool {
        self.scope == IN_SCOPE
    }
}

pub const IN_SCOPE: &str = "in-declared-scope";
pub const OUT_OF_SCOPE: &str = "out-of-declared-scope";

/// The outcome of checking a report against a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checked {
    /// SHA-256 of the model file checked against.
    pub model_sha256: String,
    /// The report names another hash: the model changed since the test.
    pub model_changed: bool,
    pub problems: Vec<Problem>,
    pub threats: Coverage,
    pub entry_points: Coverage,
    /// Every threat, then every entry point, of the model.
    pub targets: Vec<TargetStatus>,
    /// Every finding of the report, in order, with its scope.
    pub findings: Vec<ScopedFinding>,
    /// A paragraph for people: what was covered and what came out.
    pub summary: String,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.level == Level::Error)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }
}

/// Hex SHA-256, the way `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    warden_feed::sha256_hex(bytes)
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Checks `report` against `model`, whose file had the bytes `model_bytes`
/// (for the hash).
pub fn check(report: &Report, model: &ThreatModel, model_bytes: &[u8]) -> Checked {
    let mut problems = Vec::new();
    let mut problem = |level, path: &str, message: String| {
        problems.push(Problem {
            level,
            path: path.to_string(),
            message,
        })
    };
    let id = &model.identity;
    let model_sha256 = sha256_hex(model_bytes);
    let model_changed = report.threat_model.sha256 != model_sha256;
    if model_changed {
        problem(
            Level::Error,
            "threat_model.sha256",
            format!(
                "the model changed since the test: the report is scoped against a model file with SHA-256 {}, this one has {model_sha256}",
                report.threat_model.sha256
            ),
        );
    }
    if !same(&report.threat_model.vendor, &id.vendor)
        || !same(&report.threat_model.model, &id.model)
    {
        problem(
            Level::Error,
            "threat_model",
            format!(
                "the report is scoped against the model of {} {}, not {} {}",
                report.threat_model.vendor, report.threat_model.model, id.vendor, id.model
            ),
        );
    }
    if !same(&report.device.vendor, &id.vendor) || !same(&report.device.model, &id.model) {
        problem(
            Level::Error,
            "device",
            format!(
                "the device tested is a {} {}, the model describes a {} {}",
                report.device.vendor, report.device.model, id.vendor, id.model
            ),
        );
    }
    // A skeleton from `warden report new` still holding its placeholders.
    let todo = serde_json::to_string(report)
        .map(|j| j.matches("TODO").count())
        .unwrap_or(0);
    if todo > 0 {
        problem(
            Level::Warning,
            "",
            format!(
                "the report still has {todo} TODO placeholder{}",
                if todo == 1 { "" } else { "s" }
            ),
        );
    }
    if report.threat_model.format_version != model.format_version {
        problem(
            Level::Warning,
            "threat_model.format_version",
            format!(
                "the report names format version {}, the model is version {}",
                report.threat_model.format_version, model.format_version
            ),
        );
    }
    if !id.firmware.is_empty() {
        match id
            .firmware
            .iter()
            .find(|f| f.version == report.device.firmware_version)
        {
            None => problem(
                Level::Warning,
                "device.firmware_version",
                format!(
                    "firmware {} is not one of the versions the model covers ({})",
                    report.device.firmware_version,
                    id.firmware
                        .iter()
                        .map(|f| f.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Some(f) => {
                if let Some(h) = &report.device.image_sha256 {
                    if *h != f.image_sha256 {
                        problem(
                            Level::Warning,
                            "device.image_sha256",
                            format!(
                                "the image tested is not the one the model lists for firmware {} ({})",
                                f.version, f.image_sha256
                            ),
                        );
                    }
                }
            }
        }
    }

    // Per target: every outcome reported for it.
    let mut seen: BTreeMap<Target<'_>, Vec<(usize, Outcome)>> = BTreeMap::new();
    for (i, e) in report.results.iter().enumerate() {
        let target = e.target();
        let known = match target {
            Target::Threat(t) => model.threats.iter().any(|x| x.id == t),
            Target::EntryPoint(ep) => model.entry_points.iter().any(|x| x.id == ep),
        };
        if !known {
            let (field, what) = match target {
                Target::Threat(_) => ("threat", "threats"),
                Target::EntryPoint(_) => ("entry_point", "entry points"),
            };
            problem(
                Level::Error,
                &format!("results[{i}].{field}"),
                format!(
                    "the model has no {target} (its {what}: {})",
                    ids(model, field)
                ),
            );
            continue;
        }
        seen.entry(target).or_default().push((i, e.result));
    }
    for (target, outcomes) in &seen {
        let not_tested = outcomes.iter().any(|(_, o)| *o == Outcome::NotTested);
        if not_tested && outcomes.len() > 1 {
            problem(
                Level::Error,
                &format!("results[{}]", outcomes[0].0),
                format!("{target} is both said not to be tested and given other results"),
            );
        }
    }

    let status_of = |t: Target<'_>| match seen.get(&t) {
        None => Status::Missing,
        Some(o) if o.iter().any(|(_, r)| *r == Outcome::Finding) => Status::Finding,
        Some(o) if o.iter().any(|(_, r)| *r == Outcome::NoFinding) => Status::NoFinding,
        Some(_) => Status::NotTested,
    };
    let mut targets = Vec::new();
    for t in &model.threats {
        targets.push(TargetStatus {
            kind: "threat",
            id: t.id.clone(),
            name: t.title.clone(),
            status: status_of(Target::Threat(&t.id)),
        });
    }
    for e in &model.entry_points {
        targets.push(TargetStatus {
            kind: "entry_point",
            id: e.id.clone(),
            name: e.name.clone(),
            status: status_of(Target::EntryPoint(&e.id)),
        });
    }
    for t in targets.iter().filter(|t| t.status == Status::Missing) {
        problem(
            Level::Warning,
            "results",
            format!(
                "no result for {} {} ({}); it counts as not tested",
                t.kind.replace('_', " "),
                t.id,
                t.name
            ),
        );
    }
    let threats = coverage(targets.iter().filter(|t| t.kind == "threat"));
    let entry_points = coverage(targets.iter().filter(|t| t.kind == "entry_point"));

    // Findings and their scope.
    let mut findings = Vec::new();
    for (i, e) in report.results.iter().enumerate() {
        let Some(f) = &e.finding else { continue };
        let mut notes = finding_scope(f, model, &mut problem, &format!("results[{i}].finding"));
        if let Target::Threat(t) = e.target() {
            if let Some(th) = model
                .threats
                .iter()
                .find(|x| x.id == t && x.status == ThreatStatus::OutOfScope)
            {
                notes.push(format!(
                    "the model declares threat {} out of scope{}",
                    th.id,
                    just(th.justification.as_deref())
                ));
            }
        }
        findings.push(scoped(
            format!("results[{i}].finding"),
            Some(e.target().to_string()),
            f,
            notes,
        ));
    }
    for (i, f) in report.extra_findings.iter().enumerate() {
        let mut notes = vec!["it maps to no threat or entry point of the model".to_string()];
        notes.extend(finding_scope(
            f,
            model,
            &mut problem,
            &format!("extra_findings[{i}]"),
        ));
        findings.push(scoped(format!("extra_findings[{i}]"), None, f, notes));
    }

    let summary = summary(report, &targets, &threats, &entry_points, &findings);
    Checked {
        model_sha256,
        model_changed,
        problems,
        threats,
        entry_points,
        targets,
        findings,
        summary,
    }
}

fn just(j: Option<&str>) -> String {
    j.map(|j| format!(" ({j})")).unwrap_or_default()
}

fn ids(model: &ThreatModel, field: &str) -> String {
    let list: Vec<&str> = if field == "threat" {
        model.threats.iter().map(|t| t.id.as_str()).collect()
    } else {
        model.entry_points.iter().map(|e| e.id.as_str()).collect()
    };
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

fn scoped(
    source: String,
    target: Option<String>,
    f: &Finding,
    notes: Vec<String>,
) -> ScopedFinding {
    ScopedFinding {
        source,
        target,
        finding: f.clone(),
        scope: if notes.is_empty() {
            IN_SCOPE
        } else {
            OUT_OF_SCOPE
        },
        scope_notes: notes,
    }
}

/// Why a finding's component or attacker is outside the declared scope.
fn finding_scope(
    f: &Finding,
    model: &ThreatModel,
    problem: &mut impl FnMut(Level, &str, String),
    path: &str,
) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(c) = &f.component {
        if let Some(s) = model
            .scope
            .out_of_scope
            .iter()
            .find(|s| same(&s.component, c))
        {
            notes.push(format!(
                "the model declares the component \"{}\" out of scope{}",
                s.component,
                just(s.justification.as_deref())
            ));
        }
    }
    if let Some(a) = &f.attacker {
        if let Some(x) = model.attackers.out_of_scope.iter().find(|x| x.id == *a) {
            notes.push(format!(
                "the model declares the attacker \"{}\" ({}) out of scope{}",
                x.id,
                x.description,
                just(x.justification.as_deref())
            ));
        } else if !model.attackers.in_scope.iter().any(|x| x.id == *a) {
            problem(
                Level::Warning,
                &format!("{path}.attacker"),
                format!("the model has no attacker {a:?}"),
            );
        }
    }
    notes
}

fn coverage<'a>(it: impl Iterator<Item = &'a TargetStatus>) -> Coverage {
    let mut c = Coverage::default();
    for t in it {
        c.total += 1;
        match t.status {
            Status::Finding => {
                c.tested += 1;
                c.with_findings += 1
            }
            Status::NoFinding => {
                c.tested += 1;
                c.no_finding += 1
            }
            Status::NotTested => c.not_tested += 1,
            Status::Missing => c.missing += 1,
        }
    }
    c
}

fn list(targets: &[&TargetStatus]) -> String {
    targets
        .iter()
        .map(|t| format!("{} ({})", t.id, t.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What was covered, in words: which threats and entry points were tested
/// with nothing found, which had findings, which were not tested.
fn summary(
    report: &Report,
    targets: &[TargetStatus],
    threats: &Coverage,
    entry_points: &Coverage,
    findings: &[ScopedFinding],
) -> String {
    let by = |s: &[Status]| -> Vec<&TargetStatus> {
        targets.iter().filter(|t| s.contains(&t.status)).collect()
    };
    let mut out = format!(
        "{} tested {} {} firmware {} ({} access, {}physical access, {} h) on {}: \
         {} of {} threats and {} of {} entry points tested.",
        report.tester.name,
        report.device.vendor,
        report.device.model,
        report.device.firmware_version,
        report.method.access.as_str(),
        if report.method.physical_access {
            ""
        } else {
            "no "
        },
        report.method.duration_hours,
        report.date,
        threats.tested,
        threats.total,
        entry_points.tested,
        entry_points.total,
    );
    let clean = by(&[Status::NoFinding]);
    if !clean.is_empty() {
        out.push_str(&format!(" Tested, nothing found: {}.", list(&clean)));
    }
    let found = by(&[Status::Finding]);
    if !found.is_empty() {
        out.push_str(&format!(" Findings for: {}.", list(&found)));
    }
    let not = by(&[Status::NotTested, Status::Missing]);
    if !not.is_empty() {
        out.push_str(&format!(" Not tested: {}.", list(&not)));
    }
    let outside = findings.iter().filter(|f| !f.in_declared_scope()).count();
    if findings.is_empty() {
        out.push_str(" No findings.");
    } else {
        out.push_str(&format!(
            " {} finding{} ({} outside the model's declared scope).",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            outside
        ));
    }
    out
}
