//! Ed25519 signature checking: strict single verification and an exact batch fast path.
//!
//! The definition of a valid signature is ed25519-dalek's `verify_strict` (SPEC.md section 3):
//! `S` canonical, `R` and `A` not of small order, and the re-compressed `[S]B - [k]A` equal to the
//! `R` bytes given (so a non-canonical `R` encoding never passes). Every function here returns,
//! for each check, exactly the verdict `verify_strict` gives. Nothing here does IO, reads the
//! clock or draws randomness: the batch coefficients are derived from the inputs.
//!
//! # Why the batch path needs more than `verify_batch`
//!
//! `ed25519_dalek::verify_batch` checks one random linear combination of the cofactorless
//! equations. When `R` or `A` has a small-order *component* (mixed order), the torsion parts of
//! that combination can cancel or be killed by the coefficients modulo 8, so a batch could accept
//! what `verify_strict` rejects (`tests/signing_adversarial.rs` builds such signatures). The
//! batch path here therefore only takes a signature whose key is torsion-free and not of small
//! order (checked once per key, see [`KeyCache`]) and whose `R` is canonically encoded and not
//! the identity, and it proves every such `R` torsion-free before the combination is trusted:
//! checking each `R` alone costs a scalar multiplication (as much as most of a `verify_strict`),
//! so it checks 128 hashed subset sums of them instead (one scalar multiplication per sum, about
//! 20 point additions per signature, formed with buckets). Every other signature, and every
//! signature of a chunk that fails, is checked on its own with `verify_strict`. Apart from the
//! usual batch bound (a forged chunk passes with probability about 2^-128) the verdicts are
//! `verify_strict`'s.
//!
//! The fixed cost of a chunk (128 scalar multiplications, 16 bucket folds) pays off from a few
//! hundred signatures on, and the cost per signature keeps falling up to a few thousand:
//! [`Method::Auto`], which [`verify_all`] uses, batches chunks of at least
//! [`BATCH_SIGNATURES_MIN`] signatures and verifies smaller ones one by one, as measured by
//! `benches/verify.rs`.

mod batch;
mod cache;
mod curve;

pub use cache::KeyCache;

use ed25519_dalek::{Signature, VerifyingKey};

/// One signature to check: a raw 32-byte Ed25519 public key, the exact bytes signed (for DSSE
/// envelopes, the PAE of payload type and payload) and the 64-byte signature `R || S`.
#[derive(Clone, Copy, Debug)]
pub struct SigCheck<'a> {
    /// The raw public key `A` as received.
    pub public_key: &'a [u8; 32],
    /// The bytes that were signed.
    pub message: &'a [u8],
    /// The signature `R || S` as received.
    pub signature: &'a [u8; 64],
}

/// How a sequence of checks is carried out. All methods give identical verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `verify_strict` on each signature.
    Individual,
    /// Structural checks per signature, then one batch check per chunk of at most
    /// [`BATCH_CHUNK_SIGNATURES_MAX`] signatures (see the module docs), falling back to
    /// `verify_strict` per signature for those the batch may not take and for a chunk whose
    /// check fails. Slower than [`Method::Individual`] on small chunks.
    Batch,
    /// [`Method::Batch`] for chunks with at least [`BATCH_SIGNATURES_MIN`] signatures the batch
    /// may take, [`Method::Individual`] for smaller ones: the faster of the two as measured.
    Auto,
}

/// Largest number of signatures checked together; larger inputs are split into chunks of
/// near-equal length. A failed chunk costs one `verify_strict` per signature on top (about
/// 0.3 s of one core for a full chunk), which only an invalid signature causes.
pub const BATCH_CHUNK_SIGNATURES_MAX: usize = 4096;

/// Fewest signatures [`Method::Auto`] checks together: below this the fixed cost of a batch
/// (128 scalar multiplications) outweighs what it saves. `benches/verify.rs` measures the batch
/// at 0.65 of the individual method's time on 128 signatures; the two meet near 64.
pub const BATCH_SIGNATURES_MIN: usize = 128;

/// Largest number of threads [`verify_all_parallel`] starts.
pub const THREADS_MAX: usize = 64;

/// Checks one signature with ed25519-dalek's `verify_strict`; `false` for a key that does not
/// decode.
pub fn verify_one(check: &SigCheck<'_>) -> bool {
    match VerifyingKey::from_bytes(check.public_key) {
        Ok(key) => strict(&key, check),
        Err(_) => false,
    }
}

/// Checks every signature (one verdict per check, in order) with [`Method::Auto`], using a
/// key cache that lives for this call only. Callers that see the same keys again should keep a
/// [`KeyCache`] and call [`KeyCache::verify_all`].
pub fn verify_all(checks: &[SigCheck<'_>]) -> Vec<bool> {
    KeyCache::new(checks.len()).verify_all(checks)
}

/// Like [`verify_all`], split over `threads` threads (at least 1, at most [`THREADS_MAX`]).
pub fn verify_all_parallel(checks: &[SigCheck<'_>], threads: usize) -> Vec<bool> {
    KeyCache::new(checks.len()).verify_all_parallel(checks, threads)
}

/// The key id of a raw public key: lowercase-hex SHA-256 of its 32 bytes (SPEC.md section 2).
pub fn key_id(public_key: &[u8; 32]) -> proto::KeyId {
    proto::KeyId::of(&proto::PublicKey::from_bytes(*public_key))
}

/// `verify_strict` of one check under an already decoded key.
fn strict(key: &VerifyingKey, check: &SigCheck<'_>) -> bool {
    key.verify_strict(check.message, &Signature::from_bytes(check.signature))
        .is_ok()
}
