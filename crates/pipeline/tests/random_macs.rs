//! A million random source MACs (the table-exhaustion attack, as `macof`
//! sends it) cannot grow memory: the device table stays at its cap, every
//! newcomer is either let in over an idle device or refused and counted,
//! the address index stays bounded, and the real devices that keep talking
//! are never pushed out.

use etherparse::PacketBuilder;
use warden_capture::Frame;
use warden_decode::{LinkType, Mac};
use warden_pipeline::{CollectOnly, Config, InputReport, Pipeline};

const ROUTER_MAC: [u8; 6] = [0x00, 0x11, 0x32, 0xa0, 0x00, 0x01];
const REAL_DEVICES: u8 = 32;
const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SEC;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A 60-byte UDP frame from `mac`/`src` to an internet address. Built once;
/// the flood below only rewrites its addresses (the decoder does not check
/// checksums, and rebuilding a million frames would only slow the test).
fn template() -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], ROUTER_MAC)
        .ipv4([10, 0, 0, 1], [198, 51, 100, 1], 64)
        .udp(40_000, 80)
        .write(&mut f, &[0; 18])
        .unwrap();
    f
}

fn set_addresses(f: &mut [u8], mac: [u8; 6], src: [u8; 4], dst: [u8; 4]) {
    f[6..12].copy_from_slice(&mac);
    f[26..30].copy_from_slice(&src);
    f[30..34].copy_from_slice(&dst);
}

fn real_mac(d: u8) -> [u8; 6] {
    [0x02, 0x57, 0x44, 0, 0, d]
}

/// Feeds `flood` random-MAC frames spread over `seconds` of capture time,
/// with every real device sending a frame every half second throughout.
/// Returns the largest address index seen while the flood went on.
fn run(p: &mut Pipeline, flood: u64, seconds: i64) -> usize {
    let mut rng = Rng(0x5eed_1234_5678_9abc);
    let mut f = template();
    let mut max_index = 0;
    let mut next_real = T0;
    for i in 0..flood {
        let ts = T0 + (i as i64) * seconds * SEC / flood as i64;
        while next_real <= ts {
            for d in 0..REAL_DEVICES {
                set_addresses(
                    &mut f,
                    real_mac(d),
                    [192, 168, 1, 10 + d],
                    [198, 51, 100, d],
                );
                process(p, &f, next_real);
            }
            next_real += SEC / 2;
        }
        let r = rng.next().to_be_bytes();
        // Unicast; the low three bytes follow the frame number, so no two
        // frames share a MAC.
        let n = (i as u32).to_be_bytes();
        let mac = [r[0] & 0xfe, r[1], r[2], n[1], n[2], n[3]];
        set_addresses(
            &mut f,
            mac,
            [10, r[3], r[4], r[5] | 1],
            [198, 51, 100, r[6]],
        );
        process(p, &f, ts);
        if i % 65_536 == 0 {
            max_index = max_index.max(p.footprint().address_index);
        }
    }
    max_index.max(p.footprint().address_index)
}

fn process(p: &mut Pipeline, f: &[u8], ts: i64) {
    p.process(
        &Frame {
            ts_ns: ts,
            link: LinkType::Ethernet,
            data: f,
            wire_len: f.len() as u32,
        },
        &mut CollectOnly,
    );
}

#[test]
fn a_million_random_macs_keep_the_table_at_its_cap() {
    let cfg = Config::default();
    let cap = cfg.devices.max_devices;
    let mut p = Pipeline::new(&cfg);
    let flood = 1_000_000u64;
    // 2,000 s: longer than the idle time (600 s), so early flood entries
    // go idle and later ones may replace them.
    let max_index = run(&mut p, flood, 2_000);

    let report = p.report(InputReport::default());
    let table = report.device_table;
    assert_eq!(table.capacity, cap);
    assert_eq!(table.devices, cap, "the table fills up to its cap, no more");
    assert!(p.devices().len() <= cap);
    // Every flood MAC was a new device: let in (into a free or an idle
    // slot) or refused, and each outcome counted.
    let admitted = cap as u64 - u64::from(REAL_DEVICES);
    assert_eq!(admitted + table.evicted + table.refused, flood);
    assert!(table.evicted > 1_000, "idle entries made room: {table:?}");
    assert!(
        table.refused > flood / 2,
        "most were turned away: {table:?}"
    );
    // Refused senders' frames are counted as unattributed, not lost.
    assert_eq!(report.stats.unattributed_frames, table.refused);

    // The real devices were active throughout and kept their places.
    for d in 0..REAL_DEVICES {
        assert!(
            p.devices().find(&Mac(real_mac(d))).is_some(),
            "real device {d} was pushed out"
        );
    }

    // Memory: the address index follows the table (at most one address per
    // flood device here), not the number of MACs that went by.
    let fp = p.footprint();
    println!(
        "{table:?} {fp:?} max address index {max_index}; Device is {} bytes, \
         {} per table entry with its heap",
        std::mem::size_of::<warden_devices::Device>(),
        fp.device_bytes / fp.devices
    );
    // A device the flood created costs its fixed size and no more.
    assert!(fp.device_bytes / fp.devices < 4096, "{fp:?}");
    assert!(
        max_index <= 2 * cap * 8,
        "address index grew to {max_index}"
    );
    assert!(fp.address_index <= 2 * cap * 8, "{fp:?}");
    assert!(fp.device_bytes < cap * 8 * 1024, "{fp:?}");
}

#[test]
fn the_cap_and_the_idle_time_are_configurable() {
    let mut cfg = Config::default();
    cfg.devices.max_devices = 100;
    cfg.devices.idle_evict_s = 1;
    let mut p = Pipeline::new(&cfg);
    // 200 new MACs a second; flood entries go idle after a second, so
    // nearly every newcomer replaces one: the table turns over constantly.
    let flood = 200_000u64;
    let max_index = run(&mut p, flood, 1_000);
    let t = p.devices().stats();
    assert_eq!(t.capacity, 100);
    assert_eq!(t.devices, 100);
    assert_eq!(
        (100 - u64::from(REAL_DEVICES)) + t.evicted + t.refused,
        flood
    );
    println!("{t:?} max address index {max_index}");
    assert!(t.evicted > flood / 4, "{t:?}");
    assert!(
        max_index <= 2 * 100 * 8,
        "address index grew to {max_index}"
    );
    for d in 0..REAL_DEVICES {
        assert!(p.devices().find(&Mac(real_mac(d))).is_some());
    }
}
