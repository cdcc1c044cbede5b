//! Rules of the ledger's DSSE envelope profile (SPEC.md section 3): what `Envelope::decode`
//! accepts and refuses, and the canonical bytes `to_jcs` gives. Expected texts are written out
//! by hand from the rules, not produced by the code under test.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use proto::dsse::{self, Envelope, Signature};
use proto::payload::PAYLOAD_TYPE;
use proto::{DecodeError, DecodeErrorKind, KeyId};
use serde_json::{json, Value};

const KEYID_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const KEYID_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn sig_b64(byte: u8) -> String {
    STANDARD.encode([byte; 64])
}

fn envelope_json(signatures: Value) -> Value {
    json!({"payload": "e30=", "payloadType": PAYLOAD_TYPE, "signatures": signatures})
}

fn valid() -> Value {
    envelope_json(
        json!([{"keyid": KEYID_A, "sig": sig_b64(1)}, {"keyid": KEYID_B, "sig": sig_b64(2)}]),
    )
}

fn decode_value(value: &Value) -> Result<Envelope, DecodeError> {
    Envelope::decode(&serde_json::to_vec(value).expect("serialize"))
}

fn assert_refused(value: &Value, kind: DecodeErrorKind, path: &str) -> DecodeError {
    let err = decode_value(value).expect_err("refused");
    assert_eq!((err.kind(), err.path()), (kind, path), "{err}");
    err
}

#[test]
fn valid_envelope_decodes_and_gives_canonical_bytes() {
    let envelope = decode_value(&valid()).expect("valid");
    assert_eq!(envelope.payload(), b"{}");
    assert_eq!(envelope.payload_type(), PAYLOAD_TYPE);
    assert_eq!(envelope.signatures()[1].sig(), &[2u8; 64]);
    let expected = format!(
        "{{\"payload\":\"e30=\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[\
         {{\"keyid\":\"{KEYID_A}\",\"sig\":\"{}\"}},{{\"keyid\":\"{KEYID_B}\",\"sig\":\"{}\"}}]}}",
        sig_b64(1),
        sig_b64(2)
    );
    assert_eq!(
        String::from_utf8(envelope.to_jcs()).expect("utf-8"),
        expected
    );
}

#[test]
fn whitespace_and_member_order_are_tolerated() {
    let text = format!(
        "{{ \"signatures\" : [ {{ \"sig\": \"{}\", \"keyid\": \"{KEYID_A}\" }} ],\n  \
         \"payloadType\": \"{PAYLOAD_TYPE}\",\n  \"payload\": \"e30=\" }}\n",
        sig_b64(1)
    );
    let envelope = Envelope::decode(text.as_bytes()).expect("tolerated");
    let expected = format!(
        "{{\"payload\":\"e30=\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[{{\"keyid\":\"{KEYID_A}\",\"sig\":\"{}\"}}]}}",
        sig_b64(1)
    );
    assert_eq!(envelope.to_jcs(), expected.as_bytes());
}

#[test]
fn unknown_members_are_refused() {
    let mut top = valid();
    top["extra"] = json!(1);
    assert_refused(&top, DecodeErrorKind::UnknownField, "/extra");
    let mut inner = valid();
    inner["signatures"][1]["public_key"] = json!("x");
    assert_refused(
        &inner,
        DecodeErrorKind::UnknownField,
        "/signatures/1/public_key",
    );
}

#[test]
fn duplicate_members_are_refused_with_their_path() {
    let top = format!(
        "{{\"payload\":\"e30=\",\"payload\":\"e30=\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[]}}"
    );
    let err = Envelope::decode(top.as_bytes()).expect_err("duplicate");
    assert_eq!(
        (err.kind(), err.path()),
        (DecodeErrorKind::DuplicateKey, "/payload")
    );
    let inner = format!(
        "{{\"payload\":\"e30=\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[{{\"keyid\":\"{KEYID_A}\",\"sig\":\"{0}\",\"sig\":\"{0}\"}}]}}",
        sig_b64(1)
    );
    let err = Envelope::decode(inner.as_bytes()).expect_err("duplicate");
    assert_eq!(
        (err.kind(), err.path()),
        (DecodeErrorKind::DuplicateKey, "/signatures/0/sig")
    );
}

#[test]
fn missing_members_and_wrong_types_are_malformed() {
    let mut missing = valid();
    missing.as_object_mut().expect("object").remove("payload");
    assert_refused(&missing, DecodeErrorKind::Malformed, "/payload");
    assert_refused(&json!([1]), DecodeErrorKind::Malformed, "");
    let mut number = valid();
    number["payloadType"] = json!(5);
    assert_refused(&number, DecodeErrorKind::Malformed, "/payloadType");
    let err = Envelope::decode(b"{\"payload\":").expect_err("truncated");
    assert_eq!(err.kind(), DecodeErrorKind::Malformed);
}

