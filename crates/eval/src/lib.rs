//! Detection quality on labelled captures.
//!
//! A capture comes with ground truth (`<capture>.labels.json`, the format
//! the simulator writes and docs/simulator.md documents; hand-made labels
//! for public captures use the same format). The captures are run through
//! the same pipeline as `warden analyze`, then:
//!
//! * a **labelled behaviour** is *detected* when its device has an alert of
//!   the same kind raised between its onset and its end plus a grace period
//!   (the incident gap); time to detect = that alert's `detected_at` − onset;
//! * an **alert** is a *true positive* when it detects some labelled
//!   behaviour, otherwise a *false positive* (wrong device, wrong kind, or
//!   before the behaviour began).
//!
//! Precision = true-positive alerts / alerts; recall = detected behaviours /
//! behaviours; both per kind. False positives per benign device counts the
//! alerts on devices labelled benign, divided by the number of benign devices.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use warden_capture::{FrameSource, PcapFile};
use warden_decode::Mac;
use warden_detect::AlertKind;
use warden_pipeline::{CollectOnly, Config, Pipeline};

/// Ground truth for one capture.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Labels {
    pub format: String,
    #[serde(default)]
    pub scenario: String,
    #[serde(default)]
    pub seed: u64,
    pub devices: Vec<LabelledDevice>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LabelledDevice {
    pub mac: Mac,
    #[serde(default)]
    pub profile: String,
    /// "benign" or "infected".
    pub label: String,
    #[serde(default)]
    pub behaviours: Vec<Behaviour>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Behaviour {
    pub kind: String,
    #[serde(default)]
    pub variant: String,
    #[serde(with = "time::serde::rfc3339")]
    pub onset: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: time::OffsetDateTime,
}

fn ns(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp_nanos()
        .clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    Labels { path: String, message: String },
    #[error(transparent)]
    Capture(#[from] warden_capture::CaptureError),
}

/// The labels file that goes with a capture: `<capture>.labels.json`.
pub fn labels_path(capture: &Path) -> PathBuf {
    let mut s = capture.as_os_str().to_owned();
    s.push(".labels.json");
    PathBuf::from(s)
}

/// A capture's own configuration, if it has one: `<name>.warden.toml`
/// beside `<name>.pcap[ng][.gz]` (public captures whose LAN is not in the
/// private ranges need one).
pub fn config_beside(capture: &Path) -> Option<PathBuf> {
    let name = capture.file_name()?.to_str()?;
    let stem = name.trim_end_matches(".gz");
    let stem = stem
        .strip_suffix(".pcapng")
        .or_else(|| stem.strip_suffix(".pcap"))
        .unwrap_or(stem);
    let path = capture.with_file_name(format!("{stem}.warden.toml"));
    path.exists().then_some(path)
}

pub fn load_labels(path: &Path) -> Result<Labels, EvalError> {
    let err = |message: String| EvalError::Labels {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let labels: Labels = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    if !labels.format.starts_with("warden-sim-labels/") {
        return Err(err(format!("unknown labels format {:?}", labels.format)));
    }
    for d in &labels.devices {
        for b in &d.behaviours {
            if AlertKind::parse(&b.kind).is_none() {
                return Err(err(format!(
                    "{}: unknown behaviour kind {:?}",
                    d.mac, b.kind
                )));
            }
        }
    }
    Ok(labels)
}

/// Scores per alert kind.
#[derive(Clone, Debug, Default, Serialize)]
pub struct KindScore {
    pub behaviours: u32,
    pub detected: u32,
    pub alerts: u32,
    pub true_positive_alerts: u32,
    pub false_positive_alerts: u32,
    /// `None` when there were no alerts (precision undefined).
    pub precision: Option<f64>,
    /// `None` when there were no labelled behaviours.
    pub recall: Option<f64>,
    /// Time to detect, seconds, over the detected behaviours.
    pub ttd_median_s: Option<f64>,
    pub ttd_p90_s: Option<f64>,
    pub ttd_max_s: Option<f64>,
    #[serde(skip)]
    ttd: Vec<f64>,
}

/// One false alarm, with what the device was doing, to learn from.
#[derive(Clone, Debug, Serialize)]
pub struct FalsePositive {
    pub capture: String,
    pub mac: Mac,
    pub profile: String,
    pub kind: AlertKind,
    pub why: &'static str,
    pub summary: String,
}

/// One labelled behaviour the detectors did not catch.
#[derive(Clone, Debug, Serialize)]
pub struct Miss {
    pub capture: String,
    pub mac: Mac,
    pub kind: String,
    pub variant: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Evaluation {
    pub captures: u32,
    pub frames: u64,
    pub devices: u32,
    pub benign_devices: u32,
    pub infected_devices: u32,
    pub per_kind: BTreeMap<AlertKind, KindScore>,
    /// False-positive alerts on devices labelled benign, per benign device.
    pub false_positives_per_benign_device: f64,
    pub false_positives: Vec<FalsePositive>,
    pub misses: Vec<Miss>,
}

/// Runs `capture` through the pipeline and scores it against `labels`,
/// adding to `eval`.
pub fn score_capture(
    cfg: &Config,
    capture: &Path,
    labels: &Labels,
    eval: &mut Evaluation,
) -> Result<(), EvalError> {
    let mut pipeline = Pipeline::new(cfg);
    let mut source = PcapFile::open(capture)?;
    let stats = source.run(&mut |f| pipeline.process(&f, &mut CollectOnly))?;
    pipeline.finish(&mut CollectOnly);
    let grace_ns = i64::from(cfg.detect.incident_gap_s) * 1_000_000_000;
    let name = capture.display().to_string();

    eval.captures += 1;
    eval.frames += stats.frames;
    for d in &labels.devices {
        eval.devices += 1;
        if d.label == "benign" {
            eval.benign_devices += 1;
        } else {
            eval.infected_devices += 1;
        }
    }
    let labelled: BTreeMap<Mac, &LabelledDevice> =
        labels.devices.iter().map(|d| (d.mac, d)).collect();

    // Behaviours: detected or missed.
    for d in &labels.devices {
        let alerts = pipeline
            .devices()
            .find(&d.mac)
            .map(|i| pipeline.devices().get(i).alerts.as_slice())
            .unwrap_or(&[]);
        for b in &d.behaviours {
            let Some(kind) = AlertKind::parse(&b.kind) else {
                continue;
            };
            let score = eval.per_kind.entry(kind).or_default();
            score.behaviours += 1;
            let (onset, end) = (ns(b.onset), ns(b.end));
            let first = alerts
                .iter()
                .filter(|a| {
                    a.kind == kind && a.detected_at.0 >= onset && a.detected_at.0 <= end + grace_ns
                })
                .map(|a| a.detected_at.0)
                .min();
            match first {
                Some(t) => {
                    score.detected += 1;
                    score.ttd.push((t - onset) as f64 / 1e9);
                }
                None => eval.misses.push(Miss {
                    capture: name.clone(),
                    mac: d.mac,
                    kind: b.kind.clone(),
                    variant: b.variant.clone(),
                }),
            }
        }
    }
    // Alerts: true or false positives.
    for dev in pipeline.devices().iter() {
        let label = labelled.get(&dev.mac);
        for a in &dev.alerts {
            let score = eval.per_kind.entry(a.kind).or_default();
            score.alerts += 1;
            let t = a.detected_at.0;
            let why = match label {
                None => Some("device not in the labels"),
                Some(l) => {
                    let same_kind: Vec<&Behaviour> = l
                        .behaviours
                        .iter()
                        .filter(|b| AlertKind::parse(&b.kind) == Some(a.kind))
                        .collect();
                    if same_kind
                        .iter()
                        .any(|b| t >= ns(b.onset) && t <= ns(b.end) + grace_ns)
                    {
                        None
                    } else if l.label == "benign" {
                        Some("benign device")
                    } else if same_kind.is_empty() {
                        Some("infected device, other behaviour")
                    } else {
                        Some("outside the labelled window")
                    }
                }
            };
            match why {
                None => score.true_positive_alerts += 1,
                Some(why) => {
                    score.false_positive_alerts += 1;
                    eval.false_positives.push(FalsePositive {
                        capture: name.clone(),
                        mac: dev.mac,
                        profile: label.map(|l| l.profile.clone()).unwrap_or_default(),
                        kind: a.kind,
                        why,
                        summary: warden_detect::summary(a, &dev.label()),
                    });
                }
            }
        }
    }
    Ok(())
}

impl Evaluation {
    /// Computes the derived figures once all captures are scored.
    pub fn finish(&mut self) {
        for s in self.per_kind.values_mut() {
            s.precision =
                (s.alerts > 0).then(|| f64::from(s.true_positive_alerts) / f64::from(s.alerts));
            s.recall = (s.behaviours > 0).then(|| f64::from(s.detected) / f64::from(s.behaviours));
            s.ttd.sort_by(f64::total_cmp);
            let q = |p: f64| -> Option<f64> {
                if s.ttd.is_empty() {
                    return None;
                }
                let i = ((s.ttd.len() - 1) as f64 * p).round() as usize;
                Some((s.ttd[i] * 1000.0).round() / 1000.0)
            };
            s.ttd_median_s = q(0.5);
            s.ttd_p90_s = q(0.9);
            s.ttd_max_s = q(1.0);
        }
        let benign_fp = self
            .false_positives
            .iter()
            .filter(|f| f.why == "benign device")
            .count();
        self.false_positives_per_benign_device = if self.benign_devices > 0 {
            benign_fp as f64 / f64::from(self.benign_devices)
        } else {
            0.0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_and_validate() {
        let good = r#"{"format":"warden-sim-labels/1","seed":1,"scenario":"x","devices":[
            {"mac":"02:00:00:00:00:01","label":"infected","profile":"camera","behaviours":[
              {"kind":"flood","variant":"udp","onset":"2026-01-15T12:03:10.250000Z","end":"2026-01-15T12:04:00Z"}]}]}"#;
        let dir = std::env::temp_dir().join(format!("warden-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.labels.json");
        std::fs::write(&p, good).unwrap();
        let l = load_labels(&p).unwrap();
        assert_eq!(
            ns(l.devices[0].behaviours[0].onset),
            1_768_478_590_250_000_000
        );
        std::fs::write(&p, good.replace("\"flood\"", "\"floods\"")).unwrap();
        assert!(load_labels(&p)
            .unwrap_err()
            .to_string()
            .contains("unknown behaviour kind"));
        std::fs::write(&p, "{").unwrap();
        assert!(load_labels(&p).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
