//! RFC 8032 section 7.1 Ed25519 vectors through `ledger_core::signing`.
//!
//! Vectors: `testdata/rfc8032_ed25519.json` (TEST 1, 2, 3, 1024 and SHA(abc) of RFC 8032
//! section 7.1; public key, message and signature of the first four are identical to
//! C2SP/wycheproof `testvectors_v1/ed25519_test.json` tcId 80-83, see testdata/README.md).
//! Also `testdata/dsse_vectors.json`, case `derived-dsse-ed25519-hello-world` (made for the
//! collection with the RFC 8032 TEST 1 key): the signature over the DSSE PAE verifies.

mod signing_support;

use ed25519_dalek::{Signer, SigningKey};
use ledger_core::signing::{self, KeyCache, Method};
use serde::Deserialize;
use signing_support::{assert_all_agree, hex_array, strict_verdict, testdata, Case};

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    secret_key: String,
    public_key: String,
    message: String,
    signature: String,
}

fn vectors() -> Vec<(Vector, Case)> {
    let file: File = serde_json::from_str(&testdata("rfc8032_ed25519.json")).expect("json");
    assert_eq!(file.vectors.len(), 5, "TEST 1, 2, 3, 1024 and SHA(abc)");
    file.vectors
        .into_iter()
        .map(|v| {
            let case = Case {
                label: v.name.clone(),
                public_key: hex_array(&v.public_key),
                message: hex::decode(&v.message).expect("hex message"),
                signature: hex_array(&v.signature),
            };
            (v, case)
        })
        .collect()
}

#[test]
fn secret_key_derives_public_key_and_signing_reproduces_signature() {
    for (vector, case) in vectors() {
        let signer = SigningKey::from_bytes(&hex_array(&vector.secret_key));
        assert_eq!(
            signer.verifying_key().to_bytes(),
            case.public_key,
            "{}",
            vector.name
        );
        assert_eq!(
            signer.sign(&case.message).to_bytes(),
            case.signature,
            "{}",
            vector.name
        );
    }
}

#[test]
fn every_vector_is_accepted_alone_and_together() {
    let all = vectors();
    let cases: Vec<&Case> = all.iter().map(|(_, case)| case).collect();
    for case in &cases {
        assert!(strict_verdict(case), "the oracle accepts {}", case.label);
        assert_all_agree(&[case], &[true]);
    }
    assert_all_agree(&cases, &vec![true; cases.len()]);
}

/// Every one-bit change of the signature (512 positions), of the key (256) and of the first
/// message byte (8, where there is a message), checked alone by `verify_one` and all together
/// in one batch.
#[test]
fn every_one_bit_change_is_rejected() {
    for (_, case) in vectors() {
        let mut flipped = Vec::new();
        for bit in 0..512 {
            let mut c = case.clone();
            c.signature[bit / 8] ^= 1 << (bit % 8);
            c.label = format!("{} signature bit {bit}", case.label);
            flipped.push(c);
        }
        for bit in 0..256 {
            let mut c = case.clone();
            c.public_key[bit / 8] ^= 1 << (bit % 8);
            c.label = format!("{} key bit {bit}", case.label);
            flipped.push(c);
        }
        for bit in 0..8 * usize::from(!case.message.is_empty()) {
            let mut c = case.clone();
            c.message[0] ^= 1 << bit;
            c.label = format!("{} message bit {bit}", case.label);
            flipped.push(c);
        }
        let mut cache = KeyCache::new(1024);
        let checks: Vec<_> = flipped.iter().map(Case::check).collect();
        for method in [Method::Batch, Method::Individual] {
            let verdicts = cache.verify_all_with(&checks, method);
            for (c, verdict) in flipped.iter().zip(verdicts) {
                assert!(!verdict, "{method:?} accepted {}", c.label);
                assert!(
                    !signing::verify_one(&c.check()),
                    "verify_one accepted {}",
                    c.label
                );
            }
        }
        // The batch that holds the untouched signature too keeps exactly that one.
        let mut mixed: Vec<&Case> = flipped.iter().collect();
        mixed.insert(mixed.len() / 2, &case);
        let expected: Vec<bool> = mixed.iter().map(|c| c.label == case.label).collect();
        assert_eq!(
            cache.verify_all_with(
                &mixed.iter().map(|c| c.check()).collect::<Vec<_>>(),
                Method::Batch
            ),
            expected
        );
    }
}

#[test]
fn dsse_envelope_signature_verifies_over_the_pae() {
    let file: serde_json::Value =
        serde_json::from_str(&testdata("dsse_vectors.json")).expect("json");
    let vectors = file["vectors"].as_array().expect("vectors");
    let vector = vectors
        .iter()
        .find(|v| v["id"] == "derived-dsse-ed25519-hello-world")
        .expect("the derived Ed25519 case");
    let pae = hex::decode(vector["pae_hex"].as_str().expect("pae_hex")).expect("hex");
    let payload_type = vector["payload_type"].as_str().expect("payload_type");
    let body = vector["serialized_body_utf8"].as_str().expect("body");
    assert_eq!(proto::dsse::pae(payload_type, body.as_bytes()), pae);
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(
            vector["signature_base64"]
                .as_str()
                .expect("signature_base64"),
        )
        .expect("base64");
    let case = Case {
        label: "derived-dsse-ed25519-hello-world".into(),
        public_key: hex_array(vector["key"]["public_key_hex"].as_str().expect("key")),
        message: pae,
        signature: signature.try_into().expect("64 bytes"),
    };
    assert!(strict_verdict(&case));
    assert_all_agree(&[&case], &[true]);
    let mut other_type = case.clone();
    other_type.message = proto::dsse::pae("application/other", body.as_bytes());
    other_type.label = "payload type changed".into();
    assert_all_agree(&[&case, &other_type], &[true, false]);
}

/// SPEC.md section 2: the key id is the SHA-256 of the raw key. Expected value computed with
/// Python's hashlib over the RFC 8032 TEST 1 public key.
#[test]
fn key_id_is_sha256_of_the_raw_key() {
    let (_, case) = vectors().into_iter().next().expect("TEST 1");
    assert_eq!(
        signing::key_id(&case.public_key).to_hex(),
        "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
    );
}
