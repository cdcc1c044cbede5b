//! The append path: one group-commit writer that judges, sequences and applies.
//!
//! Callers queue requests on a bounded channel ([`Message`]); the writer takes everything
//! queued (up to `group_events_max` events, a single larger request going alone) as one commit
//! group, and for it:
//!
//! 1. *receive and judge* ([`Writer::judge`]): decode strictly, refuse what is too large or
//!    already stored, then admit each event in order against the projection, each judged on
//!    its own: the cheap checks first (duplicates, chain position, author and signer set),
//!    and only for events that pass them the signatures (batched, exact, on
//!    [`SIGNATURE_THREADS`] threads, [`Ledger::admit_next`]), then the kind's rules;
//! 2. *sequence*: the [`Local`] sequencer gives the admitted events their global indexes;
//! 3. *apply* ([`Writer::apply`]): one atomic write of the events, their indexes, the new tree
//!    nodes and meta (with a checkpoint when one is due, and the changed projections with it
//!    once `snapshot_interval_events` events came since they were last stored), then flush,
//!    then publish to readers, then acknowledge.
//!
//! Appends are pipelined ([`run`]): while group N is written, flushed, published and answered
//! in a thread of its own ([`Prepared::finish`]), the writer gathers and judges group N+1
//! against the ledger after N (a copy of an event of N is refused as a duplicate, as if N were
//! stored). N+1 is written only after N is flushed and published, so groups become durable and
//! visible in order; readers are shown the contract states captured when N was prepared. If
//! N's write fails, N+1 is answered 503 unwritten. Replicated batches, checkpoints and
//! shutdown wait for the group in flight and run without overlap.
//!
//! Projections are stored far less often than checkpoints are signed: storing them costs the
//! size of every changed contract's state, which grows with its history, while a restart
//! replays at most `snapshot_interval_events` events past them. Shutdown stores them all.
//!
//! Nothing of a refused event is written. If a write or flush fails, the in-memory ledger may
//! be ahead of the disk, so the writer stops taking appends (503) until the node is restarted
//! and the store's open check has run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use ledger_core::merkle::{self, Frontier};
use ledger_core::{Batch, ContractState, ErrorClass, Event, Ledger, Rejection};
use proto::{Body, ContractId, EventId, OutcomeId};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::checkpoint::{CheckpointPolicy, CheckpointSigner};
use crate::replication::consumer::StreamRequest;
use crate::sequencer::Local;
use crate::service::{
    AppendError, Appended, Hash, Observer, Refusal, RefusalClass, SignedCheckpoint, StoreError,
    View, ViewCell,
};
use crate::store::{CommitGroup, EventFacts, SequencedEvent, Store};

/// Threads that verify a group's signatures.
pub const SIGNATURE_THREADS: usize = 2;

/// The answer to one append request: one result per envelope, in order.
pub(crate) type Answers = Vec<Result<Appended, AppendError>>;

/// What callers send the writer.
pub(crate) enum Message {
    /// Envelopes to append, and where to answer.
    Append(Request),
    /// Finish what was queued before, write the last checkpoint and the projections, flush,
    /// then answer.
    Shutdown(oneshot::Sender<()>),
    /// Apply already-sequenced messages of a replicated ledger's stream
    /// ([`Writer::apply_stream`]).
    Stream(StreamRequest),
}

/// A message that ends the gathering of a commit group.
enum Tail {
    Shutdown(oneshot::Sender<()>),
    Stream(StreamRequest),
}

/// One append request.
pub(crate) struct Request {
    pub(crate) envelopes: Vec<Vec<u8>>,
    pub(crate) reply: oneshot::Sender<Answers>,
}

/// The writes of the writer: the store, or in tests a store whose flush can be watched.
/// Shared between the writer and the thread writing the group before the one it judges.
pub trait Durable: Send + Sync + 'static {
    /// Writes one commit group atomically (not yet durable).
    ///
    /// # Errors
    /// [`StoreError`] if nothing was written.
    fn commit(&self, group: &CommitGroup) -> Result<(), StoreError>;
    /// Makes every write so far durable.
    ///
    /// # Errors
    /// [`StoreError`] if durability is not certain.
    fn flush(&self) -> Result<(), StoreError>;
}

impl Durable for Store {
    fn commit(&self, group: &CommitGroup) -> Result<(), StoreError> {
        Store::commit(self, group)
    }
    fn flush(&self) -> Result<(), StoreError> {
        Store::flush(self)
    }
}

/// The refusal of a rejection, for the API.
pub(crate) fn refusal(rejection: &Rejection) -> Refusal {
    let class = match rejection.class() {
        ErrorClass::Malformed => RefusalClass::Malformed,
        ErrorClass::TooLarge => RefusalClass::TooLarge,
        ErrorClass::BadSignature => RefusalClass::BadSignature,
        ErrorClass::Forbidden => RefusalClass::Forbidden,
        ErrorClass::Conflict => RefusalClass::Conflict,
        ErrorClass::Unprocessable => RefusalClass::RuleBroken,
    };
    Refusal::new(class, rejection.code(), rejection.to_string())
}

/// The refusal of an envelope of `bytes` bytes, over the payload limit of `limit` bytes.
pub(crate) fn too_large(bytes: usize, limit: usize) -> AppendError {
    AppendError::Rejected(Refusal::new(
        RefusalClass::TooLarge,
        "too-large",
        format!("envelope of {bytes} bytes is over the limit of {limit} bytes"),
    ))
}

