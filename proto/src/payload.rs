//! The event payload: a header shared by every kind and a closed [`Body`] enum, one variant per
//! `kind`. The string `kind` exists only here, in the codec.
//!
//! Decoding is strict: the bytes must be RFC 8785 canonical JSON, with no duplicate or unknown
//! members, no `null` for an absent optional member, and every value within its pattern and
//! bound. A payload that decodes re-encodes to exactly the same bytes.
//!
//! The members of each body struct are declared in canonical order (sorted by name, as JCS
//! writes them), so the encoder writes them as they come and never has to move them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::datetime::{Date, Timestamp};
use crate::error::{DecodeError, DecodeErrorKind};
use crate::ids::{
    Amount, ContractId, Currency, EventId, Int, KeyId, OutcomeId, Pseudonym, PublicKey,
    Sha256Digest,
};
use crate::jcs;
use crate::text::Text;

#[cfg(test)]
mod tests;
mod wire;

/// The DSSE `payloadType` of every ledger event.
pub const PAYLOAD_TYPE: &str = "application/vnd.outcome-ledger.event.v1+json";

/// The payload format version this crate reads and writes.
pub const VERSION: u64 = 1;

/// Format bounds on list lengths. Node configuration may set smaller ones.
pub mod bounds {
    /// Parties of one contract.
    pub const PARTIES_MAX: usize = 64;
    /// Outcomes in a rate card, and prices in one amendment.
    pub const OUTCOMES_MAX: usize = 64;
    /// Participant pseudonyms in one claim.
    pub const PARTICIPANTS_MAX: usize = 10_000;
    /// Evidence items in one claim.
    pub const EVIDENCE_MAX: usize = 64;
    /// Lines of one payment.
    pub const PAYMENT_LINES_MAX: usize = 1_000;
}

/// A party's role in a contract.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The outcome payer, usually government.
    Commissioner,
    /// The service provider.
    Provider,
    /// An investor funding the work up front.
    Investor,
    /// The intermediary or special-purpose vehicle that distributes to investors.
    Intermediary,
    /// The independent verifier of claims.
    Verifier,
    /// A representative of the people served.
    BeneficiaryRep,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Commissioner => "commissioner",
            Self::Provider => "provider",
            Self::Investor => "investor",
            Self::Intermediary => "intermediary",
            Self::Verifier => "verifier",
            Self::BeneficiaryRep => "beneficiary_rep",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Commissioner,
            Self::Provider,
            Self::Investor,
            Self::Intermediary,
            Self::Verifier,
            Self::BeneficiaryRep,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A party listed in `contract.registered`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The party's Ed25519 public key.
    pub key: PublicKey,
    /// Its public name (an organisation, never a served person).
    pub name: Text<200>,
    /// Its role.
    pub role: Role,
}

/// One line of the rate card.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeDef {
    /// Most units of this outcome the contract pays for.
    pub cap_units: Int,
    /// Outcome id, unique in the contract.
    pub id: OutcomeId,
    /// Human name, e.g. "Accommodation sustained 12 months".
    pub name: Text<200>,
    /// Price per unit, in minor units of the contract currency.
    pub price: Amount,
}

/// `contract.registered`: seq 0 of a contract, signed by every listed party.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractRegistered {
    /// Most money the contract pays in all.
    pub cap: Amount,
    /// ISO 4217 currency of every amount in the contract.
    pub currency: Currency,
    /// Last day of the term.
    pub end: Date,
    /// The rate card.
    pub outcomes: Vec<OutcomeDef>,
    /// The parties and their keys.
    pub parties: Vec<Party>,
    /// First day of the term.
    pub start: Date,
    /// Title of the programme.
    pub title: Text<200>,
}

/// A new price in an amendment.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    /// The outcome repriced.
    pub outcome: OutcomeId,
    /// The new price per unit.
    pub price: Amount,
}

/// `contract.amended`: new prices for verifications after it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractAmended {
    /// The new prices.
    pub prices: Vec<PriceChange>,
    /// Why.
    pub reason: Text<2000>,
}

/// `key.rotated`: a party replaces its key; signed by the old and the new key.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotated {
    /// The new public key.
    pub new: PublicKey,
    /// Key id of the key retired.
    pub old: KeyId,
}

