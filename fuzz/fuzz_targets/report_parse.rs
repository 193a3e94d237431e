//! A security test report on hostile bytes (crates/report,
//! docs/test-reports.md): `load` (YAML or JSON), the check against a shipped
//! model, the CSAF and SARIF exports, the consumer page's section, signed
//! envelopes and CSAF import. Nothing may panic; what loads must round-trip
//! and add up; an envelope is never valid under a key that did not sign it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_report::{check, load, Status};

const MODEL: &[u8] = include_bytes!("../../models/poor-camera.yaml");

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = load(data) {
        assert!(data.len() <= warden_report::MAX_INPUT_BYTES);
        assert!(warden_report::load::validate(&r).is_empty());
        let json = warden_report::to_json(&r);
        assert_eq!(load(json.as_bytes()).unwrap(), r);
        let yaml = warden_report::to_yaml(&r);
        assert_eq!(load(yaml.as_bytes()).unwrap(), r);

        let model = warden_model::load(MODEL).unwrap().model;
        let c = check(&r, &model, MODEL);
        for cov in [&c.threats, &c.entry_points] {
            assert_eq!(cov.tested + cov.not_tested + cov.missing, cov.total);
            assert_eq!(cov.with_findings + cov.no_finding, cov.tested);
        }
        assert_eq!(
            c.targets.len(),
            model.threats.len() + model.entry_points.len()
        );
        assert_eq!(
            c.findings.len(),
            r.results.iter().filter(|e| e.finding.is_some()).count() + r.extra_findings.len()
        );
        // Extra findings are always outside the declared scope.
        for f in c.findings.iter().filter(|f| f.target.is_none()) {
            assert!(!f.in_declared_scope());
        }
        assert_eq!(
            c.targets
                .iter()
                .filter(|t| t.status == Status::Missing)
                .count(),
            c.threats.missing + c.entry_points.missing
        );
        match warden_report::to_csaf(&r, Some((&model, &c))) {
            Ok(csaf) => {
                assert_eq!(csaf["document"]["category"], "csaf_vex");
                assert!(!csaf["vulnerabilities"].as_array().unwrap().is_empty());
            }
            // Refused only when there is nothing to state.
            Err(_) => assert!(c.findings.is_empty()),
        }
        let sarif = warden_report::to_sarif(&r, Some((&model, &c, None)), None);
        assert_eq!(
            sarif["runs"][0]["results"].as_array().unwrap().len(),
            r.results.len() + r.extra_findings.len()
        );
        let view = warden_report::view(&r, &c, None);
        let page = warden_model::render::html_with_reports(
            &model,
            &[],
            time::Date::from_calendar_date(2026, time::Month::November, 25).unwrap(),
            &[view],
        );
        for bad in ["<script", "<img", "<iframe", "<object", "javascript:"] {
            assert!(!page.contains(bad), "{bad} in the page");
        }
    }

    // Never valid under a key that did not sign it.
    let k = warden_report::KeyPair::from_seed([7; 32]);
    assert!(warden_report::verify_envelope(data, &[k.public()]).is_err());

    if let Ok(i) = warden_report::import_csaf(data) {
        assert!(data.len() <= warden_report::MAX_CSAF_BYTES);
        assert!(i.findings.len() <= warden_report::csaf::MAX_CSAF_VULNERABILITIES);
        // What import makes is a usable report's extra findings.
        let model = warden_model::load(MODEL).unwrap();
        let mut r = warden_report::skeleton(&model.model, MODEL, time::Date::MIN);
        r.extra_findings = i.findings;
        let text = warden_report::to_json(&r);
        if text.len() <= warden_report::MAX_INPUT_BYTES {
            load(text.as_bytes()).unwrap();
        }
    }
});
