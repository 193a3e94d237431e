//! warden-report: security test reports scoped against a device threat model
//! (issue #5, docs/test-reports.md).
//!
//! A tester says, per threat and entry point of the vendor's model, what came
//! out: a finding, "tested, nothing found" (with what was tried), or "not
//! tested" (with why). Negative results are first-class: a report with only
//! `no-finding` results is valid, signable and shown like any other.
//!
//! The library API, for the CLI and for the feed-server registry:
//!
//! - [`Report`] and the rest of [`format`]: the format (YAML or JSON);
//!   [`schema`] / [`schema_text`] give its JSON Schema
//!   (docs/schema/test-report-v1.json).
//! - [`load`]: bytes to a [`Report`], bounded ([`MAX_INPUT_BYTES`]), every
//!   problem named by path and line.
//! - [`skeleton`]: a report with one `not-tested` entry per threat and entry
//!   point of a model, the model's hash filled in.
//! - [`check`]: a report against a model: hash (has the model changed since
//!   the test?), unknown ids, coverage figures, and each finding marked
//!   `in-declared-scope` or `out-of-declared-scope` ([`Checked`]).
//! - [`sign`] (a [`Report`] as JSON), [`sign_file_bytes`] (a file's own
//!   bytes) / [`verify_envelope`]: DSSE envelopes signed with Ed25519 keys
//!   of `warden feed keygen` (warden-feed's [`Envelope`]), payload type
//!   [`PAYLOAD_TYPE`]; verification pins the signer and parses only verified
//!   bytes.
//! - [`to_csaf`] (CSAF 2.0 VEX), [`to_sarif`] (SARIF 2.1.0) and
//!   [`import_csaf`] (a CSAF advisory's vulnerabilities into a report).
//! - [`view`]: the summary the consumer page shows
//!   (`warden_model::render::TestReportView`).

pub mod check;
pub mod csaf;
pub mod format;
pub mod load;
pub mod sarif;

pub use check::{check, sha256_hex, Checked, Coverage, Level, Problem, ScopedFinding, Status};
pub use csaf::{import_csaf, to_csaf, ImportError, Imported, NoVexStatements, MAX_CSAF_BYTES};
pub use format::{
    Access, CveId, Device, Entry, Finding, Method, ModelRef, Outcome, Report, Severity, Target,
    Tester, VexJustification, FORMAT_VERSION,
};
pub use load::{load, LoadError, LoadErrors, MAX_INPUT_BYTES};
pub use sarif::to_sarif;
pub use warden_feed::{Envelope, EnvelopeError, KeyId, KeyPair, PublicKey};

use warden_model::model::ThreatModel;
use warden_model::render::TestReportView;

/// DSSE payload type of a signed report.
pub const PAYLOAD_TYPE: &str = "application/vnd.warden.test-report+json";

/// Largest envelope accepted: a report at its limit, base64-encoded, plus
/// room for signatures.
pub const MAX_ENVELOPE_BYTES: usize = MAX_INPUT_BYTES / 3 * 4 + 64 * 1024;

/// The JSON Schema of the format, generated from the types.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).expect("a schema is JSON")
}

/// The schema as committed: pretty JSON and a final newline.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).expect("a schema is JSON");
    s.push('\n');
    s
}

/// Writes a report as YAML.
pub fn to_yaml(report: &Report) -> String {
    serde_norway::to_string(report).expect("a report serialises")
}

/// Writes a report as pretty JSON.
pub fn to_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serialises")
}

/// A report to fill in: one `not-tested` entry per threat and per entry point
/// of `model` (whose file had `model_bytes`), the model's hash filled in, the
/// device taken from the model's newest firmware. Placeholders say `TODO`.
pub fn skeleton(model: &ThreatModel, model_bytes: &[u8], date: time::Date) -> Report {
    let id = &model.identity;
    let firmware = id
        .firmware
        .iter()
        .max_by_key(|f| f.released)
        .or(id.firmware.first());
    let todo = |what: &str| Some(format!("TODO: {what}"));
    let mut results = Vec::new();
    for t in &model.threats {
        results.push(Entry {
            threat: Some(t.id.clone()),
            entry_point: None,
            result: Outcome::NotTested,
            tried: None,
            vex_justification: None,
            cves_checked: Vec::new(),
            reason: todo(&format!("test \"{}\" or say why not", t.title)),
            finding: None,
        });
    }
    for e in &model.entry_points {
        results.push(Entry {
            threat: None,
            entry_point: Some(e.id.clone()),
            result: Outcome::NotTested,
            tried: None,
            vex_justification: None,
            cves_checked: Vec::new(),
            reason: todo(&format!("test \"{}\" or say why not", e.name)),
            finding: None,
        });
    }
    Report {
        format_version: FORMAT_VERSION,
        id: None,
        tester: Tester {
            name: "TODO: your name".into(),
            organisation: None,
            contact: "mailto:TODO@example.org".into(),
            url: None,
        },
        date: format::Date(date),
        device: Device {
            vendor: id.vendor.clone(),
            model: id.model.clone(),
            hardware_revision: id.hardware_revision.clone(),
            firmware_version: firmware.map_or("TODO".into(), |f| f.version.clone()),
            image_sha256: firmware.map(|f| f.image_sha256.clone()),
        },
        threat_model: ModelRef {
            vendor: id.vendor.clone(),
            model: id.model.clone(),
            format_version: model.format_version,
            sha256: sha256_hex(model_bytes),
            url: None,
        },
        method: Method {
            tools: Vec::new(),
            duration_hours: 0,
            access: Access::BlackBox,
            physical_access: false,
            notes: None,
        },
        results,
        extra_findings: Vec::new(),
        notes: None,
    }
}

