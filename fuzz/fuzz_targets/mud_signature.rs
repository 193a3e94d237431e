//! A MUD file signature (RFC 8520 s.13): byte 0 picks how the signer is
//! pinned (by its certificate or by its key's SHA-256) and whether the rest
//! is the signature or the pinned certificate itself; the rest is any bytes.
//! The MUD file is the signed Luminaire fixture of the profile tests.
//! Nothing may panic; a signature that verifies must be by the pinned key,
//! and must not also verify for a changed MUD file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_profile::mud_sig::{verify, PinnedSigner};

const MUD: &[u8] = include_bytes!("../../crates/profile/tests/mud/Luminaire_150.json");
const CERT: &[u8] = include_bytes!("../../crates/profile/tests/mud/sig/p256.der");
const SIGNATURE: &[u8] = include_bytes!("../../crates/profile/tests/mud/sig/luminaire.p256.p7s");

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let cert = PinnedSigner::from_certificate(CERT).expect("the fixture certificate");
    let key = cert.describe();
    let (pinned, signature) = if mode & 2 != 0 {
        // The rest as the pinned certificate, checked with the real signature.
        match PinnedSigner::from_certificate(rest) {
            Ok(p) => (p, SIGNATURE),
            Err(_) => return,
        }
    } else if mode & 1 != 0 {
        (PinnedSigner::from_pin(&key).expect("a pin"), rest)
    } else {
        (cert, rest)
    };
    let Ok(info) = verify(MUD, signature, &pinned) else {
        return;
    };
    // Only the fixture's key signed the fixture: whatever certificate was
    // pinned, the key that verified is that one.
    assert_eq!(info.key_sha256, key, "{info:?}");
    assert_eq!(info.key_sha256, pinned.describe(), "{info:?}");
    let mut other = MUD.to_vec();
    other[mode as usize % MUD.len()] ^= 0x01;
    assert!(
        verify(&other, signature, &pinned).is_err(),
        "one signature verified two files"
    );
});
