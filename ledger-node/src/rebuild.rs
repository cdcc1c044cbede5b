//! `ledger-node rebuild`: every index, the tree nodes, the projections and the checkpoints made
//! again from the log tree alone, re-verifying every event (decoding, signatures, rules).
//!
//! Old checkpoints are kept only where they verify with the node key and their root equals
//! the rebuilt tree's root at their size; a new checkpoint is signed at the final size. Meta is
//! cleared first and written last, so a rebuild cut short leaves a store that refuses to open
//! until it is rebuilt again.
//!
//! The rebuilt tree must hold the checkpoint the node last signed (`DATA/signed-head`): a log
//! shorter than it, or not consistent with it, is refused before anything is signed, so a
//! rebuild from an old copy cannot make the node sign a shorter history. Checkpoints are
//! signed under the recorded origin (`DATA/origin`).

use std::sync::Arc;

use anyhow::Context;
use ledger_core::merkle::{self, Frontier, TreeSize};
use ledger_core::Ledger;
use proto::note::{self, Checkpoint, NoteVerifier};
use rand::rngs::OsRng;

use crate::append::{self, facts_of};
use crate::checkpoint::CheckpointSigner;
use crate::config::Config;
use crate::identity::Identity;
use crate::service::{Hash, StoreError};
use crate::signed_head::{self, HeadGuard, SignedHead};
use crate::store::{self, CommitGroup, SequencedEvent, Store};

/// What a rebuild did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RebuildReport {
    /// Events in the log, all re-verified.
    pub events: u64,
    /// The root of the rebuilt tree.
    pub root: Hash,
    /// Contracts whose projection was rebuilt.
    pub contracts: usize,
    /// Old checkpoints kept (they verify and match the rebuilt tree).
    pub checkpoints_kept: usize,
    /// The checkpoint signed at the final size (none for an empty log).
    pub signed: Option<String>,
}

/// Rebuilds the store in `config.data_dir()` from its log.
///
/// # Errors
/// If the log does not verify (the message names the entry), or the store cannot be written.
pub fn rebuild(config: &Config) -> anyhow::Result<RebuildReport> {
    let dir = config.data_dir();
    let identity = Identity::load_or_create(dir, &mut OsRng)?;
    let key = identity.signing_key().clone();
    let head = signed_head::load(dir, &key)?;
    let report = {
        let store = Store::open_unchecked(dir, config.cache_bytes_max())?;
        let origin = crate::open::origin(config, &identity, &store, head.as_ref())?;
        let guard = Arc::new(HeadGuard::new(dir, store.clone(), head.clone(), 0));
        let signer = CheckpointSigner::new(&origin, key.clone())
            .with_context(|| format!("origin {origin:?} cannot name a signed-note key"))?
            .guarded(Arc::clone(&guard));
        let report = rebuild_store(&store, &signer, head.as_ref())?;
        if let Some(note) = &report.signed {
            guard.advance(note, &key)?;
        }
        report
    };
    // The rebuilt store must pass the same checks as any store the node opens.
    store::schema::open_checked(dir, config.cache_bytes_max())
        .context("the rebuilt store fails its open check")?;
    Ok(report)
}

fn rebuild_store(
    store: &Store,
    signer: &CheckpointSigner,
    head: Option<&SignedHead>,
) -> anyhow::Result<RebuildReport> {
    let old_checkpoints = store.all_checkpoints().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "old checkpoints are unreadable and will not be kept");
        Vec::new()
    });
    let end = store.log_end()?;
    // A replicated node's place in the events stream and in the signatures stream: the log
    // the rebuild replays is what the stream produced up to there, so the node resumes from
    // the same place (cleared with meta, written back at once so a rebuild cut short and
    // run again still finds them).
    let stream_position = store.stream_position()?;
    let cosign_position = store.cosign_position()?;
    let stream_epoch = store.stream_epoch()?;
    store.clear_derived()?;
    if let Some(position) = stream_position {
        store.put_stream_position(position)?;
    }
    if let Some(epoch) = stream_epoch {
        store.put_stream_epoch(epoch)?;
    }
    if cosign_position > 0 {
        store.set_cosign_position(cosign_position)?;
    }
    let mut ledger = Ledger::new();
    let mut frontier = Frontier::new();
    append::replay_chunks(&mut ledger, store, 0, end, |ledger, chunk| {
        let events: Vec<SequencedEvent> = chunk
            .iter()
            .map(|(index, event)| SequencedEvent {
                index: *index,
                envelope: event.leaf(),
                facts: facts_of(ledger, event),
            })
            .collect();
        write_chunk(store, &mut frontier, events)
    })
    .context("rebuilding from the log")?;
    let size = frontier.size().get();
    let root = *frontier.root().as_bytes();
    if let Some(head) = head {
        // Before anything is signed: the rebuilt log holds the tree this node signed.
        signed_head::check_store(store, head, size, &root)
            .context("the rebuilt log does not hold the checkpoint this node signed")?;
    }
    let kept = keep_checkpoints(store, signer, old_checkpoints, size)?;
    let mut group = CommitGroup {
        size,
        root,
        projection_position: Some(size),
        ..CommitGroup::default()
    };
    for state in ledger.contracts() {
        group
            .projections
            .push((state.id().clone(), serde_json::to_vec(state)?));
    }
    // As the node does, an empty log gets no checkpoint.
    if size > 0 {
        group.checkpoint = Some((size, signer.sign(size, &root)?));
    }
    store.commit(&group)?;
    store.write_meta(size, &root, size)?;
    store.flush()?;
    Ok(RebuildReport {
        events: size,
        root,
        contracts: group.projections.len(),
        checkpoints_kept: kept,
        signed: group.checkpoint.map(|(_, note)| note),
    })
}

