//! `warden run`: the live guard. Frames from the LAN interfaces (or, with
//! `--replay`, from a capture) go through the same pipeline as `warden
//! analyze`; its sink hands every alert to the policy, stores alerts and
//! decisions in SQLite, logs a sentence for people, and makes warden's
//! nftables tables match the decisions in force (or prints them with
//! `--dry-run`). On start the decisions in force are read back and enforced
//! again, so a restart neither loses a quarantine nor leaves a stale one.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use warden_capture::{Frame, FrameSource, PcapFile};
use warden_decode::{Mac, Packet};
use warden_detect::{Alert, AlertKind, DeniedFlow, Evidence, ProfileEvidence, Timestamp};
use warden_devices::Device;
use warden_enforce::{
    Allow, DeviceRules, Enforcement, IfName, Label, ProfileAllow, ProfilePeer, ProfileRules, Proto,
    Quarantine, TableName, L4,
};
use warden_feed::{DeviceFacts, FeedMatch, KeyPair, Severity, Sighting};
use warden_pipeline::{Config, DnsAnswer, Pipeline, Sink};
use warden_policy::{messages, Action, AlertSummary, Change, NameGrants, Policy, QuarantineConfig};
use warden_profile::guard::{Assigned, DeviceId, Event, Incident, Judge, Peers, Sources};
use warden_state::{DeviceRecord, OwnerCommand, ProfileMapping, Store};

use crate::feed_router::{
    merge_facts, open_feed, stored_facts, unix_now, FeedEvent, FeedLink, Reporter,
};

#[derive(clap::Args)]
pub struct Args {
    /// LAN interface to guard (repeatable), e.g. br-lan.
    #[arg(
        short,
        long = "interface",
        value_name = "IFACE",
        required_unless_present = "replay"
    )]
    pub interfaces: Vec<String>,
    /// Configuration file (docs/warden.example.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The state database (created if missing; default from [run] db).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Print the nftables script for every change instead of applying it.
    #[arg(long)]
    pub dry_run: bool,
    /// Feed a capture file through the guard instead of interfaces (its
    /// timestamps are the clock); for tests and trying a policy out.
    #[arg(long, value_name = "CAPTURE", conflicts_with = "interfaces")]
    pub replay: Option<PathBuf>,
    /// Name of warden's nftables tables (inet and bridge; default from [run] table).
    #[arg(long)]
    pub table: Option<String>,
    /// The router's own LAN addresses (where quarantined devices may still
    /// ask DNS, and where UPnP is blocked), repeatable.
    #[arg(long = "router-addr", value_name = "ADDR")]
    pub router_addrs: Vec<IpAddr>,
    /// Don't keep a bridge-family table (kernels without nf_tables bridge).
    #[arg(long)]
    pub no_bridge: bool,
    /// POST every decision's message as JSON to this URL (retried with
    /// backoff), e.g. an ntfy topic or a home-automation hook.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Push each decision's message to this ntfy topic URL (plain text,
    /// retried with backoff), e.g. https://ntfy.sh/my-home-warden.
    #[arg(long, value_name = "URL")]
    pub ntfy: Option<String>,
    /// Serve the dashboard here (default from [run] dashboard,
    /// 127.0.0.1:8080), or `off`. Not with --replay.
    #[arg(long, value_name = "ADDR|off")]
    pub dashboard: Option<String>,
}

/// How decisions reach the kernel.
enum Enforcer {
    /// Print each new script to standard output.
    DryRun {
        last: Option<String>,
    },
    Nft,
}

/// The daemon's sink: policy, store and enforcement.
struct Guard {
    policy: Policy,
    store: Store,
    enforcer: Enforcer,
    base: Enforcement,
    /// What quarantined devices may still reach (per vendor).
    quarantine: QuarantineConfig,
    /// Addresses of allowed host names, as the router's resolver gave
    /// them to each quarantined device.
    grants: NameGrants,
    /// The enforcement state is behind the policy's.
    dirty: bool,
    /// Errors are logged, never fatal: the guard keeps guarding.
    errors: u64,
    last_tick_s: i64,
    /// The second of the clock in which enforcing last failed.
    failed_s: i64,
    webhook: Option<crate::webhook::Webhook>,
    /// The same notices, pushed to an ntfy topic.
    ntfy: Option<crate::webhook::Webhook>,
    /// The same notices by e-mail (`[run.smtp]`), and their language.
    mail: Option<crate::webhook::Webhook>,
    catalog: &'static warden_dashboard::i18n::Catalog,
    /// The killswitch feed, when `[feed] url` is set.
    feed: Option<FeedLink>,
    /// What is known of each device for matching against the feed: the
    /// store's facts, then the live ones (bounded by [`MAX_FACTS`]).
    facts: BTreeMap<Mac, DeviceFacts>,
    /// Clock second of the next feed check.
    next_feed_check_s: i64,
    feed_check_interval_s: i64,
    /// Sightings to the feed server, when `[feed] report_url` is set, and
    /// the router's key (in the sighting as the reporter; the sending
    /// thread signs with its copy).
    reporter: Option<(Reporter, KeyPair)>,
    /// (device, alert kind) -> the hour of its last sighting sent: one per
    /// incident kind per hour, as a sighting's window is an hour.
    reported: BTreeMap<(Mac, AlertKind), i64>,
    /// The feed status last written to the timeline.
    last_feed_note: String,
    /// Where devices' network profiles come from (docs/profiles.md).
    profiles: Sources,
    /// The new flows of devices with a profile, judged.
    judge: Judge,
    /// Device -> (clock second its profile was last looked up, what
    /// identified it then), so a profile is looked up when a device is
    /// new or its identity changed, at most every [`PROFILE_CHECK_S`].
    profile_checked: std::collections::HashMap<Mac, (i64, u64)>,
    /// What devices without a profile do, for a proposed one.
    learner: warden_profile::learn::Learner,
    /// Clock second what was learned was last stored.
    learned_saved_s: i64,
}

