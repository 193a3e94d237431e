//! `warden feed publish`: the listed listings of the store, streamed page by
//! page in id order into warden-feed's writer (`publish_sorted`), which signs
//! the snapshot, the delta from the previous version and the timestamp.
//! Memory stays bounded: one page in flight, whatever the number of listings.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use warden_feed::publish::{self, PublishOptions};
use warden_feed::{KeyPair, Listing, Timestamp};

use crate::store::{Store, StoreError};

/// Listings fetched from the store at a time.
pub const PAGE: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum PublishFlowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Publish(#[from] publish::PublishError),
    #[error("listing {id} in the store is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("publishing stopped: {0}")]
    Aborted(String),
}

/// Creates root v1 in `dir` when there is none: `root_key` signs roots,
/// `feed_key` signs everything else, each with threshold 1.
pub fn ensure_root(
    dir: &Path,
    root_key: Option<&KeyPair>,
    feed_key: &KeyPair,
    expires: i64,
) -> Result<bool, PublishFlowError> {
    std::fs::create_dir_all(dir).map_err(|source| publish::PublishError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if publish::latest_root(dir)?.is_some() {
        return Ok(false);
    }
    let Some(root_key) = root_key else {
        return Err(publish::PublishError::NoRoot(PathBuf::from(dir)).into());
    };
    let root = publish::new_root(1, expires, &[root_key.public()], 1, &[feed_key.public()], 1);
    publish::write_root(dir, &root, &[root_key])?;
    Ok(true)
}

/// Publishes every listed listing of `store` into `dir` as the next version.
pub async fn publish_store(
    store: &dyn Store,
    dir: &Path,
    feed_keys: Vec<KeyPair>,
    opts: PublishOptions,
) -> Result<Timestamp, PublishFlowError> {
    // A bounded channel: the writer thread holds at most two pages.
    let (tx, rx) = mpsc::sync_channel::<Result<Vec<Listing>, PublishFlowError>>(2);
    let dir = dir.to_owned();
    let writer = tokio::task::spawn_blocking(move || {
        let mut failure: Option<PublishFlowError> = None;
        let listings = PageIter {
            rx: &rx,
            page: Vec::new().into_iter(),
            failure: &mut failure,
        };
        let keys: Vec<&KeyPair> = feed_keys.iter().collect();
        let result = publish::publish_sorted(&dir, listings, &keys, &opts);
        match failure {
            // The writer saw a short stream: report why, never publish it.
            Some(e) => Err(e),
            None => result.map_err(PublishFlowError::from),
        }
    });
    let mut after = String::new();
    loop {
        let page = match store.listings(Some("listed"), &after, PAGE).await {
            Ok(rows) => rows,
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                break;
            }
        };
        let n = page.len();
        let mut out = Vec::with_capacity(n);
        let mut bad = None;
        for row in page {
            after = row.id.clone();
            match serde_json::from_str::<Listing>(&row.body) {
                Ok(l) => out.push(l),
                Err(e) => {
                    bad = Some(PublishFlowError::Corrupt {
                        id: row.id,
                        reason: e.to_string(),
                    });
                    break;
                }
            }
        }
        if let Some(e) = bad {
            let _ = tx.send(Err(e));
            break;
        }
        if tx.send(Ok(out)).is_err() || (n as i64) < PAGE {
            break;
        }
    }
    drop(tx);
    writer
        .await
        .map_err(|e| PublishFlowError::Aborted(e.to_string()))?
}

struct PageIter<'a> {
    rx: &'a mpsc::Receiver<Result<Vec<Listing>, PublishFlowError>>,
    page: std::vec::IntoIter<Listing>,
    failure: &'a mut Option<PublishFlowError>,
}

/// `publish_sorted` takes an infallible iterator. When the store fails
/// mid-stream, these two ids ("~" sorts after every hex id, "" before
/// it) make the writer stop with `Unsorted` before it writes a snapshot or
/// timestamp, so a truncated feed is never published.
fn poison(id: &str) -> Listing {
    Listing {
        id: id.to_string(),
        severity: warden_feed::Severity::Vulnerable,
        matches: Default::default(),
        action: warden_feed::FeedAction::Notify,
        evidence: Default::default(),
        behaviours: Vec::new(),
        first_seen: 0,
        last_seen: 0,
        references: Vec::new(),
        reason: String::new(),
        source: warden_feed::ListingSource::Operator,
    }
}

impl Iterator for PageIter<'_> {
    type Item = Listing;

    fn next(&mut self) -> Option<Listing> {
        loop {
            if let Some(l) = self.page.next() {
                return Some(l);
            }
            if self.failure.is_some() {
                return None;
            }
            match self.rx.recv() {
                Ok(Ok(page)) => self.page = page.into_iter(),
                Ok(Err(e)) => {
                    *self.failure = Some(e);
                    self.page = vec![poison("~"), poison("")].into_iter();
                }
                Err(_) => return None,
            }
        }
    }
}
