//! `warden demo`: simulate a household with infected devices, analyze it,
//! and set what warden found beside what really happened.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use warden_pipeline::{Config, Report};
use warden_sim::{Labels, Scenario};

#[derive(clap::Args)]
pub struct Args {
    /// Seed of the simulated household. The default was picked because its
    /// household shows Mirai's three signatures (a flood, a telnet sweep,
    /// telnet password guessing); `warden evaluate --simulate` measures
    /// quality over many seeds instead.
    #[arg(long, default_value_t = 9)]
    pub seed: u64,
    /// Capture length in seconds.
    #[arg(long, default_value_t = 300)]
    pub duration: u32,
    /// Keep the capture and its labels in this directory (default: a
    /// temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

const DEMO_MAX_FRAMES: u64 = 400_000;

pub fn run(args: Args) -> Result<ExitCode> {
    let tmp;
    let dir = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => {
            tmp = tempfile::tempdir().context("creating a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let capture = dir.join(format!("household-{}.pcap", args.seed));
    let opts = crate::simulate::options(
        args.seed,
        Scenario::Household,
        args.duration,
        // A first run should take seconds and little disk: the heavy
        // activities and floods are sized to this budget.
        DEMO_MAX_FRAMES,
    );
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "Simulating {} s of a home network (seed {}) into {} ...",
        args.duration,
        args.seed,
        capture.display()
    )?;
    let labels = warden_sim::write_files(&opts, &capture)?;
    writeln!(out, "Analyzing it with warden:\n")?;
    let report =
        crate::analyze::analyze_files(&Config::default(), std::slice::from_ref(&capture), false)?;
    let (report, decisions) = (report.report, report.decisions);
    crate::table::print(&mut out, &report, false)?;
    crate::table::print_decisions(&mut out, &decisions)?;
    writeln!(out)?;
    ground_truth(&mut out, &labels, &report)?;
    if args.keep.is_some() {
        writeln!(
            out,
            "\nThe capture and its labels stay in {}; try `warden analyze {} --json` or `warden evaluate {}`.",
            dir.display(),
            capture.display(),
            capture.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the simulator did, and when warden noticed.
fn ground_truth(out: &mut impl Write, labels: &Labels, report: &Report) -> std::io::Result<()> {
    writeln!(out, "What really happened (the simulator's labels):")?;
    for d in &labels.devices {
        for b in &d.behaviours {
            let onset = warden_sim::parse_timestamp(&b.onset).unwrap_or(0);
            let found = report
                .devices
                .iter()
                .filter(|r| r.mac.to_string() == d.mac)
                .flat_map(|r| r.alerts.iter())
                .filter(|a| a.kind.as_str() == b.kind.name())
                .map(|a| a.detected_at.0 / 1000)
                .filter(|&t| t >= onset)
                .min();
            let verdict = match found {
                Some(t) => format!("detected {:.1} s after it began", (t - onset) as f64 / 1e6),
                None => "NOT detected".to_string(),
            };
            writeln!(
                out,
                "  {} ({} {} {}): {} ({}) from {}: {verdict}",
                d.mac, d.profile, d.vendor, d.model, b.kind, b.variant, b.onset
            )?;
        }
    }
    let benign = labels
        .devices
        .iter()
        .filter(|d| d.behaviours.is_empty())
        .count();
    let false_alarms = report
        .devices
        .iter()
        .filter(|r| {
            labels
                .device(&r.mac.to_string())
                .is_none_or(|d| d.behaviours.is_empty())
        })
        .map(|r| r.alerts.len())
        .sum::<usize>();
    writeln!(
        out,
        "  {benign} benign devices, {false_alarms} alerts on them (false alarms)."
    )
}
