//! What `/healthz` and `/readyz` report: whether the node can do its job at all, and whether
//! it should be sent traffic now.
//!
//! - *Healthy* (liveness, `/healthz`): the writer still takes appends. It stops for good when
//!   a store write or flush fails (a full disk, an IO error) or when it panics, because its
//!   in-memory ledger may then be ahead of the disk; only a restart, which runs the store's
//!   open check, brings it back. So an unhealthy node is one a supervisor should restart.
//! - *Ready* (readiness, `/readyz`): healthy, not shutting down, and on a replicated ledger
//!   linked to JetStream and caught up with the events stream as it stood when the node last
//!   (re)connected. A node that is not ready still answers reads; a load balancer should send
//!   its traffic elsewhere until it is. Restarting does not help a node that is only not ready.
//!
//! A node still opening its store (checking it, replaying the log) does not listen yet, so
//! both probes fail by refused connection until it serves.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::service::Observer;

/// Why the node is not healthy ([`Unready::WriterStopped`] only) or not ready (any).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unready {
    /// The writer stopped taking appends; the node must be restarted.
    #[error(
        "the writer stopped and takes no appends: {0}; if the disk is full, free space before \
         the restart"
    )]
    WriterStopped(String),
    /// The node received its stop signal.
    #[error("the node is shutting down; send traffic to another node")]
    ShuttingDown,
    /// A replicated node not (yet, or again) linked to JetStream.
    #[error(
        "the node is connecting to JetStream (or the link was lost and is being restored); \
         it serves what it holds, but appends wait until it is linked"
    )]
    Connecting,
    /// A replicated node still applying what the stream held when it linked.
    #[error(
        "the node is catching up with the events stream: applied up to sequence {position} of \
         {target}; reads may be behind the other nodes until it has"
    )]
    CatchingUp {
        /// The last stream sequence applied.
        position: u64,
        /// The stream's last sequence when the node linked.
        target: u64,
    },
    /// Replication stopped for good.
    #[error("replication stopped: {0}")]
    ReplicationBroken(String),
}

impl Unready {
    /// Every code, for the API's list of problem types (all answered `503`).
    pub const CODES: &'static [&'static str] = &[
        "writer-stopped",
        "shutting-down",
        "replication-connecting",
        "replication-catching-up",
        "replication-broken",
    ];

    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WriterStopped(_) => "writer-stopped",
            Self::ShuttingDown => "shutting-down",
            Self::Connecting => "replication-connecting",
            Self::CatchingUp { .. } => "replication-catching-up",
            Self::ReplicationBroken(_) => "replication-broken",
        }
    }
}

/// Why the writer stopped, set once (the first failure is the one that matters).
#[derive(Debug, Default)]
pub(crate) struct WriterState {
    failure: OnceLock<String>,
}

impl WriterState {
    /// The writer stopped for `failure`.
    pub(crate) fn stopped(&self, failure: &str) {
        // A later failure is a consequence of the first; the first is kept.
        let _ = self.failure.set(failure.to_owned());
    }

    /// Why the writer stopped, if it did.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }
}

/// An [`Observer`] that notes the writer's stop in a [`WriterState`] and passes every
/// measurement on to the node's own observer.
pub(crate) struct Recording {
    inner: Arc<dyn Observer>,
    state: Arc<WriterState>,
}

impl Recording {
    pub(crate) fn new(inner: Arc<dyn Observer>, state: Arc<WriterState>) -> Self {
        Self { inner, state }
    }
}

impl Observer for Recording {
    fn appended(&self, count: u64) {
        self.inner.appended(count);
    }
    fn refused(&self, code: &'static str) {
        self.inner.refused(code);
    }
    fn flushed(&self, events: usize, flush: Duration) {
        self.inner.flushed(events, flush);
    }
    fn log_size(&self, size: u64) {
        self.inner.log_size(size);
    }
    fn writer_stopped(&self, failure: &str) {
        self.state.stopped(failure);
        self.inner.writer_stopped(failure);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append::Durable;
    use crate::service::{AppendError, NoObserver, StoreError};
    use crate::store::{CommitGroup, Store};
    use crate::testkit::{self, ContractKit};

    /// A store whose disk is full: every commit fails.
    struct FullDisk {
        _store: Store,
    }

    impl Durable for FullDisk {
        fn commit(&self, _group: &CommitGroup) -> Result<(), StoreError> {
            Err(StoreError::Storage(
                "No space left on device (os error 28)".into(),
            ))
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_fails_health_and_readiness_until_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = testkit::config(dir.path(), 1_000);
        let observer: Arc<dyn Observer> = Arc::new(NoObserver);
        let node = crate::open::open(&config, observer, |store| FullDisk { _store: store })
            .await
            .unwrap();
        assert_eq!((node.health(), node.readiness()), (Ok(()), Ok(())));
        let mut kit = ContractKit::new("full-disk");
        let answers = node.append(vec![kit.registration()]).await;
        assert!(
            matches!(&answers[..], [Err(AppendError::Unavailable(_))]),
            "{answers:?}"
        );
        let health = node.health().unwrap_err();
        assert_eq!(health.code(), "writer-stopped");
        let text = health.to_string();
        assert!(
            text.contains("No space left on device") && text.contains("restart"),
            "{text}"
        );
        assert_eq!(node.readiness(), Err(health));
        node.shutdown().await;
        drop(node);
        // The real store took nothing: a restart is healthy again.
        let node = testkit::open(dir.path()).await;
        assert_eq!((node.health(), node.readiness()), (Ok(()), Ok(())));
        node.shutdown().await;
        assert_eq!(node.readiness(), Err(Unready::ShuttingDown));
        assert_eq!(node.health(), Ok(()));
    }

    #[test]
    fn the_first_failure_is_kept_and_codes_are_listed() {
        let state = Arc::new(WriterState::default());
        let observer = Recording::new(Arc::new(NoObserver), Arc::clone(&state));
        assert_eq!(state.failure(), None);
        observer.writer_stopped("the store failed (no space left on device)");
        observer.writer_stopped("a later failure");
        assert_eq!(
            state.failure(),
            Some("the store failed (no space left on device)")
        );
        let all = [
            Unready::WriterStopped(String::new()),
            Unready::ShuttingDown,
            Unready::Connecting,
            Unready::CatchingUp {
                position: 1,
                target: 2,
            },
            Unready::ReplicationBroken(String::new()),
        ];
        assert_eq!(
            all.iter().map(Unready::code).collect::<Vec<_>>(),
            Unready::CODES
        );
    }
}
