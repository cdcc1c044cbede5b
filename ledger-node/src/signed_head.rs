//! The signed head: the last checkpoint this node signed and let out, kept outside sled.
//!
//! `DATA/signed-head` holds the C2SP signed note of the largest checkpoint the node has made
//! durable or given out (stored with its events, served, or announced to other nodes). It is
//! written to a temporary file, synced, renamed into place and the directory synced, so a crash
//! leaves the old head or the new one, never half of one. Its signature is checked with the node
//! key on every start.
//!
//! What it guards (ARCHITECTURE.md, "Faults"):
//! - On open, the store must hold at least that tree: its size is at least the signed size and
//!   a consistency proof from the stored Merkle nodes, verified by `ledger-core`, links the
//!   signed root to the stored root ([`check_store`]). Otherwise the node refuses to start: a
//!   store that lost events (a flipped bit that made sled drop the tail of its log, a truncated
//!   file, a lost directory) is never served or signed again under the same key.
//! - Before a checkpoint is stored or given out, its tree is proven consistent with the signed
//!   head ([`HeadGuard`]); a tree that is not is a hard refusal to sign. A log that signs two
//!   inconsistent trees has equivocated (C2SP tlog-checkpoint: a log MUST NOT).
//!
//! The head file moves only after the checkpoint's events are flushed: a crash between a
//! signature and its flush leaves the old head, which the store still extends.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ed25519_dalek::SigningKey;
use ledger_core::merkle::{self, NodeSource, TreeSize};
use proto::note::{self, Checkpoint, NoteSigner};

use crate::append::Durable;
use crate::service::{Hash, StoreError};
use crate::store::{CommitGroup, Store};

/// File name of the signed head in the data directory.
pub const HEAD_FILE: &str = "signed-head";

/// Largest signed-head file read, in bytes (a checkpoint note is a few hundred).
const HEAD_BYTES_MAX: u64 = 64 * 1024;

/// How to recover a store that does not hold the signed head; every refusal ends with it.
pub const RECOVERY: &str = "restore the data directory's `db` from a backup or a copy that \
     holds at least the signed tree (then run `ledger-node rebuild --data DIR`), or, for a \
     replicated node, re-sync it from the stream (see ARCHITECTURE.md, Faults); never delete \
     `signed-head` to get past this: the node would sign a shorter history under the same key";

/// Why the signed head refuses a store or a signature.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing the file failed.
    #[error("signed head {}: {detail}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The file is not a checkpoint signed by the node key.
    #[error(
        "signed head {} is not a checkpoint signed by this node's key ({detail}): restore it \
         and node.key from the same backup",
        path.display()
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The store directory is gone while the node signed a non-empty tree.
    #[error(
        "the store directory {} is missing, but this node signed a checkpoint of {signed_size} \
         events: {RECOVERY}",
        path.display()
    )]
    StoreMissing {
        /// The store directory.
        path: PathBuf,
        /// The signed size.
        signed_size: u64,
    },
    /// The store holds fewer events than the node signed.
    #[error(
        "the store holds {store_size} events, but this node signed a checkpoint of \
         {signed_size} events (root {signed_root}): the store lost events; {RECOVERY}"
    )]
    Shorter {
        /// Events in the store.
        store_size: u64,
        /// The signed size.
        signed_size: u64,
        /// The signed root, hex.
        signed_root: String,
    },
    /// The stored tree is not an extension of the signed one.
    #[error(
        "the stored tree of {store_size} events is not consistent with the checkpoint of \
         {signed_size} events (root {signed_root}) this node signed ({detail}); {RECOVERY}"
    )]
    Diverged {
        /// Events in the store (or the tree checked).
        store_size: u64,
        /// The signed size.
        signed_size: u64,
        /// The signed root, hex.
        signed_root: String,
        /// Which proof step failed.
        detail: String,
    },
}

impl HeadError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(e) => e.code(),
            Self::Io { .. } => "head-io",
            Self::Malformed { .. } => "head-malformed",
            Self::StoreMissing { .. } => "store-missing",
            Self::Shorter { .. } => "store-shorter",
            Self::Diverged { .. } => "store-diverged",
        }
    }
}

/// A checkpoint the node signed: its size, root and note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHead {
    origin: String,
    size: u64,
    root: Hash,
    note: String,
}

