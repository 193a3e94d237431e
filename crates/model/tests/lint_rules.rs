//! Every rule has a passing and a failing fixture (tests/fixtures/<ID>/), the
//! failing one makes it fire and points at the offending line, the passing
//! one does not; and the example models say what they should.

mod common;

use common::*;
use warden_model::{lint::rule, Level, RULES};

#[test]
fn every_rule_has_a_passing_and_a_failing_fixture() {
    for r in RULES {
        let dir = fixtures().join(r.id);
        let (_, pass) = lint_file(&dir.join("pass.yaml"));
        let fired: Vec<_> = pass.iter().filter(|f| f.rule == r.id).collect();
        assert!(
            fired.is_empty(),
            "{} fired on its passing fixture: {fired:?}",
            r.id
        );

        let fail_path = dir.join("fail.yaml");
        let text = std::fs::read_to_string(&fail_path).unwrap();
        let (_, fail) = lint_file(&fail_path);
        let fired: Vec<_> = fail.iter().filter(|f| f.rule == r.id).collect();
        assert!(
            !fired.is_empty(),
            "{} did not fire on its failing fixture",
            r.id
        );

        // Each finding's line holds the deepest key of its path that the file has.
        let lines: Vec<&str> = text.lines().collect();
        for f in fired {
            let line = lines[f.line - 1];
            let keys: Vec<&str> = f
                .path
                .split(['.', '['])
                .filter(|s| !s.ends_with(']'))
                .collect();
            let present = keys.iter().rev().find(|k| text.contains(&format!("{k}:")));
            match present {
                Some(k)
                    if f.path.ends_with(']')
                        && f.path.rsplit('.').next().is_some_and(|l| l.starts_with(k)) =>
                {
                    assert!(
                        line.trim_start().starts_with('-'),
                        "{}: {} -> line {} {line:?}",
                        r.id,
                        f.path,
                        f.line
                    )
                }
                Some(k) => assert!(
                    line.contains(&format!("{k}:")) || line.trim_start().starts_with('-'),
                    "{}: {} -> line {} {line:?}",
                    r.id,
                    f.path,
                    f.line
                ),
                None => assert_eq!(f.line, 1, "{}: {}", r.id, f.path),
            }
        }
    }
}

#[test]
fn fixture_directories_match_the_rules() {
    let mut dirs: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("TM"))
        .collect();
    dirs.sort();
    let ids: Vec<String> = RULES.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(dirs, ids);
}

#[test]
fn rule_ids_are_unique_and_stable_in_shape() {
    let mut seen = std::collections::HashSet::new();
    for (i, r) in RULES.iter().enumerate() {
        assert_eq!(r.id, format!("TM{:03}", i + 1), "ids are TM001.. in order");
        assert!(seen.insert(r.name), "name {} used twice", r.name);
        assert!(rule(r.id).is_some());
        for p in r.provisions {
            assert!(
                p.starts_with("ETSI EN 303 645 5.")
                    || p.starts_with("UK PSTI Sch. 1 para ")
                    || p.starts_with("EU CRA ")
                    || p.starts_with("NIST IR 8259A "),
                "{}: provision {p:?} is not in a known form",
                r.id
            );
        }
    }
}

#[test]
fn the_theme_rules_are_errors() {
    // The device must not rely on its user: these fail, not warn.
    for (fixture, id) in [
        ("TM001", "TM001"),
        ("TM009", "TM009"),
        ("TM018", "TM018"),
        ("TM019", "TM019"),
    ] {
        let (_, f) = lint_file(&fixtures().join(fixture).join("fail.yaml"));
        assert!(
            f.iter().any(|f| f.rule == id && f.level == Level::Error),
            "{id} is not an error"
        );
    }
}

#[test]
fn example_models_say_what_they_should() {
    let by_name = |name: &str| lint_file(&repo().join("models").join(name)).1;
    let errors = |f: &[warden_model::Finding]| f.iter().filter(|f| f.level == Level::Error).count();

    let good = by_name("good-camera.yaml");
    assert_eq!(errors(&good), 0, "{good:?}");

    let poor = by_name("poor-camera.yaml");
    for id in [
        "TM001", "TM002", "TM004", "TM005", "TM007", "TM009", "TM010", "TM012", "TM013", "TM014",
        "TM015", "TM017", "TM018", "TM019", "TM026",
    ] {
        assert!(
            poor.iter().any(|f| f.rule == id && f.level == Level::Error),
            "poor camera: no {id} error"
        );
    }

    let plug = by_name("smart-plug.yaml");
    assert_eq!(errors(&plug), 0, "{plug:?}");
    assert!(
        plug.iter().any(|f| f.rule == "TM008"),
        "the plug has no anti-rollback"
    );

    let hub = by_name("hub.yaml");
    assert_eq!(
        hub.iter()
            .filter(|f| f.level == Level::Error)
            .map(|f| f.rule)
            .collect::<Vec<_>>(),
        ["TM018"],
        "the hub leaves unattended lock control on"
    );
}

#[test]
fn support_period_is_judged_by_the_given_date() {
    let loaded = load_file(&repo().join("models/smart-plug.yaml"));
    let before = warden_model::lint(&loaded, today());
    assert!(!before.iter().any(|f| f.rule == "TM010"));
    let later = time::Date::from_calendar_date(2029, time::Month::July, 1).unwrap();
    let after = warden_model::lint(&loaded, later);
    let f = after
        .iter()
        .find(|f| f.rule == "TM010")
        .expect("support ended");
    assert!(f.message.contains("2029-06-30"), "{}", f.message);
}

/// The rule table in docs/threat-models.md, one row per rule, as the code
/// states it (so the documentation cannot drift from the rules).
pub fn table_row(r: &warden_model::Rule) -> String {
    let provisions = if r.provisions.is_empty() {
        "— (warden's own)".to_string()
    } else {
        r.provisions.join("<br>")
    };
    format!(
        "| {} | `{}` | {} | {} | {} |",
        r.id, r.name, provisions, r.checks, r.why
    )
}

#[test]
fn docs_rule_table_matches_the_rules() {
    let doc = std::fs::read_to_string(repo().join("docs/threat-models.md")).unwrap();
    let missing: Vec<String> = RULES
        .iter()
        .map(|r| table_row(r))
        .filter(|row| !doc.contains(row.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/threat-models.md lacks these rows (or they changed):\n{}",
        missing.join("\n")
    );
}
