//! The commands that read: `state` (a contract's projection), `trail` (events across
//! contracts, filtered and paged) and `show` (one event, checked).

use anyhow::Context;
use clap::Args;
use ledger_core::projection::{ClaimState, ContractState};
use proto::dsse::Envelope;
use proto::payload::Body;
use proto::{ContractId, EventId, KeyId, OutcomeId, Payload, Role, Timestamp};
use serde::Serialize;

use crate::client::{Client, EventRecord, TrailQuery};
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

pub(crate) const TRAIL_EXAMPLES: &str = "\
Examples:
  ledger trail --contract fcf-manchester-2025
  ledger trail --kind payment.made --since 2026-01-01T00:00:00Z --all --csv > payments.csv
  ledger trail --role verifier --outcome accommodation-12m
  ledger trail --party 3f2a...c1 --json | jq -r .id

Filters combine (all must match): --contract, --party (a key id: events it authored or
signed), --role (the author's role), --kind, --outcome, --since/--until (on the author's
`at`, since inclusive, until exclusive). Pages through the node's cursors up to --limit
events, or all of them with --all.";

pub(crate) const SHOW_EXAMPLES: &str = "\
Examples:
  ledger show 4be0c1d2...e9
  ledger --json show 4be0c1d2...e9 | jq .payload.body

Prints the envelope's signatures (checked against the parties' keys), the decoded payload,
the log index, and checks the event's inclusion proof against the node's latest checkpoint.";

/// `ledger state`
#[derive(Debug, Args)]
pub(crate) struct StateArgs {
    /// The contract
    contract: ContractId,
    /// Also list every claim (with --csv: the claims instead of the outcomes)
    #[arg(long)]
    claims: bool,
}

/// `ledger trail`
#[derive(Debug, Args)]
pub(crate) struct TrailArgs {
    /// Events of this contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: Option<ContractId>,
    /// Events authored or signed by this key id
    #[arg(long, value_name = "KEY_ID")]
    party: Option<KeyId>,
    /// Events whose author had this role
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    role: Option<Role>,
    /// Events of this kind (claim.submitted, payment.made, ...)
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    kind: Option<proto::Kind>,
    /// Events about this outcome
    #[arg(long, value_name = "ID")]
    outcome: Option<OutcomeId>,
    /// Events at or after this time (RFC 3339 UTC)
    #[arg(long, value_name = "TIME")]
    since: Option<Timestamp>,
    /// Events before this time (RFC 3339 UTC)
    #[arg(long, value_name = "TIME")]
    until: Option<Timestamp>,
    /// Most events to print
    #[arg(
        long,
        short = 'n',
        value_name = "N",
        default_value_t = 100,
        conflicts_with = "all"
    )]
    limit: u64,
    /// Print every matching event, paging through the whole log
    #[arg(long)]
    all: bool,
}

/// `ledger show`
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The event id
    event: EventId,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| {
        "expected commissioner, provider, investor, intermediary, verifier or beneficiary_rep"
            .to_owned()
    })
}

fn parse_kind(text: &str) -> Result<proto::Kind, String> {
    proto::Kind::parse(text).ok_or_else(|| {
        let kinds: Vec<&str> = proto::Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("expected one of {}", kinds.join(", "))
    })
}

// ---------------------------------------------------------------------------------------------
// state

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

fn decision_name(decision: proto::payload::Decision) -> &'static str {
    match decision {
        proto::payload::Decision::Upheld => "upheld",
        proto::payload::Decision::Overturned => "overturned",
        proto::payload::Decision::Adjusted => "adjusted",
    }
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
    match out.format() {
        Format::Csv if args.claims => out.rows(&claim_rows(&state))?,
        Format::Csv => out.rows(&outcome_rows(&state))?,
        Format::Json => state_json(&mut out, &state, args.claims)?,
        Format::Table => state_tables(&mut out, &state, args.claims)?,
    }
    out.flush()?;
    Ok(Status::Success)
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

// ---------------------------------------------------------------------------------------------
// trail

/// One event of the trail (`type` = `trail-event`).
#[derive(Debug, Serialize)]
pub(crate) struct TrailRow {
    index: u64,
    id: String,
    at: String,
    contract: String,
    seq: u64,
    kind: String,
    author: String,
    outcome: Option<String>,
    quantity: Option<u64>,
    amount: Option<u64>,
    currency: Option<String>,
    refers: Option<String>,
    summary: String,
}

