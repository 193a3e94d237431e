//! `warden dashboard`: the household's web page and JSON API over the
//! guard's database (crates/dashboard, docs/dashboard.md). Owner commands
//! from it are queued for the running `warden run`, like `warden device`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};

#[derive(clap::Args)]
pub struct Args {
    /// The guard's state database.
    #[arg(long, value_name = "FILE", default_value = "/var/lib/warden/warden.db")]
    pub db: PathBuf,
    /// Address to listen on. Loopback by default (plain HTTP there); on any
    /// other address the dashboard serves its own TLS unless told otherwise.
    #[arg(long, value_name = "ADDR", default_value = warden_dashboard::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The guard's configuration: `[run] language` and `dashboard_tls`, and
    /// `[profiles] models`, as `warden run` serves the dashboard with them.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Language of the advice ("en", "de"; overrides the config).
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,
    /// TLS: auto (plain on loopback, a self-signed certificate elsewhere),
    /// self-signed, off, or CERT,KEY (overrides the config).
    #[arg(long, value_name = "MODE")]
    pub tls: Option<String>,
    /// A directory of threat models whose summaries are shown beside
    /// matching devices (overrides `[profiles] models`).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// The password hash file (default: the database path + `.dashboard-auth`).
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Also accept this Host header (e.g. `router.lan:8080`); repeatable.
    #[arg(long, value_name = "HOST:PORT")]
    pub allow_host: Vec<String>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !args.db.exists() {
        bail!(
            "{} does not exist: is `warden run` guarding with this --db?",
            args.db.display()
        );
    }
    let cfg = warden_pipeline::Config::load_or_default(args.config.as_deref())?;
    let mut config = warden_dashboard::Config::new(&args.db, args.listen);
    config.auth_file = args.auth_file;
    config.allowed_hosts = args.allow_host;
    let language = args.language.unwrap_or(cfg.run.language);
    // Refused here, with the languages there are, rather than at the first page.
    config.language = warden_dashboard::i18n::Catalog::get(&language)?
        .language
        .to_owned();
    config.tls = match (args.tls, &cfg.run.dashboard_tls) {
        (Some(mode), _) => warden_dashboard::tls::Tls::parse(&mode)?,
        (None, warden_pipeline::DashboardTls::Mode(m)) => warden_dashboard::tls::Tls::parse(m)?,
        (None, warden_pipeline::DashboardTls::Files { cert, key }) => {
            warden_dashboard::tls::Tls::Files {
                cert: cert.clone(),
                key: key.clone(),
            }
        }
    };
    config.models = Some(args.models.unwrap_or(cfg.profiles.models));
    // The same thread `warden run` starts beside the guard.
    let running = warden_dashboard::spawn(config)?;
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;
    while !stop.load(Ordering::Relaxed) && running.is_running() {
        std::thread::sleep(Duration::from_millis(200));
    }
    running.stop()?;
    Ok(ExitCode::SUCCESS)
}