/// What was learned is stored this often (seconds of the clock).
const LEARNED_SAVE_S: i64 = 30;

/// Seconds between two lookups of one device's profile.
const PROFILE_CHECK_S: i64 = 5;

/// Devices whose facts are kept for feed matching at most.
const MAX_FACTS: usize = 4_096;

fn log(msg: &str) {
    eprintln!("warden: {msg}");
}

impl Guard {
    fn handle(&mut self, changes: Vec<Change>) {
        self.handle_with(changes, true);
    }

    /// [`handle`](Self::handle); with `announce_renewals` false, extended
    /// decisions are stored but not announced (a feed listing renewed at a
    /// routine check is not news, and the device did not "misbehave again").
    fn handle_with(&mut self, changes: Vec<Change>, announce_renewals: bool) {
        if changes.is_empty() {
            return;
        }
        if let Err(e) = self.store.record_changes(&changes) {
            self.errors += 1;
            log(&format!("error: storing decisions: {e}"));
        }
        let at = changes
            .iter()
            .map(|c| match c {
                Change::Started(d) => d.start,
                Change::Extended { at, .. }
                | Change::Ended { at, .. }
                | Change::Owner { at, .. } => *at,
                Change::Escalation(_) => Timestamp(0),
            })
            .max()
            .unwrap_or(Timestamp(0));
        let device = changes[0].device().to_string();
        let announced: Vec<Change>;
        let to_announce = if announce_renewals {
            &changes
        } else {
            announced = changes
                .iter()
                .filter(|c| !matches!(c, Change::Extended { .. }))
                .cloned()
                .collect();
            &announced
        };
        for m in messages(to_announce) {
            log(&m);
        }
        // People are told once per incident: what started, what ended, and
        // the owner's own changes. An incident that goes on (a decision
        // extended) is logged, not pushed again.
        if self.webhook.is_some() || self.ntfy.is_some() || self.mail.is_some() {
            let news: Vec<Change> = changes
                .iter()
                .filter(|c| !matches!(c, Change::Extended { .. }))
                .cloned()
                .collect();
            for m in crate::notify::messages(&news, self.catalog) {
                let notice = crate::webhook::Notice {
                    title: self.catalog.t("notice-title", &[("device", &device)]),
                    text: m,
                    device: device.clone(),
                    at: at.to_string(),
                    source: "warden",
                };
                for hook in [&mut self.webhook, &mut self.ntfy, &mut self.mail]
                    .into_iter()
                    .flatten()
                {
                    hook.send(notice.clone());
                }
            }
        }
        self.dirty |= changes.iter().any(|c| {
            matches!(
                c,
                Change::Started(_) | Change::Ended { .. } | Change::Owner { .. }
            )
        });
    }

    fn tick(&mut self, now: Timestamp) {
        self.owner_commands(now);
        let changes = self.policy.tick(now);
        self.handle(changes);
        if !self.grants.is_empty() {
            let quarantined = self.quarantined(now);
            self.dirty |= self.grants.prune(now, |mac| quarantined.contains(&mac));
        }
        if !self.judge.is_empty() && self.judge.prune(now.0) {
            self.dirty |= self
                .policy
                .active(now)
                .any(|d| d.action == Action::EnforceProfile);
        }
        let s = now.0.div_euclid(1_000_000_000);
        if s.saturating_sub(self.learned_saved_s) >= LEARNED_SAVE_S {
            self.learned_saved_s = s;
            self.save_learned();
        }
        if self.dirty {
            self.enforce(now);
        }
    }

    /// Carries out what the owner asked with `warden device ...`: the
    /// owner's word wins over automation.
    fn owner_commands(&mut self, now: Timestamp) {
        let pending = match self.store.pending_commands() {
            Ok(p) => p,
            Err(e) => {
                self.errors += 1;
                log(&format!("error: reading owner commands: {e}"));
                return;
            }
        };
        for c in pending {
            log(&format!(
                "the owner asked to {} {}",
                c.command.as_str(),
                c.device
            ));
            let changes = match c.command {
                OwnerCommand::Trust => self.policy.trust(c.device, now),
                OwnerCommand::Release => self.policy.release(c.device, now),
                OwnerCommand::Quarantine => self.policy.quarantine(c.device, now),
                OwnerCommand::Profile => {
                    self.profile_changed(c.device);
                    Vec::new()
                }
            };
            self.handle(changes);
            if let Err(e) = self.store.finish_command(c.id, now) {
                self.errors += 1;
                log(&format!("error: storing an owner command as done: {e}"));
            }
        }
    }

    /// The owner's profile mapping of `device` changed: read it again. The
    /// device's profile is looked up anew with its next packet.
    fn profile_changed(&mut self, device: Mac) {
        match self.store.profile_mapping(device) {
            Ok(m) => {
                self.profiles
                    .set_owner(device, m.map(|m| owner_profile(&m)));
                self.profile_checked.remove(&device);
            }
            Err(e) => {
                self.errors += 1;
                log(&format!("error: reading the profile of {device}: {e}"));
            }
        }
    }

