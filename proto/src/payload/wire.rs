//! The fast path of payload decoding, and the encoder.
//!
//! The fast path decodes the bytes straight into typed values (no `serde_json::Value`), then
//! re-encodes them with the canonical writer and accepts only if that gives back exactly the
//! bytes received. The comparison is what makes it strict: the typed decode here is lenient on
//! purpose (it takes `null` for an absent optional member, the members of any kind in a body,
//! a struct written as an array, whitespace, any member order), because every such payload
//! re-encodes to other bytes. Whatever the fast path refuses goes to the reference decoder,
//! which finds the precise error.

use serde::{Deserialize, Serialize, Serializer};

use super::{
    Body, ClaimDisputed, ClaimRejected, ClaimSubmitted, ClaimVerified, ContractAmended,
    ContractClosed, ContractRegistered, Decision, DisputeResolved, DistributionMade, Evidence,
    FeedbackRecorded, KeyEnrolled, KeyRevoked, KeyRotated, Kind, OutcomeDef, Party, Payload,
    PaymentLine, PaymentMade, Period, PriceChange, Stance, VERSION,
};
use crate::datetime::{Date, Timestamp};
use crate::ids::{
    Amount, ContractId, Currency, EventId, Int, KeyId, OutcomeId, Pseudonym, PublicKey,
};
use crate::jcs;
use crate::text::Text;

/// Decodes `bytes` if they are a valid payload in canonical form; `None` for anything else,
/// valid or not, that the reference decoder must judge.
pub(super) fn decode_canonical(bytes: &[u8]) -> Option<Payload> {
    // Validating UTF-8 once here spares serde_json validating each string.
    let text = std::str::from_utf8(bytes).ok()?;
    let header: Header<'_> = serde_json::from_str(text).ok()?;
    if header.v != VERSION {
        return None;
    }
    let kind = Kind::parse(header.kind)?;
    let payload = Payload {
        contract: header.contract,
        seq: header.seq,
        prev: header.prev,
        author: header.author,
        at: header.at,
        body: header.body.into_body(kind)?,
    };
    payload.body.check_bounds().ok()?;
    let canonical = encode_sized(&payload, bytes.len()).ok()?;
    (canonical == bytes).then_some(payload)
}

/// The canonical bytes of `payload`, in a buffer of `capacity` bytes to start with.
pub(super) fn encode_sized(
    payload: &Payload,
    capacity: usize,
) -> Result<Vec<u8>, serde_json::Error> {
    let header = HeaderRef {
        at: &payload.at,
        author: &payload.author,
        body: BodyRef(&payload.body),
        contract: &payload.contract,
        kind: payload.kind().as_str(),
        prev: payload.prev,
        seq: payload.seq,
        v: VERSION,
    };
    jcs::to_canonical_vec_sized(&header, capacity)
}

/// The header as the encoder writes it, members in canonical order.
#[derive(Serialize)]
struct HeaderRef<'a> {
    at: &'a Timestamp,
    author: &'a KeyId,
    body: BodyRef<'a>,
    contract: &'a ContractId,
    kind: &'static str,
    prev: Option<EventId>,
    seq: Int,
    v: u64,
}

/// A body written as its kind's object, without a tag.
struct BodyRef<'a>(&'a Body);

impl Serialize for BodyRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Body::ContractRegistered(b) => b.serialize(s),
            Body::ContractAmended(b) => b.serialize(s),
            Body::KeyRotated(b) => b.serialize(s),
            Body::KeyRevoked(b) => b.serialize(s),
            Body::KeyEnrolled(b) => b.serialize(s),
            Body::ClaimSubmitted(b) => b.serialize(s),
            Body::ClaimVerified(b) => b.serialize(s),
            Body::ClaimRejected(b) => b.serialize(s),
            Body::ClaimDisputed(b) => b.serialize(s),
            Body::DisputeResolved(b) => b.serialize(s),
            Body::FeedbackRecorded(b) => b.serialize(s),
            Body::PaymentMade(b) => b.serialize(s),
            Body::DistributionMade(b) => b.serialize(s),
            Body::ContractClosed(b) => b.serialize(s),
        }
    }
}

