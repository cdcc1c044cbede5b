//! ARCHITECTURE.md's invariants, one function each, checked against what the simulation
//! expects ([`Expected`]): its own record of the admitted events, built from the workload's
//! expectations, with the tree root recomputed from the leaves by ledger-core's
//! [`MemoryTree`] and the projections by a ledger of its own fed the same events.

use std::collections::{BTreeMap, HashMap};

use ledger_core::merkle::{self, Hash as TreeHash, MemoryTree, TreeSize};
use ledger_core::{ContractState, Ledger};
use proto::{ContractId, EventId};

use super::workload::event_id;
use super::Check;
use crate::service::Node;
use crate::store::{RefusedMessage, Store};

/// Events the sim checks at a time when reading the log.
const READ_EVENTS_MAX: usize = 100_000;

/// What the store must hold: the admitted events in order, and the refused ones.
#[derive(Default)]
pub(super) struct Expected {
    pub(super) log: Vec<Vec<u8>>,
    ids: HashMap<EventId, u64>,
    refused: Vec<Vec<u8>>,
    /// The projections, from the admitted events applied one by one.
    reference: Ledger,
}

impl Expected {
    /// `bytes` is admitted at the next index.
    ///
    /// # Errors
    /// If the reference ledger refuses it: the workload's expectation was wrong.
    pub(super) fn admit(&mut self, bytes: Vec<u8>) -> Check {
        let index = self.log.len() as u64;
        let event = Ledger::decode(&bytes).map_err(|r| format!("expected event: {r}"))?;
        let verdicts = self
            .reference
            .check_signatures(std::slice::from_ref(&event), 1);
        let verdict = verdicts.first().ok_or("no signature verdict")?;
        self.reference
            .admit(&event, verdict)
            .map_err(|r| format!("the reference ledger refuses event {index}: {r}"))?;
        self.ids.insert(*event.id(), index);
        self.log.push(bytes);
        Ok(())
    }

    /// `bytes` was refused.
    pub(super) fn refuse(&mut self, bytes: Vec<u8>) {
        self.refused.push(bytes);
    }

    /// The index of an admitted event.
    pub(super) fn index_of(&self, id: &EventId) -> Option<u64> {
        self.ids.get(id).copied()
    }

    pub(super) fn size(&self) -> u64 {
        self.log.len() as u64
    }

    /// The root of the first `size` admitted events, from their leaves alone.
    pub(super) fn root_at(&self, size: u64) -> TreeHash {
        let leaves = self
            .log
            .iter()
            .take(usize::try_from(size).unwrap_or(usize::MAX));
        MemoryTree::from_leaf_hashes(leaves.map(|bytes| merkle::leaf_hash(bytes))).root()
    }
}

fn read(e: impl std::fmt::Display) -> String {
    format!("reading the store: {e}")
}

/// "Acknowledged means durable": every event answered as admitted is in the store, at its
/// index (after a crash: in the store reopened from what the disk held).
pub(super) fn acknowledged_means_durable(store: &Store, expected: &Expected) -> Check {
    for (index, bytes) in (0u64..).zip(&expected.log) {
        let stored = store.envelope_at(index).map_err(read)?;
        if stored.as_deref() != Some(bytes.as_slice()) {
            return Err(format!("acknowledged event {index} is not in the store"));
        }
        let id = event_id(bytes).ok_or("an acknowledged event does not decode")?;
        let indexed = store.index_of(&id, u64::MAX).map_err(read)?;
        if indexed != Some(index) {
            return Err(format!(
                "acknowledged event {index} is indexed at {indexed:?}"
            ));
        }
    }
    Ok(())
}

/// "The log tree holds exactly the admitted events, in order": the log, its size, the root
/// the node serves, the root of its stored tree nodes, its latest checkpoint and an inclusion
/// proof all agree with the root recomputed from the expected leaves.
pub(super) fn log_tree_holds_exactly_the_admitted_events_in_order(
    node: &Node,
    expected: &Expected,
    proved: u64,
) -> Check {
    let store = node.store_for_test();
    let size = expected.size();
    let stored: Vec<Vec<u8>> = store
        .log_range(0, u64::MAX, READ_EVENTS_MAX)
        .map_err(read)?
        .into_iter()
        .map(|(_, bytes)| bytes)
        .collect();
    if stored != expected.log {
        return Err(format!(
            "the log holds {} events, {} expected (first difference at {})",
            stored.len(),
            size,
            first_difference(&stored, &expected.log)
        ));
    }
    let root = expected.root_at(size);
    let info = node.info();
    if (info.log_size, info.root) != (size, *root.as_bytes()) {
        return Err(format!(
            "the node serves size {} and another root than the {size} admitted events'",
            info.log_size
        ));
    }
    let tree = merkle::root(&store.node_source(), TreeSize::new(size)).map_err(read)?;
    if tree != root {
        return Err(format!(
            "the stored tree nodes give another root at size {size}"
        ));
    }
    checkpoint_matches(node, expected)?;
    inclusion_proof_verifies(node, expected, proved)
}

