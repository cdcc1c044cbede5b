//! Subtrees and their proofs, from the Merkle Tree Certificates draft
//! (draft-ietf-plants-merkle-tree-certs, sections 4.1 to 4.4), which C2SP tlog-witness uses to
//! cosign subtrees. The ledger's own proofs are in [`super::proof`]; this module reuses the
//! same walk (`Descent`) and node reads.
//!
//! A subtree `[start, end)` is valid when `start <= end` and `start` is 0, equals `end`, or is a
//! multiple of the smallest power of two at or above `end - start`. Its hash is
//! MTH(D\[start:end\]). A subtree inclusion proof is RFC 9162 PATH(index - start,
//! D\[start:end\]); a subtree consistency proof generalizes RFC 9162 SUBPROOF to a target range
//! whose hash the verifier knows, and is empty for an empty subtree or for `[0, size)`.

use super::descent::{range_hash, Descent, Side};
use super::error::{ProofError, ProveError};
use super::hash::{empty_root, node_hash, Hash};
use super::proof::{check_len, verify_inclusion};
use super::{LeafIndex, NodeSource, TreeSize};

/// A valid subtree `[start, end)` (valid by construction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subtree {
    start: u64,
    end: u64,
}

impl Subtree {
    /// The subtree `[start, end)`.
    ///
    /// # Errors
    ///
    /// [`ProofError::InvalidSubtree`] when the range is not a valid subtree.
    pub fn new(start: u64, end: u64) -> Result<Self, ProofError> {
        let aligned = match end.checked_sub(start) {
            None => false,
            Some(0) => true,
            Some(_) if start == 0 => true,
            Some(width) => width
                .checked_next_power_of_two()
                .is_some_and(|w| start & (w - 1) == 0),
        };
        match aligned {
            true => Ok(Self { start, end }),
            false => Err(ProofError::InvalidSubtree { start, end }),
        }
    }

    /// The first leaf.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// One past the last leaf.
    pub const fn end(&self) -> u64 {
        self.end
    }

    /// Whether the subtree holds no leaf.
    pub const fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn check_holds(&self, index: LeafIndex) -> Result<(), ProofError> {
        match (self.start..self.end).contains(&index.get()) {
            true => Ok(()),
            false => Err(ProofError::IndexOutsideSubtree {
                index: index.get(),
                start: self.start,
                end: self.end,
            }),
        }
    }

    fn check_fits(&self, size: TreeSize) -> Result<(), ProofError> {
        match self.end <= size.get() {
            true => Ok(()),
            false => Err(ProofError::SubtreeBeyondTree {
                end: self.end,
                size: size.get(),
            }),
        }
    }
}

/// MTH(D\[start:end\]) (the empty-tree hash for an empty subtree), with one node read per set
/// bit of `end - start`.
///
/// # Errors
///
/// When the source fails to give a node.
pub fn subtree_hash<S: NodeSource>(source: &S, subtree: Subtree) -> Result<Hash, S::Error> {
    range_hash(source, subtree.start, subtree.end)
}

/// The inclusion proof of the leaf at `index` in `subtree`: PATH(index - start, D\[start:end\]).
///
/// # Errors
///
/// [`ProofError::IndexOutsideSubtree`], or [`ProveError::Source`] when the source fails.
pub fn subtree_inclusion_proof<S: NodeSource>(
    source: &S,
    index: LeafIndex,
    subtree: Subtree,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    subtree.check_holds(index)?;
    let walk = Descent::new(subtree.start, subtree.end, index.get(), index.get() + 1);
    walk.proof(source).map_err(ProveError::Source)
}

/// Verifies that `leaf_hash` is the leaf at `index` of `subtree`, whose hash is
/// `subtree_root`.
///
/// # Errors
///
/// [`ProofError::IndexOutsideSubtree`], [`ProofError::ProofLength`] or
/// [`ProofError::RootMismatch`].
pub fn verify_subtree_inclusion(
    leaf_hash: &Hash,
    index: LeafIndex,
    subtree: Subtree,
    proof: &[Hash],
    subtree_root: &Hash,
) -> Result<(), ProofError> {
    subtree.check_holds(index)?;
    let local_index = LeafIndex::new(index.get() - subtree.start);
    let local_size = TreeSize::new(subtree.end - subtree.start);
    verify_inclusion(leaf_hash, local_index, local_size, proof, subtree_root)
}

/// The consistency proof from `subtree` to the tree of `size` leaves.
///
/// # Errors
///
/// [`ProofError::SubtreeBeyondTree`], or [`ProveError::Source`] when the source fails.
pub fn subtree_consistency_proof<S: NodeSource>(
    source: &S,
    subtree: Subtree,
    size: TreeSize,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    subtree.check_fits(size)?;
    if subtree.is_empty() {
        return Ok(Vec::new());
    }
    let walk = Descent::new(0, size.get(), subtree.start, subtree.end);
    walk.proof(source).map_err(ProveError::Source)
}

/// Verifies that `subtree_root` is the hash of `subtree` in the tree of `size` leaves whose
/// root is `root`.
///
/// An empty subtree needs an empty proof and the empty-tree hash as `subtree_root`; it says
/// nothing about `root`, which is not checked.
///
/// # Errors
///
/// [`ProofError::SubtreeBeyondTree`], [`ProofError::ProofLength`] (checked before any
/// hashing), [`ProofError::FirstRootMismatch`] or [`ProofError::RootMismatch`].
pub fn verify_subtree_consistency(
    subtree: Subtree,
    size: TreeSize,
    proof: &[Hash],
    subtree_root: &Hash,
    root: &Hash,
) -> Result<(), ProofError> {
    subtree.check_fits(size)?;
    if subtree.is_empty() {
        check_len(0, proof.len())?;
        return match *subtree_root == empty_root() {
            true => Ok(()),
            false => Err(ProofError::FirstRootMismatch),
        };
    }
    let walk = Descent::new(0, size.get(), subtree.start, subtree.end);
    check_len(walk.proof_len(), proof.len())?;
    let (mut hashes, mut first, mut second) = match walk.base_known {
        true => (proof.iter(), *subtree_root, *subtree_root),
        false => {
            let mut hashes = proof.iter();
            let base = hashes.next().copied().unwrap_or(*subtree_root);
            (hashes, base, base)
        }
    };
    for (step, sibling) in walk.steps().iter().rev().zip(&mut hashes) {
        match step.side {
            Side::Right => second = node_hash(&second, sibling),
            Side::LeftOutside => second = node_hash(sibling, &second),
            Side::LeftInside => {
                first = node_hash(sibling, &first);
                second = node_hash(sibling, &second);
            }
        }
    }
    if first != *subtree_root {
        return Err(ProofError::FirstRootMismatch);
    }
    if second != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
