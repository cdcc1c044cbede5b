//! [`ContractState`]: the memory of the rules and the projection of a contract in one pure fold
//! over its events. Folding a history event by event and rebuilding it from scratch give equal
//! states.
//!
//! Unlike other core types, the projection derives `serde` (a documented exception): it is the
//! node's snapshot and the JSON of `GET /v1/contracts/{id}`. Field names are snake_case and money
//! is an integer count of minor units.

use std::collections::BTreeMap;
use std::fmt;

use proto::payload::{Decision, Stance};
use proto::{Amount, ContractId, Currency, Date, EventId, Int, KeyId, OutcomeId, PublicKey};
use proto::{Role, Text, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::RuleViolation;
use crate::event::Event;
use crate::money;
use crate::rules::{self, Effect};

/// Where a claim stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Submitted, neither verified nor rejected.
    Pending,
    /// Verified for some units, not paid.
    Verified,
    /// Rejected (by the verifier or by an upheld dispute).
    Rejected,
    /// Paid.
    Paid,
}

impl ClaimStatus {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Rejected => "rejected",
            Self::Paid => "paid",
        }
    }
}

impl fmt::Display for ClaimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a key may still sign.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// The party's current key.
    Current,
    /// Rotated out: signs nothing any more.
    Retired,
    /// Revoked by the commissioner with a quorum: signs nothing any more.
    Revoked,
}

/// A key a party of the contract holds or held.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct KeyRecord {
    pub(crate) public_key: PublicKey,
    pub(crate) party: usize,
    pub(crate) status: KeyStatus,
    pub(crate) since_seq: u64,
    pub(crate) until_seq: Option<u64>,
}

impl KeyRecord {
    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    /// Index of the party in [`ContractState::parties`].
    pub fn party(&self) -> usize {
        self.party
    }
    /// Current, retired or revoked.
    pub fn status(&self) -> KeyStatus {
        self.status
    }
    /// Seq of the event that introduced the key.
    pub fn since_seq(&self) -> u64 {
        self.since_seq
    }
    /// Seq of the event that retired or revoked it.
    pub fn until_seq(&self) -> Option<u64> {
        self.until_seq
    }
}

/// A party of the contract.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PartyState {
    pub(crate) role: Role,
    pub(crate) name: Text<200>,
    pub(crate) key: Option<KeyId>,
    pub(crate) keys: Vec<KeyId>,
}

impl PartyState {
    /// The party's role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Its public name.
    pub fn name(&self) -> &Text<200> {
        &self.name
    }
    /// Its current key (`None` once revoked, until a successor is enrolled).
    pub fn key(&self) -> Option<&KeyId> {
        self.key.as_ref()
    }
    /// Every key it held, oldest first.
    pub fn keys(&self) -> &[KeyId] {
        &self.keys
    }
}

/// Units and money of claims, summed per outcome and for the whole contract. A claim counts in
/// `claimed_units` whatever its status, and in exactly one of pending, verified (verified or
/// paid), or rejected.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Tally {
    /// Units claimed.
    pub claimed_units: Int,
    /// Units of pending claims.
    pub pending_units: Int,
    /// Units verified (of claims verified or paid).
    pub verified_units: Int,
    /// Price x verified units of claims verified or paid.
    pub verified_money: Amount,
    /// Units claimed by rejected claims.
    pub rejected_units: Int,
    /// Units claimed by claims with an open dispute.
    pub disputed_units: Int,
    /// Units paid.
    pub paid_units: Int,
    /// Money paid.
    pub paid_money: Amount,
    /// Units verified and not paid.
    pub unpaid_units: Int,
    /// Money verified and not paid.
    pub unpaid_money: Amount,
    /// Money paid that disputes found was not due: a clawback due to the commissioner.
    pub clawback_money: Amount,
}

