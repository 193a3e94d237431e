//! The router's side of the killswitch feed (docs/feed-router.md).
//!
//! [`FeedLink`] runs the feed on a thread of its own, so that neither a slow
//! feed server nor a large listings file ever stalls the capture: it syncs
//! the signed feed on a schedule (keeping the last good copy), and matches
//! the device facts the guard sends it against the held listings by
//! streaming the file (bounded memory, whatever the feed's size). The guard
//! turns matches into decisions through the policy (`Policy::on_feed_match`).
//!
//! [`Reporter`] sends this router's signed sightings to a feed server, also
//! from a thread of its own, with a bounded queue and retries.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use warden_decode::Mac;
use warden_feed::{
    DeviceFacts, DeviceSet, FeedMatch, HttpFetcher, KeyPair, Sighting, TrustedFeed, Via,
};
use warden_pipeline::FeedConfig;

/// What the feed thread tells the guard.
pub enum FeedEvent {
    /// A sync succeeded (perhaps with nothing new).
    Synced {
        from: u64,
        to: u64,
        via: Via,
        fresh: bool,
    },
    /// A sync failed; the last good copy stays in use.
    SyncFailed { error: String, version: u64 },
    /// The result of a check: which of the devices sent match which listings.
    Matched {
        checked: Vec<Mac>,
        matches: Vec<FeedMatch>,
        version: u64,
    },
    /// The held listings could not be read.
    CheckFailed { error: String },
}

enum Job {
    Check(Vec<DeviceFacts>),
}

/// The guard's handle on the feed thread.
pub struct FeedLink {
    jobs: SyncSender<Job>,
    events: Receiver<FeedEvent>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
    /// A check was sent and its answer has not come back yet.
    pub check_in_flight: bool,
    /// The feed version held (0: none yet).
    pub version: u64,
}

/// Opens the pinned root and the last good copy; fails when the root is
/// missing or not a valid self-signed root (a router configured for a feed
/// must not silently run without it).
pub fn open_feed(cfg: &FeedConfig) -> Result<TrustedFeed> {
    let root = std::fs::read(&cfg.root)
        .with_context(|| format!("reading the feed's pinned root {}", cfg.root.display()))?;
    TrustedFeed::open(&cfg.dir, &root).with_context(|| {
        format!(
            "opening the feed in {} pinned to {}",
            cfg.dir.display(),
            cfg.root.display()
        )
    })
}

/// Wall-clock unix seconds.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl FeedLink {
    /// Starts the feed thread: a sync at once, then every `sync_interval_s`.
    pub fn start(cfg: &FeedConfig, feed: TrustedFeed) -> FeedLink {
        let (jobs, job_rx) = sync_channel::<Job>(4);
        let (event_tx, events) = sync_channel::<FeedEvent>(16);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let url = cfg.url.clone();
        let interval = Duration::from_secs(cfg.sync_interval_s.max(1));
        let version = feed.version();
        let worker = std::thread::Builder::new()
            .name("warden-feed".into())
            .spawn(move || feed_thread(feed, &url, interval, job_rx, event_tx, flag))
            .ok();
        FeedLink {
            jobs,
            events,
            stop,
            worker,
            check_in_flight: false,
            version,
        }
    }

    /// Asks for a check of these devices; false if the thread is busy (the
    /// next check will carry the same devices).
    pub fn check(&mut self, devices: Vec<DeviceFacts>) -> bool {
        if self.check_in_flight {
            return false;
        }
        match self.jobs.try_send(Job::Check(devices)) {
            Ok(()) => {
                self.check_in_flight = true;
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// The next event, if one is waiting.
    pub fn poll(&mut self) -> Option<FeedEvent> {
        let event = self.events.try_recv().ok()?;
        self.note(&event);
        Some(event)
    }

    /// The next event, waiting at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<FeedEvent> {
        let event = self.events.recv_timeout(limit).ok()?;
        self.note(&event);
        Some(event)
    }

    fn note(&mut self, event: &FeedEvent) {
        match event {
            FeedEvent::Synced { to, .. } => self.version = *to,
            FeedEvent::Matched { .. } | FeedEvent::CheckFailed { .. } => {
                self.check_in_flight = false
            }
            FeedEvent::SyncFailed { .. } => {}
        }
    }
}

impl Drop for FeedLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(w) = self.worker.take() {
            // A sync in progress ends with its HTTP timeouts at worst.
            let _ = w.join();
        }
    }
}

