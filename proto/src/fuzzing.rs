//! Fuzzing entry points (not an API): the bodies of the `cargo fuzz` targets in `fuzz/`, one
//! function per decoder, each checking properties beyond "no panic". The replay test below
//! runs every file of `fuzz/corpus/<target>/` through them on stable, so `cargo test` checks
//! the whole corpus without a nightly toolchain.
//!
//! Each function panics (an assertion) when a property fails: that is how a fuzzer sees it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::dsse::Envelope;
use crate::note::{self, Checkpoint, Cosignature, NoteVerifier};
use crate::Payload;

/// The log key of SPEC.md section 5.4 and verifier keys of `testdata/signed_note_vectors.json`:
/// notes of the seed corpus verify under them, so mutations reach the signature checks.
const VERIFIER_KEYS: [&str; 5] = [
    "example.org/outcome-ledger+65582f13+AT1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
    "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
];

/// `Payload::decode`: a payload that decodes re-encodes to exactly the input bytes, its id is
/// SHA-256 of them, and the fast path and the reference decoder agree.
pub fn payload(data: &[u8]) {
    let decoded = Payload::decode(data);
    let reference = Payload::decode_reference(data);
    match (&decoded, &reference) {
        (Ok(fast), Ok(slow)) => assert_eq!(fast, slow, "the two decoders read different values"),
        (Ok(_), Err(e)) => panic!("the fast path accepts what the reference refuses: {e}"),
        // The fast path hands what it refuses to the reference decoder.
        (Err(_), Ok(_)) => panic!("decode refuses what the reference decoder accepts"),
        (Err(_), Err(_)) => {}
    }
    let Ok(payload) = decoded else {
        return;
    };
    assert_eq!(payload.encode(), data, "a decoded payload is not canonical");
    let id = Sha256::digest(data);
    assert_eq!(payload.id().as_bytes().as_slice(), id.as_slice());
}

/// `Envelope::decode_any_type` and `decode_with_jcs`: the fast path and the reference decoder
/// agree, the canonical bytes decode to the same envelope and are a fixed point, and
/// `decode_with_jcs` gives what `to_jcs` writes.
pub fn envelope(data: &[u8]) {
    let decoded = Envelope::decode_any_type(data);
    let reference = Envelope::decode_reference(data);
    match (&decoded, &reference) {
        (Ok(fast), Ok(slow)) => assert_eq!(fast, slow, "the two decoders read different values"),
        (Ok(_), Err(e)) => panic!("the fast path accepts what the reference refuses: {e}"),
        (Err(_), Ok(_)) => panic!("decode refuses what the reference decoder accepts"),
        (Err(_), Err(_)) => {}
    }
    let ledger = Envelope::decode_with_jcs(data);
    let Ok(envelope) = decoded else {
        assert!(
            ledger.is_err(),
            "decode_with_jcs accepts what decode refuses"
        );
        return;
    };
    let jcs = envelope.to_jcs();
    match Envelope::decode_any_type(&jcs) {
        Ok(again) => assert_eq!(again, envelope, "the canonical bytes decode to another"),
        Err(e) => panic!("the canonical bytes of an envelope do not decode: {e}"),
    }
    if let Ok((again, leaf)) = Envelope::decode_with_jcs(data) {
        assert_eq!(again, envelope);
        assert_eq!(
            leaf, jcs,
            "decode_with_jcs and to_jcs give different leaf bytes"
        );
    }
}

/// Signed notes and checkpoints: a parsed note re-serialises to exactly its text, each
/// signature is its key id and bytes in base64; a checkpoint body re-serialises to itself; a
/// verifier key re-serialises to itself; opening agrees with parsing.
pub fn note(data: &[u8]) {
    if let Ok(parsed) = note::parse_unverified(data) {
        let mut again = format!("{}\n", parsed.text());
        for signature in parsed.signatures() {
            let raw = STANDARD.decode(signature.base64()).unwrap_or_default();
            let (key_id, bytes) = raw.split_at(raw.len().min(4));
            assert_eq!(hex::encode(key_id), signature.key_id().to_hex());
            assert_eq!(bytes, signature.signature());
            again.push_str(&format!("— {} {}\n", signature.name(), signature.base64()));
        }
        assert_eq!(
            again.as_bytes(),
            data,
            "a parsed note re-serialises to other text"
        );
        checkpoint(parsed.text());
    }
    let verifiers: Vec<NoteVerifier> = VERIFIER_KEYS
        .iter()
        .filter_map(|vkey| NoteVerifier::parse(vkey).ok())
        .collect();
    assert_eq!(verifiers.len(), VERIFIER_KEYS.len());
    if let Ok(opened) = note::open_note(data, &verifiers) {
        let parsed = note::parse_unverified(data);
        assert_eq!(
            parsed.ok().map(|p| p.text().to_owned()).as_deref(),
            Some(opened.text())
        );
        assert!(!opened.verified().is_empty());
    }
    for log in &verifiers {
        let origin = log.name();
        if let Ok(opened) = note::open_checkpoint(data, origin, log, &verifiers) {
            assert_eq!(opened.checkpoint().origin(), origin);
            assert_eq!(opened.checkpoint().to_body(), opened.note().text());
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    checkpoint(text);
    if let Ok(verifier) = NoteVerifier::parse(text) {
        assert_eq!(
            verifier.to_vkey(),
            text,
            "a verifier key re-serialises to another"
        );
    }
    if let Ok(cosignature) = Cosignature::decode_base64(text) {
        assert!(cosignature.timestamp_seconds() <= i64::MAX as u64);
    }
}

fn checkpoint(body: &str) {
    let Ok(parsed) = Checkpoint::parse(body) else {
        return;
    };
    assert_eq!(
        parsed.to_body(),
        body,
        "a checkpoint body re-serialises to other text"
    );
    let rebuilt = Checkpoint::new(
        parsed.origin(),
        parsed.size(),
        *parsed.root(),
        parsed.extensions().to_vec(),
    );
    assert_eq!(rebuilt.ok().as_ref(), Some(&parsed));
}

#[cfg(test)]
#[path = "../../fuzz/replay.rs"]
mod replay;

#[cfg(test)]
mod tests {
    use super::replay;

    #[test]
    fn the_payload_corpus_replays() {
        replay::corpus(env!("CARGO_MANIFEST_DIR"), "payload", super::payload);
    }

    #[test]
    fn the_envelope_corpus_replays() {
        replay::corpus(env!("CARGO_MANIFEST_DIR"), "envelope", super::envelope);
    }

    #[test]
    fn the_note_corpus_replays() {
        replay::corpus(env!("CARGO_MANIFEST_DIR"), "note", super::note);
    }
}
