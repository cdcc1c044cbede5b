//! Applying the events stream: every node, the publisher included, reads the stream in order
//! and hands it to the one writer, batch by batch.
//!
//! *Why an ephemeral consumer started at the stored position, not a durable consumer.* The
//! position that matters is the one committed in sled together with the data it produced
//! (`meta/stream_position`, in the same transaction as the events, their indexes and the
//! refusals). A durable consumer would keep a second position on the server, acknowledged
//! after the commit: a crash between the two leaves them apart, and the store's position wins
//! anyway. So each (re)start creates an ephemeral pull consumer (no acks, memory state) that
//! delivers from `position + 1`; the server keeps no per-node state a departed node would
//! leak, and losing the consumer (a server restart, a cluster leader change, a missed
//! heartbeat) only means creating a new one from the same place. The writer skips anything at
//! or below its position, so a message delivered twice is applied once.
//!
//! Gaps: the stream denies deletes and purges, so its sequences are contiguous. A message
//! further on than the next expected one makes the consumer start again from the expected
//! sequence; only the first message a fresh consumer delivers may leave a gap (the messages
//! before it are gone from the stream, for every node alike).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::{self, stream};
use futures_util::StreamExt;
use proto::dsse::Envelope;
use proto::{EventId, Payload};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::{subject_token, until_stopped, Link, Names, Outcomes};
use crate::append::{Durable, Judged, Message, Writer};
use crate::service::{AppendError, Refusal, RefusalClass, ViewCell};
use crate::store::{CommitGroup, RefusedMessage, Store};

/// One message of the events stream.
#[derive(Clone, Debug)]
pub(crate) struct StreamMessage {
    /// Its stream sequence.
    pub(crate) sequence: u64,
    /// The subject it was published on.
    pub(crate) subject: String,
    /// Its payload: an envelope, if a node published it.
    pub(crate) payload: Vec<u8>,
}

/// A batch of consecutive stream messages for the writer to apply.
pub(crate) struct StreamRequest {
    pub(crate) messages: Vec<StreamMessage>,
    /// Instead of messages: move this node to a re-created stream whose first messages were
    /// checked to be its log.
    pub(crate) rebase: Option<Rebase>,
    pub(crate) outcomes: Arc<Outcomes>,
    /// The position after the batch, or why the writer stopped.
    pub(crate) reply: oneshot::Sender<Result<u64, String>>,
}

/// A move to a re-created events stream (see [`Follower::rejoin`]): its first `size`
/// messages are this node's log, event by event.
#[derive(Clone, Debug)]
pub(crate) struct Rebase {
    /// The new stream's epoch.
    pub(crate) epoch: u64,
    /// The log size checked (= the position in the new stream).
    pub(crate) size: u64,
    /// The last sequence of each subject in the new stream's first `size` messages.
    pub(crate) subjects: Vec<(String, u64)>,
}

/// What the writer decided for one message.
type Fate = Result<Judged, AppendError>;

impl<D: Durable> Writer<D> {
    /// Applies a batch of stream messages: each message past the position is judged in order
    /// exactly as a standalone node judges an append (without the node's own size limit, which
    /// other nodes may set differently), then the admitted events, the refusals, the last
    /// sequence of each subject and the new position are written in one commit group.
    pub(crate) fn apply_stream(&mut self, request: StreamRequest, now: Instant) {
        let StreamRequest {
            messages,
            rebase,
            outcomes,
            reply,
        } = request;
        let result = match rebase {
            Some(rebase) => self.rebase_stream(rebase, &outcomes, now),
            None => self.apply_messages(messages, &outcomes, now),
        };
        // A follower that went away does not stop the writer.
        let _ = reply.send(result);
    }

