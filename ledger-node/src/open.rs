//! Starting a node: the node key, the checked store, proven to hold the checkpoint the node
//! last signed (`signed_head`), the recorded origin, the projections (restored from their
//! snapshot, then the log replayed past it), the published view and the writer task.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::SigningKey;
use ledger_core::merkle::{self, Frontier, TreeSize};
use ledger_core::{ContractState, Ledger};
use proto::ContractId;
use rand::rngs::OsRng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::append::{self, Durable, Message, Writer, WriterSettings};
use crate::checkpoint::{CheckpointPolicy, CheckpointSigner};
use crate::config::{Config, Limits};
use crate::health::{Recording, WriterState};
use crate::identity::{self, Identity, OriginChange};
use crate::replication::{self, Replication};
use crate::sequencer::Local;
use crate::service::{Hash, Node, Observer, SignedCheckpoint, StoreError, View, ViewCell};
use crate::signed_head::{self, Guarded, HeadGuard, Shorter};
use crate::store::{self, Store};

/// The parts of a started node, handed to [`Node`].
pub(crate) struct Started {
    pub(crate) store: Store,
    pub(crate) view: Arc<ViewCell>,
    pub(crate) sender: mpsc::Sender<Message>,
    pub(crate) writer: JoinHandle<()>,
    pub(crate) origin: String,
    pub(crate) verifier_key: String,
    pub(crate) limits: Limits,
    pub(crate) replication: Option<Replication>,
    pub(crate) writer_state: Arc<WriterState>,
}

/// Everything read from disk before the writer starts.
struct Loaded {
    store: Store,
    signer: CheckpointSigner,
    ledger: Ledger,
    frontier: Frontier,
    root: Hash,
    latest: Option<SignedCheckpoint>,
    dirty: BTreeSet<ContractId>,
    /// The log size the stored projections reflect.
    snapshot_position: u64,
    /// The last stream sequence applied (0 if none).
    position: u64,
    /// The signed head, shared by the signer and the writer's store.
    guard: Arc<HeadGuard>,
    key: SigningKey,
}

/// Opens a node whose writer writes through `wrap(store)` (the store itself in production).
///
/// # Errors
/// If the node key, the store or the projections cannot be loaded; the message says which.
pub(crate) async fn open<D, W>(
    config: &Config,
    observer: Arc<dyn Observer>,
    wrap: W,
) -> anyhow::Result<Node>
where
    D: Durable,
    W: FnOnce(Store) -> D,
{
    let owned = config.clone();
    let loaded = tokio::task::spawn_blocking(move || load(&owned))
        .await
        .context("loading the store panicked")??;
    let Loaded {
        store,
        signer,
        ledger,
        frontier,
        root,
        latest,
        dirty,
        snapshot_position,
        position,
        guard,
        key,
    } = loaded;
    let size = frontier.size().get();
    observer.log_size(size);
    let writer_state = Arc::new(WriterState::default());
    let observer: Arc<dyn Observer> = Arc::new(Recording::new(observer, Arc::clone(&writer_state)));
    // Shared with the ledger: each state is held once.
    let contracts: BTreeMap<ContractId, Arc<ContractState>> = ledger
        .contracts()
        .filter_map(|state| Some((state.id().clone(), ledger.shared_contract(state.id())?)))
        .collect();
    let view = Arc::new(ViewCell::new(View {
        size,
        root,
        contracts: Arc::new(contracts),
        latest: latest.clone(),
        position,
    }));
    let interval = Duration::from_millis(config.checkpoint_interval_ms());
    let signer = Arc::new(signer);
    let (origin, verifier_key) = (signer.origin().to_owned(), signer.verifier_key());
    let writer = Writer {
        durable: Arc::new(Guarded::new(wrap(store.clone()), guard, key)),
        store: store.clone(),
        ledger,
        frontier,
        sequencer: Local::new(size),
        view: Arc::clone(&view),
        policy: CheckpointPolicy::new(interval, latest.map(|c| c.size)),
        signer: Arc::clone(&signer),
        dirty,
        snapshot_position,
        observer,
        settings: WriterSettings {
            payload_bytes_max: config.limits().payload_bytes_max(),
            group_events_max: config.group_commit().group_events_max(),
            snapshot_interval_events: config.snapshot_interval_events(),
        },
        failure: None,
        unflushed: HashMap::new(),
    };
    let (sender, receiver) = mpsc::channel(config.group_commit().queue_requests_max());
    let replication = start_replication(config, &store, &view, &sender, &signer).await?;
    let writer = tokio::spawn(append::run(writer, receiver));
    tracing::info!(size, origin = %origin, "store open");
    Ok(Node::start(Started {
        store,
        view,
        sender,
        writer,
        origin,
        verifier_key,
        limits: config.limits(),
        replication,
        writer_state,
    }))
}

/// Joins the replicated ledger of `config`, if any: the writer then applies its stream.
async fn start_replication(
    config: &Config,
    store: &Store,
    view: &Arc<ViewCell>,
    writer: &mpsc::Sender<Message>,
    signer: &Arc<CheckpointSigner>,
) -> anyhow::Result<Option<Replication>> {
    let Some(replicated) = config.replication() else {
        return Ok(None);
    };
    let parts = replication::Parts {
        config: replicated.clone(),
        store: store.clone(),
        view: Arc::clone(view),
        writer: writer.clone(),
        signer: Arc::clone(signer),
        payload_bytes_max: config.limits().payload_bytes_max(),
        group_events_max: config.group_commit().group_events_max(),
    };
    Ok(Some(Replication::start(parts).await?))
}

