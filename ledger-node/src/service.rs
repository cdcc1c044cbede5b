//! The node's in-process API: what the HTTP layer (and tests) call. Everything here is cheap
//! to clone, `Send + Sync`, and free of sled and axum types.
//!
//! Writes go through [`Node::append`], which queues the envelopes to the one group-commit
//! writer and returns only after the group they landed in is flushed to disk. Reads see only
//! committed, flushed state.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledger_core::merkle::{self, LeafIndex, ProveError, TreeSize};
use proto::{ContractId, EventId, KeyId, Kind, OutcomeId, Role, Timestamp};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::append::{Message, Request};
use crate::config::{Config, Limits};
use crate::health::{Unready, WriterState};
use crate::replication::{Replication, ReplicationStatus};
use crate::store::{EventFacts, RefusedMessage, Store};

/// A 32-byte SHA-256 hash (a Merkle node, root or leaf hash).
pub type Hash = [u8; 32];

pub use ledger_core::ContractState;

/// A running node: the store, the projections, the writer and the node key.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    view: Arc<ViewCell>,
    sender: mpsc::Sender<Message>,
    writer: Mutex<Option<JoinHandle<()>>>,
    origin: String,
    verifier_key: String,
    limits: Limits,
    /// The replicated ledger this node follows (`None`: standalone).
    replication: Option<Replication>,
    /// Why the writer stopped, once it did.
    writer_state: Arc<WriterState>,
    /// Set when [`Node::shutdown`] begins.
    stopping: AtomicBool,
    /// Contract summaries built by [`Node::contracts`] (tests count what a request reads).
    #[cfg(test)]
    listed: std::sync::atomic::AtomicUsize,
}

/// What readers see: the state after the last flushed commit group.
pub(crate) struct View {
    pub(crate) size: u64,
    pub(crate) root: Hash,
    pub(crate) contracts: Arc<BTreeMap<ContractId, Arc<ContractState>>>,
    pub(crate) latest: Option<SignedCheckpoint>,
    /// The last stream sequence applied (replicated ledgers; 0 standalone).
    pub(crate) position: u64,
}

/// The published [`View`], swapped whole by the writer after each flush; replication waits on
/// its changes.
pub(crate) struct ViewCell(watch::Sender<Arc<View>>);

impl ViewCell {
    pub(crate) fn new(view: View) -> Self {
        Self(watch::Sender::new(Arc::new(view)))
    }

    pub(crate) fn get(&self) -> Arc<View> {
        Arc::clone(&self.0.borrow())
    }

    pub(crate) fn set(&self, view: View) {
        self.0.send_replace(Arc::new(view));
    }

    /// A receiver told of every view set from now on.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<View>> {
        self.0.subscribe()
    }
}

/// Receives the node's measurements (the HTTP layer's metrics implement it).
pub trait Observer: Send + Sync + 'static {
    /// `count` events were appended and are durable.
    fn appended(&self, count: u64);
    /// An event was refused, with the refusal's stable code.
    fn refused(&self, code: &'static str);
    /// A commit group of `events` events was flushed; the flush took `flush`.
    fn flushed(&self, events: usize, flush: Duration);
    /// The log now holds `size` events.
    fn log_size(&self, size: u64);
    /// The writer stopped taking appends for `failure` (a store write or flush failed); only a
    /// restart brings it back.
    fn writer_stopped(&self, _failure: &str) {}
}

/// An [`Observer`] that records nothing (for `rebuild` and tests).
#[derive(Clone, Copy, Debug)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn appended(&self, _count: u64) {}
    fn refused(&self, _code: &'static str) {}
    fn flushed(&self, _events: usize, _flush: Duration) {}
    fn log_size(&self, _size: u64) {}
}

/// An event appended: durable when this is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The event id.
    pub id: EventId,
    /// Its global index in the log (its Merkle leaf index).
    pub index: u64,
    /// Its contract.
    pub contract: ContractId,
    /// Its position in the contract's stream.
    pub seq: u64,
}

/// How an API should answer a refusal (the HTTP status in parentheses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalClass {
    /// Malformed or non-canonical (400).
    Malformed,
    /// A signature that does not verify (401).
    BadSignature,
    /// Wrong role, a required signature missing, a revoked key (403).
    Forbidden,
    /// A seq/prev conflict (409).
    Conflict,
    /// Over a size limit (413).
    TooLarge,
    /// A contract rule broken (422).
    RuleBroken,
}

