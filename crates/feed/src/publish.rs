//! The writer side: the signed files of a feed directory, which any static
//! web server or CDN can serve (`warden feed publish --out DIR`).
//!
//! ```text
//! root.json, root.<N>.json      roots (root.json = the newest)
//! snapshot.<V>.jsonl            line 1: signed SnapshotHeader; then one listing per line, sorted by id
//! delta.<V-1>-<V>.json          signed Delta
//! timestamp.json                signed Timestamp, written last
//! ```
//!
//! [`publish`] numbers the new version after the directory's current
//! timestamp, writes the snapshot, the delta from the previous snapshot,
//! then the timestamp (so a reader never sees a timestamp naming a missing
//! file), and prunes snapshots and deltas that are no longer named.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::envelope::Envelope;
use crate::files::{self, HashWriter};
use crate::keys::{KeyPair, PublicKey};
use crate::types::{
    Delta, DeltaMeta, Listing, Role, Roles, Root, SnapshotHeader, SnapshotMeta, Timestamp,
};
use crate::{PAYLOAD_DELTA, PAYLOAD_ROOT, PAYLOAD_SNAPSHOT, PAYLOAD_TIMESTAMP};

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no root in {0}: write one first (publish::write_root)")]
    NoRoot(PathBuf),
    #[error("{0}")]
    Root(String),
    #[error("the keys given are not a threshold of root v{root_version}'s feed role")]
    NotFeedKeys { root_version: u64 },
    #[error("listing ids must be unique and sorted; {0:?} is out of order or repeated")]
    Unsorted(String),
    #[error("{path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: String },
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Publishing settings. Defaults: snapshots and deltas valid for 14 days,
/// the timestamp for 24 hours (a client refuses a feed whose timestamp is
/// older: republish at least daily), 30 deltas kept.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// Unix seconds.
    pub now: i64,
    pub snapshot_ttl_s: i64,
    pub timestamp_ttl_s: i64,
    pub keep_deltas: usize,
}

impl PublishOptions {
    pub fn at(now: i64) -> PublishOptions {
        PublishOptions {
            now,
            snapshot_ttl_s: 14 * 24 * 3600,
            timestamp_ttl_s: 24 * 3600,
            keep_deltas: 30,
        }
    }
}

/// A root document for the given keys.
pub fn new_root(
    version: u64,
    expires: i64,
    root_keys: &[PublicKey],
    root_threshold: u32,
    feed_keys: &[PublicKey],
    feed_threshold: u32,
) -> Root {
    let keys = root_keys
        .iter()
        .chain(feed_keys)
        .map(|k| (k.key_id(), *k))
        .collect();
    Root {
        version,
        expires,
        keys,
        roles: Roles {
            root: Role {
                keyids: root_keys.iter().map(PublicKey::key_id).collect(),
                threshold: root_threshold,
            },
            feed: Role {
                keyids: feed_keys.iter().map(PublicKey::key_id).collect(),
                threshold: feed_threshold,
            },
        },
    }
}

/// Checks a root's internal consistency: every key id is the hash of its
/// key, every role names known keys, thresholds are 1..=number of keys.
pub fn check_root(root: &Root) -> Result<(), String> {
    for (id, key) in &root.keys {
        if key.key_id() != *id {
            return Err(format!(
                "root v{}: key id {id} is not its key's id",
                root.version
            ));
        }
    }
    for (name, role) in [("root", &root.roles.root), ("feed", &root.roles.feed)] {
        let distinct: BTreeSet<_> = role.keyids.iter().collect();
        if role.threshold == 0 || role.threshold as usize > distinct.len() {
            return Err(format!(
                "root v{}: {name} role threshold {} with {} distinct keys",
                root.version,
                role.threshold,
                distinct.len()
            ));
        }
        if let Some(id) = role.keyids.iter().find(|id| !root.keys.contains_key(id)) {
            return Err(format!(
                "root v{}: {name} role names key {id} that is not in keys",
                root.version
            ));
        }
    }
    if root.version == 0 {
        return Err("root version must start at 1".into());
    }
    Ok(())
}

