//! Device threat models (issue #5, first half): the format, its JSON Schema,
//! the baseline lint and its outputs, and the consumer page and label.
//! See docs/threat-models.md.

pub mod lint;
pub mod load;
pub mod model;
pub mod render;
pub mod report;

pub use lint::{lint, Finding, Level, Rule, RULES};
pub use load::{load, LoadError, LoadErrors, Loaded, Syntax, MAX_INPUT_BYTES};
pub use model::ThreatModel;

/// DSSE payload type of a signed threat model: the model file's own bytes
/// (YAML or JSON), so the envelope's payload hashes to the file's SHA-256
/// (docs/registry.md).
pub const PAYLOAD_TYPE: &str = "application/vnd.warden.threat-model";

/// The JSON Schema of the format, generated from the types
/// (docs/schema/threat-model-v1.json is this, pretty-printed, plus a newline).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ThreatModel)).expect("a schema is JSON")
}

/// The schema as committed: pretty JSON and a final newline.
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).expect("a schema is JSON");
    s.push('\n');
    s
}

/// Writes a model as YAML.
pub fn to_yaml(model: &ThreatModel) -> String {
    serde_norway::to_string(model).expect("a model serialises")
}

/// Writes a model as pretty JSON.
pub fn to_json(model: &ThreatModel) -> String {
    serde_json::to_string_pretty(model).expect("a model serialises")
}
