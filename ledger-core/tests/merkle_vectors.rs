//! Known-answer tests of the Merkle log math.
//!
//! Vector source: `testdata/rfc6962_merkle_vectors.json` (provenance in `testdata/README.md`),
//! whose values were extracted from transparency-dev/merkle @ 417fb0c3 (`testonly/constants.go`,
//! `testonly/reference_test.go`, `rfc6962/rfc6962_test.go`, `compact/range_test.go`,
//! `testonly/vectors_test.go`), transparency-dev/merkle @ 9ca563d3 (`proof/verify_test.go`) and
//! golang/mod @ fe2ec04f (`sumdb/tlog/note_test.go`); the MTC digests come from the "Subtree
//! Test Vectors" appendix of draft-ietf-plants-merkle-tree-certs. Every case of the file runs.

use std::fmt::Write as _;

use ledger_core::merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash_bytes, root,
    subtree_consistency_proof, subtree_hash, subtree_inclusion_proof, verify_consistency,
    verify_inclusion, verify_subtree_consistency, verify_subtree_inclusion, Frontier, Hash,
    LeafIndex, MemoryTree, NodeSource, Subtree, TreeSize,
};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/rfc6962_merkle_vectors.json"
));

#[derive(Deserialize)]
struct Vectors {
    hasher: Vec<HasherCase>,
    tree_8: Tree8,
    large_tree_roots: LargeTreeRoots,
    mtc_subtree_accumulated_digests: MtcDigests,
}

#[derive(Deserialize)]
struct HasherCase {
    desc: String,
    function: String,
    input_hex: Option<String>,
    left_hex: Option<String>,
    right_hex: Option<String>,
    #[serde(deserialize_with = "de_hash")]
    expected: Hash,
}

#[derive(Deserialize)]
struct Tree8 {
    leaves_hex: Vec<String>,
    #[serde(deserialize_with = "de_hashes")]
    leaf_hashes: Vec<Hash>,
    node_hashes_by_level: Levels,
    roots_by_size: Roots,
    compact_ranges_by_size: Ranges,
    inclusion_proofs: Cases<InclusionCase>,
    consistency_proofs: Cases<ConsistencyCase>,
}

#[derive(Deserialize)]
struct Levels {
    #[serde(deserialize_with = "de_hash_rows")]
    levels: Vec<Vec<Hash>>,
}

#[derive(Deserialize)]
struct Roots {
    #[serde(deserialize_with = "de_hashes")]
    roots: Vec<Hash>,
}

#[derive(Deserialize)]
struct Ranges {
    #[serde(deserialize_with = "de_hash_rows")]
    ranges: Vec<Vec<Hash>>,
}

#[derive(Deserialize)]
struct Cases<T> {
    cases: Vec<T>,
}

#[derive(Deserialize)]
struct InclusionCase {
    leaf_index: u64,
    tree_size: u64,
    #[serde(deserialize_with = "de_hash")]
    leaf_hash: Hash,
    #[serde(deserialize_with = "de_hash")]
    root: Hash,
    #[serde(deserialize_with = "de_hashes")]
    proof: Vec<Hash>,
}

#[derive(Deserialize)]
struct ConsistencyCase {
    size1: u64,
    size2: u64,
    #[serde(deserialize_with = "de_hash")]
    root1: Hash,
    #[serde(deserialize_with = "de_hash")]
    root2: Hash,
    #[serde(deserialize_with = "de_hashes")]
    proof: Vec<Hash>,
}

#[derive(Deserialize)]
struct LargeTreeRoots {
    cases: Vec<LargeRootCase>,
}

#[derive(Deserialize)]
struct LargeRootCase {
    tree_size: u64,
    #[serde(deserialize_with = "de_hash")]
    root: Hash,
}

#[derive(Deserialize)]
struct MtcDigests {
    tree_leaf_count: u64,
    subtree_hash: Digest256,
    subtree_inclusion_proof: Digest256,
    subtree_consistency_proof: Digest256,
}

#[derive(Deserialize)]
struct Digest256 {
    sha256: String,
}

fn parse_hash<E: serde::de::Error>(text: &str) -> Result<Hash, E> {
    text.parse().map_err(E::custom)
}

fn de_hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
    parse_hash(&String::deserialize(deserializer)?)
}

fn de_hashes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Hash>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| parse_hash(text))
        .collect()
}

fn de_hash_rows<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Vec<Hash>>, D::Error> {
    let rows = Vec::<Vec<String>>::deserialize(deserializer)?;
    rows.iter()
        .map(|row| row.iter().map(|text| parse_hash(text)).collect())
        .collect()
}

fn vectors() -> Vectors {
    match serde_json::from_str(VECTORS) {
        Ok(vectors) => vectors,
        Err(error) => panic!("rfc6962_merkle_vectors.json does not parse: {error}"),
    }
}

fn bytes(text: &str) -> Vec<u8> {
    match hex::decode(text) {
        Ok(bytes) => bytes,
        Err(error) => panic!("bad hex {text:?} in the vectors: {error}"),
    }
}

