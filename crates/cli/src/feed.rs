//! `warden feed`: the killswitch feed (issue #4). `keygen` makes a key; with
//! the default `feed-server` cargo feature, `serve` runs the feed server,
//! `publish` writes the signed static feed files, and `list`, `delist` and
//! `fixed` curate the server's database directly (docs/feed-server.md);
//! `submit` publishes a threat model or test report in a server's registry
//! (docs/registry.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use warden_feed::KeyPair;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: FeedCommand,
}

#[derive(clap::Subcommand)]
pub enum FeedCommand {
    /// Create an Ed25519 key file (0600) if it does not exist, and print its public key and key id.
    Keygen {
        /// The key file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sync the router's feed now (the `[feed]` section of the config: URL,
    /// pinned root, state directory); `warden run` also syncs on a schedule.
    Sync {
        /// Configuration file (docs/warden.example.toml, `[feed]`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Base URL of the feed files (overrides `[feed] url`).
        url: Option<String>,
        /// The pinned root.json (overrides `[feed] root`).
        #[arg(long, value_name = "FILE")]
        root: Option<PathBuf>,
        /// Where the last good copy is kept (overrides `[feed] dir`).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Publish a threat model or test report in a feed server's registry:
    /// signs the file with KEY (or sends an envelope signed already) and
    /// prints the device type's page (docs/registry.md).
    Submit {
        /// A threat model (YAML/JSON), a test report, or a DSSE envelope of either.
        file: PathBuf,
        /// The signing key (`warden feed keygen`); the server must know its public key.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// The feed server's base URL, e.g. https://feed.example.org.
        #[arg(long, value_name = "URL", required_unless_present = "envelope_out")]
        server: Option<String>,
        /// Write the signed envelope here instead of (or as well as) sending it.
        #[arg(long, value_name = "FILE")]
        envelope_out: Option<PathBuf>,
    },
    /// Run the feed server: sightings in, listings on independent evidence.
    #[cfg(feature = "feed-server")]
    Serve(server::ServeArgs),
    /// Write the signed feed (root, snapshot, delta, timestamp) as static files.
    #[cfg(feature = "feed-server")]
    Publish(server::PublishArgs),
    /// List a device type by hand, with a reason (recorded in the audit log).
    #[cfg(feature = "feed-server")]
    List(server::ListArgs),
    /// Take a listing off the feed, with a reason; evidence cannot list it again until an operator does.
    #[cfg(feature = "feed-server")]
    Delist(server::DelistArgs),
    /// Mark firmware fixed under a MAC prefix: devices on that version or later stop matching.
    #[cfg(feature = "feed-server")]
    Fixed(server::FixedArgs),
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        FeedCommand::Keygen { out } => {
            let existed = out.exists();
            let key = KeyPair::load_or_create(&out)
                .with_context(|| format!("key file {}", out.display()))?;
            let public = serde_json::to_value(key.public())?;
            println!("public key: {}", public.as_str().unwrap_or_default());
            println!("key id:     {}", key.key_id());
            eprintln!(
                "warden: {} {}",
                if existed {
                    "loaded existing key"
                } else {
                    "created key"
                },
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        FeedCommand::Sync {
            config,
            url,
            root,
            dir,
        } => {
            let mut cfg = warden_pipeline::Config::load_or_default(config.as_deref())?.feed;
            cfg.url = url.unwrap_or(cfg.url);
            cfg.root = root.unwrap_or(cfg.root);
            cfg.dir = dir.unwrap_or(cfg.dir);
            anyhow::ensure!(
                !cfg.url.is_empty(),
                "no feed URL: give one or set [feed] url"
            );
            println!("{}", crate::feed_router::sync_once(&cfg)?);
            Ok(ExitCode::SUCCESS)
        }
        FeedCommand::Submit {
            file,
            key,
            server,
            envelope_out,
        } => submit(
            &file,
            key.as_deref(),
            server.as_deref(),
            envelope_out.as_deref(),
        ),
        #[cfg(feature = "feed-server")]
        FeedCommand::Serve(a) => server::serve(a),
        #[cfg(feature = "feed-server")]
        FeedCommand::Publish(a) => server::publish(a),
        #[cfg(feature = "feed-server")]
        FeedCommand::List(a) => server::list(a),
        #[cfg(feature = "feed-server")]
        FeedCommand::Delist(a) => server::delist(a),
        #[cfg(feature = "feed-server")]
        FeedCommand::Fixed(a) => server::fixed(a),
    }
}

/// A registry document is at most this big before signing (the registry's
/// limits are 1 MiB for a model or a report).
const MAX_SUBMIT_BYTES: u64 = 2 << 20;

/// `warden feed submit`: what the file is, its envelope, and the answer.
fn submit(
    file: &std::path::Path,
    key: Option<&std::path::Path>,
    server: Option<&str>,
    envelope_out: Option<&std::path::Path>,
) -> Result<ExitCode> {
    use std::io::Read as _;
    use warden_feed::Envelope;

    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .with_context(|| format!("reading {}", file.display()))?
        .take(MAX_SUBMIT_BYTES + 1)
        .read_to_end(&mut bytes)?;
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_SUBMIT_BYTES,
        "{} is larger than {MAX_SUBMIT_BYTES} bytes",
        file.display()
    );
    let (kind, envelope) = match Envelope::from_slice(&bytes, MAX_SUBMIT_BYTES as usize) {
        // Signed already (e.g. by `warden report sign`): sent as it is.
        Ok(env) => {
            anyhow::ensure!(
                key.is_none(),
                "{} is signed already; --key is for unsigned files",
                file.display()
            );
            let kind = match env.payload_type.as_str() {
                t if t == warden_model::PAYLOAD_TYPE => "threat-models",
                t if t == warden_report::PAYLOAD_TYPE => "test-reports",
                t => anyhow::bail!(
                    "an envelope of {t:?} is neither a threat model nor a test report"
                ),
            };
            (kind, env)
        }
        Err(_) => {
            let key = key.context("the file is not signed: give --key")?;
            let key = KeyPair::load(key).with_context(|| format!("key file {}", key.display()))?;
            let (kind, payload_type) = match warden_model::load(&bytes) {
                Ok(_) => ("threat-models", warden_model::PAYLOAD_TYPE),
                Err(model_err) => match warden_report::load(&bytes) {
                    Ok(_) => ("test-reports", warden_report::PAYLOAD_TYPE),
                    Err(report_err) => anyhow::bail!(
                        "{} is neither a threat model ({}) nor a test report ({})",
                        file.display(),
                        model_err
                            .0
                            .first()
                            .map(|e| e.to_string())
                            .unwrap_or_default(),
                        report_err
                            .0
                            .first()
                            .map(|e| e.to_string())
                            .unwrap_or_default()
                    ),
                },
            };
            // The file's own bytes: its SHA-256 is the document's.
            (kind, Envelope::sign_bytes(payload_type, bytes, &[&key]))
        }
    };
    let body = envelope.to_vec();
    if let Some(out) = envelope_out {
        std::fs::write(out, &body).with_context(|| format!("writing {}", out.display()))?;
        eprintln!(
            "warden: wrote the signed {} to {}",
            &kind[..kind.len() - 1],
            out.display()
        );
    }
    let Some(server) = server else {
        return Ok(ExitCode::SUCCESS);
    };
    let url = format!("{}/v1/registry/{kind}", server.trim_end_matches('/'));
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(30))
        .build();
    let answer = match agent
        .post(&url)
        .set("content-type", "application/json")
        .send_bytes(&body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => anyhow::bail!("{url}: {e}"),
    };
    let json: serde_json::Value = serde_json::from_str(&answer.1).unwrap_or_default();
    match answer.0 {
        200 | 201 => {
            let verb = if answer.0 == 201 {
                "published"
            } else {
                "already published"
            };
            println!(
                "{verb}: sha256 {}\npage: {}{}",
                json["sha256"].as_str().unwrap_or("?"),
                server.trim_end_matches('/'),
                json["page"].as_str().unwrap_or("")
            );
            Ok(ExitCode::SUCCESS)
        }
        code => {
            eprintln!(
                "warden: the registry refused it ({code}): {}",
                json["error"].as_str().unwrap_or(answer.1.as_str())
            );
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(feature = "feed-server")]
mod server {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::ExitCode;

    use anyhow::{anyhow, Context, Result};
    use warden_feed::publish::PublishOptions;
    use warden_feed::{DeviceMatch, FeedAction, KeyPair, MacPrefix, Severity, VersionRange};
    use warden_feed_server::curation::{self, Actor, Change};
    use warden_feed_server::engine::ListingConfig;
    use warden_feed_server::publish::{ensure_root, publish_store};
    use warden_feed_server::server::ServerConfig;
    use warden_feed_server::store;

    const DEFAULT_DB: &str = "sqlite:/var/lib/warden/feed.db";

    #[derive(clap::Args)]
    pub struct ServeArgs {
        /// Server configuration (TOML: listen, db, secret, [listing], [[curators.operators]], [[curators.vendors]]).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// `sqlite:PATH` or `postgres://...` (overrides the config).
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        /// Address to listen on (default 127.0.0.1:8470; overrides the config).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// The network-tag secret, created 0600 on first run (overrides the config).
        #[arg(long, value_name = "FILE")]
        secret: Option<PathBuf>,
    }

    #[derive(clap::Args)]
    pub struct PublishArgs {
        #[arg(long, value_name = "URL", default_value = DEFAULT_DB)]
        db: String,
        /// The feed directory (serve it with any web server or CDN).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The feed role's key file (see `warden feed keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The root key file: needed once, to create root v1 when DIR has no root.
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
        /// Days a new root is valid.
        #[arg(long, default_value_t = 365)]
        root_days: i64,
        /// Hours the timestamp is valid: publish at least this often.
        #[arg(long, default_value_t = 24)]
        timestamp_hours: i64,
        /// Days snapshots and deltas are valid.
        #[arg(long, default_value_t = 14)]
        snapshot_days: i64,
    }

    #[derive(clap::Args)]
    pub struct ListArgs {
        #[arg(long, value_name = "URL", default_value = DEFAULT_DB)]
        db: String,
        /// MAC prefix of the device type, like 00:17:88/24 (repeat for several).
        #[arg(long = "mac-prefix", value_name = "PREFIX")]
        mac_prefixes: Vec<MacPrefix>,
        #[arg(long)]
        vendor: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// Type fingerprint (64 hex), for devices without a model.
        #[arg(long)]
        fingerprint: Option<String>,
        /// Lowest affected firmware.
        #[arg(long)]
        firmware_min: Option<String>,
        /// First unaffected firmware.
        #[arg(long)]
        firmware_below: Option<String>,
        /// vulnerable or compromised-in-the-wild.
        #[arg(long, value_parser = parse_kebab::<Severity>, default_value = "vulnerable")]
        severity: Severity,
        /// notify, block-upnp, rate-limit or quarantine.
        #[arg(long, value_parser = parse_kebab::<FeedAction>, default_value = "notify")]
        action: FeedAction,
        /// CVE id or URL (repeat for several).
        #[arg(long = "reference", value_name = "REF")]
        references: Vec<String>,
        /// One sentence for people: why it is listed.
        #[arg(long)]
        reason: String,
    }

    #[derive(clap::Args)]
    pub struct DelistArgs {
        #[arg(long, value_name = "URL", default_value = DEFAULT_DB)]
        db: String,
        /// The listing id (32 hex).
        #[arg(long)]
        id: String,
        #[arg(long)]
        reason: String,
        /// The evidence was wrong: the reporters credited for the listing lose that credit and its weight.
        #[arg(long)]
        false_positive: bool,
    }

    #[derive(clap::Args)]
    pub struct FixedArgs {
        #[arg(long, value_name = "URL", default_value = DEFAULT_DB)]
        db: String,
        #[arg(long, value_name = "PREFIX")]
        mac_prefix: MacPrefix,
        /// Only this model (default: every model under the prefix).
        #[arg(long)]
        model: Option<String>,
        /// The first fixed firmware version.
        #[arg(long)]
        fixed_in: String,
        #[arg(long)]
        reason: String,
    }

    fn parse_kebab<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| e.to_string())
    }

    fn runtime() -> Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    pub fn serve(a: ServeArgs) -> Result<ExitCode> {
        let mut cfg = match &a.config {
            Some(p) => ServerConfig::load(p)?,
            None => ServerConfig::default(),
        };
        if let Some(db) = a.db {
            cfg.db = db;
        }
        if let Some(l) = a.listen {
            cfg.listen = l;
        }
        if let Some(s) = a.secret {
            cfg.secret = s;
        }
        runtime()?.block_on(warden_feed_server::server::serve(cfg))?;
        Ok(ExitCode::SUCCESS)
    }

    pub fn publish(a: PublishArgs) -> Result<ExitCode> {
        let feed_key =
            KeyPair::load(&a.key).with_context(|| format!("feed key {}", a.key.display()))?;
        let root_key = a
            .root_key
            .as_ref()
            .map(|p| KeyPair::load(p).with_context(|| format!("root key {}", p.display())))
            .transpose()?;
        let now = now();
        if ensure_root(
            &a.out,
            root_key.as_ref(),
            &feed_key,
            now + a.root_days * 86400,
        )? {
            eprintln!("warden: created root v1 in {}", a.out.display());
        }
        let opts = PublishOptions {
            now,
            snapshot_ttl_s: a.snapshot_days * 86400,
            timestamp_ttl_s: a.timestamp_hours * 3600,
            ..PublishOptions::at(now)
        };
        let rt = runtime()?;
        let ts = rt.block_on(async {
            let s = store::open(&a.db)
                .await
                .with_context(|| format!("opening {}", a.db))?;
            publish_store(s.as_ref(), &a.out, vec![feed_key], opts)
                .await
                .map_err(anyhow::Error::from)
        })?;
        println!(
            "published version {} with {} listings ({} bytes) and {} delta(s) to {}",
            ts.version,
            ts.snapshot.count,
            ts.snapshot.size,
            ts.deltas.len(),
            a.out.display()
        );
        Ok(ExitCode::SUCCESS)
    }

    fn cli_actor() -> Actor {
        Actor::Cli {
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        }
    }

    fn curate(db: &str, change: Change) -> Result<ExitCode> {
        curation::validate(&change).map_err(|e| anyhow!("{e}"))?;
        let applied = runtime()?.block_on(async {
            let s = store::open(db)
                .await
                .with_context(|| format!("opening {db}"))?;
            curation::apply(
                s.as_ref(),
                &cli_actor(),
                &change,
                ListingConfig::default().weights(),
                now(),
            )
            .await
            .map_err(|e| anyhow!("{e}"))
        })?;
        println!("{}: {}", applied.action, applied.listings.join(" "));
        Ok(ExitCode::SUCCESS)
    }

    pub fn list(a: ListArgs) -> Result<ExitCode> {
        let firmware =
            (a.firmware_min.is_some() || a.firmware_below.is_some()).then(|| VersionRange {
                min: a.firmware_min,
                below: a.firmware_below,
                fixed_in: vec![],
            });
        curate(
            &a.db,
            Change::List {
                severity: a.severity,
                matches: DeviceMatch {
                    mac_prefixes: a.mac_prefixes,
                    vendor: a.vendor,
                    model: a.model,
                    firmware,
                    fingerprint: a.fingerprint,
                },
                action: a.action,
                references: a.references,
                behaviours: vec![],
                reason: a.reason,
            },
        )
    }

    pub fn delist(a: DelistArgs) -> Result<ExitCode> {
        curate(
            &a.db,
            Change::Delist {
                false_positive: a.false_positive,
                id: a.id,
                reason: a.reason,
            },
        )
    }

    pub fn fixed(a: FixedArgs) -> Result<ExitCode> {
        curate(
            &a.db,
            Change::MarkFixed {
                mac_prefix: a.mac_prefix,
                model: a.model,
                fixed_in: a.fixed_in,
                reason: a.reason,
            },
        )
    }
}