    /// Looks `device`'s profile up when it is new to the guard or its
    /// identity changed (at most every few seconds of the clock).
    fn check_profile(&mut self, device: &Device, ts_ns: i64) {
        let s = ts_ns.div_euclid(1_000_000_000);
        let id = DeviceId {
            mud_url: device.identity.dhcp().mud_url(),
            vendor: device.vendor(),
            model: device.identity.model(),
            firmware: device.identity.firmware(),
        };
        if let Some((checked, _)) = self.profile_checked.get(&device.mac) {
            if s.saturating_sub(*checked) < PROFILE_CHECK_S {
                return;
            }
        }
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            id.hash(&mut h);
            h.finish()
        };
        let known = self.profile_checked.get(&device.mac).map(|(_, h)| *h);
        if self.profile_checked.len() >= MAX_FACTS && known.is_none() {
            // Forget the lookups, not the profiles: they are looked up again.
            self.profile_checked.clear();
        }
        self.profile_checked.insert(device.mac, (s, hash));
        if known == Some(hash) {
            return;
        }
        let assigned = self.profiles.resolve(device.mac, &id);
        let label = assigned
            .as_ref()
            .map(|a| format!("{} ({})", a.label, a.source));
        if assigned.is_some() {
            self.learner.forget(device.mac);
        }
        if self.judge.assign(device.mac, assigned) {
            match label {
                Some(l) => log(&format!("{}: network profile {l}", device.mac)),
                None => log(&format!("{}: no network profile", device.mac)),
            }
            self.dirty = true;
        }
    }

    /// Stores what was newly learned of devices without a profile.
    fn save_learned(&mut self) {
        for (mac, l) in self.learner.take_changed() {
            let record = warden_state::LearnedProfile {
                since: Timestamp(l.since_ns),
                updated: Timestamp(l.updated_ns),
                network: serde_json::to_string(&l.network).unwrap_or_else(|_| "{}".into()),
                unnamed: l.unnamed,
            };
            if let Err(e) = self.store.set_learned_profile(mac, &record) {
                self.errors += 1;
                log(&format!("error: storing what was learned of {mac}: {e}"));
            }
        }
    }

    /// A profile violation began or goes on: stored, told and decided like
    /// every other alert (one alert per incident, then updates).
    fn profile_event(&mut self, device: &Device, event: Event) {
        let (incident, raised) = match event {
            Event::Raised(i) => (i, true),
            Event::Updated(i) => (i, false),
        };
        let Some(assigned) = self.judge.assigned(device.mac) else {
            return;
        };
        let alert = profile_alert(&incident, assigned);
        if raised {
            self.alert(device, &alert);
        } else {
            self.update(device, &alert);
        }
    }

    /// What the firewall lets a device held to its profile do.
    fn profile_rules(&self, device: Mac, now: Timestamp, reason: Label) -> Option<ProfileRules> {
        let allow = self
            .judge
            .allowances(device, now.0)?
            .into_iter()
            .flat_map(|a| {
                let proto = match a.protocol {
                    warden_model::model::Protocol::Tcp => Some(L4::Tcp),
                    warden_model::model::Protocol::Udp => Some(L4::Udp),
                    warden_model::model::Protocol::Icmp => Some(L4::Icmp),
                    warden_model::model::Protocol::Icmpv6 => Some(L4::Icmpv6),
                    warden_model::model::Protocol::Any => None,
                };
                let peer = match a.peers {
                    Peers::Local => Some(ProfilePeer::Local),
                    Peers::Addrs { name, addrs } => Some(ProfilePeer::Addrs {
                        name: Label::new(&name),
                        addrs,
                    }),
                    Peers::None => None,
                };
                peer.map(|peer| ProfileAllow {
                    from_device: a.from_device,
                    proto,
                    port: a.port,
                    peer,
                })
            })
            .collect();
        Some(ProfileRules { allow, reason })
    }

    /// Ticks the policy once per second of the clock (capture time in
    /// replay, kernel time live). New decisions are enforced at once, after
    /// the frame that caused them; a failed apply is retried on the next
    /// second, not on every frame.
    fn maybe_tick(&mut self, now_ns: i64) {
        let s = now_ns.div_euclid(1_000_000_000);
        if s > self.last_tick_s {
            self.last_tick_s = s;
            self.tick(Timestamp(now_ns));
        } else if self.dirty && self.failed_s < s {
            self.enforce(Timestamp(now_ns));
        }
    }

    /// The tables for the decisions in force.
    fn desired(&self, now: Timestamp) -> Enforcement {
        let mut e = self.base.clone();
        e.devices.clear();
        for d in self.policy.active(now) {
            let Ok(mac) = warden_enforce::Mac::new(d.device.0) else {
                continue;
            };
            let rules: &mut DeviceRules = e.devices.entry(mac).or_default();
            rules.name = Label::new(&d.device.to_string());
            let reason = Label::new(&d.reason.text);
            match &d.action {
                Action::Notify => {}
                Action::RateLimit {
                    packets_per_s,
                    bytes_per_s,
                } => {
                    rules.rate_limit = Some(warden_enforce::RateLimit {
                        packets_per_s: NonZeroU32::new(*packets_per_s),
                        bytes_per_s: NonZeroU64::new(*bytes_per_s),
                        reason,
                    })
                }
                Action::BlockSmtp => rules.block_smtp = Some(reason),
                Action::BlockUpnp => rules.block_upnp = Some(reason),
                Action::EnforceProfile => {
                    rules.profile = self.profile_rules(d.device, now, reason);
                }
                Action::Quarantine => {
                    rules.quarantine = Some(Quarantine {
                        allow: self.quarantine_allow(d.device),
                        reason,
                    })
                }
            }
        }
        e
    }

    /// Devices quarantined now.
    fn quarantined(&self, now: Timestamp) -> Vec<Mac> {
        self.policy
            .active(now)
            .filter(|d| d.action == Action::Quarantine)
            .map(|d| d.device)
            .collect()
    }

    /// What one quarantined device may still reach: DNS and NTP as
    /// configured, and on TCP 443 and 80 the allowed addresses and the
    /// addresses its resolver gave it for allowed names.
    fn quarantine_allow(&self, device: Mac) -> Vec<Allow> {
        let allowance = self
            .quarantine
            .allowance(warden_oui::lookup(device.0).vendor);
        let mut allow = Vec::new();
        if allowance.dns {
            allow.push(Allow::Dns);
        }
        if allowance.ntp {
            allow.push(Allow::Ntp);
        }
        let granted = self.grants.addrs(device).map(ipnet::IpNet::from);
        for net in allowance.nets.into_iter().chain(granted) {
            for port in [443, 80] {
                allow.push(Allow::Net {
                    net,
                    proto: Some(Proto::Tcp),
                    port: Some(port),
                });
            }
        }
        allow
    }

    fn enforce(&mut self, now: Timestamp) {
        let desired = self.desired(now);
        let result = match &mut self.enforcer {
            Enforcer::DryRun { last } => warden_enforce::dry_run(&desired).map(|script| {
                if last.as_deref() != Some(script.as_str()) {
                    println!(
                        "# nftables for {} device(s) at {now}",
                        desired.devices.len()
                    );
                    println!("{script}");
                    *last = Some(script);
                }
            }),
            Enforcer::Nft => warden_enforce::apply(&desired),
        };
        match result {
            Ok(()) => self.dirty = false,
            Err(e) => {
                // Stays dirty: the next second tries again.
                self.failed_s = now.0.div_euclid(1_000_000_000);
                self.errors += 1;
                log(&format!("error: enforcing: {e}"));
            }
        }
    }

    /// What the feed thread reports: syncs are logged, matches become
    /// decisions through the policy, and listings no longer matching end
    /// theirs.
    fn feed_event(&mut self, event: FeedEvent, now: Timestamp) {
        match event {
            FeedEvent::Synced {
                from,
                to,
                via,
                fresh,
            } => {
                if from != to {
                    let msg = format!("feed: now at version {to} (was {from}, {via:?})");
                    log(&msg);
                    self.note_feed("feed-sync", &msg, now);
                    // Check the devices against the new listings at once.
                    self.next_feed_check_s = i64::MIN;
                }
                if !fresh {
                    log("feed: warning: the feed server's timestamp has expired; acting on the last good copy");
                }
            }
            FeedEvent::SyncFailed { error, version } => {
                let msg = format!("feed: sync failed, keeping version {version}: {error}");
                log(&msg);
                self.note_feed("feed-sync-failed", &msg, now);
            }
            FeedEvent::CheckFailed { error } => {
                self.errors += 1;
                log(&format!("feed: error: checking the devices: {error}"))
            }
            FeedEvent::Matched {
                checked,
                matches,
                version,
            } => {
                let mut listed = std::collections::BTreeSet::new();
                for m in &matches {
                    let Some(mac) = checked.get(m.device).copied() else {
                        continue;
                    };
                    let l = &m.listing;
                    listed.insert((mac, l.id.clone()));
                    let compromised = l.severity == Severity::CompromisedInTheWild;
                    let summary = feed_summary(mac, m, version);
                    let changes = self
                        .policy
                        .on_feed_match(mac, &l.id, compromised, &summary, now);
                    if changes.iter().any(|c| matches!(c, Change::Started(_))) {
                        if let Err(e) =
                            self.store
                                .record_event(now, Some(mac), "feed-match", &summary.text)
                        {
                            self.errors += 1;
                            log(&format!("error: storing a feed match: {e}"));
                        }
                    }
                    self.handle_with(changes, false);
                }
                let checked: std::collections::BTreeSet<Mac> = checked.into_iter().collect();
                let changes = self.policy.feed_unlisted(now, |mac, entry| {
                    !checked.contains(&mac) || listed.contains(&(mac, entry.to_owned()))
                });
                self.handle(changes);
            }
        }
    }

    /// Keeps a feed sync's outcome in the timeline (the dashboard shows the
    /// newest as the feed's status), stamped with the wall clock. Syncs that
    /// change nothing are not recorded: one line an hour would bury the rest.
    fn note_feed(&mut self, kind: &str, message: &str, _now: Timestamp) {
        if self.last_feed_note == message {
            return;
        }
        self.last_feed_note = message.to_owned();
        let at = Timestamp(wall_clock_ns());
        if let Err(e) = self.store.record_event(at, None, kind, message) {
            self.errors += 1;
            log(&format!("error: storing the feed's status: {e}"));
        }
    }

    /// Sends a sighting of this alert to the feed server, once per device
    /// and kind per hour. Devices with locally administered MACs have no
    /// type to report and are skipped.
    fn report(&mut self, device: &Device, alert: &Alert) {
        let Some((reporter, key)) = &mut self.reporter else {
            return;
        };
        // A profile is this network's (or its owner's) expectation, not a
        // behaviour other networks can compare: not reported to the feed.
        if alert.kind == AlertKind::ProfileViolation {
            return;
        }
        let hour = alert.detected_at.0.div_euclid(3_600_000_000_000);
        let last = self.reported.insert((device.mac, alert.kind), hour);
        if last == Some(hour) {
            return;
        }
        if self.reported.len() > MAX_FACTS {
            self.reported.retain(|_, h| *h >= hour - 1);
        }
        if let Ok(sighting) = Sighting::from_device(device, alert, key, unix_now()) {
            reporter.send(sighting);
        }
    }

    fn device_seen(&mut self, device: &Device) {
        if let Err(e) = self.store.upsert_device(&DeviceRecord::from_device(device)) {
            self.errors += 1;
            log(&format!("error: storing device {}: {e}", device.mac));
        }
    }
}

