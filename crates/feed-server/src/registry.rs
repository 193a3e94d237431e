//! The registry (issue #5, docs/registry.md): vendors publish signed threat
//! models, testers publish signed test reports scoped against them, and each
//! device type gets a public page and a JSON API with its threat model, the
//! lint result, every report (negative results as much as positive ones)
//! and its feed status.
//!
//! Documents arrive as DSSE envelopes, the same as every other feed
//! document. The signature is checked against the keys in the server config
//! before the payload is parsed, and the envelope is stored as it came so
//! that anyone can fetch it and check it again. Publishing the same document
//! twice changes nothing, so a replay needs no nonce.

use serde::Serialize;
use serde_json::json;
use warden_feed::{Envelope, KeyId, PublicKey};

use crate::curation::{Actor, Curators};
use crate::store::{NewAudit, RegistryDoc, Store, StoreError};

/// Payload type of a threat model envelope: the model file's own bytes
/// (YAML or JSON), so its SHA-256 is the file's.
pub const PAYLOAD_THREAT_MODEL: &str = warden_model::PAYLOAD_TYPE;
/// An envelope carries a model of at most 1 MiB, base64-encoded, plus signatures.
pub const MAX_DOCUMENT_BYTES: usize = 3 * (warden_model::MAX_INPUT_BYTES / 2) + 64 * 1024;
/// At most this many documents are shown per device type.
pub const MAX_DOCUMENTS_PER_PAGE: i64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("document is {0} bytes, more than the limit of {MAX_DOCUMENT_BYTES}")]
    TooLarge(usize),
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("invalid document: {0}")]
    Invalid(String),
    #[error("{0}")]
    UnknownScope(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub sha256: String,
    /// The device type's slug: its page is `/devices/{device}`.
    pub device: String,
    /// False when the same document was already there.
    pub created: bool,
}

/// A device type's URL-safe name: lowercase ASCII letters and digits, other
/// runs of characters become one `-`, at most 64 characters. Two spellings
/// that differ only in case or punctuation name one device type, as in the
/// feed's case-insensitive matching.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 64 {
            break;
        }
    }
    let t = out.trim_end_matches('-');
    if t.is_empty() {
        "unnamed".into()
    } else {
        t.into()
    }
}

/// The slug of a vendor and model: `vendor/model`.
pub fn device_slug(vendor: &str, model: &str) -> String {
    format!("{}/{}", slug(vendor), slug(model))
}

/// The first signer of `env` among `keys` (threshold 1), or None.
fn signer_among(env: &Envelope, payload_type: &'static str, keys: &[PublicKey]) -> Option<KeyId> {
    env.valid_signers(payload_type, keys, 1)
        .ok()?
        .into_iter()
        .next()
}

/// Who signed a document: an operator, a vendor, or (for reports) a tester.
pub(crate) fn identify_signer(
    env: &Envelope,
    payload_type: &'static str,
    curators: &Curators,
    testers_too: bool,
) -> Option<Signer> {
    let ops: Vec<PublicKey> = curators.operators.iter().map(|o| o.key).collect();
    if let Some(id) = signer_among(env, payload_type, &ops) {
        let o = curators.operators.iter().find(|o| o.key.key_id() == id)?;
        return Some(Signer::Operator(Actor::Operator {
            name: o.name.clone(),
            key_id: id.to_string(),
        }));
    }
    let vendors: Vec<PublicKey> = curators.vendors.iter().map(|v| v.key).collect();
    if let Some(id) = signer_among(env, payload_type, &vendors) {
        let v = curators.vendors.iter().find(|v| v.key.key_id() == id)?;
        return Some(Signer::Vendor {
            name: v.name.clone(),
            names: v.names.clone(),
            key_id: id.to_string(),
        });
    }
    if testers_too {
        let testers: Vec<PublicKey> = curators.testers.iter().map(|t| t.key).collect();
        if let Some(id) = signer_among(env, payload_type, &testers) {
            let t = curators.testers.iter().find(|t| t.key.key_id() == id)?;
            return Some(Signer::Tester {
                name: t.name.clone(),
                key_id: id.to_string(),
            });
        }
    }
    None
}

/// A document's signer, with what it may publish.
#[derive(Debug, Clone)]
pub(crate) enum Signer {
    Operator(Actor),
    Vendor {
        name: String,
        /// Other spellings of the vendor's name that its models may use.
        names: Vec<String>,
        key_id: String,
    },
    Tester {
        name: String,
        key_id: String,
    },
}

impl Signer {
    pub(crate) fn label(&self) -> String {
        let short = |k: &str| k[..16.min(k.len())].to_string();
        match self {
            Signer::Operator(a) => a.label(),
            Signer::Vendor { name, key_id, .. } => format!("vendor:{name}:{}", short(key_id)),
            Signer::Tester { name, key_id } => format!("tester:{name}:{}", short(key_id)),
        }
    }

