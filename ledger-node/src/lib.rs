//! `ledger-node`: the outcome ledger's service. It receives signed events, judges them with
//! `ledger-core`, stores them durably in sled and serves the log, projections, checkpoints and
//! proofs.
//!
//! It is not the domain: every contract rule, signature check and Merkle computation is
//! `ledger-core`'s. Only `store/` names sled. The entry point of a write is [`append`]; the API
//! the HTTP layer codes against is [`service::Node`].

pub mod append;
pub mod checkpoint;
pub mod config;
pub mod health;
pub mod http;
pub mod identity;
pub mod metrics;
mod open;
pub mod rebuild;
pub mod replication;
pub mod sequencer;
pub mod service;
pub mod signed_head;
#[cfg(test)]
mod sim;
pub mod store;
#[cfg(test)]
mod testkit;
