//! Signed checkpoints: when the node signs one ([`CheckpointPolicy`]) and how
//! ([`CheckpointSigner`]: a C2SP tlog-checkpoint body in a C2SP signed note, Ed25519).
//!
//! The policy: after a commit group, sign if the log grew since the last checkpoint and at least
//! `checkpoint_interval_ms` passed since it; if the interval has not passed yet, sign when it
//! does (the writer wakes up for it even with no new appends), and always at shutdown. Time is
//! the caller's `Instant` (tokio's clock, so tests can pause it).

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use proto::note::{self, Checkpoint, NoteError, NoteSigner};
use tokio::time::Instant;

use crate::service::Hash;
use crate::signed_head::{HeadError, HeadGuard};

/// When the next checkpoint is due.
#[derive(Clone, Debug)]
pub struct CheckpointPolicy {
    interval: Duration,
    last_signed_at: Option<Instant>,
    last_size: Option<u64>,
}

impl CheckpointPolicy {
    /// A policy signing at most every `interval`, after a last checkpoint at `last_size` (`None`
    /// if the store has none yet).
    pub fn new(interval: Duration, last_size: Option<u64>) -> Self {
        Self {
            interval,
            last_signed_at: None,
            last_size,
        }
    }

    /// Whether a log of `size` events has grown past its last checkpoint (an empty log needs
    /// none).
    pub fn behind(&self, size: u64) -> bool {
        size > self.last_size.unwrap_or(0)
    }

    /// When a checkpoint of a log of `size` events becomes due: `None` if none is needed.
    pub fn deadline(&self, size: u64) -> Option<Instant> {
        if !self.behind(size) {
            return None;
        }
        match self.last_signed_at {
            None => Some(Instant::now()),
            Some(at) => Some(at + self.interval),
        }
    }

    /// Whether a checkpoint of a log of `size` events is due at `now`.
    pub fn due(&self, size: u64, now: Instant) -> bool {
        self.behind(size)
            && self
                .last_signed_at
                .is_none_or(|at| now >= at + self.interval)
    }

    /// Records a checkpoint of `size` signed at `now`.
    pub fn signed(&mut self, size: u64, now: Instant) {
        self.last_signed_at = Some(now);
        self.last_size = Some(size);
    }
}

/// Signs checkpoints with the node key; with a [`HeadGuard`], never a tree inconsistent with
/// the node's signed head.
pub struct CheckpointSigner {
    origin: String,
    signer: NoteSigner,
    key: SigningKey,
    guard: Option<Arc<HeadGuard>>,
}

/// Why a checkpoint was not signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The origin cannot be a checkpoint line.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The tree is not consistent with the signed head: signing it would equivocate.
    #[error("refusing to sign: {0}")]
    Refused(#[from] HeadError),
}

impl SignError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Note(e) => e.code(),
            Self::Refused(e) => e.code(),
        }
    }
}

impl CheckpointSigner {
    /// A signer for checkpoints of origin `origin` (also the note key name).
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`] if `origin` cannot be a key name.
    pub fn new(origin: &str, key: SigningKey) -> Result<Self, NoteError> {
        Ok(Self {
            origin: origin.to_owned(),
            signer: NoteSigner::new(origin, key.clone())?,
            key,
            guard: None,
        })
    }

    /// This signer, refusing what `guard`'s signed head forbids and moving the head.
    pub fn guarded(self, guard: Arc<HeadGuard>) -> Self {
        Self {
            guard: Some(guard),
            ..self
        }
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The signed-note verifier key string (`name+keyhash+base64 key`).
    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }

    /// The signed note of the checkpoint `(origin, size, root)`. Guarded, the tree is first
    /// proven consistent with the signed head (a hard refusal if not), and the note becomes
    /// the head at once if the store holds the tree durably (else once its group is flushed).
    ///
    /// # Errors
    /// [`SignError::Note`] only if the origin cannot be a checkpoint line (checked by
    /// [`Self::new`]'s caller through the config); [`SignError::Refused`] if the tree is not
    /// consistent with the signed head, or the head cannot be written.
    pub fn sign(&self, size: u64, root: &Hash) -> Result<String, SignError> {
        if let Some(guard) = &self.guard {
            guard.check_signing(size, root)?;
        }
        let body = Checkpoint::new(&self.origin, size, *root, Vec::new())?.to_body();
        let note = note::sign_note(&body, &[&self.signer])?;
        if let Some(guard) = &self.guard {
            guard.signed(size, &note, &self.key)?;
        }
        Ok(note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::note::open_note;

    #[tokio::test(start_paused = true)]
    async fn signs_at_most_once_per_interval_and_catches_up_later() {
        let interval = Duration::from_millis(1000);
        let mut policy = CheckpointPolicy::new(interval, Some(0));
        assert!(!policy.behind(0));
        assert_eq!(policy.deadline(0), None);
        assert_eq!(CheckpointPolicy::new(interval, None).deadline(0), None);
        let start = Instant::now();
        // Nothing signed in this process yet: due at once.
        assert!(policy.due(3, start));
        policy.signed(3, start);
        // Grows again within the interval: not due until the interval has passed.
        assert!(!policy.due(5, start + Duration::from_millis(999)));
        assert_eq!(policy.deadline(5), Some(start + interval));
        assert!(policy.due(5, start + interval));
        // No growth: never due.
        assert!(!policy.due(3, start + interval * 10));
    }

    #[test]
    fn a_signed_checkpoint_opens_with_the_verifier_key() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let signer = CheckpointSigner::new("example.org/log", key).unwrap();
        let root = [0xab; 32];
        let note = signer.sign(12, &root).unwrap();
        let verifier = proto::note::NoteVerifier::parse(&signer.verifier_key()).unwrap();
        let opened = open_note(note.as_bytes(), &[verifier]).unwrap();
        // The body is the C2SP tlog-checkpoint text: origin, size, base64 root.
        let expected_body = "example.org/log\n12\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n";
        assert_eq!(opened.text(), expected_body);
        assert_eq!(opened.verified().len(), 1);
    }

    /// Yields until `condition` holds; panics past a 30-second deadline (no sleeping).
    async fn wait_until(mut condition: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !condition() {
            assert!(
                std::time::Instant::now() < deadline,
                "condition not reached in 30 s"
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn growth_is_checkpointed_once_the_interval_passes_without_appends() {
        use crate::service::{NoObserver, Node};
        use crate::testkit::{self, ContractKit};
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let mut kit = ContractKit::new("interval");
        let node = Node::open(&testkit::config(dir.path(), 1_000), Arc::new(NoObserver))
            .await
            .unwrap();
        let latest = |node: &Node| node.latest_checkpoint().map(|c| c.size);
        assert!(node.append(vec![kit.registration()]).await[0].is_ok());
        // Nothing was signed before: the first group is checkpointed at once.
        assert_eq!(latest(&node), Some(1));
        assert!(node.append(vec![kit.claim(1)]).await[0].is_ok());
        assert_eq!(latest(&node), Some(1));
        tokio::time::advance(Duration::from_millis(1_000)).await;
        // No append comes; the writer wakes up for the checkpoint on its own.
        wait_until(|| latest(&node) == Some(2)).await;
        node.shutdown().await;
    }
}
