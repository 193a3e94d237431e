//! Reading a report: size bound, YAML or JSON, the format version first, then
//! the typed report (unknown fields refused, the error naming the path), then
//! the checks serde cannot express (one target per entry, the fields each
//! result needs). Checking against the model is [`crate::check`].

use serde::Deserialize;
use warden_model::load::{sniff, LineIndex, Syntax};
pub use warden_model::{LoadError, LoadErrors};

use crate::format::{Entry, Finding, Outcome, Report, FORMAT_VERSION};

/// Largest report accepted. Real reports are a few KiB; evidence belongs in
/// attachments, not in megabytes of YAML.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// At most this many results and extra findings each: a hostile report must
/// stay cheap to check and render.
pub const MAX_ENTRIES: usize = 10_000;

fn whole(message: String) -> LoadErrors {
    LoadErrors(vec![LoadError {
        path: String::new(),
        line: None,
        message,
    }])
}

/// Reads a report from bytes (YAML or JSON; JSON starts with `{`).
pub fn load(bytes: &[u8]) -> Result<Report, LoadErrors> {
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(whole(format!(
            "the report is {} bytes; at most {MAX_INPUT_BYTES} are accepted",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| whole(format!("the report is not UTF-8 text: {e}")))?;
    let syntax = sniff(text);
    let report = parse(text, syntax).map_err(|e| LoadErrors(vec![e]))?;
    let mut errors = validate(&report);
    if !errors.is_empty() {
        let lines = LineIndex::new(text);
        for e in &mut errors {
            e.line = Some(lines.line_of(&e.path));
        }
        return Err(LoadErrors(errors));
    }
    Ok(report)
}

#[derive(Deserialize)]
struct Peek {
    format_version: Option<serde_json::Value>,
}

fn parse(text: &str, syntax: Syntax) -> Result<Report, LoadError> {
    let peek: Peek = match syntax {
        Syntax::Json => serde_json::from_str(text).map_err(|e| plain(e.to_string(), e.line()))?,
        Syntax::Yaml => serde_norway::from_str(text)
            .map_err(|e| plain(e.to_string(), e.location().map_or(0, |l| l.line())))?,
    };
    match peek.format_version {
        None => {
            return Err(LoadError {
                path: "format_version".into(),
                line: None,
                message: format!("missing; this warden reads format_version {FORMAT_VERSION}"),
            })
        }
        Some(v) if v.as_u64() != Some(u64::from(FORMAT_VERSION)) => {
            return Err(LoadError {
                path: "format_version".into(),
                line: None,
                message: format!(
                    "{v} is not supported; this warden reads format_version {FORMAT_VERSION}"
                ),
            })
        }
        Some(_) => {}
    }
    match syntax {
        Syntax::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let r: Report = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let mut err = plain(inner.to_string(), inner.line());
                err.path = path;
                err
            })?;
            de.end().map_err(|e| plain(e.to_string(), e.line()))?;
            Ok(r)
        }
        Syntax::Yaml => {
            let de = serde_norway::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let mut err = plain(inner.to_string(), inner.location().map_or(0, |l| l.line()));
                err.path = path;
                err
            })
        }
    }
}

