//! `warden analyze CAPTURE...`: the offline guard.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ipnet::IpNet;
use warden_capture::{FrameSource, PcapFile};
use warden_detect::{Alert, Timestamp};
use warden_devices::Device;
use warden_pipeline::{Config, InputReport, Pipeline, Report, Sink};
use warden_policy::{AlertSummary, Change, Decision, Policy};

#[derive(clap::Args)]
pub struct Args {
    /// pcap or pcapng files, optionally gzip-compressed; `-` reads standard input.
    /// Several files are read in order as one timeline.
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,
    /// Print one JSON document (format in docs/json-output.md) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// LAN address ranges (repeatable); default: the private ranges.
    #[arg(long = "lan", value_name = "CIDR")]
    pub lan: Vec<IpNet>,
    /// Configuration file with thresholds (see docs/warden.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Show every device, including those that only appeared in passing.
    #[arg(long)]
    pub all: bool,
}

/// Inputs at least this large get a progress bar (on a terminal).
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

pub fn run(args: Args) -> Result<ExitCode> {
    let mut cfg = Config::load_or_default(args.config.as_deref())?;
    if !args.lan.is_empty() {
        cfg.devices.lan = args.lan.clone();
    }
    let show_progress = !args.json && std::io::stdout().is_terminal();
    let analysis = analyze_files(&cfg, &args.captures, show_progress)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &analysis.json()?)?;
        writeln!(out)?;
    } else {
        crate::table::print(&mut out, &analysis.report, args.all)?;
        crate::table::print_decisions(&mut out, &analysis.decisions)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// What `warden analyze` found, and what the policy would have done.
pub struct Analysis {
    pub report: Report,
    /// Every decision the policy would have started, in order. Offline,
    /// nothing is enforced.
    pub decisions: Vec<Decision>,
}

impl Analysis {
    /// The JSON document: the report with `decisions` beside `devices`
    /// (docs/json-output.md).
    pub fn json(&self) -> Result<serde_json::Value> {
        let mut doc = serde_json::to_value(&self.report)?;
        if let Some(map) = doc.as_object_mut() {
            map.insert("decisions".into(), serde_json::to_value(&self.decisions)?);
        }
        Ok(doc)
    }
}

/// The offline sink: every alert goes through the policy, as `warden run`
/// would send it, and the decisions are collected instead of enforced.
struct WouldDecide {
    policy: Policy,
    started: Vec<Decision>,
}

impl WouldDecide {
    fn keep(&mut self, changes: Vec<Change>) {
        self.started
            .extend(changes.into_iter().filter_map(|c| match c {
                Change::Started(d) => Some(d),
                _ => None,
            }));
    }
}

impl Sink for WouldDecide {
    fn alert(&mut self, device: &Device, alert: &Alert) {
        let summary = AlertSummary::of(alert, &device.label());
        let changes = self
            .policy
            .on_alert(device.mac, alert.kind, &summary, alert.detected_at);
        self.keep(changes);
    }

    fn update(&mut self, device: &Device, alert: &Alert) {
        // The incident goes on as of the device's latest packet.
        let now = Timestamp(device.last_seen_ns.max(alert.detected_at.0));
        let summary = AlertSummary::of(alert, &device.label());
        let changes = self
            .policy
            .on_ongoing(device.mac, alert.kind, &summary, now);
        self.keep(changes);
    }
}

/// Runs the pipeline over the files, in order, as one timeline.
pub fn analyze_files(cfg: &Config, paths: &[PathBuf], progress: bool) -> Result<Analysis> {
    let mut pipeline = Pipeline::new(cfg);
    let mut sink = WouldDecide {
        policy: Policy::new(cfg.policy.clone())?,
        started: Vec::new(),
    };
    let mut input = InputReport::default();
    for path in paths {
        let bar = progress.then(|| progress_bar(path)).flatten();
        let mut source = match &bar {
            Some(bar) => {
                let bar = bar.clone();
                PcapFile::open_with(path, move |r| Box::new(bar.wrap_read(r)))
            }
            None => PcapFile::open(path),
        }?;
        let stats = source
            .run(&mut |frame| pipeline.process(&frame, &mut sink))
            .with_context(|| format!("reading {}", path.display()))?;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if let Some(why) = &stats.ended_early {
            eprintln!("warden: warning: {}: {why}", path.display());
        }
        input.files.push(warden_pipeline::report::InputFile {
            path: path.display().to_string(),
            frames: stats.frames,
            snapped_frames: stats.snapped_frames,
            ended_early: stats.ended_early,
        });
    }
    pipeline.finish(&mut sink);
    Ok(Analysis {
        report: pipeline.report(input),
        decisions: sink.started,
    })
}

fn progress_bar(path: &Path) -> Option<ProgressBar> {
    let len = std::fs::metadata(path).ok()?.len();
    if len < PROGRESS_MIN_BYTES {
        return None;
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .ok()?,
    );
    bar.set_message(
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    Some(bar)
}
