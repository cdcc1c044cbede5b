//! `ledger claim`, `verify-claim`, `reject-claim`, `dispute`, `resolve` and `feedback`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use proto::payload::{
    Body, ClaimDisputed, ClaimRejected, ClaimSubmitted, ClaimVerified, Decision, DisputeResolved,
    Evidence, FeedbackRecorded, Period, Stance,
};
use proto::{ContractId, Date, EventId, OutcomeId, Pseudonym, Sha256Digest, Text};
use sha2::{Digest, Sha256};

use super::{int, Authoring, Making};
use crate::cmd::{Globals, Status};
use crate::plan;

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