    /// May this signer speak for devices of `vendor`? Operators may for any.
    pub(crate) fn speaks_for(&self, vendor: &str) -> bool {
        match self {
            Signer::Operator(_) => true,
            Signer::Vendor { name, names, .. } => {
                let v = slug(vendor);
                slug(name) == v || names.iter().any(|n| slug(n) == v)
            }
            Signer::Tester { .. } => false,
        }
    }
}

fn open_envelope(body: &[u8], payload_type: &'static str) -> Result<Envelope, RegistryError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(RegistryError::TooLarge(body.len()));
    }
    let env = Envelope::from_slice(body, MAX_DOCUMENT_BYTES)
        .map_err(|e| RegistryError::Malformed(e.to_string()))?;
    if env.payload_type != payload_type {
        return Err(RegistryError::Malformed(format!(
            "payload type must be {payload_type}, got {:?}",
            env.payload_type.chars().take(80).collect::<String>()
        )));
    }
    Ok(env)
}

fn date_of(unix: i64) -> time::Date {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN)
}

/// Checks and stores a vendor's threat model envelope: size, payload type,
/// a signature by an operator or vendor key of this server, a model that
/// loads, and a vendor that speaks for the model's vendor. The model is
/// linted on the way in and the result kept beside it (a model that fails
/// the lint is still published: consumers should see that it does).
pub async fn publish_model(
    body: &[u8],
    curators: &Curators,
    store: &dyn Store,
    now: i64,
) -> Result<Published, RegistryError> {
    let env = open_envelope(body, PAYLOAD_THREAT_MODEL)?;
    let signer = identify_signer(&env, PAYLOAD_THREAT_MODEL, curators, false).ok_or_else(|| {
        RegistryError::Unauthorized(
            "threat models must be signed by a vendor or operator key of this server".into(),
        )
    })?;
    let loaded =
        warden_model::load(&env.payload).map_err(|e| does_not_load("the threat model", &e))?;
    let id = &loaded.model.identity;
    if !signer.speaks_for(&id.vendor) {
        return Err(RegistryError::Forbidden(format!(
            "{} may not publish threat models of another vendor ({:?})",
            signer.label(),
            id.vendor.chars().take(80).collect::<String>()
        )));
    }
    let findings = warden_model::lint(&loaded, date_of(now));
    let (errors, warnings, notes) = warden_model::lint::counts(&findings);
    let mut failed: Vec<&str> = findings
        .iter()
        .filter(|f| f.level == warden_model::Level::Error)
        .map(|f| f.rule)
        .collect();
    failed.sort_unstable();
    failed.dedup();
    let versions: Vec<&str> = id.firmware.iter().map(|f| f.version.as_str()).collect();
    let meta = json!({
        "lint": { "errors": errors, "warnings": warnings, "notes": notes, "failed": failed },
        "firmware": versions,
        "updates_until": loaded.model.baseline.support.as_ref()
            .map(|s| s.security_updates_until.to_string()),
        "summary": id.summary,
    });
    let sha256 = warden_feed::sha256_hex(&env.payload);
    let device = device_slug(&id.vendor, &id.model);
    let doc = RegistryDoc {
        sha256: sha256.clone(),
        kind: "threat-model".into(),
        device: device.clone(),
        vendor: id.vendor.clone(),
        model: id.model.clone(),
        version: clip(&versions.join(", "), 200),
        scope: None,
        signer: signer.label(),
        published_at: now,
        envelope: String::from_utf8_lossy(&env.to_vec()).into_owned(),
        meta: meta.to_string(),
    };
    let audit = NewAudit {
        at: now,
        actor: signer.label(),
        action: "publish-threat-model".into(),
        listing_id: None,
        reason: clip(&format!("{} {}", id.vendor, id.model), 200),
        detail: json!({ "sha256": sha256, "device": device }).to_string(),
    };
    let created = store.put_document(&doc, &audit).await?;
    Ok(Published {
        sha256,
        device,
        created,
    })
}