/// An event the ledger admitted, with what the indexes need.
pub(crate) struct Judged {
    pub(crate) id: EventId,
    pub(crate) index: u64,
    pub(crate) contract: ContractId,
    pub(crate) seq: u64,
    pub(crate) leaf: Vec<u8>,
    pub(crate) facts: EventFacts,
}

/// Settings of the writer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriterSettings {
    pub(crate) payload_bytes_max: usize,
    pub(crate) group_events_max: usize,
    /// Least events between two stored projection snapshots.
    pub(crate) snapshot_interval_events: u64,
}

/// The group-commit writer's state. Owned by one task; moved into a blocking thread for each
/// group (sled and signature checks block).
pub(crate) struct Writer<D: Durable> {
    pub(crate) durable: Arc<D>,
    pub(crate) store: Store,
    pub(crate) ledger: Ledger,
    pub(crate) frontier: Frontier,
    pub(crate) sequencer: Local,
    pub(crate) view: Arc<ViewCell>,
    pub(crate) policy: CheckpointPolicy,
    pub(crate) signer: Arc<CheckpointSigner>,
    /// Contracts changed since their last stored snapshot.
    pub(crate) dirty: BTreeSet<ContractId>,
    /// The log size the stored projection snapshots reflect.
    pub(crate) snapshot_position: u64,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) settings: WriterSettings,
    pub(crate) failure: Option<String>,
    /// The ids and indexes of the last group prepared, which may not be written yet: a
    /// duplicate of one of them is refused as a duplicate before the store holds it.
    pub(crate) unflushed: HashMap<EventId, u64>,
}

/// What the readers are shown once a group is durable: captured when the group is prepared,
/// as the ledger judges the next group before this one is written.
pub(crate) struct Publication {
    size: u64,
    root: Hash,
    /// The states of the contracts the group touched, as of its last event.
    states: Vec<(ContractId, Arc<ContractState>)>,
    checkpoint: Option<SignedCheckpoint>,
    /// Replicated ledgers: the stream position after the group.
    position: Option<u64>,
}

/// A judged, sequenced commit group with its callers: written, flushed, published and
/// answered by [`Prepared::finish`], in a thread of its own while the writer judges the next.
pub(crate) struct Prepared {
    group: CommitGroup,
    publication: Publication,
    answers: Answers,
    replies: Vec<(usize, oneshot::Sender<Answers>)>,
    accepted: u64,
}

/// What writing a group needs, shared with the thread that writes it.
pub(crate) struct Sink<D: Durable> {
    durable: Arc<D>,
    view: Arc<ViewCell>,
    observer: Arc<dyn Observer>,
}

impl<D: Durable> Sink<D> {
    /// One atomic write of `group`, then the flush.
    fn write(&self, group: &CommitGroup) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        self.durable.commit(group)?;
        self.durable.flush()?;
        self.observer.flushed(group.events.len(), started.elapsed());
        Ok(())
    }

    /// Shows readers a durable group (the old view is dropped here, off the writer).
    fn publish(&self, publication: Publication) {
        let Publication {
            size,
            root,
            states,
            checkpoint,
            position,
        } = publication;
        let old = self.view.get();
        let contracts = if states.is_empty() {
            Arc::clone(&old.contracts)
        } else {
            let mut contracts: BTreeMap<ContractId, Arc<ContractState>> = (*old.contracts).clone();
            contracts.extend(states);
            Arc::new(contracts)
        };
        let latest = checkpoint.or_else(|| old.latest.clone());
        self.view.set(View {
            size,
            root,
            contracts,
            latest,
            position: position.unwrap_or(old.position),
        });
        self.observer.log_size(size);
    }
}

impl Prepared {
    /// Writes, flushes and publishes the group, then answers its callers; on a store failure
    /// answers every admitted event 503 and returns why the writer must stop.
    fn finish<D: Durable>(self, sink: &Sink<D>) -> Result<(), String> {
        let Prepared {
            group,
            publication,
            answers,
            replies,
            accepted,
        } = self;
        match sink.write(&group) {
            Ok(()) => {
                drop(group);
                sink.publish(publication);
                sink.observer.appended(accepted);
                answer(replies, answers);
                Ok(())
            }
            Err(e) => {
                let failure =
                    format!("the store failed ({e}); restart the node so it checks the store");
                tracing::error!(%failure, "writer stops taking appends");
                // Before the answer: a caller told 503 then finds the probes failing.
                sink.observer.writer_stopped(&failure);
                answer(replies, unavailable(answers, &failure));
                Err(failure)
            }
        }
    }

    /// Answers the callers 503 without writing: a group before this one failed.
    fn abandon(self, failure: &str) {
        answer(self.replies, unavailable(self.answers, failure));
    }
}

/// `answers` with every admitted event turned into a 503 for `failure`.
fn unavailable(answers: Answers, failure: &str) -> Answers {
    answers
        .into_iter()
        .map(|r| r.and(Err(AppendError::Unavailable(failure.to_owned()))))
        .collect()
}

/// Hands each caller its share of `answers`, in order.
fn answer(replies: Vec<(usize, oneshot::Sender<Answers>)>, answers: Answers) {
    let mut answers = answers.into_iter();
    for (count, reply) in replies {
        // A caller that went away does not stop the others.
        let _ = reply.send(answers.by_ref().take(count).collect());
    }
}

impl<D: Durable> Writer<D> {
    /// What the group-writing thread needs.
    fn sink(&self) -> Sink<D> {
        Sink {
            durable: Arc::clone(&self.durable),
            view: Arc::clone(&self.view),
            observer: Arc::clone(&self.observer),
        }
    }

