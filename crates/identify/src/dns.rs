//! DNS messages (RFC 1035) as used by unicast DNS (port 53) and mDNS (RFC 6762, port 5353).
//!
//! Parsing is lazy and never allocates: [`DnsMessage::parse`] checks the header,
//! the iterators decode one question or record at a time, and a corrupt one
//! yields a single `Err` after which the iterator is exhausted. Names are
//! decoded with compression pointers (at most [`MAX_POINTER_HOPS`] jumps, so a
//! pointer loop is an error, not a hang) into an inline [`Name`].

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

/// RFC 1035 §2.3.4: a name is at most 255 bytes on the wire.
pub const MAX_NAME_WIRE: usize = 255;
/// Compression pointers followed per name before giving up.
pub const MAX_POINTER_HOPS: usize = 64;

const HEADER_LEN: usize = 12;

/// Record and query types this module decodes.
pub mod rtype {
    pub const A: u16 = 1;
    pub const CNAME: u16 = 5;
    pub const PTR: u16 = 12;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
}

/// Why a message, question or record was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS message shorter than its header")]
    TooShort,
    #[error("DNS data runs past the end of the message")]
    Truncated,
    #[error("DNS name compression pointers loop or chain too long")]
    PointerLoop,
    #[error("DNS name longer than 255 bytes")]
    NameTooLong,
    #[error("DNS label uses a reserved type")]
    BadLabel,
    #[error("DNS record data does not match its type")]
    BadRdata,
}

/// A decoded domain name in presentation form (`label.label`, no trailing dot),
/// ASCII-lowercased, stored inline.
///
/// Label bytes that are control characters or not valid UTF-8 are replaced by
/// `?`, so [`Name::as_str`] is always safe to display. Dots inside a label (as
/// mDNS instance names allow) are kept as they are.
#[derive(Clone, Copy)]
pub struct Name {
    buf: [u8; MAX_NAME_WIRE],
    len: u8,
}

impl Name {
    /// The root (empty) name.
    pub const fn root() -> Self {
        Name {
            buf: [0; MAX_NAME_WIRE],
            len: 0,
        }
    }

    pub fn as_str(&self) -> &str {
        // push_label only stores ASCII or validated UTF-8; the fallback keeps
        // this total without unwrap.
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }

    pub fn is_root(&self) -> bool {
        self.len == 0
    }

