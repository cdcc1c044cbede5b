//! The audit against a node: the full replay of its log with its projections compared, and
//! the proof-based check of `--since`, `--event` and `--contract`.

use anyhow::anyhow;
use ledger_core::merkle::{self, LeafIndex, TreeSize};
use ledger_core::projection::ContractState;
use ledger_core::{Event, KeyDirectory};
use proto::note::NoteVerifier;
use proto::{ContractId, EventId};
use serde_json::Value;

use super::finding::{Check, Finding, Stop};
use super::replay::{RawChunk, Replay, RootMark};
use super::report::Verified;
use super::trust::{load_verifiers, Trust, Trusted};
use super::{open_saved, progress_bar, AuditArgs};
use crate::client::{Client, EventRecord, TrailQuery};
use crate::cmd::{Globals, Refusal};

/// Events asked per log page (the node's default page size limit).
const PAGE_EVENTS: u64 = 1_000;

/// Times the audit catches up with a node whose log grows while it compares projections.
const ROUNDS_MAX: usize = 5;

/// A client error as "could not check" (exit status 2), even when the node refused the
/// request: a refused read says nothing about the ledger's integrity.
fn trouble(error: anyhow::Error) -> Stop {
    Stop::Trouble(anyhow!("{error:#}"))
}

/// The trusted checkpoint keys: `--trust`, or else the node's own key.
fn node_trust(client: &Client, args: &AuditArgs) -> Result<(Trust, Vec<String>), Stop> {
    if !args.trust.is_empty() {
        return Ok((
            Trust::new(load_verifiers(&args.trust)?, args.min_signers)?,
            Vec::new(),
        ));
    }
    let info = client.node_info().map_err(trouble)?;
    let verifier = NoteVerifier::parse(&info.verifier_key).map_err(|e| {
        anyhow!(
            "the node's verifier key {:?} does not parse: {e}",
            info.verifier_key
        )
    })?;
    let note = format!(
        "trusted the node's own key {} as served by it; pass --trust with a key obtained out of band",
        info.verifier_key
    );
    Ok((Trust::new(vec![verifier], args.min_signers)?, vec![note]))
}

/// The node's latest checkpoint, opened under `trust`.
fn latest(client: &Client, trust: &Trust) -> Result<Trusted, Stop> {
    let note = client.checkpoint().map_err(trouble)?;
    Ok(trust.open(&note, "the node's latest checkpoint")?)
}

/// The full online audit: replay the node's log, check the root against its latest trusted
/// checkpoint, and compare every projection. Events logged after that checkpoint are
/// replayed too (so that projections compare), but only the checkpoint's prefix is covered
/// by a signed root.
pub(super) fn audit(args: &AuditArgs, globals: &Globals) -> Result<Verified, Stop> {
    let client = globals.client().map_err(trouble)?;
    let (trust, mut notes) = node_trust(&client, args)?;
    let mut replay = Replay::new(Vec::new(), progress_bar(globals, 0));
    for _ in 0..ROUNDS_MAX {
        let checkpoint = latest(&client, &trust)?;
        let size = client.node_info().map_err(trouble)?.size;
        if let Some(progress) = replay.progress() {
            progress.set_length(size);
        }
        if checkpoint.size() >= replay.size() {
            replay.add_mark(RootMark {
                size: checkpoint.size(),
                root: checkpoint.root(),
                source: "the node's latest checkpoint".to_owned(),
            })?;
        }
        replay.run(
            LogPages::new(&client, replay.size(), size.max(checkpoint.size())),
            &KeyDirectory::new(),
        )?;
        let difference = first_projection_difference(&client, &replay)?;
        if client.node_info().map_err(trouble)?.size != replay.size() {
            continue;
        }
        if let Some(finding) = difference {
            return Err(finding.into());
        }
        let mut verified = Verified::of_replay(&replay, &checkpoint, &trust);
        verified.size = replay.size();
        notes.push(format!(
            "the node's projections of {} contract(s) equal the replayed ones",
            verified.contracts.len()
        ));
        if replay.size() > checkpoint.size() {
            notes.push(format!(
                "events {}..{} were checked but no signed checkpoint covers them yet",
                checkpoint.size(),
                replay.size()
            ));
        }
        verified.notes = notes;
        return Ok(verified);
    }
    Err(Stop::Trouble(anyhow!(
        "the node's log kept growing during the audit ({ROUNDS_MAX} rounds); audit an exported \
         bundle instead: `ledger export --bundle FILE`"
    )))
}

/// Pages of the node's log from `next` up to `end`, as raw chunks.
pub(crate) struct LogPages<'a> {
    client: &'a Client,
    next: u64,
    end: u64,
    limit: Option<u64>,
}

impl<'a> LogPages<'a> {
    /// The pages of events `next..end`.
    pub(crate) fn new(client: &'a Client, next: u64, end: u64) -> Self {
        Self {
            client,
            next,
            end,
            limit: Some(PAGE_EVENTS),
        }
    }

