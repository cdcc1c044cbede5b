//! DSSE v1 known-answer tests.
//!
//! Source: `testdata/dsse_vectors.json`. Upstream: secure-systems-lab/dsse @ eebf7b59b17a,
//! `protocol.md` "Test Vectors" (an ECDSA P-256 envelope), plus three `derived-` Ed25519 cases
//! made for the shared collection with the RFC 8032 TEST 1 key (see `testdata/README.md`).
//!
//! What is checked for every vector: the PAE bytes equal `pae_hex`, and the envelope parses
//! under our profile. Our profile is stricter than DSSE in two documented ways, and each
//! vector is run to assert that behaviour:
//! - every signature needs a `keyid` (SHA-256 of the signer's public key, 64 lowercase hex);
//!   the upstream envelopes have none or `""`, so they are rejected as given and then parsed
//!   again with the keyid filled in;
//! - only standard padded base64 is accepted, so the URL-safe vector is rejected (its signature
//!   itself is still checked to be valid, as `expected.valid` says).
//!
//! Ed25519 signatures are checked with ed25519-dalek `verify_strict` against `expected.valid`.
//! The ECDSA P-256 upstream vector is checked for PAE and envelope parsing only: no P-256 crate
//! is in the dependency tree and one is not added just for this test.

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use ed25519_dalek::{Signature as EdSignature, SigningKey, VerifyingKey};
use proto::dsse::{self, Envelope};
use proto::DecodeErrorKind;
use serde_json::Value;
use sha2::{Digest, Sha256};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/dsse_vectors.json"
));

fn vectors() -> Vec<Value> {
    let file: Value = serde_json::from_str(VECTORS).expect("dsse_vectors.json parses");
    file["vectors"].as_array().expect("vectors array").clone()
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} is a string in {v}"))
}

/// The keyid our profile gives the vector's signer: SHA-256 of the raw Ed25519 public key, or
/// (ECDSA) of the SPKI DER public key.
fn keyid_for(vector: &Value) -> String {
    let key = &vector["key"];
    let public = match key["public_key_hex"].as_str() {
        Some(hex_text) => hex::decode(hex_text).expect("public key hex"),
        None => STANDARD
            .decode(text(key, "public_key_spki_der_base64"))
            .expect("spki base64"),
    };
    hex::encode(Sha256::digest(public))
}

fn with_keyids(envelope: &Value, keyid: &str) -> Vec<u8> {
    let mut patched = envelope.clone();
    for sig in patched["signatures"].as_array_mut().expect("signatures") {
        sig["keyid"] = Value::String(keyid.to_owned());
    }
    serde_json::to_vec_pretty(&patched).expect("serialize")
}

fn is_ed25519(vector: &Value) -> bool {
    text(&vector["key"], "algorithm").starts_with("Ed25519")
}

