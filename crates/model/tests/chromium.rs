//! The rendered pages and labels in a real headless Chromium: the key facts
//! are in the rendered text, nothing is wider than a phone (390 CSS px), the
//! screenshots are not blank, and a hostile model adds no element. Screenshots
//! are kept in target/screenshots/ as test artefacts.
//!
//! Chromium is installed by .ci/setup.d/chromium.sh. Without it this test
//! fails (it never skips): under CI that is a broken setup, and elsewhere it
//! says how to install it.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use warden_model::render::{html, svg};

const PHONE_WIDTH: u32 = 390;

fn chromium() -> PathBuf {
    warden_netlab::chromium()
}

fn out_dir() -> PathBuf {
    warden_netlab::screenshots_dir(env!("CARGO_TARGET_TMPDIR"))
}

/// Runs headless Chromium with the flags that keep it off the network and
/// out of any existing profile; returns stdout. Fails after 120 s.
fn run_chromium(args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("chromium {args:?} did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.success(),
        "chromium {args:?} failed: {status}\n{stderr}"
    );
    reader.join().unwrap()
}

fn url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// A page that shows `index.html` in a phone-sized frame (390 x 844 CSS px:
/// headless Chromium will not make its own window narrower than 500) and,
/// once it has loaded, measures it and writes the result into its own DOM.
/// The measured page itself is unchanged: no script, its no-load policy on.
fn probe_page() -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="f" src="index.html" style="width:{PHONE_WIDTH}px;height:844px;border:0"></iframe>
<script>
const frame = document.getElementById('f');
const measure = () => {{
  const w = frame.contentWindow;
  const d = w.document;
  const cw = d.documentElement.clientWidth;
  const wide = [];
  for (const el of d.querySelectorAll('body *')) {{
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > cw + 0.5 || r.left < -0.5)) wide.push(el.tagName + (el.id ? '#' + el.id : ''));
  }}
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({{
    iw: w.innerWidth,
    cw,
    sw: d.documentElement.scrollWidth,
    wide,
    h1: d.querySelector('h1').innerText,
    sections: [...d.querySelectorAll('section')].map(s => s.id),
    text: d.querySelector('main').innerText,
    scripts: d.querySelectorAll('script').length,
  }});
  document.body.appendChild(pre);
}};
// The frame may already have loaded by the time this runs.
const d0 = frame.contentDocument;
if (d0 && d0.readyState === 'complete' && d0.URL.endsWith('index.html')) measure();
else frame.addEventListener('load', measure);
</script></body></html>
"#
    )
}

fn read_probe(dom: &str) -> serde_json::Value {
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap()
}

/// Non-blank: many colours, and a real share of pixels unlike the background.
fn check_png(path: &Path, width: u32, height: u32) -> (usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.width, info.height),
        (width, height),
        "{}",
        path.display()
    );
    let channels = info.color_type.samples();
    let px: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let bg = px[0];
    let differing = px.iter().filter(|p| **p != bg).count() as f64 / px.len() as f64;
    let colours: std::collections::HashSet<&[u8]> = px.iter().copied().collect();
    assert!(
        colours.len() >= 16,
        "{}: only {} colours",
        path.display(),
        colours.len()
    );
    assert!(
        differing > 0.05,
        "{}: {:.1}% of pixels differ from the background",
        path.display(),
        differing * 100.0
    );
    (colours.len(), differing)
}

