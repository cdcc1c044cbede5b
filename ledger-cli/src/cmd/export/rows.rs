//! The rows of `ledger export` for regulators' spreadsheets: one per event, or one per
//! payment line. Each row is read from an event and the ledger just after it, so it says what
//! the event meant when it was made (the claim's outcome, the price fixed at verification).

use ledger_core::projection::ContractState;
use ledger_core::{Event, Ledger};
use proto::payload::{Body, Decision, Stance};
use proto::{Amount, EventId, Int, KeyId, OutcomeId};
use serde::Serialize;

use crate::output::{group_thousands, money, Row};

/// One event, flattened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EventRow {
    /// Log index.
    pub(crate) index: u64,
    /// Event id.
    pub(crate) id: EventId,
    /// The author's time.
    pub(crate) at: String,
    /// Contract id.
    pub(crate) contract: String,
    /// Position in the contract.
    pub(crate) seq: u64,
    /// Kind.
    pub(crate) kind: &'static str,
    /// Author's key id.
    pub(crate) author: KeyId,
    /// Author's role in the contract.
    pub(crate) author_role: &'static str,
    /// The outcome the event is about, if one.
    pub(crate) outcome: Option<OutcomeId>,
    /// Units claimed, verified or left standing.
    pub(crate) quantity: Option<u64>,
    /// Money: the cap registered, the value verified, the total paid, the sum distributed.
    pub(crate) amount: Option<u64>,
    /// The contract's currency, with an amount.
    pub(crate) currency: Option<String>,
    /// The claim the event is about, if one.
    pub(crate) claim: Option<EventId>,
    /// A short word on the rest: a decision, a stance, a reference, a reason.
    pub(crate) detail: String,
}

/// One line of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PaymentRow {
    /// Log index of the payment.
    pub(crate) index: u64,
    /// The payment's event id.
    pub(crate) payment: EventId,
    /// The payer's time.
    pub(crate) at: String,
    /// Contract id.
    pub(crate) contract: String,
    /// The payer's reference.
    pub(crate) reference: String,
    /// The claim paid.
    pub(crate) claim: EventId,
    /// Its outcome.
    pub(crate) outcome: OutcomeId,
    /// Units paid.
    pub(crate) units: u64,
    /// Price per unit fixed at verification.
    pub(crate) price: u64,
    /// Amount of the line.
    pub(crate) amount: u64,
    /// Currency.
    pub(crate) currency: String,
}

fn cell<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

impl Row for EventRow {
    const TYPE: &'static str = "export-event";

    fn headers() -> &'static [&'static str] {
        &[
            "index",
            "id",
            "at",
            "contract",
            "seq",
            "kind",
            "author",
            "author_role",
            "outcome",
            "quantity",
            "amount",
            "currency",
            "claim",
            "detail",
        ]
    }

    fn cells(&self) -> Vec<String> {
        let amount = match (&self.amount, &self.currency) {
            (Some(amount), Some(currency)) => money(*amount, currency),
            _ => String::new(),
        };
        vec![
            self.index.to_string(),
            crate::output::short(self.id),
            self.at.clone(),
            self.contract.clone(),
            self.seq.to_string(),
            self.kind.to_owned(),
            crate::output::short(self.author),
            self.author_role.to_owned(),
            cell(&self.outcome),
            self.quantity.map(group_thousands).unwrap_or_default(),
            amount,
            cell(&self.currency),
            self.claim.map(crate::output::short).unwrap_or_default(),
            self.detail.clone(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.index.to_string(),
            self.id.to_string(),
            self.at.clone(),
            self.contract.clone(),
            self.seq.to_string(),
            self.kind.to_owned(),
            self.author.to_string(),
            self.author_role.to_owned(),
            cell(&self.outcome),
            cell(&self.quantity),
            cell(&self.amount),
            cell(&self.currency),
            cell(&self.claim),
            self.detail.clone(),
        ]
    }

    fn right_aligned() -> &'static [usize] {
        &[0, 4, 9, 10]
    }
}

impl Row for PaymentRow {
    const TYPE: &'static str = "export-payment";

    fn headers() -> &'static [&'static str] {
        &[
            "index",
            "payment",
            "at",
            "contract",
            "reference",
            "claim",
            "outcome",
            "units",
            "price",
            "amount",
            "currency",
        ]
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.index.to_string(),
            crate::output::short(self.payment),
            self.at.clone(),
            self.contract.clone(),
            self.reference.clone(),
            crate::output::short(self.claim),
            self.outcome.to_string(),
            group_thousands(self.units),
            money(self.price, &self.currency),
            money(self.amount, &self.currency),
            self.currency.clone(),
        ]
    }

    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.index.to_string(),
            self.payment.to_string(),
            self.at.clone(),
            self.contract.clone(),
            self.reference.clone(),
            self.claim.to_string(),
            self.outcome.to_string(),
            self.units.to_string(),
            self.price.to_string(),
            self.amount.to_string(),
            self.currency.clone(),
        ]
    }

    fn right_aligned() -> &'static [usize] {
        &[0, 7, 8, 9]
    }
}