impl Sink for Guard {
    /// New flows of devices with a profile are judged against it.
    fn packet(&mut self, device: &Device, ts_ns: i64, outbound: bool, packet: &Packet<'_>) {
        self.check_profile(device, ts_ns);
        if self.judge.assigned(device.mac).is_none() {
            self.learner.packet(device.mac, ts_ns, outbound, packet);
            return;
        }
        if let Some(event) = self.judge.packet(device.mac, ts_ns, outbound, packet) {
            self.profile_event(device, event);
        }
    }

    fn alert(&mut self, device: &Device, alert: &Alert) {
        self.device_seen(device);
        self.report(device, alert);
        let summary = AlertSummary::of(alert, &device.label());
        if let Err(e) = self.store.record_alert(device.mac, alert, &summary.text) {
            self.errors += 1;
            log(&format!("error: storing an alert: {e}"));
        }
        let changes = self
            .policy
            .on_alert(device.mac, alert.kind, &summary, alert.detected_at);
        self.handle(changes);
    }

    fn update(&mut self, device: &Device, alert: &Alert) {
        let now = Timestamp(device.last_seen_ns.max(alert.detected_at.0));
        let summary = AlertSummary::of(alert, &device.label());
        let changes = self
            .policy
            .on_ongoing(device.mac, alert.kind, &summary, now);
        self.handle(changes);
    }

