//! The crash model: a node on a data directory, stopped either cleanly or by a crash, and
//! opened again on what its disk holds: the live directory after a clean stop or a failed
//! write (sled's own drop flushes what was written), the crash image after a crash (nothing
//! written after the last flush survives, unless the fault says sled flushed it anyway).

use std::sync::Arc;

use super::faulty_store::{Fault, Faults, FaultyStore};
use crate::service::{NoObserver, Node};

/// A simulated node process and its disk.
pub(super) struct Process {
    pub(super) node: Node,
    pub(super) faults: Arc<Faults>,
    dir: tempfile::TempDir,
    interval_ms: u64,
}

impl Process {
    /// A node on a new, empty data directory, signing checkpoints at most every
    /// `interval_ms` (on the paused clock).
    pub(super) async fn start(interval_ms: u64) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let (node, faults) = open(&dir, interval_ms).await?;
        Ok(Self {
            node,
            faults,
            dir,
            interval_ms,
        })
    }

    /// Stops the node after `fault` fired (or cleanly, with `None`) and starts it again on
    /// what its disk holds.
    ///
    /// # Errors
    /// If the reopened store is refused; the message says why.
    pub(super) async fn restart(self, fault: Option<Fault>) -> Result<Self, String> {
        let Process {
            node,
            faults,
            dir,
            interval_ms,
        } = self;
        // A dead node writes nothing more at shutdown: its store fails every write.
        node.shutdown().await;
        let image = faults.take_image();
        // Every handle on the old sled database goes before it is opened again.
        drop(node);
        drop(faults);
        let dir = match (fault.is_some_and(Fault::is_crash), image) {
            (true, Some(image)) => image,
            (true, None) => return Err(format!("{fault:?} fired but left no crash image")),
            (false, _) => dir,
        };
        let (node, faults) = open(&dir, interval_ms).await?;
        Ok(Self {
            node,
            faults,
            dir,
            interval_ms,
        })
    }
}

/// Opens a node on `dir` with its writes going through a [`FaultyStore`].
async fn open(dir: &tempfile::TempDir, interval_ms: u64) -> Result<(Node, Arc<Faults>), String> {
    let config = crate::testkit::config(dir.path(), interval_ms);
    let faults = Faults::new(dir.path());
    let shared = Arc::clone(&faults);
    let node = crate::open::open(&config, Arc::new(NoObserver), move |store| FaultyStore {
        store,
        faults: shared,
    })
    .await
    .map_err(|e| format!("the node does not open after the restart: {e:#}"))?;
    settle_checkpoint(&node).await?;
    faults
        .durable_now(node.store_for_test())
        .map_err(|e| format!("the disk after open: {e}"))?;
    Ok((node, faults))
}

/// Waits (yielding, never sleeping) until a node opened on a log past its latest checkpoint
/// has signed the checkpoint it owes at once: otherwise that write, on the writer's timer,
/// could meet the fault the next step arms before the writer reads the step's request.
async fn settle_checkpoint(node: &Node) -> Result<(), String> {
    let size = node.info().log_size;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while size > 0 && node.latest_checkpoint().map(|c| c.size) != Some(size) {
        if std::time::Instant::now() > deadline {
            return Err("the reopened node did not sign its checkpoint in 30 s".into());
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}