    /// The labels, leftmost first (split on dots, see the type's note).
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.as_str().split('.').filter(|l| !l.is_empty())
    }

    /// The leftmost label, which for a DNS-SD instance name is the instance.
    pub fn first_label(&self) -> &str {
        self.as_str().split('.').next().unwrap_or("")
    }

    /// Appends one wire label. The caller has checked the wire length, which
    /// bounds the presentation length: 255 wire bytes make at most 253 here.
    fn push_label(&mut self, label: &[u8]) -> Result<(), DnsError> {
        let mut at = usize::from(self.len);
        let dot = usize::from(at > 0);
        let end = at + dot + label.len();
        let dst = self.buf.get_mut(at..end).ok_or(DnsError::NameTooLong)?;
        if dot == 1 {
            dst[0] = b'.';
        }
        let start = at + dot;
        for (d, &b) in dst[dot..].iter_mut().zip(label) {
            *d = if b < 0x20 || b == 0x7f {
                b'?'
            } else {
                b.to_ascii_lowercase()
            };
        }
        // Replace each byte of invalid UTF-8 sequences, keeping the length.
        at = start;
        while at < end {
            match core::str::from_utf8(&self.buf[at..end]) {
                Ok(_) => break,
                Err(e) => {
                    let bad = at + e.valid_up_to();
                    let n = e.error_len().unwrap_or(end - bad);
                    self.buf[bad..bad + n].fill(b'?');
                    at = bad + n;
                }
            }
        }
        // Valid UTF-8 can still hold C1 controls (U+0080-U+009F, e.g. the
        // 8-bit CSI) and bidirectional overrides: replace their bytes too.
        let mut copy = [0u8; MAX_NAME_WIRE];
        let copy = &mut copy[..end - start];
        copy.copy_from_slice(&self.buf[start..end]);
        for (i, c) in core::str::from_utf8(copy).unwrap_or("").char_indices() {
            if !crate::text::is_displayable(c) {
                self.buf[start + i..start + i + c.len_utf8()].fill(b'?');
            }
        }
        self.len = end as u8; // end <= 255 by the slice bound above
        Ok(())
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decodes the name at `pos` in `msg`; returns it and the offset just after
/// its encoding at `pos` (after the first pointer, if any).
pub fn read_name(msg: &[u8], pos: usize) -> Result<(Name, usize), DnsError> {
    let mut name = Name::root();
    let mut p = pos;
    let mut after = None;
    let mut hops = 0;
    let mut wire = 1; // the root label's length byte
    loop {
        let len = *msg.get(p).ok_or(DnsError::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok((name, after.unwrap_or(p + 1))),
            0x00 => {
                let len = usize::from(len);
                let label = msg.get(p + 1..p + 1 + len).ok_or(DnsError::Truncated)?;
                wire += 1 + len;
                if wire > MAX_NAME_WIRE {
                    return Err(DnsError::NameTooLong);
                }
                name.push_label(label)?;
                p += 1 + len;
            }
            0xc0 => {
                let lo = *msg.get(p + 1).ok_or(DnsError::Truncated)?;
                after.get_or_insert(p + 2);
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err(DnsError::PointerLoop);
                }
                p = usize::from(len & 0x3f) << 8 | usize::from(lo);
            }
            _ => return Err(DnsError::BadLabel),
        }
    }
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, DnsError> {
    let b = msg.get(pos..pos + 2).ok_or(DnsError::Truncated)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

fn u32_at(msg: &[u8], pos: usize) -> Result<u32, DnsError> {
    let b = msg.get(pos..pos + 4).ok_or(DnsError::Truncated)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A DNS message whose 12-byte header is present.
#[derive(Debug, Clone, Copy)]
pub struct DnsMessage<'a> {
    bytes: &'a [u8],
}

impl<'a> DnsMessage<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DnsError> {
        if bytes.len() < HEADER_LEN {
            return Err(DnsError::TooShort);
        }
        Ok(DnsMessage { bytes })
    }

    fn header(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.bytes[2 * i], self.bytes[2 * i + 1]])
    }

    pub fn id(&self) -> u16 {
        self.header(0)
    }

    pub fn flags(&self) -> u16 {
        self.header(1)
    }

    /// QR bit.
    pub fn is_response(&self) -> bool {
        self.flags() & 0x8000 != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags() >> 11) & 0x0f) as u8
    }

    /// TC bit.
    pub fn is_truncated(&self) -> bool {
        self.flags() & 0x0200 != 0
    }

    pub fn rcode(&self) -> u8 {
        (self.flags() & 0x000f) as u8
    }

    pub fn question_count(&self) -> u16 {
        self.header(2)
    }

    pub fn answer_count(&self) -> u16 {
        self.header(3)
    }

    pub fn authority_count(&self) -> u16 {
        self.header(4)
    }

    pub fn additional_count(&self) -> u16 {
        self.header(5)
    }

    pub fn questions(&self) -> impl Iterator<Item = Result<Question, DnsError>> + 'a {
        Questions {
            msg: self.bytes,
            pos: HEADER_LEN,
            left: self.question_count(),
            done: false,
        }
    }

    /// Answer, then authority, then additional records, each tagged with its section.
    pub fn records(&self) -> impl Iterator<Item = Result<Record<'a>, DnsError>> + 'a {
        Records {
            msg: self.bytes,
            pos: None,
            questions: self.question_count(),
            left: [
                self.answer_count(),
                self.authority_count(),
                self.additional_count(),
            ],
            section: 0,
            done: false,
        }
    }
}

