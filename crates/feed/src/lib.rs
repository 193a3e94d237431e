//! warden-feed: the killswitch feed's protocol (issue #4, docs/feed.md).
//!
//! - [`Envelope`]: DSSE envelopes signed with Ed25519; verify bytes, then parse.
//! - [`Sighting`]: what a router reports, built so that it cannot identify
//!   the household ([`sighting`]).
//! - [`Listing`] and the distribution files ([`Root`], [`SnapshotHeader`],
//!   [`Delta`], [`Timestamp`]), written by [`publish`] and checked by
//!   [`client::TrustedFeed`].
//! - [`matcher::FeedIndex`]: listings against a router's devices.

pub mod client;
pub mod envelope;
pub mod files;
pub mod keys;
pub mod matcher;
pub mod publish;
pub mod sighting;
pub mod synth;
pub mod types;
pub mod version;

pub use client::Via;
pub use client::{DirFetcher, Fetcher, HttpFetcher, SyncError, SyncReport, TrustedFeed};
pub use envelope::{Envelope, EnvelopeError, Signature};
pub use keys::{KeyError, KeyId, KeyPair, PublicKey};
pub use matcher::{DeviceFacts, DeviceSet, FeedIndex, FeedMatch};
pub use sighting::{open_sighting, BuildError, SightingError, VerifiedSighting};
pub use types::*;

/// DSSE payload types.
pub const PAYLOAD_SIGHTING: &str = "application/vnd.warden.sighting+json";
pub const PAYLOAD_ROOT: &str = "application/vnd.warden.root+json";
pub const PAYLOAD_SNAPSHOT: &str = "application/vnd.warden.snapshot+json";
pub const PAYLOAD_DELTA: &str = "application/vnd.warden.delta+json";
pub const PAYLOAD_TIMESTAMP: &str = "application/vnd.warden.timestamp+json";
pub const PAYLOAD_CURATION: &str = "application/vnd.warden.curation+json";

/// A sighting's whole HTTP body (the envelope) is at most this many bytes.
pub const MAX_SIGHTING_BYTES: usize = 16 * 1024;
/// `root.json` and `timestamp.json` are small; refuse anything bigger.
pub const MAX_ROOT_BYTES: usize = 1024 * 1024;
pub const MAX_TIMESTAMP_BYTES: usize = 1024 * 1024;
/// Default cap on one snapshot file (configurable in the client).
/// A million listings take 428 MiB (docs/feed.md): the default admits that
/// with room. The snapshot is streamed to disk and matched line by line, so
/// this bounds disk, not memory; a router with little flash lowers it.
pub const DEFAULT_MAX_SNAPSHOT_BYTES: u64 = 1024 * 1024 * 1024;
/// Default cap on one delta file.
pub const DEFAULT_MAX_DELTA_BYTES: u64 = 64 * 1024 * 1024;
/// One listing line of a snapshot is at most this long.
pub const MAX_LISTING_LINE_BYTES: usize = 64 * 1024;
/// A sighting names at most this many destination ports.
pub const MAX_PORTS: usize = 5;
/// A sighting's `sent_at` may be this far from the server's clock.
pub const MAX_CLOCK_SKEW_S: i64 = 600;

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[usize::from(b >> 4)] as char);
        s.push(D[usize::from(b & 15)] as char);
    }
    s
}

pub(crate) fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(bytes))
}

pub(crate) mod b64 {
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine as _;

    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    const URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

    pub fn encode(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Standard or URL-safe alphabet, padded or not (DSSE allows either).
    pub fn decode(s: &str) -> Result<Vec<u8>, &'static str> {
        STD.decode(s)
            .or_else(|_| URL.decode(s))
            .map_err(|_| "malformed base64")
    }
}
