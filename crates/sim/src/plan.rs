//! The planner: which devices the household has, which of them are infected
//! and when, and the run that merges every generator into the pcap while
//! measuring the ground truth from the frames actually written.

use std::collections::HashSet;
use std::io::{self, Write};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::attacks::{self, Window};
use crate::catalog::{self, Profile, PRINTER_OUIS, ROUTER_OUIS};
use crate::ctx::{Ctx, TagMeta};
use crate::device::Dev;
use crate::engine::{Merger, Micros, MS, NO_TAG, SEC};
use crate::labels::{ActivityLabel, BehaviourLabel, DeviceClass, DeviceLabel, Labels, RouterLabel};
use crate::net::{fmt_ip, fmt_mac, Ip, Mac};
use crate::pcap::PcapWriter;
use crate::profiles::{self, Options, Setup};
use crate::world::{World, ROUTER_IP};
use crate::{format_timestamp, Behaviour, Scenario, SimOptions, LABELS_FORMAT};

/// Snap length of the written capture: whole frames.
const SNAPLEN: u32 = 65_535;

/// One planned device.
struct Planned {
    setup: Setup,
    profile: Profile,
    options: Options,
    infection: Vec<Behaviour>,
}

/// How many of each profile a household has (inclusive ranges).
const HOUSEHOLD: [(Profile, u32, u32); 7] = [
    (Profile::Camera, 1, 2),
    (Profile::SmartPlug, 1, 3),
    (Profile::Hub, 0, 1),
    (Profile::Phone, 1, 3),
    (Profile::Laptop, 1, 2),
    (Profile::Tv, 0, 1),
    (Profile::Nas, 0, 1),
];

fn random_mac(rng: &mut ChaCha8Rng, ouis: &[[u8; 3]], used: &mut HashSet<Mac>) -> Mac {
    loop {
        let o = ouis[rng.gen_range(0..ouis.len())];
        let mac = [o[0], o[1], o[2], rng.gen(), rng.gen(), rng.gen()];
        if used.insert(mac) {
            return mac;
        }
    }
}

fn random_ip(rng: &mut ChaCha8Rng, used: &mut HashSet<u8>) -> Ip {
    loop {
        let host = rng.gen_range(2..=250u8);
        if used.insert(host) {
            return [192, 168, 1, host];
        }
    }
}

