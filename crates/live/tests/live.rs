//! Live capture against the real kernel: veth pairs between network
//! namespaces this test creates (see `lab`). Needs root.

mod lab;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a test waits for frames before failing. Waits end as soon as
/// the frames are there; the margin is for CI machines under heavy load.
const PATIENCE: Duration = Duration::from_secs(30);

use lab::{frame, seq_of, wait_for, Lab};
use warden_live::{LiveCapture, LiveConfig, LiveError, LiveStats};

#[derive(Clone, Debug)]
struct Got {
    seq: u32,
    data: Vec<u8>,
    wire_len: u32,
    ts_ns: i64,
}

#[derive(Default)]
struct Seen {
    frames: Vec<Got>,
    /// Every frame delivered, test frame or not.
    all: u64,
    idles: Vec<(Instant, i64)>,
}

struct Running {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    handle: JoinHandle<Result<LiveStats, LiveError>>,
}

impl Running {
    fn frames(&self) -> Vec<Got> {
        self.seen.lock().unwrap().frames.clone()
    }

    fn count(&self, pred: impl Fn(&Got) -> bool) -> usize {
        self.seen
            .lock()
            .unwrap()
            .frames
            .iter()
            .filter(|g| pred(g))
            .count()
    }

    fn finish(self) -> (LiveStats, Seen) {
        self.stop.store(true, Ordering::Relaxed);
        let stats = self.handle.join().expect("capture thread").expect("run");
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        (stats, seen)
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Opens a capture inside the lab's capture namespace and runs it on its
/// own thread, recording test frames and idle calls. `stall` makes the
/// frame callback sleep that long on the first test frame (a slow reader).
fn start(lab: &Lab, cfg: LiveConfig, stall: Option<Duration>) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop2, seen2) = (stop.clone(), seen.clone());
    let handle = lab.in_cap(move || {
        let mut cap = match LiveCapture::open(&cfg) {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                ready_tx.send(Err(msg)).unwrap();
                return Err(e);
            }
        };
        ready_tx.send(Ok(cap.stats())).unwrap();
        let mut stalled = stall.is_none();
        let seen_f = seen2.clone();
        cap.run(
            &stop2,
            &mut |f| {
                let mut s = seen_f.lock().unwrap();
                s.all += 1;
                if let Some(seq) = seq_of(f.data) {
                    s.frames.push(Got {
                        seq,
                        data: f.data.to_vec(),
                        wire_len: f.wire_len,
                        ts_ns: f.ts_ns,
                    });
                    if !stalled {
                        stalled = true;
                        drop(s);
                        std::thread::sleep(stall.unwrap());
                    }
                }
            },
            &mut |now| seen2.lock().unwrap().idles.push((Instant::now(), now)),
        )
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("capture opened in time")
        .expect("capture opened");
    Running { stop, seen, handle }
}

#[test]
fn frames_arrive_whole_with_kernel_timestamps_in_both_directions() {
    let lab = Lab::new();
    let run = start(&lab, LiveConfig::new(vec![lab.cap_if.clone()]), None);
    let before = now_ns();
    // Incoming: from the peer, sizes from the minimum to a full frame.
    let incoming: Vec<Vec<u8>> = (0..200u32)
        .map(|i| frame(i, 60 + (i as usize * 37) % 1455, 0xaa))
        .collect();
    // Outgoing: sent by the capturing host itself on the same interface.
    let outgoing: Vec<Vec<u8>> = (1000..1100u32)
        .map(|i| frame(i, 60 + (i as usize * 11) % 1000, 0xbb))
        .collect();
    assert_eq!(lab.send_from_peer(incoming.clone()), incoming.len());
    assert_eq!(lab.send_from_cap(outgoing.clone()), outgoing.len());
    let want = incoming.len() + outgoing.len();
    assert!(
        wait_for(PATIENCE, || run.count(|_| true) >= want),
        "only {} of {want} frames arrived",
        run.count(|_| true)
    );
    let after = now_ns();
    let (stats, seen) = run.finish();

    let mut by_seq = std::collections::BTreeMap::new();
    for g in &seen.frames {
        assert!(
            by_seq.insert(g.seq, g.clone()).is_none(),
            "frame {} twice",
            g.seq
        );
    }
    for (seq, sent) in (0..200u32)
        .zip(&incoming)
        .chain((1000..1100u32).zip(&outgoing))
    {
        let got = by_seq
            .get(&seq)
            .unwrap_or_else(|| panic!("frame {seq} missing"));
        assert_eq!(&got.data, sent, "frame {seq}: bytes differ");
        assert_eq!(
            got.wire_len as usize,
            sent.len(),
            "frame {seq}: wire length"
        );
        assert!(
            (before - 1_000_000..=after).contains(&got.ts_ns),
            "frame {seq}: timestamp {} outside the send window {before}..{after}",
            got.ts_ns
        );
    }
    // One interface: delivery order is the kernel's, and time never goes back.
    for w in seen.frames.windows(2) {
        assert!(w[0].ts_ns <= w[1].ts_ns, "timestamps go back: {w:?}");
    }
    let first_in: Vec<u32> = seen
        .frames
        .iter()
        .map(|g| g.seq)
        .filter(|&s| s < 1000)
        .collect();
    assert_eq!(
        first_in,
        (0..200).collect::<Vec<_>>(),
        "incoming frames out of order"
    );

    let i = &stats.interfaces[0];
    assert_eq!(i.name, lab.cap_if);
    assert!(i.incoming >= 200 && i.outgoing >= 100, "{i:?}");
    assert_eq!(stats.frames, seen.all);
    assert_eq!(stats.drops, 0, "{stats:?}");
    assert_eq!(stats.reopens, 0);
    let sent_bytes: usize = incoming.iter().chain(&outgoing).map(Vec::len).sum();
    assert!(stats.bytes >= sent_bytes as u64, "{stats:?}");
}

#[test]
fn snap_length_cuts_the_data_but_not_the_wire_length() {
    let lab = Lab::new();
    let mut cfg = LiveConfig::new(vec![lab.cap_if.clone()]);
    cfg.snaplen = 128;
    let run = start(&lab, cfg, None);
    let frames: Vec<Vec<u8>> = (0..20u32)
        .map(|i| frame(i, 1400 + i as usize, 0xaa))
        .collect();
    lab.send_from_peer(frames.clone());
    assert!(wait_for(PATIENCE, || run.count(|_| true) == 20));
    let (_, seen) = run.finish();
    for (g, sent) in seen.frames.iter().zip(&frames) {
        assert_eq!(g.data.len(), 128);
        assert_eq!(&g.data[..], &sent[..128]);
        assert_eq!(g.wire_len as usize, sent.len());
    }
}

#[test]
fn an_interface_deleted_and_recreated_is_reopened_and_a_flap_needs_no_reopen() {
    let lab = Lab::new();
    let run = start(&lab, LiveConfig::new(vec![lab.cap_if.clone()]), None);
    lab.send_from_peer((0..10u32).map(|i| frame(i, 100, 0xaa)).collect());
    assert!(wait_for(PATIENCE, || run.count(|_| true) == 10));

    // Down and up: the kernel keeps the socket bound; no reopen needed.
    lab.set_cap_link(false);
    std::thread::sleep(Duration::from_millis(400));
    lab.set_cap_link(true);
    lab.send_from_peer((100..110u32).map(|i| frame(i, 100, 0xaa)).collect());
    assert!(
        wait_for(PATIENCE, || run.count(|g| g.seq >= 100) == 10),
        "no frames after the link came back up"
    );

    // Deleted and created again (a new interface index): reopened.
    lab.delete_link();
    std::thread::sleep(Duration::from_millis(700));
    lab.create_link();
    let reopened_at = Instant::now();
    // Keep sending until the capture is back: frames sent before the reopen
    // are lost by design; the ones after must arrive.
    let mut seq = 200u32;
    let back = wait_for(Duration::from_secs(10), || {
        lab.send_from_peer(vec![frame(seq, 100, 0xaa)]);
        seq += 1;
        std::thread::sleep(Duration::from_millis(50));
        run.count(|g| g.seq >= 200) > 0
    });
    assert!(
        back,
        "capture did not resume after the interface was re-created"
    );
    eprintln!(
        "capture resumed {:?} after re-creation",
        reopened_at.elapsed()
    );
    lab.send_from_peer((10_000..10_050u32).map(|i| frame(i, 100, 0xaa)).collect());
    assert!(wait_for(PATIENCE, || run.count(|g| g.seq >= 10_000) == 50));
    let (stats, _) = run.finish();
    assert_eq!(stats.reopens, 1, "{stats:?}");
    assert!(stats.interfaces[0].open);
}

#[test]
fn an_interface_missing_at_open_is_captured_once_it_appears() {
    let lab = Lab::new();
    lab.delete_link();
    let run = start(&lab, LiveConfig::new(vec![lab.cap_if.clone()]), None);
    std::thread::sleep(Duration::from_millis(300));
    lab.create_link();
    let mut seq = 0u32;
    assert!(
        wait_for(Duration::from_secs(10), || {
            lab.send_from_peer(vec![frame(seq, 100, 0xaa)]);
            seq += 1;
            run.count(|_| true) > 0
        }),
        "the interface was not opened after it appeared"
    );
    let (stats, _) = run.finish();
    assert!(stats.interfaces[0].open);
    assert_eq!(stats.reopens, 0, "a first open is not a reopen");
}

#[test]
fn the_stop_flag_ends_run_within_300_ms_quiet_or_busy() {
    let lab = Lab::new();
    // Quiet.
    let run = start(&lab, LiveConfig::new(vec![lab.cap_if.clone()]), None);
    std::thread::sleep(Duration::from_millis(450));
    let t0 = Instant::now();
    run.finish();
    let quiet = t0.elapsed();
    assert!(
        quiet < Duration::from_millis(300),
        "quiet stop took {quiet:?}"
    );

    // Busy: the peer keeps sending while the stop comes.
    let run = start(&lab, LiveConfig::new(vec![lab.cap_if.clone()]), None);
    let busy = Arc::new(AtomicBool::new(true));
    let (peer_if, b2) = (lab.peer_if.clone(), busy.clone());
    let sender = lab::in_netns(&lab.peer_ns, move || {
        let frames: Vec<Vec<u8>> = (0..2000u32).map(|i| frame(i, 60, 0xaa)).collect();
        while b2.load(Ordering::Relaxed) {
            lab::send_frames(&peer_if, &frames);
        }
    });
    assert!(wait_for(PATIENCE, || run.count(|_| true) > 1000));
    let t0 = Instant::now();
    run.finish();
    let busy_stop = t0.elapsed();
    busy.store(false, Ordering::Relaxed);
    sender.join().unwrap();
    assert!(
        busy_stop < Duration::from_millis(300),
        "busy stop took {busy_stop:?}"
    );
}

#[test]
fn on_idle_is_called_while_quiet_with_the_wall_clock() {
    let lab = Lab::new();
    let run = start(&lab, LiveConfig::new(vec![lab.cap_if.clone()]), None);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(1100));
    let (_, seen) = run.finish();
    let idles: Vec<_> = seen.idles.iter().filter(|(at, _)| *at >= t0).collect();
    assert!(idles.len() >= 4, "{} idle calls in 1.1 s", idles.len());
    for w in idles.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap <= Duration::from_millis(300),
            "idle calls {gap:?} apart"
        );
        assert!(w[1].1 > w[0].1, "idle time went back");
    }
    let (_, last) = idles.last().unwrap();
    assert!(
        (now_ns() - last).abs() < 2_000_000_000,
        "idle time is not the wall clock"
    );
}

