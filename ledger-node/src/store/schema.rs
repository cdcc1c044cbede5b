//! The layout version of the store and the checks run before a store is served.
//!
//! [`open_checked`] refuses a store of another schema version, and checks its tail: the log
//! length, the tree size and the recorded size agree; the stored root equals the root
//! recomputed from the stored nodes; the last events' leaves, indexes and hash chains (`prev`
//! links) are what the log says; the projections are not ahead of the log. Then every entry
//! of the log is read once ([`check_whole_log`]): its leaf hash, and every tree node the leaves
//! make, must equal the stored ones, and its facts must decode, so a flipped bit anywhere in
//! the log, the tree or the facts that sled's own checksums miss is refused here rather than
//! served. A failure names the tree and key where it was found.

use std::path::Path;

use ledger_core::merkle::{self, Frontier, TreeSize};
use proto::dsse::Envelope;
use proto::{EventId, Payload};

use super::keys::{self, MetaKey};
use super::{Store, StoreError};
use crate::service::Hash;

/// The layout version of the trees. Bump it when a key or value layout changes; a node
/// refuses a store of another version.
pub const SCHEMA_VERSION: u32 = 1;

/// The directory of the sled database inside the data directory.
pub const STORE_DIR: &str = "db";

/// Log entries read per batch by the whole-log check.
const WHOLE_LOG_BATCH: usize = 1024;

/// How many of the last events the open check verifies one by one.
pub const TAIL_EVENTS_CHECKED: u64 = 64;

/// Why a store was refused on open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// sled failed, or a read failed.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The store was written by a build with another layout.
    #[error(
        "store schema version {found} is not {expected}, the version this build reads: run a \
         ledger-node of that version, or rebuild the store with this one from its log"
    )]
    SchemaVersion {
        /// The version recorded in the store.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The tail check failed.
    #[error("store failed its tail check at {place}: {problem}; stop and run `ledger-node rebuild --data DIR`")]
    Tail {
        /// Tree and key where it failed.
        place: String,
        /// What is wrong.
        problem: String,
    },
}

impl OpenError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(e) => e.code(),
            Self::SchemaVersion { .. } => "schema-version",
            Self::Tail { .. } => "tail-check",
        }
    }
}

fn tail(place: impl Into<String>, problem: impl Into<String>) -> OpenError {
    OpenError::Tail {
        place: place.into(),
        problem: problem.into(),
    }
}

/// A store that passed its checks, and what the service needs to go on from it.
pub struct OpenedState {
    /// The store.
    pub store: Store,
    /// Events in the log.
    pub size: u64,
    /// The root at that size.
    pub root: Hash,
    /// The right border of the tree, for appending.
    pub frontier: Frontier,
    /// The log size the stored projections reflect (replay from here).
    pub projection_position: u64,
}

/// Opens the store in `dir` (its page cache bounded to `cache_bytes_max` bytes), creating an
/// empty one if there is none, and runs the checks.
///
/// # Errors
/// [`OpenError`] saying where and what, if the store may not be served.
pub fn open_checked(dir: &Path, cache_bytes_max: u64) -> Result<OpenedState, OpenError> {
    let store = Store::open_unchecked(dir, cache_bytes_max)?;
    if store.meta_raw(MetaKey::SchemaVersion)?.is_none() {
        init_empty(&store)?;
    }
    check_schema(&store)?;
    let size = store
        .meta_u64(MetaKey::Size)?
        .ok_or_else(|| tail("meta/size", "missing"))?;
    let root = read_root(&store)?;
    check_lengths(&store, size)?;
    let frontier = check_root(&store, size, &root)?;
    check_tail_events(&store, size)?;
    check_whole_log(&store, size, &root)?;
    let projection_position = store
        .meta_u64(MetaKey::ProjectionPosition)?
        .ok_or_else(|| tail("meta/projection_position", "missing"))?;
    if projection_position > size {
        return Err(tail(
            "meta/projection_position",
            format!("projections are at log size {projection_position}, past the log size {size}"),
        ));
    }
    Ok(OpenedState {
        store,
        size,
        root,
        frontier,
        projection_position,
    })
}

/// A store with no schema version is new if it holds no events; else a rebuild was cut short.
fn init_empty(store: &Store) -> Result<(), OpenError> {
    if let Some(last) = store.log_last_index()? {
        return Err(tail(
            "meta/schema_version",
            format!(
                "missing while the log holds events up to index {last} (an interrupted rebuild?)"
            ),
        ));
    }
    store.write_meta(0, merkle::empty_root().as_bytes(), 0)?;
    store.flush()?;
    Ok(())
}

