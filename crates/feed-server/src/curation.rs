//! Curation and due process: operators list and delist by hand with a
//! reason; vendors mark firmware versions fixed for their own MAC prefixes.
//! Changes arrive as signed envelopes (`POST /v1/curation`, keys in the
//! server config) or from the CLI against the database; both end in
//! [`apply`], and every change is a line in the audit log.

use serde::{Deserialize, Serialize};
use warden_feed::{
    BehaviourKind, DeviceMatch, Envelope, FeedAction, Listing, ListingSource, MacPrefix, PublicKey,
    Severity, PAYLOAD_CURATION,
};

use crate::engine::{add_fixed, fix_applies};
use crate::store::{FixRow, ListingRow, ListingWrite, NewAudit, Store, StoreError, WeightRule};

/// A curation envelope's whole body is at most this many bytes.
pub const MAX_CURATION_BYTES: usize = 64 * 1024;
/// A curation's `issued_at` may be this far from the server's clock.
pub const MAX_CURATION_SKEW_S: i64 = 600;

/// The signed payload of a curation envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Curation {
    /// 1.
    pub version: u32,
    /// 32 lowercase hex characters, once per key.
    pub nonce: String,
    pub issued_at: i64,
    pub change: Change,
}

/// What an operator or vendor asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Change {
    /// List (or relist) a device type by hand. Operators only.
    List {
        severity: Severity,
        matches: DeviceMatch,
        #[serde(rename = "recommended")]
        action: FeedAction,
        #[serde(default)]
        references: Vec<String>,
        #[serde(default)]
        behaviours: Vec<BehaviourKind>,
        reason: String,
    },
    /// Take a listing off the feed; evidence cannot list it again until an
    /// operator relists it. Operators only.
    Delist {
        id: String,
        reason: String,
        /// The evidence was wrong: the reporters credited for this listing
        /// lose that corroboration and the weight it gave them.
        #[serde(default)]
        false_positive: bool,
    },
    /// Devices under `mac_prefix` (and `model`, if given) on `fixed_in` or
    /// later stop matching. Vendors, for prefixes registered to them, and operators.
    MarkFixed {
        mac_prefix: MacPrefix,
        #[serde(default)]
        model: Option<String>,
        fixed_in: String,
        reason: String,
    },
}

/// An operator key from the server config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorKey {
    pub name: String,
    pub key: PublicKey,
}

/// A vendor key and the MAC prefixes it speaks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorKey {
    pub name: String,
    pub key: PublicKey,
    pub prefixes: Vec<MacPrefix>,
    /// Other spellings of the vendor's name in its threat models
    /// ("Acme Corp." for `acme`); the registry accepts its models under these.
    #[serde(default)]
    pub names: Vec<String>,
}

/// A security tester's key: reports it signs are published in the registry
/// (docs/registry.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TesterKey {
    pub name: String,
    pub key: PublicKey,
}

/// Who may curate.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Curators {
    pub operators: Vec<OperatorKey>,
    pub vendors: Vec<VendorKey>,
    /// Testers may publish test reports only.
    pub testers: Vec<TesterKey>,
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator {
        name: String,
        key_id: String,
    },
    Vendor {
        name: String,
        key_id: String,
        prefixes: Vec<MacPrefix>,
    },
    /// The CLI, on the database directly (whoever can write the database).
    Cli {
        user: String,
    },
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::Operator { name, key_id } => {
                format!("operator:{name}:{}", &key_id[..16.min(key_id.len())])
            }
            Actor::Vendor { name, key_id, .. } => {
                format!("vendor:{name}:{}", &key_id[..16.min(key_id.len())])
            }
            Actor::Cli { user } => format!("cli:{user}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CurationError {
    #[error("curation is {0} bytes, more than the limit of {MAX_CURATION_BYTES}")]
    TooLarge(usize),
    #[error("malformed curation envelope: {0}")]
    Malformed(String),
    #[error("curation is not signed by an operator or vendor key of this server")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("invalid curation: {0}")]
    Invalid(String),
    #[error("curation nonce was used before (replay)")]
    Replay,
    #[error("curation issued at {issued_at} is more than {MAX_CURATION_SKEW_S} s from the server's clock ({now})")]
    ClockSkew { issued_at: i64, now: i64 },
    #[error("no listing with id {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn text(what: &str, s: &str, max: usize) -> Result<(), CurationError> {
    if s.trim().is_empty() || s.len() > max || s.chars().any(char::is_control) {
        return Err(CurationError::Invalid(format!(
            "{what} must be 1 to {max} bytes without control characters"
        )));
    }
    Ok(())
}

