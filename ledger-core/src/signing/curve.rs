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

/// Whether `point` lies in the prime-order subgroup: `[l]P` is the identity.
///
/// Computed as `[l - 1]P + P` with the variable-time double-base multiplication: a `Scalar`
/// cannot hold `l` itself, and the multiplication uses the integer value of `l - 1` whatever
/// the order of `P`. This is about twice as fast as curve25519-dalek's constant-time
/// `is_torsion_free`, and nothing here is secret.
pub(super) fn is_torsion_free(point: &EdwardsPoint) -> bool {
    let l_minus_one = -Scalar::ONE;
    let multiple =
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&l_minus_one, point, &Scalar::ZERO);
    (multiple + point).is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
    use curve25519_dalek::edwards::CompressedEdwardsY;

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

    #[test]
    fn torsion_check_matches_dalek_on_every_torsion_mixture() {
        let prime_order = ED25519_BASEPOINT_POINT * Scalar::from(12_345u64);
        for torsion in EIGHT_TORSION {
            let mixed = prime_order + torsion;
            assert_eq!(is_torsion_free(&mixed), mixed.is_torsion_free());
            assert_eq!(is_torsion_free(&torsion), torsion.is_torsion_free());
        }
        assert!(is_torsion_free(&prime_order));
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
