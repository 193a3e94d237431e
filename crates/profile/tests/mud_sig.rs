//! MUD file signatures checked against real `openssl cms -sign` output
//! (fixtures and how they were made: tests/mud/sig/README.md).

use std::path::PathBuf;

use warden_profile::mud_sig::{verify, PinnedSigner, SigError, MAX_SIGNATURE_BYTES};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/mud/sig")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn mud() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mud/Luminaire_150.json");
    std::fs::read(path).expect("the signed MUD file")
}

/// The pins openssl computed when the fixtures were made (pins.txt), so
/// the SPKI hashing is checked against another implementation.
fn openssl_pin(signer: &str) -> String {
    let pins = String::from_utf8(fixture("pins.txt")).expect("pins.txt is text");
    pins.lines()
        .find_map(|l| l.strip_prefix(signer)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no pin for {signer} in pins.txt"))
        .to_owned()
}

fn cert(signer: &str) -> PinnedSigner {
    PinnedSigner::from_certificate(&fixture(&format!("{signer}.pem"))).expect("certificate")
}

fn pin(signer: &str) -> PinnedSigner {
    PinnedSigner::from_pin(&openssl_pin(signer)).expect("pin")
}

#[test]
fn good_signatures_verify_with_certificate_and_pin() {
    let mud = mud();
    for (sig, signer, key, digest) in [
        ("luminaire.p256.p7s", "p256", "ECDSA P-256", "SHA-256"),
        ("luminaire.p384.p7s", "p384", "ECDSA P-384", "SHA-384"),
        ("luminaire.rsa2048.p7s", "rsa2048", "RSA-2048", "SHA-256"),
        (
            "luminaire.rsa2048-sha512.p7s",
            "rsa2048",
            "RSA-2048",
            "SHA-512",
        ),
        ("luminaire.p256.pem", "p256", "ECDSA P-256", "SHA-256"),
    ] {
        let bytes = fixture(sig);
        for pinned in [cert(signer), pin(signer)] {
            let info = verify(&mud, &bytes, &pinned)
                .unwrap_or_else(|e| panic!("{sig} with {pinned:?}: {e}"));
            assert_eq!(info.key, key, "{sig}");
            assert_eq!(info.digest, digest, "{sig}");
            assert_eq!(info.key_sha256, openssl_pin(signer), "{sig}");
            assert!(
                info.subject.contains(&format!("CN={signer} MUD signer")),
                "{sig}: {}",
                info.subject
            );
            assert!(info.certificate_included, "{sig}");
            assert!(info.signing_time.is_some(), "{sig}: openssl adds one");
        }
    }
}

#[test]
fn der_certificate_pins_like_pem() {
    let der = PinnedSigner::from_certificate(&fixture("p256.der")).expect("DER certificate");
    assert_eq!(der, cert("p256"));
    assert_eq!(der.describe(), openssl_pin("p256"));
}

#[test]
fn certificate_fingerprint_works_as_a_pin() {
    // `openssl x509 -fingerprint -sha256`: the whole certificate's hash.
    let der = fixture("p256.der");
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(&der)
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let pinned = PinnedSigner::from_pin(&format!("sha256:{hex}")).expect("pin");
    verify(&mud(), &fixture("luminaire.p256.p7s"), &pinned).expect("verifies");
    // ... and only that certificate's.
    let err = verify(&mud(), &fixture("luminaire.other.p7s"), &pinned).unwrap_err();
    assert!(matches!(err, SigError::NotPinned { .. }), "{err}");
}

#[test]
fn without_certificates_the_pinned_certificate_is_used() {
    let mud = mud();
    let sig = fixture("luminaire.p256-nocerts.p7s");
    let info = verify(&mud, &sig, &cert("p256")).expect("pinned certificate used");
    assert!(!info.certificate_included);
    assert_eq!(info.key_sha256, openssl_pin("p256"));
    // A hash alone gives no key to check with.
    assert_eq!(
        verify(&mud, &sig, &pin("p256")),
        Err(SigError::NoCertificate)
    );
    // Nor does another signer's certificate.
    assert_eq!(
        verify(&mud, &sig, &cert("other")),
        Err(SigError::NoCertificate)
    );
}

#[test]
fn without_signed_attributes_the_signature_is_over_the_file() {
    let mud = mud();
    let sig = fixture("luminaire.p256-noattr.p7s");
    let info = verify(&mud, &sig, &pin("p256")).expect("verifies");
    assert_eq!(info.signing_time, None);
    let mut tampered = mud.clone();
    tampered[100] ^= 0x01;
    assert_eq!(
        verify(&tampered, &sig, &pin("p256")),
        Err(SigError::BadSignature)
    );
}

#[test]
fn a_changed_mud_byte_is_refused() {
    let mud = mud();
    for (sig, signer, digest) in [
        ("luminaire.p256.p7s", "p256", "SHA-256"),
        ("luminaire.p384.p7s", "p384", "SHA-384"),
        ("luminaire.rsa2048.p7s", "rsa2048", "SHA-256"),
        ("luminaire.rsa2048-sha512.p7s", "rsa2048", "SHA-512"),
    ] {
        let sig = fixture(sig);
        for at in [0, mud.len() / 2, mud.len() - 1] {
            let mut tampered = mud.clone();
            tampered[at] ^= 0x20;
            assert_eq!(
                verify(&tampered, &sig, &pin(signer)),
                Err(SigError::DigestMismatch(digest))
            );
        }
        // A byte more or less is another file too.
        let mut longer = mud.clone();
        longer.push(b'\n');
        assert_eq!(
            verify(&longer, &sig, &pin(signer)),
            Err(SigError::DigestMismatch(digest))
        );
        assert_eq!(
            verify(&mud[..mud.len() - 1], &sig, &pin(signer)),
            Err(SigError::DigestMismatch(digest))
        );
    }
}

/// Where `needle` is in `hay`, once.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "expected exactly one occurrence");
    hits[0]
}

