//! Display-safe text built from attacker-controlled bytes, without heap allocation.

/// Longest text (in bytes) an [`crate::Observation`] carries. Longer values are cut
/// at a character boundary; [`crate::Identity`] keeps at most
/// [`crate::identity::MAX_TEXT`] of it.
pub const OBSERVATION_TEXT: usize = 256;

/// A bounded, display-safe copy of a byte string, kept on the stack.
///
/// Invalid UTF-8 becomes U+FFFD, control characters (C0, DEL, C1) and Unicode
/// bidirectional overrides are dropped (they enable log injection and terminal
/// escapes), leading and trailing whitespace is trimmed, and the result is cut
/// at `N` bytes on a character boundary.
pub struct Text<const N: usize = OBSERVATION_TEXT> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    /// Cleans `bytes` into a new buffer.
    pub fn new(bytes: &[u8]) -> Self {
        let mut t = Text {
            buf: [0; N],
            len: 0,
        };
        'outer: for chunk in bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                if !t.push(c) {
                    break 'outer;
                }
            }
            if !chunk.invalid().is_empty() && !t.push(char::REPLACEMENT_CHARACTER) {
                break;
            }
        }
        t
    }

    /// Appends `c` unless it is unsafe to display; false once the buffer is full.
    fn push(&mut self, c: char) -> bool {
        if !is_displayable(c) {
            return true;
        }
        let mut enc = [0u8; 4];
        let s = c.encode_utf8(&mut enc);
        let end = self.len + s.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                true
            }
            None => false,
        }
    }

    /// The cleaned text, trimmed of surrounding whitespace.
    pub fn as_str(&self) -> &str {
        // Only whole encoded chars were copied in, so this cannot fail; the
        // fallback keeps the function total without `unwrap`.
        core::str::from_utf8(&self.buf[..self.len])
            .unwrap_or("")
            .trim()
    }
}

/// False for characters that must never reach a log line or a terminal.
pub fn is_displayable(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_controls_and_escapes() {
        let t = Text::<64>::new(b"  evil\x1b[31mred\r\nline\x07\x7f ");
        assert_eq!(t.as_str(), "evil[31mredline");
        let t = Text::<64>::new("a\u{202E}b\u{85}c".as_bytes());
        assert_eq!(t.as_str(), "abc");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let t = Text::<64>::new(b"caf\xe9 ok");
        assert_eq!(t.as_str(), "caf\u{FFFD} ok");
    }

    #[test]
    fn cut_on_char_boundary() {
        // "é" is two bytes: a 4-byte buffer holds "aé" and nothing of the next "é".
        let t = Text::<4>::new("aéé".as_bytes());
        assert_eq!(t.as_str(), "aé");
        assert_eq!(truncate("aéé", 4), "aé");
        assert_eq!(truncate("abc", 10), "abc");
        let long = [b'x'; 1000];
        assert_eq!(
            Text::<OBSERVATION_TEXT>::new(&long).as_str().len(),
            OBSERVATION_TEXT
        );
    }
}
