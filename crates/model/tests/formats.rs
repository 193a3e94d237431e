//! YAML <-> JSON round trips, the committed schema, and refusing bad input.

mod common;

use common::*;
use warden_model::{lint, load, to_json, to_yaml, Syntax, MAX_INPUT_BYTES};

#[test]
fn yaml_json_round_trips_for_every_example_and_fixture() {
    let mut files = examples();
    for r in warden_model::RULES {
        files.push(fixtures().join(r.id).join("pass.yaml"));
        files.push(fixtures().join(r.id).join("fail.yaml"));
    }
    assert!(files.len() >= 54);
    for path in files {
        let yaml = load_file(&path);
        assert_eq!(yaml.syntax, Syntax::Yaml);
        let json_text = to_json(&yaml.model);
        let json = load(json_text.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(json.syntax, Syntax::Json);
        assert_eq!(
            json.model,
            yaml.model,
            "{}: YAML -> JSON changed the model",
            path.display()
        );
        let yaml2 = load(to_yaml(&json.model).as_bytes()).unwrap();
        assert_eq!(
            yaml2.model,
            yaml.model,
            "{}: JSON -> YAML changed the model",
            path.display()
        );
        // The same findings whichever syntax (lines differ, rules and paths do not).
        let key = |f: &warden_model::Finding| (f.rule, f.level, f.path.clone(), f.message.clone());
        let a: Vec<_> = lint(&yaml, today()).iter().map(key).collect();
        let b: Vec<_> = lint(&json, today()).iter().map(key).collect();
        assert_eq!(a, b, "{}", path.display());
    }
}

#[test]
fn json_findings_point_at_json_lines() {
    let yaml = load_file(&repo().join("models/poor-camera.yaml"));
    let text = to_json(&yaml.model);
    let json = load(text.as_bytes()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let f = lint(&json, today());
    let debug = f.iter().find(|f| f.rule == "TM015").unwrap();
    assert!(
        lines[debug.line - 1].contains("\"state\""),
        "{:?}",
        lines[debug.line - 1]
    );
}

#[test]
fn committed_schema_is_what_the_code_generates() {
    let committed =
        std::fs::read_to_string(repo().join("docs/schema/threat-model-v1.json")).unwrap();
    assert!(
        committed == warden_model::schema_text(),
        "docs/schema/threat-model-v1.json is stale: run `warden model schema > docs/schema/threat-model-v1.json`"
    );
}

#[test]
fn schema_refuses_unknown_properties_everywhere() {
    let schema = warden_model::schema();
    let defs = schema["$defs"].as_object().unwrap();
    let mut objects = 0;
    for (name, def) in defs.iter().chain(
        [("ThreatModel".to_string(), schema.clone())]
            .iter()
            .map(|(k, v)| (k, v)),
    ) {
        if def["type"] == "object" {
            objects += 1;
            assert_eq!(
                def["additionalProperties"], false,
                "{name} accepts unknown properties"
            );
        }
    }
    assert!(objects >= 20, "{objects}");
    assert_eq!(
        schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| *v == "format_version")
            .count(),
        1
    );
}

fn error_of(text: &str) -> String {
    load(text.as_bytes())
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let e = error_of("format_version: 1\nidentity:\n  vendor: A\n  model: B\nbaseline:\n  updates:\n    mechanism: automatic\n    automatic_by_defualt: true\n");
    assert!(
        e.contains("baseline.updates") && e.contains("automatic_by_defualt"),
        "{e}"
    );
    let e = error_of(
        r#"{"format_version": 1, "identity": {"vendor": "A", "model": "B"}, "entry_points": [{"id": "x", "name": "x", "kind": "radio", "exposure": "local_radio", "state": "enabled", "logins": [{"mechanism": "pin", "credential": "shared_default", "pasword": "1234"}]}]}"#,
    );
    assert!(
        e.contains("entry_points[0].logins[0]") && e.contains("pasword"),
        "{e}"
    );
}

#[test]
fn bad_values_are_refused_with_their_path() {
    let e = error_of("format_version: 1\nidentity: {vendor: A, model: B}\nbaseline:\n  support: {security_updates_until: 2030-02-30}\n");
    assert!(
        e.contains("baseline.support.security_updates_until") && e.contains("not a date"),
        "{e}"
    );
    let e = error_of("format_version: 1\nidentity: {vendor: A, model: B}\nthreats:\n  - {id: T1, title: x, status: open, cwe: [CWE-x]}\n");
    assert!(
        e.contains("threats[0].cwe[0]") && e.contains("not a CWE id"),
        "{e}"
    );
    let e = error_of("format_version: 1\nidentity:\n  vendor: A\n  model: B\n  firmware:\n    - {version: '1', image_sha256: ABC}\n");
    assert!(
        e.contains("identity.firmware[0].image_sha256") && e.contains("line 6"),
        "{e}"
    );
    let e = error_of("format_version: 1\nidentity: {vendor: A, model: B}\nnetwork:\n  flows:\n    - {direction: from_device, protocol: tcp, dns_name: '*.evil', purpose: x}\n");
    assert!(e.contains("network.flows[0].dns_name"), "{e}");
}

#[test]
fn identifiers_are_checked() {
    let with = |field: &str, value: &str| {
        format!("format_version: 1\nidentity: {{vendor: A, model: B, {field}: \"{value}\"}}\n")
    };
    for (field, value) in [
        ("cpe", "cpe:/h:acme:cam:1"),
        ("cpe", "cpe:2.3:h:acme:cam"),
        ("purl", "acme/cam@1"),
        ("mud_url", "http://mud.example/cam.json"),
        ("mud_url", "https://mud.example/a b.json"),
    ] {
        let e = error_of(&with(field, value));
        assert!(
            e.contains(&format!("identity.{field} (line 2)")),
            "{field}={value}: {e}"
        );
    }
    for (field, value) in [
        ("cpe", "cpe:2.3:h:acme:cam:1.0:*:*:*:*:*:*:*"),
        ("purl", "pkg:generic/acme/cam-fw@1.0"),
        ("mud_url", "https://mud.example/cam.json"),
    ] {
        assert!(
            load(with(field, value).as_bytes()).is_ok(),
            "{field}={value}"
        );
    }
}

#[test]
fn format_version_is_checked_first() {
    assert!(error_of("identity: {vendor: A, model: B}\n").contains("format_version"));
    let e = error_of("format_version: 2\nidentity: {vendor: A, model: B}\nnew_section_of_v2: {}\n");
    assert!(
        e.contains("format_version") && e.contains("2 is not supported"),
        "{e}"
    );
}

#[test]
fn oversized_binary_and_hostile_yaml_are_refused_quickly() {
    let big = format!("format_version: 1\n# {}\n", "x".repeat(MAX_INPUT_BYTES));
    assert!(error_of(&big).contains("at most"));
    assert!(load(&[0xff, 0xfe, 0x00])
        .unwrap_err()
        .to_string()
        .contains("UTF-8"));
    // Billion laughs: refused, and quickly (serde_norway does not follow
    // aliases in ignored content and caps alias jumps in typed content).
    let mut bomb = String::from("format_version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let started = std::time::Instant::now();
    assert!(load(bomb.as_bytes()).is_err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Deep nesting.
    let deep = format!(
        "format_version: 1\nidentity: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(load(deep.as_bytes()).is_err());
    // Two documents.
    assert!(load(b"format_version: 1\n---\nformat_version: 1\n").is_err());
}

/// The published schema describes what the code reads: every example and
/// fixture (as plain YAML values, and as warden's JSON)
/// validates against docs/schema/threat-model-v1.json, and the same
/// mistakes the loader refuses are refused by the schema.
#[test]
fn examples_validate_against_the_published_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/schema/threat-model-v1.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let mut files = examples();
    for r in warden_model::RULES {
        files.push(fixtures().join(r.id).join("pass.yaml"));
        files.push(fixtures().join(r.id).join("fail.yaml"));
    }
    for path in &files {
        // The file as an editor with the schema sees it (plain YAML values:
        // an unquoted `version: 2.4` is a number there, not a string) ...
        let raw: serde_json::Value =
            serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        // ... and as warden writes it.
        let loaded = load_file(path);
        let written: serde_json::Value = serde_json::from_str(&to_json(&loaded.model)).unwrap();
        for (form, value) in [("as written", &raw), ("as warden writes it", &written)] {
            let errors: Vec<String> = validator
                .iter_errors(value)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{} {form}: {errors:?}", path.display());
        }
    }
    // An unquoted version is a number to a YAML tool (warden reads it as text).
    let unquoted = format!(
        "format_version: 1\nidentity:\n  vendor: A\n  model: B\n  firmware:\n    - version: 2.4\n      image_sha256: \"{}\"\n",
        "a".repeat(64)
    );
    assert!(load(unquoted.as_bytes()).is_ok());
    let raw: serde_json::Value = serde_norway::from_str(&unquoted).unwrap();
    assert!(
        !validator.is_valid(&raw),
        "the as-written check would miss an unquoted version"
    );
    // Mistakes: an unknown field, a misspelt claim, a bad CWE id, a wrong enum value.
    let base: serde_json::Value =
        serde_json::from_str(&to_json(&load_file(&repo().join("models/hub.yaml")).model)).unwrap();
    type Break = fn(&mut serde_json::Value);
    let broken: [(&str, Break); 4] = [
        ("unknown field", |v| v["identity"]["colour"] = "red".into()),
        ("misspelt claim", |v| {
            v["baseline"]["updates"]["automatic_by_defualt"] = true.into()
        }),
        ("bad CWE", |v| {
            v["threats"][0]["cwe"] = serde_json::json!(["CWE-x"])
        }),
        ("bad enum", |v| {
            v["network"]["port_mapping"] = "sometimes".into()
        }),
    ];
    for (what, f) in broken {
        let mut v = base.clone();
        f(&mut v);
        assert!(
            !validator.is_valid(&v),
            "the schema accepts a model with a {what}"
        );
        assert!(
            load(serde_json::to_string(&v).unwrap().as_bytes()).is_err(),
            "the loader accepts a {what}"
        );
    }
}
