//! `ledger key new` and `ledger key show`: Ed25519 key files (format in `keyfile.rs`).

use anyhow::Context;
use clap::{Args, Subcommand};
use ed25519_dalek::SigningKey;
use proto::note::{NoteVerifier, SignatureType};
use rand::rngs::OsRng;
use serde::Serialize;

use crate::cmd::{Globals, Status};
use crate::keyfile::KeyFile;

const NEW_EXAMPLES: &str = "\
Examples:
  ledger key new provider                  # writes ./keys/provider.key (mode 0600)
  ledger key new verifier --keys /secure   # writes /secure/verifier.key
  LEDGER_KEYS=~/.ledger ledger key new commissioner

The file holds the private seed: it is never printed, and an existing file is never
overwritten. Share the key id or the public key (`ledger key show NAME`) with the other
parties; they list it in the contract file.";

const SHOW_EXAMPLES: &str = "\
Examples:
  ledger key show provider                 # looks for ./keys/provider.key
  ledger key show /secure/verifier.key
  ledger --json key show provider | jq -r .key_id

Prints the key id (SHA-256 of the public key, how events name the party), the public key
(what contract files list) and the signed-note verifier key string (what checkpoint
verifiers and `ledger audit --trust` take). Never the private seed.";

/// `ledger key ...`
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a new Ed25519 key file (mode 0600); the private seed is never printed
    #[command(after_help = NEW_EXAMPLES)]
    New(NewArgs),
    /// Show a key's id, public key and signed-note verifier key string
    #[command(after_help = SHOW_EXAMPLES)]
    Show(ShowArgs),
}

/// `ledger key new`
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// Name of the key: the file is DIR/NAME.key (letters, digits, '.', '_', '-')
    name: String,
}

/// `ledger key show`
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// A key name (looked up as DIR/NAME.key) or the path of a key file
    key: String,
}

/// What `key new` and `key show` print (`type` = `key`).
#[derive(Debug, Serialize)]
struct KeyView {
    name: String,
    path: String,
    key_id: String,
    public_key: String,
    verifier_key: String,
}

impl KeyView {
    fn of(key: &KeyFile) -> anyhow::Result<Self> {
        Ok(Self {
            name: key.name().to_owned(),
            path: key.path().display().to_string(),
            key_id: key.key_id().to_hex(),
            public_key: key.public_key().to_hex(),
            verifier_key: verifier_key(key)?,
        })
    }

    fn human(&self) -> String {
        format!(
            "name          {}\nfile          {}\nkey id        {}\npublic key    {}\nverifier key  {}",
            self.name, self.path, self.key_id, self.public_key, self.verifier_key
        )
    }
}

/// Runs `ledger key ...`.
///
/// # Errors
/// A bad name, an existing file, an unreadable or invalid key file.
pub(crate) fn run(command: KeyCommand, globals: &Globals) -> anyhow::Result<Status> {
    match command {
        KeyCommand::New(args) => new(&args, globals),
        KeyCommand::Show(args) => show(&args, globals),
    }
}

fn new(args: &NewArgs, globals: &Globals) -> anyhow::Result<Status> {
    let key = KeyFile::new(
        &args.name,
        SigningKey::generate(&mut OsRng),
        &globals.keys_dir,
    )?;
    key.write_new().context("cannot make the key")?;
    let view = KeyView::of(&key)?;
    let mut out = globals.output();
    out.record(
        "key",
        &view,
        format!("made key {}\n{}", view.name, view.human()),
    )?;
    out.flush()?;
    Ok(Status::Success)
}

fn show(args: &ShowArgs, globals: &Globals) -> anyhow::Result<Status> {
    let key = KeyFile::load(&args.key, &globals.keys_dir)?;
    let view = KeyView::of(&key)?;
    let mut out = globals.output();
    out.record("key", &view, view.human())?;
    out.flush()?;
    Ok(Status::Success)
}

/// The C2SP signed-note verifier key string of a key file's Ed25519 key, under its name.
fn verifier_key(key: &KeyFile) -> anyhow::Result<String> {
    let verifier = NoteVerifier::new(
        key.name(),
        SignatureType::Ed25519,
        key.signing().verifying_key(),
    )
    .context("the key name cannot name a signed-note key")?;
    Ok(verifier.to_vkey())
}