/// Role keys of `root`.
pub fn role_keys(root: &Root, role: &Role) -> Vec<PublicKey> {
    role.keyids
        .iter()
        .filter_map(|id| root.keys.get(id).copied())
        .collect()
}

/// Signs `root` with `signers` and writes `root.<N>.json` and `root.json`.
/// For a rotation (N > 1) the signers must include a threshold of root
/// N-1's root keys as well as of N's own: checked here against
/// `root.<N-1>.json` in `dir`, so a publisher cannot write a rotation that
/// clients would refuse.
pub fn write_root(dir: &Path, root: &Root, signers: &[&KeyPair]) -> Result<Envelope, PublishError> {
    check_root(root).map_err(PublishError::Root)?;
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let env = Envelope::sign(PAYLOAD_ROOT, root, signers);
    let own = role_keys(root, &root.roles.root);
    env.verify_with(PAYLOAD_ROOT, &own, root.roles.root.threshold as usize)
        .map_err(|e| {
            PublishError::Root(format!(
                "root v{} is not signed by its own root role: {e}",
                root.version
            ))
        })?;
    if root.version > 1 {
        let prev = read_root(dir, root.version - 1)?.ok_or_else(|| {
            PublishError::Root(format!("root.{}.json is missing", root.version - 1))
        })?;
        let keys = role_keys(&prev, &prev.roles.root);
        env.verify_with(PAYLOAD_ROOT, &keys, prev.roles.root.threshold as usize)
            .map_err(|e| {
                PublishError::Root(format!(
                    "root v{} is not signed by a threshold of root v{}'s root keys: {e}",
                    root.version, prev.version
                ))
            })?;
    }
    let bytes = env.to_vec();
    let p = dir.join(files::root_file(root.version));
    files::atomic_write(&p, &bytes).map_err(io_err(&p))?;
    let p = dir.join(files::ROOT);
    files::atomic_write(&p, &bytes).map_err(io_err(&p))?;
    Ok(env)
}

fn read_root(dir: &Path, version: u64) -> Result<Option<Root>, PublishError> {
    let p = dir.join(files::root_file(version));
    let bytes = match fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&p)(e)),
    };
    let malformed = |reason: String| PublishError::Malformed {
        path: p.clone(),
        reason,
    };
    let env = Envelope::from_slice(&bytes, crate::MAX_ROOT_BYTES)
        .map_err(|e| malformed(e.to_string()))?;
    serde_json::from_slice(&env.payload)
        .map(Some)
        .map_err(|e| malformed(e.to_string()))
}

/// The newest root in `dir` (highest N of `root.<N>.json`).
pub fn latest_root(dir: &Path) -> Result<Option<Root>, PublishError> {
    let mut best = None;
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let name = e.map_err(io_err(dir))?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix("root.")
            .and_then(|s| s.strip_suffix(".json"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            best = best.max(Some(n));
        }
    }
    match best {
        Some(n) => read_root(dir, n),
        None => Ok(None),
    }
}

fn read_timestamp(dir: &Path) -> Result<Option<Timestamp>, PublishError> {
    let p = dir.join(files::TIMESTAMP);
    let bytes = match fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&p)(e)),
    };
    let malformed = |reason: String| PublishError::Malformed {
        path: p.clone(),
        reason,
    };
    let env = Envelope::from_slice(&bytes, crate::MAX_TIMESTAMP_BYTES)
        .map_err(|e| malformed(e.to_string()))?;
    serde_json::from_slice(&env.payload)
        .map(Some)
        .map_err(|e| malformed(e.to_string()))
}

/// Publishes `listings` (any order; sorted here) as the next version.
pub fn publish(
    dir: &Path,
    mut listings: Vec<Listing>,
    feed_keys: &[&KeyPair],
    opts: &PublishOptions,
) -> Result<Timestamp, PublishError> {
    listings.sort_by(|a, b| a.id.cmp(&b.id));
    publish_sorted(dir, listings.into_iter(), feed_keys, opts)
}

