//! SPEC.md 6.3 `key.rotated` and `key.revoked`.

use proto::payload::{KeyRevoked, KeyRotated};
use proto::KeyId;

use super::Effect;
use crate::error::RuleViolation;
use crate::projection::{ContractState, KeyStatus};

/// A party replaces its own current key by a key no party of the contract holds or held.
pub(super) fn rotate(
    state: &ContractState,
    author: &KeyId,
    body: &KeyRotated,
) -> Result<Effect, RuleViolation> {
    if &body.old != author {
        return Err(RuleViolation::RotationNotByOwner {
            old: body.old,
            author: *author,
        });
    }
    let record = state
        .key(&body.old)
        .ok_or(RuleViolation::UnknownAuthor { author: *author })?;
    let new = KeyId::of(&body.new);
    if state.key(&new).is_some() {
        return Err(RuleViolation::KeyReused { key: new });
    }
    Ok(Effect::Rotate {
        party: record.party(),
        old: body.old,
        new: body.new,
    })
}

/// The commissioner revokes a current key of the contract other than its own.
pub(super) fn revoke(
    state: &ContractState,
    author: &KeyId,
    body: &KeyRevoked,
) -> Result<Effect, RuleViolation> {
    let current = state
        .key(&body.key)
        .is_some_and(|r| r.status() == KeyStatus::Current);
    if !current {
        return Err(RuleViolation::RevokeNotCurrent { key: body.key });
    }
    if &body.key == author {
        return Err(RuleViolation::SelfRevocation { key: body.key });
    }
    Ok(Effect::Revoke { key: body.key })
}
