//! `ledger state`: a contract's projection as tables, JSON lines or CSV rows.

use anyhow::Context;
use clap::Args;
use ledger_core::projection::{ClaimState, ContractState};
use proto::{ContractId, EventId, KeyId, Role};
use serde::Serialize;

use super::decision_name;
use crate::cmd::{Globals, Status};
use crate::output::{group_thousands, money, short, Format, Output, Row};

pub(crate) const STATE_EXAMPLES: &str = "\
Examples:
  ledger state fcf-manchester-2025              # outcomes, money, caps, disputes, investors
  ledger state fcf-manchester-2025 --claims     # and every claim
  ledger --json state fcf-manchester-2025 | jq 'select(.type==\"outcome\")'
  ledger --csv state fcf-manchester-2025 --claims > claims.csv

Money is in the contract's currency; --json and --csv give integers of minor units.
JSON lines: contract, party, outcome, claim (with --claims), dispute, distribution.
CSV: the outcome rows, or the claim rows with --claims.";

/// `ledger state`
#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// The contract
    contract: ContractId,
    /// Also list every claim (with --csv: the claims instead of the outcomes)
    #[arg(long)]
    claims: bool,
}

/// Summary line of a contract (`type` = `contract`).
#[derive(Debug, Serialize)]
struct ContractView {
    id: String,
    title: String,
    currency: String,
    start: String,
    end: String,
    cap: u64,
    claimed_units: u64,
    verified_money: u64,
    paid_money: u64,
    unpaid_money: u64,
    cap_left: u64,
    clawback_money: u64,
    distributed: u64,
    undistributed: u64,
    payments: u64,
    open_disputes: u64,
    feedback_affirms: u64,
    feedback_contests: u64,
    feedback_comments: u64,
    events: u64,
    closed: bool,
}

impl ContractView {
    fn of(state: &ContractState) -> Self {
        let tally = state.tally();
        let paid = tally.paid_money.get();
        let distributed = state.distributed().get();
        let feedback = state.feedback();
        Self {
            id: state.id().to_string(),
            title: state.title().to_string(),
            currency: state.currency().to_string(),
            start: state.start().to_string(),
            end: state.end().to_string(),
            cap: state.cap().get(),
            claimed_units: tally.claimed_units.get(),
            verified_money: tally.verified_money.get(),
            paid_money: paid,
            unpaid_money: tally.unpaid_money.get(),
            cap_left: state.cap().get().saturating_sub(paid),
            clawback_money: tally.clawback_money.get(),
            distributed,
            undistributed: paid.saturating_sub(distributed),
            payments: state.payments(),
            open_disputes: state.disputes().values().filter(|d| d.is_open()).count() as u64,
            feedback_affirms: feedback.affirms,
            feedback_contests: feedback.contests,
            feedback_comments: feedback.comments,
            events: state.head().seq.saturating_add(1),
            closed: state.closed().is_some(),
        }
    }

    fn human(&self) -> String {
        let m = |v: u64| money(v, &self.currency);
        let mut text = format!(
            "{} — {}\nterm {} to {}, {} events, {}\n",
            self.id,
            self.title,
            self.start,
            self.end,
            self.events,
            if self.closed { "closed" } else { "open" }
        );
        text.push_str(&format!(
            "paid {} of cap {} ({} left); verified {}, unpaid {}\n",
            m(self.paid_money),
            m(self.cap),
            m(self.cap_left),
            m(self.verified_money),
            m(self.unpaid_money)
        ));
        text.push_str(&format!(
            "distributed to investors {} ({} held by the intermediary); {} payment(s)\n",
            m(self.distributed),
            m(self.undistributed),
            self.payments
        ));
        if self.clawback_money > 0 {
            text.push_str(&format!(
                "clawback due to the commissioner {}\n",
                m(self.clawback_money)
            ));
        }
        text.push_str(&format!(
            "open disputes {}; feedback: {} affirm, {} contest, {} comment",
            self.open_disputes,
            self.feedback_affirms,
            self.feedback_contests,
            self.feedback_comments
        ));
        text
    }
}

