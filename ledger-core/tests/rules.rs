//! The contract rules of proto/SPEC.md section 6, data-driven: each case is
//! `given(events).when(envelope)` and either `accepts` or `rejects(RuleViolation::..)`, with
//! one accept and at least one reject per rule (`every_rule_has_an_accept_and_a_reject_case`
//! enumerates the codes). Expected numbers are worked out by hand from the programme in
//! `support/mod.rs` (prices in pence: housed-3m 50 000, housed-6m 150 000, housed-12m 300 000).
//!
//! Every case runs twice: the given events in one batch and the new envelope in another, then
//! everything in one batch (so keys registered earlier in a batch resolve for later events).

mod support;

use ed25519_dalek::SigningKey;
use ledger_core::error::Operation;
use ledger_core::projection::KeyStatus;
use ledger_core::{ClaimStatus, ContractState, ErrorClass, Ledger, Rejection, RuleViolation};
use proto::ids::INT_MAX;
use proto::payload::{ClaimSubmitted, ContractRegistered, Decision, Party, Period, Stance};
use proto::{Body, EventId, Kind, Role};
use support::*;

const CONTRACT: &str = "homes-first";

enum Expect {
    Accepts(&'static str),
    Rejects(RuleViolation),
}

struct Case {
    given: Vec<Vec<u8>>,
    when: Vec<u8>,
    expect: Expect,
}

fn accepts(rule: &'static str, given: &Stream, when: Draft) -> Case {
    Case {
        given: given.envelopes.clone(),
        when: when.seal(),
        expect: Expect::Accepts(rule),
    }
}

fn rejects(given: &Stream, when: Draft, violation: RuleViolation) -> Case {
    rejects_bytes(given.envelopes.clone(), when.seal(), violation)
}

fn rejects_bytes(given: Vec<Vec<u8>>, when: Vec<u8>, violation: RuleViolation) -> Case {
    Case {
        given,
        when,
        expect: Expect::Rejects(violation),
    }
}

/// A ledger holding `events`, each of which must be admitted.
fn given(events: &[Vec<u8>]) -> Ledger {
    let mut ledger = Ledger::new();
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    for (index, result) in ledger.append_batch(&refs, 2).into_iter().enumerate() {
        if let Err(rejection) = result {
            panic!("given event {index} refused: {rejection}");
        }
    }
    ledger
}

fn run(case: Case) {
    // The given events in one batch, then the new one.
    let mut ledger = given(&case.given);
    let before = ledger.contracts().cloned().collect::<Vec<ContractState>>();
    let alone = ledger.append_batch(&[case.when.as_slice()], 1).remove(0);
    // Everything in one batch.
    let mut all: Vec<&[u8]> = case.given.iter().map(Vec::as_slice).collect();
    all.push(&case.when);
    let batched = Ledger::new()
        .append_batch(&all, 2)
        .pop()
        .expect("one result per envelope");
    assert_eq!(
        alone.is_ok(),
        batched.is_ok(),
        "batching changed the verdict"
    );
    match (case.expect, alone, batched) {
        (Expect::Accepts(_), Ok(admitted), Ok(_)) => {
            assert_eq!(admitted.index, case.given.len() as u64);
            assert_eq!(ledger.size(), case.given.len() as u64 + 1);
        }
        (Expect::Rejects(expected), Err(alone), Err(batched)) => {
            assert_eq!(alone, Rejection::Rule(expected));
            assert_eq!(alone, batched);
            let after = ledger.contracts().cloned().collect::<Vec<ContractState>>();
            assert_eq!(before, after, "a refused event changed the ledger");
            assert_eq!(ledger.size(), case.given.len() as u64);
        }
        (Expect::Accepts(rule), Err(rejection), _) => {
            panic!("expected an accept ({rule}), got {rejection}")
        }
        (Expect::Rejects(expected), Ok(_), _) => panic!("expected {expected:?}, got an accept"),
        (_, _, _) => unreachable!("verdicts agree"),
    }
}

// ---- scenario helpers ----

fn registered() -> Stream {
    Stream::registered(CONTRACT)
}

fn with(body: ContractRegistered) -> Stream {
    Stream::registered_with(CONTRACT, body)
}

/// The programme with one change.
fn programme_with(change: impl FnOnce(&mut ContractRegistered)) -> ContractRegistered {
    let mut body = programme();
    change(&mut body);
    body
}

const EVERYONE: [Who; 7] = [
    Who::Commissioner,
    Who::Provider,
    Who::Verifier,
    Who::Intermediary,
    Who::InvestorA,
    Who::InvestorB,
    Who::Rep,
];

/// A registration of `body` on a fresh contract, signed by each distinct party key.
fn registration(contract: &str, body: ContractRegistered) -> Draft {
    let mut signers: Vec<Who> = EVERYONE
        .into_iter()
        .chain([Who::Outsider])
        .filter(|who| body.parties.iter().any(|p| p.key == who.public()))
        .collect();
    signers.dedup();
    Stream::new(contract)
        .draft(Who::Commissioner, Body::ContractRegistered(body))
        .signed_by(&signers)
}

fn nowhere() -> Stream {
    Stream::new("nowhere")
}

fn other_id() -> EventId {
    EventId::from_bytes([7; 32])
}

/// Registered, with a claim of `quantity` units of housed-3m.
fn claimed(quantity: u64) -> (Stream, EventId) {
    let mut s = registered();
    let c = s.add(Who::Provider, claim("housed-3m", quantity));
    (s, c)
}

/// ... verified for `units`.
fn verified(quantity: u64, units: u64) -> (Stream, EventId) {
    let (mut s, c) = claimed(quantity);
    s.add(Who::Verifier, verify(c, units));
    (s, c)
}

/// ... and paid (50 000 a unit).
fn paid(quantity: u64, units: u64) -> (Stream, EventId) {
    let (mut s, c) = verified(quantity, units);
    s.add(Who::Commissioner, pay(&[(c, 50_000 * units)]));
    (s, c)
}

/// ... with an open dispute on it.
fn disputed(s: &mut Stream, c: EventId) -> EventId {
    s.add(Who::Rep, dispute(c))
}

fn claim_with(quantity: u64, participants: &[u64], from: &str, to: &str) -> Body {
    Body::ClaimSubmitted(ClaimSubmitted {
        outcome: outcome("housed-3m"),
        period: Period {
            from: text(from),
            to: text(to),
        },
        quantity: int(quantity),
        participants: participants.iter().copied().map(pseudonym).collect(),
        evidence: Vec::new(),
    })
}

fn rotated() -> Stream {
    let mut s = registered();
    let d = s.draft(Who::Provider, rotate(Who::Provider, Who::Fresh(1)));
    s.push(d.signed_by(&[Who::Provider, Who::Fresh(1)]));
    s
}

/// The commissioner and the first other parties: a strict majority (4) of the six parties
/// other than `party` (SPEC.md 6.1 "quorum").
fn quorum(party: Who) -> Vec<Who> {
    EVERYONE
        .into_iter()
        .filter(|w| *w != party)
        .take(4)
        .collect()
}

/// ... and `new`, the key that becomes the party's.
fn quorum_and(party: Who, new: Who) -> Vec<Who> {
    let mut signers = quorum(party);
    signers.push(new);
    signers
}

/// Registered, with `who`'s key revoked (by a quorum, without a successor).
fn revoked(who: Who) -> Stream {
    let mut s = registered();
    let d = s.draft(Who::Commissioner, revoke(who.id()));
    s.push(d.signed_by(&quorum(who)));
    s
}

/// Registered, with `who`'s key revoked and `successor` in its place.
fn succeeded(who: Who, successor: Who) -> Stream {
    let mut s = registered();
    let d = s.draft(Who::Commissioner, revoke_to(who.id(), successor));
    s.push(d.signed_by(&quorum_and(who, successor)));
    s
}

fn closed_with_claim() -> (Stream, EventId) {
    let (mut s, c) = claimed(2);
    s.add(Who::Commissioner, close());
    (s, c)
}

fn amended(s: &Stream, prices: &[(&str, u64)]) -> Draft {
    s.draft(Who::Commissioner, amend(prices))
        .signed_by(&AMENDERS)
}

macro_rules! cases {
    ($($name:ident => $case:expr,)*) => {
        $(
            #[test]
            fn $name() {
                run($case)
            }
        )*

        fn all_cases() -> Vec<(&'static str, Case)> {
            vec![$((stringify!($name), $case)),*]
        }
    };
}

cases! {
    // ---- 6.1 chain ----
    duplicate_accept => {
        let mut s = registered();
        s.add(Who::Rep, feedback(None, Some("housed-3m"), Stance::Comment));
        accepts("duplicate", &s, s.draft(Who::Rep, feedback(None, None, Stance::Affirms)))
    },
    duplicate_reject => {
        let mut s = registered();
        let d = s.draft(Who::Rep, feedback(None, None, Stance::Comment));
        let id = s.push(d.clone());
        rejects(&s, d, RuleViolation::Duplicate { id })
    },
    duplicate_registration_reject => {
        let s = registered();
        let again = s.envelopes[0].clone();
        rejects_bytes(s.envelopes.clone(), again, RuleViolation::Duplicate { id: s.head_id() })
    },
    seq_conflict_accept => {
        let s = registered();
        accepts("seq-conflict", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    seq_conflict_reject_ahead => {
        let s = registered();
        let d = s.draft(Who::Provider, claim("housed-3m", 1)).seq(2);
        rejects(&s, d, RuleViolation::SeqConflict { expected: 1, got: 2, head: Some(s.head_id()) })
    },
    seq_conflict_reject_behind => {
        let (s, _) = claimed(1);
        let d = s.draft(Who::Provider, claim("housed-6m", 1)).seq(1);
        rejects(&s, d, RuleViolation::SeqConflict { expected: 2, got: 1, head: Some(s.head_id()) })
    },
    prev_mismatch_accept => {
        let (s, _) = claimed(1);
        accepts("prev-mismatch", &s, s.draft(Who::Provider, claim("housed-6m", 1)))
    },
    prev_mismatch_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, claim("housed-3m", 1)).prev(Some(other_id()));
        rejects(&s, d, RuleViolation::PrevMismatch { expected: Some(s.head_id()), got: Some(other_id()) })
    },
    prev_mismatch_reject_null_after_zero => {
        let s = registered();
        let d = s.draft(Who::Provider, claim("housed-3m", 1)).prev(None);
        rejects(&s, d, RuleViolation::PrevMismatch { expected: Some(s.head_id()), got: None })
    },
    prev_mismatch_reject_registration_with_prev => {
        let d = registration("fresh", programme()).prev(Some(other_id()));
        rejects(&Stream::new("fresh"), d, RuleViolation::PrevMismatch { expected: None, got: Some(other_id()) })
    },
    already_registered_accept => {
        let s = registered();
        accepts("already-registered", &s, registration("homes-first-leeds", programme()))
    },
    already_registered_reject => {
        let s = registered();
        let body = programme_with(|b| b.title = text("Homes First, second attempt"));
        let contract = text(CONTRACT);
        rejects(&s, registration(CONTRACT, body), RuleViolation::AlreadyRegistered { contract })
    },
    unknown_contract_accept => {
        let s = registered();
        accepts("unknown-contract", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    unknown_contract_reject => {
        let s = registered();
        let d = nowhere().draft(Who::Provider, claim("housed-3m", 1)).seq(1).prev(Some(other_id()));
        rejects(&s, d, RuleViolation::UnknownContract { contract: text("nowhere") })
    },
    first_event_not_registration_accept => {
        accepts("first-event-not-registration", &nowhere(), registration("nowhere", programme()))
    },
    first_event_not_registration_reject => {
        let d = nowhere().draft(Who::Provider, claim("housed-3m", 1));
        rejects(&nowhere(), d, RuleViolation::FirstEventNotRegistration { kind: Kind::ClaimSubmitted })
    },
    registration_not_at_seq_0_accept => {
        accepts("registration-not-at-seq-0", &nowhere(), registration("nowhere", programme()))
    },
    registration_not_at_seq_0_reject => {
        let d = registration("nowhere", programme()).seq(1).prev(Some(other_id()));
        rejects(&nowhere(), d, RuleViolation::RegistrationNotAtZero { seq: 1 })
    },
    registration_not_at_seq_0_reject_existing => {
        let s = registered();
        let d = registration(CONTRACT, programme()).seq(1).prev(Some(s.head_id()));
        rejects(&s, d, RuleViolation::RegistrationNotAtZero { seq: 1 })
    },

    // ---- 6.1 signers and author ----
    invalid_signature_accept => {
        let s = registered();
        accepts("invalid-signature", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    invalid_signature_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, claim("housed-3m", 1)).signed_by(&[]).forged_by(&[Who::Provider]);
        rejects(&s, d, RuleViolation::InvalidSignature { key: Who::Provider.id() })
    },
    invalid_signature_reject_registration => {
        let d = registration("fresh", programme())
            .signed_by(&EVERYONE[..6])
            .forged_by(&[Who::Rep]);
        rejects(&Stream::new("fresh"), d, RuleViolation::InvalidSignature { key: Who::Rep.id() })
    },
    missing_signature_accept => {
        let s = registered();
        accepts("missing-signature", &s, amended(&s, &[("housed-3m", 60_000)]))
    },
    missing_signature_reject => {
        let s = registered();
        let d = amended(&s, &[("housed-3m", 60_000)])
            .signed_by(&[Who::Commissioner, Who::Provider, Who::InvestorA]);
        rejects(&s, d, RuleViolation::MissingSignature { key: Who::InvestorB.id() })
    },
    missing_signature_reject_registration => {
        let d = registration("fresh", programme()).signed_by(&EVERYONE[..6]);
        rejects(&Stream::new("fresh"), d, RuleViolation::MissingSignature { key: Who::Rep.id() })
    },
    missing_signature_reject_rotation_new_key => {
        let s = registered();
        let d = s.draft(Who::Provider, rotate(Who::Provider, Who::Fresh(1)));
        rejects(&s, d, RuleViolation::MissingSignature { key: Who::Fresh(1).id() })
    },
    extra_signature_accept => {
        let s = registered();
        accepts("extra-signature", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    extra_signature_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, claim("housed-3m", 1)).signed_by(&[Who::Provider, Who::Verifier]);
        rejects(&s, d, RuleViolation::ExtraSignature { key: Who::Verifier.id() })
    },
    unknown_signer_accept => {
        let s = registered();
        accepts("unknown-signer", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    unknown_signer_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, claim("housed-3m", 1)).signed_by(&[Who::Provider, Who::Outsider]);
        rejects(&s, d, RuleViolation::UnknownSigner { key: Who::Outsider.id() })
    },
    unknown_author_accept => {
        let s = registered();
        accepts("unknown-author", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    unknown_author_reject => {
        let s = registered();
        let d = s.draft(Who::Outsider, claim("housed-3m", 1));
        rejects(&s, d, RuleViolation::UnknownAuthor { author: Who::Outsider.id() })
    },
    unknown_author_reject_registration => {
        let d = registration("fresh", programme()).authored_by(Who::Outsider);
        rejects(&Stream::new("fresh"), d, RuleViolation::UnknownAuthor { author: Who::Outsider.id() })
    },
    wrong_role_accept => {
        let s = registered();
        accepts("wrong-role", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    wrong_role_reject => {
        let s = registered();
        let d = s.draft(Who::Verifier, claim("housed-3m", 1));
        rejects(&s, d, RuleViolation::WrongRole { kind: Kind::ClaimSubmitted, role: Role::Verifier })
    },
    wrong_role_reject_payment_by_investor => {
        let (s, c) = verified(1, 1);
        let d = s.draft(Who::InvestorA, pay(&[(c, 50_000)]));
        rejects(&s, d, RuleViolation::WrongRole { kind: Kind::PaymentMade, role: Role::Investor })
    },
    retired_key_accept => {
        let s = rotated();
        accepts("retired-key", &s, s.draft(Who::Fresh(1), claim("housed-3m", 1)))
    },
    retired_key_reject => {
        let s = rotated();
        let d = s.draft(Who::Provider, claim("housed-3m", 1));
        rejects(&s, d, RuleViolation::RetiredKey { key: Who::Provider.id() })
    },
    retired_key_reject_as_cosigner => {
        let s = rotated();
        let d = s.draft(Who::Fresh(1), claim("housed-3m", 1)).signed_by(&[Who::Fresh(1), Who::Provider]);
        rejects(&s, d, RuleViolation::RetiredKey { key: Who::Provider.id() })
    },
    revoked_key_accept => {
        let s = revoked(Who::Intermediary);
        accepts("revoked-key", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    revoked_key_reject => {
        let s = revoked(Who::InvestorA);
        let d = amended(&s, &[("housed-3m", 60_000)]).authored_by(Who::InvestorA);
        rejects(&s, d, RuleViolation::RevokedKey { key: Who::InvestorA.id() })
    },
    revoked_key_reject_as_cosigner => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Provider, claim("housed-3m", 1)).signed_by(&[Who::Provider, Who::InvestorB]);
        rejects(&s, d, RuleViolation::RevokedKey { key: Who::InvestorB.id() })
    },
    revoked_key_reject_as_quorum_member => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Commissioner, revoke(Who::Intermediary.id()))
            .signed_by(&[Who::Commissioner, Who::Provider, Who::Verifier, Who::InvestorA, Who::InvestorB]);
        rejects(&s, d, RuleViolation::RevokedKey { key: Who::InvestorB.id() })
    },

    // ---- 6.1 consent: parties, not keys (issue 9, finding 2) ----
    party_without_key_accept => {
        let s = succeeded(Who::InvestorB, Who::Fresh(1));
        let d = amended(&s, &[("housed-3m", 60_000)])
            .signed_by(&[Who::Commissioner, Who::Provider, Who::InvestorA, Who::Fresh(1)]);
        accepts("party-without-key", &s, d)
    },
    party_without_key_reject => {
        let s = revoked(Who::InvestorB);
        let d = amended(&s, &[("housed-3m", 60_000)])
            .signed_by(&[Who::Commissioner, Who::Provider, Who::InvestorA]);
        rejects(&s, d, RuleViolation::PartyWithoutKey { party: 5, role: Role::Investor })
    },
    party_without_key_reject_even_with_the_revoked_key => {
        let s = revoked(Who::InvestorB);
        let d = amended(&s, &[("housed-3m", 60_000)]);
        rejects(&s, d, RuleViolation::PartyWithoutKey { party: 5, role: Role::Investor })
    },
    party_without_key_reject_the_revoked_party_as_author => {
        let s = revoked(Who::Provider);
        let d = s.draft(Who::Provider, claim("housed-3m", 1));
        rejects(&s, d, RuleViolation::RevokedKey { key: Who::Provider.id() })
    },
    no_quorum_accept => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::InvestorB.id()));
        accepts("no-quorum", &s, d.signed_by(&quorum(Who::InvestorB)))
    },
    no_quorum_reject_commissioner_alone => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::InvestorB.id()));
        rejects(&s, d, RuleViolation::NoQuorum { signed: 1, needed: 4, parties: 6 })
    },
    no_quorum_reject_half => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::InvestorB.id()))
            .signed_by(&[Who::Commissioner, Who::Provider, Who::Verifier]);
        rejects(&s, d, RuleViolation::NoQuorum { signed: 3, needed: 4, parties: 6 })
    },
    no_quorum_reject_keyless_parties_still_count => {
        // Investor B has no key: it cannot sign, but it is still one of the six others.
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Commissioner, revoke(Who::Intermediary.id()))
            .signed_by(&[Who::Commissioner, Who::Provider, Who::Verifier]);
        rejects(&s, d, RuleViolation::NoQuorum { signed: 3, needed: 4, parties: 6 })
    },
    no_quorum_reject_the_party_itself_signing => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::InvestorB.id()))
            .signed_by(&quorum_and(Who::InvestorB, Who::InvestorB));
        rejects(&s, d, RuleViolation::ExtraSignature { key: Who::InvestorB.id() })
    },
    no_quorum_reject_the_successor_does_not_count => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke_to(Who::InvestorB.id(), Who::Fresh(1)))
            .signed_by(&[Who::Commissioner, Who::Provider, Who::Verifier, Who::Fresh(1)]);
        rejects(&s, d, RuleViolation::NoQuorum { signed: 3, needed: 4, parties: 6 })
    },
    no_quorum_reject_enrolment => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Commissioner, enrol(Who::InvestorB.id(), Who::Fresh(2)))
            .signed_by(&[Who::Commissioner, Who::Fresh(2)]);
        rejects(&s, d, RuleViolation::NoQuorum { signed: 1, needed: 4, parties: 6 })
    },
    no_quorum_reject_enrolment_invalid_signature => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Commissioner, enrol(Who::InvestorB.id(), Who::Fresh(2)))
            .signed_by(&[Who::Commissioner, Who::Provider, Who::Verifier, Who::Fresh(2)])
            .forged_by(&[Who::Intermediary]);
        rejects(&s, d, RuleViolation::InvalidSignature { key: Who::Intermediary.id() })
    },
    missing_signature_reject_successor => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke_to(Who::InvestorB.id(), Who::Fresh(1)))
            .signed_by(&quorum(Who::InvestorB));
        rejects(&s, d, RuleViolation::MissingSignature { key: Who::Fresh(1).id() })
    },
    missing_signature_reject_enrolled_key => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Commissioner, enrol(Who::InvestorB.id(), Who::Fresh(2)))
            .signed_by(&quorum(Who::InvestorB));
        rejects(&s, d, RuleViolation::MissingSignature { key: Who::Fresh(2).id() })
    },
    missing_signature_reject_quorum_without_the_author => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::InvestorB.id()))
            .signed_by(&[Who::Provider, Who::Verifier, Who::Intermediary, Who::InvestorA]);
        rejects(&s, d, RuleViolation::MissingSignature { key: Who::Commissioner.id() })
    },
    last_key_of_role_accept => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke_to(Who::Verifier.id(), Who::Fresh(3)));
        accepts("last-key-of-role", &s, d.signed_by(&quorum_and(Who::Verifier, Who::Fresh(3))))
    },
    last_key_of_role_accept_second_verifier => {
        let body = programme_with(|b| b.parties.push(Party {
            key: Who::Outsider.public(),
            role: Role::Verifier,
            name: text("Second Opinion Evaluation LLP"),
        }));
        let mut s = Stream::new(CONTRACT);
        s.push(registration(CONTRACT, body));
        let signers = [Who::Commissioner, Who::Provider, Who::Intermediary, Who::InvestorA];
        let d = s.draft(Who::Commissioner, revoke(Who::Verifier.id())).signed_by(&signers);
        accepts("last-key-of-role", &s, d)
    },
    last_key_of_role_reject_only_verifier => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::Verifier.id())).signed_by(&quorum(Who::Verifier));
        rejects(&s, d, RuleViolation::LastKeyOfRole { key: Who::Verifier.id(), role: Role::Verifier })
    },
    last_key_of_role_reject_beneficiary_rep => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::Rep.id())).signed_by(&quorum(Who::Rep));
        rejects(&s, d, RuleViolation::LastKeyOfRole { key: Who::Rep.id(), role: Role::BeneficiaryRep })
    },
    party_has_key_accept => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Commissioner, enrol(Who::InvestorB.id(), Who::Fresh(2)));
        accepts("party-has-key", &s, d.signed_by(&quorum_and(Who::InvestorB, Who::Fresh(2))))
    },
    party_has_key_reject => {
        let s = registered();
        let d = s.draft(Who::Commissioner, enrol(Who::InvestorA.id(), Who::Fresh(2)))
            .signed_by(&quorum_and(Who::InvestorA, Who::Fresh(2)));
        rejects(&s, d, RuleViolation::PartyHasKey { key: Who::InvestorA.id(), current: Who::InvestorA.id() })
    },
    party_has_key_reject_after_a_successor => {
        let s = succeeded(Who::InvestorB, Who::Fresh(1));
        let d = s.draft(Who::Commissioner, enrol(Who::InvestorB.id(), Who::Fresh(2)))
            .signed_by(&quorum_and(Who::InvestorB, Who::Fresh(2)));
        rejects(&s, d, RuleViolation::PartyHasKey { key: Who::InvestorB.id(), current: Who::Fresh(1).id() })
    },
    unknown_party_key_accept => {
        let s = revoked(Who::Provider);
        let d = s.draft(Who::Commissioner, enrol(Who::Provider.id(), Who::Fresh(2)));
        accepts("unknown-party-key", &s, d.signed_by(&quorum_and(Who::Provider, Who::Fresh(2))))
    },
    unknown_party_key_reject => {
        let s = revoked(Who::Provider);
        let d = s.draft(Who::Commissioner, enrol(Who::Outsider.id(), Who::Fresh(2)))
            .signed_by(&quorum_and(Who::Provider, Who::Fresh(2)));
        rejects(&s, d, RuleViolation::UnknownPartyKey { key: Who::Outsider.id() })
    },
    wrong_role_reject_enrolment_by_provider => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Provider, enrol(Who::InvestorB.id(), Who::Fresh(2)))
            .signed_by(&[Who::Provider, Who::Commissioner, Who::Verifier, Who::Intermediary, Who::Fresh(2)]);
        rejects(&s, d, RuleViolation::WrongRole { kind: Kind::KeyEnrolled, role: Role::Provider })
    },
    key_reused_reject_successor => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke_to(Who::InvestorB.id(), Who::InvestorA))
            .signed_by(&quorum(Who::InvestorB));
        rejects(&s, d, RuleViolation::KeyReused { key: Who::InvestorA.id() })
    },
    key_reused_reject_enrolled_old_key => {
        let s = revoked(Who::InvestorB);
        let d = s.draft(Who::Commissioner, enrol(Who::InvestorB.id(), Who::InvestorB))
            .signed_by(&quorum_and(Who::InvestorB, Who::InvestorB));
        rejects(&s, d, RuleViolation::KeyReused { key: Who::InvestorB.id() })
    },
    successor_signs_for_its_party => {
        let s = succeeded(Who::Provider, Who::Fresh(1));
        accepts("revoked-key", &s, s.draft(Who::Fresh(1), claim("housed-3m", 1)))
    },
    enrolled_key_signs_for_its_party => {
        let mut s = revoked(Who::Provider);
        let d = s.draft(Who::Commissioner, enrol(Who::Provider.id(), Who::Fresh(2)));
        s.push(d.signed_by(&quorum_and(Who::Provider, Who::Fresh(2))));
        let d = amended(&s, &[("housed-3m", 60_000)])
            .signed_by(&[Who::Commissioner, Who::Fresh(2), Who::InvestorA, Who::InvestorB]);
        accepts("party-without-key", &s, d)
    },

    // ---- 6.1 closed ----
    contract_closed_accept => {
        let (s, c) = closed_with_claim();
        accepts("contract-closed", &s, s.draft(Who::Rep, dispute(c)))
    },
    contract_closed_accept_feedback => {
        let (s, c) = closed_with_claim();
        accepts("contract-closed", &s, s.draft(Who::Rep, feedback(Some(c), None, Stance::Contests)))
    },
    contract_closed_reject => {
        let (s, _) = closed_with_claim();
        let d = s.draft(Who::Provider, claim("housed-3m", 1));
        rejects(&s, d, RuleViolation::ContractClosed { kind: Kind::ClaimSubmitted })
    },
    contract_closed_reject_payment => {
        let (mut s, c) = claimed(1);
        s.add(Who::Verifier, verify(c, 1));
        s.add(Who::Commissioner, close());
        let d = s.draft(Who::Commissioner, pay(&[(c, 50_000)]));
        rejects(&s, d, RuleViolation::ContractClosed { kind: Kind::PaymentMade })
    },

    // ---- contract.registered ----
    commissioner_count_accept => {
        accepts("commissioner-count", &nowhere(), registration("nowhere", programme()))
    },
    commissioner_count_reject => {
        let body = programme_with(|b| b.parties[5].role = Role::Commissioner);
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::CommissionerCount { count: 2 })
    },
    missing_role_accept => {
        let body = programme_with(|b| b.parties.truncate(3));
        accepts("missing-role", &nowhere(), registration("nowhere", body))
    },
    missing_role_reject => {
        let body = programme_with(|b| { b.parties.remove(2); });
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::MissingRole { role: Role::Verifier })
    },
    missing_role_reject_provider => {
        let body = programme_with(|b| { b.parties.remove(1); });
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::MissingRole { role: Role::Provider })
    },
    intermediary_count_accept => {
        let body = programme_with(|b| { b.parties.remove(3); });
        accepts("intermediary-count", &nowhere(), registration("nowhere", body))
    },
    intermediary_count_reject => {
        let body = programme_with(|b| b.parties[5].role = Role::Intermediary);
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::IntermediaryCount { count: 2 })
    },
    duplicate_party_key_accept => {
        accepts("duplicate-party-key", &nowhere(), registration("nowhere", programme()))
    },
    duplicate_party_key_reject => {
        let body = programme_with(|b| b.parties.push(Party {
            key: Who::InvestorA.public(),
            role: Role::Investor,
            name: text("Civic Capital Fund II"),
        }));
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::DuplicatePartyKey { key: Who::InvestorA.id() })
    },
    no_outcomes_accept => {
        let body = programme_with(|b| b.outcomes.truncate(1));
        accepts("no-outcomes", &nowhere(), registration("nowhere", body))
    },
    no_outcomes_reject => {
        let body = programme_with(|b| b.outcomes.clear());
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::NoOutcomes)
    },
    duplicate_outcome_accept => {
        accepts("duplicate-outcome", &nowhere(), registration("nowhere", programme()))
    },
    duplicate_outcome_reject => {
        let body = programme_with(|b| b.outcomes[2].id = outcome("housed-3m"));
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::DuplicateOutcome { outcome: outcome("housed-3m") })
    },
    duplicate_outcome_reject_amendment => {
        let s = registered();
        let d = amended(&s, &[("housed-6m", 1), ("housed-6m", 2)]);
        rejects(&s, d, RuleViolation::DuplicateOutcome { outcome: outcome("housed-6m") })
    },
    term_reversed_accept => {
        let body = programme_with(|b| b.end = text("2025-01-01"));
        accepts("term-reversed", &nowhere(), registration("nowhere", body))
    },
    term_reversed_reject => {
        let body = programme_with(|b| b.start = text("2028-01-01"));
        let violation = RuleViolation::TermReversed { start: text("2028-01-01"), end: text("2027-12-31") };
        rejects(&nowhere(), registration("nowhere", body), violation)
    },
    zero_price_accept => {
        let body = programme_with(|b| b.outcomes[2].price = int(1));
        accepts("zero-price", &nowhere(), registration("nowhere", body))
    },
    zero_price_reject => {
        let body = programme_with(|b| b.outcomes[2].price = int(0));
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::ZeroPrice { outcome: outcome("housed-12m") })
    },
    zero_price_reject_amendment => {
        let s = registered();
        rejects(&s, amended(&s, &[("housed-6m", 0)]), RuleViolation::ZeroPrice { outcome: outcome("housed-6m") })
    },
    zero_cap_accept => {
        let body = programme_with(|b| b.cap = int(1));
        accepts("zero-cap", &nowhere(), registration("nowhere", body))
    },
    zero_cap_reject => {
        let body = programme_with(|b| b.cap = int(0));
        rejects(&nowhere(), registration("nowhere", body), RuleViolation::ZeroCap)
    },

    // ---- contract.amended ----
    no_prices_accept => {
        let s = registered();
        accepts("no-prices", &s, amended(&s, &[("housed-12m", 320_000)]))
    },
    no_prices_reject => {
        let s = registered();
        rejects(&s, amended(&s, &[]), RuleViolation::NoPrices)
    },
    unknown_outcome_accept => {
        let s = registered();
        accepts("unknown-outcome", &s, amended(&s, &[("housed-6m", 160_000)]))
    },
    unknown_outcome_reject => {
        let s = registered();
        let d = amended(&s, &[("housed-24m", 400_000)]);
        rejects(&s, d, RuleViolation::UnknownOutcome { outcome: outcome("housed-24m") })
    },
    unknown_outcome_reject_claim => {
        let s = registered();
        let d = s.draft(Who::Provider, claim("employed-13w", 1));
        rejects(&s, d, RuleViolation::UnknownOutcome { outcome: outcome("employed-13w") })
    },
    unknown_outcome_reject_feedback => {
        let s = registered();
        let d = s.draft(Who::Rep, feedback(None, Some("employed-13w"), Stance::Comment));
        rejects(&s, d, RuleViolation::UnknownOutcome { outcome: outcome("employed-13w") })
    },

    // ---- key.rotated / key.revoked ----
    rotation_not_by_owner_accept => {
        let s = registered();
        let d = s.draft(Who::Provider, rotate(Who::Provider, Who::Fresh(1)));
        accepts("rotation-not-by-owner", &s, d.signed_by(&[Who::Provider, Who::Fresh(1)]))
    },
    rotation_not_by_owner_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, rotate(Who::Verifier, Who::Fresh(1)))
            .signed_by(&[Who::Provider, Who::Fresh(1)]);
        rejects(&s, d, RuleViolation::RotationNotByOwner { old: Who::Verifier.id(), author: Who::Provider.id() })
    },
    key_reused_accept => {
        let s = rotated();
        let d = s.draft(Who::Fresh(1), rotate(Who::Fresh(1), Who::Fresh(2)));
        accepts("key-reused", &s, d.signed_by(&[Who::Fresh(1), Who::Fresh(2)]))
    },
    key_reused_reject_other_party => {
        let s = registered();
        let d = s.draft(Who::Provider, rotate(Who::Provider, Who::InvestorA))
            .signed_by(&[Who::Provider, Who::InvestorA]);
        rejects(&s, d, RuleViolation::KeyReused { key: Who::InvestorA.id() })
    },
    key_reused_reject_own_old_key => {
        let s = rotated();
        let d = s.draft(Who::Fresh(1), rotate(Who::Fresh(1), Who::Provider))
            .signed_by(&[Who::Fresh(1), Who::Provider]);
        rejects(&s, d, RuleViolation::KeyReused { key: Who::Provider.id() })
    },
    revoke_not_current_accept => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::Intermediary.id()));
        accepts("revoke-not-current", &s, d.signed_by(&quorum(Who::Intermediary)))
    },
    revoke_not_current_reject => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::Outsider.id()));
        rejects(&s, d, RuleViolation::RevokeNotCurrent { key: Who::Outsider.id() })
    },
    revoke_not_current_reject_retired => {
        let s = rotated();
        let d = s.draft(Who::Commissioner, revoke(Who::Provider.id()));
        rejects(&s, d, RuleViolation::RevokeNotCurrent { key: Who::Provider.id() })
    },
    self_revocation_accept => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::Provider.id()));
        accepts("self-revocation", &s, d.signed_by(&quorum(Who::Provider)))
    },
    self_revocation_reject => {
        let s = registered();
        let d = s.draft(Who::Commissioner, revoke(Who::Commissioner.id()));
        rejects(&s, d, RuleViolation::SelfRevocation { key: Who::Commissioner.id() })
    },

    // ---- claim.submitted ----
    zero_quantity_accept => {
        let s = registered();
        accepts("zero-quantity", &s, s.draft(Who::Provider, claim("housed-3m", 1)))
    },
    zero_quantity_reject => {
        let s = registered();
        rejects(&s, s.draft(Who::Provider, claim("housed-3m", 0)), RuleViolation::ZeroQuantity)
    },
    zero_quantity_reject_verification => {
        let (s, c) = claimed(2);
        rejects(&s, s.draft(Who::Verifier, verify(c, 0)), RuleViolation::ZeroQuantity)
    },
    period_reversed_accept => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(1, &[1], "2025-05-05", "2025-05-05"));
        accepts("period-reversed", &s, d)
    },
    period_reversed_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(1, &[1], "2025-06-30", "2025-04-01"));
        rejects(&s, d, RuleViolation::PeriodReversed { from: text("2025-06-30"), to: text("2025-04-01") })
    },
    period_outside_term_accept => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(1, &[1], "2025-01-01", "2027-12-31"));
        accepts("period-outside-term", &s, d)
    },
    period_outside_term_reject_after => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(1, &[1], "2027-12-01", "2028-01-31"));
        let violation = RuleViolation::PeriodOutsideTerm {
            date: text("2028-01-31"),
            start: text("2025-01-01"),
            end: text("2027-12-31"),
        };
        rejects(&s, d, violation)
    },
    period_outside_term_reject_before => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(1, &[1], "2024-12-31", "2025-03-31"));
        let violation = RuleViolation::PeriodOutsideTerm {
            date: text("2024-12-31"),
            start: text("2025-01-01"),
            end: text("2027-12-31"),
        };
        rejects(&s, d, violation)
    },
    duplicate_participant_accept => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(2, &[1, 2], "2025-04-01", "2025-06-30"));
        accepts("duplicate-participant", &s, d)
    },
    duplicate_participant_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(2, &[1, 1], "2025-04-01", "2025-06-30"));
        rejects(&s, d, RuleViolation::DuplicateParticipant { participant: pseudonym(1) })
    },
    too_many_participants_accept => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(2, &[1, 2], "2025-04-01", "2025-06-30"));
        accepts("too-many-participants", &s, d)
    },
    too_many_participants_reject => {
        let s = registered();
        let d = s.draft(Who::Provider, claim_with(2, &[1, 2, 3], "2025-04-01", "2025-06-30"));
        rejects(&s, d, RuleViolation::TooManyParticipants { participants: 3, quantity: 2 })
    },

    // ---- claim.verified / claim.rejected / claim.disputed ----
    unknown_claim_accept => {
        let (s, c) = claimed(2);
        accepts("unknown-claim", &s, s.draft(Who::Verifier, verify(c, 2)))
    },
    unknown_claim_reject => {
        let (s, _) = claimed(2);
        let d = s.draft(Who::Verifier, verify(other_id(), 2));
        rejects(&s, d, RuleViolation::UnknownClaim { claim: other_id() })
    },
    unknown_claim_reject_other_contract => {
        let (other, c) = {
            let mut o = Stream::registered("homes-first-leeds");
            let c = o.add(Who::Provider, claim("housed-3m", 1));
            (o, c)
        };
        let s = registered();
        let mut given = other.envelopes.clone();
        given.extend(s.envelopes.iter().cloned());
        let when = s.draft(Who::Verifier, verify(c, 1)).seal();
        rejects_bytes(given, when, RuleViolation::UnknownClaim { claim: c })
    },
    unknown_claim_reject_dispute => {
        let s = registered();
        rejects(&s, s.draft(Who::Rep, dispute(other_id())), RuleViolation::UnknownClaim { claim: other_id() })
    },
    unknown_claim_reject_feedback => {
        let s = registered();
        let d = s.draft(Who::Rep, feedback(Some(other_id()), None, Stance::Affirms));
        rejects(&s, d, RuleViolation::UnknownClaim { claim: other_id() })
    },
    unknown_claim_reject_payment => {
        let s = registered();
        let d = s.draft(Who::Commissioner, pay(&[(other_id(), 50_000)]));
        rejects(&s, d, RuleViolation::UnknownClaim { claim: other_id() })
    },
    claim_not_pending_accept => {
        let (s, c) = claimed(2);
        accepts("claim-not-pending", &s, s.draft(Who::Verifier, reject(c)))
    },
    claim_not_pending_reject_verified_twice => {
        let (s, c) = verified(2, 2);
        let d = s.draft(Who::Verifier, verify(c, 1));
        rejects(&s, d, RuleViolation::ClaimNotPending { claim: c, status: ClaimStatus::Verified })
    },
    claim_not_pending_reject_rejected => {
        let (mut s, c) = claimed(2);
        s.add(Who::Verifier, reject(c));
        let d = s.draft(Who::Verifier, reject(c));
        rejects(&s, d, RuleViolation::ClaimNotPending { claim: c, status: ClaimStatus::Rejected })
    },
    over_claimed_accept => {
        let (s, c) = claimed(3);
        accepts("over-claimed", &s, s.draft(Who::Verifier, verify(c, 3)))
    },
    over_claimed_reject => {
        let (s, c) = claimed(3);
        let d = s.draft(Who::Verifier, verify(c, 4));
        rejects(&s, d, RuleViolation::OverClaimed { claim: c, claimed: 3, requested: 4 })
    },
    over_claimed_reject_adjusted => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        let d = s.draft(Who::Verifier, resolve(x, Decision::Adjusted, Some(4)));
        rejects(&s, d, RuleViolation::OverClaimed { claim: c, claimed: 3, requested: 4 })
    },
    dispute_open_accept => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        s.add(Who::Verifier, resolve(x, Decision::Overturned, None));
        accepts("dispute-open", &s, s.draft(Who::Provider, dispute(c)))
    },
    dispute_open_reject => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        let d = s.draft(Who::Provider, dispute(c));
        rejects(&s, d, RuleViolation::DisputeOpen { claim: c, dispute: x })
    },
    dispute_open_reject_payment => {
        let (mut s, c) = verified(3, 3);
        let x = disputed(&mut s, c);
        let d = s.draft(Who::Commissioner, pay(&[(c, 150_000)]));
        rejects(&s, d, RuleViolation::DisputeOpen { claim: c, dispute: x })
    },

    // ---- dispute.resolved ----
    unknown_dispute_accept => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        accepts("unknown-dispute", &s, s.draft(Who::Verifier, resolve(x, Decision::Upheld, None)))
    },
    unknown_dispute_reject => {
        let (mut s, c) = claimed(3);
        disputed(&mut s, c);
        let d = s.draft(Who::Verifier, resolve(c, Decision::Upheld, None));
        rejects(&s, d, RuleViolation::UnknownDispute { dispute: c })
    },
    dispute_not_open_accept => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        accepts("dispute-not-open", &s, s.draft(Who::Verifier, resolve(x, Decision::Adjusted, Some(2))))
    },
    dispute_not_open_reject => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        s.add(Who::Verifier, resolve(x, Decision::Overturned, None));
        let d = s.draft(Who::Verifier, resolve(x, Decision::Upheld, None));
        rejects(&s, d, RuleViolation::DisputeNotOpen { dispute: x })
    },
    adjusted_without_quantity_accept => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        accepts("adjusted-without-quantity", &s, s.draft(Who::Verifier, resolve(x, Decision::Adjusted, Some(1))))
    },
    adjusted_without_quantity_reject => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        let d = s.draft(Who::Verifier, resolve(x, Decision::Adjusted, None));
        rejects(&s, d, RuleViolation::AdjustedWithoutQuantity)
    },
    quantity_without_adjusted_accept => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        accepts("quantity-without-adjusted", &s, s.draft(Who::Verifier, resolve(x, Decision::Upheld, None)))
    },
    quantity_without_adjusted_reject => {
        let (mut s, c) = claimed(3);
        let x = disputed(&mut s, c);
        let d = s.draft(Who::Verifier, resolve(x, Decision::Upheld, Some(1)));
        rejects(&s, d, RuleViolation::QuantityWithoutAdjusted { decision: Decision::Upheld })
    },
    over_paid_units_accept => {
        let (mut s, c) = paid(5, 3);
        let x = disputed(&mut s, c);
        accepts("over-paid-units", &s, s.draft(Who::Verifier, resolve(x, Decision::Adjusted, Some(3))))
    },
    over_paid_units_reject => {
        let (mut s, c) = paid(5, 3);
        let x = disputed(&mut s, c);
        let d = s.draft(Who::Verifier, resolve(x, Decision::Adjusted, Some(4)));
        rejects(&s, d, RuleViolation::OverPaidUnits { claim: c, paid_units: 3, requested: 4 })
    },

    // ---- payment.made ----
    no_lines_accept => {
        let (s, c) = verified(3, 3);
        accepts("no-lines", &s, s.draft(Who::Commissioner, pay(&[(c, 150_000)])))
    },
    no_lines_reject => {
        let (s, _) = verified(3, 3);
        rejects(&s, s.draft(Who::Commissioner, pay(&[])), RuleViolation::NoLines)
    },
    duplicate_line_accept => {
        let (mut s, c) = verified(3, 3);
        let c2 = s.add(Who::Provider, claim("housed-6m", 1));
        s.add(Who::Verifier, verify(c2, 1));
        accepts("duplicate-line", &s, s.draft(Who::Commissioner, pay(&[(c, 150_000), (c2, 150_000)])))
    },
    duplicate_line_reject => {
        let (s, c) = verified(3, 3);
        let d = s.draft(Who::Commissioner, pay(&[(c, 150_000), (c, 150_000)]));
        rejects(&s, d, RuleViolation::DuplicateLine { claim: c })
    },
    already_paid_accept => {
        let (s, c) = verified(3, 2);
        accepts("already-paid", &s, s.draft(Who::Commissioner, pay(&[(c, 100_000)])))
    },
    already_paid_reject => {
        let (s, c) = paid(3, 2);
        let d = s.draft(Who::Commissioner, pay(&[(c, 100_000)]));
        rejects(&s, d, RuleViolation::AlreadyPaid { claim: c })
    },
    claim_not_verified_accept => {
        let (s, c) = verified(3, 1);
        accepts("claim-not-verified", &s, s.draft(Who::Commissioner, pay(&[(c, 50_000)])))
    },
    claim_not_verified_reject_pending => {
        let (s, c) = claimed(3);
        let d = s.draft(Who::Commissioner, pay(&[(c, 150_000)]));
        rejects(&s, d, RuleViolation::ClaimNotVerified { claim: c, status: ClaimStatus::Pending })
    },
    claim_not_verified_reject_upheld => {
        let (mut s, c) = verified(3, 3);
        let x = disputed(&mut s, c);
        s.add(Who::Verifier, resolve(x, Decision::Upheld, None));
        let d = s.draft(Who::Commissioner, pay(&[(c, 150_000)]));
        rejects(&s, d, RuleViolation::ClaimNotVerified { claim: c, status: ClaimStatus::Rejected })
    },
    amount_mismatch_accept => {
        let (s, c) = verified(3, 3);
        accepts("amount-mismatch", &s, s.draft(Who::Commissioner, pay(&[(c, 150_000)])))
    },
    amount_mismatch_reject => {
        let (s, c) = verified(3, 3);
        let d = s.draft(Who::Commissioner, pay(&[(c, 140_000)]));
        rejects(&s, d, RuleViolation::AmountMismatch { claim: c, expected: 150_000, stated: 140_000 })
    },
    amount_mismatch_accept_price_fixed_at_verification => {
        // Verified at 50 000 a unit; the amendment to 60 000 comes after and does not apply.
        let (mut s, c) = verified(3, 3);
        let d = amended(&s, &[("housed-3m", 60_000)]);
        s.push(d);
        accepts("amount-mismatch", &s, s.draft(Who::Commissioner, pay(&[(c, 150_000)])))
    },
    amount_mismatch_reject_new_price_after_amendment => {
        // Verified after the amendment: 3 x 60 000 = 180 000.
        let (mut s, c) = claimed(3);
        let d = amended(&s, &[("housed-3m", 60_000)]);
        s.push(d);
        s.add(Who::Verifier, verify(c, 3));
        let d = s.draft(Who::Commissioner, pay(&[(c, 150_000)]));
        rejects(&s, d, RuleViolation::AmountMismatch { claim: c, expected: 180_000, stated: 150_000 })
    },
    total_mismatch_accept => {
        let (s, c) = verified(3, 3);
        accepts("total-mismatch", &s, s.draft(Who::Commissioner, pay_in(&[(c, 150_000)], 150_000, "GBP")))
    },
    total_mismatch_reject => {
        let (s, c) = verified(3, 3);
        let d = s.draft(Who::Commissioner, pay_in(&[(c, 150_000)], 150_001, "GBP"));
        rejects(&s, d, RuleViolation::TotalMismatch { expected: 150_000, stated: 150_001 })
    },
    currency_mismatch_accept => {
        let (s, c) = verified(3, 3);
        accepts("currency-mismatch", &s, s.draft(Who::Commissioner, pay_in(&[(c, 150_000)], 150_000, "GBP")))
    },
    currency_mismatch_reject => {
        let (s, c) = verified(3, 3);
        let d = s.draft(Who::Commissioner, pay_in(&[(c, 150_000)], 150_000, "EUR"));
        rejects(&s, d, RuleViolation::CurrencyMismatch { expected: text("GBP"), stated: text("EUR") })
    },
    currency_mismatch_reject_distribution => {
        let (s, _) = paid(3, 3);
        let d = s.draft(Who::Intermediary, distribute_in(Who::InvestorA.id(), 1_000, "EUR"));
        rejects(&s, d, RuleViolation::CurrencyMismatch { expected: text("GBP"), stated: text("EUR") })
    },
    over_outcome_cap_accept => {
        // housed-12m capped at 4 units: 3 + 1 fills it exactly.
        let mut s = with(programme_with(|b| b.outcomes[2].cap_units = int(4)));
        let a = s.add(Who::Provider, claim("housed-12m", 3));
        let b = s.add(Who::Provider, claim("housed-12m", 1));
        s.add(Who::Verifier, verify(a, 3));
        s.add(Who::Verifier, verify(b, 1));
        accepts("over-outcome-cap", &s, s.draft(Who::Commissioner, pay(&[(a, 900_000), (b, 300_000)])))
    },
    over_outcome_cap_reject => {
        let mut s = with(programme_with(|b| b.outcomes[2].cap_units = int(4)));
        let a = s.add(Who::Provider, claim("housed-12m", 3));
        let b = s.add(Who::Provider, claim("housed-12m", 2));
        s.add(Who::Verifier, verify(a, 3));
        s.add(Who::Verifier, verify(b, 2));
        let d = s.draft(Who::Commissioner, pay(&[(a, 900_000), (b, 600_000)]));
        let violation = RuleViolation::OverOutcomeCap {
            outcome: outcome("housed-12m"),
            cap_units: 4,
            paid_units: 0,
            requested_units: 5,
        };
        rejects(&s, d, violation)
    },
    over_outcome_cap_reject_second_payment => {
        let mut s = with(programme_with(|b| b.outcomes[2].cap_units = int(4)));
        let a = s.add(Who::Provider, claim("housed-12m", 3));
        let b = s.add(Who::Provider, claim("housed-12m", 2));
        s.add(Who::Verifier, verify(a, 3));
        s.add(Who::Verifier, verify(b, 2));
        s.add(Who::Commissioner, pay(&[(a, 900_000)]));
        let d = s.draft(Who::Commissioner, pay(&[(b, 600_000)]));
        let violation = RuleViolation::OverOutcomeCap {
            outcome: outcome("housed-12m"),
            cap_units: 4,
            paid_units: 3,
            requested_units: 2,
        };
        rejects(&s, d, violation)
    },
    over_contract_cap_accept => {
        // Cap 200 000: 150 000 paid, then 50 000 fills it exactly.
        let mut s = with(programme_with(|b| b.cap = int(200_000)));
        let a = s.add(Who::Provider, claim("housed-3m", 3));
        let b = s.add(Who::Provider, claim("housed-3m", 1));
        s.add(Who::Verifier, verify(a, 3));
        s.add(Who::Verifier, verify(b, 1));
        s.add(Who::Commissioner, pay(&[(a, 150_000)]));
        accepts("over-contract-cap", &s, s.draft(Who::Commissioner, pay(&[(b, 50_000)])))
    },
    over_contract_cap_reject => {
        let mut s = with(programme_with(|b| b.cap = int(200_000)));
        let a = s.add(Who::Provider, claim("housed-3m", 3));
        let b = s.add(Who::Provider, claim("housed-3m", 2));
        s.add(Who::Verifier, verify(a, 3));
        s.add(Who::Verifier, verify(b, 2));
        s.add(Who::Commissioner, pay(&[(a, 150_000)]));
        let d = s.draft(Who::Commissioner, pay(&[(b, 100_000)]));
        rejects(&s, d, RuleViolation::OverContractCap { cap: 200_000, paid: 150_000, requested: 100_000 })
    },

    // ---- distribution.made ----
    not_an_investor_accept => {
        let (s, _) = paid(3, 3);
        accepts("not-an-investor", &s, s.draft(Who::Intermediary, distribute(Who::InvestorB, 10_000)))
    },
    not_an_investor_reject => {
        let (s, _) = paid(3, 3);
        let d = s.draft(Who::Intermediary, distribute(Who::Provider, 10_000));
        rejects(&s, d, RuleViolation::NotAnInvestor { key: Who::Provider.id() })
    },
    not_an_investor_reject_retired_key => {
        let (mut s, _) = paid(3, 3);
        let d = s.draft(Who::InvestorA, rotate(Who::InvestorA, Who::Fresh(3)));
        s.push(d.signed_by(&[Who::InvestorA, Who::Fresh(3)]));
        let d = s.draft(Who::Intermediary, distribute(Who::InvestorA, 10_000));
        rejects(&s, d, RuleViolation::NotAnInvestor { key: Who::InvestorA.id() })
    },
    zero_amount_accept => {
        let (s, _) = paid(3, 3);
        accepts("zero-amount", &s, s.draft(Who::Intermediary, distribute(Who::InvestorA, 1)))
    },
    zero_amount_reject => {
        let (s, _) = paid(3, 3);
        rejects(&s, s.draft(Who::Intermediary, distribute(Who::InvestorA, 0)), RuleViolation::ZeroAmount)
    },
    over_distribution_accept => {
        let (mut s, _) = paid(3, 3);
        s.add(Who::Intermediary, distribute(Who::InvestorA, 100_000));
        accepts("over-distribution", &s, s.draft(Who::Intermediary, distribute(Who::InvestorB, 50_000)))
    },
    over_distribution_reject => {
        let (mut s, _) = paid(3, 3);
        s.add(Who::Intermediary, distribute(Who::InvestorA, 100_000));
        let d = s.draft(Who::Intermediary, distribute(Who::InvestorB, 50_001));
        rejects(&s, d, RuleViolation::OverDistribution { paid: 150_000, distributed: 100_000, requested: 50_001 })
    },
    over_distribution_reject_nothing_paid => {
        let s = registered();
        let d = s.draft(Who::Intermediary, distribute(Who::InvestorA, 1));
        rejects(&s, d, RuleViolation::OverDistribution { paid: 0, distributed: 0, requested: 1 })
    },

    // ---- every sum and product ----
    overflow_accept => {
        let mut s = with(programme_with(|b| b.outcomes[0].price = int(INT_MAX)));
        let c = s.add(Who::Provider, claim("housed-3m", 2));
        accepts("overflow", &s, s.draft(Who::Verifier, verify(c, 1)))
    },
    overflow_reject => {
        let mut s = with(programme_with(|b| b.outcomes[0].price = int(INT_MAX)));
        let c = s.add(Who::Provider, claim("housed-3m", 2));
        let d = s.draft(Who::Verifier, verify(c, 2));
        rejects(&s, d, RuleViolation::Overflow { operation: Operation::Mul, left: INT_MAX, right: 2 })
    },
    overflow_reject_sum_of_verified_money => {
        let mut s = with(programme_with(|b| b.outcomes[0].price = int(INT_MAX)));
        let a = s.add(Who::Provider, claim("housed-3m", 1));
        let b = s.add(Who::Provider, claim("housed-3m", 1));
        s.add(Who::Verifier, verify(a, 1));
        let d = s.draft(Who::Verifier, verify(b, 1));
        rejects(&s, d, RuleViolation::Overflow { operation: Operation::Add, left: INT_MAX, right: INT_MAX })
    },
}

