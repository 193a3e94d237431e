//! The page and label escape everything from the model: a hostile model
//! cannot add an element or an attribute, nor a `javascript:` link.

mod common;

use common::*;
use warden_model::model::{ThreatModel, VulnerabilityDisclosure};
use warden_model::render::{html, svg};

const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'><svg onload=alert(1)>",
    "]]><!-- --><style>*{display:none}</style>",
    "&lt;b&gt; already escaped &amp; still text",
    "\u{202e}reversed\u{0007}bell",
];

/// Every string the renderer may show, replaced by `f(original)`.
fn map_strings(m: &mut ThreatModel, f: &dyn Fn(usize) -> String) {
    let mut n = 0;
    let mut next = || {
        n += 1;
        f(n)
    };
    let id = &mut m.identity;
    id.vendor = next();
    id.model = next();
    id.summary = Some(next());
    id.hardware_revision = Some(next());
    for fw in &mut id.firmware {
        fw.version = next();
    }
    for t in &mut m.threats {
        t.title = next();
        t.justification = Some(next());
    }
    for a in &mut m.attackers.out_of_scope {
        a.description = next();
        a.justification = Some(next());
    }
    for e in &mut m.entry_points {
        e.name = next();
        for l in &mut e.logins {
            l.user = Some(next());
        }
    }
    for d in &mut m.baseline.user_decisions {
        d.setting = next();
        d.description = next();
        d.default = next();
    }
    if let Some(d) = &mut m.baseline.data_deletion {
        d.cloud_data = Some(next());
    }
    for f in &mut m.network.flows {
        f.purpose = next();
    }
}

fn check(hostile: &str, benign: &str) {
    assert_eq!(
        tags(hostile),
        tags(benign),
        "the hostile model changed the markup"
    );
    let lower = hostile.to_lowercase();
    for bad in ["<script", "<img", "<svg onload", "<style>*", "javascript:"] {
        assert!(!lower.contains(bad), "output contains {bad}");
    }
    assert!(
        !hostile.contains('\u{0007}'),
        "control characters pass through"
    );
}

#[test]
fn hostile_strings_are_escaped_in_page_and_label() {
    for path in examples() {
        let base = load_file(&path).model;
        let mut hostile = base.clone();
        map_strings(&mut hostile, &|i| PAYLOADS[i % PAYLOADS.len()].to_string());
        let mut benign = base.clone();
        map_strings(&mut benign, &|i| format!("plain text {i}"));
        let (_, findings) = lint_file(&path);
        check(
            &html(&hostile, &findings, today()),
            &html(&benign, &findings, today()),
        );
        check(
            &svg(&hostile, &findings, today()),
            &svg(&benign, &findings, today()),
        );
        let page = html(&hostile, &findings, today());
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{}",
            path.display()
        );
        assert!(
            page.contains("&amp;lt;b&amp;gt;"),
            "already-escaped text is escaped again"
        );
    }
}

#[test]
fn only_https_and_mailto_become_links() {
    let mut m = load_file(&repo().join("models/good-camera.yaml")).model;
    for (contact, linked) in [
        ("javascript:alert(document.cookie)", false),
        ("data:text/html,<script>alert(1)</script>", false),
        ("https://evil.example/\" onmouseover=\"alert(1)", false),
        ("mailto:security@northwind-optics.example", true),
        ("https://northwind-optics.example/report", true),
    ] {
        m.baseline.vulnerability_disclosure = Some(VulnerabilityDisclosure {
            contact: contact.to_string(),
            policy_url: None,
            security_txt: None,
            acknowledgement_days: None,
            status_update_days: None,
        });
        let page = html(&m, &[], today());
        let section = &page[page.find("id=\"report\"").unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        assert_eq!(section.contains("<a href="), linked, "{contact}: {section}");
        assert!(!section.contains("onmouseover=\""), "{section}");
        assert!(
            !section.to_lowercase().contains("href=\"javascript"),
            "{section}"
        );
    }
}

#[test]
fn svg_label_is_balanced_xml() {
    for path in examples() {
        let (loaded, findings) = lint_file(&path);
        let s = svg(&loaded.model, &findings, today());
        assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let mut stack = Vec::new();
        for t in tags(&s) {
            let name = t.split(' ').next().unwrap().to_string();
            if let Some(closing) = name.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(closing), "{}", path.display());
            } else if !s.contains(&format!("<{t}/>")) && !["rect", "line"].contains(&name.as_str())
            {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "{}: unclosed {stack:?}", path.display());
    }
}

#[test]
fn page_says_the_key_facts() {
    let (loaded, findings) = lint_file(&repo().join("models/good-camera.yaml"));
    let page = html(&loaded.model, &findings, today());
    assert!(page.contains("Security updates until 31 December 2031"));
    assert!(page.contains("Installs security updates by itself"));
    assert!(page.contains("security@northwind-optics.example"));
    assert!(page.contains("relay.northwind-optics.example"));
    assert!(page.contains("It never opens ports on your router"));
    assert!(page.contains("No serious problems; 1 thing to know"));

    let (loaded, findings) = lint_file(&repo().join("models/poor-camera.yaml"));
    let page = html(&loaded.model, &findings, today());
    let errors = findings
        .iter()
        .filter(|f| f.level == warden_model::Level::Error)
        .count();
    assert!(page.contains(&format!("{errors} serious problems found")));
    assert!(page.contains("does not say until when it will fix security problems"));
    assert!(page.contains("same on every device"));
    assert!(page.contains("opens ports on your router by itself"));
    // "see our website" is not a URL: shown as text, not linked.
    assert!(page.contains("The maker only says: “see our website”"));
    assert!(!page.contains("Report it to"));
}