/// Publishes listings that arrive sorted by id, unique (checked), without
/// holding them all: a million listings stream through.
pub fn publish_sorted(
    dir: &Path,
    listings: impl Iterator<Item = Listing>,
    feed_keys: &[&KeyPair],
    opts: &PublishOptions,
) -> Result<Timestamp, PublishError> {
    let root = latest_root(dir)?.ok_or_else(|| PublishError::NoRoot(dir.to_owned()))?;
    let feed_ids: BTreeSet<_> = feed_keys.iter().map(|k| k.key_id()).collect();
    let granted = root
        .roles
        .feed
        .keyids
        .iter()
        .filter(|id| feed_ids.contains(id))
        .collect::<BTreeSet<_>>()
        .len();
    if granted < root.roles.feed.threshold as usize {
        return Err(PublishError::NotFeedKeys {
            root_version: root.version,
        });
    }
    let prev = read_timestamp(dir)?;
    let version = prev.as_ref().map_or(1, |t| t.version + 1);
    let now = opts.now;
    let expires = now + opts.snapshot_ttl_s;

    // The listing lines, hashed, into a temporary body file.
    let body_path = dir.join(format!(".snapshot.{version}.body.tmp"));
    let (count, body_sha, body_len) = {
        let f = fs::File::create(&body_path).map_err(io_err(&body_path))?;
        let mut w = HashWriter::new(io::BufWriter::with_capacity(1 << 16, f));
        let mut count = 0u64;
        let mut last: Option<String> = None;
        for l in listings {
            if last.as_ref().is_some_and(|p| *p >= l.id) {
                let _ = fs::remove_file(&body_path);
                return Err(PublishError::Unsorted(l.id));
            }
            serde_json::to_writer(&mut w, &l).expect("listings serialize");
            w.write_all(b"\n").map_err(io_err(&body_path))?;
            count += 1;
            last = Some(l.id);
        }
        let (inner, sha, len) = w.finish();
        inner
            .into_inner()
            .map_err(|e| io_err(&body_path)(e.into_error()))?;
        (count, sha, len)
    };

    let header = SnapshotHeader {
        version,
        generated_at: now,
        expires,
        count,
        listings_sha256: body_sha.clone(),
        listings_size: body_len,
    };
    let header_line = Envelope::sign(PAYLOAD_SNAPSHOT, &header, feed_keys).to_vec();
    let snap_name = files::snapshot_file(version);
    let snap_path = dir.join(&snap_name);
    let mut file_sha = String::new();
    let mut file_len = 0;
    let written = files::atomic_write_with(&snap_path, |w| {
        let mut hw = HashWriter::new(w);
        hw.write_all(&header_line)?;
        hw.write_all(b"\n")?;
        io::copy(&mut fs::File::open(&body_path)?, &mut hw)?;
        let (_, sha, len) = hw.finish();
        file_sha = sha;
        file_len = len;
        Ok(())
    });
    let _ = fs::remove_file(&body_path);
    written.map_err(io_err(&snap_path))?;

    // The delta from the previous snapshot, when it is still here.
    let mut deltas: Vec<DeltaMeta> = prev
        .as_ref()
        .map(|t| t.deltas.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| dir.join(&d.path).exists())
        .collect();
    if version > 1 {
        let old_path = dir.join(files::snapshot_file(version - 1));
        if old_path.exists() {
            let (upserts, removals) = diff_snapshots(&old_path, &snap_path)?;
            let delta = Delta {
                from: version - 1,
                to: version,
                generated_at: now,
                expires,
                upserts,
                removals,
            };
            let bytes = Envelope::sign(PAYLOAD_DELTA, &delta, feed_keys).to_vec();
            let name = files::delta_file(version - 1, version);
            let p = dir.join(&name);
            files::atomic_write(&p, &bytes).map_err(io_err(&p))?;
            deltas.push(DeltaMeta {
                from: version - 1,
                to: version,
                path: name,
                sha256: crate::sha256_hex(&bytes),
                size: bytes.len() as u64,
            });
        }
    }
    // Only an unbroken chain ending at this version is useful.
    deltas.sort_by_key(|d| d.to);
    let mut chain: Vec<DeltaMeta> = Vec::new();
    for d in deltas.into_iter().rev() {
        let want = chain.last().map_or(version, |c| c.from);
        if d.to == want && d.from + 1 == d.to && chain.len() < opts.keep_deltas {
            chain.push(d);
        }
    }
    chain.reverse();

    let ts = Timestamp {
        version,
        generated_at: now,
        expires: now + opts.timestamp_ttl_s,
        root_version: root.version,
        snapshot: SnapshotMeta {
            path: snap_name.clone(),
            sha256: file_sha,
            size: file_len,
            listings_sha256: body_sha,
            count,
        },
        deltas: chain.clone(),
    };
    let bytes = Envelope::sign(PAYLOAD_TIMESTAMP, &ts, feed_keys).to_vec();
    let p = dir.join(files::TIMESTAMP);
    files::atomic_write(&p, &bytes).map_err(io_err(&p))?;

    // Prune: keep this snapshot and the previous one (clients may be
    // downloading it), and the deltas the timestamp names.
    let keep: BTreeSet<String> = chain
        .iter()
        .map(|d| d.path.clone())
        .chain([snap_name, files::snapshot_file(version - 1)])
        .collect();
    for e in fs::read_dir(dir).map_err(io_err(dir))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = (name.starts_with("snapshot.") && name.ends_with(".jsonl"))
            || (name.starts_with("delta.") && name.ends_with(".json"));
        if ours && !keep.contains(&name) {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(ts)
}

/// Lines of a snapshot file after its header, with their ids.
struct Lines {
    reader: BufReader<fs::File>,
    path: PathBuf,
    buf: Vec<u8>,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, PublishError> {
        let mut reader =
            BufReader::with_capacity(1 << 16, fs::File::open(path).map_err(io_err(path))?);
        let mut header = Vec::new();
        reader
            .read_until(b'\n', &mut header)
            .map_err(io_err(path))?;
        Ok(Lines {
            reader,
            path: path.to_owned(),
            buf: Vec::new(),
        })
    }

    /// The next (id, line without newline).
    fn next(&mut self) -> Result<Option<(String, Vec<u8>)>, PublishError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(io_err(&self.path))?;
        if n == 0 {
            return Ok(None);
        }
        let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf).to_vec();
        let id = files::line_id(&line).ok_or_else(|| PublishError::Malformed {
            path: self.path.clone(),
            reason: "a listing line without an id".into(),
        })?;
        Ok(Some((id, line)))
    }
}

