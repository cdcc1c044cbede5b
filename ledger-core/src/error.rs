//! Why an event is refused: [`RuleViolation`] (one variant per rule of SPEC.md section 6,
//! carrying the numbers) and [`Rejection`] (decoding or a rule), each with a stable `code()` and
//! an [`ErrorClass`] that the node maps to an HTTP status.

use std::fmt;

use proto::payload::Decision;
use proto::{ContractId, Currency, Date, DecodeError, DecodeErrorKind, EventId, KeyId, Kind};
use proto::{OutcomeId, Pseudonym, Role};

use crate::projection::ClaimStatus;

/// The class of a refusal: what kind of mistake the submitter made.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ErrorClass {
    /// The bytes do not decode (HTTP 400).
    Malformed,
    /// The bytes are over a size or count limit (HTTP 413).
    TooLarge,
    /// A signature does not verify (HTTP 401).
    BadSignature,
    /// The signer or author may not do this: wrong role, missing required signature, revoked or
    /// rotated-out key, unknown signer (HTTP 403).
    Forbidden,
    /// The event conflicts with the contract's stream: seq or prev, a duplicate, a contract
    /// registered twice (HTTP 409). Re-read the head and retry.
    Conflict,
    /// Any other contract rule (HTTP 422).
    Unprocessable,
}

impl ErrorClass {
    /// The HTTP status the node answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Malformed => 400,
            Self::TooLarge => 413,
            Self::BadSignature => 401,
            Self::Forbidden => 403,
            Self::Conflict => 409,
            Self::Unprocessable => 422,
        }
    }
}

/// An arithmetic operation that went out of `0 ..= 2^53-1`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operation {
    /// `left + right`
    Add,
    /// `left - right`
    Sub,
    /// `left * right`
    Mul,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
        })
    }
}

/// Formats an optional event id as the hex id or `null`.
struct OrNull<'a>(&'a Option<EventId>);

impl fmt::Display for OrNull<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "{id}"),
            None => f.write_str("null"),
        }
    }
}

fn or_null(id: &Option<EventId>) -> OrNull<'_> {
    OrNull(id)
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Upheld => "upheld",
        Decision::Overturned => "overturned",
        Decision::Adjusted => "adjusted",
    }
}

