//! `ledger demo`: an embedded node and a whole outcomes programme played against it.

use std::path::PathBuf;

use clap::Args;

use crate::cmd::{Globals, Status};

pub(crate) const DEMO_EXAMPLES: &str = "\
Examples:
  ledger demo                       # a temporary node, one programme, the audit
  ledger demo --data ./demo-ledger --keep
  ledger demo --events 100000 --seed 7";

/// `ledger demo`
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the node's data here instead of a temporary directory
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Scale: about N events over many contracts
    #[arg(long, value_name = "N")]
    events: Option<u64>,
    /// Seed of every key and choice, so that a run can be replayed
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Keep the node running after the demo, until ctrl-c
    #[arg(long)]
    keep: bool,
}

/// Runs `ledger demo`.
///
/// # Errors
/// The node cannot start; an event is refused (a bug of the demo).
pub(crate) fn run(args: DemoArgs, globals: &Globals) -> anyhow::Result<Status> {
    let _ = (args, globals);
    anyhow::bail!("the demo is being written")
}
