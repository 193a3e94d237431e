//! A TCP connection as seen from the router's LAN port: sequence and
//! acknowledgement numbers, options per operating system, delayed ACKs,
//! slow-start flights, retransmitted SYNs, FIN and RST closes.
//!
//! Timing model: the router sits between a LAN client (round trip `lan`,
//! including the client's stack latency) and a server (round trip `rtt`). A
//! frame one side sends in reaction to the other is seen that long after.

use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

use crate::engine::{Micros, Sink, MS, SEC};
use crate::net::{self, Ip, Mac, TcpSeg, ACK, FIN, L3, PSH, RST, SYN};

/// Operating system of the host that opens the connection: decides SYN
/// options, TTL, windows and retransmission timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stack {
    /// lwIP / RTOS firmware (ESP32, many plugs): MSS only, TTL 255.
    Lwip,
    /// Linux and Android (busybox cameras, NAS, TVs, phones).
    Linux,
    Windows,
    /// iOS / macOS.
    Apple,
}

impl Stack {
    pub fn ttl(self) -> u8 {
        match self {
            Stack::Lwip => 255,
            Stack::Windows => 128,
            Stack::Linux | Stack::Apple => 64,
        }
    }

    fn timestamps(self) -> bool {
        matches!(self, Stack::Linux | Stack::Apple)
    }

    fn syn_window(self) -> u16 {
        match self {
            Stack::Lwip => 5744,
            Stack::Linux | Stack::Windows => 64240,
            Stack::Apple => 65535,
        }
    }

    fn window(self) -> u16 {
        match self {
            Stack::Lwip => 5744,
            Stack::Linux => 502,
            Stack::Windows => 1026,
            Stack::Apple => 2058,
        }
    }

    /// Initial SYN retransmission timeout.
    fn syn_rto(self) -> Micros {
        match self {
            Stack::Lwip => 3 * SEC,
            _ => SEC,
        }
    }

    fn syn_options(self, tsval: u32) -> Vec<u8> {
        let mss = [2, 4, 0x05, 0xb4];
        let mut o = Vec::with_capacity(24);
        match self {
            Stack::Lwip => o.extend_from_slice(&mss),
            Stack::Linux => {
                o.extend_from_slice(&mss);
                o.extend_from_slice(&[4, 2, 8, 10]);
                o.extend_from_slice(&tsval.to_be_bytes());
                o.extend_from_slice(&[0, 0, 0, 0, 1, 3, 3, 7]);
            }
            Stack::Windows => {
                o.extend_from_slice(&mss);
                o.extend_from_slice(&[1, 3, 3, 8, 1, 1, 4, 2]);
            }
            Stack::Apple => {
                o.extend_from_slice(&mss);
                o.extend_from_slice(&[1, 3, 3, 6, 1, 1, 8, 10]);
                o.extend_from_slice(&tsval.to_be_bytes());
                o.extend_from_slice(&[0, 0, 0, 0, 4, 2, 0, 0]);
            }
        }
        o
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Peer {
    mac: Mac,
    ip: Ip,
    port: u16,
    seq: u32,
    ip_id: u16,
    ttl: u8,
    window: u16,
    ts_base: u32,
    last_tsval: u32,
    /// Bits per second this side's segments arrive at the router.
    link_bps: u64,
}

/// Where a connection's endpoints are and how far away.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Endpoints {
    pub client_mac: Mac,
    pub client_ip: Ip,
    pub client_port: u16,
    pub server_mac: Mac,
    pub server_ip: Ip,
    pub server_port: u16,
    /// TTL of the server's packets as seen on the LAN side of the router.
    pub server_ttl: u8,
    pub stack: Stack,
    /// Router <-> server round trip.
    pub rtt: Micros,
    /// Router <-> client round trip including the client's stack latency.
    pub lan: Micros,
}

pub(crate) struct Flow {
    c: Peer,
    s: Peer,
    stack: Stack,
    ts: bool,
    rtt: Micros,
    lan: Micros,
    /// Time of the last frame emitted.
    pub t: Micros,
    last_from: Side,
    /// A pure ACK one side still owes, and when it would be sent.
    owed: Option<(Side, Micros)>,
    tag: u32,
}

impl Flow {
    pub fn new(rng: &mut ChaCha8Rng, e: &Endpoints, t: Micros, tag: u32) -> Flow {
        let server_win = [29200u16, 64240, 65160, 28960, 65535][rng.gen_range(0..5)];
        Flow {
            c: Peer {
                mac: e.client_mac,
                ip: e.client_ip,
                port: e.client_port,
                seq: rng.gen(),
                ip_id: rng.gen(),
                ttl: e.stack.ttl(),
                window: e.stack.syn_window(),
                ts_base: rng.gen(),
                last_tsval: 0,
                link_bps: rng.gen_range(80_000_000..400_000_000),
            },
            s: Peer {
                mac: e.server_mac,
                ip: e.server_ip,
                port: e.server_port,
                seq: rng.gen(),
                ip_id: rng.gen(),
                ttl: e.server_ttl,
                window: server_win,
                ts_base: rng.gen(),
                last_tsval: 0,
                link_bps: rng.gen_range(50_000_000..500_000_000),
            },
            stack: e.stack,
            ts: e.stack.timestamps(),
            rtt: e.rtt.max(1),
            lan: e.lan.max(1),
            t,
            last_from: Side::Server,
            owed: None,
            tag,
        }
    }

