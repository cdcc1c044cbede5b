//! Wycheproof Ed25519 verification vectors through `ledger_core::signing`.
//!
//! Vectors: `testdata/wycheproof/ed25519_test.json`, copied verbatim from C2SP/wycheproof @
//! dac1dd4729fd1f8dd9e1e9f3dce51d783da6c166, `testvectors_v1/ed25519_test.json` (Apache-2.0):
//! 151 cases, 88 valid and 63 invalid.
//!
//! Finding (checked by `strict_verdict_equals_wycheproof_result_on_all_151`): ed25519-dalek
//! `verify_strict` agrees with Wycheproof's `result` on every case; there is no case where
//! `verify_strict` is stricter than Wycheproof's "valid". The 12 cases whose signature is not
//! 64 bytes long are invalid in Wycheproof and cannot be expressed as a `SigCheck` (its
//! signature is a `[u8; 64]`): the caller's decoder refuses them.

mod signing_support;

use serde::Deserialize;
use signing_support::{
    assert_all_agree, assert_random_mixtures_agree, hex_array, strict_verdict, testdata,
    valid_cases, Case,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    number_of_tests: usize,
    test_groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    public_key: GroupKey,
    tests: Vec<Test>,
}

#[derive(Deserialize)]
struct GroupKey {
    pk: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Test {
    tc_id: u32,
    comment: String,
    msg: String,
    sig: String,
    result: String,
}

/// Every test: its Wycheproof verdict, and the case when the signature is 64 bytes long.
fn load() -> Vec<(u32, bool, Option<Case>)> {
    let file: File = serde_json::from_str(&testdata("wycheproof/ed25519_test.json")).expect("json");
    let mut out = Vec::new();
    for group in &file.test_groups {
        for test in &group.tests {
            let valid = match test.result.as_str() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {}: unexpected result {other:?}", test.tc_id),
            };
            let signature = hex::decode(&test.sig).expect("hex sig");
            let case = <[u8; 64]>::try_from(signature).ok().map(|signature| Case {
                label: format!("tcId {} {}", test.tc_id, test.comment),
                public_key: hex_array(&group.public_key.pk),
                message: hex::decode(&test.msg).expect("hex msg"),
                signature,
            });
            out.push((test.tc_id, valid, case));
        }
    }
    assert_eq!(out.len(), file.number_of_tests);
    assert_eq!(out.len(), 151);
    out
}

fn expressible() -> Vec<Case> {
    load().into_iter().filter_map(|(_, _, case)| case).collect()
}

#[test]
fn strict_verdict_equals_wycheproof_result_on_all_151() {
    let all = load();
    assert_eq!(all.iter().filter(|(_, valid, _)| *valid).count(), 88);
    let mut odd_lengths = 0;
    for (tc_id, valid, case) in &all {
        match case {
            Some(case) => assert_eq!(strict_verdict(case), *valid, "tcId {tc_id}"),
            None => {
                assert!(
                    !valid,
                    "tcId {tc_id}: a signature not 64 bytes long is invalid"
                );
                odd_lengths += 1;
            }
        }
    }
    assert_eq!(odd_lengths, 12);
}

#[test]
fn each_case_alone_gets_the_strict_verdict() {
    for case in expressible() {
        assert_all_agree(&[&case], &[strict_verdict(&case)]);
    }
}

#[test]
fn all_cases_in_one_batch_get_the_strict_verdicts() {
    let cases = expressible();
    let refs: Vec<&Case> = cases.iter().collect();
    let expected: Vec<bool> = cases.iter().map(strict_verdict).collect();
    assert_all_agree(&refs, &expected);
}

#[test]
fn random_mixtures_with_valid_signatures_get_the_strict_verdicts() {
    let mut pool = expressible();
    pool.extend(valid_cases(64, 4));
    assert_random_mixtures_agree(&pool, 128, 48);
}
