//! Warnings that reach people: every decision's sentence is POSTed as JSON
//! to the owner's webhook (ntfy, Home Assistant, a chat bridge...), from a
//! thread of its own so that a slow or dead endpoint never stalls the
//! guard. Failed deliveries are retried with exponential backoff; the queue
//! is bounded, and what does not fit is counted, not kept.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Messages waiting for delivery at most.
const QUEUE: usize = 256;
/// Attempts per message (1 s, 2 s, 4 s, 8 s between them).
const ATTEMPTS: u32 = 5;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// What happened, what warden did, what to do: for a person.
    pub text: String,
    /// The device, as its MAC address.
    pub device: String,
    /// When (RFC 3339).
    pub at: String,
    /// Always "warden".
    pub source: &'static str,
}

/// How a notice is written on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `{"text", "device", "at", "source"}` as JSON.
    Json,
    /// ntfy's publish format: the sentence as the plain-text body, a
    /// `Title` header naming the device (https://docs.ntfy.sh/publish/).
    Ntfy,
}

pub struct Webhook {
    tx: Option<SyncSender<Notice>>,
    worker: Option<JoinHandle<Stats>>,
    pub dropped: u64,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub delivered: u64,
    pub failed: u64,
}

impl Webhook {
    pub fn start(url: String) -> Webhook {
        Webhook::start_with(url, Style::Json)
    }

    pub fn start_with(url: String, style: Style) -> Webhook {
        let (tx, rx) = sync_channel(QUEUE);
        let worker = std::thread::Builder::new()
            .name("warden-webhook".into())
            .spawn(move || deliver_all(&url, style, rx))
            .ok();
        Webhook {
            tx: Some(tx),
            worker,
            dropped: 0,
        }
    }

    /// Queues a notice; never blocks.
    pub fn send(&mut self, notice: Notice) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(notice) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped += 1,
        }
    }

    /// Stops taking notices and waits (up to `grace`) for the queue to be
    /// delivered or given up.
    pub fn finish(mut self, grace: Duration) -> Stats {
        drop(self.tx.take());
        let Some(worker) = self.worker.take() else {
            return Stats::default();
        };
        let deadline = Instant::now() + grace;
        while !worker.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if worker.is_finished() {
            worker.join().unwrap_or_default()
        } else {
            Stats::default()
        }
    }
}

fn deliver_all(url: &str, style: Style, rx: Receiver<Notice>) -> Stats {
    let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
    let mut stats = Stats::default();
    for notice in rx {
        let mut wait = Duration::from_secs(1);
        let mut ok = false;
        for attempt in 1..=ATTEMPTS {
            let sent = match style {
                Style::Json => agent.post(url).send_json(&notice),
                Style::Ntfy => agent
                    .post(url)
                    // Header values must be plain ASCII: the MAC is.
                    .set("Title", &format!("warden: device {}", notice.device))
                    .set("Tags", "warning")
                    .send_string(&notice.text),
            };
            match sent {
                Ok(_) => {
                    ok = true;
                    break;
                }
                Err(e) => {
                    eprintln!("warden: webhook attempt {attempt} of {ATTEMPTS} failed: {e}");
                    if attempt < ATTEMPTS {
                        std::thread::sleep(wait);
                        wait *= 2;
                    }
                }
            }
        }
        if ok {
            stats.delivered += 1;
        } else {
            stats.failed += 1;
        }
    }
    stats
}
