//! The queries behind both the pages and the JSON API: one set of views
//! of the state database, so what a page shows and what `/api/v1` returns
//! cannot drift apart.

use serde::Serialize;
use utoipa::ToSchema;
use warden_decode::Mac;
use warden_detect::Timestamp;
use warden_policy::{Action, Choice, Source};
use warden_state::traffic::{NS_PER_HOUR, NS_PER_MINUTE};

use crate::i18n::Catalog;

/// What the views are rendered with: the language's messages and the
/// threat models to match devices against.
#[derive(Clone)]
pub struct View {
    pub cat: &'static Catalog,
    pub models: Option<std::sync::Arc<warden_profile::Catalog>>,
}

impl View {
    pub fn new(cat: &'static Catalog) -> View {
        View { cat, models: None }
    }
}

/// A published threat model's promises for a device, in a few words
/// ("updates until 2031-12-31, no default password").
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ThreatModelSummary {
    /// The model file's name.
    pub file: String,
    pub vendor: String,
    pub model: String,
    /// The promises in a few words, in the dashboard's language.
    pub summary: String,
    /// Last day of promised security updates (YYYY-MM-DD), if stated.
    pub security_updates_until: Option<String>,
    /// Whether that day is still to come.
    pub updates_current: Option<bool>,
    /// Whether every device of the type ships with the same password
    /// (None: the model does not say).
    pub shared_default_password: Option<bool>,
}

fn threat_model_summary(
    e: &warden_profile::catalog::Entry,
    now: Timestamp,
    cat: &Catalog,
) -> ThreatModelSummary {
    use warden_model::model::{CredentialSource, DefaultCredentials};
    let m = &e.model;
    let today = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now.0))
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN);
    let mut parts = Vec::new();
    let until = m
        .baseline
        .support
        .as_ref()
        .map(|s| s.security_updates_until.to_string());
    let current = m
        .baseline
        .support
        .as_ref()
        .map(|s| s.security_updates_until.0 >= today);
    parts.push(match (&until, current) {
        (Some(d), Some(true)) => cat.t("tm-updates-until", &[("date", d)]),
        (Some(d), _) => cat.t("tm-updates-ended", &[("date", d)]),
        (None, _) => cat.t("tm-updates-unstated", &[]),
    });
    let shared = m
        .entry_points
        .iter()
        .flat_map(|e| e.logins.iter())
        .any(|l| {
            l.mechanism.is_password_like()
                && matches!(l.credential, CredentialSource::SharedDefault)
        })
        || m.baseline.default_credentials == Some(DefaultCredentials::SharedDefault);
    let shared = if shared {
        Some(true)
    } else {
        m.baseline.default_credentials.map(|_| false)
    };
    parts.push(match shared {
        Some(true) => cat.t("tm-shared-password", &[]),
        Some(false) => cat.t("tm-no-default-password", &[]),
        None => cat.t("tm-password-unstated", &[]),
    });
    ThreatModelSummary {
        file: e
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        vendor: m.identity.vendor.clone(),
        model: m.identity.model.clone(),
        summary: parts.join(", "),
        security_updates_until: until,
        updates_current: current,
        shared_default_password: shared,
    }
}
use warden_state::{AlertRow, DecisionRow, DeviceRow, Store};

/// Alerts newer than this make a device "watched" (ns).
const WATCH_NS: i64 = 24 * 3_600 * 1_000_000_000;
/// Most alerts and decisions shown per device.
pub const DEVICE_LIMIT: u32 = 50;
/// Most timeline entries shown.
pub const TIMELINE_LIMIT: u32 = 200;

/// A device's status, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Cut off from the network (quarantine in force).
    Quarantined,
    /// A decision from a feed listing is in force.
    ListedByFeed,
    /// Rate-limited, or its mail or UPnP blocked.
    Limited,
    /// An alert in the last 24 hours, or a notice, but nothing restricted.
    Watched,
    /// Nothing to report.
    Ok,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Quarantined => "quarantined",
            Status::ListedByFeed => "listed-by-feed",
            Status::Limited => "limited",
            Status::Watched => "watched",
            Status::Ok => "ok",
        }
    }

    /// The words on the page.
    pub fn label(self) -> &'static str {
        match self {
            Status::Quarantined => "Quarantined",
            Status::ListedByFeed => "Listed by the feed",
            Status::Limited => "Limited",
            Status::Watched => "Watched",
            Status::Ok => "OK",
        }
    }
}