/// A contract rule of SPEC.md section 6 that an event breaks. Each variant names one rule and
/// carries the numbers that break it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RuleViolation {
    // --- 6.1 chain ---
    /// The event is already in the contract (a retry of the last event).
    #[error("event {id} is already in the contract; there is nothing to do")]
    Duplicate {
        /// The event id.
        id: EventId,
    },
    /// `seq` is not the number of events already in the contract.
    #[error("seq {got} conflicts with the contract head: the next seq is {expected} (head {}); re-read the head and re-sign", or_null(.head))]
    SeqConflict {
        /// The next seq.
        expected: u64,
        /// The event's seq.
        got: u64,
        /// Id of the last event, if any.
        head: Option<EventId>,
    },
    /// `prev` is not the id of the last event (`null` at seq 0).
    #[error("prev {} is not the id of the previous event {}; re-read the head and re-sign", or_null(.got), or_null(.expected))]
    PrevMismatch {
        /// Id of the last event (`None` at seq 0).
        expected: Option<EventId>,
        /// The event's prev.
        got: Option<EventId>,
    },
    /// A `contract.registered` for a contract id already registered.
    #[error("contract {contract} is already registered; choose another contract id")]
    AlreadyRegistered {
        /// The contract id.
        contract: ContractId,
    },
    /// An event after seq 0 for a contract that is not registered.
    #[error("contract {contract} is not registered; register it first")]
    UnknownContract {
        /// The contract id.
        contract: ContractId,
    },
    /// The first event of a contract is not `contract.registered`.
    #[error("a contract starts with contract.registered, not {}; register it first", .kind.as_str())]
    FirstEventNotRegistration {
        /// The event's kind.
        kind: Kind,
    },
    /// A `contract.registered` at a seq other than 0.
    #[error("contract.registered must have seq 0, not {seq}")]
    RegistrationNotAtZero {
        /// The event's seq.
        seq: u64,
    },

    // --- 6.1 signers and author ---
    /// A signature does not verify under its key.
    #[error("the signature by key {key} does not verify; sign the exact payload bytes with that key (DSSE PAE)")]
    InvalidSignature {
        /// The signer's key id.
        key: KeyId,
    },
    /// A required signature is absent.
    #[error("the signature of key {key} is required for this kind and missing; add it")]
    MissingSignature {
        /// The key id whose signature is required.
        key: KeyId,
    },
    /// A signature by a key this kind does not require.
    #[error("key {key} is not a required signer of this event; remove its signature")]
    ExtraSignature {
        /// The signer's key id.
        key: KeyId,
    },
    /// A signature by a key id that resolves to no known public key.
    #[error("signer {key} is not a known key; only parties' keys may sign")]
    UnknownSigner {
        /// The signer's key id.
        key: KeyId,
    },
    /// The author is not a key of any party of the contract.
    #[error("author {author} is not a key of a party of this contract; author with a party's current key")]
    UnknownAuthor {
        /// The author's key id.
        author: KeyId,
    },
    /// The author's role may not make this kind of event.
    #[error("a {} may not author {}; ask a party with a permitted role", .role.as_str(), .kind.as_str())]
    WrongRole {
        /// The event's kind.
        kind: Kind,
        /// The author's role.
        role: Role,
    },
    /// A key that was rotated out authored or signed the event.
    #[error("key {key} was rotated out and signs nothing any more; use the party's current key")]
    RetiredKey {
        /// The retired key id.
        key: KeyId,
    },
    /// A revoked key authored or signed the event.
    #[error("key {key} was revoked and signs nothing any more")]
    RevokedKey {
        /// The revoked key id.
        key: KeyId,
    },

    // --- 6.1 closed ---
    /// The contract is closed and the kind is not one accepted after closing.
    #[error("the contract is closed: only claim.disputed, dispute.resolved and feedback.recorded are accepted, not {}", .kind.as_str())]
    ContractClosed {
        /// The event's kind.
        kind: Kind,
    },

    // --- contract.registered ---
    /// Not exactly one commissioner.
    #[error("a contract has exactly one commissioner, this one lists {count}")]
    CommissionerCount {
        /// Commissioners listed.
        count: u64,
    },
    /// No party with a role the contract needs (provider, verifier).
    #[error("a contract needs at least one {}; add one to the parties", .role.as_str())]
    MissingRole {
        /// The missing role.
        role: Role,
    },
    /// More than one intermediary.
    #[error("a contract has at most one intermediary, this one lists {count}")]
    IntermediaryCount {
        /// Intermediaries listed.
        count: u64,
    },
    /// Two parties share a key.
    #[error("key {key} is listed for two parties; give each party its own key")]
    DuplicatePartyKey {
        /// The key id listed twice.
        key: KeyId,
    },
    /// A rate card without outcomes.
    #[error("a contract needs at least one outcome; add one to the rate card")]
    NoOutcomes,
    /// An outcome listed twice (rate card or amendment).
    #[error("outcome {outcome} is listed twice; list each outcome once")]
    DuplicateOutcome {
        /// The outcome id.
        outcome: OutcomeId,
    },
    /// `start` after `end`.
    #[error("the term starts {start} after it ends {end}; swap or fix the dates")]
    TermReversed {
        /// First day.
        start: Date,
        /// Last day.
        end: Date,
    },
    /// A price of 0.
    #[error("outcome {outcome} has price 0; prices are at least 1 minor unit")]
    ZeroPrice {
        /// The outcome id.
        outcome: OutcomeId,
    },
    /// A contract cap of 0.
    #[error("the contract cap is 0; it must be at least 1 minor unit")]
    ZeroCap,

    // --- contract.amended ---
    /// An amendment without prices.
    #[error("an amendment needs at least one price")]
    NoPrices,
    /// An outcome id the rate card does not hold.
    #[error("outcome {outcome} is not in the contract's rate card; use one of its outcome ids")]
    UnknownOutcome {
        /// The outcome id.
        outcome: OutcomeId,
    },

    // --- key.rotated / key.revoked ---
    /// `old` is not the author's key.
    #[error("key.rotated retires the author's own key: old is {old} but the author is {author}")]
    RotationNotByOwner {
        /// The key to retire.
        old: KeyId,
        /// The author.
        author: KeyId,
    },
    /// The new key is, or was, a key of a party of the contract.
    #[error("key {key} is or was already a party's key in this contract; generate a fresh key")]
    KeyReused {
        /// The key id.
        key: KeyId,
    },
    /// The key to revoke is not a current key of the contract.
    #[error("key {key} is not a current key of this contract; nothing to revoke")]
    RevokeNotCurrent {
        /// The key id.
        key: KeyId,
    },
    /// The commissioner revokes its own key.
    #[error("the commissioner may not revoke its own key {key}; rotate it instead")]
    SelfRevocation {
        /// The key id.
        key: KeyId,
    },

    // --- claim.submitted ---
    /// A quantity of 0 where at least 1 is needed.
    #[error("quantity is 0; claims and verifications are for at least 1 unit")]
    ZeroQuantity,
    /// `from` after `to`.
    #[error("the period starts {from} after it ends {to}; swap or fix the dates")]
    PeriodReversed {
        /// First day.
        from: Date,
        /// Last day.
        to: Date,
    },
    /// The period is not within the term.
    #[error("the period's day {date} is outside the contract term {start}..{end}; claim within the term")]
    PeriodOutsideTerm {
        /// The first or last day of the period, whichever is outside.
        date: Date,
        /// First day of the term.
        start: Date,
        /// Last day of the term.
        end: Date,
    },
    /// A participant listed twice.
    #[error("participant {participant} is listed twice; list each participant once")]
    DuplicateParticipant {
        /// The pseudonym.
        participant: Pseudonym,
    },
    /// More participants than units claimed.
    #[error(
        "{participants} participants for {quantity} units; list at most one participant per unit"
    )]
    TooManyParticipants {
        /// Participants listed.
        participants: u64,
        /// Units claimed.
        quantity: u64,
    },

    // --- claim.verified / claim.rejected / claim.disputed ---
    /// The claim is not a claim of this contract.
    #[error(
        "claim {claim} is not a claim of this contract; give the event id of its claim.submitted"
    )]
    UnknownClaim {
        /// The claim id.
        claim: EventId,
    },
    /// The claim was already verified, rejected or paid.
    #[error("claim {claim} is {status}, not pending; only a dispute can change it now")]
    ClaimNotPending {
        /// The claim id.
        claim: EventId,
        /// Its status.
        status: ClaimStatus,
    },
    /// More units than the claim holds.
    #[error("{requested} units for claim {claim}, which claims {claimed}; give at most {claimed}")]
    OverClaimed {
        /// The claim id.
        claim: EventId,
        /// Units claimed.
        claimed: u64,
        /// Units requested.
        requested: u64,
    },
    /// The claim has an open dispute.
    #[error("claim {claim} has an open dispute {dispute}; resolve it first")]
    DisputeOpen {
        /// The claim id.
        claim: EventId,
        /// The open dispute.
        dispute: EventId,
    },

    // --- dispute.resolved ---
    /// The dispute is not a dispute of this contract.
    #[error("dispute {dispute} is not a dispute of this contract; give the event id of its claim.disputed")]
    UnknownDispute {
        /// The dispute id.
        dispute: EventId,
    },
    /// The dispute was already resolved.
    #[error("dispute {dispute} is already resolved")]
    DisputeNotOpen {
        /// The dispute id.
        dispute: EventId,
    },
    /// `adjusted` without a quantity.
    #[error("an adjusted resolution needs the quantity that stands")]
    AdjustedWithoutQuantity,
    /// A quantity with a decision other than `adjusted`.
    #[error("a quantity is given only with an adjusted decision, not with {}; remove it", decision_name(*.decision))]
    QuantityWithoutAdjusted {
        /// The decision.
        decision: Decision,
    },
    /// An adjustment of a paid claim above the units paid.
    #[error("{requested} units for paid claim {claim}, which was paid for {paid_units}; give at most {paid_units}")]
    OverPaidUnits {
        /// The claim id.
        claim: EventId,
        /// Units paid.
        paid_units: u64,
        /// Units requested.
        requested: u64,
    },

    // --- payment.made ---
    /// A payment without lines.
    #[error("a payment needs at least one line")]
    NoLines,
    /// A claim paid twice in one payment.
    #[error("claim {claim} appears on two lines; pay each claim once")]
    DuplicateLine {
        /// The claim id.
        claim: EventId,
    },
    /// A claim already paid.
    #[error("claim {claim} is already paid")]
    AlreadyPaid {
        /// The claim id.
        claim: EventId,
    },
    /// A claim that is not verified.
    #[error("claim {claim} is {status}; only verified claims are paid")]
    ClaimNotVerified {
        /// The claim id.
        claim: EventId,
        /// Its status.
        status: ClaimStatus,
    },
    /// A line's amount is not the claim's price times its verified units.
    #[error("line for claim {claim} says {stated}, but its price times its verified units is {expected}; pay {expected}")]
    AmountMismatch {
        /// The claim id.
        claim: EventId,
        /// Price x verified units.
        expected: u64,
        /// The line's amount.
        stated: u64,
    },
    /// `total` is not the sum of the lines.
    #[error("total says {stated}, but the lines add up to {expected}")]
    TotalMismatch {
        /// Sum of the lines.
        expected: u64,
        /// The stated total.
        stated: u64,
    },
    /// Money in another currency than the contract's.
    #[error("currency {stated} is not the contract's currency {expected}")]
    CurrencyMismatch {
        /// The contract's currency.
        expected: Currency,
        /// The event's currency.
        stated: Currency,
    },
    /// Paying these units would pass the outcome's unit cap.
    #[error("paying {requested_units} more units of {outcome} would pass its cap of {cap_units} ({paid_units} paid so far)")]
    OverOutcomeCap {
        /// The outcome id.
        outcome: OutcomeId,
        /// The outcome's unit cap.
        cap_units: u64,
        /// Units paid so far.
        paid_units: u64,
        /// Units in this payment.
        requested_units: u64,
    },
    /// Paying this total would pass the contract's money cap.
    #[error("paying {requested} more would pass the contract cap of {cap} ({paid} paid so far)")]
    OverContractCap {
        /// The contract cap.
        cap: u64,
        /// Paid so far.
        paid: u64,
        /// This payment's total.
        requested: u64,
    },

    // --- distribution.made ---
    /// The investor is not a current investor key of the contract.
    #[error("key {key} is not a current investor key of this contract")]
    NotAnInvestor {
        /// The key id.
        key: KeyId,
    },
    /// An amount of 0.
    #[error("amount is 0; distributions are at least 1 minor unit")]
    ZeroAmount,
    /// Distributing this amount would pass the outcome payments received.
    #[error("distributing {requested} more would pass the outcome payments of {paid} ({distributed} distributed so far)")]
    OverDistribution {
        /// Outcome payments so far.
        paid: u64,
        /// Distributed so far.
        distributed: u64,
        /// This distribution.
        requested: u64,
    },

    // --- every sum and product ---
    /// A sum or product over 2^53-1 (or a difference below 0).
    #[error("{left} {operation} {right} is outside 0..=2^53-1; use smaller amounts")]
    Overflow {
        /// The operation.
        operation: Operation,
        /// Left operand.
        left: u64,
        /// Right operand.
        right: u64,
    },

    // --- consent: parties, not keys (SPEC.md 6.1 "consent", 6.3 key.revoked, key.enrolled) ---
    /// A party whose consent the event needs has no current key (it was revoked).
    #[error("party {party} (a {}) has no current key and must consent; enrol a successor key for it first (key.enrolled)", .role.as_str())]
    PartyWithoutKey {
        /// Index of the party in registration order.
        party: u64,
        /// Its role.
        role: Role,
    },
    /// Too few of the other parties signed a revocation or an enrolment.
    #[error("{signed} of the {parties} other parties signed with a current key, {needed} must; collect the signatures of more parties")]
    NoQuorum {
        /// Other parties that signed with a current key (the author included).
        signed: u64,
        /// How many must: a strict majority of `parties`.
        needed: u64,
        /// The parties other than the one whose key changes, with or without a current key.
        parties: u64,
    },
    /// Revoking this key without a successor would leave no current key of a role the
    /// contract keeps.
    #[error("key {key} is the last current key of a {}; revoking it would leave the contract without one: name a successor in the revocation", .role.as_str())]
    LastKeyOfRole {
        /// The key to revoke.
        key: KeyId,
        /// Its party's role.
        role: Role,
    },
    /// An enrolment for a party that still holds a current key.
    #[error("the party of key {key} holds current key {current}; a successor is enrolled only for a party without one (a party replaces its own key with key.rotated)")]
    PartyHasKey {
        /// The key named.
        key: KeyId,
        /// The party's current key.
        current: KeyId,
    },
    /// An enrolment naming a key no party of the contract held.
    #[error("key {key} was never a key of a party of this contract; name a key the party held")]
    UnknownPartyKey {
        /// The key id named.
        key: KeyId,
    },
}