impl RefusalClass {
    /// The HTTP status this class maps to.
    pub fn status(self) -> u16 {
        match self {
            Self::Malformed => 400,
            Self::BadSignature => 401,
            Self::Forbidden => 403,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::RuleBroken => 422,
        }
    }
}

/// Why an event was refused: a class, a stable code (the RFC 9457 `type` suffix) and a human
/// explanation that says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    class: RefusalClass,
    code: &'static str,
    detail: String,
}

impl Refusal {
    /// A refusal.
    pub fn new(class: RefusalClass, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            class,
            code,
            detail: detail.into(),
        }
    }
    /// Its class.
    pub fn class(&self) -> RefusalClass {
        self.class
    }
    /// Its stable code, e.g. `non-canonical`, `bad-signature`, `seq-conflict`, `over-cap`.
    pub fn code(&self) -> &'static str {
        self.code
    }
    /// The human explanation.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// Why one event of an append was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The event breaks a format or contract rule; nothing was stored.
    #[error("{}: {}", .0.code(), .0.detail())]
    Rejected(Refusal),
    /// The event is already in the log (409).
    #[error("event {id} is already in the log at index {index}")]
    Duplicate {
        /// The event id.
        id: EventId,
        /// Where it is.
        index: u64,
    },
    /// The node cannot take writes now (shutting down, or its store failed) (503).
    #[error("node unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected storage failure (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppendError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Rejected(r) => r.code(),
            Self::Duplicate { .. } => "duplicate",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// A read of the store failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Stored data is not what the node wrote (a record that does not decode, a gap).
    #[error("store is corrupt: {0}; stop the node and run `ledger-node rebuild`")]
    Corrupt(String),
    /// A feature this build does not serve (kept for the HTTP mapping; no longer produced).
    #[error("not available: {0}")]
    NotYet(&'static str),
}

impl StoreError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Storage(_) => "storage",
            Self::Corrupt(_) => "corrupt",
            Self::NotYet(_) => "not-yet",
        }
    }
}

/// A proof request that cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofRequestError {
    /// `size` is 0 or over the log size (client error, 400).
    #[error("tree size {size} is not between 1 and the log size {log_size}")]
    SizeOutOfRange {
        /// Size asked.
        size: u64,
        /// Current log size.
        log_size: u64,
    },
    /// `index` is not below `size` (client error, 400).
    #[error("leaf index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// Index asked.
        index: u64,
        /// Tree size asked.
        size: u64,
    },
    /// `from` is 0 or over `to` (client error, 400).
    #[error("consistency needs 1 <= from <= to, got from {from} and to {to}")]
    BadRange {
        /// Older size.
        from: u64,
        /// Newer size.
        to: u64,
    },
    /// Reading the tree failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProofRequestError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SizeOutOfRange { .. } => "size-out-of-range",
            Self::IndexOutOfRange { .. } => "index-out-of-range",
            Self::BadRange { .. } => "bad-range",
            Self::Store(e) => e.code(),
        }
    }
}

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event id.
    pub id: EventId,
    /// Its global index.
    pub index: u64,
    /// Its contract.
    pub contract: ContractId,
    /// Its position in the contract's stream.
    pub seq: u64,
    /// Its kind.
    pub kind: Kind,
    /// The author's key id.
    pub author: KeyId,
    /// When the author says it happened.
    pub at: Timestamp,
    /// The envelope as stored: RFC 8785 JSON bytes (the Merkle leaf data).
    pub envelope: Vec<u8>,
}

/// A line of the contract list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractSummary {
    /// The contract id.
    pub id: ContractId,
    /// Its title.
    pub title: String,
    /// Events in its stream (the next seq).
    pub events: u64,
    /// Id of its last event.
    pub head: EventId,
    /// Whether `contract.closed` was recorded.
    pub closed: bool,
}

fn summary(state: &ContractState) -> ContractSummary {
    ContractSummary {
        id: state.id().clone(),
        title: state.title().as_str().to_owned(),
        events: state.events(),
        head: state.head().id,
        closed: state.closed().is_some(),
    }
}

