//! DNS / mDNS message encoding (RFC 1035, RFC 6762). Names are written
//! uncompressed, which every parser must accept.

pub(crate) const A: u16 = 1;
pub(crate) const PTR: u16 = 12;
pub(crate) const MX: u16 = 15;
pub(crate) const TXT: u16 = 16;
pub(crate) const AAAA: u16 = 28;
pub(crate) const SRV: u16 = 33;

pub(crate) const NOERROR: u8 = 0;
pub(crate) const SERVFAIL: u8 = 2;
pub(crate) const NXDOMAIN: u8 = 3;

// The full set of record types a home resolver returns; not every one is
// used by today's profiles.
#[allow(dead_code)]
pub(crate) enum Rdata<'a> {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Cname(&'a str),
    Mx(u16, &'a str),
    Ptr(&'a str),
    Txt(&'a [&'a str]),
    Srv { port: u16, target: &'a str },
}

impl Rdata<'_> {
    fn rtype(&self) -> u16 {
        match self {
            Rdata::A(_) => A,
            Rdata::Aaaa(_) => AAAA,
            Rdata::Cname(_) => 5,
            Rdata::Mx(..) => MX,
            Rdata::Ptr(_) => PTR,
            Rdata::Txt(_) => TXT,
            Rdata::Srv { .. } => SRV,
        }
    }
}

pub(crate) struct Rr<'a> {
    pub name: &'a str,
    pub class: u16,
    pub ttl: u32,
    pub data: Rdata<'a>,
}

impl<'a> Rr<'a> {
    pub fn new(name: &'a str, ttl: u32, data: Rdata<'a>) -> Self {
        Rr {
            name,
            class: 1,
            ttl,
            data,
        }
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    for label in name.trim_end_matches('.').split('.') {
        let l = &label.as_bytes()[..label.len().min(63)];
        if l.is_empty() {
            continue;
        }
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

fn put_rr(out: &mut Vec<u8>, rr: &Rr<'_>) {
    put_name(out, rr.name);
    out.extend_from_slice(&rr.data.rtype().to_be_bytes());
    out.extend_from_slice(&rr.class.to_be_bytes());
    out.extend_from_slice(&rr.ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    match &rr.data {
        Rdata::A(ip) => out.extend_from_slice(ip),
        Rdata::Aaaa(ip) => out.extend_from_slice(ip),
        Rdata::Cname(n) | Rdata::Ptr(n) => put_name(out, n),
        Rdata::Mx(pref, n) => {
            out.extend_from_slice(&pref.to_be_bytes());
            put_name(out, n);
        }
        Rdata::Txt(items) => {
            for t in items.iter() {
                let b = &t.as_bytes()[..t.len().min(255)];
                out.push(b.len() as u8);
                out.extend_from_slice(b);
            }
        }
        Rdata::Srv { port, target } => {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(&port.to_be_bytes());
            put_name(out, target);
        }
    }
    let len = (out.len() - len_at - 2) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}

pub(crate) struct Msg<'a> {
    pub id: u16,
    pub response: bool,
    /// Recursion desired (set on stub queries and echoed in answers).
    pub rd: bool,
    pub authoritative: bool,
    pub rcode: u8,
    pub questions: &'a [(&'a str, u16)],
    pub answers: &'a [Rr<'a>],
    pub additionals: &'a [Rr<'a>],
}

impl Msg<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&self.id.to_be_bytes());
        let mut flags: u16 = 0;
        if self.response {
            flags |= 0x8000;
            if self.rd {
                flags |= 0x0080; // recursion available
            }
        }
        if self.authoritative {
            flags |= 0x0400;
        }
        if self.rd {
            flags |= 0x0100;
        }
        flags |= u16::from(self.rcode & 0x0f);
        out.extend_from_slice(&flags.to_be_bytes());
        for n in [
            self.questions.len(),
            self.answers.len(),
            0,
            self.additionals.len(),
        ] {
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        for (name, qtype) in self.questions {
            put_name(&mut out, name);
            out.extend_from_slice(&qtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
        }
        for rr in self.answers.iter().chain(self.additionals) {
            put_rr(&mut out, rr);
        }
        out
    }
}

/// A recursive stub query.
pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    Msg {
        id,
        response: false,
        rd: true,
        authoritative: false,
        rcode: 0,
        questions: &[(name, qtype)],
        answers: &[],
        additionals: &[],
    }
    .encode()
}

/// The resolver's answer to [`query`].
pub(crate) fn answer(id: u16, name: &str, qtype: u16, rcode: u8, answers: &[Rr<'_>]) -> Vec<u8> {
    Msg {
        id,
        response: true,
        rd: true,
        authoritative: false,
        rcode,
        questions: &[(name, qtype)],
        answers,
        additionals: &[],
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_layout() {
        let q = query(0x1234, "example.com", A);
        assert_eq!(&q[0..2], &[0x12, 0x34]);
        assert_eq!(&q[2..4], &[0x01, 0x00]);
        assert_eq!(&q[4..6], &[0, 1]);
        assert_eq!(&q[12..25], b"\x07example\x03com\x00");
        assert_eq!(&q[25..29], &[0, 1, 0, 1]);
        assert_eq!(q.len(), 29);
    }

    #[test]
    fn answer_rdlength_matches() {
        let a = answer(
            1,
            "mx.example.com",
            MX,
            NOERROR,
            &[Rr::new(
                "mx.example.com",
                300,
                Rdata::Mx(10, "in1.example.com"),
            )],
        );
        // header 12 + question (16 + 4) + rr name 16 + type/class/ttl 8 + rdlen 2
        let rdlen_at = 12 + 20 + 16 + 8;
        let rdlen = u16::from_be_bytes([a[rdlen_at], a[rdlen_at + 1]]) as usize;
        assert_eq!(rdlen, 2 + 17);
        assert_eq!(a.len(), rdlen_at + 2 + rdlen);
        assert_eq!(a[3] & 0x0f, NOERROR);
        assert_eq!(a[2] & 0x80, 0x80);
    }
}
