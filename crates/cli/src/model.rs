//! `warden model lint|render|schema|verify|mud|import-mud|verify-mud-signature`:
//! device threat models
//! (docs/threat-models.md, docs/profiles.md).

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
        /// Security test reports to list on the page (files, or directories of
        /// *.yaml/*.json; plain reports or signed envelopes). Repeatable.
        #[arg(long, value_name = "DIR|FILE")]
        reports: Vec<PathBuf>,
        /// Pinned signer of signed reports: KEY or NAME:KEY (KEY: base64 public
        /// key or a file holding it; NAME is shown on the page). Repeatable.
        #[arg(long, value_name = "PUBKEY")]
        signer: Vec<String>,
    },
    /// Print the JSON Schema of the threat model format (docs/schema/threat-model-v1.json).
    Schema,
    /// Write the model's network part as an RFC 8520 MUD file (JSON) on
    /// standard output or to --out.
    Mud {
        /// The model (YAML or JSON).
        model: PathBuf,
        /// Where to write the MUD file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The URL the MUD file will be served at (default: the model's
        /// identity.mud_url).
        #[arg(long)]
        url: Option<String>,
    },
    /// Read an RFC 8520 MUD file into a threat model skeleton (YAML): its
    /// identity and network flows, for `verify` and the guard; entries it
    /// cannot express are listed on standard error.
    ///
    /// With --signer, the file is imported only if --signature verifies
    /// against that signer (RFC 8520 s.13); exit status 2 otherwise.
    ImportMud {
        /// The MUD file (JSON, at most 256 KiB).
        file: PathBuf,
        /// The file's detached CMS signature (DER or PEM, at most 64 KiB),
        /// as fetched from its `mud-signature` URL.
        #[arg(long, value_name = "SIG", requires = "signer")]
        signature: Option<PathBuf>,
        /// Who must have signed it: the signer's certificate (PEM or DER
        /// file), or sha256:HEX, the SHA-256 of its SubjectPublicKeyInfo or
        /// of its certificate.
        #[arg(long, value_name = "CERT|sha256:HEX", requires = "signature")]
        signer: Option<String>,
    },
    /// Check a MUD file's detached CMS signature (RFC 8520 s.13) against a
    /// pinned signer. Exit status: 0 verified, 1 not verified, 2 unusable
    /// input.
    VerifyMudSignature {
        /// The MUD file (at most 256 KiB).
        file: PathBuf,
        /// Its signature (DER or PEM CMS SignedData, at most 64 KiB).
        signature: PathBuf,
        /// Who must have signed it: the signer's certificate (PEM or DER
        /// file), or sha256:HEX, the SHA-256 of its SubjectPublicKeyInfo or
        /// of its certificate.
        #[arg(long, value_name = "CERT|sha256:HEX")]
        signer: String,
    },
    /// Check a capture of the device against the network behaviour its model
    /// declares, and list every flow the model does not declare
    /// (docs/profiles.md). Exit status: 0 all declared, 1 undeclared flows,
    /// 2 unusable input.
    Verify {
        /// The model (YAML or JSON).
        model: PathBuf,
        /// A capture of the device (pcap or pcapng).
        #[arg(long)]
        capture: PathBuf,
        /// The device's MAC; by default the one device of the capture whose
        /// identified model, or else vendor, is the model's.
        #[arg(long)]
        device: Option<String>,
        /// Output: text for people, or json.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
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
        Cmd::Render {
            file,
            out,
            today,
            reports,
            signer,
        } => {
            let today = today_or(today.as_deref())?;
            let loaded = read(&file)?;
            let findings = lint(&loaded, today);
            let tests = crate::report::views_for_render(&file, &reports, &signer)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let page = out.join("index.html");
            let label = out.join("label.svg");
            std::fs::write(
                &page,
                render::html_with_reports(&loaded.model, &findings, today, &tests),
            )
            .with_context(|| format!("writing {}", page.display()))?;
            std::fs::write(&label, render::svg(&loaded.model, &findings, today))
                .with_context(|| format!("writing {}", label.display()))?;
            println!("{}\n{}", page.display(), label.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Mud { model, out, url } => mud_export(&model, out.as_deref(), url.as_deref()),
        Cmd::ImportMud {
            file,
            signature,
            signer,
        } => mud_import(&file, signature.as_deref().zip(signer.as_deref())),
        Cmd::VerifyMudSignature {
            file,
            signature,
            signer,
        } => verify_mud_signature(&file, &signature, &signer),
        Cmd::Verify {
            model,
            capture,
            device,
            format,
        } => verify(&model, &capture, device.as_deref(), format),
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

/// `warden model verify`: the capture's flows of the device against the model.
fn verify(model: &Path, capture: &Path, device: Option<&str>, format: Format) -> Result<ExitCode> {
    use warden_capture::FrameSource;
    let loaded = match read(model) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warden: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let m = &loaded.model;
    let mac = match device {
        Some(d) => d
            .parse::<warden_decode::Mac>()
            .map_err(|_| anyhow::anyhow!("{d:?} is not a MAC address"))?,
        None => find_device(capture, &m.identity.vendor, &m.identity.model)?,
    };
    let mut observer = warden_profile::Observer::new(mac);
    let mut source = warden_capture::PcapFile::open(capture)
        .with_context(|| format!("opening {}", capture.display()))?;
    source
        .run(&mut |f| {
            if let Ok(p) = warden_decode::decode(f.link, f.data) {
                observer.packet(f.ts_ns, &p);
            }
        })
        .with_context(|| format!("reading {}", capture.display()))?;
    let profile = warden_profile::Profile::from_model(&m.network);
    let report = observer.report(&profile, warden_oui::lookup(mac.0).vendor);
    match format {
        Format::Json | Format::Sarif => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", verify_text(m, capture, &report)),
    }
    Ok(if report.undeclared.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The device of a capture that the model describes: identified model
/// first, then registry vendor; exactly one, or an error naming them.
fn find_device(capture: &Path, vendor: &str, model: &str) -> Result<warden_decode::Mac> {
    use warden_capture::FrameSource;
    let mut pipeline = warden_pipeline::Pipeline::new(&warden_pipeline::Config::default());
    let mut source = warden_capture::PcapFile::open(capture)
        .with_context(|| format!("opening {}", capture.display()))?;
    source.run(&mut |f| pipeline.process(&f, &mut warden_pipeline::CollectOnly))?;
    let devices: Vec<_> = pipeline.devices().iter().collect();
    let by_model: Vec<_> = devices
        .iter()
        .filter(|d| {
            d.identity
                .model()
                .is_some_and(|x| x.eq_ignore_ascii_case(model))
        })
        .collect();
    let vendor_l = vendor.to_lowercase();
    let by_vendor: Vec<_> = devices
        .iter()
        .filter(|d| {
            d.vendor().is_some_and(|v| {
                v.to_lowercase().contains(&vendor_l) || vendor_l.contains(&v.to_lowercase())
            })
        })
        .collect();
    let pick = if by_model.len() == 1 {
        &by_model
    } else {
        &by_vendor
    };
    match pick.as_slice() {
        [one] => Ok(one.mac),
        [] => bail!(
            "no device of {} looks like {vendor} {model}; name it with --device MAC",
            capture.display()
        ),
        many => bail!(
            "several devices of {} could be {vendor} {model} ({}); name one with --device MAC",
            capture.display(),
            many.iter()
                .map(|d| d.mac.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn verify_text(
    m: &warden_model::ThreatModel,
    capture: &Path,
    r: &warden_profile::Report,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} (model) against {}, device {}",
        report::printable(&m.identity.vendor),
        report::printable(&m.identity.model),
        capture.display(),
        r.device
    );
    let _ = writeln!(
        s,
        "{} flows seen: {} declared by the model, {} not declared.",
        r.flows,
        r.allowed_flows,
        r.undeclared.len()
    );
    if !r.undeclared.is_empty() {
        let _ = writeln!(s, "\nNot declared (busiest first):");
        for f in &r.undeclared {
            let peer = if f.names.is_empty() {
                f.peer.to_string()
            } else {
                format!("{} ({})", f.peer, report::printable(&f.names.join(", ")))
            };
            let (verb, port) = match (f.direction, f.port) {
                ("from-device", 0) => ("to", String::new()),
                ("from-device", p) => ("to", format!(" port {p}")),
                (_, 0) => ("from", String::new()),
                (_, p) => ("from", format!(", device port {p}")),
            };
            let _ = writeln!(
                s,
                "  {} {verb} {peer}{port}: {} packets",
                f.protocol.as_str(),
                f.packets
            );
        }
    }
    let _ = writeln!(s, "\nDeclared:");
    for d in &r.declared {
        let state = if !d.verifiable {
            "not checkable from a capture (the network names its controller)".to_owned()
        } else if d.packets == 0 {
            "not seen".to_owned()
        } else {
            format!("{} packets", d.packets)
        };
        let _ = writeln!(s, "  {}: {state}", report::printable(&d.rule));
    }
    let _ = writeln!(
        s,
        "\nNot judged: {} packets of network plumbing (DHCP, ARP, neighbour discovery), {} others (TCP of connections opened before the capture, ICMP errors, other protocols){}.",
        r.stats.infrastructure,
        r.stats.unjudged,
        if r.stats.over_capacity > 0 {
            format!(", {} beyond the observer's bounds", r.stats.over_capacity)
        } else {
            String::new()
        }
    );
    s
}

/// `warden model mud`: the network part as an RFC 8520 MUD file.
fn mud_export(model: &Path, out: Option<&Path>, url: Option<&str>) -> Result<ExitCode> {
    let loaded = match read(model) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("warden: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let id = &loaded.model.identity;
    let Some(url) = url.map(str::to_owned).or_else(|| id.mud_url.clone()) else {
        bail!(
            "the model has no identity.mud_url; give the URL the file will be served at with --url"
        );
    };
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)?;
    let summary = id
        .summary
        .clone()
        .unwrap_or_else(|| format!("{} {}", id.vendor, id.model));
    let file = warden_profile::mud::export(
        &loaded.model.network,
        &url,
        &id.vendor,
        &id.model,
        &summary,
        &now,
    );
    let text = serde_json::to_string_pretty(&file)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// At most `limit + 1` bytes of a file: enough for the reader to refuse
/// an oversized one, without reading an endless one.
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

/// `--signer`: `sha256:HEX`, or else a certificate file.
fn pinned_signer(signer: &str) -> Result<warden_profile::mud_sig::PinnedSigner> {
    use warden_profile::mud_sig::{PinnedSigner, MAX_SIGNATURE_BYTES};
    if signer.to_ascii_lowercase().starts_with("sha256:") {
        return PinnedSigner::from_pin(signer).map_err(|e| anyhow::anyhow!("--signer: {e}"));
    }
    let bytes = read_bounded(Path::new(signer), MAX_SIGNATURE_BYTES)
        .context("--signer (a certificate file, or sha256:HEX)")?;
    PinnedSigner::from_certificate(&bytes).map_err(|e| anyhow::anyhow!("--signer {signer}: {e}"))
}

/// Checks `signature` over the MUD file's bytes; the signer, or why not.
fn check_mud_signature(
    mud: &[u8],
    signature: &Path,
    signer: &str,
) -> Result<std::result::Result<warden_profile::mud_sig::SignerInfo, String>> {
    let pinned = pinned_signer(signer)?;
    let sig = read_bounded(signature, warden_profile::mud_sig::MAX_SIGNATURE_BYTES)?;
    Ok(warden_profile::mud_sig::verify(mud, &sig, &pinned).map_err(|e| e.to_string()))
}

/// `warden model verify-mud-signature`: 0 verified, 1 not, 2 unusable input.
fn verify_mud_signature(file: &Path, signature: &Path, signer: &str) -> Result<ExitCode> {
    let checked = read_bounded(file, warden_profile::mud::MAX_MUD_BYTES)
        .and_then(|mud| check_mud_signature(&mud, signature, signer));
    match checked {
        Ok(Ok(info)) => {
            println!(
                "{}: signature verified, {}",
                file.display(),
                report::printable(&info.to_string())
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(Err(why)) => {
            println!(
                "{}: signature NOT verified: {}",
                file.display(),
                report::printable(&why)
            );
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("warden: error: {e:#}");
            Ok(ExitCode::from(2))
        }
    }
}

/// `warden model import-mud`: a MUD file as a model skeleton; with a
/// signature and signer, only a file that verifies.
fn mud_import(file: &Path, signed: Option<(&Path, &str)>) -> Result<ExitCode> {
    let bytes = read_bounded(file, warden_profile::mud::MAX_MUD_BYTES)?;
    if let Some((signature, signer)) = signed {
        match check_mud_signature(&bytes, signature, signer) {
            Ok(Ok(info)) => eprintln!(
                "warden: {}: signature verified, {}",
                file.display(),
                report::printable(&info.to_string())
            ),
            Ok(Err(why)) => {
                eprintln!(
                    "warden: {}: not imported, its signature is not verified: {}",
                    file.display(),
                    report::printable(&why)
                );
                return Ok(ExitCode::from(2));
            }
            Err(e) => {
                eprintln!("warden: {}: not imported: {e:#}", file.display());
                return Ok(ExitCode::from(2));
            }
        }
    }
    let imported = match warden_profile::mud::import(&bytes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("warden: {}: {e}", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    for why in &imported.skipped {
        eprintln!("warden: left out: {}", report::printable(why));
    }
    let info = &imported.info;
    let model = warden_model::ThreatModel {
        format_version: 1,
        identity: warden_model::model::Identity {
            vendor: info.mfg_name.clone().unwrap_or_else(|| "unknown".into()),
            model: info
                .model_name
                .clone()
                .or_else(|| info.systeminfo.clone())
                .unwrap_or_else(|| "unknown".into()),
            summary: info.systeminfo.clone(),
            mud_url: info.mud_url.clone().filter(|u| u.starts_with("https://")),
            ..Default::default()
        },
        scope: Default::default(),
        attackers: Default::default(),
        assets: Vec::new(),
        entry_points: Vec::new(),
        threats: Vec::new(),
        controls: Vec::new(),
        baseline: Default::default(),
        network: imported.network,
    };
    print!("{}", warden_model::to_yaml(&model));
    Ok(ExitCode::SUCCESS)
}
