//! C2SP signed notes (`c2sp.org/signed-note`), tlog-checkpoints (`c2sp.org/tlog-checkpoint`)
//! and Ed25519 cosignatures (`c2sp.org/tlog-cosignature`, type 0x04).
//!
//! A note is a text ending in a newline, a blank line, and signature lines
//! `— <name> base64(key id || signature)`. [`open_note`] follows Go's
//! `golang.org/x/mod/sumdb/note.Open`: signatures of unknown keys are kept as unverified, a
//! signature of a known key that fails to verify refuses the whole note, and at least one
//! known key must have signed. Differences from Go, all stricter: every signature line of a
//! known key is verified (Go skips repeats of a key without checking them), Ed25519 is checked
//! with `verify_strict`, the hex key id of a verifier key must be lowercase, and a note is at
//! most [`NOTE_BYTES_MAX`] bytes. Like Go, at most [`SIGNATURES_MAX`] signature lines are
//! read, and a key configured twice is an error only when a signature line needs it.
//!
//! A checkpoint's root must be 32 bytes (a SHA-256 tree root) and extension lines must be
//! non-empty, as tlog-checkpoint says; parsers that accept other roots are more lenient.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

pub use crate::error::NoteError;

/// Largest note [`open_note`] reads, in bytes: room for 100 post-quantum-sized signatures.
pub const NOTE_BYTES_MAX: usize = 512 * 1024;

/// Most signature lines [`open_note`] reads (Go's limit; C2SP asks for at least 16).
pub const SIGNATURES_MAX: usize = 100;

/// The signature line prefix: an em dash (U+2014) and a space.
const LINE_PREFIX: &str = "\u{2014} ";

/// The header line of the message a cosignature/v1 signs.
const COSIGNATURE_HEADER: &str = "cosignature/v1";

/// A 4-byte key id: `SHA-256(name || 0x0A || type || public key)[:4]`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoteKeyId([u8; 4]);

impl NoteKeyId {
    /// From the 4 bytes (big-endian order, as they appear in a signature).
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        Self(bytes)
    }

    /// The key id of a key named `name`, of type `signature_type`, with `public_key`.
    pub fn of(name: &str, signature_type: SignatureType, public_key: &[u8; 32]) -> Self {
        let mut hash = Sha256::new();
        hash.update(name.as_bytes());
        hash.update([b'\n', signature_type.byte()]);
        hash.update(public_key);
        let digest = hash.finalize();
        Self([digest[0], digest[1], digest[2], digest[3]])
    }

    /// The 4 bytes.
    pub const fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// 8 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for NoteKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for NoteKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteKeyId({})", self.to_hex())
    }
}

/// The signature types this crate signs and verifies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SignatureType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 checkpoint cosignature (`cosignature/v1`).
    CosignatureV1,
}

