//! `warden simulate`: write a labelled capture of a simulated household.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use warden_sim::{DeviceClass, Labels, Scenario, SimOptions};

#[derive(clap::Args)]
pub struct Args {
    /// The pcap file to write; its labels go to `<OUT>.labels.json`.
    #[arg(short, long, value_name = "OUT")]
    pub out: PathBuf,
    /// Seed: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// household, benign, attack-flood, attack-scan, attack-spam or attack-brute-force.
    #[arg(long, default_value = "household", value_parser = parse_scenario)]
    pub scenario: Scenario,
    /// Capture length in seconds (60 to 86400).
    #[arg(long, default_value_t = 600)]
    pub duration: u32,
    /// Safety cap on frames written.
    #[arg(long, default_value_t = SimOptions::default().max_frames)]
    pub max_frames: u64,
    /// When the capture starts: unix seconds, or `now` (default: the fixed
    /// 2026-01-15T12:00:00Z, so that the same seed gives the same bytes).
    #[arg(long, value_parser = parse_start)]
    pub start: Option<i64>,
}

fn parse_start(s: &str) -> Result<i64, String> {
    if s == "now" {
        return Ok(time::OffsetDateTime::now_utc().unix_timestamp());
    }
    s.parse()
        .map_err(|_| format!("{s:?} is not unix seconds nor `now`"))
}

pub fn parse_scenario(s: &str) -> Result<Scenario, String> {
    s.parse()
}

pub fn options(seed: u64, scenario: Scenario, duration: u32, max_frames: u64) -> SimOptions {
    SimOptions {
        seed,
        scenario,
        duration_s: duration,
        max_frames,
        ..SimOptions::default()
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut opts = options(args.seed, args.scenario, args.duration, args.max_frames);
    if let Some(start) = args.start {
        opts.start_unix = start;
    }
    let labels = warden_sim::write_files(&opts, &args.out)
        .with_context(|| format!("simulating into {}", args.out.display()))?;
    eprint!("{}", describe(&labels));
    eprintln!(
        "wrote {} and {}",
        args.out.display(),
        warden_sim::labels_path(&args.out).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A few lines on what the capture holds, for people.
pub fn describe(l: &Labels) -> String {
    let infected = l
        .devices
        .iter()
        .filter(|d| d.label == DeviceClass::Infected)
        .count();
    let mut s = format!(
        "{} s of a household ({} scenario, seed {}): {} devices, {} infected, {} frames{}\n",
        l.duration_s,
        l.scenario,
        l.seed,
        l.devices.len(),
        infected,
        l.frames,
        if l.truncated {
            " (cut at the frame cap)"
        } else {
            ""
        }
    );
    for d in &l.devices {
        for b in &d.behaviours {
            s.push_str(&format!(
                "  {} {} {} ({}): {} {} from {}\n",
                d.mac, d.profile, d.model, d.vendor, b.kind, b.variant, b.onset
            ));
        }
    }
    s
}
