//! Property tests: random signatures of every kind the batch path routes differently get, one by
//! one and in batches that mix them, exactly the verdict of ed25519-dalek `verify_strict`.
//!
//! Kinds, all built here from seeded randomness with curve25519-dalek (no vectors):
//! - valid: `R = [r]B`, `S = r + k*a`;
//! - invalid: a valid signature with one bit of `R`, `S` or the message flipped;
//! - `R + T`: `R' = [r]B + T` for `T` of small order (one of the 8 torsion points), `k` over
//!   the bytes of `R'` and `S = r + k*a` adjusted to it; `verify_strict` refuses every `T` but
//!   the identity (`tests/signing_adversarial.rs` has fixed cases of this one);
//! - `A + T`: a mixed-order key `A' = [a]B + T`, `S = r + k*a` with `k` over `A'`; accepted
//!   exactly when `[k]T` is the identity, which the generator reaches for some by trying nonces;
//! - `R + T` and `A + T` together, `T_R` a multiple of `T_A`: accepted when `T_R = -[k]T_A`,
//!   reached the same way;
//! - non-canonical encodings: `S + l`, an `R` or `A` written as `y + p` or with the sign bit
//!   of `x = 0` set, all refused.
//!
//! The oracle is `verify_strict` called directly; every entry point of `ledger_core::signing`
//! (see `signing_support::assert_all_agree`) must return its verdict for each signature.

mod signing_support;

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha512};
use signing_support::{
    assert_all_agree, assert_random_mixtures_agree, seeded_runner, strict_verdict, valid_cases,
    Case,
};

/// The group order l, little-endian.
const ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Nonces tried to reach an accepted mixed-order signature (each try succeeds with probability
/// at least 1/8).
const GRIND_TRIES_MAX: usize = 256;

/// The kinds of signature generated, by index.
const KINDS: usize = 9;

/// A signature over `message` by the secret scalar `a` under the key `[a]B + key_torsion`,
/// with nonce `r` and `R = [r]B + r_torsion`; `S` is reduced, so it is always canonical.
fn sign(
    a: &Scalar,
    key_torsion: &EdwardsPoint,
    r: &Scalar,
    r_torsion: &EdwardsPoint,
    message: &[u8],
    label: String,
) -> Case {
    let public_key = (ED25519_BASEPOINT_POINT * a + key_torsion)
        .compress()
        .to_bytes();
    let r_bytes = (ED25519_BASEPOINT_POINT * r + r_torsion)
        .compress()
        .to_bytes();
    let s = r + challenge(&r_bytes, &public_key, message) * a;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r_bytes);
    signature[32..].copy_from_slice(s.as_bytes());
    Case {
        label,
        public_key,
        message: message.to_vec(),
        signature,
    }
}

/// `k = SHA-512(R || A || M)` reduced modulo l.
fn challenge(r_bytes: &[u8; 32], public_key: &[u8; 32], message: &[u8]) -> Scalar {
    let mut hash = Sha512::new();
    hash.update(r_bytes);
    hash.update(public_key);
    hash.update(message);
    Scalar::from_bytes_mod_order_wide(&hash.finalize().into())
}

