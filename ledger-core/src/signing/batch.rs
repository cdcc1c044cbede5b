//! The exact batch path: route each signature, check the admitted ones of a chunk together, and
//! fall back to `verify_strict` per signature when the chunk's check fails.
//!
//! Admitted signatures have a torsion-free key other than the identity (from the cache), a
//! canonical `S`, and an `R` that is canonically encoded and not the identity. For those,
//! `verify_strict` accepts exactly when `R = [S]B - [k]A` as points. The chunk check is two
//! tests, both with coefficients hashed from every input of the chunk (an input fixes them, so
//! replicas agree, and no one can choose them):
//!
//! 1. every `R_i` is torsion-free: 128 subset sums of the `R_i` are ([`curve::all_torsion_free`]);
//! 2. `sum z_i D_i = 0` for `D_i = [S_i]B - [k_i]A_i - R_i` and 128-bit `z_i`.
//!
//! After test 1 every point involved lies in the prime-order subgroup, and test 2 then holds for
//! all-zero `D_i` and otherwise only with probability about 2^-128. When every signature is valid
//! both tests hold for sure (a valid `R` equals `[S]B - [k]A`, which is torsion-free), so a valid
//! signature is never refused; a failed chunk is decided by `verify_strict` one by one.

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

/// A signature the batch may take.
struct Admitted<'c, 'a> {
    /// Position in the chunk.
    index: usize,
    check: &'c SigCheck<'a>,
    key: &'c VerifyingKey,
    r: EdwardsPoint,
    s: Scalar,
}

/// Verdicts for `checks`, in order, in chunks of at most [`BATCH_CHUNK_SIGNATURES_MAX`] of
/// near-equal length. A chunk with fewer than `batch_min` admitted signatures is checked one
/// by one.
pub(super) fn verify_chunked(
    cache: &KeyCache,
    checks: &[SigCheck<'_>],
    batch_min: usize,
) -> Vec<bool> {
    let mut verdicts = vec![false; checks.len()];
    let chunks = checks.len().div_ceil(BATCH_CHUNK_SIGNATURES_MAX);
    let chunk_len = checks.len().div_ceil(chunks.max(1)).max(1);
    for (chunk, out) in checks.chunks(chunk_len).zip(verdicts.chunks_mut(chunk_len)) {
        verify_chunk(cache, chunk, out, batch_min);
    }
    verdicts
}

fn verify_chunk(
    cache: &KeyCache,
    checks: &[SigCheck<'_>],
    verdicts: &mut [bool],
    batch_min: usize,
) {
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
    let holds = admitted.len() >= batch_min && chunk_holds(&admitted);
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
    (!r.is_identity()).then_some((r, s))
}

/// Both tests of the module docs over the admitted signatures of one chunk.
fn chunk_holds(admitted: &[Admitted<'_, '_>]) -> bool {
    if admitted.is_empty() {
        return true;
    }
    let challenges: Vec<[u8; 64]> = admitted.iter().map(challenge).collect();
    let seed = transcript_seed(admitted, &challenges);
    let (coefficients, memberships): (Vec<Scalar>, Vec<u128>) = (0..admitted.len())
        .map(|position| randomness(&seed, position))
        .unzip();
    let r_points: Vec<EdwardsPoint> = admitted.iter().map(|item| item.r).collect();
    curve::all_torsion_free(&r_points, &memberships)
        && combination_vanishes(admitted, &challenges, &coefficients)
}

/// Whether `[-sum z_i S_i]B + sum z_i R_i + sum_A [sum_{i: A} z_i k_i]A` is the identity. The
/// `A` terms are summed per key, which is sound because every admitted key has prime order.
fn combination_vanishes(
    admitted: &[Admitted<'_, '_>],
    challenges: &[[u8; 64]],
    coefficients: &[Scalar],
) -> bool {
    let mut scalars = Vec::with_capacity(2 * admitted.len() + 1);
    let mut points = Vec::with_capacity(2 * admitted.len() + 1);
    // Each key's position in `scalars`: a map, since a chunk may hold thousands of keys.
    let mut key_terms: std::collections::HashMap<&[u8; 32], usize> = Default::default();
    let mut b_coefficient = Scalar::ZERO;
    for ((item, challenge), &z) in admitted.iter().zip(challenges).zip(coefficients) {
        b_coefficient += z * item.s;
        scalars.push(z);
        points.push(item.r);
        let zk = z * Scalar::from_bytes_mod_order_wide(challenge);
        match key_terms.get(item.key.as_bytes()) {
            Some(&term) => scalars[term] += zk,
            None => {
                key_terms.insert(item.key.as_bytes(), scalars.len());
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

/// The 128-bit coefficient `z_i` of position `i`, and its membership bits in the 128 subset
/// sums of the torsion test (bit `j` set: `R_i` is in sum `j`), from disjoint hash bytes.
fn randomness(seed: &[u8; 64], position: usize) -> (Scalar, u128) {
    let mut hash = Sha512::new();
    hash.update(seed);
    hash.update((position as u64).to_le_bytes());
    let digest: [u8; 64] = hash.finalize().into();
    let mut coefficient = [0u8; 16];
    let mut membership = [0u8; 16];
    coefficient.copy_from_slice(&digest[..16]);
    membership.copy_from_slice(&digest[16..32]);
    (
        Scalar::from(u128::from_le_bytes(coefficient)),
        u128::from_le_bytes(membership),
    )
}