#[test]
fn a_changed_signature_value_is_refused() {
    let mud = mud();
    for (name, signer) in [
        ("luminaire.p256.p7s", "p256"),
        ("luminaire.p384.p7s", "p384"),
        ("luminaire.rsa2048.p7s", "rsa2048"),
    ] {
        let sig = fixture(name);
        // The signature value is the last OCTET STRING of the file: flip its
        // last byte (inside the value for RSA, inside s for ECDSA).
        let mut tampered = sig.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        assert_eq!(
            verify(&mud, &tampered, &pin(signer)),
            Err(SigError::BadSignature),
            "{name}"
        );
    }
}

#[test]
fn a_changed_signed_attribute_is_refused() {
    // The signing time is signed: change a digit of it and the digest of
    // the file still matches, but the signature over the attributes fails.
    let mud = mud();
    let sig = fixture("luminaire.p256.p7s");
    // UTCTime: tag 0x17, length 13, "YYMMDDhhmmssZ". The last one is the
    // signing time (the certificate's validity comes before).
    let at = sig
        .windows(2)
        .rposition(|w| w == [0x17, 0x0d])
        .expect("a UTCTime");
    let mut tampered = sig.clone();
    let digit = at + 2 + 11; // the last digit of the seconds
    tampered[digit] = if tampered[digit] == b'0' { b'1' } else { b'0' };
    assert_eq!(
        verify(&mud, &tampered, &pin("p256")),
        Err(SigError::BadSignature)
    );
}

#[test]
fn a_changed_message_digest_attribute_is_refused() {
    use sha2::Digest;
    let mud = mud();
    let sig = fixture("luminaire.p256.p7s");
    let md = sha2::Sha256::digest(&mud);
    let at = find(&sig, &md);
    let mut tampered = sig.clone();
    tampered[at] ^= 0x01;
    assert_eq!(
        verify(&mud, &tampered, &pin("p256")),
        Err(SigError::DigestMismatch("SHA-256"))
    );
}

#[test]
fn a_signature_by_another_signer_is_refused() {
    let mud = mud();
    // Valid in itself (openssl verified it), but not by the pinned key.
    let sig = fixture("luminaire.other.p7s");
    verify(&mud, &sig, &pin("other")).expect("valid against its own signer");
    for pinned in [pin("p256"), cert("p256"), cert("rsa2048")] {
        match verify(&mud, &sig, &pinned) {
            Err(SigError::NotPinned {
                subject,
                key,
                pinned: named,
            }) => {
                assert!(subject.contains("CN=other MUD signer"), "{subject}");
                assert_eq!(key, openssl_pin("other"));
                assert_eq!(named, pinned.describe());
            }
            other => panic!("expected NotPinned, got {other:?}"),
        }
    }
    // And the right signature with the wrong pin.
    let err = verify(&mud, &fixture("luminaire.p256.p7s"), &pin("p384")).unwrap_err();
    assert!(matches!(err, SigError::NotPinned { .. }), "{err}");
}

