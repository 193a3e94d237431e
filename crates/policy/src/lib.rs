//! Alerts become decisions.
//!
//! [`Policy`] turns each alert into decisions (notify, rate-limit, block
//! SMTP, block UPnP, quarantine), each with a reason, a start, an expiry and
//! an escalation level, and keeps the owner's word above its own:
//!
//! - **Secure defaults** ([`PolicyConfig::default`]): a flood is
//!   rate-limited, a scanner or password guesser quarantined, a spam bot's
//!   mail blocked, all at once and for an hour, without asking anyone.
//! - **Escalation**: an offence before the device's escalation memory
//!   (`escalation_window_s` past the expiry of its last decisions) runs out
//!   is a repeat: the lifetime doubles per repeat up to `max_lifetime_s`,
//!   and a kind may switch to a stronger action (a second flood
//!   quarantines).
//! - **The owner wins**: [`Policy::trust`] ends every decision on a device
//!   and keeps automation off it; [`Policy::quarantine`] quarantines it with
//!   no expiry that no alert or tick changes; [`Policy::release`] ends
//!   everything and hands the device back to automation with a clean
//!   record.
//!
//! Pure and deterministic: no clock, no I/O, no randomness, ordered maps.
//! Time is passed in (capture time offline, wall time live), and the same
//! calls give the same [`Change`]s. The daemon stores every change (crate
//! `warden-state`) and rebuilds the policy with [`Policy::restore`] after a
//! restart; [`Policy::active`] is the enforcement state to apply.
//!
//! Memory is bounded by `max_devices` entries (see [`Policy::on_alert`] for
//! what happens when full), each holding at most one decision per action.

mod action;
mod config;
mod decision;
mod grants;
mod message;
#[cfg(test)]
mod tests;

pub use action::{Action, ActionKind};
pub use config::{
    FeedPolicyConfig, KindPolicy, PolicyConfig, ProfileAction, ProfilePolicyConfig,
    QuarantineAllowance, QuarantineConfig, RateLimitConfig,
};
pub use decision::{
    evidence_line, AlertSummary, Change, Choice, Decision, EndReason, Escalation, OwnerChoice,
    Reason, Source, MAX_EVIDENCE, MAX_TEXT,
};
pub use grants::{NameGrants, MAX_GRANTS_PER_DEVICE, MAX_GRANT_S, MIN_GRANT_S};
pub use message::{duration, messages};
pub use warden_decode::Mac;
pub use warden_detect::{AlertKind, Timestamp};

use std::collections::BTreeMap;

use serde::Serialize;

/// Highest escalation level (lifetimes are capped long before).
pub const MAX_LEVEL: u32 = 62;

/// A configuration the policy cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy configuration: {0}")]
pub struct ConfigError(pub String);

/// Counters of the policy's own behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyStats {
    /// Devices remembered now.
    pub devices: usize,
    /// Alerts not acted on because the table was full of devices with
    /// active decisions or owner choices.
    pub refused: u64,
    /// Escalation memories forgotten to make room.
    pub evicted: u64,
}

/// Everything needed to rebuild a policy: what `warden-state` keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyState {
    /// Decisions not yet ended (some may have expired while warden was
    /// down: the first [`Policy::tick`] after the restore ends them).
    pub decisions: Vec<Decision>,
    pub owner_choices: Vec<OwnerChoice>,
    pub escalations: Vec<Escalation>,
    /// The next decision id (one past the largest ever given).
    pub next_id: u64,
}

#[derive(Clone, Debug, Default)]
struct Entry {
    /// At most one per action among the feed's decisions and one per
    /// action among the others (an alert's quarantine and a listing's
    /// quarantine end for different reasons), in id order.
    decisions: Vec<Decision>,
    owner: Option<OwnerChoice>,
    level: u32,
    until: Option<Timestamp>,
}

impl Entry {
    /// Holds nothing that matters at `now`.
    fn idle(&self, now: Timestamp) -> bool {
        self.decisions.is_empty() && self.owner.is_none() && self.until.is_none_or(|u| u <= now)
    }

