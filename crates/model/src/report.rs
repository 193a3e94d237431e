//! Lint output: for people, JSON, and SARIF 2.1.0 (for code-scanning tools).

use serde_json::{json, Value};

use crate::lint::{counts, rule, Finding, RULES};
use crate::model::ThreatModel;

/// Text for people: one finding per line, `file:line: level[ID name]: message`,
/// the provisions under it, and a summary.
pub fn text(file: &str, model: &ThreatModel, findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let r = rule(f.rule).expect("findings name known rules");
        s.push_str(&format!(
            "{file}:{}: {}[{} {}]: {} ({})\n",
            f.line,
            f.level.as_str(),
            r.id,
            r.name,
            printable(&f.message),
            f.path
        ));
        if !r.provisions.is_empty() {
            s.push_str(&format!("    checks: {}\n", r.provisions.join("; ")));
        }
    }
    let (e, w, n) = counts(findings);
    s.push_str(&format!(
        "{file}: {} {}: {e} error{}, {w} warning{}, {n} note{}\n",
        printable(&model.identity.vendor),
        printable(&model.identity.model),
        plural(e),
        plural(w),
        plural(n)
    ));
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// JSON: the model's identity, counts, and every finding with its rule's provisions.
pub fn json(file: &str, model: &ThreatModel, findings: &[Finding]) -> Value {
    let (e, w, n) = counts(findings);
    json!({
        "file": file,
        "vendor": model.identity.vendor,
        "model": model.identity.model,
        "summary": {"errors": e, "warnings": w, "notes": n},
        "findings": findings.iter().map(|f| {
            let r = rule(f.rule).expect("findings name known rules");
            json!({
                "rule": f.rule,
                "name": r.name,
                "level": f.level,
                "path": f.path,
                "line": f.line,
                "message": f.message,
                "provisions": r.provisions,
            })
        }).collect::<Vec<_>>(),
    })
}

/// SARIF 2.1.0: one run, every rule in the driver (so rule metadata shows
/// even for rules that found nothing), results located at the model file and
/// the line of the offending key.
pub fn sarif(file: &str, findings: &[Finding]) -> Value {
    sarif_many(&[(file, findings)])
}

/// SARIF 2.1.0 for several models linted together: one run, one artifact
/// per model, each result pointing at its model by artifact index.
pub fn sarif_many(files: &[(&str, &[Finding])]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.checks},
                "fullDescription": {"text": format!("{} {}", r.checks, r.why)},
                "help": {"text": if r.provisions.is_empty() {
                    format!("{} Why: {}", r.checks, r.why)
                } else {
                    format!("{} Why: {} Provisions: {}.", r.checks, r.why, r.provisions.join("; "))
                }},
                "properties": {"provisions": r.provisions, "tags": ["security", "threat-model"]},
            })
        })
        .collect();
    let mut artifacts = Vec::new();
    let mut results = Vec::new();
    for (artifact, (file, findings)) in files.iter().enumerate() {
        let uri = uri_reference(file);
        artifacts.push(json!({"location": {"uri": uri}}));
        for f in findings.iter() {
            let index = RULES
                .iter()
                .position(|r| r.id == f.rule)
                .expect("findings name known rules");
            results.push(json!({
                "ruleId": f.rule,
                "ruleIndex": index,
                "level": f.level.as_str(),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "index": artifact},
                        "region": {"startLine": f.line},
                    },
                    "logicalLocations": [{"fullyQualifiedName": f.path, "kind": "member"}],
                }],
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "warden-model-lint",
                "informationUri": "https://github.com/warden-iot/warden/blob/main/docs/threat-models.md",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "artifacts": artifacts,
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// Text from a model made safe for a terminal or CI log: control characters
/// (escape sequences, carriage returns, bidi overrides) are shown as `\u{..}`
/// instead of acting on the terminal.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A path as a URI reference: a relative path stays relative (`/` kept,
/// anything outside the unreserved set percent-encoded); an absolute path
/// becomes a `file://` URI.
fn uri_reference(path: &str) -> String {
    let mut s = String::new();
    if path.starts_with('/') {
        s.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn uri_reference_encodes() {
        assert_eq!(super::uri_reference("models/a b.yaml"), "models/a%20b.yaml");
        assert_eq!(super::uri_reference("x/ü.yaml"), "x/%C3%BC.yaml");
        assert_eq!(super::uri_reference("/tmp/m.yaml"), "file:///tmp/m.yaml");
    }

    #[test]
    fn printable_defuses_terminal_escapes() {
        assert_eq!(
            super::printable("a\u{1b}[2Jb\r\u{202e}c"),
            "a\\u{1b}[2Jb\\u{d}\\u{202e}c"
        );
        assert_eq!(super::printable("plain ü"), "plain ü");
    }
}
