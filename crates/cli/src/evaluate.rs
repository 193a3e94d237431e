//! `warden evaluate`: detection quality on labelled captures.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use warden_eval::{config_beside, labels_path, load_labels, score_capture, Evaluation};
use warden_pipeline::Config;
use warden_sim::Scenario;

#[derive(clap::Args)]
pub struct Args {
    /// Labelled captures (labels in `<CAPTURE>.labels.json`).
    #[arg(value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
    /// Also simulate this many seeds of every chosen scenario and score them
    /// (the captures go to a temporary directory and are removed).
    #[arg(long, value_name = "SEEDS", default_value_t = 0)]
    pub simulate: u64,
    /// First seed for --simulate.
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Scenario for --simulate (repeatable; default: all of them).
    #[arg(long, value_parser = crate::simulate::parse_scenario)]
    pub scenario: Vec<Scenario>,
    /// Length of simulated captures in seconds.
    #[arg(long, default_value_t = 600)]
    pub duration: u32,
    /// Configuration file with thresholds (see docs/warden.example.toml);
    /// without it, a capture's own `<name>.warden.toml` applies if present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the evaluation as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.captures.is_empty() && args.simulate == 0 {
        bail!("nothing to evaluate: give labelled captures or --simulate SEEDS");
    }
    let cfg = Config::load_or_default(args.config.as_deref())?;
    let mut eval = Evaluation::default();
    for capture in &args.captures {
        let labels = load_labels(&labels_path(capture))?;
        // A capture's own configuration applies unless --config overrides.
        let own = match (&args.config, config_beside(capture)) {
            (None, Some(path)) => Some(Config::load(&path)?),
            _ => None,
        };
        score_capture(own.as_ref().unwrap_or(&cfg), capture, &labels, &mut eval)
            .with_context(|| format!("scoring {}", capture.display()))?;
    }
    if args.simulate > 0 {
        let scenarios = if args.scenario.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            args.scenario.clone()
        };
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let total = args.simulate * scenarios.len() as u64;
        let bar = (!args.json && std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .then(|| indicatif::ProgressBar::new(total));
        for seed in args.first_seed..args.first_seed + args.simulate {
            for &scenario in &scenarios {
                let path = dir.path().join(format!("{scenario}-{seed}.pcap"));
                let opts = crate::simulate::options(
                    seed,
                    scenario,
                    args.duration,
                    warden_sim::SimOptions::default().max_frames,
                );
                warden_sim::write_files(&opts, &path)?;
                let labels = load_labels(&labels_path(&path))?;
                score_capture(&cfg, &path, &labels, &mut eval)?;
                // Keep the name readable in the output, drop the file.
                std::fs::remove_file(&path).ok();
                std::fs::remove_file(labels_path(&path)).ok();
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
    eval.finish();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &eval)?;
        writeln!(out)?;
    } else {
        print(&mut out, &eval)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

fn print(out: &mut impl Write, e: &Evaluation) -> std::io::Result<()> {
    writeln!(
        out,
        "{} captures, {} frames, {} devices ({} benign, {} infected)\n",
        e.captures, e.frames, e.devices, e.benign_devices, e.infected_devices
    )?;
    writeln!(
        out,
        "{:<12} {:>10} {:>9} {:>8} {:>7} {:>10} {:>10} {:>8} {:>8} {:>8}",
        "kind",
        "behaviours",
        "detected",
        "recall",
        "alerts",
        "false pos",
        "precision",
        "TTD p50",
        "TTD p90",
        "TTD max"
    )?;
    for (kind, s) in &e.per_kind {
        writeln!(
            out,
            "{:<12} {:>10} {:>9} {:>8} {:>7} {:>10} {:>10} {:>8} {:>8} {:>8}",
            kind.as_str(),
            s.behaviours,
            s.detected,
            pct(s.recall),
            s.alerts,
            s.false_positive_alerts,
            pct(s.precision),
            secs(s.ttd_median_s),
            secs(s.ttd_p90_s),
            secs(s.ttd_max_s)
        )?;
    }
    writeln!(
        out,
        "\nfalse positives per benign device: {:.4} (time to detect in seconds from the first malicious frame)",
        e.false_positives_per_benign_device
    )?;
    if !e.false_positives.is_empty() {
        writeln!(out, "\nfalse positives:")?;
        for f in &e.false_positives {
            writeln!(
                out,
                "  {} {} {} [{}]: {}",
                f.capture, f.mac, f.profile, f.why, f.summary
            )?;
        }
    }
    if !e.misses.is_empty() {
        writeln!(out, "\nmissed:")?;
        for m in &e.misses {
            writeln!(out, "  {} {} {} ({})", m.capture, m.mac, m.kind, m.variant)?;
        }
    }
    Ok(())
}