impl Row for TrailRow {
    fn csv_headers() -> &'static [&'static str] {
        TRAIL_CSV_HEADERS
    }
    const TYPE: &'static str = "trail-event";
    fn headers() -> &'static [&'static str] {
        &[
            "index", "at", "contract", "seq", "kind", "author", "summary",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.index.to_string(),
            self.at.clone(),
            self.contract.clone(),
            self.seq.to_string(),
            self.kind.clone(),
            short(&self.author),
            self.summary.clone(),
        ]
    }
    fn csv_cells(&self) -> Vec<String> {
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        vec![
            self.index.to_string(),
            self.id.clone(),
            self.at.clone(),
            self.contract.clone(),
            self.seq.to_string(),
            self.kind.clone(),
            self.author.clone(),
            self.outcome.clone().unwrap_or_default(),
            opt(self.quantity),
            opt(self.amount),
            self.currency.clone().unwrap_or_default(),
            self.refers.clone().unwrap_or_default(),
            self.summary.clone(),
        ]
    }
    fn right_aligned() -> &'static [usize] {
        &[0, 3]
    }
}

const TRAIL_CSV_HEADERS: &[&str] = &[
    "index", "id", "at", "contract", "seq", "kind", "author", "outcome", "quantity", "amount",
    "currency", "refers", "summary",
];

impl TrailRow {
    /// The row of a stored event, its payload decoded.
    ///
    /// # Errors
    /// An envelope or payload the node served that does not decode.
    pub(crate) fn of(record: &EventRecord) -> anyhow::Result<Self> {
        let payload = decode_record(record)?;
        let mut row = Self {
            index: record.index,
            id: record.id.to_string(),
            at: record.at.to_string(),
            contract: record.contract.to_string(),
            seq: record.seq,
            kind: record.kind.clone(),
            author: record.author.to_string(),
            outcome: None,
            quantity: None,
            amount: None,
            currency: None,
            refers: None,
            summary: String::new(),
        };
        describe(&payload.body, &mut row);
        Ok(row)
    }
}

/// Decodes the envelope and payload of a stored event, checking its id.
fn decode_record(record: &EventRecord) -> anyhow::Result<Payload> {
    let envelope = Envelope::decode(record.envelope.get().as_bytes()).with_context(|| {
        format!(
            "the node served event {} with an envelope that does not decode",
            record.id
        )
    })?;
    anyhow::ensure!(
        EventId::of_payload(envelope.payload()) == record.id,
        "the node served event {} whose payload hashes to another id",
        record.id
    );
    Payload::decode(envelope.payload()).with_context(|| {
        format!(
            "the node served event {} with a payload that does not decode",
            record.id
        )
    })
}

/// Fills the row's typed columns and a one-line summary from the body.
fn describe(body: &Body, row: &mut TrailRow) {
    row.summary = match body {
        Body::ContractRegistered(b) => format!(
            "{} ({} parties, {} outcomes)",
            b.title,
            b.parties.len(),
            b.outcomes.len()
        ),
        Body::ContractAmended(b) => {
            let prices: Vec<String> = b
                .prices
                .iter()
                .map(|p| format!("{}={}", p.outcome, p.price))
                .collect();
            format!("new prices {}: {}", prices.join(", "), b.reason)
        }
        Body::KeyRotated(b) => format!("key {} replaced", short(b.old)),
        Body::KeyRevoked(b) => format!("key {} revoked: {}", short(b.key), b.reason),
        Body::ClaimSubmitted(b) => {
            row.outcome = Some(b.outcome.to_string());
            row.quantity = Some(b.quantity.get());
            format!(
                "{} x{} for {}..{}",
                b.outcome, b.quantity, b.period.from, b.period.to
            )
        }
        Body::ClaimVerified(b) => {
            row.refers = Some(b.claim.to_string());
            row.quantity = Some(b.quantity.get());
            format!("claim {} verified for {}", short(b.claim), b.quantity)
        }
        Body::ClaimRejected(b) => {
            row.refers = Some(b.claim.to_string());
            format!("claim {} rejected: {}", short(b.claim), b.reason)
        }
        Body::ClaimDisputed(b) => {
            row.refers = Some(b.claim.to_string());
            format!("claim {} disputed: {}", short(b.claim), b.reason)
        }
        Body::DisputeResolved(b) => {
            row.refers = Some(b.dispute.to_string());
            row.quantity = b.quantity.map(|q| q.get());
            format!("dispute {} {}", short(b.dispute), decision_name(b.decision))
        }
        Body::FeedbackRecorded(b) => {
            row.refers = b.claim.map(|c| c.to_string());
            row.outcome = b.outcome.as_ref().map(ToString::to_string);
            format!("{:?}: {}", b.stance, b.text).to_lowercase()
        }
        Body::PaymentMade(b) => {
            row.amount = Some(b.total.get());
            row.currency = Some(b.currency.to_string());
            format!(
                "paid {} for {} claim(s), ref {}",
                money(b.total.get(), b.currency.as_str()),
                b.lines.len(),
                b.reference
            )
        }
        Body::DistributionMade(b) => {
            row.amount = Some(b.amount.get());
            row.currency = Some(b.currency.to_string());
            format!(
                "{} to investor {}, ref {}",
                money(b.amount.get(), b.currency.as_str()),
                short(b.investor),
                b.reference
            )
        }
        Body::ContractClosed(b) => format!("closed: {}", b.reason),
    };
}

