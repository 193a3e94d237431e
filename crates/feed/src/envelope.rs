//! DSSE envelopes (https://github.com/secure-systems-lab/dsse) signed with
//! Ed25519 over PAE(payloadType, payload). The receiver verifies the exact
//! payload bytes first and parses them only afterwards, so there is no
//! canonical-JSON problem and no parser sees unauthenticated documents.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::b64;
use crate::keys::{KeyId, KeyPair, PublicKey};

/// At most this many signatures are looked at: each costs a verification,
/// and an attacker must not be able to make us do thousands.
pub const MAX_SIGNATURES: usize = 16;

/// A DSSE envelope. JSON field names are DSSE's own (camelCase).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    #[serde(with = "b64_bytes")]
    pub payload: Vec<u8>,
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: KeyId,
    #[serde(with = "b64_bytes")]
    pub sig: Vec<u8>,
}

/// Why an envelope was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("document is {len} bytes, more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("malformed envelope: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("wrong payload type: expected {expected}, got {found:?}")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    #[error("envelope has no signatures")]
    Unsigned,
    #[error("envelope has {0} signatures, more than the {MAX_SIGNATURES} looked at")]
    TooManySignatures(usize),
    #[error("no valid signature by a trusted key")]
    NoValidSignature,
    #[error("only {valid} valid signature(s) by trusted keys, {threshold} required")]
    BelowThreshold { valid: usize, threshold: usize },
    #[error("signed payload is malformed: {0}")]
    Payload(#[source] serde_json::Error),
}

/// DSSE's pre-authentication encoding: binds the payload type to the bytes,
/// so a signature over a sighting can never be replayed as a snapshot.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Serializes `value` as compact JSON and signs it with every key given.
    pub fn sign<T: Serialize>(payload_type: &str, value: &T, keys: &[&KeyPair]) -> Envelope {
        let payload = serde_json::to_vec(value).expect("feed types always serialize");
        Self::sign_bytes(payload_type, payload, keys)
    }

    /// Signs raw payload bytes.
    pub fn sign_bytes(payload_type: &str, payload: Vec<u8>, keys: &[&KeyPair]) -> Envelope {
        let msg = pae(payload_type, &payload);
        let signatures = keys
            .iter()
            .map(|k| Signature {
                keyid: k.key_id(),
                sig: k.sign_raw(&msg).to_vec(),
            })
            .collect();
        Envelope {
            payload_type: payload_type.to_owned(),
            payload,
            signatures,
        }
    }

    /// Parses an envelope from untrusted bytes, refusing more than `max` bytes.
    pub fn from_slice(bytes: &[u8], max: usize) -> Result<Envelope, EnvelopeError> {
        if bytes.len() > max {
            return Err(EnvelopeError::TooLarge {
                len: bytes.len(),
                max,
            });
        }
        serde_json::from_slice(bytes).map_err(EnvelopeError::Malformed)
    }

    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("envelopes always serialize")
    }

    /// Verifies that at least `threshold` distinct keys among `keys` signed
    /// this envelope's payload under `expected_type`, and returns the payload
    /// bytes. Signatures by other keys are ignored (not an error): a
    /// document may carry signatures for more than one audience.
    pub fn verify_with(
        &self,
        expected_type: &'static str,
        keys: &[PublicKey],
        threshold: usize,
    ) -> Result<&[u8], EnvelopeError> {
        self.valid_signers(expected_type, keys, threshold)?;
        Ok(&self.payload)
    }

    /// Like [`verify_with`](Self::verify_with) and returns the key ids that
    /// signed validly.
    pub fn valid_signers(
        &self,
        expected_type: &'static str,
        keys: &[PublicKey],
        threshold: usize,
    ) -> Result<BTreeSet<KeyId>, EnvelopeError> {
        let ids: Vec<KeyId> = keys.iter().map(PublicKey::key_id).collect();
        self.signers_among(expected_type, keys, &ids, threshold)
    }

    /// [`verify_with`](Self::verify_with) for one key whose id the caller
    /// already has (the feed server caches reporters' keys and ids, so it
    /// does not hash the key again for every sighting).
    pub fn verify_by(
        &self,
        expected_type: &'static str,
        key: &PublicKey,
        id: &KeyId,
    ) -> Result<&[u8], EnvelopeError> {
        debug_assert_eq!(key.key_id(), *id);
        self.signers_among(
            expected_type,
            std::slice::from_ref(key),
            std::slice::from_ref(id),
            1,
        )?;
        Ok(&self.payload)
    }

    /// `ids[i]` is `keys[i].key_id()`.
    fn signers_among(
        &self,
        expected_type: &'static str,
        keys: &[PublicKey],
        ids: &[KeyId],
        threshold: usize,
    ) -> Result<BTreeSet<KeyId>, EnvelopeError> {
        if self.payload_type != expected_type {
            return Err(EnvelopeError::WrongType {
                expected: expected_type,
                found: self.payload_type.chars().take(80).collect(),
            });
        }
        if self.signatures.is_empty() {
            return Err(EnvelopeError::Unsigned);
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(EnvelopeError::TooManySignatures(self.signatures.len()));
        }
        // A threshold of zero would accept anything; never allow it.
        let threshold = threshold.max(1);
        let msg = pae(&self.payload_type, &self.payload);
        let mut valid = BTreeSet::new();
        for s in &self.signatures {
            let Some(i) = ids.iter().position(|id| *id == s.keyid) else {
                continue;
            };
            if valid.contains(&s.keyid) {
                continue;
            }
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&s.sig) else {
                continue;
            };
            if keys[i].verifying_key().verify_strict(&msg, &sig).is_ok() {
                valid.insert(s.keyid.clone());
            }
        }
        if valid.is_empty() {
            return Err(EnvelopeError::NoValidSignature);
        }
        if valid.len() < threshold {
            return Err(EnvelopeError::BelowThreshold {
                valid: valid.len(),
                threshold,
            });
        }
        Ok(valid)
    }

    /// Verifies, then parses the payload as `T`.
    pub fn open<T: DeserializeOwned>(
        &self,
        expected_type: &'static str,
        keys: &[PublicKey],
        threshold: usize,
    ) -> Result<T, EnvelopeError> {
        let bytes = self.verify_with(expected_type, keys, threshold)?;
        serde_json::from_slice(bytes).map_err(EnvelopeError::Payload)
    }
}

