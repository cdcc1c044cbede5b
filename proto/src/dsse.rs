//! DSSE v1 envelopes and their pre-authentication encoding (PAE).
//!
//! An envelope is the container of a signed payload: `{"payload": base64, "payloadType": ...,
//! "signatures": [{"keyid": hex, "sig": base64}]}`. Signatures are over
//! [`pae`]`(payloadType, payload)`, never over the envelope JSON, so the envelope's whitespace
//! and member order are tolerated on input. What is strict: no unknown or duplicate members,
//! standard padded base64 only, at least one signature, signatures sorted by `keyid` with no
//! repeats, `keyid` 64 lowercase hex and `sig` exactly 64 bytes. [`Envelope::to_jcs`] gives the
//! canonical RFC 8785 bytes of an envelope: the data of its Merkle leaf;
//! [`Envelope::decode_with_jcs`] gives them at decoding, from the text received.
//!
//! Decoding reads the JSON straight into typed values, borrowing its strings, with every rule
//! above checked. What that fast path refuses goes to a reference decoder (through
//! `serde_json::Value`), which names the error and where it is; tests check the two agree.
//!
//! Verifying signatures is `ledger-core`'s job; [`sign`] is here because the CLI and the tests
//! need to make envelopes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Map, Value};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::ids::{KeyId, PublicKey};
use crate::jcs;
use crate::payload::{bounds, PAYLOAD_TYPE};

#[cfg(test)]
mod tests;
mod wire;

/// Most signatures one envelope may carry: one per party of a contract.
pub const SIGNATURES_MAX: usize = bounds::PARTIES_MAX;

/// Length of an Ed25519 signature in bytes.
pub const SIGNATURE_BYTES: usize = 64;

/// The DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(payload) SP payload`, lengths as ASCII decimal byte
/// counts. This is the message every envelope signature signs.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let payload_len = payload.len().to_string();
    let mut out = Vec::with_capacity(
        10 + type_len.len() + payload_type.len() + payload_len.len() + payload.len(),
    );
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(type_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One envelope signature: the signer's key id and a 64-byte Ed25519 signature over the PAE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Signature {
    keyid: KeyId,
    sig: [u8; SIGNATURE_BYTES],
}

impl Signature {
    /// A signature by the key `keyid`.
    pub fn new(keyid: KeyId, sig: [u8; SIGNATURE_BYTES]) -> Self {
        Self { keyid, sig }
    }

    /// The signer's key id (SHA-256 of its public key).
    pub fn keyid(&self) -> &KeyId {
        &self.keyid
    }

    /// The raw signature bytes (`R || S`).
    pub fn sig(&self) -> &[u8; SIGNATURE_BYTES] {
        &self.sig
    }
}

/// Signs `payload` of type `payload_type` with `key`: an Ed25519 signature over
/// [`pae`]`(payload_type, payload)`, with `keyid` = SHA-256 of the public key.
pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Signature {
    let public = PublicKey::from_bytes(key.verifying_key().to_bytes());
    let sig = key.sign(&pae(payload_type, payload));
    Signature::new(KeyId::of(&public), sig.to_bytes())
}

/// A decoded DSSE envelope. Its signatures are sorted by key id, with no repeats.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<Signature>,
}

impl Envelope {
    /// An envelope holding `signatures`, sorted here by key id.
    ///
    /// # Errors
    /// [`DecodeErrorKind::Envelope`] if there is no signature or two share a key id, and
    /// [`DecodeErrorKind::TooLarge`] for more than [`SIGNATURES_MAX`].
    pub fn new(
        payload_type: impl Into<String>,
        payload: Vec<u8>,
        mut signatures: Vec<Signature>,
    ) -> Result<Self, DecodeError> {
        signatures.sort_by_key(|s| s.keyid);
        check_signature_list(&signatures)?;
        Ok(Self {
            payload_type: payload_type.into(),
            payload,
            signatures,
        })
    }

    /// Decodes a ledger event envelope: [`Envelope::decode_any_type`], and `payloadType` must
    /// be [`PAYLOAD_TYPE`].
    ///
    /// # Errors
    /// As [`Envelope::decode_any_type`], and [`DecodeErrorKind::Envelope`] at `/payloadType`
    /// for another payload type.
    pub fn decode(json: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_any_type(json)?.of_ledger_type()
    }

