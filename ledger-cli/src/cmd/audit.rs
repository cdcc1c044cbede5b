//! `ledger audit`: verify a ledger from scratch, from an audit bundle or from a node.
//!
//! A full audit replays every event in log order and checks the canonical form of every
//! envelope and payload, every signature (exact `verify_strict` verdicts, on worker threads),
//! every signer's role, every chain link and every contract rule (ledger-core's `Ledger`), then
//! recomputes the Merkle root and compares it with a checkpoint that at least `--min-signers`
//! trusted keys signed. Online, it also compares the node's projection of every contract with
//! the one recomputed. With `--since` against a node it instead proves, by a consistency
//! proof, that the log only grew since a checkpoint saved earlier, and checks the inclusion of
//! the events named. It prints a statement of each contract's money and exits 0 when
//! everything verified, 1 on the first failure (naming the event index, id and rule), 2 when it
//! could not check.

mod finding;
mod online;
mod replay;
mod report;
mod trust;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::KeyDirectory;
use proto::{ContractId, EventId};

pub(crate) use self::finding::Stop;
use self::finding::{Check, Finding};
use self::replay::RootMark;
pub(crate) use self::replay::{RawChunk, Replay, CHUNK_EVENTS};
use self::report::Verified;
use self::trust::{load_verifiers, Trust, Trusted};
use crate::bundle::{BundleReader, Head};
use crate::cmd::{Globals, Status};

pub(crate) use self::online::LogPages;
pub(crate) use self::replay::Observer;
pub(crate) use self::trust::{load_verifiers as load_trusted_keys, Trust as CheckpointTrust};

/// Examples for `ledger audit --help`.
pub(crate) const AUDIT_EXAMPLES: &str = "\
Examples:
  ledger audit                                     # the node at --node, trusting its own key
  ledger audit --trust keys/node.vkey              # ... trusting only keys you got out of band
  ledger audit --bundle q3.jsonl --trust 'ledger.example+1a2b3c4d+AU9...'
  ledger audit --bundle q3.jsonl --trust witnesses.txt --min-signers 2
  ledger audit --since q2.checkpoint --event 4be0c1d2...e9 --contract fcf-manchester-2025
  ledger --json audit --bundle q3.jsonl --trust node.vkey | jq 'select(.type==\"statement\")'

A full audit checks every envelope's canonical form, every signature, every signer's role,
every chain link and every contract rule by replaying the log, the Merkle root against a
checkpoint signed by at least --min-signers trusted keys, and online that the node's projection
of every contract equals the replayed one. With --since (online) it proves instead that the log
only grew since that checkpoint, and that the events named by --event and --contract are in it.

Exit status: 0 everything verified; 1 the audit found a failure (the first one is printed with
the event index, id and rule); 2 it could not check (unreadable file, bad usage, network).
JSON lines: statement (one per contract), then audit {result: verified|failed, ...}.";

/// `ledger audit`
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Audit this bundle file (from `ledger export --bundle`) offline, instead of the node
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// A trusted checkpoint signer: a verifier key string, or a file of them, one per line
    /// (repeatable). Online without --trust, the node's own key is trusted
    #[arg(long, value_name = "KEYS")]
    trust: Vec<String>,
    /// How many distinct trusted keys must have signed the checkpoint
    #[arg(long, value_name = "K", default_value_t = 1)]
    min_signers: usize,
    /// A checkpoint saved earlier (`ledger checkpoint save`): prove the log only grew since
    #[arg(long, value_name = "FILE")]
    since: Option<PathBuf>,
    /// Prove this event is in the log (online; repeatable)
    #[arg(long = "event", value_name = "ID", conflicts_with = "bundle")]
    events: Vec<EventId>,
    /// Prove every event of this contract is in the log (online; repeatable)
    #[arg(long = "contract", value_name = "ID", conflicts_with = "bundle")]
    contracts: Vec<ContractId>,
}

impl AuditArgs {
    /// Whether this is the proof-based check of `--since`, `--event` or `--contract` against
    /// a node rather than a full replay.
    fn proves(&self) -> bool {
        self.bundle.is_none()
            && (self.since.is_some() || !self.events.is_empty() || !self.contracts.is_empty())
    }
}

/// Runs `ledger audit`.
///
/// # Errors
/// When the audit could not check (exit status 2); a failure it found is `Status::Failure`.
pub(crate) fn run(args: &AuditArgs, globals: &Globals) -> anyhow::Result<Status> {
    let outcome = match &args.bundle {
        Some(path) => audit_bundle(path, args, globals),
        None if args.proves() => online::prove(args, globals),
        None => online::audit(args, globals),
    };
    report::print(outcome, globals)
}