/// One entry of the question section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    /// Raw class; in mDNS the top bit asks for a unicast response.
    pub qclass: u16,
}

fn read_question(msg: &[u8], pos: usize) -> Result<(Question, usize), DnsError> {
    let (name, p) = read_name(msg, pos)?;
    let q = Question {
        name,
        qtype: u16_at(msg, p)?,
        qclass: u16_at(msg, p + 2)?,
    };
    Ok((q, p + 4))
}

struct Questions<'a> {
    msg: &'a [u8],
    pos: usize,
    left: u16,
    done: bool,
}

impl Iterator for Questions<'_> {
    type Item = Result<Question, DnsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.left == 0 {
            return None;
        }
        self.left -= 1;
        match read_question(self.msg, self.pos) {
            Ok((q, next)) => {
                self.pos = next;
                Some(Ok(q))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The section a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// One resource record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub section: Section,
    pub name: Name,
    pub rtype: u16,
    /// Raw class; in mDNS the top bit is the cache-flush flag.
    pub class: u16,
    pub ttl: u32,
    pub data: RData<'a>,
}

/// Decoded record data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RData<'a> {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ptr(Name),
    Cname(Name),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Txt(Txt<'a>),
    /// Any other type, raw.
    Other(&'a [u8]),
}

/// TXT record data: a sequence of length-prefixed strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Txt<'a>(pub &'a [u8]);

impl<'a> Txt<'a> {
    /// The strings; a string whose length runs past the data ends the iteration.
    pub fn strings(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.0;
        core::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let s = tail.get(..usize::from(len))?;
            rest = &tail[usize::from(len)..];
            Some(s)
        })
    }
}

fn read_record(msg: &[u8], pos: usize, section: Section) -> Result<(Record<'_>, usize), DnsError> {
    let (name, p) = read_name(msg, pos)?;
    let rtype = u16_at(msg, p)?;
    let class = u16_at(msg, p + 2)?;
    let ttl = u32_at(msg, p + 4)?;
    let rdlen = usize::from(u16_at(msg, p + 8)?);
    let start = p + 10;
    let rdata = msg.get(start..start + rdlen).ok_or(DnsError::Truncated)?;
    let data = match rtype {
        rtype::A => RData::A(Ipv4Addr::from(
            <[u8; 4]>::try_from(rdata).map_err(|_| DnsError::BadRdata)?,
        )),
        rtype::AAAA => RData::Aaaa(Ipv6Addr::from(
            <[u8; 16]>::try_from(rdata).map_err(|_| DnsError::BadRdata)?,
        )),
        // Names in rdata may point anywhere earlier in the message.
        rtype::PTR => RData::Ptr(read_name(msg, start)?.0),
        rtype::CNAME => RData::Cname(read_name(msg, start)?.0),
        rtype::SRV => {
            if rdlen < 7 {
                return Err(DnsError::BadRdata);
            }
            RData::Srv {
                priority: u16_at(msg, start)?,
                weight: u16_at(msg, start + 2)?,
                port: u16_at(msg, start + 4)?,
                target: read_name(msg, start + 6)?.0,
            }
        }
        rtype::TXT => RData::Txt(Txt(rdata)),
        _ => RData::Other(rdata),
    };
    let record = Record {
        section,
        name,
        rtype,
        class,
        ttl,
        data,
    };
    Ok((record, start + rdlen))
}

struct Records<'a> {
    msg: &'a [u8],
    /// None until the question section has been skipped.
    pos: Option<usize>,
    questions: u16,
    left: [u16; 3],
    section: usize,
    done: bool,
}