#[test]
fn pages_and_labels_render_in_chromium() {
    let out = out_dir();
    for path in examples() {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let (loaded, findings) = lint_file(&path);
        let m = &loaded.model;
        let dir = out.join(&stem);
        std::fs::create_dir_all(&dir).unwrap();
        let page = html(m, &findings, today());
        std::fs::write(dir.join("index.html"), &page).unwrap();
        std::fs::write(dir.join("label.svg"), svg(m, &findings, today())).unwrap();
        std::fs::write(dir.join("probe.html"), probe_page()).unwrap();

        // Layout and text at phone width.
        // The frame is read from the probe page: both are files, so allow it.
        let dom = run_chromium(&[
            "--allow-file-access-from-files".into(),
            "--dump-dom".into(),
            url(&dir.join("probe.html")),
        ]);
        let p = read_probe(&dom);
        assert_eq!(p["iw"], PHONE_WIDTH, "{stem}: viewport");
        assert!(
            p["sw"].as_u64().unwrap() <= p["cw"].as_u64().unwrap(),
            "{stem}: page is {} px wide in {}",
            p["sw"],
            p["cw"]
        );
        assert_eq!(p["scripts"], 0, "{stem}: the page has no script");
        assert_eq!(
            p["wide"],
            serde_json::json!([]),
            "{stem}: elements wider than the phone"
        );
        assert_eq!(
            p["h1"],
            format!("{} {}", m.identity.vendor, m.identity.model)
        );
        let sections: Vec<&str> = p["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        for s in [
            "verdict",
            "updates",
            "report",
            "protects",
            "not-protected",
            "logins",
            "data",
            "network",
            "lint",
        ] {
            assert!(sections.contains(&s), "{stem}: no section {s}");
        }
        let text = p["text"].as_str().unwrap();
        match &m.baseline.support {
            Some(s) => assert!(
                text.contains(&format!(
                    "Security updates until {} {} {}",
                    s.security_updates_until.0.day(),
                    s.security_updates_until.0.month(),
                    s.security_updates_until.0.year()
                )),
                "{stem}: support date not shown"
            ),
            None => assert!(text.contains("does not say until when"), "{stem}"),
        }
        if let Some(d) = &m.baseline.vulnerability_disclosure {
            let shown = d.contact.trim_start_matches("mailto:");
            assert!(text.contains(shown), "{stem}: contact {shown} not shown");
        }
        for f in &m.network.flows {
            if let Some(n) = &f.dns_name {
                assert!(text.contains(n.as_str()), "{stem}: {n} not shown");
            }
            assert!(
                text.contains(&f.purpose),
                "{stem}: purpose {:?} not shown",
                f.purpose
            );
        }
        for t in &m.threats {
            assert!(
                text.contains(&t.title),
                "{stem}: threat {:?} not shown",
                t.title
            );
        }
        let errors = findings
            .iter()
            .filter(|f| f.level == warden_model::Level::Error)
            .count();
        let verdict = if errors == 1 {
            "1 serious problem found".to_string()
        } else {
            format!("{errors} serious problems found")
        };
        assert_eq!(text.contains(&verdict), errors > 0, "{stem}: verdict");
        assert_eq!(
            text.contains("No serious problems") || text.contains("Meets the baseline"),
            errors == 0,
            "{stem}: verdict"
        );

        // Screenshots: the whole page at phone width, and the label.
        let shot = dir.join("page.png");
        run_chromium(&[
            format!("--window-size={PHONE_WIDTH},2400"),
            format!("--screenshot={}", shot.display()),
            url(&dir.join("index.html")),
        ]);
        check_png(&shot, PHONE_WIDTH, 2400);
        let label = dir.join("label.png");
        run_chromium(&[
            "--window-size=360,260".into(),
            format!("--screenshot={}", label.display()),
            url(&dir.join("label.svg")),
        ]);
        check_png(&label, 360, 260);
    }
}

#[test]
fn a_hostile_model_adds_no_element_in_chromium() {
    let path = repo().join("models/poor-camera.yaml");
    let (loaded, findings) = lint_file(&path);
    let dir = out_dir().join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let mut hostile = loaded.model.clone();
    let mut benign = loaded.model.clone();
    let payload =
        "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
    for (m, s) in [(&mut hostile, payload), (&mut benign, "plain words")] {
        m.identity.vendor = s.to_string();
        m.identity.summary = Some(s.to_string());
        for t in &mut m.threats {
            t.title = s.to_string();
        }
        for f in &mut m.network.flows {
            f.purpose = s.to_string();
        }
    }
    let mut doms = Vec::new();
    for (name, m) in [("hostile", &hostile), ("benign", &benign)] {
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, html(m, &findings, today())).unwrap();
        doms.push(run_chromium(&["--dump-dom".into(), url(&file)]));
        let label = dir.join(format!("{name}.svg"));
        std::fs::write(&label, svg(m, &findings, today())).unwrap();
        doms.push(run_chromium(&["--dump-dom".into(), url(&label)]));
    }
    let names = |dom: &str| -> Vec<String> {
        tags(dom)
            .into_iter()
            .map(|t| t.split(' ').next().unwrap().to_string())
            .collect()
    };
    for (h, b) in [(&doms[0], &doms[2]), (&doms[1], &doms[3])] {
        assert_eq!(names(h), names(b), "the hostile model changed the DOM");
        assert!(!h.contains("<img") && !h.contains("<script"), "{h}");
        assert!(!h.contains("<title>pwned"), "a script ran");
    }
    assert!(
        doms[0].contains("&lt;img src=x"),
        "the payload is shown as text"
    );
}