/// The full audit of a bundle file.
fn audit_bundle(path: &Path, args: &AuditArgs, globals: &Globals) -> Result<Verified, Stop> {
    let trust = Trust::new(load_verifiers(&args.trust)?, args.min_signers)?;
    let file =
        File::open(path).with_context(|| format!("cannot open the bundle {}", path.display()))?;
    let (head, mut reader) = BundleReader::open(BufReader::with_capacity(1 << 20, file))?;
    let checkpoint = trust.open(&head.checkpoint, "the bundle's checkpoint")?;
    check_head(&head, &checkpoint)?;
    let marks = since_marks(args.since.as_deref(), &trust, checkpoint.size())?;
    let mut keys = KeyDirectory::new();
    head.keys.iter().for_each(|key| keys.insert(*key));
    let mut replay = Replay::new(marks, progress_bar(globals, checkpoint.size()));
    let source = std::iter::from_fn(move || reader.next_chunk(CHUNK_EVENTS).transpose())
        .map(|chunk| chunk.map(RawChunk::Bundle).map_err(Stop::from));
    replay.run(source, &keys)?;
    check_root(&replay, &checkpoint)?;
    let mut verified = Verified::of_replay(&replay, &checkpoint, &trust);
    if let Some(since) = &args.since {
        verified.notes.push(format!(
            "the log only grew since the checkpoint in {}",
            since.display()
        ));
    }
    Ok(verified)
}

/// The header must describe the checkpoint it carries.
fn check_head(head: &Head, checkpoint: &Trusted) -> Result<(), Finding> {
    if head.origin != checkpoint.origin() || head.size != checkpoint.size() {
        return Err(Finding::new(
            Check::Checkpoint,
            "checkpoint-mismatch",
            format!(
                "the bundle's header says origin {:?} size {}, its checkpoint origin {:?} size {}",
                head.origin,
                head.size,
                checkpoint.origin(),
                checkpoint.size()
            ),
        ));
    }
    Ok(())
}

/// The root an earlier checkpoint (`--since FILE`) requires of the log's prefix.
fn since_marks(since: Option<&Path>, trust: &Trust, size: u64) -> Result<Vec<RootMark>, Stop> {
    let Some(path) = since else {
        return Ok(Vec::new());
    };
    let old = open_saved(path, trust)?;
    if old.size() > size {
        return Err(Finding::new(
            Check::Consistency,
            "log-shrank",
            format!(
                "the checkpoint in {} is of {} events, but the log now holds only {size}",
                path.display(),
                old.size()
            ),
        )
        .into());
    }
    Ok(vec![RootMark {
        size: old.size(),
        root: old.root(),
        source: format!("the checkpoint in {}", path.display()),
    }])
}

/// A checkpoint file saved by `ledger checkpoint save`, opened under `trust`.
pub(crate) fn open_saved(path: &Path, trust: &Trust) -> Result<Trusted, Stop> {
    let note = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the checkpoint file {}", path.display()))?;
    Ok(trust.open(&note, &format!("the checkpoint in {}", path.display()))?)
}

/// The replayed log must be the one the checkpoint signs.
fn check_root(replay: &Replay, checkpoint: &Trusted) -> Result<(), Finding> {
    if replay.size() != checkpoint.size() {
        return Err(Finding::new(
            Check::Root,
            "size-mismatch",
            format!(
                "{} events replayed; the checkpoint is of {}",
                replay.size(),
                checkpoint.size()
            ),
        ));
    }
    if replay.root() != checkpoint.root() {
        return Err(Finding::new(
            Check::Root,
            "root-mismatch",
            format!(
                "the Merkle root of the {} events is {}, the checkpoint's is {}: the events are not \
                 the ones the log signed",
                replay.size(),
                replay.root(),
                checkpoint.root()
            ),
        ));
    }
    Ok(())
}

/// A progress bar of `events` on stderr, if bars are drawn.
pub(crate) fn progress_bar(globals: &Globals, events: u64) -> Option<ProgressBar> {
    if !globals.progress {
        return None;
    }
    let style = ProgressStyle::with_template(
        "{spinner} auditing [{bar:40}] {human_pos}/{human_len} events ({per_sec}, {eta} left)",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    Some(ProgressBar::new(events).with_style(style))
}