impl Tally {
    /// `op` field by field.
    fn zip(
        &self,
        other: &Self,
        op: fn(Int, Int) -> Result<Int, RuleViolation>,
    ) -> Result<Self, RuleViolation> {
        Ok(Self {
            claimed_units: op(self.claimed_units, other.claimed_units)?,
            pending_units: op(self.pending_units, other.pending_units)?,
            verified_units: op(self.verified_units, other.verified_units)?,
            verified_money: op(self.verified_money, other.verified_money)?,
            rejected_units: op(self.rejected_units, other.rejected_units)?,
            disputed_units: op(self.disputed_units, other.disputed_units)?,
            paid_units: op(self.paid_units, other.paid_units)?,
            paid_money: op(self.paid_money, other.paid_money)?,
            unpaid_units: op(self.unpaid_units, other.unpaid_units)?,
            unpaid_money: op(self.unpaid_money, other.unpaid_money)?,
            clawback_money: op(self.clawback_money, other.clawback_money)?,
        })
    }

    /// Field-by-field sum.
    ///
    /// # Errors
    /// [`RuleViolation::Overflow`] past 2^53-1.
    pub fn plus(&self, other: &Self) -> Result<Self, RuleViolation> {
        self.zip(other, money::add)
    }

    /// Field-by-field difference.
    ///
    /// # Errors
    /// [`RuleViolation::Overflow`] below 0.
    pub fn minus(&self, other: &Self) -> Result<Self, RuleViolation> {
        self.zip(other, money::sub)
    }
}

/// One outcome of the rate card.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OutcomeState {
    pub(crate) id: OutcomeId,
    pub(crate) name: Text<200>,
    pub(crate) price: Amount,
    pub(crate) cap_units: Int,
    pub(crate) tally: Tally,
}

impl OutcomeState {
    /// The outcome id.
    pub fn id(&self) -> &OutcomeId {
        &self.id
    }
    /// Its name.
    pub fn name(&self) -> &Text<200> {
        &self.name
    }
    /// The price in force (after amendments).
    pub fn price(&self) -> Amount {
        self.price
    }
    /// Most units the contract pays for.
    pub fn cap_units(&self) -> Int {
        self.cap_units
    }
    /// Units that may still be paid: `cap_units - paid_units`.
    pub fn cap_units_left(&self) -> Int {
        Int::new(
            self.cap_units
                .get()
                .saturating_sub(self.tally.paid_units.get()),
        )
        .unwrap_or(Int::ZERO)
    }
    /// Its claims summed.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }
}

/// Feedback counts by stance.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct FeedbackCounts {
    /// `affirms`
    pub affirms: u64,
    /// `contests`
    pub contests: u64,
    /// `comment`
    pub comments: u64,
}

impl FeedbackCounts {
    /// The counts with one more of `stance`.
    ///
    /// # Errors
    /// [`RuleViolation::Overflow`] past 2^53-1.
    pub fn plus_one(&self, stance: Stance) -> Result<Self, RuleViolation> {
        let bump = |n: u64| {
            money::add(
                Int::new(n).unwrap_or(Int::ZERO),
                Int::new(1).unwrap_or(Int::ZERO),
            )
        };
        let mut next = *self;
        match stance {
            Stance::Affirms => next.affirms = bump(self.affirms)?.get(),
            Stance::Contests => next.contests = bump(self.contests)?.get(),
            Stance::Comment => next.comments = bump(self.comments)?.get(),
        }
        Ok(next)
    }
}

/// A claim: a `claim.submitted` and what happened to it since. Its id is the event id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ClaimState {
    pub(crate) outcome: OutcomeId,
    pub(crate) seq: u64,
    pub(crate) period_from: Date,
    pub(crate) period_to: Date,
    pub(crate) quantity: Int,
    pub(crate) participants: u64,
    pub(crate) evidence: u64,
    pub(crate) status: ClaimStatus,
    pub(crate) verified_units: Int,
    pub(crate) price: Option<Amount>,
    pub(crate) paid_units: Int,
    pub(crate) paid_money: Amount,
    pub(crate) standing_units: Int,
    pub(crate) clawback_money: Amount,
    pub(crate) open_dispute: Option<EventId>,
    pub(crate) disputes: u64,
    pub(crate) feedback: FeedbackCounts,
}

