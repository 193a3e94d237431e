//! The client against a published feed directory: the happy paths (snapshot,
//! deltas, reload, root rotation) and one constructed attack per refusal.

use std::fs;
use std::path::{Path, PathBuf};

use warden_feed::client::{DirFetcher, FetchError, Fetcher, SyncError, TrustedFeed, Via};
use warden_feed::publish::{self, new_root, PublishOptions};
use warden_feed::{
    synth, DeviceSet, Envelope, EnvelopeError, KeyPair, Listing, Timestamp, PAYLOAD_ROOT,
    PAYLOAD_TIMESTAMP,
};

const T0: i64 = 1_764_000_000;
const DAY: i64 = 86_400;

struct World {
    _tmp: tempfile::TempDir,
    out: PathBuf,
    state: PathBuf,
    root_key: KeyPair,
    feed_key: KeyPair,
    pinned: Vec<u8>,
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let state = tmp.path().join("state");
    let root_key = KeyPair::from_seed([1; 32]);
    let feed_key = KeyPair::from_seed([2; 32]);
    let root = new_root(
        1,
        T0 + 365 * DAY,
        &[root_key.public()],
        1,
        &[feed_key.public()],
        1,
    );
    let env = publish::write_root(&out, &root, &[&root_key]).unwrap();
    World {
        _tmp: tmp,
        out,
        state,
        root_key,
        feed_key,
        pinned: env.to_vec(),
    }
}

impl World {
    fn publish(&self, listings: Vec<Listing>, now: i64) -> Timestamp {
        publish::publish(
            &self.out,
            listings,
            &[&self.feed_key],
            &PublishOptions::at(now),
        )
        .unwrap()
    }

    fn client(&self) -> TrustedFeed {
        TrustedFeed::open(&self.state, &self.pinned).unwrap()
    }

    fn fetcher(&self) -> DirFetcher {
        DirFetcher::new(&self.out)
    }

    fn timestamp(&self) -> Timestamp {
        let env =
            Envelope::from_slice(&fs::read(self.out.join("timestamp.json")).unwrap(), 1 << 20)
                .unwrap();
        serde_json::from_slice(&env.payload).unwrap()
    }

    /// Replaces timestamp.json with `ts` signed by `keys`.
    fn write_timestamp(&self, ts: &Timestamp, keys: &[&KeyPair]) {
        let env = Envelope::sign(PAYLOAD_TIMESTAMP, ts, keys);
        fs::write(self.out.join("timestamp.json"), env.to_vec()).unwrap();
    }
}

fn feed(range: std::ops::Range<u64>) -> Vec<Listing> {
    range.map(synth::listing).collect()
}