    /// Delay before `side` can react to the last frame of the other side.
    fn reaction(&self, side: Side) -> Micros {
        if side == self.last_from {
            30
        } else {
            match side {
                Side::Server => self.rtt,
                Side::Client => self.lan,
            }
        }
    }

    fn tsval(&self, side: Side, at: Micros) -> u32 {
        let p = self.peer(side);
        p.ts_base.wrapping_add((at / MS) as u32)
    }

    fn peer(&self, side: Side) -> &Peer {
        match side {
            Side::Client => &self.c,
            Side::Server => &self.s,
        }
    }

    /// Build and queue one segment from `side` at `at`.
    fn seg(
        &mut self,
        sink: &mut Sink,
        side: Side,
        at: Micros,
        flags: u8,
        payload: &[u8],
        options: &[u8],
    ) {
        let tsval = self.tsval(side, at);
        let (from, to) = match side {
            Side::Client => (&mut self.c, &self.s),
            Side::Server => (&mut self.s, &self.c),
        };
        let mut ts_opt = [0u8; 12];
        let opts: &[u8] = if !options.is_empty() {
            options
        } else if self.ts && flags & RST == 0 {
            ts_opt[..4].copy_from_slice(&[1, 1, 8, 10]);
            ts_opt[4..8].copy_from_slice(&tsval.to_be_bytes());
            ts_opt[8..12].copy_from_slice(&to.last_tsval.to_be_bytes());
            &ts_opt
        } else {
            &[]
        };
        let l3 = L3 {
            src_mac: from.mac,
            dst_mac: to.mac,
            src: from.ip,
            dst: to.ip,
            ttl: from.ttl,
            id: from.ip_id,
            df: true,
        };
        let ack = if flags & ACK != 0 { to.seq } else { 0 };
        let frame = net::tcp(
            &l3,
            &TcpSeg {
                sport: from.port,
                dport: to.port,
                seq: from.seq,
                ack,
                flags,
                window: from.window,
                options: opts,
            },
            payload,
        );
        from.ip_id = from.ip_id.wrapping_add(1);
        from.last_tsval = tsval;
        let adv = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        from.seq = from.seq.wrapping_add(adv);
        sink.push(at, frame, self.tag);
        self.t = self.t.max(at);
        self.last_from = side;
    }

