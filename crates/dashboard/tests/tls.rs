//! The dashboard's own TLS against a real TLS client (ureq over rustls)
//! that trusts exactly the dashboard's certificate: served, pinned,
//! refused without the pin, kept across restarts, key file private.

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use warden_dashboard::tls::{self_signed_paths, Tls};
use warden_dashboard::Config;

fn client(roots: RootCertStore) -> ureq::Agent {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    ureq::AgentBuilder::new()
        .tls_config(Arc::new(config))
        .timeout(std::time::Duration::from_secs(10))
        .build()
}

#[test]
fn served_over_tls_with_a_self_signed_certificate_kept_beside_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    common::fill(&db);
    let mut config = Config::new(&db, "127.0.0.1:0".parse().unwrap());
    config.tls = Tls::SelfSigned;
    let running = warden_dashboard::spawn(config.clone()).unwrap();
    let fingerprint = running.fingerprint.clone().expect("serving TLS");

    let (cert_file, key_file) = self_signed_paths(&db);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key is readable by others");
    let cert = CertificateDer::from_pem_file(&cert_file).unwrap();
    let hex: Vec<String> = Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(fingerprint, hex.join(":"), "the logged fingerprint");

    // Pinned: trusts this one certificate and nothing else.
    let mut pinned = RootCertStore::empty();
    pinned.add(cert.clone()).unwrap();
    let url = format!("https://127.0.0.1:{}/setup", running.addr.port());
    let resp = client(pinned.clone()).get(&url).call().unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = String::new();
    resp.into_reader().read_to_string(&mut body).unwrap();
    assert!(body.contains("setup code"), "{body}");

    // Without the pin the handshake fails: the certificate is not trusted.
    let err = client(RootCertStore::empty()).get(&url).call().unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // Plain HTTP to the TLS port gets no page.
    let plain = ureq::get(&url.replace("https", "http"))
        .timeout(std::time::Duration::from_secs(5))
        .call();
    assert!(plain.is_err(), "plain HTTP was answered");

    // A restart keeps the certificate (the owner checked it once).
    running.stop().unwrap();
    let again = warden_dashboard::spawn(config).unwrap();
    assert_eq!(again.fingerprint.as_deref(), Some(fingerprint.as_str()));
    let url = format!("https://127.0.0.1:{}/setup", again.addr.port());
    assert_eq!(client(pinned).get(&url).call().unwrap().status(), 200);
    again.stop().unwrap();
}

#[test]
fn loopback_stays_plain_http_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    common::fill(&db);
    let running =
        warden_dashboard::spawn(Config::new(&db, "127.0.0.1:0".parse().unwrap())).unwrap();
    assert!(running.fingerprint.is_none());
    let resp = ureq::get(&format!("http://127.0.0.1:{}/setup", running.addr.port()))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!self_signed_paths(&db).0.exists(), "a certificate was made");
    running.stop().unwrap();
}