fn sorted_ids(v: &[Listing]) -> Vec<String> {
    let mut ids: Vec<String> = v.iter().map(|l| l.id.clone()).collect();
    ids.sort();
    ids
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn first_sync_takes_the_snapshot_and_matches() {
    let w = world();
    let listings = feed(0..500);
    w.publish(listings.clone(), T0);
    let mut c = w.client();
    assert_eq!(c.version(), 0);
    let r = c.sync(&w.fetcher(), T0 + 60).unwrap();
    assert_eq!((r.from, r.to, r.via.clone()), (0, 1, Via::Snapshot));
    assert!(c.is_fresh(T0 + 60));
    assert_eq!(sorted_ids(&c.listings().unwrap()), sorted_ids(&listings));
    let devices = synth::devices(50, 500);
    let set = DeviceSet::new(devices.clone());
    let out = c.scan(&set).unwrap();
    assert_eq!(out.listings, 500);
    assert_eq!(out.malformed, 0);
    // The same answer as the in-memory index.
    let ix = c.index().unwrap();
    let want: usize = devices.iter().map(|d| ix.matches(d).len()).sum();
    assert_eq!(out.matches.len(), want);
    assert!(want >= 5, "the synthetic devices include listed types");

    // Matching during the download (one pass; lines straddle the 64 KiB
    // chunks) finds exactly what matching the kept copy finds.
    let state2 = w.state.with_file_name("state2");
    let mut c2 = TrustedFeed::open(&state2, &w.pinned).unwrap();
    let (r, during) = c2.sync_and_scan(&w.fetcher(), T0 + 60, &set).unwrap();
    assert_eq!(r.via, Via::Snapshot);
    let key = |m: &warden_feed::FeedMatch| (m.device, m.listing.id.clone());
    let mut a: Vec<_> = during.matches.iter().map(key).collect();
    let mut b: Vec<_> = out.matches.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(during.listings, 500);
}

#[test]
fn deltas_are_applied_when_the_previous_version_is_held() {
    let w = world();
    w.publish(feed(0..300), T0);
    let mut c = w.client();
    c.sync(&w.fetcher(), T0).unwrap();
    // v2: 20 removed, 30 added, one changed.
    let mut v2 = feed(20..330);
    v2[5].evidence.reporters += 10;
    w.publish(v2.clone(), T0 + 3600);
    let r = c.sync(&w.fetcher(), T0 + 3600).unwrap();
    assert_eq!(r.via, Via::Deltas(1));
    assert!(r.delta_refused.is_none());
    let held = c.listings().unwrap();
    assert_eq!(sorted_ids(&held), sorted_ids(&v2));
    let changed = held.iter().find(|l| l.id == v2[5].id).unwrap();
    assert_eq!(changed.evidence.reporters, v2[5].evidence.reporters);
    // Two more versions: a chain of two deltas.
    w.publish(feed(25..340), T0 + 7200);
    let v4 = feed(30..350);
    w.publish(v4.clone(), T0 + 10_800);
    let r = c.sync(&w.fetcher(), T0 + 10_800).unwrap();
    assert_eq!((r.from, r.to, r.via), (2, 4, Via::Deltas(2)));
    assert_eq!(sorted_ids(&c.listings().unwrap()), sorted_ids(&v4));
    // Nothing new: up to date.
    let r = c.sync(&w.fetcher(), T0 + 10_900).unwrap();
    assert_eq!(r.via, Via::UpToDate);
}

#[test]
fn the_last_good_copy_is_kept_and_reloaded() {
    let w = world();
    let listings = feed(0..100);
    w.publish(listings.clone(), T0);
    {
        let mut c = w.client();
        c.sync(&w.fetcher(), T0).unwrap();
    }
    // The mirror disappears; a restarted router still has its feed.
    fs::remove_dir_all(&w.out).unwrap();
    let mut c = w.client();
    assert_eq!(c.version(), 1);
    assert_eq!(sorted_ids(&c.listings().unwrap()), sorted_ids(&listings));
    assert!(matches!(
        c.sync(&w.fetcher(), T0 + 10),
        Err(SyncError::Fetch(FetchError::NotFound(_)))
    ));
    assert_eq!(c.version(), 1);
    // A corrupted listings file is not used, and the version is kept (no rollback).
    let held = fs::read_dir(&w.state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".jsonl"))
        .unwrap();
    let mut bytes = fs::read(&held).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    fs::write(&held, bytes).unwrap();
    let c = w.client();
    assert_eq!(c.version(), 1);
    assert!(!c.has_listings());
}

#[test]
fn forged_timestamp_is_refused() {
    let w = world();
    w.publish(feed(0..10), T0);
    let good = fs::read(w.out.join("timestamp.json")).unwrap();
    let mut env = Envelope::from_slice(&good, 1 << 20).unwrap();
    let mut ts: Timestamp = serde_json::from_slice(&env.payload).unwrap();
    ts.expires += 365 * DAY;
    env.payload = serde_json::to_vec(&ts).unwrap();
    fs::write(w.out.join("timestamp.json"), env.to_vec()).unwrap();
    let mut c = w.client();
    let err = c.sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(
            &err,
            SyncError::Untrusted {
                source: EnvelopeError::NoValidSignature,
                role: "feed",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(c.version(), 0);
    assert!(!c.has_listings());
}

#[test]
fn timestamp_signed_by_an_unknown_key_is_refused() {
    let w = world();
    w.publish(feed(0..10), T0);
    let mallory = KeyPair::from_seed([66; 32]);
    w.write_timestamp(&w.timestamp(), &[&mallory]);
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(&err, SyncError::Untrusted { document, source: EnvelopeError::NoValidSignature, .. } if document == "timestamp.json"),
        "{err}"
    );
}

#[test]
fn mis_delegated_key_is_refused() {
    // The root key is in root.json's keys, but only for the root role: it
    // may not sign the feed.
    let w = world();
    w.publish(feed(0..10), T0);
    w.write_timestamp(&w.timestamp(), &[&w.root_key]);
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(
            &err,
            SyncError::Untrusted {
                role: "feed",
                root_version: 1,
                source: EnvelopeError::NoValidSignature,
                ..
            }
        ),
        "{err}"
    );
    // And the feed key may not sign a root.
    let rogue = new_root(
        2,
        T0 + DAY,
        &[w.feed_key.public()],
        1,
        &[w.feed_key.public()],
        1,
    );
    let env = Envelope::sign(PAYLOAD_ROOT, &rogue, &[&w.feed_key]);
    fs::write(w.out.join("root.2.json"), env.to_vec()).unwrap();
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(&err, SyncError::Untrusted { document, role: "root", root_version: 1, .. } if document == "root.2.json"),
        "{err}"
    );
}

