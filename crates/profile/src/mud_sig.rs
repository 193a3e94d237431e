//! MUD file signatures (RFC 8520 s.13): a detached CMS SignedData (RFC
//! 5652) over the MUD file's bytes, checked against a pinned signer
//! (docs/profiles.md).
//!
//! The pin stands in for a certificate chain: the signer is trusted because
//! its key is the one the owner named, not because a CA vouches for it.
//! The pin is the SHA-256 of the signer's SubjectPublicKeyInfo (or of its
//! whole certificate), or a certificate whose key is taken.
//!
//! Checked, each failure with its own [`SigError`]:
//! - the signature is a SignedData of at most [`MAX_SIGNATURE_BYTES`], DER
//!   (or PEM), detached, over `id-data`;
//! - the signer's certificate (in the signature, or the pinned one) has the
//!   pinned key;
//! - with signed attributes: the content type is `id-data` and the message
//!   digest equals the MUD file's SHA-256, SHA-384 or SHA-512, and the
//!   signature is over the attributes' DER as a SET OF (RFC 5652 s.5.4);
//!   without them, the signature is over the MUD file itself;
//! - the signature verifies: ECDSA P-256 or P-384, or RSA PKCS#1 v1.5 with
//!   a key of 2,048 to 4,096 bits.
//!
//! Not checked: certificate validity dates and key usage. A pinned key
//! is trusted as long as the owner pins it; a MUD file outlives most
//! certificates (RFC 8520 s.13.2 asks for a chain, which a pin replaces).

use std::fmt;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use const_oid::db::{rfc5911, rfc5912};
use const_oid::ObjectIdentifier;
use der::asn1::OctetString;
use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::Certificate;

use crate::mud::MAX_MUD_BYTES;

/// The largest signature file accepted. Real ones are 1-4 KiB: a
/// certificate or two and one signer.
pub const MAX_SIGNATURE_BYTES: usize = 64 * 1024;
/// Signers and certificates looked at in one signature.
pub const MAX_SIGNERS: usize = 8;
pub const MAX_CERTIFICATES: usize = 16;
/// Elements one constructed DER value may hold, and how deep values nest.
/// der 0.7 sorts a SET OF as it decodes it, in time quadratic in its
/// elements: 15,000 two-byte elements in a 60 KB signature took 2.5 s. Real
/// signatures have at most a few dozen per value and nest about 12 deep.
pub const MAX_ELEMENTS: usize = 128;
pub const MAX_DEPTH: usize = 32;
/// RSA key sizes accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
pub const MAX_RSA_BITS: usize = 4096;

/// Who may sign the MUD file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinnedSigner {
    /// The signer's certificate. Its key is pinned; the certificate is also
    /// used when the signature carries none (`openssl cms -nocerts`).
    Certificate(Box<Certificate>),
    /// SHA-256 of the signer's DER SubjectPublicKeyInfo (RFC 7469 pins) or of
    /// its whole DER certificate.
    Sha256([u8; 32]),
}

impl PinnedSigner {
    /// A certificate, PEM or DER.
    pub fn from_certificate(bytes: &[u8]) -> Result<PinnedSigner, SigError> {
        if bytes.len() > MAX_SIGNATURE_BYTES {
            return Err(SigError::TooLarge {
                what: "signer certificate",
                len: bytes.len(),
                max: MAX_SIGNATURE_BYTES,
            });
        }
        let bad = |e: der::Error| SigError::BadCertificate(e.to_string());
        // PEM is unwrapped to DER first: der 0.7's `DecodePem` never returns
        // on a truncated certificate (found by the mud_signature fuzz target).
        let cert = if looks_like_pem(bytes) {
            let (label, der_bytes) = der::pem::decode_vec(bytes).map_err(|e| bad(e.into()))?;
            if label != "CERTIFICATE" {
                return Err(SigError::BadCertificate(format!(
                    "PEM of {label:?}, not CERTIFICATE"
                )));
            }
            Certificate::from_der(&der_bytes)
        } else {
            Certificate::from_der(bytes)
        }
        .map_err(bad)?;
        Ok(PinnedSigner::Certificate(Box::new(cert)))
    }