/// What a trail query selects. Every `Some` must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrailFilter {
    /// Events of this contract.
    pub contract: Option<ContractId>,
    /// Events authored or signed by this key.
    pub party: Option<KeyId>,
    /// Events whose author held this role (at the time of the event).
    pub role: Option<Role>,
    /// Events of this kind.
    pub kind: Option<Kind>,
    /// Events about this outcome (claims of it, their verification, disputes, payment lines,
    /// feedback naming it, amendments repricing it).
    pub outcome: Option<OutcomeId>,
    /// Events with `at` at or after this instant.
    pub since: Option<Timestamp>,
    /// Events with `at` before this instant.
    pub until: Option<Timestamp>,
}

/// A page of trail results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailPage {
    /// Matching events in global order.
    pub events: Vec<StoredEvent>,
    /// Global index to resume from, if the log was not exhausted.
    pub next_cursor: Option<u64>,
}

/// A signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The C2SP signed note text (`text/plain`).
    pub note: String,
}

/// The node's identity and log head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Checkpoint origin (first line of every checkpoint).
    pub origin: String,
    /// The node's signed-note verifier key string (`origin+keyhash+base64`).
    pub verifier_key: String,
    /// Current log size.
    pub log_size: u64,
    /// Current root hash.
    pub root: Hash,
}

impl Node {
    /// Opens the store in `config.data_dir()` (creating it and the node key on first start),
    /// verifies its tail, loads the projections (replaying the log past the last snapshot) and
    /// starts the group-commit writer.
    ///
    /// # Errors
    /// If the store cannot be opened or fails its checks (the message says where and what), or
    /// the node key cannot be loaded.
    pub async fn open(config: &Config, observer: Arc<dyn Observer>) -> anyhow::Result<Node> {
        crate::open::open(config, observer, |store| store).await
    }

    pub(crate) fn start(parts: crate::open::Started) -> Node {
        let crate::open::Started {
            store,
            view,
            sender,
            writer,
            origin,
            verifier_key,
            limits,
            replication,
            writer_state,
        } = parts;
        let inner = Inner {
            store,
            view,
            sender,
            writer: Mutex::new(Some(writer)),
            origin,
            verifier_key,
            limits,
            replication,
            writer_state,
            stopping: AtomicBool::new(false),
            #[cfg(test)]
            listed: std::sync::atomic::AtomicUsize::new(0),
        };
        Node {
            inner: Arc::new(inner),
        }
    }

