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
    /// Hold this device to a network profile (docs/profiles.md): the flows
    /// of a threat model or of a MUD file, or no profile at all. Your
    /// mapping wins over the device's MUD URL and a matched threat model.
    /// `--learned` shows the profile the guard proposes from what the
    /// device did (as a threat model's network section, or as MUD with
    /// `--mud`); `--learned --accept` holds the device to it.
    Profile {
        mac: Mac,
        /// A threat model (YAML or JSON); its `network` section is the profile.
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
        /// An RFC 8520 MUD file; with --learned, print the proposal as MUD.
        #[arg(long, value_name = "FILE", num_args = 0..=1)]
        mud: Option<Option<PathBuf>>,
        /// No profile for this device, whatever its MUD URL or model say.
        #[arg(long)]
        none: bool,
        /// Forget your mapping: the device's MUD URL or a matched model apply again.
        #[arg(long)]
        clear: bool,
        /// The profile learned from the device's behaviour.
        #[arg(long)]
        learned: bool,
        /// With --learned: hold the device to it.
        #[arg(long, requires = "learned")]
        accept: bool,
    },
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
                "profile_mapping": store.profile_mapping(mac)?,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
            Ok(ExitCode::SUCCESS)
        }
        DeviceCommand::Trust { mac } => queue(&mut store, mac, OwnerCommand::Trust),
        DeviceCommand::Release { mac } => queue(&mut store, mac, OwnerCommand::Release),
        DeviceCommand::Quarantine { mac } => queue(&mut store, mac, OwnerCommand::Quarantine),
        DeviceCommand::Profile {
            mac,
            model,
            mud,
            none,
            clear,
            learned,
            accept,
        } => {
            let sources = [
                model.is_some(),
                matches!(mud, Some(Some(_))),
                none,
                clear,
                learned,
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                bail!("say which profile: --model FILE, --mud FILE, --none, --clear or --learned");
            }
            if learned {
                return learned_profile(&mut store, &mut out, mac, mud.is_some(), accept);
            }
            let mapping = if let Some(path) = model {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let loaded = warden_model::load(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                mapping("model", &path, &loaded.model.network)?
            } else if let Some(Some(path)) = mud {
                let bytes =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let imported = warden_profile::mud::import(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                for s in &imported.skipped {
                    eprintln!("warden: left out of the profile: {s}");
                }
                mapping("mud", &path, &imported.network)?
            } else if none {
                Some(warden_state::ProfileMapping {
                    source: "none".into(),
                    label: "the owner: no profile".into(),
                    network: None,
                    since: now(),
                })
            } else {
                None // --clear
            };
            match &mapping {
                Some(m) => store.set_profile_mapping(mac, m)?,
                None => store.clear_profile_mapping(mac)?,
            }
            queue(&mut store, mac, OwnerCommand::Profile)
        }
    }
}

/// `warden device profile MAC --learned [--mud] [--accept]`.
fn learned_profile(
    store: &mut Store,
    out: &mut impl Write,
    mac: Mac,
    as_mud: bool,
    accept: bool,
) -> Result<ExitCode> {
    let Some(l) = store.learned_profile(mac)? else {
        bail!("the guard has learned nothing of {mac} yet (it learns devices without a profile while it runs)");
    };
    let network: warden_model::model::Network =
        serde_json::from_str(&l.network).context("the learned profile in the database")?;
    let device = store.device(mac)?;
    let vendor = device
        .as_ref()
        .and_then(|d| d.vendor.clone())
        .unwrap_or_else(|| "unknown vendor".into());
    let model_name = mac.to_string();
    eprintln!(
        "warden: learned from {} to {}: {} flows; {} flow(s) to internet addresses the device never looked up cannot be written in a profile and were left out",
        l.since, l.updated, network.flows.len(), l.unnamed
    );
    if as_mud {
        let url = format!(
            "https://mud.invalid/learned/{}",
            mac.to_string().replace(':', "")
        );
        let doc = warden_profile::mud::export(
            &network,
            &url,
            &vendor,
            &model_name,
            "learned by warden from the device's behaviour",
            &l.updated.to_string(),
        );
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        let model = warden_model::ThreatModel {
            format_version: 1,
            identity: warden_model::model::Identity {
                vendor,
                model: model_name,
                ..Default::default()
            },
            scope: Default::default(),
            attackers: Default::default(),
            assets: Vec::new(),
            entry_points: Vec::new(),
            threats: Vec::new(),
            controls: Vec::new(),
            baseline: Default::default(),
            network: network.clone(),
        };
        write!(out, "{}", warden_model::to_yaml(&model))?;
    }
    if !accept {
        return Ok(ExitCode::SUCCESS);
    }
    let m = warden_state::ProfileMapping {
        source: "learned".into(),
        label: format!("learned {}", l.updated),
        network: Some(l.network.clone()),
        since: now(),
    };
    store.set_profile_mapping(mac, &m)?;
    store.queue_command(mac, OwnerCommand::Profile, now())?;
    eprintln!("warden: {mac} is held to the learned profile from now on (the guard takes it within a second)");
    Ok(ExitCode::SUCCESS)
}

/// The owner's mapping of a device to a threat model's `network` section.
fn mapping(
    source: &str,
    path: &std::path::Path,
    network: &warden_model::model::Network,
) -> Result<Option<warden_state::ProfileMapping>> {
    let profile = warden_profile::Profile::from_model(network);
    if profile.rules.is_empty() {
        eprintln!(
            "warden: warning: {} declares no flows: held to it, the device may only use DHCP, DNS to the router and neighbour discovery",
            path.display()
        );
    }
    for r in &profile.rules {
        eprintln!("warden: profile allows {r}");
    }
    Ok(Some(warden_state::ProfileMapping {
        source: source.into(),
        label: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
        network: Some(serde_json::to_string(network)?),
        since: now(),
    }))
}
