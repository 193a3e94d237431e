//! The run loop allocates nothing per frame (counted with a global
//! allocator that counts only on the capture thread). Needs root.

mod lab;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use lab::{frame, Lab};
use warden_live::{LiveCapture, LiveConfig};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn the_run_loop_allocates_nothing_per_frame() {
    let lab = Lab::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let (cap_if, stop2) = (lab.cap_if.clone(), stop.clone());
    let handle = lab.in_cap(move || {
        let mut cap = LiveCapture::open(&LiveConfig::new(vec![cap_if])).unwrap();
        ready_tx.send(()).unwrap();
        let mut n = 0u64;
        COUNTING.with(|c| c.set(true));
        let before = ALLOCS.load(Ordering::Relaxed);
        let stats = cap.run(&stop2, &mut |_| n += 1, &mut |_| {});
        let during = ALLOCS.load(Ordering::Relaxed) - before;
        COUNTING.with(|c| c.set(false));
        (stats.unwrap(), n, during)
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    for round in 0..10u32 {
        let base = round * 3000;
        lab.send_from_peer(
            (base..base + 3000)
                .map(|i| frame(i, 60 + (i as usize % 900), 0xaa))
                .collect(),
        );
    }
    std::thread::sleep(Duration::from_millis(600));
    stop.store(true, Ordering::Relaxed);
    let (stats, n, during) = handle.join().unwrap();
    eprintln!("{n} frames, {during} allocations in run (the final stats included)");
    assert!(n >= 30_000, "{stats:?}");
    // run() returns LiveStats (a Vec and the interface names): a handful.
    assert!(during <= 8, "{during} allocations for {n} frames");
}
