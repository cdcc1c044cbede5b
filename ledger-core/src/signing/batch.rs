//! The exact batch path: route each signature, check the admitted ones of a chunk together, and
//! fall back to `verify_strict` per signature when the chunk's check fails.
//!
//! Admitted signatures have a torsion-free key other than the identity (from the cache), a
//! canonical `S`, and an `R` that is canonically encoded and not the identity. For those,
//! `verify_strict` accepts exactly when `R = [S]B - [k]A` as points. The chunk check is two
//! tests, both with 128-bit values `z_i` hashed from every input of the chunk (an input fixes
//! them, so replicas agree, and no one can choose them):
//!
//! 1. every `R_i` is torsion-free: the 128 subset sums of the `R_i` that the bits of the `z_i`
//!    name are ([`curve::torsion_free_combination`]);
//! 2. `sum z_i D_i = 0` for `D_i = [S_i]B - [k_i]A_i - R_i`.
//!
//! If some `R_i` has a torsion component, test 1 passes with probability at most 2^-128. If
//! none has, every point involved lies in the prime-order subgroup, and test 2 holds for
//! all-zero `D_i` and otherwise only with probability at most 2^-128 (for fixed nonzero `D_i`,
//! at most one value of a `z_i` below 2^128 cancels the sum). A forged chunk so passes with
//! probability at most 2^-128 either way; that the two tests read the same `z_i` does not
//! matter, since each bound holds on its own. When every signature is valid both tests hold for
//! sure (a valid `R` equals `[S]B - [k]A`, which is torsion-free), so a valid signature is never
//! refused; a failed chunk is decided by `verify_strict` one by one.
//!
//! Sharing the `z_i` is what makes test 2 cheap: `sum z_i R_i = sum_j 2^j S_j` over the subset
//! sums `S_j` of test 1, so the multiscalar multiplication takes only the keys and `B`.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

use super::cache::{KeyCache, KeyClass};
use super::{curve, strict, verify_one, SigCheck, BATCH_CHUNK_SIGNATURES_MAX};

/// Domain separation of the batch coefficients.
const TRANSCRIPT_LABEL: &[u8] = b"outcome-ledger ed25519 batch coefficients v2";

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
    let coefficients = coefficients(&seed, admitted.len());
    let r_points: Vec<EdwardsPoint> = admitted.iter().map(|item| item.r).collect();
    match curve::torsion_free_combination(&r_points, &coefficients) {
        Some(r_combination) => {
            combination_vanishes(admitted, &challenges, &coefficients, r_combination)
        }
        None => false,
    }
}

/// Whether `[-sum z_i S_i]B + sum z_i R_i + sum_A [sum_{i: A} z_i k_i]A` is the identity, given
/// `sum z_i R_i`. The `A` terms are summed per key, which is sound because every admitted key
/// has prime order.
fn combination_vanishes(
    admitted: &[Admitted<'_, '_>],
    challenges: &[[u8; 64]],
    coefficients: &[u128],
    r_combination: EdwardsPoint,
) -> bool {
    let mut scalars = Vec::with_capacity(admitted.len() + 1);
    let mut points = Vec::with_capacity(admitted.len() + 1);
    // Each key's position in `scalars`: a map, since a chunk may hold thousands of keys.
    let mut key_terms: std::collections::HashMap<&[u8; 32], usize> = Default::default();
    let mut b_coefficient = Scalar::ZERO;
    for ((item, challenge), &z) in admitted.iter().zip(challenges).zip(coefficients) {
        let z = Scalar::from(z);
        b_coefficient += z * item.s;
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
    (EdwardsPoint::vartime_multiscalar_mul(&scalars, &points) + r_combination).is_identity()
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

/// Coefficients read from one hash of `seed` and a counter.
const COEFFICIENTS_PER_HASH: usize = 4;

/// The 128-bit values `z_i` of positions `0..count`, four from each SHA-512 of the seed and a
/// counter.
fn coefficients(seed: &[u8; 64], count: usize) -> Vec<u128> {
    let mut out = Vec::with_capacity(count);
    for block in 0..count.div_ceil(COEFFICIENTS_PER_HASH) {
        let mut hash = Sha512::new();
        hash.update(seed);
        hash.update((block as u64).to_le_bytes());
        let digest: [u8; 64] = hash.finalize().into();
        for part in digest.chunks_exact(16) {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(part);
            out.push(u128::from_le_bytes(bytes));
        }
    }
    out.truncate(count);
    out
}
