//! The security test report, format version 1.
//!
//! Every struct refuses unknown fields (a misspelt `reson:` must be an error,
//! not a silently missing reason). Doc comments here become the descriptions
//! in the published JSON Schema (docs/schema/test-report-v1.json).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
pub use warden_model::model::{CweId, Date};

/// The format version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A security test report: who tested which device and firmware, against
/// which version of the vendor's threat model, how, and what came out for
/// every threat and entry point of that model. "Tested, nothing found" is a
/// result like any other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "warden security test report", extend("$id" = "https://github.com/warden-iot/warden/blob/main/docs/schema/test-report-v1.json"))]
pub struct Report {
    /// Format version of this document; this schema describes version 1.
    #[schemars(range(min = 1, max = 1))]
    pub format_version: u32,
    /// The tester's identifier for this report (used as the CSAF tracking id);
    /// derived from the report's content when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Who tested.
    pub tester: Tester,
    /// When the testing ended (YYYY-MM-DD).
    pub date: Date,
    /// The device under test.
    pub device: Device,
    /// The threat model the test is scoped against.
    pub threat_model: ModelRef,
    /// How the device was tested.
    pub method: Method,
    /// One or more results per threat or entry point of the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<Entry>,
    /// Findings that map to no threat or entry point of the model. They are
    /// marked out of the model's declared scope when the report is checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_findings: Vec<Finding>,
    /// Anything else the tester wants a reader to know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Who tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tester {
    /// The tester's (or team's) name.
    pub name: String,
    /// The organisation the tester works for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// How to reach the tester (`mailto:` or `https:` URL).
    pub contact: String,
    /// The tester's web address (`https:`), used as the CSAF publisher namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The device under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// The manufacturer's name, as in the threat model.
    pub vendor: String,
    /// The model name or number, as in the threat model.
    pub model: String,
    /// Hardware revision of the unit tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_revision: Option<String>,
    /// Firmware version as the device reported it.
    pub firmware_version: String,
    /// SHA-256 of the firmware image tested, 64 lowercase hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub image_sha256: Option<String>,
}

/// Which threat model the test is scoped against. The hash pins the exact
/// file: if the vendor changes the model, checking the report says so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// The model's `identity.vendor`.
    pub vendor: String,
    /// The model's `identity.model`.
    pub model: String,
    /// The model's format version.
    pub format_version: u32,
    /// SHA-256 of the model file as the tester had it, 64 lowercase hex digits.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// Where the model was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// How the device was tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Method {
    /// Tools used (name and version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Effort spent testing, in hours.
    pub duration_hours: u32,
    /// What the tester knew and could see.
    pub access: Access,
    /// Whether the tester had the device in hand (could open it, probe its ports).
    pub physical_access: bool,
    /// Anything else about the method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// What the tester knew and could see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Only what any buyer has: the device and its public documentation.
    BlackBox,
    /// Some inside knowledge: documentation, debug builds or accounts from the vendor.
    GreyBox,
    /// Source code and design documents.
    WhiteBox,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BlackBox => "black-box",
            Self::GreyBox => "grey-box",
            Self::WhiteBox => "white-box",
        }
    }
}

/// The result for one threat or one entry point of the model. Exactly one of
/// `threat` and `entry_point` names it. `result: finding` needs `finding`,
/// `no-finding` needs `tried`, `not-tested` needs `reason`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// A threat id of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threat: Option<String>,
    /// An entry point id of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<String>,
    /// What came out.
    pub result: Outcome,
    /// For `no-finding`: what was tried (tools, test cases, how long), so a
    /// reader can judge how much "nothing found" means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tried: Option<String>,
    /// For `no-finding`, optional: the CSAF VEX justification the tester
    /// vouches for. Without it, the VEX export states only that testing found
    /// nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex_justification: Option<VexJustification>,
    /// For `no-finding`, optional: CVEs checked for and not found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cves_checked: Vec<CveId>,
    /// For `not-tested`: why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `finding`: what was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<Finding>,
}

impl Entry {
    /// `threat T1` or `entry point uart`.
    pub fn target(&self) -> Target<'_> {
        match (&self.threat, &self.entry_point) {
            (Some(t), _) => Target::Threat(t),
            (None, Some(e)) => Target::EntryPoint(e),
            (None, None) => Target::Threat(""),
        }
    }
}

/// What an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target<'a> {
    Threat(&'a str),
    EntryPoint(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Threat(t) => write!(f, "threat {t}"),
            Self::EntryPoint(e) => write!(f, "entry point {e}"),
        }
    }
}

/// The result of testing one threat or entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Tested and something was found (see `finding`).
    Finding,
    /// Tested and nothing was found (see `tried`).
    NoFinding,
    /// Not tested (see `reason`).
    NotTested,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Finding => "finding",
            Self::NoFinding => "no-finding",
            Self::NotTested => "not-tested",
        }
    }
}

/// CSAF 2.0 VEX justification labels (`/vulnerabilities[]/flags[]/label`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VexJustification {
    ComponentNotPresent,
    InlineMitigationsAlreadyExist,
    VulnerableCodeCannotBeControlledByAdversary,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeNotPresent,
}

impl VexJustification {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "component_not_present",
            Self::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
            Self::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Self::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Self::VulnerableCodeNotPresent => "vulnerable_code_not_present",
        }
    }
}

/// Something found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// One line: what is wrong.
    pub title: String,
    /// How bad it is.
    pub severity: Severity,
    /// The weakness (`CWE-798`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwe: Option<CweId>,
    /// The CVE assigned to it, if any (`CVE-2026-12345`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve: Option<CveId>,
    /// What it is and what an attacker gains.
    pub description: String,
    /// How to see it for oneself: steps, requests, captures, file hashes.
    pub evidence: String,
    /// The component it is in, as the model's `scope` names components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The attacker who can exploit it, as an attacker id of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attacker: Option<String>,
}

/// Severity, in CVSS v3 rating bands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// No security impact on its own (hardening advice).
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// A CVE identifier such as `CVE-2026-12345`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CveId(String);

impl CveId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CveId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let ok = s
            .strip_prefix("CVE-")
            .and_then(|r| r.split_once('-'))
            .is_some_and(|(y, n)| {
                y.len() == 4
                    && y.bytes().all(|b| b.is_ascii_digit())
                    && (4..=19).contains(&n.len())
                    && n.bytes().all(|b| b.is_ascii_digit())
            });
        if ok {
            Ok(Self(s))
        } else {
            Err(format!("{s:?} is not a CVE id (CVE-YYYY-NNNN)"))
        }
    }
}

impl From<CveId> for String {
    fn from(id: CveId) -> String {
        id.0
    }
}

impl JsonSchema for CveId {
    fn schema_name() -> Cow<'static, str> {
        "CveId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A CVE id, e.g. CVE-2026-12345.",
            "type": "string",
            "pattern": "^CVE-[0-9]{4}-[0-9]{4,19}$"
        })
    }
}
