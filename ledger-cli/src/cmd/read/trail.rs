//! `ledger trail`: events across contracts with the node's filters, paged through its cursors.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use proto::payload::{Body, Stance};
use proto::{ContractId, KeyId, OutcomeId, Role, Timestamp};
use serde::Serialize;

use super::{decision_name, decode_record};
use crate::client::{Client, EventRecord, TrailQuery};
use crate::cmd::{Globals, Status};
use crate::output::{money, short, Output, Row};

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

const TRAIL_CSV_HEADERS: &[&str] = &[
    "index", "id", "at", "contract", "seq", "kind", "author", "outcome", "quantity", "amount",
    "currency", "refers", "summary",
];

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
        Body::KeyRevoked(b) => match &b.successor {
            Some(successor) => format!(
                "key {} revoked, successor {}: {}",
                short(b.key),
                short(KeyId::of(successor)),
                b.reason
            ),
            None => format!("key {} revoked: {}", short(b.key), b.reason),
        },
        Body::KeyEnrolled(b) => format!(
            "successor key {} enrolled for the party of {}: {}",
            short(KeyId::of(&b.new)),
            short(b.party),
            b.reason
        ),
        Body::ContractClosed(b) => format!("closed: {}", b.reason),
        Body::PaymentMade(b) => {
            row.amount = Some(b.total.get());
            row.currency = Some(b.currency.to_string());
            let total = money(b.total.get(), b.currency.as_str());
            format!(
                "paid {total} for {} claim(s), ref {}",
                b.lines.len(),
                b.reference
            )
        }
        Body::DistributionMade(b) => {
            row.amount = Some(b.amount.get());
            row.currency = Some(b.currency.to_string());
            let amount = money(b.amount.get(), b.currency.as_str());
            format!(
                "{amount} to investor {}, ref {}",
                short(b.investor),
                b.reference
            )
        }
        claim => describe_claim(claim, row),
    };
}

/// The summary of the kinds about claims and disputes.
fn describe_claim(body: &Body, row: &mut TrailRow) -> String {
    match body {
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
            let stance = match b.stance {
                Stance::Affirms => "affirms",
                Stance::Contests => "contests",
                Stance::Comment => "comment",
            };
            format!("{stance}: {}", b.text)
        }
        other => other.kind().as_str().to_owned(),
    }
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
    let spinner = spinner(globals.progress && args.all);
    let printed = page_through(&client, &mut query, wanted, &mut out, &spinner)?;
    spinner.finish_and_clear();
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
    spinner: &ProgressBar,
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
        spinner.set_position(printed);
        match page.next_cursor {
            Some(cursor) if printed < wanted => query.cursor = Some(cursor),
            _ => break,
        }
    }
    sink.finish(out)?;
    Ok(printed)
}

/// A spinner on stderr while `--all` pages through a long log (hidden unless wanted).
fn spinner(wanted: bool) -> ProgressBar {
    if !wanted {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} events read, {per_sec}") {
        spinner.set_style(style);
    }
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner
}

fn eprintln_quiet(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}
