//! `ledger show`: one event, its signatures checked against the parties' keys and its
//! inclusion proof checked against the node's latest signed checkpoint.

use anyhow::Context;
use clap::Args;
use ledger_core::projection::ContractState;
use proto::dsse::Envelope;
use proto::{EventId, Payload};
use serde::Serialize;

use super::decode_record;
use crate::client::{Client, EventRecord};
use crate::cmd::{Globals, Status};

pub(crate) const SHOW_EXAMPLES: &str = "\
Examples:
  ledger show 4be0c1d2...e9
  ledger --json show 4be0c1d2...e9 | jq .payload.body

Prints the envelope's signatures (checked against the parties' keys), the decoded payload,
the log index, and checks the event's inclusion proof against the node's latest checkpoint.
Exit status 1 if a signature or the inclusion proof does not verify.";

/// `ledger show`
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The event id
    event: EventId,
}

/// Runs `ledger show`.
///
/// # Errors
/// An unknown event (a refusal); a network error; an event that does not verify.
pub(crate) fn show(args: ShowArgs, globals: &Globals) -> anyhow::Result<Status> {
    let client = globals.client()?;
    let record = client
        .event(&args.event)
        .with_context(|| format!("cannot find event {}", args.event))?;
    let payload = decode_record(&record)?;
    let envelope = Envelope::decode(record.envelope.get().as_bytes())?;
    let state = client.contract(&record.contract).ok();
    let signatures = signature_views(&envelope, state.as_ref());
    let inclusion = inclusion(&client, &record, &envelope)?;
    let view = ShowView {
        id: record.id.to_string(),
        index: record.index,
        contract: record.contract.to_string(),
        seq: record.seq,
        kind: record.kind.clone(),
        envelope: serde_json::from_str(record.envelope.get())?,
        payload: serde_json::from_slice(envelope.payload())?,
        signatures,
        inclusion,
    };
    let mut out = globals.output();
    out.record("event", &view, view.human(&payload))?;
    out.flush()?;
    let all_valid = view.signatures.iter().all(|s| s.valid != Some(false));
    Ok(if all_valid && view.inclusion.verified != Some(false) {
        Status::Success
    } else {
        Status::Failure
    })
}

/// One signature of an envelope, checked against the party's key when known.
#[derive(Debug, Serialize)]
struct SignatureView {
    key_id: String,
    party: Option<String>,
    role: Option<&'static str>,
    /// `None` when the key is not a key of the contract (it cannot be checked here).
    valid: Option<bool>,
}

fn signature_views(envelope: &Envelope, state: Option<&ContractState>) -> Vec<SignatureView> {
    let message = envelope.pae();
    envelope
        .signatures()
        .iter()
        .map(|sig| {
            let record = state.and_then(|s| s.keys().get(sig.keyid()));
            let party = record.and_then(|r| state.and_then(|s| s.parties().get(r.party())));
            let valid = record.map(|r| {
                ledger_core::signing::verify_one(&ledger_core::signing::SigCheck {
                    public_key: r.public_key().as_bytes(),
                    message: &message,
                    signature: sig.sig(),
                })
            });
            SignatureView {
                key_id: sig.keyid().to_string(),
                party: party.map(|p| p.name().to_string()),
                role: party.map(|p| p.role().as_str()),
                valid,
            }
        })
        .collect()
}

/// What `show` prints (`type` = `event`).
#[derive(Debug, Serialize)]
struct ShowView {
    id: String,
    index: u64,
    contract: String,
    seq: u64,
    kind: String,
    envelope: serde_json::Value,
    payload: serde_json::Value,
    signatures: Vec<SignatureView>,
    inclusion: InclusionView,
}

impl ShowView {
    fn human(&self, payload: &Payload) -> String {
        let mut text = format!(
            "event {}\n{} of {} at seq {}, log index {}\nauthor {} at {}\n\nsignatures:\n",
            self.id, self.kind, self.contract, self.seq, self.index, payload.author, payload.at
        );
        for s in &self.signatures {
            let verdict = match s.valid {
                Some(true) => "valid",
                Some(false) => "INVALID",
                None => "not checked (unknown key)",
            };
            let who = match (&s.role, &s.party) {
                (Some(role), Some(name)) => format!("{role} {name}"),
                _ => "unknown party".to_owned(),
            };
            text.push_str(&format!("  {}  {:<50} {verdict}\n", s.key_id, who));
        }
        let pretty = serde_json::to_string_pretty(&self.payload).unwrap_or_default();
        text.push_str(&format!(
            "\npayload:\n{pretty}\n\n{}",
            self.inclusion.human()
        ));
        text
    }
}

/// Whether the event is in the node's latest signed checkpoint (`show`'s `inclusion`).
#[derive(Debug, Serialize)]
struct InclusionView {
    /// Size of the checkpoint checked against.
    checkpoint_size: u64,
    /// Its root hash, hex.
    root: String,
    /// `Some(true)`: the proof verifies; `None`: the event is newer than the checkpoint.
    verified: Option<bool>,
    /// Why not, when it does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl InclusionView {
    fn human(&self) -> String {
        match (self.verified, &self.error) {
            (Some(true), _) => format!(
                "inclusion: verified in the node's signed checkpoint of size {} (root {})",
                self.checkpoint_size, self.root
            ),
            (None, _) => format!(
                "inclusion: not yet in a signed checkpoint (latest size {}); try again in a moment",
                self.checkpoint_size
            ),
            (Some(false), error) => format!(
                "inclusion: FAILED against the checkpoint of size {}: {}",
                self.checkpoint_size,
                error.as_deref().unwrap_or("proof does not verify")
            ),
        }
    }
}

/// Checks the inclusion proof of the event against the node's latest checkpoint, whose
/// signature is checked with the node's own key (`ledger audit` checks against keys you trust).
fn inclusion(
    client: &Client,
    record: &EventRecord,
    envelope: &Envelope,
) -> anyhow::Result<InclusionView> {
    use ledger_core::merkle::{leaf_hash, verify_inclusion, Hash, LeafIndex, TreeSize};
    use proto::note::{open_checkpoint, NoteVerifier};
    let info = client.node_info()?;
    let log_key = NoteVerifier::parse(&info.verifier_key).with_context(|| {
        format!(
            "the node's verifier key {:?} does not parse",
            info.verifier_key
        )
    })?;
    let note = client.checkpoint()?;
    let opened = open_checkpoint(note.as_bytes(), &info.origin, &log_key, &[])
        .context("the node's latest checkpoint does not verify under its own key")?;
    let checkpoint = opened.checkpoint();
    let mut view = InclusionView {
        checkpoint_size: checkpoint.size(),
        root: hex::encode(checkpoint.root()),
        verified: None,
        error: None,
    };
    if record.index >= checkpoint.size() {
        return Ok(view);
    }
    let proof: Vec<Hash> = client
        .inclusion_proof(record.index, checkpoint.size())?
        .into_iter()
        .map(Hash::from)
        .collect();
    let verdict = verify_inclusion(
        &leaf_hash(&envelope.to_jcs()),
        LeafIndex::new(record.index),
        TreeSize::new(checkpoint.size()),
        &proof,
        &Hash::from(*checkpoint.root()),
    );
    view.verified = Some(verdict.is_ok());
    view.error = verdict.err().map(|e| e.to_string());
    Ok(view)
}