/// An error message without the parser's trailing " at line L column C".
fn plain(text: String, line: usize) -> LoadError {
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    LoadError {
        path: String::new(),
        line: (line > 0).then_some(line),
        message,
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The checks the types cannot express.
pub fn validate(r: &Report) -> Vec<LoadError> {
    let mut errors = Vec::new();
    let mut err = |path: String, message: &str| {
        errors.push(LoadError {
            path,
            line: None,
            message: message.to_string(),
        })
    };
    let empty = "must not be empty";
    for (path, v) in [
        ("tester.name", &r.tester.name),
        ("tester.contact", &r.tester.contact),
        ("device.vendor", &r.device.vendor),
        ("device.model", &r.device.model),
        ("device.firmware_version", &r.device.firmware_version),
        ("threat_model.vendor", &r.threat_model.vendor),
        ("threat_model.model", &r.threat_model.model),
    ] {
        if v.trim().is_empty() {
            err(path.into(), empty);
        }
    }
    if let Some(id) = &r.id {
        if id.trim().is_empty() || id.len() > 200 || id.trim() != id {
            err(
                "id".into(),
                "must be 1 to 200 characters, without leading or trailing spaces",
            );
        }
    }
    if !is_sha256(&r.threat_model.sha256) {
        err(
            "threat_model.sha256".into(),
            "must be 64 lowercase hex digits (sha256sum of the model file)",
        );
    }
    if let Some(h) = &r.device.image_sha256 {
        if !is_sha256(h) {
            err(
                "device.image_sha256".into(),
                "must be 64 lowercase hex digits",
            );
        }
    }
    if r.results.len() > MAX_ENTRIES || r.extra_findings.len() > MAX_ENTRIES {
        err(
            String::new(),
            &format!("more than {MAX_ENTRIES} results or extra findings"),
        );
        return errors;
    }
    for (i, e) in r.results.iter().enumerate() {
        for (path, message) in validate_entry(e) {
            err(format!("results[{i}]{path}"), &message);
        }
    }
    for (i, f) in r.extra_findings.iter().enumerate() {
        for (path, message) in validate_finding(f) {
            err(format!("extra_findings[{i}].{path}"), &message);
        }
    }
    errors
}

fn validate_entry(e: &Entry) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match (&e.threat, &e.entry_point) {
        (Some(_), Some(_)) => out.push((
            String::new(),
            "names both a threat and an entry point; use one entry for each".into(),
        )),
        (None, None) => out.push((
            String::new(),
            "names neither a threat nor an entry point (put findings outside the model under extra_findings)".into(),
        )),
        (Some(t), None) | (None, Some(t)) if t.trim().is_empty() => {
            out.push((String::new(), "the id must not be empty".into()))
        }
        _ => {}
    }
    let needs = |field: &str, present: bool, out: &mut Vec<(String, String)>| {
        if !present {
            out.push((
                format!(".{field}"),
                format!("required for result {}", e.result.as_str()),
            ));
        }
    };
    let refuse = |field: &str, present: bool, out: &mut Vec<(String, String)>| {
        if present {
            out.push((
                format!(".{field}"),
                format!("not allowed with result {}", e.result.as_str()),
            ));
        }
    };
    let tried = e.tried.as_ref().is_some_and(|t| !t.trim().is_empty());
    let reason = e.reason.as_ref().is_some_and(|t| !t.trim().is_empty());
    match e.result {
        Outcome::Finding => {
            needs("finding", e.finding.is_some(), &mut out);
            refuse("reason", e.reason.is_some(), &mut out);
            refuse("vex_justification", e.vex_justification.is_some(), &mut out);
            refuse("cves_checked", !e.cves_checked.is_empty(), &mut out);
        }
        Outcome::NoFinding => {
            needs("tried", tried, &mut out);
            refuse("finding", e.finding.is_some(), &mut out);
            refuse("reason", e.reason.is_some(), &mut out);
        }
        Outcome::NotTested => {
            needs("reason", reason, &mut out);
            refuse("finding", e.finding.is_some(), &mut out);
            refuse("tried", e.tried.is_some(), &mut out);
            refuse("vex_justification", e.vex_justification.is_some(), &mut out);
            refuse("cves_checked", !e.cves_checked.is_empty(), &mut out);
        }
    }
    if let Some(f) = &e.finding {
        for (path, message) in validate_finding(f) {
            out.push((format!(".finding.{path}"), message));
        }
    }
    out
}

fn validate_finding(f: &Finding) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, v) in [
        ("title", &f.title),
        ("description", &f.description),
        ("evidence", &f.evidence),
    ] {
        if v.trim().is_empty() {
            out.push((path.to_string(), "must not be empty".to_string()));
        }
    }
    out
}
