//! SARIF 2.1.0: one result per report entry (and per extra finding), so code
//! scanning and review tools show negative results next to findings.
//!
//! `result.kind` (SARIF 2.1.0 §3.27.9): a finding is `fail` (level from the
//! severity); `no-finding` is `pass` ("the rule was evaluated, and no problem
//! was found"); `not-tested` is `review` ("requires review by a human user to
//! decide if it represents a problem"). Not `notApplicable`: that says the
//! rule does not apply to the target, which would claim the threat does not
//! concern the device, when the tester only did not test it. SARIF wants
//! `level: none` for every kind but `fail`.
//!
//! Rules are the model's threats (`threat/T1`) and entry points
//! (`entry-point/uart`), plus `extra-finding` for findings outside the model.

use serde_json::{json, Value};
use warden_model::load::LineIndex;
use warden_model::model::ThreatModel;

use crate::check::Checked;
use crate::format::{Finding, Outcome, Report, Severity, Target};

/// Where a file is, for result locations: its URI as the reader should see
/// it, and its line index.
pub struct Located<'a> {
    pub uri: &'a str,
    pub lines: &'a LineIndex,
}

fn rule_id(t: Target<'_>) -> String {
    match t {
        Target::Threat(id) => format!("threat/{id}"),
        Target::EntryPoint(id) => format!("entry-point/{id}"),
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::None => "note",
    }
}

fn location(at: Option<&Located<'_>>, path: &str) -> Option<Value> {
    at.map(|l| {
        json!({"physicalLocation": {
            "artifactLocation": {"uri": l.uri},
            "region": {"startLine": l.lines.line_of(path).max(1)},
        }})
    })
}

fn finding_props(f: &Finding, scope: Option<(&str, Vec<String>)>) -> Value {
    let mut p = json!({"severity": f.severity.as_str()});
    if let Some(c) = &f.cve {
        p["cve"] = json!(c.as_str());
    }
    if let Some(c) = &f.cwe {
        p["cwe"] = json!(c.as_str());
    }
    if let Some((s, notes)) = scope {
        p["scope"] = json!(s);
        if !notes.is_empty() {
            p["scopeNotes"] = json!(notes);
        }
    }
    p
}

