//! SPEC.md 6.3 `claim.disputed` and `dispute.resolved`.

use proto::payload::{ClaimDisputed, Decision, DisputeResolved};
use proto::{EventId, Int};

use super::{claim, ClaimPlan, Effect};
use crate::error::RuleViolation;
use crate::event::Event;
use crate::money;
use crate::projection::{ClaimState, ClaimStatus, ContractState, DisputeState, Resolution};

/// A dispute on a claim with no open dispute; its id is the event's id.
pub(super) fn open(
    state: &ContractState,
    event: &Event,
    body: &ClaimDisputed,
) -> Result<Effect, RuleViolation> {
    let current = claim(state, &body.claim)?;
    if let Some(dispute) = current.open_dispute {
        return Err(RuleViolation::DisputeOpen {
            claim: body.claim,
            dispute,
        });
    }
    let one = Int::new(1).unwrap_or(Int::ZERO);
    let disputes = money::add(Int::new(current.disputes).unwrap_or(Int::ZERO), one)?;
    let new = ClaimState {
        open_dispute: Some(*event.id()),
        disputes: disputes.get(),
        ..current.clone()
    };
    let mut plan = ClaimPlan::new(state);
    plan.put(state, body.claim, new)?;
    let dispute = DisputeState {
        claim: body.claim,
        opened_by: *event.author(),
        seq: event.seq(),
        resolution: None,
    };
    Ok(Effect::OpenDispute {
        plan,
        id: *event.id(),
        dispute,
    })
}

/// An open dispute decided: `quantity` exactly with `adjusted`.
pub(super) fn resolve(
    state: &ContractState,
    event: &Event,
    body: &DisputeResolved,
) -> Result<Effect, RuleViolation> {
    let dispute = open_dispute(state, &body.dispute)?;
    let current = claim(state, &dispute.claim)?;
    let decided = match (body.decision, body.quantity) {
        (Decision::Overturned, None) => current.clone(),
        (Decision::Upheld, None) => upheld(current)?,
        (Decision::Adjusted, Some(quantity)) => adjusted(state, &dispute.claim, current, quantity)?,
        (Decision::Adjusted, None) => return Err(RuleViolation::AdjustedWithoutQuantity),
        (decision, Some(_)) => return Err(RuleViolation::QuantityWithoutAdjusted { decision }),
    };
    let new = ClaimState {
        open_dispute: None,
        ..decided
    };
    let mut plan = ClaimPlan::new(state);
    plan.put(state, dispute.claim, new)?;
    let resolution = Resolution {
        decision: body.decision,
        quantity: body.quantity,
        seq: event.seq(),
    };
    Ok(Effect::ResolveDispute {
        plan,
        id: body.dispute,
        resolution,
    })
}

fn open_dispute<'a>(
    state: &'a ContractState,
    id: &EventId,
) -> Result<&'a DisputeState, RuleViolation> {
    let dispute = state
        .disputes
        .get(id)
        .ok_or(RuleViolation::UnknownDispute { dispute: *id })?;
    if !dispute.is_open() {
        return Err(RuleViolation::DisputeNotOpen { dispute: *id });
    }
    Ok(dispute)
}

/// Upheld: an unpaid claim is rejected; a paid claim's payment is all due back.
fn upheld(current: &ClaimState) -> Result<ClaimState, RuleViolation> {
    if current.status == ClaimStatus::Paid {
        return Ok(ClaimState {
            standing_units: Int::ZERO,
            clawback_money: current.paid_money,
            ..current.clone()
        });
    }
    Ok(ClaimState {
        status: ClaimStatus::Rejected,
        verified_units: Int::ZERO,
        ..current.clone()
    })
}

/// Adjusted: `quantity` units stand, at the claim's price (or the price in force now).
fn adjusted(
    state: &ContractState,
    id: &EventId,
    current: &ClaimState,
    quantity: Int,
) -> Result<ClaimState, RuleViolation> {
    if quantity > current.quantity {
        return Err(RuleViolation::OverClaimed {
            claim: *id,
            claimed: current.quantity.get(),
            requested: quantity.get(),
        });
    }
    if current.status == ClaimStatus::Paid {
        if quantity > current.paid_units {
            return Err(RuleViolation::OverPaidUnits {
                claim: *id,
                paid_units: current.paid_units.get(),
                requested: quantity.get(),
            });
        }
        let price = current.price.unwrap_or(Int::ZERO);
        let lost = money::sub(current.paid_units, quantity)?;
        let clawback_money = money::mul(price, lost)?;
        return Ok(ClaimState {
            standing_units: quantity,
            clawback_money,
            ..current.clone()
        });
    }
    let price = match current.price {
        Some(price) => price,
        None => state.price_in_force(&current.outcome)?,
    };
    Ok(ClaimState {
        status: ClaimStatus::Verified,
        verified_units: quantity,
        price: Some(price),
        ..current.clone()
    })
}