    /// A memory that ran out is no memory.
    fn forget_stale(&mut self, now: Timestamp) {
        if self.until.is_some_and(|u| u <= now) {
            self.until = None;
            self.level = 0;
        }
    }

    fn expire(&mut self, device: Mac, now: Timestamp, out: &mut Vec<Change>) {
        self.decisions.retain(|d| {
            if d.is_active(now) {
                return true;
            }
            out.push(Change::Ended {
                id: d.id,
                device,
                action: d.action,
                why: EndReason::Expired,
                at: now,
            });
            false
        });
    }

    fn end_where(
        &mut self,
        device: Mac,
        why: EndReason,
        now: Timestamp,
        out: &mut Vec<Change>,
        mut pred: impl FnMut(&Decision) -> bool,
    ) {
        self.decisions.retain(|d| {
            if !pred(d) {
                return true;
            }
            out.push(Change::Ended {
                id: d.id,
                device,
                action: d.action,
                why,
                at: now,
            });
            false
        });
    }

    fn reset_escalation(&mut self, device: Mac, out: &mut Vec<Change>) {
        if self.until.is_some() || self.level != 0 {
            self.level = 0;
            self.until = None;
            out.push(Change::Escalation(Escalation {
                device,
                level: 0,
                until: None,
            }));
        }
    }
}

/// The policy engine: alerts and owner commands in, [`Change`]s out.
#[derive(Clone, Debug)]
pub struct Policy {
    cfg: PolicyConfig,
    entries: BTreeMap<Mac, Entry>,
    next_id: u64,
    refused: u64,
    evicted: u64,
}

fn later(t: Timestamp, ns: i64) -> Timestamp {
    Timestamp(t.0.saturating_add(ns))
}

