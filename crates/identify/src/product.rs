//! Product tokens (RFC 7231 §5.5.3 `product/version (comment)`) as real devices write them.
//!
//! The same grammar covers HTTP `User-Agent` and `Server`, the SSDP `SERVER`
//! header (`OS/version UPnP/1.0 product/version`, with commas in UPnP 1.0
//! stacks) and most DHCP vendor classes (`udhcp 1.21.1`, `MSFT 5.0`). Devices
//! bend it, so the parser also accepts:
//! - product names with spaces (`Portable SDK for UPnP devices/1.6.18`): words
//!   without a `/` are joined to the next `name/version` word;
//! - `name version` pairs where the second word starts with a digit (`udhcp 0.9.8`);
//! - a `UPnP/x` word always stands alone (`Cellvision UPnP/1.0` is two products).

/// One product token, borrowed from the header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product<'a> {
    pub name: &'a str,
    pub version: Option<&'a str>,
    /// The parenthesised comment right after the token, without parentheses.
    pub comment: Option<&'a str>,
}

impl Product<'_> {
    /// True for the `UPnP/x` protocol marker of SSDP `SERVER` headers.
    pub fn is_upnp_marker(&self) -> bool {
        self.name.eq_ignore_ascii_case("upnp")
    }
}

/// Iterates over the product tokens of `s`. Never allocates; the number of
/// items is bounded by the length of `s`.
pub fn products(s: &str) -> Products<'_> {
    Products {
        s,
        pos: 0,
        pending: None,
        queued: None,
    }
}

/// Iterator returned by [`products`].
pub struct Products<'a> {
    s: &'a str,
    pos: usize,
    /// Byte span of words seen without a version yet.
    pending: Option<(usize, usize)>,
    /// A product found while `pending` still had to be flushed first.
    queued: Option<Product<'a>>,
}

#[derive(Clone, Copy)]
enum Item {
    Word(usize, usize),
    Comment(usize, usize),
    Sep,
}

impl<'a> Products<'a> {
    fn next_item(&mut self) -> Option<Item> {
        let b = self.s.as_bytes();
        while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        match b.get(start)? {
            b',' | b';' => {
                self.pos += 1;
                Some(Item::Sep)
            }
            b'(' => {
                let mut depth = 0usize;
                let mut i = start;
                while i < b.len() {
                    match b[i] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos = i + 1;
                                return Some(Item::Comment(start + 1, i));
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                // Unterminated comment: it runs to the end.
                self.pos = b.len();
                Some(Item::Comment(start + 1, b.len()))
            }
            _ => {
                let mut i = start;
                while i < b.len()
                    && !matches!(b[i], b',' | b';' | b'(')
                    && !b[i].is_ascii_whitespace()
                {
                    i += 1;
                }
                self.pos = i;
                Some(Item::Word(start, i))
            }
        }
    }

    /// Takes a comment if one follows immediately.
    fn comment(&mut self) -> Option<&'a str> {
        let save = self.pos;
        match self.next_item() {
            Some(Item::Comment(a, b)) => Some(self.s[a..b].trim()),
            _ => {
                self.pos = save;
                None
            }
        }
    }

    fn flush(&mut self, comment: Option<&'a str>) -> Option<Product<'a>> {
        let (a, b) = self.pending.take()?;
        Some(Product {
            name: &self.s[a..b],
            version: None,
            comment,
        })
    }
}

impl<'a> Iterator for Products<'a> {
    type Item = Product<'a>;

