//! The human-readable report: one block per device, alerts as sentences.

use std::io::{self, Write};

use warden_pipeline::{DeviceReport, Report};

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Devices that did something worth listing: they sent traffic, or have
/// identity or alerts. With `all`, every entry.
fn worth_listing(d: &DeviceReport, all: bool) -> bool {
    all || !d.alerts.is_empty() || d.packets_out >= 3
}

pub fn print(out: &mut impl Write, r: &Report, all: bool) -> io::Result<()> {
    let mut devices: Vec<&DeviceReport> =
        r.devices.iter().filter(|d| worth_listing(d, all)).collect();
    // Devices with alerts first, then by traffic.
    devices.sort_by_key(|d| (d.alerts.is_empty(), std::cmp::Reverse(d.bytes_out)));
    let frames: u64 = r.input.files.iter().map(|f| f.frames).sum();
    let alerting = devices.iter().filter(|d| !d.alerts.is_empty()).count();
    writeln!(
        out,
        "{} frames, {} LAN devices, {} with alerts{}",
        frames,
        r.devices.len(),
        alerting,
        if devices.len() < r.devices.len() {
            format!(
                " ({} quiet devices not shown; --all shows them)",
                r.devices.len() - devices.len()
            )
        } else {
            String::new()
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<17}  {:<26}  {:<34}  {:<15}  {:>9}  {:>9}",
        "MAC", "VENDOR", "IDENTITY", "ADDRESS", "PKTS OUT", "BYTES OUT"
    )?;
    for d in devices {
        let vendor = if d.mac_info.locally_administered {
            "(randomised MAC)".to_owned()
        } else {
            d.vendor.unwrap_or("(unknown vendor)").to_owned()
        };
        let identity = d.identity.summary();
        let ip = d
            .ips
            .iter()
            .find(|ip| ip.is_ipv4())
            .or(d.ips.first())
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        writeln!(
            out,
            "{:<17}  {:<26}  {:<34}  {:<15}  {:>9}  {:>9}",
            d.mac.to_string(),
            clip(&vendor, 26),
            clip(if identity.is_empty() { "-" } else { &identity }, 34),
            clip(&ip, 15),
            d.packets_out,
            human_bytes(d.bytes_out)
        )?;
        for a in &d.alerts {
            writeln!(
                out,
                "  ! {} at {} (confidence {:.2})",
                a.kind.as_str().to_uppercase(),
                a.detected_at,
                a.confidence
            )?;
            writeln!(out, "    {}", a.summary)?;
        }
    }
    let errors: u64 = r.stats.decode_errors.values().sum();
    if errors > 0 || r.device_table.refused > 0 {
        writeln!(out)?;
        if errors > 0 {
            let reasons: Vec<String> = r
                .stats
                .decode_errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            writeln!(
                out,
                "{errors} frames could not be decoded ({})",
                reasons.join(", ")
            )?;
        }
        if r.device_table.refused > 0 {
            writeln!(
                out,
                "warning: the device table was full ({} devices); {} new devices were not tracked",
                r.device_table.capacity, r.device_table.refused
            )?;
        }
    }
    for f in &r.input.files {
        if let Some(why) = &f.ended_early {
            writeln!(out, "warning: {} ended early: {why}", f.path)?;
        }
    }
    Ok(())
}

/// What warden would have done about the alerts (offline, nothing is
/// enforced; `warden run` does it).
pub fn print_decisions(
    out: &mut impl Write,
    decisions: &[warden_policy::Decision],
) -> io::Result<()> {
    if decisions.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "What warden would have done (`warden run` does it by itself):"
    )?;
    for d in decisions {
        writeln!(out, "  {} {}", d.start, d.headline())?;
    }
    Ok(())
}
