//! Warnings that reach people: every decision's sentence is POSTed as JSON
//! to the owner's webhook (ntfy, Home Assistant, a chat bridge...), pushed
//! to ntfy, or mailed (crate::smtp), each channel from a thread of its own
//! so that a slow or dead endpoint never stalls the guard. Failed
//! deliveries are retried with exponential backoff; the queue is bounded,
//! and what does not fit is counted, not kept.

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
    /// A short title naming the device, in the configured language.
    pub title: String,
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
        let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
        let name = match style {
            Style::Json => "webhook",
            Style::Ntfy => "ntfy",
        };
        Webhook::start_sender(name, move |notice: &Notice| {
            let sent = match style {
                Style::Json => agent.post(&url).send_json(notice),
                Style::Ntfy => agent
                    .post(&url)
                    .set("Title", &header_word(&notice.title))
                    .set("Tags", "warning")
                    .send_string(&notice.text),
            };
            sent.map(|_| ()).map_err(|e| e.to_string())
        })
    }

    /// A channel that delivers each notice with `send` (an error is
    /// retried with backoff), on a thread of its own named after `name`.
    pub fn start_sender(
        name: &'static str,
        send: impl FnMut(&Notice) -> Result<(), String> + Send + 'static,
    ) -> Webhook {
        let (tx, rx) = sync_channel(QUEUE);
        let worker = std::thread::Builder::new()
            .name(format!("warden-{name}"))
            .spawn(move || deliver_all(name, send, rx))
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

/// A header value: plain ASCII as it is, anything else as an RFC 2047
/// encoded word (ntfy decodes it), so a German title survives.
fn header_word(text: &str) -> String {
    use base64::Engine;
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_owned();
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

fn deliver_all(
    name: &str,
    mut send: impl FnMut(&Notice) -> Result<(), String>,
    rx: Receiver<Notice>,
) -> Stats {
    let mut stats = Stats::default();
    for notice in rx {
        let mut wait = Duration::from_secs(1);
        let mut ok = false;
        for attempt in 1..=ATTEMPTS {
            match send(&notice) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(e) => {
                    eprintln!("warden: {name} attempt {attempt} of {ATTEMPTS} failed: {e}");
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

#[cfg(test)]
mod tests {
    #[test]
    fn header_words_keep_ascii_and_encode_the_rest() {
        assert_eq!(super::header_word("warden: device x"), "warden: device x");
        assert_eq!(
            super::header_word("warden: Gerät"),
            "=?UTF-8?B?d2FyZGVuOiBHZXLDpHQ=?="
        );
    }
}
