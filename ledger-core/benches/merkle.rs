//! Merkle log costs at 10^6 leaves: proofs from a `MemoryTree`, their verification, and the
//! append path (`Frontier::append`, leaf hash included), each as the median of 7 timed rounds,
//! printed per operation and as a ratio to one interior `node_hash` (one SHA-256 compression
//! pair) of this same run. Run: `cargo bench -p ledger-core --bench merkle` (about 10 s).

use std::hint::black_box;
use std::time::Instant;

use ledger_core::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion, Frontier, Hash, LeafIndex, MemoryTree, Node, TreeSize,
};

const LEAVES: u64 = 1_000_000;
const ROUNDS: usize = 7;

/// Median nanoseconds per call of `op` over `ROUNDS` rounds of `calls` calls.
fn median_ns(calls: u64, mut op: impl FnMut(u64)) -> f64 {
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for call in 0..calls {
                op(call);
            }
            started.elapsed().as_nanos() as f64 / calls as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

/// A leaf index spread over the tree for call `call`.
fn spread(call: u64) -> u64 {
    call.wrapping_mul(0x9e37_79b9_7f4a_7c15) % LEAVES
}

fn main() {
    let leaves: Vec<Hash> = (0..LEAVES).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let built = Instant::now();
    let tree = MemoryTree::from_leaf_hashes(leaves.iter().copied());
    println!(
        "MemoryTree of {LEAVES} leaf hashes built in {:?}",
        built.elapsed()
    );
    let size = TreeSize::new(LEAVES);
    let tree_root = root(&tree, size).unwrap_or_else(|e| panic!("root: {e}"));
    let old = TreeSize::new(LEAVES - 12_345);
    let old_root = root(&tree, old).unwrap_or_else(|e| panic!("root: {e}"));
    let inclusion = |call| inclusion_proof(&tree, LeafIndex::new(spread(call)), size);
    let proofs: Vec<Vec<Hash>> = (0..1024)
        .map(|call| inclusion(call).unwrap_or_default())
        .collect();
    let consistency = consistency_proof(&tree, old, size).unwrap_or_default();

    let (a, b) = (leaves[0], leaves[1]);
    let baseline = median_ns(1_000_000, |_| {
        black_box(node_hash(black_box(&a), black_box(&b)));
    });
    let mut rows = vec![("node_hash (baseline)", baseline)];
    rows.push((
        "inclusion_proof at 10^6",
        median_ns(100_000, |call| {
            black_box(inclusion(call).is_ok());
        }),
    ));
    rows.push((
        "verify_inclusion at 10^6",
        median_ns(100_000, |call| {
            let index = (call % 1024) as usize;
            let leaf = &leaves[spread(index as u64) as usize];
            let verdict = verify_inclusion(
                leaf,
                LeafIndex::new(spread(index as u64)),
                size,
                &proofs[index],
                &tree_root,
            );
            black_box(verdict.is_ok());
        }),
    ));
    rows.push((
        "consistency_proof 987655 -> 10^6",
        median_ns(100_000, |_| {
            black_box(consistency_proof(&tree, old, size).is_ok());
        }),
    ));
    rows.push((
        "verify_consistency 987655 -> 10^6",
        median_ns(100_000, |_| {
            black_box(verify_consistency(old, size, &consistency, &old_root, &tree_root).is_ok());
        }),
    ));
    rows.push((
        "root at 10^6",
        median_ns(100_000, |_| {
            black_box(root(&tree, size).is_ok());
        }),
    ));
    let mut nodes: Vec<Node> = Vec::with_capacity(4096);
    rows.push((
        "append (leaf_hash + Frontier::append)",
        median_ns(1, |_| {
            let mut frontier = Frontier::new();
            for i in 0..LEAVES {
                if nodes.len() > 4000 {
                    nodes.clear();
                }
                let _ = frontier.append(leaf_hash(&i.to_be_bytes()), &mut nodes);
            }
            black_box(frontier.root());
        }) / LEAVES as f64,
    ));

    println!("{:<40} {:>12} {:>10}", "operation", "ns/op", "x baseline");
    for (name, ns) in rows {
        println!("{name:<40} {ns:>12.1} {:>10.1}", ns / baseline);
    }
}