/// The 8-leaf tree built by appending its leaves, one memory tree per prefix size.
fn tree_8(vectors: &Tree8) -> MemoryTree {
    MemoryTree::from_leaf_hashes(
        vectors
            .leaves_hex
            .iter()
            .map(|leaf| leaf_hash(&bytes(leaf))),
    )
}

#[test]
fn hasher_vectors() {
    let vectors = vectors();
    assert_eq!(vectors.hasher.len(), 5);
    for case in &vectors.hasher {
        let actual = match case.function.as_str() {
            "empty_root" => empty_root(),
            "leaf_hash" => leaf_hash(&bytes(case.input_hex.as_deref().unwrap_or_default())),
            "node_hash" => node_hash_bytes(
                &bytes(case.left_hex.as_deref().unwrap_or_default()),
                &bytes(case.right_hex.as_deref().unwrap_or_default()),
            ),
            other => panic!("unknown hasher function {other:?}"),
        };
        assert_eq!(actual, case.expected, "{}", case.desc);
    }
}

#[test]
fn tree_8_leaf_hashes_and_node_levels() {
    let vectors = vectors().tree_8;
    let tree = tree_8(&vectors);
    assert_eq!(tree.size(), TreeSize::new(8));
    for (leaf, expected) in vectors.leaves_hex.iter().zip(&vectors.leaf_hashes) {
        assert_eq!(leaf_hash(&bytes(leaf)), *expected, "leaf {leaf}");
    }
    assert_eq!(vectors.node_hashes_by_level.levels.len(), 4);
    for (level, hashes) in vectors.node_hashes_by_level.levels.iter().enumerate() {
        assert_eq!(hashes.len(), 8 >> level);
        for (index, expected) in hashes.iter().enumerate() {
            let actual = tree.node(level as u8, index as u64);
            assert_eq!(actual, Ok(*expected), "node ({level}, {index})");
        }
    }
}

#[test]
fn tree_8_roots_and_frontiers_by_size() {
    let vectors = vectors().tree_8;
    let tree = tree_8(&vectors);
    assert_eq!(vectors.roots_by_size.roots.len(), 9);
    assert_eq!(vectors.compact_ranges_by_size.ranges.len(), 9);
    let mut frontier = Frontier::new();
    let mut nodes = Vec::new();
    for size in 0..=8usize {
        let expected_root = vectors.roots_by_size.roots[size];
        let expected_range = &vectors.compact_ranges_by_size.ranges[size];
        assert_eq!(
            root(&tree, TreeSize::new(size as u64)),
            Ok(expected_root),
            "size {size}"
        );
        assert_eq!(
            frontier.root(),
            expected_root,
            "frontier root at size {size}"
        );
        assert_eq!(
            frontier.hashes(),
            expected_range.as_slice(),
            "frontier at size {size}"
        );
        let rebuilt = Frontier::from_source(&tree, TreeSize::new(size as u64));
        assert_eq!(
            rebuilt.as_ref().map(Frontier::hashes),
            Ok(expected_range.as_slice())
        );
        if size < 8 {
            assert_eq!(
                frontier.append(vectors.leaf_hashes[size], &mut nodes),
                Ok(())
            );
        }
    }
    assert_eq!(
        MemoryTree::from_leaf_hashes(vectors.leaf_hashes.clone()).root(),
        frontier.root()
    );
    // The appends emitted exactly the 15 nodes of the vectors' levels, each once.
    assert_eq!(nodes.len(), 15);
    for node in &nodes {
        let level = &vectors.node_hashes_by_level.levels[usize::from(node.level())];
        assert_eq!(level[node.index() as usize], *node.hash(), "{node:?}");
    }
}

#[test]
fn tree_8_inclusion_proofs_generated_and_verified() {
    let vectors = vectors().tree_8;
    let tree = tree_8(&vectors);
    assert_eq!(vectors.inclusion_proofs.cases.len(), 7);
    for case in &vectors.inclusion_proofs.cases {
        let (index, size) = (
            LeafIndex::new(case.leaf_index),
            TreeSize::new(case.tree_size),
        );
        let generated = inclusion_proof(&tree, index, size);
        assert_eq!(
            generated.ok(),
            Some(case.proof.clone()),
            "index {index} size {size}"
        );
        let verified = verify_inclusion(&case.leaf_hash, index, size, &case.proof, &case.root);
        assert_eq!(verified, Ok(()), "index {index} size {size}");
    }
}

#[test]
fn tree_8_consistency_proofs_generated_and_verified() {
    let vectors = vectors().tree_8;
    let tree = tree_8(&vectors);
    assert_eq!(vectors.consistency_proofs.cases.len(), 5);
    for case in &vectors.consistency_proofs.cases {
        let (first, second) = (TreeSize::new(case.size1), TreeSize::new(case.size2));
        let generated = consistency_proof(&tree, first, second);
        assert_eq!(
            generated.ok(),
            Some(case.proof.clone()),
            "{first} -> {second}"
        );
        let verified = verify_consistency(first, second, &case.proof, &case.root1, &case.root2);
        assert_eq!(verified, Ok(()), "{first} -> {second}");
    }
}

