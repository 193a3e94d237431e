//! Running the `nft` binary: apply, check, list and remove warden's tables.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::model::{Enforcement, TableName};
use crate::{script, EnforceError};

/// The `nft` program warden runs (`nft` from `PATH` by default). It runs in
/// the calling thread's network namespace.
#[derive(Clone, Debug)]
pub struct Nft {
    program: PathBuf,
}

impl Default for Nft {
    fn default() -> Nft {
        Nft {
            program: PathBuf::from("nft"),
        }
    }
}

impl Nft {
    pub fn new(program: impl Into<PathBuf>) -> Nft {
        Nft {
            program: program.into(),
        }
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Makes warden's tables exactly `e`, in one transaction: on any error
    /// nothing changed. Invalid input is refused before `nft` runs.
    pub fn apply(&self, e: &Enforcement) -> Result<(), EnforceError> {
        let text = script(e)?;
        self.run_script(&text, false)
    }

    /// Has the kernel check `e`'s script without changing anything
    /// (`nft --check`; needs the same privileges as apply).
    pub fn check(&self, e: &Enforcement) -> Result<(), EnforceError> {
        let text = script(e)?;
        self.run_script(&text, true)
    }

    /// Runs an nftables script as one transaction (`nft -f -`), or only
    /// checks it (`nft -c -f -`).
    pub fn run_script(&self, text: &str, check_only: bool) -> Result<(), EnforceError> {
        let mut args = vec!["-f", "-"];
        if check_only {
            args.insert(0, "-c");
        }
        self.run(&args, Some(text)).map(drop)
    }

    /// Deletes warden's tables (`inet` and `bridge` of that name) in one
    /// transaction; nothing to do when neither exists.
    pub fn remove(&self, table: &TableName) -> Result<(), EnforceError> {
        let families = self.families(table)?;
        if families.is_empty() {
            return Ok(());
        }
        // Create-then-delete stays correct if a table vanished meanwhile.
        let mut text = String::new();
        for f in &families {
            text.push_str(&format!(
                "table {f} {table} {{}}\ndelete table {f} {table}\n"
            ));
        }
        self.run_script(&text, false)
    }

    /// The families (`inet`, `bridge`) in which a table of that name exists.
    pub fn families(&self, table: &TableName) -> Result<Vec<String>, EnforceError> {
        let out = self.run(&["list", "tables"], None)?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                match (w.next(), w.next(), w.next(), w.next()) {
                    (Some("table"), Some(f), Some(name), None) if name == table.as_str() => {
                        Some(f.to_string())
                    }
                    _ => None,
                }
            })
            .collect())
    }

    /// `nft list table` of each of warden's tables, one after the other:
    /// what the kernel holds now. `None` when there is none.
    pub fn current(&self, table: &TableName) -> Result<Option<String>, EnforceError> {
        let families = self.families(table)?;
        if families.is_empty() {
            return Ok(None);
        }
        let mut all = String::new();
        for f in &families {
            all.push_str(&self.run(&["list", "table", f, table.as_str()], None)?);
        }
        Ok(Some(all))
    }

    /// `nft -j list table FAMILY NAME`, parsed: for programs that check what
    /// is enforced (for example the members of `@quarantined`).
    pub fn current_json(
        &self,
        family: &str,
        table: &TableName,
    ) -> Result<serde_json::Value, EnforceError> {
        if family != "inet" && family != "bridge" {
            return Err(EnforceError::invalid(
                "table family",
                family,
                "warden's tables are inet or bridge",
            ));
        }
        let out = self.run(&["-j", "list", "table", family, table.as_str()], None)?;
        serde_json::from_str(&out).map_err(|e| EnforceError::Output {
            program: self.program.clone(),
            detail: e.to_string(),
        })
    }

    /// `nft` from `PATH`, or from /usr/sbin when `PATH` lacks the sbin
    /// directories (a non-login root shell, a service manager).
    fn command(&self) -> Command {
        let program = if self.program.as_os_str() == "nft" && !in_path("nft") {
            ["/usr/sbin/nft", "/sbin/nft"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .unwrap_or_else(|| self.program.clone())
        } else {
            self.program.clone()
        };
        Command::new(program)
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, EnforceError> {
        let spawn_err = |source: std::io::Error| EnforceError::Spawn {
            program: self.program.clone(),
            source,
        };
        let mut child = self
            .command()
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        // Write from another thread so a large script and a chatty nft
        // cannot block each other on full pipes.
        let writer = match (stdin, child.stdin.take()) {
            (Some(text), Some(mut pipe)) => {
                let text = text.to_string();
                Some(std::thread::spawn(move || pipe.write_all(text.as_bytes())))
            }
            _ => None,
        };
        let out = child.wait_with_output().map_err(spawn_err)?;
        let written = writer.map(|w| w.join());
        if !out.status.success() {
            return Err(EnforceError::Nft {
                args: args.join(" "),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
            });
        }
        match written {
            Some(Ok(Err(e))) => return Err(spawn_err(e)),
            Some(Err(_)) => {
                return Err(EnforceError::Output {
                    program: self.program.clone(),
                    detail: "the thread writing its input panicked".to_string(),
                })
            }
            _ => {}
        }
        String::from_utf8(out.stdout).map_err(|e| EnforceError::Output {
            program: self.program.clone(),
            detail: e.to_string(),
        })
    }
}

fn in_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}
