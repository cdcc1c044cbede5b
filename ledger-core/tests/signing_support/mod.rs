//! Helpers shared by the `signing_*` tests: vector loading, the independent oracle (ed25519-dalek
//! `verify_strict` called directly) and the check that every entry point of
//! `ledger_core::signing` returns exactly the oracle's verdicts.

#![allow(dead_code)] // each test crate uses a different part

use ed25519_dalek::{Signature, VerifyingKey};
use ledger_core::signing::{self, KeyCache, Method, SigCheck};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The text of a file under the repository's `testdata/`.
pub(crate) fn testdata(relative: &str) -> String {
    let path = format!("{}/../testdata/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Decodes hex into exactly `N` bytes.
pub(crate) fn hex_array<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).unwrap_or_else(|e| panic!("hex {text:?}: {e}"));
    out
}

/// One signature to check, owning its bytes.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) label: String,
    pub(crate) public_key: [u8; 32],
    pub(crate) message: Vec<u8>,
    pub(crate) signature: [u8; 64],
}

impl Case {
    pub(crate) fn check(&self) -> SigCheck<'_> {
        SigCheck {
            public_key: &self.public_key,
            message: &self.message,
            signature: &self.signature,
        }
    }
}

/// The definition: ed25519-dalek `verify_strict`, called directly (not through the code under
/// test).
pub(crate) fn strict_verdict(case: &Case) -> bool {
    VerifyingKey::from_bytes(&case.public_key).is_ok_and(|key| {
        key.verify_strict(&case.message, &Signature::from_bytes(&case.signature))
            .is_ok()
    })
}

/// Asserts that `verify_one` and every batch entry point (both methods, one and several threads,
/// fresh and warm caches, a cache too small to hold the keys) give `expected`, item by item.
pub(crate) fn assert_all_agree(cases: &[&Case], expected: &[bool]) {
    assert_eq!(cases.len(), expected.len());
    let checks: Vec<SigCheck<'_>> = cases.iter().map(|case| case.check()).collect();
    for (case, (check, &want)) in cases.iter().zip(checks.iter().zip(expected)) {
        assert_eq!(
            signing::verify_one(check),
            want,
            "verify_one on {}",
            case.label
        );
    }
    let mut warm = KeyCache::new(1024);
    let mut tiny = KeyCache::new(1);
    let runs: Vec<(&str, Vec<bool>)> = vec![
        ("verify_all", signing::verify_all(&checks)),
        (
            "verify_all_parallel(2)",
            signing::verify_all_parallel(&checks, 2),
        ),
        ("batch", warm.verify_all_with(&checks, Method::Batch)),
        (
            "batch, warm cache",
            warm.verify_all_with(&checks, Method::Batch),
        ),
        (
            "individual",
            warm.verify_all_with(&checks, Method::Individual),
        ),
        (
            "batch, 3 threads",
            warm.verify_all_parallel_with(&checks, 3, Method::Batch),
        ),
        (
            "batch, 1-key cache",
            tiny.verify_all_with(&checks, Method::Batch),
        ),
    ];
    for (name, verdicts) in runs {
        assert_eq!(verdicts.len(), cases.len(), "{name}: one verdict per check");
        for (case, (&got, &want)) in cases.iter().zip(verdicts.iter().zip(expected)) {
            assert_eq!(
                got,
                want,
                "{name} on {} (batch of {})",
                case.label,
                cases.len()
            );
        }
    }
}

/// Valid signatures from `keys` deterministic keys, made with ed25519-dalek.
pub(crate) fn valid_cases(count: usize, keys: usize) -> Vec<Case> {
    use ed25519_dalek::{Signer, SigningKey};
    (0..count)
        .map(|i| {
            let seed = [u8::try_from(i % keys).unwrap_or(0).wrapping_add(101); 32];
            let signer = SigningKey::from_bytes(&seed);
            let message = format!("valid filler {i}").into_bytes();
            Case {
                label: format!("valid filler {i}"),
                public_key: signer.verifying_key().to_bytes(),
                signature: signer.sign(&message).to_bytes(),
                message,
            }
        })
        .collect()
}

/// A proptest runner with a fixed seed, so every run draws the same cases.
pub(crate) fn seeded_runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Checks random mixtures of `pool` (indices drawn with repetition, in random order, 1 to
/// `batch_max` items) against the oracle's verdicts.
pub(crate) fn assert_random_mixtures_agree(pool: &[Case], batch_max: usize, cases: u32) {
    let expected: Vec<bool> = pool.iter().map(strict_verdict).collect();
    let strategy = proptest::collection::vec(0..pool.len(), 1..=batch_max);
    seeded_runner(cases)
        .run(&strategy, |picks| {
            let cases: Vec<&Case> = picks.iter().map(|&i| &pool[i]).collect();
            let want: Vec<bool> = picks.iter().map(|&i| expected[i]).collect();
            assert_all_agree(&cases, &want);
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
