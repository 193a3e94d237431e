//! `warden device`: the owner's view and word. Reads the guard's database;
//! trust, release and quarantine are queued there for the running daemon,
//! whose policy carries them out within a second (the owner's choice wins
//! over automation until the owner changes it).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use warden_detect::Timestamp;
use warden_policy::Mac;
use warden_state::{OwnerCommand, Store};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: DeviceCommand,
    /// The guard's state database.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "/var/lib/warden/warden.db",
        global = true
    )]
    pub db: PathBuf,
}

#[derive(clap::Subcommand)]
pub enum DeviceCommand {
    /// Every device warden stored, with the decisions in force.
    List,
    /// One device: identity, alerts and decisions.
    Show { mac: Mac },
    /// Automation leaves this device alone (its decisions end).
    Trust { mac: Mac },
    /// End every decision on this device and hand it back to automation.
    Release { mac: Mac },
    /// Quarantine this device until you release it.
    Quarantine { mac: Mac },
}

fn now() -> Timestamp {
    Timestamp(time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64)
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !args.db.exists() {
        bail!(
            "{} does not exist: is `warden run` guarding with this --db?",
            args.db.display()
        );
    }
    let mut store =
        Store::open(&args.db).with_context(|| format!("opening {}", args.db.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let queue = |store: &mut Store, mac: Mac, c: OwnerCommand| -> Result<ExitCode> {
        store.queue_command(mac, c, now())?;
        eprintln!(
            "warden: asked the guard to {} {mac}; it carries this out within a second",
            c.as_str()
        );
        Ok(ExitCode::SUCCESS)
    };
    match args.command {
        DeviceCommand::List => {
            // Decisions the guard has not ended (it ends them on expiry
            // while it runs).
            let active = store.policy_state()?.decisions;
            writeln!(
                out,
                "{:<18} {:<28} {:<20} DECISIONS IN FORCE",
                "MAC", "VENDOR", "LAST SEEN"
            )?;
            for d in store.devices()? {
                let actions: Vec<String> = active
                    .iter()
                    .filter(|x| x.device == d.mac)
                    .map(|x| x.action.kind().as_str().to_string())
                    .collect();
                let seen = d.last_seen.to_string();
                writeln!(
                    out,
                    "{:<18} {:<28} {:<20} {}",
                    d.mac.to_string(),
                    d.vendor
                        .as_deref()
                        .unwrap_or("-")
                        .chars()
                        .take(28)
                        .collect::<String>(),
                    &seen[..seen.len().min(19)],
                    if actions.is_empty() {
                        "-".to_string()
                    } else {
                        actions.join(", ")
                    }
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Show { mac } => {
            let Some(d) = store.device(mac)? else {
                bail!("{mac} is not in {}", args.db.display());
            };
            let doc = serde_json::json!({
                "device": d,
                "alerts": store.alerts(Some(mac), 50)?,
                "decisions": store.decisions(mac, 50)?,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Trust { mac } => queue(&mut store, mac, OwnerCommand::Trust),
        DeviceCommand::Release { mac } => queue(&mut store, mac, OwnerCommand::Release),
        DeviceCommand::Quarantine { mac } => queue(&mut store, mac, OwnerCommand::Quarantine),
    }
}
