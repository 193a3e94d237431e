//! Reading a threat model: size bound, YAML or JSON, the format version first,
//! then the typed model (unknown fields refused, the error naming the path),
//! then the checks serde cannot express (unique ids, references, one peer per
//! flow). Every failure is a [`LoadError`] naming where it is.

use std::collections::{HashMap, HashSet};
use std::fmt;

use saphyr_parser::{Event, Parser};
use serde::Deserialize;

use crate::model::{Protocol, ThreatModel, FORMAT_VERSION};

/// Largest model accepted. Real models are a few KiB; this leaves room for
/// hundreds of threats and flows while keeping a hostile file cheap.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// The two syntaxes a model may be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Json,
}

/// Why a model could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// Where (`entry_points[2].logins[0].credential`), empty for the whole file.
    pub path: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), self.line) {
            (true, Some(l)) => write!(f, "line {l}: {}", self.message),
            (true, None) => f.write_str(&self.message),
            (false, Some(l)) => write!(f, "{} (line {l}): {}", self.path, self.message),
            (false, None) => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// Every way a file fails to be a usable model (all the semantic problems at
/// once, so a vendor fixes them in one pass).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// A model together with its text, so findings can point at lines.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub model: ThreatModel,
    pub syntax: Syntax,
    pub lines: LineIndex,
}

/// Guesses the syntax from the text: JSON documents start with `{`.
pub fn sniff(text: &str) -> Syntax {
    if text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
    {
        Syntax::Json
    } else {
        Syntax::Yaml
    }
}

/// Reads a model from bytes (YAML or JSON, told apart by [`sniff`]).
pub fn load(bytes: &[u8]) -> Result<Loaded, LoadErrors> {
    let whole = |message: String| {
        LoadErrors(vec![LoadError {
            path: String::new(),
            line: None,
            message,
        }])
    };
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(whole(format!(
            "the model is {} bytes; at most {MAX_INPUT_BYTES} are accepted",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| whole(format!("the model is not UTF-8 text: {e}")))?;
    let syntax = sniff(text);
    let model = parse(text, syntax).map_err(|e| LoadErrors(vec![e]))?;
    let lines = LineIndex::new(text);
    let mut errors = validate(&model);
    if !errors.is_empty() {
        for e in &mut errors {
            e.line = Some(lines.line_of(&e.path));
        }
        return Err(LoadErrors(errors));
    }
    Ok(Loaded {
        model,
        syntax,
        lines,
    })
}

/// Only what is needed to refuse another format version before reading the rest.
#[derive(Deserialize)]
struct Peek {
    format_version: Option<serde_json::Value>,
}

fn parse(text: &str, syntax: Syntax) -> Result<ThreatModel, LoadError> {
    let peek: Peek = match syntax {
        Syntax::Json => serde_json::from_str(text).map_err(json_error)?,
        Syntax::Yaml => serde_norway::from_str(text).map_err(yaml_error)?,
    };
    match peek.format_version {
        None => {
            return Err(LoadError {
                path: "format_version".into(),
                line: None,
                message: format!("missing; this warden reads format_version {FORMAT_VERSION}"),
            })
        }
        Some(v) if v.as_u64() != Some(u64::from(FORMAT_VERSION)) => {
            return Err(LoadError {
                path: "format_version".into(),
                line: Some(LineIndex::new(text).line_of("format_version")),
                message: format!(
                    "{v} is not supported; this warden reads format_version {FORMAT_VERSION}"
                ),
            })
        }
        Some(_) => {}
    }
    match syntax {
        Syntax::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let model: ThreatModel = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let mut err = json_error(e.into_inner());
                err.path = path;
                err
            })?;
            de.end().map_err(json_error)?;
            Ok(model)
        }
        Syntax::Yaml => {
            let de = serde_norway::Deserializer::from_str(text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let mut err = yaml_error(e.into_inner());
                err.path = path;
                err
            })
        }
    }
}

fn json_error(e: serde_json::Error) -> LoadError {
    // serde_json appends " at line L column C"; keep the line as a field instead.
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    LoadError {
        path: String::new(),
        line: (e.line() > 0).then_some(e.line()),
        message,
    }
}