#[test]
fn rollback_is_refused() {
    let w = world();
    w.publish(feed(0..10), T0);
    let old = w.out.with_file_name("old");
    copy_dir(&w.out, &old);
    w.publish(feed(0..12), T0 + 3600);
    let mut c = w.client();
    c.sync(&w.fetcher(), T0 + 3600).unwrap();
    assert_eq!(c.version(), 2);
    // A mirror serves the older, validly signed, unexpired version 1.
    let err = c.sync(&DirFetcher::new(&old), T0 + 3700).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Rollback {
                have: 2,
                offered: 1
            }
        ),
        "{err}"
    );
    assert_eq!(c.version(), 2);
    // Also after a restart.
    let mut c = w.client();
    assert!(matches!(
        c.sync(&DirFetcher::new(&old), T0 + 3700),
        Err(SyncError::Rollback {
            have: 2,
            offered: 1
        })
    ));
}

#[test]
fn expired_timestamp_is_refused_freeze() {
    let w = world();
    w.publish(feed(0..10), T0);
    let mut c = w.client();
    c.sync(&w.fetcher(), T0).unwrap();
    // The mirror keeps serving the same files past the timestamp's 24 h.
    let err = c.sync(&w.fetcher(), T0 + DAY + 1).unwrap_err();
    assert!(
        matches!(&err, SyncError::Expired { document, expires, .. } if document.starts_with("timestamp.json") && *expires == T0 + DAY),
        "{err}"
    );
    assert!(!c.is_fresh(T0 + DAY + 1));
    // The last good copy is still there.
    assert_eq!(c.listings().unwrap().len(), 10);
    // A fresh client refuses it too.
    let w2 = world();
    w2.publish(feed(0..10), T0);
    assert!(matches!(
        w2.client().sync(&w2.fetcher(), T0 + 2 * DAY),
        Err(SyncError::Expired { .. })
    ));
}

#[test]
fn expired_snapshot_and_root_are_refused() {
    let w = world();
    let mut opts = PublishOptions::at(T0);
    opts.snapshot_ttl_s = 60;
    publish::publish(&w.out, feed(0..10), &[&w.feed_key], &opts).unwrap();
    let err = w.client().sync(&w.fetcher(), T0 + 120).unwrap_err();
    assert!(
        matches!(&err, SyncError::Expired { document, .. } if document == "snapshot.1.jsonl"),
        "{err}"
    );
    // Root past its expiry.
    let err = w.client().sync(&w.fetcher(), T0 + 366 * DAY).unwrap_err();
    assert!(
        matches!(&err, SyncError::Expired { document, .. } if document == "root v1"),
        "{err}"
    );
}

