//! File names of the distribution directory, atomic writes, hashing writers.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

pub const TIMESTAMP: &str = "timestamp.json";
pub const ROOT: &str = "root.json";

pub fn root_file(version: u64) -> String {
    format!("root.{version}.json")
}

pub fn snapshot_file(version: u64) -> String {
    format!("snapshot.{version}.jsonl")
}

pub fn delta_file(from: u64, to: u64) -> String {
    format!("delta.{from}-{to}.json")
}

/// Whether `path` is a plain file name a feed may name: no directories, no
/// `..`, only `[A-Za-z0-9._-]`, at most 128 bytes. Paths come from signed
/// documents, but a fetcher never follows one outside its base anyway.
pub fn is_safe_name(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 128
        && !path.starts_with('.')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn tmp_name(path: &Path) -> std::path::PathBuf {
    let mut n = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut n);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", crate::hex(&n)))
}

/// Writes `path` so that readers see the old file or the whole new one:
/// temporary file beside it, fsync, rename, fsync of the directory.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write_with(path, |w| w.write_all(bytes))
}

/// [`atomic_write`] with the content produced by `fill`.
pub fn atomic_write_with(
    path: &Path,
    fill: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = tmp_name(path);
    let result = (|| {
        let f = fs::File::create(&tmp)?;
        let mut w = io::BufWriter::with_capacity(1 << 16, f);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(path);
    Ok(())
}

pub fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let _ = d.sync_all();
        }
    }
}

/// A writer that hashes and counts what passes through.
pub struct HashWriter<W> {
    pub inner: W,
    pub hasher: Sha256,
    pub len: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    pub fn finish(self) -> (W, String, u64) {
        (self.inner, crate::hex(&self.hasher.finalize()), self.len)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A `Write` that discards.
pub struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The id of a listing line: serde writes `id` first, so the fast path reads
/// it without parsing the line; anything else is parsed properly.
pub fn line_id(line: &[u8]) -> Option<String> {
    const HEAD: &[u8] = b"{\"id\":\"";
    if let Some(rest) = line.strip_prefix(HEAD) {
        if let Some(end) = rest.iter().position(|&b| b == b'"' || b == b'\\') {
            if rest[end] == b'"' {
                return std::str::from_utf8(&rest[..end]).ok().map(str::to_owned);
            }
        }
    }
    #[derive(serde::Deserialize)]
    struct IdView {
        id: String,
    }
    serde_json::from_slice::<IdView>(line).ok().map(|v| v.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        for ok in ["timestamp.json", "snapshot.7.jsonl", "delta.6-7.json"] {
            assert!(is_safe_name(ok), "{ok}");
        }
        for bad in [
            "",
            "../root.json",
            "/etc/passwd",
            "a/b",
            ".hidden",
            "x y",
            "a\\b",
            "%2e%2e",
        ] {
            assert!(!is_safe_name(bad), "{bad}");
        }
    }

    #[test]
    fn line_id_fast_and_slow_paths() {
        assert_eq!(line_id(br#"{"id":"abc","x":1}"#).as_deref(), Some("abc"));
        assert_eq!(line_id(br#"{"x":1,"id":"abc"}"#).as_deref(), Some("abc"));
        assert_eq!(line_id(br#"{"id":"a\u0062c"}"#).as_deref(), Some("abc"));
        assert_eq!(line_id(b"junk"), None);
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
