//! `ledger contract register`, `ledger amend` (both signed by several parties, in turn if
//! need be) and `ledger close`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use proto::payload::{Body, ContractAmended, ContractClosed, PriceChange};
use proto::{ContractId, Text};

use super::files::co_sign;
use super::{parse_int, Authoring, CoAuthoring, Making};
use crate::cmd::{Globals, Status};
use crate::contract_file;
use crate::keyfile::KeyFile;
use crate::plan::{self, Head};

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

/// `ledger contract register`
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// The contract file (TOML)
    #[arg(long, short = 'f', value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    signing: CoAuthoring,
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

fn parse_price(text: &str) -> Result<PriceChange, String> {
    let (outcome, price) = text.split_once('=').ok_or("expected OUTCOME=PRICE")?;
    Ok(PriceChange {
        outcome: outcome
            .parse()
            .map_err(|e: proto::DecodeError| e.detail().to_owned())?,
        price: parse_int(price)?,
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
    let required = plan::amendment_signers(&state)?;
    co_sign(
        globals,
        &payload,
        &keys,
        &required,
        args.signing.out.as_deref(),
    )
}

pub(super) fn load_keys(specs: &[String], globals: &Globals) -> anyhow::Result<Vec<KeyFile>> {
    let keys = specs
        .iter()
        .map(|spec| KeyFile::load(spec, &globals.keys_dir))
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!keys.is_empty(), "give at least one --key");
    Ok(keys)
}
