//! From what a person asked to the exact event: the contract head, the payload, the
//! signatures, and payment amounts from the rate card. Pure functions over the node's
//! projection; no IO (the commands fetch, this decides).

use ed25519_dalek::SigningKey;
use ledger_core::projection::{ClaimState, ClaimStatus, ContractState};
use proto::dsse::{self, Envelope};
use proto::payload::{Body, PaymentLine, PAYLOAD_TYPE};
use proto::{Amount, ContractId, EventId, Int, KeyId, Kind, Payload, Role, Timestamp};

use crate::cmd::Refusal;

/// Where the next event of a contract goes: its `seq` and `prev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// The next event's seq.
    pub(crate) seq: u64,
    /// The id of the last event (`None` before registration).
    pub(crate) prev: Option<EventId>,
}

impl Head {
    /// The head of a contract not yet registered.
    pub(crate) const GENESIS: Head = Head { seq: 0, prev: None };

    /// The head after the contract's events so far.
    ///
    /// # Errors
    /// A seq past 2^53-1 (a contract cannot hold that many events).
    pub(crate) fn of(state: &ContractState) -> anyhow::Result<Head> {
        let last = state.head();
        let seq = last
            .seq
            .checked_add(1)
            .filter(|s| Int::new(*s).is_some())
            .ok_or_else(|| {
                anyhow::anyhow!("contract {} is full: its seq is at the limit", state.id())
            })?;
        Ok(Head {
            seq,
            prev: Some(last.id),
        })
    }

    /// The head after an event with this id at this head.
    pub(crate) fn after(&self, id: EventId) -> Head {
        Head {
            seq: self.seq.saturating_add(1),
            prev: Some(id),
        }
    }
}

/// The payload of an event by `author` at `head` of `contract`.
///
/// # Errors
/// A seq over 2^53-1.
pub(crate) fn payload(
    contract: &ContractId,
    head: &Head,
    author: KeyId,
    at: Timestamp,
    body: Body,
) -> anyhow::Result<Payload> {
    let seq =
        Int::new(head.seq).ok_or_else(|| anyhow::anyhow!("seq {} is over 2^53-1", head.seq))?;
    Ok(Payload {
        contract: contract.clone(),
        seq,
        prev: head.prev,
        author,
        at,
        body,
    })
}

/// An envelope of `payload` signed by each of `signers`.
///
/// # Errors
/// No signer, or one key given twice.
pub(crate) fn seal(payload: &Payload, signers: &[&SigningKey]) -> anyhow::Result<Envelope> {
    let bytes = payload.encode();
    let signatures = signers
        .iter()
        .map(|key| dsse::sign(PAYLOAD_TYPE, &bytes, key))
        .collect();
    Ok(Envelope::new(PAYLOAD_TYPE, bytes, signatures)?)
}

/// `envelope` with one more signature, by `key`.
///
/// # Errors
/// A [`Refusal`] `already-signed` if that key already signed.
pub(crate) fn add_signature(envelope: &Envelope, key: &SigningKey) -> anyhow::Result<Envelope> {
    let signature = dsse::sign(envelope.payload_type(), envelope.payload(), key);
    if envelope
        .signatures()
        .iter()
        .any(|s| s.keyid() == signature.keyid())
    {
        return Err(Refusal::new(
            "already-signed",
            "already signed",
            format!("key {} has already signed this envelope", signature.keyid()),
        )
        .into());
    }
    let mut signatures = envelope.signatures().to_vec();
    signatures.push(signature);
    Ok(Envelope::new(
        envelope.payload_type(),
        envelope.payload().to_vec(),
        signatures,
    )?)
}

/// A party that must sign an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signer {
    /// Its key id.
    pub(crate) key: KeyId,
    /// Its name.
    pub(crate) name: String,
    /// Its role.
    pub(crate) role: Role,
}

/// Who must sign a `contract.registered`: every listed party.
pub(crate) fn registration_signers(payload: &Payload) -> Vec<Signer> {
    let Body::ContractRegistered(body) = &payload.body else {
        return Vec::new();
    };
    body.parties
        .iter()
        .map(|p| Signer {
            key: KeyId::of(&p.key),
            name: p.name.to_string(),
            role: p.role,
        })
        .collect()
}

