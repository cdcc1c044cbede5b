//! The exact batch path: route each signature, combine the admitted ones into one multiscalar
//! equation per chunk, and fall back to `verify_strict` per signature when it fails.
//!
//! Admitted signatures have a torsion-free key other than the identity (from the cache), a
//! canonical `S`, and an `R` that is canonically encoded, torsion-free and not the identity. For
//! those, `verify_strict` accepts exactly when `R = [S]B - [k]A` as points, every point involved
//! lies in the prime-order subgroup, and so does each difference `D_i = [S_i]B - [k_i]A_i - R_i`.
//! The equation `sum z_i D_i = 0` with 128-bit `z_i` then holds for all-zero `D_i` and otherwise
//! only with probability about 2^-128. The `z_i` are SHA-512 outputs over every input of the
//! chunk, so an input fixes them (replicas agree) and no one can choose them.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

use super::cache::{KeyCache, KeyClass};
use super::{curve, strict, verify_one, SigCheck, BATCH_CHUNK_SIGNATURES_MAX};

/// Domain separation of the batch coefficients.
const TRANSCRIPT_LABEL: &[u8] = b"outcome-ledger ed25519 batch coefficients v1";

/// A signature the batch equation may take.
struct Admitted<'c, 'a> {
    /// Position in the chunk.
    index: usize,
    check: &'c SigCheck<'a>,
    key: &'c VerifyingKey,
    r: EdwardsPoint,
    s: Scalar,
}

/// Verdicts for `checks`, in order, computed chunk by chunk.
pub(super) fn verify_chunked(cache: &KeyCache, checks: &[SigCheck<'_>]) -> Vec<bool> {
    let mut verdicts = vec![false; checks.len()];
    for (chunk, out) in checks
        .chunks(BATCH_CHUNK_SIGNATURES_MAX)
        .zip(verdicts.chunks_mut(BATCH_CHUNK_SIGNATURES_MAX))
    {
        verify_chunk(cache, chunk, out);
    }
    verdicts
}

fn verify_chunk(cache: &KeyCache, checks: &[SigCheck<'_>], verdicts: &mut [bool]) {
    assert_eq!(checks.len(), verdicts.len(), "one verdict per check");
    let mut admitted = Vec::with_capacity(checks.len());
    for (index, check) in checks.iter().enumerate() {
        let verdict = match cache.class(check.public_key) {
            Some(KeyClass::Batchable(key)) => match admit(check) {
                Some((r, s)) => {
                    admitted.push(Admitted {
                        index,
                        check,
                        key,
                        r,
                        s,
                    });
                    continue;
                }
                None => strict(key, check),
            },
            Some(KeyClass::Individual(key)) => strict(key, check),
            Some(KeyClass::Undecodable) => false,
            None => verify_one(check),
        };
        verdicts[index] = verdict;
    }
    let holds = equation_holds(&admitted);
    for item in &admitted {
        verdicts[item.index] = holds || strict(item.key, item.check);
    }
}

/// `R` and `S` of a signature the batch may take, or `None` to send it to `verify_strict`.
fn admit(check: &SigCheck<'_>) -> Option<(EdwardsPoint, Scalar)> {
    let signature = Signature::from_bytes(check.signature);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes()))?;
    let r_bytes = signature.r_bytes();
    if !curve::is_canonical_encoding(r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(*r_bytes).decompress()?;
    // Torsion-free and not the identity: not of small order either.
    (!r.is_identity() && curve::is_torsion_free(&r)).then_some((r, s))
}

/// Whether `[-sum z_i S_i]B + sum z_i R_i + sum_A [sum_{i: A} z_i k_i]A` is the identity. The
/// `A` terms are summed per key, which is sound because every admitted key has prime order.
fn equation_holds(admitted: &[Admitted<'_, '_>]) -> bool {
    if admitted.is_empty() {
        return true;
    }
    let challenges: Vec<[u8; 64]> = admitted.iter().map(challenge).collect();
    let seed = transcript_seed(admitted, &challenges);
    let mut scalars = Vec::with_capacity(2 * admitted.len() + 1);
    let mut points = Vec::with_capacity(2 * admitted.len() + 1);
    // Keys seen so far: (key bytes, position of its term). A chunk is small, so a linear scan.
    let mut key_terms: Vec<(&[u8; 32], usize)> = Vec::new();
    let mut b_coefficient = Scalar::ZERO;
    for (position, (item, challenge)) in admitted.iter().zip(&challenges).enumerate() {
        let z = coefficient(&seed, position);
        b_coefficient += z * item.s;
        scalars.push(z);
        points.push(item.r);
        let zk = z * Scalar::from_bytes_mod_order_wide(challenge);
        let key_bytes = item.key.as_bytes();
        match key_terms.iter().find(|(bytes, _)| *bytes == key_bytes) {
            Some(&(_, term)) => scalars[term] += zk,
            None => {
                key_terms.push((key_bytes, scalars.len()));
                scalars.push(zk);
                points.push(item.key.to_edwards());
            }
        }
    }
    scalars.push(-b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(&scalars, &points).is_identity()
}

/// `SHA-512(R || A || M)`, the 64 bytes that reduce to `k`.
fn challenge(item: &Admitted<'_, '_>) -> [u8; 64] {
    let mut hash = Sha512::new();
    hash.update(&item.check.signature[..32]);
    hash.update(item.key.as_bytes());
    hash.update(item.check.message);
    hash.finalize().into()
}

/// A hash of every input of the chunk: each challenge binds `R`, `A` and the message, and `S`
/// is added.
fn transcript_seed(admitted: &[Admitted<'_, '_>], challenges: &[[u8; 64]]) -> [u8; 64] {
    let mut hash = Sha512::new();
    hash.update(TRANSCRIPT_LABEL);
    hash.update((admitted.len() as u64).to_le_bytes());
    for (item, challenge) in admitted.iter().zip(challenges) {
        hash.update(challenge);
        hash.update(item.s.as_bytes());
    }
    hash.finalize().into()
}

/// The 128-bit coefficient `z_i` of position `i`.
fn coefficient(seed: &[u8; 64], position: usize) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(seed);
    hash.update((position as u64).to_le_bytes());
    let digest: [u8; 64] = hash.finalize().into();
    let mut low = [0u8; 16];
    low.copy_from_slice(&digest[..16]);
    Scalar::from(u128::from_le_bytes(low))
}