impl<'a> Records<'a> {
    fn step(&mut self) -> Option<Result<Record<'a>, DnsError>> {
        let mut pos = match self.pos {
            Some(p) => p,
            None => {
                let mut p = HEADER_LEN;
                for _ in 0..self.questions {
                    match read_question(self.msg, p) {
                        Ok((_, next)) => p = next,
                        Err(e) => return Some(Err(e)),
                    }
                }
                p
            }
        };
        while self.section < 3 && self.left[self.section] == 0 {
            self.section += 1;
        }
        let section = [Section::Answer, Section::Authority, Section::Additional]
            .get(self.section)
            .copied()?;
        self.left[self.section] -= 1;
        let (record, next) = match read_record(self.msg, pos, section) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        pos = next;
        self.pos = Some(pos);
        Some(Ok(record))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, DnsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds messages for tests; names are written uncompressed unless a
    /// pointer is pushed by hand.
    pub(crate) struct Builder(pub Vec<u8>);

    impl Builder {
        pub(crate) fn new(id: u16, flags: u16, counts: [u16; 4]) -> Self {
            let mut b = id.to_be_bytes().to_vec();
            b.extend_from_slice(&flags.to_be_bytes());
            for c in counts {
                b.extend_from_slice(&c.to_be_bytes());
            }
            Builder(b)
        }

        pub(crate) fn name(&mut self, name: &str) -> &mut Self {
            for l in name.split('.').filter(|l| !l.is_empty()) {
                self.0.push(l.len() as u8);
                self.0.extend_from_slice(l.as_bytes());
            }
            self.0.push(0);
            self
        }

        pub(crate) fn u16(&mut self, v: u16) -> &mut Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }

        pub(crate) fn question(&mut self, name: &str, qtype: u16) -> &mut Self {
            self.name(name).u16(qtype).u16(1)
        }

