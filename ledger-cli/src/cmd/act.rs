//! The commands that make events: build the payload (seq and prev from the node's head, `at`
//! from the clock or `--at`), sign it, and submit it or write it to an envelope file for the
//! other parties to sign (`ledger sign`) and anyone to send (`ledger submit`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use ledger_core::projection::ContractState;
use proto::dsse::Envelope;
use proto::payload::{
    Body, ClaimDisputed, ClaimRejected, ClaimSubmitted, ClaimVerified, ContractAmended,
    ContractClosed, Decision, DisputeResolved, DistributionMade, Evidence, FeedbackRecorded,
    PaymentLine, PaymentMade, Period, PriceChange, Stance,
};
use proto::{
    Amount, ContractId, Date, EventId, Int, KeyId, Kind, OutcomeId, Payload, Pseudonym,
    Sha256Digest, Text, Timestamp,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::{Appended, Client};
use crate::cmd::{Globals, Refusal, Status};
use crate::contract_file;
use crate::keyfile::KeyFile;
use crate::output::{money, Output};
use crate::plan::{self, Head, Signer};

pub(crate) const REGISTER_EXAMPLES: &str = "\
Examples:
  # one person holding every key (a test, a demo): signed by all, sent at once
  ledger contract register --file contract.toml --key commissioner --key provider \\
      --key investor-a --key investor-b --key intermediary --key verifier --key beneficiary-rep
  # the usual way: each party signs in turn, offline
  ledger contract register --file contract.toml --key commissioner
      # -> writes fcf-manchester-2025-0-contract-registered.json, lists who must still sign
  ledger sign fcf-manchester-2025-0-contract-registered.json --key provider   # and so on
  ledger submit fcf-manchester-2025-0-contract-registered.json

The contract file is TOML: id, title, currency, start, end, cap, [[parties]] (name, role,
key_file or public_key) and [[outcomes]] (id, name, price, cap_units); amounts are integers
of minor units (pence). See ledger-cli/examples/contract.toml. Every listed party signs.";

pub(crate) const CLAIM_EXAMPLES: &str = "\
Examples:
  ledger claim --contract fcf-manchester-2025 --key provider --outcome accommodation-3m \\
      --from 2025-04-01 --to 2025-06-30 --quantity 12 --evidence q1-tenancies.pdf
  ledger claim --contract fcf-manchester-2025 --key provider --outcome accommodation-6m \\
      --from 2025-07-01 --to 2025-09-30 --quantity 3 --participants q3-pseudonyms.txt \\
      --evidence sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:application/pdf:https://evidence.example/q3.pdf

Participants are pseudonyms (64-hex keyed hashes chosen by the provider), never names: at
most one per unit. --evidence takes a local file (hashed here; nothing is uploaded) or
sha256:HEX:MEDIA_TYPE[:URI]. Prints the claim id: the verifier needs it.";

pub(crate) const VERIFY_EXAMPLES: &str = "\
Examples:
  ledger verify-claim 4be0c1...e9 --key verifier               # all units claimed
  ledger verify-claim 4be0c1...e9 --key verifier --quantity 10 # part of them

The claim's price is fixed now: the rate card's price in force for its outcome. The
contract is found from the claim; --contract is only a check.";

pub(crate) const REJECT_EXAMPLES: &str = "\
Examples:
  ledger reject-claim 4be0c1...e9 --key verifier --reason \"tenancy evidence missing for Q2\"";

pub(crate) const DISPUTE_EXAMPLES: &str = "\
Examples:
  ledger dispute 4be0c1...e9 --key beneficiary-rep \\
      --reason \"two of these young people were housed before the programme began\"

Prints the dispute id: the verifier resolves it with `ledger resolve`.";

pub(crate) const RESOLVE_EXAMPLES: &str = "\
Examples:
  ledger resolve 77aa01...3c --key verifier --decision overturned
  ledger resolve 77aa01...3c --key verifier --decision adjusted --quantity 8
  ledger resolve 77aa01...3c --key verifier --decision upheld

upheld: the claim pays nothing (a clawback if it was paid); overturned: it stands as it
was; adjusted: it stands for --quantity units.";

pub(crate) const FEEDBACK_EXAMPLES: &str = "\
Examples:
  ledger feedback --claim 4be0c1...e9 --key beneficiary-rep --stance affirms \\
      --text \"the panel met five of these young people; all are still housed\"
  ledger feedback --contract fcf-manchester-2025 --outcome accommodation-12m \\
      --key beneficiary-rep --stance comment --text \"support ends too early\"";

pub(crate) const PAY_EXAMPLES: &str = "\
Examples:
  # every verified, undisputed, unpaid claim, amounts from the rate card
  ledger pay --contract fcf-manchester-2025 --key commissioner --auto --reference GMCA-2025-Q3
  # chosen claims, amounts from the rate card
  ledger pay --contract fcf-manchester-2025 --key commissioner --auto \\
      --claims 4be0c1...e9 9d11f0...02 --reference GMCA-2025-Q3
  # amounts stated by hand (the node refuses any that is not price x verified units)
  ledger pay --contract fcf-manchester-2025 --key commissioner \\
      --line 4be0c1...e9=1800000 --reference GMCA-2025-Q3

Amounts are integers of minor units (pence). With --auto each amount is the price fixed at
the claim's verification times its verified units, read from the node's projection.";

pub(crate) const DISTRIBUTE_EXAMPLES: &str = "\
Examples:
  ledger distribute --contract fcf-manchester-2025 --key intermediary \\
      --investor investor-a --amount 2500000 --reference SPV-DIST-2025-10

--investor takes the investor's key id (64 hex) or a key name or file. The amount is in
minor units; distributions never pass the outcome payments received.";

pub(crate) const AMEND_EXAMPLES: &str = "\
Examples:
  ledger amend --contract fcf-manchester-2025 --key commissioner \\
      --price accommodation-12m=450000 --reason \"rents rose 12% in 2026\"
      # -> writes fcf-manchester-2025-41-contract-amended.json for the others to sign
  ledger sign fcf-manchester-2025-41-contract-amended.json --key provider
  ledger submit fcf-manchester-2025-41-contract-amended.json

The commissioner, every provider and every investor sign; new prices apply to
verifications after the amendment.";

pub(crate) const CLOSE_EXAMPLES: &str = "\
Examples:
  ledger close --contract fcf-manchester-2025 --key commissioner --reason \"term ended\"

After closing only disputes, their resolutions and feedback are accepted.";

pub(crate) const SIGN_EXAMPLES: &str = "\
Examples:
  ledger sign fcf-manchester-2025-0-contract-registered.json --key provider
  ledger sign amendment.json --key investor-a --key investor-b

Adds signatures to the envelope file in place and says who must still sign. Nothing is
sent: run `ledger submit FILE` when every required party has signed.";

pub(crate) const SUBMIT_EXAMPLES: &str = "\
Examples:
  ledger submit fcf-manchester-2025-0-contract-registered.json
  ledger submit q1/*.json          # in order; stops at the first refusal";

/// Options of every command that makes an event signed by its author alone.
#[derive(Debug, Args)]
pub(crate) struct Authoring {
    /// Key of the author: a key name in the key directory, or a key file
    #[arg(long, short = 'k', value_name = "KEY")]
    key: String,
    /// Time the author states for the event, RFC 3339 UTC [default: now]
    #[arg(long, value_name = "TIME")]
    at: Option<Timestamp>,
    /// Write the signed envelope to FILE instead of sending it (send it with `ledger submit`)
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Options of the commands whose events several parties sign.
#[derive(Debug, Args)]
pub(crate) struct CoAuthoring {
    /// Keys that sign now; the first is the author. Repeat for each key you hold
    #[arg(long, short = 'k', value_name = "KEY", required = true)]
    key: Vec<String>,
    /// Time the author states for the event, RFC 3339 UTC [default: now]
    #[arg(long, value_name = "TIME")]
    at: Option<Timestamp>,
    /// Envelope file to write while signatures are missing [default: CONTRACT-SEQ-KIND.json]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `ledger contract register`
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// The contract file (TOML)
    #[arg(long, short = 'f', value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    signing: CoAuthoring,
}

/// `ledger claim`
#[derive(Debug, Args)]
pub(crate) struct ClaimArgs {
    #[command(flatten)]
    authoring: Authoring,
    /// The contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: ContractId,
    /// The outcome claimed (an id of the rate card)
    #[arg(long, value_name = "ID")]
    outcome: OutcomeId,
    /// First day of the period (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    from: Date,
    /// Last day of the period (YYYY-MM-DD)
    #[arg(long, value_name = "DATE")]
    to: Date,
    /// Units claimed (people who reached the outcome)
    #[arg(long, short = 'q', value_name = "N")]
    quantity: u64,
    /// A participant pseudonym (64 hex); repeat for each
    #[arg(long, value_name = "HEX")]
    participant: Vec<Pseudonym>,
    /// A file of participant pseudonyms, one per line ('#' starts a comment)
    #[arg(long, value_name = "FILE")]
    participants: Option<PathBuf>,
    /// Evidence: a local file to hash, or sha256:HEX:MEDIA_TYPE[:URI]; repeat for each
    #[arg(long, value_name = "SPEC")]
    evidence: Vec<String>,
}

/// `ledger verify-claim`
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The claim's id (the event id of its claim.submitted)
    claim: EventId,
    #[command(flatten)]
    authoring: Authoring,
    /// Units verified [default: all units claimed]
    #[arg(long, short = 'q', value_name = "N")]
    quantity: Option<u64>,
    /// The contract (found from the claim if not given)
    #[arg(long, short = 'c', value_name = "ID")]
    contract: Option<ContractId>,
}

/// `ledger reject-claim`
#[derive(Debug, Args)]
pub(crate) struct RejectArgs {
    /// The claim's id
    claim: EventId,
    #[command(flatten)]
    authoring: Authoring,
    /// Why it is rejected
    #[arg(long, short = 'r')]
    reason: Text<2000>,
    /// The contract (found from the claim if not given)
    #[arg(long, short = 'c', value_name = "ID")]
    contract: Option<ContractId>,
}

/// `ledger dispute`
#[derive(Debug, Args)]
pub(crate) struct DisputeArgs {
    /// The claim's id
    claim: EventId,
    #[command(flatten)]
    authoring: Authoring,
    /// Why it is disputed
    #[arg(long, short = 'r')]
    reason: Text<2000>,
    /// The contract (found from the claim if not given)
    #[arg(long, short = 'c', value_name = "ID")]
    contract: Option<ContractId>,
}

/// A dispute's decision.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum DecisionArg {
    /// The dispute is right: the claim pays nothing
    Upheld,
    /// The dispute is wrong: the claim stands as it was
    Overturned,
    /// The claim stands for --quantity units
    Adjusted,
}

/// `ledger resolve`
#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// The dispute's id (the event id of its claim.disputed)
    dispute: EventId,
    #[command(flatten)]
    authoring: Authoring,
    /// The decision
    #[arg(long, short = 'd', value_enum)]
    decision: DecisionArg,
    /// Units that stand (with --decision adjusted only)
    #[arg(long, short = 'q', value_name = "N")]
    quantity: Option<u64>,
    /// The contract (found from the dispute if not given)
    #[arg(long, short = 'c', value_name = "ID")]
    contract: Option<ContractId>,
}

/// Where feedback stands.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StanceArg {
    /// Confirms the outcome happened as claimed
    Affirms,
    /// Says it did not
    Contests,
    /// A comment for the record
    Comment,
}

/// `ledger feedback`
#[derive(Debug, Args)]
pub(crate) struct FeedbackArgs {
    #[command(flatten)]
    authoring: Authoring,
    /// The contract (found from --claim if not given)
    #[arg(
        long,
        short = 'c',
        value_name = "ID",
        required_unless_present = "claim"
    )]
    contract: Option<ContractId>,
    /// The claim spoken of
    #[arg(long, value_name = "ID")]
    claim: Option<EventId>,
    /// The outcome spoken of
    #[arg(long, value_name = "ID")]
    outcome: Option<OutcomeId>,
    /// Affirms, contests or comments
    #[arg(long, short = 's', value_enum)]
    stance: StanceArg,
    /// What the people served said (never a person's identity)
    #[arg(long, short = 't')]
    text: Text<4000>,
}

/// `ledger pay`
#[derive(Debug, Args)]
pub(crate) struct PayArgs {
    #[command(flatten)]
    authoring: Authoring,
    /// The contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: ContractId,
    /// Compute each amount from the rate card (every payable claim unless --claims)
    #[arg(long, conflicts_with = "line")]
    auto: bool,
    /// Claims to pay, with --auto
    #[arg(long, value_name = "ID", num_args = 1.., requires = "auto")]
    claims: Vec<EventId>,
    /// A line CLAIM=AMOUNT (minor units) stated by hand; repeat for each
    #[arg(long, value_name = "CLAIM=AMOUNT", value_parser = parse_line, required_unless_present = "auto")]
    line: Vec<PaymentLine>,
    /// The payer's reference (a remittance number)
    #[arg(long, short = 'r')]
    reference: Text<200>,
}

/// `ledger distribute`
#[derive(Debug, Args)]
pub(crate) struct DistributeArgs {
    #[command(flatten)]
    authoring: Authoring,
    /// The contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: ContractId,
    /// The investor: a key id (64 hex), or a key name or file
    #[arg(long, value_name = "KEY")]
    investor: String,
    /// Amount in minor units (pence)
    #[arg(long, short = 'a', value_name = "MINOR_UNITS")]
    amount: u64,
    /// The payer's reference
    #[arg(long, short = 'r')]
    reference: Text<200>,
}

/// `ledger amend`
#[derive(Debug, Args)]
pub(crate) struct AmendArgs {
    /// The contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: ContractId,
    /// A new price OUTCOME=PRICE (minor units); repeat for each
    #[arg(long, value_name = "OUTCOME=PRICE", value_parser = parse_price, required = true)]
    price: Vec<PriceChange>,
    /// Why
    #[arg(long, short = 'r')]
    reason: Text<2000>,
    #[command(flatten)]
    signing: CoAuthoring,
}

/// `ledger close`
#[derive(Debug, Args)]
pub(crate) struct CloseArgs {
    #[command(flatten)]
    authoring: Authoring,
    /// The contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: ContractId,
    /// Why
    #[arg(long, short = 'r')]
    reason: Text<2000>,
}

/// `ledger sign`
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The envelope file
    file: PathBuf,
    /// Keys that sign; repeat for each key you hold
    #[arg(long, short = 'k', value_name = "KEY", required = true)]
    key: Vec<String>,
}

/// `ledger submit`
#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    /// Envelope files, sent in this order
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

fn parse_line(text: &str) -> Result<PaymentLine, String> {
    let (claim, amount) = text.split_once('=').ok_or("expected CLAIM=AMOUNT")?;
    Ok(PaymentLine {
        claim: claim
            .parse()
            .map_err(|e: proto::DecodeError| e.detail().to_owned())?,
        amount: parse_int(amount)?,
    })
}

fn parse_price(text: &str) -> Result<PriceChange, String> {
    let (outcome, price) = text.split_once('=').ok_or("expected OUTCOME=PRICE")?;
    Ok(PriceChange {
        outcome: outcome
            .parse()
            .map_err(|e: proto::DecodeError| e.detail().to_owned())?,
        price: parse_int(price)?,
    })
}

fn parse_int(text: &str) -> Result<Int, String> {
    let value: u64 = text
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of minor units"))?;
    Int::new(value).ok_or_else(|| format!("{value} is over 2^53-1"))
}

fn int(name: &str, value: u64) -> anyhow::Result<Int> {
    Int::new(value).ok_or_else(|| anyhow::anyhow!("{name} {value} is over 2^53-1"))
}

/// What `--json` prints for an event sent (`type` = `appended`).
#[derive(Debug, Serialize)]
pub(crate) struct AppendedView {
    /// Event id.
    pub(crate) id: EventId,
    /// Log index.
    pub(crate) index: u64,
    /// Contract.
    pub(crate) contract: ContractId,
    /// Seq in the contract.
    pub(crate) seq: u64,
    /// Kind.
    pub(crate) kind: &'static str,
}

impl AppendedView {
    fn of(appended: &Appended, payload: &Payload) -> Self {
        Self {
            id: appended.id,
            index: appended.index,
            contract: payload.contract.clone(),
            seq: payload.seq.get(),
            kind: payload.kind().as_str(),
        }
    }

    fn human(&self) -> String {
        format!(
            "appended {} to {} at seq {} (log index {})\nevent id {}",
            self.kind, self.contract, self.seq, self.index, self.id
        )
    }
}

/// An event in the making: who signs it and where it goes.
struct Making<'a> {
    globals: &'a Globals,
    client: Client,
    author: KeyFile,
    at: Timestamp,
    out: Option<PathBuf>,
}

impl<'a> Making<'a> {
    fn new(globals: &'a Globals, authoring: &Authoring) -> anyhow::Result<Self> {
        let author = KeyFile::load(&authoring.key, &globals.keys_dir)?;
        let at = authoring.at.clone().map_or_else(plan::now, Ok)?;
        Ok(Self {
            globals,
            client: globals.client()?,
            author,
            at,
            out: authoring.out.clone(),
        })
    }

    /// The contract named, or the one the event `refers` belongs to.
    fn contract_of(
        &self,
        given: Option<&ContractId>,
        refers: &EventId,
        what: &str,
    ) -> anyhow::Result<ContractId> {
        let event = self
            .client
            .event(refers)
            .with_context(|| format!("cannot find {what} {refers} on the node"))?;
        if let Some(given) = given.filter(|g| **g != event.contract) {
            return Err(Refusal::new(
                "contract-mismatch",
                "wrong contract",
                format!(
                    "{what} {refers} belongs to contract {}, not {given}",
                    event.contract
                ),
            )
            .into());
        }
        Ok(event.contract)
    }

    /// Builds the body against the contract's state, signs and delivers.
    fn act(
        self,
        contract: &ContractId,
        body: impl FnOnce(&ContractState) -> anyhow::Result<Body>,
    ) -> anyhow::Result<Status> {
        let state = self
            .client
            .contract(contract)
            .with_context(|| format!("cannot read contract {contract}"))?;
        let body = body(&state)?;
        let head = Head::of(&state)?;
        let payload = plan::payload(contract, &head, self.author.key_id(), self.at.clone(), body)?;
        let envelope = plan::seal(&payload, &[self.author.signing()])?;
        match &self.out {
            Some(path) => write_envelope(self.globals, path, &envelope, &payload, &[]),
            None => send(self.globals, &self.client, &envelope, &payload),
        }
    }
}

/// Sends one envelope and prints where it landed.
fn send(
    globals: &Globals,
    client: &Client,
    envelope: &Envelope,
    payload: &Payload,
) -> anyhow::Result<Status> {
    let appended = client
        .append(&envelope.to_jcs())
        .with_context(|| format!("the node refused {}", payload.kind().as_str()))?;
    let view = AppendedView::of(&appended, payload);
    let mut out = globals.output();
    out.record("appended", &view, view.human())?;
    out.flush()?;
    Ok(Status::Success)
}

/// Runs `ledger claim`.
///
/// # Errors
/// A bad key, file or evidence; a refusal; a network error.
pub(crate) fn claim(args: ClaimArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let mut participants = args.participant.clone();
    if let Some(path) = &args.participants {
        participants.extend(read_pseudonyms(path)?);
    }
    let evidence = args
        .evidence
        .iter()
        .map(|spec| evidence(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let body = Body::ClaimSubmitted(ClaimSubmitted {
        outcome: args.outcome,
        period: Period {
            from: args.from,
            to: args.to,
        },
        quantity: int("quantity", args.quantity)?,
        participants,
        evidence,
    });
    making.act(&args.contract, |_| Ok(body))
}

fn read_pseudonyms(path: &Path) -> anyhow::Result<Vec<Pseudonym>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read participants file {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| (i, line.split('#').next().unwrap_or("").trim()))
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| {
            line.parse().map_err(|e: proto::DecodeError| {
                anyhow::anyhow!("{} line {}: {}", path.display(), i + 1, e.detail())
            })
        })
        .collect()
}

/// Evidence from `sha256:HEX:MEDIA_TYPE[:URI]` or a local file.
fn evidence(spec: &str) -> anyhow::Result<Evidence> {
    if let Some(rest) = spec.strip_prefix("sha256:") {
        let mut parts = rest.splitn(3, ':');
        let sha256: Sha256Digest =
            parts
                .next()
                .unwrap_or("")
                .parse()
                .map_err(|e: proto::DecodeError| {
                    anyhow::anyhow!("--evidence {spec:?}: {}", e.detail())
                })?;
        let media_type = parts
            .next()
            .ok_or_else(|| {
                anyhow::anyhow!("--evidence {spec:?}: give sha256:HEX:MEDIA_TYPE[:URI]")
            })?
            .parse()
            .map_err(|e: proto::DecodeError| {
                anyhow::anyhow!("--evidence media type: {}", e.detail())
            })?;
        let uri = parts
            .next()
            .map(str::parse)
            .transpose()
            .map_err(|e: proto::DecodeError| anyhow::anyhow!("--evidence URI: {}", e.detail()))?;
        return Ok(Evidence {
            sha256,
            media_type,
            uri,
        });
    }
    let path = Path::new(spec);
    let bytes = fs::read(path).with_context(|| {
        format!("cannot read evidence file {spec}; give a file, or sha256:HEX:MEDIA_TYPE[:URI]")
    })?;
    let media_type = media_type_of(path)
        .parse()
        .map_err(|e: proto::DecodeError| anyhow::anyhow!("{e}"))?;
    Ok(Evidence {
        sha256: Sha256Digest::from_bytes(Sha256::digest(&bytes).into()),
        media_type,
        uri: None,
    })
}

fn media_type_of(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "json" => "application/json",
        "txt" => "text/plain",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// Runs `ledger verify-claim`.
///
/// # Errors
/// A bad key; an unknown claim; a refusal; a network error.
pub(crate) fn verify(args: VerifyArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let contract = making.contract_of(args.contract.as_ref(), &args.claim, "claim")?;
    let claim = args.claim;
    making.act(&contract, |state| {
        let claimed = state
            .claims()
            .get(&claim)
            .ok_or_else(|| plan::unknown_claim(state, &claim))?;
        let quantity = match args.quantity {
            Some(q) => int("quantity", q)?,
            None => claimed.quantity(),
        };
        Ok(Body::ClaimVerified(ClaimVerified { claim, quantity }))
    })
}

/// Runs `ledger reject-claim`.
///
/// # Errors
/// As [`verify`].
pub(crate) fn reject(args: RejectArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let contract = making.contract_of(args.contract.as_ref(), &args.claim, "claim")?;
    let body = Body::ClaimRejected(ClaimRejected {
        claim: args.claim,
        reason: args.reason,
    });
    making.act(&contract, |_| Ok(body))
}

/// Runs `ledger dispute`.
///
/// # Errors
/// As [`verify`].
pub(crate) fn dispute(args: DisputeArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let contract = making.contract_of(args.contract.as_ref(), &args.claim, "claim")?;
    let body = Body::ClaimDisputed(ClaimDisputed {
        claim: args.claim,
        reason: args.reason,
    });
    making.act(&contract, |_| Ok(body))
}

/// Runs `ledger resolve`.
///
/// # Errors
/// As [`verify`].
pub(crate) fn resolve(args: ResolveArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let contract = making.contract_of(args.contract.as_ref(), &args.dispute, "dispute")?;
    let decision = match args.decision {
        DecisionArg::Upheld => Decision::Upheld,
        DecisionArg::Overturned => Decision::Overturned,
        DecisionArg::Adjusted => Decision::Adjusted,
    };
    let quantity = args.quantity.map(|q| int("quantity", q)).transpose()?;
    let body = Body::DisputeResolved(DisputeResolved {
        dispute: args.dispute,
        decision,
        quantity,
    });
    making.act(&contract, |_| Ok(body))
}

/// Runs `ledger feedback`.
///
/// # Errors
/// As [`verify`].
pub(crate) fn feedback(args: FeedbackArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let contract = match (&args.claim, args.contract) {
        (Some(claim), given) => making.contract_of(given.as_ref(), claim, "claim")?,
        (None, Some(contract)) => contract,
        (None, None) => anyhow::bail!("give --contract or --claim"),
    };
    let stance = match args.stance {
        StanceArg::Affirms => Stance::Affirms,
        StanceArg::Contests => Stance::Contests,
        StanceArg::Comment => Stance::Comment,
    };
    let body = Body::FeedbackRecorded(FeedbackRecorded {
        claim: args.claim,
        outcome: args.outcome,
        stance,
        text: args.text,
    });
    making.act(&contract, |_| Ok(body))
}

/// Runs `ledger pay`.
///
/// # Errors
/// A claim that cannot be paid; a refusal; a network error.
pub(crate) fn pay(args: PayArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let (auto, chosen, stated, reference) = (args.auto, args.claims, args.line, args.reference);
    making.act(&args.contract, |state| {
        let lines = match (auto, chosen.is_empty()) {
            (true, true) => plan::auto_lines(state, &payable_or_refuse(state)?)?,
            (true, false) => plan::auto_lines(state, &chosen)?,
            (false, _) => stated,
        };
        let total = plan::total(&lines)?;
        Ok(Body::PaymentMade(PaymentMade {
            lines,
            total,
            currency: *state.currency(),
            reference,
        }))
    })
}

fn payable_or_refuse(state: &ContractState) -> anyhow::Result<Vec<EventId>> {
    let payable = plan::payable_claims(state);
    if payable.is_empty() {
        return Err(Refusal::new(
            "nothing-to-pay",
            "nothing to pay",
            format!(
                "contract {} has no verified, undisputed, unpaid claim",
                state.id()
            ),
        )
        .with_hint(format!(
            "`ledger state {}` shows where each claim stands",
            state.id()
        ))
        .into());
    }
    Ok(payable)
}

/// Runs `ledger distribute`.
///
/// # Errors
/// A bad investor key; a refusal; a network error.
pub(crate) fn distribute(args: DistributeArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let investor = match args.investor.parse::<KeyId>() {
        Ok(id) => id,
        Err(_) => KeyFile::load(&args.investor, &globals.keys_dir)
            .context("--investor is neither a key id (64 hex) nor a key name or file")?
            .key_id(),
    };
    let amount = int("amount", args.amount)?;
    let reference = args.reference;
    making.act(&args.contract, |state| {
        Ok(Body::DistributionMade(DistributionMade {
            investor,
            amount,
            currency: *state.currency(),
            reference,
        }))
    })
}

/// Runs `ledger close`.
///
/// # Errors
/// A bad key; a refusal; a network error.
pub(crate) fn close(args: CloseArgs, globals: &Globals) -> anyhow::Result<Status> {
    let making = Making::new(globals, &args.authoring)?;
    let body = Body::ContractClosed(ContractClosed {
        reason: args.reason,
    });
    making.act(&args.contract, |_| Ok(body))
}

/// Runs `ledger contract register`.
///
/// # Errors
/// A bad contract file or key; a refusal; a network or file error.
pub(crate) fn register(args: RegisterArgs, globals: &Globals) -> anyhow::Result<Status> {
    let contract = contract_file::load(&args.file, &globals.keys_dir)?;
    let keys = load_keys(&args.signing.key, globals)?;
    let at = args.signing.at.clone().map_or_else(plan::now, Ok)?;
    let body = Body::ContractRegistered(contract.body);
    let payload = plan::payload(&contract.id, &Head::GENESIS, keys[0].key_id(), at, body)?;
    let required = plan::registration_signers(&payload);
    co_sign(
        globals,
        &payload,
        &keys,
        &required,
        args.signing.out.as_deref(),
    )
}

/// Runs `ledger amend`.
///
/// # Errors
/// A bad key; a refusal; a network or file error.
pub(crate) fn amend(args: AmendArgs, globals: &Globals) -> anyhow::Result<Status> {
    let keys = load_keys(&args.signing.key, globals)?;
    let at = args.signing.at.clone().map_or_else(plan::now, Ok)?;
    let client = globals.client()?;
    let state = client
        .contract(&args.contract)
        .with_context(|| format!("cannot read contract {}", args.contract))?;
    let body = Body::ContractAmended(ContractAmended {
        prices: args.price,
        reason: args.reason,
    });
    let payload = plan::payload(
        &args.contract,
        &Head::of(&state)?,
        keys[0].key_id(),
        at,
        body,
    )?;
    let required = plan::amendment_signers(&state);
    co_sign(
        globals,
        &payload,
        &keys,
        &required,
        args.signing.out.as_deref(),
    )
}

fn load_keys(specs: &[String], globals: &Globals) -> anyhow::Result<Vec<KeyFile>> {
    let keys = specs
        .iter()
        .map(|spec| KeyFile::load(spec, &globals.keys_dir))
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!keys.is_empty(), "give at least one --key");
    Ok(keys)
}

/// Signs with every key held; sends if every required party signed (and no --out), else
/// writes the envelope file for the others.
fn co_sign(
    globals: &Globals,
    payload: &Payload,
    keys: &[KeyFile],
    required: &[Signer],
    out: Option<&Path>,
) -> anyhow::Result<Status> {
    check_signers(keys, required, payload.kind())?;
    let signing: Vec<_> = keys.iter().map(KeyFile::signing).collect();
    let envelope = plan::seal(payload, &signing)?;
    let missing = plan::missing_signers(required, &envelope);
    if missing.is_empty() && out.is_none() {
        return send(globals, &globals.client()?, &envelope, payload);
    }
    let default_path = default_envelope_path(payload);
    let path = out.unwrap_or(&default_path);
    write_envelope(globals, path, &envelope, payload, &missing)
}

/// Refuses a key that is not among the required signers (the node would refuse the extra
/// signature).
fn check_signers(keys: &[KeyFile], required: &[Signer], kind: Kind) -> anyhow::Result<()> {
    for key in keys {
        if !required.iter().any(|s| s.key == key.key_id()) {
            return Err(Refusal::new(
                "extra-signature",
                "not a signer",
                format!(
                    "key {} ({}) is not one of the parties that sign {}",
                    key.name(),
                    key.key_id(),
                    kind.as_str()
                ),
            )
            .with_hint("sign with the keys of the parties listed; `ledger key show NAME` prints a key's id")
            .into());
        }
    }
    Ok(())
}

fn default_envelope_path(payload: &Payload) -> PathBuf {
    PathBuf::from(format!(
        "{}-{}-{}.json",
        payload.contract,
        payload.seq,
        plan::kind_slug(payload.kind())
    ))
}

/// What `--json` prints for an envelope file written or signed (`type` = `envelope-file`).
#[derive(Debug, Serialize)]
struct EnvelopeFileView {
    path: String,
    id: EventId,
    contract: ContractId,
    seq: u64,
    kind: &'static str,
    signatures: usize,
    missing: Vec<MissingView>,
}

#[derive(Debug, Serialize)]
struct MissingView {
    key_id: KeyId,
    name: String,
    role: &'static str,
}

impl EnvelopeFileView {
    fn of(path: &Path, envelope: &Envelope, payload: &Payload, missing: &[Signer]) -> Self {
        Self {
            path: path.display().to_string(),
            id: EventId::of_payload(envelope.payload()),
            contract: payload.contract.clone(),
            seq: payload.seq.get(),
            kind: payload.kind().as_str(),
            signatures: envelope.signatures().len(),
            missing: missing
                .iter()
                .map(|s| MissingView {
                    key_id: s.key,
                    name: s.name.clone(),
                    role: s.role.as_str(),
                })
                .collect(),
        }
    }

    fn human(&self, verb: &str) -> String {
        let mut text = format!(
            "{verb} {} of {} (seq {}) in {}: {} signature(s)",
            self.kind, self.contract, self.seq, self.path, self.signatures
        );
        if self.missing.is_empty() {
            text.push_str(&format!("\nnext: ledger submit {}", self.path));
            return text;
        }
        text.push_str("\nstill to sign:");
        for m in &self.missing {
            text.push_str(&format!("\n  {:<16} {:<40} {}", m.role, m.name, m.key_id));
        }
        text.push_str(&format!(
            "\nnext: each runs `ledger sign {} --key THEIR_KEY`, then `ledger submit {}`",
            self.path, self.path
        ));
        text
    }
}

/// Writes a new envelope file (never over an existing one) and says who must still sign.
fn write_envelope(
    globals: &Globals,
    path: &Path,
    envelope: &Envelope,
    payload: &Payload,
    missing: &[Signer],
) -> anyhow::Result<Status> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create envelope file {}; if it exists, choose another with --out",
                path.display()
            )
        })?;
    file.write_all(&envelope_file_bytes(envelope))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write envelope file {}", path.display()))?;
    let view = EnvelopeFileView::of(path, envelope, payload, missing);
    let mut out = globals.output();
    out.record("envelope-file", &view, view.human("wrote"))?;
    out.flush()?;
    Ok(Status::Success)
}

fn envelope_file_bytes(envelope: &Envelope) -> Vec<u8> {
    let mut bytes = envelope.to_jcs();
    bytes.push(b'\n');
    bytes
}

/// Reads an envelope file and its payload, strictly.
fn read_envelope(path: &Path) -> anyhow::Result<(Envelope, Payload)> {
    let bytes =
        fs::read(path).with_context(|| format!("cannot read envelope file {}", path.display()))?;
    let envelope = Envelope::decode(&bytes)
        .with_context(|| format!("{} is not a ledger event envelope", path.display()))?;
    let payload = Payload::decode(envelope.payload())
        .with_context(|| format!("the payload in {} is not a valid event", path.display()))?;
    Ok((envelope, payload))
}

/// Runs `ledger sign`.
///
/// # Errors
/// A bad file or key, a key that already signed or is not a party that signs.
pub(crate) fn sign(args: SignArgs, globals: &Globals) -> anyhow::Result<Status> {
    let (mut envelope, payload) = read_envelope(&args.file)?;
    let keys = load_keys(&args.key, globals)?;
    let required = plan::registration_signers(&payload);
    if payload.kind() == Kind::ContractRegistered {
        check_signers(&keys, &required, payload.kind())?;
    }
    for key in &keys {
        envelope = plan::add_signature(&envelope, key.signing())?;
    }
    replace_file(&args.file, &envelope_file_bytes(&envelope))?;
    let missing = plan::missing_signers(&required, &envelope);
    let view = EnvelopeFileView::of(&args.file, &envelope, &payload, &missing);
    let mut out = globals.output();
    out.record("envelope-file", &view, view.human("signed"))?;
    if payload.kind() == Kind::ContractAmended {
        out.say("(the commissioner, every provider and every investor must sign an amendment)")?;
    }
    out.flush()?;
    Ok(Status::Success)
}

/// Replaces a file atomically: write a sibling, flush, rename over.
fn replace_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut staged = path.as_os_str().to_owned();
    staged.push(".signing");
    let staged = PathBuf::from(staged);
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&staged)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&staged, path)
    };
    write().with_context(|| format!("cannot rewrite envelope file {}", path.display()))
}

/// Runs `ledger submit`.
///
/// # Errors
/// A bad file; the first refusal; a network error.
pub(crate) fn submit(args: SubmitArgs, globals: &Globals) -> anyhow::Result<Status> {
    let client = globals.client()?;
    for path in &args.files {
        let (envelope, payload) = read_envelope(path)?;
        send(globals, &client, &envelope, &payload)
            .with_context(|| format!("submitting {}", path.display()))?;
    }
    Ok(Status::Success)
}

/// Money of a contract for people.
#[allow(dead_code)]
pub(crate) fn money_of(state: &ContractState, amount: Amount) -> String {
    money(amount.get(), state.currency().as_str())
}

#[allow(dead_code)]
fn unused(_: &Output) {}
