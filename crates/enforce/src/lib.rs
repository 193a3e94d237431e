//! warden's Linux enforcement backend: the desired state of the firewall
//! ([`Enforcement`]: which devices are quarantined, rate-limited, or have
//! SMTP or UPnP blocked) and the code that makes the kernel match it.
//!
//! warden owns one nftables table per family (`inet warden`, and
//! `bridge warden` for traffic a Linux bridge switches between LAN ports)
//! and never touches any other. Every change rebuilds the tables whole in
//! one `nft -f` transaction, so the kernel holds either the old state or the
//! new one, never a mix, and a restarted daemon converges by applying its
//! stored decisions again. See docs/enforcement.md.
//!
//! ```no_run
//! use warden_enforce::{apply, Allow, DeviceRules, Enforcement, Quarantine};
//! let mut e = Enforcement::default();
//! e.devices.insert(
//!     "02:00:00:00:00:01".parse()?,
//!     DeviceRules {
//!         name: "camera (Acme IPC-1)".into(),
//!         quarantine: Some(Quarantine { allow: vec![Allow::Dns], reason: "telnet scan".into() }),
//!         ..Default::default()
//!     },
//! );
//! print!("{}", warden_enforce::dry_run(&e)?); // what apply would run
//! apply(&e)?;
//! # Ok::<(), warden_enforce::EnforceError>(())
//! ```

mod model;
mod nft;
mod script;

use std::fmt::Display;
use std::path::PathBuf;

pub use model::{
    default_igd_ports, Allow, DeviceRules, Enforcement, IfName, Label, Mac, ProfileAllow,
    ProfilePeer, ProfileRules, Proto, Quarantine, RateLimit, TableName, L4,
};
pub use nft::Nft;
pub use script::{script, MAX_BYTES_PER_S, MAX_PACKETS_PER_S};

/// Why enforcement could not be done. Nothing changed in the kernel when
/// any of these is returned: scripts are applied all or nothing.
#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    /// A value that cannot go into a firewall rule; found before `nft` runs.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    /// `nft` could not be started or fed its input (not installed?).
    #[error("cannot run {}: {source} (is the nftables package installed?)", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `nft` ran and refused; its own error text follows.
    #[error("nft {args} failed ({status}):\n{stderr}")]
    Nft {
        args: String,
        status: String,
        stderr: String,
    },
    /// `nft` succeeded but printed something that could not be read.
    #[error("unexpected output from {}: {detail}", program.display())]
    Output { program: PathBuf, detail: String },
}

impl EnforceError {
    pub(crate) fn invalid(what: &'static str, value: impl Display, reason: &'static str) -> Self {
        EnforceError::Invalid {
            what,
            value: value.to_string(),
            reason,
        }
    }
}

/// The script [`apply`] would run, for `--dry-run`.
pub fn dry_run(e: &Enforcement) -> Result<String, EnforceError> {
    script(e)
}

/// Makes warden's tables exactly `e` with the `nft` on `PATH`, in one
/// transaction. See [`Nft::apply`].
pub fn apply(e: &Enforcement) -> Result<(), EnforceError> {
    Nft::default().apply(e)
}

/// Deletes warden's tables; does nothing when there are none
/// (`warden uninstall-rules`). See [`Nft::remove`].
pub fn remove(table: &TableName) -> Result<(), EnforceError> {
    Nft::default().remove(table)
}

/// What the kernel holds in warden's tables now (`nft list table`), or
/// `None`. See [`Nft::current`].
pub fn current(table: &TableName) -> Result<Option<String>, EnforceError> {
    Nft::default().current(table)
}

#[cfg(test)]
mod tests;