#[test]
fn a_burst_bigger_than_the_ring_is_counted_as_drops_and_capture_goes_on() {
    let lab = Lab::new();
    let mut cfg = LiveConfig::new(vec![lab.cap_if.clone()]);
    cfg.ring_bytes = 32 << 10;
    cfg.snaplen = 256;
    // The reader stalls for a second on the first frame, so the burst has
    // only the ring (32 KiB: a few hundred frames) to land in.
    let run = start(&lab, cfg, Some(Duration::from_secs(1)));
    let burst: Vec<Vec<u8>> = (0..20_000u32).map(|i| frame(i, 200, 0xaa)).collect();
    let sent = lab.send_from_peer(burst);
    std::thread::sleep(Duration::from_millis(1500));
    // Capture goes on after the burst.
    lab.send_from_peer((100_000..100_010u32).map(|i| frame(i, 200, 0xaa)).collect());
    assert!(
        wait_for(PATIENCE, || run.count(|g| g.seq >= 100_000) == 10),
        "no frames after the burst"
    );
    let (stats, seen) = run.finish();
    let got = seen.frames.iter().filter(|g| g.seq < 100_000).count();
    eprintln!(
        "burst: sent {sent}, delivered {got}, kernel drops {}",
        stats.drops
    );
    assert!(
        got < sent,
        "the whole burst fitted: the test proves nothing"
    );
    assert!(stats.drops > 0, "{stats:?}");
    // Every frame of the burst was either delivered or counted as dropped
    // (the veth itself may also drop some before the capture sees them).
    assert!(got as u64 + stats.drops <= sent as u64 + 16, "{stats:?}");
    assert!(
        got as u64 + stats.drops >= sent as u64 * 9 / 10,
        "{} delivered + {} dropped of {sent}",
        got,
        stats.drops
    );
}