    fn apply_messages(
        &mut self,
        messages: Vec<StreamMessage>,
        outcomes: &Outcomes,
        now: Instant,
    ) -> Result<u64, String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let position = self.view.get().position;
        let messages: Vec<StreamMessage> = messages
            .into_iter()
            .filter(|m| m.sequence > position)
            .collect();
        let Some(last) = messages.last().map(|m| m.sequence) else {
            return Ok(position);
        };
        assert!(
            messages.windows(2).all(|w| w[0].sequence < w[1].sequence),
            "stream messages must come in sequence order"
        );
        let fates = self.judge_messages(&messages);
        let (accepted, refused) = split_fates(&messages, fates).map_err(|e| self.fail(&e))?;
        let seed = CommitGroup {
            stream_position: Some(last),
            subjects: last_per_subject(&messages),
            refusals: refused.iter().map(|(m, e)| record(m, e)).collect(),
            ..CommitGroup::default()
        };
        outcomes.record(refused.iter().map(|(m, e)| (m.sequence, e.clone())));
        let accepted: Vec<&Judged> = accepted.iter().collect();
        let count = accepted.len() as u64;
        self.sequence(&accepted)
            .and_then(|events| self.apply_group(events, seed, now))
            .map_err(|e| self.fail(&e.to_string()))?;
        self.observer.appended(count);
        for (_, error) in &refused {
            self.observer.refused(error.code());
        }
        Ok(last)
    }

    /// Every message's fate, in order: the subject check, then the writer's judgement.
    fn judge_messages(&mut self, messages: &[StreamMessage]) -> Vec<Fate> {
        let mut fates: Vec<Option<Fate>> = messages
            .iter()
            .map(|m| subject_mismatch(m).map(Err))
            .collect();
        let envelopes: Vec<Vec<u8>> = messages
            .iter()
            .zip(&fates)
            .filter(|(_, fate)| fate.is_none())
            .map(|(m, _)| m.payload.clone())
            .collect();
        let mut judged = self.judge(&envelopes, usize::MAX).into_iter();
        for fate in fates.iter_mut().filter(|fate| fate.is_none()) {
            *fate = judged.next();
        }
        fates
            .into_iter()
            .map(|f| f.unwrap_or_else(|| Err(AppendError::Internal("message not judged".into()))))
            .collect()
    }

    /// Moves the node to a re-created stream: in one commit group, the new epoch, the position
    /// `size` and the new last sequence of each subject; the old stream's subject sequences
    /// and refusals are forgotten (their sequences count in the lost stream).
    fn rebase_stream(
        &mut self,
        rebase: Rebase,
        outcomes: &Outcomes,
        now: Instant,
    ) -> Result<u64, String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let size = self.view.get().size;
        if size != rebase.size {
            return Err(format!(
                "the log holds {size} events, not the {} checked against the new stream",
                rebase.size
            ));
        }
        let stale = self
            .store
            .subject_tokens()
            .and_then(|tokens| Ok((tokens, self.store.refused_sequences()?)));
        let (subjects_removed, refusals_removed) = stale.map_err(|e| self.fail(&e.to_string()))?;
        let forgotten = refusals_removed.len();
        let seed = CommitGroup {
            stream_position: Some(size),
            stream_epoch: Some(rebase.epoch),
            subjects: rebase.subjects,
            subjects_removed,
            refusals_removed,
            ..CommitGroup::default()
        };
        self.apply_group(Vec::new(), seed, now)
            .map_err(|e| self.fail(&e.to_string()))?;
        outcomes.clear();
        tracing::warn!(
            epoch = rebase.epoch,
            size,
            forgotten_refusals = forgotten,
            "following the re-created events stream"
        );
        Ok(size)
    }

    /// Stops the writer: its ledger may now be ahead of the store.
    fn fail(&mut self, problem: &str) -> String {
        let failure = format!(
            "applying the stream failed ({problem}); restart the node so it checks its store"
        );
        tracing::error!(%failure, "the writer stops");
        self.observer.writer_stopped(&failure);
        self.failure = Some(failure.clone());
        failure
    }
}

/// Refused messages with why.
type Refused<'a> = Vec<(&'a StreamMessage, AppendError)>;

/// Splits the fates into admitted events and refused messages. A fate that is no refusal
/// (a store read that failed) is an error: no node-independent verdict was reached.
fn split_fates(
    messages: &[StreamMessage],
    fates: Vec<Fate>,
) -> Result<(Vec<Judged>, Refused<'_>), String> {
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (message, fate) in messages.iter().zip(fates) {
        match fate {
            Ok(judged) => accepted.push(judged),
            Err(e @ (AppendError::Rejected(_) | AppendError::Duplicate { .. })) => {
                refused.push((message, e));
            }
            Err(e) => return Err(format!("message {}: {e}", message.sequence)),
        }
    }
    Ok((accepted, refused))
}