impl ClaimState {
    /// The outcome claimed.
    pub fn outcome(&self) -> &OutcomeId {
        &self.outcome
    }
    /// Seq of its `claim.submitted`.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// First day of the period claimed.
    pub fn period_from(&self) -> &Date {
        &self.period_from
    }
    /// Last day of the period claimed.
    pub fn period_to(&self) -> &Date {
        &self.period_to
    }
    /// Units claimed.
    pub fn quantity(&self) -> Int {
        self.quantity
    }
    /// Participants listed.
    pub fn participants(&self) -> u64 {
        self.participants
    }
    /// Evidence items listed.
    pub fn evidence(&self) -> u64 {
        self.evidence
    }
    /// Pending, verified, rejected or paid.
    pub fn status(&self) -> ClaimStatus {
        self.status
    }
    /// Units verified (meaningful when verified or paid).
    pub fn verified_units(&self) -> Int {
        self.verified_units
    }
    /// The price fixed when it was first verified.
    pub fn price(&self) -> Option<Amount> {
        self.price
    }
    /// Units paid (0 unless paid).
    pub fn paid_units(&self) -> Int {
        self.paid_units
    }
    /// Money paid (0 unless paid).
    pub fn paid_money(&self) -> Amount {
        self.paid_money
    }
    /// Of the units paid, those that disputes left standing.
    pub fn standing_units(&self) -> Int {
        self.standing_units
    }
    /// Money paid that disputes found was not due.
    pub fn clawback_money(&self) -> Amount {
        self.clawback_money
    }
    /// Its open dispute, if one.
    pub fn open_dispute(&self) -> Option<&EventId> {
        self.open_dispute.as_ref()
    }
    /// Disputes opened on it.
    pub fn disputes(&self) -> u64 {
        self.disputes
    }
    /// Feedback about it.
    pub fn feedback(&self) -> &FeedbackCounts {
        &self.feedback
    }

    /// What the claim adds to its outcome's tally.
    ///
    /// # Errors
    /// [`RuleViolation::Overflow`] if price x units is over 2^53-1.
    pub fn contribution(&self) -> Result<Tally, RuleViolation> {
        let mut tally = Tally {
            claimed_units: self.quantity,
            ..Tally::default()
        };
        if self.open_dispute.is_some() {
            tally.disputed_units = self.quantity;
        }
        match self.status {
            ClaimStatus::Pending => tally.pending_units = self.quantity,
            ClaimStatus::Rejected => tally.rejected_units = self.quantity,
            ClaimStatus::Verified => {
                let money = money::mul(self.price.unwrap_or(Int::ZERO), self.verified_units)?;
                tally.verified_units = self.verified_units;
                tally.verified_money = money;
                tally.unpaid_units = self.verified_units;
                tally.unpaid_money = money;
            }
            ClaimStatus::Paid => {
                tally.verified_units = self.verified_units;
                tally.verified_money = self.paid_money;
                tally.paid_units = self.paid_units;
                tally.paid_money = self.paid_money;
                tally.clawback_money = self.clawback_money;
            }
        }
        Ok(tally)
    }
}

/// How a dispute was resolved.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Resolution {
    pub(crate) decision: Decision,
    pub(crate) quantity: Option<Int>,
    pub(crate) seq: u64,
}

impl Resolution {
    /// Upheld, overturned or adjusted.
    pub fn decision(&self) -> Decision {
        self.decision
    }
    /// Units that stand, with `adjusted`.
    pub fn quantity(&self) -> Option<Int> {
        self.quantity
    }
    /// Seq of the `dispute.resolved`.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// A dispute: a `claim.disputed` and its resolution. Its id is the event id.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisputeState {
    pub(crate) claim: EventId,
    pub(crate) opened_by: KeyId,
    pub(crate) seq: u64,
    pub(crate) resolution: Option<Resolution>,
}

impl DisputeState {
    /// The claim disputed.
    pub fn claim(&self) -> &EventId {
        &self.claim
    }
    /// Key id of the party that opened it.
    pub fn opened_by(&self) -> &KeyId {
        &self.opened_by
    }
    /// Seq of the `claim.disputed`.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// The resolution, once resolved.
    pub fn resolution(&self) -> Option<&Resolution> {
        self.resolution.as_ref()
    }
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.resolution.is_none()
    }
}

