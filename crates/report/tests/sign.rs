//! Signed reports: DSSE envelopes with the feed's Ed25519 keys.

mod common;

use common::*;
use warden_report::{sign, verify_envelope, EnvelopeError, KeyPair, VerifyError};

#[test]
fn sign_and_verify_round_trip_with_the_pinned_signer() {
    let key = KeyPair::from_seed([7; 32]);
    let r = report(POOR);
    let env = sign(&r, &key);
    assert_eq!(env.payload_type, warden_report::PAYLOAD_TYPE);
    let v = verify_envelope(&env.to_vec(), &[key.public()]).unwrap();
    assert_eq!(v.report, r);
    assert_eq!(v.signers, [key.key_id()]);
    // Another trusted key alongside does not matter.
    let other = KeyPair::from_seed([8; 32]);
    let v = verify_envelope(&env.to_vec(), &[other.public(), key.public()]).unwrap();
    assert_eq!(v.signers, [key.key_id()]);
}

#[test]
fn a_file_is_signed_as_its_own_bytes() {
    let key = KeyPair::from_seed([7; 32]);
    let bytes = read(GOOD);
    let env = warden_report::sign_file_bytes(&bytes, &key).unwrap();
    assert_eq!(env.payload, bytes);
    let v = verify_envelope(&env.to_vec(), &[key.public()]).unwrap();
    assert_eq!(v.report, report(GOOD));
    // Bytes that are not a report are not signed.
    assert!(warden_report::sign_file_bytes(b"format_version: 1\n", &key).is_err());
}

#[test]
fn tampering_is_detected() {
    let key = KeyPair::from_seed([7; 32]);
    let env = sign(&report(GOOD), &key);
    let pinned = [key.public()];

    // Every single payload byte flipped, one at a time, in a sample across the payload.
    let n = env.payload.len();
    for i in (0..n).step_by((n / 97).max(1)) {
        let mut t = env.clone();
        t.payload[i] ^= 0x01;
        assert!(
            matches!(
                verify_envelope(&t.to_vec(), &pinned),
                Err(VerifyError::Envelope(EnvelopeError::NoValidSignature))
            ),
            "payload byte {i} flipped and still verified"
        );
    }
    // A changed signature.
    let mut t = env.clone();
    t.signatures[0].sig[10] ^= 0x80;
    assert!(matches!(
        verify_envelope(&t.to_vec(), &pinned),
        Err(VerifyError::Envelope(EnvelopeError::NoValidSignature))
    ));
    // A truncated signature.
    let mut t = env.clone();
    t.signatures[0].sig.truncate(12);
    assert!(verify_envelope(&t.to_vec(), &pinned).is_err());
    // Another payload type (PAE binds the type).
    let mut t = env.clone();
    t.payload_type = "application/vnd.warden.sighting+json".into();
    assert!(matches!(
        verify_envelope(&t.to_vec(), &pinned),
        Err(VerifyError::Envelope(EnvelopeError::WrongType { .. }))
    ));
    // No signatures at all.
    let mut t = env.clone();
    t.signatures.clear();
    assert!(matches!(
        verify_envelope(&t.to_vec(), &pinned),
        Err(VerifyError::Envelope(EnvelopeError::Unsigned))
    ));
}

#[test]
fn the_wrong_signer_is_refused() {
    let key = KeyPair::from_seed([7; 32]);
    let mallory = KeyPair::from_seed([9; 32]);
    let env = sign(&report(GOOD), &mallory);
    assert!(matches!(
        verify_envelope(&env.to_vec(), &[key.public()]),
        Err(VerifyError::Envelope(EnvelopeError::NoValidSignature))
    ));
    // Mallory re-signs a report after changing it: still not the pinned key.
    let mut r = report(GOOD);
    r.tester.name = "Someone Else".into();
    let env = sign(&r, &mallory);
    assert!(verify_envelope(&env.to_vec(), &[key.public()]).is_err());
}

#[test]
fn a_validly_signed_payload_that_is_not_a_report_is_refused() {
    let key = KeyPair::from_seed([7; 32]);
    let env = warden_report::Envelope::sign_bytes(
        warden_report::PAYLOAD_TYPE,
        br#"{"format_version":1,"tester":{}}"#.to_vec(),
        &[&key],
    );
    assert!(matches!(
        verify_envelope(&env.to_vec(), &[key.public()]),
        Err(VerifyError::Report(_))
    ));
}

#[test]
fn hostile_envelopes_are_clear_errors() {
    let key = KeyPair::from_seed([7; 32]);
    let big = vec![b' '; warden_report::MAX_ENVELOPE_BYTES + 1];
    assert!(matches!(
        verify_envelope(&big, &[key.public()]),
        Err(VerifyError::Envelope(EnvelopeError::TooLarge { .. }))
    ));
    for junk in [
        &b""[..],
        b"{}",
        b"null",
        b"\xff\xfe",
        br#"{"payloadType":"application/vnd.warden.test-report+json","payload":"!!!","signatures":[]}"#,
        br#"{"payloadType":"application/vnd.warden.test-report+json","payload":"","signatures":[{"keyid":"x","sig":""}]}"#,
    ] {
        let e = verify_envelope(junk, &[key.public()]).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn envelopes_are_told_from_reports_whatever_the_key_order() {
    let key = KeyPair::from_seed([7; 32]);
    let env = warden_report::sign_file_bytes(&read(GOOD), &key).unwrap();
    assert!(warden_report::is_envelope(&env.to_vec()));
    // Keys sorted, as a generic JSON tool writes them: payloadType comes last.
    let sorted: serde_json::Value = serde_json::from_slice(&env.to_vec()).unwrap();
    let text = sorted.to_string();
    assert!(text.find("payloadType").unwrap() > 4096);
    assert!(warden_report::is_envelope(text.as_bytes()));
    assert!(!warden_report::is_envelope(&read(GOOD)));
    assert!(!warden_report::is_envelope(
        warden_report::to_json(&report(GOOD)).as_bytes()
    ));
}