/// `key.revoked`: the commissioner revokes another party's key, with a quorum of the other
/// parties (SPEC.md 6.2), and may give the party a successor key in the same event.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevoked {
    /// Key id of the key revoked.
    pub key: KeyId,
    /// Why.
    pub reason: Text<2000>,
    /// The party's new key, if one: it becomes the party's current key and signs the event.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub successor: Option<PublicKey>,
}

/// `key.enrolled`: a party whose key was revoked gets a successor key, with a quorum of the
/// other parties (SPEC.md 6.2); the new key signs too.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEnrolled {
    /// The new public key.
    pub new: PublicKey,
    /// Key id of a key the party held: names the party.
    pub party: KeyId,
    /// Why.
    pub reason: Text<2000>,
}

/// The period a claim covers, both days included.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
}

/// A piece of evidence, by digest.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Its media type, e.g. `application/pdf`.
    pub media_type: Text<127>,
    /// SHA-256 of the document.
    pub sha256: Sha256Digest,
    /// Where the verifier can fetch it, if anywhere.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub uri: Option<Text<2048>>,
}

/// `claim.submitted`: the provider claims units of an outcome.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSubmitted {
    /// Evidence by digest.
    pub evidence: Vec<Evidence>,
    /// The outcome claimed.
    pub outcome: OutcomeId,
    /// Pseudonyms of the participants (keyed hashes, never names).
    pub participants: Vec<Pseudonym>,
    /// The period it was achieved in.
    pub period: Period,
    /// Units claimed.
    pub quantity: Int,
}

/// `claim.verified`: the verifier accepts all or part of a claim.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimVerified {
    /// The claim (its event id).
    pub claim: EventId,
    /// Units verified, at most those claimed.
    pub quantity: Int,
}

/// `claim.rejected`: the verifier rejects a claim.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRejected {
    /// The claim.
    pub claim: EventId,
    /// Why.
    pub reason: Text<2000>,
}

/// `claim.disputed`: any party disputes a claim.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimDisputed {
    /// The claim.
    pub claim: EventId,
    /// Why.
    pub reason: Text<2000>,
}

/// How the verifier resolved a dispute.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The dispute is right: the claim pays nothing.
    Upheld,
    /// The dispute is wrong: the claim stands as it was.
    Overturned,
    /// The claim stands for `quantity` units.
    Adjusted,
}

/// `dispute.resolved`: the verifier decides a dispute.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeResolved {
    /// The decision.
    pub decision: Decision,
    /// The dispute (the event id of its `claim.disputed`).
    pub dispute: EventId,
    /// Units that stand, with `adjusted` only.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub quantity: Option<Int>,
}

/// Where a beneficiary representative stands on what they speak of.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    /// Confirms the outcome happened as claimed.
    Affirms,
    /// Says it did not.
    Contests,
    /// Neither: a comment for the record.
    Comment,
}

/// `feedback.recorded`: the voice of the people served, through their representative.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRecorded {
    /// The claim spoken of, if one.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub claim: Option<EventId>,
    /// The outcome spoken of, if one.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub outcome: Option<OutcomeId>,
    /// Affirms, contests, or comments.
    pub stance: Stance,
    /// What they said (never a served person's identity).
    pub text: Text<4000>,
}

/// One line of a payment: one claim, paid in full.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentLine {
    /// Price in force at verification times verified units.
    pub amount: Amount,
    /// The claim paid.
    pub claim: EventId,
}

/// `payment.made`: the commissioner pays verified claims.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentMade {
    /// The contract's currency.
    pub currency: Currency,
    /// One line per claim.
    pub lines: Vec<PaymentLine>,
    /// The payer's reference (a remittance number).
    pub reference: Text<200>,
    /// Sum of the lines.
    pub total: Amount,
}

/// `distribution.made`: the intermediary pays an investor out of outcome payments.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionMade {
    /// Amount distributed.
    pub amount: Amount,
    /// The contract's currency.
    pub currency: Currency,
    /// The investor's key id.
    pub investor: KeyId,
    /// The payer's reference.
    pub reference: Text<200>,
}

