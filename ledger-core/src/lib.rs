//! `ledger-core`: the domain of the outcome ledger. Contract rules, signature checking, hash
//! chains, the RFC 9162 Merkle log and projections.
//!
//! It is deterministic and synchronous: it does no IO, never reads the clock and draws no
//! randomness of its own (time and keys are arguments). Wire formats live in `proto`.

pub mod merkle;
pub mod signing;
