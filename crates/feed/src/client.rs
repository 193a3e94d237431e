//! The router's side: fetch, verify and keep the feed.
//!
//! [`TrustedFeed`] holds the trusted root (pinned in the router's config,
//! then rotated), the last accepted timestamp and the listings, on disk in
//! a state directory (written atomically, reloaded on start). [`TrustedFeed::sync`]:
//!
//! 1. walks `root.<N+1>.json`, `root.<N+2>.json`, ... while they exist:
//!    each must have version N+1 and be signed by a threshold of the
//!    current root's root keys *and* of its own root keys;
//! 2. refuses an expired root;
//! 3. fetches `timestamp.json`; it must be signed by a threshold of the
//!    feed role's keys of the current root (a key the root lists for
//!    another role does not count), unexpired, not older than the version
//!    held (rollback), and, at the same version, the same listings
//!    (equivocation);
//! 4. when it holds version V-k and the timestamp names the deltas
//!    V-k..V, fetches them (size and SHA-256 as the timestamp says,
//!    signed by the feed role, unexpired, consecutive) and merges them into
//!    its listings; the result must hash to the timestamp's
//!    `listings_sha256`, else it falls back to the snapshot;
//! 5. otherwise fetches the snapshot (size and SHA-256 as the timestamp
//!    says; signed header of the same version and listings hash; lines
//!    hashing to the header's hash).
//!
//! Nothing of a refused document is kept.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::envelope::{Envelope, EnvelopeError};
use crate::files::{self, HashWriter};
use crate::keys::PublicKey;
use crate::matcher::{read_line_capped, DeviceSet, FeedIndex, LineScanner, ScanOutcome};
use crate::publish::{check_root, role_keys};
use crate::types::{Delta, Listing, Root, SnapshotHeader, Timestamp};
use crate::{
    DEFAULT_MAX_DELTA_BYTES, DEFAULT_MAX_SNAPSHOT_BYTES, MAX_LISTING_LINE_BYTES, MAX_ROOT_BYTES,
    MAX_TIMESTAMP_BYTES, PAYLOAD_DELTA, PAYLOAD_ROOT, PAYLOAD_SNAPSHOT, PAYLOAD_TIMESTAMP,
};

/// At most this many root rotations are walked in one sync.
pub const MAX_ROOT_ROTATIONS: u64 = 1024;
/// The signed header line of a snapshot is at most this long.
pub const MAX_SNAPSHOT_HEADER_BYTES: usize = 64 * 1024;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{path} is larger than the limit of {max} bytes")]
    TooLarge { path: String, max: u64 },
    #[error("refusing to fetch {0:?}: not a plain file name")]
    BadPath(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {message}")]
    Http { path: String, message: String },
}

/// Where feed files come from.
pub trait Fetcher {
    /// Copies the file `path` (a plain name like `timestamp.json`) into
    /// `out`, refusing more than `max` bytes. Returns the bytes copied.
    fn fetch(&self, path: &str, max: u64, out: &mut dyn Write) -> Result<u64, FetchError>;

    /// The whole file in memory (small documents).
    fn get(&self, path: &str, max: u64) -> Result<Vec<u8>, FetchError> {
        let mut v = Vec::new();
        self.fetch(path, max, &mut v)?;
        Ok(v)
    }
}

fn copy_capped(
    mut r: impl Read,
    out: &mut dyn Write,
    max: u64,
    path: &str,
) -> Result<u64, FetchError> {
    let io = |source| FetchError::Io {
        path: path.to_owned(),
        source,
    };
    let mut limited = (&mut r).take(max.saturating_add(1));
    // Large reads: a snapshot is hundreds of MiB, and each read is a syscall.
    let mut buf = vec![0u8; 1 << 18];
    let mut n = 0u64;
    loop {
        let k = limited.read(&mut buf).map_err(io)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        if n > max {
            return Err(FetchError::TooLarge {
                path: path.to_owned(),
                max,
            });
        }
        out.write_all(&buf[..k]).map_err(io)?;
    }
    Ok(n)
}

/// Files from a local directory (tests, a mirror on disk, a USB stick).
#[derive(Clone, Debug)]
pub struct DirFetcher {
    pub base: PathBuf,
}

impl DirFetcher {
    pub fn new(base: impl Into<PathBuf>) -> DirFetcher {
        DirFetcher { base: base.into() }
    }
}

