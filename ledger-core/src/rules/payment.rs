//! SPEC.md 6.3 `payment.made`: the commissioner pays verified claims, within the caps.

use std::collections::HashSet;

use proto::payload::{PaymentLine, PaymentMade};

use super::{claim, ClaimPlan, Effect};
use crate::error::RuleViolation;
use crate::money;
use crate::projection::{ClaimState, ClaimStatus, ContractState};

/// Lines for distinct verified, undisputed, unpaid claims, each at price x verified units,
/// adding up to `total`, in the contract's currency, within every outcome's unit cap and the
/// contract's money cap.
pub(super) fn pay(state: &ContractState, body: &PaymentMade) -> Result<Effect, RuleViolation> {
    if body.lines.is_empty() {
        return Err(RuleViolation::NoLines);
    }
    let mut seen = HashSet::with_capacity(body.lines.len());
    let mut plan = ClaimPlan::new(state);
    for line in &body.lines {
        if !seen.insert(line.claim) {
            return Err(RuleViolation::DuplicateLine { claim: line.claim });
        }
        plan.put(state, line.claim, paid(state, line)?)?;
    }
    let expected = money::sum(body.lines.iter().map(|l| l.amount))?;
    if expected != body.total {
        return Err(RuleViolation::TotalMismatch {
            expected: expected.get(),
            stated: body.total.get(),
        });
    }
    if body.currency != *state.currency() {
        return Err(RuleViolation::CurrencyMismatch {
            expected: *state.currency(),
            stated: body.currency,
        });
    }
    check_caps(state, &plan, body)?;
    Ok(Effect::Payment(plan))
}

/// The claim of one line, paid.
fn paid(state: &ContractState, line: &PaymentLine) -> Result<ClaimState, RuleViolation> {
    let current = claim(state, &line.claim)?;
    match current.status {
        ClaimStatus::Verified => {}
        ClaimStatus::Paid => return Err(RuleViolation::AlreadyPaid { claim: line.claim }),
        status => {
            return Err(RuleViolation::ClaimNotVerified {
                claim: line.claim,
                status,
            })
        }
    }
    if let Some(dispute) = current.open_dispute {
        return Err(RuleViolation::DisputeOpen {
            claim: line.claim,
            dispute,
        });
    }
    let price = current.price.ok_or(RuleViolation::ClaimNotVerified {
        claim: line.claim,
        status: current.status,
    })?;
    let expected = money::mul(price, current.verified_units)?;
    if expected != line.amount {
        return Err(RuleViolation::AmountMismatch {
            claim: line.claim,
            expected: expected.get(),
            stated: line.amount.get(),
        });
    }
    Ok(ClaimState {
        status: ClaimStatus::Paid,
        paid_units: current.verified_units,
        paid_money: line.amount,
        standing_units: current.verified_units,
        ..current.clone()
    })
}

fn check_caps(
    state: &ContractState,
    plan: &ClaimPlan,
    body: &PaymentMade,
) -> Result<(), RuleViolation> {
    for (index, tally) in &plan.outcomes {
        let outcome = &state.outcomes()[*index];
        if tally.paid_units > outcome.cap_units() {
            let paid_units = outcome.tally().paid_units;
            return Err(RuleViolation::OverOutcomeCap {
                outcome: outcome.id().clone(),
                cap_units: outcome.cap_units().get(),
                paid_units: paid_units.get(),
                requested_units: money::sub(tally.paid_units, paid_units)?.get(),
            });
        }
    }
    if plan.tally.paid_money > *state.cap() {
        return Err(RuleViolation::OverContractCap {
            cap: state.cap().get(),
            paid: state.tally().paid_money.get(),
            requested: body.total.get(),
        });
    }
    Ok(())
}
