//! DHCPv4 (RFC 2131/2132) message encoding. Option order is kept exactly as
//! given because real clients differ in it and fingerprinting relies on it.

use crate::net::{Ip, Mac};

pub(crate) const DISCOVER: u8 = 1;
pub(crate) const OFFER: u8 = 2;
pub(crate) const REQUEST: u8 = 3;
pub(crate) const ACK: u8 = 5;

pub(crate) struct Bootp<'a> {
    pub op: u8,
    pub xid: u32,
    pub secs: u16,
    pub broadcast: bool,
    pub ciaddr: Ip,
    pub yiaddr: Ip,
    pub siaddr: Ip,
    pub chaddr: Mac,
    pub options: &'a [(u8, Vec<u8>)],
    /// Minimum UDP payload size (300 for most clients, 548 for udhcp).
    pub min_len: usize,
}

impl Bootp<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.min_len.max(300));
        out.push(self.op);
        out.push(1); // htype Ethernet
        out.push(6); // hlen
        out.push(0); // hops
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&(if self.broadcast { 0x8000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&self.ciaddr);
        out.extend_from_slice(&self.yiaddr);
        out.extend_from_slice(&self.siaddr);
        out.extend_from_slice(&[0; 4]); // giaddr
        out.extend_from_slice(&self.chaddr);
        out.extend_from_slice(&[0; 10]);
        out.extend_from_slice(&[0; 64 + 128]); // sname + file
        out.extend_from_slice(&[99, 130, 83, 99]);
        for (code, value) in self.options {
            let v = &value[..value.len().min(255)];
            out.push(*code);
            out.push(v.len() as u8);
            out.extend_from_slice(v);
        }
        out.push(255);
        if out.len() < self.min_len {
            out.resize(self.min_len, 0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let opts = vec![(53u8, vec![DISCOVER]), (12, b"HS110(EU)".to_vec())];
        let b = Bootp {
            op: 1,
            xid: 0xdeadbeef,
            secs: 0,
            broadcast: false,
            ciaddr: [0; 4],
            yiaddr: [0; 4],
            siaddr: [0; 4],
            chaddr: [0x50, 0xc7, 0xbf, 1, 2, 3],
            options: &opts,
            min_len: 300,
        }
        .encode();
        assert_eq!(b.len(), 300);
        assert_eq!(&b[28..34], &[0x50, 0xc7, 0xbf, 1, 2, 3]);
        assert_eq!(&b[236..240], &[99, 130, 83, 99]);
        assert_eq!(&b[240..243], &[53, 1, DISCOVER]);
        assert_eq!(&b[243..245], &[12, 9]);
        assert_eq!(b[254], 255);
    }
}
