//! The real sled store behind a [`Durable`] that fails a write, fails a flush or crashes the
//! node where the simulation arms it. A crash keeps a copy of the data directory as the disk
//! would hold it after the crash ([`Faults::take_image`]); the node is then dead: every later
//! write fails, as a killed process writes nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::append::Durable;
use crate::service::StoreError;
use crate::store::{CommitGroup, Store};

/// What the next commit group written meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// The write fails; nothing of the group is written.
    FailCommit,
    /// The group is written but the flush fails: its durability is unknown.
    FailFlush,
    /// The process dies before the write.
    CrashBeforeCommit,
    /// The process dies after the write, before the flush; the disk never got the group.
    CrashAfterCommitLost,
    /// The process dies after the write, before the flush; the disk got the group anyway
    /// (sled's own flusher ran first).
    CrashAfterCommitKept,
    /// The process dies after the flush returned, before anything else: the group was
    /// acknowledged.
    CrashAfterFlush,
    /// The process is killed between two writes: the disk holds what the last flush made
    /// durable, nothing written after it.
    Killed,
}

impl Fault {
    /// Every fault, for the scenarios to draw from.
    pub(super) const ALL: [Fault; 6] = [
        Fault::FailCommit,
        Fault::FailFlush,
        Fault::CrashBeforeCommit,
        Fault::CrashAfterCommitLost,
        Fault::CrashAfterCommitKept,
        Fault::CrashAfterFlush,
    ];
}

impl Fault {
    /// Whether the group is on disk after this fault (`None`: either way).
    pub(super) fn leaves_group(self) -> Option<bool> {
        match self {
            Fault::FailCommit | Fault::CrashBeforeCommit | Fault::CrashAfterCommitLost => {
                Some(false)
            }
            Fault::CrashAfterCommitKept | Fault::CrashAfterFlush => Some(true),
            Fault::FailFlush | Fault::Killed => None,
        }
    }

    /// Whether the node died (and restarts from the crash image, not its live directory).
    pub(super) fn is_crash(self) -> bool {
        !matches!(self, Fault::FailCommit | Fault::FailFlush)
    }
}

/// Which writes an armed fault waits for. The writer also writes a checkpoint on its own
/// timer, and a paused clock can still move while a blocking task ends, so a fault is aimed
/// at the kind of write the step makes, never at whichever write comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// A commit group of events or stream messages.
    Group,
    /// A write of a checkpoint (or projections) alone.
    CheckpointOnly,
}

impl Target {
    fn of(group: &CommitGroup) -> Self {
        let alone =
            group.events.is_empty() && group.stream_position.is_none() && group.refusals.is_empty();
        if alone {
            Target::CheckpointOnly
        } else {
            Target::Group
        }
    }
}

#[derive(Default)]
struct State {
    armed: Option<(Fault, Target)>,
    /// The fault of the write between its commit and its flush.
    current: Option<Fault>,
    fired: Option<Fault>,
    dead: bool,
    image: Option<tempfile::TempDir>,
    /// The data directory as of the last flush that returned.
    durable: Option<tempfile::TempDir>,
}

/// The simulation's handle on a node's faults: shared with its [`FaultyStore`].
pub(super) struct Faults {
    data_dir: PathBuf,
    state: Mutex<State>,
}

