//! Point checks the batch path relies on, written with curve25519-dalek's public API only.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;

/// The field modulus p = 2^255 - 19, little-endian.
const FIELD_MODULUS: [u8; 32] = [
    0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// y = 1, little-endian.
const Y_ONE: [u8; 32] = [
    0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0,
];

/// y = p - 1 = -1, little-endian.
const Y_MINUS_ONE: [u8; 32] = [
    0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
];

/// Whether `bytes`, if it decodes at all, is the canonical encoding of its point, that is
/// `compress(decompress(bytes)) == bytes`.
///
/// An encoding is the 255-bit `y` and the sign bit of `x`. curve25519-dalek's `decompress`
/// reduces `y` modulo p and negates the non-negative root `x` when the sign bit is set, so the
/// round trip changes the bytes exactly when `y >= p`, or when the sign bit is set and `x = 0`,
/// which on this curve means `y = 1` or `y = -1`. Checked on bytes alone: no field arithmetic.
pub(super) fn is_canonical_encoding(bytes: &[u8; 32]) -> bool {
    let mut y = *bytes;
    y[31] &= 0x7f;
    let sign_set = bytes[31] & 0x80 != 0;
    let y_reduced = y.iter().rev().lt(FIELD_MODULUS.iter().rev());
    y_reduced && !(sign_set && (y == Y_ONE || y == Y_MINUS_ONE))
}

/// Number of subset sums in [`torsion_free_combination`]: one per bit of a membership mask.
const SUBSET_SUMS: usize = 128;

/// Subset sums formed per pass over the points (mask bits per bucket index): 2^8 buckets.
const SUMS_PER_PASS: usize = 8;

/// `Some(sum m_i P_i)`, each mask `m_i` read as a 128-bit integer, when every point lies in
/// the prime-order subgroup as tested on 128 subset sums (sum `j` holds the points whose mask
/// has bit `j` set); `None` when a sum has a torsion component.
///
/// The torsion component is a homomorphism onto a group of order 8, so if some point has a
/// nonzero one, each sum whose mask bits are uniformly random has a torsion component with
/// probability at least 1/2: with hashed masks all 128 sums are torsion-free with probability
/// at most 2^-128. Torsion-free points always pass. This costs 128 torsion checks (one scalar
/// multiplication each) plus about 20 additions per point, instead of one scalar
/// multiplication per point. The weighted sum comes almost free from the subset sums
/// (`sum m_i P_i = sum_j 2^j S_j`, 127 doublings by addition), so the caller's multiscalar
/// multiplication need not take the points again.
///
/// The sums are formed [`SUMS_PER_PASS`] at a time: each point is added to the bucket named by
/// its 8 mask bits of the pass (one addition per point), then the 8 sums are read off the 256
/// buckets by folding them in half 8 times (about 512 additions), see [`fold_buckets`].
pub(super) fn torsion_free_combination(
    points: &[EdwardsPoint],
    memberships: &[u128],
) -> Option<EdwardsPoint> {
    assert_eq!(points.len(), memberships.len(), "one mask per point");
    let mut buckets: Vec<Option<EdwardsPoint>> = vec![None; 1 << SUMS_PER_PASS];
    let mut sums = Vec::with_capacity(SUBSET_SUMS);
    for pass in 0..SUBSET_SUMS / SUMS_PER_PASS {
        let shift = pass * SUMS_PER_PASS;
        buckets.iter_mut().for_each(|bucket| *bucket = None);
        for (point, mask) in points.iter().zip(memberships) {
            let index = usize::from((mask >> shift) as u8);
            accumulate(&mut buckets[index], point);
        }
        let pass_sums = fold_buckets(&mut buckets);
        if !pass_sums.iter().flatten().all(is_torsion_free) {
            return None;
        }
        sums.extend(pass_sums);
    }
    // Horner from the top bit: sum_j 2^j S_j.
    let weighted = sums.iter().rev().fold(EdwardsPoint::default(), |acc, sum| {
        let doubled = acc + acc;
        sum.map_or(doubled, |sum| doubled + sum)
    });
    Some(weighted)
}

/// `bucket += point`, where `None` is the identity (saves an addition to it).
fn accumulate(bucket: &mut Option<EdwardsPoint>, point: &EdwardsPoint) {
    *bucket = Some(match bucket {
        Some(sum) => *sum + point,
        None => *point,
    });
}

/// The [`SUMS_PER_PASS`] sums of a pass from its buckets (bucket `b` holds the points whose
/// bits of the pass are `b`): sum `j` adds every bucket whose index has bit `j` set. Taken
/// from the top bit down: sum `j` is the upper half of the first `2^(j+1)` buckets, then the
/// upper half is added onto the lower one, which leaves the lower half indexed by the lower
/// `j` bits. `None` is the identity. The buckets are consumed.
fn fold_buckets(buckets: &mut [Option<EdwardsPoint>]) -> [Option<EdwardsPoint>; SUMS_PER_PASS] {
    assert_eq!(
        buckets.len(),
        1 << SUMS_PER_PASS,
        "one bucket per bit pattern"
    );
    let mut sums = [None; SUMS_PER_PASS];
    for bit in (0..SUMS_PER_PASS).rev() {
        let half = 1 << bit;
        let (lower, upper) = buckets[..2 * half].split_at_mut(half);
        for (low, high) in lower.iter_mut().zip(upper.iter()) {
            if let Some(point) = high {
                accumulate(&mut sums[bit], point);
                accumulate(low, point);
            }
        }
    }
    sums
}

/// Whether `[l]P` is the identity, that is `P` lies in the prime-order subgroup; as
/// `EdwardsPoint::is_torsion_free`, but in variable time (`[l - 1]P + P`): the points tested
/// are public sums.
pub(super) fn is_torsion_free(point: &EdwardsPoint) -> bool {
    // -1 modulo l is the integer l - 1, and the multiplication is by that integer.
    let order_minus_one = -Scalar::ONE;
    let most =
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&order_minus_one, point, &Scalar::ZERO);
    (most + point).is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;

    fn round_trips(bytes: [u8; 32]) -> Option<bool> {
        CompressedEdwardsY(bytes)
            .decompress()
            .map(|point| point.compress().to_bytes() == bytes)
    }

    #[test]
    fn canonical_check_matches_the_round_trip_near_the_edges() {
        // Every y below 20 and from p - 20 up to 2^255 - 1, with both sign bits.
        let mut tried = 0;
        for low in 0u8..40 {
            for sign in [0u8, 0x80] {
                let mut small = [0u8; 32];
                small[0] = low;
                small[31] = sign;
                let mut large = FIELD_MODULUS;
                large[0] = 0xed_u8.wrapping_sub(20).wrapping_add(low);
                large[31] |= sign;
                for bytes in [small, large] {
                    if let Some(expected) = round_trips(bytes) {
                        tried += 1;
                        assert_eq!(is_canonical_encoding(&bytes), expected, "{bytes:02x?}");
                    }
                }
            }
        }
        // y = 0 and y = 1 (and their aliases above p), y = -1: at least 8 decodable encodings.
        assert!(tried >= 8, "only {tried} decodable encodings tried");
    }

    /// Seeded masks: the same every run.
    fn masks(count: usize, seed: u64) -> Vec<u128> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..count).map(|_| rng.gen()).collect()
    }

    #[test]
    fn subset_sums_pass_torsion_free_points_and_catch_any_torsion_component() {
        let points: Vec<EdwardsPoint> = (1..=24u64)
            .map(|i| ED25519_BASEPOINT_POINT * Scalar::from(i * 7_919))
            .collect();
        for len in [1, 2, 5, 6, 24] {
            assert!(torsion_free_combination(&points[..len], &masks(len, 1)).is_some());
        }
        for (t, torsion) in EIGHT_TORSION.iter().enumerate().skip(1) {
            for position in [0, 4, 5, 22] {
                let mut mixed = points.clone();
                mixed[position] += torsion;
                let seed = (t * 100 + position) as u64;
                assert!(torsion_free_combination(&mixed, &masks(mixed.len(), seed)).is_none());
                // T and -T in two points: a plain sum of all points would cancel them.
                mixed[position ^ 1] -= torsion;
                assert!(torsion_free_combination(&mixed, &masks(mixed.len(), seed)).is_none());
            }
        }
        // With masks that leave the bad point out of every sum, nothing is caught: the masks
        // carry the soundness.
        let mut mixed = points.clone();
        mixed[3] += EIGHT_TORSION[4];
        let mut blind = masks(mixed.len(), 9);
        blind[3] = 0;
        assert!(torsion_free_combination(&mixed, &blind).is_some());
    }

    #[test]
    fn variable_time_check_matches_dalek_on_every_torsion_component() {
        let base = ED25519_BASEPOINT_POINT * Scalar::from(123_456_789u64);
        for (t, torsion) in EIGHT_TORSION.iter().enumerate() {
            for point in [*torsion, base + torsion, -base + torsion] {
                assert_eq!(is_torsion_free(&point), point.is_torsion_free(), "T{t}");
            }
            assert_eq!(is_torsion_free(&(base + torsion)), t == 0, "T{t}");
        }
    }

    #[test]
    fn combination_is_the_sum_weighted_by_the_masks_read_as_integers() {
        use curve25519_dalek::traits::VartimeMultiscalarMul;
        for len in [1, 2, 9, 300] {
            let points: Vec<EdwardsPoint> = (0..len as u64)
                .map(|i| ED25519_BASEPOINT_POINT * Scalar::from(i * 1_009 + 3))
                .collect();
            let mut masks = masks(len, 40 + len as u64);
            masks[0] = u128::MAX;
            let expected = EdwardsPoint::vartime_multiscalar_mul(
                masks.iter().map(|&mask| Scalar::from(mask)),
                &points,
            );
            assert_eq!(torsion_free_combination(&points, &masks), Some(expected));
        }
    }

    /// The bucket method forms exactly the sums of the masks: compared with sums formed one
    /// point at a time, for chunk lengths around the bucket count.
    #[test]
    fn buckets_fold_into_the_sums_of_the_masks() {
        for len in [0, 1, 2, 7, 255, 256, 600] {
            let points: Vec<EdwardsPoint> = (0..len as u64)
                .map(|i| ED25519_BASEPOINT_POINT * Scalar::from(i * 31 + 5))
                .collect();
            let masks = masks(len, len as u64);
            for pass in [0, 7, 15] {
                let shift = pass * SUMS_PER_PASS;
                let mut buckets = vec![None; 1 << SUMS_PER_PASS];
                for (point, mask) in points.iter().zip(&masks) {
                    accumulate(&mut buckets[usize::from((mask >> shift) as u8)], point);
                }
                let sums = fold_buckets(&mut buckets);
                for (bit, sum) in sums.iter().enumerate() {
                    let expected: EdwardsPoint = points
                        .iter()
                        .zip(&masks)
                        .filter(|(_, mask)| (*mask >> (shift + bit)) & 1 == 1)
                        .map(|(point, _)| point)
                        .sum();
                    let got = sum.unwrap_or_default();
                    assert_eq!(got, expected, "len {len}, sum {}", shift + bit);
                }
            }
        }
    }

    /// Every `A` and `R` of the CCTV edge-case file (testdata/cctv-ed25519/ed25519vectors.json,
    /// C2SP/CCTV @ 1e3d2860d46e): low-order, mixed-order and non-canonical encodings.
    #[test]
    fn checks_match_dalek_on_every_cctv_point() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/cctv-ed25519/ed25519vectors.json"
        );
        let text = std::fs::read_to_string(path).expect("read the CCTV vectors");
        let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
        let mut decodable = 0;
        for vector in &vectors {
            let key = vector["key"].as_str().expect("key");
            let sig = vector["sig"].as_str().expect("sig");
            for hex_point in [key, &sig[..64]] {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(hex_point, &mut bytes).expect("hex");
                let Some(point) = CompressedEdwardsY(bytes).decompress() else {
                    continue;
                };
                decodable += 1;
                let round_trip = point.compress().to_bytes() == bytes;
                assert_eq!(is_canonical_encoding(&bytes), round_trip, "{hex_point}");
                // Alone, a point passes the subset-sum test exactly when it is torsion-free,
                // and the variable-time check says the same as dalek's.
                let alone = torsion_free_combination(&[point], &[u128::MAX]).is_some();
                assert_eq!(alone, point.is_torsion_free(), "{hex_point}");
                assert_eq!(
                    is_torsion_free(&point),
                    point.is_torsion_free(),
                    "{hex_point}"
                );
            }
        }
        assert_eq!(vectors.len(), 914);
        assert!(decodable > 900, "only {decodable} points decoded");
    }
}
