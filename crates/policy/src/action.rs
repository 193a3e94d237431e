use std::fmt;

use serde::{Deserialize, Serialize};

/// What warden does to a device, by name (the configuration file's words).
/// Ordered from mildest to strongest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    Notify,
    RateLimit,
    BlockSmtp,
    BlockUpnp,
    /// Allow only the flows of the device's network profile.
    EnforceProfile,
    Quarantine,
}

impl ActionKind {
    pub const ALL: [ActionKind; 6] = [
        ActionKind::Notify,
        ActionKind::RateLimit,
        ActionKind::BlockSmtp,
        ActionKind::BlockUpnp,
        ActionKind::EnforceProfile,
        ActionKind::Quarantine,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Notify => "notify",
            ActionKind::RateLimit => "rate-limit",
            ActionKind::BlockSmtp => "block-smtp",
            ActionKind::BlockUpnp => "block-upnp",
            ActionKind::EnforceProfile => "enforce-profile",
            ActionKind::Quarantine => "quarantine",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What warden does to a device, with its parameters: what the enforcer
/// applies. Serialized as `{"action":"rate-limit","packets_per_s":100,...}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Tell the owner; restrict nothing.
    Notify,
    /// Limit what the device sends (all destinations) to these rates.
    RateLimit {
        packets_per_s: u32,
        bytes_per_s: u64,
    },
    /// Drop the device's outbound mail: TCP 25, 465 and 587.
    BlockSmtp,
    /// No UPnP port mappings and no SSDP/IGD access to the router.
    BlockUpnp,
    /// Drop what the device sends outside its network profile
    /// (docs/profiles.md); network plumbing always passes.
    EnforceProfile,
    /// Drop everything but what the quarantine allow-list lets through
    /// (see [`QuarantineConfig`](crate::QuarantineConfig)).
    Quarantine,
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Notify => ActionKind::Notify,
            Action::RateLimit { .. } => ActionKind::RateLimit,
            Action::BlockSmtp => ActionKind::BlockSmtp,
            Action::BlockUpnp => ActionKind::BlockUpnp,
            Action::EnforceProfile => ActionKind::EnforceProfile,
            Action::Quarantine => ActionKind::Quarantine,
        }
    }

    /// Whether the enforcer has anything to do for it.
    pub fn restricts(&self) -> bool {
        !matches!(self, Action::Notify)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::RateLimit {
                packets_per_s,
                bytes_per_s,
            } => write!(
                f,
                "rate-limit ({packets_per_s} packets/s, {bytes_per_s} bytes/s)"
            ),
            other => f.write_str(other.kind().as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_order() {
        for k in ActionKind::ALL {
            assert_eq!(ActionKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert!(ActionKind::Notify < ActionKind::Quarantine);
        assert_eq!(ActionKind::parse("drop"), None);
    }

    #[test]
    fn actions_serialize_with_parameters() {
        let a = Action::RateLimit {
            packets_per_s: 100,
            bytes_per_s: 125_000,
        };
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"action":"rate-limit","packets_per_s":100,"bytes_per_s":125000}"#
        );
        assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), a);
        assert_eq!(
            serde_json::from_str::<Action>(r#"{"action":"quarantine"}"#).unwrap(),
            Action::Quarantine
        );
        assert!(serde_json::from_str::<Action>(
            r#"{"action":"rate-limit","packets_per_s":1,"bytes_per_s":2,"x":1}"#
        )
        .is_err());
        assert!(serde_json::from_str::<Action>(r#"{"action":"drop"}"#).is_err());
        assert!(serde_json::from_str::<Action>(r#"{"action":"rate-limit"}"#).is_err());
        assert!(!Action::Notify.restricts());
        assert!(Action::BlockSmtp.restricts());
    }
}
