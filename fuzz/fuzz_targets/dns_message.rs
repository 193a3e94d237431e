//! One DNS/mDNS message: parse, read the header, walk every question and
//! record (names with compression pointers, SRV, TXT strings), and decode a
//! name at an input-chosen offset. Walks must end, names must stay within
//! their documented bound and be safe to display.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_identify::dns::{read_name, DnsMessage, Name, RData};
use warden_identify::text::is_displayable;

/// RFC 1035 wire names are at most 255 bytes, which makes at most 253 in
/// presentation form (`Name` docs).
const MAX_NAME_TEXT: usize = 253;

fn check_name(n: &Name) {
    let s = n.as_str();
    assert!(s.len() <= MAX_NAME_TEXT, "{} bytes", s.len());
    // "Always safe to display" (`Name` docs): names reach alert evidence.
    assert!(s.chars().all(is_displayable), "{s:?}");
    // ASCII-lowercased (`Name` docs), so names compare case-insensitively.
    assert!(!s.bytes().any(|b| b.is_ascii_uppercase()), "{s:?}");
    assert_eq!(n.is_root(), s.is_empty());
    let _ = n.labels().count();
    let _ = n.first_label();
}

fuzz_target!(|data: &[u8]| {
    if let Some(&b) = data.first() {
        if let Ok((name, next)) = read_name(data, usize::from(b)) {
            check_name(&name);
            assert!(next <= data.len());
        }
    }
    let Ok(m) = DnsMessage::parse(data) else {
        return;
    };
    let _ = (
        m.id(),
        m.is_response(),
        m.opcode(),
        m.is_truncated(),
        m.rcode(),
    );
    let questions = m.questions().count();
    assert!(questions <= usize::from(m.question_count()));
    for q in m.questions().map_while(Result::ok) {
        check_name(&q.name);
    }
    let declared = usize::from(m.answer_count())
        + usize::from(m.authority_count())
        + usize::from(m.additional_count());
    let mut seen = 0;
    for r in m.records() {
        seen += 1;
        let Ok(r) = r else { break };
        check_name(&r.name);
        match r.data {
            RData::Ptr(n) | RData::Cname(n) => check_name(&n),
            RData::Srv { target, .. } => check_name(&target),
            RData::Txt(t) => {
                let mut total = 0;
                for s in t.strings() {
                    total += 1 + s.len();
                }
                assert!(total <= t.0.len());
            }
            RData::A(_) | RData::Aaaa(_) | RData::Other(_) => {}
        }
    }
    // One error at most after the declared records, never more items.
    assert!(seen <= declared.max(1));
});
