//! The device threat model, format version 1.
//!
//! Every struct refuses unknown fields: a misspelt claim (`automatic_by_defualt`)
//! must be an error, not a silently missing claim. Doc comments here become the
//! descriptions in the published JSON Schema (docs/schema/threat-model-v1.json).

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The format version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A device threat model: what the device is, what it protects and against whom,
/// how it can be reached, what can go wrong and what was done about it, the
/// baseline claims a consumer or regulator asks about, and the network
/// behaviour the device promises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "warden device threat model", extend("$id" = "https://github.com/warden-iot/warden/blob/main/docs/schema/threat-model-v1.json"))]
pub struct ThreatModel {
    /// Format version of this document; this schema describes version 1.
    #[schemars(range(min = 1, max = 1))]
    pub format_version: u32,
    /// Which device (and which firmware) the model describes.
    pub identity: Identity,
    /// Which components the model covers and which it leaves out.
    #[serde(default)]
    pub scope: Scope,
    /// Which attackers the device is meant to resist and which it is not.
    #[serde(default)]
    pub attackers: Attackers,
    /// What is worth protecting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<Asset>,
    /// Every way into the device: network services, cloud and app paths, radios,
    /// physical ports (debug ports included), buttons, the update channel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<EntryPoint>,
    /// What can go wrong, and its status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threats: Vec<Threat>,
    /// What was done about it, linked to the requirements it meets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<Control>,
    /// Typed claims that baseline requirements ask about.
    #[serde(default)]
    pub baseline: Baseline,
    /// The network behaviour the device promises (the part a router can enforce).
    #[serde(default)]
    pub network: Network,
}

/// Which device the model is about.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The manufacturer's name as printed on the box.
    pub vendor: String,
    /// The model name or number.
    pub model: String,
    /// What kind of device it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_class: Option<DeviceClass>,
    /// Hardware revision the model applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_revision: Option<String>,
    /// One sentence for consumers: what the device does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Firmware versions the model applies to, each with its image hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firmware: Vec<Firmware>,
    /// CPE 2.3 formatted string of the product (`cpe:2.3:h:vendor:product:...`,
    /// 13 colon-separated parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^cpe:2\.3:[aho\*\-]"))]
    pub cpe: Option<String>,
    /// Package URL of the firmware (`pkg:type/namespace/name@version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^pkg:[A-Za-z][A-Za-z0-9.+-]*/"))]
    pub purl: Option<String>,
    /// RFC 8520 MUD URL the device emits (DHCP option 161, LLDP, or certificate);
    /// MUD URLs use the `https` scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https://[^\s]+$"))]
    pub mud_url: Option<String>,
    /// Where a user can read the model designation without tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_designation: Option<ModelDesignation>,
    /// A constrained device (in the sense of ETSI EN 303 645) cannot run some
    /// security functions; some provisions then do not apply.
    #[serde(default, skip_serializing_if = "is_false")]
    pub constrained: bool,
}

/// What kind of device it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    Camera,
    SmartPlug,
    Hub,
    Speaker,
    Doorbell,
    Lock,
    Thermostat,
    Light,
    Sensor,
    Appliance,
    Other,
}

/// Where the model designation can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelDesignation {
    /// Printed on a label on the device.
    Label,
    /// Readable through a physical interface of the device (its display or
    /// local interface), without tools.
    Interface,
    /// Both on a label and in the interface.
    LabelAndInterface,
    /// Nowhere a user can see it.
    None,
}

/// One firmware version and the hash of its image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Firmware {
    /// Version string as the device reports it.
    pub version: String,
    /// SHA-256 of the firmware image, 64 lowercase hex digits.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub image_sha256: String,
    /// Release date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<Date>,
}

/// Components the model covers and those it leaves out.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Components the model covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_scope: Vec<ScopeItem>,
    /// Components the model leaves out; each needs a justification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_scope: Vec<ScopeItem>,
}

/// A component (device firmware, mobile app, cloud service, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeItem {
    /// The component.
    pub component: String,
    /// Why it is in or out of scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// Attacker profiles.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attackers {
    /// Attackers the device is designed to resist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_scope: Vec<Attacker>,
    /// Attackers the device does not claim to resist; each needs a justification.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_scope: Vec<Attacker>,
}

/// An attacker profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attacker {
    /// Identifier, unique among attackers.
    pub id: String,
    /// Who they are and what they can do, in plain words.
    pub description: String,
    /// Why the profile is (out of) scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// Something worth protecting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Identifier, unique among assets.
    pub id: String,
    /// Name in plain words.
    pub name: String,
    /// What kind of asset.
    pub kind: AssetKind,
    /// More detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Kinds of assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    PersonalData,
    Video,
    Audio,
    Credentials,
    Keys,
    Configuration,
    Firmware,
    DeviceControl,
    Availability,
    NetworkAccess,
    Other,
}