#[test]
fn every_rule_has_an_accept_and_a_reject_case() {
    let cases = all_cases();
    for code in RuleViolation::CODES {
        let accepted = cases
            .iter()
            .any(|(_, c)| matches!(c.expect, Expect::Accepts(rule) if rule == *code));
        let rejected = cases
            .iter()
            .any(|(_, c)| matches!(&c.expect, Expect::Rejects(v) if v.code() == *code));
        assert!(accepted, "no accept case for rule {code}");
        assert!(rejected, "no reject case for rule {code}");
    }
    for (name, case) in &cases {
        if let Expect::Accepts(rule) = case.expect {
            assert!(
                RuleViolation::CODES.contains(&rule),
                "case {name} names unknown rule {rule}"
            );
        }
    }
}

#[test]
fn codes_are_distinct_kebab_case() {
    let mut codes = RuleViolation::CODES.to_vec();
    for code in &codes {
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{code}"
        );
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), RuleViolation::CODES.len());
}

#[test]
fn classes_map_to_http_statuses() {
    let key = Who::Provider.id();
    let cases = [
        (
            RuleViolation::InvalidSignature { key },
            ErrorClass::BadSignature,
            401,
        ),
        (
            RuleViolation::MissingSignature { key },
            ErrorClass::Forbidden,
            403,
        ),
        (
            RuleViolation::RevokedKey { key },
            ErrorClass::Forbidden,
            403,
        ),
        (
            RuleViolation::SeqConflict {
                expected: 1,
                got: 2,
                head: None,
            },
            ErrorClass::Conflict,
            409,
        ),
        (
            RuleViolation::AlreadyRegistered {
                contract: text("a"),
            },
            ErrorClass::Conflict,
            409,
        ),
        (RuleViolation::ZeroCap, ErrorClass::Unprocessable, 422),
    ];
    for (violation, class, status) in cases {
        assert_eq!(violation.class(), class, "{}", violation.code());
        assert_eq!(Rejection::Rule(violation).class().http_status(), status);
    }
}

