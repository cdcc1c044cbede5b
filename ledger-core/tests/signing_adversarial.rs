//! Constructed signatures that a naive random-linear-combination batch gets wrong.
//!
//! A key holder signs with `R' = [r]B + T`, `T` of small order (2, 4 or 8), computing `k` over
//! the bytes of `R'` and `s = r + k*a`. Then `[s]B - [k]A - R' = -T`: `verify_strict` rejects
//! (the recompressed `[s]B - [k]A` is `[r]B`, not `R'`), but a cofactorless batch with random
//! coefficient `z` sees `-zT`, which vanishes whenever `ord(T)` divides `z`, and two such
//! signatures can cancel. The small-order points are the canonical encodings listed in
//! `testdata/cctv-ed25519/README.upstream.md` (C2SP/CCTV @ 1e3d2860d46e, `ed25519/README.md`),
//! copied here as constants and checked for their order.

mod signing_support;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use ed25519_dalek::{Signature, VerifyingKey};
use ledger_core::signing;
use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha512};
use signing_support::{assert_all_agree, seeded_runner, strict_verdict, valid_cases, Case};

/// Canonical encodings of the small-order points of orders 2, 4 and 8, with their order.
const SMALL_ORDER: [(&str, u64); 7] = [
    (
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        2,
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000000",
        4,
    ),
    (
        "0000000000000000000000000000000000000000000000000000000000000080",
        4,
    ),
    (
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        8,
    ),
    (
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        8,
    ),
    (
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        8,
    ),
    (
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        8,
    ),
];

fn small_order_point(index: usize) -> EdwardsPoint {
    let bytes = signing_support::hex_array(SMALL_ORDER[index].0);
    CompressedEdwardsY(bytes)
        .decompress()
        .expect("a curve point")
}

/// A signature by the holder of `secret` whose `R` carries the torsion point `torsion`.
fn forge(secret: &[u8; 32], nonce: &[u8; 32], torsion: &EdwardsPoint, message: &[u8]) -> Case {
    let a = Scalar::from_bytes_mod_order(*secret);
    let public_key = EdwardsPoint::mul_base(&a).compress().to_bytes();
    let r = Scalar::from_bytes_mod_order(*nonce);
    let r_bytes = (EdwardsPoint::mul_base(&r) + torsion).compress().to_bytes();
    let mut hash = Sha512::new();
    hash.update(r_bytes);
    hash.update(public_key);
    hash.update(message);
    let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
    let s = r + k * a;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r_bytes);
    signature[32..].copy_from_slice(s.as_bytes());
    Case {
        label: format!("R + T, T = {}", torsion.compress().to_bytes()[0]),
        public_key,
        message: message.to_vec(),
        signature,
    }
}

/// The naive batch: ed25519-dalek `verify_batch` as is.
fn naive_batch_accepts(cases: &[&Case]) -> bool {
    let messages: Vec<&[u8]> = cases.iter().map(|c| c.message.as_slice()).collect();
    let signatures: Vec<Signature> = cases
        .iter()
        .map(|c| Signature::from_bytes(&c.signature))
        .collect();
    let keys: Option<Vec<VerifyingKey>> = cases
        .iter()
        .map(|c| VerifyingKey::from_bytes(&c.public_key).ok())
        .collect();
    keys.is_some_and(|keys| ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok())
}

#[test]
fn small_order_points_have_the_stated_order() {
    for (index, &(hex, order)) in SMALL_ORDER.iter().enumerate() {
        let point = small_order_point(index);
        assert!((Scalar::from(order) * point).is_identity(), "{hex}");
        assert!(!(Scalar::from(order / 2) * point).is_identity(), "{hex}");
    }
}

#[test]
fn the_construction_without_torsion_is_a_valid_signature() {
    let case = forge(&[7; 32], &[9; 32], &EdwardsPoint::default(), b"honest");
    assert!(strict_verdict(&case));
    assert_all_agree(&[&case], &[true]);
}