/// The header as the fast path reads it. In canonical order `body` comes before `kind`, so the
/// body is read as [`AnyBody`] and typed once the kind is known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header<'a> {
    v: u64,
    contract: ContractId,
    seq: Int,
    prev: Option<EventId>,
    kind: &'a str,
    author: KeyId,
    at: Timestamp,
    body: AnyBody,
}

/// The members of every kind's body, each optional. A member name means one type in every kind
/// that has it, so one pass reads any body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnyBody {
    amount: Option<Amount>,
    cap: Option<Amount>,
    claim: Option<EventId>,
    currency: Option<Currency>,
    decision: Option<Decision>,
    dispute: Option<EventId>,
    end: Option<Date>,
    evidence: Option<Vec<Evidence>>,
    investor: Option<KeyId>,
    key: Option<KeyId>,
    lines: Option<Vec<PaymentLine>>,
    new: Option<PublicKey>,
    old: Option<KeyId>,
    outcome: Option<OutcomeId>,
    outcomes: Option<Vec<OutcomeDef>>,
    participants: Option<Vec<Pseudonym>>,
    parties: Option<Vec<Party>>,
    party: Option<KeyId>,
    period: Option<Period>,
    prices: Option<Vec<PriceChange>>,
    quantity: Option<Int>,
    reason: Option<Text<2000>>,
    reference: Option<Text<200>>,
    stance: Option<Stance>,
    start: Option<Date>,
    successor: Option<PublicKey>,
    text: Option<Text<4000>>,
    title: Option<Text<200>>,
    total: Option<Amount>,
}

impl AnyBody {
    /// The body of `kind`, if its required members are here. Members of other kinds are left
    /// behind: the payload then re-encodes to other bytes and is refused.
    fn into_body(self, kind: Kind) -> Option<Body> {
        Some(match kind {
            Kind::ContractRegistered => Body::ContractRegistered(ContractRegistered {
                title: self.title?,
                currency: self.currency?,
                parties: self.parties?,
                outcomes: self.outcomes?,
                cap: self.cap?,
                start: self.start?,
                end: self.end?,
            }),
            Kind::ContractAmended => Body::ContractAmended(ContractAmended {
                prices: self.prices?,
                reason: self.reason?,
            }),
            Kind::KeyRotated => Body::KeyRotated(KeyRotated {
                old: self.old?,
                new: self.new?,
            }),
            Kind::KeyRevoked => Body::KeyRevoked(KeyRevoked {
                key: self.key?,
                reason: self.reason?,
                successor: self.successor,
            }),
            Kind::KeyEnrolled => Body::KeyEnrolled(KeyEnrolled {
                new: self.new?,
                party: self.party?,
                reason: self.reason?,
            }),
            Kind::ClaimSubmitted => Body::ClaimSubmitted(ClaimSubmitted {
                outcome: self.outcome?,
                period: self.period?,
                quantity: self.quantity?,
                participants: self.participants?,
                evidence: self.evidence?,
            }),
            Kind::ClaimVerified => Body::ClaimVerified(ClaimVerified {
                claim: self.claim?,
                quantity: self.quantity?,
            }),
            Kind::ClaimRejected => Body::ClaimRejected(ClaimRejected {
                claim: self.claim?,
                reason: self.reason?,
            }),
            Kind::ClaimDisputed => Body::ClaimDisputed(ClaimDisputed {
                claim: self.claim?,
                reason: self.reason?,
            }),
            Kind::DisputeResolved => Body::DisputeResolved(DisputeResolved {
                dispute: self.dispute?,
                decision: self.decision?,
                quantity: self.quantity,
            }),
            Kind::FeedbackRecorded => Body::FeedbackRecorded(FeedbackRecorded {
                claim: self.claim,
                outcome: self.outcome,
                stance: self.stance?,
                text: self.text?,
            }),
            Kind::PaymentMade => Body::PaymentMade(PaymentMade {
                lines: self.lines?,
                total: self.total?,
                currency: self.currency?,
                reference: self.reference?,
            }),
            Kind::DistributionMade => Body::DistributionMade(DistributionMade {
                investor: self.investor?,
                amount: self.amount?,
                currency: self.currency?,
                reference: self.reference?,
            }),
            Kind::ContractClosed => Body::ContractClosed(ContractClosed {
                reason: self.reason?,
            }),
        })
    }
}
