//! DHCPv4 (RFC 2131/2132 and the options devices use to identify themselves) and
//! the few DHCPv6 (RFC 8415) options that do the same.
//!
//! Everything borrows from the packet. Options are read in place: a repeated
//! option (RFC 3396 long-option splitting) yields its first instance only, and
//! option overload (option 52, options in `sname`/`file`) is not followed.

use core::net::Ipv4Addr;

/// Fixed BOOTP header length up to and including the magic cookie.
const HEADER_LEN: usize = 240;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Why a DHCP message was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DhcpError {
    #[error("DHCP message shorter than its fixed header")]
    TooShort,
    #[error("DHCP magic cookie missing")]
    BadCookie,
    #[error("DHCP option {0} runs past the end of the message")]
    TruncatedOption(u16),
    #[error("DHCPv6 relay messages are not parsed")]
    Relay,
}

/// BOOTP operation code of a client message.
pub const BOOTREQUEST: u8 = 1;

/// Option codes this module exposes.
pub mod code {
    pub const HOSTNAME: u8 = 12;
    pub const REQUESTED_IP: u8 = 50;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    pub const VENDOR_CLASS: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const CLIENT_FQDN: u8 = 81;
    pub const MUD_URL: u8 = 161;
}

/// A DHCPv4 message whose fixed header and magic cookie have been checked.
#[derive(Debug, Clone, Copy)]
pub struct DhcpMessage<'a> {
    bytes: &'a [u8],
}

impl<'a> DhcpMessage<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DhcpError> {
        let cookie = bytes.get(236..HEADER_LEN).ok_or(DhcpError::TooShort)?;
        if cookie != MAGIC_COOKIE {
            return Err(DhcpError::BadCookie);
        }
        Ok(DhcpMessage { bytes })
    }

    /// 1 (BOOTREQUEST, client to server) or 2 (BOOTREPLY).
    pub fn op(&self) -> u8 {
        self.bytes[0]
    }

    pub fn xid(&self) -> u32 {
        u32::from_be_bytes([self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]])
    }

    /// Client hardware address, when it is an Ethernet MAC (htype 1, hlen 6).
    pub fn chaddr(&self) -> Option<[u8; 6]> {
        if self.bytes[1] != 1 || self.bytes[2] != 6 {
            return None;
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.bytes[28..34]);
        Some(mac)
    }

    /// The options in order. PAD is skipped, END stops; an option whose length
    /// runs past the message yields one `Err` and ends the iteration.
    pub fn options(&self) -> Options<'a> {
        Options {
            rest: &self.bytes[HEADER_LEN..],
        }
    }

    /// The data of the first well-formed instance of option `code`.
    pub fn option(&self, code: u8) -> Option<&'a [u8]> {
        self.options()
            .map_while(Result::ok)
            .find(|o| o.code == code)
            .map(|o| o.data)
    }

    /// Option 53 (1 DISCOVER, 3 REQUEST, 8 INFORM, ...).
    pub fn message_type(&self) -> Option<u8> {
        self.option(code::MESSAGE_TYPE)?.first().copied()
    }

    /// Option 12.
    pub fn hostname(&self) -> Option<&'a [u8]> {
        self.option(code::HOSTNAME)
    }

    /// Option 50.
    pub fn requested_ip(&self) -> Option<Ipv4Addr> {
        let d: [u8; 4] = self.option(code::REQUESTED_IP)?.try_into().ok()?;
        Some(Ipv4Addr::from(d))
    }

    /// Option 55, raw option codes in the client's order.
    pub fn parameter_request_list(&self) -> Option<&'a [u8]> {
        self.option(code::PARAMETER_REQUEST_LIST)
    }

    /// Option 57.
    pub fn max_message_size(&self) -> Option<u16> {
        let d: [u8; 2] = self.option(code::MAX_MESSAGE_SIZE)?.try_into().ok()?;
        Some(u16::from_be_bytes(d))
    }

    /// Option 60.
    pub fn vendor_class(&self) -> Option<&'a [u8]> {
        self.option(code::VENDOR_CLASS)
    }

    /// Option 61 (usually type 1 + MAC).
    pub fn client_id(&self) -> Option<&'a [u8]> {
        self.option(code::CLIENT_ID)
    }

    /// Option 81 (RFC 4702).
    pub fn client_fqdn(&self) -> Option<ClientFqdn<'a>> {
        let d = self.option(code::CLIENT_FQDN)?;
        Some(ClientFqdn {
            flags: *d.first()?,
            name: d.get(3..)?,
        })
    }

    /// Option 161 (RFC 8520 MUD URL).
    pub fn mud_url(&self) -> Option<&'a [u8]> {
        self.option(code::MUD_URL)
    }
}

/// One DHCPv4 option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    pub code: u8,
    pub data: &'a [u8],
}

