//! Envelope files: the DSSE JSON of an event, written while signatures are missing, signed in
//! turn (`ledger sign`) and sent (`ledger submit`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use proto::dsse::Envelope;
use proto::{ContractId, EventId, KeyId, Kind, Payload};
use serde::Serialize;

use super::contract::load_keys;
use super::send;
use crate::cmd::{Globals, Refusal, Status};
use crate::keyfile::KeyFile;
use crate::plan::{self, Quorum, Signer};

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

/// Signs with every key held; sends if every required party signed (and no --out), else
/// writes the envelope file for the others.
pub(super) fn co_sign(
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

/// Signs with every key held; sends once the quorum is met (and no --out), else writes the
/// envelope file for the others.
pub(super) fn co_sign_quorum(
    globals: &Globals,
    payload: &Payload,
    keys: &[KeyFile],
    quorum: &Quorum,
    out: Option<&Path>,
) -> anyhow::Result<Status> {
    check_signers(keys, &quorum.allowed(), payload.kind())?;
    let signing: Vec<_> = keys.iter().map(KeyFile::signing).collect();
    let envelope = plan::seal(payload, &signing)?;
    if quorum.is_met(&envelope) && out.is_none() {
        return send(globals, &globals.client()?, &envelope, payload);
    }
    let default_path = default_envelope_path(payload);
    let path = out.unwrap_or(&default_path);
    let missing = plan::missing_signers(&quorum.required, &envelope);
    create_envelope_file(path, &envelope)?;
    let view =
        EnvelopeFileView::of(path, &envelope, payload, &missing).with_quorum(quorum, &envelope);
    let mut out = globals.output();
    out.record("envelope-file", &view, view.human("wrote"))?;
    out.flush()?;
    Ok(Status::Success)
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
    /// For `key.revoked` and `key.enrolled`: the quorum and how far it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    quorum: Option<QuorumView>,
}

#[derive(Debug, Serialize)]
struct QuorumView {
    /// Other parties' current keys that must sign (the author among them).
    needed: usize,
    /// Of those, how many signed.
    signed: usize,
    /// The other parties that may still sign.
    eligible: Vec<MissingView>,
}

#[derive(Debug, Serialize)]
struct MissingView {
    key_id: KeyId,
    name: String,
    role: &'static str,
}

impl MissingView {
    fn of(signer: &Signer) -> Self {
        Self {
            key_id: signer.key,
            name: signer.name.clone(),
            role: signer.role.as_str(),
        }
    }
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
            missing: missing.iter().map(MissingView::of).collect(),
            quorum: None,
        }
    }

    fn with_quorum(mut self, quorum: &Quorum, envelope: &Envelope) -> Self {
        let unsigned = plan::missing_signers(&quorum.eligible, envelope);
        self.quorum = Some(QuorumView {
            needed: quorum.needed,
            signed: quorum.signed(envelope),
            eligible: unsigned.iter().map(MissingView::of).collect(),
        });
        self
    }

    fn human(&self, verb: &str) -> String {
        let mut text = format!(
            "{verb} {} of {} (seq {}) in {}: {} signature(s)",
            self.kind, self.contract, self.seq, self.path, self.signatures
        );
        if let Some(quorum) = self.quorum.as_ref().filter(|q| q.signed < q.needed) {
            text.push_str(&format!(
                "\nquorum: {} of the other parties' keys signed, {} must; any of these may sign:",
                quorum.signed, quorum.needed
            ));
            for m in &quorum.eligible {
                text.push_str(&format!("\n  {:<16} {:<40} {}", m.role, m.name, m.key_id));
            }
        }
        let quorum_short = self.quorum.as_ref().is_some_and(|q| q.signed < q.needed);
        if self.missing.is_empty() && quorum_short {
            text.push_str(&format!(
                "\nnext: parties run `ledger sign {} --key THEIR_KEY`, then `ledger submit {}`",
                self.path, self.path
            ));
            return text;
        }
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
pub(super) fn write_envelope(
    globals: &Globals,
    path: &Path,
    envelope: &Envelope,
    payload: &Payload,
    missing: &[Signer],
) -> anyhow::Result<Status> {
    create_envelope_file(path, envelope)?;
    let view = EnvelopeFileView::of(path, envelope, payload, missing);
    let mut out = globals.output();
    out.record("envelope-file", &view, view.human("wrote"))?;
    out.flush()?;
    Ok(Status::Success)
}

/// Writes a new envelope file, never over an existing one.
fn create_envelope_file(path: &Path, envelope: &Envelope) -> anyhow::Result<()> {
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
        .with_context(|| format!("cannot write envelope file {}", path.display()))
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
    let quorum = quorum_of(globals, &payload)?;
    let required = match &quorum {
        Some(quorum) => {
            check_signers(&keys, &quorum.allowed(), payload.kind())?;
            quorum.required.clone()
        }
        None => plan::registration_signers(&payload),
    };
    if payload.kind() == Kind::ContractRegistered {
        check_signers(&keys, &required, payload.kind())?;
    }
    for key in &keys {
        envelope = plan::add_signature(&envelope, key.signing())?;
    }
    replace_file(&args.file, &envelope_file_bytes(&envelope))?;
    let missing = plan::missing_signers(&required, &envelope);
    let mut view = EnvelopeFileView::of(&args.file, &envelope, &payload, &missing);
    if let Some(quorum) = &quorum {
        view = view.with_quorum(quorum, &envelope);
    }
    let mut out = globals.output();
    out.record("envelope-file", &view, view.human("signed"))?;
    if payload.kind() == Kind::ContractAmended {
        out.say("(the commissioner, every provider and every investor must sign an amendment)")?;
    }
    out.flush()?;
    Ok(Status::Success)
}

/// For a `key.revoked` or `key.enrolled` file, the quorum it needs, from the node's state of the
/// contract.
fn quorum_of(globals: &Globals, payload: &Payload) -> anyhow::Result<Option<Quorum>> {
    if !matches!(payload.kind(), Kind::KeyRevoked | Kind::KeyEnrolled) {
        return Ok(None);
    }
    let state = globals
        .client()?
        .contract(&payload.contract)
        .with_context(|| format!("cannot read contract {}", payload.contract))?;
    Ok(plan::quorum_of(&state, payload))
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