fn random_scalar(rng: &mut StdRng) -> Scalar {
    let mut wide = [0u8; 64];
    rng.fill(&mut wide[..]);
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// `bytes + l` as 32 little-endian bytes (no carry out: `S < l < 2^253`).
fn plus_order(bytes: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for (i, byte) in out.iter_mut().enumerate() {
        let sum = u16::from(bytes[i]) + u16::from(ORDER[i]) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    out
}

/// Non-canonical encodings that decode: `y + p` for small `y`, and `y = 1`, `y = -1` with the
/// sign bit set (their `x` is 0).
fn non_canonical_encodings() -> Vec<[u8; 32]> {
    let mut encodings = Vec::new();
    for y in 0u8..19 {
        let mut bytes = [0xff; 32];
        bytes[0] = 0xed + y;
        bytes[31] = 0x7f;
        encodings.push(bytes);
        let mut signed = bytes;
        signed[31] |= 0x80;
        encodings.push(signed);
    }
    let mut one = [0u8; 32];
    one[0] = 1;
    one[31] = 0x80;
    let mut minus_one = [0xff; 32];
    minus_one[0] = 0xec;
    encodings.extend([one, minus_one]);
    encodings.retain(|bytes| {
        CompressedEdwardsY(*bytes)
            .decompress()
            .is_some_and(|point| point.compress().to_bytes() != *bytes)
    });
    encodings
}

/// One signature of `kind` (0..[`KINDS`]) from `seed`.
fn generate(kind: usize, seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = random_scalar(&mut rng);
    let message = format!("event {seed} of kind {kind}").into_bytes();
    let torsion = EIGHT_TORSION[rng.gen_range(1..8)];
    let identity = EIGHT_TORSION[0];
    match kind {
        0 => sign(
            &a,
            &identity,
            &random_scalar(&mut rng),
            &identity,
            &message,
            "valid".into(),
        ),
        1 => {
            let mut case = sign(
                &a,
                &identity,
                &random_scalar(&mut rng),
                &identity,
                &message,
                String::new(),
            );
            let bit = rng.gen_range(0..(64 + case.message.len()) * 8);
            match bit / 8 {
                byte if byte < 64 => case.signature[byte] ^= 1 << (bit % 8),
                byte => case.message[byte - 64] ^= 1 << (bit % 8),
            }
            case.label = format!("invalid: bit {bit} flipped");
            case
        }
        2 => sign(
            &a,
            &identity,
            &random_scalar(&mut rng),
            &torsion,
            &message,
            "R + T".into(),
        ),
        3 => grind(&mut rng, &a, &torsion, &identity, &message, "A + T"),
        4 => sign(
            &a,
            &torsion,
            &random_scalar(&mut rng),
            &identity,
            &message,
            "A + T, any k".into(),
        ),
        5 => {
            // A multiple of T_A, so that some k gives [k]T_A = -T_R.
            let r_torsion = torsion * Scalar::from(rng.gen_range(1..8u64));
            grind(
                &mut rng,
                &a,
                &torsion,
                &r_torsion,
                &message,
                "R + T and A + T",
            )
        }
        6 => {
            let mut case = sign(
                &a,
                &identity,
                &random_scalar(&mut rng),
                &identity,
                &message,
                "S + l".into(),
            );
            let mut s = [0u8; 32];
            s.copy_from_slice(&case.signature[32..]);
            case.signature[32..].copy_from_slice(&plus_order(&s));
            case
        }
        7 => {
            let mut case = sign(
                &a,
                &identity,
                &random_scalar(&mut rng),
                &identity,
                &message,
                String::new(),
            );
            let encodings = non_canonical_encodings();
            let r = encodings[rng.gen_range(0..encodings.len())];
            case.signature[..32].copy_from_slice(&r);
            case.label = format!("non-canonical R {}", hex::encode(r));
            case
        }
        _ => {
            let encodings = non_canonical_encodings();
            let key = encodings[rng.gen_range(0..encodings.len())];
            let r = random_scalar(&mut rng);
            let r_bytes = (ED25519_BASEPOINT_POINT * r).compress().to_bytes();
            let s = r + challenge(&r_bytes, &key, &message) * a;
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&r_bytes);
            signature[32..].copy_from_slice(s.as_bytes());
            Case {
                label: format!("non-canonical A {}", hex::encode(key)),
                public_key: key,
                message,
                signature,
            }
        }
    }
}

/// A mixed-order signature that `verify_strict` accepts: nonces are tried until the torsion of
/// `[S]B - [k]A'` equals that of `R'` (`[k]T_A = -T_R`); the last try if none does.
fn grind(
    rng: &mut StdRng,
    a: &Scalar,
    key_torsion: &EdwardsPoint,
    r_torsion: &EdwardsPoint,
    message: &[u8],
    label: &str,
) -> Case {
    let mut case = sign(
        a,
        key_torsion,
        &Scalar::ONE,
        r_torsion,
        message,
        String::new(),
    );
    for tries in 1..=GRIND_TRIES_MAX {
        case = sign(
            a,
            key_torsion,
            &random_scalar(rng),
            r_torsion,
            message,
            format!("{label}, {tries} nonces tried"),
        );
        if strict_verdict(&case) {
            break;
        }
    }
    case
}

/// Each kind, alone and inside a batch of valid signatures at a random position.
#[test]
fn every_kind_alone_and_among_valid_signatures_gets_the_strict_verdict() {
    let fillers = valid_cases(40, 6);
    let strategy = (
        0..KINDS,
        any::<u64>(),
        0usize..40,
        any::<prop::sample::Index>(),
    );
    seeded_runner(160)
        .run(&strategy, |(kind, seed, valid, position)| {
            let case = generate(kind, seed);
            let verdict = strict_verdict(&case);
            assert_all_agree(&[&case], &[verdict]);
            let mut batch: Vec<&Case> = fillers.iter().take(valid).collect();
            batch.insert(position.index(batch.len() + 1), &case);
            let expected: Vec<bool> = batch
                .iter()
                .map(|c| !std::ptr::eq(*c, &case) || verdict)
                .collect();
            assert_all_agree(&batch, &expected);
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

/// A pool with several of every kind, and random mixtures of it (repetitions included).
#[test]
fn random_mixtures_of_every_kind_get_the_strict_verdicts() {
    let pool: Vec<Case> = (0..KINDS * 12)
        .map(|n| generate(n % KINDS, 1_000 + n as u64))
        .chain(valid_cases(48, 12))
        .collect();
    // The pool has teeth: each mixed-order kind has accepted and refused members where it can.
    let accepted = |kind: usize| {
        pool.iter()
            .enumerate()
            .filter(|(n, case)| *n < KINDS * 12 && n % KINDS == kind && strict_verdict(case))
            .count()
    };
    assert_eq!(accepted(0), 12, "valid");
    assert_eq!(accepted(2), 0, "R + T");
    assert!(accepted(3) >= 10, "A + T ground: {}", accepted(3));
    assert!(accepted(4) < 12, "A + T, any k: {}", accepted(4));
    assert!(accepted(5) >= 10, "R + T and A + T ground: {}", accepted(5));
    for kind in [1, 6, 7, 8] {
        assert_eq!(accepted(kind), 0, "kind {kind} is refused");
    }
    assert_random_mixtures_agree(&pool, 96, 48);
}

/// More than `Method::Auto`'s batch threshold and more than one chunk of valid signatures,
/// with signatures of every kind spread through them.
#[test]
fn large_batches_with_every_kind_stay_exact() {
    let valid = valid_cases(ledger_core::signing::BATCH_CHUNK_SIGNATURES_MAX + 400, 48);
    let odd: Vec<Case> = (0..KINDS * 3)
        .map(|n| generate(n % KINDS, 7_000 + n as u64))
        .collect();
    let mut batch: Vec<&Case> = valid.iter().collect();
    for (n, case) in odd.iter().enumerate() {
        batch.insert((n * 163 + 11) % batch.len(), case);
    }
    let expected: Vec<bool> = batch.iter().map(|case| strict_verdict(case)).collect();
    assert!(expected.iter().filter(|v| !**v).count() >= KINDS * 3 / 2);
    assert_all_agree(&batch, &expected);
}