#[test]
fn a_swapped_certificate_does_not_lend_its_key() {
    // The pinned signer's certificate put into another signer's signature
    // (re-encoded with the cms crate): the signer identifier names the other
    // certificate, which is now absent, and the pinned one is not named.
    use cms::cert::CertificateChoices;
    use cms::content_info::ContentInfo;
    use cms::signed_data::{CertificateSet, SignedData};
    use der::{Decode, Encode};
    let mud = mud();
    let ci = ContentInfo::from_der(&fixture("luminaire.other.p7s")).expect("CMS");
    let mut sd: SignedData = ci.content.decode_as().expect("SignedData");
    let p256 = x509_cert::Certificate::from_der(&fixture("p256.der")).expect("certificate");
    sd.certificates = Some(CertificateSet(
        der::asn1::SetOfVec::try_from(vec![CertificateChoices::Certificate(p256)]).expect("set"),
    ));
    let swapped = ContentInfo {
        content_type: ci.content_type,
        content: der::Any::encode_from(&sd).expect("encodes"),
    }
    .to_der()
    .expect("encodes");
    assert_eq!(
        verify(&mud, &swapped, &pin("p256")),
        Err(SigError::NoCertificate)
    );
    assert_eq!(
        verify(&mud, &swapped, &cert("p256")),
        Err(SigError::NoCertificate)
    );
    // With the other signer's certificate back in, it verifies again (so the
    // re-encoding above is faithful).
    let other = x509_cert::Certificate::from_der(&fixture("other.der")).expect("certificate");
    sd.certificates = Some(CertificateSet(
        der::asn1::SetOfVec::try_from(vec![CertificateChoices::Certificate(other)]).expect("set"),
    ));
    let restored = ContentInfo {
        content_type: ci.content_type,
        content: der::Any::encode_from(&sd).expect("encodes"),
    }
    .to_der()
    .expect("encodes");
    verify(&mud, &restored, &pin("other")).expect("verifies");
}

#[test]
fn small_rsa_keys_are_refused() {
    let err = verify(&mud(), &fixture("luminaire.rsa1024.p7s"), &pin("rsa1024")).unwrap_err();
    match err {
        SigError::UnsupportedKey(why) => assert!(why.contains("1024-bit"), "{why}"),
        other => panic!("expected UnsupportedKey, got {other:?}"),
    }
}

#[test]
fn garbage_is_refused_without_panic() {
    let mud = mud();
    let good = fixture("luminaire.p256.p7s");
    let pinned = pin("p256");
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"not a signature".to_vec(),
        b"-----BEGIN CMS-----\nbm90IGRlcg==\n-----END CMS-----\n".to_vec(),
        vec![0x30, 0x80, 0, 0],       // BER indefinite length
        vec![0x30, 0x84, 0xff, 0xff], // a length past the end
        mud.clone(),                  // the MUD file itself
        fixture("p256.der"),          // a certificate, not a signature
    ];
    // Every truncation of a real signature.
    cases.extend((0..good.len()).step_by(7).map(|n| good[..n].to_vec()));
    for case in &cases {
        let err = verify(&mud, case, &pinned).expect_err("garbage verified");
        assert!(
            matches!(
                err,
                SigError::NotCms(_) | SigError::NotSignedData(_) | SigError::TooLarge { .. }
            ),
            "{} bytes: {err}",
            case.len()
        );
    }
    // Each single byte changed: refused (never a panic), except where DER
    // leaves room (none of which may make another file verify).
    let mut other_mud = mud.clone();
    other_mud[0] ^= 1;
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x55;
        let _ = verify(&mud, &bad, &pinned);
        assert!(verify(&other_mud, &bad, &pinned).is_err(), "byte {i}");
    }
}

#[test]
fn oversized_inputs_are_refused() {
    let mud = mud();
    let mut big_sig = fixture("luminaire.p256.p7s");
    big_sig.resize(MAX_SIGNATURE_BYTES + 1, 0);
    assert_eq!(
        verify(&mud, &big_sig, &pin("p256")),
        Err(SigError::TooLarge {
            what: "signature",
            len: MAX_SIGNATURE_BYTES + 1,
            max: MAX_SIGNATURE_BYTES
        })
    );
    let big_mud = vec![b' '; warden_profile::mud::MAX_MUD_BYTES + 1];
    let err = verify(&big_mud, &fixture("luminaire.p256.p7s"), &pin("p256")).unwrap_err();
    assert!(
        matches!(
            err,
            SigError::TooLarge {
                what: "MUD file",
                ..
            }
        ),
        "{err}"
    );
    let big_cert = vec![0u8; MAX_SIGNATURE_BYTES + 1];
    assert!(matches!(
        PinnedSigner::from_certificate(&big_cert),
        Err(SigError::TooLarge { .. })
    ));
}