/// The report as a SARIF 2.1.0 log with one run. `model` adds rule names,
/// the scope marks and locations in the model file; `report_at` adds
/// locations in the report file.
pub fn to_sarif(
    report: &Report,
    model: Option<(&ThreatModel, &Checked, Option<Located<'_>>)>,
    report_at: Option<Located<'_>>,
) -> Value {
    // Rules in order of first use.
    let mut rules: Vec<(String, Value)> = Vec::new();
    let mut rule_index = |id: String, describe: &dyn Fn() -> Value| -> usize {
        if let Some(i) = rules.iter().position(|(r, _)| *r == id) {
            return i;
        }
        rules.push((id, describe()));
        rules.len() - 1
    };
    let describe_target = |t: Target<'_>| -> Value {
        let id = rule_id(t);
        let Some((m, _, _)) = model.as_ref() else {
            return json!({"id": id, "shortDescription": {"text": t.to_string()}});
        };
        match t {
            Target::Threat(tid) => match m.threats.iter().find(|x| x.id == tid) {
                Some(th) => {
                    let mut r = json!({"id": id, "name": format!("Threat{}", tid), "shortDescription": {"text": th.title}});
                    let tags: Vec<&str> = th
                        .cwe
                        .iter()
                        .map(|c| c.as_str())
                        .chain(th.capec.iter().map(|c| c.as_str()))
                        .collect();
                    if !tags.is_empty() {
                        r["properties"] = json!({"tags": tags});
                    }
                    r
                }
                None => json!({"id": id, "shortDescription": {"text": t.to_string()}}),
            },
            Target::EntryPoint(eid) => match m.entry_points.iter().find(|x| x.id == eid) {
                Some(e) => json!({"id": id, "shortDescription": {"text": e.name}}),
                None => json!({"id": id, "shortDescription": {"text": t.to_string()}}),
            },
        }
    };
    let scope_of = |source: &str| {
        model.as_ref().and_then(|(_, c, _)| {
            c.findings
                .iter()
                .find(|f| f.source == source)
                .map(|f| (f.scope, f.scope_notes.clone()))
        })
    };
    let model_location = |t: Target<'_>| -> Option<Value> {
        let (m, _, at) = model.as_ref()?;
        let at = at.as_ref()?;
        let path = match t {
            Target::Threat(id) => {
                format!("threats[{}]", m.threats.iter().position(|x| x.id == id)?)
            }
            Target::EntryPoint(id) => format!(
                "entry_points[{}]",
                m.entry_points.iter().position(|x| x.id == id)?
            ),
        };
        location(Some(at), &path)
    };

    let mut results = Vec::new();
    for (i, e) in report.results.iter().enumerate() {
        let t = e.target();
        let idx = rule_index(rule_id(t), &|| describe_target(t));
        let mut r = json!({"ruleId": rule_id(t), "ruleIndex": idx});
        match e.result {
            Outcome::Finding => {
                let f = e.finding.as_ref().expect("validated: a finding has one");
                r["kind"] = json!("fail");
                r["level"] = json!(level(f.severity));
                r["message"] = json!({"text": format!("{}: {}", f.title, f.description)});
                r["properties"] = finding_props(f, scope_of(&format!("results[{i}].finding")));
            }
            Outcome::NoFinding => {
                r["kind"] = json!("pass");
                r["level"] = json!("none");
                r["message"] = json!({"text": format!(
                    "Tested, nothing found. Tried: {}",
                    e.tried.as_deref().unwrap_or_default()
                )});
            }
            Outcome::NotTested => {
                r["kind"] = json!("review");
                r["level"] = json!("none");
                r["message"] = json!({"text": format!(
                    "Not tested: {}",
                    e.reason.as_deref().unwrap_or_default()
                )});
            }
        }
        if let Some(l) = location(report_at.as_ref(), &format!("results[{i}]")) {
            r["locations"] = json!([l]);
        }
        if let Some(l) = model_location(t) {
            r["relatedLocations"] = json!([{"id": 1, "physicalLocation": l["physicalLocation"], "message": {"text": "declared in the threat model"}}]);
        }
        results.push(r);
    }
    for (i, f) in report.extra_findings.iter().enumerate() {
        let idx = rule_index(
            "extra-finding".into(),
            &|| json!({"id": "extra-finding", "shortDescription": {"text": "A finding that maps to no threat or entry point of the model"}}),
        );
        let source = format!("extra_findings[{i}]");
        let scope = scope_of(&source).or_else(|| {
            Some((
                crate::check::OUT_OF_SCOPE,
                vec!["it maps to no threat or entry point of the model".to_string()],
            ))
        });
        let mut r = json!({
            "ruleId": "extra-finding",
            "ruleIndex": idx,
            "kind": "fail",
            "level": level(f.severity),
            "message": {"text": format!("{}: {}", f.title, f.description)},
            "properties": finding_props(f, scope),
        });
        if let Some(l) = location(report_at.as_ref(), &source) {
            r["locations"] = json!([l]);
        }
        results.push(r);
    }

    let mut run = json!({
        "tool": {"driver": {
            "name": "warden-report",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://github.com/warden-iot/warden/blob/main/docs/test-reports.md",
            "rules": rules.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
        }},
        "results": results,
        "properties": {
            "reportId": crate::report_id(report),
            "tester": report.tester.name,
            "date": report.date.to_string(),
            "device": format!("{} {} firmware {}", report.device.vendor, report.device.model, report.device.firmware_version),
            "threatModelSha256": report.threat_model.sha256,
        },
    });
    if let Some((_, c, _)) = model.as_ref() {
        run["properties"]["coverage"] =
            json!({"threats": c.threats, "entryPoints": c.entry_points});
        run["properties"]["summary"] = json!(c.summary);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}
