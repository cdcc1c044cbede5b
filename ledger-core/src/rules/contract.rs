//! SPEC.md 6.3 `contract.registered`, `contract.amended` (and `contract.closed`, which has no
//! condition of its own).

use std::collections::HashSet;

use proto::payload::{ContractAmended, ContractRegistered};
use proto::{KeyId, Role};

use super::Effect;
use crate::error::RuleViolation;
use crate::projection::{ContractState, PriceChange};

/// The rules of a registration body.
pub(crate) fn check_registration(body: &ContractRegistered) -> Result<(), RuleViolation> {
    check_roles(body)?;
    let mut keys = HashSet::new();
    if let Some(dup) = body
        .parties
        .iter()
        .map(|p| KeyId::of(&p.key))
        .find(|k| !keys.insert(*k))
    {
        return Err(RuleViolation::DuplicatePartyKey { key: dup });
    }
    if body.outcomes.is_empty() {
        return Err(RuleViolation::NoOutcomes);
    }
    let mut ids = HashSet::new();
    if let Some(dup) = body.outcomes.iter().find(|o| !ids.insert(&o.id)) {
        return Err(RuleViolation::DuplicateOutcome {
            outcome: dup.id.clone(),
        });
    }
    if body.start > body.end {
        return Err(RuleViolation::TermReversed {
            start: body.start.clone(),
            end: body.end.clone(),
        });
    }
    if let Some(free) = body.outcomes.iter().find(|o| o.price.get() == 0) {
        return Err(RuleViolation::ZeroPrice {
            outcome: free.id.clone(),
        });
    }
    if body.cap.get() == 0 {
        return Err(RuleViolation::ZeroCap);
    }
    Ok(())
}

fn check_roles(body: &ContractRegistered) -> Result<(), RuleViolation> {
    let count = |role: Role| body.parties.iter().filter(|p| p.role == role).count() as u64;
    let commissioners = count(Role::Commissioner);
    if commissioners != 1 {
        return Err(RuleViolation::CommissionerCount {
            count: commissioners,
        });
    }
    for role in [Role::Provider, Role::Verifier] {
        if count(role) == 0 {
            return Err(RuleViolation::MissingRole { role });
        }
    }
    let intermediaries = count(Role::Intermediary);
    if intermediaries > 1 {
        return Err(RuleViolation::IntermediaryCount {
            count: intermediaries,
        });
    }
    Ok(())
}

/// New prices: at least one, each for an outcome of the rate card, once, and at least 1.
pub(super) fn amend(
    state: &ContractState,
    body: &ContractAmended,
) -> Result<Effect, RuleViolation> {
    if body.prices.is_empty() {
        return Err(RuleViolation::NoPrices);
    }
    let mut changes: Vec<(usize, PriceChange)> = Vec::with_capacity(body.prices.len());
    for change in &body.prices {
        let index =
            state
                .outcome_index(&change.outcome)
                .ok_or_else(|| RuleViolation::UnknownOutcome {
                    outcome: change.outcome.clone(),
                })?;
        if changes.iter().any(|(i, _)| *i == index) {
            return Err(RuleViolation::DuplicateOutcome {
                outcome: change.outcome.clone(),
            });
        }
        if change.price.get() == 0 {
            return Err(RuleViolation::ZeroPrice {
                outcome: change.outcome.clone(),
            });
        }
        let old = state.outcomes()[index].price();
        changes.push((
            index,
            PriceChange {
                outcome: change.outcome.clone(),
                old,
                new: change.price,
            },
        ));
    }
    Ok(Effect::Amend(changes))
}