/// One outcome of the rate card (`type` = `outcome`).
#[derive(Debug, Serialize)]
struct OutcomeRow {
    outcome: String,
    name: String,
    currency: String,
    price: u64,
    cap_units: u64,
    claimed_units: u64,
    pending_units: u64,
    verified_units: u64,
    rejected_units: u64,
    disputed_units: u64,
    paid_units: u64,
    paid_money: u64,
    unpaid_units: u64,
    unpaid_money: u64,
    cap_units_left: u64,
}

impl Row for OutcomeRow {
    fn csv_headers() -> &'static [&'static str] {
        OUTCOME_CSV_HEADERS
    }
    const TYPE: &'static str = "outcome";
    fn headers() -> &'static [&'static str] {
        &[
            "outcome",
            "price",
            "claimed",
            "pending",
            "verified",
            "rejected",
            "disputed",
            "paid",
            "paid money",
            "unpaid money",
            "cap left",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let m = |v: u64| money(v, &self.currency);
        vec![
            self.outcome.clone(),
            m(self.price),
            group_thousands(self.claimed_units),
            group_thousands(self.pending_units),
            group_thousands(self.verified_units),
            group_thousands(self.rejected_units),
            group_thousands(self.disputed_units),
            group_thousands(self.paid_units),
            m(self.paid_money),
            m(self.unpaid_money),
            format!(
                "{} of {}",
                group_thousands(self.cap_units_left),
                group_thousands(self.cap_units)
            ),
        ]
    }
    fn csv_cells(&self) -> Vec<String> {
        [
            self.outcome.clone(),
            self.name.clone(),
            self.currency.clone(),
        ]
        .into_iter()
        .chain(
            [
                self.price,
                self.cap_units,
                self.claimed_units,
                self.pending_units,
                self.verified_units,
                self.rejected_units,
                self.disputed_units,
                self.paid_units,
                self.paid_money,
                self.unpaid_units,
                self.unpaid_money,
                self.cap_units_left,
            ]
            .map(|v| v.to_string()),
        )
        .collect()
    }
    fn right_aligned() -> &'static [usize] {
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    }
}

const OUTCOME_CSV_HEADERS: &[&str] = &[
    "outcome",
    "name",
    "currency",
    "price",
    "cap_units",
    "claimed_units",
    "pending_units",
    "verified_units",
    "rejected_units",
    "disputed_units",
    "paid_units",
    "paid_money",
    "unpaid_units",
    "unpaid_money",
    "cap_units_left",
];

fn outcome_rows(state: &ContractState) -> Vec<OutcomeRow> {
    state
        .outcomes()
        .iter()
        .map(|o| {
            let t = o.tally();
            OutcomeRow {
                outcome: o.id().to_string(),
                name: o.name().to_string(),
                currency: state.currency().to_string(),
                price: o.price().get(),
                cap_units: o.cap_units().get(),
                claimed_units: t.claimed_units.get(),
                pending_units: t.pending_units.get(),
                verified_units: t.verified_units.get(),
                rejected_units: t.rejected_units.get(),
                disputed_units: t.disputed_units.get(),
                paid_units: t.paid_units.get(),
                paid_money: t.paid_money.get(),
                unpaid_units: t.unpaid_units.get(),
                unpaid_money: t.unpaid_money.get(),
                cap_units_left: o.cap_units_left().get(),
            }
        })
        .collect()
}

/// One claim (`type` = `claim`).
#[derive(Debug, Serialize)]
struct ClaimRow {
    claim: String,
    seq: u64,
    outcome: String,
    from: String,
    to: String,
    quantity: u64,
    status: String,
    verified_units: u64,
    price: Option<u64>,
    paid_money: u64,
    clawback_money: u64,
    open_dispute: Option<String>,
    currency: String,
}

