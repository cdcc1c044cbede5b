//! SPEC.md 6.3 `key.rotated`, `key.revoked` and `key.enrolled`.
//!
//! A party is who it is in the registration, whatever its key: a revocation takes a key away
//! from a party (and may give it a successor at once), an enrolment gives a successor to a
//! party left without a key. Both change another party's key, so both need a quorum
//! (`signers.rs`); neither may leave the contract without a verifier, or without a beneficiary
//! representative once it has one.

use proto::payload::{KeyEnrolled, KeyRevoked, KeyRotated};
use proto::{KeyId, PublicKey, Role};

use super::Effect;
use crate::error::RuleViolation;
use crate::projection::{ContractState, KeyStatus};

/// Roles a contract is never left without, once it has one.
const KEPT_ROLES: [Role; 2] = [Role::Verifier, Role::BeneficiaryRep];

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
    fresh(state, &body.new)?;
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
    revocation_target(state, author, body)?;
    Ok(Effect::Revoke {
        key: body.key,
        successor: body.successor,
    })
}

/// The party whose key `body` revokes, if the revocation passes the rules of its kind: the key
/// is current and not the author's, a successor is fresh, and without a successor the party is
/// not the last with a current key of a role the contract keeps.
pub(super) fn revocation_target(
    state: &ContractState,
    author: &KeyId,
    body: &KeyRevoked,
) -> Result<usize, RuleViolation> {
    let record = state
        .key(&body.key)
        .filter(|r| r.status() == KeyStatus::Current)
        .ok_or(RuleViolation::RevokeNotCurrent { key: body.key })?;
    if &body.key == author {
        return Err(RuleViolation::SelfRevocation { key: body.key });
    }
    let party = record.party();
    match &body.successor {
        Some(successor) => fresh(state, successor)?,
        None => {
            let role = state.parties()[party].role();
            let holders = state
                .parties()
                .iter()
                .filter(|p| p.role() == role && p.key().is_some())
                .count();
            if KEPT_ROLES.contains(&role) && holders <= 1 {
                return Err(RuleViolation::LastKeyOfRole {
                    key: body.key,
                    role,
                });
            }
        }
    }
    Ok(party)
}

/// The commissioner gives a successor key to a party that has none.
pub(super) fn enrol(state: &ContractState, body: &KeyEnrolled) -> Result<Effect, RuleViolation> {
    let party = enrolment_target(state, body)?;
    Ok(Effect::Enrol {
        party,
        new: body.new,
    })
}

/// The party `body` enrols a key for, if the enrolment passes the rules of its kind: `party`
/// names a key the party held, the party has no current key, and the new key is fresh.
pub(super) fn enrolment_target(
    state: &ContractState,
    body: &KeyEnrolled,
) -> Result<usize, RuleViolation> {
    let record = state
        .key(&body.party)
        .ok_or(RuleViolation::UnknownPartyKey { key: body.party })?;
    let party = record.party();
    if let Some(current) = state.parties()[party].key() {
        return Err(RuleViolation::PartyHasKey {
            key: body.party,
            current: *current,
        });
    }
    fresh(state, &body.new)?;
    Ok(party)
}

/// `key` is no key any party of the contract holds or held.
fn fresh(state: &ContractState, key: &PublicKey) -> Result<(), RuleViolation> {
    let id = KeyId::of(key);
    if state.key(&id).is_some() {
        return Err(RuleViolation::KeyReused { key: id });
    }
    Ok(())
}