fn yaml_error(e: serde_norway::Error) -> LoadError {
    let line = e.location().map(|l| l.line());
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let message = message.trim_start_matches(|c: char| c == '.' || c == ':' || c.is_whitespace());
    let message = match message.split_once(": ") {
        // serde_norway prefixes the path it knows ("entry_points[0]: unknown field");
        // the path is reported separately.
        Some((head, rest)) if !head.contains(' ') => rest.to_string(),
        _ => message.to_string(),
    };
    LoadError {
        path: String::new(),
        line,
        message,
    }
}

/// The checks the types cannot express.
pub fn validate(m: &ThreatModel) -> Vec<LoadError> {
    let mut errors = Vec::new();
    let mut err = |path: String, message: String| {
        errors.push(LoadError {
            path,
            line: None,
            message,
        })
    };

    if m.identity.vendor.trim().is_empty() {
        err("identity.vendor".into(), "must not be empty".into());
    }
    if m.identity.model.trim().is_empty() {
        err("identity.model".into(), "must not be empty".into());
    }
    if let Some(cpe) = &m.identity.cpe {
        if !is_cpe23(cpe) {
            err(
                "identity.cpe".into(),
                format!("{cpe:?} is not a CPE 2.3 formatted string (cpe:2.3:part:vendor:product:... with 13 parts)"),
            );
        }
    }
    if let Some(purl) = &m.identity.purl {
        let ty = purl
            .strip_prefix("pkg:")
            .and_then(|r| r.split_once('/'))
            .map(|(t, _)| t);
        let ok = ty.is_some_and(|t| {
            t.starts_with(|c: char| c.is_ascii_alphabetic())
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".+-".contains(c))
        });
        if !ok || purl.chars().any(char::is_whitespace) {
            err(
                "identity.purl".into(),
                format!("{purl:?} is not a package URL (pkg:type/name...)"),
            );
        }
    }
    if let Some(url) = &m.identity.mud_url {
        if !url.starts_with("https://")
            || url.len() <= 8
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            err(
                "identity.mud_url".into(),
                format!("{url:?} is not an https URL (RFC 8520 MUD URLs use https)"),
            );
        }
    }
    for (i, fw) in m.identity.firmware.iter().enumerate() {
        if fw.image_sha256.len() != 64
            || !fw
                .image_sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            err(
                format!("identity.firmware[{i}].image_sha256"),
                "must be a SHA-256 in 64 lowercase hex digits".into(),
            );
        }
    }

    let ids = |what: &str, list: Vec<(String, &str)>, err: &mut dyn FnMut(String, String)| {
        let mut seen = HashSet::new();
        for (path, id) in list {
            if id.trim().is_empty() {
                err(path, format!("{what} id must not be empty"));
            } else if !seen.insert(id.to_string()) {
                err(path, format!("{what} id {id:?} is used twice"));
            }
        }
        seen
    };
    let attackers = ids(
        "attacker",
        m.attackers
            .in_scope
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("attackers.in_scope[{i}].id"), a.id.as_str()))
            .chain(
                m.attackers
                    .out_of_scope
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (format!("attackers.out_of_scope[{i}].id"), a.id.as_str())),
            )
            .collect(),
        &mut err,
    );
    let assets = ids(
        "asset",
        m.assets
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("assets[{i}].id"), a.id.as_str()))
            .collect(),
        &mut err,
    );
    let entry_points = ids(
        "entry point",
        m.entry_points
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("entry_points[{i}].id"), e.id.as_str()))
            .collect(),
        &mut err,
    );
    let controls = ids(
        "control",
        m.controls
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("controls[{i}].id"), c.id.as_str()))
            .collect(),
        &mut err,
    );
    ids(
        "threat",
        m.threats
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("threats[{i}].id"), t.id.as_str()))
            .collect(),
        &mut err,
    );

    for (i, t) in m.threats.iter().enumerate() {
        let refs: [(&str, &Vec<String>, &HashSet<String>); 4] = [
            ("entry_points", &t.entry_points, &entry_points),
            ("assets", &t.assets, &assets),
            ("attackers", &t.attackers, &attackers),
            ("controls", &t.controls, &controls),
        ];
        for (field, list, known) in refs {
            for (j, id) in list.iter().enumerate() {
                if !known.contains(id) {
                    err(
                        format!("threats[{i}].{field}[{j}]"),
                        format!("no {} has the id {id:?}", singular(field)),
                    );
                }
            }
        }
    }

    for (i, e) in m.entry_points.iter().enumerate() {
        if e.port.is_some() && !matches!(e.protocol, Some(Protocol::Tcp | Protocol::Udp)) {
            err(
                format!("entry_points[{i}].port"),
                "a port needs protocol tcp or udp".into(),
            );
        }
    }

    for (i, f) in m.network.flows.iter().enumerate() {
        let at = |field: &str| format!("network.flows[{i}].{field}");
        match (&f.dns_name, &f.class) {
            (Some(_), Some(_)) => err(
                at("class"),
                "name the peer by dns_name or by class, not both".into(),
            ),
            (None, None) => err(
                format!("network.flows[{i}]"),
                "name the peer with dns_name or class".into(),
            ),
            _ => {}
        }
        if let Some(name) = &f.dns_name {
            if !is_dns_name(name) {
                err(at("dns_name"), format!("{name:?} is not a DNS name"));
            }
        }
        let wants_manufacturer = f.class == Some(crate::model::PeerClass::Manufacturer);
        if wants_manufacturer != f.manufacturer.is_some() {
            err(
                at("manufacturer"),
                "manufacturer is given exactly when class is manufacturer".into(),
            );
        }
        if f.port.is_some() && !matches!(f.protocol, Protocol::Tcp | Protocol::Udp) {
            err(at("port"), "a port needs protocol tcp or udp".into());
        }
        if f.port == Some(0) {
            err(at("port"), "port 0 is not a port".into());
        }
    }
    errors
}