impl ClaimRow {
    fn of(id: &EventId, claim: &ClaimState, currency: &str) -> Self {
        Self {
            claim: id.to_string(),
            seq: claim.seq(),
            outcome: claim.outcome().to_string(),
            from: claim.period_from().to_string(),
            to: claim.period_to().to_string(),
            quantity: claim.quantity().get(),
            status: claim.status().to_string(),
            verified_units: claim.verified_units().get(),
            price: claim.price().map(|p| p.get()),
            paid_money: claim.paid_money().get(),
            clawback_money: claim.clawback_money().get(),
            open_dispute: claim.open_dispute().map(ToString::to_string),
            currency: currency.to_owned(),
        }
    }
}

impl Row for ClaimRow {
    fn csv_headers() -> &'static [&'static str] {
        CLAIM_CSV_HEADERS
    }
    const TYPE: &'static str = "claim";
    fn headers() -> &'static [&'static str] {
        &[
            "claim", "seq", "outcome", "period", "qty", "status", "verified", "price", "paid",
            "dispute",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let m = |v: u64| money(v, &self.currency);
        vec![
            self.claim.clone(),
            self.seq.to_string(),
            self.outcome.clone(),
            format!("{}..{}", self.from, self.to),
            self.quantity.to_string(),
            self.status.clone(),
            self.verified_units.to_string(),
            self.price.map(m).unwrap_or_default(),
            m(self.paid_money),
            self.open_dispute.as_deref().map(short).unwrap_or_default(),
        ]
    }
    fn csv_cells(&self) -> Vec<String> {
        vec![
            self.claim.clone(),
            self.seq.to_string(),
            self.outcome.clone(),
            self.from.clone(),
            self.to.clone(),
            self.quantity.to_string(),
            self.status.clone(),
            self.verified_units.to_string(),
            self.price.map(|p| p.to_string()).unwrap_or_default(),
            self.paid_money.to_string(),
            self.clawback_money.to_string(),
            self.open_dispute.clone().unwrap_or_default(),
            self.currency.clone(),
        ]
    }
    fn right_aligned() -> &'static [usize] {
        &[1, 4, 6, 7, 8]
    }
}

const CLAIM_CSV_HEADERS: &[&str] = &[
    "claim",
    "seq",
    "outcome",
    "from",
    "to",
    "quantity",
    "status",
    "verified_units",
    "price",
    "paid_money",
    "clawback_money",
    "open_dispute",
    "currency",
];

fn claim_rows(state: &ContractState) -> Vec<ClaimRow> {
    let currency = state.currency().to_string();
    let mut rows: Vec<ClaimRow> = state
        .claims()
        .iter()
        .map(|(id, c)| ClaimRow::of(id, c, &currency))
        .collect();
    rows.sort_by_key(|r| r.seq);
    rows
}

/// One party (`type` = `party`).
#[derive(Debug, Serialize)]
struct PartyRow {
    role: &'static str,
    name: String,
    key_id: Option<String>,
    distributed: Option<u64>,
    currency: String,
}

impl Row for PartyRow {
    const TYPE: &'static str = "party";
    fn headers() -> &'static [&'static str] {
        &["role", "name", "key id", "distributed"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.role.to_owned(),
            self.name.clone(),
            self.key_id
                .clone()
                .unwrap_or_else(|| "(revoked)".to_owned()),
            self.distributed
                .map(|d| money(d, &self.currency))
                .unwrap_or_default(),
        ]
    }
    fn right_aligned() -> &'static [usize] {
        &[3]
    }
}

fn party_rows(state: &ContractState) -> Vec<PartyRow> {
    let currency = state.currency().to_string();
    state
        .parties()
        .iter()
        .map(|p| {
            let distributed = (p.role() == Role::Investor).then(|| {
                p.keys()
                    .iter()
                    .filter_map(|k| state.distributions().get(k))
                    .map(|a| a.get())
                    .sum()
            });
            PartyRow {
                role: p.role().as_str(),
                name: p.name().to_string(),
                key_id: p.key().map(ToString::to_string),
                distributed,
                currency: currency.clone(),
            }
        })
        .collect()
}