impl Faults {
    pub(super) fn new(data_dir: &Path) -> Arc<Self> {
        Arc::new(Self {
            data_dir: data_dir.to_owned(),
            state: Mutex::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next write of kind `target` meets `fault`.
    pub(super) fn arm(&self, fault: Fault, target: Target) {
        self.state().armed = Some((fault, target));
    }

    /// Disarms an unused fault; returns the fault that fired since it was armed, if any.
    pub(super) fn settle(&self) -> Option<Fault> {
        let mut state = self.state();
        state.armed = None;
        state.current = None;
        state.fired.take()
    }

    /// Whether the armed fault fired.
    pub(super) fn has_fired(&self) -> bool {
        self.state().fired.is_some()
    }

    /// Kills the node between two writes: it writes nothing more, and its disk holds what
    /// the last flush made durable.
    pub(super) fn kill(&self) -> Fault {
        let mut state = self.state();
        state.dead = true;
        state.image = state.durable.take();
        state.fired = Some(Fault::Killed);
        Fault::Killed
    }

    /// Notes the disk as of now as what survives a kill (after open and after each flush).
    pub(super) fn durable_now(&self, store: &Store) -> Result<(), StoreError> {
        let image = self.snapshot(store)?;
        self.state().durable = Some(image);
        Ok(())
    }

    /// The data directory as the disk holds it after the crash, once one happened.
    pub(super) fn take_image(&self) -> Option<tempfile::TempDir> {
        self.state().image.take()
    }

    /// A copy of the data directory now (the store flushed first, so the copy is what a
    /// crash at this instant leaves).
    fn snapshot(&self, store: &Store) -> Result<tempfile::TempDir, StoreError> {
        store.flush()?;
        let image = tempfile::tempdir().map_err(io)?;
        copy_dir(&self.data_dir, image.path()).map_err(io)?;
        Ok(image)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Storage(format!("simulation: {e}"))
}

fn injected(what: &str) -> StoreError {
    StoreError::Storage(format!("simulated fault: {what}"))
}

/// Copies the directory tree `from` into the existing directory `to`.
pub(super) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The store the writer writes through.
pub(super) struct FaultyStore {
    pub(super) store: Store,
    pub(super) faults: Arc<Faults>,
}

impl FaultyStore {
    /// Fires the armed fault at a crash point: keeps the image and kills the node.
    fn crash(&self, state: &mut State, fault: Fault, image: tempfile::TempDir) {
        state.fired = Some(fault);
        state.dead = true;
        state.image = Some(image);
    }
}

impl FaultyStore {
    /// The real flush; what it made durable is what a later kill leaves.
    fn flushed(&self, state: &mut State) -> Result<(), StoreError> {
        self.store.flush()?;
        state.durable = Some(self.faults.snapshot(&self.store)?);
        Ok(())
    }
}

impl Durable for FaultyStore {
    fn commit(&self, group: &CommitGroup) -> Result<(), StoreError> {
        let mut state = self.faults.state();
        if state.dead {
            return Err(injected("the node is dead"));
        }
        let fault = match state.armed {
            Some((fault, target)) if target == Target::of(group) => {
                state.armed = None;
                Some(fault)
            }
            _ => None,
        };
        match fault {
            Some(fault @ Fault::FailCommit) => {
                state.fired = Some(fault);
                Err(injected("the write failed"))
            }
            Some(fault @ Fault::CrashBeforeCommit) => {
                let image = self.faults.snapshot(&self.store)?;
                self.crash(&mut state, fault, image);
                Err(injected("crashed before the write"))
            }
            Some(Fault::CrashAfterCommitLost) => {
                // The disk as it is before the group: what a crash before any flush leaves.
                let image = self.faults.snapshot(&self.store)?;
                state.image = Some(image);
                state.current = fault;
                self.store.commit(group)
            }
            other => {
                state.current = other;
                self.store.commit(group)
            }
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut state = self.faults.state();
        if state.dead {
            return Err(injected("the node is dead"));
        }
        let armed = state.current.take();
        match armed {
            Some(fault @ Fault::FailFlush) => {
                state.fired = Some(fault);
                Err(injected("the flush failed"))
            }
            Some(fault @ Fault::CrashAfterCommitLost) => {
                let image = state
                    .image
                    .take()
                    .ok_or_else(|| injected("no image before the write"))?;
                self.crash(&mut state, fault, image);
                Err(injected("crashed before the flush"))
            }
            Some(fault @ Fault::CrashAfterCommitKept) => {
                let image = self.faults.snapshot(&self.store)?;
                self.crash(&mut state, fault, image);
                Err(injected("crashed before the flush returned"))
            }
            Some(fault @ Fault::CrashAfterFlush) => {
                let image = self.faults.snapshot(&self.store)?;
                self.crash(&mut state, fault, image);
                Ok(())
            }
            Some(_) | None => self.flushed(&mut state),
        }
    }
}