fn first_difference(a: &[Vec<u8>], b: &[Vec<u8>]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The latest checkpoint, if any, signs the expected root at its size.
fn checkpoint_matches(node: &Node, expected: &Expected) -> Check {
    let Some(checkpoint) = node.latest_checkpoint() else {
        return Ok(());
    };
    if checkpoint.size > expected.size() {
        return Err(format!(
            "a checkpoint of size {} is past the log",
            checkpoint.size
        ));
    }
    if checkpoint.root != *expected.root_at(checkpoint.size).as_bytes() {
        return Err(format!(
            "the checkpoint of size {} has another root",
            checkpoint.size
        ));
    }
    Ok(())
}

/// The node's inclusion proof of entry `index % size` verifies against the expected root.
fn inclusion_proof_verifies(node: &Node, expected: &Expected, index: u64) -> Check {
    let size = expected.size();
    if size == 0 {
        return Ok(());
    }
    let index = index % size;
    let path = node
        .inclusion_proof(index, size)
        .map_err(|e| format!("no inclusion proof of {index} in {size}: {e}"))?;
    let path: Vec<TreeHash> = path
        .iter()
        .map(|h| TreeHash::from_slice(h))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a proof hash: {e}"))?;
    let leaf = usize::try_from(index)
        .ok()
        .and_then(|i| expected.log.get(i))
        .ok_or("no expected leaf")?;
    merkle::verify_inclusion(
        &merkle::leaf_hash(leaf),
        merkle::LeafIndex::new(index),
        TreeSize::new(size),
        &path,
        &expected.root_at(size),
    )
    .map_err(|e| format!("the inclusion proof of {index} in {size} does not verify: {e}"))
}

/// "A refused event leaves nothing in the log, the indexes, the tree or the projection": no
/// refused event (by id: one a valid event shares, a forged signature's, is left out) is
/// indexed, is a claim of any contract or registered a contract. The log and the tree are
/// [`log_tree_holds_exactly_the_admitted_events_in_order`]'s.
pub(super) fn a_refused_event_leaves_nothing(
    node: &Node,
    expected: &Expected,
    contracts: &[ContractId],
) -> Check {
    let store = node.store_for_test();
    let states: Vec<ContractState> = contracts.iter().filter_map(|c| node.contract(c)).collect();
    for bytes in &expected.refused {
        let Some(id) = event_id(bytes) else { continue };
        if expected.index_of(&id).is_some() {
            continue;
        }
        if let Some(index) = store.index_of(&id, u64::MAX).map_err(read)? {
            return Err(format!("refused event {id} is indexed at {index}"));
        }
        if states.iter().any(|s| s.claims().contains_key(&id)) {
            return Err(format!("refused event {id} is a claim of a projection"));
        }
    }
    for id in contracts {
        if node.contract(id).is_some() && expected.reference.contract(id).is_none() {
            return Err(format!(
                "contract {id} exists but no admitted event registered it"
            ));
        }
    }
    Ok(())
}

/// "Applying events one by one and rebuilding from scratch give equal projections": the
/// node's projections (restored from snapshots, replayed, then applied group by group) equal
/// the reference ledger's, which applied the admitted events one at a time.
pub(super) fn projections_after_incremental_apply_equal_a_rebuild_from_the_log(
    node: &Node,
    expected: &Expected,
) -> Check {
    let reference: BTreeMap<&ContractId, &ContractState> = expected
        .reference
        .contracts()
        .map(|s| (s.id(), s))
        .collect();
    let listed = node.contracts().len();
    if listed != reference.len() {
        return Err(format!(
            "the node has {listed} contracts, the rebuild {}",
            reference.len()
        ));
    }
    for (id, state) in reference {
        if node.contract(id).as_ref() != Some(state) {
            return Err(format!("the projection of {id} differs from the rebuild"));
        }
    }
    Ok(())
}

/// The same, against a rebuild from scratch of the stored log (run after each restart).
pub(super) fn projections_equal_a_rebuild_of_the_stored_log(node: &Node) -> Check {
    let store = node.store_for_test();
    let size = node.info().log_size;
    let mut ledger = Ledger::new();
    crate::append::replay(&mut ledger, store, 0, size).map_err(|e| format!("rebuild: {e}"))?;
    for state in ledger.contracts() {
        if node.contract(state.id()).as_ref() != Some(state) {
            return Err(format!(
                "the projection of {} differs from the rebuild",
                state.id()
            ));
        }
    }
    if node.contracts().len() != ledger.contracts().count() {
        return Err("the node has other contracts than the rebuild".into());
    }
    Ok(())
}

/// "The stream position is stored in the same transaction as the data it produced": the
/// stored position `p`, the log and the refusals are exactly what the stream's first `p`
/// messages produce (nothing applied twice, nothing skipped).
pub(super) fn stream_position_is_stored_with_the_data(
    node: &Node,
    expected: &Expected,
    refused: &[u64],
) -> Check {
    let store = node.store_for_test();
    let position = store.stream_position().map_err(read)?.unwrap_or(0);
    let stored: Vec<u64> = store
        .refused(0, READ_EVENTS_MAX)
        .map_err(read)?
        .iter()
        .map(|r| r.sequence)
        .collect();
    let want: Vec<u64> = refused.iter().copied().filter(|s| *s <= position).collect();
    if stored != want {
        return Err(format!(
            "at stream position {position} the store refused {stored:?}, expected {want:?}"
        ));
    }
    acknowledged_means_durable(store, expected)
}

/// Replicated: "a message's fate is a function of the stream prefix before it, never of the
/// node": two replicas at the same position have the same size, root and refusals (codes and
/// details included).
pub(super) fn replicas_at_one_position_agree(a: &Node, b: &Node) -> Check {
    let position = |n: &Node| n.store_for_test().stream_position().map_err(read);
    if position(a)? != position(b)? {
        return Ok(());
    }
    let refused = |n: &Node| -> Result<Vec<RefusedMessage>, String> {
        n.store_for_test().refused(0, READ_EVENTS_MAX).map_err(read)
    };
    let (ia, ib) = (a.info(), b.info());
    if (ia.log_size, ia.root) != (ib.log_size, ib.root) {
        return Err(format!(
            "at one stream position the replicas hold {} and {} events or other roots",
            ia.log_size, ib.log_size
        ));
    }
    if refused(a)? != refused(b)? {
        return Err("at one stream position the replicas refused differently".into());
    }
    Ok(())
}
