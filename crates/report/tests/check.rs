//! Reports against their models: coverage, hash, ids, declared scope.

mod common;

use common::*;
use warden_report::{check, Level, Status};

#[test]
fn negative_report_covers_everything_and_says_so() {
    let r = report(GOOD);
    let (m, bytes) = model("models/good-camera.yaml");
    let c = check(&r, &m.model, &bytes);
    assert!(!c.model_changed);
    assert_eq!(c.errors(), 0, "{:?}", c.problems);
    assert_eq!(c.warnings(), 0, "{:?}", c.problems);
    assert!(c.findings.is_empty());
    // Counted from the files, not hard-coded: every threat but the one said
    // not tested, every entry point, nothing found.
    let not_tested: Vec<_> = r
        .results
        .iter()
        .filter(|e| e.result == warden_report::Outcome::NotTested)
        .map(|e| e.threat.clone().unwrap())
        .collect();
    assert_eq!(not_tested, ["T6"]);
    assert_eq!(c.threats.total, m.model.threats.len());
    assert_eq!(c.threats.tested, m.model.threats.len() - 1);
    assert_eq!(c.threats.no_finding, c.threats.tested);
    assert_eq!(c.threats.not_tested, 1);
    assert_eq!(c.entry_points.total, m.model.entry_points.len());
    assert_eq!(c.entry_points.tested, m.model.entry_points.len());
    assert_eq!(c.entry_points.with_findings, 0);
    // The summary names exactly what was covered.
    for t in &m.model.threats {
        let clean = t.id != "T6";
        assert!(
            c.summary.contains(&format!("{} ({})", t.id, t.title)),
            "{}: {}",
            t.id,
            c.summary
        );
        let status = c.targets.iter().find(|x| x.id == t.id).unwrap().status;
        assert_eq!(status == Status::NoFinding, clean);
    }
    assert!(
        c.summary.contains("Tested, nothing found: T1"),
        "{}",
        c.summary
    );
    assert!(c.summary.contains("Not tested: T6"), "{}", c.summary);
    assert!(c.summary.contains("No findings."), "{}", c.summary);
}

#[test]
fn findings_report_marks_what_is_outside_the_declared_scope() {
    let r = report(POOR);
    let (m, bytes) = model("models/poor-camera.yaml");
    let c = check(&r, &m.model, &bytes);
    assert_eq!(c.errors(), 0, "{:?}", c.problems);
    let expected_findings =
        r.results.iter().filter(|e| e.finding.is_some()).count() + r.extra_findings.len();
    assert_eq!(c.findings.len(), expected_findings);
    let scope = |title_part: &str| {
        let f = c
            .findings
            .iter()
            .find(|f| f.finding.title.contains(title_part))
            .unwrap_or_else(|| panic!("no finding {title_part}"));
        (f.scope, f.scope_notes.join("; "))
    };
    // Under a declared threat, in scope.
    assert_eq!(scope("admin/admin").0, "in-declared-scope");
    // The P2P service is a component the model leaves out.
    let (s, why) = scope("P2P relay");
    assert_eq!(s, "out-of-declared-scope");
    assert!(why.contains("P2P cloud service"), "{why}");
    // The LAN attacker is declared out of scope.
    let (s, why) = scope("ONVIF");
    assert_eq!(s, "out-of-declared-scope");
    assert!(why.contains("\"lan\""), "{why}");
    // The extra finding maps to nothing in the model.
    let (s, why) = scope("Firmware update");
    assert_eq!(s, "out-of-declared-scope");
    assert!(why.contains("maps to no threat"), "{why}");
    let with = |threat: bool| {
        r.results
            .iter()
            .filter(|e| e.finding.is_some() && e.threat.is_some() == threat)
            .count()
    };
    assert_eq!(c.threats.with_findings, with(true));
    assert_eq!(c.entry_points.with_findings, with(false));
    assert_eq!(with(true) + with(false), 5);
    assert_eq!(c.entry_points.no_finding, 1);
    assert_eq!(c.entry_points.not_tested, 1);
    assert!(
        c.summary.contains("3 outside the model's declared scope"),
        "{}",
        c.summary
    );
}

#[test]
fn a_changed_model_is_an_error() {
    let r = report(GOOD);
    let (m, bytes) = model("models/good-camera.yaml");
    let mut changed = bytes.clone();
    changed.extend_from_slice(b"# one more comment\n");
    let c = check(&r, &m.model, &changed);
    assert!(c.model_changed);
    let p = c
        .problems
        .iter()
        .find(|p| p.path == "threat_model.sha256")
        .expect("hash problem");
    assert_eq!(p.level, Level::Error);
    assert!(p.message.contains("changed since the test"));
}