/// Decide the household and register every generator in `ctx`.
fn plan(opts: &SimOptions, ctx: &mut Ctx) -> (Vec<Planned>, Mac) {
    let end = ctx.end;
    let r = ctx.plan_rng();
    let mut macs = HashSet::new();
    let mut hosts = HashSet::from([1u8, 255]);
    let router_mac = random_mac(r, ROUTER_OUIS, &mut macs);
    let world = World {
        seed: r.gen(),
        router_mac,
    };

    let heavy_p = match opts.scenario {
        Scenario::Benign => 0.8,
        _ => 0.35,
    };
    let mut devices: Vec<Planned> = Vec::new();
    for (profile, lo, hi) in HOUSEHOLD {
        let r = ctx.plan_rng();
        for _ in 0..r.gen_range(lo..=hi) {
            let ids: Vec<_> = catalog::identities(profile).collect();
            let id = ids[r.gen_range(0..ids.len())];
            let mac = random_mac(r, id.ouis, &mut macs);
            let ip = random_ip(r, &mut hosts);
            // Devices power up over the first minute (or tenth of the capture).
            let boot = r.gen_range(0..(end / 10).min(60 * SEC));
            let dev = Dev {
                mac,
                ip,
                id,
                world,
                lan: r.gen_range(MS..8 * MS),
                hostname_suffix: [mac[3], mac[4], mac[5]],
            };
            let setup = Setup {
                idx: devices.len(),
                dev,
                boot,
                ready: boot + 2 * SEC,
                heavy: r.gen_bool(heavy_p),
            };
            let options = Options {
                camera_rtp: r.gen_bool(0.5),
                printer: (profile == Profile::Laptop && r.gen_bool(0.3)).then(|| {
                    let pmac = random_mac(r, PRINTER_OUIS, &mut macs);
                    (random_ip(r, &mut hosts), pmac)
                }),
                smarthost: r.gen_bool(0.4),
            };
            devices.push(Planned {
                setup,
                profile,
                options,
                infection: Vec::new(),
            });
        }
    }

    // Infections: only the Linux/busybox kinds Mirai-family malware reaches.
    let r = ctx.plan_rng();
    let mut candidates: Vec<usize> = devices
        .iter()
        .filter(|d| d.profile.infectable())
        .map(|d| d.setup.idx)
        .collect();
    candidates.shuffle(r);
    let behaviours: Vec<Behaviour> = match opts.scenario {
        Scenario::Benign => Vec::new(),
        Scenario::Household => {
            let mut all = Behaviour::ALL.to_vec();
            all.shuffle(r);
            all.truncate(r.gen_range(2..=3));
            all
        }
        Scenario::Attack(b) => vec![b; r.gen_range(1..=2)],
    };
    for (b, idx) in behaviours.into_iter().zip(candidates) {
        devices[idx].infection.push(b);
    }

    let heavy = devices.iter().filter(|d| d.setup.heavy).count().max(1) as u64;
    let floods = devices
        .iter()
        .filter(|d| d.infection.contains(&Behaviour::Flood))
        .count()
        .max(1) as u64;
    // Frame budgets: 40 % of the cap for heavy benign activities, 40 % for
    // floods, the rest for background traffic and the other behaviours.
    ctx.heavy_share = opts.max_frames * 2 / 5 / heavy;
    ctx.flood_share = opts.max_frames * 2 / 5 / floods;

    let lan: Vec<(Mac, Ip)> = devices
        .iter()
        .map(|d| (d.setup.dev.mac, d.setup.dev.ip))
        .collect();
    for d in &devices {
        let s = &d.setup;
        profiles::common(ctx, s);
        match d.profile {
            Profile::Camera => profiles::camera(ctx, s, &d.options),
            Profile::SmartPlug => profiles::smart_plug(ctx, s),
            Profile::Hub => profiles::hub(ctx, s),
            Profile::Phone => profiles::phone(ctx, s),
            Profile::Laptop => profiles::laptop(ctx, s, &d.options),
            Profile::Tv => profiles::tv(ctx, s),
            Profile::Nas => profiles::nas(ctx, s, &d.options),
        }
        if d.infection.is_empty() {
            continue;
        }
        // The bot phones home soon after boot; its behaviours start later,
        // at a time that leaves at least a minute of attack in the capture.
        let r = ctx.plan_rng();
        let c2_start = s.ready + r.gen_range(5 * SEC..20 * SEC);
        let latest = end.saturating_sub(60 * SEC).max(c2_start + 10 * SEC);
        let earliest = (c2_start + 10 * SEC).min(latest);
        let mut commands = Vec::new();
        let mut windows = Vec::new();
        for &b in &d.infection {
            let onset = ctx.plan_rng().gen_range(earliest..=latest);
            commands.push(onset.saturating_sub(ctx.plan_rng().gen_range(50 * MS..SEC)));
            windows.push((b, Window { onset, stop: end }));
        }
        commands.sort_unstable();
        attacks::c2(ctx, s, c2_start, commands);
        for (b, w) in windows {
            match b {
                Behaviour::Flood => attacks::flood(ctx, s, w),
                Behaviour::Scan => attacks::scan(ctx, s, w, &lan, None),
                Behaviour::Spam => attacks::spam(ctx, s, w),
                Behaviour::BruteForce => attacks::brute_force(ctx, s, w),
            }
        }
    }
    (devices, router_mac)
}

/// What the written frames of one tag amounted to.
#[derive(Clone, Copy, Default)]
struct TagStats {
    /// First and last frame the device itself sent.
    first_out: Option<Micros>,
    last_out: Micros,
    /// First and last frame in either direction.
    first_any: Option<Micros>,
    last_any: Micros,
    out: u64,
    inbound: u64,
}