#[test]
fn only_standard_padded_base64_is_accepted() {
    // 0xfb 0xff encodes as "+/8=" in standard base64 and "-_8=" in the URL-safe alphabet.
    let mut standard = valid();
    standard["payload"] = json!("+/8=");
    assert_eq!(
        decode_value(&standard).expect("standard").payload(),
        [0xfb, 0xff]
    );
    let mut url_safe = valid();
    url_safe["payload"] = json!("-_8=");
    let err = assert_refused(&url_safe, DecodeErrorKind::Envelope, "/payload");
    assert!(err.detail().contains("URL-safe"), "{err}");
    let mut unpadded = valid();
    unpadded["payload"] = json!("e30");
    let err = assert_refused(&unpadded, DecodeErrorKind::Envelope, "/payload");
    assert!(err.detail().contains("unpadded"), "{err}");
    let mut trailing_bits = valid();
    trailing_bits["payload"] = json!("e31="); // "{}" with non-zero padding bits
    assert_refused(&trailing_bits, DecodeErrorKind::Envelope, "/payload");
    let mut bad_sig = valid();
    bad_sig["signatures"][0]["sig"] = json!(STANDARD.encode([1u8; 64]).trim_end_matches('='));
    assert_refused(&bad_sig, DecodeErrorKind::Envelope, "/signatures/0/sig");
}

#[test]
fn signature_list_rules() {
    assert_refused(
        &envelope_json(json!([])),
        DecodeErrorKind::Envelope,
        "/signatures",
    );
    let unsorted =
        json!([{"keyid": KEYID_B, "sig": sig_b64(2)}, {"keyid": KEYID_A, "sig": sig_b64(1)}]);
    assert_refused(
        &envelope_json(unsorted),
        DecodeErrorKind::Envelope,
        "/signatures",
    );
    let repeated =
        json!([{"keyid": KEYID_A, "sig": sig_b64(2)}, {"keyid": KEYID_A, "sig": sig_b64(1)}]);
    assert_refused(
        &envelope_json(repeated),
        DecodeErrorKind::Envelope,
        "/signatures",
    );
    let upper = json!([{"keyid": KEYID_A.replace('1', "A"), "sig": sig_b64(1)}]);
    assert_refused(
        &envelope_json(upper),
        DecodeErrorKind::Envelope,
        "/signatures/0/keyid",
    );
    let short = json!([{"keyid": KEYID_A, "sig": STANDARD.encode([1u8; 63])}]);
    let err = assert_refused(
        &envelope_json(short),
        DecodeErrorKind::Envelope,
        "/signatures/0/sig",
    );
    assert!(err.detail().contains("63 bytes"), "{err}");
    let many: Vec<Value> = (0..65u8)
        .map(|i| json!({"keyid": format!("{:064x}", i), "sig": sig_b64(i)}))
        .collect();
    assert_refused(
        &envelope_json(Value::Array(many)),
        DecodeErrorKind::TooLarge,
        "/signatures",
    );
}

#[test]
fn ledger_decode_requires_the_ledger_payload_type() {
    let mut other = valid();
    other["payloadType"] = json!("application/json");
    assert_refused(&other, DecodeErrorKind::Envelope, "/payloadType");
    let json = serde_json::to_vec(&other).expect("serialize");
    assert_eq!(
        Envelope::decode_any_type(&json)
            .expect("any type")
            .payload_type(),
        "application/json"
    );
}

#[test]
fn new_sorts_signatures_and_refuses_repeats() {
    let a = Signature::new(KEYID_A.parse().expect("keyid"), [1; 64]);
    let b = Signature::new(KEYID_B.parse().expect("keyid"), [2; 64]);
    let envelope = Envelope::new(PAYLOAD_TYPE, b"{}".to_vec(), vec![b, a]).expect("valid");
    assert_eq!(envelope.signatures(), &[a, b]);
    assert_eq!(decode_value(&valid()).expect("valid"), envelope);
    let err = Envelope::new(PAYLOAD_TYPE, vec![], vec![a, a]).expect_err("repeat");
    assert_eq!(err.kind(), DecodeErrorKind::Envelope);
    let err = Envelope::new(PAYLOAD_TYPE, vec![], vec![]).expect_err("empty");
    assert_eq!(err.kind(), DecodeErrorKind::Envelope);
}

#[test]
fn sign_uses_the_key_id_of_the_public_key_and_round_trips() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let signature = dsse::sign(PAYLOAD_TYPE, b"{}", &key);
    let public = proto::PublicKey::from_bytes(key.verifying_key().to_bytes());
    assert_eq!(signature.keyid(), &KeyId::of(&public));
    let pae = dsse::pae(PAYLOAD_TYPE, b"{}");
    let ed = ed25519_dalek::Signature::from_bytes(signature.sig());
    assert!(key.verifying_key().verify_strict(&pae, &ed).is_ok());
    let envelope = Envelope::new(PAYLOAD_TYPE, b"{}".to_vec(), vec![signature]).expect("valid");
    assert_eq!(
        Envelope::decode(&envelope.to_jcs()).expect("round trip"),
        envelope
    );
}
