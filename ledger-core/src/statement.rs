//! [`Statement`]: the auditor's view of a contract's money: per outcome, verified against paid;
//! by party, paid to the provider side and distributed per investor.

use proto::{Amount, ContractId, Currency, Int, KeyId, OutcomeId, Role, Text};
use serde::{Deserialize, Serialize};

use crate::projection::ContractState;

/// One outcome's line.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutcomeLine {
    /// The outcome.
    pub outcome: OutcomeId,
    /// Its price in force.
    pub price: Amount,
    /// Units verified (of claims verified or paid).
    pub verified_units: Int,
    /// Their money.
    pub verified_money: Amount,
    /// Units paid.
    pub paid_units: Int,
    /// Money paid.
    pub paid_money: Amount,
    /// Units verified and not paid.
    pub unpaid_units: Int,
    /// Their money.
    pub unpaid_money: Amount,
    /// Units that may still be paid.
    pub cap_units_left: Int,
}

/// What one investor party received.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct InvestorLine {
    /// Its name.
    pub name: Text<200>,
    /// Its keys that received distributions.
    pub keys: Vec<KeyId>,
    /// Money distributed to it.
    pub distributed: Amount,
}

/// The money of a contract.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Statement {
    /// The contract.
    pub contract: ContractId,
    /// Its currency.
    pub currency: Currency,
    /// One line per outcome, in rate-card order.
    pub outcomes: Vec<OutcomeLine>,
    /// Verified money in all.
    pub verified_money: Amount,
    /// Outcome payments by the commissioner, to the provider side (the intermediary, or the
    /// provider when there is none).
    pub paid_money: Amount,
    /// Verified money not paid yet.
    pub unpaid_money: Amount,
    /// Money that disputes found was paid but not due.
    pub clawback_money: Amount,
    /// Money the contract may still pay.
    pub cap_left: Amount,
    /// Distributions per investor party.
    pub investors: Vec<InvestorLine>,
    /// Distributions in all.
    pub distributed: Amount,
    /// Outcome payments not distributed: `paid_money - distributed`.
    pub retained: Amount,
}

impl Statement {
    /// The statement of a contract's state.
    pub fn of(state: &ContractState) -> Statement {
        let outcomes = state
            .outcomes()
            .iter()
            .map(|o| {
                let t = o.tally();
                OutcomeLine {
                    outcome: o.id().clone(),
                    price: o.price(),
                    verified_units: t.verified_units,
                    verified_money: t.verified_money,
                    paid_units: t.paid_units,
                    paid_money: t.paid_money,
                    unpaid_units: t.unpaid_units,
                    unpaid_money: t.unpaid_money,
                    cap_units_left: o.cap_units_left(),
                }
            })
            .collect();
        let tally = state.tally();
        let distributed = *state.distributed();
        Statement {
            contract: state.id().clone(),
            currency: *state.currency(),
            outcomes,
            verified_money: tally.verified_money,
            paid_money: tally.paid_money,
            unpaid_money: tally.unpaid_money,
            clawback_money: tally.clawback_money,
            cap_left: state.cap_left(),
            investors: investors(state),
            distributed,
            retained: Int::new(tally.paid_money.get().saturating_sub(distributed.get()))
                .unwrap_or(Int::ZERO),
        }
    }
}

fn investors(state: &ContractState) -> Vec<InvestorLine> {
    state
        .parties()
        .iter()
        .filter(|p| p.role() == Role::Investor)
        .map(|party| {
            let keys: Vec<KeyId> = party
                .keys()
                .iter()
                .filter(|k| state.distributions().contains_key(k))
                .copied()
                .collect();
            // Distributions are within payments, so their sum fits.
            let total = keys
                .iter()
                .filter_map(|k| state.distributions().get(k))
                .map(|a| a.get())
                .sum::<u64>();
            InvestorLine {
                name: party.name().clone(),
                keys,
                distributed: Int::new(total).unwrap_or(Int::ZERO),
            }
        })
        .collect()
}