#[test]
fn pae_bytes_equal_the_vectors() {
    let mut checked = 0;
    for vector in vectors() {
        let Some(expected) = vector["pae_hex"].as_str() else {
            continue;
        };
        let pae = dsse::pae(
            text(&vector, "payload_type"),
            text(&vector, "serialized_body_utf8").as_bytes(),
        );
        assert_eq!(hex::encode(&pae), expected, "{}", vector["id"]);
        assert_eq!(
            pae,
            text(&vector, "pae_utf8").as_bytes(),
            "{}",
            vector["id"]
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn upstream_envelopes_without_a_keyid_are_rejected() {
    for vector in vectors() {
        let json = serde_json::to_vec(&vector["envelope"]).expect("serialize");
        let err = Envelope::decode_any_type(&json).expect_err("no keyid");
        assert_eq!(err.path(), "/signatures/0/keyid", "{}: {err}", vector["id"]);
        let expected = if vector["envelope"]["signatures"][0].get("keyid").is_some() {
            DecodeErrorKind::Envelope // present but "" (not 64 hex digits)
        } else {
            DecodeErrorKind::Malformed // missing
        };
        assert_eq!(err.kind(), expected, "{}: {err}", vector["id"]);
    }
}

#[test]
fn envelopes_parse_and_ed25519_signatures_match_expected_validity() {
    let mut verified = 0;
    for vector in vectors() {
        let id = text(&vector, "id");
        let json = with_keyids(&vector["envelope"], &keyid_for(&vector));
        let sig_text = text(&vector["envelope"]["signatures"][0], "sig");
        if sig_text.contains(['-', '_']) {
            let err = Envelope::decode_any_type(&json).expect_err("url-safe base64 refused");
            assert_eq!(err.kind(), DecodeErrorKind::Envelope, "{id}");
            assert_eq!(err.path(), "/signatures/0/sig", "{id}");
            assert!(err.detail().contains("URL-safe"), "{id}: {err}");
            // The signature itself is valid, as the vector says: only its encoding is refused.
            let sig = URL_SAFE.decode(sig_text).expect("url-safe base64");
            let pae = dsse::pae(text(&vector["envelope"], "payloadType"), b"hello world");
            assert_eq!(
                ed25519_valid(&vector, &pae, &sig),
                expected_valid(&vector),
                "{id}"
            );
            verified += 1;
            continue;
        }
        let envelope = Envelope::decode_any_type(&json).unwrap_or_else(|e| panic!("{id}: {e}"));
        check_envelope_fields(&vector, &envelope);
        let ledger = Envelope::decode(&json).expect_err("not a ledger payload type");
        assert_eq!(
            (ledger.kind(), ledger.path()),
            (DecodeErrorKind::Envelope, "/payloadType")
        );
        if is_ed25519(&vector) {
            let sig = envelope.signatures()[0].sig();
            let valid = ed25519_valid(&vector, &envelope.pae(), sig);
            assert_eq!(valid, expected_valid(&vector), "{id}");
            verified += 1;
        }
    }
    assert_eq!(verified, 3);
}

fn check_envelope_fields(vector: &Value, envelope: &Envelope) {
    let raw = &vector["envelope"];
    assert_eq!(envelope.payload_type(), text(raw, "payloadType"));
    assert_eq!(
        envelope.payload(),
        STANDARD
            .decode(text(raw, "payload"))
            .expect("payload")
            .as_slice()
    );
    assert_eq!(envelope.signatures().len(), 1);
    let sig = STANDARD
        .decode(text(&raw["signatures"][0], "sig"))
        .expect("sig");
    assert_eq!(envelope.signatures()[0].sig().as_slice(), sig.as_slice());
    assert_eq!(envelope.signatures()[0].keyid().to_hex(), keyid_for(vector));
    if let Some(body) = vector["serialized_body_utf8"].as_str() {
        assert_eq!(envelope.payload(), body.as_bytes());
    }
}

fn expected_valid(vector: &Value) -> bool {
    vector["expected"]["valid"]
        .as_bool()
        .expect("expected.valid")
}

fn ed25519_valid(vector: &Value, message: &[u8], sig: &[u8]) -> bool {
    let public: [u8; 32] = hex::decode(text(&vector["key"], "public_key_hex"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let key = VerifyingKey::from_bytes(&public).expect("valid public key");
    let sig = EdSignature::from_slice(sig).expect("64 bytes");
    key.verify_strict(message, &sig).is_ok()
}

#[test]
fn sign_reproduces_the_derived_ed25519_signature() {
    let vector = vectors()
        .into_iter()
        .find(|v| v["id"] == "derived-dsse-ed25519-hello-world")
        .expect("derived vector");
    let seed: [u8; 32] = hex::decode(text(&vector["key"], "secret_key_hex"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let signature = dsse::sign(
        "http://example.com/HelloWorld",
        b"hello world",
        &SigningKey::from_bytes(&seed),
    );
    assert_eq!(
        STANDARD.encode(signature.sig()),
        text(&vector, "signature_base64")
    );
    assert_eq!(signature.keyid().to_hex(), keyid_for(&vector));
}
