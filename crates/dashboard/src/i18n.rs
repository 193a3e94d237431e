//! Message catalogs: the plain-language texts people read (notifications
//! and the dashboard's "What to do next") in each shipped language. One
//! TOML file per language, compiled in (`i18n/<lang>.toml`); placeholders
//! are `{name}`. A key missing from a catalog falls back to English (a
//! test keeps the catalogs complete).

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The languages shipped, English first.
pub const LANGUAGES: &[&str] = &["en", "de"];

const SOURCES: &[(&str, &str)] = &[
    ("en", include_str!("../i18n/en.toml")),
    ("de", include_str!("../i18n/de.toml")),
];

/// One language's messages.
#[derive(Debug)]
pub struct Catalog {
    pub language: &'static str,
    messages: BTreeMap<String, String>,
}

fn all() -> &'static Vec<Catalog> {
    static ALL: OnceLock<Vec<Catalog>> = OnceLock::new();
    ALL.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(lang, text)| Catalog {
                language: lang,
                // The catalogs are part of the program: a broken one is a
                // bug the tests catch, not a runtime condition.
                messages: toml::from_str(text).unwrap_or_else(|e| panic!("i18n/{lang}.toml: {e}")),
            })
            .collect()
    })
}

impl Catalog {
    /// The catalog of `language` ("en", "de"), or an error naming those
    /// there are.
    pub fn get(language: &str) -> anyhow::Result<&'static Catalog> {
        all()
            .iter()
            .find(|c| c.language == language)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no messages in language {language:?}; there are: {}",
                    LANGUAGES.join(", ")
                )
            })
    }

    /// English.
    pub fn english() -> &'static Catalog {
        &all()[0]
    }

    /// Every key of this catalog.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.messages.keys().map(String::as_str)
    }

    /// The raw template of `key`, if this catalog has it.
    pub fn template(&self, key: &str) -> Option<&str> {
        self.messages.get(key).map(String::as_str)
    }

    /// The message `key` with its placeholders filled in.
    pub fn t(&self, key: &str, args: &[(&str, &str)]) -> String {
        let template = self
            .template(key)
            .or_else(|| Catalog::english().template(key))
            .unwrap_or(key);
        fill(template, args)
    }

    /// "1 hour", "90 minutes", "2 days" (as warden's English messages).
    pub fn duration(&self, ns: i64) -> String {
        let s = (ns.max(0) / 1_000_000_000) as u64;
        let (n, unit) = match s {
            s if s < 120 => (s, "second"),
            s if s < 2 * 3_600 && s % 3_600 != 0 => (s / 60, "minute"),
            s if s < 2 * 86_400 && s % 86_400 != 0 => (s / 3_600, "hour"),
            s => (s / 86_400, "day"),
        };
        let form = if n == 1 { "one" } else { "other" };
        self.t(&format!("unit-{unit}-{form}"), &[("n", &n.to_string())])
    }
}

/// Replaces each `{name}` of `args` in `template`; other text is kept.
fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match args.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders of a template, sorted.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut out: Vec<String> = template
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_owned()))
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_unknown_ones_kept() {
        assert_eq!(
            fill("a {x} b {y} {z", &[("x", "1"), ("y", "{2}")]),
            "a 1 b {2} {z"
        );
        assert_eq!(fill("{q}", &[]), "{q}");
        assert_eq!(placeholders("{b} and {a} {b}"), vec!["a", "b"]);
    }

    #[test]
    fn durations_read_naturally_in_both_languages() {
        let s = 1_000_000_000i64;
        let en = Catalog::get("en").unwrap();
        let de = Catalog::get("de").unwrap();
        assert_eq!(en.duration(3_600 * s), "1 hour");
        assert_eq!(en.duration(90 * 60 * s), "90 minutes");
        assert_eq!(de.duration(2 * 86_400 * s), "2 Tage");
        assert_eq!(de.duration(s), "1 Sekunde");
        assert!(Catalog::get("xx").is_err());
    }
}
