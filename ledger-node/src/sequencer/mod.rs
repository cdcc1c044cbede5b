//! The ordering authority: who decides the global index of each admitted event.
//!
//! The writer splits a commit group into three steps: *receive and judge* (decode, signatures,
//! rules against the current projection, in `append`), *sequence* (this module: give each
//! admitted event its global index) and *apply* (write an ordered, already-sequenced batch to
//! the store, `append::apply`). Only the middle step knows who orders.
//!
//! - [`Local`]: this node orders; indexes continue the local log. The standalone default.
//! - [`jetstream`]: a replicated ledger's JetStream stream orders. The node judges an envelope,
//!   publishes it (`Nats-Msg-Id` = event id, expected last sequence of the contract's subject)
//!   and answers once it has applied it; every node, this one included, applies the stream in
//!   order through the writer's apply step (`crate::replication::consumer`), where the order
//!   of admitted messages in the stream is the global index.

pub(crate) mod jetstream;
mod local;

pub use local::{Local, SequenceError};