/// Leaf `i` of the large trees holds `[i & 0xff, (i >> 8) & 0xff]`.
fn large_tree_leaf(index: u64) -> Hash {
    leaf_hash(&[(index & 0xff) as u8, ((index >> 8) & 0xff) as u8])
}

#[test]
fn large_tree_roots() {
    let cases = vectors().large_tree_roots.cases;
    assert_eq!(cases.len(), 11);
    let size_max = cases.iter().map(|case| case.tree_size).max().unwrap_or(0);
    assert_eq!(size_max, 65535);
    let mut frontier = Frontier::new();
    let mut tree = MemoryTree::new();
    let mut nodes = Vec::new();
    let mut checked = 0;
    for index in 0..size_max {
        let leaf = large_tree_leaf(index);
        assert_eq!(frontier.append(leaf, &mut nodes), Ok(()));
        tree.push(leaf);
        for case in cases.iter().filter(|case| case.tree_size == index + 1) {
            assert_eq!(
                frontier.root(),
                case.root,
                "frontier, size {}",
                case.tree_size
            );
            assert_eq!(
                tree.root(),
                case.root,
                "memory tree, size {}",
                case.tree_size
            );
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len());
    for case in &cases {
        let size = TreeSize::new(case.tree_size);
        assert_eq!(
            root(&tree, size),
            Ok(case.root),
            "root from source, size {size}"
        );
    }
}

fn is_valid_subtree(start: u64, end: u64) -> bool {
    start <= end
        && (start == 0
            || start == end
            || start.checked_rem((end - start).next_power_of_two()) == Some(0))
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn mtc_tree(leaf_count: u64) -> MemoryTree {
    MemoryTree::from_leaf_hashes((0..leaf_count).map(|i| leaf_hash(&[i as u8])))
}

fn subtree(start: u64, end: u64) -> Subtree {
    match Subtree::new(start, end) {
        Ok(subtree) => subtree,
        Err(error) => panic!("[{start}, {end}) rejected: {error}"),
    }
}

fn write_proof(lines: &mut String, proof: &[Hash]) {
    for hash in proof {
        let _ = write!(lines, " {hash}");
    }
    lines.push('\n');
}

#[test]
fn mtc_subtree_hashes_digest() {
    let vectors = vectors().mtc_subtree_accumulated_digests;
    let tree = mtc_tree(vectors.tree_leaf_count);
    let mut lines = String::new();
    for end in 0..=vectors.tree_leaf_count {
        for start in (0..=end).filter(|&start| is_valid_subtree(start, end)) {
            let hash = subtree_hash(&tree, subtree(start, end));
            let _ = writeln!(
                lines,
                "[{start}, {end}) {}",
                hash.unwrap_or(Hash::from_bytes([0; 32]))
            );
        }
    }
    assert_eq!(sha256_hex(&lines), vectors.subtree_hash.sha256);
}

#[test]
fn mtc_subtree_inclusion_proofs_digest() {
    let vectors = vectors().mtc_subtree_accumulated_digests;
    let tree = mtc_tree(vectors.tree_leaf_count);
    let mut lines = String::new();
    for end in 0..=vectors.tree_leaf_count {
        for start in (0..=end).filter(|&start| is_valid_subtree(start, end)) {
            let range = subtree(start, end);
            let subtree_root = subtree_hash(&tree, range).unwrap_or(Hash::from_bytes([0; 32]));
            for index in (start..end).map(LeafIndex::new) {
                let proof = subtree_inclusion_proof(&tree, index, range).unwrap_or_default();
                let leaf = leaf_hash(&[index.get() as u8]);
                let verified = verify_subtree_inclusion(&leaf, index, range, &proof, &subtree_root);
                assert_eq!(verified, Ok(()), "{index} in [{start}, {end})");
                let _ = write!(lines, "{index} [{start}, {end})");
                write_proof(&mut lines, &proof);
            }
        }
    }
    assert_eq!(sha256_hex(&lines), vectors.subtree_inclusion_proof.sha256);
}

#[test]
fn mtc_subtree_consistency_proofs_digest() {
    let vectors = vectors().mtc_subtree_accumulated_digests;
    let tree = mtc_tree(vectors.tree_leaf_count);
    let mut lines = String::new();
    for size in (0..=vectors.tree_leaf_count).map(TreeSize::new) {
        let tree_root = root(&tree, size).unwrap_or(Hash::from_bytes([0; 32]));
        for end in 0..=size.get() {
            for start in (0..=end).filter(|&start| is_valid_subtree(start, end)) {
                let range = subtree(start, end);
                let subtree_root = subtree_hash(&tree, range).unwrap_or(Hash::from_bytes([0; 32]));
                let proof = subtree_consistency_proof(&tree, range, size).unwrap_or_default();
                let verified =
                    verify_subtree_consistency(range, size, &proof, &subtree_root, &tree_root);
                assert_eq!(verified, Ok(()), "[{start}, {end}) in {size}");
                let _ = write!(lines, "[{start}, {end}) {size}");
                write_proof(&mut lines, &proof);
            }
        }
    }
    assert_eq!(sha256_hex(&lines), vectors.subtree_consistency_proof.sha256);
}
