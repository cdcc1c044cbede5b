//! SPEC.md 6.3 `distribution.made`: the intermediary pays an investor out of outcome payments.

use proto::payload::DistributionMade;
use proto::{Int, Role};

use super::Effect;
use crate::error::RuleViolation;
use crate::money;
use crate::projection::{ContractState, KeyStatus};

/// At least 1 unit of the contract's currency to a current investor key, while distributions
/// stay within the outcome payments received.
pub(super) fn distribute(
    state: &ContractState,
    body: &DistributionMade,
) -> Result<Effect, RuleViolation> {
    let investor = state.key(&body.investor).is_some_and(|r| {
        r.status() == KeyStatus::Current && state.parties()[r.party()].role() == Role::Investor
    });
    if !investor {
        return Err(RuleViolation::NotAnInvestor { key: body.investor });
    }
    if body.amount.get() == 0 {
        return Err(RuleViolation::ZeroAmount);
    }
    if body.currency != *state.currency() {
        return Err(RuleViolation::CurrencyMismatch {
            expected: *state.currency(),
            stated: body.currency,
        });
    }
    let paid = state.tally().paid_money;
    let distributed = money::add(*state.distributed(), body.amount)?;
    if distributed > paid {
        return Err(RuleViolation::OverDistribution {
            paid: paid.get(),
            distributed: state.distributed().get(),
            requested: body.amount.get(),
        });
    }
    let before = state
        .distributions()
        .get(&body.investor)
        .copied()
        .unwrap_or(Int::ZERO);
    let investor_total = money::add(before, body.amount)?;
    Ok(Effect::Distribution {
        investor: body.investor,
        investor_total,
        distributed,
    })
}
