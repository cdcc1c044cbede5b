//! `Payload::decode` / `encode` (SPEC.md section 1): one valid payload of every kind
//! round-trips byte for byte, and each strictness rule refuses with its `DecodeErrorKind`.
//! The valid payloads are written here as JSON values; their canonical bytes come from the JCS
//! encoder, which `jcs_vectors.rs` checks against the RFC 8785 vectors.

use proptest::prelude::*;
use proto::payload::Kind;
use proto::{jcs, DecodeErrorKind, EventId, Payload};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const AUTHOR: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const KEY_B: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const ID_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const ID_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn header(kind: &str, body: Value) -> Value {
    json!({
        "v": 1,
        "contract": "sib-2025-01",
        "seq": 3,
        "prev": ID_A,
        "kind": kind,
        "author": AUTHOR,
        "at": "2025-03-01T09:30:00Z",
        "body": body,
    })
}

fn bodies() -> Vec<(&'static str, Value)> {
    vec![
        (
            "contract.registered",
            json!({
            "title": "Housing first", "currency": "GBP",
            "parties": [{"key": AUTHOR, "role": "commissioner", "name": "Council"},
                        {"key": KEY_B, "role": "provider", "name": "Provider Ltd"}],
            "outcomes": [{"id": "housed-12m", "name": "Housed 12 months", "price": 150000, "cap_units": 40}],
            "cap": 6000000, "start": "2025-01-01", "end": "2027-12-31"}),
        ),
        (
            "contract.amended",
            json!({"prices": [{"outcome": "housed-12m", "price": 160000}], "reason": "indexation"}),
        ),
        ("key.rotated", json!({"old": ID_A, "new": KEY_B})),
        ("key.revoked", json!({"key": ID_B, "reason": "laptop lost"})),
        (
            "key.enrolled",
            json!({"party": ID_B, "new": KEY_B, "reason": "successor after the laptop was lost"}),
        ),
        (
            "claim.submitted",
            json!({
            "outcome": "housed-12m", "period": {"from": "2025-01-01", "to": "2025-12-31"}, "quantity": 2,
            "participants": [ID_A, ID_B],
            "evidence": [{"sha256": ID_A, "media_type": "application/pdf", "uri": "https://example.org/e/1"},
                         {"sha256": ID_B, "media_type": "text/csv"}]}),
        ),
        ("claim.verified", json!({"claim": ID_A, "quantity": 2})),
        (
            "claim.rejected",
            json!({"claim": ID_A, "reason": "no tenancy record"}),
        ),
        (
            "claim.disputed",
            json!({"claim": ID_A, "reason": "tenancy ended in month 11"}),
        ),
        (
            "dispute.resolved",
            json!({"dispute": ID_B, "decision": "adjusted", "quantity": 1}),
        ),
        (
            "feedback.recorded",
            json!({"claim": ID_A, "stance": "affirms", "text": "Support was\nconsistent."}),
        ),
        (
            "payment.made",
            json!({"lines": [{"claim": ID_A, "amount": 300000}], "total": 300000,
                                "currency": "GBP", "reference": "REM-0001"}),
        ),
        (
            "distribution.made",
            json!({"investor": ID_B, "amount": 100000, "currency": "GBP", "reference": "D-1"}),
        ),
        ("contract.closed", json!({"reason": "term ended"})),
    ]
}

fn valid(kind: &str) -> Value {
    let body = bodies()
        .into_iter()
        .find(|(k, _)| *k == kind)
        .expect("kind")
        .1;
    header(kind, body)
}

fn refuse(bytes: &[u8], kind: DecodeErrorKind, path: &str) {
    let err = Payload::decode(bytes).expect_err("refused");
    assert_eq!((err.kind(), err.path()), (kind, path), "{err}");
}

fn refuse_value(value: &Value, kind: DecodeErrorKind, path: &str) {
    refuse(&jcs::encode(value), kind, path);
}