        pub(crate) fn record(&mut self, name: &str, rtype: u16, rdata: &[u8]) -> &mut Self {
            self.name(name).u16(rtype).u16(0x8001);
            self.0.extend_from_slice(&120u32.to_be_bytes());
            self.u16(rdata.len() as u16);
            self.0.extend_from_slice(rdata);
            self
        }
    }

    pub(crate) fn wire(name: &str) -> Vec<u8> {
        let mut b = Builder(Vec::new());
        b.name(name);
        b.0
    }

    pub(crate) fn txt(strings: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for s in strings {
            v.push(s.len() as u8);
            v.extend_from_slice(s.as_bytes());
        }
        v
    }

    /// An mDNS announcement like the Hue bridge's, with a compressed SRV target.
    fn hue_announcement() -> Vec<u8> {
        let mut b = Builder::new(0, 0x8400, [0, 4, 0, 0]);
        b.record(
            "_hap._tcp.local",
            rtype::PTR,
            &wire("Philips hue - 2476FF._hap._tcp.local"),
        );
        b.record(
            "Philips hue - 2476FF._hap._tcp.local",
            rtype::TXT,
            &txt(&["c#=1", "md=BSB002", "pv=1.0"]),
        );
        // SRV target "Philips-hue" + pointer to "local" at offset 12 + 10 = 22.
        let mut srv = vec![0, 0, 0, 0, 0x1f, 0x90, 11];
        srv.extend_from_slice(b"Philips-hue");
        srv.extend_from_slice(&[0xc0, 22]);
        b.record("Philips hue - 2476FF._hap._tcp.local", rtype::SRV, &srv);
        b.record("Philips-hue.local", rtype::A, &[10, 10, 10, 6]);
        b.0
    }

    #[test]
    fn query_header_and_question() {
        let mut b = Builder::new(0x1234, 0x0100, [1, 0, 0, 0]);
        b.question("scalews.Withings.net", rtype::A);
        let m = DnsMessage::parse(&b.0).unwrap();
        assert_eq!(
            (m.id(), m.is_response(), m.opcode(), m.rcode()),
            (0x1234, false, 0, 0)
        );
        let qs: Vec<_> = m.questions().collect::<Result<_, _>>().unwrap();
        assert_eq!(qs.len(), 1);
        assert_eq!(qs[0].name.as_str(), "scalews.withings.net");
        assert_eq!(qs[0].qtype, rtype::A);
        assert_eq!(m.records().count(), 0);
    }

    #[test]
    fn mdns_records_with_compression() {
        let bytes = hue_announcement();
        let m = DnsMessage::parse(&bytes).unwrap();
        assert!(m.is_response());
        let rs: Vec<_> = m.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(rs.len(), 4);
        assert!(rs
            .iter()
            .all(|r| r.section == Section::Answer && r.class == 0x8001));
        match rs[0].data {
            RData::Ptr(n) => assert_eq!(n.as_str(), "philips hue - 2476ff._hap._tcp.local"),
            other => panic!("{other:?}"),
        }
        match rs[1].data {
            RData::Txt(t) => assert_eq!(
                t.strings().collect::<Vec<_>>(),
                vec![&b"c#=1"[..], b"md=BSB002", b"pv=1.0"]
            ),
            other => panic!("{other:?}"),
        }
        match rs[2].data {
            RData::Srv { port, target, .. } => {
                assert_eq!(port, 8080);
                assert_eq!(target.as_str(), "philips-hue.local");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(rs[3].data, RData::A(Ipv4Addr::new(10, 10, 10, 6)));
        assert_eq!(rs[3].name.first_label(), "philips-hue");
    }

    #[test]
    fn sections_are_tagged() {
        let mut b = Builder::new(7, 0x8180, [1, 1, 1, 1]);
        b.question("a.example", rtype::A);
        b.record("a.example", rtype::CNAME, &wire("b.example"));
        b.record("example", 2, &wire("ns.example"));
        b.record(
            "b.example",
            rtype::AAAA,
            &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        let m = DnsMessage::parse(&b.0).unwrap();
        let rs: Vec<_> = m.records().collect::<Result<_, _>>().unwrap();
        let sections: Vec<_> = rs.iter().map(|r| r.section).collect();
        assert_eq!(
            sections,
            [Section::Answer, Section::Authority, Section::Additional]
        );
        assert!(matches!(rs[0].data, RData::Cname(n) if n.as_str() == "b.example"));
        assert!(matches!(rs[1].data, RData::Other(d) if d == wire("ns.example")));
        assert!(matches!(rs[2].data, RData::Aaaa(a) if a.segments()[0] == 0xfe80));
    }

    #[test]
    fn every_prefix_and_corruption_is_safe() {
        let bytes = hue_announcement();
        for n in 0..=bytes.len() {
            match DnsMessage::parse(&bytes[..n]) {
                Err(e) => assert!(n < 12 && e == DnsError::TooShort),
                Ok(m) => {
                    let results: Vec<_> = m.records().collect();
                    // Iteration ends at the first error.
                    let first_err = results.iter().position(Result::is_err);
                    assert!(first_err.is_none_or(|i| i == results.len() - 1));
                    if n < bytes.len() {
                        assert!(first_err.is_some(), "prefix {n} parsed fully");
                    }
                }
            }
        }
        // Flip every byte to every "interesting" value: must not panic.
        for i in 0..bytes.len() {
            for v in [0x00, 0x3f, 0x40, 0xc0, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                if let Ok(m) = DnsMessage::parse(&b) {
                    let _ = m.questions().count();
                    let _ = m.records().count();
                }
            }
        }
    }

    #[test]
    fn pointer_loops_are_errors() {
        // A name at 12 that points to itself.
        let mut b = Builder::new(0, 0, [1, 0, 0, 0]);
        b.0.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        let m = DnsMessage::parse(&b.0).unwrap();
        assert_eq!(m.questions().next(), Some(Err(DnsError::PointerLoop)));
        assert_eq!(m.questions().count(), 1);
        // Two names pointing at each other, with a label in between.
        let mut b = Builder::new(0, 0, [1, 0, 0, 0]);
        b.0.extend_from_slice(&[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12]);
        let m = DnsMessage::parse(&b.0).unwrap();
        let err = m.questions().next().unwrap().unwrap_err();
        assert!(matches!(err, DnsError::PointerLoop | DnsError::NameTooLong));
        // A pointer past the end.
        assert_eq!(
            read_name(&[0xc0, 0xff], 0).unwrap_err(),
            DnsError::Truncated
        );
        // Reserved label types 0x40 and 0x80.
        assert_eq!(
            read_name(&[0x41, b'a', 0], 0).unwrap_err(),
            DnsError::BadLabel
        );
        assert_eq!(
            read_name(&[0x81, b'a', 0], 0).unwrap_err(),
            DnsError::BadLabel
        );
    }

    #[test]
    fn name_length_limits() {
        // 4 labels of 63 = 256 wire bytes with the length bytes and root: too long.
        let l = "x".repeat(63);
        let long = wire(&[l.as_str(); 4].join("."));
        assert_eq!(read_name(&long, 0).unwrap_err(), DnsError::NameTooLong);
        // 3 x 63 + 1 x 61 = 255 exactly: fine, presentation length 253.
        let ok = wire(&format!("{l}.{l}.{l}.{}", "y".repeat(61)));
        let (n, next) = read_name(&ok, 0).unwrap();
        assert_eq!((n.as_str().len(), next), (253, 255));
        // Through pointers too: 63-byte labels each followed by a pointer to
        // the next, 66 bytes apart, adding up past 255.
        let mut msg = Vec::new();
        for i in 0..5u16 {
            msg.push(63);
            msg.extend_from_slice(&[b'z'; 63]);
            msg.extend_from_slice(&(0xc000 | ((i + 1) * 66)).to_be_bytes());
        }
        msg.push(0);
        assert_eq!(read_name(&msg, 0).unwrap_err(), DnsError::NameTooLong);
    }

    #[test]
    fn hostile_label_bytes_are_display_safe() {
        let mut msg = vec![9];
        msg.extend_from_slice(b"A\x1b[2J\xff\xfeB\x00");
        msg.truncate(10);
        msg.push(0);
        let (n, _) = read_name(&msg, 0).unwrap();
        assert_eq!(n.as_str(), "a?[2j??b?");
        let (n, _) = read_name("\x05café\x00".as_bytes(), 0).unwrap();
        assert_eq!(n.as_str(), "café");
        assert!(read_name(&[0], 0).unwrap().0.is_root());
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_replaced() {
        // Found by the dns_message fuzz target: a label holding U+0080 as
        // valid UTF-8 (C2 80) came out of `as_str` unchanged.
        let crash = [
            0x01, 0x15, 0xc2, 0x80, 0xc4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfb, 0x00,
            0xff, 0xff, 0x00, 0x00, 0xfb, 0xc7, 0x00, 0x00, 0xfb, 0x00,
        ];
        let (n, _) = read_name(&crash, 1).unwrap();
        assert!(n.as_str().chars().all(crate::text::is_displayable), "{n:?}");
        assert!(n.as_str().starts_with("??"), "{n:?}");
        // 8-bit CSI (U+009B) and a right-to-left override (U+202E), each
        // replaced byte for byte; ordinary non-ASCII stays.
        let label = "a\u{9b}2j\u{202e}é".as_bytes();
        let mut msg = vec![label.len() as u8];
        msg.extend_from_slice(label);
        msg.push(0);
        let (n, next) = read_name(&msg, 0).unwrap();
        assert_eq!(n.as_str(), "a??2j???é");
        assert_eq!(next, msg.len());
    }

    #[test]
    fn txt_strings_stop_at_truncation() {
        let t = Txt(b"\x03abc\x05de");
        assert_eq!(t.strings().collect::<Vec<_>>(), vec![&b"abc"[..]]);
        assert_eq!(Txt(b"\x00\x01x").strings().count(), 2);
    }
}
