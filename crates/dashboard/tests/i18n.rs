//! The message catalogs: every key in every language, with the same
//! placeholders; and a German dashboard says what to do in German.

mod common;

use warden_dashboard::i18n::{placeholders, Catalog, LANGUAGES};

#[test]
fn every_key_exists_in_every_catalog_with_the_same_placeholders() {
    let en = Catalog::english();
    let keys: Vec<&str> = en.keys().collect();
    assert!(keys.len() > 40, "{} keys", keys.len());
    for lang in LANGUAGES {
        let cat = Catalog::get(lang).unwrap();
        let mine: Vec<&str> = cat.keys().collect();
        assert_eq!(mine, keys, "{lang} has other keys than en");
        for k in &keys {
            let (a, b) = (en.template(k).unwrap(), cat.template(k).unwrap());
            assert_eq!(
                placeholders(a),
                placeholders(b),
                "{lang}: {k} has other placeholders"
            );
            assert!(!b.trim().is_empty(), "{lang}: {k} is empty");
            if *lang != "en" && !k.starts_with("unit-") && *k != "list-and" {
                assert_ne!(a, b, "{lang}: {k} is not translated");
            }
        }
    }
}

#[test]
fn the_dashboard_in_german_says_what_to_do_in_german() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    common::fill(&db);
    let store = warden_state::Store::open(&db).unwrap();
    let de = Catalog::get("de").unwrap();
    let now = common::now();
    let view = warden_dashboard::data::View::new(de);
    let d = warden_dashboard::data::device_in(&store, common::mac(common::EVIL), now, &view)
        .unwrap()
        .unwrap();
    assert!(
        d.next_steps.starts_with(
            "Das Gerät ist wahrscheinlich infiziert. warden hebt die Einschränkung am "
        ),
        "{}",
        d.next_steps
    );
    let en = warden_dashboard::data::device(&store, common::mac(common::EVIL), now)
        .unwrap()
        .unwrap();
    assert!(en
        .next_steps
        .starts_with("The device is probably infected. warden lifts it by itself at "));
    // An unknown language is refused when the dashboard starts.
    let mut config = warden_dashboard::Config::new(&db, "127.0.0.1:0".parse().unwrap());
    config.language = "xx".into();
    let err = warden_dashboard::bind(&config).err().expect("refused");
    assert!(err.to_string().contains("en, de"), "{err}");
}
