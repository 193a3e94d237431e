//! Warnings by e-mail, end to end: `warden run` replays a simulated
//! household with `[run] language = "de"` and `[run.smtp]` pointing at a
//! real SMTP server on loopback (the mailin crate's protocol state
//! machine with STARTTLS over rustls on a throwaway certificate; AUTH only
//! after the upgrade), trusting that certificate through `ca` and logging
//! in with the credentials file. Each incident arrives once, in German.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder};

#[derive(Default, Debug, Clone)]
struct Received {
    logins: Vec<(String, String)>,
    envelopes: Vec<(String, Vec<String>)>,
    messages: Vec<String>,
}

#[derive(Clone)]
struct Collect {
    got: Arc<Mutex<Received>>,
    data: Vec<u8>,
    from: String,
}

impl Handler for Collect {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        mailin::response::OK
    }
    fn data_start(&mut self, _d: &str, from: &str, _8bit: bool, to: &[String]) -> Response {
        self.data.clear();
        self.got
            .lock()
            .unwrap()
            .envelopes
            .push((from.to_owned(), to.to_vec()));
        mailin::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let text = String::from_utf8_lossy(&self.data).into_owned();
        self.got.lock().unwrap().messages.push(text);
        mailin::response::OK
    }
    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.got
            .lock()
            .unwrap()
            .logins
            .push((user.to_owned(), password.to_owned()));
        if user == "warden" && password == "correct horse" {
            mailin::response::AUTH_OK
        } else {
            mailin::response::INVALID_CREDENTIALS
        }
    }
}

/// Anything a session can be served over: the TCP stream, then TLS.
trait Conn: std::io::Read + Write + Send {}
impl<T: std::io::Read + Write + Send> Conn for T {}

/// Serves SMTP with STARTTLS on a loopback port until the test ends; AUTH
/// is offered only after the upgrade. Returns the port, what arrived, and
/// the server certificate (PEM) for the client to trust.
fn smtp_server() -> (u16, Arc<Mutex<Received>>, String) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = made.cert.pem();
    let tls = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![made.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into()),
        )
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Received::default()));
    let shared = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let handler = Collect {
                got: shared.clone(),
                data: Vec::new(),
                from: String::new(),
            };
            let tls = tls.clone();
            std::thread::spawn(move || {
                let mut builder = SessionBuilder::new("mail.test");
                builder.enable_start_tls().enable_auth(AuthMechanism::Plain);
                let mut session = builder.build(conn.peer_addr().unwrap().ip(), handler);
                let mut stream: Box<dyn Conn> = Box::new(conn);
                session.greeting().write_to(&mut stream).unwrap();
                loop {
                    let mut reader = BufReader::new(stream);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let r = session.process(&line);
                        let out = reader.get_mut();
                        match r.action {
                            Action::NoReply => {}
                            Action::Reply => r.write_to(out).unwrap(),
                            Action::Close => {
                                let _ = r.write_to(out);
                                return;
                            }
                            Action::UpgradeTls => {
                                r.write_to(out).unwrap();
                                out.flush().unwrap();
                                break;
                            }
                        }
                        out.flush().unwrap();
                    }
                    // The client waits for our 220 before its handshake, so
                    // nothing is left in the reader's buffer.
                    assert!(reader.buffer().is_empty());
                    let server = rustls::ServerConnection::new(tls.clone()).unwrap();
                    stream = Box::new(rustls::StreamOwned::new(server, reader.into_inner()));
                    session.tls_active();
                }
            });
        }
    });
    (port, got, cert_pem)
}

/// Decodes RFC 2047 B-words (what lettre writes for a non-ASCII subject).
fn decode_words(header: &str) -> String {
    // White space between two encoded words is not part of the text.
    let mut out = String::new();
    let mut last_encoded = false;
    for part in header.split_whitespace() {
        let lower = part.to_ascii_lowercase();
        let encoded = lower.starts_with("=?utf-8?b?") && part.ends_with("?=");
        let joined = encoded && last_encoded;
        if !out.is_empty() && !joined {
            out.push(' ');
        }
        if encoded {
            let b = &part[10..part.len() - 2];
            let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            out.push_str(&String::from_utf8(bytes).unwrap());
        } else {
            out.push_str(part);
        }
        last_encoded = encoded;
    }
    out
}