#[test]
fn a_payload_of_every_kind_round_trips_byte_for_byte() {
    let bodies = bodies();
    assert_eq!(bodies.len(), Kind::ALL.len());
    for (kind, body) in bodies {
        let bytes = jcs::encode(&header(kind, body));
        let payload = Payload::decode(&bytes).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(payload.kind().as_str(), kind);
        assert_eq!(payload.encode(), bytes, "{kind}");
        let id: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(payload.id(), EventId::from_bytes(id), "{kind}");
    }
}

#[test]
fn seq_zero_has_null_prev_and_round_trips() {
    let mut value = valid("contract.registered");
    value["seq"] = json!(0);
    value["prev"] = Value::Null;
    let bytes = jcs::encode(&value);
    let payload = Payload::decode(&bytes).expect("valid");
    assert_eq!(payload.prev, None);
    assert_eq!(payload.encode(), bytes);
}

#[test]
fn non_canonical_bytes_are_refused() {
    let canonical = String::from_utf8(jcs::encode(&valid("claim.verified"))).expect("utf-8");
    let spaced = canonical.replacen(",", ", ", 1);
    refuse(spaced.as_bytes(), DecodeErrorKind::NonCanonical, "");
    let trailing_newline = format!("{canonical}\n");
    refuse(
        trailing_newline.as_bytes(),
        DecodeErrorKind::NonCanonical,
        "",
    );
    // "author" before "at" is out of order (canonical order: "at" < "author").
    let swapped = canonical.replacen(
        &format!("\"at\":\"2025-03-01T09:30:00Z\",\"author\":\"{AUTHOR}\""),
        &format!("\"author\":\"{AUTHOR}\",\"at\":\"2025-03-01T09:30:00Z\""),
        1,
    );
    assert_ne!(swapped, canonical);
    refuse(swapped.as_bytes(), DecodeErrorKind::NonCanonical, "");
    let mut with_slash = valid("claim.rejected");
    with_slash["body"]["reason"] = json!("a/b");
    let escaped = String::from_utf8(jcs::encode(&with_slash))
        .expect("utf-8")
        .replace("a/b", "a\\/b");
    refuse(escaped.as_bytes(), DecodeErrorKind::NonCanonical, "");
}

#[test]
fn duplicate_members_are_refused_with_their_path() {
    let canonical = String::from_utf8(jcs::encode(&valid("claim.verified"))).expect("utf-8");
    let top = canonical.replacen("\"seq\":3", "\"seq\":3,\"seq\":3", 1);
    refuse(top.as_bytes(), DecodeErrorKind::DuplicateKey, "/seq");
    let body = canonical.replacen("\"quantity\":2", "\"quantity\":2,\"quantity\":2", 1);
    refuse(
        body.as_bytes(),
        DecodeErrorKind::DuplicateKey,
        "/body/quantity",
    );
}

#[test]
fn unknown_members_are_refused() {
    let mut top = valid("claim.verified");
    top["extra"] = json!(1);
    refuse_value(&top, DecodeErrorKind::UnknownField, "");
    let mut body = valid("claim.verified");
    body["body"]["note"] = json!("x");
    refuse_value(&body, DecodeErrorKind::UnknownField, "/body");
}

#[test]
fn null_for_an_optional_member_is_refused() {
    let mut uri = valid("claim.submitted");
    uri["body"]["evidence"][1]["uri"] = Value::Null;
    refuse_value(&uri, DecodeErrorKind::Malformed, "/body");
    let mut quantity = valid("dispute.resolved");
    quantity["body"]["quantity"] = Value::Null;
    refuse_value(&quantity, DecodeErrorKind::Malformed, "/body");
}

#[test]
fn numbers_out_of_range_or_not_integers_are_refused() {
    let mut big = valid("claim.verified");
    big["seq"] = json!(1u64 << 53);
    refuse_value(&big, DecodeErrorKind::InvalidValue, "");
    let mut max = valid("claim.verified");
    max["seq"] = json!((1u64 << 53) - 1);
    assert!(
        Payload::decode(&jcs::encode(&max)).is_ok(),
        "2^53-1 is allowed"
    );
    let mut negative = valid("claim.verified");
    negative["body"]["quantity"] = json!(-1);
    refuse_value(&negative, DecodeErrorKind::InvalidValue, "/body");
    let mut float = valid("claim.verified");
    float["body"]["quantity"] = json!(1.5);
    refuse_value(&float, DecodeErrorKind::Malformed, "/body");
}