/// Who must sign a `contract.amended`: the commissioner, every provider and every investor,
/// each by its current key.
///
/// # Errors
/// A [`Refusal`] `party-without-key` if one of them has no current key (the node would refuse
/// the amendment until a successor is enrolled).
pub(crate) fn amendment_signers(state: &ContractState) -> anyhow::Result<Vec<Signer>> {
    let signing_roles = [Role::Commissioner, Role::Provider, Role::Investor];
    let mut signers = Vec::new();
    for party in state.parties() {
        if !signing_roles.contains(&party.role()) {
            continue;
        }
        let Some(key) = party.key() else {
            return Err(Refusal::new(
                "party-without-key",
                "a party must consent",
                format!(
                    "{} ({}) has no current key, and every commissioner, provider and investor \
                     must sign an amendment",
                    party.name(),
                    party.role().as_str()
                ),
            )
            .with_hint("enrol a successor key for it first: `ledger enrol-key --help`")
            .into());
        };
        signers.push(Signer {
            key: *key,
            name: party.name().to_string(),
            role: party.role(),
        });
    }
    Ok(signers)
}

/// Who signs a change of another party's key (`key.revoked`, `key.enrolled`; SPEC.md 6.1
/// "quorum"): the author and the new key always, and current keys of `needed` of the other
/// parties (the author among them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quorum {
    /// The author and the new key, if any: each must sign.
    pub(crate) required: Vec<Signer>,
    /// The current keys of the parties other than the one whose key changes.
    pub(crate) eligible: Vec<Signer>,
    /// How many of `eligible` must sign.
    pub(crate) needed: usize,
}

impl Quorum {
    /// Every key that may sign: the required and the eligible.
    pub(crate) fn allowed(&self) -> Vec<Signer> {
        let mut all = self.eligible.clone();
        all.extend(self.required.iter().cloned());
        all.dedup_by_key(|s| s.key);
        all
    }

    /// Of the eligible, how many signed `envelope`.
    pub(crate) fn signed(&self, envelope: &Envelope) -> usize {
        self.eligible.len() - missing_signers(&self.eligible, envelope).len()
    }

    /// Whether `envelope` carries every required signature and enough of the eligible.
    pub(crate) fn is_met(&self, envelope: &Envelope) -> bool {
        missing_signers(&self.required, envelope).is_empty() && self.signed(envelope) >= self.needed
    }
}

/// The quorum for an event that changes the key of the party holding or having held `party_key`,
/// authored by `author`, introducing `new`; `None` if no party of the contract held that key.
pub(crate) fn key_change_quorum(
    state: &ContractState,
    author: KeyId,
    party_key: &KeyId,
    new: Option<KeyId>,
) -> Option<Quorum> {
    let party = state.key(party_key)?.party();
    let eligible: Vec<Signer> = state
        .parties()
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != party)
        .filter_map(|(_, p)| {
            p.key().map(|key| Signer {
                key: *key,
                name: p.name().to_string(),
                role: p.role(),
            })
        })
        .collect();
    let mut required: Vec<Signer> = eligible
        .iter()
        .filter(|s| s.key == author)
        .cloned()
        .collect();
    if let Some(new) = new {
        let target = &state.parties()[party];
        required.push(Signer {
            key: new,
            name: format!("{} (new key)", target.name()),
            role: target.role(),
        });
    }
    let others = state.parties().len().saturating_sub(1);
    Some(Quorum {
        required,
        eligible,
        needed: others / 2 + 1,
    })
}

/// The quorum of a `key.revoked` or `key.enrolled` payload against the contract's state;
/// `None` for another kind, or a key no party held.
pub(crate) fn quorum_of(state: &ContractState, payload: &Payload) -> Option<Quorum> {
    match &payload.body {
        Body::KeyRevoked(b) => key_change_quorum(
            state,
            payload.author,
            &b.key,
            b.successor.as_ref().map(KeyId::of),
        ),
        Body::KeyEnrolled(b) => {
            key_change_quorum(state, payload.author, &b.party, Some(KeyId::of(&b.new)))
        }
        _ => None,
    }
}