impl SignatureType {
    /// The signature type byte.
    pub const fn byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

/// Checks a key name: non-empty, with no Unicode space, no `+` and no control character.
///
/// # Errors
/// [`NoteError::InvalidKeyName`].
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '+';
    if name.is_empty() || name.contains(bad) {
        return Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn vkey_string(name: &str, key_id: NoteKeyId, kind: SignatureType, public: &[u8; 32]) -> String {
    let mut material = Vec::with_capacity(33);
    material.push(kind.byte());
    material.extend_from_slice(public);
    format!("{name}+{key_id}+{}", STANDARD.encode(material))
}

/// A trusted public key: a name, a key id, a signature type and an Ed25519 public key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteVerifier {
    name: String,
    key_id: NoteKeyId,
    signature_type: SignatureType,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`; its key id is computed.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`].
    pub fn new(
        name: &str,
        signature_type: SignatureType,
        key: VerifyingKey,
    ) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key_id = NoteKeyId::of(name, signature_type, key.as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signature_type,
            key,
        })
    }

    /// Parses a verifier key string `<name>+<8 hex key id>+base64(type || public key)`, type
    /// 0x01 (Ed25519) or 0x04 (cosignature/v1).
    ///
    /// # Errors
    /// [`NoteError::InvalidVerifierKey`] for a wrong shape, key id, type or key, and
    /// [`NoteError::InvalidKeyName`].
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let invalid = |reason: &str| NoteError::InvalidVerifierKey {
            reason: reason.to_owned(),
        };
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("expected <name>+<key id>+<base64 key>"));
        };
        check_key_name(name)?;
        let mut id = [0u8; 4];
        let lowercase_hex = id_hex
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if id_hex.len() != 8 || !lowercase_hex || hex::decode_to_slice(id_hex, &mut id).is_err() {
            return Err(invalid("the key id must be 8 lowercase hex digits"));
        }
        let material = STANDARD
            .decode(material)
            .map_err(|_| invalid("the key must be standard padded base64"))?;
        let (&type_byte, public) = material
            .split_first()
            .ok_or_else(|| invalid("the key is empty"))?;
        let signature_type = SignatureType::from_byte(type_byte).ok_or_else(|| {
            invalid(&format!(
                "unknown signature type 0x{type_byte:02x}; 0x01 and 0x04 are known"
            ))
        })?;
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| invalid("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| invalid("the public key is not a valid Ed25519 point"))?;
        let verifier = Self::new(name, signature_type, key)?;
        if verifier.key_id.0 != id {
            return Err(invalid("the key id does not match the name and key"));
        }
        Ok(verifier)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> NoteKeyId {
        self.key_id
    }

    /// The signature type.
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        vkey_string(
            &self.name,
            self.key_id,
            self.signature_type,
            self.key.as_bytes(),
        )
    }

    fn matches(&self, signature: &NoteSignature) -> bool {
        self.name == signature.name && self.key_id == signature.key_id
    }

    /// Verifies `signature` (the bytes after the key id) over `text`; gives the cosignature
    /// timestamp for type 0x04.
    fn verify(&self, text: &str, signature: &[u8]) -> Result<Option<u64>, NoteError> {
        let invalid = || NoteError::InvalidSignature {
            name: self.name.clone(),
            key_id: self.key_id.to_hex(),
        };
        match self.signature_type {
            SignatureType::Ed25519 => {
                let sig = Signature::from_slice(signature).map_err(|_| invalid())?;
                self.key
                    .verify_strict(text.as_bytes(), &sig)
                    .map_err(|_| invalid())?;
                Ok(None)
            }
            SignatureType::CosignatureV1 => {
                let (timestamp, sig) = split_timestamped(signature).ok_or_else(invalid)?;
                let message = cosignature_message(timestamp, text);
                self.key
                    .verify_strict(message.as_bytes(), &sig)
                    .map_err(|_| invalid())?;
                Ok(Some(timestamp))
            }
        }
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;
    fn from_str(s: &str) -> Result<Self, NoteError> {
        Self::parse(s)
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

/// `timestamp (u64 big-endian) || Ed25519 signature`, the timestamp at most 2^63 - 1.
fn split_timestamped(bytes: &[u8]) -> Option<(u64, Signature)> {
    let (timestamp, sig) = bytes.split_first_chunk::<8>()?;
    let timestamp = u64::from_be_bytes(*timestamp);
    if timestamp > i64::MAX as u64 {
        return None;
    }
    Some((timestamp, Signature::from_slice(sig).ok()?))
}

fn cosignature_message(timestamp: u64, text: &str) -> String {
    format!("{COSIGNATURE_HEADER}\ntime {timestamp}\n{text}")
}

/// A decoded cosignature/v1 signature: key id, timestamp and Ed25519 signature (76 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cosignature {
    key_id: NoteKeyId,
    timestamp: u64,
    signature: Signature,
}

impl Cosignature {
    /// Decodes the base64 of a cosignature line: `key id || u64 timestamp || signature`.
    ///
    /// # Errors
    /// [`NoteError::Malformed`] for bad base64, a length other than 76 bytes, or a timestamp
    /// over 2^63 - 1.
    pub fn decode_base64(text: &str) -> Result<Self, NoteError> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|_| malformed("cosignature is not base64"))?;
        let (key_id, rest) = bytes
            .split_first_chunk::<4>()
            .filter(|(_, rest)| rest.len() == 72)
            .ok_or_else(|| malformed(&format!("cosignature is {} bytes, not 76", bytes.len())))?;
        let (timestamp, signature) = split_timestamped(rest)
            .ok_or_else(|| malformed("cosignature timestamp is over 2^63 - 1"))?;
        Ok(Self {
            key_id: NoteKeyId(*key_id),
            timestamp,
            signature,
        })
    }

    /// The cosigner's key id.
    pub fn key_id(&self) -> NoteKeyId {
        self.key_id
    }

    /// When it was made, in POSIX seconds.
    pub fn timestamp_seconds(&self) -> u64 {
        self.timestamp
    }

    /// The Ed25519 signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }
}

