//! `warden model lint|render|schema`: device threat models (docs/threat-models.md).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use warden_model::{lint, render, report, Loaded};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a threat model against baseline requirements (ETSI EN 303 645, UK PSTI,
    /// EU CRA, NIST IR 8259A). Exit status: 0 no errors, 1 errors found, 2 unusable input.
    Lint {
        /// The models (YAML or JSON). With several, text is concatenated, JSON is an
        /// array, SARIF is one run with one artifact per model.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output: text for people, json, or sarif (SARIF 2.1.0 for code scanning).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Judge support periods as of this date (YYYY-MM-DD) instead of today.
        #[arg(long, value_name = "DATE")]
        today: Option<String>,
    },
    /// Write the consumer page (index.html) and label (label.svg) for a model.
    Render {
        /// The model (YAML or JSON).
        file: PathBuf,
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Judge support periods as of this date (YYYY-MM-DD) instead of today.
        #[arg(long, value_name = "DATE")]
        today: Option<String>,
    },
    /// Print the JSON Schema of the threat model format (docs/schema/threat-model-v1.json).
    Schema,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Cmd::Lint {
            files,
            format,
            today,
        } => {
            let today = today_or(today.as_deref())?;
            let mut unusable = false;
            let mut linted = Vec::new();
            for file in &files {
                match read(file) {
                    Ok(loaded) => {
                        let findings = lint(&loaded, today);
                        linted.push((file.display().to_string(), loaded, findings));
                    }
                    // Report it and go on: the other models are still worth linting.
                    Err(e) => {
                        eprintln!("warden: error: {e:#}");
                        unusable = true;
                    }
                }
            }
            let out = match format {
                Format::Text => linted
                    .iter()
                    .map(|(name, loaded, findings)| report::text(name, &loaded.model, findings))
                    .collect::<String>(),
                Format::Json => {
                    let mut docs: Vec<serde_json::Value> = linted
                        .iter()
                        .map(|(name, loaded, findings)| report::json(name, &loaded.model, findings))
                        .collect();
                    if files.len() == 1 {
                        docs.pop().map(|d| pretty(&d)).unwrap_or_default()
                    } else {
                        pretty(&serde_json::Value::Array(docs))
                    }
                }
                Format::Sarif => {
                    let runs: Vec<(&str, &[warden_model::Finding])> = linted
                        .iter()
                        .map(|(name, _, findings)| (name.as_str(), findings.as_slice()))
                        .collect();
                    pretty(&report::sarif_many(&runs))
                }
            };
            std::io::stdout().lock().write_all(out.as_bytes())?;
            let errors = linted
                .iter()
                .flat_map(|(_, _, findings)| findings)
                .any(|f| f.level == warden_model::Level::Error);
            Ok(if unusable {
                ExitCode::from(2)
            } else if errors {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Render { file, out, today } => {
            let today = today_or(today.as_deref())?;
            let loaded = read(&file)?;
            let findings = lint(&loaded, today);
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let page = out.join("index.html");
            let label = out.join("label.svg");
            std::fs::write(&page, render::html(&loaded.model, &findings, today))
                .with_context(|| format!("writing {}", page.display()))?;
            std::fs::write(&label, render::svg(&loaded.model, &findings, today))
                .with_context(|| format!("writing {}", label.display()))?;
            println!("{}\n{}", page.display(), label.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Schema => {
            std::io::stdout()
                .lock()
                .write_all(warden_model::schema_text().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values serialise");
    s.push('\n');
    s
}

fn today_or(date: Option<&str>) -> Result<time::Date> {
    match date {
        None => Ok(time::OffsetDateTime::now_utc().date()),
        Some(d) => match d.parse::<warden_model::model::Date>() {
            Ok(d) => Ok(d.0),
            Err(e) => bail!("--today: {e}"),
        },
    }
}

/// Reads at most one byte more than the limit, so an oversized (or endless)
/// input is refused without reading it all.
fn read(path: &Path) -> Result<Loaded> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(warden_model::MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    warden_model::load(&bytes).map_err(|errs| {
        let list: Vec<String> = errs
            .0
            .iter()
            .map(|e| format!("  {}", warden_model::report::printable(&e.to_string())))
            .collect();
        anyhow::anyhow!(
            "{} is not a usable threat model:\n{}",
            path.display(),
            list.join("\n")
        )
    })
}