/// `contract.closed`: the commissioner closes the contract.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractClosed {
    /// Why.
    pub reason: Text<2000>,
}

/// The body of an event: one variant per `kind`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Body {
    /// `contract.registered`
    ContractRegistered(ContractRegistered),
    /// `contract.amended`
    ContractAmended(ContractAmended),
    /// `key.rotated`
    KeyRotated(KeyRotated),
    /// `key.revoked`
    KeyRevoked(KeyRevoked),
    /// `key.enrolled`
    KeyEnrolled(KeyEnrolled),
    /// `claim.submitted`
    ClaimSubmitted(ClaimSubmitted),
    /// `claim.verified`
    ClaimVerified(ClaimVerified),
    /// `claim.rejected`
    ClaimRejected(ClaimRejected),
    /// `claim.disputed`
    ClaimDisputed(ClaimDisputed),
    /// `dispute.resolved`
    DisputeResolved(DisputeResolved),
    /// `feedback.recorded`
    FeedbackRecorded(FeedbackRecorded),
    /// `payment.made`
    PaymentMade(PaymentMade),
    /// `distribution.made`
    DistributionMade(DistributionMade),
    /// `contract.closed`
    ContractClosed(ContractClosed),
}

/// The `kind` of an event, without its body.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Kind {
    /// `contract.registered`
    ContractRegistered,
    /// `contract.amended`
    ContractAmended,
    /// `key.rotated`
    KeyRotated,
    /// `key.revoked`
    KeyRevoked,
    /// `key.enrolled`
    KeyEnrolled,
    /// `claim.submitted`
    ClaimSubmitted,
    /// `claim.verified`
    ClaimVerified,
    /// `claim.rejected`
    ClaimRejected,
    /// `claim.disputed`
    ClaimDisputed,
    /// `dispute.resolved`
    DisputeResolved,
    /// `feedback.recorded`
    FeedbackRecorded,
    /// `payment.made`
    PaymentMade,
    /// `distribution.made`
    DistributionMade,
    /// `contract.closed`
    ContractClosed,
}

impl Kind {
    /// Every kind, in the order of the specification.
    pub const ALL: [Kind; 14] = [
        Kind::ContractRegistered,
        Kind::ContractAmended,
        Kind::KeyRotated,
        Kind::KeyRevoked,
        Kind::KeyEnrolled,
        Kind::ClaimSubmitted,
        Kind::ClaimVerified,
        Kind::ClaimRejected,
        Kind::ClaimDisputed,
        Kind::DisputeResolved,
        Kind::FeedbackRecorded,
        Kind::PaymentMade,
        Kind::DistributionMade,
        Kind::ContractClosed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ContractRegistered => "contract.registered",
            Kind::ContractAmended => "contract.amended",
            Kind::KeyRotated => "key.rotated",
            Kind::KeyRevoked => "key.revoked",
            Kind::KeyEnrolled => "key.enrolled",
            Kind::ClaimSubmitted => "claim.submitted",
            Kind::ClaimVerified => "claim.verified",
            Kind::ClaimRejected => "claim.rejected",
            Kind::ClaimDisputed => "claim.disputed",
            Kind::DisputeResolved => "dispute.resolved",
            Kind::FeedbackRecorded => "feedback.recorded",
            Kind::PaymentMade => "payment.made",
            Kind::DistributionMade => "distribution.made",
            Kind::ContractClosed => "contract.closed",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "contract.registered" => Kind::ContractRegistered,
            "contract.amended" => Kind::ContractAmended,
            "key.rotated" => Kind::KeyRotated,
            "key.revoked" => Kind::KeyRevoked,
            "key.enrolled" => Kind::KeyEnrolled,
            "claim.submitted" => Kind::ClaimSubmitted,
            "claim.verified" => Kind::ClaimVerified,
            "claim.rejected" => Kind::ClaimRejected,
            "claim.disputed" => Kind::ClaimDisputed,
            "dispute.resolved" => Kind::DisputeResolved,
            "feedback.recorded" => Kind::FeedbackRecorded,
            "payment.made" => Kind::PaymentMade,
            "distribution.made" => Kind::DistributionMade,
            "contract.closed" => Kind::ContractClosed,
            _ => return None,
        })
    }
}

