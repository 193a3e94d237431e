//! The Release button against real nftables, as root: `warden run` guards
//! the LAN bridge of a router network namespace (tests/e2e), a device there
//! scans until it is quarantined, and headless Chromium, started in the
//! router namespace so that it reaches the dashboard on that namespace's
//! loopback, sets the password, opens the device and presses Release. The
//! device's rule leaves `nft list table inet warden` and its traffic flows
//! again.
//!
//! Needs root, ip, nft and Chromium (.ci/setup.d/chromium.sh); fails
//! without them, never skips. Screenshots go to target/screenshots/.

mod browser;
mod e2e;

use std::time::{Duration, Instant};

use browser::*;
use e2e::*;
use serde_json::json;

fn in_table(lab: &Lab, mac: &str) -> bool {
    lab.nft_table("inet")
        .is_some_and(|t| t.to_lowercase().contains(mac))
}

#[test]
fn release_in_chromium_lifts_the_nftables_quarantine() {
    let lab = Lab::new("dash");
    let _chromium = chromium();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    // The dashboard on the router namespace's own loopback (the default
    // address, said explicitly).
    let mut guard = Guard::start_with(&lab, db.clone(), &["--dashboard", "127.0.0.1:8080"]);
    let _https = TcpServer::start(&lab.inet, sa(INET_IP, 443));
    assert!(tcp_connects(&lab.dev, sa(INET_IP, 443)));

    // A scanner: quarantined by the guard in its nftables table.
    let scanner = Scanner::start(&lab.dev, 50);
    let quarantined = wait_for(Duration::from_secs(30), || {
        guard.assert_running();
        in_table(&lab, DEV_MAC)
    });
    scanner.stop();
    assert!(
        quarantined.is_some(),
        "the scanner was not quarantined within 30 s: {:?}",
        guard.log()
    );
    assert!(!tcp_connects(&lab.dev, sa(INET_IP, 443)));

    let code_line = guard
        .log()
        .into_iter()
        .find(|l| l.contains("setup code: "))
        .unwrap_or_else(|| panic!("no setup code in the log: {:?}", guard.log()));
    let code = code_line.rsplit("setup code: ").next().unwrap().trim();
    let base = "http://127.0.0.1:8080";

    let mut b = Browser::launch_in(Some(&lab.router));
    assert_eq!(b.goto(&format!("{base}/")), "/setup");
    b.type_into("#code", code);
    b.type_into("#password", "correct horse battery");
    b.type_into("#confirm", "correct horse battery");
    b.press_enter();
    assert_eq!(b.wait_loaded("/setup"), "/");
    let row = b.eval(&format!(
        "[...document.querySelectorAll('table.devices tbody tr')].find(r => r.innerText.includes('{DEV_MAC}'))?.innerText || ''"
    ));
    assert!(
        row.as_str().unwrap().contains("Quarantined"),
        "the device list: {}",
        b.text("table.devices")
    );

    let page = format!("/devices/{DEV_MAC}");
    assert_eq!(b.goto(&format!("{base}{page}")), page);
    let why = b.text("section[aria-labelledby=why]");
    assert!(why.to_lowercase().contains("quarantine"), "{why}");
    b.screenshot("dashboard-nft-quarantined.png");

    // Release, with the keyboard.
    let focused = b.eval(
        "(() => { const btn = [...document.querySelectorAll('button')].find(x => x.innerText === 'Release'); \
           btn.focus(); return document.activeElement === btn; })()",
    );
    assert_eq!(focused, json!(true));
    let pressed = Instant::now();
    b.press_enter();
    assert_eq!(b.wait_loaded(&page), format!("{page}?queued=release"));

    // The guard carries it out: the rule leaves the table, traffic flows.
    let lifted = wait_for(Duration::from_secs(10), || {
        !in_table(&lab, DEV_MAC) && tcp_connects(&lab.dev, sa(INET_IP, 443))
    });
    assert!(
        lifted.is_some(),
        "10 s after Release the device is still blocked: {:?}\n{}",
        guard.log(),
        lab.nft_table("inet").unwrap_or_default()
    );
    eprintln!(
        "release from the page took effect {:.2} s after Enter",
        pressed.elapsed().as_secs_f64()
    );
    let table = lab.nft_table("inet").expect("warden's table stays");
    assert!(!table.to_lowercase().contains(DEV_MAC), "{table}");
    assert!(
        guard.logged(&format!("the owner asked to release {DEV_MAC}")),
        "{:?}",
        guard.log()
    );

    b.goto(&format!("{base}{page}"));
    assert!(!b.text("h1").contains("Quarantined"), "{}", b.text("h1"));
    let decisions = b.text("section[aria-labelledby=decisions]");
    assert!(decisions.contains("(released)"), "{decisions}");
    b.size(PHONE);
    b.goto(&format!("{base}{page}"));
    b.screenshot("dashboard-nft-released-phone.png");
    drop(b);
    guard.assert_running();
    let status = guard.stop();
    assert!(status.success(), "warden run exited with {status}");
}