    fn next(&mut self) -> Option<Product<'a>> {
        loop {
            if let Some(q) = self.queued.take() {
                return Some(q);
            }
            let Some(item) = self.next_item() else {
                return self.flush(None);
            };
            let (a, b) = match item {
                Item::Sep => match self.flush(None) {
                    Some(p) => return Some(p),
                    None => continue,
                },
                Item::Comment(ca, cb) => {
                    let c = Some(self.s[ca..cb].trim());
                    match self.flush(c) {
                        Some(p) => return Some(p),
                        None => continue,
                    }
                }
                Item::Word(a, b) => (a, b),
            };
            let word = &self.s[a..b];
            if let Some(slash) = word.find('/') {
                let name = &word[..slash];
                let version = Some(&word[slash + 1..]).filter(|v| !v.is_empty());
                if name.is_empty() || name.eq_ignore_ascii_case("upnp") {
                    let p = Product {
                        name,
                        version,
                        comment: self.comment(),
                    };
                    if let Some(prev) = self.flush(None) {
                        if !name.is_empty() {
                            self.queued = Some(p);
                        }
                        return Some(prev);
                    }
                    if name.is_empty() {
                        continue;
                    }
                    return Some(p);
                }
                let start = self.pending.take().map_or(a, |(pa, _)| pa);
                return Some(Product {
                    name: &self.s[start..a + slash],
                    version,
                    comment: self.comment(),
                });
            }
            match self.pending {
                Some((pa, pb)) if word.as_bytes().first().is_some_and(u8::is_ascii_digit) => {
                    // `udhcp 1.22.1`: a number after a name is its version.
                    let name = &self.s[pa..pb];
                    self.pending = None;
                    return Some(Product {
                        name,
                        version: Some(word),
                        comment: self.comment(),
                    });
                }
                Some((pa, _)) => self.pending = Some((pa, b)),
                None => self.pending = Some((a, b)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, Option<String>, Option<String>)> {
        products(s)
            .map(|p| {
                (
                    p.name.to_string(),
                    p.version.map(str::to_string),
                    p.comment.map(str::to_string),
                )
            })
            .collect()
    }

    fn t(name: &str, version: Option<&str>) -> (String, Option<String>, Option<String>) {
        (name.to_string(), version.map(str::to_string), None)
    }

    #[test]
    fn upnp_server_headers() {
        assert_eq!(
            p("Linux/3.14.0 UPnP/1.0 IpBridge/1.9.0"),
            vec![
                t("Linux", Some("3.14.0")),
                t("UPnP", Some("1.0")),
                t("IpBridge", Some("1.9.0"))
            ]
        );
        assert_eq!(
            p("Linux,    UPnP/1.0 DCS-935L/1.0"),
            vec![
                t("Linux", None),
                t("UPnP", Some("1.0")),
                t("DCS-935L", Some("1.0"))
            ]
        );
        assert_eq!(
            p("Linux/2.6.21, UPnP/1.0, Portable SDK for UPnP devices/1.6.18"),
            vec![
                t("Linux", Some("2.6.21")),
                t("UPnP", Some("1.0")),
                t("Portable SDK for UPnP devices", Some("1.6.18"))
            ]
        );
        assert_eq!(
            p("Cellvision UPnP/1.0"),
            vec![t("Cellvision", None), t("UPnP", Some("1.0"))]
        );
        assert_eq!(
            p("Unspecified, UPnP/1.0, Unspecified"),
            vec![
                t("Unspecified", None),
                t("UPnP", Some("1.0")),
                t("Unspecified", None)
            ]
        );
    }

    #[test]
    fn user_agents_and_vendor_classes() {
        assert_eq!(
            p("Wget/1.13 (linux-uclibc)"),
            vec![(
                "Wget".to_string(),
                Some("1.13".to_string()),
                Some("linux-uclibc".to_string())
            )]
        );
        assert_eq!(p("Withings UserAgent"), vec![t("Withings UserAgent", None)]);
        assert_eq!(
            p("udhcp 1.21.1--LSDK-10.2-00082-4"),
            vec![t("udhcp", Some("1.21.1--LSDK-10.2-00082-4"))]
        );
        assert_eq!(p("MSFT 5.0"), vec![t("MSFT", Some("5.0"))]);
        let ua = p("Mozilla/5.0 (X11; Linux x86_64, rv:1) Gecko/20100101 Firefox/118.0");
        assert_eq!(ua.len(), 3);
        assert_eq!(ua[0].2.as_deref(), Some("X11; Linux x86_64, rv:1"));
        assert_eq!(ua[2], t("Firefox", Some("118.0")));
    }

    #[test]
    fn odd_inputs_terminate() {
        for s in [
            "", "/", "//", "(", ")", "((a)", "a/", "/1.0", ",,,", "UPnP/", "a (b) (c", "x 1 2 3",
        ] {
            let n = products(s).count();
            assert!(n <= s.len(), "{s:?} gave {n} items");
        }
        assert_eq!(p("a/"), vec![t("a", None)]);
        assert_eq!(p("a UPnP/1.0"), vec![t("a", None), t("UPnP", Some("1.0"))]);
    }
}
