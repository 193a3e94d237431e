//! Crash safety: this test binary runs itself as a child that writes in a
//! loop (alerts and policy changes, each batch one transaction, printing
//! what it committed), and the parent kills it with SIGKILL mid-write,
//! several times. After each kill the file must pass SQLite's integrity
//! check, hold every row the child reported committed, hold no half
//! batch, and restore into a policy the child can go on with.
//!
//! A process kill tests atomicity and the journal, not the disk's cache:
//! power loss itself cannot be simulated here (see docs/policy.md).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use warden_detect::AlertKind;
use warden_policy::{Change, Policy, PolicyConfig, Timestamp};
use warden_state::Store;

const CHILD_ENV: &str = "WARDEN_STATE_CRASH_CHILD";
const TEST_NAME: &str = "killed_mid_write_keeps_every_committed_row";

/// The writer: restores the policy from the file, then alerts, decides and
/// records until killed (or for 60 s at most).
fn child(path: &str) {
    let mut store = Store::open(path).unwrap();
    let state = store.policy_state().unwrap();
    let start = state.decisions.iter().map(|d| d.start).max().unwrap_or(T0);
    let (mut p, repairs) = Policy::restore(PolicyConfig::default(), state, start).unwrap();
    store.record_changes(&repairs).unwrap();
    let out = std::io::stdout();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i: u32 = 0;
    while Instant::now() < deadline {
        i += 1;
        let now = Timestamp(start.0 + i64::from(i) * S);
        let dev = mac(i % 97);
        let alert_id = store
            .record_alert(dev, &flood_alert(now, None), "flood")
            .unwrap();
        let kind = AlertKind::ALL[i as usize % 4];
        let mut changes = p.on_alert(dev, kind, &summary(kind), now);
        changes.extend(p.tick(now));
        store.record_changes(&changes).unwrap();
        let ids: Vec<String> = changes
            .iter()
            .filter_map(|c| match c {
                Change::Started(d) => Some(d.id.to_string()),
                _ => None,
            })
            .collect();
        let mut o = out.lock();
        writeln!(o, "committed {alert_id} {}", ids.join(",")).unwrap();
        o.flush().unwrap();
    }
}

#[test]
fn killed_mid_write_keeps_every_committed_row() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.db");
    let mut alerts_seen = Vec::new();
    let mut decisions_seen = Vec::new();
    for round in 0..4u64 {
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        // Kill after a different number of commits each round.
        let target = 150 + round * 37;
        let mut commits = 0;
        while commits < target {
            let line = lines
                .next()
                .expect("child ended early")
                .expect("child output");
            // libtest may print "test <name> ... " on the same line first.
            let Some(at) = line.find("committed ") else {
                continue;
            };
            let rest = &line[at + "committed ".len()..];
            let mut parts = rest.split(' ');
            alerts_seen.push(parts.next().unwrap().parse::<i64>().unwrap());
            for id in parts
                .next()
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.is_empty())
            {
                decisions_seen.push(id.parse::<i64>().unwrap());
            }
            commits += 1;
        }
        proc.kill().unwrap();
        let status = proc.wait().unwrap();
        assert!(!status.success(), "killed, not finished");

        let store = Store::open(&path).unwrap();
        store.integrity_check().unwrap();
        let conn = store.connection();
        let missing_alerts = alerts_seen
            .iter()
            .filter(|id| {
                conn.query_row("SELECT count(*) FROM alerts WHERE id = ?1", [**id], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
                    != 1
            })
            .count();
        assert_eq!(missing_alerts, 0, "round {round}");
        let missing_decisions = decisions_seen
            .iter()
            .filter(|id| {
                conn.query_row(
                    "SELECT count(*) FROM decisions WHERE id = ?1",
                    [**id],
                    |r| r.get::<_, i64>(0),
                )
                .unwrap()
                    != 1
            })
            .count();
        assert_eq!(missing_decisions, 0, "round {round}");
        // No half batches: each alert has its event, each decision its
        // start event, each ended decision its end event.
        let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(
            one("SELECT count(*) FROM alerts"),
            one("SELECT count(*) FROM events WHERE kind = 'alert'")
        );
        assert_eq!(
            one("SELECT count(*) FROM decisions"),
            one("SELECT count(*) FROM events WHERE kind = 'decision-started'")
        );
        assert_eq!(
            one("SELECT count(*) FROM decisions WHERE ended_at IS NOT NULL"),
            one("SELECT count(*) FROM events WHERE kind = 'decision-ended'")
        );
        assert_eq!(
            one("SELECT max(id) + 1 FROM decisions"),
            one("SELECT value FROM meta WHERE key = 'next_decision_id'")
        );
        // The file restores into a consistent policy.
        let (_, repairs) =
            Policy::restore(PolicyConfig::default(), store.policy_state().unwrap(), T0).unwrap();
        assert!(repairs.is_empty(), "round {round}: {repairs:?}");
        assert!(alerts_seen.len() as u64 >= 150 * (round + 1));
    }
}