/// The report's id: its own, or `warden-` and the first 16 hex digits of the
/// SHA-256 of its JSON.
pub fn report_id(report: &Report) -> String {
    match &report.id {
        Some(id) => id.clone(),
        None => format!("warden-{}", &sha256_hex(to_json(report).as_bytes())[..16]),
    }
}

/// Signs a report: a DSSE envelope over its compact JSON.
pub fn sign(report: &Report, key: &KeyPair) -> Envelope {
    Envelope::sign(PAYLOAD_TYPE, report, &[key])
}

/// Signs a report file's own bytes (YAML or JSON, comments kept) after
/// checking that they load, so the envelope's payload has the file's SHA-256
/// (what `warden report sign` does, and what the registry expects).
pub fn sign_file_bytes(bytes: &[u8], key: &KeyPair) -> Result<Envelope, LoadErrors> {
    load(bytes)?;
    Ok(Envelope::sign_bytes(PAYLOAD_TYPE, bytes.to_vec(), &[key]))
}

/// A report whose envelope verified, and who signed it.
#[derive(Debug, Clone)]
pub struct Verified {
    pub report: Report,
    /// Key ids of the pinned signers whose signatures verified.
    pub signers: Vec<KeyId>,
}

/// Why an envelope was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("the signed payload is not a valid report: {0}")]
    Report(LoadErrors),
}

/// Verifies an envelope from untrusted bytes: bounded by
/// [`MAX_ENVELOPE_BYTES`], payload type [`PAYLOAD_TYPE`], a valid signature by
/// one of `signers` (others' signatures are ignored); only then is the payload
/// parsed as a report.
pub fn verify_envelope(bytes: &[u8], signers: &[PublicKey]) -> Result<Verified, VerifyError> {
    let env = Envelope::from_slice(bytes, MAX_ENVELOPE_BYTES)?;
    let valid = env.valid_signers(PAYLOAD_TYPE, signers, 1)?;
    let report = load(&env.payload).map_err(VerifyError::Report)?;
    Ok(Verified {
        report,
        signers: valid.into_iter().collect(),
    })
}

/// Whether bytes are a DSSE envelope (a JSON object with a top-level
/// `payloadType`) rather than a plain report. Keys may come in any order, so
/// the object is parsed (without keeping anything).
pub fn is_envelope(bytes: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "payloadType")]
        payload_type: Option<serde::de::IgnoredAny>,
    }
    let starts_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    starts_json && serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.payload_type.is_some())
}

/// The consumer page's view of a checked report. `signed_by` is the key id
/// of a verified signer, `None` for a plain (unsigned) report.
pub fn view(report: &Report, checked: &Checked, signed_by: Option<&KeyId>) -> TestReportView {
    use warden_model::render::ViewFinding;
    TestReportView {
        tester: report.tester.name.clone(),
        organisation: report.tester.organisation.clone(),
        date: report.date.to_string(),
        firmware: report.device.firmware_version.clone(),
        access: report.method.access.as_str().to_string(),
        physical_access: report.method.physical_access,
        signed_by: signed_by.map(|k| k.to_string()),
        signer_name: None,
        model_changed: checked.model_changed,
        tested_clean: checked
            .targets
            .iter()
            .filter(|t| t.status == Status::NoFinding)
            .map(|t| t.name.clone())
            .collect(),
        not_tested: checked
            .targets
            .iter()
            .filter(|t| matches!(t.status, Status::NotTested | Status::Missing))
            .map(|t| t.name.clone())
            .collect(),
        findings: checked
            .findings
            .iter()
            .map(|f| ViewFinding {
                title: f.finding.title.clone(),
                severity: f.finding.severity.as_str().to_string(),
                cve: f.finding.cve.as_ref().map(|c| c.as_str().to_string()),
                out_of_scope: (!f.in_declared_scope()).then(|| f.scope_notes.join("; ")),
            })
            .collect(),
        threats_tested: checked.threats.tested,
        threats_total: checked.threats.total,
        entry_points_tested: checked.entry_points.tested,
        entry_points_total: checked.entry_points.total,
    }
}