/// A private key that signs notes with Ed25519 (type 0x01).
pub struct NoteSigner {
    name: String,
    key_id: NoteKeyId,
    key: SigningKey,
}

impl NoteSigner {
    /// A signer named `name`.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`].
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key_id = NoteKeyId::of(name, SignatureType::Ed25519, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> NoteKeyId {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            signature_type: SignatureType::Ed25519,
            key: self.key.verifying_key(),
        }
    }

    /// The verifier key string.
    pub fn verifier_key(&self) -> String {
        self.verifier().to_vkey()
    }

    fn sign_line(&self, text: &str) -> NoteSignature {
        let signature = self.key.sign(text.as_bytes()).to_bytes().to_vec();
        NoteSignature::new(&self.name, self.key_id, signature)
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}+{})", self.name, self.key_id)
    }
}

/// A private key that cosigns checkpoints (cosignature/v1, type 0x04).
pub struct Cosigner {
    name: String,
    key_id: NoteKeyId,
    key: SigningKey,
}

impl Cosigner {
    /// A cosigner named `name`.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`].
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key_id = NoteKeyId::of(
            name,
            SignatureType::CosignatureV1,
            key.verifying_key().as_bytes(),
        );
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            signature_type: SignatureType::CosignatureV1,
            key: self.key.verifying_key(),
        }
    }

    /// The verifier key string.
    pub fn verifier_key(&self) -> String {
        self.verifier().to_vkey()
    }

    fn sign_line(&self, text: &str, timestamp_seconds: u64) -> NoteSignature {
        let message = cosignature_message(timestamp_seconds, text);
        let mut signature = timestamp_seconds.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.key.sign(message.as_bytes()).to_bytes());
        NoteSignature::new(&self.name, self.key_id, signature)
    }
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cosigner({}+{})", self.name, self.key_id)
    }
}

/// One signature line, not verified: key name, key id and the signature bytes after the id.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteSignature {
    name: String,
    key_id: NoteKeyId,
    signature: Vec<u8>,
    base64: String,
}

impl NoteSignature {
    fn new(name: &str, key_id: NoteKeyId, signature: Vec<u8>) -> Self {
        let mut raw = key_id.0.to_vec();
        raw.extend_from_slice(&signature);
        Self {
            name: name.to_owned(),
            key_id,
            signature,
            base64: STANDARD.encode(raw),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> NoteKeyId {
        self.key_id
    }

    /// The signature bytes after the key id.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The base64 text of the line (`key id || signature`).
    pub fn base64(&self) -> &str {
        &self.base64
    }

    fn write_line(&self, out: &mut String) {
        out.push_str(LINE_PREFIX);
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(&self.base64);
        out.push('\n');
    }
}

/// A signature that verified under a configured key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedSignature {
    verifier: NoteVerifier,
    timestamp: Option<u64>,
}

impl VerifiedSignature {
    /// The key name.
    pub fn name(&self) -> &str {
        &self.verifier.name
    }

    /// The key id.
    pub fn key_id(&self) -> NoteKeyId {
        self.verifier.key_id
    }

    /// The key it verified under.
    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The cosignature timestamp (POSIX seconds), for type 0x04 only.
    pub fn timestamp_seconds(&self) -> Option<u64> {
        self.timestamp
    }
}

/// A note split into text and signature lines, before any verification. Its text MUST be
/// ignored until [`open_note`] has verified it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UnverifiedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl UnverifiedNote {
    /// The text, with its final newline, without the blank separator line.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }
}