impl Policy {
    pub fn new(cfg: PolicyConfig) -> Result<Self, ConfigError> {
        cfg.validate().map_err(ConfigError)?;
        Ok(Policy {
            cfg,
            entries: BTreeMap::new(),
            next_id: 1,
            refused: 0,
            evicted: 0,
        })
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    pub fn stats(&self) -> PolicyStats {
        PolicyStats {
            devices: self.entries.len(),
            refused: self.refused,
            evicted: self.evicted,
        }
    }

    /// A new incident on `device`: decide.
    ///
    /// Nothing happens on a device the owner trusts or has quarantined (the
    /// owner's word stands; the daemon still logs and stores the alert).
    /// Otherwise the offence is a repeat if it comes before the device's
    /// escalation memory ends; the kind's actions for that level start, or
    /// extend a decision with the same action already in force, and this
    /// kind's earlier decisions with other actions end (`Escalated`).
    ///
    /// When `max_devices` devices are remembered, idle ones are forgotten,
    /// then the escalation memory that ends soonest; if every entry holds an
    /// active decision or an owner choice, the alert is refused and counted
    /// ([`PolicyStats::refused`]) rather than dropping a decision.
    pub fn on_alert(
        &mut self,
        device: Mac,
        kind: AlertKind,
        summary: &AlertSummary,
        now: Timestamp,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        self.offence(device, kind, summary, now, &mut out);
        out
    }

    /// An incident goes on. Decisions that answer it are extended when less
    /// than half their lifetime is left (so they do not run out under an
    /// attack that never stopped, and a steady attack costs one change per
    /// half-lifetime); if none is in force (it expired, or the alert came
    /// before a restart), this is a new offence.
    pub fn on_ongoing(
        &mut self,
        device: Mac,
        kind: AlertKind,
        summary: &AlertSummary,
        now: Timestamp,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        let window = self.cfg.escalation_window_ns();
        let Some(entry) = self.entries.get_mut(&device) else {
            self.offence(device, kind, summary, now, &mut out);
            return out;
        };
        if entry.owner.is_some() {
            return out;
        }
        entry.expire(device, now, &mut out);
        entry.forget_stale(now);
        let wanted: Vec<ActionKind> = self
            .cfg
            .actions_for(kind, entry.level)
            .iter()
            .map(Action::kind)
            .collect();
        let lifetime = self.cfg.lifetime_ns(kind, entry.level);
        let mut present = false;
        let mut latest: Option<Timestamp> = None;
        for d in entry
            .decisions
            .iter_mut()
            .filter(|d| wanted.contains(&d.action.kind()) && !d.source.is_feed())
        {
            present = true;
            let Some(expires) = d.expires else { continue };
            let new = later(now, lifetime);
            if expires.0.saturating_sub(now.0) < lifetime / 2 && new > expires {
                d.expires = Some(new);
                latest = latest.max(Some(new));
                out.push(Change::Extended {
                    id: d.id,
                    device,
                    action: d.action.kind(),
                    expires: d.expires,
                    escalation_level: d.escalation_level,
                    at: now,
                });
            }
        }
        if let Some(new) = latest {
            let until = later(new, window);
            if entry.until.is_none_or(|u| u < until) {
                entry.until = Some(until);
                out.push(Change::Escalation(Escalation {
                    device,
                    level: entry.level,
                    until: entry.until,
                }));
            }
        }
        if !present {
            self.offence(device, kind, summary, now, &mut out);
        }
        out
    }

    fn offence(
        &mut self,
        device: Mac,
        kind: AlertKind,
        summary: &AlertSummary,
        now: Timestamp,
        out: &mut Vec<Change>,
    ) {
        if self.entries.get(&device).is_some_and(|e| e.owner.is_some()) {
            return;
        }
        if !self.make_room(device, now, out) {
            self.refused += 1;
            return;
        }
        let window = self.cfg.escalation_window_ns();
        let entry = self.entries.entry(device).or_default();
        entry.expire(device, now, out);
        entry.forget_stale(now);
        let level = if entry.until.is_some() {
            entry.level.saturating_add(1).min(MAX_LEVEL)
        } else {
            0
        };
        let actions = self.cfg.actions_for(kind, level);
        let expires = later(now, self.cfg.lifetime_ns(kind, level));
        let wanted: Vec<ActionKind> = actions.iter().map(Action::kind).collect();
        // This kind's answer at this level replaces its earlier answers.
        entry.end_where(device, EndReason::Escalated, now, out, |d| {
            d.source == (Source::Automatic { alert: kind }) && !wanted.contains(&d.action.kind())
        });
        for action in actions {
            if let Some(d) = entry
                .decisions
                .iter_mut()
                .find(|d| d.action.kind() == action.kind() && !d.source.is_feed())
            {
                let new_expires = d.expires.map(|e| e.max(expires));
                let new_level = d.escalation_level.max(level);
                if new_expires != d.expires || new_level != d.escalation_level {
                    d.expires = new_expires;
                    d.escalation_level = new_level;
                    out.push(Change::Extended {
                        id: d.id,
                        device,
                        action: d.action.kind(),
                        expires: d.expires,
                        escalation_level: d.escalation_level,
                        at: now,
                    });
                }
                continue;
            }
            let d = Decision {
                id: self.next_id,
                device,
                action,
                reason: Reason {
                    alert: Some(kind),
                    text: summary.text.clone(),
                    evidence: summary.evidence.clone(),
                },
                source: Source::Automatic { alert: kind },
                start: now,
                expires: Some(expires),
                escalation_level: level,
            };
            self.next_id += 1;
            entry.decisions.push(d.clone());
            out.push(Change::Started(d));
        }
        entry.level = level;
        let until = later(expires, window);
        entry.until = Some(entry.until.map_or(until, |u| u.max(until)));
        out.push(Change::Escalation(Escalation {
            device,
            level,
            until: entry.until,
        }));
    }

    /// Whether `device` may be (or is) remembered; frees a place if needed.
    fn make_room(&mut self, device: Mac, now: Timestamp, out: &mut Vec<Change>) -> bool {
        if self.entries.contains_key(&device) || self.entries.len() < self.cfg.max_devices {
            return true;
        }
        self.entries.retain(|_, e| !e.idle(now));
        if self.entries.len() < self.cfg.max_devices {
            return true;
        }
        let victim = self
            .entries
            .iter()
            .filter(|(_, e)| e.decisions.is_empty() && e.owner.is_none())
            .min_by_key(|(mac, e)| (e.until, **mac))
            .map(|(mac, _)| *mac);
        let Some(victim) = victim else { return false };
        self.entries.remove(&victim);
        self.evicted += 1;
        out.push(Change::Escalation(Escalation {
            device: victim,
            level: 0,
            until: None,
        }));
        true
    }

    /// A device matches a feed listing (`entry` is the listing's id): the
    /// owner's feed policy for its severity (`[policy.feed]`) is carried
    /// out, as decisions whose source is the listing. Call it at every feed
    /// check while the device matches: a call renews them for `lifetime_s`
    /// once less than half of it is left. A trusted or owner-quarantined device is left alone.
    /// Feed decisions are not offences: they do not raise the device's
    /// escalation level.
    pub fn on_feed_match(
        &mut self,
        device: Mac,
        entry_id: &str,
        compromised: bool,
        summary: &AlertSummary,
        now: Timestamp,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        if self.entries.get(&device).is_some_and(|e| e.owner.is_some()) {
            return out;
        }
        if !self.make_room(device, now, &mut out) {
            self.refused += 1;
            return out;
        }
        let kinds = if compromised {
            &self.cfg.feed.compromised
        } else {
            &self.cfg.feed.vulnerable
        };
        let actions: Vec<Action> = kinds.iter().map(|k| self.cfg.action(*k)).collect();
        let expires = later(
            now,
            self.cfg.feed.lifetime_s.min(config::MAX_SECONDS) as i64 * 1_000_000_000,
        );
        let entry = self.entries.entry(device).or_default();
        entry.expire(device, now, &mut out);
        for action in actions {
            if let Some(d) = entry
                .decisions
                .iter_mut()
                .find(|d| d.action.kind() == action.kind() && d.source.is_feed())
            {
                // Renewed when less than half its lifetime is left: a
                // check a minute does not rewrite the decision every minute.
                let half = (expires.0 - now.0) / 2;
                if d.expires.is_some_and(|e| e.0.saturating_sub(now.0) < half) {
                    d.expires = Some(expires);
                    out.push(Change::Extended {
                        id: d.id,
                        device,
                        action: d.action.kind(),
                        expires: d.expires,
                        escalation_level: d.escalation_level,
                        at: now,
                    });
                }
                continue;
            }
            let d = Decision {
                id: self.next_id,
                device,
                action,
                reason: Reason {
                    alert: None,
                    text: summary.text.clone(),
                    evidence: summary.evidence.clone(),
                },
                source: Source::Feed {
                    entry: entry_id.to_owned(),
                },
                start: now,
                expires: Some(expires),
                escalation_level: 0,
            };
            self.next_id += 1;
            entry.decisions.push(d.clone());
            out.push(Change::Started(d));
        }
        out
    }

    /// Ends the feed's decisions on devices that `still_listed(device,
    /// entry)` says no longer match their listing: the listing was
    /// withdrawn, the vendor's fix covers the device's firmware, or the
    /// device changed.
    pub fn feed_unlisted(
        &mut self,
        now: Timestamp,
        mut still_listed: impl FnMut(Mac, &str) -> bool,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        for (mac, e) in self.entries.iter_mut() {
            e.end_where(*mac, EndReason::Delisted, now, &mut out, |d| {
                match &d.source {
                    Source::Feed { entry } => !still_listed(*mac, entry),
                    _ => false,
                }
            });
        }
        self.entries.retain(|_, e| !e.idle(now));
        out
    }

    /// Ends the decisions whose time ran out, and forgets devices that hold
    /// nothing any more. Call it every second or so, or at
    /// [`next_expiry`](Self::next_expiry).
    pub fn tick(&mut self, now: Timestamp) -> Vec<Change> {
        let mut out = Vec::new();
        for (mac, e) in self.entries.iter_mut() {
            e.expire(*mac, now, &mut out);
        }
        self.entries.retain(|_, e| !e.idle(now));
        out
    }

    /// When the next decision runs out, if any does.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        self.entries
            .values()
            .flat_map(|e| e.decisions.iter())
            .filter_map(|d| d.expires)
            .min()
    }

