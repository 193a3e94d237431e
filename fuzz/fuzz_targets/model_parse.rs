//! A device threat model (YAML or JSON, any bytes): load it, and for a model
//! that loads, lint it, render the page and label, write SARIF, and write it
//! back as JSON and YAML. Refusals must name a place or the whole file; a
//! loaded model must pass its own validation, lint findings must point at a
//! line of the input and name a known rule, both round trips must give the
//! same model, and the page must contain no markup from the model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_model::{lint, load, render, report, to_json, to_yaml, MAX_INPUT_BYTES};

fuzz_target!(|data: &[u8]| {
    let loaded = match load(data) {
        Ok(l) => l,
        Err(errors) => {
            assert!(!errors.0.is_empty());
            for e in &errors.0 {
                assert!(!e.message.is_empty());
                let shown = report::printable(&e.to_string());
                assert!(!shown.chars().any(char::is_control), "{shown:?}");
                assert!(e.line.is_none_or(|l| l >= 1), "{e}");
                let _ = e.to_string();
            }
            return;
        }
    };
    assert!(warden_model::load::validate(&loaded.model).is_empty());
    let text = std::str::from_utf8(data).expect("a loaded model is UTF-8");
    // Lines as YAML (and SARIF) count them: CR, LF and CRLF each end one.
    let lines =
        text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count() + 1;
    let today = time::Date::from_calendar_date(2026, time::Month::November, 25).unwrap();
    let findings = lint(&loaded, today);
    for f in &findings {
        assert!(warden_model::lint::rule(f.rule).is_some(), "{}", f.rule);
        assert!(
            f.line >= 1 && f.line <= lines + 1,
            "line {} of {lines}",
            f.line
        );
    }
    let _ = report::sarif("fuzz.yaml", &findings);
    // The text report goes to terminals and CI logs: no control character
    // from the model may reach them.
    let text_report = report::text("fuzz.yaml", &loaded.model, &findings);
    assert!(
        !text_report.chars().any(|c| c.is_control() && c != '\n'),
        "{text_report:?}"
    );

    let json = to_json(&loaded.model);
    if json.len() <= MAX_INPUT_BYTES {
        let again =
            load(json.as_bytes()).unwrap_or_else(|e| panic!("own JSON refused: {e}\n{json}"));
        assert_eq!(again.model, loaded.model, "JSON round trip");
    }
    let yaml = to_yaml(&loaded.model);
    if yaml.len() <= MAX_INPUT_BYTES {
        let again =
            load(yaml.as_bytes()).unwrap_or_else(|e| panic!("own YAML refused: {e}\n{yaml}"));
        assert_eq!(again.model, loaded.model, "YAML round trip");
    }

    // Markup comes only from the renderer: with every model string escaped,
    // no '<' in the page can start a script, an image or an event handler.
    let page = render::html(&loaded.model, &findings, today).to_ascii_lowercase();
    for bad in ["<script", "<img", "<iframe", "<object", "javascript:"] {
        assert!(!page.contains(bad), "{bad} in the page");
    }
    let label = render::svg(&loaded.model, &findings, today);
    assert!(label.starts_with("<svg ") && label.ends_with("</svg>\n"));
    assert!(!label.to_ascii_lowercase().contains("<script"));
});