#[test]
fn snapshot_hash_and_size_mismatch_are_refused() {
    let w = world();
    w.publish(feed(0..50), T0);
    let snap = w.out.join("snapshot.1.jsonl");
    let good = fs::read(&snap).unwrap();

    // One listing changed: same size, other hash.
    let mut evil = good.clone();
    let pos = evil.len() - 20;
    evil[pos] = if evil[pos] == b'1' { b'2' } else { b'1' };
    fs::write(&snap, &evil).unwrap();
    let mut c = w.client();
    let err = c.sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(&err, SyncError::HashMismatch { document } if document == "snapshot.1.jsonl"),
        "{err}"
    );
    assert!(!c.has_listings());

    // Truncated.
    fs::write(&snap, &good[..good.len() - 100]).unwrap();
    let err = c.sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(&err, SyncError::SizeMismatch { expected, got, .. } if *expected == good.len() as u64 && *got == good.len() as u64 - 100),
        "{err}"
    );

    // Longer than the timestamp says: the download stops at the signed size.
    let mut long = good.clone();
    long.extend_from_slice(b"{\"id\":\"x\"}\n");
    fs::write(&snap, &long).unwrap();
    let err = c.sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(&err, SyncError::Fetch(FetchError::TooLarge { max, .. }) if *max == good.len() as u64),
        "{err}"
    );

    // The real one works, and no leftovers were kept.
    fs::write(&snap, &good).unwrap();
    c.sync(&w.fetcher(), T0).unwrap();
    assert_eq!(c.listings().unwrap().len(), 50);
    let leftovers: Vec<_> = fs::read_dir(&w.state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".download"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn mix_and_match_old_snapshot_under_new_timestamp_is_refused() {
    let w = world();
    w.publish(feed(0..10), T0);
    let v1 = fs::read(w.out.join("snapshot.1.jsonl")).unwrap();
    w.publish(feed(0..20), T0 + 60);
    // The mirror serves version 1's (validly signed) snapshot as version 2's.
    fs::write(w.out.join("snapshot.2.jsonl"), &v1).unwrap();
    let ts = w.timestamp();
    let err = w.client().sync(&w.fetcher(), T0 + 60).unwrap_err();
    // It differs from the signed size or hash.
    assert!(
        matches!(
            &err,
            SyncError::SizeMismatch { .. } | SyncError::HashMismatch { .. }
        ),
        "{err}"
    );
    // Even a feed key holder's timestamp that names version 1's file for
    // version 2 is refused: the signed header says version 1.
    let mut ts2 = ts.clone();
    ts2.snapshot.path = "snapshot.1.jsonl".into();
    ts2.snapshot.sha256 = warden_feed::sha256_hex(&v1);
    ts2.snapshot.size = v1.len() as u64;
    fs::write(w.out.join("snapshot.1.jsonl"), &v1).unwrap();
    w.write_timestamp(&ts2, &[&w.feed_key]);
    let err = w.client().sync(&w.fetcher(), T0 + 60).unwrap_err();
    assert!(
        matches!(&err, SyncError::Inconsistent { document, .. } if document == "snapshot.1.jsonl"),
        "{err}"
    );
}

#[test]
fn tampered_delta_falls_back_to_the_snapshot_and_says_why() {
    let w = world();
    w.publish(feed(0..40), T0);
    let mut c = w.client();
    c.sync(&w.fetcher(), T0).unwrap();
    let v2 = feed(5..45);
    w.publish(v2.clone(), T0 + 60);
    let delta = w.out.join("delta.1-2.json");
    let mut bytes = fs::read(&delta).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x20;
    fs::write(&delta, &bytes).unwrap();
    let r = c.sync(&w.fetcher(), T0 + 60).unwrap();
    assert_eq!(r.via, Via::Snapshot);
    assert!(
        matches!(&r.delta_refused, Some(SyncError::HashMismatch { document }) if document == "delta.1-2.json"),
        "{:?}",
        r.delta_refused
    );
    assert_eq!(sorted_ids(&c.listings().unwrap()), sorted_ids(&v2));
}

#[test]
fn delta_signed_by_a_stranger_is_refused() {
    let w = world();
    w.publish(feed(0..40), T0);
    let mut c = w.client();
    c.sync(&w.fetcher(), T0).unwrap();
    w.publish(feed(5..45), T0 + 60);
    // An attacker re-signs a delta and (as if holding... nothing) cannot
    // re-sign the timestamp; here the timestamp is re-signed by the feed
    // key to point at the stranger's delta, so only the delta's own
    // signature stands between it and the client.
    let mallory = KeyPair::from_seed([66; 32]);
    let path = w.out.join("delta.1-2.json");
    let env = Envelope::from_slice(&fs::read(&path).unwrap(), 1 << 24).unwrap();
    let mut delta: warden_feed::Delta = serde_json::from_slice(&env.payload).unwrap();
    delta.removals.clear();
    let forged = Envelope::sign(warden_feed::PAYLOAD_DELTA, &delta, &[&mallory]).to_vec();
    fs::write(&path, &forged).unwrap();
    let mut ts = w.timestamp();
    ts.deltas[0].sha256 = warden_feed::sha256_hex(&forged);
    ts.deltas[0].size = forged.len() as u64;
    w.write_timestamp(&ts, &[&w.feed_key]);
    let r = c.sync(&w.fetcher(), T0 + 60).unwrap();
    assert_eq!(r.via, Via::Snapshot);
    assert!(
        matches!(&r.delta_refused, Some(SyncError::Untrusted { document, role: "feed", .. }) if document == "delta.1-2.json"),
        "{:?}",
        r.delta_refused
    );
}

#[test]
fn equivocation_at_the_same_version_is_refused() {
    let w = world();
    w.publish(feed(0..10), T0);
    let mut c = w.client();
    c.sync(&w.fetcher(), T0).unwrap();
    // Another directory with a different version 1 (the same keys).
    let other = w.out.with_file_name("other");
    fs::create_dir_all(&other).unwrap();
    fs::copy(w.out.join("root.1.json"), other.join("root.1.json")).unwrap();
    publish::publish(
        &other,
        feed(100..110),
        &[&w.feed_key],
        &PublishOptions::at(T0),
    )
    .unwrap();
    let err = c.sync(&DirFetcher::new(&other), T0 + 10).unwrap_err();
    assert!(
        matches!(err, SyncError::Equivocation { version: 1 }),
        "{err}"
    );
}

#[test]
fn keys_rotate_without_reinstalling() {
    let w = world();
    w.publish(feed(0..10), T0);
    let mut c = w.client();
    c.sync(&w.fetcher(), T0).unwrap();

    // Root v2: new root key, new feed key; signed by the old root key and the new one.
    let root2_key = KeyPair::from_seed([11; 32]);
    let feed2_key = KeyPair::from_seed([12; 32]);
    let root2 = new_root(
        2,
        T0 + 365 * DAY,
        &[root2_key.public()],
        1,
        &[feed2_key.public()],
        1,
    );
    // The publisher refuses a rotation that the old root did not sign.
    assert!(publish::write_root(&w.out, &root2, &[&root2_key]).is_err());
    publish::write_root(&w.out, &root2, &[&w.root_key, &root2_key]).unwrap();
    // The old feed key can no longer publish.
    assert!(matches!(
        publish::publish(
            &w.out,
            feed(0..11),
            &[&w.feed_key],
            &PublishOptions::at(T0 + 60)
        ),
        Err(publish::PublishError::NotFeedKeys { root_version: 2 })
    ));
    let v2 = feed(0..12);
    publish::publish(
        &w.out,
        v2.clone(),
        &[&feed2_key],
        &PublishOptions::at(T0 + 60),
    )
    .unwrap();

    let r = c.sync(&w.fetcher(), T0 + 60).unwrap();
    assert_eq!(r.root_rotations, 1);
    assert_eq!(c.root().version, 2);
    assert_eq!(sorted_ids(&c.listings().unwrap()), sorted_ids(&v2));

    // Root v3 drops nothing but is chained again; a router pinned at v1
    // (a fresh install with the old config) walks both.
    let root3 = new_root(
        3,
        T0 + 365 * DAY,
        &[root2_key.public()],
        1,
        &[feed2_key.public()],
        1,
    );
    publish::write_root(&w.out, &root3, &[&root2_key]).unwrap();
    publish::publish(
        &w.out,
        feed(0..13),
        &[&feed2_key],
        &PublishOptions::at(T0 + 120),
    )
    .unwrap();
    let fresh_state = w.state.with_file_name("fresh");
    let mut fresh = TrustedFeed::open(&fresh_state, &w.pinned).unwrap();
    let r = fresh.sync(&w.fetcher(), T0 + 120).unwrap();
    assert_eq!(r.root_rotations, 2);
    assert_eq!(fresh.version(), 3);

    // The rotated client, restarted, trusts v3 and refuses the old feed key.
    let mut c = w.client();
    c.sync(&w.fetcher(), T0 + 120).unwrap();
    assert_eq!(c.root().version, 3);
    let ts = w.timestamp();
    let mut ts5 = ts.clone();
    ts5.version += 1;
    w.write_timestamp(&ts5, &[&w.feed_key]);
    assert!(matches!(
        c.sync(&w.fetcher(), T0 + 180),
        Err(SyncError::Untrusted {
            role: "feed",
            root_version: 3,
            ..
        })
    ));
}

#[test]
fn bad_rotations_are_refused() {
    let w = world();
    w.publish(feed(0..10), T0);
    let new_key = KeyPair::from_seed([21; 32]);
    let root2 = new_root(
        2,
        T0 + DAY,
        &[new_key.public()],
        1,
        &[w.feed_key.public()],
        1,
    );

    // Signed only by the new key: the trusted root did not sign it.
    let env = Envelope::sign(PAYLOAD_ROOT, &root2, &[&new_key]);
    fs::write(w.out.join("root.2.json"), env.to_vec()).unwrap();
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(&err, SyncError::Untrusted { document, role: "root", root_version: 1, .. } if document == "root.2.json"),
        "{err}"
    );

    // Signed only by the old key: not by its own root keys.
    let env = Envelope::sign(PAYLOAD_ROOT, &root2, &[&w.root_key]);
    fs::write(w.out.join("root.2.json"), env.to_vec()).unwrap();
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(&err, SyncError::Untrusted { document, role: "root", root_version: 2, .. } if document == "root.2.json"),
        "{err}"
    );

    // root.2.json that says it is version 3 (skipping ahead).
    let mut root3 = root2.clone();
    root3.version = 3;
    let env = Envelope::sign(PAYLOAD_ROOT, &root3, &[&w.root_key, &new_key]);
    fs::write(w.out.join("root.2.json"), env.to_vec()).unwrap();
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::RootVersion {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );

    // A root whose key ids lie about their keys.
    let mut liar = root2.clone();
    liar.keys.insert(new_key.key_id(), w.feed_key.public());
    let env = Envelope::sign(PAYLOAD_ROOT, &liar, &[&w.root_key, &new_key]);
    fs::write(w.out.join("root.2.json"), env.to_vec()).unwrap();
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(matches!(err, SyncError::RootInvalid(_)), "{err}");

    // The timestamp needs a root the client cannot find.
    fs::remove_file(w.out.join("root.2.json")).unwrap();
    let mut ts = w.timestamp();
    ts.root_version = 2;
    w.write_timestamp(&ts, &[&w.feed_key]);
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(err, SyncError::RootMissing { needed: 2, have: 1 }),
        "{err}"
    );
}