/// Writes the indexes and tree nodes of one replayed chunk (not flushed: the rebuild flushes
/// once at the end, before it writes meta).
fn write_chunk(
    store: &Store,
    frontier: &mut Frontier,
    events: Vec<SequencedEvent>,
) -> Result<(), StoreError> {
    let mut nodes = Vec::new();
    for event in &events {
        frontier
            .append(merkle::leaf_hash(&event.envelope), &mut nodes)
            .map_err(|e| StoreError::Storage(e.to_string()))?;
    }
    let size = frontier.size().get();
    let root = *frontier.root().as_bytes();
    store.commit(&CommitGroup {
        events,
        nodes,
        size,
        root,
        ..CommitGroup::default()
    })
}

/// Stores again each old checkpoint that the node key signed and whose root is the rebuilt
/// tree's at its size; returns how many.
fn keep_checkpoints(
    store: &Store,
    signer: &CheckpointSigner,
    old: Vec<(u64, String)>,
    size: u64,
) -> anyhow::Result<usize> {
    let verifier = NoteVerifier::parse(&signer.verifier_key())?;
    let mut kept = 0;
    for (checkpoint_size, text) in old {
        if checkpoint_size > size || checkpoint_size == 0 {
            continue;
        }
        let Ok(opened) = note::open_note(text.as_bytes(), std::slice::from_ref(&verifier)) else {
            continue;
        };
        let Ok(body) = Checkpoint::parse(opened.text()) else {
            continue;
        };
        let root = merkle::root(&store.node_source(), TreeSize::new(checkpoint_size))?;
        if body.size() == checkpoint_size && body.root() == root.as_bytes() {
            store.insert_checkpoint(checkpoint_size, &text)?;
            kept += 1;
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, ContractKit};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rebuild_reproduces_the_root_projections_and_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let (mut one, mut two) = (
            ContractKit::new("rebuild-one"),
            ContractKit::new("rebuild-two"),
        );
        let node = testkit::open(dir.path()).await;
        assert!(node
            .append(vec![one.registration(), two.registration()])
            .await
            .iter()
            .all(Result::is_ok));
        assert!(node
            .append(vec![one.claim(1), two.claim(1), one.claim(2)])
            .await
            .iter()
            .all(Result::is_ok));
        let (info, states) = (
            node.info(),
            (
                node.contract(one.id()).unwrap(),
                node.contract(two.id()).unwrap(),
            ),
        );
        node.shutdown().await;
        drop(node);

        let config = testkit::config(dir.path(), 1_000);
        let report = tokio::task::spawn_blocking(move || rebuild(&config))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (report.events, report.root, report.contracts),
            (5, info.root, 2)
        );
        // The checkpoints the node signed verify against the rebuilt tree and are kept.
        assert!(report.checkpoints_kept >= 1);

        let node = testkit::open(dir.path()).await;
        assert_eq!((node.info().log_size, node.info().root), (5, info.root));
        assert_eq!(node.contract(one.id()).unwrap(), states.0);
        assert_eq!(node.contract(two.id()).unwrap(), states.1);
        assert_eq!(
            node.latest_checkpoint().map(|c| (c.size, c.root)),
            Some((5, info.root))
        );
        assert_eq!(
            node.contract_events(two.id(), 0, 10)
                .unwrap()
                .iter()
                .map(|e| e.index)
                .collect::<Vec<_>>(),
            [1, 3]
        );
        node.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rebuild_keeps_a_replicated_nodes_place_in_its_streams() {
        let dir = tempfile::tempdir().unwrap();
        let mut kit = ContractKit::new("rebuild-replicated");
        let node = testkit::open(dir.path()).await;
        let sent = vec![kit.registration(), kit.claim(1)];
        assert!(node.append(sent).await.iter().all(Result::is_ok));
        node.shutdown().await;
        drop(node);
        // As a replicated node leaves it: events stream applied up to 9 (a refused message
        // among them), signatures stream read up to 4.
        let positions = |f: &dyn Fn(&Store)| {
            let store =
                Store::open_unchecked(dir.path(), crate::config::CACHE_BYTES_MAX_DEFAULT).unwrap();
            f(&store);
            store.flush().unwrap();
        };
        positions(&|store| {
            store.put_stream_position(9).unwrap();
            store.set_cosign_position(4).unwrap();
        });
        let config = testkit::config(dir.path(), 1_000);
        let report = tokio::task::spawn_blocking(move || rebuild(&config))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.events, 2);
        positions(&|store| {
            assert_eq!(store.stream_position().unwrap(), Some(9));
            assert_eq!(store.cosign_position().unwrap(), 4);
        });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rebuild_refuses_a_log_entry_that_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        let mut kit = ContractKit::new("rebuild-bad");
        let node = testkit::open(dir.path()).await;
        let sent = vec![kit.registration(), kit.claim(1), kit.claim(2)];
        assert!(node.append(sent.clone()).await.iter().all(Result::is_ok));
        node.shutdown().await;
        drop(node);
        // Entry 1 replaced by entry 2: the chain breaks at index 1.
        Store::open_unchecked(dir.path(), crate::config::CACHE_BYTES_MAX_DEFAULT)
            .unwrap()
            .put_log_for_test(1, &sent[2])
            .unwrap();
        let config = testkit::config(dir.path(), 1_000);
        let error = tokio::task::spawn_blocking(move || rebuild(&config))
            .await
            .unwrap()
            .unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("log entry 1 is refused on replay"),
            "{message}"
        );
    }
}
