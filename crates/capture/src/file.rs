//! pcap and pcapng files, plain or gzip-compressed, or standard input.

use std::fs::File;
use std::io::{BufReader, Chain, Cursor, ErrorKind, Read};
use std::path::Path;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{PcapBlockOwned, PcapError};
use warden_decode::LinkType;

use crate::{CaptureError, Frame, FrameSource, SourceStats};

/// Initial read buffer; grown (up to `MAX_BUFFER`) for jumbo records.
const INITIAL_BUFFER: usize = 1 << 20;
/// A record larger than this is treated as corruption, not a reason to allocate.
const MAX_BUFFER: usize = 64 << 20;
/// pcapng files may declare many interfaces; more than this is hostile.
const MAX_INTERFACES: usize = 4096;

/// A capture file (or `-` for standard input), read once from start to end.
pub struct PcapFile {
    name: String,
    reader: Option<Box<dyn Read>>,
}

impl PcapFile {
    /// Opens `path` (`-` is standard input). Gzip is detected from the
    /// content, not the name.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::open_with(path, |r| r)
    }

    /// Like [`open`](Self::open), with a wrapper around the raw (possibly
    /// compressed) byte stream, e.g. to draw progress by bytes read.
    pub fn open_with(
        path: &Path,
        wrap: impl FnOnce(Box<dyn Read>) -> Box<dyn Read>,
    ) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let raw: Box<dyn Read> = if name == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(File::open(path).map_err(|source| CaptureError::Io {
                path: name.clone(),
                source,
            })?)
        };
        Self::from_reader(name, wrap(raw))
    }

    /// Reads a capture from any byte stream; `name` is used in messages.
    pub fn from_reader(name: String, raw: Box<dyn Read>) -> Result<Self, CaptureError> {
        // The gzip magic is two bytes; a pipe may hand over one at a time.
        let raw = read_head(raw, |_| 2).map_err(|source| CaptureError::Io {
            path: name.clone(),
            source,
        })?;
        let reader: Box<dyn Read> = if raw.get_ref().0.get_ref().starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::bufread::MultiGzDecoder::new(
                BufReader::with_capacity(64 * 1024, raw),
            ))
        } else {
            Box::new(raw)
        };
        Ok(PcapFile {
            name,
            reader: Some(reader),
        })
    }

    fn corrupt(&self, reason: impl Into<String>) -> CaptureError {
        CaptureError::Corrupt {
            path: self.name.clone(),
            reason: reason.into(),
        }
    }
}

/// Per-interface facts a pcapng packet block needs.
#[derive(Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    offset_s: i64,
}

/// The first bytes of a stream, read ahead, then the rest of it.
type WithHead = Chain<Cursor<Vec<u8>>, Box<dyn Read>>;

/// Reads from `r` until `want(bytes so far)` bytes are there (or the input
/// ends), and returns a reader that yields them again, in one read,
/// followed by the rest.
fn read_head(mut r: Box<dyn Read>, want: impl Fn(&[u8]) -> usize) -> std::io::Result<WithHead> {
    let mut head = Vec::new();
    loop {
        let have = head.len();
        let need = want(&head);
        if have >= need {
            break;
        }
        head.resize(need, 0);
        match r.read(&mut head[have..]) {
            Ok(0) => {
                head.truncate(have);
                break;
            }
            Ok(n) => head.truncate(have + n),
            Err(e) if e.kind() == ErrorKind::Interrupted => head.truncate(have),
            Err(e) => return Err(e),
        }
    }
    Ok(Cursor::new(head).chain(r))
}

/// Bytes of the file header, as far as `head` tells: the 24-byte pcap
/// header, or the pcapng section header block at its stated length (capped
/// at the first read buffer). The header parser wants it whole in its
/// first read.
fn capture_header_len(head: &[u8]) -> usize {
    const PCAPNG_SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    if head.len() < 4 || !head.starts_with(&PCAPNG_SHB) {
        return 24;
    }
    let (Some(len), Some(order)) = (head.get(4..8), head.get(8..12)) else {
        return 12;
    };
    let len = [len[0], len[1], len[2], len[3]];
    let len = if order == [0x4d, 0x3c, 0x2b, 0x1a] {
        u32::from_le_bytes(len)
    } else {
        u32::from_be_bytes(len)
    };
    (len as usize).clamp(12, INITIAL_BUFFER)
}

fn ts_to_ns(secs: i64, frac: u64, resolution: u64) -> i64 {
    let frac_ns = (u128::from(frac) * 1_000_000_000 / u128::from(resolution.max(1))) as i64;
    secs.saturating_mul(1_000_000_000).saturating_add(frac_ns)
}

