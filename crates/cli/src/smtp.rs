//! Warnings by e-mail (`[run.smtp]`): each notice becomes one plain-text
//! message through the household's mail server, STARTTLS or TLS (rustls),
//! with the login read from a file of its own rather than the
//! configuration. Delivered from the notice queue of crate::webhook, so
//! retries and the bound are the same as the webhook's.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use warden_dashboard::i18n::Catalog;
use warden_pipeline::SmtpConfig;

use crate::webhook::{Notice, Webhook};

/// Reads `user\npassword` from a file that only its owner may read.
pub fn read_credentials(path: &Path) -> Result<Credentials> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("SMTP credentials {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "SMTP credentials {} can be read by others (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("SMTP credentials {}", path.display()))?;
    let mut lines = text.lines();
    let (Some(user), Some(password)) = (lines.next(), lines.next()) else {
        bail!(
            "SMTP credentials {}: the user name on the first line, the password on the second",
            path.display()
        );
    };
    if user.trim().is_empty() || password.is_empty() {
        bail!(
            "SMTP credentials {}: empty user or password",
            path.display()
        );
    }
    Ok(Credentials::new(
        user.trim().to_owned(),
        password.to_owned(),
    ))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The mailer for `cfg`, checked now (addresses, security, credentials),
/// so that a wrong configuration stops `warden run` at start.
pub fn transport(cfg: &SmtpConfig) -> Result<(SmtpTransport, Mailbox, Vec<Mailbox>)> {
    let from: Mailbox = cfg
        .from
        .parse()
        .with_context(|| format!("[run.smtp] from = {:?}", cfg.from))?;
    if cfg.to.is_empty() {
        bail!("[run.smtp] to: no recipient");
    }
    let to = cfg
        .to
        .iter()
        .map(|t| t.parse().with_context(|| format!("[run.smtp] to: {t:?}")))
        .collect::<Result<Vec<Mailbox>>>()?;
    // The public web roots, plus the owner's certificate for a server
    // with a self-made one.
    let mut tls = TlsParameters::builder(cfg.server.clone());
    if !cfg.ca.is_empty() {
        let pem =
            std::fs::read(&cfg.ca).with_context(|| format!("[run.smtp] ca = {:?}", cfg.ca))?;
        tls = tls.add_root_certificate(
            Certificate::from_pem(&pem).with_context(|| format!("[run.smtp] ca = {:?}", cfg.ca))?,
        );
    }
    let builder = match cfg.security.as_str() {
        "starttls" => SmtpTransport::builder_dangerous(&cfg.server)
            .port(nonzero(cfg.port, 587))
            // Required: no login or mail unless the upgrade succeeds.
            .tls(Tls::Required(tls.build_rustls()?)),
        "tls" => SmtpTransport::builder_dangerous(&cfg.server)
            .port(nonzero(cfg.port, 465))
            .tls(Tls::Wrapper(tls.build_rustls()?)),
        "none" if is_loopback(&cfg.server) => {
            SmtpTransport::builder_dangerous(&cfg.server).port(nonzero(cfg.port, 25))
        }
        "none" => bail!(
            "[run.smtp] security = \"none\" sends the warnings (and the login) in plain text: \
             only to a server on loopback, not {:?}",
            cfg.server
        ),
        other => bail!("[run.smtp] security = {other:?}: \"starttls\", \"tls\" or \"none\""),
    };
    let mut builder = builder.timeout(Some(Duration::from_secs(20)));
    if !cfg.credentials.is_empty() {
        builder = builder.credentials(read_credentials(Path::new(&cfg.credentials))?);
    }
    Ok((builder.build(), from, to))
}

fn nonzero(port: u16, default: u16) -> u16 {
    if port == 0 {
        default
    } else {
        port
    }
}

/// The e-mail for one notice: subject and introduction from the catalog,
/// the notice's text, a footer.
pub fn message(notice: &Notice, from: &Mailbox, to: &[Mailbox], cat: &Catalog) -> Result<Message> {
    let mut m = Message::builder()
        .from(from.clone())
        .subject(cat.t("mail-subject", &[("device", &notice.device)]));
    for t in to {
        m = m.to(t.clone());
    }
    let body = format!(
        "{}\n\n{}\n\n-- \n{}\n",
        cat.t("mail-intro", &[("device", &notice.device)]),
        notice.text,
        cat.t("mail-footer", &[])
    );
    // Base64: any mail server carries it, whatever the language's letters.
    Ok(m.singlepart(
        lettre::message::SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .header(lettre::message::header::ContentTransferEncoding::Base64)
            .body(body),
    )?)
}

/// Starts the e-mail channel; errors in the configuration come back now.
pub fn start(cfg: &SmtpConfig, cat: &'static Catalog) -> Result<Webhook> {
    let (mailer, from, to) = transport(cfg)?;
    Ok(Webhook::start_sender("smtp", move |notice: &Notice| {
        let m = message(notice, &from, &to, cat).map_err(|e| e.to_string())?;
        mailer.send(&m).map(|_| ()).map_err(|e| e.to_string())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(server: &str, security: &str) -> SmtpConfig {
        SmtpConfig {
            server: server.into(),
            security: security.into(),
            from: "warden@home.example".into(),
            to: vec!["me@home.example".into()],
            ..SmtpConfig::default()
        }
    }

    #[test]
    fn plain_text_only_to_loopback() {
        assert!(transport(&cfg("127.0.0.1", "none")).is_ok());
        assert!(transport(&cfg("localhost", "none")).is_ok());
        let e = transport(&cfg("mail.example", "none")).err().unwrap();
        assert!(
            e.to_string().contains("only to a server on loopback"),
            "{e}"
        );
        assert!(transport(&cfg("mail.example", "starttls")).is_ok());
        assert!(transport(&cfg("mail.example", "ssl")).is_err());
        let mut c = cfg("mail.example", "tls");
        c.to.clear();
        assert!(transport(&c).is_err());
    }

    #[test]
    fn credentials_come_from_a_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("smtp");
        std::fs::write(&p, "warden\nsecret pass\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_credentials(&p).err().unwrap();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_credentials(&p).is_ok());
        std::fs::write(&p, "only-a-user\n").unwrap();
        assert!(read_credentials(&p).is_err());
    }
}