    fn settle_owed(&mut self, sink: &mut Sink, next: Option<(Side, Micros)>) {
        if let Some((side, at)) = self.owed.take() {
            // The owed ACK rides on the owing side's data if that comes within
            // the delayed-ACK window; otherwise it goes out alone.
            let piggyback = matches!(next, Some((s, t)) if s == side && t <= at + 40 * MS);
            if !piggyback {
                self.seg(sink, side, at, ACK, &[], &[]);
            }
        }
    }

    /// Three-way handshake.
    pub fn connect(&mut self, sink: &mut Sink, rng: &mut ChaCha8Rng) {
        let t0 = self.t;
        let opts = self.stack.syn_options(self.tsval(Side::Client, t0));
        self.seg(sink, Side::Client, t0, SYN, &[], &opts);
        let mss: u16 = [1460, 1460, 1440, 1380, 1400][rng.gen_range(0..5)];
        let mut sa = Vec::with_capacity(20);
        sa.extend_from_slice(&[2, 4]);
        sa.extend_from_slice(&mss.to_be_bytes());
        match self.stack {
            Stack::Lwip => {}
            Stack::Windows => sa.extend_from_slice(&[1, 3, 3, 7, 4, 2, 0, 0]),
            Stack::Linux | Stack::Apple => {
                sa.extend_from_slice(&[4, 2, 8, 10]);
                sa.extend_from_slice(&self.tsval(Side::Server, t0 + self.rtt).to_be_bytes());
                sa.extend_from_slice(&self.c.last_tsval.to_be_bytes());
                sa.extend_from_slice(&[1, 3, 3, 7]);
            }
        }
        let t1 = t0 + self.rtt;
        self.seg(sink, Side::Server, t1, SYN | ACK, &[], &sa);
        self.c.window = self.stack.window();
        self.s.window = self.s.window.clamp(235, 2048);
        let t2 = t1 + self.lan;
        self.seg(sink, Side::Client, t2, ACK, &[], &[]);
    }

    /// SYN answered by RST (port closed, or a firewall rejecting).
    pub fn connect_refused(&mut self, sink: &mut Sink) {
        let t0 = self.t;
        let opts = self.stack.syn_options(self.tsval(Side::Client, t0));
        self.seg(sink, Side::Client, t0, SYN, &[], &opts);
        self.s.seq = 0;
        self.seg(sink, Side::Server, t0 + self.rtt, RST | ACK, &[], &[]);
    }

    /// SYN never answered: `tries` transmissions with exponential backoff.
    pub fn connect_silent(&mut self, sink: &mut Sink, tries: u32) {
        let t0 = self.t;
        let opts = self.stack.syn_options(self.tsval(Side::Client, t0));
        let seq = self.c.seq;
        let mut at = t0;
        let mut rto = self.stack.syn_rto();
        for _ in 0..tries.max(1) {
            self.c.seq = seq;
            self.seg(sink, Side::Client, at, SYN, &[], &opts);
            at += rto;
            rto *= 2;
        }
    }

    /// `side` sends `data` after `think` (application time), in MSS segments,
    /// in slow-start flights, with the receiver's delayed ACKs.
    pub fn send(&mut self, sink: &mut Sink, side: Side, data: &[u8], think: Micros) {
        let start = self.t + self.reaction(side) + think;
        self.settle_owed(sink, Some((side, start)));
        let mss = if self.ts { 1448 } else { 1460 };
        let receiver = side.other();
        let recv_delay = match receiver {
            Side::Server => self.rtt,
            Side::Client => self.lan,
        };
        let round = self.rtt + self.lan;
        let bps = self.peer(side).link_bps.max(1);
        let mut flight_start = start;
        let mut cwnd = 10usize;
        let mut chunks = data.chunks(mss).peekable();
        let mut at = start;
        let mut n = 0usize;
        while chunks.peek().is_some() {
            for _ in 0..cwnd {
                let Some(chunk) = chunks.next() else { break };
                let flags = if chunks.peek().is_none() {
                    ACK | PSH
                } else {
                    ACK
                };
                self.seg(sink, side, at, flags, chunk, &[]);
                n += 1;
                if n.is_multiple_of(2) && chunks.peek().is_some() {
                    // Receiver ACKs every second full segment.
                    let ack_at = at + recv_delay;
                    self.seg(sink, receiver, ack_at, ACK, &[], &[]);
                    self.last_from = side;
                }
                at += (chunk.len() as u64 * 8 * SEC / bps).max(10);
            }
            cwnd = (cwnd * 2).min(256);
            flight_start += round;
            at = at.max(flight_start);
        }
        self.t = self.t.max(at);
        self.last_from = side;
        self.owed = Some((receiver, self.t + recv_delay));
    }