    /// One page; a node with a smaller page limit gets its default page size instead.
    fn page(&mut self) -> anyhow::Result<crate::client::LogPage> {
        match self.client.log(self.next, self.limit) {
            Err(e)
                if e.chain().any(|c| c.downcast_ref::<Refusal>().is_some())
                    && self.limit.is_some() =>
            {
                self.limit = None;
                self.client.log(self.next, None)
            }
            other => other,
        }
    }

    fn chunk(&mut self) -> Result<RawChunk, Stop> {
        let page = self.page().map_err(trouble)?;
        let first_index = self.next;
        let wanted = usize::try_from(self.end - self.next).unwrap_or(usize::MAX);
        let records: Vec<EventRecord> = page.events.into_iter().take(wanted).collect();
        if page.from != first_index || records.is_empty() {
            return Err(Finding::new(
                Check::Root,
                "log-incomplete",
                format!(
                    "the node's log ends at index {first_index}, but it holds {} events",
                    self.end
                ),
            )
            .into());
        }
        let mut envelopes = Vec::with_capacity(records.len());
        for (index, record) in (first_index..).zip(records) {
            if record.index != index {
                let detail = format!(
                    "the node served event {} at log position {index}",
                    record.index
                );
                return Err(Finding::new(Check::Root, "log-order", detail)
                    .at(index)
                    .into());
            }
            envelopes.push(record.envelope);
        }
        self.next += envelopes.len() as u64;
        Ok(RawChunk::Node {
            first_index,
            envelopes,
        })
    }
}

impl Iterator for LogPages<'_> {
    type Item = Result<RawChunk, Stop>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let chunk = self.chunk();
        if chunk.is_err() {
            self.next = self.end;
        }
        Some(chunk)
    }
}

/// The first contract whose node projection differs from the replayed one, and where.
fn first_projection_difference(client: &Client, replay: &Replay) -> Result<Option<Finding>, Stop> {
    let listed = client.contracts().map_err(trouble)?;
    for line in &listed {
        if replay.ledger().contract(&line.id).is_none() {
            let detail = "the node lists a contract that no event of its log registers".to_owned();
            return Ok(Some(projection_finding(
                &line.id,
                "projection-unknown",
                detail,
            )));
        }
    }
    let mut states: Vec<&ContractState> = replay.ledger().contracts().collect();
    states.sort_by(|a, b| a.id().cmp(b.id()));
    for state in states {
        if !listed.iter().any(|line| line.id == *state.id()) {
            let detail = "the node does not list a contract its log registers".to_owned();
            return Ok(Some(projection_finding(
                state.id(),
                "projection-missing",
                detail,
            )));
        }
        let served = client.contract(state.id()).map_err(trouble)?;
        if let Some(detail) = difference(&served, state) {
            return Ok(Some(projection_finding(
                state.id(),
                "projection-mismatch",
                detail,
            )));
        }
    }
    Ok(None)
}

fn projection_finding(contract: &ContractId, code: &'static str, detail: String) -> Finding {
    Finding {
        contract: Some(contract.clone()),
        ..Finding::new(Check::Projection, code, detail)
    }
}

/// Where the node's projection differs from the replayed one, if it does.
fn difference(served: &ContractState, replayed: &ContractState) -> Option<String> {
    if served == replayed {
        return None;
    }
    let (served, replayed) = (
        serde_json::to_value(served).ok()?,
        serde_json::to_value(replayed).ok()?,
    );
    let (path, node, ours) = first_difference(&served, &replayed, String::new())?;
    Some(format!(
        "the node's projection differs from the replay at {path:?}: node {node}, replay {ours}"
    ))
}

/// The JSON pointer of the first difference between two values, and both values there.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|key| {
                let (left, right) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                first_difference(left, right, format!("{path}/{key}"))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            (0..x.len()).find_map(|i| first_difference(&x[i], &y[i], format!("{path}/{i}")))
        }
        _ if a == b => None,
        _ => Some((path, a.to_string(), b.to_string())),
    }
}

/// The proof-based check: consistency with `--since`, inclusion of `--event` and
/// `--contract` events, against the node's latest trusted checkpoint.
pub(super) fn prove(args: &AuditArgs, globals: &Globals) -> Result<Verified, Stop> {
    let client = globals.client().map_err(trouble)?;
    let (trust, mut notes) = node_trust(&client, args)?;
    let checkpoint = latest(&client, &trust)?;
    if let Some(path) = &args.since {
        let old = open_saved(path, &trust)?;
        prove_consistency(&client, &old, &checkpoint)?;
        notes.push(format!(
            "the log only grew since the checkpoint in {} (size {} to {}), by a consistency proof",
            path.display(),
            old.size(),
            checkpoint.size()
        ));
    }
    let mut proven = 0u64;
    for id in &args.events {
        let record = client.event(id).map_err(|e| missing_event(id, e))?;
        prove_inclusion(&client, &record, &checkpoint)?;
        proven += 1;
    }
    for contract in &args.contracts {
        proven += prove_contract(&client, contract, &checkpoint)?;
    }
    if proven > 0 {
        notes.push(format!(
            "{proven} event(s) proven in the log by inclusion proofs"
        ));
    }
    let mut verified = Verified::of_checkpoint(&checkpoint, &trust);
    verified.notes = notes;
    Ok(verified)
}