impl Fetcher for DirFetcher {
    fn fetch(&self, path: &str, max: u64, out: &mut dyn Write) -> Result<u64, FetchError> {
        if !files::is_safe_name(path) {
            return Err(FetchError::BadPath(path.to_owned()));
        }
        let f = match fs::File::open(self.base.join(path)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(FetchError::NotFound(path.to_owned()))
            }
            Err(source) => {
                return Err(FetchError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        if f.metadata().map(|m| m.len() > max).unwrap_or(false) {
            return Err(FetchError::TooLarge {
                path: path.to_owned(),
                max,
            });
        }
        copy_capped(f, out, max, path)
    }
}

/// Files over HTTP(S) from a base URL (any static web server or CDN).
pub struct HttpFetcher {
    base: String,
    agent: ureq::Agent,
}

impl HttpFetcher {
    /// `base` like `https://feed.example.org/v1/` (a missing final `/` is added).
    pub fn new(base: &str) -> HttpFetcher {
        let mut base = base.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60))
            .redirects(3)
            .user_agent(concat!("warden-feed/", env!("CARGO_PKG_VERSION")))
            .build();
        HttpFetcher { base, agent }
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&self, path: &str, max: u64, out: &mut dyn Write) -> Result<u64, FetchError> {
        if !files::is_safe_name(path) {
            return Err(FetchError::BadPath(path.to_owned()));
        }
        let url = format!("{}{path}", self.base);
        let resp = match self.agent.get(&url).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(404, _)) => return Err(FetchError::NotFound(path.to_owned())),
            Err(ureq::Error::Status(code, r)) => {
                return Err(FetchError::Http {
                    path: path.to_owned(),
                    message: format!("HTTP {code} {}", r.status_text()),
                })
            }
            Err(e) => {
                return Err(FetchError::Http {
                    path: path.to_owned(),
                    message: e.to_string(),
                })
            }
        };
        // Refuse early when the server says it is too big; count anyway.
        if let Some(len) = resp
            .header("Content-Length")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            if len > max {
                return Err(FetchError::TooLarge {
                    path: path.to_owned(),
                    max,
                });
            }
        }
        copy_capped(resp.into_reader(), out, max, path)
    }
}

/// Why a sync was refused. Each names the document and the reason.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("fetching the feed: {0}")]
    Fetch(#[from] FetchError),
    #[error("{document} is not signed by a threshold of the {role} role of root v{root_version}: {source}")]
    Untrusted {
        document: String,
        role: &'static str,
        root_version: u64,
        #[source]
        source: EnvelopeError,
    },
    #[error("{document} is malformed: {reason}")]
    Malformed { document: String, reason: String },
    #[error("{document} says root version {found}, expected {expected}")]
    RootVersion {
        document: String,
        expected: u64,
        found: u64,
    },
    #[error("invalid root: {0}")]
    RootInvalid(String),
    #[error("{document} expired at {expires} (now {now}): the feed may be frozen by a mirror or an attacker")]
    Expired {
        document: String,
        expires: i64,
        now: i64,
    },
    #[error("rollback: the feed offers version {offered}, older than the version {have} already accepted")]
    Rollback { have: u64, offered: u64 },
    #[error("equivocation: version {version} offered with listings different from the ones accepted for it")]
    Equivocation { version: u64 },
    #[error("timestamp.json needs root v{needed} but only v{have} could be found")]
    RootMissing { needed: u64, have: u64 },
    #[error("{document} is {got} bytes, the timestamp says {expected}")]
    SizeMismatch {
        document: String,
        expected: u64,
        got: u64,
    },
    #[error("{document} does not have the SHA-256 the signed documents give")]
    HashMismatch { document: String },
    #[error("{document} is inconsistent with the signed documents: {reason}")]
    Inconsistent { document: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> SyncError + '_ {
    move |source| SyncError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Size limits for what a sync accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_snapshot_bytes: u64,
    pub max_delta_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_snapshot_bytes: DEFAULT_MAX_SNAPSHOT_BYTES,
            max_delta_bytes: DEFAULT_MAX_DELTA_BYTES,
        }
    }
}

/// How a sync got to its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// Already at the timestamp's version (its expiry was refreshed).
    UpToDate,
    /// Applied this many deltas.
    Deltas(usize),
    /// Downloaded the snapshot.
    Snapshot,
}

/// What a successful sync did.
#[derive(Debug)]
pub struct SyncReport {
    pub from: u64,
    pub to: u64,
    pub via: Via,
    pub root_rotations: u64,
    /// Why the deltas were not used, when the snapshot was fetched instead
    /// of an announced delta chain (a refused delta is not fatal: the
    /// snapshot is checked on its own).
    pub delta_refused: Option<SyncError>,
}

/// The listings file held, and what it must hash to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Held {
    file: String,
    /// Bytes before the first listing line (the snapshot's header line).
    offset: u64,
    sha256: String,
    count: u64,
}

