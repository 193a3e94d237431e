//! A tolerant reader for HTTP/1.x message heads, shared by SSDP and HTTP.
//!
//! Identification sees one UDP datagram or the first bytes of one TCP segment,
//! without reassembly, so heads are often cut short (in the real captures a
//! request line and its headers arrive in separate segments). Strict parsers
//! such as `httparse` report such a head as incomplete and return no headers
//! at all, and reject the whole message for one malformed line. This reader
//! instead yields every complete `Name: value` line it can see: a line cut
//! off by the end of the data is dropped (its value may be truncated), lines
//! without a colon and obsolete folded lines are skipped, and at most
//! [`MAX_HEADER_LINES`] lines are looked at.

/// Header lines examined per message; the rest are ignored.
pub const MAX_HEADER_LINES: usize = 64;

/// Why bytes are not an HTTP/1.x head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("no complete start line")]
    Incomplete,
    #[error("not an HTTP/1.x start line")]
    NotHttp,
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a [u8], target: &'a [u8] },
    Response { status: u16 },
}

/// A start line and the header lines after it.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub start: StartLine<'a>,
    rest: &'a [u8],
}

/// Splits off one line (without CR LF); None if no line ending is left.
fn line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let line = &bytes[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, &bytes[nl + 1..]))
}

fn is_version(v: &[u8]) -> bool {
    v.len() == 8 && v.starts_with(b"HTTP/1.") && v[7].is_ascii_digit()
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

pub fn parse(bytes: &[u8]) -> Result<Head<'_>, HeadError> {
    let (first, rest) = line(bytes).ok_or(HeadError::Incomplete)?;
    let mut parts = first.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (a, b, c) = (parts.next(), parts.next(), parts.next());
    let start = match (a, b, c) {
        (Some(v), Some(code), _) if is_version(v) => {
            let status = match code {
                [d1, d2, d3] if code.iter().all(u8::is_ascii_digit) => {
                    u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0')
                }
                _ => return Err(HeadError::NotHttp),
            };
            StartLine::Response { status }
        }
        (Some(method), Some(target), Some(v))
            if is_version(v)
                && parts.next().is_none()
                && method
                    .iter()
                    .all(|&b| b.is_ascii_uppercase() || b == b'-' || b == b'_') =>
        {
            StartLine::Request { method, target }
        }
        _ => return Err(HeadError::NotHttp),
    };
    Ok(Head { start, rest })
}

impl<'a> Head<'a> {
    /// Complete header lines as `(name, value)`, values trimmed.
    pub fn headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let mut rest = self.rest;
        let mut lines = 0;
        core::iter::from_fn(move || loop {
            if lines == MAX_HEADER_LINES {
                return None;
            }
            lines += 1;
            let (l, r) = line(rest)?;
            rest = r;
            if l.is_empty() {
                // End of the head.
                rest = &[];
                return None;
            }
            if matches!(l[0], b' ' | b'\t') {
                continue;
            }
            if let Some(colon) = l.iter().position(|&b| b == b':') {
                return Some((trim(&l[..colon]), trim(&l[colon + 1..])));
            }
        })
    }

    /// The first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_headers() {
        let h = parse(
            b"GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Agent:  Wget/1.13 \r\n\r\nbody: no\r\n",
        )
        .unwrap();
        assert_eq!(
            h.start,
            StartLine::Request {
                method: b"GET",
                target: b"/x"
            }
        );
        assert_eq!(h.header("host"), Some(&b"a.example"[..]));
        assert_eq!(h.header("USER-AGENT"), Some(&b"Wget/1.13"[..]));
        assert_eq!(h.header("body"), None, "the body is not headers");
        assert_eq!(h.headers().count(), 2);
    }

    #[test]
    fn response_and_cut_lines() {
        let h = parse(b"HTTP/1.1 200 OK\nServer: lighttpd/1.4.34\nno colon here\n\tfolded: x\nDate: Thu, 16 Ju")
            .unwrap();
        assert_eq!(h.start, StartLine::Response { status: 200 });
        let hs: Vec<_> = h.headers().collect();
        assert_eq!(hs, vec![(&b"Server"[..], &b"lighttpd/1.4.34"[..])]);
    }

    #[test]
    fn rejects_non_http() {
        assert_eq!(parse(b"GET / HTTP/1.1").unwrap_err(), HeadError::Incomplete);
        for bad in [
            &b"\x16\x03\x01\x02\x00\n"[..],
            b"get / HTTP/1.1\r\n",
            b"GET / HTTP/2.0\r\n",
            b"HTTP/1.1 2000 OK\r\n",
            b"GET / x HTTP/1.1\r\n",
            b"\r\n",
        ] {
            assert_eq!(parse(bad).unwrap_err(), HeadError::NotHttp, "{bad:?}");
        }
        let ok = parse(b"M-SEARCH * HTTP/1.1\r\n").unwrap();
        assert!(matches!(
            ok.start,
            StartLine::Request {
                method: b"M-SEARCH",
                ..
            }
        ));
    }

    #[test]
    fn header_lines_are_bounded() {
        let mut m = b"NOTIFY * HTTP/1.1\r\n".to_vec();
        for _ in 0..1000 {
            m.extend_from_slice(b"X: y\r\n");
        }
        m.extend_from_slice(b"SERVER: late\r\n\r\n");
        let h = parse(&m).unwrap();
        assert_eq!(h.headers().count(), MAX_HEADER_LINES);
        assert_eq!(h.header("server"), None);
    }
}
