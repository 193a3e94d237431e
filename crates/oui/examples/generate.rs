//! Regenerates `data/registry.tsv.gz` from Debian's `ieee-data`:
//!
//! ```text
//! cargo run -p warden-oui --example generate -- /usr/share/ieee-data crates/oui/data/registry.tsv.gz
//! ```
//!
//! The snapshot date comes from `ieee-data`'s `.lastupdate`; `--date
//! YYYY-MM-DD` overrides it (e.g. for CSVs downloaded straight from the IEEE).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use warden_oui::generate::{parse_date, snapshot_date, Builder};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    const USAGE: &str = "usage: generate <ieee-data dir> <out.tsv.gz> [--date YYYY-MM-DD]";
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), Some(out)) = (args.next(), args.next()) else {
        return Err(USAGE.into());
    };
    let (dir, out) = (PathBuf::from(dir), PathBuf::from(out));
    let date = match (args.next(), args.next()) {
        (None, _) => snapshot_date(&dir)?,
        (Some(flag), Some(value)) if flag == "--date" => {
            parse_date(&value.to_string_lossy()).ok_or("--date wants YYYY-MM-DD")?
        }
        _ => return Err(USAGE.into()),
    };

    let builder = Builder::from_ieee_data_dir(&dir)?;
    let stats = builder.stats();
    eprintln!(
        "{} rows: {} kept, {} malformed (skipped), {} duplicate prefixes (first kept); snapshot {date}",
        stats.rows, stats.kept, stats.malformed, stats.duplicates
    );
    if builder.is_empty() {
        return Err("no assignments read; refusing to write an empty registry".into());
    }

    // Write beside the target and rename, so a failed run never leaves a
    // truncated registry behind.
    let tmp = out.with_extension("tmp");
    let file = builder.write(BufWriter::new(File::create(&tmp)?), &date)?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, &out)?;
    eprintln!(
        "wrote {} ({} bytes)",
        out.display(),
        std::fs::metadata(&out)?.len()
    );
    Ok(())
}