#[test]
fn values_that_break_their_pattern_are_refused() {
    let cases: [(&str, &str, Value); 5] = [
        ("author", "uppercase hex", json!(AUTHOR.to_uppercase())),
        ("author", "short hex", json!(&AUTHOR[..62])),
        ("contract", "bad contract id", json!("Bad_Id")),
        ("contract", "leading hyphen", json!("-x")),
        ("at", "no Z", json!("2025-03-01T09:30:00+01:00")),
    ];
    for (member, what, bad) in cases {
        let mut value = valid("claim.verified");
        value[member] = bad;
        let err = Payload::decode(&jcs::encode(&value)).expect_err(what);
        assert_eq!(err.kind(), DecodeErrorKind::InvalidValue, "{what}: {err}");
    }
    let mut date = valid("contract.registered");
    date["body"]["end"] = json!("2025-02-30");
    refuse_value(&date, DecodeErrorKind::InvalidValue, "/body");
    let mut prev = valid("claim.verified");
    prev["prev"] = json!("zz");
    refuse_value(&prev, DecodeErrorKind::InvalidValue, "");
}

#[test]
fn unknown_kind_and_version_are_refused() {
    refuse_value(
        &header("claim.deleted", json!({})),
        DecodeErrorKind::Malformed,
        "/kind",
    );
    let mut v2 = valid("claim.verified");
    v2["v"] = json!(2);
    refuse_value(&v2, DecodeErrorKind::InvalidValue, "/v");
    let mut wrong_body = valid("claim.verified");
    wrong_body["kind"] = json!("contract.closed");
    refuse_value(&wrong_body, DecodeErrorKind::UnknownField, "/body");
}

