//! Long, high-volume TCP transfers (backups, video upload, streaming
//! download) produced slice by slice so only a few milliseconds of frames
//! are ever pending.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::device::Dev;
use crate::engine::{Gen, Micros, Sink, MS, SEC};
use crate::net::Ip;
use crate::proto::tls;
use crate::tcp::{Flow, Side};

#[derive(Clone, Copy, Debug)]
pub(crate) enum Pattern {
    /// Constant rate (backup upload, camera upload).
    Continuous,
    /// Adaptive streaming: every `period` the client asks for a segment of
    /// `seg_bytes`, which arrives at `burst_bps`.
    Segments {
        seg_bytes: usize,
        period: Micros,
        burst_bps: u64,
    },
}

enum State {
    Start,
    Streaming {
        flow: Flow,
        seg_left: usize,
        seg_start: Micros,
    },
    Done,
}

pub(crate) struct Bulk {
    pub dev: Dev,
    pub rng: ChaCha8Rng,
    pub tag: u32,
    pub server: Ip,
    pub port: u16,
    pub sni: String,
    /// Which side sends the bulk data.
    pub dir: Side,
    pub rate_bps: u64,
    pub stop: Micros,
    pub pattern: Pattern,
    next: Option<Micros>,
    state: State,
}

/// Slice of a continuous transfer produced per step.
const SLICE: Micros = 10 * MS;

impl Bulk {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dev: Dev,
        rng: ChaCha8Rng,
        tag: u32,
        server: Ip,
        port: u16,
        sni: &str,
        dir: Side,
        rate_bps: u64,
        start: Micros,
        stop: Micros,
        pattern: Pattern,
    ) -> Bulk {
        Bulk {
            dev,
            rng,
            tag,
            server,
            port,
            sni: sni.to_string(),
            dir,
            rate_bps: rate_bps.max(8_000),
            stop,
            pattern,
            next: (stop > start).then_some(start),
            state: State::Start,
        }
    }
}

impl Gen for Bulk {
    fn next_start(&self) -> Option<Micros> {
        self.next
    }

    fn step(&mut self, sink: &mut Sink) {
        let now = sink.now();
        let state = std::mem::replace(&mut self.state, State::Done);
        match state {
            State::Start => {
                let rng = &mut self.rng;
                let (_, t) = self.dev.resolve(sink, rng, now, &self.sni, self.tag);
                let mut flow =
                    self.dev
                        .tls_open(sink, rng, t, self.server, self.port, &self.sni, self.tag);
                // Request / metadata exchange before the data flows.
                let arg1_3 = rng.gen_range(300..1_500);
                let arg1_4 = rng.gen_range(100..900);
                let arg1_5 = rng.gen_range(MS..20 * MS);
                self.dev
                    .tls_exchange(sink, rng, &mut flow, arg1_3, arg1_4, arg1_5);
                let t = flow.t + rng.gen_range(MS..30 * MS);
                self.state = State::Streaming {
                    flow,
                    seg_left: 0,
                    seg_start: t,
                };
                self.next = Some(t.max(now + 1));
            }
            State::Streaming {
                mut flow,
                mut seg_left,
                mut seg_start,
            } => {
                if now >= self.stop {
                    self.dev
                        .tls_close(sink, &mut self.rng, &mut flow, Side::Client);
                    self.next = None;
                    return;
                }
                match self.pattern {
                    Pattern::Continuous => {
                        let bytes = (self.rate_bps * SLICE / SEC / 8) as usize;
                        flow.stream(
                            sink,
                            &mut self.rng,
                            self.dir,
                            now,
                            bytes.max(1),
                            self.rate_bps,
                        );
                        self.next = Some(now + SLICE);
                    }
                    Pattern::Segments {
                        seg_bytes,
                        period,
                        burst_bps,
                    } => {
                        if seg_left == 0 {
                            flow.t = flow.t.max(now);
                            // Ask for the next segment.
                            let arg0_1 = self.rng.gen_range(350..900);
                            let req = tls::app_data(&mut self.rng, arg0_1);
                            flow.send(sink, Side::Client, &req, 0);
                            seg_left = seg_bytes;
                            seg_start = now;
                            self.next = Some(flow.t + 1);
                        } else {
                            let bytes = ((burst_bps * SLICE / SEC / 8) as usize)
                                .min(seg_left)
                                .max(1);
                            let end = flow.stream(
                                sink,
                                &mut self.rng,
                                Side::Server,
                                now,
                                bytes,
                                burst_bps,
                            );
                            seg_left -= bytes;
                            self.next = Some(if seg_left == 0 {
                                (seg_start + period).max(end + 1)
                            } else {
                                end.max(now + 1)
                            });
                        }
                    }
                }
                self.state = State::Streaming {
                    flow,
                    seg_left,
                    seg_start,
                };
            }
            State::Done => self.next = None,
        }
    }
}
