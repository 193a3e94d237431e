//! Streaming core: every activity is a [`Gen`] that produces short
//! "episodes" of frames in time order; a k-way merge over a `BinaryHeap`
//! interleaves all of them. Only frames of episodes already started are held
//! in memory, so memory is bounded by concurrency, not by capture length.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Microseconds since the start of the capture.
pub(crate) type Micros = u64;
/// Frame not attributed to any labelled behaviour or activity.
pub(crate) const NO_TAG: u32 = u32::MAX;

pub(crate) const MS: Micros = 1_000;
pub(crate) const SEC: Micros = 1_000_000;

pub(crate) struct Frame {
    pub ts: Micros,
    seq: u64,
    pub data: Vec<u8>,
    pub tag: u32,
}

impl PartialEq for Frame {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Frame {}
impl PartialOrd for Frame {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Frame {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ts, self.seq).cmp(&(other.ts, other.seq))
    }
}

/// Pending frames of one generator (a min-heap by time, FIFO on ties).
pub(crate) struct Sink {
    heap: BinaryHeap<Reverse<Frame>>,
    seq: u64,
    now: Micros,
    end: Micros,
}

impl Sink {
    fn new(end: Micros) -> Self {
        Sink {
            heap: BinaryHeap::new(),
            seq: 0,
            now: 0,
            end,
        }
    }

    /// Start time of the episode being generated.
    pub fn now(&self) -> Micros {
        self.now
    }

    /// Queue a frame. Times before the episode start are clamped to it so the
    /// merged output stays ordered whatever the caller computed.
    pub fn push(&mut self, ts: Micros, data: Vec<u8>, tag: u32) {
        if ts >= self.end {
            return;
        }
        self.seq += 1;
        self.heap.push(Reverse(Frame {
            ts: ts.max(self.now),
            seq: self.seq,
            data,
            tag,
        }));
    }

    fn peek_ts(&self) -> Option<Micros> {
        self.heap.peek().map(|r| r.0.ts)
    }

    fn pop(&mut self) -> Option<Frame> {
        self.heap.pop().map(|r| r.0)
    }
}

/// A time-ordered source of episodes.
pub(crate) trait Gen {
    /// Start of the next episode; `None` once finished. Must strictly increase
    /// after every `step`.
    fn next_start(&self) -> Option<Micros>;
    /// Push the frames of the episode starting at `next_start()` (all at or
    /// after it) and advance.
    fn step(&mut self, sink: &mut Sink);
}

struct Runner {
    gen: Box<dyn Gen>,
    sink: Sink,
    done: bool,
}

impl Runner {
    fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let pending = self.sink.peek_ts();
            let start = if self.done {
                None
            } else {
                self.gen.next_start().filter(|&s| s < self.sink.end)
            };
            match (pending, start) {
                (Some(p), Some(s)) if p <= s => return self.sink.pop(),
                (Some(_), None) => return self.sink.pop(),
                (_, Some(s)) => {
                    self.sink.now = s;
                    self.gen.step(&mut self.sink);
                    // A generator that does not advance would spin forever:
                    // that is a bug, so stop it rather than hang.
                    if self.gen.next_start().is_some_and(|n| n <= s) {
                        debug_assert!(false, "generator did not advance past {s}");
                        self.done = true;
                    }
                }
                (None, None) => return None,
            }
        }
    }
}

/// k-way merge of all generators, ties broken by generator index so the
/// output is a pure function of the generators.
pub(crate) struct Merger {
    runners: Vec<Runner>,
    heads: BinaryHeap<Reverse<(Micros, usize)>>,
    head: Vec<Option<Frame>>,
}

impl Merger {
    pub fn new(gens: Vec<Box<dyn Gen>>, end: Micros) -> Self {
        let mut runners: Vec<Runner> = gens
            .into_iter()
            .map(|gen| Runner {
                gen,
                sink: Sink::new(end),
                done: false,
            })
            .collect();
        let mut heads = BinaryHeap::with_capacity(runners.len());
        let mut head = Vec::with_capacity(runners.len());
        for (i, r) in runners.iter_mut().enumerate() {
            let f = r.next_frame();
            if let Some(f) = &f {
                heads.push(Reverse((f.ts, i)));
            }
            head.push(f);
        }
        Merger {
            runners,
            heads,
            head,
        }
    }
}

impl Iterator for Merger {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        let Reverse((_, i)) = self.heads.pop()?;
        let f = self.head[i].take();
        let next = self.runners[i].next_frame();
        if let Some(n) = &next {
            self.heads.push(Reverse((n.ts, i)));
        }
        self.head[i] = next;
        f
    }
}

/// A generator driven by a closure: each call produces one episode at
/// `sink.now()` and returns when the next one starts (`None` when done).
pub(crate) struct Periodic<F> {
    next: Option<Micros>,
    rng: rand_chacha::ChaCha8Rng,
    f: F,
}

impl<F> Gen for Periodic<F>
where
    F: FnMut(&mut rand_chacha::ChaCha8Rng, &mut Sink) -> Option<Micros>,
{
    fn next_start(&self) -> Option<Micros> {
        self.next
    }

    fn step(&mut self, sink: &mut Sink) {
        let now = sink.now();
        self.next = (self.f)(&mut self.rng, sink).map(|n| n.max(now + 1));
    }
}

pub(crate) fn periodic<F>(start: Micros, rng: rand_chacha::ChaCha8Rng, f: F) -> Box<dyn Gen>
where
    F: FnMut(&mut rand_chacha::ChaCha8Rng, &mut Sink) -> Option<Micros> + 'static,
{
    Box::new(Periodic {
        next: Some(start),
        rng,
        f,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Emits a frame every `period`, plus an "echo" `delay` later.
    struct Ticker {
        t: Micros,
        period: Micros,
        delay: Micros,
        id: u8,
    }

    impl Gen for Ticker {
        fn next_start(&self) -> Option<Micros> {
            Some(self.t)
        }
        fn step(&mut self, sink: &mut Sink) {
            sink.push(self.t, vec![self.id], NO_TAG);
            sink.push(self.t + self.delay, vec![self.id + 100], NO_TAG);
            self.t += self.period;
        }
    }

    #[test]
    fn merge_is_time_ordered_and_complete() {
        let gens: Vec<Box<dyn Gen>> = vec![
            Box::new(Ticker {
                t: 0,
                period: 7,
                delay: 30,
                id: 1,
            }),
            Box::new(Ticker {
                t: 3,
                period: 5,
                delay: 1,
                id: 2,
            }),
        ];
        let frames: Vec<Frame> = Merger::new(gens, 1000).collect();
        assert!(frames.windows(2).all(|w| w[0].ts <= w[1].ts));
        let ones = frames.iter().filter(|f| f.data[0] == 1).count();
        let echoes = frames.iter().filter(|f| f.data[0] == 101).count();
        assert_eq!(ones, 1000 / 7 + 1);
        // Echoes of the last ticks fall past the end and are dropped.
        assert_eq!(echoes, (1000 - 30 - 1) / 7 + 1);
        assert!(frames.iter().all(|f| f.ts < 1000));
    }
}
