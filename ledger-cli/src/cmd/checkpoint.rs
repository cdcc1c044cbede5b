//! `ledger checkpoint save FILE`: keep the node's latest signed checkpoint, so that a later
//! `ledger audit --since FILE` can prove the log only grew since.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use proto::note::NoteVerifier;
use serde::Serialize;

use crate::cmd::audit::{load_trusted_keys, CheckpointTrust};
use crate::cmd::{Globals, Status};

/// Examples for `ledger checkpoint --help`.
pub(crate) const CHECKPOINT_EXAMPLES: &str = "\
Examples:
  ledger checkpoint save q2.checkpoint                     # verified under the node's own key
  ledger checkpoint save q2.checkpoint --trust node.vkey   # ... under a key you trust
  ledger audit --since q2.checkpoint                       # next quarter: the log only grew

The file is the C2SP signed note exactly as the node served it (origin, tree size, root hash,
then every signature line); any signed-note tool can read it.";

/// `ledger checkpoint ...`
#[derive(Debug, Subcommand)]
pub(crate) enum CheckpointCommand {
    /// Save the node's latest signed checkpoint to a file, after verifying it
    #[command(after_help = CHECKPOINT_EXAMPLES)]
    Save(SaveArgs),
}

/// `ledger checkpoint save`
#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    /// Where to write the signed checkpoint (plain text)
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// A trusted checkpoint signer: a verifier key string, or a file of them (repeatable).
    /// Without it, the node's own key is trusted
    #[arg(long, value_name = "KEYS")]
    trust: Vec<String>,
    /// How many distinct trusted keys must have signed it
    #[arg(long, value_name = "K", default_value_t = 1)]
    min_signers: usize,
}

/// What was saved, as `--json` prints it.
#[derive(Serialize)]
struct Saved<'a> {
    file: &'a Path,
    origin: &'a str,
    size: u64,
    root: String,
    signers: &'a [String],
}

/// Runs `ledger checkpoint ...`.
///
/// # Errors
/// Network, file or usage errors (exit status 2); a checkpoint that does not verify is
/// `Status::Failure`.
pub(crate) fn run(command: &CheckpointCommand, globals: &Globals) -> anyhow::Result<Status> {
    match command {
        CheckpointCommand::Save(args) => save(args, globals),
    }
}

fn save(args: &SaveArgs, globals: &Globals) -> anyhow::Result<Status> {
    let client = globals.client()?;
    let verifiers = if args.trust.is_empty() {
        let key = client.node_info()?.verifier_key;
        vec![NoteVerifier::parse(&key)
            .with_context(|| format!("the node's verifier key {key:?}"))?]
    } else {
        load_trusted_keys(&args.trust)?
    };
    let trust = CheckpointTrust::new(verifiers, args.min_signers)?;
    let note = client.checkpoint()?;
    let mut out = globals.output();
    let checkpoint = match trust.open(&note, "the node's latest checkpoint") {
        Ok(checkpoint) => checkpoint,
        Err(finding) => {
            out.json(
                "audit",
                &serde_json::json!({"result": "failed", "failure": finding}),
            )?;
            eprintln!("error: not saved: {finding}");
            return Ok(Status::Failure);
        }
    };
    write_atomically(&args.file, note.as_bytes())?;
    let saved = Saved {
        file: &args.file,
        origin: checkpoint.origin(),
        size: checkpoint.size(),
        root: checkpoint.root().to_string(),
        signers: checkpoint.signers(),
    };
    let human = format!(
        "saved the checkpoint of {} at size {} (root {}), signed by {}, to {}",
        saved.origin,
        saved.size,
        saved.root,
        saved.signers.join(", "),
        args.file.display()
    );
    out.record("checkpoint", &saved, human)?;
    out.flush()?;
    Ok(Status::Success)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so that a crash
/// never leaves half a checkpoint.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(directory)
        .with_context(|| format!("cannot create a file in {}", directory.display()))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