impl Body {
    /// The kind of this body.
    pub fn kind(&self) -> Kind {
        match self {
            Body::ContractRegistered(_) => Kind::ContractRegistered,
            Body::ContractAmended(_) => Kind::ContractAmended,
            Body::KeyRotated(_) => Kind::KeyRotated,
            Body::KeyRevoked(_) => Kind::KeyRevoked,
            Body::KeyEnrolled(_) => Kind::KeyEnrolled,
            Body::ClaimSubmitted(_) => Kind::ClaimSubmitted,
            Body::ClaimVerified(_) => Kind::ClaimVerified,
            Body::ClaimRejected(_) => Kind::ClaimRejected,
            Body::ClaimDisputed(_) => Kind::ClaimDisputed,
            Body::DisputeResolved(_) => Kind::DisputeResolved,
            Body::FeedbackRecorded(_) => Kind::FeedbackRecorded,
            Body::PaymentMade(_) => Kind::PaymentMade,
            Body::DistributionMade(_) => Kind::DistributionMade,
            Body::ContractClosed(_) => Kind::ContractClosed,
        }
    }

    /// The public keys this body introduces (SPEC.md 7.1): a registration's parties, a
    /// rotation's new key, a revocation's successor and an enrolment's new key.
    pub fn introduced_keys(&self) -> Vec<&PublicKey> {
        match self {
            Body::ContractRegistered(b) => b.parties.iter().map(|p| &p.key).collect(),
            Body::KeyRotated(b) => vec![&b.new],
            Body::KeyRevoked(b) => b.successor.iter().collect(),
            Body::KeyEnrolled(b) => vec![&b.new],
            _ => Vec::new(),
        }
    }

    fn from_value(kind: Kind, body: Value) -> Result<Self, DecodeError> {
        Ok(match kind {
            Kind::ContractRegistered => Body::ContractRegistered(typed(body)?),
            Kind::ContractAmended => Body::ContractAmended(typed(body)?),
            Kind::KeyRotated => Body::KeyRotated(typed(body)?),
            Kind::KeyRevoked => Body::KeyRevoked(typed(body)?),
            Kind::KeyEnrolled => Body::KeyEnrolled(typed(body)?),
            Kind::ClaimSubmitted => Body::ClaimSubmitted(typed(body)?),
            Kind::ClaimVerified => Body::ClaimVerified(typed(body)?),
            Kind::ClaimRejected => Body::ClaimRejected(typed(body)?),
            Kind::ClaimDisputed => Body::ClaimDisputed(typed(body)?),
            Kind::DisputeResolved => Body::DisputeResolved(typed(body)?),
            Kind::FeedbackRecorded => Body::FeedbackRecorded(typed(body)?),
            Kind::PaymentMade => Body::PaymentMade(typed(body)?),
            Kind::DistributionMade => Body::DistributionMade(typed(body)?),
            Kind::ContractClosed => Body::ContractClosed(typed(body)?),
        })
    }

    fn check_bounds(&self) -> Result<(), DecodeError> {
        use bounds::*;
        match self {
            Body::ContractRegistered(b) => {
                bound("/body/parties", b.parties.len(), PARTIES_MAX)?;
                bound("/body/outcomes", b.outcomes.len(), OUTCOMES_MAX)
            }
            Body::ContractAmended(b) => bound("/body/prices", b.prices.len(), OUTCOMES_MAX),
            Body::ClaimSubmitted(b) => {
                bound("/body/participants", b.participants.len(), PARTICIPANTS_MAX)?;
                bound("/body/evidence", b.evidence.len(), EVIDENCE_MAX)
            }
            Body::PaymentMade(b) => bound("/body/lines", b.lines.len(), PAYMENT_LINES_MAX),
            _ => Ok(()),
        }
    }
}

fn bound(path: &str, len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        return Err(DecodeError::new(
            DecodeErrorKind::TooLarge,
            path,
            format!("{len} items, over the format limit of {max}"),
        ));
    }
    Ok(())
}

