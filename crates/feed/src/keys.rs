//! Ed25519 keys: key ids, public keys (serde as base64), key pairs and the
//! on-disk key file (created 0600 atomically, refused when others can read it).

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand::RngCore as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::b64;

/// Lowercase hex of SHA-256 of the 32-byte public key (64 characters).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Parses a key id, refusing anything but 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<KeyId, KeyError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(KeyError::BadKeyId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        KeyId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Errors about keys and key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key id is not 64 lowercase hex characters")]
    BadKeyId,
    #[error("public key is not a valid Ed25519 key (32 bytes, on the curve, not a weak point)")]
    BadPublicKey,
    #[error("key file {path} is readable or writable by group or others (mode {mode:o}); run chmod 600 on it")]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("key file {path} is not a regular file")]
    NotARegularFile { path: PathBuf },
    #[error(
        "key file {path} is malformed: expected one line of 64 hex characters (the Ed25519 seed)"
    )]
    Malformed { path: PathBuf },
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An Ed25519 public key. Serialized as standard base64 of its 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadPublicKey)?;
        let vk = VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::BadPublicKey)?;
        // Small-order keys make "valid" signatures for many messages; refuse them outright.
        if vk.is_weak() {
            return Err(KeyError::BadPublicKey);
        }
        Ok(PublicKey(vk))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Lowercase hex SHA-256 of the 32 key bytes.
    pub fn key_id(&self) -> KeyId {
        KeyId(crate::hex(&Sha256::digest(self.0.as_bytes())))
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64::encode(self.0.as_bytes()))
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.len() > 64 {
            return Err(serde::de::Error::custom("public key too long"));
        }
        let bytes = b64::decode(&s).map_err(serde::de::Error::custom)?;
        PublicKey::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 key pair (the secret half stays in memory, zeroized on drop).
pub struct KeyPair(SigningKey);

impl KeyPair {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> KeyPair {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        KeyPair(SigningKey::from_bytes(&seed))
    }

    /// Deterministic key from a 32-byte seed (tests, benches, key files).
    pub fn from_seed(seed: [u8; 32]) -> KeyPair {
        KeyPair(SigningKey::from_bytes(&seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn key_id(&self) -> KeyId {
        self.public().key_id()
    }

    pub(crate) fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }

    /// Loads the key at `path`, or creates it (mode 0600, atomically: a
    /// concurrent creator's key wins and is loaded). Refuses a file that group
    /// or others may read or write, and anything that is not a regular file
    /// (a symlink could point a secret at a world-readable place).
    pub fn load_or_create(path: &Path) -> Result<KeyPair, KeyError> {
        match fs::symlink_metadata(path) {
            Ok(_) => Self::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate();
                match key.write_new(path) {
                    Ok(()) => Ok(key),
                    // Someone else created it between our check and our link.
                    Err(KeyError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Self::load(path)
                    }
                    Err(e) => Err(e),
                }
            }
            Err(source) => Err(KeyError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Loads an existing key file with the same checks as [`load_or_create`](Self::load_or_create).
    pub fn load(path: &Path) -> Result<KeyPair, KeyError> {
        use std::os::unix::fs::MetadataExt as _;
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = fs::symlink_metadata(path).map_err(io)?;
        if !meta.file_type().is_file() {
            return Err(KeyError::NotARegularFile {
                path: path.to_owned(),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecurePermissions {
                path: path.to_owned(),
                mode,
            });
        }
        if meta.len() > 256 {
            return Err(KeyError::Malformed {
                path: path.to_owned(),
            });
        }
        let text = fs::read_to_string(path).map_err(io)?;
        let seed = crate::unhex32(text.trim()).ok_or_else(|| KeyError::Malformed {
            path: path.to_owned(),
        })?;
        Ok(KeyPair::from_seed(seed))
    }

    /// Writes the key to a fresh 0600 temporary file beside `path`, then
    /// hard-links it into place: `link` fails if `path` exists, so an existing
    /// key is never overwritten and readers never see a half-written file.
    fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::os::unix::fs::OpenOptionsExt as _;
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io)?;
        let mut nonce = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let tmp = dir.join(format!(".warden-key.{}.tmp", crate::hex(&nonce)));
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut line = crate::hex(self.0.as_bytes());
            line.push('\n');
            f.write_all(line.as_bytes())?;
            f.sync_all()?;
            fs::hard_link(&tmp, path)
        })();
        let _ = fs::remove_file(&tmp);
        result.map_err(io)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        write!(f, "KeyPair({})", self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn key_id_is_sha256_hex_of_public_key() {
        let k = KeyPair::from_seed([7; 32]);
        let id = k.key_id();
        assert_eq!(id.as_str().len(), 64);
        assert_eq!(
            id.as_str(),
            crate::hex(&Sha256::digest(k.public().to_bytes()))
        );
        assert!(KeyId::parse(id.as_str()).is_ok());
        assert!(KeyId::parse(&id.as_str().to_uppercase()).is_err());
        assert!(KeyId::parse("abc").is_err());
    }

    #[test]
    fn public_key_serde_roundtrip_and_rejects_junk() {
        let k = KeyPair::generate().public();
        let json = serde_json::to_string(&k).unwrap();
        let back: PublicKey = serde_json::from_str(&json).unwrap();
        assert_eq!(k, back);
        assert!(serde_json::from_str::<PublicKey>("\"AAAA\"").is_err());
        assert!(serde_json::from_str::<PublicKey>("\"not base64!\"").is_err());
        // The identity point is a weak (small-order) key.
        let mut ident = [0u8; 32];
        ident[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&ident),
            Err(KeyError::BadPublicKey)
        ));
    }

    #[test]
    fn load_or_create_creates_0600_and_reloads_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/router.key");
        let a = KeyPair::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let b = KeyPair::load_or_create(&path).unwrap();
        assert_eq!(a.public(), b.public());
        // No temporary file left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn load_refuses_group_or_other_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("router.key");
        KeyPair::load_or_create(&path).unwrap();
        for mode in [0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            match KeyPair::load_or_create(&path) {
                Err(KeyError::InsecurePermissions { mode: m, .. }) => assert_eq!(m, mode),
                other => panic!("mode {mode:o}: expected InsecurePermissions, got {other:?}"),
            }
        }
    }

    #[test]
    fn load_refuses_symlink_and_malformed() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.key");
        KeyPair::load_or_create(&real).unwrap();
        let link = dir.path().join("link.key");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            KeyPair::load_or_create(&link),
            Err(KeyError::NotARegularFile { .. })
        ));
        let bad = dir.path().join("bad.key");
        fs::write(&bad, "zz\n").unwrap();
        fs::set_permissions(&bad, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            KeyPair::load_or_create(&bad),
            Err(KeyError::Malformed { .. })
        ));
    }
}