    /// Steady bulk data from `side` starting at `start`: `bytes` in MSS
    /// segments paced at `bps`, the receiver ACKing every second segment.
    /// Returns the time of the last segment.
    pub fn stream(
        &mut self,
        sink: &mut Sink,
        rng: &mut ChaCha8Rng,
        side: Side,
        start: Micros,
        bytes: usize,
        bps: u64,
    ) -> Micros {
        self.settle_owed(sink, Some((side, start)));
        let mss = if self.ts { 1448 } else { 1460 };
        let receiver = side.other();
        let recv_delay = match receiver {
            Side::Server => self.rtt,
            Side::Client => self.lan,
        };
        let bps = bps.clamp(8_000, self.peer(side).link_bps.max(8_000));
        let mut buf = vec![0u8; mss];
        let mut left = bytes;
        let mut at = start.max(self.t);
        let mut n = 0u32;
        let mut last = at;
        while left > 0 {
            let len = left.min(mss);
            rng.fill_bytes(&mut buf[..len]);
            last = at;
            self.seg(sink, side, at, ACK, &buf[..len], &[]);
            n += 1;
            if n.is_multiple_of(2) {
                self.seg(sink, receiver, at + recv_delay, ACK, &[], &[]);
            }
            left -= len;
            // Jitter keeps inter-arrival times from being perfectly regular.
            let gap = len as u64 * 8 * SEC / bps;
            at += (gap * rng.gen_range(70..131) / 100).max(5);
        }
        self.last_from = side;
        // Pending ACKs lie in the future; the sender's clock is its last segment.
        self.t = last;
        self.owed = Some((receiver, last + recv_delay));
        last
    }

    /// Orderly close: `first` sends FIN, the other answers FIN, last ACK.
    pub fn close(&mut self, sink: &mut Sink, first: Side, think: Micros) {
        let at = self.t + self.reaction(first) + think;
        self.settle_owed(sink, None);
        self.seg(sink, first, at, FIN | ACK, &[], &[]);
        let other = first.other();
        let at2 = at + self.reaction(other);
        self.seg(sink, other, at2, FIN | ACK, &[], &[]);
        let at3 = at2 + self.reaction(first);
        self.seg(sink, first, at3, ACK, &[], &[]);
    }

    /// Abortive close by `side` (RST).
    pub fn reset(&mut self, sink: &mut Sink, side: Side, think: Micros) {
        let at = self.t + self.reaction(side) + think;
        self.settle_owed(sink, None);
        self.seg(sink, side, at, RST | ACK, &[], &[]);
    }

    /// Let time pass without traffic (e.g. an idle keep-alive connection).
    pub fn idle(&mut self, sink: &mut Sink, dt: Micros) {
        self.settle_owed(sink, None);
        self.t += dt;
    }
}

/// Pick an ephemeral source port the way the given stack does.
pub(crate) fn ephemeral_port(rng: &mut ChaCha8Rng, stack: Stack) -> u16 {
    match stack {
        Stack::Lwip => rng.gen_range(49152..65535),
        Stack::Windows | Stack::Apple => rng.gen_range(49152..65535),
        Stack::Linux => rng.gen_range(32768..60999),
    }
}