    /// Appends one group of requests and answers each (after the flush, for any success),
    /// without overlapping anything.
    fn process(&mut self, requests: Vec<Request>, now: Instant) {
        if let Some(prepared) = self.prepare(requests, now) {
            let sink = self.sink();
            self.finished(prepared.finish(&sink));
        }
    }

    /// Notes how writing a prepared group ended.
    fn finished(&mut self, outcome: Result<(), String>) {
        if let Err(failure) = outcome {
            self.observer.writer_stopped(&failure);
            self.failure.get_or_insert(failure);
        }
    }

    /// Judges and sequences one group of requests and prepares its write. Requests with
    /// nothing admitted (or refused because the writer stopped) are answered at once and
    /// give `None`. The ledger moves past the group: the next group is judged after it.
    fn prepare(&mut self, requests: Vec<Request>, now: Instant) -> Option<Prepared> {
        let mut envelopes = Vec::new();
        let mut replies = Vec::new();
        for request in requests {
            replies.push((request.envelopes.len(), request.reply));
            envelopes.extend(request.envelopes);
        }
        if let Some(failure) = &self.failure {
            let refusal = AppendError::Unavailable(failure.clone());
            answer(
                replies,
                envelopes.iter().map(|_| Err(refusal.clone())).collect(),
            );
            return None;
        }
        let judged = self.judge(&envelopes, self.settings.payload_bytes_max);
        drop(envelopes);
        for result in &judged {
            if let Err(e) = result {
                self.observer.refused(e.code());
            }
        }
        let answers: Answers = judged
            .iter()
            .map(|r| r.as_ref().map(appended).map_err(Clone::clone))
            .collect();
        let accepted: Vec<Judged> = judged.into_iter().filter_map(Result::ok).collect();
        let count = accepted.len() as u64;
        let unflushed: HashMap<EventId, u64> = accepted.iter().map(|j| (j.id, j.index)).collect();
        let prepared = if accepted.is_empty() {
            None
        } else {
            Some(
                self.sequence_owned(accepted)
                    .and_then(|events| self.prepare_group(events, CommitGroup::default(), now)),
            )
        };
        match prepared {
            None => {
                answer(replies, answers);
                None
            }
            Some(Ok((group, publication))) => {
                self.unflushed = unflushed;
                Some(Prepared {
                    group,
                    publication,
                    answers,
                    replies,
                    accepted: count,
                })
            }
            Some(Err(e)) => {
                let failure =
                    format!("the store failed ({e}); restart the node so it checks the store");
                tracing::error!(%failure, "writer stops taking appends");
                answer(replies, unavailable(answers, &failure));
                self.observer.writer_stopped(&failure);
                self.failure = Some(failure);
                None
            }
        }
    }