/// For every small-order point and many seeds: rejected alone and inside batches of valid
/// signatures (some from the forger's own key), wherever it sits.
#[test]
fn forged_signatures_are_rejected_alone_and_in_batches() {
    let strategy = (
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        0..SMALL_ORDER.len(),
        0usize..64,
        any::<prop::sample::Index>(),
    );
    let fillers = valid_cases(64, 8);
    seeded_runner(96)
        .run(&strategy, |(secret, nonce, torsion, valid, position)| {
            let forged = forge(
                &secret,
                &nonce,
                &small_order_point(torsion),
                b"forged event",
            );
            let honest = forge(&secret, &nonce, &EdwardsPoint::default(), b"honest event");
            prop_assert!(
                !strict_verdict(&forged),
                "verify_strict rejects {}",
                forged.label
            );
            prop_assert!(strict_verdict(&honest));
            assert_all_agree(&[&forged], &[false]);
            let mut batch: Vec<&Case> = fillers.iter().take(valid).collect();
            batch.push(&honest);
            batch.insert(position.index(batch.len() + 1), &forged);
            let expected: Vec<bool> = batch.iter().map(|c| !std::ptr::eq(*c, &forged)).collect();
            assert_all_agree(&batch, &expected);
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

/// Two forged signatures whose torsion parts cancel (`T` and `-T`), with valid ones.
#[test]
fn cancelling_pairs_are_rejected() {
    let fillers = valid_cases(16, 4);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    for torsion in 0..SMALL_ORDER.len() {
        for _ in 0..8 {
            let (mut secret, mut nonce) = ([0u8; 32], [0u8; 32]);
            rng.fill_bytes(&mut secret);
            rng.fill_bytes(&mut nonce);
            let t = small_order_point(torsion);
            let plus = forge(&secret, &nonce, &t, b"plus");
            let minus = forge(&nonce, &secret, &-t, b"minus");
            let mut batch: Vec<&Case> = fillers.iter().collect();
            batch.insert(3, &plus);
            batch.push(&minus);
            let expected: Vec<bool> = batch
                .iter()
                .map(|c| !std::ptr::eq(*c, &plus) && !std::ptr::eq(*c, &minus))
                .collect();
            assert_all_agree(&batch, &expected);
        }
    }
}

/// The test has teeth: over 64 seeds, ed25519-dalek's naive `verify_batch` accepts a batch
/// holding a forged signature for every order of `T`, while `verify_strict` never does.
#[test]
fn the_naive_batch_accepts_some_forgeries() {
    let fillers = valid_cases(8, 2);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xbad_5eed);
    for torsion in [0, 1, 3] {
        let mut naive_accepted = 0;
        for seed in 0..64 {
            let (mut secret, mut nonce) = ([0u8; 32], [0u8; 32]);
            rng.fill_bytes(&mut secret);
            rng.fill_bytes(&mut nonce);
            let message = format!("forged {seed}");
            let forged = forge(
                &secret,
                &nonce,
                &small_order_point(torsion),
                message.as_bytes(),
            );
            assert!(!strict_verdict(&forged));
            let mut batch: Vec<&Case> = fillers.iter().collect();
            batch.push(&forged);
            naive_accepted += usize::from(naive_batch_accepts(&batch));
            let verdicts = ledger_core::signing::verify_all(
                &batch.iter().map(|c| c.check()).collect::<Vec<_>>(),
            );
            assert_eq!(verdicts.last(), Some(&false));
        }
        let order = SMALL_ORDER[torsion].1;
        assert!(
            naive_accepted > 0,
            "order {order}: the naive batch never accepted"
        );
        println!(
            "order {order}: naive verify_batch accepted {naive_accepted} of 64 forged batches"
        );
    }
}

/// Inputs large enough for `Method::Auto` (and so `verify_all`) to batch, and larger than one
/// chunk: all valid, then with forged signatures of each order spread over the chunks.
#[test]
fn large_inputs_stay_exact_across_chunks() {
    let valid = valid_cases(signing::BATCH_CHUNK_SIGNATURES_MAX + 100, 16);
    let all: Vec<&Case> = valid.iter().collect();
    assert_all_agree(&all, &vec![true; all.len()]);
    let forged: Vec<Case> = (0..3)
        .map(|t| {
            let secret = [u8::try_from(t).unwrap_or(0) + 40; 32];
            forge(
                &secret,
                &[77; 32],
                &small_order_point(t * 3),
                b"forged in a crowd",
            )
        })
        .collect();
    let mut mixed = all.clone();
    for (n, case) in forged.iter().enumerate() {
        mixed.insert(n * (all.len() / 3) + 17, case);
    }
    let expected: Vec<bool> = mixed
        .iter()
        .map(|c| !forged.iter().any(|f| std::ptr::eq(*c, f)))
        .collect();
    assert_eq!(expected.iter().filter(|v| !**v).count(), 3);
    assert_all_agree(&mixed, &expected);
}