    /// `sha256:` and 64 hex digits.
    pub fn from_pin(pin: &str) -> Result<PinnedSigner, SigError> {
        let bad = || SigError::BadPin(pin.chars().take(80).collect());
        let hex = pin
            .strip_prefix("sha256:")
            .or_else(|| pin.strip_prefix("SHA256:"))
            .ok_or_else(bad)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(PinnedSigner::Sha256(out))
    }

    /// Whether `cert` is the pinned signer's: same key, or (for a hash
    /// pin) the certificate's own hash.
    fn admits(&self, cert: &Certificate) -> Result<bool, SigError> {
        let key = spki_sha256(cert)?;
        Ok(match self {
            PinnedSigner::Certificate(pinned) => spki_sha256(pinned)? == key,
            PinnedSigner::Sha256(pin) => {
                *pin == key || *pin == <[u8; 32]>::from(Sha256::digest(der_of(cert)?))
            }
        })
    }

    /// The pin as `sha256:HEX` (the key's hash for a certificate).
    pub fn describe(&self) -> String {
        match self {
            PinnedSigner::Certificate(c) => match spki_sha256(c) {
                Ok(h) => format!("sha256:{}", hex(&h)),
                Err(_) => "an unreadable certificate".to_owned(),
            },
            PinnedSigner::Sha256(h) => format!("sha256:{}", hex(h)),
        }
    }
}

/// Who signed a MUD file whose signature verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerInfo {
    /// The signer certificate's subject (RFC 4514).
    pub subject: String,
    /// `sha256:HEX` of the signer's SubjectPublicKeyInfo.
    pub key_sha256: String,
    /// "ECDSA P-256", "ECDSA P-384" or "RSA-2048" (and so on).
    pub key: String,
    /// "SHA-256", "SHA-384" or "SHA-512".
    pub digest: &'static str,
    /// The signing-time attribute, when there is one (the signer's claim).
    pub signing_time: Option<String>,
    /// The signer's certificate was in the signature (else the pinned one
    /// was used).
    pub certificate_included: bool,
}

impl fmt::Display for SignerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "signed by {} ({} key {}, {})",
            self.subject, self.key, self.key_sha256, self.digest
        )?;
        if let Some(t) = &self.signing_time {
            write!(f, ", signing time {t}")?;
        }
        Ok(())
    }
}

