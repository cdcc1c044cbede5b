//! The contract rules of SPEC.md section 6.
//!
//! Judging an event has two layers. [`validate`] checks everything: the chain, the closed flag,
//! the author and the exact set of signers (with verdicts computed beforehand, so that
//! signatures can be verified in parallel batches), then the rules of the event's kind. The
//! kind rules produce an [`Effect`]: the change to make, with every new sum already computed and
//! checked, so that applying it cannot fail. [`crate::ContractState::apply`] re-runs the chain
//! and kind rules (not the signatures) and asserts they pass.

mod chain;
mod claim;
mod contract;
mod dispute;
mod distribution;
mod feedback;
mod keys;
mod payment;
mod signers;

use proto::{Amount, Body, EventId, KeyId, PublicKey};

use crate::error::RuleViolation;
use crate::event::Event;
use crate::keys::SignatureVerdicts;
use crate::projection::{
    ClaimState, ContractState, DisputeState, FeedbackCounts, PriceChange, Resolution, Tally,
};

pub(crate) use contract::check_registration;

/// Checks `event` against every rule of SPEC.md section 6, given the contract's state (`None`
/// if the contract is not registered) and the verdicts on its signatures.
///
/// # Errors
/// The first [`RuleViolation`] found, in the order: chain, closed, author, signers, the kind's
/// rules.
///
/// # Panics
/// If `signatures` are not the verdicts on `event`'s signatures.
pub fn validate(
    state: Option<&ContractState>,
    event: &Event,
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    judge(state, event, signatures).map(drop)
}

/// What an admitted event does.
// Made once per event and consumed at once: boxing the effect would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Judgement {
    /// It registers a new contract.
    Register,
    /// It changes an existing contract.
    Change(Effect),
}

/// [`validate`], keeping the effect.
pub(crate) fn judge(
    state: Option<&ContractState>,
    event: &Event,
    signatures: &SignatureVerdicts,
) -> Result<Judgement, RuleViolation> {
    assert_eq!(
        signatures.event(),
        event.id(),
        "signature verdicts of another event"
    );
    screen(state, event, signatures)?;
    let Some(state) = state else {
        check_registration(chain::check_first(event)?)?;
        return Ok(Judgement::Register);
    };
    effect(state, event).map(Judgement::Change)
}

/// The rules up to the signer set: chain, closed, author and signers, without the kind's rules.
/// With verdicts presumed from key resolution alone ([`SignatureVerdicts::presumed`]) it needs
/// no signature verified, and it refuses every event that [`validate`] with the real verdicts
/// refuses for one of these rules: a presumed verdict is `Valid` exactly where the real one is
/// `Valid` or `Invalid`, and the checks before the signers do not read verdicts.
///
/// # Errors
/// The first [`RuleViolation`] found, in the order of [`validate`].
pub fn screen(
    state: Option<&ContractState>,
    event: &Event,
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    let Some(state) = state else {
        let body = chain::check_first(event)?;
        return signers::check_registration(event, body, signatures);
    };
    chain::check_next(state, event)?;
    screen_parties(state, event, signatures)
}

/// [`screen`] without the chain position: closed, author and signers against `state`.
///
/// # Errors
/// The first [`RuleViolation`] found.
pub fn screen_parties(
    state: &ContractState,
    event: &Event,
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    chain::check_open(state, event)?;
    signers::check_author(state, event)?;
    signers::check_signers(state, event, signatures)
}

/// The kind's rules for an event after seq 0: its effect, or the rule it breaks.
pub(crate) fn effect(state: &ContractState, event: &Event) -> Result<Effect, RuleViolation> {
    match event.body() {
        Body::ContractRegistered(_) => Err(RuleViolation::AlreadyRegistered {
            contract: event.contract().clone(),
        }),
        Body::ContractAmended(b) => contract::amend(state, b),
        Body::ContractClosed(_) => Ok(Effect::Close),
        Body::KeyRotated(b) => keys::rotate(state, event.author(), b),
        Body::KeyRevoked(b) => keys::revoke(state, event.author(), b),
        Body::KeyEnrolled(b) => keys::enrol(state, b),
        Body::ClaimSubmitted(b) => claim::submit(state, event, b),
        Body::ClaimVerified(b) => claim::verify(state, b),
        Body::ClaimRejected(b) => claim::reject(state, b),
        Body::ClaimDisputed(b) => dispute::open(state, event, b),
        Body::DisputeResolved(b) => dispute::resolve(state, event, b),
        Body::FeedbackRecorded(b) => feedback::record(state, b),
        Body::PaymentMade(b) => payment::pay(state, b),
        Body::DistributionMade(b) => distribution::distribute(state, b),
    }
}

