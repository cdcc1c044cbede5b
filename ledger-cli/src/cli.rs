//! The command line, as clap derive types: the one flag list that generates `--help`.
//!
//! Parsing only: each command's `run` turns these raw arguments into a plan (resolving keys,
//! reading the node) and acts on it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cmd::act::{
    AmendArgs, ClaimArgs, CloseArgs, DisputeArgs, DistributeArgs, EnrolKeyArgs, FeedbackArgs,
    PayArgs, RegisterArgs, RejectArgs, ResolveArgs, RevokeKeyArgs, SignArgs, SubmitArgs,
    VerifyArgs,
};
use crate::cmd::audit::AuditArgs;
use crate::cmd::checkpoint::CheckpointCommand;
use crate::cmd::demo::DemoArgs;
use crate::cmd::export::ExportArgs;
use crate::cmd::key::KeyCommand;
use crate::cmd::read::{ShowArgs, StateArgs, TrailArgs};
use crate::output::Format;

/// Default node address: a `ledger-node` with its default `--listen`.
pub(crate) const NODE_DEFAULT: &str = "http://127.0.0.1:7878";

const ABOUT: &str = "The command line of the outcome ledger: keys, signed events, state, \
                     trails, audits and a demo";

const LONG_ABOUT: &str = "\
The command line of the outcome ledger, an append-only, Ed25519-signed, Merkle-logged record of
social outcome contracts: who promised to pay what for which outcomes, which claims were verified,
disputed and paid, and where the money went.

Parties make keys (`ledger key new`), register a contract signed by all of them (`ledger contract
register`), then claim, verify, dispute, pay and distribute. Auditors and regulators read the
trail, export bundles and verify everything from scratch (`ledger audit`).

New here? Run `ledger demo`: it starts a node in this process and plays a whole programme.";

const EXIT_CODES: &str = "\
Exit status:
  0  success: the command did what it says (for `audit`: everything verified)
  1  the ledger said no: the node refused the event (the problem's code is printed), a claim,
     event or contract named does not exist, or `audit` found a failure
  2  could not do it: usage error, unreadable or invalid file or key, network error, or the
     node failed (5xx); nothing about the ledger was learnt

Environment:
  LEDGER_NODE  node URL (like --node)       LEDGER_KEYS  key directory (like --keys)

Output: tables for people; --json prints JSON Lines, one object per line, each with a `type`
member naming its shape; --csv prints rows where the output is a list (trail, state).";

/// `ledger`: the outcome ledger's command line.
#[derive(Debug, Parser)]
#[command(
    name = "ledger",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// URL of the ledger node
    #[arg(long, global = true, env = "LEDGER_NODE", default_value = NODE_DEFAULT, value_name = "URL")]
    pub(crate) node: String,
    /// Directory of key files: where `key new` writes and where `--key NAME` looks
    #[arg(
        long,
        global = true,
        env = "LEDGER_KEYS",
        default_value = "keys",
        value_name = "DIR",
        visible_alias = "dir"
    )]
    pub(crate) keys: PathBuf,
    /// Print JSON Lines (one object per line, with a `type` member) instead of tables
    #[arg(long, global = true, conflicts_with = "csv")]
    pub(crate) json: bool,
    /// Print CSV rows with a header line, where the output is a list
    #[arg(long, global = true)]
    pub(crate) csv: bool,
    /// Do not draw progress bars (they are drawn only when stderr is a terminal)
    #[arg(long, global = true)]
    pub(crate) no_progress: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Make and inspect Ed25519 key files
    #[command(subcommand)]
    Key(KeyCommand),
    /// Register a contract
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Claim outcomes for a period (provider)
    #[command(after_help = crate::cmd::act::CLAIM_EXAMPLES)]
    Claim(ClaimArgs),
    /// Verify a claim for all or part of its units (verifier)
    #[command(after_help = crate::cmd::act::VERIFY_EXAMPLES)]
    VerifyClaim(VerifyArgs),
    /// Reject a claim (verifier)
    #[command(after_help = crate::cmd::act::REJECT_EXAMPLES)]
    RejectClaim(RejectArgs),
    /// Dispute a claim (any party)
    #[command(after_help = crate::cmd::act::DISPUTE_EXAMPLES)]
    Dispute(DisputeArgs),
    /// Resolve a dispute: upheld, overturned or adjusted (verifier)
    #[command(after_help = crate::cmd::act::RESOLVE_EXAMPLES)]
    Resolve(ResolveArgs),
    /// Record the feedback of the people served (beneficiary representative)
    #[command(after_help = crate::cmd::act::FEEDBACK_EXAMPLES)]
    Feedback(FeedbackArgs),
    /// Pay verified claims, amounts from the rate card with --auto (commissioner)
    #[command(after_help = crate::cmd::act::PAY_EXAMPLES)]
    Pay(PayArgs),
    /// Distribute outcome money to an investor (intermediary)
    #[command(after_help = crate::cmd::act::DISTRIBUTE_EXAMPLES)]
    Distribute(DistributeArgs),
    /// Propose new prices; every commissioner, provider and investor signs
    #[command(after_help = crate::cmd::act::AMEND_EXAMPLES)]
    Amend(AmendArgs),
    /// Revoke another party's key, optionally naming its successor (commissioner and a quorum)
    #[command(after_help = crate::cmd::act::REVOKE_KEY_EXAMPLES)]
    RevokeKey(RevokeKeyArgs),
    /// Give a successor key to a party whose key was revoked (commissioner and a quorum)
    #[command(after_help = crate::cmd::act::ENROL_KEY_EXAMPLES)]
    EnrolKey(EnrolKeyArgs),
    /// Close a contract (commissioner)
    #[command(after_help = crate::cmd::act::CLOSE_EXAMPLES)]
    Close(CloseArgs),
    /// Add your signature to an envelope file
    #[command(after_help = crate::cmd::act::SIGN_EXAMPLES)]
    Sign(SignArgs),
    /// Send envelope files to the node
    #[command(after_help = crate::cmd::act::SUBMIT_EXAMPLES)]
    Submit(SubmitArgs),
    /// Show a contract's state: outcomes, money, caps left, disputes, distributions
    #[command(after_help = crate::cmd::read::STATE_EXAMPLES)]
    State(StateArgs),
    /// List events with filters, across contracts: what regulators query
    #[command(after_help = crate::cmd::read::TRAIL_EXAMPLES)]
    Trail(TrailArgs),
    /// Show one event: envelope, decoded payload, log index and its inclusion proof
    #[command(after_help = crate::cmd::read::SHOW_EXAMPLES)]
    Show(ShowArgs),
    /// Verify the ledger from scratch: signatures, roles, chains, rules, Merkle root
    #[command(after_help = crate::cmd::audit::AUDIT_EXAMPLES)]
    Audit(AuditArgs),
    /// Write an audit bundle, or CSV rows of events or payments for spreadsheets
    #[command(after_help = crate::cmd::export::EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// Keep signed checkpoints, to prove later that the log only grew
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
    /// Start a node in this process and play a whole outcomes programme, then audit it
    #[command(after_help = crate::cmd::demo::DEMO_EXAMPLES)]
    Demo(DemoArgs),
}

/// `ledger contract ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ContractCommand {
    /// Build, sign and (once every party has signed) submit `contract.registered`
    #[command(after_help = crate::cmd::act::REGISTER_EXAMPLES)]
    Register(RegisterArgs),
}

/// How a command prints.
pub(crate) fn format_of(global: &GlobalArgs) -> Format {
    match (global.json, global.csv) {
        (true, _) => Format::Json,
        (false, true) => Format::Csv,
        (false, false) => Format::Table,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