    /// The router's resolver named an address for a quarantined device: if
    /// the name is one its quarantine allows, that address is granted to
    /// that device (docs/policy.md, "Quarantine allow-list"). Answers from
    /// anyone but the router's own addresses are not believed: another LAN
    /// device could forge one to open a way out.
    fn dns_answer(&mut self, device: &Device, answer: &DnsAnswer<'_>) {
        if !self.base.router_addrs.contains(&answer.resolver) {
            return;
        }
        let now = Timestamp(answer.ts_ns);
        // Names in a device's profile: the same binding, per device.
        self.check_profile(device, answer.ts_ns);
        if self.judge.dns_answer(
            device.mac,
            answer.name,
            answer.addrs,
            answer.ttl_s,
            answer.ts_ns,
        ) && self
            .policy
            .active(now)
            .any(|d| d.device == device.mac && d.action == Action::EnforceProfile)
        {
            self.dirty = true;
        }
        if self.judge.assigned(device.mac).is_none() {
            self.learner
                .dns_answer(device.mac, answer.name, answer.addrs, answer.ts_ns);
        }
        let quarantined = self
            .policy
            .active(now)
            .any(|d| d.device == device.mac && d.action == Action::Quarantine);
        if !quarantined {
            return;
        }
        if !self
            .quarantine
            .allowance(device.vendor())
            .allows_name(answer.name)
        {
            return;
        }
        if self
            .grants
            .grant(device.mac, answer.addrs, answer.ttl_s, now)
        {
            self.dirty = true;
            let addrs: Vec<String> = answer.addrs.iter().map(IpAddr::to_string).collect();
            log(&format!(
                "{}: quarantined, but may reach {} ({}) on HTTPS and HTTP, as its quarantine allows that name",
                device.mac,
                answer.name,
                addrs.join(", ")
            ));
        }
    }
}

/// Devices seen since the last save are written this often (seconds of
/// the clock), so `warden device list` shows every device, not only those
/// that alerted.
const DEVICE_SAVE_S: i64 = 30;

/// Pipeline and guard, shared by the frame and idle callbacks.
struct Daemon {
    pipeline: Pipeline,
    guard: Guard,
    /// Clock (ns) of the last device save.
    saved_ns: i64,
    /// Packets and bytes per device and minute, written with the devices.
    traffic: warden_state::TrafficCounter,
    /// Clock second the feed was last polled.
    feed_polled_s: i64,
}

impl Daemon {
    fn frame(&mut self, frame: &Frame<'_>) {
        self.pipeline.process(frame, &mut self.guard);
        self.traffic
            .count(frame.link, frame.data, frame.wire_len, frame.ts_ns);
        self.guard.maybe_tick(frame.ts_ns);
        self.maybe_save(frame.ts_ns);
        self.maybe_feed(frame.ts_ns);
    }

    fn idle(&mut self, now_ns: i64) {
        self.pipeline.advance(now_ns, &mut self.guard);
        self.guard.maybe_tick(now_ns);
        self.maybe_save(now_ns);
        self.maybe_feed(now_ns);
    }

    /// Takes in what the feed thread reported, and sends it the devices to
    /// check every `check_interval_s` (and at once after a new version).
    fn maybe_feed(&mut self, now_ns: i64) {
        // Once per second of the clock, not per frame.
        let s = now_ns.div_euclid(1_000_000_000);
        if s == self.feed_polled_s {
            return;
        }
        self.feed_polled_s = s;
        let Some(feed) = self.guard.feed.as_mut() else {
            return;
        };
        let mut events = Vec::new();
        while let Some(e) = feed.poll() {
            events.push(e);
        }
        for e in events {
            self.guard.feed_event(e, Timestamp(now_ns));
        }
        if s < self.guard.next_feed_check_s {
            return;
        }
        let facts = self.device_facts();
        let Some(feed) = self.guard.feed.as_mut() else {
            return;
        };
        if feed.check(facts) {
            self.guard.next_feed_check_s = s.saturating_add(self.guard.feed_check_interval_s);
        }
    }

    /// The facts of every device known, live ones over stored ones.
    fn device_facts(&mut self) -> Vec<DeviceFacts> {
        for d in self.pipeline.devices().iter() {
            let live = DeviceFacts::of_device(d);
            let merged = merge_facts(self.guard.facts.get(&d.mac), live);
            if self.guard.facts.len() < MAX_FACTS || self.guard.facts.contains_key(&d.mac) {
                self.guard.facts.insert(d.mac, merged);
            }
        }
        self.guard.facts.values().cloned().collect()
    }