    /// Receive and judge: decode, duplicates, the cheap rules, signatures (batched, exact,
    /// parallel) of what passed them, the kind's rules; envelopes over `payload_bytes_max` are
    /// refused.
    pub(crate) fn judge(
        &mut self,
        envelopes: &[Vec<u8>],
        payload_bytes_max: usize,
    ) -> Vec<Result<Judged, AppendError>> {
        let mut results: Vec<Option<Result<Judged, AppendError>>> =
            Vec::with_capacity(envelopes.len());
        let mut events = Vec::new();
        let mut positions = Vec::new();
        let mut decoded = self.decode_all(envelopes, payload_bytes_max).into_iter();
        for position in 0..envelopes.len() {
            match decoded.next() {
                Some(Ok(event)) => {
                    positions.push(position);
                    events.push(event);
                    results.push(None);
                }
                Some(Err(e)) => results.push(Some(Err(e))),
                None => results.push(Some(Err(AppendError::Internal(
                    "envelope not decoded".into(),
                )))),
            }
        }
        // Cheap checks first: duplicates here, then the ledger's screen; only events that pass
        // both have their signatures verified (`Ledger::admit_next`).
        let mut batch = Batch::new(&events, SIGNATURE_THREADS);
        let mut in_group: HashMap<EventId, u64> = self.unflushed.clone();
        for (index, (position, event)) in positions.into_iter().zip(&events).enumerate() {
            results[position] = Some(self.admit(event, (&mut batch, index), &mut in_group));
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(AppendError::Internal("event not judged".into()))))
            .collect()
    }

    /// Decodes the envelopes (on [`SIGNATURE_THREADS`] threads) and refuses those that are too
    /// large or already stored; one result per envelope, in order.
    fn decode_all(&self, envelopes: &[Vec<u8>], limit: usize) -> Vec<Result<Event, AppendError>> {
        let sized: Vec<&[u8]> = envelopes
            .iter()
            .map(Vec::as_slice)
            .filter(|bytes| bytes.len() <= limit)
            .collect();
        let mut decoded = Ledger::decode_all(&sized, SIGNATURE_THREADS).into_iter();
        envelopes
            .iter()
            .map(|bytes| {
                if bytes.len() > limit {
                    return Err(too_large(bytes.len(), limit));
                }
                match decoded.next() {
                    Some(Ok(event)) => self.refuse_stored(event),
                    Some(Err(r)) => Err(AppendError::Rejected(refusal(&r))),
                    None => Err(AppendError::Internal("envelope not decoded".into())),
                }
            })
            .collect()
    }

    /// `event`, or its refusal if the store already holds it.
    fn refuse_stored(&self, event: Event) -> Result<Event, AppendError> {
        let stored = self
            .store
            .index_of(event.id(), u64::MAX)
            .map_err(|e| AppendError::Internal(e.to_string()))?;
        match stored {
            Some(index) => Err(AppendError::Duplicate {
                id: *event.id(),
                index,
            }),
            None => Ok(event),
        }
    }

    /// Judges event `index` of `batch` (`event`), refusing first a duplicate of an event of
    /// this group or the one before.
    fn admit(
        &mut self,
        event: &Event,
        (batch, index): (&mut Batch<'_>, usize),
        in_group: &mut HashMap<EventId, u64>,
    ) -> Result<Judged, AppendError> {
        if let Some(&index) = in_group.get(event.id()) {
            return Err(AppendError::Duplicate {
                id: *event.id(),
                index,
            });
        }
        let admitted = self
            .ledger
            .admit_next(batch, index)
            .map_err(|r| AppendError::Rejected(refusal(&r)))?;
        in_group.insert(admitted.id, admitted.index);
        let facts = facts_of(&self.ledger, event);
        Ok(Judged {
            id: admitted.id,
            index: admitted.index,
            contract: admitted.contract,
            seq: admitted.seq,
            leaf: admitted.leaf,
            facts,
        })
    }

    /// Sequence: the ordering authority gives the admitted events their global indexes.
    pub(crate) fn sequence(
        &mut self,
        accepted: &[&Judged],
    ) -> Result<Vec<SequencedEvent>, StoreError> {
        let events = accepted
            .iter()
            .map(|judged| (judged.index, judged.leaf.clone(), judged.facts.clone()));
        self.sequence_events(accepted.len(), events)
    }

    /// [`Writer::sequence`], moving the admitted events' leaves and facts instead of copying.
    fn sequence_owned(&mut self, accepted: Vec<Judged>) -> Result<Vec<SequencedEvent>, StoreError> {
        let count = accepted.len();
        let events = accepted.into_iter().map(|j| (j.index, j.leaf, j.facts));
        self.sequence_events(count, events)
    }

    /// Gives `count` events `(ledger index, leaf, facts)` their global indexes.
    fn sequence_events(
        &mut self,
        count: usize,
        events: impl Iterator<Item = (u64, Vec<u8>, EventFacts)>,
    ) -> Result<Vec<SequencedEvent>, StoreError> {
        let range = self
            .sequencer
            .assign(count as u64)
            .map_err(|e| StoreError::Storage(e.to_string()))?;
        let events: Vec<SequencedEvent> = range
            .zip(events)
            .map(|(index, (judged, envelope, facts))| {
                // The ledger numbers admissions as the sequencer does; a difference is a bug
                // that would put events at the wrong leaves.
                assert_eq!(index, judged, "sequencer and ledger disagree on the index");
                SequencedEvent {
                    index,
                    envelope,
                    facts,
                }
            })
            .collect();
        Ok(events)
    }

    /// Apply an ordered, already-sequenced batch: tree nodes, one atomic write, flush,
    /// publish; writing what `seed` holds besides (a replicated ledger's stream position,
    /// refusals and subject sequences) in the same commit group.
    pub(crate) fn apply_group(
        &mut self,
        events: Vec<SequencedEvent>,
        seed: CommitGroup,
        now: Instant,
    ) -> Result<(), StoreError> {
        let (group, publication) = self.prepare_group(events, seed, now)?;
        let sink = self.sink();
        sink.write(&group)?;
        sink.publish(publication);
        Ok(())
    }

    /// The commit group of an ordered, already-sequenced batch (tree nodes, meta, a checkpoint
    /// if due) and what to publish once it is durable. The writer's frontier, checkpoint
    /// policy and snapshot position move past the group now: the next group is judged before
    /// this one is written, and if the write fails the writer stops.
    fn prepare_group(
        &mut self,
        events: Vec<SequencedEvent>,
        seed: CommitGroup,
        now: Instant,
    ) -> Result<(CommitGroup, Publication), StoreError> {
        let mut frontier = self.frontier.clone();
        let mut nodes = Vec::new();
        for event in &events {
            assert_eq!(
                event.index,
                frontier.size().get(),
                "events must continue the tree"
            );
            frontier
                .append(merkle::leaf_hash(&event.envelope), &mut nodes)
                .map_err(|e| StoreError::Storage(e.to_string()))?;
        }
        let touched: BTreeSet<ContractId> =
            events.iter().map(|e| e.facts.contract.clone()).collect();
        self.dirty.extend(touched.iter().cloned());
        let size = frontier.size().get();
        let root = *frontier.root().as_bytes();
        let position = seed.stream_position;
        let mut group = CommitGroup {
            events,
            nodes,
            size,
            root,
            ..seed
        };
        let checkpoint = self.due_checkpoint(&mut group, now);
        self.stored(&group);
        self.frontier = frontier;
        if let Some(checkpoint) = &checkpoint {
            self.policy.signed(checkpoint.size, now);
        }
        // Shared with the ledger, which copies a state before it changes it again.
        let states = touched
            .into_iter()
            .filter_map(|id| {
                let state = self.ledger.shared_contract(&id)?;
                Some((id, state))
            })
            .collect();
        let publication = Publication {
            size,
            root,
            states,
            checkpoint,
            position,
        };
        Ok((group, publication))
    }

    /// Adds a checkpoint to `group` if one is due at `now` (and the dirty projections, if
    /// their snapshot is due too).
    fn due_checkpoint(&self, group: &mut CommitGroup, now: Instant) -> Option<SignedCheckpoint> {
        if !self.policy.due(group.size, now) {
            return None;
        }
        self.add_checkpoint(group)
    }

    fn add_checkpoint(&self, group: &mut CommitGroup) -> Option<SignedCheckpoint> {
        let note = match self.signer.sign(group.size, &group.root) {
            Ok(note) => note,
            Err(e) => {
                tracing::error!(error = %e, "cannot sign a checkpoint");
                return None;
            }
        };
        let since_snapshot = group.size.saturating_sub(self.snapshot_position);
        if since_snapshot >= self.settings.snapshot_interval_events {
            self.add_snapshots(group);
        }
        group.checkpoint = Some((group.size, note.clone()));
        Some(SignedCheckpoint {
            size: group.size,
            root: group.root,
            note,
        })
    }

    /// Adds the dirty projections to `group`, as of its size.
    fn add_snapshots(&self, group: &mut CommitGroup) {
        group.projections = self
            .dirty
            .iter()
            .filter_map(|id| self.ledger.contract(id))
            .filter_map(|state| Some((state.id().clone(), serde_json::to_vec(state).ok()?)))
            .collect();
        group.projection_position = Some(group.size);
    }

    /// Notes what a written `group` stored: the projections are clean as of its size.
    fn stored(&mut self, group: &CommitGroup) {
        if let Some(position) = group.projection_position {
            self.snapshot_position = position;
            self.dirty.clear();
        }
    }

    /// When the writer must wake up to sign a checkpoint, if ever.
    fn checkpoint_deadline(&self) -> Option<Instant> {
        if self.failure.is_some() {
            return None;
        }
        self.policy.deadline(self.frontier.size().get())
    }

    /// Writes a checkpoint (and the dirty projections, if their snapshot is due) of the
    /// current size if the log has none yet: on a deadline with no appends. No events are
    /// written.
    pub(crate) fn checkpoint_now(&mut self, now: Instant) {
        self.write_now(now, false);
    }

    /// At shutdown: a checkpoint of the current size if the log has none, and every changed
    /// projection stored, so the next start replays nothing. One write, one flush.
    pub(crate) fn close(&mut self, now: Instant) {
        self.write_now(now, true);
    }

    fn write_now(&mut self, now: Instant, all_projections: bool) {
        let size = self.frontier.size().get();
        if self.failure.is_some() {
            return;
        }
        let root = *self.frontier.root().as_bytes();
        let mut group = CommitGroup {
            size,
            root,
            ..CommitGroup::default()
        };
        let checkpoint = if self.policy.behind(size) {
            self.add_checkpoint(&mut group)
        } else {
            None
        };
        if all_projections && self.snapshot_position != size {
            self.add_snapshots(&mut group);
        }
        if checkpoint.is_none() && group.projection_position.is_none() {
            return;
        }
        let sink = self.sink();
        match sink.write(&group) {
            Ok(()) => {
                self.stored(&group);
                if let Some(checkpoint) = checkpoint {
                    self.policy.signed(checkpoint.size, now);
                    sink.publish(Publication {
                        size,
                        root,
                        states: Vec::new(),
                        checkpoint: Some(checkpoint),
                        position: None,
                    });
                }
            }
            Err(e) => self.store_failed("a checkpoint or the projections", &e),
        }
    }

    fn store_failed(&mut self, what: &str, e: &StoreError) {
        tracing::error!(error = %e, "cannot write {what}");
        let failure = format!("the store failed ({e}); restart the node so it checks the store");
        self.observer.writer_stopped(&failure);
        self.failure = Some(failure);
    }
}