/// Checks a curation envelope: size, signature by a configured key, fields,
/// clock, the signer's rights, and (last, since it writes) the nonce.
pub async fn open(
    body: &[u8],
    curators: &Curators,
    store: &dyn Store,
    now: i64,
) -> Result<(Actor, Change), CurationError> {
    if body.len() > MAX_CURATION_BYTES {
        return Err(CurationError::TooLarge(body.len()));
    }
    let env = Envelope::from_slice(body, MAX_CURATION_BYTES)
        .map_err(|e| CurationError::Malformed(e.to_string()))?;
    if env.payload_type != PAYLOAD_CURATION {
        return Err(CurationError::Malformed(format!(
            "payload type must be {PAYLOAD_CURATION}, got {:?}",
            env.payload_type.chars().take(80).collect::<String>()
        )));
    }
    // Who signed it, among the keys we know: verified before the payload is parsed.
    let op_keys: Vec<PublicKey> = curators.operators.iter().map(|o| o.key).collect();
    let actor = if let Ok(ids) = env.valid_signers(PAYLOAD_CURATION, &op_keys, 1) {
        let id = ids.into_iter().next().ok_or(CurationError::Unauthorized)?;
        let op = curators
            .operators
            .iter()
            .find(|o| o.key.key_id() == id)
            .ok_or(CurationError::Unauthorized)?;
        Actor::Operator {
            name: op.name.clone(),
            key_id: id.to_string(),
        }
    } else {
        let v_keys: Vec<PublicKey> = curators.vendors.iter().map(|v| v.key).collect();
        let ids = env
            .valid_signers(PAYLOAD_CURATION, &v_keys, 1)
            .map_err(|_| CurationError::Unauthorized)?;
        let id = ids.into_iter().next().ok_or(CurationError::Unauthorized)?;
        let v = curators
            .vendors
            .iter()
            .find(|v| v.key.key_id() == id)
            .ok_or(CurationError::Unauthorized)?;
        Actor::Vendor {
            name: v.name.clone(),
            key_id: id.to_string(),
            prefixes: v.prefixes.clone(),
        }
    };
    let c: Curation = serde_json::from_slice(&env.payload)
        .map_err(|e| CurationError::Invalid(format!("payload: {e}")))?;
    if c.version != 1 {
        return Err(CurationError::Invalid(
            "unsupported version (expected 1)".into(),
        ));
    }
    if !is_hex32(&c.nonce) {
        return Err(CurationError::Invalid(
            "nonce must be 32 lowercase hex characters".into(),
        ));
    }
    if c.issued_at.abs_diff(now) > MAX_CURATION_SKEW_S as u64 {
        return Err(CurationError::ClockSkew {
            issued_at: c.issued_at,
            now,
        });
    }
    validate(&c.change)?;
    authorize(&actor, &c.change)?;
    let owner = match &actor {
        Actor::Operator { key_id, .. } | Actor::Vendor { key_id, .. } => {
            format!("curation:{key_id}")
        }
        Actor::Cli { user } => format!("cli:{user}"),
    };
    if !store
        .claim_nonce(&owner, &c.nonce, now + 2 * MAX_CURATION_SKEW_S)
        .await?
    {
        return Err(CurationError::Replay);
    }
    Ok((actor, c.change))
}

