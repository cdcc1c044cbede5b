//! Cosigning: every node signs the checkpoints it reaches, and a checkpoint note carries every
//! node signature collected for its size, so an auditor can require k of n nodes.
//!
//! All nodes of a ledger share the checkpoint origin (`outcome-ledger/NAME` unless configured),
//! so they sign the same body `origin / size / root` and their signature lines combine into one
//! C2SP signed note; each line names the origin and carries the node's key id.
//!
//! Sizes converge: a node announces each checkpoint it signs on the ledger's signatures stream
//! (`ledger.NAME.cosign`), as `{verifier_key, note}`. A node reading an announcement checks the
//! signature with the announced key and the body against its own tree at that size (once its
//! log is that long: announcements from ahead wait); if they agree it keeps the line and, if it
//! has not signed that size yet, signs it and announces its own signature. So every size any
//! node signs ends up signed by every node that reaches it. A body that disagrees with this
//! node's root is a fork: it is logged as an error and never kept.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, stream};
use futures_util::StreamExt;
use ledger_core::merkle::{self, TreeSize};
use proto::note::{self, Checkpoint, NoteVerifier};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{until_stopped, Names};
use crate::checkpoint::CheckpointSigner;
use crate::service::{SignedCheckpoint, StoreError, View, ViewCell};
use crate::store::Store;

/// The signature prefix of a note line: an em dash and a space.
const LINE_PREFIX: &str = "\u{2014} ";

/// One node's signature of one checkpoint, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Announcement {
    /// The signer's verifier key string (`origin+keyid+base64`).
    pub(crate) verifier_key: String,
    /// The checkpoint note signed by that key.
    pub(crate) note: String,
}

/// The checkpoint signatures of this node and its peers.
pub(crate) struct Cosign {
    store: Store,
    view: Arc<ViewCell>,
    signer: Arc<CheckpointSigner>,
    own_key_id: [u8; 4],
}

/// A checkpoint announcement checked against this node's tree.
enum Checked {
    /// The signature verifies and the root is this node's at that size.
    Agrees {
        size: u64,
        key_id: [u8; 4],
        line: String,
    },
    /// This node has not reached that size yet.
    Ahead { size: u64 },
    /// Malformed, another origin, a bad signature, or another root (a fork).
    Rejected(String),
}

