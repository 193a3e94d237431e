//! `warden analyze CAPTURE...`: the offline guard.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use ipnet::IpNet;
use warden_capture::{FrameSource, PcapFile};
use warden_pipeline::{CollectOnly, Config, InputReport, Pipeline, Report};

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
    let mut cfg = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if !args.lan.is_empty() {
        cfg.devices.lan = args.lan.clone();
    }
    let show_progress = !args.json && std::io::stdout().is_terminal();
    let report = analyze_files(&cfg, &args.captures, show_progress)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        crate::table::print(&mut out, &report, args.all)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the pipeline over the files, in order, as one timeline.
pub fn analyze_files(cfg: &Config, paths: &[PathBuf], progress: bool) -> Result<Report> {
    let mut pipeline = Pipeline::new(cfg);
    let mut sink = CollectOnly;
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
    Ok(pipeline.report(input))
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