/// The refusal of a message whose payload names another contract than its subject. A payload
/// that does not decode is left to the judgement, which says why.
fn subject_mismatch(message: &StreamMessage) -> Option<AppendError> {
    let envelope = Envelope::decode(&message.payload).ok()?;
    let payload = Payload::decode(envelope.payload()).ok()?;
    let token = subject_token(&message.subject);
    if payload.contract.as_str() == token {
        return None;
    }
    let detail = format!(
        "the event of contract {} was published on the subject of {token:?}; publish through a node",
        payload.contract
    );
    Some(AppendError::Rejected(Refusal::new(
        RefusalClass::Malformed,
        "subject-mismatch",
        detail,
    )))
}

/// The last sequence of each subject in the batch.
fn last_per_subject(messages: &[StreamMessage]) -> Vec<(String, u64)> {
    let mut last = BTreeMap::new();
    for message in messages {
        last.insert(subject_token(&message.subject).to_owned(), message.sequence);
    }
    last.into_iter().collect()
}

/// The stored record of a refused message.
fn record(message: &StreamMessage, error: &AppendError) -> RefusedMessage {
    let (code, status, detail) = match error {
        AppendError::Rejected(refusal) => (
            refusal.code().to_owned(),
            refusal.class().status(),
            refusal.detail().to_owned(),
        ),
        other => (other.code().to_owned(), 409, other.to_string()),
    };
    let event = Envelope::decode(&message.payload)
        .ok()
        .map(|e| EventId::of_payload(e.payload()));
    RefusedMessage {
        sequence: message.sequence,
        subject: message.subject.clone(),
        event,
        code,
        status,
        detail,
    }
}

/// Messages a pull request asks for at a time.
const PULL_BATCH_MESSAGES: usize = 1_024;
/// Idle heartbeat the server sends; two missed ones recreate the consumer.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long one pull request lasts.
const PULL_EXPIRES: Duration = Duration::from_secs(10);
/// How long the server keeps a consumer nobody pulls from.
const CONSUMER_INACTIVE: Duration = Duration::from_secs(30);
/// First and longest pause before following again after a failure.
const RETRY_PAUSE_FIRST: Duration = Duration::from_millis(50);
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(2);
/// Nats-Msg-Id deduplication window of the events stream.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// What an operator does about a lost events stream.
const REPUBLISH_HINT: &str = "re-create it from the node with the longest log: stop that node, \
     run `ledger-node republish` with its settings and start it again; every node then checks \
     the new stream against its log and follows it (ARCHITECTURE.md, Replication, \"Lost stream\")";

/// The configuration of the events stream of `epoch`: file storage, no limits, deletes and
/// purges denied, `Nats-Msg-Id` deduplication; the epoch in its description.
pub(crate) fn events_stream_config(names: &Names, replicas: usize, epoch: u64) -> stream::Config {
    stream::Config {
        name: names.events_stream(),
        description: Some(format!("events of an outcome ledger; epoch {epoch}")),
        subjects: vec![names.events_subjects()],
        num_replicas: replicas,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        deny_delete: true,
        deny_purge: true,
        duplicate_window: DUPLICATE_WINDOW,
        ..stream::Config::default()
    }
}

/// The epoch an events stream's description names (`...; epoch N`); 1 when it names none
/// (a stream created before epochs existed).
pub(crate) fn description_epoch(description: Option<&str>) -> u64 {
    description
        .and_then(|text| text.rsplit_once("; epoch "))
        .and_then(|(_, epoch)| epoch.parse().ok())
        .unwrap_or(1)
}