#[test]
fn unknown_ids_and_other_models_are_errors() {
    let bytes = edited(GOOD, |v| {
        v["results"][0]["threat"] = "T99".into();
        v["results"][7]["entry_point"] = "telnet".into();
    });
    let r = warden_report::load(&bytes).unwrap();
    let (m, mbytes) = model("models/good-camera.yaml");
    let c = check(&r, &m.model, &mbytes);
    let paths: Vec<&str> = c
        .problems
        .iter()
        .filter(|p| p.level == Level::Error)
        .map(|p| p.path.as_str())
        .collect();
    assert_eq!(paths, ["results[0].threat", "results[7].entry_point"]);
    // T1 and the cloud entry point lost their result: warned, counted as missing.
    assert_eq!(c.threats.missing, 1);
    assert_eq!(c.entry_points.missing, 1);

    // The negative report checked against another device's model.
    let (poor, pbytes) = model("models/poor-camera.yaml");
    let c = check(&report(GOOD), &poor.model, &pbytes);
    assert!(c.problems.iter().any(|p| p.path == "device"));
    assert!(c.problems.iter().any(|p| p.path == "threat_model"));
    assert!(c.model_changed);
}

#[test]
fn not_tested_together_with_a_result_is_contradictory() {
    let bytes = edited(GOOD, |v| {
        let mut dup = v["results"][5].clone();
        dup["threat"] = "T1".into();
        v["results"].as_array_mut().unwrap().push(dup);
    });
    let r = warden_report::load(&bytes).unwrap();
    let (m, mbytes) = model("models/good-camera.yaml");
    let c = check(&r, &m.model, &mbytes);
    assert!(
        c.problems
            .iter()
            .any(|p| p.level == Level::Error && p.message.contains("threat T1 is both")),
        "{:?}",
        c.problems
    );
}

#[test]
fn a_finding_under_a_threat_the_model_puts_out_of_scope_is_marked() {
    let bytes = edited(GOOD, |v| {
        v["results"][5] = serde_json::json!({
            "threat": "T6",
            "result": "finding",
            "finding": {
                "title": "Jamming stops recording without an alert",
                "severity": "low",
                "description": "d",
                "evidence": "e"
            }
        });
    });
    let r = warden_report::load(&bytes).unwrap();
    let (m, mbytes) = model("models/good-camera.yaml");
    let c = check(&r, &m.model, &mbytes);
    assert_eq!(c.findings.len(), 1);
    assert_eq!(c.findings[0].scope, "out-of-declared-scope");
    assert!(c.findings[0].scope_notes[0].contains("threat T6 out of scope"));
    assert!(c.summary.contains("1 finding (1 outside"), "{}", c.summary);
}

#[test]
fn firmware_the_model_does_not_list_is_a_warning() {
    let bytes = edited(GOOD, |v| v["device"]["firmware_version"] = "9.9".into());
    let r = warden_report::load(&bytes).unwrap();
    let (m, mbytes) = model("models/good-camera.yaml");
    let c = check(&r, &m.model, &mbytes);
    assert_eq!(c.errors(), 0);
    assert!(c
        .problems
        .iter()
        .any(|p| p.path == "device.firmware_version" && p.level == Level::Warning));
}

#[test]
fn the_page_view_carries_coverage_findings_and_scope() {
    let r = report(POOR);
    let (m, bytes) = model("models/poor-camera.yaml");
    let c = check(&r, &m.model, &bytes);
    let key = warden_report::KeyPair::from_seed([3; 32]);
    let v = warden_report::view(&r, &c, Some(&key.key_id()));
    assert_eq!(v.signed_by.as_deref(), Some(key.key_id().as_str()));
    assert_eq!(v.findings.len(), c.findings.len());
    assert_eq!(
        v.findings
            .iter()
            .filter(|f| f.out_of_scope.is_some())
            .count(),
        c.findings.iter().filter(|f| !f.in_declared_scope()).count()
    );
    assert_eq!(
        (v.threats_tested, v.threats_total),
        (c.threats.tested, c.threats.total)
    );
    assert_eq!(v.tested_clean, ["P2P cloud relay"]);
    assert_eq!(v.not_tested, ["UART console (115200 baud, root shell)"]);
    let unsigned = warden_report::view(&report(GOOD), &c, None);
    assert!(unsigned.signed_by.is_none());
}