#[test]
fn every_code_has_its_class() {
    let conflict = [
        "duplicate",
        "seq-conflict",
        "prev-mismatch",
        "already-registered",
    ];
    let forbidden = [
        "missing-signature",
        "extra-signature",
        "unknown-signer",
        "unknown-author",
        "wrong-role",
        "retired-key",
        "revoked-key",
        "party-without-key",
        "no-quorum",
    ];
    for code in RuleViolation::CODES {
        let expected = if conflict.contains(code) {
            ErrorClass::Conflict
        } else if forbidden.contains(code) {
            ErrorClass::Forbidden
        } else if *code == "invalid-signature" {
            ErrorClass::BadSignature
        } else {
            ErrorClass::Unprocessable
        };
        assert_eq!(RuleViolation::class_of_code(code), Some(expected), "{code}");
    }
    assert_eq!(RuleViolation::class_of_code("no-such-code"), None);
}

#[test]
fn messages_are_lowercase_without_trailing_period() {
    for (name, case) in all_cases() {
        if let Expect::Rejects(violation) = case.expect {
            let message = violation.to_string();
            let first = message.chars().next().unwrap_or('a');
            assert!(!first.is_uppercase(), "{name}: {message}");
            assert!(!message.ends_with('.'), "{name}: {message}");
        }
    }
}

