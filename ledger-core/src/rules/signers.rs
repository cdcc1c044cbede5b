//! SPEC.md 6.1 "signers", "author" and "consent": who may make an event and who must sign it.
//!
//! Consent belongs to a contract's parties, not to their keys: an amendment needs the current
//! key of every commissioner, provider and investor, and a party without one (its key was
//! revoked) makes it wait until a successor is enrolled. Changing another party's key (a
//! revocation, an enrolment) needs a quorum of the other parties.

use proto::payload::ContractRegistered;
use proto::{Body, KeyId, Kind, Role};

use super::keys;
use crate::error::RuleViolation;
use crate::event::Event;
use crate::keys::{SignatureVerdicts, Verdict};
use crate::projection::{ContractState, KeyStatus};

/// Whether `role` may author `kind` (registration: any listed party, checked apart).
fn allowed(kind: Kind, role: Role) -> bool {
    match kind {
        Kind::ContractRegistered | Kind::KeyRotated | Kind::ClaimDisputed => true,
        Kind::ContractAmended => {
            matches!(role, Role::Commissioner | Role::Provider | Role::Investor)
        }
        Kind::KeyRevoked | Kind::KeyEnrolled | Kind::PaymentMade | Kind::ContractClosed => {
            role == Role::Commissioner
        }
        Kind::ClaimSubmitted => role == Role::Provider,
        Kind::ClaimVerified | Kind::ClaimRejected | Kind::DisputeResolved => role == Role::Verifier,
        Kind::FeedbackRecorded => role == Role::BeneficiaryRep,
        Kind::DistributionMade => role == Role::Intermediary,
    }
}

/// The author is a current key of a party whose role may make this kind.
pub(super) fn check_author(state: &ContractState, event: &Event) -> Result<(), RuleViolation> {
    let author = event.author();
    let record = state
        .key(author)
        .ok_or(RuleViolation::UnknownAuthor { author: *author })?;
    match record.status() {
        KeyStatus::Current => {}
        KeyStatus::Retired => return Err(RuleViolation::RetiredKey { key: *author }),
        KeyStatus::Revoked => return Err(RuleViolation::RevokedKey { key: *author }),
    }
    let role = state.parties()[record.party()].role();
    if !allowed(event.kind(), role) {
        return Err(RuleViolation::WrongRole {
            kind: event.kind(),
            role,
        });
    }
    Ok(())
}

/// The keys whose signatures an event after seq 0 needs; the author is always one.
///
/// # Errors
/// [`RuleViolation::PartyWithoutKey`] for an amendment while a party that must consent has no
/// current key.
fn required(state: &ContractState, event: &Event) -> Result<Vec<KeyId>, RuleViolation> {
    let mut keys = vec![*event.author()];
    match event.body() {
        Body::ContractAmended(_) => {
            let signing_roles = [Role::Commissioner, Role::Provider, Role::Investor];
            for (index, party) in state.parties().iter().enumerate() {
                if !signing_roles.contains(&party.role()) {
                    continue;
                }
                let key = party.key().ok_or(RuleViolation::PartyWithoutKey {
                    party: index as u64,
                    role: party.role(),
                })?;
                keys.push(*key);
            }
        }
        Body::KeyRotated(b) => keys.push(KeyId::of(&b.new)),
        _ => {}
    }
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}

/// Exactly the required signatures, each valid; for a revocation or an enrolment, a quorum.
/// Those two first run the checks of their kind that find the party concerned, since the
/// quorum depends on it.
pub(super) fn check_signers(
    state: &ContractState,
    event: &Event,
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    match event.body() {
        Body::KeyRevoked(b) => {
            let party = keys::revocation_target(state, event.author(), b)?;
            let successor = b.successor.as_ref().map(KeyId::of);
            check_quorum(state, event, party, successor, signatures)
        }
        Body::KeyEnrolled(b) => {
            let party = keys::enrolment_target(state, b)?;
            check_quorum(state, event, party, Some(KeyId::of(&b.new)), signatures)
        }
        _ => exact_set(Some(state), &required(state, event)?, signatures),
    }
}

/// SPEC.md 6.1 "quorum", for an event that changes the key of party `party`: let n be the
/// number of the other parties, with or without a current key. The author, the new key (if
/// any) and current keys of more than n/2 of those parties sign, and nothing else: not the
/// party's own keys, not a retired or revoked key.
fn check_quorum(
    state: &ContractState,
    event: &Event,
    party: usize,
    new: Option<KeyId>,
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    let others: Vec<KeyId> = state
        .parties()
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != party)
        .filter_map(|(_, p)| p.key().copied())
        .collect();
    let mut allowed = others.clone();
    allowed.extend(new);
    allowed.sort_unstable();
    refuse_outsiders(Some(state), &allowed, signatures)?;
    for (key, verdict) in signatures.iter() {
        match verdict {
            Verdict::Valid => {}
            Verdict::Invalid => return Err(RuleViolation::InvalidSignature { key: *key }),
            Verdict::UnknownKey => return Err(RuleViolation::UnknownSigner { key: *key }),
        }
    }
    let mut required = vec![*event.author()];
    required.extend(new);
    required.sort_unstable();
    required.dedup();
    check_present(&required, signatures)?;
    let parties = state.parties().len().saturating_sub(1) as u64;
    let needed = parties / 2 + 1;
    let signed = others
        .iter()
        .filter(|key| signatures.get(key).is_some())
        .count() as u64;
    if signed < needed {
        return Err(RuleViolation::NoQuorum {
            signed,
            needed,
            parties,
        });
    }
    Ok(())
}

/// A registration: listed by the author, signed by every listed party.
pub(super) fn check_registration(
    event: &Event,
    body: &ContractRegistered,
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    let mut keys: Vec<KeyId> = body.parties.iter().map(|p| KeyId::of(&p.key)).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.binary_search(event.author()).is_err() {
        return Err(RuleViolation::UnknownAuthor {
            author: *event.author(),
        });
    }
    exact_set(None, &keys, signatures)
}

/// No signature beyond `required` (sorted), and each of `required` present and valid.
fn exact_set(
    state: Option<&ContractState>,
    required: &[KeyId],
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    refuse_outsiders(state, required, signatures)?;
    check_present(required, signatures)
}

/// No signature by a key outside `allowed` (sorted): each is named as precisely as the state
/// allows (retired, revoked, unknown, or merely extra).
fn refuse_outsiders(
    state: Option<&ContractState>,
    allowed: &[KeyId],
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    for (key, verdict) in signatures.iter() {
        if allowed.binary_search(key).is_ok() {
            continue;
        }
        let status = state.and_then(|s| s.key(key)).map(|r| r.status());
        return Err(match (status, verdict) {
            (Some(KeyStatus::Retired), _) => RuleViolation::RetiredKey { key: *key },
            (Some(KeyStatus::Revoked), _) => RuleViolation::RevokedKey { key: *key },
            (_, Verdict::UnknownKey) => RuleViolation::UnknownSigner { key: *key },
            _ => RuleViolation::ExtraSignature { key: *key },
        });
    }
    Ok(())
}

/// Each of `required` signed, validly.
fn check_present(required: &[KeyId], signatures: &SignatureVerdicts) -> Result<(), RuleViolation> {
    for key in required {
        match signatures.get(key) {
            Some(Verdict::Valid) => {}
            Some(Verdict::Invalid) => return Err(RuleViolation::InvalidSignature { key: *key }),
            Some(Verdict::UnknownKey) => return Err(RuleViolation::UnknownSigner { key: *key }),
            None => return Err(RuleViolation::MissingSignature { key: *key }),
        }
    }
    Ok(())
}