#[test]
fn malformed_frames_pass_through_and_the_pipeline_survives_them() {
    use warden_pipeline::{CollectOnly, Config, Pipeline};
    let lab = Lab::new();
    let stop = Arc::new(AtomicBool::new(false));
    let cap_if = lab.cap_if.clone();
    let stop2 = stop.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let handle = lab.in_cap(move || {
        let mut cap = LiveCapture::open(&LiveConfig::new(vec![cap_if])).unwrap();
        ready_tx.send(()).unwrap();
        let mut pipeline = Pipeline::new(&Config::default());
        let stats = cap
            .run(
                &stop2,
                &mut |f| pipeline.process(&f, &mut CollectOnly),
                &mut |_| {},
            )
            .unwrap();
        (stats, pipeline.stats().clone())
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut bad: Vec<Vec<u8>> = Vec::new();
    // A bare Ethernet header; IPv4 with a cut header; IPv4 claiming IHL 2;
    // IPv6 cut short; a VLAN tag and nothing after it; random bytes.
    let eth = |t: [u8; 2]| {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(&t);
        f
    };
    bad.push(eth([0x08, 0x00]));
    bad.push([eth([0x08, 0x00]), vec![0x45, 0, 0, 40, 0, 0]].concat());
    bad.push([eth([0x08, 0x00]), vec![0x42; 40]].concat());
    bad.push([eth([0x86, 0xdd]), vec![0x60, 0, 0, 0, 0, 8]].concat());
    bad.push([eth([0x81, 0x00]), vec![0x00]].concat());
    let mut x = 0x1234_5678u32;
    for n in 0..200 {
        let len = 14 + (n * 7) % 300;
        bad.push(
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect(),
        );
    }
    let n = bad.len();
    assert_eq!(lab.send_from_peer(bad), n);
    // Then ordinary frames: still captured and counted.
    lab.send_from_peer((0..10u32).map(|i| frame(i, 100, 0xaa)).collect());
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    let (live, pipe) = handle.join().unwrap();
    // All but one: the kernel itself drops the VLAN tag with nothing after
    // it (while untagging, before any packet socket sees it).
    assert!(live.frames >= n as u64 - 1 + 10, "{live:?}");
    assert_eq!(pipe.frames, live.frames);
    // The cut IPv4 and IPv6 headers, and the IPv4 header claiming 8 bytes.
    let e = |k: &str| pipe.decode_errors.get(k).copied().unwrap_or(0);
    assert!(e("truncated_ip_header") >= 3, "{:?}", pipe.decode_errors);
    assert!(e("bad_ip_header_length") >= 1, "{:?}", pipe.decode_errors);
}

#[test]
fn two_interfaces_are_captured_together_in_time_order() {
    let lab = Lab::new();
    let (cap2, peer2) = lab.extra_pair(2);
    let cfg = LiveConfig::new(vec![lab.cap_if.clone(), cap2.clone()]);
    // The first frame stalls the reader for a second, so that everything
    // sent meanwhile is waiting in both rings when it reads on.
    let run = start(&lab, cfg, Some(Duration::from_secs(1)));
    lab.send_from_peer(vec![frame(0, 80, 0xaa)]);
    assert!(wait_for(PATIENCE, || run.count(|_| true) == 1));
    // Alternate between the two links, ten frames at a time.
    for round in 0..10u32 {
        let base = 1 + round * 20;
        lab.send_from_peer((base..base + 10).map(|i| frame(i, 80, 0xaa)).collect());
        lab.send_from_peer_on(
            &peer2,
            (base + 10..base + 20).map(|i| frame(i, 80, 0xcc)).collect(),
        );
    }
    assert!(wait_for(PATIENCE, || run.count(|_| true) >= 201));
    let frames = run.frames();
    let (stats, _) = run.finish();
    assert_eq!(stats.interfaces.len(), 2);
    assert_eq!(stats.interfaces[0].incoming, 101, "{stats:?}");
    assert_eq!(stats.interfaces[1].incoming, 100, "{stats:?}");
    // Each link's frames in their order.
    for mac in [0xaa, 0xcc] {
        let seqs: Vec<u32> = frames
            .iter()
            .filter(|g| g.data[11] == mac)
            .map(|g| g.seq)
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{mac:x}: {seqs:?}");
    }
    // Across links, frames read together are merged by time, and blocks
    // are read one per link per round: a frame never follows a later one
    // by more than a block's span (the 50 ms block timeout when light).
    let mut latest = i64::MIN;
    let mut inversions = 0;
    for g in &frames {
        if g.ts_ns < latest {
            inversions += 1;
            assert!(
                latest - g.ts_ns < 100_000_000,
                "frame {} is {} ns late",
                g.seq,
                latest - g.ts_ns
            );
        }
        latest = latest.max(g.ts_ns);
    }
    eprintln!(
        "{inversions} of {} frames followed a later frame of the other link",
        frames.len()
    );
    // Interleaved sends, merged: most frames are in global order.
    assert!(inversions <= frames.len() / 2, "{inversions} inversions");
}
