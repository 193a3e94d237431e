use std::fmt;
use std::str::FromStr;

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const ZERO: Mac = Mac([0; 6]);
    pub const BROADCAST: Mac = Mac([0xff; 6]);

    /// Group (multicast or broadcast) address: the I/G bit.
    pub fn is_group(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Locally administered (often randomised for privacy): the U/L bit.
    pub fn is_locally_administered(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// As a u64 (upper 16 bits zero), handy for hashing and sorting.
    pub fn to_u64(&self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error for a MAC string that is not six hex octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMacError;

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected a MAC address like aa:bb:cc:dd:ee:ff")
    }
}

impl std::error::Error for ParseMacError {}

impl FromStr for Mac {
    type Err = ParseMacError;

    /// Accepts `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff` and `aabbccddeeff`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: Vec<u8> = s
            .bytes()
            .filter(|c| *c != b':' && *c != b'-' && *c != b'.')
            .collect();
        if hex.len() != 12 || s.len() > 17 || !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(ParseMacError);
        }
        let mut out = [0u8; 6];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let text = std::str::from_utf8(pair).map_err(|_| ParseMacError)?;
            out[i] = u8::from_str_radix(text, 16).map_err(|_| ParseMacError)?;
        }
        Ok(Mac(out))
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let m: Mac = "B0:C5:54:25:5B:0E".parse().unwrap();
        assert_eq!(m.to_string(), "b0:c5:54:25:5b:0e");
        assert_eq!("b0c554255b0e".parse::<Mac>().unwrap(), m);
        assert!("b0:c5:54:25:5b".parse::<Mac>().is_err());
        assert!("zz:c5:54:25:5b:0e".parse::<Mac>().is_err());
        assert!("+0:c5:54:25:5b:0e".parse::<Mac>().is_err());
    }

    #[test]
    fn bits() {
        assert!(Mac::BROADCAST.is_group());
        assert!("02:00:00:00:00:01"
            .parse::<Mac>()
            .unwrap()
            .is_locally_administered());
        assert!(!"b0:c5:54:25:5b:0e"
            .parse::<Mac>()
            .unwrap()
            .is_locally_administered());
    }
}
