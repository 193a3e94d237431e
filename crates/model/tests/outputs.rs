//! Lint output: SARIF 2.1.0 shape (the fields the specification requires and
//! code-scanning tools read), JSON and text.

mod common;

use common::*;
use serde_json::Value;
use warden_model::{report, RULES};

fn str_at<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} must be a string, is {v}"))
}

/// Checks the SARIF 2.1.0 properties that are required (sarifLog.version and
/// runs; run.tool; tool.driver; toolComponent.name; result.message with text;
/// reportingDescriptor.id) and the ones code scanning relies on (ruleId,
/// level from the allowed set, ruleIndex pointing at the rule, a physical
/// location with an artifact URI and a 1-based startLine).
fn check_sarif(log: &Value, file_uri: &str, expected_results: usize) {
    assert_eq!(log["version"], "2.1.0");
    assert!(str_at(&log["$schema"], "$schema").contains("sarif"));
    let runs = log["runs"].as_array().expect("runs is an array");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert!(!str_at(&driver["name"], "driver.name").is_empty());
    let rules = driver["rules"].as_array().expect("driver.rules");
    assert_eq!(rules.len(), RULES.len());
    for r in rules {
        assert!(str_at(&r["id"], "rule id").starts_with("TM"));
        assert!(!str_at(&r["shortDescription"]["text"], "shortDescription.text").is_empty());
        assert!(r["properties"]["provisions"].is_array());
    }
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), expected_results);
    for res in results {
        let id = str_at(&res["ruleId"], "ruleId");
        let idx = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[idx]["id"], id, "ruleIndex points at the rule");
        assert!(["none", "note", "warning", "error"].contains(&str_at(&res["level"], "level")));
        assert!(!str_at(&res["message"]["text"], "message.text").is_empty());
        let loc = &res["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], file_uri);
        assert!(loc["region"]["startLine"].as_u64().expect("startLine") >= 1);
        assert!(!str_at(
            &res["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "fqn"
        )
        .is_empty());
    }
    assert_eq!(run["artifacts"][0]["location"]["uri"], file_uri);
}

#[test]
fn sarif_has_the_required_shape() {
    for path in examples() {
        let (loaded, findings) = lint_file(&path);
        let _ = loaded;
        let name = format!("models/{}", path.file_name().unwrap().to_str().unwrap());
        let log = report::sarif(&name, &findings);
        check_sarif(&log, &name, findings.len());
    }
    // The poor camera's UART finding points at the `state:` line of the UART entry.
    let path = repo().join("models/poor-camera.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (_, findings) = lint_file(&path);
    let log = report::sarif("models/poor-camera.yaml", &findings);
    let uart = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "TM015")
        .unwrap();
    let line = uart["locations"][0]["physicalLocation"]["region"]["startLine"]
        .as_u64()
        .unwrap() as usize;
    let src = text.lines().nth(line - 1).unwrap();
    assert_eq!(src.trim(), "state: enabled");
    assert!(
        text.lines().nth(line - 5).unwrap().contains("id: uart"),
        "{line}"
    );
}

#[test]
fn sarif_uri_is_encoded() {
    let (_, findings) = lint_file(&fixtures().join("TM019/fail.yaml"));
    let log = report::sarif("my models/plug #2.yaml", &findings);
    check_sarif(&log, "my%20models/plug%20%232.yaml", findings.len());
}

#[test]
fn json_and_text_outputs_carry_the_provisions() {
    let path = repo().join("models/poor-camera.yaml");
    let (loaded, findings) = lint_file(&path);
    let j = report::json("poor.yaml", &loaded.model, &findings);
    let errors = findings
        .iter()
        .filter(|f| f.level == warden_model::Level::Error)
        .count();
    assert_eq!(j["summary"]["errors"], errors);
    let first = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "TM001")
        .unwrap();
    assert!(first["provisions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "ETSI EN 303 645 5.1-1"));
    let t = report::text("poor.yaml", &loaded.model, &findings);
    assert!(
        t.contains("error[TM001 no-universal-default-password]"),
        "{t}"
    );
    assert!(t.contains("UK PSTI Sch. 1 para 1(2)"));
    assert!(t
        .lines()
        .last()
        .unwrap()
        .contains(&format!("{errors} errors")));
}
