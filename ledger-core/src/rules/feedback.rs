//! SPEC.md 6.3 `feedback.recorded`: the voice of the people served.

use proto::payload::FeedbackRecorded;

use super::{claim, ClaimPlan, Effect};
use crate::error::RuleViolation;
use crate::projection::{ClaimState, ContractState};

/// Feedback about a claim of the contract and an outcome of its rate card, if given.
pub(super) fn record(
    state: &ContractState,
    body: &FeedbackRecorded,
) -> Result<Effect, RuleViolation> {
    let mut plan = ClaimPlan::new(state);
    if let Some(id) = &body.claim {
        let current = claim(state, id)?;
        let new = ClaimState {
            feedback: current.feedback.plus_one(body.stance)?,
            ..current.clone()
        };
        plan.put(state, *id, new)?;
    }
    if let Some(outcome) = &body.outcome {
        if state.outcome_index(outcome).is_none() {
            return Err(RuleViolation::UnknownOutcome {
                outcome: outcome.clone(),
            });
        }
    }
    let counts = state.feedback().plus_one(body.stance)?;
    Ok(Effect::Feedback { plan, counts })
}