/// What the pages and the API need of the device's identity (JSON in the
/// database, written from what the device said on the network).
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct IdentityView {
    pub hostname: Option<String>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub os: Option<String>,
}

impl IdentityView {
    fn parse(json: Option<&str>) -> IdentityView {
        let Some(v) = json.and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()) else {
            return IdentityView::default();
        };
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        IdentityView {
            hostname: field("hostname"),
            model: field("model"),
            firmware: field("firmware"),
            os: field("os"),
        }
    }
}

/// One device in the list.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeviceSummary {
    /// `aa:bb:cc:dd:ee:ff`
    pub mac: String,
    /// The owner's name for it, if given.
    pub name: Option<String>,
    /// The owner's name, else the name it gave itself, else its MAC.
    pub display_name: String,
    pub vendor: Option<String>,
    #[serde(flatten)]
    pub identity: IdentityView,
    pub status: Status,
    /// `trust` or `quarantine` if the owner said so.
    pub owner_choice: Option<String>,
    /// RFC 3339, UTC.
    pub first_seen: String,
    /// RFC 3339, UTC.
    pub last_seen: String,
    /// Nanoseconds since the Unix epoch.
    pub last_seen_ns: i64,
    /// Packets sent and received per hour, oldest first, for the 24 hours
    /// up to the newest traffic counter of any device (the guard's clock);
    /// empty when the guard has stored no counters.
    pub traffic_24h: Vec<u64>,
    /// The published threat model matched on vendor, model and firmware.
    pub threat_model: Option<ThreatModelSummary>,
}

/// One interval of a device's traffic counters.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct TrafficPointView {
    /// Start of the interval, RFC 3339.
    pub start: String,
    pub start_ns: i64,
    /// 60 (the last 24 hours, per minute) or 3600 (older, per hour).
    pub seconds: u32,
    /// Frames the device sent or received.
    pub packets: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
    pub packets_per_second: f64,
}

/// When warden detected something about the device (an alert).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DetectionMark {
    pub alert_id: i64,
    /// flood, scan, spam, brute-force or profile-violation
    pub kind: String,
    pub at: String,
    pub at_ns: i64,
}

/// A device's traffic over time (minutes for 24 hours, then hours for 7
/// days) and the moments of its detections.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct TrafficSeries {
    pub mac: String,
    /// Oldest first; intervals without traffic are left out.
    pub points: Vec<TrafficPointView>,
    pub detections: Vec<DetectionMark>,
}

/// One alert with its sentence and evidence.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct AlertView {
    pub id: i64,
    /// flood, scan, spam or brute-force
    pub kind: String,
    pub detected_at: String,
    pub detected_at_ns: i64,
    pub confidence: f32,
    /// What happened, for a person.
    pub summary: String,
    /// The figures behind it, as the detector recorded them.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

/// One decision: what warden did, why, and until when.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DecisionView {
    pub id: u64,
    /// notify, rate-limit, block-smtp, block-upnp or quarantine
    pub action: String,
    /// The action with its parameters, e.g. `rate-limit (100 packets/s, 125000 bytes/s)`.
    pub action_text: String,
    /// One line: what warden did, for how long, and why.
    pub headline: String,
    /// The alert's sentence.
    pub reason: String,
    /// The figures behind it, in one line.
    pub evidence: String,
    /// `automatic:<kind>`, `owner` or `feed:<entry>`.
    pub source: String,
    /// Whether a feed listing caused it.
    pub from_feed: bool,
    pub start: String,
    /// None: until the owner changes it.
    pub expires: Option<String>,
    pub in_force: bool,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

/// A device with everything the device page shows.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub device: DeviceSummary,
    /// What to do next, in plain words.
    pub next_steps: String,
    pub alerts: Vec<AlertView>,
    pub decisions: Vec<DecisionView>,
    /// Owner commands queued and not yet carried out by the guard.
    pub pending_commands: Vec<String>,
    /// The profile the owner holds it to, or the one the guard learned and
    /// proposes (docs/profiles.md).
    pub profile: Option<ProfileView>,
}

/// A device's network profile as the owner set it, or as the guard
/// learned it and proposes it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ProfileView {
    /// `held` (the owner holds the device to it), `none` (the owner chose
    /// no profile) or `proposed` (learned, not accepted yet).
    pub state: String,
    /// Where it came from, for people.
    pub label: String,
    /// What it allows, one line per rule (at most 64).
    pub allows: Vec<String>,
    /// Learned connections left out: internet addresses the device never
    /// looked up by name cannot be written in a profile.
    pub left_out: u64,
    /// Since when (RFC 3339).
    pub since: String,
}