impl SignedHead {
    /// The head of `note`, a checkpoint signed by `key` (under the origin the note names).
    ///
    /// # Errors
    /// A description if the note is not such a checkpoint.
    pub fn from_note(note: &str, key: &SigningKey) -> Result<Self, String> {
        let unverified = note::parse_unverified(note.as_bytes()).map_err(|e| e.to_string())?;
        let body = Checkpoint::parse(unverified.text()).map_err(|e| e.to_string())?;
        let verifier = NoteSigner::new(body.origin(), key.clone())
            .map_err(|e| e.to_string())?
            .verifier();
        note::open_note(note.as_bytes(), &[verifier]).map_err(|e| e.to_string())?;
        Ok(Self {
            origin: body.origin().to_owned(),
            size: body.size(),
            root: *body.root(),
            note: note.to_owned(),
        })
    }

    /// The origin it was signed under.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The signed size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The signed root.
    pub fn root(&self) -> &Hash {
        &self.root
    }
}

/// Reads `dir/signed-head`, checked with the node key; `None` if there is none.
///
/// # Errors
/// [`HeadError::Io`] or [`HeadError::Malformed`].
pub fn load(dir: &Path, key: &SigningKey) -> Result<Option<SignedHead>, HeadError> {
    let path = dir.join(HEAD_FILE);
    let file = match fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path, &e)),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, HEAD_BYTES_MAX), &mut text)
        .map_err(|e| io(&path, &e))?;
    SignedHead::from_note(&text, key)
        .map(Some)
        .map_err(|detail| HeadError::Malformed { path, detail })
}

/// Writes `bytes` to `dir/name` atomically and durably: a synced temporary file renamed into
/// place, then the directory synced.
///
/// # Errors
/// [`HeadError::Io`] naming the file.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), HeadError> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    let mut file = fs::File::create(&temporary).map_err(|e| io(&temporary, &e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io(&temporary, &e))?;
    fs::rename(&temporary, &path).map_err(|e| io(&path, &e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, &e))
}

fn io(path: &Path, e: &std::io::Error) -> HeadError {
    HeadError::Io {
        path: path.to_owned(),
        detail: e.to_string(),
    }
}

/// Proves that the tree `(size, root)` of `source` and the signed `head` are consistent: the
/// smaller is a prefix of the larger, by an RFC 9162 consistency proof built from `source`'s
/// nodes and verified by `ledger-core`.
///
/// # Errors
/// [`HeadError::Diverged`] saying which step failed.
pub fn check_consistent<S: NodeSource>(
    source: &S,
    head: &SignedHead,
    size: u64,
    root: &Hash,
) -> Result<(), HeadError> {
    let diverged = |detail: String| HeadError::Diverged {
        store_size: size,
        signed_size: head.size,
        signed_root: hex::encode(head.root),
        detail,
    };
    let (first, second) = if size < head.size {
        ((size, root), (head.size, &head.root))
    } else {
        ((head.size, &head.root), (size, root))
    };
    if first.0 == 0 {
        // The empty tree is a prefix of every tree.
        return Ok(());
    }
    let (first_size, second_size) = (TreeSize::new(first.0), TreeSize::new(second.0));
    let proof = merkle::consistency_proof(source, first_size, second_size)
        .map_err(|e| diverged(format!("cannot build the proof: {e}")))?;
    merkle::verify_consistency(
        first_size,
        second_size,
        &proof,
        &merkle::Hash::from_bytes(*first.1),
        &merkle::Hash::from_bytes(*second.1),
    )
    .map_err(|e| diverged(e.to_string()))
}

/// The open check: the store of `size` events with root `root` holds the signed `head`.
///
/// # Errors
/// [`HeadError::Shorter`] or [`HeadError::Diverged`].
pub fn check_store(
    store: &Store,
    head: &SignedHead,
    size: u64,
    root: &Hash,
) -> Result<(), HeadError> {
    if size < head.size {
        return Err(HeadError::Shorter {
            store_size: size,
            signed_size: head.size,
            signed_root: hex::encode(head.root),
        });
    }
    check_consistent(&store.node_source(), head, size, root)
}

/// Refuses a missing store directory (`dir/db`) when the node signed a non-empty tree: sled
/// would create an empty store in its place.
///
/// # Errors
/// [`HeadError::StoreMissing`].
pub fn check_store_present(dir: &Path, head: Option<&SignedHead>) -> Result<(), HeadError> {
    let path = dir.join(crate::store::schema::STORE_DIR);
    match head {
        Some(head) if head.size > 0 && !path.exists() => Err(HeadError::StoreMissing {
            path,
            signed_size: head.size,
        }),
        _ => Ok(()),
    }
}

