//! CCTV Ed25519 edge cases through `ledger_core::signing`.
//!
//! Vectors: `testdata/cctv-ed25519/ed25519vectors.json` and its flag descriptions
//! `testdata/cctv-ed25519/README.upstream.md`, copied verbatim from C2SP/CCTV @
//! 1e3d2860d46e94e777e1b17c7a6f2436387e3ecc, `ed25519/` (BSD-3-Clause). 914 cases whose `R` or
//! `A` is of low order, has a low-order component, or is non-canonically encoded.
//!
//! The upstream README states the verdict of ed25519-dalek `verify_strict`: it rejects every
//! `low_order_A` and `low_order_R` vector and, by extension, every flag except
//! `low_order_component_A` and `low_order_component_R`. So a vector is accepted exactly when its
//! flags are a subset of those two; `accept_set_is_pinned_per_flag_class` holds the oracle to
//! that, and the other tests hold every entry point of `ledger_core::signing` to the oracle.

mod signing_support;

use serde::Deserialize;
use signing_support::{
    assert_all_agree, assert_random_mixtures_agree, hex_array, strict_verdict, testdata,
    valid_cases, Case,
};

#[derive(Deserialize)]
struct Vector {
    number: u32,
    key: String,
    sig: String,
    msg: String,
    flags: Option<Vec<String>>,
}

const ACCEPTABLE_FLAGS: [&str; 2] = ["low_order_component_A", "low_order_component_R"];

const REJECTED_FLAGS: [&str; 6] = [
    "low_order_A",
    "low_order_R",
    "non_canonical_A",
    "non_canonical_R",
    "low_order_residue",
    "reencoded_k",
];

fn load() -> Vec<(Vec<String>, Case)> {
    let vectors: Vec<Vector> =
        serde_json::from_str(&testdata("cctv-ed25519/ed25519vectors.json")).expect("json");
    assert_eq!(vectors.len(), 914);
    vectors
        .into_iter()
        .map(|v| {
            let flags = v.flags.unwrap_or_default();
            let case = Case {
                label: format!("cctv #{} {flags:?}", v.number),
                public_key: hex_array(&v.key),
                message: v.msg.into_bytes(),
                signature: hex_array(&v.sig),
            };
            (flags, case)
        })
        .collect()
}

fn cases() -> Vec<Case> {
    load().into_iter().map(|(_, case)| case).collect()
}

#[test]
fn accept_set_is_pinned_per_flag_class() {
    let mut accepted = 0;
    for (flags, case) in load() {
        for flag in &flags {
            let known = ACCEPTABLE_FLAGS.contains(&flag.as_str())
                || REJECTED_FLAGS.contains(&flag.as_str());
            assert!(known, "{}: flag {flag} not described upstream", case.label);
        }
        let acceptable = flags
            .iter()
            .all(|flag| ACCEPTABLE_FLAGS.contains(&flag.as_str()));
        assert_eq!(strict_verdict(&case), acceptable, "{}", case.label);
        accepted += usize::from(acceptable);
    }
    // 1 unflagged, 7 with only low_order_component_A, 35 with both component flags.
    assert_eq!(accepted, 43);
}

#[test]
fn each_case_alone_gets_the_strict_verdict() {
    for case in cases() {
        assert_all_agree(&[&case], &[strict_verdict(&case)]);
    }
}

#[test]
fn all_cases_in_one_batch_get_the_strict_verdicts() {
    let cases = cases();
    let refs: Vec<&Case> = cases.iter().collect();
    let expected: Vec<bool> = cases.iter().map(strict_verdict).collect();
    assert_all_agree(&refs, &expected);
}

#[test]
fn random_mixtures_with_valid_signatures_get_the_strict_verdicts() {
    let mut pool = cases();
    pool.extend(valid_cases(128, 8));
    assert_random_mixtures_agree(&pool, 128, 64);
}

/// The accepted vectors only (mixed-order keys and `R`s whose torsion cancels), with valid
/// signatures: a batch must keep every one of them.
#[test]
fn accepted_edge_cases_stay_accepted_in_batches() {
    let mut pool: Vec<Case> = cases().into_iter().filter(strict_verdict).collect();
    assert_eq!(pool.len(), 43);
    pool.extend(valid_cases(32, 4));
    let refs: Vec<&Case> = pool.iter().collect();
    assert_all_agree(&refs, &vec![true; refs.len()]);
}