fn check_schema(store: &Store) -> Result<(), OpenError> {
    let raw = store.meta_raw(MetaKey::SchemaVersion)?.unwrap_or_default();
    let found = <[u8; 4]>::try_from(raw.as_slice())
        .map(u32::from_be_bytes)
        .map_err(|_| {
            tail(
                "meta/schema_version",
                format!("{} bytes, not a u32", raw.len()),
            )
        })?;
    if found != SCHEMA_VERSION {
        return Err(OpenError::SchemaVersion {
            found,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn read_root(store: &Store) -> Result<Hash, OpenError> {
    let raw = store
        .meta_raw(MetaKey::Root)?
        .ok_or_else(|| tail("meta/root", "missing"))?;
    keys::read_hash(&raw).ok_or_else(|| {
        tail(
            "meta/root",
            format!("{} bytes, not a 32-byte hash", raw.len()),
        )
    })
}

/// The log and the tree's leaves both end at `size - 1`.
fn check_lengths(store: &Store, size: u64) -> Result<(), OpenError> {
    let expected_last = size.checked_sub(1);
    let log_last = store.log_last_index()?;
    if log_last != expected_last {
        return Err(tail(
            "log",
            format!(
                "the log ends at {} but meta/size is {size}",
                describe_last(log_last)
            ),
        ));
    }
    let leaf_last = store.last_leaf_index()?;
    if leaf_last != expected_last {
        return Err(tail(
            "nodes/level 0",
            format!(
                "the tree's leaves end at {} but meta/size is {size}",
                describe_last(leaf_last)
            ),
        ));
    }
    Ok(())
}

fn describe_last(last: Option<u64>) -> String {
    match last {
        None => "nothing (empty)".into(),
        Some(i) => format!("index {i}"),
    }
}

/// The root recomputed from the stored complete-subtree nodes equals meta/root.
fn check_root(store: &Store, size: u64, root: &Hash) -> Result<Frontier, OpenError> {
    let source = store.node_source();
    let frontier = Frontier::from_source(&source, TreeSize::new(size))
        .map_err(|e| tail("nodes", e.to_string()))?;
    let recomputed = frontier.root();
    if recomputed.as_bytes() != root {
        return Err(tail(
            "meta/root",
            format!(
                "stored root {} differs from the root {recomputed} recomputed from the stored nodes at size {size}",
                hex::encode(root)
            ),
        ));
    }
    Ok(frontier)
}

/// The last [`TAIL_EVENTS_CHECKED`] events: leaf hash, by-id, stream entry and `prev` link.
fn check_tail_events(store: &Store, size: u64) -> Result<(), OpenError> {
    let source = store.node_source();
    for index in size.saturating_sub(TAIL_EVENTS_CHECKED)..size {
        let place = format!("log/{index}");
        let bytes = store
            .envelope_at(index)?
            .ok_or_else(|| tail(&place, "missing"))?;
        let leaf =
            merkle::NodeSource::node(&source, 0, index).map_err(|e| tail(&place, e.to_string()))?;
        if merkle::leaf_hash(&bytes) != leaf {
            return Err(tail(
                &place,
                "the envelope's leaf hash differs from the stored tree leaf",
            ));
        }
        let (id, payload) = decode_stored(&bytes).map_err(|problem| tail(&place, problem))?;
        if store.index_of(&id, size)? != Some(index) {
            return Err(tail(
                format!("by-id/{id}"),
                format!("does not point at log index {index}"),
            ));
        }
        let seq = payload.seq.get();
        if store.stream_index(&payload.contract, seq)? != Some(index) {
            return Err(tail(
                format!("streams/{}/{seq}", payload.contract),
                format!("does not point at log index {index}"),
            ));
        }
        check_prev_link(store, &payload, &place)?;
        store
            .facts_at(index)
            .map_err(|e| tail(format!("facts/{index}"), e.to_string()))?;
    }
    Ok(())
}

/// Every log entry below `size`: its leaf hash and every node the leaves make equal the stored
/// tree's, its facts decode, and the leaves' root is `root`.
fn check_whole_log(store: &Store, size: u64, root: &Hash) -> Result<(), OpenError> {
    let source = store.node_source();
    let mut frontier = Frontier::new();
    let mut nodes = Vec::new();
    let mut next = 0u64;
    while next < size {
        let batch = store.log_range(next, size, WHOLE_LOG_BATCH)?;
        if batch.is_empty() {
            return Err(tail(format!("log/{next}"), "missing"));
        }
        for (index, bytes) in batch {
            if index != next {
                return Err(tail(format!("log/{next}"), "missing"));
            }
            store
                .facts_at(index)
                .map_err(|e| tail(format!("facts/{index}"), e.to_string()))?;
            nodes.clear();
            frontier
                .append(merkle::leaf_hash(&bytes), &mut nodes)
                .map_err(|e| tail(format!("log/{index}"), e.to_string()))?;
            for node in &nodes {
                let place = format!("nodes/{}/{}", node.level(), node.index());
                let stored = merkle::NodeSource::node(&source, node.level(), node.index())
                    .map_err(|e| tail(&place, e.to_string()))?;
                if stored != *node.hash() {
                    return Err(tail(
                        place,
                        format!("differs from the hash of the log's entries (at log/{index})"),
                    ));
                }
            }
            next = index
                .checked_add(1)
                .ok_or_else(|| tail("log", "index overflow"))?;
        }
    }
    if frontier.root().as_bytes() != root {
        return Err(tail(
            "meta/root",
            "differs from the root of the log's entries",
        ));
    }
    Ok(())
}

/// `prev` is the id of the contract's event at `seq - 1` (and absent exactly at seq 0).
fn check_prev_link(store: &Store, payload: &Payload, place: &str) -> Result<(), OpenError> {
    let seq = payload.seq.get();
    let Some(previous_seq) = seq.checked_sub(1) else {
        return match payload.prev {
            None => Ok(()),
            Some(_) => Err(tail(place, "seq 0 with a prev link")),
        };
    };
    let previous_index = store
        .stream_index(&payload.contract, previous_seq)?
        .ok_or_else(|| {
            tail(
                place,
                format!("the contract has no event at seq {previous_seq}"),
            )
        })?;
    let previous_bytes = store
        .envelope_at(previous_index)?
        .ok_or_else(|| tail(format!("log/{previous_index}"), "missing"))?;
    let (previous_id, _) =
        decode_stored(&previous_bytes).map_err(|p| tail(format!("log/{previous_index}"), p))?;
    if payload.prev != Some(previous_id) {
        return Err(tail(
            place,
            format!("prev link does not name {previous_id}, the event at seq {previous_seq}"),
        ));
    }
    Ok(())
}

/// The id and payload of stored envelope bytes.
fn decode_stored(bytes: &[u8]) -> Result<(EventId, Payload), String> {
    let envelope = Envelope::decode(bytes).map_err(|e| format!("not an envelope: {e}"))?;
    let payload =
        Payload::decode(envelope.payload()).map_err(|e| format!("payload does not decode: {e}"))?;
    Ok((EventId::of_payload(envelope.payload()), payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CACHE_BYTES_MAX_DEFAULT;
    use crate::testkit::{self, ContractKit};

    /// A store of four events (one contract), closed.
    async fn store_of_four(dir: &Path) {
        let mut kit = ContractKit::new("tail");
        let node = testkit::open(dir).await;
        let sent = vec![kit.registration(), kit.claim(1), kit.claim(2), kit.claim(3)];
        assert!(node.append(sent).await.iter().all(Result::is_ok));
        node.shutdown().await;
    }

    fn tail_error(dir: &Path) -> (String, String) {
        match open_checked(dir, CACHE_BYTES_MAX_DEFAULT) {
            Err(OpenError::Tail { place, problem }) => (place, problem),
            Err(other) => panic!("expected a tail error, got {other}"),
            Ok(_) => panic!("a damaged store opened"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sound_store_opens_with_its_size() {
        let dir = tempfile::tempdir().unwrap();
        store_of_four(dir.path()).await;
        let opened = open_checked(dir.path(), CACHE_BYTES_MAX_DEFAULT).unwrap();
        assert_eq!((opened.size, opened.projection_position), (4, 4));
        assert_eq!(opened.frontier.size().get(), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_log_shorter_than_meta_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        store_of_four(dir.path()).await;
        open_checked(dir.path(), CACHE_BYTES_MAX_DEFAULT)
            .unwrap()
            .store
            .truncate_log_for_test(2)
            .unwrap();
        let (place, problem) = tail_error(dir.path());
        assert_eq!(place, "log");
        assert_eq!(problem, "the log ends at index 1 but meta/size is 4");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        store_of_four(dir.path()).await;
        open_checked(dir.path(), CACHE_BYTES_MAX_DEFAULT)
            .unwrap()
            .store
            .put_meta_for_test("root", &[0u8; 32])
            .unwrap();
        let (place, problem) = tail_error(dir.path());
        assert_eq!(place, "meta/root");
        assert!(
            problem.starts_with(&format!("stored root {} differs", "00".repeat(32))),
            "{problem}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        store_of_four(dir.path()).await;
        open_checked(dir.path(), CACHE_BYTES_MAX_DEFAULT)
            .unwrap()
            .store
            .put_meta_for_test("schema_version", &2u32.to_be_bytes())
            .unwrap();
        match open_checked(dir.path(), CACHE_BYTES_MAX_DEFAULT) {
            Err(
                e @ OpenError::SchemaVersion {
                    found: 2,
                    expected: 1,
                },
            ) => {
                assert!(
                    e.to_string().starts_with("store schema version 2 is not 1"),
                    "{e}"
                );
            }
            Err(other) => panic!("expected a schema error, got {other}"),
            Ok(_) => panic!("a store of schema 2 opened"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_meta_size_past_the_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        store_of_four(dir.path()).await;
        open_checked(dir.path(), CACHE_BYTES_MAX_DEFAULT)
            .unwrap()
            .store
            .put_meta_for_test("size", &5u64.to_be_bytes())
            .unwrap();
        let (place, problem) = tail_error(dir.path());
        assert_eq!(
            (place.as_str(), problem.as_str()),
            ("log", "the log ends at index 3 but meta/size is 5")
        );
    }
}