    /// One feed check that waits for its answer (the end of a replay).
    fn feed_check_now(&mut self, now_ns: i64) {
        if self.guard.feed.is_none() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        // Let a check in flight and the first sync report first.
        while std::time::Instant::now() < deadline {
            let Some(feed) = self.guard.feed.as_mut() else {
                return;
            };
            let busy = feed.check_in_flight;
            match feed.wait(std::time::Duration::from_millis(200)) {
                Some(e) => self.guard.feed_event(e, Timestamp(now_ns)),
                None if !busy => break,
                None => {}
            }
        }
        let facts = self.device_facts();
        let Some(feed) = self.guard.feed.as_mut() else {
            return;
        };
        if !feed.check(facts) {
            return;
        }
        while std::time::Instant::now() < deadline {
            let Some(feed) = self.guard.feed.as_mut() else {
                return;
            };
            if let Some(e) = feed.wait(std::time::Duration::from_millis(200)) {
                let done = matches!(e, FeedEvent::Matched { .. } | FeedEvent::CheckFailed { .. });
                self.guard.feed_event(e, Timestamp(now_ns));
                if done {
                    break;
                }
            }
        }
    }

    fn maybe_save(&mut self, now_ns: i64) {
        if now_ns.saturating_sub(self.saved_ns) >= DEVICE_SAVE_S * 1_000_000_000 {
            self.save_devices(now_ns);
        }
    }

    /// Writes the devices seen since the last save, in one transaction.
    fn save_devices(&mut self, now_ns: i64) {
        let since = self.saved_ns;
        let records: Vec<DeviceRecord> = self
            .pipeline
            .devices()
            .iter()
            .filter(|d| d.last_seen_ns > since && d.packets_out > 0)
            .map(DeviceRecord::from_device)
            .collect();
        self.saved_ns = now_ns;
        if let Err(e) = self.guard.store.upsert_devices(&records) {
            self.guard.errors += 1;
            log(&format!("error: storing {} devices: {e}", records.len()));
        }
        // After the devices: only known devices' counters are kept.
        if let Err(e) = self.traffic.flush(&mut self.guard.store, Timestamp(now_ns)) {
            self.guard.errors += 1;
            log(&format!("error: storing traffic counters: {e}"));
        }
    }
}

fn wall_clock_ns() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64
}

