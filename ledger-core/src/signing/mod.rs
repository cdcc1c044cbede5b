//! Ed25519 signature checking: strict single verification and an exact batch fast path.
//!
//! The definition of a valid signature is ed25519-dalek's `verify_strict` (SPEC.md section 3):
//! `S` canonical, `R` and `A` not of small order, and the re-compressed `[S]B - [k]A` equal to the
//! `R` bytes given (so a non-canonical `R` encoding never passes). Every function here returns,
//! for each check, exactly the verdict `verify_strict` gives. Nothing here does IO, reads the
//! clock or draws randomness: the batch coefficients are derived from the inputs.
//!
//! # Why the batch path needs per-signature work
//!
//! `ed25519_dalek::verify_batch` checks one random linear combination of the cofactorless
//! equations. When `R` or `A` has a small-order *component* (mixed order), the torsion parts of
//! that combination can cancel or be killed by the coefficients modulo 8, so a batch could accept
//! what `verify_strict` rejects. The batch path therefore only takes a signature whose key is
//! torsion-free and not of small order (checked once per key, see [`KeyCache`]) and whose `R` is
//! canonically encoded, torsion-free and not the identity. Then every term lies in the prime-order
//! subgroup, and the combination vanishes only if every equation holds (except with probability
//! about 2^-128 per batch, the usual batch-verification bound). Every other signature, and every
//! signature of a batch that fails, is checked on its own with `verify_strict`.
//!
//! The torsion check on `R` costs about one scalar multiplication, so the exact batch path is not
//! cheaper than verifying one by one; [`Method::FASTEST`] records which one measured faster
//! (see `benches/verify.rs`), and [`verify_all`] uses it.

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

/// How a sequence of checks is carried out. Both methods give identical verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `verify_strict` on each signature.
    Individual,
    /// Structural checks per signature, then one multiscalar equation per chunk of
    /// [`BATCH_CHUNK_SIGNATURES_MAX`] signatures, falling back to `verify_strict` per signature
    /// for those the batch may not take and for a chunk whose equation fails.
    Batch,
}

impl Method {
    /// The method that measured faster on realistic input (4096 signatures, ~300-byte messages,
    /// 16 keys); see BENCHMARKS.md and `benches/verify.rs`.
    pub const FASTEST: Method = Method::Individual;
}

/// Largest number of signatures combined into one batch equation.
pub const BATCH_CHUNK_SIGNATURES_MAX: usize = 64;

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

/// Checks every signature (one verdict per check, in order) with [`Method::FASTEST`], using a
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