/// Merge-joins two sorted snapshot files: what changed from `old` to `new`.
fn diff_snapshots(old: &Path, new: &Path) -> Result<(Vec<Listing>, Vec<String>), PublishError> {
    let mut a = Lines::open(old)?;
    let mut b = Lines::open(new)?;
    let mut upserts = Vec::new();
    let mut removals = Vec::new();
    let mut x = a.next()?;
    let mut y = b.next()?;
    let parse = |line: &[u8], path: &Path| -> Result<Listing, PublishError> {
        serde_json::from_slice(line).map_err(|e| PublishError::Malformed {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    };
    loop {
        match (&x, &y) {
            (None, None) => break,
            (Some((ia, _)), None) => {
                removals.push(ia.clone());
                x = a.next()?;
            }
            (None, Some((_, lb))) => {
                upserts.push(parse(lb, new)?);
                y = b.next()?;
            }
            (Some((ia, la)), Some((ib, lb))) => match ia.cmp(ib) {
                std::cmp::Ordering::Less => {
                    removals.push(ia.clone());
                    x = a.next()?;
                }
                std::cmp::Ordering::Greater => {
                    upserts.push(parse(lb, new)?);
                    y = b.next()?;
                }
                std::cmp::Ordering::Equal => {
                    if la != lb {
                        upserts.push(parse(lb, new)?);
                    }
                    x = a.next()?;
                    y = b.next()?;
                }
            },
        }
    }
    Ok((upserts, removals))
}