fn appended(judged: &Judged) -> Appended {
    Appended {
        id: judged.id,
        index: judged.index,
        contract: judged.contract.clone(),
        seq: judged.seq,
    }
}

/// The facts the trail filters on, from the ledger just after `event` was admitted.
pub(crate) fn facts_of(ledger: &Ledger, event: &Event) -> EventFacts {
    let state = ledger.contract(event.contract());
    let role = state.and_then(|s| {
        let party = s.key(event.author())?.party();
        s.parties().get(party).map(|p| p.role())
    });
    EventFacts {
        id: *event.id(),
        contract: event.contract().clone(),
        seq: event.seq(),
        kind: event.kind().as_str().to_owned(),
        author: *event.author(),
        role,
        signers: event
            .envelope()
            .signatures()
            .iter()
            .map(|s| *s.keyid())
            .collect(),
        outcomes: state
            .map(|s| outcomes_of(s, event.body()))
            .unwrap_or_default(),
        at: event.payload().at.clone(),
    }
}

/// The outcomes an event is about (sorted, once each).
fn outcomes_of(state: &ContractState, body: &Body) -> Vec<OutcomeId> {
    let claim = |id: &EventId| state.claims().get(id).map(|c| c.outcome().clone());
    let mut outcomes: Vec<OutcomeId> = match body {
        Body::ContractRegistered(b) => b.outcomes.iter().map(|o| o.id.clone()).collect(),
        Body::ContractAmended(b) => b.prices.iter().map(|p| p.outcome.clone()).collect(),
        Body::ClaimSubmitted(b) => vec![b.outcome.clone()],
        Body::ClaimVerified(b) => claim(&b.claim).into_iter().collect(),
        Body::ClaimRejected(b) => claim(&b.claim).into_iter().collect(),
        Body::ClaimDisputed(b) => claim(&b.claim).into_iter().collect(),
        Body::DisputeResolved(b) => state
            .disputes()
            .get(&b.dispute)
            .and_then(|d| claim(d.claim()))
            .into_iter()
            .collect(),
        Body::FeedbackRecorded(b) => b
            .outcome
            .clone()
            .or_else(|| b.claim.as_ref().and_then(claim))
            .into_iter()
            .collect(),
        Body::PaymentMade(b) => b.lines.iter().filter_map(|l| claim(&l.claim)).collect(),
        Body::KeyRotated(_)
        | Body::KeyRevoked(_)
        | Body::KeyEnrolled(_)
        | Body::DistributionMade(_)
        | Body::ContractClosed(_) => Vec::new(),
    };
    outcomes.sort();
    outcomes.dedup();
    outcomes
}

