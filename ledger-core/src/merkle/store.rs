//! The append path ([`Frontier`]) and a compact in-memory [`NodeSource`] ([`MemoryTree`]).

use super::error::AppendError;
use super::hash::{empty_root, node_hash, Hash};
use super::{NodeSource, TreeSize};

/// A perfect-subtree node for the log to store: the root hash of the leaves
/// `[index * 2^level, (index + 1) * 2^level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    level: u8,
    index: u64,
    hash: Hash,
}

impl Node {
    /// The height of the node (0 for a leaf hash).
    pub const fn level(&self) -> u8 {
        self.level
    }

    /// The position of the node among the nodes of its level.
    pub const fn index(&self) -> u64 {
        self.index
    }

    /// The node's hash.
    pub const fn hash(&self) -> &Hash {
        &self.hash
    }
}

/// The right border of a tree: the roots of the perfect subtrees that make it up, largest
/// (leftmost) first, one per set bit of the size. Enough to append and to compute the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Default for Frontier {
    fn default() -> Self {
        Self::new()
    }
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self {
            size: 0,
            hashes: Vec::with_capacity(u64::BITS as usize),
        }
    }

    /// The frontier of the tree of `size` leaves, read from `source` (one read per set bit of
    /// `size`).
    ///
    /// # Errors
    ///
    /// When the source fails to give a node.
    pub fn from_source<S: NodeSource>(source: &S, size: TreeSize) -> Result<Self, S::Error> {
        let mut frontier = Self::new();
        let mut begin = 0u64;
        for level in (0..u64::BITS).rev() {
            if size.get() & (1u64 << level) != 0 {
                // `level` < 64, so it fits a u8.
                frontier
                    .hashes
                    .push(source.node(level as u8, begin >> level)?);
                begin += 1u64 << level;
            }
        }
        frontier.size = size.get();
        Ok(frontier)
    }

    /// The number of leaves appended so far.
    pub const fn size(&self) -> TreeSize {
        TreeSize::new(self.size)
    }

    /// The perfect-subtree roots, largest first (RFC 9162's "compact range" of the tree).
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// MTH of the tree: the frontier folded right to left; the empty-tree hash for size 0.
    pub fn root(&self) -> Hash {
        let mut rest = self.hashes.iter().rev();
        let Some(&last) = rest.next() else {
            return empty_root();
        };
        rest.fold(last, |right, left| node_hash(left, &right))
    }

    /// Appends the leaf with hash `leaf_hash` and pushes onto `nodes` every node the log must
    /// now store: the leaf itself (level 0), then each perfect subtree it completes, bottom-up.
    /// `nodes` is not cleared, so one buffer can gather a whole commit group.
    ///
    /// # Errors
    ///
    /// [`AppendError::TreeFull`] when the tree already holds `u64::MAX` leaves; nothing changes.
    pub fn append(&mut self, leaf_hash: Hash, nodes: &mut Vec<Node>) -> Result<(), AppendError> {
        let index = self.size;
        let size = index.checked_add(1).ok_or(AppendError::TreeFull)?;
        nodes.push(Node {
            level: 0,
            index,
            hash: leaf_hash,
        });
        let mut carry = leaf_hash;
        // Each set trailing bit of the old size is a perfect subtree the new leaf completes.
        for level in 1..=index.trailing_ones() {
            let Some(left) = self.hashes.pop() else {
                break;
            };
            carry = node_hash(&left, &carry);
            // `level` <= 64 only when index = 2^64 - 1, which checked_add rejected above.
            nodes.push(Node {
                level: level as u8,
                index: index >> level,
                hash: carry,
            });
        }
        self.hashes.push(carry);
        self.size = size;
        Ok(())
    }
}

/// A whole tree in memory: one vector of perfect-subtree hashes per level (level 0 = leaf
/// hashes), so n leaves take about 2n hashes (64 MB for 10^6 leaves). For tests and the
/// offline auditor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self { levels: Vec::new() }
    }

    /// The tree of the given leaf hashes, in order.
    pub fn from_leaf_hashes<I: IntoIterator<Item = Hash>>(leaf_hashes: I) -> Self {
        let mut tree = Self::new();
        for leaf_hash in leaf_hashes {
            tree.push(leaf_hash);
        }
        tree
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        let leaves = self.levels.first().map_or(0, Vec::len);
        // A Vec length always fits u64 on supported targets (usize is at most 64 bits).
        TreeSize::new(leaves as u64)
    }

    /// MTH of the whole tree.
    pub fn root(&self) -> Hash {
        // Invariant kept by `push`: level `l` holds exactly `size >> l` hashes, so every
        // perfect subtree of the size (one per set bit, walked from the right) is present.
        let mut remaining = self.levels.first().map_or(0, Vec::len);
        let mut right_end = remaining;
        let mut acc: Option<Hash> = None;
        while remaining != 0 {
            let level = remaining.trailing_zeros() as usize;
            right_end -= 1 << level;
            let node = self.levels[level][right_end >> level];
            acc = Some(acc.map_or(node, |right| node_hash(&node, &right)));
            remaining &= remaining - 1;
        }
        acc.unwrap_or_else(empty_root)
    }

    /// Appends one leaf hash, storing every perfect subtree it completes.
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut carry = leaf_hash;
        let mut level = 0usize;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(carry);
            if row.len() % 2 == 1 {
                return;
            }
            carry = node_hash(&row[row.len() - 2], &carry);
            level += 1;
        }
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        let row = self.levels.get(usize::from(level));
        let hash = usize::try_from(index).ok().and_then(|i| row?.get(i));
        hash.copied().ok_or(MissingNode { level, index })
    }
}

/// A node the source does not hold (it lies beyond the tree's size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("merkle node (level {level}, index {index}) is not in the tree: ask for a smaller size")]
pub struct MissingNode {
    /// The node's level.
    pub level: u8,
    /// The node's index in its level.
    pub index: u64,
}

impl MissingNode {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "missing-node"
    }
}
