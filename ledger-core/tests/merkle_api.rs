//! Error cases, limits and costs of the Merkle log API.
//!
//! Vector source: none; expected values follow from RFC 9162 section 2.1 (error rules of
//! sections 2.1.3.2 and 2.1.4.2; the tree of size 2^64 - 1 has depth 64), the transparency-dev
//! rule that a consistency check from size 0 is an error (see `testdata/README.md`), and the
//! empty-tree hash SHA-256("") = e3b0c442... (FIPS 180-4 test of the empty message).

use std::cell::Cell;
use std::convert::Infallible;

use ledger_core::merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion, AppendError, Frontier, Hash, HashParseError, LeafIndex, MemoryTree,
    MissingNode, NodeSource, ProofError, ProveError, Subtree, TreeSize,
};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn tree(size: u64) -> MemoryTree {
    MemoryTree::from_leaf_hashes((0..size).map(|i| leaf_hash(&i.to_be_bytes())))
}

fn size(n: u64) -> TreeSize {
    TreeSize::new(n)
}

/// A source that counts its reads.
struct Counting<'a> {
    inner: &'a MemoryTree,
    reads: Cell<u64>,
}

impl NodeSource for Counting<'_> {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        self.reads.set(self.reads.get() + 1);
        self.inner.node(level, index)
    }
}

/// The tree of any size whose leaves all hash to zero: node `(l, i)` is the level-`l` hash of
/// identical leaves, whatever `i`. Stands for a tree too large to build, where the index
/// arithmetic is under test.
struct Uniform {
    levels: [Hash; 64],
}

impl Uniform {
    fn new() -> Self {
        let mut levels = [Hash::from_bytes([0; 32]); 64];
        for level in 1..64 {
            levels[level] = node_hash(&levels[level - 1], &levels[level - 1]);
        }
        Self { levels }
    }
}

impl NodeSource for Uniform {
    type Error = Infallible;

    fn node(&self, level: u8, _index: u64) -> Result<Hash, Infallible> {
        Ok(self.levels[usize::from(level)])
    }
}

#[test]
fn hash_text_form_is_64_lowercase_hex_digits() {
    let hash: Result<Hash, _> = EMPTY_SHA256.parse();
    assert_eq!(hash, Ok(empty_root()));
    assert_eq!(empty_root().to_string(), EMPTY_SHA256);
    assert_eq!(
        format!("{:?}", empty_root()),
        format!("Hash({EMPTY_SHA256})")
    );
    let upper = EMPTY_SHA256.to_uppercase().parse::<Hash>();
    assert_eq!(upper, Err(HashParseError::NotLowercaseHex));
    let short = EMPTY_SHA256[..62].parse::<Hash>();
    assert_eq!(short, Err(HashParseError::HexLength { actual: 62 }));
    assert_eq!(short.map_err(|e| e.code()), Err("hash-length"));
    let not_hex = format!("{}zz", &EMPTY_SHA256[..62]).parse::<Hash>();
    assert_eq!(not_hex.map_err(|e| e.code()), Err("hash-not-lowercase-hex"));
    assert_eq!(
        Hash::from_slice(&[7; 31]),
        Err(HashParseError::Length { actual: 31 })
    );
    assert_eq!(Hash::from_slice(&[7; 32]), Ok(Hash::from_bytes([7; 32])));
}

#[test]
fn inclusion_errors() {
    let tree = tree(5);
    let index_out = inclusion_proof(&tree, LeafIndex::new(5), size(5));
    assert_eq!(
        index_out.map_err(|e| e.code()),
        Err("leaf-index-out-of-range")
    );
    let leaf = leaf_hash(&0u64.to_be_bytes());
    let verdict = verify_inclusion(&leaf, LeafIndex::new(0), size(0), &[], &empty_root());
    assert_eq!(
        verdict,
        Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
    );
    let verdict = verify_inclusion(&leaf, LeafIndex::new(0), size(1), &[leaf], &leaf);
    assert_eq!(
        verdict,
        Err(ProofError::ProofLength {
            expected: 0,
            actual: 1
        })
    );
    assert_eq!(
        verify_inclusion(&leaf, LeafIndex::new(0), size(1), &[], &leaf),
        Ok(())
    );
    let other = leaf_hash(b"other");
    let verdict = verify_inclusion(&leaf, LeafIndex::new(0), size(1), &[], &other);
    assert_eq!(verdict.map_err(|e| e.code()), Err("root-mismatch"));
}