/// One price changed by an amendment.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PriceChange {
    pub(crate) outcome: OutcomeId,
    pub(crate) old: Amount,
    pub(crate) new: Amount,
}

impl PriceChange {
    /// The outcome repriced.
    pub fn outcome(&self) -> &OutcomeId {
        &self.outcome
    }
    /// The price before.
    pub fn old(&self) -> Amount {
        self.old
    }
    /// The price after.
    pub fn new_price(&self) -> Amount {
        self.new
    }
}

/// A `contract.amended`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Amendment {
    pub(crate) seq: u64,
    pub(crate) id: EventId,
    pub(crate) at: Timestamp,
    pub(crate) prices: Vec<PriceChange>,
}

impl Amendment {
    /// Its seq.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Its event id.
    pub fn id(&self) -> &EventId {
        &self.id
    }
    /// When the author says it was made.
    pub fn at(&self) -> &Timestamp {
        &self.at
    }
    /// The prices it changed.
    pub fn prices(&self) -> &[PriceChange] {
        &self.prices
    }
}

/// When and why nothing more is paid.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Closure {
    pub(crate) seq: u64,
    pub(crate) at: Timestamp,
}

impl Closure {
    /// Seq of the `contract.closed`.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// When the commissioner says it closed.
    pub fn at(&self) -> &Timestamp {
        &self.at
    }
}

/// The last event of a contract.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Head {
    /// Its seq (the contract holds `seq + 1` events).
    pub seq: u64,
    /// Its event id (the next event's `prev`).
    pub id: EventId,
}

/// The state of one contract after its events so far.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ContractState {
    pub(crate) id: ContractId,
    pub(crate) registered: EventId,
    pub(crate) title: Text<200>,
    pub(crate) currency: Currency,
    pub(crate) start: Date,
    pub(crate) end: Date,
    pub(crate) cap: Amount,
    pub(crate) parties: Vec<PartyState>,
    pub(crate) keys: BTreeMap<KeyId, KeyRecord>,
    pub(crate) outcomes: Vec<OutcomeState>,
    pub(crate) amendments: Vec<Amendment>,
    #[serde(deserialize_with = "packed_map")]
    pub(crate) claims: BTreeMap<EventId, ClaimState>,
    #[serde(deserialize_with = "packed_map")]
    pub(crate) disputes: BTreeMap<EventId, DisputeState>,
    pub(crate) tally: Tally,
    pub(crate) payments: u64,
    pub(crate) distributions: BTreeMap<KeyId, Amount>,
    pub(crate) distributed: Amount,
    pub(crate) feedback: FeedbackCounts,
    pub(crate) closed: Option<Closure>,
    pub(crate) head: Head,
}

impl ContractState {
    /// The state of a contract after its `contract.registered` (seq 0).
    ///
    /// # Panics
    /// If `event` is not a registration that passes the registration rules (validate first).
    pub fn register(event: &Event) -> ContractState {
        let proto::Body::ContractRegistered(body) = event.body() else {
            panic!(
                "ContractState::register of a {} event",
                event.kind().as_str()
            );
        };
        if let Err(violation) = rules::check_registration(body) {
            panic!("ContractState::register of an invalid registration: {violation}");
        }
        assert_eq!(event.seq(), 0, "a registration is at seq 0");
        let mut keys = BTreeMap::new();
        let parties = body
            .parties
            .iter()
            .enumerate()
            .map(|(party, p)| {
                let id = KeyId::of(&p.key);
                let record = KeyRecord {
                    public_key: p.key,
                    party,
                    status: KeyStatus::Current,
                    since_seq: 0,
                    until_seq: None,
                };
                keys.insert(id, record);
                PartyState {
                    role: p.role,
                    name: p.name.clone(),
                    key: Some(id),
                    keys: vec![id],
                }
            })
            .collect();
        let outcomes = body
            .outcomes
            .iter()
            .map(|o| OutcomeState {
                id: o.id.clone(),
                name: o.name.clone(),
                price: o.price,
                cap_units: o.cap_units,
                tally: Tally::default(),
            })
            .collect();
        ContractState {
            id: event.contract().clone(),
            registered: *event.id(),
            title: body.title.clone(),
            currency: body.currency,
            start: body.start.clone(),
            end: body.end.clone(),
            cap: body.cap,
            parties,
            keys,
            outcomes,
            amendments: Vec::new(),
            claims: BTreeMap::new(),
            disputes: BTreeMap::new(),
            tally: Tally::default(),
            payments: 0,
            distributions: BTreeMap::new(),
            distributed: Int::ZERO,
            feedback: FeedbackCounts::default(),
            closed: None,
            head: Head {
                seq: 0,
                id: *event.id(),
            },
        }
    }