fn feed_thread(
    mut feed: TrustedFeed,
    url: &str,
    interval: Duration,
    jobs: Receiver<Job>,
    events: SyncSender<FeedEvent>,
    stop: Arc<AtomicBool>,
) {
    let fetcher = HttpFetcher::new(url);
    let mut next_sync = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_sync {
            let from = feed.version();
            let event = match feed.sync(&fetcher, unix_now()) {
                Ok(report) => FeedEvent::Synced {
                    from,
                    to: report.to,
                    via: report.via,
                    fresh: feed.is_fresh(unix_now()),
                },
                Err(e) => FeedEvent::SyncFailed {
                    error: e.to_string(),
                    version: feed.version(),
                },
            };
            if events.send(event).is_err() {
                return;
            }
            next_sync = Instant::now() + interval;
        }
        let wait = next_sync
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(250));
        match jobs.recv_timeout(wait) {
            Ok(Job::Check(devices)) => {
                let checked = devices.iter().map(|d| Mac(d.mac)).collect();
                let event = if !feed.has_listings() {
                    FeedEvent::Matched {
                        checked,
                        matches: Vec::new(),
                        version: feed.version(),
                    }
                } else {
                    match feed.scan(&DeviceSet::new(devices)) {
                        Ok(outcome) => FeedEvent::Matched {
                            checked,
                            matches: outcome.matches,
                            version: feed.version(),
                        },
                        Err(e) => FeedEvent::CheckFailed {
                            error: e.to_string(),
                        },
                    }
                };
                if events.send(event).is_err() {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Device facts from what the store kept (model and firmware from the
/// stored identity), so that a listed device is still recognised after a
/// restart before it identifies itself again.
pub fn stored_facts(rows: &[warden_state::DeviceRow]) -> BTreeMap<Mac, DeviceFacts> {
    let mut out = BTreeMap::new();
    for row in rows {
        let identity: serde_json::Value = row
            .identity
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        let text = |key: &str| {
            identity
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        out.insert(
            row.mac,
            DeviceFacts {
                mac: row.mac.0,
                vendor: row.vendor.clone(),
                model: text("model"),
                firmware: text("firmware"),
                fingerprint: None,
            },
        );
    }
    out
}

/// Live facts over stored ones: what the device says now wins, what it has
/// not said yet is taken from the store.
pub fn merge_facts(stored: Option<&DeviceFacts>, live: DeviceFacts) -> DeviceFacts {
    let Some(s) = stored else { return live };
    DeviceFacts {
        mac: live.mac,
        vendor: live.vendor.or_else(|| s.vendor.clone()),
        model: live.model.or_else(|| s.model.clone()),
        firmware: live.firmware.or_else(|| s.firmware.clone()),
        fingerprint: live.fingerprint.or_else(|| s.fingerprint.clone()),
    }
}

/// Sightings waiting to be sent at most.
const REPORT_QUEUE: usize = 64;
/// Attempts per sighting (2 s, 4 s between them).
const REPORT_ATTEMPTS: u32 = 3;

/// What became of the sightings sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReportStats {
    pub accepted: u64,
    /// Refused by the server (4xx other than 429): not retried.
    pub refused: u64,
    /// Given up after the retries.
    pub failed: u64,
}

/// Sends signed sightings to a feed server's `POST /v1/sightings`.
///
/// Each sighting waits a random time of up to `jitter` before it is signed
/// and sent (its `sent_at` is the moment it is sent), so that the moment a
/// sighting arrives does not tell the server when the household's device
/// misbehaved; the sighting itself only says which hour. What is still
/// waiting when the guard stops is sent at once.
pub struct Reporter {
    tx: Option<SyncSender<Sighting>>,
    worker: Option<JoinHandle<ReportStats>>,
    /// Not queued: the queue was full.
    pub dropped: u64,
}

impl Reporter {
    pub fn start(server: &str, key: KeyPair, jitter: Duration) -> Reporter {
        let url = format!("{}/v1/sightings", server.trim_end_matches('/'));
        let (tx, rx) = sync_channel::<Sighting>(REPORT_QUEUE);
        let worker = std::thread::Builder::new()
            .name("warden-sightings".into())
            .spawn(move || report_all(&url, &key, jitter, rx))
            .ok();
        Reporter {
            tx: Some(tx),
            worker,
            dropped: 0,
        }
    }

    /// Queues a sighting; never blocks.
    pub fn send(&mut self, sighting: Sighting) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send(sighting).is_err() {
            self.dropped += 1;
        }
    }

    /// Sends what is queued at once (waiting at most `limit`), then stops.
    pub fn finish(mut self, limit: Duration) -> ReportStats {
        self.tx.take();
        let Some(worker) = self.worker.take() else {
            return ReportStats::default();
        };
        let deadline = Instant::now() + limit;
        while !worker.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if worker.is_finished() {
            worker.join().unwrap_or_default()
        } else {
            ReportStats::default()
        }
    }
}

fn report_all(url: &str, key: &KeyPair, jitter: Duration, rx: Receiver<Sighting>) -> ReportStats {
    use rand::Rng as _;
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut stats = ReportStats::default();
    let mut waiting: Vec<(Instant, Sighting)> = Vec::new();
    let mut open = true;
    while open || !waiting.is_empty() {
        let next_due = waiting.iter().map(|(due, _)| *due).min();
        if open {
            let wait = next_due
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            match rx.recv_timeout(wait) {
                Ok(s) => {
                    let delay = if jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        rand::thread_rng().gen_range(Duration::ZERO..jitter)
                    };
                    waiting.push((Instant::now() + delay, s));
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The guard stops: send what waits, now.
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) =
            waiting.drain(..).partition(|(d, _)| !open || *d <= now);
        waiting = later;
        for (_, mut sighting) in due {
            sighting.sent_at = unix_now();
            post(&agent, url, &sighting.sign(key).to_vec(), &mut stats);
        }
    }
    stats
}

fn post(agent: &ureq::Agent, url: &str, body: &[u8], stats: &mut ReportStats) {
    let mut delay = Duration::from_secs(2);
    for attempt in 1..=REPORT_ATTEMPTS {
        match agent
            .post(url)
            .set("Content-Type", "application/json")
            .send_bytes(body)
        {
            Ok(_) => {
                stats.accepted += 1;
                return;
            }
            Err(ureq::Error::Status(code, resp)) if code != 429 && code < 500 => {
                let why = resp.into_string().unwrap_or_default();
                eprintln!(
                    "warden: feed server refused a sighting ({code}): {}",
                    why.chars().take(200).collect::<String>()
                );
                stats.refused += 1;
                return;
            }
            Err(e) if attempt == REPORT_ATTEMPTS => {
                eprintln!("warden: a sighting could not be sent: {e}");
                stats.failed += 1;
            }
            Err(_) => {
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
    }
}

/// `warden feed sync`: one sync by hand, with the configured feed.
pub fn sync_once(cfg: &FeedConfig) -> Result<String> {
    let mut feed = open_feed(cfg)?;
    let from = feed.version();
    let report = feed
        .sync(&HttpFetcher::new(&cfg.url), unix_now())
        .with_context(|| format!("syncing the feed from {}", cfg.url))?;
    let how = match report.via {
        Via::UpToDate => "already up to date".to_owned(),
        Via::Deltas(n) => format!("{n} delta(s) applied"),
        Via::Snapshot => "snapshot downloaded".to_owned(),
    };
    Ok(format!(
        "feed version {} (was {from}): {how}; {} root rotation(s); kept in {}",
        report.to,
        report.root_rotations,
        cfg.dir.display()
    ))
}
