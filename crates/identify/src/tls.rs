//! The server name (SNI, RFC 6066) of a TLS ClientHello: the names a device talks to.
//!
//! Reads the first record of a connection in place and tolerates a
//! ClientHello cut short by the end of the segment, as long as the SNI
//! extension itself is complete. Parsing libraries (e.g. `tls-parser`) want the
//! whole record and allocate per extension; here only a handful of bounded
//! reads are needed.

/// Why no server name was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("not a TLS handshake record carrying a ClientHello")]
    NotClientHello,
    #[error("ClientHello ends before its server name")]
    Truncated,
}

/// A forward-only reader over a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        let (head, tail) = self.0.split_at_checked(n).ok_or(TlsError::Truncated)?;
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, TlsError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, TlsError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    /// A vector with a `len_bytes`-byte length prefix.
    fn vec(&mut self, len_bytes: usize) -> Result<&'a [u8], TlsError> {
        let n = match len_bytes {
            1 => usize::from(self.u8()?),
            _ => self.u16()?,
        };
        self.take(n)
    }
}

/// The host name in the ClientHello that starts `payload`, if it sends one.
pub fn client_hello_sni(payload: &[u8]) -> Result<Option<&[u8]>, TlsError> {
    let mut r = Reader(payload);
    let header = r.take(5).map_err(|_| TlsError::NotClientHello)?;
    // Handshake record, major version 3 (SSL 3.0 to TLS 1.3 all say 3).
    if header[0] != 0x16 || header[1] != 3 {
        return Err(TlsError::NotClientHello);
    }
    let hs = r.take(4).map_err(|_| TlsError::Truncated)?;
    if hs[0] != 1 {
        return Err(TlsError::NotClientHello);
    }
    r.take(2 + 32)?; // client_version, random
    r.vec(1)?; // session_id
    r.vec(2)?; // cipher_suites
    r.vec(1)?; // compression_methods
    if r.0.is_empty() {
        return Ok(None); // no extensions at all
    }
    let ext_len = r.u16()?;
    // A cut-off segment may hold fewer extension bytes than announced.
    let mut exts = Reader(r.0.get(..ext_len).unwrap_or(r.0));
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec(2)?;
        if kind != 0 {
            continue;
        }
        let mut list = Reader(data);
        let mut names = Reader(list.vec(2)?);
        while !names.0.is_empty() {
            let name_type = names.u8()?;
            let name = names.vec(2)?;
            if name_type == 0 {
                return Ok(Some(name));
            }
        }
        return Ok(None);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(sni: Option<&str>) -> Vec<u8> {
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0x00, 0x0b, 0, 2, 1, 0]); // ec_point_formats first
        if let Some(name) = sni {
            let n = name.len() as u16;
            ext.extend_from_slice(&[0, 0]);
            ext.extend_from_slice(&(n + 5).to_be_bytes());
            ext.extend_from_slice(&(n + 3).to_be_bytes());
            ext.push(0);
            ext.extend_from_slice(&n.to_be_bytes());
            ext.extend_from_slice(name.as_bytes());
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[4, 1, 2, 3, 4]); // session id
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x00, 0x2f]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn finds_sni() {
        let h = hello(Some("api.dch.dlink.com"));
        assert_eq!(client_hello_sni(&h), Ok(Some(&b"api.dch.dlink.com"[..])));
        assert_eq!(client_hello_sni(&hello(None)), Ok(None));
    }

    #[test]
    fn rejects_other_records_and_prefixes_are_safe() {
        assert_eq!(
            client_hello_sni(b"GET / HTTP/1.1\r\n"),
            Err(TlsError::NotClientHello)
        );
        assert_eq!(
            client_hello_sni(&[0x17, 3, 3, 0, 1, 0]),
            Err(TlsError::NotClientHello)
        );
        let h = hello(Some("example.org"));
        for n in 0..h.len() {
            if let Ok(Some(name)) = client_hello_sni(&h[..n]) {
                assert_eq!(name, b"example.org");
            }
        }
        // A lying length must not read past the data.
        let mut bad = h.clone();
        let at = bad.len() - 11 - 2;
        bad[at] = 0xff;
        assert!(client_hello_sni(&bad).is_err());
    }
}