    /// Folds the next event of the contract into the state. Signatures are not checked here:
    /// the event must have passed [`crate::rules::validate`] (or come from a verified log).
    ///
    /// # Panics
    /// If the event breaks the chain or a rule of its kind, or if an invariant does not hold
    /// afterwards. These assertions stay on in release builds: they guard the log.
    pub fn apply(&mut self, event: &Event) {
        let effect = rules::chain_and_effect(self, event);
        match effect {
            Ok(effect) => self.commit(event, effect),
            Err(violation) => panic!(
                "ContractState::apply of event {} that breaks rule {}: {violation}",
                event.id(),
                violation.code()
            ),
        }
    }

    /// Makes the change of an event already judged.
    pub(crate) fn commit(&mut self, event: &Event, effect: Effect) {
        let seq = event.seq();
        match effect {
            Effect::Amend(changes) => self.commit_amendment(event, changes),
            Effect::Rotate { party, old, new } => self.commit_rotation(seq, party, old, new),
            Effect::Revoke { key, successor } => self.commit_revocation(seq, key, successor),
            Effect::Enrol { party, new } => self.commit_new_key(seq, party, new),
            Effect::Claims(plan) => self.commit_claims(plan),
            Effect::OpenDispute { plan, id, dispute } => {
                self.commit_claims(plan);
                self.disputes.insert(id, dispute);
            }
            Effect::ResolveDispute {
                plan,
                id,
                resolution,
            } => {
                self.commit_claims(plan);
                let dispute = self.disputes.get_mut(&id);
                let dispute =
                    dispute.unwrap_or_else(|| panic!("resolved dispute {id} is not known"));
                dispute.resolution = Some(resolution);
            }
            Effect::Feedback { plan, counts } => {
                self.commit_claims(plan);
                self.feedback = counts;
            }
            Effect::Payment(plan) => {
                self.commit_claims(plan);
                self.payments = self.payments.saturating_add(1);
            }
            Effect::Distribution {
                investor,
                investor_total,
                distributed,
            } => {
                self.distributions.insert(investor, investor_total);
                self.distributed = distributed;
            }
            Effect::Close => {
                self.closed = Some(Closure {
                    seq,
                    at: event.payload().at.clone(),
                });
            }
        }
        self.head = Head {
            seq,
            id: *event.id(),
        };
        if let Some(broken) = self.broken_invariant() {
            panic!(
                "invariant broken after event {} (seq {seq}): {broken}",
                event.id()
            );
        }
    }

    fn commit_amendment(&mut self, event: &Event, changes: Vec<(usize, PriceChange)>) {
        for (index, change) in &changes {
            self.outcomes[*index].price = change.new;
        }
        self.amendments.push(Amendment {
            seq: event.seq(),
            id: *event.id(),
            at: event.payload().at.clone(),
            prices: changes.into_iter().map(|(_, change)| change).collect(),
        });
    }

    fn commit_rotation(&mut self, seq: u64, party: usize, old: KeyId, new: PublicKey) {
        let record = self.keys.get_mut(&old);
        let record = record.unwrap_or_else(|| panic!("rotated key {old} is not known"));
        record.status = KeyStatus::Retired;
        record.until_seq = Some(seq);
        self.commit_new_key(seq, party, new);
    }

