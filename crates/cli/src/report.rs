//! `warden report new|check|sign|verify|export|import-csaf`: security test
//! reports scoped against a device threat model (docs/test-reports.md).
//!
//! Exit status: 0 fine; 1 the report does not fit the model (`check`), the
//! envelope was refused (`verify`); 2 unusable input.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use warden_model::render::TestReportView;
use warden_model::report::printable;
use warden_report::{check, Checked, KeyPair, Level, PublicKey, Report};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a report skeleton for a model: one not-tested entry per threat
    /// and entry point, the model's SHA-256 filled in.
    New {
        /// The threat model (YAML or JSON).
        #[arg(long)]
        model: PathBuf,
        /// Where to write the skeleton (default: standard output); an existing file is not overwritten.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The report date (YYYY-MM-DD; default today).
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
    /// Check a report against the model it is scoped against: the model's
    /// hash, unknown ids, coverage, findings outside the declared scope.
    /// Exit status: 0 fits, 1 errors, 2 unusable input.
    Check {
        /// The report (YAML or JSON).
        report: PathBuf,
        /// The threat model (YAML or JSON).
        #[arg(long)]
        model: PathBuf,
        /// Output: text for people, or json.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Sign a report: writes a DSSE envelope (JSON) over the file's own bytes,
    /// signed with an Ed25519 key file of `warden feed keygen`.
    Sign {
        /// The report (YAML or JSON).
        report: PathBuf,
        /// The key file (0600).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the envelope (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify a signed report against a pinned signer. Exit status: 0
    /// verified, 1 refused (not an envelope, bad or missing signature by the
    /// signer, payload not a report), 2 unreadable file or bad --signer.
    Verify {
        /// The envelope (JSON).
        envelope: PathBuf,
        /// The signer's public key (base64, as `warden feed keygen` prints it),
        /// or a file holding it. Repeatable: any one of them must have signed.
        #[arg(long, required = true)]
        signer: Vec<String>,
        /// Also check the report against this model.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Write the verified report (JSON) here.
        #[arg(long, value_name = "FILE")]
        out_report: Option<PathBuf>,
    },
    /// Export a report as CSAF 2.0 VEX or SARIF 2.1.0 (JSON, standard output).
    Export {
        /// The report (YAML or JSON).
        report: PathBuf,
        /// csaf (CSAF 2.0 VEX) or sarif (SARIF 2.1.0).
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The model: adds scope marks, threat CWEs and model locations.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Where to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the JSON Schema of the report format (docs/schema/test-report-v1.json).
    Schema,
    /// Read a CSAF 2.0 advisory (at most 32 MiB) into a report skeleton whose
    /// extra findings are the advisory's vulnerabilities (YAML, standard output).
    ImportCsaf {
        /// The CSAF document (JSON).
        file: PathBuf,
        /// Scope the skeleton against this model (its threats and entry points as not-tested).
        #[arg(long)]
        model: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csaf,
    Sarif,
}

/// Unusable input: exit status 2 with the message.
struct Unusable(anyhow::Error);

fn unusable(e: anyhow::Error) -> Result<ExitCode> {
    eprintln!("warden: error: {e:#}");
    Ok(ExitCode::from(2))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let r = match args.command {
        Cmd::New { model, out, date } => new(&model, out.as_deref(), date.as_deref()),
        Cmd::Check {
            report,
            model,
            format,
        } => check_cmd(&report, &model, format),
        Cmd::Sign { report, key, out } => sign(&report, &key, out.as_deref()),
        Cmd::Verify {
            envelope,
            signer,
            model,
            out_report,
        } => verify(&envelope, &signer, model.as_deref(), out_report.as_deref()),
        Cmd::Export {
            report,
            format,
            model,
            out,
        } => export(&report, format, model.as_deref(), out.as_deref()),
        Cmd::ImportCsaf { file, model } => import(&file, model.as_deref()),
        Cmd::Schema => {
            write_out(None, &warden_report::schema_text(), false).map(|()| ExitCode::SUCCESS)
        }
    };
    match r {
        Ok(code) => Ok(code),
        Err(Unusable(e)) => unusable(e),
    }
}

/// Reads at most `max` bytes (one more, to tell "too large").
fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, Unusable> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("opening {}", path.display()))
        .map_err(Unusable)?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(Unusable)?;
    if bytes.len() > max {
        return Err(Unusable(anyhow!(
            "{} is larger than the {max} bytes accepted",
            path.display()
        )));
    }
    Ok(bytes)
}

fn list_errors(errs: &warden_model::LoadErrors) -> String {
    errs.0
        .iter()
        .map(|e| format!("  {}", printable(&e.to_string())))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read_report(path: &Path) -> Result<Report, Unusable> {
    let bytes = read_bounded(path, warden_report::MAX_INPUT_BYTES)?;
    if warden_report::is_envelope(&bytes) {
        return Err(Unusable(anyhow!(
            "{} is a signed envelope; run `warden report verify` on it (with --out-report) first",
            path.display()
        )));
    }
    warden_report::load(&bytes).map_err(|errs| {
        Unusable(anyhow!(
            "{} is not a usable test report:\n{}",
            path.display(),
            list_errors(&errs)
        ))
    })
}

/// A model and its file's bytes (for the hash).
fn read_model(path: &Path) -> Result<(warden_model::Loaded, Vec<u8>), Unusable> {
    let bytes = read_bounded(path, warden_model::MAX_INPUT_BYTES)?;
    let loaded = warden_model::load(&bytes).map_err(|errs| {
        Unusable(anyhow!(
            "{} is not a usable threat model:\n{}",
            path.display(),
            list_errors(&errs)
        ))
    })?;
    Ok((loaded, bytes))
}

fn write_out(out: Option<&Path>, text: &str, create_new: bool) -> Result<(), Unusable> {
    match out {
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to standard output")
            .map_err(Unusable),
        Some(p) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .create_new(create_new)
                .truncate(!create_new)
                .open(p)
                .with_context(|| format!("creating {}", p.display()))
                .map_err(Unusable)?;
            f.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", p.display()))
                .map_err(Unusable)
        }
    }
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values serialise");
    s.push('\n');
    s
}

fn new(model: &Path, out: Option<&Path>, date: Option<&str>) -> Result<ExitCode, Unusable> {
    let (loaded, bytes) = read_model(model)?;
    let date = match date {
        None => time::OffsetDateTime::now_utc().date(),
        Some(d) => {
            d.parse::<warden_model::model::Date>()
                .map_err(|e| Unusable(anyhow!("--date: {e}")))?
                .0
        }
    };
    let report = warden_report::skeleton(&loaded.model, &bytes, date);
    let text = format!(
        "# Test report skeleton for {} {} (warden report new).\n\
         # Replace every TODO; per entry set result: finding (with finding:),\n\
         # no-finding (with tried:) or not-tested (with reason:). docs/test-reports.md\n{}",
        loaded.model.identity.vendor,
        loaded.model.identity.model,
        warden_report::to_yaml(&report)
    );
    write_out(out, &text, true)?;
    if let Some(p) = out {
        eprintln!(
            "warden: wrote {} ({} entries)",
            p.display(),
            report.results.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn text_report(name: &str, report: &Report, c: &Checked) -> String {
    let mut s = format!(
        "{name}: {} {} firmware {}, tested by {} on {}\n",
        printable(&report.device.vendor),
        printable(&report.device.model),
        printable(&report.device.firmware_version),
        printable(&report.tester.name),
        report.date
    );
    for p in &c.problems {
        let level = match p.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        if p.path.is_empty() {
            s.push_str(&format!("  {level}: {}\n", printable(&p.message)));
        } else {
            s.push_str(&format!(
                "  {level}: {}: {}\n",
                p.path,
                printable(&p.message)
            ));
        }
    }
    for (what, cov) in [("threats", &c.threats), ("entry points", &c.entry_points)] {
        s.push_str(&format!(
            "  {what}: {} of {} tested ({} with findings, {} nothing found), {} not tested, {} not mentioned\n",
            cov.tested, cov.total, cov.with_findings, cov.no_finding, cov.not_tested, cov.missing
        ));
    }
    for f in &c.findings {
        s.push_str(&format!(
            "  finding [{}] {}: {}{}{} ({})\n",
            f.finding.severity.as_str(),
            f.target.as_deref().unwrap_or("extra"),
            printable(&f.finding.title),
            f.finding
                .cwe
                .as_ref()
                .map(|c| format!(" {}", c.as_str()))
                .unwrap_or_default(),
            f.finding
                .cve
                .as_ref()
                .map(|c| format!(" {}", c.as_str()))
                .unwrap_or_default(),
            f.scope
        ));
        for n in &f.scope_notes {
            s.push_str(&format!("    {}\n", printable(n)));
        }
    }
    s.push_str(&format!(
        "  {} error{}, {} warning{}\n  summary: {}\n",
        c.errors(),
        if c.errors() == 1 { "" } else { "s" },
        c.warnings(),
        if c.warnings() == 1 { "" } else { "s" },
        printable(&c.summary)
    ));
    s
}

fn check_cmd(report: &Path, model: &Path, format: Format) -> Result<ExitCode, Unusable> {
    let r = read_report(report)?;
    let (loaded, bytes) = read_model(model)?;
    let c = check(&r, &loaded.model, &bytes);
    let out = match format {
        Format::Text => text_report(&report.display().to_string(), &r, &c),
        Format::Json => pretty(&serde_json::json!({
            "report": report.display().to_string(),
            "model": model.display().to_string(),
            "errors": c.errors(),
            "warnings": c.warnings(),
            "check": c,
        })),
    };
    write_out(None, &out, false)?;
    Ok(if c.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn sign(report: &Path, key: &Path, out: Option<&Path>) -> Result<ExitCode, Unusable> {
    // Validated here; the file's own bytes are signed (comments kept, the
    // payload's SHA-256 is the file's).
    read_report(report)?;
    let bytes = read_bounded(report, warden_report::MAX_INPUT_BYTES)?;
    let key = KeyPair::load(key)
        .with_context(|| format!("key file {}", key.display()))
        .map_err(Unusable)?;
    let env = warden_report::sign_file_bytes(&bytes, &key).map_err(|errs| {
        Unusable(anyhow!(
            "{} is not a usable test report:\n{}",
            report.display(),
            list_errors(&errs)
        ))
    })?;
    let mut text = String::from_utf8(env.to_vec()).expect("JSON is UTF-8");
    text.push('\n');
    write_out(out, &text, false)?;
    eprintln!("warden: signed with key {}", key.key_id());
    Ok(ExitCode::SUCCESS)
}

/// A pinned signer for the consumer page: `KEY` or `NAME:KEY` (the name is
/// what the page calls whoever holds that key).
fn parse_named_signer(s: &str) -> Result<(Option<String>, PublicKey)> {
    if let Ok(k) = parse_signer(s) {
        return Ok((None, k));
    }
    if let Some((name, key)) = s.rsplit_once(':') {
        if !name.trim().is_empty() {
            if let Ok(k) = parse_signer(key) {
                return Ok((Some(name.trim().to_string()), k));
            }
        }
    }
    bail!("--signer {s:?} is neither KEY nor NAME:KEY (KEY: a base64 Ed25519 public key or a file holding one)")
}

/// A public key given as base64 or as a file holding it (a bare line, or
/// `public key: ...` as `warden feed keygen` prints it).
pub fn parse_signer(s: &str) -> Result<PublicKey> {
    let parse =
        |t: &str| serde_json::from_value::<PublicKey>(serde_json::Value::String(t.trim().into()));
    if let Ok(k) = parse(s) {
        return Ok(k);
    }
    let path = Path::new(s);
    if path.is_file() {
        let bytes = read_bounded(path, 4096).map_err(|Unusable(e)| e)?;
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("public key:").unwrap_or(line);
            if let Ok(k) = parse(line) {
                return Ok(k);
            }
        }
        bail!("{s}: no Ed25519 public key (base64) in the file");
    }
    bail!("--signer {s:?} is neither a base64 Ed25519 public key nor a file holding one")
}

fn verify(
    envelope: &Path,
    signers: &[String],
    model: Option<&Path>,
    out_report: Option<&Path>,
) -> Result<ExitCode, Unusable> {
    let keys = signers
        .iter()
        .map(|s| parse_signer(s))
        .collect::<Result<Vec<_>>>()
        .map_err(Unusable)?;
    let bytes = read_bounded(envelope, warden_report::MAX_ENVELOPE_BYTES)?;
    let model = model.map(read_model).transpose()?;
    let v = match warden_report::verify_envelope(&bytes, &keys) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("warden: refused {}: {e}", envelope.display());
            return Ok(ExitCode::from(1));
        }
    };
    let signers: Vec<String> = v.signers.iter().map(ToString::to_string).collect();
    println!(
        "{}: verified, signed by key {}",
        envelope.display(),
        signers.join(", ")
    );
    if let Some(p) = out_report {
        write_out(Some(p), &(warden_report::to_json(&v.report) + "\n"), false)?;
    }
    if let Some((loaded, mbytes)) = model {
        let c = check(&v.report, &loaded.model, &mbytes);
        print!(
            "{}",
            text_report(&envelope.display().to_string(), &v.report, &c)
        );
        if c.errors() > 0 {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(
    report: &Path,
    format: ExportFormat,
    model: Option<&Path>,
    out: Option<&Path>,
) -> Result<ExitCode, Unusable> {
    let r = read_report(report)?;
    let model_path = model;
    let model = model.map(read_model).transpose()?;
    let checked = model.as_ref().map(|(l, bytes)| check(&r, &l.model, bytes));
    if let Some(c) = &checked {
        for p in c.problems.iter().filter(|p| p.level == Level::Error) {
            eprintln!("warden: warning: {}: {}", p.path, printable(&p.message));
        }
    }
    let value = match format {
        ExportFormat::Csaf => warden_report::to_csaf(
            &r,
            model
                .as_ref()
                .zip(checked.as_ref())
                .map(|((l, _), c)| (&l.model, c)),
        )
        .map_err(|e| Unusable(anyhow!("{}: {e}", report.display())))?,
        ExportFormat::Sarif => {
            let text = std::fs::read_to_string(report).unwrap_or_default();
            let report_lines = warden_model::load::LineIndex::new(&text);
            let report_uri = report.display().to_string();
            let model_uri = model_path.map(|p| p.display().to_string());
            warden_report::to_sarif(
                &r,
                model.as_ref().zip(checked.as_ref()).map(|((l, _), c)| {
                    (
                        &l.model,
                        c,
                        model_uri
                            .as_deref()
                            .map(|uri| warden_report::sarif::Located {
                                uri,
                                lines: &l.lines,
                            }),
                    )
                }),
                Some(warden_report::sarif::Located {
                    uri: &report_uri,
                    lines: &report_lines,
                }),
            )
        }
    };
    write_out(out, &pretty(&value), false)?;
    Ok(ExitCode::SUCCESS)
}

fn import(file: &Path, model: Option<&Path>) -> Result<ExitCode, Unusable> {
    let bytes = read_bounded(file, warden_report::MAX_CSAF_BYTES)?;
    let imported = warden_report::import_csaf(&bytes)
        .with_context(|| format!("{}", file.display()))
        .map_err(Unusable)?;
    let today = time::OffsetDateTime::now_utc().date();
    let mut report = match model.map(read_model).transpose()? {
        Some((loaded, mbytes)) => warden_report::skeleton(&loaded.model, &mbytes, today),
        None => {
            let model = warden_model::ThreatModel {
                format_version: warden_model::model::FORMAT_VERSION,
                identity: warden_model::model::Identity {
                    vendor: imported.vendor.clone().unwrap_or_else(|| "TODO".into()),
                    model: imported.product.clone().unwrap_or_else(|| "TODO".into()),
                    ..Default::default()
                },
                scope: Default::default(),
                attackers: Default::default(),
                assets: Vec::new(),
                entry_points: Vec::new(),
                threats: Vec::new(),
                controls: Vec::new(),
                baseline: Default::default(),
                network: Default::default(),
            };
            let mut r = warden_report::skeleton(&model, b"", today);
            r.threat_model.sha256 = "0".repeat(64);
            r
        }
    };
    report.id = Some(format!("import-{}", imported.advisory_id));
    report.notes = Some(format!(
        "Imported from CSAF advisory {}; the findings are the advisory's, not a test. \
         Fill in the tester, method and the threat model's hash (sha256sum of the model file).",
        imported.advisory_id
    ));
    report.extra_findings = imported.findings;
    for s in &imported.skipped {
        eprintln!("warden: left out {}", printable(s));
    }
    eprintln!(
        "warden: {} finding{} imported from {}",
        report.extra_findings.len(),
        if report.extra_findings.len() == 1 {
            ""
        } else {
            "s"
        },
        printable(&imported.advisory_id)
    );
    write_out(
        None,
        &format!(
            "# Imported by warden report import-csaf from {}\n{}",
            file.display(),
            warden_report::to_yaml(&report)
        ),
        false,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The test reports for `warden model render --reports`: every report file
/// under the given paths (a directory is read one level deep: `*.yaml`,
/// `*.yml`, `*.json`), envelopes verified against `signers`; reports for
/// other devices are skipped (and said); a report that is unusable or an
/// envelope no pinned signer signed is an error, never silently left out.
pub fn views_for_render(
    model_path: &Path,
    paths: &[PathBuf],
    signers: &[String],
) -> Result<Vec<TestReportView>> {
    let (loaded, model_bytes) = read_model(model_path).map_err(|Unusable(e)| e)?;
    let named = signers
        .iter()
        .map(|s| parse_named_signer(s))
        .collect::<Result<Vec<_>>>()?;
    let keys: Vec<PublicKey> = named.iter().map(|(_, k)| *k).collect();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file()
                        && f.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                })
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    let mut views = Vec::new();
    for f in files {
        let bytes = read_bounded(&f, warden_report::MAX_ENVELOPE_BYTES).map_err(|Unusable(e)| e)?;
        let (report, signer) = if warden_report::is_envelope(&bytes) {
            if keys.is_empty() {
                bail!(
                    "{} is a signed report; give its signer's public key with --signer",
                    f.display()
                );
            }
            let v = warden_report::verify_envelope(&bytes, &keys)
                .with_context(|| format!("{}: refused", f.display()))?;
            let first = v.signers.first().cloned();
            (v.report, first)
        } else {
            let r = warden_report::load(&bytes).map_err(|errs| {
                anyhow!(
                    "{} is not a usable test report:\n{}",
                    f.display(),
                    list_errors(&errs)
                )
            })?;
            (r, None)
        };
        let id = &loaded.model.identity;
        if !report.threat_model.vendor.eq_ignore_ascii_case(&id.vendor)
            || !report.threat_model.model.eq_ignore_ascii_case(&id.model)
        {
            eprintln!(
                "warden: {} is about {} {}, not this model; not shown",
                f.display(),
                printable(&report.threat_model.vendor),
                printable(&report.threat_model.model)
            );
            continue;
        }
        let c = check(&report, &loaded.model, &model_bytes);
        eprintln!(
            "warden: {}: {} report by {}{}",
            f.display(),
            if signer.is_some() {
                "signed"
            } else {
                "unsigned"
            },
            printable(&report.tester.name),
            signer
                .as_ref()
                .map(|k| format!(" (key {k})"))
                .unwrap_or_default()
        );
        let mut view = warden_report::view(&report, &c, signer.as_ref());
        view.signer_name = signer.as_ref().and_then(|id| {
            named
                .iter()
                .find(|(_, k)| k.key_id() == *id)
                .and_then(|(n, _)| n.clone())
        });
        views.push(view);
    }
    Ok(views)
}