/// A way into the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryPoint {
    /// Identifier, unique among entry points.
    pub id: String,
    /// Name in plain words.
    pub name: String,
    /// What kind of entry point.
    pub kind: EntryPointKind,
    /// Who can reach it.
    pub exposure: Exposure,
    /// Its state as shipped.
    pub state: InterfaceState,
    /// Whether the device's intended use needs it. An interface that is not
    /// needed should not be enabled.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub used: bool,
    /// Transport protocol, for network services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Port, for network services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Whether the channel is encrypted (TLS, SSH, DTLS, ...), for network
    /// entry points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Whether security-relevant configuration can be changed through it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allows_configuration_change: bool,
    /// Every login mechanism on this entry point. Empty: no authentication.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logins: Vec<Login>,
}

/// Kinds of entry points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryPointKind {
    /// A service listening on an IP port of the device.
    NetworkService,
    /// A local web or app interface.
    LocalUi,
    /// The vendor's cloud API that can command the device.
    CloudApi,
    /// The companion mobile app.
    MobileApp,
    /// A radio (Bluetooth LE, Zigbee, Z-Wave, Thread, ...).
    Radio,
    /// A physical debug port (UART, JTAG, SWD, ...).
    PhysicalDebug,
    /// Another physical port (USB, SD card, ...).
    PhysicalPort,
    /// A button (reset, pairing).
    PhysicalButton,
    /// The software update channel.
    UpdateChannel,
}

/// Who can reach an entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// Anyone on the internet.
    Internet,
    /// Anyone on the local network.
    LocalNetwork,
    /// Through the vendor's cloud, after the cloud authenticates the caller.
    Cloud,
    /// Anyone in radio range.
    LocalRadio,
    /// Someone holding the device.
    Physical,
}

/// The state of an interface as shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InterfaceState {
    /// Enabled.
    Enabled,
    /// Present but disabled in software.
    DisabledInSoftware,
    /// Permanently disabled (fuses blown, not populated).
    PermanentlyDisabled,
}

/// Transport protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Any,
}

/// A login mechanism and where its credential comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// What the user or machine presents.
    pub mechanism: LoginMechanism,
    /// Account name, where there is one (`admin`, `root`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Where the credential comes from.
    pub credential: CredentialSource,
    /// Whether the user can change the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_can_change: Option<bool>,
    /// What stops guessing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brute_force_protection: Option<BruteForceProtection>,
}

/// Login mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoginMechanism {
    Password,
    Pin,
    PairingCode,
    Key,
    Certificate,
    Token,
    CloudAccount,
}

impl LoginMechanism {
    /// Secrets a person types (the ones that get shared, guessed and never changed).
    pub fn is_password_like(self) -> bool {
        matches!(self, Self::Password | Self::Pin)
    }

    /// Mechanisms that send the secret itself over the channel (a key or
    /// certificate proves possession without sending it).
    pub fn sends_secret(self) -> bool {
        matches!(
            self,
            Self::Password | Self::Pin | Self::Token | Self::CloudAccount
        )
    }
}

/// Where a credential comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialSource {
    /// Generated per device at the factory from a random source (or a keyed
    /// derivation accepted as good practice) and given to its owner.
    UniquePerDevice,
    /// The user sets it during setup; nothing works before.
    UserDefinedAtSetup,
    /// The same value on every device of the type.
    SharedDefault,
    /// Derived from public or guessable data (MAC address, serial number, SSID).
    DerivedFromPublicIdentifier,
    /// Counted up per device (serial numbering).
    IncrementalCounter,
    /// Written into the firmware.
    HardCoded,
    /// The user's account with the vendor's cloud.
    CloudAccount,
    /// Made on the device during pairing (e.g. a key exchange).
    GeneratedAtPairing,
}

impl CredentialSource {
    /// How a non-expert would read it.
    pub fn plain(self) -> &'static str {
        match self {
            Self::UniquePerDevice => "unique to each device",
            Self::UserDefinedAtSetup => "chosen by you during setup",
            Self::SharedDefault => "the same on every device",
            Self::DerivedFromPublicIdentifier => "worked out from public information",
            Self::IncrementalCounter => "counted up from device to device",
            Self::HardCoded => "written into the firmware",
            Self::CloudAccount => "your account with the maker",
            Self::GeneratedAtPairing => "made during pairing",
        }
    }
}

/// What stops guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BruteForceProtection {
    None,
    RateLimit,
    IncreasingDelay,
    Lockout,
}

