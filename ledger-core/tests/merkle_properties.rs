//! Property tests of the Merkle log math against an independent model.
//!
//! Vector source: none; the expected values come from `Model` below, a naive recursive
//! implementation of RFC 9162 section 2.1 (MTH, PATH, PROOF/SUBPROOF) written from the RFC's
//! definitions with `sha2` directly, sharing no code with `ledger_core::merkle`.
//!
//! For every tree size 1..=300 (a loop, not sampling) every inclusion proof of every index and
//! every consistency proof of every pair m <= n must equal the model's and verify, and every
//! alteration must fail: one bit flipped in any proof hash, a hash dropped or added, the root
//! or the leaf changed, the index moved. A proof checked against a neighbouring size must fail
//! unless both sizes give the proof the same shape (the same left/right pattern), in which case
//! it is the same proof and RFC 9162 accepts it: the root, not the proof, binds the size.
//! Random larger sizes are drawn by proptest.

use std::collections::HashMap;

use ledger_core::merkle::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion,
    verify_subtree_consistency, Frontier, Hash, LeafIndex, MemoryTree, Subtree, TreeSize,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const EXHAUSTIVE_SIZE_MAX: usize = 300;

/// Which side of the running hash a proof element goes, as RFC 9162's recursion places it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The verifier lacks the old root: the proof starts with it (SUBPROOF with b = false).
    Base,
    /// Sibling to the right (PATH with m < k, SUBPROOF with m <= k).
    Right,
    /// Sibling to the left (PATH with m >= k, SUBPROOF with m > k).
    Left,
}

/// The naive RFC 9162 model over a list of leaf data.
struct Model {
    leaves: Vec<Hash>,
    memo: HashMap<(usize, usize), Hash>,
}

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    Hash::from_bytes(hasher.finalize().into())
}

