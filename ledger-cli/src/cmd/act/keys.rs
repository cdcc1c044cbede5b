//! `ledger revoke-key` and `ledger enrol-key`: the commissioner changes another party's key,
//! with a quorum of the other parties (SPEC.md 6.1), signed in turn like an amendment.

use anyhow::Context;
use clap::Args;
use proto::payload::{Body, KeyEnrolled, KeyRevoked};
use proto::{ContractId, KeyId, PublicKey, Text};

use super::contract::load_keys;
use super::files::co_sign_quorum;
use super::CoAuthoring;
use crate::cmd::{Globals, Refusal, Status};
use crate::keyfile::KeyFile;
use crate::plan::{self, Head};

pub(crate) const REVOKE_KEY_EXAMPLES: &str = "\
Examples:
  # the provider's laptop was stolen; it made a new key and sent its public key
  ledger revoke-key --contract fcf-manchester-2025 --revoke 5f1c...e2 \\
      --successor-public-key 9a0b...44 --reason \"laptop stolen 2026-03-02\" --key commissioner
      # -> writes fcf-manchester-2025-41-key-revoked.json and lists who may still sign
  ledger sign fcf-manchester-2025-41-key-revoked.json --key verifier      # the quorum, in turn
  ledger sign fcf-manchester-2025-41-key-revoked.json --key provider-new  # the successor
  ledger submit fcf-manchester-2025-41-key-revoked.json

Signers: the commissioner (the author), current keys of a strict majority of the parties other
than the one whose key is revoked (a party without a key counts but cannot sign), and the
successor key, if one is named. Without a successor the party has no key until `ledger
enrol-key`, and events that need its consent (amendments) wait; the last key of the verifier,
or of the beneficiary representative, can only be revoked with a successor.";

pub(crate) const ENROL_KEY_EXAMPLES: &str = "\
Examples:
  ledger enrol-key --contract fcf-manchester-2025 --party 5f1c...e2 \\
      --new investor-new --reason \"successor key, confirmed in person\" --key commissioner \\
      --key verifier
      # -> writes fcf-manchester-2025-42-key-enrolled.json and lists who may still sign
  ledger sign fcf-manchester-2025-42-key-enrolled.json --key provider
  ledger submit fcf-manchester-2025-42-key-enrolled.json

--party is any key id the party held (its revoked key). Signers: the commissioner, current keys
of a strict majority of the other parties, and the new key.";

/// `ledger revoke-key`
#[derive(Debug, Args)]
pub(crate) struct RevokeKeyArgs {
    /// The contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: ContractId,
    /// Key id of the key to revoke (`ledger state CONTRACT --json` lists the parties' keys)
    #[arg(long, value_name = "KEY_ID")]
    revoke: KeyId,
    /// The party's successor key, held here (a key name or file): it signs now
    #[arg(long, value_name = "KEY", conflicts_with = "successor_public_key")]
    successor: Option<String>,
    /// The party's successor key, held by the party: it signs later with `ledger sign`
    #[arg(long, value_name = "HEX")]
    successor_public_key: Option<PublicKey>,
    /// Why
    #[arg(long, short = 'r')]
    reason: Text<2000>,
    #[command(flatten)]
    signing: CoAuthoring,
}

/// `ledger enrol-key`
#[derive(Debug, Args)]
pub(crate) struct EnrolKeyArgs {
    /// The contract
    #[arg(long, short = 'c', value_name = "ID")]
    contract: ContractId,
    /// Key id of a key the party held (its revoked key): names the party
    #[arg(long, value_name = "KEY_ID")]
    party: KeyId,
    /// The new key, held here (a key name or file): it signs now
    #[arg(
        long,
        value_name = "KEY",
        conflicts_with = "new_public_key",
        required_unless_present = "new_public_key"
    )]
    new: Option<String>,
    /// The new key, held by the party: it signs later with `ledger sign`
    #[arg(long, value_name = "HEX")]
    new_public_key: Option<PublicKey>,
    /// Why
    #[arg(long, short = 'r')]
    reason: Text<2000>,
    #[command(flatten)]
    signing: CoAuthoring,
}

/// A new key given as a key file held here (which then signs) or as a public key.
fn new_key(
    held: Option<&str>,
    public: Option<PublicKey>,
    globals: &Globals,
) -> anyhow::Result<Option<(PublicKey, Option<KeyFile>)>> {
    if let Some(spec) = held {
        let key = KeyFile::load(spec, &globals.keys_dir)?;
        return Ok(Some((key.public_key(), Some(key))));
    }
    Ok(public.map(|key| (key, None)))
}

/// Runs `ledger revoke-key`.
///
/// # Errors
/// A bad key; a key not of the contract; a refusal; a network or file error.
pub(crate) fn revoke_key(args: RevokeKeyArgs, globals: &Globals) -> anyhow::Result<Status> {
    let successor = new_key(
        args.successor.as_deref(),
        args.successor_public_key,
        globals,
    )?;
    let body = Body::KeyRevoked(KeyRevoked {
        key: args.revoke,
        reason: args.reason,
        successor: successor.as_ref().map(|(key, _)| *key),
    });
    let held = successor.and_then(|(_, file)| file);
    change_key(globals, &args.contract, &args.signing, body, held)
}

/// Runs `ledger enrol-key`.
///
/// # Errors
/// A bad key; a key not of the contract; a refusal; a network or file error.
pub(crate) fn enrol_key(args: EnrolKeyArgs, globals: &Globals) -> anyhow::Result<Status> {
    let Some((new, held)) = new_key(args.new.as_deref(), args.new_public_key, globals)? else {
        anyhow::bail!("give the new key with --new KEY or --new-public-key HEX");
    };
    let body = Body::KeyEnrolled(KeyEnrolled {
        party: args.party,
        new,
        reason: args.reason,
    });
    change_key(globals, &args.contract, &args.signing, body, held)
}

/// Builds the event at the contract's head, signs it with the keys held (and the new key if
/// held here) and sends it once the quorum is met, else writes the envelope file.
fn change_key(
    globals: &Globals,
    contract: &ContractId,
    signing: &CoAuthoring,
    body: Body,
    new_key: Option<KeyFile>,
) -> anyhow::Result<Status> {
    let mut keys = load_keys(&signing.key, globals)?;
    keys.extend(new_key);
    let at = signing.at.clone().map_or_else(plan::now, Ok)?;
    let state = globals
        .client()?
        .contract(contract)
        .with_context(|| format!("cannot read contract {contract}"))?;
    let payload = plan::payload(contract, &Head::of(&state)?, keys[0].key_id(), at, body)?;
    let quorum = plan::quorum_of(&state, &payload).ok_or_else(|| {
        Refusal::new(
            "unknown-party-key",
            "no such key",
            format!("no party of contract {contract} holds or held that key"),
        )
        .with_hint(format!(
            "`ledger --json state {contract}` lists the parties' keys"
        ))
    })?;
    co_sign_quorum(globals, &payload, &keys, &quorum, signing.out.as_deref())
}
