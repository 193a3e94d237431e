//! Legacy pcap writer (microsecond timestamps, LINKTYPE_ETHERNET).
//!
//! The format is 24 bytes of global header and 16 bytes per record, simple
//! enough that a dependency would add more than it saves.

use std::io::{self, Write};

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

pub(crate) struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, snaplen: u32) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&MAGIC_USEC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, snaplen })
    }

    /// Write one record; `unix_us` is the absolute time in microseconds.
    pub fn write(&mut self, unix_us: i64, frame: &[u8]) -> io::Result<()> {
        let secs = unix_us.div_euclid(1_000_000);
        let usec = unix_us.rem_euclid(1_000_000);
        let secs = u32::try_from(secs).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "timestamp outside the pcap range (1970..2106)",
            )
        })?;
        let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let incl = orig.min(self.snaplen);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&(usec as u32).to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..incl as usize])
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
