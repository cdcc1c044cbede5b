//! `ledger export`: an audit bundle for auditors (`--bundle FILE`, format in SPEC.md section
//! 7), or rows for regulators' spreadsheets: one per event, or one per payment line
//! (`--payments`), as a table, `--csv` or `--json`.
//!
//! The bundle holds what the node logged, byte for byte: the exporter checks nothing but the
//! log's order and the checkpoint's signature by the node's own key, and never re-encodes an
//! envelope. Rows come from a full replay (the same as `ledger audit`'s), so a log that fails
//! a check yields no rows past the failure.

mod rows;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use ledger_core::{Event, KeyDirectory, Ledger};
use proto::dsse::Envelope;
use proto::note::{open_note, Checkpoint, NoteVerifier};
use proto::{ContractId, Payload, PublicKey};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use self::rows::{event_row, payment_rows, EventRow};
use crate::bundle::{BundleReader, BundleWriter, Head};
use crate::client::Client;
use crate::cmd::audit::{progress_bar, LogPages, RawChunk, Replay, Stop, CHUNK_EVENTS};
use crate::cmd::{Globals, Status};
use crate::output::Output;

/// Examples for `ledger export --help`.
pub(crate) const EXPORT_EXAMPLES: &str = "\
Examples:
  ledger export --bundle q3.jsonl                  # everything an auditor needs, offline
  ledger --csv export > events.csv                 # one row per event, every contract
  ledger --csv export --payments > payments.csv    # one row per payment line
  ledger --csv export --contract fcf-manchester-2025 --from q3.jsonl > fcf.csv

The bundle (JSON Lines, SPEC.md section 7) holds the latest checkpoint with all its signatures,
the node's verifier key, every party's public key and every envelope exactly as logged; audit
it with `ledger audit --bundle FILE --trust KEY`. Rows are read from a full replay of the log:
event columns index, id, at, contract, seq, kind, author, author_role, outcome, quantity,
amount, currency, claim, detail; payment columns index, payment, at, contract, reference,
claim, outcome, units, price, amount, currency. Money in CSV and JSON is in minor units.";

/// `ledger export`
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write an audit bundle of the node's log to FILE (instead of rows)
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    /// One row per payment line instead of one per event
    #[arg(long, conflicts_with = "bundle")]
    payments: bool,
    /// Only the rows of this contract
    #[arg(long, value_name = "ID", conflicts_with = "bundle")]
    contract: Option<ContractId>,
    /// Read the events from this audit bundle instead of the node
    #[arg(long, value_name = "BUNDLE", conflicts_with = "bundle")]
    from: Option<PathBuf>,
}

/// Runs `ledger export`.
///
/// # Errors
/// Network, file or usage errors (exit status 2).
pub(crate) fn run(args: &ExportArgs, globals: &Globals) -> anyhow::Result<Status> {
    match &args.bundle {
        Some(path) => export_bundle(path, globals),
        None => export_rows(args, globals),
    }
}

/// Events fetched per page.
const PAGE_EVENTS: u64 = 1_000;

fn export_bundle(path: &Path, globals: &Globals) -> anyhow::Result<Status> {
    let client = globals.client()?;
    let info = client.node_info()?;
    let note = client.checkpoint()?;
    let verifier = NoteVerifier::parse(&info.verifier_key).with_context(|| {
        format!(
            "the node's verifier key {:?} does not parse",
            info.verifier_key
        )
    })?;
    let opened = open_note(note.as_bytes(), &[verifier])
        .context("the node's latest checkpoint does not verify under the node's own key")?;
    let checkpoint = Checkpoint::parse(opened.text()).context("the node's checkpoint")?;
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut events = tempfile::tempfile_in(directory)
        .with_context(|| format!("cannot create a temporary file in {}", directory.display()))?;
    let progress = progress_bar(globals, checkpoint.size());
    let keys = fetch_events(&client, checkpoint.size(), &mut events, progress.as_ref())?;
    let head = Head {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        created_at: OffsetDateTime::now_utc().format(&Rfc3339).ok(),
        checkpoint: note,
        nodes: vec![info.verifier_key],
        keys: keys.into_iter().collect(),
    };
    events.rewind()?;
    write_bundle(path, directory, &head, events)?;
    if let Some(progress) = progress {
        progress.finish_and_clear();
    }
    let mut out = globals.output();
    let summary = format!(
        "exported {} events, {} keys and the checkpoint of {} to {}",
        head.size,
        head.keys.len(),
        head.origin,
        path.display()
    );
    let json = serde_json::json!({"file": path, "origin": head.origin, "size": head.size, "keys": head.keys.len()});
    out.record("bundle", &json, summary)?;
    out.flush()?;
    Ok(Status::Success)
}