/// One dispute (`type` = `dispute`).
#[derive(Debug, Serialize)]
struct DisputeRow {
    dispute: String,
    claim: String,
    opened_by: String,
    seq: u64,
    decision: Option<String>,
    quantity: Option<u64>,
}

impl Row for DisputeRow {
    const TYPE: &'static str = "dispute";
    fn headers() -> &'static [&'static str] {
        &["dispute", "claim", "opened by", "seq", "decision"]
    }
    fn cells(&self) -> Vec<String> {
        let decision = match (&self.decision, self.quantity) {
            (None, _) => "open".to_owned(),
            (Some(d), Some(q)) => format!("{d} ({q} units stand)"),
            (Some(d), None) => d.clone(),
        };
        vec![
            self.dispute.clone(),
            short(&self.claim),
            self.opened_by.clone(),
            self.seq.to_string(),
            decision,
        ]
    }
}

fn dispute_rows(state: &ContractState) -> Vec<DisputeRow> {
    let name_of = |key: &KeyId| {
        state
            .parties()
            .iter()
            .find(|p| p.keys().contains(key))
            .map_or_else(|| short(key), |p| p.role().as_str().to_owned())
    };
    let mut rows: Vec<DisputeRow> = state
        .disputes()
        .iter()
        .map(|(id, d)| DisputeRow {
            dispute: id.to_string(),
            claim: d.claim().to_string(),
            opened_by: name_of(d.opened_by()),
            seq: d.seq(),
            decision: d
                .resolution()
                .map(|r| decision_name(r.decision()).to_owned()),
            quantity: d.resolution().and_then(|r| r.quantity()).map(|q| q.get()),
        })
        .collect();
    rows.sort_by_key(|r| r.seq);
    rows
}

/// Runs `ledger state`.
///
/// # Errors
/// An unknown contract (a refusal); a network error.
pub(crate) fn state(args: StateArgs, globals: &Globals) -> anyhow::Result<Status> {
    let client = globals.client()?;
    let state = client
        .contract(&args.contract)
        .with_context(|| format!("cannot read contract {}", args.contract))?;
    let mut out = globals.output();
    print_state(&mut out, &state, args.claims)?;
    out.flush()?;
    Ok(Status::Success)
}

/// Prints a contract's state as `ledger state` does (`claims`: with every claim).
///
/// # Errors
/// Writing failed.
pub(crate) fn print_state(
    out: &mut Output,
    state: &ContractState,
    claims: bool,
) -> std::io::Result<()> {
    match out.format() {
        Format::Csv if claims => out.rows(&claim_rows(state)),
        Format::Csv => out.rows(&outcome_rows(state)),
        Format::Json => state_json(out, state, claims),
        Format::Table => state_tables(out, state, claims),
    }
}

fn state_json(out: &mut Output, state: &ContractState, claims: bool) -> std::io::Result<()> {
    out.json("contract", &ContractView::of(state))?;
    out.rows(&party_rows(state))?;
    out.rows(&outcome_rows(state))?;
    if claims {
        out.rows(&claim_rows(state))?;
    }
    out.rows(&dispute_rows(state))
}

fn state_tables(out: &mut Output, state: &ContractState, claims: bool) -> std::io::Result<()> {
    out.say(ContractView::of(state).human())?;
    out.say("\nparties")?;
    out.rows(&party_rows(state))?;
    out.say("\noutcomes")?;
    out.rows(&outcome_rows(state))?;
    if claims {
        out.say("\nclaims")?;
        out.rows(&claim_rows(state))?;
    }
    let disputes = dispute_rows(state);
    if !disputes.is_empty() {
        out.say("\ndisputes")?;
        out.rows(&disputes)?;
    }
    Ok(())
}