/// Serde adapter: bytes as base64 (standard on output; standard or URL-safe,
/// padded or not, on input, as DSSE allows).
pub(crate) mod b64_bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        b64::decode(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PAYLOAD_SIGHTING;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Doc {
        n: u32,
    }

    #[test]
    fn pae_matches_dsse_spec_example() {
        // From the DSSE spec's test vector.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_and_open_roundtrip_with_dsse_field_names() {
        let k = KeyPair::from_seed([1; 32]);
        let env = Envelope::sign(PAYLOAD_SIGHTING, &Doc { n: 5 }, &[&k]);
        let json = String::from_utf8(env.to_vec()).unwrap();
        for field in [
            "\"payloadType\"",
            "\"payload\"",
            "\"signatures\"",
            "\"keyid\"",
            "\"sig\"",
        ] {
            assert!(json.contains(field), "{json}");
        }
        let back = Envelope::from_slice(json.as_bytes(), 1 << 20).unwrap();
        let doc: Doc = back.open(PAYLOAD_SIGHTING, &[k.public()], 1).unwrap();
        assert_eq!(doc, Doc { n: 5 });
    }

    #[test]
    fn refuses_wrong_type_forged_untrusted_and_below_threshold() {
        let a = KeyPair::from_seed([1; 32]);
        let b = KeyPair::from_seed([2; 32]);
        let c = KeyPair::from_seed([3; 32]);
        let env = Envelope::sign(PAYLOAD_SIGHTING, &Doc { n: 5 }, &[&a, &b]);

        assert!(matches!(
            env.open::<Doc>(crate::PAYLOAD_ROOT, &[a.public()], 1),
            Err(EnvelopeError::WrongType { .. })
        ));
        // Changing the type in transit breaks the signature (PAE binds it).
        let mut retyped = env.clone();
        retyped.payload_type = crate::PAYLOAD_ROOT.into();
        assert!(matches!(
            retyped.open::<Doc>(crate::PAYLOAD_ROOT, &[a.public()], 1),
            Err(EnvelopeError::NoValidSignature)
        ));
        // Tampered payload.
        let mut forged = env.clone();
        forged.payload = br#"{"n":6}"#.to_vec();
        assert!(matches!(
            forged.open::<Doc>(PAYLOAD_SIGHTING, &[a.public(), b.public()], 1),
            Err(EnvelopeError::NoValidSignature)
        ));
        // Signed, but by keys we do not trust.
        assert!(matches!(
            env.open::<Doc>(PAYLOAD_SIGHTING, &[c.public()], 1),
            Err(EnvelopeError::NoValidSignature)
        ));
        // Threshold counts distinct trusted keys.
        assert!(env
            .open::<Doc>(PAYLOAD_SIGHTING, &[a.public(), b.public()], 2)
            .is_ok());
        assert!(matches!(
            env.open::<Doc>(PAYLOAD_SIGHTING, &[a.public(), c.public()], 2),
            Err(EnvelopeError::BelowThreshold {
                valid: 1,
                threshold: 2
            })
        ));
        // The same key's signature twice counts once.
        let mut dup = Envelope::sign(PAYLOAD_SIGHTING, &Doc { n: 5 }, &[&a]);
        dup.signatures.push(dup.signatures[0].clone());
        assert!(matches!(
            dup.open::<Doc>(PAYLOAD_SIGHTING, &[a.public()], 2),
            Err(EnvelopeError::BelowThreshold { valid: 1, .. })
        ));
        // Threshold 0 still needs a signature.
        let mut unsigned = env.clone();
        unsigned.signatures.clear();
        assert!(matches!(
            unsigned.open::<Doc>(PAYLOAD_SIGHTING, &[a.public()], 0),
            Err(EnvelopeError::Unsigned)
        ));
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        assert!(matches!(
            Envelope::from_slice(&[b' '; 100], 10),
            Err(EnvelopeError::TooLarge { len: 100, max: 10 })
        ));
        for junk in [
            &b"{"[..],
            b"null",
            b"{\"payloadType\":\"x\",\"payload\":\"!!\",\"signatures\":[]}",
            b"{\"payloadType\":\"x\",\"payload\":\"\",\"signatures\":[{\"keyid\":\"zz\",\"sig\":\"\"}]}",
            b"\xff\xfe",
        ] {
            assert!(matches!(
                Envelope::from_slice(junk, 1024),
                Err(EnvelopeError::Malformed(_))
            ));
        }
        // Short signature bytes: not a panic, just invalid.
        let a = KeyPair::from_seed([1; 32]);
        let mut env = Envelope::sign(PAYLOAD_SIGHTING, &Doc { n: 1 }, &[&a]);
        env.signatures[0].sig.truncate(3);
        assert!(matches!(
            env.verify_with(PAYLOAD_SIGHTING, &[a.public()], 1),
            Err(EnvelopeError::NoValidSignature)
        ));
        let mut many = Envelope::sign(PAYLOAD_SIGHTING, &Doc { n: 1 }, &[&a]);
        many.signatures = vec![many.signatures[0].clone(); MAX_SIGNATURES + 1];
        assert!(matches!(
            many.verify_with(PAYLOAD_SIGHTING, &[a.public()], 1),
            Err(EnvelopeError::TooManySignatures(17))
        ));
    }

    #[test]
    fn accepts_url_safe_unpadded_base64() {
        let a = KeyPair::from_seed([1; 32]);
        let env = Envelope::sign(PAYLOAD_SIGHTING, &Doc { n: 1234567 }, &[&a]);
        use base64::Engine as _;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let json = serde_json::json!({
            "payloadType": env.payload_type,
            "payload": url.encode(&env.payload),
            "signatures": [{"keyid": env.signatures[0].keyid, "sig": url.encode(&env.signatures[0].sig)}],
        });
        let back = Envelope::from_slice(json.to_string().as_bytes(), 4096).unwrap();
        assert_eq!(back, env);
    }
}