impl RuleViolation {
    /// Every stable code, in declaration order (one per variant).
    pub const CODES: &'static [&'static str] = &[
        "duplicate",
        "seq-conflict",
        "prev-mismatch",
        "already-registered",
        "unknown-contract",
        "first-event-not-registration",
        "registration-not-at-seq-0",
        "invalid-signature",
        "missing-signature",
        "extra-signature",
        "unknown-signer",
        "unknown-author",
        "wrong-role",
        "retired-key",
        "revoked-key",
        "contract-closed",
        "commissioner-count",
        "missing-role",
        "intermediary-count",
        "duplicate-party-key",
        "no-outcomes",
        "duplicate-outcome",
        "term-reversed",
        "zero-price",
        "zero-cap",
        "no-prices",
        "unknown-outcome",
        "rotation-not-by-owner",
        "key-reused",
        "revoke-not-current",
        "self-revocation",
        "zero-quantity",
        "period-reversed",
        "period-outside-term",
        "duplicate-participant",
        "too-many-participants",
        "unknown-claim",
        "claim-not-pending",
        "over-claimed",
        "dispute-open",
        "unknown-dispute",
        "dispute-not-open",
        "adjusted-without-quantity",
        "quantity-without-adjusted",
        "over-paid-units",
        "no-lines",
        "duplicate-line",
        "already-paid",
        "claim-not-verified",
        "amount-mismatch",
        "total-mismatch",
        "currency-mismatch",
        "over-outcome-cap",
        "over-contract-cap",
        "not-an-investor",
        "zero-amount",
        "over-distribution",
        "overflow",
        "party-without-key",
        "no-quorum",
        "last-key-of-role",
        "party-has-key",
        "unknown-party-key",
    ];

    /// Stable machine-readable code (kebab-case): the RFC 9457 problem `type` of the node and
    /// the CLI's `--json` `code`.
    pub fn code(&self) -> &'static str {
        Self::CODES[self.ordinal()]
    }

    fn ordinal(&self) -> usize {
        use RuleViolation as V;
        match self {
            V::Duplicate { .. } => 0,
            V::SeqConflict { .. } => 1,
            V::PrevMismatch { .. } => 2,
            V::AlreadyRegistered { .. } => 3,
            V::UnknownContract { .. } => 4,
            V::FirstEventNotRegistration { .. } => 5,
            V::RegistrationNotAtZero { .. } => 6,
            V::InvalidSignature { .. } => 7,
            V::MissingSignature { .. } => 8,
            V::ExtraSignature { .. } => 9,
            V::UnknownSigner { .. } => 10,
            V::UnknownAuthor { .. } => 11,
            V::WrongRole { .. } => 12,
            V::RetiredKey { .. } => 13,
            V::RevokedKey { .. } => 14,
            V::ContractClosed { .. } => 15,
            V::CommissionerCount { .. } => 16,
            V::MissingRole { .. } => 17,
            V::IntermediaryCount { .. } => 18,
            V::DuplicatePartyKey { .. } => 19,
            V::NoOutcomes => 20,
            V::DuplicateOutcome { .. } => 21,
            V::TermReversed { .. } => 22,
            V::ZeroPrice { .. } => 23,
            V::ZeroCap => 24,
            V::NoPrices => 25,
            V::UnknownOutcome { .. } => 26,
            V::RotationNotByOwner { .. } => 27,
            V::KeyReused { .. } => 28,
            V::RevokeNotCurrent { .. } => 29,
            V::SelfRevocation { .. } => 30,
            V::ZeroQuantity => 31,
            V::PeriodReversed { .. } => 32,
            V::PeriodOutsideTerm { .. } => 33,
            V::DuplicateParticipant { .. } => 34,
            V::TooManyParticipants { .. } => 35,
            V::UnknownClaim { .. } => 36,
            V::ClaimNotPending { .. } => 37,
            V::OverClaimed { .. } => 38,
            V::DisputeOpen { .. } => 39,
            V::UnknownDispute { .. } => 40,
            V::DisputeNotOpen { .. } => 41,
            V::AdjustedWithoutQuantity => 42,
            V::QuantityWithoutAdjusted { .. } => 43,
            V::OverPaidUnits { .. } => 44,
            V::NoLines => 45,
            V::DuplicateLine { .. } => 46,
            V::AlreadyPaid { .. } => 47,
            V::ClaimNotVerified { .. } => 48,
            V::AmountMismatch { .. } => 49,
            V::TotalMismatch { .. } => 50,
            V::CurrencyMismatch { .. } => 51,
            V::OverOutcomeCap { .. } => 52,
            V::OverContractCap { .. } => 53,
            V::NotAnInvestor { .. } => 54,
            V::ZeroAmount => 55,
            V::OverDistribution { .. } => 56,
            V::Overflow { .. } => 57,
            V::PartyWithoutKey { .. } => 58,
            V::NoQuorum { .. } => 59,
            V::LastKeyOfRole { .. } => 60,
            V::PartyHasKey { .. } => 61,
            V::UnknownPartyKey { .. } => 62,
        }
    }

    /// The class of the refusal.
    pub fn class(&self) -> ErrorClass {
        Self::class_at(self.ordinal())
    }

    /// The class of the refusal with this stable code (`None` for a code that is not a rule
    /// violation's): so the node's API description and its answers cannot disagree.
    pub fn class_of_code(code: &str) -> Option<ErrorClass> {
        Self::CODES
            .iter()
            .position(|c| *c == code)
            .map(Self::class_at)
    }

    /// The class by ordinal (the order of [`RuleViolation::CODES`]).
    fn class_at(ordinal: usize) -> ErrorClass {
        match ordinal {
            // duplicate, seq-conflict, prev-mismatch, already-registered
            0..=3 => ErrorClass::Conflict,
            // invalid-signature
            7 => ErrorClass::BadSignature,
            // missing-signature, extra-signature, unknown-signer, unknown-author, wrong-role,
            // retired-key, revoked-key
            8..=14 => ErrorClass::Forbidden,
            // party-without-key, no-quorum: consent that is missing
            58 | 59 => ErrorClass::Forbidden,
            _ => ErrorClass::Unprocessable,
        }
    }
}

/// Why an envelope was refused: it does not decode, or it breaks a rule.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Rejection {
    /// The envelope or payload does not decode (or is over a size limit).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A contract rule, signatures included.
    #[error(transparent)]
    Rule(#[from] RuleViolation),
}

impl Rejection {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Decode(e) => e.code(),
            Self::Rule(v) => v.code(),
        }
    }

    /// The class of the refusal.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Decode(e) if e.kind() == DecodeErrorKind::TooLarge => ErrorClass::TooLarge,
            Self::Decode(_) => ErrorClass::Malformed,
            Self::Rule(v) => v.class(),
        }
    }
}
