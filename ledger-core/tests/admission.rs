//! Cheap checks before signatures (issue 9, finding 4): an envelope the chain, author or signer
//! set already refuses costs no signature verification, whatever signatures it carries, and
//! the outcome of every event is what the full judgement gives. The count of verifications
//! is `Ledger::signatures_verified`.

mod support;

use ledger_core::{Ledger, Rejection, RuleViolation};
use support::*;

const CONTRACT: &str = "flood";

/// Every party of the programme (all their keys are known to a ledger holding it).
fn everyone() -> Vec<Who> {
    PARTIES.iter().map(|(who, _, _)| *who).collect()
}

fn admitted(ledger: &mut Ledger, envelopes: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
    for (index, result) in ledger.append_batch(&refs, 2).into_iter().enumerate() {
        assert!(result.is_ok(), "envelope {index} refused: {result:?}");
    }
}

fn rule(result: &Result<ledger_core::Admitted, Rejection>) -> &RuleViolation {
    match result {
        Err(Rejection::Rule(violation)) => violation,
        other => panic!("expected a rule violation, got {other:?}"),
    }
}

#[test]
fn a_flood_of_misplaced_or_oversigned_envelopes_verifies_no_signature() {
    let s = Stream::registered(CONTRACT);
    let mut ledger = Ledger::new();
    admitted(&mut ledger, &s.envelopes);
    let before = ledger.signatures_verified();
    // 7 signatures of the registration were verified.
    assert_eq!(before, 7);
    let mut flood = Vec::new();
    for n in 0..128u64 {
        // Wrong seq, signed (wrongly) by every known key.
        let misplaced = s
            .draft(Who::Provider, claim("housed-3m", n + 1))
            .seq(5)
            .signed_by(&[])
            .forged_by(&everyone());
        flood.push(misplaced.seal());
        // Right position, but signers the kind does not ask for, all with wrong signatures.
        let oversigned = s
            .draft(Who::Provider, claim("housed-3m", n + 1))
            .signed_by(&[])
            .forged_by(&everyone());
        flood.push(oversigned.seal());
    }
    let refs: Vec<&[u8]> = flood.iter().map(Vec::as_slice).collect();
    let results = ledger.append_batch(&refs, 2);
    assert_eq!(
        ledger.signatures_verified(),
        before,
        "no signature verified"
    );
    for (index, result) in results.iter().enumerate() {
        let violation = rule(result);
        if index % 2 == 0 {
            assert!(
                matches!(
                    violation,
                    RuleViolation::SeqConflict {
                        expected: 1,
                        got: 5,
                        ..
                    }
                ),
                "{index}: {violation:?}"
            );
        } else {
            assert!(
                matches!(violation, RuleViolation::ExtraSignature { .. }),
                "{index}: {violation:?}"
            );
        }
    }
    assert_eq!(ledger.size(), 1);
}

#[test]
fn a_legitimate_batch_verifies_each_signature_once() {
    let mut s = Stream::registered(CONTRACT);
    let claim_id = s.add(Who::Provider, claim("housed-3m", 2));
    s.add(Who::Verifier, verify(claim_id, 2));
    s.add(Who::Provider, claim("housed-6m", 1));
    let mut ledger = Ledger::new();
    admitted(&mut ledger, &s.envelopes);
    assert_eq!(ledger.signatures_verified(), 7 + 3);
}

#[test]
fn an_event_after_one_refused_for_its_signature_is_judged_as_if_that_one_never_came() {
    let s = Stream::registered(CONTRACT);
    let mut ledger = Ledger::new();
    admitted(&mut ledger, &s.envelopes);
    // Seq 1 with a wrong signature, then another seq 1 that is good, then a seq 2 chained to
    // the refused one: the good one is admitted, the chained one refused.
    let forged = s
        .draft(Who::Provider, claim("housed-3m", 1))
        .signed_by(&[])
        .forged_by(&[Who::Provider]);
    let good = s.draft(Who::Provider, claim("housed-3m", 2));
    let mut after_forged = s.clone();
    after_forged.push(forged.clone());
    let chained = after_forged.draft(Who::Provider, claim("housed-6m", 1));
    let batch = [forged.seal(), good.seal(), chained.seal()];
    let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
    let results = ledger.append_batch(&refs, 2);
    assert!(matches!(
        rule(&results[0]),
        RuleViolation::InvalidSignature { .. }
    ));
    assert_eq!(results[1].as_ref().map(|a| a.seq).ok(), Some(1));
    assert!(matches!(
        rule(&results[2]),
        RuleViolation::PrevMismatch { .. }
    ));
    assert_eq!(ledger.size(), 2);
}

#[test]
fn events_signed_by_a_key_rotated_in_the_same_batch_are_admitted() {
    let mut s = Stream::registered(CONTRACT);
    let rotation = s
        .draft(Who::Provider, rotate(Who::Provider, Who::Fresh(1)))
        .signed_by(&[Who::Provider, Who::Fresh(1)]);
    s.push(rotation);
    s.add(Who::Fresh(1), claim("housed-3m", 1));
    s.add(Who::Fresh(1), claim("housed-6m", 1));
    let mut ledger = Ledger::new();
    admitted(&mut ledger, &s.envelopes);
    // Registration 7, rotation 2, two claims 1 each.
    assert_eq!(ledger.signatures_verified(), 7 + 2 + 2);
    assert_eq!(ledger.size(), 4);
}

#[test]
fn a_new_contract_and_its_events_in_one_batch_are_verified_together_and_admitted() {
    let mut s = Stream::registered(CONTRACT);
    for n in 1..=20 {
        s.add(Who::Provider, claim("housed-3m", n));
    }
    let mut ledger = Ledger::new();
    admitted(&mut ledger, &s.envelopes);
    assert_eq!(ledger.signatures_verified(), 7 + 20);
    assert_eq!(ledger.size(), 21);
}