/// The group being written, flushed, published and answered in a thread of its own.
type InFlight = tokio::task::JoinHandle<Result<(), String>>;

/// The writer task: gathers commit groups from the queue until shutdown. Appends are
/// pipelined: while one group is written and flushed (in a thread of its own), the next is
/// gathered and judged; it is written only after the one before is flushed, published and
/// answered, so groups become durable and visible in order.
pub(crate) async fn run<D: Durable>(mut writer: Writer<D>, mut rx: mpsc::Receiver<Message>) {
    let mut in_flight: Option<InFlight> = None;
    loop {
        let message = if let Some(handle) = in_flight.as_mut() {
            tokio::select! {
                biased;
                outcome = handle => {
                    in_flight = None;
                    writer.finished(joined(outcome));
                    continue;
                }
                message = rx.recv() => {
                    // Let the callers just answered queue their next requests: fewer, fuller
                    // groups.
                    tokio::task::yield_now().await;
                    message
                }
            }
        } else {
            match writer.checkpoint_deadline() {
                Some(deadline) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(message) => message,
                    Err(_elapsed) => {
                        let now = Instant::now();
                        let Some((w, ())) = blocking(writer, move |w| w.checkpoint_now(now)).await
                        else {
                            return;
                        };
                        writer = w;
                        continue;
                    }
                },
                None => rx.recv().await,
            }
        };
        let Some(first) = message else {
            // Every sender is gone: write the last checkpoint and projections, and stop.
            land(&mut writer, in_flight.take()).await;
            let now = Instant::now();
            let _ = blocking(writer, move |w| w.close(now)).await;
            return;
        };
        let (requests, tail) = gather(first, &mut rx, writer.settings.group_events_max);
        if tail.is_none() {
            let now = Instant::now();
            let Some((w, prepared)) = blocking(writer, move |w| w.prepare(requests, now)).await
            else {
                // The group in flight, if any, answers its own callers.
                return;
            };
            writer = w;
            land(&mut writer, in_flight.take()).await;
            if let Some(prepared) = prepared {
                match &writer.failure {
                    Some(failure) => prepared.abandon(failure),
                    None => {
                        let sink = writer.sink();
                        in_flight =
                            Some(tokio::task::spawn_blocking(move || prepared.finish(&sink)));
                    }
                }
            }
            continue;
        }
        land(&mut writer, in_flight.take()).await;
        let (stream, shutdown) = match tail {
            Some(Tail::Stream(request)) => (Some(request), None),
            Some(Tail::Shutdown(ack)) => (None, Some(ack)),
            None => (None, None),
        };
        let closing = shutdown.is_some();
        let now = Instant::now();
        let Some((w, ())) = blocking(writer, move |w| {
            if !requests.is_empty() {
                w.process(requests, now);
            }
            if let Some(request) = stream {
                w.apply_stream(request, now);
            }
            if closing {
                w.close(now);
            }
        })
        .await
        else {
            return;
        };
        writer = w;
        if closing {
            if let Some(ack) = shutdown {
                let _ = ack.send(());
            }
            return;
        }
    }
}

/// Everything queued after `first`, up to `events_max` events, stopping at a shutdown or a
/// batch of stream messages (which comes after the requests gathered before it).
fn gather(
    first: Message,
    rx: &mut mpsc::Receiver<Message>,
    events_max: usize,
) -> (Vec<Request>, Option<Tail>) {
    let mut requests = Vec::new();
    let mut events = 0usize;
    let mut next = Some(first);
    while let Some(message) = next.take() {
        match message {
            Message::Shutdown(ack) => return (requests, Some(Tail::Shutdown(ack))),
            Message::Stream(request) => return (requests, Some(Tail::Stream(request))),
            Message::Append(request) => {
                events = events.saturating_add(request.envelopes.len());
                requests.push(request);
            }
        }
        if events < events_max {
            next = rx.try_recv().ok();
        }
    }
    (requests, None)
}

/// Waits for the group in flight, if any, to be written, published and answered.
async fn land<D: Durable>(writer: &mut Writer<D>, in_flight: Option<InFlight>) {
    if let Some(handle) = in_flight {
        writer.finished(joined(handle.await));
    }
}

/// How a group's write ended; a panic stops the writer like a store failure.
fn joined(outcome: Result<Result<(), String>, tokio::task::JoinError>) -> Result<(), String> {
    outcome.unwrap_or_else(|e| {
        tracing::error!(error = %e, "the group writer panicked; appends are refused until restart");
        Err(format!(
            "the group writer panicked ({e}); restart the node so it checks the store"
        ))
    })
}

/// Runs `work` on the writer in a blocking thread; `None` if it panicked (the writer is lost,
/// and every caller waiting on it gets 503).
async fn blocking<D, R, F>(writer: Writer<D>, work: F) -> Option<(Writer<D>, R)>
where
    D: Durable,
    R: Send + 'static,
    F: FnOnce(&mut Writer<D>) -> R + Send + 'static,
{
    let joined = tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        let result = work(&mut writer);
        (writer, result)
    })
    .await;
    match joined {
        Ok(done) => Some(done),
        Err(e) => {
            tracing::error!(error = %e, "the writer panicked; appends are refused until restart");
            None
        }
    }
}