/// Plan, generate and write; returns the labels measured on the output.
pub(crate) fn run<W: Write>(opts: &SimOptions, out: W) -> io::Result<Labels> {
    let end = u64::from(opts.duration_s) * SEC;
    let mut ctx = Ctx::new(ChaCha8Rng::seed_from_u64(opts.seed), end);
    let (devices, router_mac) = plan(opts, &mut ctx);
    let tags = std::mem::take(&mut ctx.tags);
    let gens = std::mem::take(&mut ctx.gens);

    let start_us = opts.start_unix * 1_000_000;
    let mut stats = vec![TagStats::default(); tags.len()];
    let mut writer = PcapWriter::new(out, SNAPLEN)?;
    let mut frames = 0u64;
    let mut truncated = false;
    for f in Merger::new(gens, end) {
        if frames == opts.max_frames {
            truncated = true;
            break;
        }
        writer.write(start_us + f.ts as i64, &f.data)?;
        frames += 1;
        if f.tag == NO_TAG {
            continue;
        }
        let Some(info) = tags.get(f.tag as usize) else {
            continue;
        };
        let st = &mut stats[f.tag as usize];
        st.first_any.get_or_insert(f.ts);
        st.last_any = f.ts;
        let dev_mac = devices[info.device].setup.dev.mac;
        if f.data.get(6..12) == Some(&dev_mac[..]) {
            st.first_out.get_or_insert(f.ts);
            st.last_out = f.ts;
            st.out += 1;
        } else {
            st.inbound += 1;
        }
    }
    writer.finish()?;

    let ts = |us: Micros| format_timestamp(start_us + us as i64);
    let mut labels: Vec<DeviceLabel> = devices
        .iter()
        .map(|d| {
            let dev = &d.setup.dev;
            DeviceLabel {
                mac: fmt_mac(&dev.mac),
                ips: vec![fmt_ip(&dev.ip)],
                profile: d.profile.name().into(),
                label: if d.infection.is_empty() {
                    DeviceClass::Benign
                } else {
                    DeviceClass::Infected
                },
                vendor: dev.id.vendor.into(),
                model: dev.id.model.into(),
                hostname: dev.hostname(),
                dhcp_vendor_class: dev.id.vendor_class.map(str::to_string),
                behaviours: Vec::new(),
                activities: Vec::new(),
                notes: String::new(),
            }
        })
        .collect();
    for (info, st) in tags.into_iter().zip(stats) {
        let label = &mut labels[info.device];
        match info.meta {
            TagMeta::Behaviour(m) => {
                // A behaviour that never sent a frame (cut by the end of the
                // capture or the frame cap) is not in the capture.
                let Some(first) = st.first_out else {
                    label.notes.push_str(&format!(
                        "planned {} ({}) did not start before the capture ended. ",
                        m.kind, m.variant
                    ));
                    continue;
                };
                label.behaviours.push(BehaviourLabel {
                    kind: m.kind,
                    variant: m.variant,
                    onset: ts(first),
                    end: ts(st.last_out),
                    target: m.target,
                    targets: m.targets,
                    dst_ports: m.dst_ports,
                    rate_pps: m.rate_pps,
                    packets: st.out,
                    packets_in: st.inbound,
                    notes: m.notes,
                });
            }
            TagMeta::Activity(m) => {
                let Some(first) = st.first_any else { continue };
                label.activities.push(ActivityLabel {
                    kind: m.kind.into(),
                    start: ts(first),
                    end: ts(st.last_any),
                    peer: m.peer,
                    rate_pps: m.rate_pps,
                    packets: st.out + st.inbound,
                    notes: m.notes,
                });
            }
        }
    }
    for l in &mut labels {
        let n = l.notes.trim_end().len();
        l.notes.truncate(n);
    }

    Ok(Labels {
        format: LABELS_FORMAT.into(),
        seed: opts.seed,
        scenario: opts.scenario.name(),
        start: format_timestamp(start_us),
        duration_s: opts.duration_s,
        frames,
        truncated,
        router: RouterLabel {
            mac: fmt_mac(&router_mac),
            ip: fmt_ip(&ROUTER_IP),
        },
        devices: labels,
    })
}