/// Of `required`, those that have not signed `envelope`.
pub(crate) fn missing_signers(required: &[Signer], envelope: &Envelope) -> Vec<Signer> {
    required
        .iter()
        .filter(|s| {
            !envelope
                .signatures()
                .iter()
                .any(|sig| sig.keyid() == &s.key)
        })
        .cloned()
        .collect()
}

/// Payment lines computed from the rate card: for each claim, the price fixed at its
/// verification times its verified units.
///
/// # Errors
/// A [`Refusal`] naming the claim if one is not a verified, undisputed, unpaid claim of the
/// contract, or if an amount is over 2^53-1.
pub(crate) fn auto_lines(
    state: &ContractState,
    claims: &[EventId],
) -> anyhow::Result<Vec<PaymentLine>> {
    claims
        .iter()
        .map(|id| {
            let claim = state
                .claims()
                .get(id)
                .ok_or_else(|| unknown_claim(state, id))?;
            payable_amount(id, claim).map(|amount| PaymentLine { claim: *id, amount })
        })
        .collect()
}

/// The claims that can be paid now: verified, unpaid, with no open dispute, in claim order.
pub(crate) fn payable_claims(state: &ContractState) -> Vec<EventId> {
    let mut payable: Vec<(&EventId, &ClaimState)> = state
        .claims()
        .iter()
        .filter(|(_, c)| c.status() == ClaimStatus::Verified && c.open_dispute().is_none())
        .collect();
    payable.sort_by_key(|(_, c)| c.seq());
    payable.into_iter().map(|(id, _)| *id).collect()
}

fn payable_amount(id: &EventId, claim: &ClaimState) -> anyhow::Result<Amount> {
    if claim.status() != ClaimStatus::Verified {
        return Err(Refusal::new(
            "claim-not-verified",
            "claim not payable",
            format!(
                "claim {id} is {}; only verified claims are paid",
                claim.status()
            ),
        )
        .with_hint("`ledger state CONTRACT` lists the claims and where each stands")
        .into());
    }
    if let Some(dispute) = claim.open_dispute() {
        return Err(Refusal::new(
            "dispute-open",
            "claim not payable",
            format!("claim {id} has an open dispute {dispute}; resolve it first"),
        )
        .into());
    }
    let price = claim.price().ok_or_else(|| {
        Refusal::new(
            "claim-not-verified",
            "claim not payable",
            format!("claim {id} has no price"),
        )
    })?;
    price
        .get()
        .checked_mul(claim.verified_units().get())
        .and_then(Int::new)
        .ok_or_else(|| {
            Refusal::new(
                "overflow",
                "amount too large",
                format!("claim {id}: price x units is over 2^53-1"),
            )
            .into()
        })
}

/// The refusal for a claim the contract does not hold.
pub(crate) fn unknown_claim(state: &ContractState, id: &EventId) -> anyhow::Error {
    Refusal::new(
        "unknown-claim",
        "no such claim",
        format!("claim {id} is not a claim of contract {}", state.id()),
    )
    .with_hint(format!("`ledger state {}` lists its claims", state.id()))
    .into()
}

/// The sum of payment lines.
///
/// # Errors
/// A total over 2^53-1.
pub(crate) fn total(lines: &[PaymentLine]) -> anyhow::Result<Amount> {
    lines
        .iter()
        .try_fold(0u64, |sum, line| sum.checked_add(line.amount.get()))
        .and_then(Int::new)
        .ok_or_else(|| anyhow::anyhow!("the payment total is over 2^53-1; pay in several payments"))
}

/// The name of a kind for file names: `contract.registered` -> `contract-registered`.
pub(crate) fn kind_slug(kind: Kind) -> String {
    kind.as_str().replace('.', "-")
}

/// Now, to the second, as the author's `at`.
///
/// # Errors
/// A clock before 1970 or past 9999.
pub(crate) fn now() -> anyhow::Result<Timestamp> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| anyhow::anyhow!("the system clock is before 1970; set it, or pass --at"))?
        .as_secs();
    i64::try_from(seconds)
        .ok()
        .and_then(Timestamp::from_unix_seconds)
        .ok_or_else(|| anyhow::anyhow!("the system clock is out of range; set it, or pass --at"))
}