// ---- decoding ----

#[test]
fn non_canonical_payload_is_malformed() {
    let s = registered();
    let d = s.draft(Who::Provider, claim("housed-3m", 1));
    let mut bytes = d.payload.encode();
    bytes.insert(1, b' ');
    let signature = proto::dsse::sign(proto::payload::PAYLOAD_TYPE, &bytes, &Who::Provider.key());
    let envelope = proto::dsse::Envelope::new(proto::payload::PAYLOAD_TYPE, bytes, vec![signature])
        .expect("one signature")
        .to_jcs();
    let mut ledger = given(&s.envelopes);
    let result = ledger.append_batch(&[envelope.as_slice()], 1).remove(0);
    let rejection = result.expect_err("non-canonical payload");
    assert_eq!(rejection.code(), "non-canonical");
    assert_eq!(rejection.class(), ErrorClass::Malformed);
    assert_eq!(ledger.size(), 1);
}

#[test]
fn oversized_envelope_is_too_large() {
    let bytes = vec![b' '; ledger_core::limits::ENVELOPE_BYTES_MAX + 1];
    let rejection = ledger_core::Event::decode(&bytes).expect_err("too large");
    assert_eq!(rejection.code(), "too-large");
    assert_eq!(rejection.class().http_status(), 413);
}

