//! SPEC.md 6.1 "signers" and "author": who may make an event and who must sign it.

use proto::payload::ContractRegistered;
use proto::{Body, KeyId, Kind, Role};

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
        Kind::KeyRevoked | Kind::PaymentMade | Kind::ContractClosed => role == Role::Commissioner,
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
fn required(state: &ContractState, event: &Event) -> Vec<KeyId> {
    let mut keys = vec![*event.author()];
    match event.body() {
        Body::ContractAmended(_) => {
            let signing_roles = [Role::Commissioner, Role::Provider, Role::Investor];
            keys.extend(
                state
                    .parties()
                    .iter()
                    .filter(|p| signing_roles.contains(&p.role()))
                    .filter_map(|p| p.key().copied()),
            );
        }
        Body::KeyRotated(b) => keys.push(KeyId::of(&b.new)),
        _ => {}
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Exactly the required signatures, each valid.
pub(super) fn check_signers(
    state: &ContractState,
    event: &Event,
    signatures: &SignatureVerdicts,
) -> Result<(), RuleViolation> {
    exact_set(Some(state), &required(state, event), signatures)
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
    for (key, verdict) in signatures.iter() {
        if required.binary_search(key).is_ok() {
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