    /// Requests waiting for the writer (test support).
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.inner.sender.max_capacity() - self.inner.sender.capacity()
    }

    /// The store (test support: the simulation reads it to check its invariants).
    #[cfg(test)]
    pub(crate) fn store_for_test(&self) -> &Store {
        &self.inner.store
    }

    /// The writer's queue (test support: the simulation sends it stream batches).
    #[cfg(test)]
    pub(crate) fn writer_for_test(&self) -> mpsc::Sender<Message> {
        self.inner.sender.clone()
    }

    /// Appends envelopes (JSON bytes each), each judged on its own and in order. Returns after
    /// the commit group holding them is flushed to disk: an `Ok` is durable.
    pub async fn append(&self, envelopes: Vec<Vec<u8>>) -> Vec<Result<Appended, AppendError>> {
        let count = envelopes.len();
        let unavailable = |why: &str| {
            (0..count)
                .map(|_| Err(AppendError::Unavailable(why.to_owned())))
                .collect()
        };
        if count == 0 {
            return Vec::new();
        }
        if let Some(replication) = &self.inner.replication {
            return replication.append(envelopes).await;
        }
        let (reply, answer) = oneshot::channel();
        let request = Message::Append(Request { envelopes, reply });
        if self.inner.sender.send(request).await.is_err() {
            return unavailable("the node is shutting down");
        }
        match answer.await {
            Ok(answers) if answers.len() == count => answers,
            Ok(_) => unavailable("the writer answered the wrong number of results"),
            Err(_) => unavailable(
                "the writer stopped before answering; the events may or may not be stored",
            ),
        }
    }

    /// The event with this id.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn event(&self, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let size = self.inner.view.get().size;
        match self.inner.store.index_of(id, size)? {
            Some(index) => self.inner.store.event_at(index).map(Some),
            None => Ok(None),
        }
    }

    /// Up to `limit` (at most the configured `page_size_max` + 1) events in global order from
    /// index `from`.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn log(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let size = self.inner.view.get().size;
        let limit = limit.min(self.page_limit());
        let entries = self.inner.store.log_range(from, size, limit)?;
        entries
            .into_iter()
            .map(|(index, envelope)| self.inner.store.stored(index, envelope))
            .collect()
    }

    /// Every contract, by id.
    pub fn contracts(&self) -> Vec<ContractSummary> {
        let view = self.inner.view.get();
        #[cfg(test)]
        self.inner
            .listed
            .fetch_add(view.contracts.len(), std::sync::atomic::Ordering::Relaxed);
        view.contracts
            .values()
            .map(|state| summary(state))
            .collect()
    }

    /// Up to `limit` contracts in id order, after `after` (from the first if `None`).
    pub fn contracts_after(
        &self,
        after: Option<&ContractId>,
        limit: usize,
    ) -> Vec<ContractSummary> {
        use std::ops::Bound;
        let view = self.inner.view.get();
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        view.contracts
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(_, state)| summary(state))
            .collect()
    }

    /// The head of one contract's stream: its event count (the next seq) and last event id;
    /// `None` if no contract has this id. Reads the published view only (no store read).
    pub fn contract_head(&self, id: &ContractId) -> Option<(u64, EventId)> {
        let view = self.inner.view.get();
        view.contracts
            .get(id)
            .map(|state| (state.events(), state.head().id))
    }

    /// Contract summaries [`Node::contracts`] has built so far (test support).
    #[cfg(test)]
    pub(crate) fn listed(&self) -> usize {
        self.inner.listed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A contract's projection.
    pub fn contract(&self, id: &ContractId) -> Option<ContractState> {
        self.inner
            .view
            .get()
            .contracts
            .get(id)
            .map(|state| (**state).clone())
    }

    /// Up to `limit` (at most `page_size_max` + 1) events of a contract's stream from `from_seq`.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn contract_events(
        &self,
        id: &ContractId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let size = self.inner.view.get().size;
        let limit = limit.min(self.page_limit());
        let indexes = self.inner.store.stream_indexes(id, from_seq, limit, size)?;
        indexes
            .into_iter()
            .map(|index| self.inner.store.event_at(index))
            .collect()
    }

    /// Up to `limit` (at most `page_size_max` + 1) events matching `filter`, in global order from
    /// index `cursor` (0 if `None`). A page also ends after examining `trail_scan_events_max`
    /// log entries; `next_cursor` then says where to resume (`None`: the log is exhausted).
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn trail(
        &self,
        filter: &TrailFilter,
        cursor: Option<u64>,
        limit: usize,
    ) -> Result<TrailPage, StoreError> {
        let size = self.inner.view.get().size;
        let limit = limit.min(self.page_limit());
        let scan_end = cursor
            .unwrap_or(0)
            .saturating_add(self.inner.limits.trail_scan_events_max() as u64)
            .min(size);
        let mut events = Vec::new();
        let mut position = cursor.unwrap_or(0);
        while position < scan_end && events.len() < limit {
            let facts = self
                .inner
                .store
                .facts_range(position, scan_end, SCAN_CHUNK_EVENTS)?;
            let Some((last, _)) = facts.last() else { break };
            position = last.saturating_add(1);
            for (index, facts) in facts {
                if events.len() == limit {
                    position = index;
                    break;
                }
                if filter.matches(&facts) {
                    events.push(self.inner.store.event_at(index)?);
                }
            }
        }
        let next_cursor = (position < size).then_some(position);
        Ok(TrailPage {
            events,
            next_cursor,
        })
    }

    /// The latest signed checkpoint, if the log has one.
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        if let Some(replication) = &self.inner.replication {
            match replication.latest_checkpoint() {
                Ok(checkpoint) => return checkpoint,
                Err(e) => tracing::error!(error = %e, "cannot read the cosigned checkpoint"),
            }
        }
        self.inner.view.get().latest.clone()
    }

    /// The checkpoint signed at tree size `size`, if one was.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, StoreError> {
        if let Some(replication) = &self.inner.replication {
            return replication.checkpoint_at(size);
        }
        let view = self.inner.view.get();
        if size > view.latest.as_ref().map_or(0, |c| c.size) {
            return Ok(None);
        }
        let Some(note) = self.inner.store.checkpoint(size)? else {
            return Ok(None);
        };
        let root = merkle::root(&self.inner.store.node_source(), TreeSize::new(size))?;
        Ok(Some(SignedCheckpoint {
            size,
            root: *root.as_bytes(),
            note,
        }))
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of size `size`.
    ///
    /// # Errors
    /// [`ProofRequestError`]: out-of-range arguments, or a store failure.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofRequestError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofRequestError::IndexOutOfRange { index, size });
        }
        let source = self.inner.store.node_source();
        let proof = merkle::inclusion_proof(&source, LeafIndex::new(index), TreeSize::new(size));
        proof.map(hashes).map_err(prove_error)
    }

    /// The RFC 9162 consistency proof between tree sizes `from` and `to`.
    ///
    /// # Errors
    /// [`ProofRequestError`]: out-of-range arguments, or a store failure.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, ProofRequestError> {
        self.check_size(to)?;
        if from == 0 || from > to {
            return Err(ProofRequestError::BadRange { from, to });
        }
        let source = self.inner.store.node_source();
        let proof = merkle::consistency_proof(&source, TreeSize::new(from), TreeSize::new(to));
        proof.map(hashes).map_err(prove_error)
    }

    /// The most a read returns: one past `page_size_max`, so a caller asking for one more
    /// than its page learns whether a next page exists.
    fn page_limit(&self) -> usize {
        self.inner.limits.page_size_max().saturating_add(1)
    }

    fn check_size(&self, size: u64) -> Result<(), ProofRequestError> {
        let log_size = self.inner.view.get().size;
        if size == 0 || size > log_size {
            return Err(ProofRequestError::SizeOutOfRange { size, log_size });
        }
        Ok(())
    }

    /// Origin, verifier key, log size and root.
    pub fn info(&self) -> NodeInfo {
        let view = self.inner.view.get();
        NodeInfo {
            origin: self.inner.origin.clone(),
            verifier_key: self.inner.verifier_key.clone(),
            log_size: view.size,
            root: view.root,
        }
    }

    /// Waits until the log holds more than `size` events and returns its size then (how a
    /// tool or benchmark sees a replicated node apply the stream); `size` itself if the node
    /// stops first.
    pub async fn log_size_above(&self, size: u64) -> u64 {
        let mut views = self.inner.view.subscribe();
        let reached = views.wait_for(|view| view.size > size).await;
        reached.map_or(size, |view| view.size)
    }

    /// The replicated ledger this node follows and where it stands (`None`: standalone).
    pub fn replication_status(&self) -> Option<ReplicationStatus> {
        let replication = self.inner.replication.as_ref()?;
        Some(replication.status(self.inner.view.get().position))
    }

    /// Up to `limit` (at most `page_size_max`) messages of the ledger's stream that every node
    /// refused, from stream sequence `from` (always empty on a standalone node).
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn refused(&self, from: u64, limit: usize) -> Result<Vec<RefusedMessage>, StoreError> {
        let limit = limit.min(self.page_limit());
        let position = self.inner.view.get().position;
        let mut refused = self.inner.store.refused(from, limit)?;
        refused.retain(|r| r.sequence <= position);
        Ok(refused)
    }

    /// Whether the node can do its job at all (`/healthz`): `Err` once the writer stopped
    /// taking appends (a store write or flush failed, or the writer task ended before
    /// [`Node::shutdown`]). See [`crate::health`].
    ///
    /// # Errors
    /// [`Unready::WriterStopped`], saying why and what to do.
    pub fn health(&self) -> Result<(), Unready> {
        if let Some(failure) = self.inner.writer_state.failure() {
            return Err(Unready::WriterStopped(failure.to_owned()));
        }
        if self.inner.sender.is_closed() && !self.inner.stopping.load(Ordering::SeqCst) {
            return Err(Unready::WriterStopped(
                "the writer task ended unexpectedly (its log says why); restart the node so it \
                 checks the store"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether the node should be sent traffic now (`/readyz`): healthy, not shutting down,
    /// and on a replicated ledger linked to JetStream and caught up with the stream as it
    /// stood when the node linked. See [`crate::health`].
    ///
    /// # Errors
    /// The first [`Unready`] reason found.
    pub fn readiness(&self) -> Result<(), Unready> {
        self.health()?;
        if self.inner.stopping.load(Ordering::SeqCst) || self.inner.sender.is_closed() {
            return Err(Unready::ShuttingDown);
        }
        match &self.inner.replication {
            Some(replication) => replication.readiness(self.inner.view.get().position),
            None => Ok(()),
        }
    }

    /// Stops taking appends, finishes those queued before, writes the last checkpoint and
    /// flushes. Appends after it answer `Unavailable`. Calling it again does nothing.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        if let Some(replication) = &self.inner.replication {
            replication.stop().await;
        }
        let (ack, done) = oneshot::channel();
        if self.inner.sender.send(Message::Shutdown(ack)).await.is_ok() {
            let _ = done.await;
        }
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
    }
}

/// Log entries read at a time by a trail scan.
const SCAN_CHUNK_EVENTS: usize = 256;

impl TrailFilter {
    fn matches(&self, facts: &EventFacts) -> bool {
        self.contract.as_ref().is_none_or(|c| *c == facts.contract)
            && self
                .party
                .as_ref()
                .is_none_or(|p| facts.author == *p || facts.signers.contains(p))
            && self.role.is_none_or(|r| facts.role == Some(r))
            && self.kind.is_none_or(|k| k.as_str() == facts.kind)
            && self
                .outcome
                .as_ref()
                .is_none_or(|o| facts.outcomes.contains(o))
            && self.since.as_ref().is_none_or(|s| facts.at >= *s)
            && self.until.as_ref().is_none_or(|u| facts.at < *u)
    }
}

fn hashes(proof: Vec<merkle::Hash>) -> Vec<Hash> {
    proof.into_iter().map(|h| *h.as_bytes()).collect()
}

fn prove_error<E: std::error::Error>(e: ProveError<E>) -> ProofRequestError {
    match e {
        ProveError::Proof(p) => {
            ProofRequestError::Store(StoreError::Corrupt(format!("proof arguments: {p}")))
        }
        ProveError::Source(s) => ProofRequestError::Store(StoreError::Corrupt(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, ContractKit};
    use ledger_core::merkle::{leaf_hash, verify_consistency, verify_inclusion};

    fn ok(results: Vec<Result<Appended, AppendError>>) -> Vec<Appended> {
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("refused: {e}")))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_survive_a_restart_and_proofs_verify() {
        let dir = tempfile::tempdir().unwrap();
        let mut kit = ContractKit::new("housing-1");
        let sent = vec![kit.registration(), kit.claim(1), kit.claim(2), kit.claim(3)];
        let node = testkit::open(dir.path()).await;
        let appended = ok(node.append(sent.clone()).await);
        assert_eq!(
            appended.iter().map(|a| a.index).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            appended.iter().map(|a| a.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        let before = node.info();
        let state = node.contract(kit.id()).unwrap();
        node.shutdown().await;
        drop(node);

        let node = testkit::open(dir.path()).await;
        let info = node.info();
        assert_eq!((info.log_size, info.root), (4, before.root));
        assert_eq!(node.contract(kit.id()).unwrap(), state);
        let log = node.log(0, 100).unwrap();
        // Sent bytes were already RFC 8785, so they are stored byte for byte.
        assert_eq!(
            log.iter().map(|e| e.envelope.clone()).collect::<Vec<_>>(),
            sent
        );
        let second = node.event(&appended[1].id).unwrap().unwrap();
        assert_eq!(
            (second.index, second.seq, second.kind),
            (1, 1, Kind::ClaimSubmitted)
        );
        // The shutdown signed a checkpoint of the whole log.
        let checkpoint = node.latest_checkpoint().unwrap();
        assert_eq!((checkpoint.size, checkpoint.root), (4, info.root));
        assert_eq!(node.checkpoint_at(4).unwrap(), Some(checkpoint));
        check_proofs(&node, &sent, &info.root);
        node.shutdown().await;
    }

    fn check_proofs(node: &Node, sent: &[Vec<u8>], root: &Hash) {
        let root = merkle::Hash::from_bytes(*root);
        for (index, envelope) in sent.iter().enumerate() {
            let proof: Vec<merkle::Hash> = node
                .inclusion_proof(index as u64, 4)
                .unwrap()
                .into_iter()
                .map(merkle::Hash::from_bytes)
                .collect();
            verify_inclusion(
                &leaf_hash(envelope),
                LeafIndex::new(index as u64),
                TreeSize::new(4),
                &proof,
                &root,
            )
            .unwrap();
        }
        let old_root = merkle::root(
            &merkle::MemoryTree::from_leaf_hashes(sent[..2].iter().map(|e| leaf_hash(e))),
            TreeSize::new(2),
        )
        .unwrap();
        let proof: Vec<merkle::Hash> = node
            .consistency_proof(2, 4)
            .unwrap()
            .into_iter()
            .map(merkle::Hash::from_bytes)
            .collect();
        verify_consistency(TreeSize::new(2), TreeSize::new(4), &proof, &old_root, &root).unwrap();
        assert_eq!(
            node.inclusion_proof(4, 4).unwrap_err().code(),
            "index-out-of-range"
        );
        assert_eq!(
            node.inclusion_proof(0, 5).unwrap_err().code(),
            "size-out-of-range"
        );
        assert_eq!(
            node.consistency_proof(3, 2).unwrap_err().code(),
            "bad-range"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_events_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut kit = ContractKit::new("housing-2");
        let registration = kit.registration();
        let node = testkit::open(dir.path()).await;
        ok(node.append(vec![registration.clone()]).await);
        let forged = kit.forged_claim();
        let good = kit.claim(1);
        let results = node
            .append(vec![
                forged.clone(),
                registration.clone(),
                b"{}".to_vec(),
                good.clone(),
                good.clone(),
            ])
            .await;
        let code = |r: &Result<Appended, AppendError>| r.as_ref().err().map(AppendError::code);
        match &results[0] {
            Err(AppendError::Rejected(refusal)) => {
                assert_eq!(refusal.class(), RefusalClass::BadSignature)
            }
            other => panic!("forged claim answered {other:?}"),
        }
        assert!(matches!(
            results[1],
            Err(AppendError::Duplicate { index: 0, .. })
        ));
        assert!(
            matches!(&results[2], Err(AppendError::Rejected(r)) if r.class() == RefusalClass::Malformed)
        );
        // The good claim is judged on its own, after the refusals; its copy is a duplicate.
        assert_eq!(results[3].as_ref().map(|a| a.index).ok(), Some(1));
        assert!(
            matches!(results[4], Err(AppendError::Duplicate { index: 1, .. })),
            "{:?}",
            code(&results[4])
        );
        assert_eq!(node.info().log_size, 2);
        assert_eq!(node.log(0, 100).unwrap().len(), 2);
        let forged_id = proto::dsse::Envelope::decode(&forged)
            .map(|e| EventId::of_payload(e.payload()))
            .unwrap();
        assert_eq!(node.event(&forged_id).unwrap(), None);
        assert_eq!(node.contract(kit.id()).unwrap().events(), 2);
        node.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn trail_filters_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let mut one = ContractKit::new("trail-one");
        let mut two = ContractKit::new("trail-two");
        let node = testkit::open(dir.path()).await;
        let sent = vec![
            one.registration(),
            two.registration(),
            one.claim(1),
            two.claim(1),
            one.claim(2),
        ];
        ok(node.append(sent).await);
        let claims = TrailFilter {
            kind: Some(Kind::ClaimSubmitted),
            ..TrailFilter::default()
        };
        let page = node.trail(&claims, None, 2).unwrap();
        assert_eq!(
            page.events.iter().map(|e| e.index).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(page.next_cursor, Some(4));
        let rest = node.trail(&claims, page.next_cursor, 2).unwrap();
        assert_eq!(rest.events.iter().map(|e| e.index).collect::<Vec<_>>(), [4]);
        assert_eq!(rest.next_cursor, None);
        // The provider signed its registration and authored its claims.
        let party = TrailFilter {
            party: Some(one.provider_id()),
            ..TrailFilter::default()
        };
        assert_eq!(indexes(&node, &party), [0, 2, 4]);
        let role = TrailFilter {
            role: Some(Role::Provider),
            contract: Some(two.id().clone()),
            ..TrailFilter::default()
        };
        assert_eq!(indexes(&node, &role), [3]);
        let outcome = TrailFilter {
            outcome: Some("housed".parse().unwrap()),
            ..TrailFilter::default()
        };
        assert_eq!(indexes(&node, &outcome), [0, 1, 2, 3, 4]);
        let since = TrailFilter {
            since: Some("2025-03-01T00:00:01Z".parse().unwrap()),
            ..TrailFilter::default()
        };
        assert_eq!(indexes(&node, &since), [2, 3, 4]);
        node.shutdown().await;
    }

    fn indexes(node: &Node, filter: &TrailFilter) -> Vec<u64> {
        node.trail(filter, None, 100)
            .unwrap()
            .events
            .iter()
            .map(|e| e.index)
            .collect()
    }
}
