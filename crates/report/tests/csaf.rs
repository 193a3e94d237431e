//! CSAF 2.0 VEX export, validated against the official OASIS schema (copied
//! under tests/csaf-schema/ with its licence), the VEX profile's extra
//! requirements, and import of real advisories from the OASIS examples.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;
use warden_report::{check, import_csaf, to_csaf, Severity};

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/csaf-schema")
}

/// Resolves the CVSS schemas the CSAF schema references from the copies
/// beside it: no network.
struct LocalCvss;

impl jsonschema::Retrieve for LocalCvss {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = match uri.as_str() {
            "https://www.first.org/cvss/cvss-v2.0.json" => "cvss-v2.0.json",
            "https://www.first.org/cvss/cvss-v3.0.json" => "cvss-v3.0.json",
            "https://www.first.org/cvss/cvss-v3.1.json" => "cvss-v3.1.json",
            other => return Err(format!("no local copy of {other}").into()),
        };
        Ok(serde_json::from_slice(&std::fs::read(
            schema_dir().join(name),
        )?)?)
    }
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_slice(&std::fs::read(schema_dir().join("csaf_json_schema.json")).unwrap())
            .unwrap();
    jsonschema::options()
        .with_retriever(LocalCvss)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the CSAF schema compiles")
}

fn exported(rel: &str, model_rel: &str) -> Value {
    let r = report(rel);
    let (m, bytes) = model(model_rel);
    let c = check(&r, &m.model, &bytes);
    to_csaf(&r, Some((&m.model, &c))).unwrap()
}

fn assert_schema_valid(doc: &Value, what: &str) {
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

#[test]
fn the_schema_catches_a_broken_document() {
    // The validator is not vacuous: a document missing what CSAF requires fails.
    let mut doc = exported(POOR, "models/poor-camera.yaml");
    doc["document"]["tracking"]
        .as_object_mut()
        .unwrap()
        .remove("revision_history");
    assert!(!validator().is_valid(&doc));
    let mut doc = exported(POOR, "models/poor-camera.yaml");
    doc["vulnerabilities"][0]["cve"] = "CVE-1".into();
    assert!(!validator().is_valid(&doc));
}

#[test]
fn exports_are_valid_csaf_2_0() {
    for (rel, m) in [
        (GOOD, "models/good-camera.yaml"),
        (POOR, "models/poor-camera.yaml"),
    ] {
        assert_schema_valid(&exported(rel, m), rel);
        // Without the model too.
        assert_schema_valid(&to_csaf(&report(rel), None).unwrap(), rel);
    }
    // The official examples validate with the same validator (the setup is right).
    for ex in ["cisco-sa-20180328-smi2.json", "rhsa-2021_5217.json"] {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/csaf-examples")
            .join(ex);
        let doc: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        assert_schema_valid(&doc, ex);
    }
}

/// The VEX profile (CSAF 2.0 section 4.5) beyond the schema.
fn assert_vex_profile(doc: &Value, what: &str) {
    assert_eq!(doc["document"]["category"], "csaf_vex", "{what}");
    assert_eq!(doc["document"]["csaf_version"], "2.0");
    let t = &doc["document"]["tracking"];
    for f in [
        "id",
        "version",
        "status",
        "initial_release_date",
        "current_release_date",
    ] {
        assert!(t[f].is_string(), "{what}: tracking.{f}");
    }
    assert!(!t["revision_history"].as_array().unwrap().is_empty());
    for f in ["category", "name", "namespace"] {
        assert!(
            doc["document"]["publisher"][f].is_string(),
            "{what}: publisher.{f}"
        );
    }
    assert!(doc["product_tree"].is_object());
    let products = doc["product_tree"].to_string();
    for v in doc["vulnerabilities"].as_array().unwrap() {
        assert!(
            v.get("cve").is_some() || v.get("ids").is_some(),
            "{what}: {v}"
        );
        assert!(!v["notes"].as_array().unwrap().is_empty(), "{what}");
        let status = v["product_status"].as_object().unwrap();
        assert!(!status.is_empty());
        for ids in status.values() {
            for id in ids.as_array().unwrap() {
                assert!(
                    products.contains(id.as_str().unwrap()),
                    "{what}: {id} not in the tree"
                );
            }
        }
        if status.contains_key("known_affected") {
            assert!(
                !v["remediations"].as_array().unwrap().is_empty(),
                "{what}: known_affected needs an action statement"
            );
        }
        if status.contains_key("known_not_affected") {
            let flag = v.get("flags").is_some();
            let impact = v["threats"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["category"] == "impact"));
            assert!(
                flag || impact,
                "{what}: known_not_affected needs an impact statement"
            );
        }
    }
}

