//! `ledger pay` (amounts from the rate card with `--auto`) and `ledger distribute`.

use anyhow::Context;
use clap::Args;
use ledger_core::projection::ContractState;
use proto::payload::{Body, DistributionMade, PaymentLine, PaymentMade};
use proto::{ContractId, EventId, KeyId, Text};

use super::{int, parse_int, Authoring, Making};
use crate::cmd::{Globals, Refusal, Status};
use crate::keyfile::KeyFile;
use crate::plan;

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

fn parse_line(text: &str) -> Result<PaymentLine, String> {
    let (claim, amount) = text.split_once('=').ok_or("expected CLAIM=AMOUNT")?;
    Ok(PaymentLine {
        claim: claim
            .parse()
            .map_err(|e: proto::DecodeError| e.detail().to_owned())?,
        amount: parse_int(amount)?,
    })
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
