//! SPEC.md 6.3 `claim.submitted`, `claim.verified` and `claim.rejected`.

use std::collections::HashSet;

use proto::payload::{ClaimRejected, ClaimSubmitted, ClaimVerified};
use proto::Int;

use super::{claim, ClaimPlan, Effect};
use crate::error::RuleViolation;
use crate::event::Event;
use crate::money;
use crate::projection::{ClaimState, ClaimStatus, ContractState, FeedbackCounts};

/// A claim of at least 1 unit of an outcome of the rate card, for a period within the term,
/// with distinct participants, at most one per unit.
pub(super) fn submit(
    state: &ContractState,
    event: &Event,
    body: &ClaimSubmitted,
) -> Result<Effect, RuleViolation> {
    if state.outcome_index(&body.outcome).is_none() {
        return Err(RuleViolation::UnknownOutcome {
            outcome: body.outcome.clone(),
        });
    }
    if body.quantity.get() == 0 {
        return Err(RuleViolation::ZeroQuantity);
    }
    let (from, to) = (&body.period.from, &body.period.to);
    if from > to {
        return Err(RuleViolation::PeriodReversed {
            from: from.clone(),
            to: to.clone(),
        });
    }
    if let Some(date) = [from, to]
        .into_iter()
        .find(|d| *d < state.start() || *d > state.end())
    {
        return Err(RuleViolation::PeriodOutsideTerm {
            date: date.clone(),
            start: state.start().clone(),
            end: state.end().clone(),
        });
    }
    let mut seen = HashSet::with_capacity(body.participants.len());
    if let Some(dup) = body.participants.iter().find(|p| !seen.insert(*p)) {
        return Err(RuleViolation::DuplicateParticipant { participant: *dup });
    }
    let participants = money::count(body.participants.len())?;
    if participants > body.quantity {
        return Err(RuleViolation::TooManyParticipants {
            participants: participants.get(),
            quantity: body.quantity.get(),
        });
    }
    let new = ClaimState {
        outcome: body.outcome.clone(),
        seq: event.seq(),
        period_from: from.clone(),
        period_to: to.clone(),
        quantity: body.quantity,
        participants: participants.get(),
        evidence: money::count(body.evidence.len())?.get(),
        status: ClaimStatus::Pending,
        verified_units: Int::ZERO,
        price: None,
        paid_units: Int::ZERO,
        paid_money: Int::ZERO,
        standing_units: Int::ZERO,
        clawback_money: Int::ZERO,
        open_dispute: None,
        disputes: 0,
        feedback: FeedbackCounts::default(),
    };
    let mut plan = ClaimPlan::new(state);
    plan.put(state, *event.id(), new)?;
    Ok(Effect::Claims(plan))
}

/// A pending claim verified for 1 ..= claimed units, at the price in force now.
pub(super) fn verify(state: &ContractState, body: &ClaimVerified) -> Result<Effect, RuleViolation> {
    let current = pending(state, body)?;
    if body.quantity.get() == 0 {
        return Err(RuleViolation::ZeroQuantity);
    }
    if body.quantity > current.quantity {
        return Err(RuleViolation::OverClaimed {
            claim: body.claim,
            claimed: current.quantity.get(),
            requested: body.quantity.get(),
        });
    }
    let price = state.price_in_force(&current.outcome)?;
    let new = ClaimState {
        status: ClaimStatus::Verified,
        verified_units: body.quantity,
        price: Some(price),
        ..current.clone()
    };
    let mut plan = ClaimPlan::new(state);
    plan.put(state, body.claim, new)?;
    Ok(Effect::Claims(plan))
}

/// A pending claim rejected.
pub(super) fn reject(state: &ContractState, body: &ClaimRejected) -> Result<Effect, RuleViolation> {
    let current = claim(state, &body.claim)?;
    if current.status != ClaimStatus::Pending {
        return Err(RuleViolation::ClaimNotPending {
            claim: body.claim,
            status: current.status,
        });
    }
    let new = ClaimState {
        status: ClaimStatus::Rejected,
        ..current.clone()
    };
    let mut plan = ClaimPlan::new(state);
    plan.put(state, body.claim, new)?;
    Ok(Effect::Claims(plan))
}

fn pending<'a>(
    state: &'a ContractState,
    body: &ClaimVerified,
) -> Result<&'a ClaimState, RuleViolation> {
    let current = claim(state, &body.claim)?;
    if current.status != ClaimStatus::Pending {
        return Err(RuleViolation::ClaimNotPending {
            claim: body.claim,
            status: current.status,
        });
    }
    Ok(current)
}