/// The change an event makes, every sum computed and checked.
#[derive(Debug)]
pub(crate) enum Effect {
    /// New prices.
    Amend(Vec<(usize, PriceChange)>),
    /// A party's key replaced.
    Rotate {
        party: usize,
        old: KeyId,
        new: PublicKey,
    },
    /// A key revoked, and the party's successor key if one.
    Revoke {
        key: KeyId,
        successor: Option<PublicKey>,
    },
    /// A successor key for a party without a current key.
    Enrol { party: usize, new: PublicKey },
    /// Claims changed: submitted, verified, rejected or paid.
    Claims(ClaimPlan),
    /// A dispute opened on a claim.
    OpenDispute {
        plan: ClaimPlan,
        id: EventId,
        dispute: DisputeState,
    },
    /// A dispute resolved.
    ResolveDispute {
        plan: ClaimPlan,
        id: EventId,
        resolution: Resolution,
    },
    /// Feedback recorded (on a claim if the plan holds one), and the contract's new counts.
    Feedback {
        plan: ClaimPlan,
        counts: FeedbackCounts,
    },
    /// A payment made.
    Payment(ClaimPlan),
    /// A distribution to an investor.
    Distribution {
        investor: KeyId,
        investor_total: Amount,
        distributed: Amount,
    },
    /// The contract closed.
    Close,
}

/// New states of some claims and the tallies that follow from them.
#[derive(Debug)]
pub(crate) struct ClaimPlan {
    pub(crate) claims: Vec<(EventId, ClaimState)>,
    pub(crate) outcomes: Vec<(usize, Tally)>,
    pub(crate) tally: Tally,
}

impl ClaimPlan {
    pub(crate) fn new(state: &ContractState) -> Self {
        Self {
            claims: Vec::new(),
            outcomes: Vec::new(),
            tally: state.tally,
        }
    }

    /// Plans claim `id` to become `claim`; each claim is put at most once per plan.
    pub(crate) fn put(
        &mut self,
        state: &ContractState,
        id: EventId,
        claim: ClaimState,
    ) -> Result<(), RuleViolation> {
        let old = match state.claims.get(&id) {
            Some(previous) => previous.contribution()?,
            None => Tally::default(),
        };
        let new = claim.contribution()?;
        let outcome =
            state
                .outcome_index(&claim.outcome)
                .ok_or_else(|| RuleViolation::UnknownOutcome {
                    outcome: claim.outcome.clone(),
                })?;
        let slot = match self.outcomes.iter().position(|(i, _)| *i == outcome) {
            Some(slot) => slot,
            None => {
                self.outcomes.push((outcome, state.outcomes[outcome].tally));
                self.outcomes.len() - 1
            }
        };
        let outcome_tally = &mut self.outcomes[slot].1;
        *outcome_tally = outcome_tally.minus(&old)?.plus(&new)?;
        self.tally = self.tally.minus(&old)?.plus(&new)?;
        self.claims.push((id, claim));
        Ok(())
    }
}

/// The claim `id` of `state`.
pub(crate) fn claim<'a>(
    state: &'a ContractState,
    id: &EventId,
) -> Result<&'a ClaimState, RuleViolation> {
    state
        .claims
        .get(id)
        .ok_or(RuleViolation::UnknownClaim { claim: *id })
}

/// The chain and kind rules, without author or signatures: what [`ContractState::apply`]
/// re-checks.
pub(crate) fn chain_and_effect(
    state: &ContractState,
    event: &Event,
) -> Result<Effect, RuleViolation> {
    chain::check_next(state, event)?;
    chain::check_open(state, event)?;
    effect(state, event)
}