#[test]
fn text_and_lists_over_their_limits_are_refused() {
    let mut title = valid("contract.registered");
    title["body"]["title"] = json!("x".repeat(201));
    refuse_value(&title, DecodeErrorKind::InvalidValue, "/body");
    title["body"]["title"] = json!("é".repeat(200));
    assert!(
        Payload::decode(&jcs::encode(&title)).is_ok(),
        "200 characters is allowed"
    );
    let mut reason = valid("contract.closed");
    reason["body"]["reason"] = json!("r".repeat(2001));
    refuse_value(&reason, DecodeErrorKind::InvalidValue, "/body");
    let mut control = valid("contract.closed");
    control["body"]["reason"] = json!("bell\u{7}");
    refuse_value(&control, DecodeErrorKind::InvalidValue, "/body");
    let mut participants = valid("claim.submitted");
    let many: Vec<String> = (0..10_001u32).map(|i| format!("{i:064x}")).collect();
    participants["body"]["participants"] = json!(many);
    refuse_value(
        &participants,
        DecodeErrorKind::TooLarge,
        "/body/participants",
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_bytes_round_trip(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        if let Ok(payload) = Payload::decode(&bytes) {
            prop_assert_eq!(payload.encode(), bytes);
        }
    }

    #[test]
    fn mutated_payloads_never_panic_and_accepted_ones_round_trip(
        kind in 0..13usize,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
    ) {
        let mut bytes = jcs::encode(&header(bodies()[kind].0, bodies()[kind].1.clone()));
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(payload) = Payload::decode(&bytes) {
            prop_assert_eq!(payload.encode(), bytes);
        }
    }
}

#[test]
fn a_missing_header_member_is_refused_even_prev() {
    for member in [
        "v", "contract", "seq", "prev", "kind", "author", "at", "body",
    ] {
        let mut value = valid("claim.verified");
        value.as_object_mut().expect("object").remove(member);
        let err = Payload::decode(&jcs::encode(&value)).expect_err(member);
        assert_eq!(err.kind(), DecodeErrorKind::Malformed, "{member}: {err}");
    }
}

#[test]
fn a_revocation_with_a_successor_round_trips_and_null_is_refused() {
    let mut value = valid("key.revoked");
    value["body"]["successor"] = json!(KEY_B);
    let bytes = jcs::encode(&value);
    let payload = Payload::decode(&bytes).expect("a revocation with a successor");
    let proto::Body::KeyRevoked(body) = &payload.body else {
        panic!("a key.revoked body")
    };
    assert_eq!(body.successor.map(|k| k.to_hex()), Some(KEY_B.to_owned()));
    assert_eq!(payload.encode(), bytes);
    value["body"]["successor"] = Value::Null;
    refuse_value(&value, DecodeErrorKind::Malformed, "/body");
    value["body"]["successor"] = json!(KEY_B.to_uppercase());
    refuse_value(&value, DecodeErrorKind::InvalidValue, "/body");
}

#[test]
fn the_key_bodies_refuse_unknown_and_missing_members() {
    for kind in ["key.revoked", "key.enrolled"] {
        let mut extra = valid(kind);
        extra["body"]["quorum"] = json!(3);
        refuse_value(&extra, DecodeErrorKind::UnknownField, "/body");
    }
    let mut foreign = valid("key.enrolled");
    foreign["body"]["successor"] = json!(KEY_B);
    refuse_value(&foreign, DecodeErrorKind::UnknownField, "/body");
    for member in ["party", "new", "reason"] {
        let mut missing = valid("key.enrolled");
        missing["body"]
            .as_object_mut()
            .expect("an object")
            .remove(member);
        refuse_value(&missing, DecodeErrorKind::Malformed, "/body");
    }
}

/// SPEC.md 1.3: text refuses the bidirectional formatting controls and the noncharacters, in
/// every free-text member (names included), with the stable code `invalid-value`.
#[test]
fn bidirectional_controls_and_noncharacters_are_refused_in_text() {
    let bidi = [
        '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
        '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ];
    let nonchars = [
        '\u{FDD0}',
        '\u{FDEF}',
        '\u{FFFE}',
        '\u{FFFF}',
        '\u{1FFFE}',
        '\u{2FFFF}',
        '\u{10FFFE}',
        '\u{10FFFF}',
    ];
    let members: [(&str, &[&str]); 5] = [
        ("contract.registered", &["body", "title"]),
        ("contract.closed", &["body", "reason"]),
        ("feedback.recorded", &["body", "text"]),
        ("payment.made", &["body", "reference"]),
        ("key.enrolled", &["body", "reason"]),
    ];
    for (class, chars) in [("bidi", &bidi[..]), ("noncharacter", &nonchars[..])] {
        for c in chars {
            let bad = format!("price 1000{c}0");
            for (kind, path) in members {
                let mut value = valid(kind);
                value[path[0]][path[1]] = json!(bad);
                let err = Payload::decode(&jcs::encode(&value)).expect_err(class);
                assert_eq!(
                    err.kind(),
                    DecodeErrorKind::InvalidValue,
                    "{kind} {c:?}: {err}"
                );
                assert_eq!(err.code(), "invalid-value");
                assert_eq!(err.path(), "/body");
            }
            let mut name = valid("contract.registered");
            name["body"]["parties"][1]["name"] = json!(format!("Provider{c} Ltd"));
            refuse_value(&name, DecodeErrorKind::InvalidValue, "/body");
            let mut media = valid("claim.submitted");
            media["body"]["evidence"][0]["uri"] = json!(format!("https://example.org/{c}"));
            refuse_value(&media, DecodeErrorKind::InvalidValue, "/body");
        }
    }
    // Neighbours of the refused ranges, and right-to-left text itself, are fine.
    for ok in [
        "\u{FDCF}", "\u{FDF0}", "\u{FFFD}", "\u{2065}", "\u{206A}", "سكن", "דיור",
    ] {
        let mut value = valid("contract.closed");
        value["body"]["reason"] = json!(format!("term ended {ok}"));
        Payload::decode(&jcs::encode(&value)).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
}