fn store_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Cosign {
    /// Cosigning with `signer` over the tree in `store`.
    ///
    /// # Errors
    /// If the signer's own verifier key does not parse (a bug).
    pub(crate) fn new(
        store: Store,
        view: Arc<ViewCell>,
        signer: Arc<CheckpointSigner>,
    ) -> anyhow::Result<Self> {
        let own = NoteVerifier::parse(&signer.verifier_key()).context("the node's verifier key")?;
        Ok(Self {
            store,
            view,
            signer,
            own_key_id: *own.key_id().as_bytes(),
        })
    }

    /// The checkpoint of `size`, with every signature kept for it; `None` if no node signature
    /// is known for that size (or the log is shorter).
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub(crate) fn note_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, StoreError> {
        let view = self.view.get();
        if size == 0 || size > view.size {
            return Ok(None);
        }
        let (root, body) = self.body(size)?;
        let mut lines = Vec::new();
        if let Some(own) = self.store.checkpoint(size)? {
            lines.extend(lines_of(&own, &body));
        }
        lines.extend(self.store.cosignature_lines(size)?);
        if lines.is_empty() {
            return Ok(None);
        }
        Ok(Some(SignedCheckpoint {
            size,
            root,
            note: note_text(&body, lines),
        }))
    }

    /// The largest size this node signed (on its own or after a peer), with every signature.
    ///
    /// # Errors
    /// [`StoreError`] if the store cannot be read.
    pub(crate) fn latest(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let view = self.view.get();
        let own = view.latest.as_ref().map(|c| c.size);
        let cosigned = self.store.last_cosigned_size(view.size)?;
        match own.max(cosigned) {
            Some(size) => self.note_at(size),
            None => Ok(None),
        }
    }

    /// The root and checkpoint body of this node's tree at `size`.
    fn body(&self, size: u64) -> Result<([u8; 32], String), StoreError> {
        let root = merkle::root(&self.store.node_source(), TreeSize::new(size))?;
        let body = Checkpoint::new(self.signer.origin(), size, *root.as_bytes(), Vec::new())
            .map_err(store_error)?
            .to_body();
        Ok((*root.as_bytes(), body))
    }

    /// Checks a peer's (or this node's) announcement against the tree.
    fn check(&self, announcement: &Announcement, log_size: u64) -> Result<Checked, StoreError> {
        let verifier = match NoteVerifier::parse(&announcement.verifier_key) {
            Ok(v) if v.name() == self.signer.origin() => v,
            Ok(v) => {
                return Ok(Checked::Rejected(format!(
                    "origin {:?} is not ours",
                    v.name()
                )))
            }
            Err(e) => return Ok(Checked::Rejected(format!("verifier key: {e}"))),
        };
        let opened = match note::open_note(
            announcement.note.as_bytes(),
            std::slice::from_ref(&verifier),
        ) {
            Ok(opened) => opened,
            Err(e) => return Ok(Checked::Rejected(format!("note: {e}"))),
        };
        let size = match Checkpoint::parse(opened.text()) {
            Ok(checkpoint) => checkpoint.size(),
            Err(e) => return Ok(Checked::Rejected(format!("checkpoint: {e}"))),
        };
        if size == 0 {
            return Ok(Checked::Rejected("a checkpoint of the empty log".into()));
        }
        if size > log_size {
            return Ok(Checked::Ahead { size });
        }
        let (_, body) = self.body(size)?;
        if opened.text() != body {
            return Ok(Checked::Rejected(format!(
                "FORK: {} signed a checkpoint of size {size} that differs from this node's tree",
                announcement.verifier_key
            )));
        }
        let key_id = *verifier.key_id().as_bytes();
        let line = lines_of(&announcement.note, &body)
            .into_iter()
            .find(|line| line_key_id(line) == Some(key_id));
        Ok(match line {
            Some(line) => Checked::Agrees { size, key_id, line },
            None => Checked::Rejected("no signature line of the announced key".into()),
        })
    }

    /// Whether this node has signed `size`.
    fn signed(&self, size: u64) -> Result<bool, StoreError> {
        Ok(self.store.checkpoint(size)?.is_some()
            || self.store.has_cosignature(size, self.own_key_id)?)
    }

    /// Signs `size` with the node key and keeps the line; the announcement to publish.
    fn sign(&self, size: u64) -> Result<Announcement, StoreError> {
        let (root, body) = self.body(size)?;
        let note = self.signer.sign(size, &root).map_err(store_error)?;
        for line in lines_of(&note, &body) {
            self.store.put_cosignature(size, self.own_key_id, &line)?;
        }
        Ok(Announcement {
            verifier_key: self.signer.verifier_key(),
            note,
        })
    }

    /// This node's own signature of `size`, as an announcement, if it signed it.
    fn own_announcement(&self, size: u64) -> Result<Option<Announcement>, StoreError> {
        let (_, body) = self.body(size)?;
        let mut lines = Vec::new();
        if let Some(own) = self.store.checkpoint(size)? {
            lines.extend(lines_of(&own, &body));
        }
        lines.extend(self.store.cosignature_lines(size)?);
        let own: Vec<String> = lines
            .into_iter()
            .filter(|l| line_key_id(l) == Some(self.own_key_id))
            .take(1)
            .collect();
        if own.is_empty() {
            return Ok(None);
        }
        Ok(Some(Announcement {
            verifier_key: self.signer.verifier_key(),
            note: note_text(&body, own),
        }))
    }
}