/// Whether [`on_open`] may find the store shorter than the signed head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shorter {
    /// Refuse it (every node, unless asked otherwise).
    Refuse,
    /// A replicated node asked to re-sync from the stream: open it; nothing is signed at or
    /// below the signed size until the store holds the signed tree again.
    Resync,
}

/// The open check of a store of `size` events with root `root`, and the signed head after it:
/// the store must hold `head` ([`check_store`]); the store's latest checkpoint becomes the head
/// if it is later (a crash after its flush, before the head file moved) and is the node's and
/// consistent with the store. With no head file and a non-empty store, the store is trusted
/// once (a warning): its latest checkpoint becomes the head.
///
/// # Errors
/// [`HeadError`] if the store does not hold the signed head, or the head cannot be written.
pub fn on_open(
    dir: &Path,
    store: &Store,
    (size, root): (u64, &Hash),
    head: Option<SignedHead>,
    key: &SigningKey,
    shorter: Shorter,
) -> Result<Option<SignedHead>, HeadError> {
    match &head {
        Some(old) if shorter == Shorter::Resync && size < old.size => {
            tracing::warn!(
                store_size = size,
                signed_size = old.size,
                "re-syncing a store shorter than the signed head from the stream; nothing at or \
                 below the signed size is signed until the store holds the signed tree"
            );
            return Ok(head);
        }
        Some(old) => check_store(store, old, size, root)?,
        None if size > 0 => tracing::warn!(
            path = %dir.join(HEAD_FILE).display(),
            size,
            "no signed head beside a store of events: trusting the store once and keeping its \
             latest checkpoint as the signed head"
        ),
        None => {}
    }
    let Some((stored_size, note)) = store.latest_checkpoint(size)? else {
        return Ok(head);
    };
    if head.as_ref().is_some_and(|old| old.size >= stored_size) {
        return Ok(head);
    }
    let adopted = SignedHead::from_note(&note, key).and_then(|candidate| {
        check_consistent(&store.node_source(), &candidate, size, root)
            .map_err(|e| e.to_string())?;
        Ok(candidate)
    });
    match adopted {
        Ok(candidate) => {
            write_durably(dir, HEAD_FILE, note.as_bytes())?;
            Ok(Some(candidate))
        }
        Err(problem) => {
            tracing::warn!(size = stored_size, %problem, "the store's latest checkpoint is not kept as the signed head");
            Ok(head)
        }
    }
}

/// What the guard knows: the signed head on disk and how far the store is durable.
struct GuardState {
    head: Option<SignedHead>,
    durable_size: u64,
}

/// Keeps the signed head and refuses any signature inconsistent with it. Shared by the
/// writer's [`Guarded`] store, the checkpoint signer and cosigning.
pub struct HeadGuard {
    dir: PathBuf,
    store: Store,
    state: Mutex<GuardState>,
}