/// Subject and decoded body of a raw message.
fn parse(raw: &str) -> (String, String, String) {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    // Unfold continuation lines.
    let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let field = |name: &str| {
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
            .map(|l| l[name.len() + 1..].trim().to_owned())
            .unwrap_or_default()
    };
    assert!(
        field("content-transfer-encoding").eq_ignore_ascii_case("base64"),
        "{head}"
    );
    let b64: String = body.split_whitespace().collect();
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim_end_matches('.'))
            .unwrap(),
    )
    .unwrap();
    (decode_words(&field("subject")), field("to"), text)
}

#[test]
fn each_incident_is_mailed_once_in_german_through_a_real_smtp_server() {
    let dir = tempfile::tempdir().unwrap();
    let (port, got, server_cert) = smtp_server();
    let ca = dir.path().join("mail-server.pem");
    std::fs::write(&ca, server_cert).unwrap();
    let creds = dir.path().join("smtp-login");
    std::fs::write(&creds, "warden\ncorrect horse\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[run]\nlanguage = \"de\"\n\n[run.smtp]\nserver = \"127.0.0.1\"\nport = {port}\n\
             security = \"starttls\"\nfrom = \"warden@router.test\"\nto = [\"familie@home.test\"]\n\
             credentials = \"{}\"\nca = \"{}\"\n",
            creds.display(),
            ca.display()
        ),
    )
    .unwrap();
    let sim = dir.path().join("household.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["simulate", "--start", "now", "--duration", "60", "-o"])
        .arg(&sim)
        .output()
        .unwrap();
    assert!(out.status.success());
    let db = dir.path().join("warden.db");
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("run")
        .arg("--replay")
        .arg(&sim)
        .args(["--dry-run", "--db"])
        .arg(&db)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");

    // What the guard decided: decisions taken together are one incident.
    let store = warden_state::Store::open(&db).unwrap();
    let mut incidents = std::collections::BTreeSet::new();
    let mut quarantined = None;
    for d in store.devices().unwrap() {
        for r in store.decisions(d.mac, 100).unwrap() {
            let x = &r.decision;
            incidents.insert((x.device.to_string(), x.start.0));
            if x.action == warden_policy::Action::Quarantine {
                quarantined = Some(x.device.to_string());
            }
        }
    }
    let quarantined = quarantined.expect("the household has a quarantined device");
    assert!(
        log.contains(&format!("smtp: {} delivered, 0 given up", incidents.len())),
        "{log}"
    );
    let got = got.lock().unwrap().clone();
    assert_eq!(got.messages.len(), incidents.len(), "{log}");
    // Logged in with the file's credentials, every time (the server
    // offers AUTH only after STARTTLS, so the upgrade happened).
    assert!(!got.logins.is_empty());
    assert!(got
        .logins
        .iter()
        .all(|l| *l == ("warden".to_owned(), "correct horse".to_owned())));
    assert!(got
        .envelopes
        .iter()
        .all(|(from, to)| from == "warden@router.test" && to == &["familie@home.test"]));

    let mails: Vec<(String, String, String)> = got.messages.iter().map(|m| parse(m)).collect();
    let mut seen = std::collections::BTreeSet::new();
    for (subject, to, body) in &mails {
        assert!(subject.starts_with("warden: Gerät "), "{subject}");
        assert!(to.contains("familie@home.test"), "{to}");
        assert!(
            body.starts_with("warden, der Wächter auf Ihrem Router, meldet zu Gerät "),
            "{body}"
        );
        assert!(body.contains("Diese Nachricht hat warden auf Ihrem Router gesendet."));
        assert!(seen.insert(body.clone()), "the same message twice: {body}");
    }
    let (_, _, body) = mails
        .iter()
        .find(|(s, _, _)| s.ends_with(&quarantined))
        .expect("a mail about the quarantined device");
    assert!(body.contains("warden hat es vom Netz getrennt"), "{body}");
    assert!(body.contains("wahrscheinlich infiziert"), "{body}");
    assert!(
        body.contains(&format!("warden device trust {quarantined}")),
        "{body}"
    );
}