impl FrameSource for PcapFile {
    fn run(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<SourceStats, CaptureError> {
        let Some(input) = self.reader.take() else {
            return Ok(SourceStats::default());
        };
        // The format is told from the file header, which must not depend
        // on how the source splits its bytes.
        let input = match read_head(input, capture_header_len) {
            Ok(input) => input,
            Err(_) => return Err(self.corrupt("read error (is it a gzip file that is damaged?)")),
        };
        let mut reader = match pcap_parser::create_reader(INITIAL_BUFFER, input) {
            Ok(r) => r,
            Err(PcapError::Eof) => {
                return Err(CaptureError::Empty {
                    path: self.name.clone(),
                })
            }
            Err(PcapError::HeaderNotRecognized) => {
                return Err(CaptureError::NotACapture {
                    path: self.name.clone(),
                })
            }
            Err(PcapError::ReadError) => {
                return Err(self.corrupt("read error (is it a gzip file that is damaged?)"))
            }
            Err(e) => return Err(self.corrupt(format!("unreadable file header: {e:?}"))),
        };

        let mut stats = SourceStats::default();
        // Legacy pcap: one link type and a fixed timestamp unit.
        let mut legacy_link = LinkType::Unknown(u32::MAX);
        let mut legacy_resolution = 1_000_000u64;
        let mut interfaces: Vec<Interface> = Vec::new();
        let mut buffer_size = INITIAL_BUFFER;

        loop {
            match reader.next() {
                Ok((offset, block)) => {
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            legacy_link = LinkType::from_pcap(h.network.0 as u32);
                            legacy_resolution = if h.is_nanosecond_precision() {
                                1_000_000_000
                            } else {
                                1_000_000
                            };
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let data = b.data.get(..b.caplen as usize).unwrap_or(b.data);
                            stats.frames += 1;
                            stats.snapped_frames += u64::from(b.origlen as usize > data.len());
                            on_frame(Frame {
                                ts_ns: ts_to_ns(
                                    i64::from(b.ts_sec),
                                    u64::from(b.ts_usec),
                                    legacy_resolution,
                                ),
                                link: legacy_link,
                                data,
                                wire_len: b.origlen,
                            });
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            // Interface ids restart in every section.
                            interfaces.clear();
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            if interfaces.len() >= MAX_INTERFACES {
                                stats.ended_early =
                                    Some(format!("more than {MAX_INTERFACES} interfaces"));
                                break;
                            }
                            interfaces.push(Interface {
                                link: LinkType::from_pcap(idb.linktype.0 as u32),
                                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                                offset_s: idb.ts_offset(),
                            });
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let Some(iface) = interfaces.get(epb.if_id as usize).copied() else {
                                stats.ended_early = Some(format!(
                                    "packet block names interface {} which was never described",
                                    epb.if_id
                                ));
                                break;
                            };
                            let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            let res = iface.resolution.max(1);
                            let secs = (ts / res) as i64;
                            let data = epb.packet_data();
                            stats.frames += 1;
                            stats.snapped_frames += u64::from(epb.origlen as usize > data.len());
                            on_frame(Frame {
                                ts_ns: ts_to_ns(secs.saturating_add(iface.offset_s), ts % res, res),
                                link: iface.link,
                                data,
                                wire_len: epb.origlen,
                            });
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            // No timestamp: the best we can say is "unknown" (epoch).
                            let Some(iface) = interfaces.first().copied() else {
                                stats.ended_early =
                                    Some("simple packet block before any interface".into());
                                break;
                            };
                            let data = spb.packet_data();
                            stats.frames += 1;
                            on_frame(Frame {
                                ts_ns: 0,
                                link: iface.link,
                                data,
                                wire_len: spb.origlen,
                            });
                        }
                        PcapBlockOwned::NG(_) => stats.other_blocks += 1,
                    }
                    reader.consume(offset);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => {
                    if reader.refill().is_err() {
                        stats.ended_early = Some("read error".into());
                        break;
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    if buffer_size >= MAX_BUFFER {
                        stats.ended_early =
                            Some(format!("a record is larger than {} MiB", MAX_BUFFER >> 20));
                        break;
                    }
                    buffer_size *= 2;
                    if !reader.grow(buffer_size) || reader.refill().is_err() {
                        stats.ended_early = Some("could not grow the read buffer".into());
                        break;
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    stats.ended_early = Some(format!(
                        "the file is cut off after {} frames (last record incomplete)",
                        stats.frames
                    ));
                    break;
                }
                Err(PcapError::ReadError) => {
                    stats.ended_early = Some("read error".into());
                    break;
                }
                Err(e) => {
                    stats.ended_early = Some(format!(
                        "damaged record after {} frames: {e:?}",
                        stats.frames
                    ));
                    break;
                }
            }
        }
        if stats.frames == 0 {
            if let Some(reason) = stats.ended_early.take() {
                return Err(self.corrupt(reason));
            }
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A legacy pcap with two tiny Ethernet frames, microsecond timestamps.
    fn legacy_pcap(nanos: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        out.extend_from_slice(&magic.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        for (i, len) in [(0u32, 60u32), (1, 42)] {
            out.extend_from_slice(&(1_700_000_000 + i).to_le_bytes());
            out.extend_from_slice(&500u32.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(len + 10).to_le_bytes());
            out.extend(std::iter::repeat_n(0xabu8, len as usize));
        }
        out
    }

    fn collect(bytes: Vec<u8>) -> Result<(Vec<(i64, usize)>, SourceStats), CaptureError> {
        let mut f = PcapFile::from_reader("test".into(), Box::new(std::io::Cursor::new(bytes)))?;
        let mut seen = Vec::new();
        let stats = f.run(&mut |fr| seen.push((fr.ts_ns, fr.data.len())))?;
        Ok((seen, stats))
    }

    #[test]
    fn reads_legacy_micro_and_nano() {
        let (seen, stats) = collect(legacy_pcap(false)).unwrap();
        assert_eq!(
            seen,
            vec![
                (1_700_000_000_000_500_000, 60),
                (1_700_000_001_000_500_000, 42)
            ]
        );
        assert_eq!(stats.frames, 2);
        assert_eq!(stats.snapped_frames, 2);
        assert!(stats.ended_early.is_none());
        let (seen, _) = collect(legacy_pcap(true)).unwrap();
        assert_eq!(seen[0].0, 1_700_000_000_000_000_500);
    }

    #[test]
    fn reads_gzip() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&legacy_pcap(false)).unwrap();
        let (seen, _) = collect(gz.finish().unwrap()).unwrap();
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn truncated_file_keeps_what_came_before() {
        let mut bytes = legacy_pcap(false);
        bytes.truncate(bytes.len() - 5);
        let (seen, stats) = collect(bytes).unwrap();
        assert_eq!(seen.len(), 1);
        assert!(stats.ended_early.unwrap().contains("cut off"));
    }

    #[test]
    fn garbage_and_empty_are_clear_errors() {
        assert!(matches!(
            collect(b"this is not a capture file at all, just text".to_vec()),
            Err(CaptureError::NotACapture { .. })
        ));
        assert!(matches!(
            collect(Vec::new()),
            Err(CaptureError::Empty { .. })
        ));
        // Every prefix of a valid file: an error or some frames, never a panic.
        let full = legacy_pcap(false);
        for n in 0..full.len() {
            let _ = collect(full[..n].to_vec());
        }
    }

    /// Hands out one byte per read, as a slow pipe may.
    struct OneByte(std::io::Cursor<Vec<u8>>);

    impl Read for OneByte {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    fn collect_trickled(bytes: Vec<u8>) -> Result<(Vec<(i64, usize)>, SourceStats), CaptureError> {
        let reader = Box::new(OneByte(std::io::Cursor::new(bytes)));
        let mut f = PcapFile::from_reader("test".into(), reader)?;
        let mut seen = Vec::new();
        let stats = f.run(&mut |fr| seen.push((fr.ts_ns, fr.data.len())))?;
        Ok((seen, stats))
    }

    #[test]
    fn reading_byte_by_byte_changes_nothing() {
        // Found by the capture_file fuzz target: a gzip capture whose first
        // read was one byte was not recognised as gzip, and a first read
        // shorter than the file header made the header "unreadable".
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&legacy_pcap(false)).unwrap();
        let gz = gz.finish().unwrap();
        let (seen, stats) = collect_trickled(gz).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(stats.frames, 2);
        assert_eq!(
            collect_trickled(legacy_pcap(true)).unwrap().0,
            collect(legacy_pcap(true)).unwrap().0
        );
        // pcapng: the section header block must arrive whole too.
        let mut ng = Vec::new();
        for (kind, body) in [
            (
                0x0a0d_0d0au32,
                &[
                    0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255,
                ][..],
            ),
            (1, &[1, 0, 0, 0, 0, 0, 4, 0][..]),
            (
                6,
                &[
                    0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 0xde, 0xad, 0xbe,
                    0xef,
                ][..],
            ),
        ] {
            let total = (12 + body.len()) as u32;
            ng.extend_from_slice(&kind.to_le_bytes());
            ng.extend_from_slice(&total.to_le_bytes());
            ng.extend_from_slice(body);
            ng.extend_from_slice(&total.to_le_bytes());
        }
        let (seen, _) = collect(ng.clone()).unwrap();
        assert_eq!(seen, vec![(1000, 4)]);
        assert_eq!(collect_trickled(ng).unwrap().0, seen);
        // The minimised fuzz input: too short for a header either way, and
        // the same error either way.
        let short = vec![
            0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x44, 0x00,
        ];
        let whole = collect(short.clone()).unwrap_err().to_string();
        assert_eq!(collect_trickled(short).unwrap_err().to_string(), whole);
    }

    #[test]
    fn huge_record_length_is_refused_without_allocating_it() {
        let mut bytes = legacy_pcap(false);
        // First record's caplen = 0x7fff_ffff.
        bytes[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        let r = collect(bytes);
        match r {
            Err(CaptureError::Corrupt { .. }) => {}
            Ok((seen, stats)) => {
                assert!(seen.is_empty() || stats.ended_early.is_some());
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
}
