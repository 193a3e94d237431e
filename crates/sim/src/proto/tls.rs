//! TLS records good enough for a middlebox: a structurally valid ClientHello
//! (with SNI, ALPN and the usual extensions) and ServerHello; everything
//! after that is opaque ciphertext of realistic sizes.

use rand::{Rng, RngCore};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// Browser / phone OS: TLS 1.3 with GREASE-free modern extensions.
    Modern,
    /// Embedded TLS 1.2 stack (mbedTLS / old OpenSSL) on IoT firmware.
    Embedded,
}

fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(content_type);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.push(msg_type);
    let l = body.len() as u32;
    out.extend_from_slice(&l.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

fn ext(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    out.extend_from_slice(&typ.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn random_bytes<R: RngCore>(rng: &mut R, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill_bytes(&mut v);
    v
}

pub(crate) fn client_hello<R: RngCore>(
    rng: &mut R,
    sni: &str,
    style: Style,
    alpn: &[&str],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(512);
    b.extend_from_slice(&0x0303u16.to_be_bytes());
    b.extend_from_slice(&random_bytes(rng, 32));
    let suites: &[u16] = match style {
        Style::Modern => &[
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ],
        Style::Embedded => &[
            0xc02f, 0xc02b, 0xc030, 0xc02c, 0xc013, 0xc009, 0xc014, 0xc00a, 0x009c, 0x002f, 0x0035,
            0x00ff,
        ],
    };
    if style == Style::Modern {
        b.push(32);
        b.extend_from_slice(&random_bytes(rng, 32));
    } else {
        b.push(0);
    }
    b.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]); // compression: null

    let mut e = Vec::with_capacity(300);
    let host = &sni.as_bytes()[..sni.len().min(200)];
    let mut sn = Vec::with_capacity(host.len() + 5);
    sn.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(host.len() as u16).to_be_bytes());
    sn.extend_from_slice(host);
    ext(&mut e, 0, &sn);
    ext(&mut e, 11, &[1, 0]); // ec_point_formats: uncompressed
    ext(&mut e, 10, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]); // groups: x25519, p256, p384
    if style == Style::Modern {
        ext(&mut e, 35, &[]); // session_ticket
    }
    if !alpn.is_empty() {
        let mut a = Vec::new();
        for p in alpn {
            a.push(p.len() as u8);
            a.extend_from_slice(p.as_bytes());
        }
        let mut al = (a.len() as u16).to_be_bytes().to_vec();
        al.extend_from_slice(&a);
        ext(&mut e, 16, &al);
    }
    ext(&mut e, 13, &[0, 8, 4, 3, 8, 4, 4, 1, 5, 1]); // signature_algorithms
    if style == Style::Modern {
        ext(&mut e, 43, &[4, 3, 4, 3, 3]); // supported_versions: 1.3, 1.2
        ext(&mut e, 45, &[1, 1]); // psk_key_exchange_modes
        let mut ks = vec![0, 36, 0, 0x1d, 0, 32];
        ks.extend_from_slice(&random_bytes(rng, 32));
        ext(&mut e, 51, &ks);
    }
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    record(22, 0x0301, &handshake(1, &b))
}

/// ServerHello plus the rest of the server's first flight (certificate chain
/// of `cert_len` bytes, either plaintext (1.2) or encrypted (1.3)).
pub(crate) fn server_flight<R: RngCore>(rng: &mut R, style: Style, cert_len: usize) -> Vec<u8> {
    let mut sh = Vec::with_capacity(128);
    sh.extend_from_slice(&0x0303u16.to_be_bytes());
    sh.extend_from_slice(&random_bytes(rng, 32));
    match style {
        Style::Modern => {
            sh.push(32);
            sh.extend_from_slice(&random_bytes(rng, 32));
            sh.extend_from_slice(&0x1301u16.to_be_bytes());
            sh.push(0);
            let mut e = Vec::new();
            ext(&mut e, 43, &[3, 4]);
            let mut ks = vec![0, 0x1d, 0, 32];
            ks.extend_from_slice(&random_bytes(rng, 32));
            ext(&mut e, 51, &ks);
            sh.extend_from_slice(&(e.len() as u16).to_be_bytes());
            sh.extend_from_slice(&e);
            let mut out = record(22, 0x0303, &handshake(2, &sh));
            out.extend_from_slice(&record(20, 0x0303, &[1]));
            out.extend_from_slice(&record(23, 0x0303, &random_bytes(rng, cert_len + 300)));
            out
        }
        Style::Embedded => {
            sh.push(0);
            sh.extend_from_slice(&0xc02fu16.to_be_bytes());
            sh.push(0);
            let mut e = Vec::new();
            ext(&mut e, 0xff01, &[0]); // renegotiation_info
            ext(&mut e, 11, &[1, 0]);
            sh.extend_from_slice(&(e.len() as u16).to_be_bytes());
            sh.extend_from_slice(&e);
            let mut body = handshake(2, &sh);
            body.extend_from_slice(&handshake(11, &random_bytes(rng, cert_len)));
            body.extend_from_slice(&handshake(12, &random_bytes(rng, 329)));
            body.extend_from_slice(&handshake(14, &[]));
            // Large flights span several records of at most 16 KiB.
            let mut out = Vec::with_capacity(body.len() + 20);
            for chunk in body.chunks(16_384) {
                out.extend_from_slice(&record(22, 0x0303, chunk));
            }
            out
        }
    }
}