#[test]
fn exports_meet_the_vex_profile_and_map_results() {
    let poor = exported(POOR, "models/poor-camera.yaml");
    assert_vex_profile(&poor, "poor");
    let r = report(POOR);
    let vulns = poor["vulnerabilities"].as_array().unwrap();
    let affected = vulns
        .iter()
        .filter(|v| v["product_status"].get("known_affected").is_some())
        .count();
    assert_eq!(
        affected,
        r.results.iter().filter(|e| e.finding.is_some()).count() + r.extra_findings.len()
    );
    // The out-of-scope mark travels with the finding.
    let p2p = vulns
        .iter()
        .find(|v| v["title"].as_str().unwrap().contains("P2P relay"))
        .unwrap();
    assert!(
        p2p["notes"].to_string().contains("out-of-declared-scope"),
        "{p2p}"
    );
    // CWE with its official name.
    assert_eq!(p2p["cwe"]["id"], "CWE-306");
    assert_eq!(
        p2p["cwe"]["name"],
        "Missing Authentication for Critical Function"
    );

    let good = exported(GOOD, "models/good-camera.yaml");
    assert_vex_profile(&good, "good");
    let vulns = good["vulnerabilities"].as_array().unwrap();
    assert!(vulns
        .iter()
        .all(|v| v["product_status"].get("known_not_affected").is_some()));
    // The CVE checked for in T1 is a not-affected statement.
    let cve = vulns.iter().find(|v| v["cve"] == "CVE-2017-7921").unwrap();
    assert!(cve["threats"][0]["details"]
        .as_str()
        .unwrap()
        .contains("Nothing was found"));
    // T2's no-finding carries the tester's VEX justification as a flag.
    let t2 = vulns
        .iter()
        .find(|v| {
            v["ids"][0]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("T2 "))
        })
        .unwrap();
    assert_eq!(t2["flags"][0]["label"], "inline_mitigations_already_exist");
    // One statement per CWE of each threat tested clean, plus the CVE; T6 (not tested) none.
    let (m, _) = model("models/good-camera.yaml");
    let expected: usize = m
        .model
        .threats
        .iter()
        .filter(|t| t.id != "T6")
        .map(|t| t.cwe.len())
        .sum::<usize>()
        + 1;
    assert_eq!(vulns.len(), expected);
    // The product carries the image hash.
    assert!(good["product_tree"]
        .to_string()
        .contains(report(GOOD).device.image_sha256.as_deref().unwrap()));
}

#[test]
fn import_reads_real_advisories() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/csaf-examples");
    let bytes = std::fs::read(dir.join("cisco-sa-20180328-smi2.json")).unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let i = import_csaf(&bytes).unwrap();
    assert_eq!(i.advisory_id, doc["document"]["tracking"]["id"]);
    assert_eq!(i.vendor.as_deref(), Some("Cisco"));
    let n = doc["vulnerabilities"].as_array().unwrap().len();
    assert_eq!(i.findings.len() + i.skipped.len(), n);
    let f = &i.findings[0];
    assert_eq!(
        f.cve.as_ref().map(|c| c.as_str()),
        doc["vulnerabilities"][0]["cve"].as_str()
    );
    // Cisco scores it CVSS 3 9.8: critical.
    assert_eq!(f.severity, Severity::Critical);

    let bytes = std::fs::read(dir.join("rhsa-2021_5217.json")).unwrap();
    let i = import_csaf(&bytes).unwrap();
    assert!(!i.findings.is_empty());
    assert!(i.findings.iter().all(|f| f.cve.is_some()));

    // Its own export imports back: the findings, not the clean results.
    let poor = serde_json::to_vec(&exported(POOR, "models/poor-camera.yaml")).unwrap();
    let back = import_csaf(&poor).unwrap();
    let r = report(POOR);
    assert_eq!(
        back.findings.len(),
        r.results.iter().filter(|e| e.finding.is_some()).count() + r.extra_findings.len()
    );
    let good = serde_json::to_vec(&exported(GOOD, "models/good-camera.yaml")).unwrap();
    let back = import_csaf(&good).unwrap();
    assert!(back.findings.is_empty());
    assert!(!back.skipped.is_empty());
}