fn missing_event(id: &EventId, error: anyhow::Error) -> Stop {
    let not_found = error
        .chain()
        .filter_map(|c| c.downcast_ref::<Refusal>())
        .any(|r| r.code() == "event-not-found");
    if not_found {
        Finding {
            id: Some(*id),
            ..Finding::new(
                Check::Inclusion,
                "event-not-found",
                "the node's log holds no event with this id",
            )
        }
        .into()
    } else {
        trouble(error)
    }
}

/// Proves that the log of `old` is a prefix of the log of `new`.
fn prove_consistency(client: &Client, old: &Trusted, new: &Trusted) -> Result<(), Stop> {
    if old.size() > new.size() {
        let detail = format!(
            "the saved checkpoint is of {} events, the latest of {}",
            old.size(),
            new.size()
        );
        return Err(Finding::new(Check::Consistency, "log-shrank", detail).into());
    }
    if old.size() == 0 {
        return Ok(());
    }
    let proof = client
        .consistency_proof(old.size(), new.size())
        .map_err(trouble)?;
    let proof: Vec<merkle::Hash> = proof.into_iter().map(merkle::Hash::from_bytes).collect();
    merkle::verify_consistency(
        TreeSize::new(old.size()),
        TreeSize::new(new.size()),
        &proof,
        &old.root(),
        &new.root(),
    )
    .map_err(|e| {
        let detail = format!(
            "the consistency proof from size {} to {} does not verify ({e}): the log was rewritten",
            old.size(),
            new.size()
        );
        Finding::new(Check::Consistency, e.code(), detail).into()
    })
}

/// Proves every event of `contract` below the checkpoint's size; returns how many.
fn prove_contract(
    client: &Client,
    contract: &ContractId,
    checkpoint: &Trusted,
) -> Result<u64, Stop> {
    let mut query = TrailQuery {
        contract: Some(contract.to_string()),
        ..TrailQuery::default()
    };
    let mut proven = 0;
    loop {
        let page = client.trail(&query).map_err(trouble)?;
        for record in page.events.iter().filter(|r| r.index < checkpoint.size()) {
            prove_inclusion(client, record, checkpoint)?;
            proven += 1;
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(proven),
        }
    }
}

/// Checks that the event served is the one named, canonical, and in the checkpoint's tree.
fn prove_inclusion(
    client: &Client,
    record: &EventRecord,
    checkpoint: &Trusted,
) -> Result<(), Stop> {
    let bytes = record.envelope.get().as_bytes();
    let fail = |code: &'static str, detail: String| -> Stop {
        Finding {
            index: Some(record.index),
            id: Some(record.id),
            ..Finding::new(Check::Inclusion, code, detail)
        }
        .into()
    };
    let event = Event::decode(bytes).map_err(|e| fail(e.code(), e.to_string()))?;
    if *event.id() != record.id || event.leaf() != bytes {
        return Err(fail(
            "event-mismatch",
            "the node served another event, or a non-canonical envelope".to_owned(),
        ));
    }
    if record.index >= checkpoint.size() {
        return Err(Stop::Trouble(anyhow!(
            "event {} (index {}) is newer than the latest checkpoint (size {}); retry after the next checkpoint",
            record.id,
            record.index,
            checkpoint.size()
        )));
    }
    let proof = client
        .inclusion_proof(record.index, checkpoint.size())
        .map_err(trouble)?;
    let proof: Vec<merkle::Hash> = proof.into_iter().map(merkle::Hash::from_bytes).collect();
    let leaf = merkle::leaf_hash(bytes);
    merkle::verify_inclusion(
        &leaf,
        LeafIndex::new(record.index),
        TreeSize::new(checkpoint.size()),
        &proof,
        &checkpoint.root(),
    )
    .map_err(|e| {
        fail(
            e.code(),
            format!("the inclusion proof does not verify against the checkpoint ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::first_difference;

    #[test]
    fn the_first_difference_is_located_by_json_pointer() {
        let node = json!({"id": "c", "tally": {"paid_money": 5000, "verified_money": 9000}, "claims": [1, 2]});
        let ours = json!({"id": "c", "tally": {"paid_money": 4000, "verified_money": 9000}, "claims": [1, 2]});
        let found = first_difference(&node, &ours, String::new());
        assert_eq!(
            found,
            Some((
                "/tally/paid_money".to_owned(),
                "5000".to_owned(),
                "4000".to_owned()
            ))
        );
        assert_eq!(first_difference(&node, &node, String::new()), None);
        let missing = json!({"id": "c"});
        let found = first_difference(&json!({"id": "c", "closed": true}), &missing, String::new());
        assert_eq!(
            found,
            Some(("/closed".to_owned(), "true".to_owned(), "null".to_owned()))
        );
        let longer = first_difference(&json!([1, 2, 3]), &json!([1, 2]), String::new());
        assert_eq!(
            longer,
            Some((String::new(), "[1,2,3]".to_owned(), "[1,2]".to_owned()))
        );
    }
}
