//! SSDP (UPnP discovery, UDP 1900): `M-SEARCH`, `NOTIFY` and `HTTP/1.1 200` responses.

use crate::head::{self, HeadError, StartLine};

/// Which of the three SSDP message forms this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsdpKind {
    /// `M-SEARCH * HTTP/1.1`: a control point looking for devices.
    Search,
    /// `NOTIFY * HTTP/1.1`: a device announcing itself (alive or byebye).
    Notify,
    /// `HTTP/1.1 <status>`: a device answering a search.
    Response(u16),
}

/// A parsed SSDP message; header lookups are case-insensitive.
#[derive(Debug, Clone, Copy)]
pub struct SsdpMessage<'a> {
    kind: SsdpKind,
    head: head::Head<'a>,
}

impl<'a> SsdpMessage<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, HeadError> {
        let head = head::parse(bytes)?;
        let kind = match head.start {
            StartLine::Request {
                method: b"M-SEARCH",
                ..
            } => SsdpKind::Search,
            StartLine::Request {
                method: b"NOTIFY", ..
            } => SsdpKind::Notify,
            StartLine::Response { status } => SsdpKind::Response(status),
            StartLine::Request { .. } => return Err(HeadError::NotHttp),
        };
        Ok(SsdpMessage { kind, head })
    }

    pub fn kind(&self) -> SsdpKind {
        self.kind
    }

    /// Any header by name.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.head.header(name)
    }

    /// `SERVER`: `OS/version UPnP/1.x product/version` of the announcing device.
    pub fn server(&self) -> Option<&'a [u8]> {
        self.header("server")
    }

    /// `USER-AGENT` (UPnP 1.1 M-SEARCH).
    pub fn user_agent(&self) -> Option<&'a [u8]> {
        self.header("user-agent")
    }

    /// `NT`: notification type of a NOTIFY.
    pub fn nt(&self) -> Option<&'a [u8]> {
        self.header("nt")
    }

    /// `NTS`: `ssdp:alive` / `ssdp:byebye` / `ssdp:update`.
    pub fn nts(&self) -> Option<&'a [u8]> {
        self.header("nts")
    }

    /// `ST`: search target of an M-SEARCH or response.
    pub fn st(&self) -> Option<&'a [u8]> {
        self.header("st")
    }

    pub fn usn(&self) -> Option<&'a [u8]> {
        self.header("usn")
    }

    /// `LOCATION`: URL of the device description.
    pub fn location(&self) -> Option<&'a [u8]> {
        self.header("location")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFY: &[u8] =
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n\
LOCATION: http://10.10.10.58:8614/rootdesc.xml\r\nNT: uuid:ae67e622\r\nNTS: ssdp:alive\r\n\
SERVER: Cellvision UPnP/1.0\r\nUSN: uuid:ae67e622\r\n\r\n";

    #[test]
    fn notify() {
        let m = SsdpMessage::parse(NOTIFY).unwrap();
        assert_eq!(m.kind(), SsdpKind::Notify);
        assert_eq!(m.server(), Some(&b"Cellvision UPnP/1.0"[..]));
        assert_eq!(
            m.location(),
            Some(&b"http://10.10.10.58:8614/rootdesc.xml"[..])
        );
        assert_eq!(m.nt(), Some(&b"uuid:ae67e622"[..]));
        assert_eq!(m.nts(), Some(&b"ssdp:alive"[..]));
        assert_eq!(m.usn(), Some(&b"uuid:ae67e622"[..]));
        assert_eq!(m.st(), None);
    }

    #[test]
    fn search_and_response() {
        let s = SsdpMessage::parse(
            b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nST: upnp:rootdevice\r\nuser-agent: Android/9 UPnP/1.1 App/2\r\n\r\n",
        )
        .unwrap();
        assert_eq!(s.kind(), SsdpKind::Search);
        assert_eq!(s.st(), Some(&b"upnp:rootdevice"[..]));
        assert_eq!(s.user_agent(), Some(&b"Android/9 UPnP/1.1 App/2"[..]));
        let r =
            SsdpMessage::parse(b"HTTP/1.1 200 OK\r\nST: urn:Belkin:device:controllee:1\r\n\r\n")
                .unwrap();
        assert_eq!(r.kind(), SsdpKind::Response(200));
        assert!(SsdpMessage::parse(b"GET / HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn every_prefix_is_safe() {
        for n in 0..=NOTIFY.len() {
            if let Ok(m) = SsdpMessage::parse(&NOTIFY[..n]) {
                // A header is only returned once its line is complete.
                if let Some(s) = m.server() {
                    assert_eq!(s, b"Cellvision UPnP/1.0");
                }
            }
        }
    }
}