#[test]
fn import_refuses_hostile_input() {
    let big = vec![b' '; warden_report::MAX_CSAF_BYTES + 1];
    assert!(matches!(
        import_csaf(&big),
        Err(warden_report::ImportError::TooLarge { .. })
    ));
    for junk in [
        &b"{"[..],
        b"[]",
        b"{\"document\":{}}",
        b"{\"document\":{\"csaf_version\":\"1.2\",\"tracking\":{\"id\":\"x\"}}}",
        b"\xff",
    ] {
        assert!(
            import_csaf(junk).is_err(),
            "{}",
            String::from_utf8_lossy(junk)
        );
    }
    // Wrong types inside a plausible document: no panic, nothing imported.
    let odd = br#"{"document":{"csaf_version":"2.0","tracking":{"id":"x"}},
        "product_tree":{"branches":7},
        "vulnerabilities":[{"cve":5,"product_status":{"known_affected":"all"},"scores":"x"},3]}"#;
    let i = import_csaf(odd).unwrap();
    assert!(i.findings.is_empty());
    assert_eq!(i.skipped.len(), 2);
}

#[test]
fn a_report_with_nothing_to_state_is_refused_not_emitted_invalid() {
    // Only not-tested results, or clean results naming no CVE without the
    // model: CSAF needs at least one vulnerability, so no document.
    let (m, bytes) = model("models/good-camera.yaml");
    let skeleton = warden_report::skeleton(&m.model, &bytes, date(2026, 11, 25));
    let c = check(&skeleton, &m.model, &bytes);
    assert_eq!(
        to_csaf(&skeleton, Some((&m.model, &c))).unwrap_err(),
        warden_report::NoVexStatements { with_model: true }
    );
    let mut clean = report(GOOD);
    for e in &mut clean.results {
        e.cves_checked.clear();
    }
    let e = to_csaf(&clean, None).unwrap_err();
    assert!(e.to_string().contains("--model"), "{e}");
    // With the model the threats' CWEs make it expressible, and valid.
    let c = check(&clean, &m.model, &bytes);
    assert_schema_valid(&to_csaf(&clean, Some((&m.model, &c))).unwrap(), "clean");
}

type Edit = Box<dyn Fn(&mut warden_report::Report)>;

#[test]
fn variants_stay_valid_csaf() {
    // The corners of the mapping: a repeated CVE, a CWE outside warden's
    // table, no image hash, no tester URL (namespace from an https contact),
    // no CVE at all, tester's notes.
    let (m, bytes) = model("models/poor-camera.yaml");
    let edits: Vec<(&str, Edit)> = vec![
        (
            "repeated CVE",
            Box::new(|r| {
                let cve = warden_report::CveId::try_from("CVE-2026-10001".to_string()).unwrap();
                for e in &mut r.results {
                    if let Some(f) = &mut e.finding {
                        f.cve = Some(cve.clone());
                    }
                }
            }),
        ),
        (
            "unknown CWE",
            Box::new(|r| {
                r.extra_findings[0].cwe =
                    Some(warden_model::model::CweId::try_from("CWE-99999".to_string()).unwrap());
            }),
        ),
        (
            "no image hash, https contact",
            Box::new(|r| {
                r.device.image_sha256 = None;
                r.tester.url = None;
                r.tester.organisation = None;
                r.tester.contact = "https://lab.example/contact".into();
                r.notes = Some("Retested after the vendor's reply.".into());
                r.id = None;
            }),
        ),
    ];
    for (what, edit) in edits {
        let mut r = report(POOR);
        edit(&mut r);
        let r = warden_report::load(warden_report::to_json(&r).as_bytes()).unwrap();
        let c = check(&r, &m.model, &bytes);
        let doc = to_csaf(&r, Some((&m.model, &c))).unwrap();
        assert_schema_valid(&doc, what);
        assert_vex_profile(&doc, what);
        let cves: Vec<&str> = doc["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["cve"].as_str())
            .collect();
        let mut unique = cves.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(cves.len(), unique.len(), "{what}: a CVE repeated");
    }
}