/// Copies the envelopes of the log's first `size` events to `events`, one per line, and
/// returns the public keys they introduce.
fn fetch_events(
    client: &Client,
    size: u64,
    events: &mut File,
    progress: Option<&indicatif::ProgressBar>,
) -> anyhow::Result<BTreeSet<PublicKey>> {
    let mut keys = BTreeSet::new();
    let mut out = BufWriter::new(events);
    let mut next = 0;
    while next < size {
        let page = client.log(next, Some(PAGE_EVENTS.min(size - next)))?;
        if page.events.is_empty() {
            bail!("the node's log ends at {next}, but its checkpoint is of {size} events");
        }
        for record in page
            .events
            .iter()
            .take(usize::try_from(size - next).unwrap_or(usize::MAX))
        {
            if record.index != next {
                bail!(
                    "the node served event {} at log position {next}",
                    record.index
                );
            }
            let bytes = record.envelope.get().as_bytes();
            keys.extend(introduced_keys(bytes));
            out.write_all(bytes)?;
            out.write_all(b"\n")?;
            next += 1;
        }
        if let Some(progress) = progress {
            progress.set_position(next);
        }
    }
    out.flush()?;
    Ok(keys)
}

/// The keys an envelope's payload introduces; nothing for bytes that do not decode (the
/// auditor will say why).
fn introduced_keys(envelope: &[u8]) -> Vec<PublicKey> {
    let Ok(envelope) = Envelope::decode(envelope) else {
        return Vec::new();
    };
    match Payload::decode(envelope.payload()) {
        Ok(payload) => payload
            .body
            .introduced_keys()
            .into_iter()
            .copied()
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Writes the bundle to a temporary file beside `path`, then moves it into place.
fn write_bundle(path: &Path, directory: &Path, head: &Head, events: File) -> anyhow::Result<()> {
    let file = tempfile::NamedTempFile::new_in(directory)
        .with_context(|| format!("cannot create a file in {}", directory.display()))?;
    let mut writer = BundleWriter::start(BufWriter::new(file), head)?;
    let mut line = Vec::new();
    let mut events = BufReader::new(events);
    while events.read_until(b'\n', &mut line)? > 0 {
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        writer.event(&line)?;
        line.clear();
    }
    let file = writer.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.persist(path)
        .with_context(|| format!("cannot write the bundle {}", path.display()))?;
    Ok(())
}

fn export_rows(args: &ExportArgs, globals: &Globals) -> anyhow::Result<Status> {
    let mut out = globals.output();
    let outcome = if args.payments {
        rows_of(args, globals, &mut out, payment_rows)
    } else {
        rows_of(args, globals, &mut out, |index, event, ledger| {
            event_row(index, event, ledger)
                .into_iter()
                .collect::<Vec<EventRow>>()
        })
    };
    match outcome {
        Ok(()) => Ok(Status::Success),
        Err(Stop::Failed(finding)) => {
            eprintln!("error: the log fails the audit, no rows after it: {finding}");
            Ok(Status::Failure)
        }
        Err(Stop::Trouble(error)) => Err(error),
    }
}

/// Replays the log (node or bundle) and prints `rows_of_event` of each event of the chosen
/// contract.
fn rows_of<R, F>(
    args: &ExportArgs,
    globals: &Globals,
    out: &mut Output,
    rows_of_event: F,
) -> Result<(), Stop>
where
    R: crate::output::Row,
    F: Fn(u64, &Event, &Ledger) -> Vec<R>,
{
    let mut sink = out.sink::<R>().map_err(anyhow::Error::from)?;
    let mut observer = |index: u64, event: &Event, ledger: &Ledger| -> anyhow::Result<()> {
        if args.contract.as_ref().is_none_or(|c| c == event.contract()) {
            for row in rows_of_event(index, event, ledger) {
                sink.push(out, &row)?;
            }
        }
        Ok(())
    };
    match &args.from {
        Some(path) => replay_bundle(path, globals, &mut observer)?,
        None => replay_node(globals, &mut observer)?,
    }
    sink.finish(out).map_err(anyhow::Error::from)?;
    Ok(())
}

fn replay_node(
    globals: &Globals,
    observer: &mut crate::cmd::audit::Observer<'_>,
) -> Result<(), Stop> {
    let client = globals.client()?;
    let size = client.node_info()?.size;
    let mut replay = Replay::new(Vec::new(), progress_bar(globals, size));
    replay.run_observed(
        LogPages::new(&client, 0, size),
        &KeyDirectory::new(),
        observer,
    )
}

fn replay_bundle(
    path: &Path,
    globals: &Globals,
    observer: &mut crate::cmd::audit::Observer<'_>,
) -> Result<(), Stop> {
    let file =
        File::open(path).with_context(|| format!("cannot open the bundle {}", path.display()))?;
    let (head, mut reader) = BundleReader::open(BufReader::with_capacity(1 << 20, file))?;
    let mut keys = KeyDirectory::new();
    head.keys.iter().for_each(|key| keys.insert(*key));
    let mut replay = Replay::new(Vec::new(), progress_bar(globals, head.size));
    let source = std::iter::from_fn(move || reader.next_chunk(CHUNK_EVENTS).transpose())
        .map(|chunk| chunk.map(RawChunk::Bundle).map_err(Stop::from));
    replay.run_observed(source, &keys, observer)
}