fn singular(field: &str) -> &str {
    match field {
        "entry_points" => "entry point",
        "assets" => "asset",
        "attackers" => "attacker",
        _ => "control",
    }
}

/// A CPE 2.3 formatted string: `cpe:2.3:` then 11 more parts (part, vendor,
/// product, version, update, edition, language, sw_edition, target_sw,
/// target_hw, other) separated by unescaped colons; part is a, h, o or a
/// wildcard.
pub fn is_cpe23(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("cpe:2.3:") else {
        return false;
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return false,
                }
            }
            ':' => parts.push(std::mem::take(&mut cur)),
            c if c.is_whitespace() || c.is_control() => return false,
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts.len() == 11
        && matches!(parts[0].as_str(), "a" | "h" | "o" | "*" | "-")
        && parts.iter().all(|p| !p.is_empty())
}

/// A DNS name as MUD allows it: dot-separated labels of letters, digits and
/// hyphens (a leading `*.` is not allowed), at most 253 bytes.
pub fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Where each key and list item of the source starts: `path -> line`. Built
/// from saphyr's event parser, which reads JSON as well as YAML. Only used to
/// point at lines, so a text it cannot read simply has no lines.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

enum Ctx {
    Map { awaiting_value: bool },
    Seq { index: usize },
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut lines = HashMap::new();
        let mut stack: Vec<Ctx> = Vec::new();
        let mut path: Vec<String> = Vec::new();
        let join = |path: &[String], last: &str| {
            let mut s = String::new();
            for seg in path.iter().map(String::as_str).chain(std::iter::once(last)) {
                if !s.is_empty() && !seg.starts_with('[') {
                    s.push('.');
                }
                s.push_str(seg);
            }
            s
        };
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let line = span.start.line();
            let (is_start, is_end, key_text) = match &event {
                Event::Scalar(v, ..) => (false, false, Some(v.to_string())),
                Event::Alias(_) => (false, false, Some(String::new())),
                Event::MappingStart(..) | Event::SequenceStart(..) => (true, false, None),
                Event::MappingEnd | Event::SequenceEnd => (false, true, None),
                _ => continue,
            };
            if is_end {
                stack.pop();
                match stack.last_mut() {
                    Some(Ctx::Map { awaiting_value }) => {
                        path.pop();
                        *awaiting_value = false;
                    }
                    Some(Ctx::Seq { index }) => {
                        path.pop();
                        *index += 1;
                    }
                    None => {}
                }
                continue;
            }
            match stack.last_mut() {
                None => {}
                Some(Ctx::Map { awaiting_value }) if !*awaiting_value => {
                    // A key. A complex (non-scalar) key cannot be a model's
                    // key; serde refuses the file, so stop indexing here.
                    let Some(key) = key_text else { break };
                    lines.entry(join(&path, &key)).or_insert(line);
                    path.push(key);
                    *awaiting_value = true;
                    continue;
                }
                Some(Ctx::Map { awaiting_value }) if !is_start => {
                    path.pop();
                    *awaiting_value = false;
                }
                Some(Ctx::Map { .. }) => {}
                Some(Ctx::Seq { index }) => {
                    let seg = format!("[{index}]");
                    lines.entry(join(&path, &seg)).or_insert(line);
                    if is_start {
                        path.push(seg);
                    } else {
                        *index += 1;
                    }
                }
            }
            if is_start {
                stack.push(match event {
                    Event::MappingStart(..) => Ctx::Map {
                        awaiting_value: false,
                    },
                    _ => Ctx::Seq { index: 0 },
                });
            }
        }
        Self { lines }
    }

    /// The line of `path`, or of its nearest ancestor present in the source,
    /// or 1.
    pub fn line_of(&self, path: &str) -> usize {
        let mut p = path;
        loop {
            if let Some(&l) = self.lines.get(p) {
                return l;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_yaml_keys_and_items() {
        let text = "a: 1\nb:\n  c:\n    - x\n    - d: 2\n      e: 3\nf: [1, 2]\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_of("a"), 1);
        assert_eq!(idx.line_of("b.c"), 3);
        assert_eq!(idx.line_of("b.c[0]"), 4);
        assert_eq!(idx.line_of("b.c[1]"), 5);
        assert_eq!(idx.line_of("b.c[1].e"), 6);
        assert_eq!(idx.line_of("f"), 7);
        // Absent paths fall back to the nearest ancestor.
        assert_eq!(idx.line_of("b.c[1].zzz"), 5);
        assert_eq!(idx.line_of("nothing.here"), 1);
    }

    #[test]
    fn lines_count_cr_lf_and_crlf_breaks() {
        // As YAML, SARIF and editors count lines (found by fuzzing: a lone CR
        // is a line break too).
        let idx = LineIndex::new("a: 1\rb: 2\r\nc: 3\nd: 4\n");
        assert_eq!(idx.line_of("b"), 2);
        assert_eq!(idx.line_of("c"), 3);
        assert_eq!(idx.line_of("d"), 4);
    }

    #[test]
    fn lines_of_json_keys() {
        let text = "{\n  \"a\": {\n    \"b\": [\n      {\"c\": 1},\n      {\"c\": 2}\n    ]\n  },\n  \"d\": true\n}\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_of("a.b[1].c"), 5);
        assert_eq!(idx.line_of("d"), 8);
    }

    #[test]
    fn cpe_names() {
        assert!(is_cpe23(
            "cpe:2.3:h:northwind_optics:nw-cam_2:b:*:*:*:*:*:*:*"
        ));
        assert!(is_cpe23("cpe:2.3:o:acme:fw:1.0\\:beta:*:*:*:*:*:*:*"));
        assert!(!is_cpe23("cpe:2.3:h:acme:cam"));
        assert!(!is_cpe23("cpe:/h:acme:cam:1"));
        assert!(!is_cpe23("cpe:2.3:x:acme:cam:1:*:*:*:*:*:*:*"));
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_name("api.example.com"));
        assert!(is_dns_name("pool.ntp.org."));
        assert!(!is_dns_name("*.example.com"));
        assert!(!is_dns_name("exa mple.com"));
        assert!(!is_dns_name("-a.com"));
        assert!(!is_dns_name(""));
    }
}
