//! The node's in-process API: what the HTTP layer (and tests) call. Everything here is cheap
//! to clone, `Send + Sync`, and free of sled and axum types.
//!
//! Writes go through [`Node::append`], which queues the envelopes to the one group-commit
//! writer and returns only after the group they landed in is flushed to disk. Reads see only
//! committed, flushed state.

use std::sync::Arc;
use std::time::Duration;

use proto::{ContractId, EventId, KeyId, Kind, OutcomeId, Role, Timestamp};

use crate::config::Config;

/// A 32-byte SHA-256 hash (a Merkle node, root or leaf hash).
pub type Hash = [u8; 32];

/// The projection of one contract, as `ledger-core` folds it. Serialize it for the API.
///
/// (Placeholder until `ledger-core`'s projection lands; the HTTP layer treats it as an opaque
/// `serde::Serialize` value.)
#[derive(Clone, Debug, serde::Serialize)]
pub struct ContractState {
    contract: ContractId,
}

/// A running node: the store, the projections, the writer and the node key.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    _observer: Arc<dyn Observer>,
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
    /// The feature is not available yet.
    #[error("not available yet: {0}")]
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

const NOT_YET: &str = "the store is being written";

impl Node {
    /// Opens the store in `config.data_dir()`, verifies its tail, loads the projections and
    /// starts the group-commit writer.
    ///
    /// # Errors
    /// If the store cannot be opened or fails its checks (the message says where and what).
    pub async fn open(config: &Config, observer: Arc<dyn Observer>) -> anyhow::Result<Node> {
        let _ = (config, observer);
        anyhow::bail!("{NOT_YET}")
    }

    /// Appends envelopes (JSON bytes each), each judged on its own and in order. Returns after
    /// the commit group holding them is flushed to disk: an `Ok` is durable.
    pub async fn append(&self, envelopes: Vec<Vec<u8>>) -> Vec<Result<Appended, AppendError>> {
        envelopes
            .iter()
            .map(|_| Err(AppendError::Unavailable(NOT_YET.into())))
            .collect()
    }

    /// The event with this id.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn event(&self, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let _ = id;
        Err(StoreError::NotYet(NOT_YET))
    }

    /// Up to `limit` events in global order from index `from`.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn log(&self, from: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let _ = (from, limit);
        Err(StoreError::NotYet(NOT_YET))
    }

    /// Every contract, by id.
    pub fn contracts(&self) -> Vec<ContractSummary> {
        Vec::new()
    }

    /// A contract's projection.
    pub fn contract(&self, id: &ContractId) -> Option<ContractState> {
        let _ = id;
        None
    }

    /// Up to `limit` events of a contract's stream from `from_seq`.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn contract_events(
        &self,
        id: &ContractId,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let _ = (id, from_seq, limit);
        Err(StoreError::NotYet(NOT_YET))
    }

    /// Up to `limit` events matching `filter` from global index `cursor` (0 if `None`).
    /// A page also ends after examining the configured `trail_scan_events_max` entries; then
    /// `next_cursor` says where to resume.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn trail(
        &self,
        filter: &TrailFilter,
        cursor: Option<u64>,
        limit: usize,
    ) -> Result<TrailPage, StoreError> {
        let _ = (filter, cursor, limit);
        Err(StoreError::NotYet(NOT_YET))
    }

    /// The latest signed checkpoint, if the log has one.
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        None
    }

    /// The checkpoint signed at tree size `size`, if one was.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, StoreError> {
        let _ = size;
        Err(StoreError::NotYet(NOT_YET))
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of size `size`.
    ///
    /// # Errors
    /// [`ProofRequestError`]: out-of-range arguments, or a store failure.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofRequestError> {
        let _ = (index, size);
        Err(StoreError::NotYet(NOT_YET).into())
    }

    /// The RFC 9162 consistency proof between tree sizes `from` and `to`.
    ///
    /// # Errors
    /// [`ProofRequestError`]: out-of-range arguments, or a store failure.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, ProofRequestError> {
        let _ = (from, to);
        Err(StoreError::NotYet(NOT_YET).into())
    }

    /// Origin, verifier key, log size and root.
    pub fn info(&self) -> NodeInfo {
        NodeInfo {
            origin: String::new(),
            verifier_key: String::new(),
            log_size: 0,
            root: [0; 32],
        }
    }

    /// Stops taking appends, finishes those in flight, flushes and writes the last checkpoint.
    pub async fn shutdown(&self) {
        let _ = &self.inner._observer;
    }
}