fn load(config: &Config) -> anyhow::Result<Loaded> {
    let dir = config.data_dir();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    let identity = Identity::load_or_create(dir, &mut OsRng)?;
    let key = identity.signing_key().clone();
    let head = signed_head::load(dir, &key)?;
    let shorter = if config.resync_from_stream() {
        Shorter::Resync
    } else {
        signed_head::check_store_present(dir, head.as_ref())?;
        Shorter::Refuse
    };
    let opened = store::schema::open_checked(dir, config.cache_bytes_max())
        .with_context(|| format!("store in {}", dir.display()))?;
    let tree = (opened.size, &opened.root);
    let head = signed_head::on_open(dir, &opened.store, tree, head, &key, shorter)
        .with_context(|| format!("store in {}", dir.display()))?;
    let origin = origin(config, &identity, &opened.store, head.as_ref())?;
    let guard = Arc::new(HeadGuard::new(dir, opened.store.clone(), head, opened.size));
    let signer = CheckpointSigner::new(&origin, key.clone())
        .with_context(|| format!("origin {origin:?} cannot name a signed-note key"))?
        .guarded(Arc::clone(&guard));
    let (ledger, dirty) = restore(&opened.store, opened.projection_position, opened.size)?;
    let latest = latest_checkpoint(&opened.store, opened.size)?;
    let position = opened.store.stream_position()?;
    if config.replication().is_some() && position.is_none() && opened.size > 0 {
        anyhow::bail!(
            "the store in {} holds {} events that did not come from a ledger's stream: a \
             standalone store cannot join a replicated ledger; start on an empty data directory",
            dir.display(),
            opened.size
        );
    }
    Ok(Loaded {
        store: opened.store,
        signer,
        ledger,
        frontier: opened.frontier,
        root: opened.root,
        latest,
        dirty,
        snapshot_position: opened.projection_position,
        position: position.unwrap_or(0),
        guard,
        key,
    })
}

/// The checkpoint origin: the one recorded beside the node key, else the configured one, else
/// that of the last signed checkpoint (a data directory from before origins were recorded),
/// else one derived from the key.
pub(crate) fn origin(
    config: &Config,
    identity: &Identity,
    store: &Store,
    head: Option<&signed_head::SignedHead>,
) -> anyhow::Result<String> {
    let change = if config.force_origin() {
        OriginChange::Force
    } else {
        OriginChange::Refuse
    };
    let signed = match head {
        Some(head) => Some(head.origin().to_owned()),
        None => stored_origin(store)?,
    };
    let fallback = || signed.unwrap_or_else(|| identity.default_origin());
    Ok(identity::resolve_origin(
        config.data_dir(),
        config.origin(),
        change,
        fallback,
    )?)
}

/// The origin of the store's latest checkpoint, if it has one that parses.
fn stored_origin(store: &Store) -> Result<Option<String>, StoreError> {
    let Some((_, note)) = store.latest_checkpoint(u64::MAX)? else {
        return Ok(None);
    };
    let origin = proto::note::parse_unverified(note.as_bytes())
        .ok()
        .and_then(|n| proto::note::Checkpoint::parse(n.text()).ok())
        .map(|c| c.origin().to_owned());
    Ok(origin)
}

/// The ledger from the stored projection snapshot at `position`, with the log replayed up to
/// `size` (signatures verified); also the contracts the replay touched.
fn restore(
    store: &Store,
    position: u64,
    size: u64,
) -> anyhow::Result<(Ledger, BTreeSet<ContractId>)> {
    let mut states = Vec::new();
    for item in store.projections() {
        let (id, json) = item?;
        let state: ContractState = serde_json::from_slice(&json).with_context(|| {
            format!("projection snapshot of {id} does not decode; run `ledger-node rebuild`")
        })?;
        anyhow::ensure!(
            state.id() == &id,
            "projection snapshot under {id} is of {}; run `ledger-node rebuild`",
            state.id()
        );
        states.push(state);
    }
    let mut ledger = Ledger::restore(states, position)
        .context("projection snapshot; run `ledger-node rebuild`")?;
    let dirty = append::replay(&mut ledger, store, position, size)?;
    if position < size {
        tracing::info!(
            from = position,
            to = size,
            "replayed the log past the projection snapshot"
        );
    }
    Ok((ledger, dirty))
}

/// The latest stored checkpoint at or below `size`, with its root read from the tree.
pub(crate) fn latest_checkpoint(
    store: &Store,
    size: u64,
) -> Result<Option<SignedCheckpoint>, StoreError> {
    let Some((checkpoint_size, note)) = store.latest_checkpoint(size)? else {
        return Ok(None);
    };
    let root = merkle::root(&store.node_source(), TreeSize::new(checkpoint_size))?;
    Ok(Some(SignedCheckpoint {
        size: checkpoint_size,
        root: *root.as_bytes(),
        note,
    }))
}