    /// Decodes as [`Envelope::decode`] and gives also the envelope's canonical bytes, the data
    /// of its Merkle leaf: what [`Envelope::to_jcs`] gives, put together from the text
    /// received (no base64 re-encoding). For canonical input, they equal `json`.
    ///
    /// # Errors
    /// As [`Envelope::decode`].
    pub fn decode_with_jcs(json: &[u8]) -> Result<(Self, Vec<u8>), DecodeError> {
        match wire::decode(json) {
            Some((envelope, text)) => Ok((envelope.of_ledger_type()?, text.canonical_bytes())),
            None => {
                let envelope = Self::decode_reference(json)?.of_ledger_type()?;
                let jcs = envelope.to_jcs();
                Ok((envelope, jcs))
            }
        }
    }

    /// Decodes an envelope of any `payloadType` with the same strict rules otherwise (see the
    /// module docs). For checking other DSSE producers' envelopes; the ledger uses
    /// [`Envelope::decode`].
    ///
    /// # Errors
    /// [`DecodeError`]: `Malformed` for bad JSON or a wrong shape, `DuplicateKey`,
    /// `UnknownField`, `Envelope` for bad base64, key ids, signature lengths or order, and
    /// `TooLarge` for too many signatures.
    pub fn decode_any_type(json: &[u8]) -> Result<Self, DecodeError> {
        match wire::decode(json) {
            Some((envelope, _)) => Ok(envelope),
            None => Self::decode_reference(json),
        }
    }

    /// This envelope if its `payloadType` is [`PAYLOAD_TYPE`].
    fn of_ledger_type(self) -> Result<Self, DecodeError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(DecodeError::new(
                DecodeErrorKind::Envelope,
                "/payloadType",
                format!(
                    "payloadType {:?} is not a ledger event; use {PAYLOAD_TYPE:?}",
                    self.payload_type
                ),
            ));
        }
        Ok(self)
    }

    /// The reference decoder: parses to a JSON value refusing duplicate members, then checks
    /// each member. Slower than the fast path of [`Envelope::decode_any_type`], it finds the
    /// precise error of what that path refuses.
    pub(crate) fn decode_reference(json: &[u8]) -> Result<Self, DecodeError> {
        let value = jcs::parse_strict(json)?;
        let mut members = object_members(value, "", &["payload", "payloadType", "signatures"])?;
        let payload_type = take_string(&mut members, "", "payloadType")?;
        let payload = decode_base64(&take_string(&mut members, "", "payload")?, "/payload")?;
        let signatures = match members.remove("signatures") {
            Some(Value::Array(items)) => decode_signatures(items)?,
            _ => return Err(wrong_type("/signatures", "an array")),
        };
        check_signature_list(&signatures)?;
        if !signatures.windows(2).all(|w| w[0].keyid < w[1].keyid) {
            return Err(DecodeError::new(
                DecodeErrorKind::Envelope,
                "/signatures",
                "signatures must be sorted by keyid in ascending order",
            ));
        }
        Ok(Self {
            payload_type,
            payload,
            signatures,
        })
    }

    /// The `payloadType`.
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The payload bytes: what the event id hashes and the signatures sign (through PAE).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signatures, sorted by key id.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// The message the signatures sign: [`pae`] of this envelope's type and payload.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// The canonical RFC 8785 bytes of this envelope: the data of its Merkle leaf. Written
    /// straight into one buffer: the members are in canonical order already, and base64 and
    /// hex need no escaping.
    pub fn to_jcs(&self) -> Vec<u8> {
        let base64_len = |bytes: usize| bytes.div_ceil(3) * 4;
        let mut out = Vec::with_capacity(
            48 + base64_len(self.payload.len())
                + self.payload_type.len()
                + self.signatures.len() * (22 + 64 + base64_len(SIGNATURE_BYTES)),
        );
        out.extend_from_slice(b"{\"payload\":\"");
        push_base64(&mut out, &self.payload);
        out.extend_from_slice(b"\",\"payloadType\":");
        jcs::write_string(&mut out, &self.payload_type);
        out.extend_from_slice(b",\"signatures\":[");
        for (i, signature) in self.signatures.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"keyid\":\"");
            signature.keyid.push_hex(&mut out);
            out.extend_from_slice(b"\",\"sig\":\"");
            push_base64(&mut out, &signature.sig);
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// Appends the standard padded base64 of `bytes`.
fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let start = out.len();
    // No overflow: a slice in memory is at most isize::MAX bytes.
    out.resize(start + bytes.len().div_ceil(3) * 4, 0);
    // The space is exactly the encoded length, so encoding cannot run out of it.
    let written = STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
}

