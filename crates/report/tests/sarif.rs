//! SARIF 2.1.0 export: one result per entry, kinds per outcome.

mod common;

use common::*;
use warden_report::{check, to_sarif, Outcome};

#[test]
fn one_result_per_entry_with_kinds_and_levels() {
    for (rel, m) in [
        (GOOD, "models/good-camera.yaml"),
        (POOR, "models/poor-camera.yaml"),
    ] {
        let r = report(rel);
        let (loaded, bytes) = model(m);
        let c = check(&r, &loaded.model, &bytes);
        let text = String::from_utf8(read(rel)).unwrap();
        let lines = warden_model::load::LineIndex::new(&text);
        let s = to_sarif(
            &r,
            Some((
                &loaded.model,
                &c,
                Some(warden_report::sarif::Located {
                    uri: m,
                    lines: &loaded.lines,
                }),
            )),
            Some(warden_report::sarif::Located {
                uri: rel,
                lines: &lines,
            }),
        );
        assert_eq!(s["version"], "2.1.0");
        let run = &s["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(
            results.len(),
            r.results.len() + r.extra_findings.len(),
            "{rel}"
        );
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        for (i, e) in r.results.iter().enumerate() {
            let res = &results[i];
            let (kind, none) = match e.result {
                Outcome::Finding => ("fail", false),
                Outcome::NoFinding => ("pass", true),
                Outcome::NotTested => ("review", true),
            };
            assert_eq!(res["kind"], kind, "{rel} results[{i}]");
            assert_eq!(res["level"] == "none", none, "{rel} results[{i}]");
            // ruleIndex points at the rule named by ruleId.
            let idx = res["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[idx]["id"], res["ruleId"]);
            // The location is the entry's line in the report file.
            let line = res["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap() as usize;
            let at = text.lines().nth(line - 1).unwrap();
            let id = e.threat.as_deref().or(e.entry_point.as_deref()).unwrap();
            assert!(at.contains(id), "{rel} results[{i}] line {line}: {at:?}");
            assert!(res["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == m);
        }
        for (j, f) in r.extra_findings.iter().enumerate() {
            let res = &results[r.results.len() + j];
            assert_eq!(res["ruleId"], "extra-finding");
            assert_eq!(res["properties"]["scope"], "out-of-declared-scope");
            assert_eq!(res["properties"]["severity"], f.severity.as_str());
        }
        assert_eq!(
            run["properties"]["coverage"]["threats"]["total"],
            loaded.model.threats.len()
        );
    }
}

#[test]
fn severities_map_to_levels() {
    let r = report(POOR);
    let s = to_sarif(&r, None, None);
    for (i, e) in r.results.iter().enumerate() {
        let Some(f) = &e.finding else { continue };
        let want = match f.severity {
            warden_report::Severity::Critical | warden_report::Severity::High => "error",
            warden_report::Severity::Medium => "warning",
            _ => "note",
        };
        assert_eq!(s["runs"][0]["results"][i]["level"], want);
        assert!(s["runs"][0]["results"][i].get("locations").is_none());
    }
}

/// The official SARIF 2.1.0 schema (tests/sarif-schema/, with its licence).
fn sarif_validator() -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sarif-schema/sarif-schema-2.1.0.json");
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

#[test]
fn exports_are_valid_sarif_2_1_0() {
    let v = sarif_validator();
    for (rel, m) in [
        (GOOD, "models/good-camera.yaml"),
        (POOR, "models/poor-camera.yaml"),
    ] {
        let r = report(rel);
        let (loaded, bytes) = model(m);
        let c = check(&r, &loaded.model, &bytes);
        let text = String::from_utf8(read(rel)).unwrap();
        let lines = warden_model::load::LineIndex::new(&text);
        for doc in [
            to_sarif(&r, None, None),
            to_sarif(
                &r,
                Some((
                    &loaded.model,
                    &c,
                    Some(warden_report::sarif::Located {
                        uri: m,
                        lines: &loaded.lines,
                    }),
                )),
                Some(warden_report::sarif::Located {
                    uri: rel,
                    lines: &lines,
                }),
            ),
        ] {
            let errors: Vec<String> = v
                .iter_errors(&doc)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{rel}: {errors:#?}");
        }
    }
    // Not vacuous: a kind SARIF does not have is refused.
    let mut bad = to_sarif(&report(GOOD), None, None);
    bad["runs"][0]["results"][0]["kind"] = "skipped".into();
    assert!(!v.is_valid(&bad));
}
