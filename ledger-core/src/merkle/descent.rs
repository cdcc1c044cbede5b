//! The walk from a tree's root down to a target range, shared by every proof.
//!
//! RFC 9162 defines PATH (inclusion) and SUBPROOF (consistency) recursively: split the range at
//! the largest power of two below its length and recurse into the half that holds the target,
//! emitting the hash of the other half. Both are one walk: an inclusion proof of leaf `i` is the
//! walk to `[i, i + 1)`, a consistency proof from size `m` is the walk to `[0, m)`, and the
//! Merkle Tree Certificates subtree proofs walk to `[start, end)`. The walk is pure index
//! arithmetic: no hashing, no allocation.

use super::hash::{node_hash, Hash};
use super::NodeSource;

/// The most steps a walk takes: every step at least halves a length below 2^64.
const STEPS_MAX: usize = 64;

/// What the sibling hash emitted at one step of the walk is, seen from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The sibling is right of the target: only the tree's root covers it.
    Right,
    /// The sibling is left of the target and outside it.
    LeftOutside,
    /// The sibling is left and inside the target: both the target's and the tree's roots cover
    /// it (RFC 9162 SUBPROOF with `m > k`).
    LeftInside,
}

/// One step: the sibling range `[begin, end)` and its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) side: Side,
    pub(crate) begin: u64,
    pub(crate) end: u64,
}

/// A whole walk, top-down, plus the range it stops at.
#[derive(Debug, Clone)]
pub(crate) struct Descent {
    steps: [Step; STEPS_MAX],
    len: usize,
    /// The range where the walk stopped: the target, or its right part after a `LeftInside`.
    pub(crate) base_begin: u64,
    pub(crate) base_end: u64,
    /// Whether the verifier already knows the hash of the base (the target was never split):
    /// then the proof does not carry it.
    pub(crate) base_known: bool,
}

impl Descent {
    /// The walk from `[begin, end)` to the target `[start, stop)`.
    ///
    /// The caller guarantees `begin <= start < stop <= end` and that the target is a valid
    /// subtree of `[begin, end)` (with `begin` aligned as a node of the whole tree).
    pub(crate) fn new(begin: u64, end: u64, start: u64, stop: u64) -> Self {
        let empty = Step {
            side: Side::Right,
            begin: 0,
            end: 0,
        };
        let mut walk = Self {
            steps: [empty; STEPS_MAX],
            len: 0,
            base_begin: begin,
            base_end: end,
            base_known: true,
        };
        let mut start = start;
        while !(walk.base_begin == start && walk.base_end == stop) && walk.len < STEPS_MAX {
            let mid = walk.base_begin + split(walk.base_end - walk.base_begin);
            let step = if stop <= mid {
                let step = Step {
                    side: Side::Right,
                    begin: mid,
                    end: walk.base_end,
                };
                walk.base_end = mid;
                step
            } else if start >= mid {
                let step = Step {
                    side: Side::LeftOutside,
                    begin: walk.base_begin,
                    end: mid,
                };
                walk.base_begin = mid;
                step
            } else {
                let step = Step {
                    side: Side::LeftInside,
                    begin: walk.base_begin,
                    end: mid,
                };
                walk.base_begin = mid;
                start = mid;
                walk.base_known = false;
                step
            };
            walk.steps[walk.len] = step;
            walk.len += 1;
        }
        walk
    }

    /// The steps, top-down (root first).
    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps[..self.len]
    }

    /// The number of hashes in the proof of this walk.
    pub(crate) fn proof_len(&self) -> usize {
        self.len + usize::from(!self.base_known)
    }

    /// The proof: the base's hash if the verifier lacks it, then the siblings bottom-up.
    pub(crate) fn proof<S: NodeSource>(&self, source: &S) -> Result<Vec<Hash>, S::Error> {
        let mut proof = Vec::with_capacity(self.proof_len());
        if !self.base_known {
            proof.push(range_hash(source, self.base_begin, self.base_end)?);
        }
        for step in self.steps().iter().rev() {
            proof.push(range_hash(source, step.begin, step.end)?);
        }
        Ok(proof)
    }
}

/// The largest power of two strictly below `length` (RFC 9162's `k`). `length` must be >= 2;
/// for smaller lengths the result is 1, which callers never use.
pub(crate) fn split(length: u64) -> u64 {
    let bits = u64::BITS - length.saturating_sub(1).leading_zeros();
    1u64 << bits.saturating_sub(1)
}

/// MTH(D[begin:end]) for a range that is a subtree in RFC 9162's recursion: `begin` is a
/// multiple of the power of two at or above the length. Such a range is a run of perfect
/// subtrees, one per set bit of its length, largest first; this reads them (popcount reads)
/// and folds them right to left. The empty range gives the empty-tree hash.
pub(crate) fn range_hash<S: NodeSource>(
    source: &S,
    begin: u64,
    end: u64,
) -> Result<Hash, S::Error> {
    let mut remaining = end - begin;
    let mut right_end = end;
    let mut acc: Option<Hash> = None;
    while remaining != 0 {
        let level = remaining.trailing_zeros();
        let width = 1u64 << level;
        right_end -= width;
        // `level` < 64, so it fits a u8.
        let node = source.node(level as u8, right_end >> level)?;
        acc = Some(match acc {
            None => node,
            Some(right) => node_hash(&node, &right),
        });
        remaining &= remaining - 1;
    }
    Ok(acc.unwrap_or_else(super::hash::empty_root))
}
