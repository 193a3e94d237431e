//! The router's side of the killswitch feed, with real parts: a signed feed
//! published by warden-feed, served over HTTP on loopback, synced by `warden
//! run` (here replaying a real IoT Sentinel capture with `--dry-run`), and
//! matched against the devices it identified. Listings become decisions
//! under the owner's `[policy.feed]`; a withdrawn listing ends its decision.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use warden_feed::publish::{self, new_root, PublishOptions};
use warden_feed::{
    DeviceMatch, FeedAction, KeyPair, Listing, ListingEvidence, ListingSource, MacPrefix, Severity,
};

const CAPTURE: &str = "../../../shared/data/iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap";
const DLINK_CAM: &str = "b0:c5:54:25:5b:0e";
const LG_PHONE: &str = "bc:f5:ac:f4:c0:9d";

fn capture() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(CAPTURE);
    assert!(
        p.exists(),
        "missing {}: the tests read ../shared/data",
        p.display()
    );
    p
}

/// Serves the files of `dir` over HTTP on loopback until the test ends.
fn serve(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    warden_netlab::serve_files(listener, dir);
    format!("http://{addr}/feed/")
}

fn listing(severity: Severity, matches: DeviceMatch, reason: &str) -> Listing {
    Listing {
        id: matches.listing_id(),
        severity,
        matches,
        action: match severity {
            Severity::Vulnerable => FeedAction::BlockUpnp,
            Severity::CompromisedInTheWild => FeedAction::Quarantine,
        },
        evidence: ListingEvidence {
            reporters: 9,
            networks: 6,
            sightings: 31,
        },
        behaviours: Vec::new(),
        first_seen: 1_764_000_000,
        last_seen: 1_764_050_000,
        references: vec!["CVE-2099-0001".into()],
        reason: reason.into(),
        source: ListingSource::Evidence,
    }
}

fn prefix(mac: [u8; 6]) -> MacPrefix {
    MacPrefix::of(mac, 24)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Feed {
    out: PathBuf,
    feed_key: KeyPair,
    pinned: PathBuf,
}

impl Feed {
    /// A feed with its own root and feed keys (from `seed`).
    fn new(dir: &Path, seed: u8) -> Feed {
        let out = dir.join("published");
        let root_key = KeyPair::from_seed([seed; 32]);
        let feed_key = KeyPair::from_seed([seed + 1; 32]);
        let root = new_root(
            1,
            now() + 365 * 86_400,
            &[root_key.public()],
            1,
            &[feed_key.public()],
            1,
        );
        let env = publish::write_root(&out, &root, &[&root_key]).unwrap();
        let pinned = dir.join("pinned-root.json");
        std::fs::write(&pinned, env.to_vec()).unwrap();
        Feed {
            out,
            feed_key,
            pinned,
        }
    }

    fn publish(&self, listings: Vec<Listing>) {
        publish::publish(
            &self.out,
            listings,
            &[&self.feed_key],
            &PublishOptions::at(now()),
        )
        .unwrap();
    }
}

/// `warden run --replay` of the D-Link capture with this feed; its stderr.
fn run(dir: &Path, url: &str, pinned: &Path) -> String {
    let config = dir.join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[feed]\nurl = \"{url}\"\nroot = \"{}\"\ndir = \"{}\"\n",
            pinned.display(),
            dir.join("feed-state").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["run", "--dry-run", "--replay"])
        .arg(capture())
        .arg("--db")
        .arg(dir.join("warden.db"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "warden run failed: {stderr}");
    stderr
}

fn device_show(dir: &Path, mac: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["device", "show", mac, "--db"])
        .arg(dir.join("warden.db"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn listed_devices_are_acted_on_by_severity_and_released_when_delisted() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = Feed::new(tmp.path(), 7);
    let cam = listing(
        Severity::CompromisedInTheWild,
        DeviceMatch {
            mac_prefixes: vec![prefix([0xb0, 0xc5, 0x54, 0, 0, 0])],
            model: Some("dcs-935l".into()),
            ..DeviceMatch::default()
        },
        "DCS-935L cameras run a botnet's telnet sweep on several networks",
    );
    let phone = listing(
        Severity::Vulnerable,
        DeviceMatch {
            mac_prefixes: vec![prefix([0xbc, 0xf5, 0xac, 0, 0, 0])],
            ..DeviceMatch::default()
        },
        "This phone line's UPnP stack has a known remote flaw",
    );
    // Same vendor prefix, another model: must not match the camera.
    let other = listing(
        Severity::CompromisedInTheWild,
        DeviceMatch {
            mac_prefixes: vec![prefix([0xb0, 0xc5, 0x54, 0, 0, 0])],
            model: Some("DCS-5020L".into()),
            ..DeviceMatch::default()
        },
        "Another camera",
    );
    feed.publish(vec![cam.clone(), phone.clone(), other.clone()]);
    let url = serve(feed.out.clone());

    let log = run(tmp.path(), &url, &feed.pinned);
    eprintln!("{log}");
    assert!(log.contains("feed: now at version 1"), "{log}");
    assert!(log.contains("feed-match"), "{log}");
    assert!(
        log.contains(&cam.id),
        "the camera's listing is not named: {log}"
    );
    assert!(
        !log.contains(&other.id),
        "a listing for another model matched: {log}"
    );
    // The sync is in the timeline, where the dashboard shows it.
    let store = warden_state::Store::open(tmp.path().join("warden.db")).unwrap();
    let sync = store
        .latest_event(&["feed-sync", "feed-sync-failed"])
        .unwrap();
    assert!(
        sync.is_some_and(|e| e.kind == "feed-sync" && e.message.contains("version 1")),
        "no feed-sync event"
    );
    drop(store);

    let shown = device_show(tmp.path(), DLINK_CAM);
    assert!(shown.contains("quarantine"), "{shown}");
    assert!(shown.contains(&format!("feed:{}", cam.id)), "{shown}");
    let shown = device_show(tmp.path(), LG_PHONE);
    assert!(shown.contains("block-upnp"), "{shown}");
    assert!(
        !shown.contains("quarantine"),
        "a vulnerable listing quarantined: {shown}"
    );

    // The listing is withdrawn (say the vendor shipped a fix): the next
    // check ends the camera's quarantine, the phone's decisions stay.
    feed.publish(vec![phone.clone(), other]);
    let log = run(tmp.path(), &url, &feed.pinned);
    assert!(log.contains("feed: now at version 2"), "{log}");
    assert!(log.contains("no longer lists"), "{log}");
    let shown = device_show(tmp.path(), DLINK_CAM);
    assert!(
        shown.contains("delisted"),
        "the camera's feed decision did not end as delisted: {shown}"
    );
    let active = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["device", "list", "--db"])
        .arg(tmp.path().join("warden.db"))
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&active.stdout).into_owned();
    let cam_line = list
        .lines()
        .find(|l| l.starts_with(DLINK_CAM))
        .unwrap_or("");
    assert!(!cam_line.contains("quarantine"), "{list}");
    let phone_line = list.lines().find(|l| l.starts_with(LG_PHONE)).unwrap_or("");
    assert!(phone_line.contains("block-upnp"), "{list}");
}