/// Why a signature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigError {
    #[error("the {what} is {len} bytes; at most {max} are accepted")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the signature is not DER (or PEM) CMS: {0}")]
    NotCms(String),
    #[error("the signature is CMS content of type {0}, not SignedData")]
    NotSignedData(String),
    #[error("the signature is not detached: it carries content of its own (RFC 8520 signatures are detached)")]
    NotDetached,
    #[error("the signature is over content of type {0}, not id-data")]
    ContentType(String),
    #[error("the signature's structure is out of bounds: {0}")]
    Shape(String),
    #[error("the signature has no signer")]
    NoSigner,
    #[error("the signature has more than {0} {1}")]
    TooMany(usize, &'static str),
    #[error("the signer certificate is unreadable: {0}")]
    BadCertificate(String),
    #[error("{0:?} is not a pin: write sha256: and 64 hex digits")]
    BadPin(String),
    #[error("the signer's certificate is neither in the signature nor pinned; give the signer's certificate instead of its hash")]
    NoCertificate,
    #[error("signed by {subject} (key {key}), not by the pinned signer ({pinned})")]
    NotPinned {
        subject: String,
        key: String,
        pinned: String,
    },
    #[error("the digest algorithm {0} is not supported (SHA-256, SHA-384, SHA-512 are)")]
    UnsupportedDigest(String),
    #[error(
        "the signature algorithm {0} is not supported (ECDSA P-256/P-384, RSA PKCS#1 v1.5 are)"
    )]
    UnsupportedAlgorithm(String),
    #[error("the signer's key is not supported: {0}")]
    UnsupportedKey(String),
    #[error("the signature algorithm {signature} does not go with digest {digest}")]
    AlgorithmMismatch { signature: String, digest: String },
    #[error("the signed attributes have no {0} attribute, or more than one value for it")]
    MissingAttribute(&'static str),
    #[error("the signed attribute {0} is malformed")]
    BadAttribute(&'static str),
    #[error("the signed attributes say content type {0}, not id-data")]
    AttributeContentType(String),
    #[error("the MUD file's {0} differs from the signed message digest: the file is not the one that was signed")]
    DigestMismatch(&'static str),
    #[error("the signature does not verify with the signer's key")]
    BadSignature,
}

/// Checks `signature` (a detached CMS SignedData, DER or PEM) over
/// `mud_bytes` against the pinned signer. Signers whose key is not the
/// pinned one are not trusted, whatever else is right about them.
pub fn verify(
    mud_bytes: &[u8],
    signature: &[u8],
    pinned: &PinnedSigner,
) -> Result<SignerInfo, SigError> {
    if mud_bytes.len() > MAX_MUD_BYTES {
        return Err(SigError::TooLarge {
            what: "MUD file",
            len: mud_bytes.len(),
            max: MAX_MUD_BYTES,
        });
    }
    if signature.len() > MAX_SIGNATURE_BYTES {
        return Err(SigError::TooLarge {
            what: "signature",
            len: signature.len(),
            max: MAX_SIGNATURE_BYTES,
        });
    }
    let sd = signed_data(signature)?;
    let certs: Vec<&Certificate> = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    if certs.len() > MAX_CERTIFICATES {
        return Err(SigError::TooMany(MAX_CERTIFICATES, "certificates"));
    }
    let signers = sd.signer_infos.0.as_slice();
    if signers.is_empty() {
        return Err(SigError::NoSigner);
    }
    if signers.len() > MAX_SIGNERS {
        return Err(SigError::TooMany(MAX_SIGNERS, "signers"));
    }
    // Every signer is tried: one by the pinned key that verifies is enough.
    // Otherwise the first signer's error is the one reported, preferring
    // one about a pinned signer (it says more than "not pinned").
    let mut first_err = None;
    for si in signers {
        match verify_signer(mud_bytes, si, &certs, pinned) {
            Ok(info) => return Ok(info),
            Err(e) => {
                let better =
                    matches!(
                        first_err,
                        None | Some(SigError::NotPinned { .. } | SigError::NoCertificate)
                    ) && !matches!(e, SigError::NotPinned { .. } | SigError::NoCertificate);
                if first_err.is_none() || better {
                    first_err = Some(e);
                }
            }
        }
    }
    Err(first_err.unwrap_or(SigError::NoSigner))
}

/// The SignedData of a ContentInfo, checked to be detached and over id-data.
fn signed_data(signature: &[u8]) -> Result<SignedData, SigError> {
    let der_bytes;
    let bytes = if looks_like_pem(signature) {
        let (_label, bytes) =
            der::pem::decode_vec(signature).map_err(|e| SigError::NotCms(e.to_string()))?;
        der_bytes = bytes;
        der_bytes.as_slice()
    } else {
        signature
    };
    check_shape(bytes)?;
    let ci = ContentInfo::from_der(bytes).map_err(|e| SigError::NotCms(e.to_string()))?;
    if ci.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(SigError::NotSignedData(oid_name(&ci.content_type)));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| SigError::NotCms(e.to_string()))?;
    if sd.encap_content_info.econtent.is_some() {
        return Err(SigError::NotDetached);
    }
    if sd.encap_content_info.econtent_type != rfc5911::ID_DATA {
        return Err(SigError::ContentType(oid_name(
            &sd.encap_content_info.econtent_type,
        )));
    }
    Ok(sd)
}

/// Walks the DER's tag-length-values (with der's reader) before anything is
/// decoded, refusing values with more than [`MAX_ELEMENTS`] elements or
/// nested deeper than [`MAX_DEPTH`]: see [`MAX_ELEMENTS`].
fn check_shape(bytes: &[u8]) -> Result<(), SigError> {
    use der::{Header, Reader, SliceReader};
    fn walk(bytes: &[u8], depth: usize) -> Result<(), SigError> {
        if depth > MAX_DEPTH {
            return Err(SigError::Shape(format!("nested deeper than {MAX_DEPTH}")));
        }
        let not_der = |e: der::Error| SigError::NotCms(e.to_string());
        let mut r = SliceReader::new(bytes).map_err(not_der)?;
        let mut elements = 0usize;
        while !r.is_finished() {
            elements += 1;
            if elements > MAX_ELEMENTS && depth > 0 {
                return Err(SigError::Shape(format!(
                    "a value with more than {MAX_ELEMENTS} elements"
                )));
            }
            let header = Header::decode(&mut r).map_err(not_der)?;
            let body = r.read_slice(header.length).map_err(not_der)?;
            if header.tag.is_constructed() {
                walk(body, depth + 1)?;
            }
        }
        Ok(())
    }
    walk(bytes, 0)
}

fn verify_signer(
    mud_bytes: &[u8],
    si: &cms::signed_data::SignerInfo,
    certs: &[&Certificate],
    pinned: &PinnedSigner,
) -> Result<SignerInfo, SigError> {
    // The signer's certificate: the one the signer identifier names, from
    // the signature, else the pinned one.
    let included = certs.iter().copied().find(|c| names(&si.sid, c));
    let pinned_cert = match pinned {
        PinnedSigner::Certificate(c) if names(&si.sid, c) => Some(&**c),
        _ => None,
    };
    let (cert, certificate_included) = match (included, pinned_cert) {
        (Some(c), _) => (c, true),
        (None, Some(c)) => (c, false),
        (None, None) => return Err(SigError::NoCertificate),
    };
    let key_hash = spki_sha256(cert)?;
    if !pinned.admits(cert)? {
        return Err(SigError::NotPinned {
            subject: cert.tbs_certificate.subject.to_string(),
            key: format!("sha256:{}", hex(&key_hash)),
            pinned: pinned.describe(),
        });
    }
    let digest = DigestAlg::from_oid(&si.digest_alg.oid)?;
    let key = PublicKey::from_certificate(cert)?;
    let sig_alg = &si.signature_algorithm.oid;
    key.check_algorithm(sig_alg, digest)?;

    let mut signing_time = None;
    // What the signature is over, hashed with the signer's digest.
    let signed_hash = match &si.signed_attrs {
        None => digest.hash(mud_bytes),
        Some(attrs) => {
            let mut message_digest = None;
            let mut content_type = None;
            for attr in attrs.iter() {
                let single = || {
                    let mut values = attr.values.iter();
                    match (values.next(), values.next()) {
                        (Some(v), None) => Some(v),
                        _ => None,
                    }
                };
                if attr.oid == rfc5911::ID_MESSAGE_DIGEST {
                    let v = single().ok_or(SigError::MissingAttribute("message-digest"))?;
                    let os: OctetString = v
                        .decode_as()
                        .map_err(|_| SigError::BadAttribute("message-digest"))?;
                    message_digest = Some(os.into_bytes());
                } else if attr.oid == rfc5911::ID_CONTENT_TYPE {
                    let v = single().ok_or(SigError::MissingAttribute("content-type"))?;
                    let oid: ObjectIdentifier = v
                        .decode_as()
                        .map_err(|_| SigError::BadAttribute("content-type"))?;
                    content_type = Some(oid);
                } else if attr.oid == rfc5911::ID_SIGNING_TIME {
                    // Informational: a claim of the signer, not checked.
                    signing_time = single()
                        .and_then(|v| v.to_der().ok())
                        .and_then(|d| x509_cert::time::Time::from_der(&d).ok())
                        .map(|t| t.to_string());
                }
            }
            // RFC 5652 s.5.3: both are required when there are signed attributes.
            match content_type {
                None => return Err(SigError::MissingAttribute("content-type")),
                Some(ct) if ct != rfc5911::ID_DATA => {
                    return Err(SigError::AttributeContentType(oid_name(&ct)))
                }
                Some(_) => {}
            }
            let md = message_digest.ok_or(SigError::MissingAttribute("message-digest"))?;
            if md != digest.hash(mud_bytes) {
                return Err(SigError::DigestMismatch(digest.name()));
            }
            // RFC 5652 s.5.4: signed over the DER of the attributes with the
            // SET OF tag, not the [0] IMPLICIT tag they are sent with.
            let der = attrs
                .to_der()
                .map_err(|_| SigError::BadAttribute("signed attributes"))?;
            digest.hash(&der)
        }
    };
    key.verify(digest, &signed_hash, si.signature.as_bytes())?;
    Ok(SignerInfo {
        subject: cert.tbs_certificate.subject.to_string(),
        key_sha256: format!("sha256:{}", hex(&key_hash)),
        key: key.describe(),
        digest: digest.name(),
        signing_time,
        certificate_included,
    })
}

/// Whether the signer identifier names `cert`.
fn names(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = &cert.tbs_certificate;
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == tbs.issuer && is.serial_number == tbs.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == rfc5912::ID_CE_SUBJECT_KEY_IDENTIFIER)
            .any(|e| {
                SubjectKeyIdentifier::from_der(e.extn_value.as_bytes()).is_ok_and(|own| own == *ski)
            }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DigestAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    fn from_oid(oid: &ObjectIdentifier) -> Result<DigestAlg, SigError> {
        match *oid {
            rfc5912::ID_SHA_256 => Ok(DigestAlg::Sha256),
            rfc5912::ID_SHA_384 => Ok(DigestAlg::Sha384),
            rfc5912::ID_SHA_512 => Ok(DigestAlg::Sha512),
            _ => Err(SigError::UnsupportedDigest(oid_name(oid))),
        }
    }

    fn hash(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha256 => Sha256::digest(bytes).to_vec(),
            DigestAlg::Sha384 => Sha384::digest(bytes).to_vec(),
            DigestAlg::Sha512 => Sha512::digest(bytes).to_vec(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "SHA-256",
            DigestAlg::Sha384 => "SHA-384",
            DigestAlg::Sha512 => "SHA-512",
        }
    }
}

enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

impl PublicKey {
    fn from_certificate(cert: &Certificate) -> Result<PublicKey, SigError> {
        let spki = &cert.tbs_certificate.subject_public_key_info;
        let bad = |e: &dyn fmt::Display| SigError::UnsupportedKey(e.to_string());
        match spki.algorithm.oid {
            rfc5912::ID_EC_PUBLIC_KEY => {
                let curve: ObjectIdentifier = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .ok_or_else(|| bad(&"an EC key without a named curve"))?
                    .decode_as()
                    .map_err(|_| bad(&"an EC key without a named curve"))?;
                let point = spki.subject_public_key.raw_bytes();
                match curve {
                    rfc5912::SECP_256_R_1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map(PublicKey::P256)
                        .map_err(|_| bad(&"a P-256 key that is not a curve point")),
                    rfc5912::SECP_384_R_1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                        .map(PublicKey::P384)
                        .map_err(|_| bad(&"a P-384 key that is not a curve point")),
                    other => Err(bad(&format!("EC curve {}", oid_name(&other)))),
                }
            }
            rfc5912::RSA_ENCRYPTION => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                use rsa::traits::PublicKeyParts;
                // The rsa crate refuses keys over 4,096 bits itself.
                let key = rsa::RsaPublicKey::from_pkcs1_der(spki.subject_public_key.raw_bytes())
                    .map_err(|e| bad(&format!("RSA key: {e}")))?;
                let bits = key.n().bits();
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                    return Err(bad(&format!(
                        "a {bits}-bit RSA key ({MIN_RSA_BITS} to {MAX_RSA_BITS} bits are accepted)"
                    )));
                }
                Ok(PublicKey::Rsa(key))
            }
            other => Err(bad(&format!("key algorithm {}", oid_name(&other)))),
        }
    }

    fn describe(&self) -> String {
        match self {
            PublicKey::P256(_) => "ECDSA P-256".to_owned(),
            PublicKey::P384(_) => "ECDSA P-384".to_owned(),
            PublicKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                format!("RSA-{}", k.n().bits())
            }
        }
    }

    /// The signature algorithm must fit the key, and a hash it names must
    /// be the signer's digest.
    fn check_algorithm(&self, alg: &ObjectIdentifier, digest: DigestAlg) -> Result<(), SigError> {
        let named = match (self, *alg) {
            (PublicKey::P256(_) | PublicKey::P384(_), rfc5912::ECDSA_WITH_SHA_256) => {
                Some(DigestAlg::Sha256)
            }
            (PublicKey::P256(_) | PublicKey::P384(_), rfc5912::ECDSA_WITH_SHA_384) => {
                Some(DigestAlg::Sha384)
            }
            (PublicKey::P256(_) | PublicKey::P384(_), rfc5912::ECDSA_WITH_SHA_512) => {
                Some(DigestAlg::Sha512)
            }
            // Some signers name the key type alone; the digest says the hash.
            (PublicKey::P256(_) | PublicKey::P384(_), rfc5912::ID_EC_PUBLIC_KEY) => None,
            (PublicKey::Rsa(_), rfc5912::RSA_ENCRYPTION) => None,
            (PublicKey::Rsa(_), rfc5912::SHA_256_WITH_RSA_ENCRYPTION) => Some(DigestAlg::Sha256),
            (PublicKey::Rsa(_), rfc5912::SHA_384_WITH_RSA_ENCRYPTION) => Some(DigestAlg::Sha384),
            (PublicKey::Rsa(_), rfc5912::SHA_512_WITH_RSA_ENCRYPTION) => Some(DigestAlg::Sha512),
            _ => {
                return Err(SigError::UnsupportedAlgorithm(format!(
                    "{} with a {} key",
                    oid_name(alg),
                    self.describe()
                )))
            }
        };
        match named {
            Some(d) if d != digest => Err(SigError::AlgorithmMismatch {
                signature: oid_name(alg),
                digest: digest.name().to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// Verifies `sig` over a message whose `digest` hash is `hashed`.
    fn verify(&self, digest: DigestAlg, hashed: &[u8], sig: &[u8]) -> Result<(), SigError> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let ok = match self {
            PublicKey::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(hashed, &s).is_ok()),
            PublicKey::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(hashed, &s).is_ok()),
            PublicKey::Rsa(k) => {
                let scheme = match digest {
                    DigestAlg::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    DigestAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    DigestAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                };
                k.verify(scheme, hashed, sig).is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(SigError::BadSignature)
        }
    }
}

fn spki_sha256(cert: &Certificate) -> Result<[u8; 32], SigError> {
    cert.tbs_certificate
        .subject_public_key_info
        .fingerprint_bytes()
        .map_err(|e| SigError::BadCertificate(e.to_string()))
}

fn der_of(cert: &Certificate) -> Result<Vec<u8>, SigError> {
    cert.to_der()
        .map_err(|e| SigError::BadCertificate(e.to_string()))
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN ")
}

/// An OID's name where the database knows it, else its dotted form.
fn oid_name(oid: &ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