/// Something that can go wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Threat {
    /// Identifier, unique among threats.
    pub id: String,
    /// Title in plain words.
    pub title: String,
    /// More detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CAPEC attack patterns (`CAPEC-49`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capec: Vec<CapecId>,
    /// CWE weaknesses (`CWE-1392`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwe: Vec<CweId>,
    /// Entry points (ids) it comes through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_points: Vec<String>,
    /// Assets (ids) it harms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<String>,
    /// Attackers (ids) who could carry it out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attackers: Vec<String>,
    /// Where it stands.
    pub status: ThreatStatus,
    /// Why, for any status but `mitigated` (and for that too, if the controls
    /// do not say it all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// Controls (ids) that address it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
}

/// Threat status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreatStatus {
    /// Controls reduce the risk to an accepted level.
    Mitigated,
    /// The risk is knowingly accepted.
    Accepted,
    /// Someone else (the user, the platform, an insurer) carries it.
    Transferred,
    /// Not considered by this model.
    OutOfScope,
    /// Not dealt with yet.
    Open,
}

/// A control and the requirements it meets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Identifier, unique among controls.
    pub id: String,
    /// What it does.
    pub description: String,
    /// Requirements it meets, e.g. `ETSI EN 303 645 5.1-1`, `UK PSTI Sch. 1 para 1`,
    /// `EU CRA Annex I Part I (2)(c)`, `NIST IR 8259A Software Update`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<String>,
}

/// Typed claims that baseline requirements ask about. A missing claim is
/// reported by the lint: silence is not a claim.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// How the device's default credentials are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_credentials: Option<DefaultCredentials>,
    /// Software updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updates: Option<Updates>,
    /// The support period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<Support>,
    /// How to report a vulnerability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_disclosure: Option<VulnerabilityDisclosure>,
    /// Software bill of materials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<Sbom>,
    /// Deleting user data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_deletion: Option<DataDeletion>,
    /// Storage of secrets on the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Secrets>,
    /// Sensors that observe the device's surroundings (camera, microphone, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_sensing: Vec<Sensing>,
    /// The security-relevant decisions left to the user, with their defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_decisions: Vec<UserDecision>,
}

/// How the device's default credentials are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DefaultCredentials {
    /// Each device has its own, generated at the factory.
    UniquePerDevice,
    /// The user must set one during setup.
    UserDefinedAtSetup,
    /// The device has no password logins at all.
    NoPasswords,
    /// Every device of the type ships with the same one.
    SharedDefault,
}

/// Software updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Updates {
    /// How updates are installed.
    pub mechanism: UpdateMechanism,
    /// Whether automatic installation of security updates is on as shipped.
    pub automatic_by_default: bool,
    /// Whether the user can postpone an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_can_postpone: Option<bool>,
    /// Whether images are signed by the manufacturer.
    pub signed: bool,
    /// Whether the device verifies the signature before installing.
    pub verified_on_device: bool,
    /// Signature algorithm (e.g. `ed25519`, `ecdsa-p256-sha256`, `rsa-pss-3072-sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    /// Whether the device refuses images older than the one installed.
    pub anti_rollback: bool,
}

/// How updates are installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateMechanism {
    /// The device fetches and installs updates itself.
    Automatic,
    /// The user starts each update (app or web interface).
    UserInitiated,
    /// Only with a cable, card or service visit.
    PhysicalOnly,
    /// The software cannot be updated.
    None,
}

/// The support period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Support {
    /// Last day on which security updates are promised (YYYY-MM-DD).
    pub security_updates_until: Date,
    /// Where the manufacturer publishes the support period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
}

/// How to report a vulnerability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VulnerabilityDisclosure {
    /// Where to report (`mailto:` or `https:` URL).
    pub contact: String,
    /// The published disclosure policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_url: Option<String>,
    /// The manufacturer's security.txt (RFC 9116).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_txt: Option<String>,
    /// Days until a report is acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledgement_days: Option<u32>,
    /// Days between status updates until the issue is resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_update_days: Option<u32>,
}

/// Software bill of materials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sbom {
    /// Its format.
    pub format: SbomFormat,
    /// Who can get it.
    pub availability: SbomAvailability,
    /// Where, if published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// SBOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SbomFormat {
    Spdx,
    Cyclonedx,
    Other,
}

/// Who can get the SBOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SbomAvailability {
    Public,
    OnRequest,
    Internal,
}

/// Deleting user data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataDeletion {
    /// Whether a factory reset erases all user data and credentials on the device.
    pub factory_reset_erases_user_data: bool,
    /// How a user deletes data held by associated services (the cloud), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_data: Option<String>,
}

/// Storage of secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Whether any critical security parameter (key, password, token) is the
    /// same in every copy of the firmware.
    pub hard_coded_in_firmware: bool,
    /// Where secrets are kept.
    pub storage: SecretStorage,
}

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretStorage {
    SecureElement,
    TrustedExecution,
    EncryptedFlash,
    PlainFlash,
}