/// Rules shown per profile at most.
const MAX_PROFILE_LINES: usize = 64;

fn profile_view(store: &Store, mac: Mac) -> anyhow::Result<Option<ProfileView>> {
    let rules = |json: &str| -> Vec<String> {
        serde_json::from_str::<warden_model::model::Network>(json)
            .map(|n| {
                warden_profile::Profile::from_model(&n)
                    .rules
                    .iter()
                    .take(MAX_PROFILE_LINES)
                    .map(|r| r.to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(m) = store.profile_mapping(mac)? {
        let state = if m.source == "none" { "none" } else { "held" };
        return Ok(Some(ProfileView {
            state: state.into(),
            allows: m.network.as_deref().map(rules).unwrap_or_default(),
            label: m.label,
            left_out: 0,
            since: rfc3339(m.since),
        }));
    }
    Ok(store.learned_profile(mac)?.map(|l| ProfileView {
        state: "proposed".into(),
        label: format!(
            "learned from {} to {}",
            rfc3339(l.since).replace('T', " ").replace('Z', " UTC"),
            rfc3339(l.updated).replace('T', " ").replace('Z', " UTC")
        ),
        allows: rules(&l.network),
        left_out: l.unnamed,
        since: rfc3339(l.since),
    }))
}

/// The killswitch feed as the guard last recorded it (docs/feed-router.md).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct FeedStatus {
    /// Whether the guard follows a feed at all (it has recorded a sync).
    pub configured: bool,
    /// The last sync worked (false: it failed, the last good copy is in use).
    pub ok: bool,
    /// When the guard recorded it (RFC 3339), and what it said.
    pub at: Option<String>,
    pub message: Option<String>,
    /// Devices with a decision from a feed listing in force now.
    pub devices_listed: usize,
}

/// One line of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub id: i64,
    pub at: String,
    pub at_ns: i64,
    pub device: Option<String>,
    pub kind: String,
    pub message: String,
}

pub fn rfc3339(t: Timestamp) -> String {
    let s = t.to_string();
    // "2026-01-15T13:00:00.000000Z" -> whole seconds are enough here.
    match s.split_once('.') {
        Some((head, _)) => format!("{head}Z"),
        None => s,
    }
}

/// "2026-01-15 13:00:05 UTC", for people.
pub fn human_time(t: Timestamp) -> String {
    rfc3339(t).replacen('T', " ", 1).replace('Z', " UTC")
}

pub fn now() -> Timestamp {
    Timestamp(time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64)
}

struct Context {
    now: Timestamp,
    active: Vec<warden_policy::Decision>,
    choices: Vec<warden_policy::OwnerChoice>,
    recent_alerts: Vec<Mac>,
    /// Packets per hour per device, 24 hours (see `traffic_24h`).
    traffic: std::collections::HashMap<Mac, Vec<u64>>,
    view: View,
}

impl Context {
    fn load(store: &Store, now: Timestamp, view: &View) -> anyhow::Result<Context> {
        let active = store.active_decisions(now)?;
        let choices = store.owner_choices()?;
        let since = now.0.saturating_sub(WATCH_NS);
        let recent_alerts = store
            .alerts(None, 1_000)?
            .into_iter()
            .filter(|a| a.detected_at.0 >= since)
            .map(|a| a.device)
            .collect();
        Ok(Context {
            now,
            active,
            choices,
            recent_alerts,
            traffic: hourly_traffic(store)?,
            view: view.clone(),
        })
    }

    fn status(&self, mac: Mac) -> Status {
        let mine = || self.active.iter().filter(move |d| d.device == mac);
        if mine().any(|d| d.source.is_feed()) {
            Status::ListedByFeed
        } else if mine().any(|d| d.action == Action::Quarantine) {
            Status::Quarantined
        } else if mine().any(|d| d.action.restricts()) {
            Status::Limited
        } else if mine().next().is_some() || self.recent_alerts.contains(&mac) {
            Status::Watched
        } else {
            Status::Ok
        }
    }

    fn summary(&self, d: &DeviceRow) -> DeviceSummary {
        let identity = IdentityView::parse(d.identity.as_deref());
        let threat_model = self.view.models.as_ref().and_then(|models| {
            let entry = models.find_entry(
                d.vendor.as_deref()?,
                identity.model.as_deref()?,
                identity.firmware.as_deref(),
            )?;
            Some(threat_model_summary(entry, self.now, self.view.cat))
        });
        let display_name = d
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| identity.hostname.clone())
            .unwrap_or_else(|| d.mac.to_string());
        DeviceSummary {
            mac: d.mac.to_string(),
            name: d.name.clone(),
            display_name,
            vendor: d.vendor.clone(),
            identity,
            status: self.status(d.mac),
            owner_choice: self
                .choices
                .iter()
                .find(|c| c.device == d.mac)
                .map(|c| c.choice.as_str().to_owned()),
            first_seen: rfc3339(d.first_seen),
            last_seen: rfc3339(d.last_seen),
            last_seen_ns: d.last_seen.0,
            traffic_24h: self.traffic.get(&d.mac).cloned().unwrap_or_default(),
            threat_model,
        }
    }
}

/// Packets per hour of every device with counters, for the 24 hours up
/// to the newest counter (the guard's clock, so a replayed capture's
/// traffic shows too).
fn hourly_traffic(store: &Store) -> anyhow::Result<std::collections::HashMap<Mac, Vec<u64>>> {
    let mut out = std::collections::HashMap::new();
    let Some(latest) = store.traffic_latest()? else {
        return Ok(out);
    };
    let first_hour = latest.0.div_euclid(NS_PER_HOUR) * NS_PER_HOUR - 23 * NS_PER_HOUR;
    for p in store.traffic_by_hour(Timestamp(first_hour))? {
        let i = usize::try_from((p.start.0 - first_hour) / NS_PER_HOUR).unwrap_or(usize::MAX);
        if let Some(slot) = out
            .entry(p.device)
            .or_insert_with(|| vec![0u64; 24])
            .get_mut(i)
        {
            *slot += p.packets;
        }
    }
    Ok(out)
}

/// A device's traffic counters and detections, or None if the store does
/// not know the device.
pub fn traffic(store: &Store, mac: Mac) -> anyhow::Result<Option<TrafficSeries>> {
    if store.device(mac)?.is_none() {
        return Ok(None);
    }
    let points = store
        .traffic(mac, Timestamp(0))?
        .into_iter()
        .map(|p| TrafficPointView {
            start: rfc3339(p.start),
            start_ns: p.start.0,
            seconds: p.seconds,
            packets: p.packets,
            bytes: p.bytes,
            packets_per_second: p.packets as f64 / f64::from(p.seconds.max(1)),
        })
        .collect();
    let mut detections: Vec<DetectionMark> = store
        .alerts(Some(mac), DEVICE_LIMIT)?
        .into_iter()
        .map(|a| DetectionMark {
            alert_id: a.id,
            kind: a.kind.as_str().to_owned(),
            at: rfc3339(a.detected_at),
            at_ns: a.detected_at.0,
        })
        .collect();
    detections.sort_by_key(|d| d.at_ns);
    Ok(Some(TrafficSeries {
        mac: mac.to_string(),
        points,
        detections,
    }))
}

/// One minute, in nanoseconds (the counters' finest interval).
pub const MINUTE_NS: i64 = NS_PER_MINUTE;

/// Every device, most recently seen first.
pub fn devices(store: &Store, now: Timestamp) -> anyhow::Result<Vec<DeviceSummary>> {
    devices_in(store, now, &View::new(Catalog::english()))
}

/// [`devices`] with the language and threat models of `view`.
pub fn devices_in(
    store: &Store,
    now: Timestamp,
    view: &View,
) -> anyhow::Result<Vec<DeviceSummary>> {
    let ctx = Context::load(store, now, view)?;
    Ok(store.devices()?.iter().map(|d| ctx.summary(d)).collect())
}

fn alert_view(a: AlertRow) -> AlertView {
    AlertView {
        id: a.id,
        kind: a.kind.as_str().to_owned(),
        detected_at: rfc3339(a.detected_at),
        detected_at_ns: a.detected_at.0,
        confidence: a.confidence,
        summary: a.summary,
        evidence: serde_json::from_str(&a.evidence).unwrap_or(serde_json::Value::Null),
    }
}

fn decision_view(r: DecisionRow, now: Timestamp) -> DecisionView {
    let d = &r.decision;
    DecisionView {
        id: d.id,
        action: d.action.kind().as_str().to_owned(),
        action_text: d.action.to_string(),
        headline: d.headline(),
        reason: d.reason.text.clone(),
        evidence: d.reason.evidence.clone(),
        source: d.source.to_string(),
        from_feed: d.source.is_feed(),
        start: rfc3339(d.start),
        expires: d.expires.map(rfc3339),
        in_force: r.ended_at.is_none() && d.is_active(now),
        ended_at: r.ended_at.map(rfc3339),
        end_reason: r.end_reason.clone(),
    }
}

/// Plain words: what the owner can do about this device now, from the
/// message catalog.
fn next_steps(
    status: Status,
    choice: Option<Choice>,
    decisions: &[DecisionRow],
    now: Timestamp,
    cat: &Catalog,
) -> String {
    let active: Vec<&warden_policy::Decision> = decisions
        .iter()
        .filter(|r| r.ended_at.is_none() && r.decision.is_active(now))
        .map(|r| &r.decision)
        .collect();
    let by_owner = active.iter().any(|d| d.source == Source::Owner);
    match status {
        Status::Quarantined if by_owner || choice == Some(Choice::Quarantine) => {
            cat.t("next-owner-quarantine", &[])
        }
        Status::Quarantined | Status::Limited => {
            let until = active
                .iter()
                .filter_map(|d| d.expires)
                .max()
                .map(|e| format!(" {}", cat.t("next-lifts-at", &[("until", &human_time(e))])))
                .unwrap_or_default();
            cat.t("next-infected", &[("until", &until)])
        }
        Status::ListedByFeed => cat.t("next-feed", &[]),
        Status::Watched => cat.t("next-watched", &[]),
        Status::Ok if choice == Some(Choice::Trust) => cat.t("next-trusted", &[]),
        Status::Ok => cat.t("next-ok", &[]),
    }
}

/// One device, or None if the store does not know it; its next steps in
/// English.
pub fn device(store: &Store, mac: Mac, now: Timestamp) -> anyhow::Result<Option<DeviceDetail>> {
    device_in(store, mac, now, &View::new(Catalog::english()))
}

/// [`device`], its next steps from the catalog `cat`.
pub fn device_in(
    store: &Store,
    mac: Mac,
    now: Timestamp,
    view: &View,
) -> anyhow::Result<Option<DeviceDetail>> {
    let cat = view.cat;
    let Some(row) = store.device(mac)? else {
        return Ok(None);
    };
    let ctx = Context::load(store, now, view)?;
    let summary = ctx.summary(&row);
    let decisions = store.decisions(mac, DEVICE_LIMIT)?;
    let choice = ctx
        .choices
        .iter()
        .find(|c| c.device == mac)
        .map(|c| c.choice);
    let next = next_steps(summary.status, choice, &decisions, ctx.now, cat);
    let pending = store
        .pending_commands()?
        .into_iter()
        .filter(|c| c.device == mac)
        .map(|c| c.command.as_str().to_owned())
        .collect();
    let profile = profile_view(store, mac)?;
    Ok(Some(DeviceDetail {
        profile,
        device: summary,
        next_steps: next,
        alerts: store
            .alerts(Some(mac), DEVICE_LIMIT)?
            .into_iter()
            .map(alert_view)
            .collect(),
        decisions: decisions
            .into_iter()
            .map(|r| decision_view(r, ctx.now))
            .collect(),
        pending_commands: pending,
    }))
}

/// The feed's last recorded sync and how many devices it lists now.
pub fn feed_status(store: &Store, now: Timestamp) -> anyhow::Result<FeedStatus> {
    let last = store.latest_event(&["feed-sync", "feed-sync-failed"])?;
    let devices_listed = devices(store, now)?
        .iter()
        .filter(|d| d.status == Status::ListedByFeed)
        .count();
    Ok(FeedStatus {
        configured: last.is_some(),
        ok: last.as_ref().is_some_and(|e| e.kind == "feed-sync"),
        at: last.as_ref().map(|e| rfc3339(e.at)),
        message: last.map(|e| e.message),
        devices_listed,
    })
}

/// The newest events first.
pub fn timeline(store: &Store, limit: u32) -> anyhow::Result<Vec<TimelineEntry>> {
    Ok(store
        .timeline(limit)?
        .into_iter()
        .map(|e| TimelineEntry {
            id: e.id,
            at: rfc3339(e.at),
            at_ns: e.at.0,
            device: e.device.map(|m| m.to_string()),
            kind: e.kind,
            message: e.message,
        })
        .collect())
}