/// The signature lines of `note` if its text is `body` (none otherwise).
fn lines_of(note: &str, body: &str) -> Vec<String> {
    match note::parse_unverified(note.as_bytes()) {
        Ok(parsed) if parsed.text() == body => parsed
            .signatures()
            .iter()
            .map(|s| format!("{LINE_PREFIX}{} {}", s.name(), s.base64()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The key id a signature line names, if it parses.
fn line_key_id(line: &str) -> Option<[u8; 4]> {
    let probe = format!("x\n\n{line}\n");
    let parsed = note::parse_unverified(probe.as_bytes()).ok()?;
    parsed.signatures().first().map(|s| *s.key_id().as_bytes())
}

/// A note of `body` with `lines`, each key once (first line kept).
fn note_text(body: &str, lines: Vec<String>) -> String {
    let mut seen = BTreeSet::new();
    let mut note = format!("{body}\n");
    for line in lines {
        if seen.insert(line_key_id(&line)) {
            note.push_str(&line);
            note.push('\n');
        }
    }
    note
}

/// How long signatures are kept in the stream.
const COSIGN_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Announcements from ahead kept while this node catches up.
const PENDING_MAX: usize = 4_096;
/// Pause before retrying after a failure, and between retries of unpublished signatures.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The cosigning task's state.
struct Task {
    cosign: Arc<Cosign>,
    context: jetstream::Context,
    names: Names,
    replicas: usize,
    /// Announcements for sizes this node has not reached, by size: (stream sequence, it).
    pending: BTreeMap<u64, Vec<(u64, Announcement)>>,
    /// Sizes this node signed and has still to announce.
    outbox: BTreeSet<u64>,
    /// The last own checkpoint size seen in the view.
    announced_latest: Option<u64>,
    /// The next sequence of the signatures stream to read.
    next: u64,
}

/// Runs cosigning until `stopped`.
pub(crate) async fn run(
    cosign: Arc<Cosign>,
    context: jetstream::Context,
    names: Names,
    replicas: usize,
    mut stopped: watch::Receiver<bool>,
) {
    let next = match cosign.store.cosign_position() {
        Ok(position) => position.saturating_add(1),
        Err(e) => {
            tracing::error!(error = %e, "cosigning does not start");
            return;
        }
    };
    let announced_latest = cosign.view.get().latest.as_ref().map(|c| c.size);
    let mut task = Task {
        cosign,
        context,
        names,
        replicas,
        pending: BTreeMap::new(),
        outbox: BTreeSet::new(),
        announced_latest,
        next,
    };
    loop {
        if let Err(why) = task.follow(&mut stopped).await {
            tracing::warn!(%why, "following the signatures stream again");
        }
        if *stopped.borrow() {
            return;
        }
        if tokio::time::timeout(RETRY_PAUSE, until_stopped(&mut stopped))
            .await
            .is_ok()
        {
            return;
        }
    }
}

impl Task {
    /// Reads announcements and watches the view until stopped (`Ok`) or a failure.
    async fn follow(&mut self, stopped: &mut watch::Receiver<bool>) -> Result<(), String> {
        let stream = self.ensure_stream().await?;
        let mut messages = open(&stream, self.next).await?;
        let mut view = self.cosign.view.subscribe();
        let mut tick = tokio::time::interval(RETRY_PAUSE);
        loop {
            tokio::select! {
                () = until_stopped(stopped) => return Ok(()),
                delivery = messages.next() => self.receive(delivery)?,
                changed = view.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let current = Arc::clone(&view.borrow_and_update());
                    self.on_view(&current).map_err(|e| e.to_string())?;
                }
                _ = tick.tick() => {}
            }
            self.publish_outbox().await;
        }
    }

    async fn ensure_stream(&self) -> Result<stream::Stream, String> {
        let config = stream::Config {
            name: self.names.cosign_stream(),
            subjects: vec![self.names.cosign_subject()],
            num_replicas: self.replicas,
            storage: stream::StorageType::File,
            max_age: COSIGN_MAX_AGE,
            ..stream::Config::default()
        };
        self.context
            .get_or_create_stream(config)
            .await
            .map_err(|e| format!("cannot get or create the signatures stream: {e}"))
    }

    fn receive(
        &mut self,
        delivery: Option<Result<jetstream::Message, pull::MessagesError>>,
    ) -> Result<(), String> {
        let message = match delivery {
            None => return Err("the consumer ended".into()),
            Some(Err(e)) => return Err(format!("consumer error: {e}")),
            Some(Ok(message)) => message,
        };
        let sequence = message
            .info()
            .map_err(|e| format!("a signature message has no sequence: {e}"))?
            .stream_sequence;
        if sequence < self.next {
            return Ok(());
        }
        self.next = sequence.saturating_add(1);
        match serde_json::from_slice::<Announcement>(&message.payload) {
            Ok(announcement) => self
                .consider(sequence, announcement)
                .map_err(|e| e.to_string())?,
            Err(e) => tracing::warn!(sequence, error = %e, "not a checkpoint announcement"),
        }
        self.save_position().map_err(|e| e.to_string())
    }

    /// Keeps an agreeing signature (and cosigns its size), parks one from ahead.
    fn consider(&mut self, sequence: u64, announcement: Announcement) -> Result<(), StoreError> {
        let log_size = self.cosign.view.get().size;
        match self.cosign.check(&announcement, log_size)? {
            Checked::Agrees { size, key_id, line } => {
                self.cosign.store.put_cosignature(size, key_id, &line)?;
                if !self.cosign.signed(size)? {
                    self.cosign.sign(size)?;
                    self.outbox.insert(size);
                }
            }
            Checked::Ahead { size } => {
                self.pending
                    .entry(size)
                    .or_default()
                    .push((sequence, announcement));
                while self.pending.len() > PENDING_MAX {
                    self.pending.pop_last();
                }
            }
            Checked::Rejected(why) if why.starts_with("FORK") => {
                tracing::error!(%why, sequence, "checkpoint announcement refused")
            }
            Checked::Rejected(why) => {
                tracing::warn!(%why, sequence, "checkpoint announcement refused")
            }
        }
        Ok(())
    }

    /// A new own checkpoint is announced; parked announcements this node now reaches are
    /// considered.
    fn on_view(&mut self, view: &View) -> Result<(), StoreError> {
        let latest = view.latest.as_ref().map(|c| c.size);
        if latest != self.announced_latest {
            if let Some(size) = latest {
                self.outbox.insert(size);
            }
            self.announced_latest = latest;
        }
        let reached: Vec<u64> = self.pending.range(..=view.size).map(|(s, _)| *s).collect();
        for size in reached {
            for (sequence, announcement) in self.pending.remove(&size).unwrap_or_default() {
                self.consider(sequence, announcement)?;
            }
        }
        self.save_position()
    }

    /// Persists the read position, short of any parked announcement (so a restart reads it
    /// again).
    fn save_position(&self) -> Result<(), StoreError> {
        let parked = self
            .pending
            .values()
            .flatten()
            .map(|(sequence, _)| *sequence)
            .min();
        let position = match parked {
            Some(sequence) => sequence.saturating_sub(1),
            None => self.next.saturating_sub(1),
        };
        if position > self.cosign.store.cosign_position()? {
            self.cosign.store.set_cosign_position(position)?;
        }
        Ok(())
    }

    /// Publishes this node's signatures not yet announced; failures stay for the next round.
    async fn publish_outbox(&mut self) {
        let sizes: Vec<u64> = self.outbox.iter().copied().collect();
        for size in sizes {
            let announcement = match self.cosign.own_announcement(size) {
                Ok(Some(announcement)) => announcement,
                Ok(None) => {
                    self.outbox.remove(&size);
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, size, "cannot read this node's signature");
                    return;
                }
            };
            let Ok(payload) = serde_json::to_vec(&announcement) else {
                return;
            };
            let subject = self.names.cosign_subject();
            let published = match self.context.publish(subject, payload.into()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match published {
                Ok(()) => {
                    self.outbox.remove(&size);
                }
                Err(e) => {
                    tracing::debug!(error = %e, size, "signature not announced yet");
                    return;
                }
            }
        }
    }
}

/// An ephemeral consumer of the signatures stream from `start`.
async fn open(stream: &stream::Stream, start: u64) -> Result<pull::Stream, String> {
    let config = pull::Config {
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: start.max(1),
        },
        ack_policy: AckPolicy::None,
        inactive_threshold: Duration::from_secs(30),
        memory_storage: true,
        num_replicas: 1,
        ..pull::Config::default()
    };
    let consumer = stream
        .create_consumer(config)
        .await
        .map_err(|e| format!("cannot create a signatures consumer: {e}"))?;
    consumer
        .stream()
        .max_messages_per_batch(256)
        .heartbeat(Duration::from_secs(1))
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .map_err(|e| format!("cannot pull signatures: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn signer(seed: u8) -> CheckpointSigner {
        CheckpointSigner::new("outcome-ledger/test", SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    #[test]
    fn signatures_of_several_nodes_combine_into_one_note_each_key_once() {
        let root = [3u8; 32];
        let (a, b) = (signer(1), signer(2));
        let body = Checkpoint::new("outcome-ledger/test", 7, root, Vec::new())
            .unwrap()
            .to_body();
        let (note_a, note_b) = (a.sign(7, &root).unwrap(), b.sign(7, &root).unwrap());
        let mut lines = lines_of(&note_a, &body);
        lines.extend(lines_of(&note_b, &body));
        lines.extend(lines_of(&note_a, &body));
        let combined = note_text(&body, lines);
        let verifiers = [
            NoteVerifier::parse(&a.verifier_key()).unwrap(),
            NoteVerifier::parse(&b.verifier_key()).unwrap(),
        ];
        let opened = note::open_note(combined.as_bytes(), &verifiers).unwrap();
        assert_eq!(opened.text(), body);
        assert_eq!(opened.verified().len(), 2);
        assert_eq!(
            note::require_signers(&opened, &verifiers, 2).unwrap().len(),
            2
        );
        assert_eq!(combined.matches(LINE_PREFIX).count(), 2);
    }

    #[test]
    fn lines_of_another_body_are_not_taken() {
        let root = [3u8; 32];
        let note = signer(1).sign(7, &root).unwrap();
        let other = Checkpoint::new("outcome-ledger/test", 8, root, Vec::new())
            .unwrap()
            .to_body();
        assert!(lines_of(&note, &other).is_empty());
    }
}