#[test]
fn a_refused_envelope_in_a_batch_does_not_stop_the_next() {
    let (s, c) = claimed(3);
    let bad = s.draft(Who::Verifier, verify(c, 4)).seal();
    let good = s.draft(Who::Verifier, verify(c, 3)).seal();
    let mut ledger = given(&s.envelopes);
    let results = ledger.append_batch(&[bad.as_slice(), b"{}", good.as_slice()], 2);
    assert!(matches!(
        results[0],
        Err(Rejection::Rule(RuleViolation::OverClaimed { .. }))
    ));
    assert_eq!(
        results[1].as_ref().map_err(Rejection::class),
        Err(ErrorClass::Malformed)
    );
    let admitted = results[2].as_ref().expect("the good verification");
    assert_eq!((admitted.index, admitted.seq), (2, 2));
    assert_eq!(ledger.size(), 3);
}

// ---- effects ----

fn state_of(s: &Stream) -> ContractState {
    given(&s.envelopes)
        .contract(&text(CONTRACT))
        .expect("registered")
        .clone()
}

#[test]
fn amendments_price_later_verifications_only() {
    let (mut s, early) = verified(2, 2);
    let late = s.add(Who::Provider, claim("housed-3m", 1));
    let d = amended(&s, &[("housed-3m", 60_000)]);
    s.push(d);
    s.add(Who::Verifier, verify(late, 1));
    let state = state_of(&s);
    assert_eq!(state.claims()[&early].price(), Some(int(50_000)));
    assert_eq!(state.claims()[&late].price(), Some(int(60_000)));
    let housed = state.outcome(&outcome("housed-3m")).expect("outcome");
    assert_eq!(housed.price(), int(60_000));
    // 2 x 50 000 + 1 x 60 000
    assert_eq!(housed.tally().verified_money, int(160_000));
    assert_eq!(state.amendments().len(), 1);
    assert_eq!(state.amendments()[0].prices()[0].old(), int(50_000));
}

