//! Real signed envelopes for a realistic social outcome contract: a council commissions a
//! housing provider, an investor funds it through an intermediary, an independent verifier
//! checks claims and a beneficiary representative speaks for the people served.
//!
//! Keys come from fixed seeds (SHA-256 of a label), so runs are reproducible. Envelopes are
//! built with `proto` (payload codec and DSSE) and signed with ed25519-dalek.

use anyhow::{anyhow, Context, Result};
use ed25519_dalek::SigningKey;
use proto::dsse::{self, Envelope};
use proto::payload::{
    ClaimSubmitted, ClaimVerified, ContractClosed, ContractRegistered, Evidence, FeedbackRecorded,
    KeyRevoked, OutcomeDef, Party, PaymentLine, PaymentMade, Period, Stance, PAYLOAD_TYPE,
};
use proto::{Body, ContractId, EventId, Int, KeyId, Payload, PublicKey, Role, Timestamp};
use sha2::{Digest, Sha256};

/// Unix time of the first event of every contract: 2025-03-01T00:00:00Z.
pub const FIRST_AT_SECONDS: i64 = 1_740_787_200;
/// Price of one `housed-12m` outcome, in pence.
pub const HOUSED_PRICE: u64 = 150_000;
/// Most `housed-12m` units the contract pays for.
pub const HOUSED_CAP_UNITS: u64 = 1_000;
/// Price of one `employed-6m` outcome, in pence.
pub const EMPLOYED_PRICE: u64 = 80_000;
/// Most `employed-6m` units the contract pays for.
pub const EMPLOYED_CAP_UNITS: u64 = 500;
/// Most money the contract pays, in pence.
pub const CONTRACT_CAP: u64 = 100_000_000;

/// A party's signing key and role.
#[derive(Clone, Debug)]
pub struct Signer {
    key: SigningKey,
    role: Role,
    name: String,
}

impl Signer {
    /// The key whose seed is SHA-256(`ledger-tests/` + `label`).
    pub fn from_label(label: &str, role: Role, name: &str) -> Self {
        let seed: [u8; 32] = Sha256::digest(format!("ledger-tests/{label}")).into();
        Self {
            key: SigningKey::from_bytes(&seed),
            role,
            name: name.to_owned(),
        }
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_bytes(self.key.verifying_key().to_bytes())
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.public())
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

/// The six parties of a contract, keyed from `label`.
#[derive(Clone, Debug)]
pub struct Parties {
    /// The council paying for outcomes.
    pub commissioner: Signer,
    /// The housing charity delivering the service.
    pub provider: Signer,
    /// The social investor.
    pub investor: Signer,
    /// The special-purpose vehicle paying the investor.
    pub intermediary: Signer,
    /// The independent verifier.
    pub verifier: Signer,
    /// The representative of the people served.
    pub beneficiary_rep: Signer,
}

impl Parties {
    /// Six parties with keys derived from `label`.
    pub fn new(label: &str) -> Self {
        let signer = |role: Role, name: &str| {
            Signer::from_label(&format!("{label}/{}", role.as_str()), role, name)
        };
        Self {
            commissioner: signer(Role::Commissioner, "Northtown Council"),
            provider: signer(Role::Provider, "Homes First"),
            investor: signer(Role::Investor, "Bridge Social Fund"),
            intermediary: signer(Role::Intermediary, "Northtown Outcomes SPV"),
            verifier: signer(Role::Verifier, "Independent Evaluation Ltd"),
            beneficiary_rep: signer(Role::BeneficiaryRep, "Tenants Voice"),
        }
    }

    /// Every party, in role order.
    pub fn all(&self) -> [&Signer; 6] {
        [
            &self.commissioner,
            &self.provider,
            &self.investor,
            &self.intermediary,
            &self.verifier,
            &self.beneficiary_rep,
        ]
    }
}

/// A signed envelope ready to post, with its id and payload.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The envelope JSON (RFC 8785 form).
    pub envelope: Vec<u8>,
    /// The event id.
    pub id: EventId,
    /// The payload it carries.
    pub payload: Payload,
}

impl Signed {
    /// The envelope as a JSON value.
    ///
    /// # Errors
    /// Never in practice: the envelope is JSON made here.
    pub fn json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::from_slice(&self.envelope)?)
    }
}

/// Signs payload bytes with `signers` (in any order) into envelope JSON.
///
/// # Errors
/// When `signers` is empty or holds a key twice.
pub fn seal(payload: &[u8], signers: &[&Signer]) -> Result<Vec<u8>> {
    let signatures = signers
        .iter()
        .map(|s| dsse::sign(PAYLOAD_TYPE, payload, s.signing_key()))
        .collect();
    let envelope = Envelope::new(PAYLOAD_TYPE, payload.to_vec(), signatures)
        .map_err(|e| anyhow!("building an envelope: {e}"))?;
    Ok(envelope.to_jcs())
}