/// A note whose text is vouched for by at least one known key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpenedNote {
    text: String,
    verified: Vec<VerifiedSignature>,
    unverified: Vec<NoteSignature>,
}

impl OpenedNote {
    /// The text, with its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Signatures of known keys, all valid, one per key, in note order.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// Signatures of unknown keys, not checked, identical lines once, in note order.
    pub fn unverified(&self) -> &[NoteSignature] {
        &self.unverified
    }
}

fn malformed(reason: &str) -> NoteError {
    NoteError::Malformed {
        reason: reason.to_owned(),
    }
}

fn check_note_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(malformed("the text must end with a newline"));
    }
    if let Some(c) = text.chars().find(|c| *c < ' ' && *c != '\n') {
        return Err(malformed(&format!("control character U+{:04X}", c as u32)));
    }
    Ok(())
}

/// Splits a note into its text and signature lines, checking the syntax only.
///
/// # Errors
/// [`NoteError::TooLarge`], [`NoteError::TooManySignatures`] or [`NoteError::Malformed`].
pub fn parse_unverified(note: &[u8]) -> Result<UnverifiedNote, NoteError> {
    if note.len() > NOTE_BYTES_MAX {
        return Err(NoteError::TooLarge {
            bytes: note.len(),
            limit: NOTE_BYTES_MAX,
        });
    }
    let note = std::str::from_utf8(note).map_err(|_| malformed("the note is not UTF-8"))?;
    if let Some(c) = note.chars().find(|c| *c < ' ' && *c != '\n') {
        return Err(malformed(&format!("control character U+{:04X}", c as u32)));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| malformed("no blank line before signatures"))?;
    let (text, block) = (&note[..=split], &note[split + 2..]);
    let lines = block
        .strip_suffix('\n')
        .ok_or_else(|| malformed("the signature block must be lines that end in a newline"))?;
    let mut signatures = Vec::new();
    for (index, line) in lines.split('\n').enumerate() {
        if index >= SIGNATURES_MAX {
            return Err(NoteError::TooManySignatures {
                count: index + 1,
                limit: SIGNATURES_MAX,
            });
        }
        signatures.push(parse_signature_line(line)?);
    }
    Ok(UnverifiedNote {
        text: text.to_owned(),
        signatures,
    })
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(LINE_PREFIX)
        .ok_or_else(|| malformed("a signature line starts with an em dash and a space"))?;
    let (name, base64) = rest.split_once(' ').unwrap_or((rest, ""));
    check_key_name(name).map_err(|_| malformed("invalid key name in a signature line"))?;
    let raw = STANDARD
        .decode(base64)
        .map_err(|_| malformed("a signature is standard padded base64"))?;
    match raw.split_first_chunk::<4>() {
        Some((key_id, signature)) if !signature.is_empty() => Ok(NoteSignature {
            name: name.to_owned(),
            key_id: NoteKeyId(*key_id),
            signature: signature.to_vec(),
            base64: base64.to_owned(),
        }),
        _ => Err(malformed(
            "a signature holds a key id and at least one byte",
        )),
    }
}

/// Opens a signed note with the keys in `verifiers` (see the module docs for the rules).
///
/// # Errors
/// A syntax error from [`parse_unverified`]; [`NoteError::InvalidSignature`] if a signature of
/// a known key fails; [`NoteError::AmbiguousKey`] if a line matches two configured keys;
/// [`NoteError::NoVerifiedSignature`] if no known key signed.
pub fn open_note(note: &[u8], verifiers: &[NoteVerifier]) -> Result<OpenedNote, NoteError> {
    let parsed = parse_unverified(note)?;
    let mut opened = OpenedNote {
        text: parsed.text,
        verified: Vec::new(),
        unverified: Vec::new(),
    };
    for signature in parsed.signatures {
        let mut matching = verifiers.iter().filter(|v| v.matches(&signature));
        match (matching.next(), matching.next()) {
            (None, _) => {
                if !opened.unverified.contains(&signature) {
                    opened.unverified.push(signature);
                }
            }
            (Some(verifier), None) => {
                let timestamp = verifier.verify(&opened.text, &signature.signature)?;
                if !opened
                    .verified
                    .iter()
                    .any(|v| v.verifier.matches(&signature))
                {
                    let verifier = verifier.clone();
                    opened.verified.push(VerifiedSignature {
                        verifier,
                        timestamp,
                    });
                }
            }
            (Some(_), Some(_)) => {
                return Err(NoteError::AmbiguousKey {
                    name: signature.name,
                    key_id: signature.key_id.to_hex(),
                })
            }
        }
    }
    if opened.verified.is_empty() {
        return Err(NoteError::NoVerifiedSignature);
    }
    Ok(opened)
}