/// Field checks (also for the CLI).
pub fn validate(change: &Change) -> Result<(), CurationError> {
    match change {
        Change::List {
            matches,
            references,
            reason,
            ..
        } => {
            text("reason", reason, 500)?;
            if references.len() > 32 {
                return Err(CurationError::Invalid("at most 32 references".into()));
            }
            for r in references {
                text("a reference", r, 300)?;
            }
            if matches.mac_prefixes.len() > 64 {
                return Err(CurationError::Invalid("at most 64 MAC prefixes".into()));
            }
            if matches.mac_prefixes.is_empty()
                && matches.model.is_none()
                && matches.fingerprint.is_none()
            {
                return Err(CurationError::Invalid(
                    "a listing must name MAC prefixes, a model or a fingerprint: it would match every device".into(),
                ));
            }
            for s in [&matches.vendor, &matches.model, &matches.fingerprint]
                .into_iter()
                .flatten()
            {
                text("vendor, model and fingerprint", s, 128)?;
            }
            if let Some(f) = &matches.firmware {
                for v in f.min.iter().chain(&f.below).chain(&f.fixed_in) {
                    text("a firmware version", v, 64)?;
                }
            }
        }
        Change::Delist { id, reason, .. } => {
            text("reason", reason, 500)?;
            if !is_hex32(id) {
                return Err(CurationError::Invalid(
                    "id must be 32 lowercase hex characters".into(),
                ));
            }
        }
        Change::MarkFixed {
            model,
            fixed_in,
            reason,
            ..
        } => {
            text("reason", reason, 500)?;
            text("fixed_in", fixed_in, 64)?;
            if let Some(m) = model {
                text("model", m, 128)?;
            }
        }
    }
    Ok(())
}

fn authorize(actor: &Actor, change: &Change) -> Result<(), CurationError> {
    match (actor, change) {
        (Actor::Operator { .. } | Actor::Cli { .. }, _) => Ok(()),
        (Actor::Vendor { prefixes, name, .. }, Change::MarkFixed { mac_prefix, .. }) => {
            if prefixes
                .iter()
                .any(|p| p.bits <= mac_prefix.bits && p.contains(mac_prefix.bytes))
            {
                Ok(())
            } else {
                Err(CurationError::Forbidden(format!(
                    "vendor {name} may mark firmware fixed only under its own MAC prefixes, not {mac_prefix}"
                )))
            }
        }
        (Actor::Vendor { .. }, _) => Err(CurationError::Forbidden(
            "vendor keys may only mark firmware fixed; listing and delisting is for operators"
                .into(),
        )),
    }
}

/// What a curation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub action: &'static str,
    /// Listings written.
    pub listings: Vec<String>,
}

