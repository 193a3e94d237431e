//! SMTP sessions: plaintext port-25 delivery (spam bots, smarthost relays)
//! and authenticated submission over TLS (587 STARTTLS / 465).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::device::Dev;
use crate::engine::{Micros, Sink, MS, SEC};
use crate::net::Ip;
use crate::proto::tls;
use crate::tcp::{Flow, Side};

/// How the receiving server treats the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Accept,
    /// 550 at RCPT (unknown user / policy).
    RejectRcpt,
    /// 451 at RCPT (greylisting).
    Greylist,
    /// 554 banner: the sender's IP is on a blocklist.
    Blocked,
    /// SYN never answered (port 25 filtered).
    Silent,
    /// SYN answered by RST.
    Refused,
}

const WORDS: &[&str] = &[
    "offer",
    "limited",
    "exclusive",
    "account",
    "verify",
    "payment",
    "invoice",
    "shipping",
    "discount",
    "winner",
    "bonus",
    "urgent",
    "update",
    "security",
    "delivery",
    "pharmacy",
    "crypto",
    "investment",
    "opportunity",
    "free",
    "click",
    "confirm",
    "details",
    "today",
    "customer",
    "reward",
    "claim",
    "prize",
    "order",
    "package",
];

/// Message text of about `len` bytes (headers + body), ending with the
/// SMTP end-of-data marker.
pub(crate) fn message(rng: &mut ChaCha8Rng, from: &str, to: &str, len: usize) -> Vec<u8> {
    let subject: Vec<&str> = (0..rng.gen_range(3..7))
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect();
    let mut m = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: {}\r\nDate: Thu, 15 Jan 2026 12:00:00 +0000\r\nMessage-ID: <{:016x}@{}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        subject.join(" "),
        rng.gen::<u64>(),
        from.split('@').nth(1).unwrap_or("localhost")
    );
    let mut line = 0;
    while m.len() < len {
        m.push_str(WORDS[rng.gen_range(0..WORDS.len())]);
        line += 1;
        m.push_str(if line % 12 == 0 { "\r\n" } else { " " });
    }
    m.push_str("\r\n.\r\n");
    m.into_bytes()
}

fn think(rng: &mut ChaCha8Rng) -> Micros {
    rng.gen_range(MS..80 * MS)
}

/// A plaintext SMTP delivery. Returns the time of its last frame.
#[allow(clippy::too_many_arguments)]
pub(crate) fn smtp(
    dev: &Dev,
    sink: &mut Sink,
    rng: &mut ChaCha8Rng,
    t: Micros,
    server: Ip,
    mx: &str,
    helo: &str,
    from: &str,
    rcpts: &[String],
    outcome: Outcome,
    body_len: usize,
    tag: u32,
) -> Micros {
    let e = dev.endpoints(rng, server, 25);
    let mut f = Flow::new(rng, &e, t, tag);
    match outcome {
        Outcome::Silent => {
            f.connect_silent(sink, rng.gen_range(2..4));
            return f.t;
        }
        Outcome::Refused => {
            f.connect_refused(sink);
            return f.t;
        }
        _ => f.connect(sink, rng),
    }
    let banner_max = if rng.gen_bool(0.1) { 6 * SEC } else { 400 * MS };
    let banner_delay = rng.gen_range(5 * MS..banner_max);
    let c = |f: &mut Flow, sink: &mut Sink, rng: &mut ChaCha8Rng, line: &str| {
        f.send(sink, Side::Client, line.as_bytes(), think(rng))
    };
    let s = |f: &mut Flow, sink: &mut Sink, rng: &mut ChaCha8Rng, line: &str| {
        f.send(sink, Side::Server, line.as_bytes(), think(rng))
    };
    if outcome == Outcome::Blocked {
        let l = format!(
            "554 5.7.1 Service unavailable; Client host [{}] blocked using zen.spamhaus.org\r\n",
            crate::net::fmt_ip(&e.client_ip)
        );
        f.send(sink, Side::Server, l.as_bytes(), banner_delay);
        c(&mut f, sink, rng, "QUIT\r\n");
        s(&mut f, sink, rng, "221 2.0.0 Bye\r\n");
        f.close(sink, Side::Server, 0);
        return f.t;
    }
    f.send(
        sink,
        Side::Server,
        format!("220 {mx} ESMTP Postfix\r\n").as_bytes(),
        banner_delay,
    );
    c(&mut f, sink, rng, &format!("EHLO {helo}\r\n"));
    s(&mut f, sink, rng, &format!("250-{mx}\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"));
    c(&mut f, sink, rng, &format!("MAIL FROM:<{from}>\r\n"));
    s(&mut f, sink, rng, "250 2.1.0 Ok\r\n");
    let mut accepted = 0;
    for r in rcpts {
        c(&mut f, sink, rng, &format!("RCPT TO:<{r}>\r\n"));
        let reply = match outcome {
            Outcome::RejectRcpt => "550 5.1.1 <user>: Recipient address rejected: User unknown in virtual mailbox table\r\n",
            Outcome::Greylist => "451 4.7.1 <user>: Recipient address rejected: Greylisted, please try again later\r\n",
            _ => {
                accepted += 1;
                "250 2.1.5 Ok\r\n"
            }
        };
        s(&mut f, sink, rng, reply);
    }
    if accepted > 0 {
        c(&mut f, sink, rng, "DATA\r\n");
        s(&mut f, sink, rng, "354 End data with <CR><LF>.<CR><LF>\r\n");
        let to = rcpts.first().map(String::as_str).unwrap_or("");
        let msg = message(rng, from, to, body_len);
        f.send(sink, Side::Client, &msg, think(rng));
        let q = format!(
            "250 2.0.0 Ok: queued as {:010X}\r\n",
            rng.gen::<u64>() & 0xff_ffff_ffff
        );
        s(&mut f, sink, rng, &q);
    }
    c(&mut f, sink, rng, "QUIT\r\n");
    s(&mut f, sink, rng, "221 2.0.0 Bye\r\n");
    f.close(sink, Side::Server, 0);
    f.t
}