#[test]
fn consistency_errors_and_equal_sizes() {
    let tree = tree(5);
    let root_5 = root(&tree, size(5)).unwrap_or(empty_root());
    let from_zero = consistency_proof(&tree, size(0), size(5)).map_err(|e| e.code());
    assert_eq!(from_zero, Err("empty-first-tree"));
    let backwards = consistency_proof(&tree, size(4), size(3)).map_err(|e| e.code());
    assert_eq!(backwards, Err("tree-sizes-out-of-order"));
    assert_eq!(
        consistency_proof(&tree, size(5), size(5)).ok(),
        Some(Vec::new())
    );
    let empty = empty_root();
    let zero = verify_consistency(size(0), size(0), &[], &empty, &empty);
    assert_eq!(zero, Err(ProofError::EmptyFirstTree));
    let backwards = verify_consistency(size(4), size(3), &[], &root_5, &root_5);
    assert_eq!(
        backwards,
        Err(ProofError::SizesOutOfOrder {
            first: 4,
            second: 3
        })
    );
    assert_eq!(
        verify_consistency(size(5), size(5), &[], &root_5, &root_5),
        Ok(())
    );
    let extra = verify_consistency(size(5), size(5), &[root_5], &root_5, &root_5);
    assert_eq!(
        extra,
        Err(ProofError::ProofLength {
            expected: 0,
            actual: 1
        })
    );
    let differ = verify_consistency(size(5), size(5), &[], &root_5, &empty);
    assert_eq!(differ, Err(ProofError::RootMismatch));
    let none = verify_consistency(size(3), size(5), &[], &root_5, &root_5);
    assert_eq!(none.map_err(|e| e.code()), Err("proof-length"));
}

#[test]
fn a_missing_node_is_an_error_of_the_source() {
    let tree = tree(8);
    assert_eq!(
        root(&tree, size(9)),
        Err(MissingNode { level: 0, index: 8 })
    );
    let beyond = inclusion_proof(&tree, LeafIndex::new(0), size(9));
    assert!(matches!(
        beyond,
        Err(ProveError::Source(MissingNode { level: 0, index: 8 }))
    ));
    assert_eq!(beyond.map_err(|e| e.code()), Err("merkle-source"));
    let beyond = consistency_proof(&tree, size(3), size(12));
    assert!(matches!(beyond, Err(ProveError::Source(_))));
    assert!(Frontier::from_source(&tree, size(10)).is_err());
    assert_eq!(
        MemoryTree::new().node(0, 0),
        Err(MissingNode { level: 0, index: 0 })
    );
    assert_eq!(MemoryTree::new().root(), empty_root());
}

/// The number of bits of `n`: the depth of the tree of `n` leaves, rounded up.
fn bits(n: u64) -> u64 {
    u64::from(u64::BITS - n.leading_zeros())
}

#[test]
fn proofs_read_logarithmically_many_nodes() {
    let tree = tree(4099);
    let counting = Counting {
        inner: &tree,
        reads: Cell::new(0),
    };
    let mut worst_inclusion = 0;
    let mut worst_consistency = 0;
    for n in [1u64, 2, 3, 7, 8, 100, 1023, 1024, 1025, 4095, 4099] {
        for i in [0, n / 3, n / 2, n - 1] {
            counting.reads.set(0);
            let proof = inclusion_proof(&counting, LeafIndex::new(i), size(n));
            assert!(proof.is_ok());
            worst_inclusion = worst_inclusion.max(counting.reads.get());
            assert!(
                counting.reads.get() <= 2 * bits(n),
                "{} reads for {i} in {n}",
                counting.reads.get()
            );
            counting.reads.set(0);
            let proof = consistency_proof(&counting, size(i + 1), size(n));
            assert!(proof.is_ok());
            worst_consistency = worst_consistency.max(counting.reads.get());
            assert!(
                counting.reads.get() <= 3 * bits(n),
                "{} reads for {i} -> {n}",
                counting.reads.get()
            );
        }
        counting.reads.set(0);
        assert!(root(&counting, size(n)).is_ok());
        assert_eq!(
            counting.reads.get(),
            u64::from(n.count_ones()),
            "root of {n}"
        );
    }
    assert!(worst_inclusion >= 12 && worst_consistency >= 12);
}