#[test]
fn hostile_documents_and_paths_are_refused() {
    let w = world();
    w.publish(feed(0..10), T0);
    // A timestamp that names a path outside the directory.
    let mut ts = w.timestamp();
    ts.snapshot.path = "../../etc/passwd".into();
    w.write_timestamp(&ts, &[&w.feed_key]);
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(matches!(err, SyncError::Malformed { .. }), "{err}");
    assert!(matches!(
        w.fetcher().get("../x", 10),
        Err(FetchError::BadPath(_))
    ));
    // Garbage and a huge timestamp.
    fs::write(w.out.join("timestamp.json"), b"\x00garbage").unwrap();
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(matches!(err, SyncError::Malformed { .. }), "{err}");
    fs::write(w.out.join("timestamp.json"), vec![b' '; 2 << 20]).unwrap();
    let err = w.client().sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(err, SyncError::Fetch(FetchError::TooLarge { .. })),
        "{err}"
    );
    // A snapshot bigger than the client's limit is not even fetched.
    let w = world();
    w.publish(feed(0..10), T0);
    let mut c = w.client();
    c.limits.max_snapshot_bytes = 100;
    let err = c.sync(&w.fetcher(), T0).unwrap_err();
    assert!(
        matches!(err, SyncError::Fetch(FetchError::TooLarge { max: 100, .. })),
        "{err}"
    );
    // A pinned root that is not a root.
    assert!(TrustedFeed::open(&w.state, b"{}").is_err());
}