/// Authenticated submission to a provider on 587 (STARTTLS) or 465 (TLS).
#[allow(clippy::too_many_arguments)]
pub(crate) fn submission(
    dev: &Dev,
    sink: &mut Sink,
    rng: &mut ChaCha8Rng,
    t: Micros,
    server: Ip,
    port: u16,
    host: &str,
    tag: u32,
) -> Micros {
    let e = dev.endpoints(rng, server, port);
    let mut f = Flow::new(rng, &e, t, tag);
    f.connect(sink, rng);
    let enc = |f: &mut Flow, sink: &mut Sink, rng: &mut ChaCha8Rng, side: Side, n: usize| {
        let r = tls::app_data(rng, n);
        f.send(sink, side, &r, rng.gen_range(MS..60 * MS));
    };
    if port == 465 {
        dev.tls_handshake(sink, rng, &mut f, host);
        enc(&mut f, sink, rng, Side::Server, 60);
    } else {
        f.send(
            sink,
            Side::Server,
            format!("220 {host} ESMTP ready\r\n").as_bytes(),
            rng.gen_range(10 * MS..200 * MS),
        );
        f.send(
            sink,
            Side::Client,
            format!("EHLO {}\r\n", dev.hostname()).as_bytes(),
            rng.gen_range(MS..10 * MS),
        );
        f.send(sink, Side::Server, format!("250-{host} at your service\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250 SMTPUTF8\r\n").as_bytes(), rng.gen_range(MS..30 * MS));
        f.send(
            sink,
            Side::Client,
            b"STARTTLS\r\n",
            rng.gen_range(MS..10 * MS),
        );
        f.send(
            sink,
            Side::Server,
            b"220 2.0.0 Ready to start TLS\r\n",
            rng.gen_range(MS..30 * MS),
        );
        dev.tls_handshake(sink, rng, &mut f, host);
    }
    // EHLO, AUTH, MAIL/RCPT/DATA, message, QUIT - all encrypted.
    for (up, down) in [(30usize, 200usize), (70, 40), (120, 80)] {
        enc(&mut f, sink, rng, Side::Client, up);
        enc(&mut f, sink, rng, Side::Server, down);
    }
    let body = rng.gen_range(2_000..60_000);
    enc(&mut f, sink, rng, Side::Client, body);
    enc(&mut f, sink, rng, Side::Server, 60);
    enc(&mut f, sink, rng, Side::Client, 6);
    enc(&mut f, sink, rng, Side::Server, 30);
    f.close(sink, Side::Server, 0);
    f.t
}