/// The row of an event the ledger has just admitted.
pub(crate) fn event_row(index: u64, event: &Event, ledger: &Ledger) -> Option<EventRow> {
    let state = ledger.contract(event.contract())?;
    let role = state
        .key(event.author())
        .and_then(|record| state.parties().get(record.party()))
        .map_or("", |party| party.role().as_str());
    let mut row = EventRow {
        index,
        id: *event.id(),
        at: event.payload().at.as_str().to_owned(),
        contract: event.contract().to_string(),
        seq: event.seq(),
        kind: event.kind().as_str(),
        author: *event.author(),
        author_role: role,
        outcome: None,
        quantity: None,
        amount: None,
        currency: None,
        claim: None,
        detail: String::new(),
    };
    describe(&mut row, event, state);
    if row.amount.is_some() {
        row.currency = Some(state.currency().to_string());
    }
    Some(row)
}

/// Fills the kind-specific cells.
fn describe(row: &mut EventRow, event: &Event, state: &ContractState) {
    let outcome_of = |claim: &EventId| state.claims().get(claim).map(|c| c.outcome().clone());
    match event.body() {
        Body::ContractRegistered(b) => {
            row.amount = Some(b.cap.get());
            row.detail = b.title.to_string();
        }
        Body::ContractAmended(b) => {
            let prices: Vec<String> = b
                .prices
                .iter()
                .map(|p| format!("{} {}", p.outcome, p.price))
                .collect();
            row.detail = format!("new prices: {}", prices.join(", "));
        }
        Body::KeyRotated(b) => row.detail = format!("new key {}", KeyId::of(&b.new)),
        Body::KeyRevoked(b) => {
            row.detail = match &b.successor {
                Some(successor) => {
                    format!("revoked key {}, successor {}", b.key, KeyId::of(successor))
                }
                None => format!("revoked key {}", b.key),
            }
        }
        Body::KeyEnrolled(b) => {
            row.detail = format!(
                "successor key {} for the party of {}",
                KeyId::of(&b.new),
                b.party
            )
        }
        Body::ClaimSubmitted(b) => {
            (row.outcome, row.quantity, row.claim) = (
                Some(b.outcome.clone()),
                Some(b.quantity.get()),
                Some(*event.id()),
            );
            row.detail = format!("{}..{}", b.period.from, b.period.to);
        }
        Body::ClaimVerified(b) => {
            let price = state.claims().get(&b.claim).and_then(|c| c.price());
            (row.outcome, row.quantity, row.claim) =
                (outcome_of(&b.claim), Some(b.quantity.get()), Some(b.claim));
            row.amount = price.and_then(|p| p.get().checked_mul(b.quantity.get()));
        }
        Body::ClaimRejected(b) => {
            (row.outcome, row.claim, row.detail) =
                (outcome_of(&b.claim), Some(b.claim), b.reason.to_string());
        }
        Body::ClaimDisputed(b) => {
            (row.outcome, row.claim, row.detail) =
                (outcome_of(&b.claim), Some(b.claim), b.reason.to_string());
        }
        Body::DisputeResolved(b) => {
            let claim = state.disputes().get(&b.dispute).map(|d| *d.claim());
            (row.outcome, row.claim) = (claim.as_ref().and_then(outcome_of), claim);
            (row.quantity, row.detail) =
                (b.quantity.map(Int::get), decision(b.decision).to_owned());
        }
        Body::FeedbackRecorded(b) => {
            row.outcome = b
                .outcome
                .clone()
                .or_else(|| b.claim.as_ref().and_then(outcome_of));
            (row.claim, row.detail) = (b.claim, stance(b.stance).to_owned());
        }
        Body::PaymentMade(b) => {
            (row.amount, row.detail) = (Some(b.total.get()), b.reference.to_string())
        }
        Body::DistributionMade(b) => {
            row.amount = Some(b.amount.get());
            row.detail = format!("to investor {}; {}", b.investor, b.reference);
        }
        Body::ContractClosed(b) => row.detail = b.reason.to_string(),
    }
}

fn decision(decision: Decision) -> &'static str {
    match decision {
        Decision::Upheld => "upheld",
        Decision::Overturned => "overturned",
        Decision::Adjusted => "adjusted",
    }
}

fn stance(stance: Stance) -> &'static str {
    match stance {
        Stance::Affirms => "affirms",
        Stance::Contests => "contests",
        Stance::Comment => "comment",
    }
}

/// The rows of a payment's lines, read from the ledger just after it.
pub(crate) fn payment_rows(index: u64, event: &Event, ledger: &Ledger) -> Vec<PaymentRow> {
    let (Body::PaymentMade(payment), Some(state)) =
        (event.body(), ledger.contract(event.contract()))
    else {
        return Vec::new();
    };
    payment
        .lines
        .iter()
        .filter_map(|line| {
            let claim = state.claims().get(&line.claim)?;
            Some(PaymentRow {
                index,
                payment: *event.id(),
                at: event.payload().at.as_str().to_owned(),
                contract: event.contract().to_string(),
                reference: payment.reference.to_string(),
                claim: line.claim,
                outcome: claim.outcome().clone(),
                units: claim.paid_units().get(),
                price: claim.price().map_or(0, Amount::get),
                amount: line.amount.get(),
                currency: state.currency().to_string(),
            })
        })
        .collect()
}
