//! Packet sources.
//!
//! A source hands timestamped frames to a callback. A file is finite: it is
//! read to its end and returns what it saw. (A live interface, later, is an
//! endless source supervised by its caller, behind the same trait.) Time
//! always comes from the frames themselves, so replaying a capture gives
//! exactly the verdicts the live guard would have given.

mod file;

pub use file::PcapFile;

use warden_decode::LinkType;

/// One captured frame, borrowed from the source's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    pub link: LinkType,
    /// The captured bytes (possibly fewer than on the wire).
    pub data: &'a [u8],
    /// Length on the wire.
    pub wire_len: u32,
}

/// What a source saw besides the frames it delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    pub frames: u64,
    /// Frames whose captured length is below their wire length (snap length).
    pub snapped_frames: u64,
    /// Capture-file blocks that carry no packet (statistics, name resolution, ...).
    pub other_blocks: u64,
    /// Set when the input ended in a damaged or cut-off record: everything
    /// before it was delivered, nothing after.
    pub ended_early: Option<String>,
}

/// A finite or endless supply of frames.
pub trait FrameSource {
    /// Calls `on_frame` for every frame, in order, until the source ends.
    fn run(&mut self, on_frame: &mut dyn FnMut(Frame<'_>)) -> Result<SourceStats, CaptureError>;
}

/// Errors that stop a source before it delivered anything useful.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng capture (unrecognised file header)")]
    NotACapture { path: String },
    #[error("{path}: the capture is empty")]
    Empty { path: String },
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },
}
