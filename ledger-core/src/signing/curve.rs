//! Point checks the batch path relies on, written with curve25519-dalek's public API only.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::traits::{Identity, IsIdentity};

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

/// Number of subset sums in [`all_torsion_free`]: one per bit of a membership mask.
const SUBSET_SUMS: usize = 128;

/// Points per table of precomputed subset sums (2^5 entries): each point then costs about
/// (32 + 128) / 5 = 32 point additions.
const TABLE_POINTS: usize = 5;

/// Whether every point lies in the prime-order subgroup, tested on 128 subset sums: sum `j`
/// holds the points whose membership mask has bit `j` set.
///
/// The torsion component is a homomorphism onto a group of order 8, so if some point has a
/// nonzero one, each sum whose mask bits are uniformly random has a torsion component with
/// probability at least 1/2: with hashed masks all 128 sums are torsion-free with probability
/// at most 2^-128. Torsion-free points always pass. This costs 128 torsion checks (one scalar
/// multiplication each) plus about 32 additions per point, instead of one scalar multiplication
/// per point.
pub(super) fn all_torsion_free(points: &[EdwardsPoint], memberships: &[u128]) -> bool {
    assert_eq!(points.len(), memberships.len(), "one mask per point");
    let mut sums = vec![EdwardsPoint::identity(); SUBSET_SUMS];
    let mut table = [EdwardsPoint::identity(); 1 << TABLE_POINTS];
    for (block, masks) in points
        .chunks(TABLE_POINTS)
        .zip(memberships.chunks(TABLE_POINTS))
    {
        for subset in 1..(1usize << block.len()) {
            let lowest = subset.trailing_zeros() as usize;
            table[subset] = table[subset & (subset - 1)] + block[lowest];
        }
        for (bit, sum) in sums.iter_mut().enumerate() {
            let subset = masks.iter().enumerate().fold(0usize, |subset, (t, mask)| {
                subset | (usize::from((mask >> bit) & 1 == 1) << t)
            });
            if subset != 0 {
                *sum += table[subset];
            }
        }
    }
    sums.iter()
        .all(|sum| sum.is_identity() || sum.is_torsion_free())
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
            assert!(all_torsion_free(&points[..len], &masks(len, 1)));
        }
        for (t, torsion) in EIGHT_TORSION.iter().enumerate().skip(1) {
            for position in [0, 4, 5, 22] {
                let mut mixed = points.clone();
                mixed[position] += torsion;
                let seed = (t * 100 + position) as u64;
                assert!(!all_torsion_free(&mixed, &masks(mixed.len(), seed)));
                // T and -T in two points: a plain sum of all points would cancel them.
                mixed[position ^ 1] -= torsion;
                assert!(!all_torsion_free(&mixed, &masks(mixed.len(), seed)));
            }
        }
        // With masks that leave the bad point out of every sum, nothing is caught: the masks
        // carry the soundness.
        let mut mixed = points.clone();
        mixed[3] += EIGHT_TORSION[4];
        let mut blind = masks(mixed.len(), 9);
        blind[3] = 0;
        assert!(all_torsion_free(&mixed, &blind));
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
                // Alone, a point passes the subset-sum test exactly when it is torsion-free.
                let alone = all_torsion_free(&[point], &[u128::MAX]);
                assert_eq!(alone, point.is_torsion_free(), "{hex_point}");
            }
        }
        assert_eq!(vectors.len(), 914);
        assert!(decodable > 900, "only {decodable} points decoded");
    }
}
