//! The durable store: the only module that names sled.
//!
//! One sled `Db` per process holds eleven trees (layouts in [`keys`]; `refused`, `subjects` and
//! `cosignatures` serve replicated ledgers). The log tree is the
//! source of truth; every other tree is an index or a cache that `ledger-node rebuild` makes
//! again from the log alone. A commit group is written by [`Store::commit`] as ONE sled
//! transaction over every tree it writes, then made durable by [`Store::flush`]; the writer
//! acknowledges only after that flush. The transaction closure only applies batches built
//! before it, so re-running it (sled does on conflict) has no side effect.
//!
//! Readers never see a group before its flush: every read takes the size the service published
//! after the last flush and ignores anything at or past it.
//!
//! Projections are persisted less often than every commit: the writer stores the contracts
//! touched since the last snapshot with the first checkpoint at least
//! `snapshot_interval_events` events after it (and at shutdown), and records the log size they
//! reflect as `projection_position`. Opening replays the log from there.

pub(crate) mod keys;
mod replication;
pub mod schema;

use std::path::Path;
use std::time::{Duration, Instant};

use ledger_core::merkle::{self, NodeSource};
use proto::dsse::Envelope;
use proto::{ContractId, EventId, KeyId, Kind, OutcomeId, Role, Timestamp};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{Batch, Transactional, Tree};

use crate::service::{Hash, StoreError, StoredEvent};
use keys::MetaKey;

pub use replication::RefusedMessage;
pub use schema::{OpenError, OpenedState, SCHEMA_VERSION};

/// What the trail filters on, kept per event beside the log: decoded once at append, with the
/// author's role as it was when the event was admitted and the outcomes the event is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFacts {
    /// The event id.
    pub id: EventId,
    /// Its contract.
    pub contract: ContractId,
    /// Its seq.
    pub seq: u64,
    /// Its kind, as the wire name.
    pub kind: String,
    /// The author's key id.
    pub author: KeyId,
    /// The author's role when the event was admitted.
    pub role: Option<Role>,
    /// Every signer's key id.
    pub signers: Vec<KeyId>,
    /// The outcomes the event is about.
    pub outcomes: Vec<OutcomeId>,
    /// The author's `at`.
    pub at: Timestamp,
}

impl EventFacts {
    /// The kind, parsed.
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }
}

/// One event of a commit group, already judged and sequenced.
#[derive(Clone, Debug)]
pub struct SequencedEvent {
    /// Its global index.
    pub index: u64,
    /// The RFC 8785 bytes of its envelope (the leaf data).
    pub envelope: Vec<u8>,
    /// What the indexes need.
    pub facts: EventFacts,
}

/// Everything one commit group writes, built before the transaction runs.
#[derive(Clone, Debug, Default)]
pub struct CommitGroup {
    /// The events, in index order, continuing the log.
    pub events: Vec<SequencedEvent>,
    /// The complete-subtree nodes the events create.
    pub nodes: Vec<merkle::Node>,
    /// The log size after the group.
    pub size: u64,
    /// The root after the group.
    pub root: Hash,
    /// Projection snapshots to store (contract, ContractState JSON), if any.
    pub projections: Vec<(ContractId, Vec<u8>)>,
    /// The log size the stored projections reflect after this group, if it changes.
    pub projection_position: Option<u64>,
    /// A signed checkpoint to store (size, note text), if one is due.
    pub checkpoint: Option<(u64, String)>,
    /// Replicated ledgers: the last stream sequence the group applies.
    pub stream_position: Option<u64>,
    /// Replicated ledgers: the last stream sequence of each subject token the group applies.
    pub subjects: Vec<(String, u64)>,
    /// Replicated ledgers: the stream messages the group refuses.
    pub refusals: Vec<RefusedMessage>,
    /// Replicated ledgers: the epoch of the events stream, when the group moves to a new
    /// stream (its position and subjects then count in the new one).
    pub stream_epoch: Option<u64>,
    /// Replicated ledgers: subject tokens of an old stream to forget (before `subjects`).
    pub subjects_removed: Vec<String>,
    /// Replicated ledgers: refusals of an old stream to forget (before `refusals`).
    pub refusals_removed: Vec<u64>,
}

