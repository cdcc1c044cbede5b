//! `ledger-tests`: the harness of the integration tests, which run real processes only: the
//! `ledger-node` and `ledger` binaries and `nats-server`. There are no mocks here.
//!
//! - [`binary`] builds (once per test process) and locates a workspace binary;
//! - [`Node`] and [`NatsServer`] start, kill and restart processes on loopback ports;
//! - [`wait_until`] polls a condition with backoff until a deadline (never a sleep as
//!   synchronisation);
//! - [`events`] makes real signed envelopes for a realistic contract;
//! - [`verify`] is an independent verifier of what the node serves (RFC 9162 proofs and roots,
//!   C2SP signed-note checkpoints, envelope signatures), written from the specifications and
//!   not from the node's code.

pub mod api;
pub mod binary;
pub mod events;
pub mod nats;
pub mod node;
pub mod verify;

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

pub use binary::binary;
pub use nats::NatsServer;
pub use node::Node;

/// First pause between two polls of [`wait_until`]; it doubles up to [`POLL_PAUSE_MAX`].
const POLL_PAUSE_FIRST: Duration = Duration::from_millis(2);
/// Longest pause between two polls of [`wait_until`].
const POLL_PAUSE_MAX: Duration = Duration::from_millis(100);

/// Polls `condition` with exponential backoff until it yields `Some` or `timeout` passes.
///
/// `what` names the condition in the error.
///
/// # Errors
/// When the deadline passes, or when `condition` fails.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut condition: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = POLL_PAUSE_FIRST;
    loop {
        if let Some(value) = condition()? {
            return Ok(value);
        }
        let now = Instant::now();
        if now >= deadline {
            bail!("timed out after {timeout:?} waiting until {what}");
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(POLL_PAUSE_MAX);
    }
}