pub fn run(mut args: Args) -> Result<ExitCode> {
    let cfg = Config::load_or_default(args.config.as_deref())?;
    // The command line overrides [run] in the configuration file.
    let run = &cfg.run;
    if args.interfaces.is_empty() {
        args.interfaces = run.interfaces.clone();
    }
    if args.router_addrs.is_empty() {
        args.router_addrs = run.router_addrs.clone();
    }
    if args.webhook.is_none() && !run.webhook.is_empty() {
        args.webhook = Some(run.webhook.clone());
    }
    if args.ntfy.is_none() && !run.ntfy.is_empty() {
        args.ntfy = Some(run.ntfy.clone());
    }
    args.no_bridge |= !run.bridge;
    let dashboard = args
        .dashboard
        .clone()
        .unwrap_or_else(|| run.dashboard.clone());
    let db = args.db.clone().unwrap_or_else(|| run.db.clone());
    let table = args.table.clone().unwrap_or_else(|| run.table.clone());
    if args.replay.is_none() && args.interfaces.is_empty() {
        anyhow::bail!(
            "no interface to guard: give -i IFACE or [run] interfaces in the configuration"
        );
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut store = Store::open(&db).with_context(|| format!("opening {}", db.display()))?;

    let mut base = Enforcement {
        table: TableName::new(&table)?,
        router_addrs: args.router_addrs.clone(),
        bridge: !args.no_bridge,
        ..Enforcement::default()
    };
    if args.replay.is_none() {
        base.lan_interfaces = args
            .interfaces
            .iter()
            .map(|i| IfName::new(i))
            .collect::<Result<_, _>>()?;
    }
    let names = &cfg.policy.quarantine;
    if base.router_addrs.is_empty()
        && names
            .allow_hosts
            .iter()
            .chain(names.update_hosts.values().flatten())
            .any(|h| h.parse::<ipnet::IpNet>().is_err() && h.parse::<IpAddr>().is_err())
    {
        log("warning: the quarantine allows host names, but without --router-addr no resolver is trusted to name their addresses; they stay blocked");
    }

    // Start from what was decided before: restore, repair, expire, enforce.
    let start = match &args.replay {
        Some(_) => None,
        None => Some(Timestamp(wall_clock_ns())),
    };
    let now = start.unwrap_or(Timestamp(0));
    let (policy, repairs) = Policy::restore(cfg.policy.clone(), store.policy_state()?, now)?;
    let (feed, facts) = if cfg.feed.url.is_empty() {
        (None, BTreeMap::new())
    } else {
        let trusted = open_feed(&cfg.feed)?;
        log(&format!(
            "feed: {} (version {} held, pinned to {})",
            cfg.feed.url,
            trusted.version(),
            cfg.feed.root.display()
        ));
        (
            Some(FeedLink::start(&cfg.feed, trusted)),
            stored_facts(&store.devices()?),
        )
    };
    let reporter = if cfg.feed.report_url.is_empty() {
        None
    } else {
        let key = KeyPair::load_or_create(&cfg.feed.key)
            .with_context(|| format!("this router's feed key {}", cfg.feed.key.display()))?;
        log(&format!(
            "feed: reporting sightings to {} as {}",
            cfg.feed.report_url,
            key.key_id().as_str()
        ));
        let jitter = std::time::Duration::from_secs(cfg.feed.report_jitter_s.min(3_600));
        // The sending thread signs with a key of its own, read from the same file.
        let signer = KeyPair::load(&cfg.feed.key)
            .with_context(|| format!("this router's feed key {}", cfg.feed.key.display()))?;
        let sender = Reporter::start(&cfg.feed.report_url, signer, jitter);
        Some((sender, key))
    };
    store.record_changes(&repairs)?;
    let profiles = load_profiles(&cfg.profiles, &store)?;
    let catalog = warden_dashboard::i18n::Catalog::get(&run.language)?;
    let mut guard = Guard {
        policy,
        store,
        enforcer: if args.dry_run {
            Enforcer::DryRun { last: None }
        } else {
            Enforcer::Nft
        },
        base,
        quarantine: cfg.policy.quarantine.clone(),
        grants: NameGrants::default(),
        dirty: true,
        errors: 0,
        last_tick_s: i64::MIN,
        failed_s: i64::MIN,
        webhook: args.webhook.clone().map(crate::webhook::Webhook::start),
        ntfy: args
            .ntfy
            .clone()
            .map(|u| crate::webhook::Webhook::start_with(u, crate::webhook::Style::Ntfy)),
        mail: (!run.smtp.server.is_empty())
            .then(|| crate::smtp::start(&run.smtp, catalog))
            .transpose()?,
        catalog,
        feed,
        facts,
        next_feed_check_s: i64::MIN,
        feed_check_interval_s: cfg.feed.check_interval_s.max(1) as i64,
        reporter,
        reported: BTreeMap::new(),
        last_feed_note: String::new(),
        profiles,
        judge: Judge::new(args.router_addrs.clone()),
        profile_checked: std::collections::HashMap::new(),
        learner: warden_profile::learn::Learner::new(
            args.router_addrs.clone(),
            cfg.profiles.learn_window_s,
        ),
        learned_saved_s: i64::MIN,
    };
    // Devices the owner mapped are held to their profile from the start,
    // so a restored enforce-profile decision is enforced before they are seen.
    let owned: Vec<(Mac, Assigned)> = guard
        .profiles
        .owner_profiles()
        .map(|(m, a)| (m, a.clone()))
        .collect();
    for (mac, assigned) in owned {
        guard.judge.assign(mac, Some(assigned));
    }
    // The capture opens before "started" is said, so that nothing sent
    // after it is missed: the rings hold frames until the loop reads them.
    let live = match &args.replay {
        Some(_) => None,
        None => Some(warden_live::LiveCapture::open(
            &warden_live::LiveConfig::new(args.interfaces.clone()),
        )?),
    };
    let active = guard.policy.active(now).count();
    log(&format!(
        "started; {active} decision(s) in force restored from {}",
        db.display()
    ));
    if let Some(now) = start {
        guard.tick(now);
    }
    // The household's window (docs/dashboard.md): over the same database,
    // its owner commands queued like `warden device`'s. A dashboard that
    // cannot start is logged; the guard guards on without it.
    let dashboard = match (&args.replay, dashboard.as_str()) {
        (Some(_), _) | (_, "" | "off") => None,
        (None, addr) => match addr.parse::<std::net::SocketAddr>() {
            Err(_) => anyhow::bail!("dashboard address {addr:?} is not IP:PORT (or `off`)"),
            Ok(listen) => match warden_dashboard::spawn(warden_dashboard::Config {
                language: catalog.language.to_owned(),
                models: Some(cfg.profiles.models.clone()),
                tls: match &run.dashboard_tls {
                    warden_pipeline::DashboardTls::Mode(m) => warden_dashboard::tls::Tls::parse(m)?,
                    warden_pipeline::DashboardTls::Files { cert, key } => {
                        warden_dashboard::tls::Tls::Files {
                            cert: cert.clone(),
                            key: key.clone(),
                        }
                    }
                },
                ..warden_dashboard::Config::new(&db, listen)
            }) {
                Ok(running) => Some(running),
                Err(e) => {
                    log(&format!("warning: the dashboard did not start: {e:#}"));
                    None
                }
            },
        },
    };

    let daemon = RefCell::new(Daemon {
        pipeline: Pipeline::new(&cfg),
        guard,
        saved_ns: i64::MIN,
        traffic: Default::default(),
        feed_polled_s: i64::MIN,
    });
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))?;

    match (&args.replay, live) {
        (Some(path), _) => {
            let mut source = PcapFile::open(path)?;
            let stats = source.run(&mut |f| daemon.borrow_mut().frame(&f))?;
            let mut d = daemon.borrow_mut();
            let end = d.pipeline.stats().last_ns.unwrap_or(0);
            d.idle(end);
            d.feed_check_now(end);
            if d.guard.dirty {
                d.guard.enforce(Timestamp(end));
            }
            log(&format!(
                "replayed {} frames from {}",
                stats.frames,
                path.display()
            ));
        }
        (None, None) => anyhow::bail!("no capture: give --interface or --replay"),
        (None, Some(mut live)) => {
            let stats = live.run(&stop, &mut |f| daemon.borrow_mut().frame(&f), &mut |now| {
                daemon.borrow_mut().idle(now)
            })?;
            log(&format!(
                "stopping: {} frames, {} dropped by the kernel, {} interface reopen(s)",
                stats.frames, stats.drops, stats.reopens
            ));
        }
    }
    let mut d = daemon.into_inner();
    let end = d.pipeline.stats().last_ns.unwrap_or(0);
    d.save_devices(end);
    d.guard.save_learned();
    if let Some((reporter, _)) = d.guard.reporter.take() {
        let dropped = reporter.dropped;
        let stats = reporter.finish(std::time::Duration::from_secs(20));
        log(&format!(
            "sightings: {} accepted, {} refused, {} given up, {} not queued (queue full)",
            stats.accepted, stats.refused, stats.failed, dropped
        ));
    }
    d.guard.feed.take();
    if let Some(running) = dashboard {
        if let Err(e) = running.stop() {
            log(&format!(
                "warning: the dashboard stopped with an error: {e:#}"
            ));
        }
    }
    for (name, hook) in [
        ("webhook", d.guard.webhook.take()),
        ("ntfy", d.guard.ntfy.take()),
        ("smtp", d.guard.mail.take()),
    ] {
        let Some(hook) = hook else { continue };
        let dropped = hook.dropped;
        let stats = hook.finish(std::time::Duration::from_secs(20));
        log(&format!(
            "{name}: {} delivered, {} given up, {} not queued (queue full)",
            stats.delivered, stats.failed, dropped
        ));
    }
    let active = d
        .guard
        .policy
        .active(Timestamp(d.pipeline.stats().last_ns.unwrap_or(0)))
        .count();
    log(&format!(
        "{active} decision(s) in force stay enforced; `warden uninstall-rules` removes warden's tables"
    ));
    Ok(if d.guard.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(clap::Args)]
