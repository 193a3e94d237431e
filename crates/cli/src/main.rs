//! `warden`: the command line. `main` only maps `run`'s outcome to an exit
//! status; each subcommand lives in its own module.

mod analyze;
mod dashboard;
mod demo;
mod device;
mod evaluate;
mod feed;
mod feed_router;
mod model;
mod notify;
mod report;
mod run;
mod simulate;
mod smtp;
mod table;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Guards IoT devices from the network: identifies them, detects botnet behaviour, acts.",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read captures and report every LAN device: identity and alerts.
    Analyze(analyze::Args),
    /// Simulate a home network with infected devices and analyze it: warden at work in one command.
    Demo(demo::Args),
    /// Write a labelled capture of a simulated household (benign and infected devices).
    Simulate(simulate::Args),
    /// Score the detectors on labelled captures: precision, recall, false positives, time to detect.
    Evaluate(evaluate::Args),
    /// Guard the LAN live: detect, decide and enforce with nftables, without asking anyone.
    Run(run::Args),
    /// Remove warden's nftables tables.
    UninstallRules(run::UninstallArgs),
    /// The owner's view and word: list, show, trust, release, quarantine.
    Device(device::Args),
    /// The killswitch feed: keys, the feed server, publishing and curation.
    Feed(feed::Args),
    /// Device threat models: lint against baseline requirements, render the consumer page and label, print the schema.
    Model(model::Args),
    /// Security test reports scoped against a threat model: new, check, sign, verify, export (CSAF VEX, SARIF), import-csaf.
    Report(report::Args),
    /// The household's web dashboard and JSON API over the guard's database.
    Dashboard(dashboard::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Run(args) => run::run(args),
        Command::UninstallRules(args) => run::uninstall(args),
        Command::Device(args) => device::run(args),
        Command::Feed(args) => feed::run(args),
        Command::Model(args) => model::run(args),
        Command::Report(args) => report::run(args),
        Command::Dashboard(args) => dashboard::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`warden analyze x | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("warden: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