/// What is kept on disk (`state.json`).
#[derive(Serialize, Deserialize)]
struct State {
    root: Envelope,
    timestamp: Option<Envelope>,
    listings: Option<Held>,
}

const STATE: &str = "state.json";

/// The feed a router trusts, kept in a state directory.
pub struct TrustedFeed {
    dir: PathBuf,
    root: Root,
    root_env: Envelope,
    timestamp: Option<Timestamp>,
    timestamp_env: Option<Envelope>,
    held: Option<Held>,
    pub limits: Limits,
}

fn open_root_self_signed(env: &Envelope, document: &str) -> Result<Root, SyncError> {
    let root: Root = serde_json::from_slice(&env.payload).map_err(|e| SyncError::Malformed {
        document: document.to_owned(),
        reason: e.to_string(),
    })?;
    check_root(&root).map_err(SyncError::RootInvalid)?;
    let keys = role_keys(&root, &root.roles.root);
    env.verify_with(PAYLOAD_ROOT, &keys, root.roles.root.threshold as usize)
        .map_err(|source| SyncError::Untrusted {
            document: document.to_owned(),
            role: "root",
            root_version: root.version,
            source,
        })?;
    Ok(root)
}

impl TrustedFeed {
    /// Opens the feed state in `dir` (created if missing), trusting the
    /// pinned root (the `root.json` shipped in the router's config) or the
    /// newer root a previous sync accepted after it.
    pub fn open(dir: &Path, pinned_root: &[u8]) -> Result<TrustedFeed, SyncError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let env = Envelope::from_slice(pinned_root, MAX_ROOT_BYTES).map_err(|e| {
            SyncError::Malformed {
                document: "pinned root".into(),
                reason: e.to_string(),
            }
        })?;
        let pinned = open_root_self_signed(&env, "pinned root")?;
        let mut feed = TrustedFeed {
            dir: dir.to_owned(),
            root: pinned,
            root_env: env,
            timestamp: None,
            timestamp_env: None,
            held: None,
            limits: Limits::default(),
        };
        let state_path = dir.join(STATE);
        let bytes = match fs::read(&state_path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(feed),
            Err(e) => return Err(io_err(&state_path)(e)),
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| SyncError::Malformed {
            document: state_path.display().to_string(),
            reason: e.to_string(),
        })?;
        let stored = open_root_self_signed(&state.root, "stored root")?;
        if stored.version >= feed.root.version {
            feed.root = stored;
            feed.root_env = state.root;
        }
        if let Some(env) = state.timestamp {
            let ts: Timestamp =
                serde_json::from_slice(&env.payload).map_err(|e| SyncError::Malformed {
                    document: "stored timestamp".into(),
                    reason: e.to_string(),
                })?;
            feed.timestamp = Some(ts);
            feed.timestamp_env = Some(env);
        }
        // The listings file must still be what was accepted; if not, keep
        // the version (so no rollback) but fetch the snapshot next time.
        if let Some(held) = state.listings {
            if feed.hash_held(&held).ok().as_deref() == Some(held.sha256.as_str()) {
                feed.held = Some(held);
            }
        }
        Ok(feed)
    }

    fn hash_held(&self, held: &Held) -> Result<String, SyncError> {
        let p = self.dir.join(&held.file);
        let mut f = fs::File::open(&p).map_err(io_err(&p))?;
        f.seek(SeekFrom::Start(held.offset)).map_err(io_err(&p))?;
        let mut h = HashWriter::new(files::Sink);
        io::copy(&mut f, &mut h).map_err(io_err(&p))?;
        Ok(h.finish().1)
    }

    /// The version of the listings accepted (0: none yet).
    pub fn version(&self) -> u64 {
        self.timestamp.as_ref().map_or(0, |t| t.version)
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The accepted timestamp, if any.
    pub fn timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref()
    }

    /// Whether the feed was confirmed current within its timestamp's
    /// lifetime. A stale feed is still the last good copy; the guard keeps
    /// acting on it and says that it is stale.
    pub fn is_fresh(&self, now: i64) -> bool {
        self.timestamp.as_ref().is_some_and(|t| t.expires > now)
    }

    /// Whether listings are held.
    pub fn has_listings(&self) -> bool {
        self.held.is_some()
    }

    fn persist(&self) -> Result<(), SyncError> {
        let state = State {
            root: self.root_env.clone(),
            timestamp: self.timestamp_env.clone(),
            listings: self.held.clone(),
        };
        let p = self.dir.join(STATE);
        let bytes = serde_json::to_vec(&state).expect("state serializes");
        files::atomic_write(&p, &bytes).map_err(io_err(&p))
    }

    fn feed_keys(&self) -> (Vec<PublicKey>, usize) {
        (
            role_keys(&self.root, &self.root.roles.feed),
            self.root.roles.feed.threshold as usize,
        )
    }

    fn open_feed_doc<T: serde::de::DeserializeOwned>(
        &self,
        bytes: &[u8],
        max: usize,
        payload_type: &'static str,
        document: &str,
    ) -> Result<T, SyncError> {
        let env = Envelope::from_slice(bytes, max).map_err(|e| SyncError::Malformed {
            document: document.to_owned(),
            reason: e.to_string(),
        })?;
        let (keys, threshold) = self.feed_keys();
        let payload = env
            .verify_with(payload_type, &keys, threshold)
            .map_err(|source| SyncError::Untrusted {
                document: document.to_owned(),
                role: "feed",
                root_version: self.root.version,
                source,
            })?;
        serde_json::from_slice(payload).map_err(|e| SyncError::Malformed {
            document: document.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Walks root rotations; returns how many were accepted.
    fn update_root(&mut self, fetcher: &dyn Fetcher) -> Result<u64, SyncError> {
        let mut rotations = 0;
        while rotations < MAX_ROOT_ROTATIONS {
            let next = self.root.version + 1;
            let name = files::root_file(next);
            let bytes = match fetcher.get(&name, MAX_ROOT_BYTES as u64) {
                Ok(b) => b,
                Err(FetchError::NotFound(_)) => break,
                Err(e) => return Err(e.into()),
            };
            let env =
                Envelope::from_slice(&bytes, MAX_ROOT_BYTES).map_err(|e| SyncError::Malformed {
                    document: name.clone(),
                    reason: e.to_string(),
                })?;
            // Signed by the current root's root role first: nothing of a
            // root that the trusted one did not sign is looked at further.
            let old_keys = role_keys(&self.root, &self.root.roles.root);
            env.verify_with(
                PAYLOAD_ROOT,
                &old_keys,
                self.root.roles.root.threshold as usize,
            )
            .map_err(|source| SyncError::Untrusted {
                document: name.clone(),
                role: "root",
                root_version: self.root.version,
                source,
            })?;
            let new = open_root_self_signed(&env, &name)?;
            if new.version != next {
                return Err(SyncError::RootVersion {
                    document: name,
                    expected: next,
                    found: new.version,
                });
            }
            self.root = new;
            self.root_env = env;
            rotations += 1;
            self.persist()?;
        }
        Ok(rotations)
    }

    /// Fetches and verifies the feed; on success the new listings are kept
    /// on disk and become the last good copy. On any error nothing changes
    /// (except accepted root rotations, which stand on their own).
    pub fn sync(&mut self, fetcher: &dyn Fetcher, now: i64) -> Result<SyncReport, SyncError> {
        self.sync_inner(fetcher, now, None).map(|(r, _)| r)
    }

    /// [`sync`](Self::sync), then the held listings matched against
    /// `devices`. When a snapshot is downloaded, the matching happens in
    /// the same pass as the download and the verification (one read of the
    /// feed; docs/feed.md has the figures for a million listings).
    pub fn sync_and_scan(
        &mut self,
        fetcher: &dyn Fetcher,
        now: i64,
        devices: &DeviceSet,
    ) -> Result<(SyncReport, ScanOutcome), SyncError> {
        let (report, scan) = self.sync_inner(fetcher, now, Some(devices))?;
        let scan = match scan {
            Some(s) => s,
            None => self.scan(devices)?,
        };
        Ok((report, scan))
    }

    fn sync_inner(
        &mut self,
        fetcher: &dyn Fetcher,
        now: i64,
        devices: Option<&DeviceSet>,
    ) -> Result<(SyncReport, Option<ScanOutcome>), SyncError> {
        let root_rotations = self.update_root(fetcher)?;
        if self.root.expires <= now {
            return Err(SyncError::Expired {
                document: format!("root v{}", self.root.version),
                expires: self.root.expires,
                now,
            });
        }
        let bytes = fetcher.get(files::TIMESTAMP, MAX_TIMESTAMP_BYTES as u64)?;
        let ts: Timestamp = self.open_feed_doc(
            &bytes,
            MAX_TIMESTAMP_BYTES,
            PAYLOAD_TIMESTAMP,
            files::TIMESTAMP,
        )?;
        let ts_env = Envelope::from_slice(&bytes, MAX_TIMESTAMP_BYTES).expect("parsed above");
        if ts.expires <= now {
            return Err(SyncError::Expired {
                document: format!("timestamp.json v{}", ts.version),
                expires: ts.expires,
                now,
            });
        }
        let have = self.version();
        if ts.version < have {
            return Err(SyncError::Rollback {
                have,
                offered: ts.version,
            });
        }
        if ts.root_version > self.root.version {
            return Err(SyncError::RootMissing {
                needed: ts.root_version,
                have: self.root.version,
            });
        }
        if ts.root_version < self.root.version {
            return Err(SyncError::Inconsistent {
                document: files::TIMESTAMP.into(),
                reason: format!(
                    "it was written for root v{}, root v{} is current",
                    ts.root_version, self.root.version
                ),
            });
        }
        if ts.version == have {
            let held_sha = self.timestamp.as_ref().map(|t| &t.snapshot.listings_sha256);
            if held_sha != Some(&ts.snapshot.listings_sha256) {
                return Err(SyncError::Equivocation {
                    version: ts.version,
                });
            }
        }
        for p in std::iter::once(&ts.snapshot.path).chain(ts.deltas.iter().map(|d| &d.path)) {
            if !files::is_safe_name(p) {
                return Err(SyncError::Malformed {
                    document: files::TIMESTAMP.into(),
                    reason: format!("names an unsafe path {p:?}"),
                });
            }
        }

        let mut delta_refused = None;
        let mut scan = None;
        let via = if ts.version == have && self.held.is_some() {
            Via::UpToDate
        } else {
            let mut via = None;
            if let Some(held) = self.held.clone() {
                match self.try_deltas(fetcher, &ts, &held, have, now) {
                    Ok(Some((new_held, n))) => {
                        self.replace_held(new_held);
                        via = Some(Via::Deltas(n));
                    }
                    Ok(None) => {}
                    Err(e) => delta_refused = Some(e),
                }
            }
            match via {
                Some(v) => v,
                None => {
                    let (new_held, s) = self.fetch_snapshot(fetcher, &ts, now, devices)?;
                    self.replace_held(new_held);
                    scan = s;
                    Via::Snapshot
                }
            }
        };
        self.timestamp = Some(ts);
        self.timestamp_env = Some(ts_env);
        self.persist()?;
        self.remove_stale_files();
        Ok((
            SyncReport {
                from: have,
                to: self.version(),
                via,
                root_rotations,
                delta_refused,
            },
            scan,
        ))
    }

    fn replace_held(&mut self, new: Held) {
        self.held = Some(new);
    }

    /// Removes listings files other than the one held, and leftovers.
    fn remove_stale_files(&self) {
        let keep = self.held.as_ref().map(|h| h.file.clone());
        if let Ok(rd) = fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let ours = name.starts_with("listings.") || name.ends_with(".download");
                if ours && Some(&name) != keep.as_ref() {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }

    /// The delta chain from `have` to the timestamp's version, applied.
    /// `Ok(None)`: no complete chain announced.
    fn try_deltas(
        &self,
        fetcher: &dyn Fetcher,
        ts: &Timestamp,
        held: &Held,
        have: u64,
        now: i64,
    ) -> Result<Option<(Held, usize)>, SyncError> {
        if have == 0 || have >= ts.version {
            return Ok(None);
        }
        let mut chain = Vec::new();
        let mut at = have;
        while at < ts.version {
            match ts.deltas.iter().find(|d| d.from == at && d.to == at + 1) {
                Some(d) => chain.push(d),
                None => return Ok(None),
            }
            at += 1;
        }
        let mut deltas = Vec::with_capacity(chain.len());
        for meta in &chain {
            if meta.size > self.limits.max_delta_bytes {
                return Err(FetchError::TooLarge {
                    path: meta.path.clone(),
                    max: self.limits.max_delta_bytes,
                }
                .into());
            }
            let bytes = fetcher.get(&meta.path, meta.size)?;
            check_size_hash(&meta.path, &bytes, meta.size, &meta.sha256)?;
            let delta: Delta =
                self.open_feed_doc(&bytes, bytes.len(), PAYLOAD_DELTA, &meta.path)?;
            if delta.from != meta.from || delta.to != meta.to {
                return Err(SyncError::Inconsistent {
                    document: meta.path.clone(),
                    reason: format!(
                        "it goes from {} to {}, the timestamp says {} to {}",
                        delta.from, delta.to, meta.from, meta.to
                    ),
                });
            }
            if delta.expires <= now {
                return Err(SyncError::Expired {
                    document: meta.path.clone(),
                    expires: delta.expires,
                    now,
                });
            }
            let sorted = delta.upserts.windows(2).all(|w| w[0].id < w[1].id)
                && delta.removals.windows(2).all(|w| w[0] < w[1]);
            if !sorted {
                return Err(SyncError::Malformed {
                    document: meta.path.clone(),
                    reason: "upserts and removals must be sorted by id, each id once".into(),
                });
            }
            deltas.push(delta);
        }
        // Apply one after another into temporary files.
        let mut current = (self.dir.join(&held.file), held.offset);
        let mut temps = Vec::new();
        for (i, d) in deltas.iter().enumerate() {
            let out = self
                .dir
                .join(format!("listings.{}.{i}.download", ts.version));
            apply_delta(&current.0, current.1, d, &out)?;
            temps.push(out.clone());
            current = (out, 0);
        }
        let final_name = format!("listings.{}.jsonl", ts.version);
        let final_path = self.dir.join(&final_name);
        let (sha, count) = hash_lines(&current.0, 0)?;
        if sha != ts.snapshot.listings_sha256 || count != ts.snapshot.count {
            for t in &temps {
                let _ = fs::remove_file(t);
            }
            return Err(SyncError::HashMismatch {
                document: format!("listings after deltas {have}..{}", ts.version),
            });
        }
        fs::rename(&current.0, &final_path).map_err(io_err(&final_path))?;
        for t in &temps {
            let _ = fs::remove_file(t);
        }
        Ok(Some((
            Held {
                file: final_name,
                offset: 0,
                sha256: sha,
                count,
            },
            chain.len(),
        )))
    }

    /// Downloads, verifies and keeps the snapshot. The file is checked by
    /// its size, its signed header (same version and listings hash as the
    /// timestamp, unexpired) and the SHA-256 of its listing lines against
    /// the timestamp's `listings_sha256`: the header line is authenticated
    /// by its own signature and the lines by the hash, in one pass. With
    /// `devices`, the lines are matched during that pass too; the matches
    /// are returned only when everything checked out.
    fn fetch_snapshot(
        &self,
        fetcher: &dyn Fetcher,
        ts: &Timestamp,
        now: i64,
        devices: Option<&DeviceSet>,
    ) -> Result<(Held, Option<ScanOutcome>), SyncError> {
        let meta = &ts.snapshot;
        let max = self.limits.max_snapshot_bytes;
        if meta.size > max {
            return Err(FetchError::TooLarge {
                path: meta.path.clone(),
                max,
            }
            .into());
        }
        let name = format!("listings.{}.jsonl", ts.version);
        let tmp = self.dir.join(format!("{name}.download"));
        let result = (|| {
            let f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
            let mut w = SnapshotWriter::new(
                io::BufWriter::with_capacity(1 << 18, f),
                devices.map(DeviceSet::scanner),
            );
            fetcher.fetch(&meta.path, meta.size, &mut w)?;
            if let Some(sc) = w.scanner.as_mut() {
                if !w.partial.is_empty() || w.partial_overflow {
                    // A last line without a newline.
                    let last = std::mem::take(&mut w.partial);
                    sc.line(if w.partial_overflow { b"\xff" } else { &last });
                }
            }
            let body_sha = std::mem::replace(&mut w.body, BodyHasher::idle()).finish();
            let (file_len, body_len, lines) = (w.len, w.body_len, w.newlines);
            let header_line = std::mem::take(&mut w.header);
            let header_ok = w.header_done && !w.header_too_long;
            let scan = w.scanner.take().map(LineScanner::finish);
            // No fsync: the listings are checked against their hash when
            // loaded, so a torn write after a crash only means a re-download.
            w.inner
                .into_inner()
                .map_err(|e| io_err(&tmp)(e.into_error()))?;
            if file_len != meta.size {
                return Err(SyncError::SizeMismatch {
                    document: meta.path.clone(),
                    expected: meta.size,
                    got: file_len,
                });
            }
            if !header_ok {
                return Err(SyncError::Malformed {
                    document: meta.path.clone(),
                    reason: format!("no header line within {MAX_SNAPSHOT_HEADER_BYTES} bytes"),
                });
            }
            let header: SnapshotHeader = self.open_feed_doc(
                &header_line,
                MAX_SNAPSHOT_HEADER_BYTES,
                PAYLOAD_SNAPSHOT,
                &meta.path,
            )?;
            let inconsistent = |reason: String| SyncError::Inconsistent {
                document: meta.path.clone(),
                reason,
            };
            if header.version != ts.version {
                return Err(inconsistent(format!(
                    "it is version {}, the timestamp is {}",
                    header.version, ts.version
                )));
            }
            if header.expires <= now {
                return Err(SyncError::Expired {
                    document: meta.path.clone(),
                    expires: header.expires,
                    now,
                });
            }
            if header.listings_sha256 != meta.listings_sha256 || header.count != meta.count {
                return Err(inconsistent("its listings are not the timestamp's".into()));
            }
            if body_sha != meta.listings_sha256 {
                return Err(SyncError::HashMismatch {
                    document: meta.path.clone(),
                });
            }
            if body_len != header.listings_size || lines != header.count {
                return Err(inconsistent(format!(
                    "{lines} lines of {body_len} bytes, its header says {} of {}",
                    header.count, header.listings_size
                )));
            }
            let final_path = self.dir.join(&name);
            fs::rename(&tmp, &final_path).map_err(io_err(&final_path))?;
            Ok((
                Held {
                    file: name.clone(),
                    offset: header_line.len() as u64 + 1,
                    sha256: body_sha,
                    count: header.count,
                },
                scan,
            ))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn open_listings(&self) -> Result<Option<BufReader<fs::File>>, SyncError> {
        let Some(held) = &self.held else {
            return Ok(None);
        };
        let p = self.dir.join(&held.file);
        let mut f = fs::File::open(&p).map_err(io_err(&p))?;
        f.seek(SeekFrom::Start(held.offset)).map_err(io_err(&p))?;
        Ok(Some(BufReader::with_capacity(1 << 16, f)))
    }

    /// Streams the held listings past `devices` (bounded memory).
    pub fn scan(&self, devices: &DeviceSet) -> Result<ScanOutcome, SyncError> {
        match self.open_listings()? {
            Some(r) => devices.scan(r).map_err(io_err(&self.dir)),
            None => Ok(ScanOutcome::default()),
        }
    }

    /// All held listings in memory (for small feeds and tests).
    pub fn listings(&self) -> Result<Vec<Listing>, SyncError> {
        let Some(mut r) = self.open_listings()? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            if read_line_capped(&mut r, &mut line, MAX_LISTING_LINE_BYTES)
                .map_err(io_err(&self.dir))?
                == 0
            {
                break;
            }
            let body = line.strip_suffix(b"\n").unwrap_or(&line);
            if let Ok(l) = serde_json::from_slice(body) {
                out.push(l);
            }
        }
        Ok(out)
    }

    /// The held listings indexed in memory.
    pub fn index(&self) -> Result<FeedIndex, SyncError> {
        Ok(FeedIndex::build(self.listings()?))
    }
}

fn check_size_hash(path: &str, bytes: &[u8], size: u64, sha: &str) -> Result<(), SyncError> {
    if bytes.len() as u64 != size {
        return Err(SyncError::SizeMismatch {
            document: path.to_owned(),
            expected: size,
            got: bytes.len() as u64,
        });
    }
    if crate::sha256_hex(bytes) != sha {
        return Err(SyncError::HashMismatch {
            document: path.to_owned(),
        });
    }
    Ok(())
}

/// SHA-256 on a second thread, so that hashing a large snapshot overlaps
/// with writing and matching it (the machine a router has: two cores or
/// more). Chunks go through a bounded channel: at most 8 are in flight.
struct BodyHasher {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    /// Buffers the hashing thread is done with, to be filled again.
    spare: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
    handle: Option<std::thread::JoinHandle<String>>,
}

impl BodyHasher {
    fn new() -> BodyHasher {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let (back_tx, back_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let handle = std::thread::spawn(move || {
            let mut h = Sha256::new();
            for chunk in rx {
                h.update(&chunk);
                let _ = back_tx.try_send(chunk);
            }
            crate::hex(&h.finalize())
        });
        BodyHasher {
            tx: Some(tx),
            spare: Some(back_rx),
            handle: Some(handle),
        }
    }

    fn idle() -> BodyHasher {
        BodyHasher {
            tx: None,
            spare: None,
            handle: None,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            let mut buf = self
                .spare
                .as_ref()
                .and_then(|r| r.try_recv().ok())
                .unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(bytes);
            // The receiver only stops when dropped; then finish() reports it.
            let _ = tx.send(buf);
        }
    }

    /// The hex digest ("" if the hashing thread died, which never matches).
    fn finish(mut self) -> String {
        self.tx = None;
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for BodyHasher {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// One pass over a downloading snapshot: the header line kept (bounded),
/// the listing lines hashed, counted and, when a scanner is given, matched
/// against the router's devices as they stream past.
struct SnapshotWriter<'a, W> {
    inner: W,
    len: u64,
    header: Vec<u8>,
    header_done: bool,
    header_too_long: bool,
    body: BodyHasher,
    body_len: u64,
    newlines: u64,
    scanner: Option<LineScanner<'a>>,
    partial: Vec<u8>,
    partial_overflow: bool,
}

impl<'a, W: Write> SnapshotWriter<'a, W> {
    fn new(inner: W, scanner: Option<LineScanner<'a>>) -> Self {
        SnapshotWriter {
            inner,
            len: 0,
            header: Vec::new(),
            header_done: false,
            header_too_long: false,
            body: BodyHasher::new(),
            body_len: 0,
            newlines: 0,
            scanner,
            partial: Vec::new(),
            partial_overflow: false,
        }
    }

    fn scan_lines(&mut self, mut rest: &[u8]) {
        let Some(scanner) = self.scanner.as_mut() else {
            return;
        };
        while let Some(i) = memchr::memchr(b'\n', rest) {
            self.newlines += 1;
            if self.partial.is_empty() && !self.partial_overflow {
                scanner.line(&rest[..i]);
            } else {
                if !self.partial_overflow && self.partial.len() + i <= MAX_LISTING_LINE_BYTES {
                    self.partial.extend_from_slice(&rest[..i]);
                    scanner.line(&self.partial);
                } else {
                    // Too long to be a listing: counted, not buffered.
                    scanner.line(b"\xff");
                }
                self.partial.clear();
                self.partial_overflow = false;
            }
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            if self.partial.len() + rest.len() <= MAX_LISTING_LINE_BYTES {
                self.partial.extend_from_slice(rest);
            } else {
                self.partial.clear();
                self.partial_overflow = true;
            }
        }
    }
}

impl<W: Write> Write for SnapshotWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let buf = &buf[..n];
        self.len += n as u64;
        let mut rest = buf;
        if !self.header_done {
            let (part, done) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            if self.header.len() + part.len() <= MAX_SNAPSHOT_HEADER_BYTES {
                self.header.extend_from_slice(part);
            } else {
                self.header_too_long = true;
            }
            if !done {
                return Ok(n);
            }
            self.header_done = true;
            rest = &rest[part.len() + 1..];
        }
        self.body.update(rest);
        self.body_len += rest.len() as u64;
        if self.scanner.is_some() {
            self.scan_lines(rest);
        } else {
            self.newlines += memchr::memchr_iter(b'\n', rest).count() as u64;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 and line count of a listings file from `offset`.
fn hash_lines(path: &Path, offset: u64) -> Result<(String, u64), SyncError> {
    let mut f = fs::File::open(path).map_err(io_err(path))?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok((crate::hex(&h.finalize()), lines))
}

/// Merge-joins a sorted listings file with a delta into `out`.
fn apply_delta(input: &Path, offset: u64, delta: &Delta, out: &Path) -> Result<(), SyncError> {
    let mut f = fs::File::open(input).map_err(io_err(input))?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err(input))?;
    let mut r = BufReader::with_capacity(1 << 16, f);
    let w = fs::File::create(out).map_err(io_err(out))?;
    let mut w = io::BufWriter::with_capacity(1 << 16, w);
    let mut ups = delta.upserts.iter().peekable();
    let mut rem = delta.removals.iter().peekable();
    let mut line = Vec::new();
    let write_listing = |w: &mut io::BufWriter<fs::File>, l: &Listing| -> io::Result<()> {
        serde_json::to_writer(&mut *w, l).map_err(io::Error::other)?;
        w.write_all(b"\n")
    };
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).map_err(io_err(input))?;
        if n == 0 {
            break;
        }
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let id = files::line_id(body).ok_or_else(|| SyncError::Malformed {
            document: input.display().to_string(),
            reason: "a held listing line has no id".into(),
        })?;
        while let Some(u) = ups.next_if(|u| u.id < id) {
            write_listing(&mut w, u).map_err(io_err(out))?;
        }
        while rem.next_if(|r| r.as_str() < id.as_str()).is_some() {}
        let removed = rem.next_if(|r| **r == id).is_some();
        let replaced = match ups.next_if(|u| u.id == id) {
            Some(u) => {
                write_listing(&mut w, u).map_err(io_err(out))?;
                true
            }
            None => false,
        };
        if !removed && !replaced {
            w.write_all(body).map_err(io_err(out))?;
            w.write_all(b"\n").map_err(io_err(out))?;
        }
    }
    for u in ups {
        write_listing(&mut w, u).map_err(io_err(out))?;
    }
    let f = w.into_inner().map_err(|e| io_err(out)(e.into_error()))?;
    f.sync_all().map_err(io_err(out))?;
    Ok(())
}