pub struct UninstallArgs {
    /// Name of warden's nftables tables.
    #[arg(long, default_value = "warden")]
    pub table: String,
}

/// `warden uninstall-rules`: remove warden's tables (idempotent).
pub fn uninstall(args: UninstallArgs) -> Result<ExitCode> {
    warden_enforce::remove(&TableName::new(&args.table)?)?;
    log(&format!("removed the {} tables", args.table));
    Ok(ExitCode::SUCCESS)
}

/// The profile sources of the configuration, and the owner's mappings.
fn load_profiles(cfg: &warden_pipeline::ProfilesConfig, store: &Store) -> Result<Sources> {
    let mut sources = Sources::new();
    if !cfg.models.as_os_str().is_empty() && cfg.models.is_dir() {
        let catalog = warden_profile::Catalog::load(&cfg.models)
            .with_context(|| format!("reading threat models in {}", cfg.models.display()))?;
        for s in &catalog.skipped {
            log(&format!("warning: threat model not used: {s}"));
        }
        sources = sources.with_catalog(catalog);
    }
    if !cfg.mud_dir.as_os_str().is_empty()
        && cfg.mud_dir.join(warden_profile::guard::MUD_INDEX).is_file()
    {
        sources = sources
            .with_mud_dir(&cfg.mud_dir)
            .map_err(|e| anyhow::anyhow!("the MUD directory: {e}"))?;
        for s in sources.skipped() {
            log(&format!("warning: MUD file not used: {s}"));
        }
    }
    let mappings = store.profile_mappings()?;
    for (mac, m) in &mappings {
        sources.set_owner(*mac, Some(owner_profile(m)));
    }
    let (models, muds) = sources.sizes();
    log(&format!(
        "profiles: {models} threat model(s), {muds} MUD URL(s), {} owner mapping(s)",
        mappings.len()
    ));
    Ok(sources)
}

/// The owner's mapping as the guard uses it: `none` is "no profile".
fn owner_profile(m: &ProfileMapping) -> Option<Assigned> {
    let json = m.network.as_deref()?;
    match warden_profile::guard::profile_from_network_json(json) {
        Ok(p) => Some(Assigned {
            profile: Arc::new(p),
            source: "owner",
            label: m.label.clone(),
        }),
        Err(e) => {
            log(&format!(
                "warning: the owner's profile {:?} is unusable: {e}",
                m.label
            ));
            None
        }
    }
}

/// The `profile-violation` alert of an incident.
fn profile_alert(i: &Incident, a: &Assigned) -> Alert {
    let flows = i
        .flows
        .iter()
        .map(|f| DeniedFlow {
            direction: if f.outbound {
                "from-device"
            } else {
                "to-device"
            },
            protocol: f.proto.as_str(),
            peer: f.peer,
            port: f.port,
            names: f.names.clone(),
            attempts: f.attempts,
            first_seen: Timestamp(f.first_ns),
        })
        .collect();
    Alert {
        kind: AlertKind::ProfileViolation,
        detected_at: Timestamp(i.last_ns),
        confidence: 1.0,
        evidence: Evidence::ProfileViolation(ProfileEvidence {
            first_seen: Timestamp(i.first_ns),
            last_seen: Timestamp(i.last_ns),
            source: a.source.to_owned(),
            profile: a.label.clone(),
            denied_flows: i.distinct,
            flows,
        }),
    }
}

/// The `feed-match` alert's sentence and evidence: which listing matched,
/// why, and what the feed recommends.
fn feed_summary(mac: Mac, m: &FeedMatch, version: u64) -> AlertSummary {
    let l = &m.listing;
    let severity = match l.severity {
        Severity::Vulnerable => "vulnerable",
        Severity::CompromisedInTheWild => "compromised in the wild",
    };
    let vendor = warden_oui::lookup(mac.0).vendor.unwrap_or("unknown vendor");
    let text = format!(
        "feed-match: device {mac} ({vendor}) is of a type that warden's threat feed lists as {severity}: {} It matches listing {} because of its {}.",
        l.reason.trim_end_matches('.').to_owned() + ".",
        l.id,
        m.why
    );
    let refs = if l.references.is_empty() {
        String::new()
    } else {
        format!("; references {}", l.references.join(", "))
    };
    let evidence = format!(
        "feed v{version} listing {}: {} reporters on {} networks, {} sightings; recommended {:?}{refs}",
        l.id, l.evidence.reporters, l.evidence.networks, l.evidence.sightings, l.action
    );
    AlertSummary::new(text, evidence)
}
