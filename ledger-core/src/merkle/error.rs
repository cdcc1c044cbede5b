//! Errors of the Merkle log math, each with a stable `code()`.

/// A proof request or a proof that does not hold. One variant per rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size (RFC 9162 section 2.1.3.2 step 1).
    #[error("leaf index {index} is not below tree size {size}: ask for a leaf the tree holds")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The leaf index is outside the subtree its proof is for.
    #[error(
        "leaf index {index} is outside subtree [{start}, {end}): ask for a leaf of the subtree"
    )]
    IndexOutsideSubtree {
        /// The leaf index asked for.
        index: u64,
        /// First leaf of the subtree.
        start: u64,
        /// One past the last leaf of the subtree.
        end: u64,
    },
    /// The first tree of a consistency check is larger than the second.
    #[error(
        "first tree size {first} is above second tree size {second}: put the older tree first"
    )]
    SizesOutOfOrder {
        /// The first (older) tree size.
        first: u64,
        /// The second (newer) tree size.
        second: u64,
    },
    /// A consistency check from the empty tree, which proves nothing and is refused.
    #[error("consistency from the empty tree proves nothing: use a first tree size above zero")]
    EmptyFirstTree,
    /// The proof does not have the number of hashes the sizes call for.
    #[error(
        "proof has {actual} hashes but these sizes call for {expected}: fetch the proof again"
    )]
    ProofLength {
        /// The number the sizes call for.
        expected: usize,
        /// The number received.
        actual: usize,
    },
    /// The root computed from the proof differs from the expected (newer) root.
    #[error("the proof does not lead to the expected root: the proof, leaf hash or root is wrong")]
    RootMismatch,
    /// The older root computed from a consistency proof differs from the expected older root.
    #[error(
        "the proof does not lead to the expected first root: the proof or first root is wrong"
    )]
    FirstRootMismatch,
    /// The range is not a subtree in the sense of the Merkle Tree Certificates draft.
    #[error(
        "[{start}, {end}) is not a valid subtree: start must be 0, equal end, or be a multiple of \
         the power of two at or above end - start"
    )]
    InvalidSubtree {
        /// First leaf of the range.
        start: u64,
        /// One past the last leaf of the range.
        end: u64,
    },
    /// The subtree reaches past the end of the tree.
    #[error("subtree ending at {end} does not fit in tree size {size}: use a larger tree")]
    SubtreeBeyondTree {
        /// One past the last leaf of the subtree.
        end: u64,
        /// The tree size.
        size: u64,
    },
}

impl ProofError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IndexOutOfRange { .. } => "leaf-index-out-of-range",
            Self::IndexOutsideSubtree { .. } => "leaf-index-outside-subtree",
            Self::SizesOutOfOrder { .. } => "tree-sizes-out-of-order",
            Self::EmptyFirstTree => "empty-first-tree",
            Self::ProofLength { .. } => "proof-length",
            Self::RootMismatch => "root-mismatch",
            Self::FirstRootMismatch => "first-root-mismatch",
            Self::InvalidSubtree { .. } => "invalid-subtree",
            Self::SubtreeBeyondTree { .. } => "subtree-beyond-tree",
        }
    }
}

/// Why a root or proof could not be computed from a node source.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E: std::error::Error + 'static> {
    /// The request itself is invalid (index or sizes).
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The node source failed to give a node.
    #[error("reading a merkle node failed: {0}")]
    Source(#[source] E),
}

impl<E: std::error::Error + 'static> ProveError<E> {
    /// Stable machine-readable code: the [`ProofError`]'s, or `merkle-source` for a source
    /// failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Proof(error) => error.code(),
            Self::Source(_) => "merkle-source",
        }
    }
}

/// Why a leaf could not be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The tree already holds `u64::MAX` leaves.
    #[error("the tree holds the largest number of leaves a u64 counts: start a new log")]
    TreeFull,
}

impl AppendError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TreeFull => "tree-full",
        }
    }
}
