//! The format: the committed schema, the examples, round trips, refusals.

mod common;

use common::*;
use warden_report::{load, Outcome};

#[test]
fn committed_schema_is_what_the_code_generates() {
    let committed =
        std::fs::read_to_string(repo().join("docs/schema/test-report-v1.json")).unwrap();
    assert!(
        committed == warden_report::schema_text(),
        "docs/schema/test-report-v1.json is stale: run `warden report schema > docs/schema/test-report-v1.json`"
    );
}

#[test]
fn examples_are_valid_against_the_schema_and_refused_with_a_stray_field() {
    let validator = jsonschema::validator_for(&warden_report::schema()).expect("compiles");
    for rel in [GOOD, POOR] {
        let v = serde_json::to_value(report(rel)).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{rel}: {errors:?}");
        let mut stray = v.clone();
        stray["results"][0]["reson"] = serde_json::json!("typo");
        assert!(
            !validator.is_valid(&stray),
            "{rel}: the schema lets a typo through"
        );
        assert!(load(&serde_json::to_vec(&stray).unwrap()).is_err());
    }
}

#[test]
fn yaml_and_json_round_trip() {
    for rel in [GOOD, POOR] {
        let r = report(rel);
        let json = warden_report::to_json(&r);
        let from_json = load(json.as_bytes()).unwrap();
        assert_eq!(from_json, r, "{rel}: JSON");
        let yaml = warden_report::to_yaml(&from_json);
        let from_yaml = load(yaml.as_bytes()).unwrap();
        assert_eq!(from_yaml, r, "{rel}: YAML");
        assert!(!yaml.trim_start().starts_with('{'));
    }
}

type Edit = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn each_result_needs_its_own_fields() {
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "no-finding without tried",
            Box::new(|v| {
                v["results"][0].as_object_mut().unwrap().remove("tried");
            }),
            "results[0].tried",
        ),
        (
            "not-tested without reason",
            Box::new(|v| {
                v["results"][5].as_object_mut().unwrap().remove("reason");
            }),
            "results[5].reason",
        ),
        (
            "finding without finding",
            Box::new(|v| {
                v["results"][0]["result"] = "finding".into();
                v["results"][0].as_object_mut().unwrap().remove("tried");
                v["results"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("cves_checked");
            }),
            "results[0].finding",
        ),
        (
            "two targets",
            Box::new(|v| {
                v["results"][0]["entry_point"] = "cloud".into();
            }),
            "results[0]",
        ),
        (
            "no target",
            Box::new(|v| {
                v["results"][0].as_object_mut().unwrap().remove("threat");
            }),
            "results[0]",
        ),
        (
            "bad model hash",
            Box::new(|v| v["threat_model"]["sha256"] = "ABC".into()),
            "threat_model.sha256",
        ),
        (
            "bad CVE",
            Box::new(|v| v["results"][0]["cves_checked"] = serde_json::json!(["CVE-17-1"])),
            "results[0].cves_checked[0]",
        ),
        (
            "unknown result",
            Box::new(|v| v["results"][0]["result"] = "passed".into()),
            "results[0].result",
        ),
    ];
    for (what, edit, path) in cases {
        let bytes = edited(GOOD, |v| edit(v));
        let errs = load(&bytes).expect_err(what);
        assert!(
            errs.0.iter().any(|e| e.path == path),
            "{what}: expected an error at {path}, got {errs}"
        );
    }
}

#[test]
fn hostile_input_is_a_clear_error() {
    let big = vec![b' '; warden_report::MAX_INPUT_BYTES + 1];
    let e = load(&big).unwrap_err().to_string();
    assert!(e.contains("at most"), "{e}");
    for junk in [
        &b""[..],
        b"\xff\xfe\x00",
        b"{",
        b"[1,2]",
        b"format_version: 2\n",
        b"format_version: 1\n",
        b"a: &a [*a, *a]\nformat_version: 1",
        b"format_version: 1\ntester: !!binary AAAA",
    ] {
        assert!(load(junk).is_err(), "{:?}", String::from_utf8_lossy(junk));
    }
    let e = load(b"format_version: 2\n").unwrap_err().to_string();
    assert!(e.contains("format_version"), "{e}");
}

#[test]
fn skeleton_has_one_not_tested_entry_per_threat_and_entry_point() {
    for m in [
        "models/good-camera.yaml",
        "models/poor-camera.yaml",
        "models/hub.yaml",
    ] {
        let (loaded, bytes) = model(m);
        let r = warden_report::skeleton(&loaded.model, &bytes, date(2026, 11, 25));
        assert_eq!(
            r.results.len(),
            loaded.model.threats.len() + loaded.model.entry_points.len(),
            "{m}"
        );
        assert!(r.results.iter().all(|e| e.result == Outcome::NotTested));
        assert_eq!(r.threat_model.sha256, warden_report::sha256_hex(&bytes));
        // The skeleton is itself a valid report, and checks without errors.
        let back = load(warden_report::to_yaml(&r).as_bytes()).unwrap();
        let c = warden_report::check(&back, &loaded.model, &bytes);
        assert_eq!(c.errors(), 0, "{m}: {:?}", c.problems);
        assert!(
            c.problems
                .iter()
                .any(|p| p.message.contains("TODO placeholder")),
            "{m}: the placeholders are not mentioned"
        );
        assert_eq!(c.threats.tested + c.entry_points.tested, 0);
        assert_eq!(c.threats.not_tested, loaded.model.threats.len());
    }
}
