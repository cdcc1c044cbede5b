//! `ledger-core`: the domain of the outcome ledger. Contract rules, signature checking, hash
//! chains, the RFC 9162 Merkle log and projections.
//!
//! It is deterministic and synchronous: it does no IO, never reads the clock and draws no
//! randomness of its own (time and keys are arguments). Wire formats live in `proto`.
//!
//! The admission pipeline ([`Ledger`]): [`Event::decode`] each envelope, resolve every
//! signature's key and verify them all at once ([`Ledger::check_signatures`]), then, in order,
//! [`rules::validate`] and apply ([`Ledger::admit`]). [`ContractState`] is the rules' memory and
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
pub use keys::{KeyDirectory, SignatureVerdicts, Verdict};
pub use ledger::{Admitted, Ledger, RestoreError};
pub use projection::{ClaimStatus, ContractState};
pub use statement::Statement;