#[test]
fn a_forged_feed_is_refused_and_nothing_is_done() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = Feed::new(tmp.path(), 7);
    // Mallory publishes with keys of her own, and her timestamp and
    // snapshot replace the real ones on the server: signed, but by a key
    // the pinned root did not delegate to the feed role.
    let elsewhere = tempfile::tempdir().unwrap();
    let mallory = Feed::new(elsewhere.path(), 66);
    mallory.publish(vec![listing(
        Severity::CompromisedInTheWild,
        DeviceMatch {
            mac_prefixes: vec![prefix([0xb0, 0xc5, 0x54, 0, 0, 0])],
            ..DeviceMatch::default()
        },
        "forged",
    )]);
    for entry in std::fs::read_dir(&mallory.out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.starts_with("root") {
            std::fs::copy(&path, feed.out.join(&name)).unwrap();
        }
    }
    let url = serve(feed.out.clone());
    let log = run(tmp.path(), &url, &feed.pinned);
    assert!(log.contains("feed: sync failed"), "{log}");
    assert!(!log.contains("feed-match"), "{log}");
    let shown = device_show(tmp.path(), DLINK_CAM);
    assert!(!shown.contains("quarantine"), "{shown}");
}

#[test]
fn a_missing_pinned_root_stops_the_guard_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("warden.toml");
    std::fs::write(
        &config,
        "[feed]\nurl = \"http://127.0.0.1:9/\"\nroot = \"/nonexistent/root.json\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["run", "--dry-run", "--replay"])
        .arg(capture())
        .arg("--db")
        .arg(tmp.path().join("warden.db"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pinned root /nonexistent/root.json"), "{err}");
}

#[test]
fn warden_feed_sync_by_hand_keeps_the_last_good_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = Feed::new(tmp.path(), 9);
    let url = serve(feed.out.clone());
    let state = tmp.path().join("state");
    let sync = || {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["feed", "sync", &url, "--root"])
            .arg(&feed.pinned)
            .arg("--dir")
            .arg(&state)
            .output()
            .unwrap()
    };
    // Nothing published yet: a clear failure, no state claimed.
    let out = sync();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("syncing the feed from"));

    feed.publish(vec![listing(
        Severity::Vulnerable,
        DeviceMatch {
            mac_prefixes: vec![prefix([0xbc, 0xf5, 0xac, 0, 0, 0])],
            ..DeviceMatch::default()
        },
        "a flaw",
    )]);
    let out = sync();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("feed version 1 (was 0): snapshot downloaded"),
        "{text}"
    );
    let again = sync();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already up to date"));

    // A rollback to an older timestamp is refused and version 1 is kept.
    let ts = feed.out.join("timestamp.json");
    let v1 = std::fs::read(&ts).unwrap();
    feed.publish(vec![]);
    assert!(sync().status.success());
    std::fs::write(&ts, v1).unwrap();
    let out = sync();
    assert!(
        !out.status.success(),
        "a rolled-back timestamp was accepted"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("roll"), "{err}");
}