/// The sled store. Cheap to clone (sled trees are reference counted); one per process.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    log: Tree,
    by_id: Tree,
    streams: Tree,
    facts: Tree,
    nodes: Tree,
    checkpoints: Tree,
    projections: Tree,
    meta: Tree,
    refused: Tree,
    subjects: Tree,
    cosignatures: Tree,
}

/// How long opening waits for sled's lock on the directory to be released.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens the database, waiting up to [`LOCK_WAIT`] while its directory lock is held: sled
/// 0.34 releases the lock from a background thread shortly after the last handle of a closed
/// database is dropped (spacejam/sled#1234), so a store closed and opened again at once in one
/// process (a node restarted in place, `rebuild` after a stop) may find it still held. Another
/// process holding the directory is still refused, after the wait, with sled's message.
fn open_db(config: &sled::Config) -> Result<sled::Db, StoreError> {
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().starts_with("could not acquire lock") => {
                if Instant::now() >= deadline {
                    return Err(StoreError::Storage(format!(
                        "{e} (is another ledger-node using this data directory?)"
                    )));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(storage(e)),
        }
    }
}

fn storage(e: sled::Error) -> StoreError {
    StoreError::Storage(e.to_string())
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

impl Store {
    /// Opens (or creates) the sled database in `dir` without checking it, its page cache
    /// bounded to `cache_bytes_max` bytes. [`schema::open_checked`] is the way the node opens a
    /// store.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled cannot open the directory.
    pub fn open_unchecked(dir: &Path, cache_bytes_max: u64) -> Result<Self, StoreError> {
        let config = sled::Config::new()
            .path(dir.join(schema::STORE_DIR))
            .cache_capacity(cache_bytes_max);
        let db = open_db(&config)?;
        let tree = |name: &str| db.open_tree(name).map_err(storage);
        Ok(Self {
            log: tree("log")?,
            by_id: tree("by-id")?,
            streams: tree("streams")?,
            facts: tree("facts")?,
            nodes: tree("nodes")?,
            checkpoints: tree("checkpoints")?,
            projections: tree("projections")?,
            meta: tree("meta")?,
            refused: tree("refused")?,
            subjects: tree("subjects")?,
            cosignatures: tree("cosignatures")?,
            db,
        })
    }

    /// Writes a commit group as one atomic transaction over every tree. Not durable until
    /// [`Store::flush`].
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails; then nothing of the group is applied.
    pub fn commit(&self, group: &CommitGroup) -> Result<(), StoreError> {
        let batches = GroupBatches::build(group)?;
        let trees = (
            &self.log,
            &self.by_id,
            &self.streams,
            &self.facts,
            &self.nodes,
            &self.checkpoints,
            &self.projections,
            &self.meta,
            &self.refused,
            &self.subjects,
        );
        // The closure only applies batches built above: re-running it has no side effect.
        let result = trees.transaction(
            |(
                log,
                by_id,
                streams,
                facts,
                nodes,
                checkpoints,
                projections,
                meta,
                refused,
                subjects,
            )| {
                log.apply_batch(&batches.log)?;
                by_id.apply_batch(&batches.by_id)?;
                streams.apply_batch(&batches.streams)?;
                facts.apply_batch(&batches.facts)?;
                nodes.apply_batch(&batches.nodes)?;
                checkpoints.apply_batch(&batches.checkpoints)?;
                projections.apply_batch(&batches.projections)?;
                meta.apply_batch(&batches.meta)?;
                refused.apply_batch(&batches.refused)?;
                subjects.apply_batch(&batches.subjects)?;
                Ok::<(), ConflictableTransactionError<()>>(())
            },
        );
        result.map_err(|e| match e {
            TransactionError::Abort(()) => StoreError::Storage("transaction aborted".into()),
            TransactionError::Storage(e) => storage(e),
        })
    }

    /// Makes every write so far durable (fsync).
    ///
    /// # Errors
    /// [`StoreError::Storage`] if the flush fails; nothing written since the last successful
    /// flush may then be acknowledged.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(|_| ()).map_err(storage)
    }

    /// The index of event `id`, if stored below `visible_size`.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed value.
    pub fn index_of(&self, id: &EventId, visible_size: u64) -> Result<Option<u64>, StoreError> {
        let Some(value) = self.by_id.get(id.as_bytes()).map_err(storage)? else {
            return Ok(None);
        };
        let index = keys::read_u64(&value)
            .ok_or_else(|| corrupt(format!("by-id entry of {id} is not a u64")))?;
        Ok((index < visible_size).then_some(index))
    }

    /// The event at `index` (which the caller knows is visible).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if the log or facts entry is missing or malformed.
    pub fn event_at(&self, index: u64) -> Result<StoredEvent, StoreError> {
        let key = keys::u64_bytes(index);
        let envelope = self
            .log
            .get(key)
            .map_err(storage)?
            .ok_or_else(|| corrupt(format!("log entry {index} is missing")))?;
        let facts = self.facts_at(index)?;
        stored_event(index, envelope.to_vec(), facts)
    }

    /// The facts of the event at `index`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if the entry is missing or malformed.
    pub fn facts_at(&self, index: u64) -> Result<EventFacts, StoreError> {
        let bytes = self
            .facts
            .get(keys::u64_bytes(index))
            .map_err(storage)?
            .ok_or_else(|| corrupt(format!("facts entry {index} is missing")))?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("facts entry {index}: {e}")))
    }

    /// The stored event at `index` whose envelope bytes the caller already read.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] if its facts entry is missing or malformed.
    pub fn stored(&self, index: u64, envelope: Vec<u8>) -> Result<StoredEvent, StoreError> {
        stored_event(index, envelope, self.facts_at(index)?)
    }

    /// Up to `limit` facts entries `(index, facts)` from `from`, below `end`.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed entry.
    pub fn facts_range(
        &self,
        from: u64,
        end: u64,
        limit: usize,
    ) -> Result<Vec<(u64, EventFacts)>, StoreError> {
        if from >= end {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for item in self
            .facts
            .range(keys::u64_bytes(from)..keys::u64_bytes(end))
            .take(limit)
        {
            let (key, value) = item.map_err(storage)?;
            let index = keys::read_u64(&key).ok_or_else(|| corrupt("facts key is not a u64"))?;
            let facts = serde_json::from_slice(&value)
                .map_err(|e| corrupt(format!("facts entry {index}: {e}")))?;
            out.push((index, facts));
        }
        Ok(out)
    }

    /// The envelope bytes at `index`, if the log holds one.
    ///
    /// # Errors
    /// [`StoreError::Storage`] on a storage failure.
    pub fn envelope_at(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .log
            .get(keys::u64_bytes(index))
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    /// Up to `limit` log entries `(index, envelope bytes)` from `from`, below `end`.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed key.
    pub fn log_range(
        &self,
        from: u64,
        end: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        if from >= end {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for item in self
            .log
            .range(keys::u64_bytes(from)..keys::u64_bytes(end))
            .take(limit)
        {
            let (key, value) = item.map_err(storage)?;
            let index = keys::read_u64(&key).ok_or_else(|| corrupt("log key is not a u64"))?;
            out.push((index, value.to_vec()));
        }
        Ok(out)
    }

    /// Up to `limit` indexes of `contract`'s stream from `from_seq`, below `visible_size`.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed value.
    pub fn stream_indexes(
        &self,
        contract: &ContractId,
        from_seq: u64,
        limit: usize,
        visible_size: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let prefix = keys::stream_prefix(contract);
        let mut out = Vec::new();
        for item in self.streams.range(keys::stream_key(contract, from_seq)..) {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(&prefix) || out.len() >= limit {
                break;
            }
            let index = keys::read_u64(&value)
                .ok_or_else(|| corrupt(format!("stream entry of {contract} is not a u64")))?;
            if index >= visible_size {
                break;
            }
            out.push(index);
        }
        Ok(out)
    }

    /// The index of `contract`'s event at `seq`, if stored.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed value.
    pub fn stream_index(&self, contract: &ContractId, seq: u64) -> Result<Option<u64>, StoreError> {
        match self
            .streams
            .get(keys::stream_key(contract, seq))
            .map_err(storage)?
        {
            None => Ok(None),
            Some(v) => keys::read_u64(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("stream entry {contract}/{seq} is not a u64"))),
        }
    }

    /// The checkpoint note signed at `size`, if stored.
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a note that is not UTF-8.
    pub fn checkpoint(&self, size: u64) -> Result<Option<String>, StoreError> {
        match self
            .checkpoints
            .get(keys::u64_bytes(size))
            .map_err(storage)?
        {
            None => Ok(None),
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| corrupt(format!("checkpoint {size} is not UTF-8"))),
        }
    }

    /// The checkpoint of the largest size at most `size_max`, as (size, note).
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed entry.
    pub fn latest_checkpoint(&self, size_max: u64) -> Result<Option<(u64, String)>, StoreError> {
        let Some(item) = self
            .checkpoints
            .range(..=keys::u64_bytes(size_max))
            .next_back()
        else {
            return Ok(None);
        };
        let (key, value) = item.map_err(storage)?;
        let size = keys::read_u64(&key).ok_or_else(|| corrupt("checkpoint key is not a u64"))?;
        let note = String::from_utf8(value.to_vec())
            .map_err(|_| corrupt(format!("checkpoint {size} is not UTF-8")))?;
        Ok(Some((size, note)))
    }

    /// Every stored projection snapshot (contract, JSON), read one at a time: all of them
    /// together are about as large as the projections themselves.
    ///
    /// # Errors
    /// Each item: [`StoreError`] on a storage failure or a key that is not a contract id.
    pub fn projections(
        &self,
    ) -> impl Iterator<Item = Result<(ContractId, Vec<u8>), StoreError>> + '_ {
        self.projections.iter().map(|item| {
            let (key, value) = item.map_err(storage)?;
            let id = std::str::from_utf8(&key)
                .ok()
                .and_then(|s| s.parse::<ContractId>().ok())
                .ok_or_else(|| corrupt("projection key is not a contract id"))?;
            Ok((id, value.to_vec()))
        })
    }

    /// A reader of the Merkle nodes, for proofs and roots.
    pub fn node_source(&self) -> Nodes<'_> {
        Nodes { tree: &self.nodes }
    }

    fn meta_u64(&self, key: MetaKey) -> Result<Option<u64>, StoreError> {
        match self.meta.get(key.bytes()).map_err(storage)? {
            None => Ok(None),
            Some(v) => keys::read_u64(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("meta {:?} is not a u64", key))),
        }
    }

    fn meta_raw(&self, key: MetaKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .meta
            .get(key.bytes())
            .map_err(storage)?
            .map(|v| v.to_vec()))
    }

    /// The last key of the log, if any.
    fn log_last_index(&self) -> Result<Option<u64>, StoreError> {
        last_u64_key(&self.log)
    }

    /// The index of the last leaf (level-0 node), if any.
    fn last_leaf_index(&self) -> Result<Option<u64>, StoreError> {
        match self.nodes.scan_prefix([0u8]).next_back() {
            None => Ok(None),
            Some(item) => {
                let (key, _) = item.map_err(storage)?;
                keys::read_u64(&key[1..])
                    .map(Some)
                    .ok_or_else(|| corrupt("node key is malformed"))
            }
        }
    }

    /// Empties every tree but the log (the first step of a rebuild) and flushes.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn clear_derived(&self) -> Result<(), StoreError> {
        // Meta first: a rebuild cut short leaves a store that refuses to open until rebuilt.
        self.meta.clear().map_err(storage)?;
        self.flush()?;
        for tree in [
            &self.by_id,
            &self.streams,
            &self.facts,
            &self.nodes,
            &self.checkpoints,
            &self.projections,
        ] {
            tree.clear().map_err(storage)?;
        }
        self.flush()
    }

    /// Writes the meta entries of a fresh or rebuilt store.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn write_meta(
        &self,
        size: u64,
        root: &Hash,
        projection_position: u64,
    ) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.insert(
            MetaKey::SchemaVersion.bytes(),
            &SCHEMA_VERSION.to_be_bytes()[..],
        );
        batch.insert(MetaKey::Size.bytes(), &keys::u64_bytes(size)[..]);
        batch.insert(MetaKey::Root.bytes(), &root[..]);
        batch.insert(
            MetaKey::ProjectionPosition.bytes(),
            &keys::u64_bytes(projection_position)[..],
        );
        self.meta.apply_batch(batch).map_err(storage)
    }

    /// One past the last index of the log (0 for an empty log).
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed key.
    pub fn log_end(&self) -> Result<u64, StoreError> {
        Ok(self
            .log_last_index()?
            .map_or(0, |last| last.saturating_add(1)))
    }

    /// Stores a checkpoint note (rebuild keeps verified old ones this way); not flushed.
    ///
    /// # Errors
    /// [`StoreError::Storage`] if sled fails.
    pub fn insert_checkpoint(&self, size: u64, note: &str) -> Result<(), StoreError> {
        self.checkpoints
            .insert(keys::u64_bytes(size), note.as_bytes())
            .map(|_| ())
            .map_err(storage)
    }

    /// The checkpoints stored, as (size, note), in size order (for rebuild).
    ///
    /// # Errors
    /// [`StoreError`] on a storage failure or a malformed entry.
    pub fn all_checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut out = Vec::new();
        for item in self.checkpoints.iter() {
            let (key, value) = item.map_err(storage)?;
            let size =
                keys::read_u64(&key).ok_or_else(|| corrupt("checkpoint key is not a u64"))?;
            let note = String::from_utf8(value.to_vec())
                .map_err(|_| corrupt(format!("checkpoint {size} is not UTF-8")))?;
            out.push((size, note));
        }
        Ok(out)
    }

    /// Removes the log entries from `from` on (test support for tail-check cases).
    #[cfg(test)]
    pub(crate) fn truncate_log_for_test(&self, from: u64) -> Result<(), StoreError> {
        for item in self.log.range(keys::u64_bytes(from)..) {
            let (key, _) = item.map_err(storage)?;
            self.log.remove(key).map_err(storage)?;
        }
        self.flush()
    }

    /// Overwrites a log entry (test support for rebuild cases).
    #[cfg(test)]
    pub(crate) fn put_log_for_test(&self, index: u64, envelope: &[u8]) -> Result<(), StoreError> {
        self.log
            .insert(keys::u64_bytes(index), envelope)
            .map_err(storage)?;
        self.flush()
    }

    /// Overwrites a meta entry (test support for tail-check cases).
    #[cfg(test)]
    pub(crate) fn put_meta_for_test(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let key = [
            MetaKey::SchemaVersion,
            MetaKey::Size,
            MetaKey::Root,
            MetaKey::ProjectionPosition,
        ]
        .into_iter()
        .find(|k| k.bytes() == name.as_bytes())
        .ok_or_else(|| corrupt("no such meta key"))?;
        self.meta.insert(key.bytes(), value).map_err(storage)?;
        self.flush()
    }
}

