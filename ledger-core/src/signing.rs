//! Strict Ed25519 verification and its exact batch fast path. (Being written.)