impl HeadGuard {
    /// A guard over `store` in `dir`, whose signed head is `head` and whose first
    /// `durable_size` events are flushed.
    pub fn new(dir: &Path, store: Store, head: Option<SignedHead>, durable_size: u64) -> Self {
        Self {
            dir: dir.to_owned(),
            store,
            state: Mutex::new(GuardState { head, durable_size }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GuardState> {
        // A panic while holding the lock cannot leave the state half-changed: every change is
        // one assignment after the file is written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The signed head.
    pub fn head(&self) -> Option<SignedHead> {
        self.state().head.clone()
    }

    /// Before signing `(size, root)`: refuses a tree inconsistent with the signed head. A tree
    /// past the durable size (the writer's next group) is checked again, with its nodes, by
    /// [`Guarded`] before it is stored.
    ///
    /// # Errors
    /// [`HeadError::Diverged`].
    pub fn check_signing(&self, size: u64, root: &Hash) -> Result<(), HeadError> {
        let state = self.state();
        let Some(head) = &state.head else {
            return Ok(());
        };
        if size == head.size || size.max(head.size) <= state.durable_size {
            return check_consistent(&self.store.node_source(), head, size, root);
        }
        if size > head.size {
            return Ok(());
        }
        Err(HeadError::Diverged {
            store_size: size,
            signed_size: head.size,
            signed_root: hex::encode(head.root),
            detail: format!(
                "the store is durable only up to {} events, so the signed tree cannot be checked",
                state.durable_size
            ),
        })
    }

    /// After signing `note` of `size` events: if the store holds that tree durably, the note is
    /// the new head now (cosigning gives it out at once); else [`Guarded`] moves the head once
    /// the group is flushed.
    ///
    /// # Errors
    /// [`HeadError`] if the file cannot be written or the note is not the node's.
    pub fn signed(&self, size: u64, note: &str, key: &SigningKey) -> Result<(), HeadError> {
        if size > self.state().durable_size {
            return Ok(());
        }
        self.advance(note, key)
    }

    /// Makes `note` the signed head if it is larger than the current one (written durably
    /// first).
    ///
    /// # Errors
    /// [`HeadError`] if the file cannot be written or the note is not the node's.
    pub fn advance(&self, note: &str, key: &SigningKey) -> Result<(), HeadError> {
        let head = SignedHead::from_note(note, key).map_err(|detail| HeadError::Malformed {
            path: self.dir.join(HEAD_FILE),
            detail,
        })?;
        let mut state = self.state();
        if state.head.as_ref().is_some_and(|old| old.size >= head.size) {
            return Ok(());
        }
        write_durably(&self.dir, HEAD_FILE, note.as_bytes())?;
        state.head = Some(head);
        Ok(())
    }

    /// Before `group` is written: if it carries a checkpoint, its tree (the store's nodes and
    /// the group's) must be consistent with the signed head.
    ///
    /// # Errors
    /// [`HeadError::Diverged`].
    fn check_group(&self, group: &CommitGroup) -> Result<(), HeadError> {
        let Some((size, _)) = &group.checkpoint else {
            return Ok(());
        };
        let Some(head) = self.head() else {
            return Ok(());
        };
        let source = Overlay::new(&self.store, group);
        if *size != group.size {
            return Err(HeadError::Diverged {
                store_size: group.size,
                signed_size: head.size,
                signed_root: hex::encode(head.root),
                detail: format!(
                    "a group of size {} carries a checkpoint of {size}",
                    group.size
                ),
            });
        }
        check_consistent(&source, &head, group.size, &group.root)
    }

    fn flushed(&self, size: u64) {
        let mut state = self.state();
        state.durable_size = state.durable_size.max(size);
    }
}

/// The store's Merkle nodes with a group's new nodes on top: the tree the group makes.
struct Overlay<'a> {
    nodes: HashMap<(u8, u64), merkle::Hash>,
    store: crate::store::Nodes<'a>,
}

impl<'a> Overlay<'a> {
    fn new(store: &'a Store, group: &CommitGroup) -> Self {
        Self {
            nodes: group
                .nodes
                .iter()
                .map(|node| ((node.level(), node.index()), *node.hash()))
                .collect(),
            store: store.node_source(),
        }
    }
}

impl NodeSource for Overlay<'_> {
    type Error = crate::store::NodeReadError;

    fn node(&self, level: u8, index: u64) -> Result<merkle::Hash, Self::Error> {
        match self.nodes.get(&(level, index)) {
            Some(hash) => Ok(*hash),
            None => self.store.node(level, index),
        }
    }
}

/// The writer's store with the signed head kept beside it: a group with a checkpoint is written
/// only if its tree extends the signed head, and the head moves once the group is flushed,
/// before readers or other nodes see the checkpoint.
pub(crate) struct Guarded<D> {
    inner: D,
    guard: Arc<HeadGuard>,
    key: SigningKey,
    /// The size and checkpoint of the last group written and not yet flushed.
    pending: Mutex<(u64, Option<String>)>,
}

impl<D> Guarded<D> {
    /// `inner`, guarded by `guard` (whose notes `key` signs).
    pub(crate) fn new(inner: D, guard: Arc<HeadGuard>, key: SigningKey) -> Self {
        Self {
            inner,
            guard,
            key,
            pending: Mutex::new((0, None)),
        }
    }
}

fn refused(e: &HeadError) -> StoreError {
    StoreError::Corrupt(format!("refusing to store a checkpoint: {e}"))
}

impl<D: Durable> Durable for Guarded<D> {
    fn commit(&self, group: &CommitGroup) -> Result<(), StoreError> {
        self.guard.check_group(group).map_err(|e| refused(&e))?;
        self.inner.commit(group)?;
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.0 = pending.0.max(group.size);
        if let Some((_, note)) = &group.checkpoint {
            pending.1 = Some(note.clone());
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()?;
        let (size, note) = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            (pending.0, pending.1.take())
        };
        self.guard.flushed(size);
        if let Some(note) = note {
            self.guard
                .advance(&note, &self.key)
                .map_err(|e| StoreError::Storage(format!("cannot keep the signed head: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{NoObserver, Node};
    use crate::testkit::{self, ContractKit};

    /// A node on `dir` with four events of one contract, stopped; its size and root.
    async fn four_events(dir: &Path, label: &str) -> (u64, Hash) {
        let mut kit = ContractKit::new(label);
        let node = testkit::open(dir).await;
        let sent = vec![kit.registration(), kit.claim(1), kit.claim(2), kit.claim(3)];
        assert!(node.append(sent).await.iter().all(Result::is_ok));
        let info = node.info();
        node.shutdown().await;
        (info.log_size, info.root)
    }

    async fn open_error(dir: &Path) -> String {
        match Node::open(&testkit::config(dir, 1_000), Arc::new(NoObserver)).await {
            Ok(node) => {
                node.shutdown().await;
                panic!("the store opened")
            }
            Err(e) => format!("{e:#}"),
        }
    }

    fn key_of(dir: &Path) -> SigningKey {
        let identity =
            crate::identity::Identity::load_or_create(dir, &mut rand::rngs::OsRng).unwrap();
        identity.signing_key().clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_signed_head_follows_the_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (size, root) = four_events(dir.path(), "head-follows").await;
        let head = load(dir.path(), &key_of(dir.path())).unwrap().unwrap();
        assert_eq!((head.size(), *head.root()), (size, root));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_or_emptied_store_is_refused_while_the_key_and_head_survive() {
        let dir = tempfile::tempdir().unwrap();
        four_events(dir.path(), "head-lost").await;
        let store_dir = dir.path().join(crate::store::schema::STORE_DIR);
        fs::remove_dir_all(&store_dir).unwrap();
        let message = open_error(dir.path()).await;
        assert!(
            message.contains("is missing, but this node signed a checkpoint of 4 events"),
            "{message}"
        );
        // Nothing was created in its place.
        assert!(!store_dir.exists());
        // An empty store in its place: shorter than what was signed.
        fs::create_dir(&store_dir).unwrap();
        let message = open_error(dir.path()).await;
        assert!(
            message.contains("the store holds 0 events, but this node signed a checkpoint of 4"),
            "{message}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_store_of_the_same_size_under_the_same_key_is_refused() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        four_events(one.path(), "head-one").await;
        // The second directory gets the first's key before it starts, then its own history.
        fs::copy(
            one.path().join(crate::identity::KEY_FILE),
            two.path().join(crate::identity::KEY_FILE),
        )
        .unwrap();
        four_events(two.path(), "head-two").await;
        fs::copy(one.path().join(HEAD_FILE), two.path().join(HEAD_FILE)).unwrap();
        let message = open_error(two.path()).await;
        assert!(
            message.contains("is not consistent with the checkpoint of 4 events"),
            "{message}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_guard_refuses_to_sign_a_tree_inconsistent_with_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let (size, root) = four_events(dir.path(), "head-guard").await;
        let key = key_of(dir.path());
        let head = load(dir.path(), &key).unwrap();
        let opened =
            crate::store::schema::open_checked(dir.path(), crate::config::CACHE_BYTES_MAX_DEFAULT)
                .unwrap();
        let guard = HeadGuard::new(dir.path(), opened.store.clone(), head, size);
        assert!(guard.check_signing(size, &root).is_ok());
        let prefix = merkle::root(&opened.store.node_source(), TreeSize::new(2)).unwrap();
        assert!(guard.check_signing(2, prefix.as_bytes()).is_ok());
        let other = [7u8; 32];
        assert_eq!(
            guard.check_signing(size, &other).unwrap_err().code(),
            "store-diverged"
        );
        assert_eq!(
            guard.check_signing(2, &other).unwrap_err().code(),
            "store-diverged"
        );
        // A larger tree past the durable size is checked with its nodes when it is written.
        assert!(guard.check_signing(size + 1, &other).is_ok());
        let mut frontier =
            merkle::Frontier::from_source(&opened.store.node_source(), TreeSize::new(size))
                .unwrap();
        let mut nodes = Vec::new();
        frontier
            .append(merkle::leaf_hash(b"next"), &mut nodes)
            .unwrap();
        let mut group = CommitGroup {
            nodes,
            size: size + 1,
            root: *frontier.root().as_bytes(),
            checkpoint: Some((size + 1, String::new())),
            ..CommitGroup::default()
        };
        assert!(guard.check_group(&group).is_ok());
        group.root = other;
        assert_eq!(
            guard.check_group(&group).unwrap_err().code(),
            "store-diverged"
        );
    }
}
