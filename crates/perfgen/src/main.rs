//! `warden-perfgen`: writes the captures scripts/perf.sh measures with.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use warden_perfgen::Written;

#[derive(Parser)]
#[command(
    name = "warden-perfgen",
    about = "Deterministic pcap files for performance runs."
)]
struct Cli {
    #[command(subcommand)]
    capture: Capture,
}

#[derive(Subcommand)]
enum Capture {
    /// Minimum-size (60-byte) frames of a LAN: TCP connections and UDP exchanges.
    MinFrames {
        out: PathBuf,
        #[arg(long, default_value_t = 10_000_000)]
        frames: u64,
        #[arg(long, default_value_t = 48)]
        devices: usize,
        /// Microseconds between frames.
        #[arg(long, default_value_t = 10)]
        gap_us: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Realistic size mix plus replayed IoT Sentinel frames.
    Mixed {
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        frames: u64,
        #[arg(long, default_value_t = 48)]
        devices: usize,
        #[arg(long, default_value_t = 20)]
        gap_us: u64,
        /// Folder of the IoT Sentinel captures (*/*.pcap); none: synthetic only.
        #[arg(long)]
        sentinel: Option<PathBuf>,
        /// Every Nth frame is a real one.
        #[arg(long, default_value_t = 20)]
        real_every: u64,
        #[arg(long, default_value_t = 2)]
        seed: u64,
    },
    /// Every frame from a different random source MAC and private address.
    RandomMacs {
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        frames: u64,
        /// Capture time the frames are spread over.
        #[arg(long, default_value_t = 2_000)]
        seconds: u64,
        #[arg(long, default_value_t = 3)]
        seed: u64,
    },
}

fn create(path: &PathBuf) -> Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

fn main() -> Result<()> {
    let (path, w): (PathBuf, Written) = match Cli::parse().capture {
        Capture::MinFrames {
            out,
            frames,
            devices,
            gap_us,
            seed,
        } => {
            let w = warden_perfgen::min_frames(create(&out)?, frames, devices, gap_us, seed)?;
            (out, w)
        }
        Capture::Mixed {
            out,
            frames,
            devices,
            gap_us,
            sentinel,
            real_every,
            seed,
        } => {
            let real = match &sentinel {
                Some(dir) => warden_perfgen::read_sentinel(dir)
                    .with_context(|| format!("reading {}", dir.display()))?,
                None => Vec::new(),
            };
            let w = warden_perfgen::mixed(
                create(&out)?,
                frames,
                devices,
                gap_us,
                &real,
                real_every,
                seed,
            )?;
            (out, w)
        }
        Capture::RandomMacs {
            out,
            frames,
            seconds,
            seed,
        } => {
            let w = warden_perfgen::random_macs(create(&out)?, frames, seconds, seed)?;
            (out, w)
        }
    };
    // One machine-readable line for scripts.
    println!(
        "{} frames={} frame_bytes={} mean_frame={:.0}",
        path.display(),
        w.frames,
        w.frame_bytes,
        w.frame_bytes as f64 / w.frames.max(1) as f64
    );
    Ok(())
}