fn last_u64_key(tree: &Tree) -> Result<Option<u64>, StoreError> {
    match tree.last().map_err(storage)? {
        None => Ok(None),
        Some((key, _)) => keys::read_u64(&key)
            .map(Some)
            .ok_or_else(|| corrupt("key is not a u64")),
    }
}

fn stored_event(
    index: u64,
    envelope: Vec<u8>,
    facts: EventFacts,
) -> Result<StoredEvent, StoreError> {
    let kind = facts.kind().ok_or_else(|| {
        corrupt(format!(
            "facts entry {index} has unknown kind {:?}",
            facts.kind
        ))
    })?;
    Ok(StoredEvent {
        id: facts.id,
        index,
        contract: facts.contract,
        seq: facts.seq,
        kind,
        author: facts.author,
        at: facts.at,
        envelope,
    })
}

/// The batches of one commit group, one per tree.
struct GroupBatches {
    log: Batch,
    by_id: Batch,
    streams: Batch,
    facts: Batch,
    nodes: Batch,
    checkpoints: Batch,
    projections: Batch,
    meta: Batch,
    refused: Batch,
    subjects: Batch,
}

impl GroupBatches {
    fn build(group: &CommitGroup) -> Result<Self, StoreError> {
        let mut b = Self {
            log: Batch::default(),
            by_id: Batch::default(),
            streams: Batch::default(),
            facts: Batch::default(),
            nodes: Batch::default(),
            checkpoints: Batch::default(),
            projections: Batch::default(),
            meta: Batch::default(),
            refused: Batch::default(),
            subjects: Batch::default(),
        };
        for event in &group.events {
            let index = keys::u64_bytes(event.index);
            let facts = serde_json::to_vec(&event.facts)
                .map_err(|e| StoreError::Storage(format!("encoding facts: {e}")))?;
            b.log.insert(&index[..], event.envelope.as_slice());
            b.by_id.insert(&event.facts.id.as_bytes()[..], &index[..]);
            b.streams.insert(
                keys::stream_key(&event.facts.contract, event.facts.seq),
                &index[..],
            );
            b.facts.insert(&index[..], facts);
        }
        for node in &group.nodes {
            b.nodes.insert(
                &keys::node_key(node.level(), node.index())[..],
                &node.hash().as_bytes()[..],
            );
        }
        if let Some((size, note)) = &group.checkpoint {
            b.checkpoints
                .insert(&keys::u64_bytes(*size)[..], note.as_bytes());
        }
        for (contract, json) in &group.projections {
            b.projections
                .insert(contract.as_str().as_bytes(), json.as_slice());
        }
        b.meta
            .insert(MetaKey::Size.bytes(), &keys::u64_bytes(group.size)[..]);
        b.meta.insert(MetaKey::Root.bytes(), &group.root[..]);
        if let Some(position) = group.projection_position {
            b.meta.insert(
                MetaKey::ProjectionPosition.bytes(),
                &keys::u64_bytes(position)[..],
            );
        }
        b.add_replication(group)?;
        Ok(b)
    }

