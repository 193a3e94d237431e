//! The dashboard's own TLS, for LAN access without a proxy
//! (docs/dashboard.md, "Over the LAN"): browsers keep the `Secure` session
//! cookie only over HTTPS (or from localhost). With [`Tls::Auto`] a
//! non-loopback address gets a self-signed certificate, made once and kept
//! beside the database (the key 0600); its SHA-256 fingerprint goes to the
//! log so the owner can compare it with what the browser shows.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Whether and how the dashboard speaks TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP on loopback, the self-signed certificate elsewhere.
    Auto,
    /// The self-signed certificate whatever the address.
    SelfSigned,
    /// Plain HTTP whatever the address.
    Off,
    /// The owner's certificate chain and key (PEM files).
    Files { cert: PathBuf, key: PathBuf },
}

impl Tls {
    /// Parses `auto`, `self-signed`, `off` or `CERT,KEY`.
    pub fn parse(s: &str) -> Result<Tls> {
        Ok(match s {
            "auto" => Tls::Auto,
            "self-signed" => Tls::SelfSigned,
            "off" => Tls::Off,
            other => match other.split_once(',') {
                Some((cert, key)) if !cert.is_empty() && !key.is_empty() => Tls::Files {
                    cert: cert.into(),
                    key: key.into(),
                },
                _ => bail!("TLS {other:?}: \"auto\", \"self-signed\", \"off\" or CERT,KEY"),
            },
        })
    }
}

/// What [`acceptor`] made of the configuration.
pub struct Served {
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// SHA-256 of the certificate (DER), as `AB:CD:…`.
    pub fingerprint: String,
    pub cert_file: PathBuf,
}

/// Where the self-signed certificate and key live: beside the database.
pub fn self_signed_paths(db: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    };
    (with(".dashboard-cert.pem"), with(".dashboard-key.pem"))
}

/// None for plain HTTP; else the TLS acceptor for `addr`, making the
/// self-signed certificate first if it does not exist yet.
pub fn acceptor(
    tls: &Tls,
    db: &Path,
    addr: SocketAddr,
    hosts: &[String],
) -> Result<Option<Served>> {
    let (cert_file, key_file) = match tls {
        Tls::Off => return Ok(None),
        Tls::Auto if addr.ip().is_loopback() => return Ok(None),
        Tls::Auto | Tls::SelfSigned => {
            let (cert, key) = self_signed_paths(db);
            if !cert.exists() || !key.exists() {
                make_self_signed(&cert, &key, addr, hosts)?;
            }
            (cert, key)
        }
        Tls::Files { cert, key } => (cert.clone(), key.clone()),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_file)
        .with_context(|| format!("dashboard certificate {}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("dashboard certificate {}", cert_file.display()))?;
    let Some(first) = certs.first() else {
        bail!("no certificate in {}", cert_file.display());
    };
    let fingerprint = Sha256::digest(first.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let key = PrivateKeyDer::from_pem_file(&key_file)
        .with_context(|| format!("dashboard key {}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the dashboard's certificate and key do not fit together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Served {
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        fingerprint,
        cert_file,
    }))
}

/// A self-signed certificate for the listen address, `localhost` and the
/// allowed host names; the key written 0600 and both files atomically.
fn make_self_signed(cert: &Path, key: &Path, addr: SocketAddr, hosts: &[String]) -> Result<()> {
    let mut names = vec!["localhost".to_owned()];
    if !addr.ip().is_unspecified() {
        names.push(addr.ip().to_string());
    }
    for h in hosts {
        // "router.lan:8080" -> "router.lan"; "[fd00::1]:8080" -> "fd00::1".
        let host = match h.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => h.as_str(),
        };
        let host = host.trim_matches(['[', ']']).to_owned();
        if !host.is_empty() && !names.contains(&host) {
            names.push(host);
        }
    }
    let made = rcgen::generate_simple_self_signed(names)?;
    write_private(key, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_private(cert, made.cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_plain_on_loopback_and_tls_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(acceptor(&Tls::Auto, &db, lo, &[]).unwrap().is_none());
        let lan: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        let served = acceptor(&Tls::Auto, &db, lan, &["router.lan:8443".into()])
            .unwrap()
            .expect("TLS off loopback");
        assert_eq!(served.fingerprint.len(), 32 * 3 - 1);
        assert!(acceptor(&Tls::Off, &db, lan, &[]).unwrap().is_none());
        assert_eq!(
            Tls::parse("a.pem,b.pem").unwrap(),
            Tls::Files {
                cert: "a.pem".into(),
                key: "b.pem".into()
            }
        );
        assert!(Tls::parse("on").is_err());
    }
}