/// The largest power of two strictly below `n` (n >= 2), by counting.
fn largest_power_below(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Leaf data of the model's trees: the index as 8 big-endian bytes.
fn model_leaf(index: usize) -> Hash {
    sha256(&[&[0x00], &(index as u64).to_be_bytes()])
}

impl Model {
    fn new(leaf_count: usize) -> Self {
        Self {
            leaves: (0..leaf_count).map(model_leaf).collect(),
            memo: HashMap::new(),
        }
    }

    /// MTH(D[a:b]) by the RFC's recursive definition (memoized: the same range always has the
    /// same hash).
    fn mth(&mut self, a: usize, b: usize) -> Hash {
        if let Some(hash) = self.memo.get(&(a, b)) {
            return *hash;
        }
        let hash = match b - a {
            0 => sha256(&[]),
            1 => self.leaves[a],
            n => {
                let k = largest_power_below(n);
                let (left, right) = (self.mth(a, a + k), self.mth(a + k, b));
                sha256(&[&[0x01], left.as_bytes(), right.as_bytes()])
            }
        };
        self.memo.insert((a, b), hash);
        hash
    }

    /// PATH(m, D[a:b]), leaf upwards.
    fn path(&mut self, m: usize, a: usize, b: usize) -> Vec<(Hash, Role)> {
        let n = b - a;
        if n <= 1 {
            return Vec::new();
        }
        let k = largest_power_below(n);
        if m < k {
            let mut proof = self.path(m, a, a + k);
            proof.push((self.mth(a + k, b), Role::Right));
            proof
        } else {
            let mut proof = self.path(m - k, a + k, b);
            proof.push((self.mth(a, a + k), Role::Left));
            proof
        }
    }

    /// SUBPROOF(m, D[a:b], known), bottom upwards.
    fn subproof(&mut self, m: usize, a: usize, b: usize, known: bool) -> Vec<(Hash, Role)> {
        let n = b - a;
        if m == n {
            return match known {
                true => Vec::new(),
                false => vec![(self.mth(a, b), Role::Base)],
            };
        }
        let k = largest_power_below(n);
        if m <= k {
            let mut proof = self.subproof(m, a, a + k, known);
            proof.push((self.mth(a + k, b), Role::Right));
            proof
        } else {
            let mut proof = self.subproof(m - k, a + k, b, false);
            proof.push((self.mth(a, a + k), Role::Left));
            proof
        }
    }

    /// PROOF(m, D[0:n]); empty when m == n.
    fn consistency(&mut self, m: usize, n: usize) -> Vec<(Hash, Role)> {
        match m == n {
            true => Vec::new(),
            false => self.subproof(m, 0, n, true),
        }
    }
}

fn hashes(proof: &[(Hash, Role)]) -> Vec<Hash> {
    proof.iter().map(|(hash, _)| *hash).collect()
}

fn roles(proof: &[(Hash, Role)]) -> Vec<Role> {
    proof.iter().map(|(_, role)| *role).collect()
}

fn flip_bit(hash: &Hash, bit: usize) -> Hash {
    let mut bytes = *hash.as_bytes();
    bytes[(bit / 8) % 32] ^= 1 << (bit % 8);
    Hash::from_bytes(bytes)
}

/// Every altered copy of `proof`: one bit flipped in each hash, each hash dropped, one hash
/// added at each end.
fn altered_proofs(proof: &[Hash], seed: usize) -> Vec<Vec<Hash>> {
    let mut altered = Vec::new();
    for position in 0..proof.len() {
        let mut flipped = proof.to_vec();
        flipped[position] = flip_bit(&proof[position], seed * 31 + position * 7);
        altered.push(flipped);
        let mut dropped = proof.to_vec();
        dropped.remove(position);
        altered.push(dropped);
    }
    let extra = model_leaf(seed);
    altered.push([proof, &[extra]].concat());
    altered.push([&[extra], proof].concat());
    altered
}

fn tree_of(model: &Model) -> MemoryTree {
    MemoryTree::from_leaf_hashes(model.leaves.iter().copied())
}

/// Checks everything about the inclusion proof of `index` in the tree of `size` leaves.
fn check_inclusion(model: &mut Model, tree: &MemoryTree, index: usize, size: usize) {
    let (i, n) = (LeafIndex::new(index as u64), TreeSize::new(size as u64));
    let expected = model.path(index, 0, size);
    let proof = inclusion_proof(tree, i, n).unwrap_or_else(|e| panic!("{i} in {n}: {e}"));
    assert_eq!(proof, hashes(&expected), "inclusion proof of {i} in {n}");
    let (leaf, tree_root) = (model.leaves[index], model.mth(0, size));
    assert_eq!(
        verify_inclusion(&leaf, i, n, &proof, &tree_root),
        Ok(()),
        "{i} in {n}"
    );
    for altered in altered_proofs(&proof, index + size) {
        assert!(
            verify_inclusion(&leaf, i, n, &altered, &tree_root).is_err(),
            "{i} in {n}"
        );
    }
    let other_leaf = flip_bit(&leaf, index);
    assert!(verify_inclusion(&other_leaf, i, n, &proof, &tree_root).is_err());
    let other_root = flip_bit(&tree_root, size);
    assert!(verify_inclusion(&leaf, i, n, &proof, &other_root).is_err());
    for other in [index.wrapping_sub(1), index + 1]
        .into_iter()
        .filter(|&j| j < size)
    {
        let j = LeafIndex::new(other as u64);
        assert!(
            verify_inclusion(&leaf, j, n, &proof, &tree_root).is_err(),
            "{i} as {j} in {n}"
        );
    }
    for other in [size - 1, size + 1].into_iter().filter(|&m| m > index) {
        let accepted = verify_inclusion(&leaf, i, TreeSize::new(other as u64), &proof, &tree_root);
        let same_shape = roles(&model.path(index, 0, other)) == roles(&expected);
        assert_eq!(
            accepted.is_ok(),
            same_shape,
            "{i} in {n} checked as size {other}"
        );
    }
}

/// Checks everything about the consistency proof from `first` to `second` leaves.
fn check_consistency(model: &mut Model, tree: &MemoryTree, first: usize, second: usize) {
    let (m, n) = (TreeSize::new(first as u64), TreeSize::new(second as u64));
    let expected = model.consistency(first, second);
    let proof = consistency_proof(tree, m, n).unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
    assert_eq!(proof, hashes(&expected), "consistency proof {m} -> {n}");
    let (root_m, root_n) = (model.mth(0, first), model.mth(0, second));
    assert_eq!(
        verify_consistency(m, n, &proof, &root_m, &root_n),
        Ok(()),
        "{m} -> {n}"
    );
    let prefix = Subtree::new(0, first as u64).unwrap_or_else(|e| panic!("[0, {m}): {e}"));
    assert_eq!(
        verify_subtree_consistency(prefix, n, &proof, &root_m, &root_n),
        Ok(())
    );
    for altered in altered_proofs(&proof, first * 7 + second) {
        assert!(
            verify_consistency(m, n, &altered, &root_m, &root_n).is_err(),
            "{m} -> {n}"
        );
        let by_subtree = verify_subtree_consistency(prefix, n, &altered, &root_m, &root_n);
        assert!(by_subtree.is_err(), "{m} -> {n} as a subtree");
    }
    let (other_m, other_n) = (flip_bit(&root_m, first), flip_bit(&root_n, second));
    assert!(
        verify_consistency(m, n, &proof, &other_m, &root_n).is_err(),
        "{m} -> {n}"
    );
    assert!(
        verify_consistency(m, n, &proof, &root_m, &other_n).is_err(),
        "{m} -> {n}"
    );
    for other in [second - 1, second + 1].into_iter().filter(|&s| s >= first) {
        let accepted = verify_consistency(m, TreeSize::new(other as u64), &proof, &root_m, &root_n);
        let same_shape = roles(&model.consistency(first, other)) == roles(&expected);
        assert_eq!(
            accepted.is_ok(),
            same_shape,
            "{m} -> {n} checked as {m} -> {other}"
        );
    }
    for other in [first - 1, first + 1]
        .into_iter()
        .filter(|&f| f >= 1 && f <= second)
    {
        let accepted = verify_consistency(TreeSize::new(other as u64), n, &proof, &root_m, &root_n);
        let same_shape = roles(&model.consistency(other, second)) == roles(&expected);
        assert_eq!(
            accepted.is_ok(),
            same_shape,
            "{m} -> {n} checked as {other} -> {n}"
        );
    }
}

#[test]
fn every_inclusion_proof_up_to_300_verifies_and_every_alteration_fails() {
    let mut model = Model::new(EXHAUSTIVE_SIZE_MAX + 1);
    let tree = tree_of(&model);
    for size in 1..=EXHAUSTIVE_SIZE_MAX {
        for index in 0..size {
            check_inclusion(&mut model, &tree, index, size);
        }
    }
}

#[test]
fn every_consistency_proof_up_to_300_verifies_and_every_alteration_fails() {
    let mut model = Model::new(EXHAUSTIVE_SIZE_MAX + 1);
    let tree = tree_of(&model);
    for second in 1..=EXHAUSTIVE_SIZE_MAX {
        for first in 1..=second {
            check_consistency(&mut model, &tree, first, second);
        }
    }
}

#[test]
fn appending_up_to_300_matches_the_model_at_every_size() {
    let mut model = Model::new(EXHAUSTIVE_SIZE_MAX);
    let mut frontier = Frontier::new();
    let mut tree = MemoryTree::new();
    let mut nodes = Vec::new();
    for size in 1..=EXHAUSTIVE_SIZE_MAX {
        nodes.clear();
        let leaf = model.leaves[size - 1];
        assert_eq!(frontier.append(leaf, &mut nodes), Ok(()));
        tree.push(leaf);
        let expected_root = model.mth(0, size);
        assert_eq!(frontier.size(), TreeSize::new(size as u64));
        assert_eq!(frontier.root(), expected_root, "frontier root at {size}");
        assert_eq!(tree.root(), expected_root, "memory tree root at {size}");
        assert_eq!(root(&tree, TreeSize::new(size as u64)), Ok(expected_root));
        // The new nodes: the leaf, then one per perfect subtree the leaf completes.
        assert_eq!(
            nodes.len(),
            1 + (size - 1).trailing_ones() as usize,
            "nodes at {size}"
        );
        for node in &nodes {
            let width = 1usize << node.level();
            let begin = node.index() as usize * width;
            assert_eq!(begin + width, size, "node {node:?} ends at the new leaf");
            assert_eq!(*node.hash(), model.mth(begin, begin + width), "{node:?}");
        }
        let rebuilt = Frontier::from_source(&tree, TreeSize::new(size as u64));
        assert_eq!(
            rebuilt.as_ref(),
            Ok(&frontier),
            "frontier rebuilt at {size}"
        );
        let expected_hashes: Vec<Hash> = perfect_ranges(size)
            .into_iter()
            .map(|(begin, end)| model.mth(begin, end))
            .collect();
        assert_eq!(
            frontier.hashes(),
            expected_hashes.as_slice(),
            "frontier at {size}"
        );
    }
}

/// The perfect subtrees making up a tree of `size` leaves, left to right, by the binary digits
/// of `size`.
fn perfect_ranges(size: usize) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut begin = 0;
    for bit in (0..usize::BITS).rev() {
        let width = 1usize << bit;
        if size & width != 0 {
            ranges.push((begin, begin + width));
            begin += width;
        }
    }
    ranges
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_larger_trees(size in 301usize..=20_000, index_seed in any::<u64>(), first_seed in any::<u64>()) {
        let mut model = Model::new(size + 1);
        let tree = tree_of(&model);
        let index = (index_seed % size as u64) as usize;
        let first = 1 + (first_seed % size as u64) as usize;
        prop_assert_eq!(root(&tree, TreeSize::new(size as u64)), Ok(model.mth(0, size)));
        check_inclusion(&mut model, &tree, index, size);
        check_inclusion(&mut model, &tree, size - 1, size);
        check_consistency(&mut model, &tree, first, size);
        check_consistency(&mut model, &tree, size - 1, size);
    }
}