#[test]
fn pins_are_parsed_strictly() {
    let good = openssl_pin("p256");
    assert!(PinnedSigner::from_pin(&good).is_ok());
    assert!(PinnedSigner::from_pin(&good.to_uppercase().replacen("SHA256", "sha256", 1)).is_ok());
    for bad in [
        "",
        "sha256:",
        &good[7..],              // no prefix
        &good[..good.len() - 1], // 63 digits
        &format!("{good}0"),     // 65 digits
        &good.replace('1', "g"), // not hex
        &good.replacen("sha256", "sha1", 1),
        "sha256:+1051f6494bfea45d5c6cf9f7d3fabc3f09a07cb81954eb6dde54145baf3e57f",
        "sha256:é9051f6494bfea45d5c6cf9f7d3fabc3f09a07cb81954eb6dde54145baf3e57",
    ] {
        assert!(
            matches!(PinnedSigner::from_pin(bad), Err(SigError::BadPin(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        PinnedSigner::from_certificate(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        ),
        Err(SigError::BadCertificate(_))
    ));
    assert!(matches!(
        PinnedSigner::from_certificate(&fixture("luminaire.p256.p7s")),
        Err(SigError::BadCertificate(_))
    ));
}

/// A DER tag-length-value, for inputs no signer would make.
fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut out = vec![tag];
    match n {
        0..=127 => out.push(n as u8),
        128..=255 => out.extend([0x81, n as u8]),
        _ => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(body);
    out
}

#[test]
fn huge_sets_and_deep_nesting_are_refused_quickly() {
    // A ContentInfo whose SignedData's signed attributes hold one attribute
    // with 15,000 values in reverse order: der 0.7 sorts a SET OF as it
    // decodes it, in quadratic time (2.5 s for this input in a release
    // build before the shape check).
    let values: Vec<u8> = (0..15_000u16)
        .rev()
        .flat_map(|i| tlv(0x04, &i.to_be_bytes()))
        .collect();
    let attr = tlv(
        0x30,
        &[tlv(0x06, &[0x2a, 0x03, 0x01]), tlv(0x31, &values)].concat(),
    );
    let sha256 = tlv(
        0x30,
        &tlv(
            0x06,
            &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
        ),
    );
    let sid = tlv(0x30, &[tlv(0x30, &[]), tlv(0x02, &[1])].concat());
    let signer = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            sid,
            sha256.clone(),
            tlv(0xa0, &attr),
            tlv(
                0x30,
                &tlv(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
            ),
            tlv(0x04, &[0]),
        ]
        .concat(),
    );
    let id_data = tlv(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01],
    );
    let signed_data = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            tlv(0x31, &sha256),
            tlv(0x30, &id_data),
            tlv(0x31, &signer),
        ]
        .concat(),
    );
    let id_signed_data = tlv(
        0x06,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02],
    );
    let sig = tlv(0x30, &[id_signed_data, tlv(0xa0, &signed_data)].concat());
    assert!(sig.len() < MAX_SIGNATURE_BYTES);
    let start = std::time::Instant::now();
    let err = verify(&mud(), &sig, &pin("p256")).unwrap_err();
    assert!(matches!(err, SigError::Shape(_)), "{err}");
    assert!(err.to_string().contains("more than 128 elements"), "{err}");
    // Generous for a debug build on a busy machine; the sort took seconds.
    assert!(start.elapsed().as_millis() < 500, "{:?}", start.elapsed());

    // 40 nested sequences.
    let mut deep = tlv(0x05, &[]);
    for _ in 0..40 {
        deep = tlv(0x30, &deep);
    }
    let err = verify(&mud(), &deep, &pin("p256")).unwrap_err();
    assert!(matches!(err, SigError::Shape(_)), "{err}");

    // The real signatures are well inside the bounds.
    for name in [
        "luminaire.p256.p7s",
        "luminaire.rsa2048-sha512.p7s",
        "luminaire.p384.p7s",
    ] {
        assert!(
            verify(
                &mud(),
                &fixture(name),
                &pin(name.split('.').nth(1).unwrap().split('-').next().unwrap())
            )
            .is_ok(),
            "{name}"
        );
    }
}

#[test]
fn truncated_pem_certificates_are_refused() {
    // der 0.7's PEM decoder never returned on this (the mud_signature fuzz
    // target's timeout): a certificate header and nothing else.
    let truncated = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        PinnedSigner::from_certificate(truncated),
        Err(SigError::BadCertificate(_))
    ));
    // Every truncation of the real certificate's base64 body.
    let pem = String::from_utf8(fixture("p256.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for n in (4..body.len()).step_by(4) {
        let cut = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            &body[..n]
        );
        assert!(
            PinnedSigner::from_certificate(cut.as_bytes()).is_err(),
            "{n}"
        );
    }
    // A PEM of something else is not a certificate.
    let err = PinnedSigner::from_certificate(&fixture("luminaire.p256.pem")).unwrap_err();
    assert!(err.to_string().contains("not CERTIFICATE"), "{err}");
}