/// Checks that at least `k` distinct keys of `trusted` have a verified signature in `opened`
/// (k-of-n, e.g. an auditor's witness quorum). `k` = 0 is always met.
///
/// # Errors
/// [`NoteError::QuorumNotMet`] with the count found.
pub fn require_signers<'a>(
    opened: &'a OpenedNote,
    trusted: &[NoteVerifier],
    k: usize,
) -> Result<Vec<&'a VerifiedSignature>, NoteError> {
    let signers: Vec<&VerifiedSignature> = opened
        .verified
        .iter()
        .filter(|v| trusted.contains(&v.verifier))
        .collect();
    if signers.len() < k {
        return Err(NoteError::QuorumNotMet {
            required: k,
            found: signers.len(),
        });
    }
    Ok(signers)
}

/// Signs `text` (which must end in a newline) with every signer, in order.
///
/// # Errors
/// [`NoteError::Malformed`] for text that cannot be a note text, or no signer.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    check_note_text(text)?;
    let signatures = signers.iter().map(|s| s.sign_line(text)).collect();
    format_note(text, signatures)
}

/// Adds signatures to an existing note: its lines are kept in order, except any of a key that
/// signs again, and the new lines follow. The existing signatures are not verified.
///
/// # Errors
/// As [`parse_unverified`].
pub fn add_signatures(note: &[u8], signers: &[&NoteSigner]) -> Result<String, NoteError> {
    let parsed = parse_unverified(note)?;
    let new = signers.iter().map(|s| s.sign_line(&parsed.text)).collect();
    merge_signatures(parsed, new)
}

/// Adds a cosignature/v1 line, made at `timestamp_seconds`, to a note (normally a checkpoint
/// the cosigner has checked). A previous line of the same cosigner is replaced.
///
/// # Errors
/// As [`parse_unverified`], and [`NoteError::Malformed`] for a timestamp over 2^63 - 1.
pub fn add_cosignature(
    note: &[u8],
    cosigner: &Cosigner,
    timestamp_seconds: u64,
) -> Result<String, NoteError> {
    if timestamp_seconds > i64::MAX as u64 {
        return Err(malformed("a cosignature timestamp is at most 2^63 - 1"));
    }
    let parsed = parse_unverified(note)?;
    let new = vec![cosigner.sign_line(&parsed.text, timestamp_seconds)];
    merge_signatures(parsed, new)
}

fn merge_signatures(parsed: UnverifiedNote, new: Vec<NoteSignature>) -> Result<String, NoteError> {
    let replaced = |s: &NoteSignature| new.iter().any(|n| n.name == s.name && n.key_id == s.key_id);
    let mut signatures: Vec<NoteSignature> = parsed
        .signatures
        .into_iter()
        .filter(|s| !replaced(s))
        .collect();
    signatures.extend(new);
    format_note(&parsed.text, signatures)
}

fn format_note(text: &str, signatures: Vec<NoteSignature>) -> Result<String, NoteError> {
    if signatures.is_empty() {
        return Err(malformed("a note needs at least one signature"));
    }
    let mut out = String::with_capacity(text.len() + 1 + 128 * signatures.len());
    out.push_str(text);
    out.push('\n');
    for signature in &signatures {
        signature.write_line(&mut out);
    }
    Ok(out)
}

/// A C2SP tlog-checkpoint body: origin, tree size, root hash and optional extension lines.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: [u8; 32],
    extensions: Vec<String>,
}