/// Whether JetStream said the stream does not exist.
fn stream_not_found(error: &async_nats::jetstream::context::GetStreamError) -> bool {
    matches!(error.kind(), GetStreamErrorKind::JetStream(ref e)
        if e.error_code() == async_nats::jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// Why following stopped.
#[derive(Debug)]
enum Stop {
    /// The node is shutting down.
    Shutdown,
    /// Try again (connection lost, consumer gone, a gap): the message says what happened.
    Retry(String),
    /// Replication cannot go on; the message says why and what to do.
    Broken(String),
    /// The events stream is gone or cannot continue this node's log: `broken`, with the
    /// message, until an operator re-creates it (`ledger-node republish`); looked for again
    /// after each pause.
    Lost(String),
}

/// Follows the events stream and feeds the writer.
pub(crate) struct Follower {
    pub(crate) context: jetstream::Context,
    pub(crate) names: Names,
    pub(crate) replicas: usize,
    pub(crate) writer: mpsc::Sender<Message>,
    pub(crate) view: Arc<ViewCell>,
    pub(crate) outcomes: Arc<Outcomes>,
    pub(crate) link: watch::Sender<Link>,
    pub(crate) stopped: watch::Receiver<bool>,
    pub(crate) group_events_max: usize,
    /// The stream's last sequence when the consumer last opened: a node is caught up (ready)
    /// once it applied that far.
    pub(crate) linked_at: Arc<AtomicU64>,
    pub(crate) store: Store,
}

impl Follower {
    /// Follows until shutdown or a failure that needs an operator.
    pub(crate) async fn run(mut self) {
        let mut pause = RETRY_PAUSE_FIRST;
        loop {
            let before = self.view.get().position;
            match self.follow().await {
                Stop::Shutdown => return,
                Stop::Broken(why) => {
                    tracing::error!(%why, "replication stopped");
                    self.link.send_replace(Link::Broken(why));
                    return;
                }
                Stop::Retry(why) => {
                    self.link.send_replace(Link::Connecting);
                    tracing::warn!(%why, "following the events stream again");
                }
                Stop::Lost(why) => {
                    let new = Link::Broken(why.clone());
                    if *self.link.borrow() != new {
                        tracing::error!(%why, "replication stopped until the stream is back");
                    }
                    self.link.send_replace(new);
                }
            }
            if self.view.get().position > before {
                pause = RETRY_PAUSE_FIRST;
            }
            if tokio::time::timeout(pause, until_stopped(&mut self.stopped))
                .await
                .is_ok()
            {
                return;
            }
            pause = (pause * 2).min(RETRY_PAUSE_MAX);
        }
    }

    /// One consumer's life: create it at the next position, apply what it delivers.
    async fn follow(&mut self) -> Stop {
        let mut next = match self.view.get().position.checked_add(1) {
            Some(next) => next,
            None => return Stop::Broken("the stream position is at u64::MAX".into()),
        };
        let stream = match self.events_stream().await {
            Ok(stream) => stream,
            Err(stop) => return stop,
        };
        let epoch = description_epoch(stream.cached_info().config.description.as_deref());
        let followed = match self.store.stream_epoch() {
            Ok(followed) => followed.unwrap_or(1),
            Err(e) => return Stop::Broken(format!("reading the stream epoch: {e}")),
        };
        if epoch < followed {
            return Stop::Lost(format!(
                "the events stream is of epoch {epoch} but this node follows epoch {followed}: \
                 it was re-created from an older copy; {REPUBLISH_HINT}"
            ));
        }
        if epoch > followed {
            // The stream holds this node's log now (checked message by message), even if the
            // information read before the check did not yet.
            if let Err(stop) = self.rejoin(&stream, epoch).await {
                return stop;
            }
            next = self.view.get().position.saturating_add(1);
        } else if let Err(stop) = check_stream(&stream.cached_info().state, next) {
            return stop;
        }
        let mut messages = match open_consumer(&stream, next).await {
            Ok(messages) => messages,
            Err(why) => return Stop::Retry(why),
        };
        let last = stream.cached_info().state.last_sequence;
        self.linked_at.store(last, Ordering::SeqCst);
        self.link.send_replace(Link::Ready);
        let mut fresh = true;
        loop {
            let first = tokio::select! {
                () = until_stopped(&mut self.stopped) => return Stop::Shutdown,
                first = messages.next() => first,
            };
            let (batch, error) = gather(first, &mut messages, self.group_events_max).await;
            let (batch, gap) = in_order(batch, &mut next, &mut fresh);
            if !batch.is_empty() {
                if let Err(stop) = self.apply(batch).await {
                    return stop;
                }
            }
            if let Some(stop) = gap.or(error) {
                return stop;
            }
        }
    }

    /// The events stream. Only a node that has applied nothing creates it (of epoch 1): one
    /// that has applied messages finds it gone, and says so until it is re-created.
    async fn events_stream(&self) -> Result<stream::Stream, Stop> {
        let name = self.names.events_stream();
        match self.context.get_stream(&name).await {
            Ok(stream) => return Ok(stream),
            Err(e) if !stream_not_found(&e) => {
                return Err(Stop::Retry(format!("cannot get the events stream: {e}")))
            }
            Err(_) => {}
        }
        let view = self.view.get();
        if view.position > 0 || view.size > 0 {
            return Err(Stop::Lost(format!(
                "the events stream {name} is gone, and this node applied {} events from it: \
                 {REPUBLISH_HINT}",
                view.size
            )));
        }
        let followed = self.store.stream_epoch().ok().flatten().unwrap_or(1);
        let config = events_stream_config(&self.names, self.replicas, followed);
        self.context
            .get_or_create_stream(config)
            .await
            .map_err(|e| Stop::Retry(format!("cannot get or create the events stream: {e}")))
    }

    /// Checks a re-created stream of `epoch` against this node's log: its first `size`
    /// messages must be this node's events, in log order, on their contracts' subjects. Waits
    /// for them (the stream may still be being republished); then moves this node's
    /// position and subject sequences to the new stream. A difference stops replication.
    async fn rejoin(&mut self, stream: &stream::Stream, epoch: u64) -> Result<(), Stop> {
        self.link.send_replace(Link::Connecting);
        let size = self.view.get().size;
        tracing::warn!(
            epoch,
            size,
            "the events stream was re-created: checking it against the log"
        );
        let mut subjects = BTreeMap::new();
        if size > 0 {
            let mut messages = open_consumer(stream, 1).await.map_err(Stop::Retry)?;
            let mut expected = 1;
            while expected <= size {
                let delivery = tokio::select! {
                    () = until_stopped(&mut self.stopped) => return Err(Stop::Shutdown),
                    delivery = messages.next() => delivery,
                };
                let message = match delivery {
                    None => return Err(Stop::Retry("the consumer ended".into())),
                    Some(Err(e)) => return Err(Stop::Retry(format!("consumer error: {e}"))),
                    Some(Ok(message)) => stream_message(&message).map_err(Stop::Retry)?,
                };
                if message.sequence < expected {
                    continue;
                }
                self.check_rejoined(&message, expected, epoch)?;
                subjects.insert(subject_token(&message.subject).to_owned(), expected);
                expected = expected.saturating_add(1);
            }
        }
        let rebase = Rebase {
            epoch,
            size,
            subjects: subjects.into_iter().collect(),
        };
        self.send(Vec::new(), Some(rebase)).await
    }

    /// Message `expected` of a re-created stream must be the event at log index
    /// `expected - 1`, byte for byte, on its contract's subject.
    fn check_rejoined(
        &self,
        message: &StreamMessage,
        expected: u64,
        epoch: u64,
    ) -> Result<(), Stop> {
        let index = expected.saturating_sub(1);
        let differs = |what: String| {
            Stop::Broken(format!(
                "the re-created events stream (epoch {epoch}) is not this node's log: {what}; \
                 this node stays stopped: republish from the node whose log is right, or start \
                 this node on an empty data directory to follow the new stream"
            ))
        };
        if message.sequence != expected {
            return Err(differs(format!(
                "it has no message {expected} (the next is {})",
                message.sequence
            )));
        }
        let stored = self
            .store
            .facts_at(index)
            .and_then(|facts| Ok((facts, self.store.envelope_at(index)?)))
            .map_err(|e| Stop::Broken(format!("reading the log at index {index}: {e}")))?;
        let (facts, envelope) = stored;
        if envelope.as_deref() != Some(message.payload.as_slice()) {
            let found = Envelope::decode(&message.payload)
                .map(|e| EventId::of_payload(e.payload()).to_hex())
                .unwrap_or_else(|_| "a payload that is no envelope".to_owned());
            return Err(differs(format!(
                "message {expected} holds {found} but index {index} of the log holds {}",
                facts.id.to_hex()
            )));
        }
        if message.subject != self.names.event_subject(&facts.contract) {
            return Err(differs(format!(
                "message {expected} is on subject {} instead of contract {}'s",
                message.subject, facts.contract
            )));
        }
        Ok(())
    }

    /// Hands a batch to the writer and waits until it is applied.
    async fn apply(&self, messages: Vec<StreamMessage>) -> Result<(), Stop> {
        self.send(messages, None).await
    }

    /// Hands a batch or a rebase to the writer and waits until it is done.
    async fn send(&self, messages: Vec<StreamMessage>, rebase: Option<Rebase>) -> Result<(), Stop> {
        let (reply, applied) = oneshot::channel();
        let request = StreamRequest {
            messages,
            rebase,
            outcomes: Arc::clone(&self.outcomes),
            reply,
        };
        if self.writer.send(Message::Stream(request)).await.is_err() {
            return Err(Stop::Shutdown);
        }
        match applied.await {
            Ok(Ok(_position)) => Ok(()),
            Ok(Err(failure)) => Err(Stop::Broken(failure)),
            Err(_) => Err(Stop::Shutdown),
        }
    }
}

/// Refuses to follow a stream that cannot continue this node's log.
fn check_stream(state: &stream::State, next: u64) -> Result<(), Stop> {
    let applied = next.saturating_sub(1);
    if state.last_sequence < applied {
        return Err(Stop::Lost(format!(
            "the events stream ends at sequence {} but this node applied up to {applied}: the \
                 stream was re-created empty or lost messages; {REPUBLISH_HINT}",
            state.last_sequence
        )));
    }
    if state.messages > 0 && state.first_sequence > next {
        return Err(Stop::Lost(format!(
            "the events stream starts at sequence {} but this node needs {next}: messages were \
                 removed from the stream; {REPUBLISH_HINT}",
            state.first_sequence
        )));
    }
    Ok(())
}

type Messages = pull::Stream;

/// An ephemeral pull consumer delivering from `start`, and its message stream.
async fn open_consumer(stream: &stream::Stream, start: u64) -> Result<Messages, String> {
    let config = pull::Config {
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: start,
        },
        ack_policy: AckPolicy::None,
        inactive_threshold: CONSUMER_INACTIVE,
        memory_storage: true,
        num_replicas: 1,
        ..pull::Config::default()
    };
    let consumer = stream
        .create_consumer(config)
        .await
        .map_err(|e| format!("cannot create a consumer: {e}"))?;
    consumer
        .stream()
        .max_messages_per_batch(PULL_BATCH_MESSAGES)
        .heartbeat(HEARTBEAT)
        .expires(PULL_EXPIRES)
        .messages()
        .await
        .map_err(|e| format!("cannot pull from the consumer: {e}"))
}

type Delivery = Option<Result<jetstream::Message, pull::MessagesError>>;

/// The first delivery and whatever else is ready at once, up to `events_max` messages; an
/// error ends the batch (and the consumer, after the batch is applied).
async fn gather(
    first: Delivery,
    messages: &mut Messages,
    events_max: usize,
) -> (Vec<StreamMessage>, Option<Stop>) {
    let mut batch = Vec::new();
    let mut next = first;
    loop {
        match next {
            None => return (batch, Some(Stop::Retry("the consumer ended".into()))),
            Some(Err(e)) => return (batch, Some(Stop::Retry(format!("consumer error: {e}")))),
            Some(Ok(message)) => match stream_message(&message) {
                Ok(message) => batch.push(message),
                Err(why) => return (batch, Some(Stop::Retry(why))),
            },
        }
        if batch.len() >= events_max {
            return (batch, None);
        }
        // A zero timeout polls once: only what is already here joins the batch.
        match tokio::time::timeout(Duration::ZERO, messages.next()).await {
            Ok(delivery) => next = delivery,
            Err(_) => return (batch, None),
        }
    }
}

fn stream_message(message: &jetstream::Message) -> Result<StreamMessage, String> {
    let info = message
        .info()
        .map_err(|e| format!("a delivered message has no stream sequence: {e}"))?;
    Ok(StreamMessage {
        sequence: info.stream_sequence,
        subject: message.subject.to_string(),
        payload: message.payload.to_vec(),
    })
}

/// Keeps the messages that continue the log at `next` (advancing it); a message past `next`
/// ends the batch and asks for a new consumer, unless it is the first a fresh consumer
/// delivers.
fn in_order(
    batch: Vec<StreamMessage>,
    next: &mut u64,
    fresh: &mut bool,
) -> (Vec<StreamMessage>, Option<Stop>) {
    let mut kept = Vec::with_capacity(batch.len());
    for message in batch {
        let first = std::mem::replace(fresh, false);
        if message.sequence < *next {
            continue;
        }
        if message.sequence > *next {
            if !first {
                let why = format!(
                    "expected stream message {} but got {}",
                    *next, message.sequence
                );
                return (kept, Some(Stop::Retry(why)));
            }
            tracing::warn!(
                from = *next,
                to = message.sequence,
                "the events stream has no messages in this range"
            );
        }
        *next = message.sequence.saturating_add(1);
        kept.push(message);
    }
    (kept, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sequence: u64, subject: &str, payload: &[u8]) -> StreamMessage {
        StreamMessage {
            sequence,
            subject: subject.to_owned(),
            payload: payload.to_vec(),
        }
    }

    fn sequences(batch: &[StreamMessage]) -> Vec<u64> {
        batch.iter().map(|m| m.sequence).collect()
    }

    #[test]
    fn redeliveries_are_dropped_and_a_gap_asks_for_a_new_consumer() {
        let (mut next, mut fresh) = (3, false);
        let batch = [2, 3, 4, 6, 7].map(|s| message(s, "ledger.l.events.c", b""));
        let (kept, stop) = in_order(batch.to_vec(), &mut next, &mut fresh);
        assert_eq!(sequences(&kept), [3, 4]);
        assert!(matches!(stop, Some(Stop::Retry(_))));
        assert_eq!(next, 5);
    }

    #[test]
    fn a_fresh_consumer_may_start_past_a_gap_once() {
        let (mut next, mut fresh) = (1, true);
        let batch = [5, 6, 8].map(|s| message(s, "ledger.l.events.c", b""));
        let (kept, stop) = in_order(batch.to_vec(), &mut next, &mut fresh);
        assert_eq!(sequences(&kept), [5, 6]);
        assert!(matches!(stop, Some(Stop::Retry(_))));
        assert_eq!((next, fresh), (7, false));
    }

    #[test]
    fn each_subject_keeps_its_last_sequence() {
        let batch = [
            message(4, "ledger.l.events.a", b""),
            message(5, "ledger.l.events.b", b""),
            message(6, "ledger.l.events.a", b""),
        ];
        assert_eq!(
            last_per_subject(&batch),
            [("a".to_owned(), 6), ("b".to_owned(), 5)]
        );
    }

    #[test]
    fn the_epoch_is_in_the_description() {
        let names = Names::new("l".parse().unwrap());
        let config = events_stream_config(&names, 1, 7);
        assert_eq!(description_epoch(config.description.as_deref()), 7);
        assert_eq!(description_epoch(None), 1);
        assert_eq!(description_epoch(Some("made by hand")), 1);
    }

    #[test]
    fn an_undecodable_payload_is_left_to_the_judgement() {
        assert!(subject_mismatch(&message(1, "ledger.l.events.a", b"{}")).is_none());
    }

    fn stream_info(first: u64, last: u64, messages: u64) -> stream::State {
        let json = serde_json::json!({
            "messages": messages, "bytes": 0, "first_seq": first,
            "first_ts": "2025-01-01T00:00:00Z", "last_seq": last,
            "last_ts": "2025-01-01T00:00:00Z", "consumer_count": 0
        });
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_stream_shorter_than_the_applied_log_is_refused() {
        assert!(check_stream(&stream_info(1, 10, 10), 11).is_ok());
        assert!(check_stream(&stream_info(0, 0, 0), 1).is_ok());
        assert!(matches!(
            check_stream(&stream_info(1, 5, 5), 11),
            Err(Stop::Lost(_))
        ));
        assert!(matches!(
            check_stream(&stream_info(8, 10, 3), 5),
            Err(Stop::Lost(_))
        ));
    }
}