    fn add_replication(&mut self, group: &CommitGroup) -> Result<(), StoreError> {
        if let Some(epoch) = group.stream_epoch {
            self.meta
                .insert(MetaKey::StreamEpoch.bytes(), &keys::u64_bytes(epoch)[..]);
        }
        for token in &group.subjects_removed {
            self.subjects.remove(token.as_bytes());
        }
        for sequence in &group.refusals_removed {
            self.refused.remove(&keys::u64_bytes(*sequence)[..]);
        }
        if let Some(position) = group.stream_position {
            self.meta.insert(
                MetaKey::StreamPosition.bytes(),
                &keys::u64_bytes(position)[..],
            );
        }
        for (token, sequence) in &group.subjects {
            self.subjects
                .insert(token.as_bytes(), &keys::u64_bytes(*sequence)[..]);
        }
        for refused in &group.refusals {
            let json = serde_json::to_vec(refused)
                .map_err(|e| StoreError::Storage(format!("encoding a refusal: {e}")))?;
            self.refused
                .insert(&keys::u64_bytes(refused.sequence)[..], json);
        }
        Ok(())
    }
}

/// The Merkle node tree as a [`NodeSource`].
pub struct Nodes<'a> {
    tree: &'a Tree,
}

/// A Merkle node that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("merkle node (level {level}, index {index}): {problem}")]
pub struct NodeReadError {
    level: u8,
    index: u64,
    problem: String,
}

impl NodeSource for Nodes<'_> {
    type Error = NodeReadError;

    fn node(&self, level: u8, index: u64) -> Result<merkle::Hash, NodeReadError> {
        let fail = |problem: String| NodeReadError {
            level,
            index,
            problem,
        };
        let value = self
            .tree
            .get(keys::node_key(level, index))
            .map_err(|e| fail(e.to_string()))?;
        let value = value.ok_or_else(|| fail("missing".into()))?;
        keys::read_hash(&value)
            .map(merkle::Hash::from_bytes)
            .ok_or_else(|| fail("not 32 bytes".into()))
    }
}

impl From<NodeReadError> for StoreError {
    fn from(e: NodeReadError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// The event id of stored envelope bytes (SHA-256 of the payload they carry).
///
/// # Errors
/// [`StoreError::Corrupt`] if the bytes are not an envelope.
pub fn stored_event_id(index: u64, envelope: &[u8]) -> Result<EventId, StoreError> {
    let envelope = Envelope::decode(envelope)
        .map_err(|e| corrupt(format!("log entry {index} is not an envelope: {e}")))?;
    Ok(EventId::of_payload(envelope.payload()))
}