#[test]
fn upheld_dispute_on_a_paid_claim_is_a_clawback_due() {
    let (mut s, c) = paid(3, 3);
    let x = disputed(&mut s, c);
    s.add(Who::Verifier, resolve(x, Decision::Upheld, None));
    let state = state_of(&s);
    let claim = &state.claims()[&c];
    assert_eq!(claim.status(), ClaimStatus::Paid);
    assert_eq!(claim.clawback_money(), int(150_000));
    assert_eq!(state.tally().clawback_money, int(150_000));
    assert!(state.disputes()[&x].resolution().is_some());
}

#[test]
fn adjusted_dispute_on_a_paid_claim_claws_back_the_difference() {
    let (mut s, c) = paid(5, 3);
    let x = disputed(&mut s, c);
    s.add(Who::Verifier, resolve(x, Decision::Adjusted, Some(1)));
    // (3 - 1) units x 50 000
    assert_eq!(state_of(&s).tally().clawback_money, int(100_000));
}

#[test]
fn adjusted_dispute_on_a_rejected_claim_verifies_it_at_the_price_in_force() {
    let (mut s, c) = claimed(4);
    s.add(Who::Verifier, reject(c));
    let d = amended(&s, &[("housed-3m", 55_000)]);
    s.push(d);
    let x = s.add(Who::Provider, dispute(c));
    s.add(Who::Verifier, resolve(x, Decision::Adjusted, Some(2)));
    let state = state_of(&s);
    let claim = &state.claims()[&c];
    assert_eq!(
        (claim.status(), claim.verified_units(), claim.price()),
        (ClaimStatus::Verified, int(2), Some(int(55_000)))
    );
    assert_eq!(state.tally().unpaid_money, int(110_000));
    assert_eq!(state.tally().rejected_units, int(0));
}