/// Carries out a change, with its audit lines. `weights` is only passed on
/// to the store (no corroboration happens here).
pub async fn apply(
    store: &dyn Store,
    actor: &Actor,
    change: &Change,
    weights: WeightRule,
    now: i64,
) -> Result<Applied, CurationError> {
    validate(change)?;
    authorize(actor, change)?;
    let who = actor.label();
    match change {
        Change::List {
            severity,
            matches,
            action,
            references,
            behaviours,
            reason,
        } => {
            let id = matches.listing_id();
            let existing = store.listing(&id).await?;
            let mut matches = matches.clone();
            for fix in store.fixes().await? {
                if fix_applies(&fix, &matches) {
                    add_fixed(&mut matches, &fix.fixed_in);
                }
            }
            let old: Option<Listing> = existing
                .as_ref()
                .and_then(|r| serde_json::from_str(&r.body).ok());
            let listing = Listing {
                id: id.clone(),
                severity: *severity,
                matches,
                action: *action,
                evidence: old.as_ref().map(|l| l.evidence).unwrap_or_default(),
                behaviours: behaviours.clone(),
                first_seen: old.as_ref().map(|l| l.first_seen).unwrap_or(now),
                last_seen: old.as_ref().map(|l| l.last_seen.max(now)).unwrap_or(now),
                references: references.clone(),
                reason: reason.clone(),
                source: ListingSource::Operator,
            };
            let body =
                serde_json::to_string(&listing).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let relist = existing.as_ref().is_some_and(|r| r.state == "delisted");
            store
                .write_listing(&ListingWrite {
                    row: ListingRow {
                        id: id.clone(),
                        device_key: existing.and_then(|r| r.device_key),
                        state: "listed".into(),
                        source: "operator".into(),
                        suppressed: false,
                        body: body.clone(),
                        first_seen: listing.first_seen,
                        last_seen: listing.last_seen,
                        updated_at: now,
                    },
                    audit: Some(NewAudit {
                        at: now,
                        actor: who,
                        action: if relist {
                            "relist".into()
                        } else {
                            "list".into()
                        },
                        listing_id: Some(id.clone()),
                        reason: reason.clone(),
                        detail: body,
                    }),
                    corroborate: Vec::new(),
                    weights,
                    evaluated: None,
                    withdraw_corroboration: false,
                })
                .await?;
            Ok(Applied {
                action: "list",
                listings: vec![id],
            })
        }
        Change::Delist {
            id,
            reason,
            false_positive,
        } => {
            let row = store
                .listing(id)
                .await?
                .ok_or_else(|| CurationError::NotFound(id.clone()))?;
            let detail = row.body.clone();
            store
                .write_listing(&ListingWrite {
                    row: ListingRow {
                        state: "delisted".into(),
                        suppressed: true,
                        updated_at: now,
                        ..row
                    },
                    audit: Some(NewAudit {
                        at: now,
                        actor: who,
                        action: if *false_positive {
                            "delist-false-positive".into()
                        } else {
                            "delist".into()
                        },
                        listing_id: Some(id.clone()),
                        reason: reason.clone(),
                        detail,
                    }),
                    corroborate: Vec::new(),
                    weights,
                    evaluated: None,
                    withdraw_corroboration: *false_positive,
                })
                .await?;
            Ok(Applied {
                action: "delist",
                listings: vec![id.clone()],
            })
        }
        Change::MarkFixed {
            mac_prefix,
            model,
            fixed_in,
            reason,
        } => {
            let fix = FixRow {
                actor: who.clone(),
                mac_prefix: mac_prefix.to_string(),
                model: model.as_ref().map(|m| m.to_lowercase()),
                fixed_in: fixed_in.clone(),
                at: now,
            };
            let detail =
                serde_json::to_string(&fix).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            store
                .add_fix(
                    &fix,
                    &NewAudit {
                        at: now,
                        actor: who.clone(),
                        action: "fix".into(),
                        listing_id: None,
                        reason: reason.clone(),
                        detail,
                    },
                )
                .await?;
            // Every listing the fix covers gets the fixed version.
            let mut changed = Vec::new();
            let mut after = String::new();
            loop {
                let page = store.listings(None, &after, 1000).await?;
                let Some(last) = page.last() else { break };
                after = last.id.clone();
                for row in page {
                    let Ok(mut l) = serde_json::from_str::<Listing>(&row.body) else {
                        continue;
                    };
                    if !fix_applies(&fix, &l.matches) || !add_fixed(&mut l.matches, fixed_in) {
                        continue;
                    }
                    let body = serde_json::to_string(&l)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    store
                        .write_listing(&ListingWrite {
                            row: ListingRow {
                                body: body.clone(),
                                updated_at: now,
                                ..row
                            },
                            audit: Some(NewAudit {
                                at: now,
                                actor: who.clone(),
                                action: "fix".into(),
                                listing_id: Some(l.id.clone()),
                                reason: format!("firmware {fixed_in} and later fixed: {reason}"),
                                detail: body,
                            }),
                            corroborate: Vec::new(),
                            weights,
                            evaluated: None,
                            withdraw_corroboration: false,
                        })
                        .await?;
                    changed.push(l.id);
                }
            }
            Ok(Applied {
                action: "mark-fixed",
                listings: changed,
            })
        }
    }
}