fn check_body_line(line: &str, what: &str) -> Result<(), NoteError> {
    let bad = line.is_empty() || line.contains(|c: char| c < ' ');
    if bad {
        return Err(NoteError::MalformedCheckpoint {
            reason: format!("the {what} must be a non-empty line without control characters"),
        });
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint. `origin` and each extension line must be non-empty single lines.
    ///
    /// # Errors
    /// [`NoteError::MalformedCheckpoint`].
    pub fn new(
        origin: &str,
        size: u64,
        root: [u8; 32],
        extensions: Vec<String>,
    ) -> Result<Self, NoteError> {
        check_body_line(origin, "origin")?;
        extensions
            .iter()
            .try_for_each(|line| check_body_line(line, "extension line"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Parses a checkpoint body (the note text): `origin\nsize\nbase64 root\n[extension\n]*`.
    ///
    /// # Errors
    /// [`NoteError::MalformedCheckpoint`], or [`NoteError::RootLength`] for a root that is not
    /// 32 bytes.
    pub fn parse(body: &str) -> Result<Self, NoteError> {
        let malformed = |reason: &str| NoteError::MalformedCheckpoint {
            reason: reason.to_owned(),
        };
        let content = body
            .strip_suffix('\n')
            .ok_or_else(|| malformed("the body must end with a newline"))?;
        let mut lines = content.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_body_line(origin, "origin")?;
        let size = lines
            .next()
            .ok_or_else(|| malformed("the tree size line is missing"))?;
        let root = lines
            .next()
            .ok_or_else(|| malformed("the root hash line is missing"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        Self::new(
            origin,
            parse_tree_size(size)?,
            parse_root(root)?,
            extensions,
        )
    }

    /// The body text, each line ending in a newline.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 root hash at that size.
    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    /// Extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}

fn parse_tree_size(text: &str) -> Result<u64, NoteError> {
    let malformed = |reason: &str| NoteError::MalformedCheckpoint {
        reason: reason.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the tree size must be ASCII decimal digits"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(malformed("the tree size must have no leading zeros"));
    }
    text.parse()
        .map_err(|_| malformed("the tree size is over 2^64 - 1"))
}

fn parse_root(text: &str) -> Result<[u8; 32], NoteError> {
    let raw = STANDARD
        .decode(text)
        .map_err(|_| NoteError::MalformedCheckpoint {
            reason: "the root hash must be standard padded base64".to_owned(),
        })?;
    raw.as_slice()
        .try_into()
        .map_err(|_| NoteError::RootLength { bytes: raw.len() })
}

/// A checkpoint whose note verified under its log's key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OpenedCheckpoint {
    checkpoint: Checkpoint,
    note: OpenedNote,
}

impl OpenedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The opened note, with every verified (co)signature.
    pub fn note(&self) -> &OpenedNote {
        &self.note
    }
}

/// Opens a checkpoint note of the log `origin`: the log's key must have signed it; signatures
/// of `witnesses` are verified too, and others are kept as unverified.
///
/// # Errors
/// As [`open_note`], then [`NoteError::MissingLogSignature`], a checkpoint parse error, or
/// [`NoteError::OriginMismatch`].
pub fn open_checkpoint(
    note: &[u8],
    origin: &str,
    log: &NoteVerifier,
    witnesses: &[NoteVerifier],
) -> Result<OpenedCheckpoint, NoteError> {
    let mut verifiers = Vec::with_capacity(witnesses.len() + 1);
    verifiers.push(log.clone());
    verifiers.extend_from_slice(witnesses);
    let opened = open_note(note, &verifiers)?;
    if !opened.verified.iter().any(|v| &v.verifier == log) {
        return Err(NoteError::MissingLogSignature {
            name: log.name.clone(),
            key_id: log.key_id.to_hex(),
        });
    }
    // The origin first: a checkpoint of another log is refused as such, whatever its body.
    let found = opened.text.split('\n').next().unwrap_or_default();
    if found != origin {
        return Err(NoteError::OriginMismatch {
            expected: origin.to_owned(),
            found: found.to_owned(),
        });
    }
    let checkpoint = Checkpoint::parse(&opened.text)?;
    Ok(OpenedCheckpoint {
        checkpoint,
        note: opened,
    })
}
