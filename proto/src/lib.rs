//! `proto`: the public wire formats of the outcome ledger, and nothing else.
//!
//! It holds the RFC 8785 canonical JSON codec, the event payload (header plus a closed `Body`
//! enum), DSSE envelopes, and C2SP signed notes and tlog-checkpoints. `SPEC.md` beside this
//! crate is the normative description. There are no domain rules here (those live in
//! `ledger-core`) and no IO.

pub mod datetime;
pub mod dsse;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod ids;
pub mod jcs;
pub mod note;
pub mod payload;
pub mod text;

pub use datetime::{Date, Timestamp};
pub use error::{DecodeError, DecodeErrorKind};
pub use ids::{
    Amount, ContractId, Currency, EventId, Int, KeyId, OutcomeId, Pseudonym, PublicKey,
    Sha256Digest,
};
pub use payload::{Body, Kind, Payload, Role};
pub use text::Text;
