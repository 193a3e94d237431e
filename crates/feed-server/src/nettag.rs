//! Network tags: which network a sighting came from, without its address.
//!
//! tag = HMAC-SHA256(server secret, the client's IPv4 /24 or IPv6 /48),
//! first 16 bytes in hex. Sightings from one household, one office or one
//! small hosting block share a tag; the address itself is never stored, and
//! without the secret a tag cannot be turned back into a network (the /24
//! space is small enough to enumerate, so a plain hash would not do).
//! The secret is created on first run, 0600, and never leaves the server.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("server secret {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("server secret {path} is readable or writable by group or others (mode {mode:o}); run chmod 600 on it")]
    Insecure { path: String, mode: u32 },
    #[error("server secret {path} is malformed: expected 64 hex characters")]
    Malformed { path: String },
}

/// Turns client addresses into network tags.
#[derive(Clone)]
pub struct NetworkTagger {
    secret: [u8; 32],
}

impl std::fmt::Debug for NetworkTagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NetworkTagger(..)")
    }
}

impl NetworkTagger {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        NetworkTagger { secret }
    }

    /// Loads the secret at `path`, or creates it (0600, never overwriting).
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
        let p = path.display().to_string();
        let io = |source| SecretError::Io {
            path: p.clone(),
            source,
        };
        match fs::symlink_metadata(path) {
            Ok(meta) => {
                if !meta.file_type().is_file() {
                    return Err(SecretError::Malformed { path: p });
                }
                let mode = meta.mode() & 0o7777;
                if mode & 0o077 != 0 {
                    return Err(SecretError::Insecure { path: p, mode });
                }
                if meta.len() > 256 {
                    return Err(SecretError::Malformed { path: p });
                }
                let text = fs::read_to_string(path).map_err(io)?;
                let bytes = hex::decode(text.trim())
                    .map_err(|_| SecretError::Malformed { path: p.clone() })?;
                let secret: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SecretError::Malformed { path: p.clone() })?;
                Ok(NetworkTagger { secret })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir).map_err(io)?;
                }
                let mut secret = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut secret);
                let mut f = match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                {
                    Ok(f) => f,
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        return Self::load_or_create(path)
                    }
                    Err(e) => return Err(io(e)),
                };
                f.write_all(format!("{}\n", hex::encode(secret)).as_bytes())
                    .map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(NetworkTagger { secret })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The tag of the network `ip` is in.
    pub fn tag(&self, ip: IpAddr) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        match ip {
            IpAddr::V4(v4) => {
                mac.update(b"v4/24:");
                mac.update(&v4.octets()[..3]);
            }
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => {
                    mac.update(b"v4/24:");
                    mac.update(&v4.octets()[..3]);
                }
                None => {
                    mac.update(b"v6/48:");
                    mac.update(&v6.octets()[..6]);
                }
            },
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn same_slash24_same_tag_and_no_address_in_it() {
        let t = NetworkTagger::from_secret([9; 32]);
        let a = t.tag("203.0.113.7".parse().unwrap());
        assert_eq!(a, t.tag("203.0.113.250".parse().unwrap()));
        assert_eq!(a, t.tag("::ffff:203.0.113.1".parse().unwrap()));
        assert_ne!(a, t.tag("203.0.114.7".parse().unwrap()));
        assert_eq!(a.len(), 32);
        assert!(!a.contains("203"));
        let b = t.tag("2001:db8:1::1".parse().unwrap());
        assert_eq!(b, t.tag("2001:db8:1:ffff::2".parse().unwrap()));
        assert_ne!(b, t.tag("2001:db8:2::1".parse().unwrap()));
        // Another server's secret gives other tags.
        assert_ne!(
            a,
            NetworkTagger::from_secret([8; 32]).tag("203.0.113.7".parse().unwrap())
        );
    }

    #[test]
    fn secret_is_created_0600_reloaded_and_refused_when_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/secret");
        let a = NetworkTagger::load_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = NetworkTagger::load_or_create(&path).unwrap();
        let ip = "198.51.100.1".parse().unwrap();
        assert_eq!(a.tag(ip), b.tag(ip));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            NetworkTagger::load_or_create(&path),
            Err(SecretError::Insecure { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "nothex").unwrap();
        assert!(matches!(
            NetworkTagger::load_or_create(&path),
            Err(SecretError::Malformed { .. })
        ));
    }
}