    /// The decisions in force at `now`, by device then id: the state the
    /// enforcer should have. Correct even between ticks.
    pub fn active(&self, now: Timestamp) -> impl Iterator<Item = &Decision> + '_ {
        self.entries
            .values()
            .flat_map(|e| e.decisions.iter())
            .filter(move |d| d.is_active(now))
    }

    /// The decisions in force on one device at `now`.
    pub fn active_for(&self, device: Mac, now: Timestamp) -> Vec<&Decision> {
        self.entries
            .get(&device)
            .map(|e| e.decisions.iter().filter(|d| d.is_active(now)).collect())
            .unwrap_or_default()
    }

    pub fn owner_choice(&self, device: Mac) -> Option<OwnerChoice> {
        self.entries.get(&device).and_then(|e| e.owner)
    }

    pub fn owner_choices(&self) -> impl Iterator<Item = OwnerChoice> + '_ {
        self.entries.values().filter_map(|e| e.owner)
    }

    /// The device's escalation memory at `now` (level 0 and no end when it
    /// has none).
    pub fn escalation(&self, device: Mac, now: Timestamp) -> Escalation {
        match self.entries.get(&device) {
            Some(e) if e.until.is_some_and(|u| u > now) => Escalation {
                device,
                level: e.level,
                until: e.until,
            },
            _ => Escalation {
                device,
                level: 0,
                until: None,
            },
        }
    }

    /// The owner trusts `device`: every decision on it ends, its record is
    /// cleared, and automation leaves it alone until the owner releases or
    /// quarantines it.
    pub fn trust(&mut self, device: Mac, now: Timestamp) -> Vec<Change> {
        let mut out = Vec::new();
        let entry = self.entries.entry(device).or_default();
        if entry.owner.is_some_and(|o| o.choice == Choice::Trust) {
            return out;
        }
        entry.forget_stale(now);
        entry.end_where(device, EndReason::Trusted, now, &mut out, |_| true);
        entry.owner = Some(OwnerChoice {
            device,
            choice: Choice::Trust,
            since: now,
        });
        out.push(Change::Owner {
            device,
            choice: Some(Choice::Trust),
            at: now,
        });
        entry.reset_escalation(device, &mut out);
        out
    }

    /// The owner quarantines `device`: its automatic decisions give way to
    /// one quarantine with no expiry, which alerts and ticks leave alone.
    pub fn quarantine(&mut self, device: Mac, now: Timestamp) -> Vec<Change> {
        let mut out = Vec::new();
        let entry = self.entries.entry(device).or_default();
        if entry.owner.is_some_and(|o| o.choice == Choice::Quarantine) {
            return out;
        }
        entry.forget_stale(now);
        entry.end_where(device, EndReason::OwnerQuarantine, now, &mut out, |_| true);
        entry.owner = Some(OwnerChoice {
            device,
            choice: Choice::Quarantine,
            since: now,
        });
        out.push(Change::Owner {
            device,
            choice: Some(Choice::Quarantine),
            at: now,
        });
        let d = owner_quarantine(self.next_id, device, now);
        self.next_id += 1;
        entry.decisions.push(d.clone());
        out.push(Change::Started(d));
        out
    }

    /// The owner releases `device`: every decision on it ends, the owner's
    /// choice is cleared, and so is its record: automation watches it again
    /// as a newcomer.
    pub fn release(&mut self, device: Mac, now: Timestamp) -> Vec<Change> {
        let mut out = Vec::new();
        let Some(entry) = self.entries.get_mut(&device) else {
            return out;
        };
        if entry.idle(now) {
            self.entries.remove(&device);
            return out;
        }
        entry.forget_stale(now);
        entry.end_where(device, EndReason::Released, now, &mut out, |_| true);
        entry.owner = None;
        out.push(Change::Owner {
            device,
            choice: None,
            at: now,
        });
        entry.reset_escalation(device, &mut out);
        self.entries.remove(&device);
        out
    }

    /// What to store to rebuild this policy; escalation memories that ran
    /// out by `now` are left out.
    pub fn snapshot(&self, now: Timestamp) -> PolicyState {
        let mut s = PolicyState {
            next_id: self.next_id,
            ..PolicyState::default()
        };
        for (mac, e) in &self.entries {
            s.decisions.extend(e.decisions.iter().cloned());
            s.owner_choices.extend(e.owner);
            if let Some(until) = e.until.filter(|u| *u > now) {
                s.escalations.push(Escalation {
                    device: *mac,
                    level: e.level,
                    until: Some(until),
                });
            }
        }
        s.decisions.sort_by_key(|d| d.id);
        s
    }

    /// Rebuilds a policy from stored state. Returns the changes that repair
    /// what contradicts the owner's choices (an automatic decision on a
    /// trusted device, an owner quarantine without its decision, two
    /// decisions with the same action on one device); record them as any
    /// other change. The order of the input does not matter.
    pub fn restore(
        cfg: PolicyConfig,
        state: PolicyState,
        now: Timestamp,
    ) -> Result<(Policy, Vec<Change>), ConfigError> {
        let mut p = Policy::new(cfg)?;
        let mut out = Vec::new();
        let mut owners = state.owner_choices;
        owners.sort_by_key(|o| (o.device, o.since, o.choice));
        for o in owners {
            p.entries.entry(o.device).or_default().owner = Some(o);
        }
        let mut decisions = state.decisions;
        decisions.sort_by_key(|d| d.id);
        decisions.dedup_by_key(|d| d.id);
        let mut next_id = state.next_id.max(1);
        for d in decisions {
            next_id = next_id.max(d.id.saturating_add(1));
            let entry = p.entries.entry(d.device).or_default();
            let has_same = entry.decisions.iter().any(|x| {
                x.action.kind() == d.action.kind() && x.source.is_feed() == d.source.is_feed()
            });
            let keep = match (entry.owner.map(|o| o.choice), &d.source) {
                (Some(Choice::Trust), _) => false,
                (Some(Choice::Quarantine), Source::Owner) => {
                    d.action == Action::Quarantine && d.expires.is_none() && !has_same
                }
                (Some(Choice::Quarantine), _) => false,
                (None, Source::Owner) => false,
                (None, _) => !has_same,
            };
            if keep {
                entry.decisions.push(d);
            } else {
                out.push(Change::Ended {
                    id: d.id,
                    device: d.device,
                    action: d.action,
                    why: EndReason::Inconsistent,
                    at: now,
                });
            }
        }
        for (mac, e) in p.entries.iter_mut() {
            let Some(o) = e.owner.filter(|o| o.choice == Choice::Quarantine) else {
                continue;
            };
            if !e.decisions.iter().any(|d| d.source == Source::Owner) {
                let d = owner_quarantine(next_id, *mac, o.since);
                next_id += 1;
                e.decisions.push(d.clone());
                out.push(Change::Started(d));
            }
        }
        let mut escalations = state.escalations;
        escalations.sort_by_key(|e| (e.device, e.until, e.level));
        for esc in escalations {
            let Some(until) = esc.until.filter(|u| *u > now) else {
                continue;
            };
            let entry = p.entries.entry(esc.device).or_default();
            if entry.owner.is_some_and(|o| o.choice == Choice::Trust) {
                continue;
            }
            entry.level = esc.level.min(MAX_LEVEL);
            entry.until = Some(until);
        }
        p.entries.retain(|_, e| !e.idle(now));
        p.next_id = next_id;
        Ok((p, out))
    }
}

fn owner_quarantine(id: u64, device: Mac, since: Timestamp) -> Decision {
    Decision {
        id,
        device,
        action: Action::Quarantine,
        reason: Reason {
            alert: None,
            text: format!("You quarantined this device ({device})."),
            evidence: String::new(),
        },
        source: Source::Owner,
        start: since,
        expires: None,
        escalation_level: 0,
    }
}