    fn commit_revocation(&mut self, seq: u64, key: KeyId, successor: Option<PublicKey>) {
        let record = self.keys.get_mut(&key);
        let record = record.unwrap_or_else(|| panic!("revoked key {key} is not known"));
        record.status = KeyStatus::Revoked;
        record.until_seq = Some(seq);
        let party = record.party;
        self.parties[party].key = None;
        if let Some(successor) = successor {
            self.commit_new_key(seq, party, successor);
        }
    }

    /// `new` becomes the current key of `party` (a rotation, a successor, an enrolment).
    fn commit_new_key(&mut self, seq: u64, party: usize, new: PublicKey) {
        let new_id = KeyId::of(&new);
        let fresh = KeyRecord {
            public_key: new,
            party,
            status: KeyStatus::Current,
            since_seq: seq,
            until_seq: None,
        };
        assert!(
            self.keys.insert(new_id, fresh).is_none(),
            "a party's new key is fresh"
        );
        self.parties[party].key = Some(new_id);
        self.parties[party].keys.push(new_id);
    }

    fn commit_claims(&mut self, plan: rules::ClaimPlan) {
        for (index, tally) in plan.outcomes {
            self.outcomes[index].tally = tally;
        }
        self.tally = plan.tally;
        for (id, claim) in plan.claims {
            self.claims.insert(id, claim);
        }
    }

    /// The first invariant that does not hold, if any: units paid within verified units and
    /// every cap, money paid within the cap, distributions within payments, clawbacks within
    /// payments, and the contract's tally the sum of its outcomes'.
    pub fn broken_invariant(&self) -> Option<&'static str> {
        let mut sum = Tally::default();
        for outcome in &self.outcomes {
            let t = &outcome.tally;
            if t.paid_units > t.verified_units || t.paid_money > t.verified_money {
                return Some("an outcome's paid units or money exceed its verified ones");
            }
            if t.paid_units > outcome.cap_units {
                return Some("an outcome's paid units exceed its unit cap");
            }
            match sum.plus(t) {
                Ok(next) => sum = next,
                Err(_) => return Some("the outcomes' tallies overflow"),
            }
        }
        if sum != self.tally {
            return Some("the contract's tally is not the sum of its outcomes' tallies");
        }
        if self.tally.paid_money > self.cap {
            return Some("money paid exceeds the contract cap");
        }
        if self.distributed > self.tally.paid_money {
            return Some("distributions exceed outcome payments");
        }
        if self.tally.clawback_money > self.tally.paid_money {
            return Some("clawbacks due exceed outcome payments");
        }
        None
    }
}

