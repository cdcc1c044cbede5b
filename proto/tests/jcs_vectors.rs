//! RFC 8785 (JCS) known-answer tests and properties.
//!
//! Source: `testdata/rfc8785-jcs/`. Upstream: cyberphone/json-canonicalization @ 19d51d7fe467
//! (`testdata/input`, `output`, `outhex`, by the author of RFC 8785), and
//! `es6-numbers-first-10000.txt`: the first 10,000 lines of that project's ES6 number test
//! sequence (`<IEEE-754 bits in hex>,<expected JSON text>`), generated for the shared collection
//! by the upstream algorithm and checked against the upstream checksum (see
//! `testdata/README.md`).

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use proto::jcs;
use proto::DecodeErrorKind;
use serde_json::{Map, Number, Value};

const CASES: [&str; 6] = [
    "arrays",
    "french",
    "structures",
    "unicode",
    "values",
    "weird",
];

fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/rfc8785-jcs"
    ))
}

fn read(path: &str) -> Vec<u8> {
    fs::read(dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn inputs_canonicalize_to_the_expected_output_bytes() {
    for name in CASES {
        let input = read(&format!("input/{name}.json"));
        let output = read(&format!("output/{name}.json"));
        let outhex = String::from_utf8(read(&format!("outhex/{name}.txt"))).expect("utf-8");
        let outhex: Vec<u8> = outhex
            .split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
            .collect();
        assert_eq!(output, outhex, "{name}: output and outhex agree");
        let value = jcs::parse_strict(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&jcs::encode(&value)),
            String::from_utf8_lossy(&output),
            "{name}"
        );
        let written = jcs::to_canonical_vec(&value).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&output),
            "{name}: the serde writer"
        );
    }
}

#[test]
fn check_canonical_accepts_outputs_and_refuses_differing_inputs() {
    for name in CASES {
        let input = read(&format!("input/{name}.json"));
        let output = read(&format!("output/{name}.json"));
        assert!(jcs::check_canonical(&output).is_ok(), "{name} output");
        assert_ne!(
            input, output,
            "{name}: every upstream input differs from its output"
        );
        let err = jcs::check_canonical(&input).expect_err(name);
        assert_eq!(err.kind(), DecodeErrorKind::NonCanonical, "{name}");
    }
}

#[test]
fn es6_number_lines_format_as_expected() {
    let text = String::from_utf8(read("es6-numbers-first-10000.txt")).expect("utf-8");
    let mut lines = 0;
    for line in text.lines() {
        let (bits, expected) = line.split_once(',').expect("bits,expected");
        let value = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex bits"));
        let number = Number::from_f64(value).unwrap_or_else(|| panic!("{line}: finite"));
        let encoded = jcs::encode(&Value::Number(number));
        assert_eq!(String::from_utf8_lossy(&encoded), expected, "{line}");
        let written = jcs::to_canonical_vec(&value).expect("finite");
        assert_eq!(
            String::from_utf8_lossy(&written),
            expected,
            "{line}: writer"
        );
        lines += 1;
    }
    assert_eq!(lines, 10_000);
}

#[test]
fn duplicate_members_are_refused_at_any_depth_with_their_pointer() {
    let cases = [
        (r#"{"a":1,"a":2}"#, "/a"),
        (
            r#"{"body":{"parties":[{"name":"x","key":"k","name":"y"}]}}"#,
            "/body/parties/0/name",
        ),
        (
            r#"[0,[1,{"ok":1}],{"x":{"a/b":{"~":1,"~":2}}}]"#,
            "/2/x/a~1b/~0",
        ),
    ];
    for (text, path) in cases {
        let err = jcs::parse_strict(text.as_bytes()).expect_err(text);
        assert_eq!(
            (err.kind(), err.path()),
            (DecodeErrorKind::DuplicateKey, path),
            "{text}"
        );
        let err = jcs::check_canonical(text.as_bytes()).expect_err(text);
        assert_eq!(err.kind(), DecodeErrorKind::DuplicateKey, "{text}");
    }
}

/// Struct members come out sorted by the writer, whatever order they are declared in; the
/// expected text is written out by hand.
#[test]
fn the_writer_sorts_struct_members_at_every_depth_and_escapes_minimally() {
    #[derive(serde::Serialize)]
    struct Inner {
        z: u8,
        b: Option<u8>,
        a: &'static str,
    }
    #[derive(serde::Serialize)]
    struct Outer {
        zeta: Vec<Inner>,
        #[serde(rename = "\u{fb01}")]
        euro: bool,
        #[serde(rename = "\u{1f600}")]
        smile: (),
        alpha: i64,
    }
    let value = Outer {
        zeta: vec![Inner {
            z: 1,
            b: None,
            a: "\"\\/\u{7}\u{1f}\u{7f}\n",
        }],
        euro: true,
        smile: (),
        alpha: -9_007_199_254_740_993,
    };
    // U+1F600 is the UTF-16 pair D83D DE00, which sorts before U+FB01 (code point order would
    // put it after).
    let expected = "{\"alpha\":-9007199254740992,\"zeta\":[{\"a\":\"\\\"\\\\/\\u0007\\u001f\u{7f}\\n\",\"b\":null,\"z\":1}],\"\u{1f600}\":null,\"\u{fb01}\":true}";
    let written = jcs::to_canonical_vec(&value).expect("representable");
    assert_eq!(String::from_utf8_lossy(&written), expected);
}

#[test]
fn the_writer_refuses_what_jcs_cannot_represent() {
    assert!(jcs::to_canonical_vec(&f64::NAN).is_err());
    assert!(jcs::to_canonical_vec(&[f64::INFINITY]).is_err());
    let float_keys: Vec<(f64, u8)> = vec![(1.5, 1)];
    let map: std::collections::BTreeMap<String, u8> = [("k".to_owned(), 1)].into();
    assert_eq!(
        jcs::to_canonical_vec(&map).expect("string keys"),
        b"{\"k\":1}"
    );
    assert!(
        jcs::to_canonical_vec(&float_keys).is_ok(),
        "a list of pairs is an array"
    );
    let big = 1u128 << 70;
    assert!(jcs::to_canonical_vec(&big).is_err());
}

#[test]
fn malformed_json_is_refused() {
    for text in ["", "{", "[1,]", "{\"a\":1}x", "nul", "1e400", "\"\\ud800\""] {
        let err = jcs::parse_strict(text.as_bytes()).expect_err(text);
        assert_eq!(err.kind(), DecodeErrorKind::Malformed, "{text:?}: {err}");
    }
}

#[test]
fn non_canonical_forms_are_refused() {
    for text in [
        r#"{"b":1,"a":2}"#,
        r#"{"a": 1}"#,
        r#"{"a":1.0}"#,
        r#"{"a":"\/"}"#,
        r#"{"a":"\u0041"}"#,
        r#"{"a":1e2}"#,
        "[1] ",
        r#"{"a":-0}"#,
    ] {
        let err = jcs::check_canonical(text.as_bytes()).expect_err(text);
        assert_eq!(err.kind(), DecodeErrorKind::NonCanonical, "{text}");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #[test]
    fn encoding_is_a_fixed_point_of_parse_then_encode(value in json_value()) {
        let once = jcs::encode(&value);
        let parsed = jcs::parse_strict(&once).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(jcs::encode(&parsed), once.clone());
        prop_assert!(jcs::check_canonical(&once).is_ok());
    }

    #[test]
    fn the_serde_writer_agrees_with_the_value_encoder(value in json_value()) {
        let written = jcs::to_canonical_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(written, jcs::encode(&value));
    }
}