#[test]
fn upheld_dispute_on_a_verified_claim_rejects_it() {
    let (mut s, c) = verified(4, 4);
    let x = disputed(&mut s, c);
    assert_eq!(state_of(&s).tally().disputed_units, int(4));
    s.add(Who::Verifier, resolve(x, Decision::Upheld, None));
    let state = state_of(&s);
    assert_eq!(state.claims()[&c].status(), ClaimStatus::Rejected);
    assert_eq!(state.tally().verified_units, int(0));
    assert_eq!(state.tally().rejected_units, int(4));
    assert_eq!(state.tally().disputed_units, int(0));
}

#[test]
fn feedback_counts_by_stance_and_claim() {
    let (mut s, c) = claimed(1);
    s.add(Who::Rep, feedback(Some(c), None, Stance::Affirms));
    s.add(Who::Rep, feedback(Some(c), None, Stance::Contests));
    s.add(Who::Rep, feedback(None, Some("housed-6m"), Stance::Comment));
    let state = state_of(&s);
    assert_eq!(
        (
            state.feedback().affirms,
            state.feedback().contests,
            state.feedback().comments
        ),
        (1, 1, 1)
    );
    let on_claim = state.claims()[&c].feedback();
    assert_eq!(
        (on_claim.affirms, on_claim.contests, on_claim.comments),
        (1, 1, 0)
    );
}

