//! The worked example of SPEC.md, computed with this crate. Shared by the `spec_example`
//! program (which prints it) and `tests/spec_example.rs` (which checks SPEC.md holds it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use proto::dsse::{self, Envelope};
use proto::note::{self, Checkpoint, NoteSigner};
use proto::payload::PAYLOAD_TYPE;
use proto::{jcs, KeyId, Payload, PublicKey};
use serde_json::json;
use sha2::{Digest, Sha256};

/// RFC 8032 section 7.1 TEST 1 secret key (seed): the party that signs the event.
pub(crate) const TEST1_SEED: &str =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// RFC 8032 section 7.1 TEST 2 secret key (seed): the log's checkpoint key.
pub(crate) const TEST2_SEED: &str =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
/// The example log's origin and checkpoint key name.
pub(crate) const ORIGIN: &str = "example.org/outcome-ledger";

/// One labelled value of the example, as it appears in a SPEC.md code block.
pub(crate) struct Block {
    /// The label after `<!-- example:` in SPEC.md.
    pub(crate) label: &'static str,
    /// The exact text of the block.
    pub(crate) text: String,
}

fn key(seed_hex: &str) -> SigningKey {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(seed_hex, &mut seed).expect("seed hex is 32 bytes");
    SigningKey::from_bytes(&seed)
}

fn payload_bytes(author: &KeyId) -> Vec<u8> {
    let value = json!({
        "v": 1,
        "contract": "example-contract",
        "seq": 1,
        "prev": "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456",
        "kind": "claim.submitted",
        "author": author.to_hex(),
        "at": "2025-03-01T09:30:00Z",
        "body": {
            "outcome": "housed-12m",
            "period": {"from": "2025-01-01", "to": "2025-02-28"},
            "quantity": 1,
            "participants": ["a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa"],
            "evidence": [{
                "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
                "media_type": "application/pdf"
            }]
        }
    });
    let bytes = jcs::encode(&value);
    let payload = Payload::decode(&bytes).expect("the example payload is valid");
    assert_eq!(payload.encode(), bytes);
    bytes
}

/// Wraps hex at 64 digits a line.
fn wrap(hex_text: &str) -> String {
    let lines: Vec<&str> = hex_text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("hex is ASCII"))
        .collect();
    lines.join("\n")
}

/// Every value of the worked example, in SPEC.md order.
pub(crate) fn blocks() -> Vec<Block> {
    let party = key(TEST1_SEED);
    let public = PublicKey::from_bytes(party.verifying_key().to_bytes());
    let keyid = KeyId::of(&public);
    let payload = payload_bytes(&keyid);
    let signature = dsse::sign(PAYLOAD_TYPE, &payload, &party);
    let envelope = Envelope::new(PAYLOAD_TYPE, payload.clone(), vec![signature]).expect("envelope");
    let envelope_jcs = envelope.to_jcs();
    let mut leaf = Sha256::new();
    leaf.update([0u8]);
    leaf.update(&envelope_jcs);
    let leaf: [u8; 32] = leaf.finalize().into();
    let checkpoint = Checkpoint::new(ORIGIN, 1, leaf, vec![]).expect("checkpoint");
    let log = NoteSigner::new(ORIGIN, key(TEST2_SEED)).expect("log signer");
    let signed = note::sign_note(&checkpoint.to_body(), &[&log]).expect("signed note");
    let text = |s: &[u8]| String::from_utf8(s.to_vec()).expect("UTF-8");
    vec![
        Block {
            label: "party-key",
            text: format!(
                "seed       {TEST1_SEED}\npublic key {}\nkey id     {}",
                public.to_hex(),
                keyid.to_hex()
            ),
        },
        Block {
            label: "payload",
            text: text(&payload),
        },
        Block {
            label: "payload-length",
            text: payload.len().to_string(),
        },
        Block {
            label: "event-id",
            text: hex::encode(Sha256::digest(&payload)),
        },
        Block {
            label: "pae-hex",
            text: wrap(&hex::encode(dsse::pae(PAYLOAD_TYPE, &payload))),
        },
        Block {
            label: "signature",
            text: STANDARD.encode(signature.sig()),
        },
        Block {
            label: "envelope",
            text: text(&envelope_jcs),
        },
        Block {
            label: "leaf-hash",
            text: hex::encode(leaf),
        },
        Block {
            label: "checkpoint-body",
            text: checkpoint.to_body(),
        },
        Block {
            label: "log-vkey",
            text: log.verifier_key(),
        },
        Block {
            label: "checkpoint-note",
            text: signed,
        },
    ]
}