/// Runs `ledger trail`.
///
/// # Errors
/// A bad filter (a refusal); a network error; an event that does not decode.
pub(crate) fn trail(args: TrailArgs, globals: &Globals) -> anyhow::Result<Status> {
    let client = globals.client()?;
    let mut query = TrailQuery {
        contract: args.contract.map(|c| c.to_string()),
        party: args.party.map(|p| p.to_string()),
        role: args.role.map(|r| r.as_str().to_owned()),
        kind: args.kind.map(|k| k.as_str().to_owned()),
        outcome: args.outcome.map(|o| o.to_string()),
        since: args.since.map(|t| t.to_string()),
        until: args.until.map(|t| t.to_string()),
        ..TrailQuery::default()
    };
    let wanted = if args.all { u64::MAX } else { args.limit };
    let mut out = globals.output();
    let printed = page_through(&client, &mut query, wanted, &mut out)?;
    if printed == 0 {
        eprintln_quiet("no events match");
    }
    Ok(Status::Success)
}

/// Fetches pages and prints their rows until `wanted` rows or the end of the log.
fn page_through(
    client: &Client,
    query: &mut TrailQuery,
    wanted: u64,
    out: &mut Output,
) -> anyhow::Result<u64> {
    const PAGE_SIZE: u64 = 1_000;
    let mut sink = out.sink::<TrailRow>()?;
    let mut printed = 0u64;
    loop {
        query.limit = Some(PAGE_SIZE.min(wanted - printed));
        let page = client.trail(query)?;
        for record in &page.events {
            if printed == wanted {
                break;
            }
            sink.push(out, &TrailRow::of(record)?)?;
            printed += 1;
        }
        match page.next_cursor {
            Some(cursor) if printed < wanted => query.cursor = Some(cursor),
            _ => break,
        }
    }
    sink.finish(out)?;
    Ok(printed)
}

