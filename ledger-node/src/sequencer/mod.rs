//! The ordering authority: who decides the global index of each admitted event.
//!
//! The writer splits a commit group into three steps: *receive and judge* (decode, signatures,
//! rules against the current projection, in `append`), *sequence* (this module: give each
//! admitted event its global index) and *apply* (write an ordered, already-sequenced batch to
//! the store, `append::apply`). Only the middle step knows who orders.
//!
//! - [`Local`]: this node orders; indexes continue the local log. The standalone default.
//! - JetStream (to come, another issue): the writer publishes judged envelopes to a stream
//!   (`Nats-Msg-Id` = event id) and every node, this one included, applies the stream in order
//!   from a durable consumer through the same apply step, re-judging each event and skipping one
//!   whose id the log already holds (apply is idempotent by event id).

mod local;

pub use local::{Local, SequenceError};