#[test]
fn statement_of_a_small_history() {
    let (mut s, a) = paid(4, 4); // 200 000 paid for housed-3m
    let b = s.add(Who::Provider, claim("housed-6m", 2));
    s.add(Who::Verifier, verify(b, 2)); // 300 000 verified, unpaid
    s.add(Who::Intermediary, distribute(Who::InvestorA, 120_000));
    s.add(Who::Intermediary, distribute(Who::InvestorB, 30_000));
    let statement = ledger_core::Statement::of(&state_of(&s));
    assert_eq!(statement.outcomes[0].paid_money, int(200_000));
    assert_eq!(statement.outcomes[0].cap_units_left, int(196));
    assert_eq!(statement.outcomes[1].unpaid_money, int(300_000));
    assert_eq!(statement.verified_money, int(500_000));
    assert_eq!(statement.paid_money, int(200_000));
    assert_eq!(statement.cap_left, int(CAP - 200_000));
    assert_eq!(statement.distributed, int(150_000));
    assert_eq!(statement.retained, int(50_000));
    let investors: Vec<(String, u64)> = statement
        .investors
        .iter()
        .map(|i| (i.name.to_string(), i.distributed.get()))
        .collect();
    assert_eq!(
        investors,
        [
            ("Civic Capital Fund".to_owned(), 120_000),
            ("Northshire Community Foundation".to_owned(), 30_000)
        ]
    );
    assert_eq!(state_of(&s).claims()[&a].status(), ClaimStatus::Paid);
}

#[test]
fn projection_json_round_trips_with_snake_case_and_integer_money() {
    let (s, c) = paid(2, 2);
    let state = state_of(&s);
    let json = serde_json::to_value(&state).expect("serializes");
    assert_eq!(json["tally"]["paid_money"], serde_json::json!(100_000));
    assert_eq!(
        json["claims"][c.to_hex()]["status"],
        serde_json::json!("paid")
    );
    let back: ContractState = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, state);
}

#[test]
fn restore_rebuilds_keys_and_checks_the_size() {
    let (s, _) = paid(2, 2);
    let state = state_of(&s);
    let restored = Ledger::restore([state.clone()], 4).expect("consistent snapshot");
    assert_eq!(restored.size(), 4);
    assert_eq!(restored.keys().len(), 7);
    let wrong = Ledger::restore([state], 5).expect_err("size mismatch");
    assert_eq!(wrong.code(), "snapshot-size-mismatch");
}

#[test]
fn keys_from_fixed_seeds_are_distinct() {
    let ids: std::collections::HashSet<_> = EVERYONE
        .iter()
        .chain(&[Who::Outsider])
        .map(|w| w.id())
        .collect();
    assert_eq!(ids.len(), 8);
    let _unused: SigningKey = Who::Fresh(9).key();
}

#[test]
fn a_clone_is_judged_like_the_original() {
    let (s, c) = claimed(3);
    let mut original = given(&s.envelopes);
    let mut copy = original.clone();
    let next = s.draft(Who::Verifier, verify(c, 2)).seal();
    let a = original
        .append_batch(&[next.as_slice()], 1)
        .remove(0)
        .expect("admitted");
    let b = copy
        .append_batch(&[next.as_slice()], 1)
        .remove(0)
        .expect("admitted");
    assert_eq!(a, b);
    assert_eq!(
        original.contract(&text(CONTRACT)),
        copy.contract(&text(CONTRACT))
    );
}

/// Issue 9, finding 2, as reported: a contract of a commissioner, a provider, an investor and a
/// verifier, price 1000. The commissioner revoked the investor's key and amended with the
/// provider; then revoked the provider's and amended alone (price 1000 -> 2); it could revoke
/// the only verifier, and nothing could enrol a successor. Each step is now refused, and the
/// way back (a successor enrolled by a quorum) works.
#[test]
fn regression_issue_9_revoking_keys_does_not_bypass_consent() {
    let body = programme_with(|b| {
        b.parties = [
            (Who::Commissioner, Role::Commissioner),
            (Who::Provider, Role::Provider),
            (Who::InvestorA, Role::Investor),
            (Who::Verifier, Role::Verifier),
        ]
        .into_iter()
        .map(|(who, role)| Party {
            key: who.public(),
            role,
            name: text(&format!("{who:?}")),
        })
        .collect();
        b.outcomes[0].price = int(1000);
    });
    let mut s = Stream::new("issue-9");
    s.push(registration("issue-9", body));
    let mut ledger = given(&s.envelopes);
    let mut submit = |s: &mut Stream, d: Draft| {
        let result = ledger.append_batch(&[d.seal().as_slice()], 1).remove(0);
        if result.is_ok() {
            s.push(d);
        }
        result.map(drop).map_err(|e| match e {
            Rejection::Rule(v) => v,
            Rejection::Decode(e) => panic!("a test envelope that does not decode: {e}"),
        })
    };
    let to_2 = |s: &Stream, signers: &[Who]| {
        s.draft(Who::Commissioner, amend(&[("housed-3m", 2)]))
            .signed_by(signers)
    };

    // The commissioner alone revokes the investor's key: 1 of the 3 others, 2 needed.
    let d = s.draft(Who::Commissioner, revoke(Who::InvestorA.id()));
    let no_quorum = RuleViolation::NoQuorum {
        signed: 1,
        needed: 2,
        parties: 3,
    };
    assert_eq!(submit(&mut s, d), Err(no_quorum.clone()));
    // With the verifier it has a quorum; the investor's consent is still needed to amend.
    let d = s
        .draft(Who::Commissioner, revoke(Who::InvestorA.id()))
        .signed_by(&[Who::Commissioner, Who::Verifier]);
    assert_eq!(submit(&mut s, d), Ok(()));
    let investor_without_key = RuleViolation::PartyWithoutKey {
        party: 2,
        role: Role::Investor,
    };
    let d = to_2(&s, &[Who::Commissioner, Who::Provider]);
    assert_eq!(submit(&mut s, d), Err(investor_without_key.clone()));
    // Then the provider's key, and an amendment by the commissioner alone.
    let d = s.draft(Who::Commissioner, revoke(Who::Provider.id()));
    assert_eq!(submit(&mut s, d), Err(no_quorum));
    let d = to_2(&s, &[Who::Commissioner]);
    assert_eq!(submit(&mut s, d), Err(investor_without_key));
    // The only verifier: never, even with the provider's signature.
    let d = s
        .draft(Who::Commissioner, revoke(Who::Verifier.id()))
        .signed_by(&[Who::Commissioner, Who::Provider]);
    let last = RuleViolation::LastKeyOfRole {
        key: Who::Verifier.id(),
        role: Role::Verifier,
    };
    assert_eq!(submit(&mut s, d), Err(last));
    // A successor for the investor: refused without a quorum, enrolled with one.
    let d = s
        .draft(Who::Commissioner, enrol(Who::InvestorA.id(), Who::Fresh(9)))
        .signed_by(&[Who::Commissioner, Who::Fresh(9)]);
    let keyless = RuleViolation::NoQuorum {
        signed: 1,
        needed: 2,
        parties: 3,
    };
    assert_eq!(submit(&mut s, d), Err(keyless));
    let d = s
        .draft(Who::Commissioner, enrol(Who::InvestorA.id(), Who::Fresh(9)))
        .signed_by(&[Who::Commissioner, Who::Provider, Who::Fresh(9)]);
    assert_eq!(submit(&mut s, d), Ok(()));
    // The price changes only with everyone's consent, the investor through its successor.
    let d = to_2(&s, &[Who::Commissioner, Who::Provider]);
    let missing = RuleViolation::MissingSignature {
        key: Who::Fresh(9).id(),
    };
    assert_eq!(submit(&mut s, d), Err(missing));
    let d = to_2(&s, &[Who::Commissioner, Who::Provider, Who::Fresh(9)]);
    assert_eq!(submit(&mut s, d), Ok(()));
    let state = ledger.contract(&text("issue-9")).expect("registered");
    assert_eq!(
        state
            .outcome(&outcome("housed-3m"))
            .map(|o| o.price().get()),
        Some(2)
    );
    let investor = &state.parties()[2];
    assert_eq!(investor.key(), Some(&Who::Fresh(9).id()));
    assert_eq!(investor.keys(), [Who::InvestorA.id(), Who::Fresh(9).id()]);
}

/// A successor key receives distributions for its party, and the statement adds them to what
/// the party's old key received.
#[test]
fn an_investor_keeps_its_distributions_across_a_successor_key() {
    let (mut s, _) = paid(2, 2);
    s.add(Who::Intermediary, distribute(Who::InvestorA, 30_000));
    let d = s.draft(
        Who::Commissioner,
        revoke_to(Who::InvestorA.id(), Who::Fresh(4)),
    );
    s.push(d.signed_by(&quorum_and(Who::InvestorA, Who::Fresh(4))));
    s.add(Who::Intermediary, distribute(Who::Fresh(4), 20_000));
    let ledger = given(&s.envelopes);
    let state = ledger.contract(&text(CONTRACT)).expect("registered");
    let statement = ledger_core::Statement::of(state);
    let line = &statement.investors[0];
    assert_eq!(line.keys, [Who::InvestorA.id(), Who::Fresh(4).id()]);
    assert_eq!(line.distributed.get(), 50_000);
    let old = state
        .key(&Who::InvestorA.id())
        .expect("the old key is kept");
    assert_eq!(
        (old.status(), old.until_seq()),
        (KeyStatus::Revoked, Some(5))
    );
    let new = state.key(&Who::Fresh(4).id()).expect("the successor");
    assert_eq!(
        (new.status(), new.since_seq(), new.party()),
        (KeyStatus::Current, 5, 4)
    );
}