/// Iterator over DHCPv4 options, see [`DhcpMessage::options`].
pub struct Options<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<DhcpOption<'a>, DhcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&code, rest) = self.rest.split_first()?;
            match code {
                0 => self.rest = rest,
                255 => {
                    self.rest = &[];
                    return None;
                }
                _ => {
                    let parsed = rest.split_first().and_then(|(&len, rest)| {
                        let len = usize::from(len);
                        Some((rest.get(..len)?, rest.get(len..)?))
                    });
                    return match parsed {
                        Some((data, rest)) => {
                            self.rest = rest;
                            Some(Ok(DhcpOption { code, data }))
                        }
                        None => {
                            self.rest = &[];
                            Some(Err(DhcpError::TruncatedOption(code.into())))
                        }
                    };
                }
            }
        }
    }
}

/// Client FQDN (DHCPv4 option 81, RFC 4702).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientFqdn<'a> {
    pub flags: u8,
    /// ASCII text, or DNS wire format when [`ClientFqdn::is_wire_format`].
    pub name: &'a [u8],
}

impl ClientFqdn<'_> {
    /// The E flag: the name uses canonical DNS wire encoding.
    pub fn is_wire_format(&self) -> bool {
        self.flags & 0x04 != 0
    }
}

/// DHCPv6 option codes this module exposes.
pub mod code6 {
    pub const ORO: u16 = 6;
    pub const USER_CLASS: u16 = 15;
    pub const VENDOR_CLASS: u16 = 16;
    pub const CLIENT_FQDN: u16 = 39;
}

/// A DHCPv6 client/server message (not relay-forward/relay-reply).
#[derive(Debug, Clone, Copy)]
pub struct Dhcp6Message<'a> {
    msg_type: u8,
    options: &'a [u8],
}

impl<'a> Dhcp6Message<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DhcpError> {
        let (&msg_type, _) = bytes.split_first().ok_or(DhcpError::TooShort)?;
        if matches!(msg_type, 12 | 13) {
            return Err(DhcpError::Relay);
        }
        let options = bytes.get(4..).ok_or(DhcpError::TooShort)?;
        Ok(Dhcp6Message { msg_type, options })
    }

    /// 1 SOLICIT, 3 REQUEST, 5 RENEW, 11 INFORMATION-REQUEST, ...
    pub fn msg_type(&self) -> u8 {
        self.msg_type
    }

    /// True for messages only clients send.
    pub fn is_from_client(&self) -> bool {
        matches!(self.msg_type, 1 | 3 | 4 | 5 | 6 | 8 | 9 | 11)
    }

    /// Top-level options; a truncated one yields one `Err` and ends iteration.
    pub fn options(&self) -> Options6<'a> {
        Options6 { rest: self.options }
    }

    pub fn option(&self, code: u16) -> Option<&'a [u8]> {
        self.options()
            .map_while(Result::ok)
            .find(|o| o.0 == code)
            .map(|o| o.1)
    }

    /// Option 16: enterprise number and the first vendor-class-data item.
    pub fn vendor_class(&self) -> Option<(u32, &'a [u8])> {
        let d = self.option(code6::VENDOR_CLASS)?;
        let enterprise = u32::from_be_bytes(d.get(..4)?.try_into().ok()?);
        let len = usize::from(u16::from_be_bytes(d.get(4..6)?.try_into().ok()?));
        Some((enterprise, d.get(6..6 + len)?))
    }

    /// Option 39: flags and the name in DNS wire format.
    pub fn client_fqdn(&self) -> Option<(u8, &'a [u8])> {
        let d = self.option(code6::CLIENT_FQDN)?;
        Some((*d.first()?, d.get(1..)?))
    }

    /// Option 6 (option request list): big-endian u16 codes.
    pub fn option_request(&self) -> Option<&'a [u8]> {
        self.option(code6::ORO)
    }
}

