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
    /// Address to listen on. Loopback by default: anything else needs a
    /// TLS proxy in front (browsers keep the Secure cookie only over HTTPS).
    #[arg(long, value_name = "ADDR", default_value = warden_dashboard::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
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
    let mut config = warden_dashboard::Config::new(&args.db, args.listen);
    config.auth_file = args.auth_file;
    config.allowed_hosts = args.allow_host;
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
