//! The head of an HTTP/1.x request or response, read from the first segment only.

use crate::head::{self, HeadError, StartLine};

/// What identification reads from an HTTP head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpHead<'a> {
    Request {
        method: &'a [u8],
        path: &'a [u8],
        host: Option<&'a [u8]>,
        user_agent: Option<&'a [u8]>,
    },
    Response {
        status: u16,
        server: Option<&'a [u8]>,
    },
}

pub fn parse(bytes: &[u8]) -> Result<HttpHead<'_>, HeadError> {
    let h = head::parse(bytes)?;
    Ok(match h.start {
        StartLine::Request { method, target } => {
            let (mut host, mut user_agent) = (None, None);
            for (name, value) in h.headers() {
                if host.is_none() && name.eq_ignore_ascii_case(b"host") {
                    host = Some(value);
                } else if user_agent.is_none() && name.eq_ignore_ascii_case(b"user-agent") {
                    user_agent = Some(value);
                }
            }
            HttpHead::Request {
                method,
                path: target,
                host,
                user_agent,
            }
        }
        StartLine::Response { status } => HttpHead::Response {
            status,
            server: h.header("server"),
        },
    })
}

/// `Host` without a `:port` suffix (IPv6 literals keep their brackets).
pub fn host_without_port(host: &[u8]) -> &[u8] {
    match host.iter().rposition(|&b| b == b':') {
        Some(i) if !host.ends_with(b"]") && host[i + 1..].iter().all(u8::is_ascii_digit) => {
            &host[..i]
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] =
        b"GET /dst?tz=Europe/Berlin HTTP/1.1\r\nUser-Agent: Wget/1.13 (linux-uclibc)\r\n\
Accept: */*\r\nHost: tzinfo.dch.dlink.com\r\nConnection: Keep-Alive\r\n\r\n";

    #[test]
    fn request() {
        assert_eq!(
            parse(REQ).unwrap(),
            HttpHead::Request {
                method: b"GET",
                path: b"/dst?tz=Europe/Berlin",
                host: Some(b"tzinfo.dch.dlink.com"),
                user_agent: Some(b"Wget/1.13 (linux-uclibc)"),
            }
        );
    }

    #[test]
    fn response_server() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 458\r\nServer: lighttpd/1.4.34\r\n\r\n<?xml",
        );
        assert_eq!(
            r.unwrap(),
            HttpHead::Response {
                status: 200,
                server: Some(b"lighttpd/1.4.34")
            }
        );
    }

    #[test]
    fn split_segments() {
        // The Fitbit Aria sends the request line alone, then the headers.
        assert_eq!(
            parse(b"GET /scale/register?serialNumber=1 HTTP/1.1\r\n").unwrap(),
            HttpHead::Request {
                method: b"GET",
                path: b"/scale/register?serialNumber=1",
                host: None,
                user_agent: None
            }
        );
        assert!(parse(b"Host: www.fitbit.com\r\n\r\n").is_err());
        for n in 0..=REQ.len() {
            if let Ok(HttpHead::Request { user_agent, .. }) = parse(&REQ[..n]) {
                assert!(user_agent.is_none_or(|u| u == b"Wget/1.13 (linux-uclibc)"));
            }
        }
    }

    #[test]
    fn host_port() {
        assert_eq!(host_without_port(b"www.example.com:80"), b"www.example.com");
        assert_eq!(host_without_port(b"www.example.com"), b"www.example.com");
        assert_eq!(host_without_port(b"[::1]"), b"[::1]");
        assert_eq!(host_without_port(b"[::1]:8080"), b"[::1]");
        assert_eq!(host_without_port(b"a:b"), b"a:b");
    }
}