/// A sensor that observes the surroundings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sensing {
    /// What it senses.
    pub kind: SensingKind,
    /// Where the user can read about it (manual page, product page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documented_at: Option<String>,
}

/// Kinds of external sensing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SensingKind {
    Camera,
    Microphone,
    Motion,
    Presence,
    Location,
    Energy,
    Temperature,
    Other,
}

impl SensingKind {
    /// How a non-expert would read it.
    pub fn plain(self) -> &'static str {
        match self {
            Self::Camera => "camera",
            Self::Microphone => "microphone",
            Self::Motion => "motion sensor",
            Self::Presence => "presence detection",
            Self::Location => "location sensing",
            Self::Energy => "energy metering",
            Self::Temperature => "temperature sensor",
            Self::Other => "other sensor",
        }
    }
}

/// A security-relevant decision left to the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDecision {
    /// The setting's name as the user sees it.
    pub setting: String,
    /// What it changes.
    pub description: String,
    /// Its value as shipped.
    pub default: String,
    /// Whether that shipped value is the secure one. If not, the device relies
    /// on its user to make it secure.
    pub secure_default: bool,
}

/// The network behaviour the device promises: every flow it needs; everything
/// else may be blocked. Shaped after RFC 8520 (MUD) access lists.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Whether the device asks the router to open ports (UPnP IGD, NAT-PMP, PCP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mapping: Option<PortMapping>,
    /// The flows the device needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<Flow>,
}

/// Port mapping requests to the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PortMapping {
    /// Never.
    Never,
    /// Only after the user turns it on.
    UserOptIn,
    /// As shipped.
    OnByDefault,
}

/// One flow the device needs. Exactly one of `dns_name` and `class` names the peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Who opens the connection: the device (`from_device`) or the peer (`to_device`).
    pub direction: Direction,
    /// Transport protocol.
    pub protocol: Protocol,
    /// The port on the side that accepts the connection (the peer's for
    /// `from_device`, the device's for `to_device`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The peer by DNS name (MUD `ietf-acldns` `dst-dnsname`/`src-dnsname`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// The peer by MUD class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<PeerClass>,
    /// Manufacturer authority, for `class: manufacturer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Whether the flow is encrypted (TLS, DTLS, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Why the device needs it, in plain words.
    pub purpose: String,
}

/// Who opens a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    FromDevice,
    ToDevice,
}

/// MUD peer classes (RFC 8520 section 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeerClass {
    /// Any address on the local network.
    LocalNetworks,
    /// Devices of the same manufacturer.
    SameManufacturer,
    /// Devices of a named manufacturer (`manufacturer`).
    Manufacturer,
    /// A controller class the network defines.
    Controller,
    /// The local controller for this device.
    MyController,
}

impl PeerClass {
    /// How a non-expert would read it.
    pub fn plain(self) -> &'static str {
        match self {
            Self::LocalNetworks => "devices on your home network",
            Self::SameManufacturer => "other devices from the same maker",
            Self::Manufacturer => "devices from a named maker",
            Self::Controller => "a controller on your network",
            Self::MyController => "its own controller on your network",
        }
    }
}

/// A CAPEC identifier such as `CAPEC-49`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CapecId(String);

/// A CWE identifier such as `CWE-1392`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CweId(String);

impl JsonSchema for CapecId {
    fn schema_name() -> Cow<'static, str> {
        "CapecId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A CAPEC attack pattern id, e.g. CAPEC-49.",
            "type": "string",
            "pattern": "^CAPEC-[1-9][0-9]{0,5}$"
        })
    }
}

impl JsonSchema for CweId {
    fn schema_name() -> Cow<'static, str> {
        "CweId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A CWE weakness id, e.g. CWE-1392.",
            "type": "string",
            "pattern": "^CWE-[1-9][0-9]{0,5}$"
        })
    }
}

fn catalogue_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|n| {
        (1..=6).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0')
    })
}

impl TryFrom<String> for CapecId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if catalogue_id(&s, "CAPEC-") {
            Ok(Self(s))
        } else {
            Err(format!("{s:?} is not a CAPEC id (CAPEC-<number>)"))
        }
    }
}

impl TryFrom<String> for CweId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if catalogue_id(&s, "CWE-") {
            Ok(Self(s))
        } else {
            Err(format!("{s:?} is not a CWE id (CWE-<number>)"))
        }
    }
}

impl From<CapecId> for String {
    fn from(id: CapecId) -> String {
        id.0
    }
}

impl From<CweId> for String {
    fn from(id: CweId) -> String {
        id.0
    }
}

impl CapecId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl CweId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A calendar date, written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub time::Date);

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(DATE_FORMAT) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        time::Date::parse(s, DATE_FORMAT)
            .map(Date)
            .map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Date {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A calendar date, YYYY-MM-DD.",
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
        })
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}