/// Client's second flight (key exchange / finished).
pub(crate) fn client_finish<R: RngCore>(rng: &mut R, style: Style) -> Vec<u8> {
    match style {
        Style::Modern => {
            let mut out = record(20, 0x0303, &[1]);
            out.extend_from_slice(&record(23, 0x0303, &random_bytes(rng, 53)));
            out
        }
        Style::Embedded => {
            let mut out = record(22, 0x0303, &handshake(16, &random_bytes(rng, 66)));
            out.extend_from_slice(&record(20, 0x0303, &[1]));
            out.extend_from_slice(&record(22, 0x0303, &random_bytes(rng, 40)));
            out
        }
    }
}

/// Server's closing handshake flight: 1.2 ChangeCipherSpec + Finished, or
/// 1.3 session tickets.
pub(crate) fn server_finish<R: RngCore>(rng: &mut R, style: Style) -> Vec<u8> {
    match style {
        Style::Modern => {
            let mut out = record(23, 0x0303, &random_bytes(rng, 234));
            out.extend_from_slice(&record(23, 0x0303, &random_bytes(rng, 234)));
            out
        }
        Style::Embedded => {
            let mut out = record(20, 0x0303, &[1]);
            out.extend_from_slice(&record(22, 0x0303, &random_bytes(rng, 40)));
            out
        }
    }
}

/// Application data of `len` plaintext bytes as encrypted records.
pub(crate) fn app_data<R: RngCore>(rng: &mut R, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut left = len.max(1);
    while left > 0 {
        let n = left.min(16_384);
        // AEAD tag (16) plus 1.3 inner content type (1).
        out.extend_from_slice(&record(23, 0x0303, &random_bytes(rng, n + 17)));
        left -= n;
    }
    out
}

/// close_notify alert (encrypted).
pub(crate) fn alert<R: RngCore + Rng>(rng: &mut R) -> Vec<u8> {
    let n = if rng.gen_bool(0.5) { 19 } else { 26 };
    record(21, 0x0303, &random_bytes(rng, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Walk the ClientHello and return the SNI host it carries.
    fn sni_of(ch: &[u8]) -> Option<String> {
        let hs = ch.get(5..)?;
        let body = hs.get(4..)?;
        let mut i = 2 + 32;
        let sid = *body.get(i)? as usize;
        i += 1 + sid;
        let cs = u16::from_be_bytes([*body.get(i)?, *body.get(i + 1)?]) as usize;
        i += 2 + cs;
        let comp = *body.get(i)? as usize;
        i += 1 + comp;
        let elen = u16::from_be_bytes([*body.get(i)?, *body.get(i + 1)?]) as usize;
        i += 2;
        let end = i + elen;
        assert_eq!(end, body.len(), "extensions fill the hello");
        while i + 4 <= end {
            let t = u16::from_be_bytes([body[i], body[i + 1]]);
            let l = u16::from_be_bytes([body[i + 2], body[i + 3]]) as usize;
            if t == 0 {
                let d = &body[i + 4..i + 4 + l];
                let hl = u16::from_be_bytes([d[3], d[4]]) as usize;
                return Some(String::from_utf8_lossy(&d[5..5 + hl]).into_owned());
            }
            i += 4 + l;
        }
        None
    }

    #[test]
    fn client_hello_is_well_formed() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for style in [Style::Modern, Style::Embedded] {
            let ch = client_hello(&mut rng, "devs.tplinkcloud.com", style, &["h2", "http/1.1"]);
            assert_eq!(ch[0], 22);
            let rec_len = u16::from_be_bytes([ch[3], ch[4]]) as usize;
            assert_eq!(rec_len + 5, ch.len());
            let hs_len = u32::from_be_bytes([0, ch[6], ch[7], ch[8]]) as usize;
            assert_eq!(hs_len + 4, rec_len);
            assert_eq!(sni_of(&ch).as_deref(), Some("devs.tplinkcloud.com"));
        }
    }

    #[test]
    fn records_have_consistent_lengths() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let flight = server_flight(&mut rng, Style::Embedded, 20_000);
        let mut i = 0;
        while i < flight.len() {
            let l = u16::from_be_bytes([flight[i + 3], flight[i + 4]]) as usize;
            assert!(l <= 16_384);
            i += 5 + l;
        }
        assert_eq!(i, flight.len());
    }
}