#[test]
fn the_largest_tree_has_depth_64() {
    let uniform = Uniform::new();
    let largest = size(u64::MAX);
    let last = LeafIndex::new(u64::MAX - 1);
    let proof = inclusion_proof(&uniform, last, largest);
    let proof = proof.unwrap_or_default();
    // The size is 2^63 + 2^62 + ... + 1: the last leaf is the lone size-1 subtree, 63 splits
    // down; leaf 0 is in the 2^63 subtree, 1 + 63 splits down.
    assert_eq!(proof.len(), 63);
    let (leaf, tree_root) = (Hash::from_bytes([0; 32]), root(&uniform, largest));
    let tree_root = tree_root.unwrap_or(empty_root());
    assert_eq!(
        verify_inclusion(&leaf, last, largest, &proof, &tree_root),
        Ok(())
    );
    let first = LeafIndex::new(0);
    let proof = inclusion_proof(&uniform, first, largest).unwrap_or_default();
    assert_eq!(proof.len(), 64);
    assert_eq!(
        verify_inclusion(&leaf, first, largest, &proof, &tree_root),
        Ok(())
    );
    let old = size(u64::MAX - 2);
    let proof = consistency_proof(&uniform, old, largest).unwrap_or_default();
    let old_root = root(&uniform, old).unwrap_or(empty_root());
    assert_eq!(
        verify_consistency(old, largest, &proof, &old_root, &tree_root),
        Ok(())
    );
    let mut frontier = Frontier::from_source(&uniform, largest).unwrap_or_default();
    assert_eq!(frontier.hashes().len(), 64);
    assert_eq!(frontier.root(), tree_root);
    let mut nodes = Vec::new();
    assert_eq!(
        frontier.append(leaf, &mut nodes),
        Err(AppendError::TreeFull)
    );
    assert_eq!(AppendError::TreeFull.code(), "tree-full");
    assert!(nodes.is_empty());
    assert_eq!(frontier.size(), largest);
}

#[test]
fn frontier_of_a_power_of_two_is_one_hash() {
    let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), empty_root());
    let mut nodes = Vec::new();
    assert_eq!(frontier.append(a, &mut nodes), Ok(()));
    assert_eq!(frontier.append(b, &mut nodes), Ok(()));
    assert_eq!(frontier.hashes(), &[node_hash(&a, &b)]);
    let placed: Vec<(u8, u64)> = nodes.iter().map(|n| (n.level(), n.index())).collect();
    assert_eq!(placed, vec![(0, 0), (0, 1), (1, 0)]);
}

#[test]
fn subtree_validity() {
    let valid = [
        (0, 0),
        (0, 5),
        (3, 3),
        (4, 8),
        (4, 7),
        (8, 12),
        (6, 8),
        (7, 8),
        (8, 16),
    ];
    for (start, end) in valid {
        assert!(Subtree::new(start, end).is_ok(), "[{start}, {end})");
    }
    let invalid = [
        (1, 0),
        (1, 3),
        (2, 5),
        (2, 6),
        (4, 9),
        (6, 9),
        (1, u64::MAX),
    ];
    for (start, end) in invalid {
        let error = Subtree::new(start, end).map_err(|e| e.code());
        assert_eq!(error, Err("invalid-subtree"), "[{start}, {end})");
    }
}