/// Re-admits the log entries `[from, to)` into `ledger` (after restoring a snapshot at
/// `from`), verifying every signature; returns the contracts they touched.
///
/// # Errors
/// [`StoreError::Corrupt`] naming the first entry that does not decode, is refused, or lands
/// at another index than the log's.
pub(crate) fn replay(
    ledger: &mut Ledger,
    store: &Store,
    from: u64,
    to: u64,
) -> Result<BTreeSet<ContractId>, StoreError> {
    let mut touched = BTreeSet::new();
    replay_chunks(ledger, store, from, to, |_, chunk| {
        touched.extend(chunk.iter().map(|(_, event)| event.contract().clone()));
        Ok(())
    })?;
    Ok(touched)
}

/// Log entries replayed at a time.
const REPLAY_CHUNK_EVENTS: usize = 1024;

/// [`replay`], handing each chunk of admitted `(index, event)` to `on_chunk` with the ledger
/// just after the chunk.
///
/// # Errors
/// As [`replay`], and whatever `on_chunk` returns.
pub(crate) fn replay_chunks<F>(
    ledger: &mut Ledger,
    store: &Store,
    from: u64,
    to: u64,
    mut on_chunk: F,
) -> Result<(), StoreError>
where
    F: FnMut(&Ledger, &[(u64, Event)]) -> Result<(), StoreError>,
{
    let mut next = from;
    while next < to {
        let entries = store.log_range(next, to, REPLAY_CHUNK_EVENTS)?;
        let Some((last, _)) = entries.last() else {
            return Err(StoreError::Corrupt(format!("log entry {next} is missing")));
        };
        next = last.saturating_add(1);
        let chunk = readmit(ledger, &entries)?;
        on_chunk(ledger, &chunk)?;
    }
    Ok(())
}

