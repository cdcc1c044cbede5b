//! RFC 6962 / RFC 9162 Merkle tree math, apart from any storage.
//!
//! The log keeps the hash of every *perfect* subtree: node `(level, index)` covers the leaves
//! `[index * 2^level, (index + 1) * 2^level)`; level 0 holds the leaf hashes. Everything here
//! reads those nodes through [`NodeSource`], so the same code serves the node's sled store and
//! the offline auditor's [`MemoryTree`].
//!
//! - [`hash`]: the RFC 6962 leaf and interior hashes and the [`Hash`](struct@Hash) newtype.
//! - [`store`]: [`Frontier`] (the append path: which nodes a new leaf creates) and
//!   [`MemoryTree`] (a compact in-memory [`NodeSource`]).
//! - [`proof`]: roots, inclusion and consistency proofs from a source, and their RFC 9162
//!   verification (sections 2.1.3.2 and 2.1.4.2).
//! - [`subtree`]: the subtree proofs of the Merkle Tree Certificates draft (C2SP tlog-witness
//!   uses them); the ledger itself only needs [`proof`].
//!
//! Invariants: proofs are computed with O(log n) node reads and never rehash leaves; a node the
//! source lacks is the source's error, never a panic; sizes and indices are `u64`.

mod descent;
pub mod error;
pub mod hash;
pub mod proof;
pub mod store;
pub mod subtree;

use std::fmt;

pub use error::{AppendError, ProofError, ProveError};
pub use hash::{empty_root, leaf_hash, node_hash, node_hash_bytes, Hash, HashParseError};
pub use proof::{consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion};
pub use store::{Frontier, MemoryTree, MissingNode, Node};
pub use subtree::{
    subtree_consistency_proof, subtree_hash, subtree_inclusion_proof, verify_subtree_consistency,
    verify_subtree_inclusion, Subtree,
};

/// Where the hashes of the perfect subtrees of a log are read from.
///
/// Node `(level, index)` is the root hash of the perfect subtree over the leaves
/// `[index * 2^level, (index + 1) * 2^level)`. A source of a tree of size `n` must hold every
/// such node that lies entirely below `n`; it may hold more (the proofs for a smaller size only
/// read nodes below that size).
pub trait NodeSource {
    /// Why a node could not be read (missing, storage failure).
    type Error: std::error::Error + 'static;

    /// The hash of node `(level, index)`.
    ///
    /// # Errors
    ///
    /// When the node is missing or cannot be read.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// The 0-based position of a leaf in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeafIndex(u64);

impl LeafIndex {
    /// The leaf at position `index`.
    pub const fn new(index: u64) -> Self {
        Self(index)
    }

    /// The position as a number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for LeafIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The number of leaves of a tree (a log at some point of its history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeSize(u64);

impl TreeSize {
    /// The empty tree.
    pub const EMPTY: Self = Self(0);

    /// A tree of `size` leaves.
    pub const fn new(size: u64) -> Self {
        Self(size)
    }

    /// The number of leaves.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Whether the tree holds the leaf at `index`.
    pub const fn contains(self, index: LeafIndex) -> bool {
        index.0 < self.0
    }
}

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