/// One contract's stream as a client sees it: its parties and its head.
#[derive(Clone, Debug)]
pub struct Contract {
    id: ContractId,
    parties: Parties,
    next_seq: u64,
    last: Option<EventId>,
}

impl Contract {
    /// A contract `id` (not yet registered) whose parties are keyed from `id`.
    ///
    /// # Errors
    /// When `id` is not a valid contract id.
    pub fn new(id: &str) -> Result<Self> {
        let contract_id = id.parse().map_err(|e| anyhow!("contract id {id:?}: {e}"))?;
        Ok(Self {
            id: contract_id,
            parties: Parties::new(id),
            next_seq: 0,
            last: None,
        })
    }

    /// The contract id.
    pub fn id(&self) -> &ContractId {
        &self.id
    }

    /// The parties.
    pub fn parties(&self) -> &Parties {
        &self.parties
    }

    /// The seq the next event will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The id of the last accepted event.
    pub fn last(&self) -> Option<EventId> {
        self.last
    }

    /// Moves the head past `event`, once the node accepted it.
    pub fn accept(&mut self, event: &Signed) {
        self.next_seq = event.payload.seq.get() + 1;
        self.last = Some(event.id);
    }

    /// Sets the head as the node reports it (after a crash, for instance).
    pub fn rebase(&mut self, next_seq: u64, last: Option<EventId>) {
        self.next_seq = next_seq;
        self.last = last;
    }

    /// A payload at the current head.
    ///
    /// # Errors
    /// When the seq is over 2^53-1.
    pub fn draft(&self, author: &Signer, body: Body) -> Result<Payload> {
        let seq = Int::new(self.next_seq).context("seq over 2^53-1")?;
        let at = FIRST_AT_SECONDS
            .checked_add(
                i64::try_from(self.next_seq)?
                    .checked_mul(60)
                    .context("time overflow")?,
            )
            .context("time overflow")?;
        Ok(Payload {
            contract: self.id.clone(),
            seq,
            prev: self.last,
            author: author.key_id(),
            at: Timestamp::from_unix_seconds(at).context("timestamp out of range")?,
            body,
        })
    }

    /// Signs `payload` with `signers`.
    ///
    /// # Errors
    /// As [`seal`].
    pub fn sign(payload: Payload, signers: &[&Signer]) -> Result<Signed> {
        let bytes = payload.encode();
        let envelope = seal(&bytes, signers)?;
        Ok(Signed {
            envelope,
            id: EventId::of_payload(&bytes),
            payload,
        })
    }

    /// A payload at the head by `author`, signed by `author` alone.
    ///
    /// # Errors
    /// As [`Contract::draft`].
    pub fn by(&self, author: &Signer, body: Body) -> Result<Signed> {
        Self::sign(self.draft(author, body)?, &[author])
    }

    /// `contract.registered`, signed by every party.
    ///
    /// # Errors
    /// Never in practice: every value is valid.
    pub fn registered(&self) -> Result<Signed> {
        let payload = self.draft(
            &self.parties.commissioner,
            Body::ContractRegistered(self.terms()?),
        )?;
        Self::sign(payload, &self.parties.all())
    }

