//! `ledger-core`: the domain of the outcome ledger. Contract rules, signature checking, hash
//! chains, the RFC 9162 Merkle log and projections.
//!
//! It is deterministic and synchronous: it does no IO, never reads the clock and draws no
//! randomness of its own (time and keys are arguments). Wire formats live in `proto`.
//!
//! The admission pipeline ([`Ledger`]): [`Event::decode`] each envelope, then in order the
//! cheap rules ([`rules::screen`]: chain, closed, author, signer set), the signatures of those
//! that pass (verified in batches, [`Ledger::admit_next`]), [`rules::validate`] and apply. [`ContractState`] is the rules' memory and
//! the projection in one pure fold.

pub mod merkle;
pub mod signing;

pub mod error;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod ledger;
pub mod limits;
pub mod money;
pub mod projection;
pub mod rules;
pub mod statement;

pub use error::{ErrorClass, Rejection, RuleViolation};
pub use event::Event;
pub use keys::{BatchKeys, KeyDirectory, SignatureVerdicts, Verdict};
pub use ledger::{Admitted, Batch, Ledger, RestoreError};
pub use projection::{ClaimStatus, ContractState};
pub use statement::Statement;