fn eprintln_quiet(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

// ---------------------------------------------------------------------------------------------
// show

/// Runs `ledger show`.
///
/// # Errors
/// An unknown event (a refusal); a network error; an event that does not verify.
pub(crate) fn show(args: ShowArgs, globals: &Globals) -> anyhow::Result<Status> {
    let client = globals.client()?;
    let record = client
        .event(&args.event)
        .with_context(|| format!("cannot find event {}", args.event))?;
    let payload = decode_record(&record)?;
    let envelope = Envelope::decode(record.envelope.get().as_bytes())?;
    let state = client.contract(&record.contract).ok();
    let signatures = signature_views(&envelope, state.as_ref());
    let inclusion = inclusion(&client, &record, &envelope)?;
    let view = ShowView {
        id: record.id.to_string(),
        index: record.index,
        contract: record.contract.to_string(),
        seq: record.seq,
        kind: record.kind.clone(),
        envelope: serde_json::from_str(record.envelope.get())?,
        payload: serde_json::from_slice(envelope.payload())?,
        signatures,
        inclusion,
    };
    let mut out = globals.output();
    out.record("event", &view, view.human(&payload))?;
    out.flush()?;
    let all_valid = view.signatures.iter().all(|s| s.valid != Some(false));
    Ok(if all_valid && view.inclusion.verified != Some(false) {
        Status::Success
    } else {
        Status::Failure
    })
}

/// One signature of an envelope, checked against the party's key when known.
#[derive(Debug, Serialize)]
struct SignatureView {
    key_id: String,
    party: Option<String>,
    role: Option<&'static str>,
    /// `None` when the key is not a key of the contract (it cannot be checked here).
    valid: Option<bool>,
}

fn signature_views(envelope: &Envelope, state: Option<&ContractState>) -> Vec<SignatureView> {
    let message = envelope.pae();
    envelope
        .signatures()
        .iter()
        .map(|sig| {
            let record = state.and_then(|s| s.keys().get(sig.keyid()));
            let party = record.and_then(|r| state.and_then(|s| s.parties().get(r.party())));
            let valid = record.map(|r| {
                ledger_core::signing::verify_one(&ledger_core::signing::SigCheck {
                    public_key: r.public_key().as_bytes(),
                    message: &message,
                    signature: sig.sig(),
                })
            });
            SignatureView {
                key_id: sig.keyid().to_string(),
                party: party.map(|p| p.name().to_string()),
                role: party.map(|p| p.role().as_str()),
                valid,
            }
        })
        .collect()
}

/// What `show` prints (`type` = `event`).
#[derive(Debug, Serialize)]
struct ShowView {
    id: String,
    index: u64,
    contract: String,
    seq: u64,
    kind: String,
    envelope: serde_json::Value,
    payload: serde_json::Value,
    signatures: Vec<SignatureView>,
    inclusion: InclusionView,
}

impl ShowView {
    fn human(&self, payload: &Payload) -> String {
        let mut text = format!(
            "event {}\n{} of {} at seq {}, log index {}\nauthor {} at {}\n\nsignatures:\n",
            self.id, self.kind, self.contract, self.seq, self.index, payload.author, payload.at
        );
        for s in &self.signatures {
            let verdict = match s.valid {
                Some(true) => "valid",
                Some(false) => "INVALID",
                None => "not checked (unknown key)",
            };
            let who = match (&s.role, &s.party) {
                (Some(role), Some(name)) => format!("{role} {name}"),
                _ => "unknown party".to_owned(),
            };
            text.push_str(&format!("  {}  {:<50} {verdict}\n", s.key_id, who));
        }
        let pretty = serde_json::to_string_pretty(&self.payload).unwrap_or_default();
        text.push_str(&format!(
            "\npayload:\n{pretty}\n\n{}",
            self.inclusion.human()
        ));
        text
    }
}

/// Whether the event is in the node's latest signed checkpoint (`show`'s `inclusion`).
#[derive(Debug, Serialize)]
struct InclusionView {
    /// Size of the checkpoint checked against.
    checkpoint_size: u64,
    /// Its root hash, hex.
    root: String,
    /// `Some(true)`: the proof verifies; `None`: the event is newer than the checkpoint.
    verified: Option<bool>,
    /// Why not, when it does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl InclusionView {
    fn human(&self) -> String {
        match (self.verified, &self.error) {
            (Some(true), _) => format!(
                "inclusion: verified in the node's signed checkpoint of size {} (root {})",
                self.checkpoint_size, self.root
            ),
            (None, _) => format!(
                "inclusion: not yet in a signed checkpoint (latest size {}); try again in a moment",
                self.checkpoint_size
            ),
            (Some(false), error) => format!(
                "inclusion: FAILED against the checkpoint of size {}: {}",
                self.checkpoint_size,
                error.as_deref().unwrap_or("proof does not verify")
            ),
        }
    }
}

/// Checks the inclusion proof of the event against the node's latest checkpoint, whose
/// signature is checked with the node's own key (`ledger audit` checks against keys you trust).
fn inclusion(
    client: &Client,
    record: &EventRecord,
    envelope: &Envelope,
) -> anyhow::Result<InclusionView> {
    use ledger_core::merkle::{leaf_hash, verify_inclusion, Hash, LeafIndex, TreeSize};
    use proto::note::{open_checkpoint, NoteVerifier};
    let info = client.node_info()?;
    let log_key = NoteVerifier::parse(&info.verifier_key).with_context(|| {
        format!(
            "the node's verifier key {:?} does not parse",
            info.verifier_key
        )
    })?;
    let note = client.checkpoint()?;
    let opened = open_checkpoint(note.as_bytes(), &info.origin, &log_key, &[])
        .context("the node's latest checkpoint does not verify under its own key")?;
    let checkpoint = opened.checkpoint();
    let mut view = InclusionView {
        checkpoint_size: checkpoint.size(),
        root: hex::encode(checkpoint.root()),
        verified: None,
        error: None,
    };
    if record.index >= checkpoint.size() {
        return Ok(view);
    }
    let proof: Vec<Hash> = client
        .inclusion_proof(record.index, checkpoint.size())?
        .into_iter()
        .map(Hash::from)
        .collect();
    let verdict = verify_inclusion(
        &leaf_hash(&envelope.to_jcs()),
        LeafIndex::new(record.index),
        TreeSize::new(checkpoint.size()),
        &proof,
        &Hash::from(*checkpoint.root()),
    );
    view.verified = Some(verdict.is_ok());
    view.error = verdict.err().map(|e| e.to_string());
    Ok(view)
}