fn check_signature_list(signatures: &[Signature]) -> Result<(), DecodeError> {
    if signatures.is_empty() {
        return Err(DecodeError::new(
            DecodeErrorKind::Envelope,
            "/signatures",
            "an envelope needs at least one signature",
        ));
    }
    if signatures.len() > SIGNATURES_MAX {
        return Err(DecodeError::new(
            DecodeErrorKind::TooLarge,
            "/signatures",
            format!(
                "{} signatures, over the limit of {SIGNATURES_MAX}",
                signatures.len()
            ),
        ));
    }
    if let Some(w) = signatures.windows(2).find(|w| w[0].keyid == w[1].keyid) {
        return Err(DecodeError::new(
            DecodeErrorKind::Envelope,
            "/signatures",
            format!(
                "keyid {} signs twice; keep one signature per key",
                w[0].keyid
            ),
        ));
    }
    Ok(())
}

fn decode_signatures(items: Vec<Value>) -> Result<Vec<Signature>, DecodeError> {
    if items.len() > SIGNATURES_MAX {
        return Err(DecodeError::new(
            DecodeErrorKind::TooLarge,
            "/signatures",
            format!(
                "{} signatures, over the limit of {SIGNATURES_MAX}",
                items.len()
            ),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| decode_signature(item, &format!("/signatures/{i}")))
        .collect()
}

fn decode_signature(item: Value, path: &str) -> Result<Signature, DecodeError> {
    let mut members = object_members(item, path, &["keyid", "sig"])?;
    let keyid_text = take_string(&mut members, path, "keyid")?;
    let keyid: KeyId = keyid_text.parse().map_err(|e: DecodeError| {
        DecodeError::new(
            DecodeErrorKind::Envelope,
            format!("{path}/keyid"),
            e.detail(),
        )
    })?;
    let sig_path = format!("{path}/sig");
    let raw = decode_base64(&take_string(&mut members, path, "sig")?, &sig_path)?;
    let sig: [u8; SIGNATURE_BYTES] = raw.as_slice().try_into().map_err(|_| {
        DecodeError::new(
            DecodeErrorKind::Envelope,
            sig_path,
            format!(
                "sig is {} bytes; an Ed25519 signature is {SIGNATURE_BYTES}",
                raw.len()
            ),
        )
    })?;
    Ok(Signature::new(keyid, sig))
}

/// The members of a JSON object that must have exactly the members `names`.
fn object_members(
    value: Value,
    path: &str,
    names: &[&str],
) -> Result<Map<String, Value>, DecodeError> {
    let Value::Object(members) = value else {
        return Err(wrong_type(path, "an object"));
    };
    if let Some(unknown) = members.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(DecodeError::new(
            DecodeErrorKind::UnknownField,
            format!("{path}/{}", jcs::escape_pointer(unknown)),
            format!("unknown member {unknown:?}; a DSSE envelope has only {names:?}"),
        ));
    }
    if let Some(missing) = names.iter().find(|n| !members.contains_key(**n)) {
        return Err(DecodeError::new(
            DecodeErrorKind::Malformed,
            format!("{path}/{missing}"),
            format!("missing member {missing:?}"),
        ));
    }
    Ok(members)
}

fn take_string(
    members: &mut Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<String, DecodeError> {
    match members.remove(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(wrong_type(&format!("{path}/{name}"), "a string")),
    }
}

fn wrong_type(path: &str, expected: &str) -> DecodeError {
    DecodeError::new(
        DecodeErrorKind::Malformed,
        path,
        format!("expected {expected}"),
    )
}

/// Decodes standard padded base64 (RFC 4648 section 4), naming the usual mistakes.
fn decode_base64(text: &str, path: &str) -> Result<Vec<u8>, DecodeError> {
    let envelope_error = |detail: String| DecodeError::new(DecodeErrorKind::Envelope, path, detail);
    if text.contains(['-', '_']) {
        return Err(envelope_error(
            "URL-safe base64 is not accepted; use standard base64 (+ and /) with = padding"
                .to_owned(),
        ));
    }
    if !text.len().is_multiple_of(4) {
        return Err(envelope_error(
            "unpadded base64 is not accepted; pad with = to a multiple of 4 characters".to_owned(),
        ));
    }
    STANDARD
        .decode(text)
        .map_err(|e| envelope_error(format!("invalid standard base64: {e}")))
}