    /// The terms of `contract.registered`.
    ///
    /// # Errors
    /// Never in practice: every value is valid.
    pub fn terms(&self) -> Result<ContractRegistered> {
        let parties = self
            .parties
            .all()
            .iter()
            .map(|s| {
                Ok(Party {
                    key: s.public(),
                    role: s.role,
                    name: text(&s.name)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ContractRegistered {
            title: text("Northtown rough sleeping outcomes programme")?,
            currency: "GBP".parse().map_err(|e| anyhow!("{e}"))?,
            parties,
            outcomes: vec![
                outcome(
                    "housed-12m",
                    "Accommodation sustained 12 months",
                    HOUSED_PRICE,
                    HOUSED_CAP_UNITS,
                )?,
                outcome(
                    "employed-6m",
                    "Employment sustained 6 months",
                    EMPLOYED_PRICE,
                    EMPLOYED_CAP_UNITS,
                )?,
            ],
            cap: int(CONTRACT_CAP)?,
            start: "2025-01-01".parse().map_err(|e| anyhow!("{e}"))?,
            end: "2028-12-31".parse().map_err(|e| anyhow!("{e}"))?,
        })
    }

    /// `claim.submitted` by the provider for `quantity` units of `outcome`; `nonce` makes the
    /// participants (and so the event) distinct.
    ///
    /// # Errors
    /// When `outcome` is not a valid outcome id.
    pub fn claim(&self, outcome: &str, quantity: u64, nonce: u64) -> Result<Signed> {
        self.claim_with(outcome, quantity, quantity.min(3), nonce)
    }

    /// `claim.submitted` as [`Contract::claim`], naming `participants` pseudonyms (at most
    /// `quantity` for a valid claim).
    ///
    /// # Errors
    /// When `outcome` is not a valid outcome id.
    pub fn claim_with(
        &self,
        outcome: &str,
        quantity: u64,
        participants: u64,
        nonce: u64,
    ) -> Result<Signed> {
        let participants = (0..participants)
            .map(|i| {
                let digest: [u8; 32] =
                    Sha256::digest(format!("{}/{nonce}/{i}", self.id.as_str())).into();
                proto::Pseudonym::from_bytes(digest)
            })
            .collect();
        let evidence_digest: [u8; 32] =
            Sha256::digest(format!("evidence/{}/{nonce}", self.id.as_str())).into();
        let body = ClaimSubmitted {
            outcome: outcome.parse().map_err(|e| anyhow!("{e}"))?,
            period: Period {
                from: "2025-02-01".parse().map_err(|e| anyhow!("{e}"))?,
                to: "2025-02-28".parse().map_err(|e| anyhow!("{e}"))?,
            },
            quantity: int(quantity)?,
            participants,
            evidence: vec![Evidence {
                sha256: proto::Sha256Digest::from_bytes(evidence_digest),
                media_type: text("application/pdf")?,
                uri: None,
            }],
        };
        self.by(&self.parties.provider, Body::ClaimSubmitted(body))
    }

    /// `claim.verified` by the verifier.
    ///
    /// # Errors
    /// When `quantity` is over 2^53-1.
    pub fn verified(&self, claim: EventId, quantity: u64) -> Result<Signed> {
        let body = ClaimVerified {
            claim,
            quantity: int(quantity)?,
        };
        self.by(&self.parties.verifier, Body::ClaimVerified(body))
    }

    /// `payment.made` by the commissioner for `(claim, amount)` lines, `total` their sum.
    ///
    /// # Errors
    /// When an amount is over 2^53-1.
    pub fn payment(&self, lines: &[(EventId, u64)], total: u64) -> Result<Signed> {
        let lines = lines
            .iter()
            .map(|(claim, amount)| {
                Ok(PaymentLine {
                    claim: *claim,
                    amount: int(*amount)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let body = PaymentMade {
            lines,
            total: int(total)?,
            currency: "GBP".parse().map_err(|e| anyhow!("{e}"))?,
            reference: text("REMIT-2025-0001")?,
        };
        self.by(&self.parties.commissioner, Body::PaymentMade(body))
    }

    /// `key.revoked` of `key` by the commissioner, signed by the quorum SPEC.md 6.1 asks: the
    /// commissioner and current keys of a strict majority of the other parties.
    ///
    /// # Errors
    /// Never in practice.
    pub fn revoked(&self, key: KeyId) -> Result<Signed> {
        let body = KeyRevoked {
            key,
            reason: text("key reported lost")?,
            successor: None,
        };
        let commissioner = &self.parties.commissioner;
        let others: Vec<&Signer> = self
            .parties
            .all()
            .into_iter()
            .filter(|s| s.key_id() != key)
            .collect();
        let needed = others.len() / 2 + 1;
        let mut signers = vec![commissioner];
        signers.extend(
            others
                .into_iter()
                .filter(|s| s.key_id() != commissioner.key_id())
                .take(needed.saturating_sub(1)),
        );
        let payload = self.draft(commissioner, Body::KeyRevoked(body))?;
        Self::sign(payload, &signers)
    }

    /// `feedback.recorded` by the beneficiary representative, about `claim`.
    ///
    /// # Errors
    /// Never in practice.
    pub fn feedback(&self, claim: EventId, words: &str) -> Result<Signed> {
        let body = FeedbackRecorded {
            claim: Some(claim),
            outcome: None,
            stance: Stance::Affirms,
            text: text(words)?,
        };
        self.by(&self.parties.beneficiary_rep, Body::FeedbackRecorded(body))
    }

    /// `contract.closed` by the commissioner.
    ///
    /// # Errors
    /// Never in practice.
    pub fn closed(&self) -> Result<Signed> {
        let body = ContractClosed {
            reason: text("programme term ended")?,
        };
        self.by(&self.parties.commissioner, Body::ContractClosed(body))
    }
}

fn text<const N: usize>(s: &str) -> Result<proto::Text<N>> {
    s.parse().map_err(|e| anyhow!("text {s:?}: {e}"))
}

fn int(value: u64) -> Result<Int> {
    Int::new(value).context("integer over 2^53-1")
}

fn outcome(id: &str, name: &str, price: u64, cap_units: u64) -> Result<OutcomeDef> {
    Ok(OutcomeDef {
        id: id.parse().map_err(|e| anyhow!("outcome id {id:?}: {e}"))?,
        name: text(name)?,
        price: int(price)?,
        cap_units: int(cap_units)?,
    })
}