/// Decodes, verifies and admits stored entries, each at its own index.
fn readmit(
    ledger: &mut Ledger,
    entries: &[(u64, Vec<u8>)],
) -> Result<Vec<(u64, Event)>, StoreError> {
    let mut events = Vec::with_capacity(entries.len());
    for (index, bytes) in entries {
        let event = Ledger::decode(bytes)
            .map_err(|r| StoreError::Corrupt(format!("log entry {index} does not decode: {r}")))?;
        if event.leaf() != *bytes {
            return Err(StoreError::Corrupt(format!(
                "log entry {index} is not the RFC 8785 form of its envelope"
            )));
        }
        events.push(event);
    }
    let verdicts = ledger.check_signatures(&events, SIGNATURE_THREADS);
    let mut out = Vec::with_capacity(events.len());
    for ((index, _), (event, verdict)) in entries.iter().zip(events.into_iter().zip(&verdicts)) {
        let admitted = ledger.admit(&event, verdict).map_err(|r| {
            StoreError::Corrupt(format!("log entry {index} is refused on replay: {r}"))
        })?;
        if admitted.index != *index {
            return Err(StoreError::Corrupt(format!(
                "log entry {index} replays at index {}: the log has a gap",
                admitted.index
            )));
        }
        out.push((*index, event));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::config::{Config, Settings};
    use crate::service::{NoObserver, Node};
    use crate::testkit::{self, ContractKit};

    /// The store, with each flush announced and then held until the test releases it.
    struct GatedStore {
        store: Store,
        flushes: Arc<AtomicUsize>,
        started: mpsc::UnboundedSender<usize>,
        release: Mutex<std::sync::mpsc::Receiver<()>>,
    }

    impl Durable for GatedStore {
        fn commit(&self, group: &CommitGroup) -> Result<(), StoreError> {
            self.store.commit(group)
        }
        fn flush(&self) -> Result<(), StoreError> {
            let number = self.flushes.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = self.started.send(number);
            let release = self.release.lock().unwrap_or_else(|p| p.into_inner());
            release
                .recv()
                .map_err(|_| StoreError::Storage("test released no flush".into()))?;
            self.store.flush()
        }
    }

    /// Yields until `condition` holds; panics past a 30-second deadline (no sleeping).
    async fn wait_until(mut condition: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !condition() {
            assert!(
                std::time::Instant::now() < deadline,
                "condition not reached in 30 s"
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledges_only_after_the_flush_and_groups_queued_appends() {
        let dir = tempfile::tempdir().unwrap();
        let flushes = Arc::new(AtomicUsize::new(0));
        let (started, mut flush_started) = mpsc::unbounded_channel();
        let (release, release_receiver) = std::sync::mpsc::channel();
        let gate = Mutex::new(release_receiver);
        let counter = Arc::clone(&flushes);
        let wrap = move |store| GatedStore {
            store,
            flushes: counter,
            started,
            release: gate,
        };
        let config = testkit::config(dir.path(), 3_600_000);
        let node: Node = crate::open::open(&config, Arc::new(NoObserver), wrap)
            .await
            .unwrap();

        let mut kits: Vec<ContractKit> = ["g-a", "g-b", "g-c", "g-d"]
            .into_iter()
            .map(ContractKit::new)
            .collect();
        let envelopes: Vec<Vec<u8>> = kits.iter_mut().map(ContractKit::registration).collect();
        let first = tokio::spawn({
            let node = node.clone();
            let envelope = envelopes[0].clone();
            async move { node.append(vec![envelope]).await }
        });
        assert_eq!(flush_started.recv().await, Some(1));
        // The flush is held: no answer yet, and readers do not see the event.
        assert!(!first.is_finished());
        assert_eq!(
            (node.info().log_size, node.log(0, 10).unwrap().len()),
            (0, 0)
        );
        // The next group is judged while that flush is held: a copy of the unwritten event is
        // answered as a duplicate at once; then the writer waits for the flush.
        let again = node.append(vec![envelopes[0].clone()]).await;
        assert!(
            matches!(again[..], [Err(AppendError::Duplicate { index: 0, .. })]),
            "{again:?}"
        );
        assert!(!first.is_finished());

        let queued: Vec<_> = envelopes[1..]
            .iter()
            .map(|envelope| {
                let (node, envelope) = (node.clone(), envelope.clone());
                tokio::spawn(async move { node.append(vec![envelope]).await })
            })
            .collect();
        wait_until(|| node.queued() == 3).await;
        release.send(()).unwrap();
        assert_eq!(
            first.await.unwrap()[0].as_ref().map(|a| a.index).ok(),
            Some(0)
        );
        // The three queued appends form one group: one more flush for all of them.
        assert_eq!(flush_started.recv().await, Some(2));
        release.send(()).unwrap();
        let mut indexes = Vec::new();
        for task in queued {
            indexes.push(task.await.unwrap()[0].as_ref().map(|a| a.index).unwrap());
        }
        indexes.sort_unstable();
        assert_eq!(indexes, [1, 2, 3]);
        assert_eq!(flushes.load(Ordering::SeqCst), 2);
        assert_eq!(node.log(0, 10).unwrap().len(), 4);
        // Shutdown writes the last checkpoint (size 4) with one more flush.
        release.send(()).unwrap();
        node.shutdown().await;
        assert_eq!(flushes.load(Ordering::SeqCst), 3);
        assert_eq!(node.latest_checkpoint().map(|c| c.size), Some(4));
    }

    /// A node configuration on `dir` with these checkpoint and snapshot intervals.
    fn config_with(dir: &std::path::Path, interval_ms: u64, snapshot_events: u64) -> Config {
        let settings = Settings {
            data_dir: Some(dir.to_owned()),
            checkpoint_interval_ms: Some(interval_ms),
            snapshot_interval_events: Some(snapshot_events),
            ..Settings::default()
        };
        Config::resolve(settings).unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_killed_node_replays_the_log_past_its_projection_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut kit = ContractKit::new("replay");
        let config = config_with(dir.path(), 3_600_000, 1);
        let first = runtime();
        let (node, root, state) = first.block_on(async {
            let node = Node::open(&config, Arc::new(NoObserver)).await.unwrap();
            // The first group is checkpointed (and, one event past none, its projection
            // stored) at once; the next ones wait for the interval, an hour away.
            assert!(node.append(vec![kit.registration()]).await[0].is_ok());
            assert!(node
                .append(vec![kit.claim(1), kit.claim(2)])
                .await
                .iter()
                .all(Result::is_ok));
            let (root, state) = (node.info().root, node.contract(kit.id()).unwrap());
            (node, root, state)
        });
        // The runtime goes first, cancelling the writer as SIGKILL would: no last checkpoint.
        drop(first);
        drop(node);
        let opened =
            crate::store::schema::open_checked(dir.path(), config.cache_bytes_max()).unwrap();
        assert_eq!((opened.size, opened.projection_position), (3, 1));
        drop(opened);
        runtime().block_on(async {
            let node = Node::open(&config, Arc::new(NoObserver)).await.unwrap();
            assert_eq!(node.info().root, root);
            assert_eq!(node.contract(kit.id()).unwrap(), state);
            assert_eq!(
                node.append(vec![kit.claim(3)]).await[0]
                    .as_ref()
                    .map(|a| a.seq)
                    .ok(),
                Some(3)
            );
            node.shutdown().await;
        });
    }

    #[test]
    fn projections_are_stored_every_snapshot_interval_and_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let mut kit = ContractKit::new("snapshots");
        // Every group is checkpointed; projections are stored once 3 events came since.
        let config = config_with(dir.path(), 0, 3);
        let positions = |config: &Config| {
            let opened =
                crate::store::schema::open_checked(dir.path(), config.cache_bytes_max()).unwrap();
            let latest = opened.store.latest_checkpoint(u64::MAX).unwrap();
            (opened.size, opened.projection_position, latest.map(|c| c.0))
        };
        let first = runtime();
        let (node, state) = first.block_on(async {
            let node = Node::open(&config, Arc::new(NoObserver)).await.unwrap();
            for group in [
                vec![kit.registration()],
                vec![kit.claim(1), kit.claim(2)],
                vec![kit.claim(3)],
            ] {
                assert!(node.append(group).await.iter().all(Result::is_ok));
            }
            let state = node.contract(kit.id()).unwrap();
            (node, state)
        });
        // Killed: checkpoints at sizes 1, 3 and 4, projections only at 3 (1 and 4 were fewer
        // than 3 events past the last snapshot).
        drop(first);
        drop(node);
        assert_eq!(positions(&config), (4, 3, Some(4)));
        runtime().block_on(async {
            let node = Node::open(&config, Arc::new(NoObserver)).await.unwrap();
            assert_eq!(node.contract(kit.id()).unwrap(), state);
            node.shutdown().await;
        });
        // A graceful stop stores the projections of the whole log.
        assert_eq!(positions(&config), (4, 4, Some(4)));
    }
}