/// Iterator over DHCPv6 options: `(code, data)`.
pub struct Options6<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Options6<'a> {
    type Item = Result<(u16, &'a [u8]), DhcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let code = u16::from_be_bytes(self.rest.get(..2)?.try_into().ok()?);
            let len = usize::from(u16::from_be_bytes(self.rest.get(2..4)?.try_into().ok()?));
            Some((code, self.rest.get(4..4 + len)?, self.rest.get(4 + len..)?))
        })();
        match parsed {
            Some((code, data, rest)) => {
                self.rest = rest;
                Some(Ok((code, data)))
            }
            None => {
                let code = self
                    .rest
                    .get(..2)
                    .map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
                self.rest = &[];
                Some(Err(DhcpError::TruncatedOption(code)))
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A DHCPREQUEST as the D-Link hub in the real captures sends it.
    pub(crate) fn request() -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1; // BOOTREQUEST
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&0xdead_beefu32.to_be_bytes());
        p[28..34].copy_from_slice(&[0x1c, 0x5f, 0x2b, 0xaa, 0xfd, 0x4e]);
        p[236..240].copy_from_slice(&MAGIC_COOKIE);
        let opt = |p: &mut Vec<u8>, code: u8, data: &[u8]| {
            p.push(code);
            p.push(data.len() as u8);
            p.extend_from_slice(data);
        };
        opt(&mut p, 53, &[3]);
        p.push(0); // PAD
        opt(&mut p, 61, &[1, 0x1c, 0x5f, 0x2b, 0xaa, 0xfd, 0x4e]);
        opt(&mut p, 50, &[10, 10, 10, 87]);
        opt(&mut p, 57, &[2, 64]);
        opt(&mut p, 55, &[1, 3, 6, 12, 15, 28, 42]);
        opt(&mut p, 60, b"udhcp 1.21.1--LSDK-10.2-00082-4");
        opt(&mut p, 12, b"DCH-G020");
        opt(&mut p, 81, b"\x00\xff\xffhub.example");
        opt(&mut p, 161, b"https://mud.example.com/dch.json");
        p.push(255);
        p.extend_from_slice(&[0; 8]); // trailing padding after END
        p
    }

    #[test]
    fn reads_identifying_options() {
        let bytes = request();
        let m = DhcpMessage::parse(&bytes).unwrap();
        assert_eq!(m.op(), BOOTREQUEST);
        assert_eq!(m.xid(), 0xdead_beef);
        assert_eq!(m.chaddr(), Some([0x1c, 0x5f, 0x2b, 0xaa, 0xfd, 0x4e]));
        assert_eq!(m.message_type(), Some(3));
        assert_eq!(m.hostname(), Some(&b"DCH-G020"[..]));
        assert_eq!(
            m.vendor_class(),
            Some(&b"udhcp 1.21.1--LSDK-10.2-00082-4"[..])
        );
        assert_eq!(
            m.parameter_request_list(),
            Some(&[1, 3, 6, 12, 15, 28, 42][..])
        );
        assert_eq!(m.requested_ip(), Some(Ipv4Addr::new(10, 10, 10, 87)));
        assert_eq!(m.max_message_size(), Some(576));
        assert_eq!(m.client_id().map(<[u8]>::len), Some(7));
        let fqdn = m.client_fqdn().unwrap();
        assert!(!fqdn.is_wire_format());
        assert_eq!(fqdn.name, b"hub.example");
        assert_eq!(m.mud_url(), Some(&b"https://mud.example.com/dch.json"[..]));
        assert_eq!(m.options().count(), 9);
    }

    #[test]
    fn every_prefix_is_safe() {
        let bytes = request();
        for n in 0..=bytes.len() {
            let Ok(m) = DhcpMessage::parse(&bytes[..n]) else {
                assert!(n < 240);
                continue;
            };
            // Walk everything: must end, possibly with one error.
            let errors = m.options().filter(Result::is_err).count();
            assert!(errors <= 1);
            let _ = (m.hostname(), m.client_fqdn(), m.requested_ip(), m.chaddr());
        }
    }

    #[test]
    fn rejects_bad_cookie_and_truncated_lengths() {
        let mut bytes = request();
        bytes[239] = 0;
        assert_eq!(
            DhcpMessage::parse(&bytes).unwrap_err(),
            DhcpError::BadCookie
        );
        let mut bytes = request()[..240].to_vec();
        bytes.extend_from_slice(&[12, 200, b'x']);
        let m = DhcpMessage::parse(&bytes).unwrap();
        assert_eq!(
            m.options().collect::<Vec<_>>(),
            vec![Err(DhcpError::TruncatedOption(12))]
        );
        assert_eq!(m.hostname(), None);
        // Wrong-size fixed options are ignored, not misread.
        let mut bytes = request()[..240].to_vec();
        bytes.extend_from_slice(&[50, 3, 1, 2, 3, 57, 1, 9, 53, 0]);
        let m = DhcpMessage::parse(&bytes).unwrap();
        assert_eq!(
            (m.requested_ip(), m.max_message_size(), m.message_type()),
            (None, None, None)
        );
    }

    #[test]
    fn dhcpv6_solicit() {
        let mut p = vec![1, 0x12, 0x34, 0x56];
        let opt = |p: &mut Vec<u8>, code: u16, data: &[u8]| {
            p.extend_from_slice(&code.to_be_bytes());
            p.extend_from_slice(&(data.len() as u16).to_be_bytes());
            p.extend_from_slice(data);
        };
        opt(&mut p, 6, &[0, 23, 0, 24, 0, 39]);
        let mut vc = 311u32.to_be_bytes().to_vec();
        vc.extend_from_slice(&[0, 8]);
        vc.extend_from_slice(b"MSFT 5.0");
        opt(&mut p, 16, &vc);
        opt(&mut p, 39, b"\x01\x03cam\x04home\x00");
        let m = Dhcp6Message::parse(&p).unwrap();
        assert!(m.is_from_client());
        assert_eq!(m.vendor_class(), Some((311, &b"MSFT 5.0"[..])));
        assert_eq!(m.client_fqdn(), Some((1, &b"\x03cam\x04home\x00"[..])));
        assert_eq!(m.option_request(), Some(&[0, 23, 0, 24, 0, 39][..]));
        for n in 0..=p.len() {
            if let Ok(m) = Dhcp6Message::parse(&p[..n]) {
                assert!(m.options().filter(Result::is_err).count() <= 1);
                let _ = (m.vendor_class(), m.client_fqdn());
            }
        }
        assert_eq!(
            Dhcp6Message::parse(&[12, 0, 0, 0]).unwrap_err(),
            DhcpError::Relay
        );
    }
}
