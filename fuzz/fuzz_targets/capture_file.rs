//! Arbitrary bytes as a capture file: pcap, pcapng and gzip are all
//! detected from the content. Reading must end (frames, a counted early
//! end, or an error), never panic, and never report more frames than it
//! delivered.
//!
//! The same bytes are also read through a reader that hands them out in
//! small, uneven pieces (as a pipe on standard input does) and, gzipped,
//! through the decompressor. Neither may change what is read: the same
//! frames, the same counts, an early end or error of the same kind. Two
//! allowances: the wording of an early end may differ (a record cut off by
//! the end of the input can be seen before or after the reader learns it
//! is at the end, and is then reported as cut off or as too large), and a
//! damaged gzip stream may yield more or fewer frames before its error
//! (see `same_up_to_error`).
#![no_main]

use std::io::{Read, Write};

use libfuzzer_sys::fuzz_target;
use warden_capture::{CaptureError, FrameSource, PcapFile};
use warden_decode::LinkType;

/// Gzipping every input costs time; larger ones are only read plain.
const MAX_GZIP_INPUT: usize = 16 * 1024;

/// What one read of a capture gave, in the terms reads must agree on.
#[derive(Debug)]
struct Outcome {
    frames: Vec<(i64, LinkType, Vec<u8>, u32)>,
    /// frames, snapped frames, other blocks, ended early.
    result: Result<(u64, u64, u64, bool), &'static str>,
    /// The full statistics or error, for messages.
    detail: String,
}

impl PartialEq for Outcome {
    fn eq(&self, other: &Self) -> bool {
        self.frames == other.frames && self.result == other.result
    }
}

impl Outcome {
    /// Read to the end of the input without an error or early end.
    fn is_clean(&self) -> bool {
        matches!(self.result, Ok((.., false)))
    }

    /// The frames of one are the first frames of the other.
    fn same_up_to_error(&self, other: &Outcome) -> bool {
        let n = self.frames.len().min(other.frames.len());
        self.frames[..n] == other.frames[..n]
    }

    /// Enough to see how two reads differ, without every byte.
    fn summary(&self) -> String {
        let last = self.frames.last().map(|f| (f.0, f.1, f.2.len(), f.3));
        format!(
            "{} frames (last: ts, link, length, wire length {last:?}), {}",
            self.frames.len(),
            self.detail
        )
    }
}

fn read(raw: Box<dyn Read>) -> Outcome {
    let mut frames = Vec::new();
    let result = PcapFile::from_reader("fuzz".into(), raw).and_then(|mut file| {
        let stats = file.run(&mut |f| {
            frames.push((f.ts_ns, f.link, f.data.to_vec(), f.wire_len));
            let _ = warden_decode::decode(f.link, f.data);
        })?;
        // A second run of a consumed source delivers nothing.
        let again = file
            .run(&mut |_| panic!("frame after the end"))
            .expect("second run");
        assert_eq!(again, Default::default());
        Ok(stats)
    });
    let detail = format!("{result:?}");
    let result = match result {
        Ok(s) => Ok((
            s.frames,
            s.snapped_frames,
            s.other_blocks,
            s.ended_early.is_some(),
        )),
        Err(CaptureError::Io { .. }) => Err("io"),
        Err(CaptureError::NotACapture { .. }) => Err("not a capture"),
        Err(CaptureError::Empty { .. }) => Err("empty"),
        Err(CaptureError::Corrupt { .. }) => Err("corrupt"),
    };
    Outcome {
        frames,
        result,
        detail,
    }
}

/// Hands out the bytes in pieces of 1, 2, 3, 5, 8, ... bytes (cycling),
/// starting at a point in the cycle chosen by the input's length.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    step: usize,
}

const STEPS: [usize; 12] = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 4096];

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = STEPS[self.step % STEPS.len()]
            .min(buf.len())
            .min(self.data.len() - self.pos);
        self.step += 1;
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = read(Box::new(std::io::Cursor::new(data.to_vec())));
    if let Ok((frames, snapped, _, ended_early)) = whole.result {
        assert_eq!(frames, whole.frames.len() as u64);
        assert!(snapped <= frames);
        // An input that ends early with nothing delivered is an error.
        assert!(frames > 0 || !ended_early, "{}", whole.detail);
    }
    let gzipped = data.starts_with(&[0x1f, 0x8b]);
    if !gzipped {
        // Each frame is read from its own record: together they cannot
        // exceed the file.
        let delivered: usize = whole.frames.iter().map(|f| f.2.len()).sum();
        assert!(
            delivered <= data.len(),
            "{delivered} bytes from {}",
            data.len()
        );
    }

    let trickled = read(Box::new(Trickle {
        data: data.to_vec(),
        pos: 0,
        step: data.len() % STEPS.len(),
    }));
    if gzipped && !(whole.is_clean() && trickled.is_clean()) {
        // A damaged gzip stream: the decompressor drops what it decoded in
        // the read that meets the damage, so how much comes out before
        // the error depends on the read sizes. Both reads must still see
        // the damage, and agree on the frames before it.
        assert!(
            !whole.is_clean() && !trickled.is_clean() && whole.same_up_to_error(&trickled),
            "reading damaged gzip in small pieces changed the result:\n whole: {}\n small: {}",
            whole.summary(),
            trickled.summary()
        );
    } else {
        assert!(
            whole == trickled,
            "reading in small pieces changed the result:\n whole: {}\n small: {}",
            whole.summary(),
            trickled.summary()
        );
    }

    if !gzipped && data.len() <= MAX_GZIP_INPUT {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).expect("write to memory");
        let gz = gz.finish().expect("write to memory");
        let unzipped = read(Box::new(std::io::Cursor::new(gz)));
        assert!(
            whole == unzipped,
            "gzip changed the result:\n plain: {}\n  gzip: {}",
            whole.summary(),
            unzipped.summary()
        );
    }
});