impl ContractState {
    /// The contract id.
    pub fn id(&self) -> &ContractId {
        &self.id
    }
    /// Id of its `contract.registered`.
    pub fn registered(&self) -> &EventId {
        &self.registered
    }
    /// Title of the programme.
    pub fn title(&self) -> &Text<200> {
        &self.title
    }
    /// Currency of every amount.
    pub fn currency(&self) -> &Currency {
        &self.currency
    }
    /// First day of the term.
    pub fn start(&self) -> &Date {
        &self.start
    }
    /// Last day of the term.
    pub fn end(&self) -> &Date {
        &self.end
    }
    /// Most money the contract pays in all.
    pub fn cap(&self) -> &Amount {
        &self.cap
    }
    /// Money that may still be paid: `cap - paid`.
    pub fn cap_left(&self) -> Amount {
        Int::new(self.cap.get().saturating_sub(self.tally.paid_money.get())).unwrap_or(Int::ZERO)
    }
    /// The parties, in registration order.
    pub fn parties(&self) -> &[PartyState] {
        &self.parties
    }
    /// Every key any party holds or held.
    pub fn keys(&self) -> &BTreeMap<KeyId, KeyRecord> {
        &self.keys
    }
    /// The record of one key.
    pub fn key(&self, id: &KeyId) -> Option<&KeyRecord> {
        self.keys.get(id)
    }
    /// The rate card with the prices in force, in registration order.
    pub fn outcomes(&self) -> &[OutcomeState] {
        &self.outcomes
    }
    /// One outcome.
    pub fn outcome(&self, id: &OutcomeId) -> Option<&OutcomeState> {
        self.outcome_index(id).map(|i| &self.outcomes[i])
    }
    pub(crate) fn outcome_index(&self, id: &OutcomeId) -> Option<usize> {
        self.outcomes.iter().position(|o| &o.id == id)
    }
    pub(crate) fn price_in_force(&self, id: &OutcomeId) -> Result<Amount, RuleViolation> {
        self.outcome(id)
            .map(OutcomeState::price)
            .ok_or_else(|| RuleViolation::UnknownOutcome {
                outcome: id.clone(),
            })
    }
    /// The amendments, oldest first.
    pub fn amendments(&self) -> &[Amendment] {
        &self.amendments
    }
    /// Every claim by id.
    pub fn claims(&self) -> &BTreeMap<EventId, ClaimState> {
        &self.claims
    }
    /// Every dispute by id.
    pub fn disputes(&self) -> &BTreeMap<EventId, DisputeState> {
        &self.disputes
    }
    /// Every claim summed: claimed, verified, rejected, disputed, paid, unpaid, clawbacks due.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }
    /// Number of payments made.
    pub fn payments(&self) -> u64 {
        self.payments
    }
    /// Money distributed, by investor key id.
    pub fn distributions(&self) -> &BTreeMap<KeyId, Amount> {
        &self.distributions
    }
    /// Money distributed in all.
    pub fn distributed(&self) -> &Amount {
        &self.distributed
    }
    /// Feedback counts by stance.
    pub fn feedback(&self) -> &FeedbackCounts {
        &self.feedback
    }
    /// The closure, once closed.
    pub fn closed(&self) -> Option<&Closure> {
        self.closed.as_ref()
    }
    /// The last event.
    pub fn head(&self) -> &Head {
        &self.head
    }
    /// Number of events in the contract (the next event's seq).
    pub fn events(&self) -> u64 {
        self.head.seq.saturating_add(1)
    }
}

/// Deserializes a map into a `BTreeMap` built in one pass from all its entries, so its nodes
/// are full. Inserting the entries one by one (serde's default), in key order as a snapshot
/// holds them, splits each node as it fills and leaves it little more than half full: the
/// projections of a node holding 10^6 events took 192 MiB that way, 138 MiB packed (BENCHMARKS.md,
/// "Scale"). The JSON is the same; a key given twice keeps its last value, as the default does.
fn packed_map<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    struct Entries<K, V>(std::marker::PhantomData<(K, V)>);

    impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> serde::de::Visitor<'de> for Entries<K, V> {
        type Value = Vec<(K, V)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            // The size hint comes from the input: bounded so a hostile one cannot reserve much.
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }

    let entries = deserializer.deserialize_map(Entries(std::marker::PhantomData))?;
    Ok(entries.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Packed {
        #[serde(deserialize_with = "packed_map")]
        map: BTreeMap<u32, String>,
    }

    #[test]
    fn packed_map_reads_what_the_default_reads() {
        let entries: BTreeMap<u32, String> = (0..1000u32).map(|i| (i * 7, i.to_string())).collect();
        let json = serde_json::json!({ "map": entries }).to_string();
        let packed: Packed = serde_json::from_str(&json).expect("a map");
        assert_eq!(packed.map, entries);
        let empty: Packed = serde_json::from_str(r#"{"map":{}}"#).expect("an empty map");
        assert!(empty.map.is_empty());
    }

    #[test]
    fn packed_map_keeps_the_last_of_a_repeated_key_and_refuses_a_non_map() {
        let packed: Packed =
            serde_json::from_str(r#"{"map":{"2":"b","1":"a","2":"c"}}"#).expect("a map");
        let expected: BTreeMap<u32, String> = [(1, "a".to_owned()), (2, "c".to_owned())].into();
        assert_eq!(packed.map, expected);
        assert!(serde_json::from_str::<Packed>(r#"{"map":[[1,"a"]]}"#).is_err());
    }
}