#[test]
fn thresholds_need_distinct_keys_of_the_role() {
    // Root: 2 of 3 root keys; feed: 2 of 2 feed keys.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r: Vec<KeyPair> = (10..13).map(|i| KeyPair::from_seed([i; 32])).collect();
    let f: Vec<KeyPair> = (20..22).map(|i| KeyPair::from_seed([i; 32])).collect();
    let rp: Vec<_> = r.iter().map(KeyPair::public).collect();
    let fp: Vec<_> = f.iter().map(KeyPair::public).collect();
    let root = new_root(1, T0 + 365 * DAY, &rp, 2, &fp, 2);
    // One root key is not enough even for the publisher.
    assert!(publish::write_root(&out, &root, &[&r[0]]).is_err());
    let pinned = publish::write_root(&out, &root, &[&r[0], &r[2]])
        .unwrap()
        .to_vec();
    // One feed key cannot publish; two can.
    assert!(matches!(
        publish::publish(&out, feed(0..5), &[&f[0]], &PublishOptions::at(T0)),
        Err(publish::PublishError::NotFeedKeys { .. })
    ));
    publish::publish(&out, feed(0..5), &[&f[0], &f[1]], &PublishOptions::at(T0)).unwrap();
    let state = tmp.path().join("state");
    let mut c = TrustedFeed::open(&state, &pinned).unwrap();
    c.sync(&DirFetcher::new(&out), T0).unwrap();
    assert_eq!(c.version(), 1);

    // A stolen feed key alone (signing twice) is below the threshold.
    let env =
        Envelope::from_slice(&fs::read(out.join("timestamp.json")).unwrap(), 1 << 20).unwrap();
    let mut ts: Timestamp = serde_json::from_slice(&env.payload).unwrap();
    ts.version = 2;
    let mut forged = Envelope::sign(PAYLOAD_TIMESTAMP, &ts, &[&f[0]]);
    forged.signatures.push(forged.signatures[0].clone());
    fs::write(out.join("timestamp.json"), forged.to_vec()).unwrap();
    let err = c.sync(&DirFetcher::new(&out), T0).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Untrusted {
                source: EnvelopeError::BelowThreshold {
                    valid: 1,
                    threshold: 2
                },
                ..
            }
        ),
        "{err}"
    );
    // A stolen root key alone cannot rotate the root.
    let evil = KeyPair::from_seed([99; 32]);
    let root2 = new_root(2, T0 + DAY, &[evil.public()], 1, &[evil.public()], 1);
    let env = Envelope::sign(PAYLOAD_ROOT, &root2, &[&r[1], &evil]);
    fs::write(out.join("root.2.json"), env.to_vec()).unwrap();
    let err = c.sync(&DirFetcher::new(&out), T0).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Untrusted {
                role: "root",
                root_version: 1,
                source: EnvelopeError::BelowThreshold { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(c.root().version, 1);
}

/// Re-signs delta.1-2.json with `edit` applied and points the timestamp at it.
fn resign_delta(w: &World, edit: impl FnOnce(&mut warden_feed::Delta)) {
    let path = w.out.join("delta.1-2.json");
    let env = Envelope::from_slice(&fs::read(&path).unwrap(), 1 << 24).unwrap();
    let mut delta: warden_feed::Delta = serde_json::from_slice(&env.payload).unwrap();
    edit(&mut delta);
    let bytes = Envelope::sign(warden_feed::PAYLOAD_DELTA, &delta, &[&w.feed_key]).to_vec();
    fs::write(&path, &bytes).unwrap();
    let mut ts = w.timestamp();
    ts.deltas[0].sha256 = warden_feed::sha256_hex(&bytes);
    ts.deltas[0].size = bytes.len() as u64;
    w.write_timestamp(&ts, &[&w.feed_key]);
}

#[test]
fn inconsistent_expired_or_wrong_deltas_fall_back_and_say_why() {
    type Edit = fn(&mut warden_feed::Delta);
    type Check = fn(&SyncError) -> bool;
    let cases: [(Edit, Check); 4] = [
        // A delta that claims other versions than the timestamp names.
        (
            |d| d.from = 0,
            |e| matches!(e, SyncError::Inconsistent { .. }),
        ),
        // An expired delta.
        (
            |d| d.expires = T0,
            |e| matches!(e, SyncError::Expired { .. }),
        ),
        // Unsorted upserts.
        (
            |d| d.upserts.reverse(),
            |e| matches!(e, SyncError::Malformed { .. }),
        ),
        // A validly signed delta that does not lead to the signed listings
        // (a removal left out): the merged result's hash is wrong.
        (
            |d| {
                d.removals.pop();
            },
            |e| matches!(e, SyncError::HashMismatch { document } if document.starts_with("listings after deltas")),
        ),
    ];
    for (i, (edit, check)) in cases.into_iter().enumerate() {
        let w = world();
        w.publish(feed(0..40), T0);
        let mut c = w.client();
        c.sync(&w.fetcher(), T0).unwrap();
        let v2 = feed(5..45);
        w.publish(v2.clone(), T0 + 60);
        resign_delta(&w, edit);
        let r = c.sync(&w.fetcher(), T0 + 60).unwrap();
        assert_eq!(r.via, Via::Snapshot, "case {i}");
        let why = r.delta_refused.as_ref().expect("the delta was refused");
        assert!(check(why), "case {i}: {why}");
        assert_eq!(
            sorted_ids(&c.listings().unwrap()),
            sorted_ids(&v2),
            "case {i}"
        );
    }
}
