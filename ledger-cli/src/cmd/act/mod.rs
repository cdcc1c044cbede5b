//! The commands that make events: build the payload (seq and prev from the node's head, `at`
//! from the clock or `--at`), sign it, and submit it or write it to an envelope file for the
//! other parties to sign (`ledger sign`) and anyone to send (`ledger submit`).
//!
//! - [`claims`]: claim, verify-claim, reject-claim, dispute, resolve, feedback;
//! - [`money`]: pay (amounts from the rate card), distribute;
//! - [`contract`]: contract register, amend, close;
//! - [`keys`]: revoke-key, enrol-key (another party's key, with a quorum);
//! - [`files`]: envelope files, sign and submit.

mod claims;
mod contract;
mod files;
mod keys;
mod money;

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ledger_core::projection::ContractState;
use proto::dsse::Envelope;
use proto::payload::Body;
use proto::{ContractId, EventId, Int, Payload, Timestamp};
use serde::Serialize;

pub(crate) use self::claims::{
    claim, dispute, feedback, reject, resolve, verify, ClaimArgs, DisputeArgs, FeedbackArgs,
    RejectArgs, ResolveArgs, VerifyArgs, CLAIM_EXAMPLES, DISPUTE_EXAMPLES, FEEDBACK_EXAMPLES,
    REJECT_EXAMPLES, RESOLVE_EXAMPLES, VERIFY_EXAMPLES,
};
pub(crate) use self::contract::{
    amend, close, register, AmendArgs, CloseArgs, RegisterArgs, AMEND_EXAMPLES, CLOSE_EXAMPLES,
    REGISTER_EXAMPLES,
};
use self::files::write_envelope;
pub(crate) use self::files::{sign, submit, SignArgs, SubmitArgs, SIGN_EXAMPLES, SUBMIT_EXAMPLES};
pub(crate) use self::keys::{
    enrol_key, revoke_key, EnrolKeyArgs, RevokeKeyArgs, ENROL_KEY_EXAMPLES, REVOKE_KEY_EXAMPLES,
};
pub(crate) use self::money::{
    distribute, pay, DistributeArgs, PayArgs, DISTRIBUTE_EXAMPLES, PAY_EXAMPLES,
};
use crate::client::{Appended, Client};
use crate::cmd::{Globals, Refusal, Status};
use crate::keyfile::KeyFile;
use crate::plan::{self, Head};

/// Options of every command that makes an event signed by its author alone.
#[derive(Debug, Args)]
pub(crate) struct Authoring {
    /// Key of the author: a key name in the key directory, or a key file
    #[arg(long, short = 'k', value_name = "KEY")]
    key: String,
    /// Time the author states for the event, RFC 3339 UTC [default: now]
    #[arg(long, value_name = "TIME")]
    at: Option<Timestamp>,
    /// Write the signed envelope to FILE instead of sending it (send it with `ledger submit`)
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Options of the commands whose events several parties sign.
#[derive(Debug, Args)]
pub(crate) struct CoAuthoring {
    /// Keys that sign now; the first is the author. Repeat for each key you hold
    #[arg(long, short = 'k', value_name = "KEY", required = true)]
    key: Vec<String>,
    /// Time the author states for the event, RFC 3339 UTC [default: now]
    #[arg(long, value_name = "TIME")]
    at: Option<Timestamp>,
    /// Envelope file to write while signatures are missing [default: CONTRACT-SEQ-KIND.json]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub(super) fn parse_int(text: &str) -> Result<Int, String> {
    let value: u64 = text
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of minor units"))?;
    Int::new(value).ok_or_else(|| format!("{value} is over 2^53-1"))
}

pub(super) fn int(name: &str, value: u64) -> anyhow::Result<Int> {
    Int::new(value).ok_or_else(|| anyhow::anyhow!("{name} {value} is over 2^53-1"))
}

/// What `--json` prints for an event sent (`type` = `appended`).
#[derive(Debug, Serialize)]
pub(crate) struct AppendedView {
    /// Event id.
    pub(crate) id: EventId,
    /// Log index.
    pub(crate) index: u64,
    /// Contract.
    pub(crate) contract: ContractId,
    /// Seq in the contract.
    pub(crate) seq: u64,
    /// Kind.
    pub(crate) kind: &'static str,
}

impl AppendedView {
    fn of(appended: &Appended, payload: &Payload) -> Self {
        Self {
            id: appended.id,
            index: appended.index,
            contract: payload.contract.clone(),
            seq: payload.seq.get(),
            kind: payload.kind().as_str(),
        }
    }

    fn human(&self) -> String {
        format!(
            "appended {} to {} at seq {} (log index {})\nevent id {}",
            self.kind, self.contract, self.seq, self.index, self.id
        )
    }
}

/// An event in the making: who signs it and where it goes.
pub(super) struct Making<'a> {
    globals: &'a Globals,
    client: Client,
    author: KeyFile,
    at: Timestamp,
    out: Option<PathBuf>,
}

impl<'a> Making<'a> {
    pub(super) fn new(globals: &'a Globals, authoring: &Authoring) -> anyhow::Result<Self> {
        let author = KeyFile::load(&authoring.key, &globals.keys_dir)?;
        let at = authoring.at.clone().map_or_else(plan::now, Ok)?;
        Ok(Self {
            globals,
            client: globals.client()?,
            author,
            at,
            out: authoring.out.clone(),
        })
    }

    /// The contract named, or the one the event `refers` belongs to.
    pub(super) fn contract_of(
        &self,
        given: Option<&ContractId>,
        refers: &EventId,
        what: &str,
    ) -> anyhow::Result<ContractId> {
        let event = self
            .client
            .event(refers)
            .with_context(|| format!("cannot find {what} {refers} on the node"))?;
        if let Some(given) = given.filter(|g| **g != event.contract) {
            return Err(Refusal::new(
                "contract-mismatch",
                "wrong contract",
                format!(
                    "{what} {refers} belongs to contract {}, not {given}",
                    event.contract
                ),
            )
            .into());
        }
        Ok(event.contract)
    }

    /// Builds the body against the contract's state, signs and delivers.
    pub(super) fn act(
        self,
        contract: &ContractId,
        body: impl FnOnce(&ContractState) -> anyhow::Result<Body>,
    ) -> anyhow::Result<Status> {
        let state = self
            .client
            .contract(contract)
            .with_context(|| format!("cannot read contract {contract}"))?;
        let body = body(&state)?;
        let head = Head::of(&state)?;
        let payload = plan::payload(contract, &head, self.author.key_id(), self.at.clone(), body)?;
        let envelope = plan::seal(&payload, &[self.author.signing()])?;
        match &self.out {
            Some(path) => write_envelope(self.globals, path, &envelope, &payload, &[]),
            None => send(self.globals, &self.client, &envelope, &payload),
        }
    }
}

/// Sends one envelope and prints where it landed.
pub(super) fn send(
    globals: &Globals,
    client: &Client,
    envelope: &Envelope,
    payload: &Payload,
) -> anyhow::Result<Status> {
    let appended = client
        .append(&envelope.to_jcs())
        .map_err(|mut error| {
            if let Some(refusal) = error.downcast_mut::<Refusal>() {
                refusal.name_contract(&payload.contract);
            }
            error
        })
        .with_context(|| format!("{} was not appended", payload.kind().as_str()))?;
    let view = AppendedView::of(&appended, payload);
    let mut out = globals.output();
    out.record("appended", &view, view.human())?;
    out.flush()?;
    Ok(Status::Success)
}