/// Deserializes an optional member that, when present, must not be `null` (absent members are
/// omitted, so `null` would give one value two encodings).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Deserializes a required member whose value may be `null`.
fn nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

fn typed<T: DeserializeOwned>(body: Value) -> Result<T, DecodeError> {
    serde_json::from_value(body).map_err(|e| classify(&e).under("/body"))
}

/// Maps a serde error to a decode error class. serde reports unknown and duplicate members and
/// our newtypes' refusals only as text, so the class is read from that text.
fn classify(e: &serde_json::Error) -> DecodeError {
    let msg = e.to_string();
    let kind = if msg.starts_with("unknown field") {
        DecodeErrorKind::UnknownField
    } else if msg.starts_with("duplicate field") {
        DecodeErrorKind::DuplicateKey
    } else if msg.starts_with("missing field") || msg.starts_with("invalid type") {
        DecodeErrorKind::Malformed
    } else {
        DecodeErrorKind::InvalidValue
    };
    DecodeError::new(kind, "", msg)
}

/// The header and body of an event.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Payload {
    /// Contract the event belongs to.
    pub contract: ContractId,
    /// 0-based position in that contract's stream.
    pub seq: Int,
    /// Event id at `seq - 1`; `None` at seq 0.
    pub prev: Option<EventId>,
    /// Key id of the author.
    pub author: KeyId,
    /// When the author says it happened.
    pub at: Timestamp,
    /// The kind-specific body.
    pub body: Body,
}

/// The header as the reference decoder reads it, from a parsed JSON value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    v: u64,
    contract: ContractId,
    seq: Int,
    // Required, though it may be `null`: without `deserialize_with`, serde would take a
    // missing `prev` as `None`, and that payload would re-encode to other bytes.
    #[serde(deserialize_with = "nullable")]
    prev: Option<EventId>,
    kind: String,
    author: KeyId,
    at: Timestamp,
    body: Value,
}

impl Payload {
    /// The kind of the event.
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// Decodes payload bytes strictly (see the module docs).
    ///
    /// # Errors
    /// A [`DecodeError`] naming the class of failure and where it is.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match wire::decode_canonical(bytes) {
            Some(payload) => Ok(payload),
            None => Self::decode_reference(bytes),
        }
    }

    /// The reference decoder: parses to a JSON value refusing duplicate members, checks the
    /// canonical form, then reads the typed header and body. Slower than the fast path of
    /// [`Payload::decode`], it finds the precise error of what that path refuses.
    pub(crate) fn decode_reference(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value = jcs::check_canonical(bytes)?;
        let header: Header = serde_json::from_value(value).map_err(|e| classify(&e))?;
        if header.v != VERSION {
            return Err(DecodeError::new(
                DecodeErrorKind::InvalidValue,
                "/v",
                format!(
                    "unsupported payload version {}, this build reads version {VERSION}",
                    header.v
                ),
            ));
        }
        let kind = Kind::parse(&header.kind).ok_or_else(|| {
            DecodeError::new(
                DecodeErrorKind::Malformed,
                "/kind",
                format!("unknown kind {:?}", header.kind),
            )
        })?;
        let body = Body::from_value(kind, header.body)?;
        body.check_bounds()?;
        let payload = Self {
            contract: header.contract,
            seq: header.seq,
            prev: header.prev,
            author: header.author,
            at: header.at,
            body,
        };
        // serde also reads a struct from the array of its member values, and a unit enum
        // variant from `{"variant":null}`: such bytes are canonical JSON of another shape, and
        // would not re-encode to themselves.
        if payload.encode() != bytes {
            return Err(DecodeError::malformed(
                "a member has the wrong JSON type (an object written as an array, or a name \
                 as an object); write the payload as SPEC.md section 1.5 shows",
            ));
        }
        Ok(payload)
    }

    /// The canonical RFC 8785 bytes of this payload.
    pub fn encode(&self) -> Vec<u8> {
        // Every payload type maps to JSON that JCS represents: string member names only, no
        // floats, no member twice.
        wire::encode_sized(self, 1024).unwrap_or_default()
    }

    /// The event id of the canonical encoding of this payload.
    pub fn id(&self) -> EventId {
        EventId::of_payload(&self.encode())
    }
}