/// A document that does not load, with its first three problems.
fn does_not_load(what: &str, e: &warden_model::LoadErrors) -> RegistryError {
    let first: Vec<String> = e.0.iter().take(3).map(|e| e.to_string()).collect();
    RegistryError::Invalid(format!("{what} does not load: {}", first.join("; ")))
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Payload type of a test report envelope (`warden report sign`).
pub const PAYLOAD_TEST_REPORT: &str = warden_report::PAYLOAD_TYPE;

/// Checks and stores a test report envelope: size, payload type, a
/// signature by a tester, operator or vendor key (a vendor only for its own
/// devices: a self-assessment, labelled as such by its signer), a report
/// that loads, and a threat model it is scoped against that the registry
/// holds (by SHA-256). The report is checked against that model on the way
/// in: a report naming threats or entry points the model does not have is
/// refused; findings outside the declared scope are kept and marked.
pub async fn publish_report(
    body: &[u8],
    curators: &Curators,
    store: &dyn Store,
    now: i64,
) -> Result<Published, RegistryError> {
    let env = open_envelope(body, PAYLOAD_TEST_REPORT)?;
    let signer = identify_signer(&env, PAYLOAD_TEST_REPORT, curators, true).ok_or_else(|| {
        RegistryError::Unauthorized(
            "test reports must be signed by a tester, vendor or operator key of this server".into(),
        )
    })?;
    let report =
        warden_report::load(&env.payload).map_err(|e| does_not_load("the test report", &e))?;
    let scope = report.threat_model.sha256.to_ascii_lowercase();
    let model_doc = match store.document(&scope).await? {
        Some(d) if d.kind == "threat-model" => d,
        _ => {
            return Err(RegistryError::UnknownScope(format!(
                "the report is scoped against a threat model the registry does not hold \
                 (sha256 {}): the vendor publishes the model first",
                clip(&scope, 64)
            )))
        }
    };
    if let Signer::Vendor { .. } = signer {
        if !signer.speaks_for(&model_doc.vendor) {
            return Err(RegistryError::Forbidden(format!(
                "{} may publish reports only on its own devices",
                signer.label()
            )));
        }
    }
    let model_bytes = stored_payload(&model_doc)?;
    let model = warden_model::load(&model_bytes)
        .map_err(|_| StoreError::Corrupt(format!("stored threat model {scope} does not load")))?
        .model;
    if device_slug(&report.device.vendor, &report.device.model) != model_doc.device {
        return Err(RegistryError::Invalid(format!(
            "the report tests {} {}, but the threat model it is scoped against is {} {}",
            clip(&report.device.vendor, 80),
            clip(&report.device.model, 80),
            model_doc.vendor,
            model_doc.model
        )));
    }
    let checked = warden_report::check(&report, &model, &model_bytes);
    if checked.errors() > 0 {
        let first: Vec<String> = checked
            .problems
            .iter()
            .filter(|p| p.level == warden_report::check::Level::Error)
            .take(3)
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        return Err(RegistryError::Invalid(format!(
            "the report does not fit its threat model: {}",
            first.join("; ")
        )));
    }
    let (t, e) = (&checked.threats, &checked.entry_points);
    let outside = checked
        .findings
        .iter()
        .filter(|f| !f.in_declared_scope())
        .count();
    let role = match signer {
        Signer::Operator(_) => "operator",
        Signer::Vendor { .. } => "vendor",
        Signer::Tester { .. } => "tester",
    };
    let tester = match &report.tester.organisation {
        Some(o) => format!("{} ({o})", report.tester.name),
        None => report.tester.name.clone(),
    };
    let meta = json!({
        "tester": clip(&tester, 200),
        "signer_role": role,
        "date": report.date.to_string(),
        "firmware": clip(&report.device.firmware_version, 100),
        "results": {
            "finding": checked.findings.len(),
            "items_with_findings": t.with_findings + e.with_findings,
            "no_finding": t.no_finding + e.no_finding,
            "not_tested": t.not_tested + t.missing + e.not_tested + e.missing,
            "out_of_declared_scope": outside,
        },
        "threats": t,
        "entry_points": e,
        "summary": clip(&checked.summary, 2000),
    });
    let sha256 = warden_feed::sha256_hex(&env.payload);
    let doc = RegistryDoc {
        sha256: sha256.clone(),
        kind: "test-report".into(),
        device: model_doc.device.clone(),
        vendor: model_doc.vendor.clone(),
        model: model_doc.model.clone(),
        version: report.date.to_string(),
        scope: Some(scope),
        signer: signer.label(),
        published_at: now,
        envelope: String::from_utf8_lossy(&env.to_vec()).into_owned(),
        meta: meta.to_string(),
    };
    let audit = NewAudit {
        at: now,
        actor: signer.label(),
        action: "publish-test-report".into(),
        listing_id: None,
        reason: clip(
            &format!(
                "{} {} tested by {tester}",
                model_doc.vendor, model_doc.model
            ),
            300,
        ),
        detail: json!({ "sha256": sha256, "device": model_doc.device }).to_string(),
    };
    let created = store.put_document(&doc, &audit).await?;
    Ok(Published {
        sha256,
        device: model_doc.device,
        created,
    })
}

/// A stored document's payload (its envelope was checked when it came in).
fn stored_payload(doc: &RegistryDoc) -> Result<Vec<u8>, RegistryError> {
    Envelope::from_slice(doc.envelope.as_bytes(), MAX_DOCUMENT_BYTES)
        .map(|e| e.payload)
        .map_err(|e| StoreError::Corrupt(format!("stored document {}: {e}", doc.sha256)).into())
}

/// The consumer page of a stored threat model, linted as of `now`.
pub fn render_model(doc: &RegistryDoc, now: i64) -> Result<String, RegistryError> {
    let bytes = stored_payload(doc)?;
    let loaded = warden_model::load(&bytes).map_err(|_| {
        StoreError::Corrupt(format!("stored threat model {} does not load", doc.sha256))
    })?;
    let today = date_of(now);
    let findings = warden_model::lint(&loaded, today);
    Ok(warden_model::render::html(&loaded.model, &findings, today))
}
