//! Roots, inclusion and consistency proofs (RFC 9162 section 2.1): computed from a
//! [`NodeSource`] with O(log n) node reads, and verified exactly as sections 2.1.3.2 and
//! 2.1.4.2 say.

use super::descent::{range_hash, Descent};
use super::error::{ProofError, ProveError};
use super::hash::{node_hash, Hash};
use super::{LeafIndex, NodeSource, TreeSize};

/// MTH(D\[0:size\]): the root of the tree of the first `size` leaves (the empty-tree hash for
/// size 0). Reads one node per set bit of `size`.
///
/// # Errors
///
/// When the source fails to give a node.
pub fn root<S: NodeSource>(source: &S, size: TreeSize) -> Result<Hash, S::Error> {
    range_hash(source, 0, size.get())
}

/// The inclusion proof (RFC 9162 PATH) of the leaf at `index` in the tree of `size` leaves,
/// ordered from the leaf upwards.
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`] when `index >= size`; [`ProveError::Source`] when the source
/// fails to give a node.
pub fn inclusion_proof<S: NodeSource>(
    source: &S,
    index: LeafIndex,
    size: TreeSize,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    check_index(index, size)?;
    let walk = Descent::new(0, size.get(), index.get(), index.get() + 1);
    walk.proof(source).map_err(ProveError::Source)
}

/// The consistency proof (RFC 9162 PROOF) from the tree of `first` leaves to the tree of
/// `second` leaves; empty when the sizes are equal.
///
/// # Errors
///
/// [`ProofError::EmptyFirstTree`] when `first` is 0, [`ProofError::SizesOutOfOrder`] when
/// `first > second`, [`ProveError::Source`] when the source fails to give a node.
pub fn consistency_proof<S: NodeSource>(
    source: &S,
    first: TreeSize,
    second: TreeSize,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    check_sizes(first, second)?;
    if first == second {
        return Ok(Vec::new());
    }
    let walk = Descent::new(0, second.get(), 0, first.get());
    walk.proof(source).map_err(ProveError::Source)
}

/// Verifies that `leaf_hash` is the leaf at `index` of the tree of `size` leaves whose root is
/// `root`, by RFC 9162 section 2.1.3.2.
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`], [`ProofError::ProofLength`] (checked before any hashing)
/// or [`ProofError::RootMismatch`].
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: LeafIndex,
    size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    check_index(index, size)?;
    let expected = Descent::new(0, size.get(), index.get(), index.get() + 1).proof_len();
    check_len(expected, proof.len())?;
    // The RFC's names: `fn_` ("fn") is the leaf's node index at the current level, `sn` the
    // index of the last node of the tree at that level.
    let (mut fn_, mut sn) = (index.get(), size.get() - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::ProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root`, by RFC 9162 section 2.1.4.2.
///
/// Equal sizes need an empty proof and equal roots. A first size of 0 is refused (as the
/// transparency-dev verifier does): it proves nothing.
///
/// # Errors
///
/// [`ProofError::EmptyFirstTree`], [`ProofError::SizesOutOfOrder`], [`ProofError::ProofLength`]
/// (checked before any hashing), [`ProofError::FirstRootMismatch`] or
/// [`ProofError::RootMismatch`].
pub fn verify_consistency(
    first: TreeSize,
    second: TreeSize,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> Result<(), ProofError> {
    check_sizes(first, second)?;
    if first == second {
        check_len(0, proof.len())?;
        return match first_root == second_root {
            true => Ok(()),
            false => Err(ProofError::RootMismatch),
        };
    }
    let expected = Descent::new(0, second.get(), 0, first.get()).proof_len();
    check_len(expected, proof.len())?;
    let (fr, sr, sn) = consistency_roots(first.get(), second.get(), proof, first_root);
    if sn != 0 {
        return Err(ProofError::ProofLength {
            expected,
            actual: proof.len(),
        });
    }
    if fr != *first_root {
        return Err(ProofError::FirstRootMismatch);
    }
    if sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Steps 2 to 6 of RFC 9162 section 2.1.4.2 for `0 < first < second`: the two roots the proof
/// leads to, and the final `sn` (0 when the proof had the right length). An early stop of the
/// RFC (`sn` reaching 0 too soon) is reported as `sn = u64::MAX`.
fn consistency_roots(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
) -> (Hash, Hash, u64) {
    // Step 2: when `first` is a power of two, its root is the first element of the path.
    let prepended = first.is_power_of_two().then_some(first_root);
    let mut path = prepended.into_iter().chain(proof);
    let Some(&start) = path.next() else {
        return (*first_root, *first_root, u64::MAX);
    };
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in path {
        if sn == 0 {
            return (fr, sr, u64::MAX);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (fr, sr, sn)
}

fn check_index(index: LeafIndex, size: TreeSize) -> Result<(), ProofError> {
    match size.contains(index) {
        true => Ok(()),
        false => Err(ProofError::IndexOutOfRange {
            index: index.get(),
            size: size.get(),
        }),
    }
}

fn check_sizes(first: TreeSize, second: TreeSize) -> Result<(), ProofError> {
    if first.get() == 0 {
        return Err(ProofError::EmptyFirstTree);
    }
    if first > second {
        return Err(ProofError::SizesOutOfOrder {
            first: first.get(),
            second: second.get(),
        });
    }
    Ok(())
}

pub(crate) fn check_len(expected: usize, actual: usize) -> Result<(), ProofError> {
    match expected == actual {
        true => Ok(()),
        false => Err(ProofError::ProofLength { expected, actual }),
    }
}
