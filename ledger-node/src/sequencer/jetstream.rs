//! [`JetStream`]: the ledger's JetStream stream orders; this node publishes to it.
//!
//! An append goes, for each envelope:
//!
//! 1. *settle*: the contract's subject in the stream ends at sequence `q` (the store keeps the
//!    last sequence of each subject it applied); wait until this node has applied at least up
//!    to `q`, so its projection of the contract is the one the stream ends with;
//! 2. *judge* against that projection (decode, duplicate, signatures, rules): a refusal is
//!    answered at once and nothing is published;
//! 3. *publish* with `Nats-Msg-Id` = event id and `Nats-Expected-Last-Subject-Sequence` = `q`.
//!    JetStream stores it only if the subject still ends at `q`: of two racing appends to one
//!    contract exactly one is stored. The other gets "wrong last sequence"; this node waits
//!    until it has applied the winner and goes back to 1, where the judgement now answers 409
//!    with the new head. JetStream checks the id before the expected sequence: the same
//!    event published again (a retry, or the same bytes sent through two nodes at once, both
//!    judged before either was applied) is acknowledged as a *duplicate* with the sequence of
//!    the copy it holds;
//! 4. *wait* until this node has applied the stream up to the event's sequence, then answer
//!    what the apply decided: the event's index, or the refusal (read-your-writes). For a
//!    duplicate acknowledgement the answer is what a standalone node gives the second of two
//!    identical appends: 409 duplicate with the stored index (or the apply's refusal of the
//!    copy the stream holds), never a second 201.
//!
//! A node behind the stream (a client read the contract's head from a faster node) would
//! judge an event past its own head as a seq conflict; before answering that, it asks the
//! stream leader for the subject's last sequence and, if the stream is ahead, catches up and
//! judges again.
//!
//! Envelopes of different contracts in one request go through this concurrently; envelopes
//! of one contract in request order, judged together against a scratch copy of the contract
//! and published one after the other, each expecting the sequence the previous one got (so a
//! batch waits for one apply, not one per envelope). When NATS is unreachable the node answers
//! 503 at once (reads keep working); a publish JetStream did not confirm is a 503 too, and
//! retrying it is safe.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::context::{Publish, PublishErrorKind};
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self};
use ledger_core::signing::KeyCache;
use ledger_core::{
    rules, Batch, BatchKeys, Event, KeyDirectory, Ledger, Rejection, SignatureVerdicts,
};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::append::{refusal, too_large};
use crate::replication::{Link, Names, Outcomes};
use crate::service::{AppendError, Appended, View, ViewCell};
use crate::store::Store;

/// Rounds of "wrong last sequence" one append goes through before answering 503.
const CONFLICT_ROUNDS_MAX: usize = 8;

/// Decoded public keys the publisher keeps for its judgements.
const KEY_CACHE_KEYS_MAX: usize = 4_096;

/// The JetStream publisher of one node.
pub(crate) struct JetStream {
    client: async_nats::Client,
    context: jetstream::Context,
    names: Names,
    store: Store,
    view: Arc<ViewCell>,
    outcomes: Arc<Outcomes>,
    link: watch::Receiver<Link>,
    payload_bytes_max: usize,
    /// How long an append waits for this node to apply what it waits for.
    apply_wait: Duration,
    keys: Mutex<KeyCache>,
}

/// What JetStream did with a publish.
enum Published {
    /// Stored at this sequence.
    Stored(u64),
    /// Not stored: the stream already holds a message with this event id, at this sequence.
    Duplicate(u64),
    /// The subject has moved past the expected sequence (to this one, if the error said).
    Behind(Option<u64>),
}

type Answer = Result<Appended, AppendError>;

/// An envelope of a request: its position in the request, decoded, and its bytes.
type Item = (usize, Event, Vec<u8>);

fn unavailable(why: impl Into<String>) -> AppendError {
    AppendError::Unavailable(why.into())
}

fn internal(e: impl std::fmt::Display) -> AppendError {
    AppendError::Internal(e.to_string())
}

impl JetStream {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        client: async_nats::Client,
        context: jetstream::Context,
        names: Names,
        store: Store,
        view: Arc<ViewCell>,
        outcomes: Arc<Outcomes>,
        link: watch::Receiver<Link>,
        payload_bytes_max: usize,
        apply_wait: Duration,
    ) -> Self {
        Self {
            client,
            context,
            names,
            store,
            view,
            outcomes,
            link,
            payload_bytes_max,
            apply_wait,
            keys: Mutex::new(KeyCache::new(KEY_CACHE_KEYS_MAX)),
        }
    }

    /// Appends envelopes, each judged on its own: those of one contract in order, contracts
    /// concurrently. Each answer comes once this node has applied the event (or refused it).
    pub(crate) async fn append(self: Arc<Self>, envelopes: Vec<Vec<u8>>) -> Vec<Answer> {
        let count = envelopes.len();
        let mut answers: Vec<Option<Answer>> = (0..count).map(|_| None).collect();
        let mut chains: BTreeMap<proto::ContractId, Vec<Item>> = BTreeMap::new();
        for (position, bytes) in envelopes.into_iter().enumerate() {
            match self.decode(&bytes) {
                Ok(event) => chains
                    .entry(event.contract().clone())
                    .or_default()
                    .push((position, event, bytes)),
                Err(e) => answers[position] = Some(Err(e)),
            }
        }
        let mut chains = chains.into_values();
        if let (Some(chain), 0) = (chains.next(), chains.len()) {
            // One contract (the usual single envelope): no task needed.
            for (position, answer) in self.append_chain(chain).await {
                answers[position] = Some(answer);
            }
        } else {
            self.append_chains(chains, &mut answers).await;
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(internal("the append task failed"))))
            .collect()
    }

    async fn append_chains(
        self: &Arc<Self>,
        chains: impl Iterator<Item = Vec<Item>>,
        answers: &mut [Option<Answer>],
    ) {
        let mut tasks = JoinSet::new();
        for chain in chains {
            let publisher = Arc::clone(self);
            tasks.spawn(async move { publisher.append_chain(chain).await });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(chain) => {
                    for (position, answer) in chain {
                        answers[position] = Some(answer);
                    }
                }
                Err(e) => tracing::error!(error = %e, "an append task failed"),
            }
        }
    }

    /// One contract's envelopes, in order: as a chain while they go as judged, then one by one.
    async fn append_chain(&self, chain: Vec<Item>) -> Vec<(usize, Answer)> {
        let (mut out, handled) = match chain.len() {
            0 | 1 => (Vec::new(), 0),
            _ => self.publish_chain(&chain).await,
        };
        for (position, event, bytes) in chain.into_iter().skip(handled) {
            out.push((position, self.append_one(&event, bytes).await));
        }
        out
    }

    /// The fast path of several envelopes of one contract: judged together against a scratch
    /// copy of the contract, published one after the other (each expecting the sequence the
    /// one before got, so no apply is waited for in between), answered once applied. It stops
    /// at the first envelope it cannot publish as judged (a refusal, a duplicate, a subject
    /// that moved): that one and the rest go one by one. An envelope JetStream acknowledges as
    /// a duplicate is answered as one and ends the chain too. Returns the answers and how many
    /// envelopes they cover.
    async fn publish_chain(&self, chain: &[Item]) -> (Vec<(usize, Answer)>, usize) {
        let Some((_, first, _)) = chain.first() else {
            return (Vec::new(), 0);
        };
        if self.ready().is_err() {
            return (Vec::new(), 0);
        }
        let Ok((view, mut expected)) = self.settle(first).await else {
            return (Vec::new(), 0);
        };
        let Some(mut scratch) = scratch_ledger(&view, first) else {
            return (Vec::new(), 0);
        };
        let events: Vec<Event> = chain.iter().map(|(_, event, _)| event.clone()).collect();
        // Cheap checks first: signatures only of the events that pass them.
        let mut batch = Batch::new(&events, 1);
        let mut published = Vec::new();
        for (index, (position, event, bytes)) in chain.iter().enumerate() {
            let stored = self.store.index_of(event.id(), view.size);
            if !matches!(stored, Ok(None)) || scratch.admit_next(&mut batch, index).is_err() {
                break;
            }
            match self.publish(event, bytes.clone(), expected).await {
                Ok(Published::Stored(sequence)) => {
                    published.push((*position, event, Ack::Stored(sequence)));
                    expected = sequence;
                }
                Ok(Published::Duplicate(sequence)) => {
                    // Someone published this event first: the scratch's judgement of the
                    // next ones assumed this one is the chain's, which it may not be.
                    published.push((*position, event, Ack::Duplicate(sequence)));
                    break;
                }
                Ok(Published::Behind(_)) => break,
                Err(unconfirmed) => {
                    // This event may or may not be stored; the next ones name it as `prev`.
                    let done = published.len();
                    let mut answers = self.answers(published).await;
                    for (position, _, _) in &chain[done..] {
                        answers.push((*position, Err(unconfirmed.clone())));
                    }
                    return (answers, chain.len());
                }
            }
        }
        let handled = published.len();
        (self.answers(published).await, handled)
    }

    /// The answers of published events, once applied.
    async fn answers(&self, published: Vec<(usize, &Event, Ack)>) -> Vec<(usize, Answer)> {
        let mut out = Vec::with_capacity(published.len());
        for (position, event, ack) in published {
            let answer = match ack {
                Ack::Stored(sequence) => self.applied(event, sequence).await,
                Ack::Duplicate(sequence) => self.duplicate(event, sequence).await,
            };
            out.push((position, answer));
        }
        out
    }

    fn decode(&self, bytes: &[u8]) -> Result<Event, AppendError> {
        let limit = self.payload_bytes_max;
        if bytes.len() > limit {
            return Err(too_large(bytes.len(), limit));
        }
        Ledger::decode(bytes).map_err(|r| AppendError::Rejected(refusal(&r)))
    }

    async fn append_one(&self, event: &Event, bytes: Vec<u8>) -> Answer {
        for _ in 0..CONFLICT_ROUNDS_MAX {
            self.ready()?;
            let (view, expected) = self.settle(event).await?;
            if let Err(refused) = self.judge(&view, event) {
                // An event past this node's head of its contract: this node may be behind
                // the stream (a client that read the head from a faster node).
                if !ahead(&view, event) {
                    return Err(refused);
                }
                match self.last_in_stream(event).await? {
                    last if last > expected => self.wait_position(last).await?,
                    _ => return Err(refused),
                }
                continue;
            }
            match self.publish(event, bytes.clone(), expected).await? {
                Published::Stored(sequence) => return self.applied(event, sequence).await,
                Published::Duplicate(sequence) => return self.duplicate(event, sequence).await,
                Published::Behind(Some(actual)) => self.wait_position(actual).await?,
                Published::Behind(None) => self.wait_subject_past(event, expected).await?,
            }
        }
        Err(unavailable(format!(
            "contract {} kept moving while this append was judged; retry",
            event.contract()
        )))
    }

    /// 503 unless the stream is set up and the connection is up.
    fn ready(&self) -> Result<(), AppendError> {
        match &*self.link.borrow() {
            Link::Ready => {}
            Link::Connecting => {
                return Err(unavailable(
                    "this node is not following the ledger's JetStream stream yet",
                ))
            }
            Link::Broken(why) => return Err(unavailable(why.clone())),
        }
        if self.client.connection_state() != State::Connected {
            return Err(unavailable(
                "the ledger's NATS server is unreachable; reads still work",
            ));
        }
        Ok(())
    }

    /// The view to judge `event` against, and the last stream sequence of its subject: the
    /// view includes that message.
    async fn settle(&self, event: &Event) -> Result<(Arc<View>, u64), AppendError> {
        let view = self.view.get();
        let token = event.contract().as_str();
        let expected = self.store.subject_sequence(token).map_err(internal)?;
        let expected = expected.unwrap_or(0);
        if expected <= view.position {
            return Ok((view, expected));
        }
        self.wait_position(expected).await?;
        Ok((self.view.get(), expected))
    }

    /// The judgement of a standalone node, against `view`, changing nothing.
    fn judge(&self, view: &View, event: &Event) -> Result<(), AppendError> {
        if let Some(index) = self
            .store
            .index_of(event.id(), view.size)
            .map_err(internal)?
        {
            return Err(AppendError::Duplicate {
                id: *event.id(),
                index,
            });
        }
        let state = view.contracts.get(event.contract()).map(|s| &**s);
        // The contract's keys (a registration brings its own): every signer a rule accepts is
        // one of them.
        let mut directory = KeyDirectory::new();
        for record in state.iter().flat_map(|s| s.keys().values()) {
            directory.insert(*record.public_key());
        }
        // Cheap checks first: no signature is verified for an event they refuse.
        let introduced = BatchKeys::of(std::slice::from_ref(event));
        let presumed = SignatureVerdicts::presumed(event, |id| directory.resolves(&introduced, id));
        rules::screen(state, event, &presumed)
            .map_err(|v| AppendError::Rejected(refusal(&Rejection::Rule(v))))?;
        let verdicts = {
            let mut cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            directory.verdicts(std::slice::from_ref(event), 1, &mut cache)
        };
        let verdict = verdicts
            .first()
            .ok_or_else(|| internal("no signature verdict"))?;
        rules::validate(state, event, verdict)
            .map_err(|v| AppendError::Rejected(refusal(&Rejection::Rule(v))))
    }

    /// The sequence of the last message on `event`'s subject, as the stream leader says.
    async fn last_in_stream(&self, event: &Event) -> Result<u64, AppendError> {
        let subject = self.names.event_subject(event.contract());
        let stream = self
            .context
            .get_stream_no_info(self.names.events_stream())
            .await
            .map_err(internal)?;
        match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => Ok(message.sequence),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(e) => Err(unavailable(format!("cannot read the stream's head: {e}"))),
        }
    }

    async fn publish(
        &self,
        event: &Event,
        bytes: Vec<u8>,
        expected: u64,
    ) -> Result<Published, AppendError> {
        let subject = self.names.event_subject(event.contract());
        let publish = Publish::build()
            .payload(bytes.into())
            .message_id(event.id().to_hex())
            .expected_last_subject_sequence(expected);
        let not_confirmed = |e: &dyn std::fmt::Display| {
            unavailable(format!(
                "JetStream did not confirm the event ({e}); it may or may not be stored: retry, \
                 a retry is safe and gives the stored event's index if it was"
            ))
        };
        let ack = self
            .context
            .send_publish(subject, publish)
            .await
            .map_err(|e| not_confirmed(&e))?;
        match ack.await {
            Ok(ack) if ack.duplicate => Ok(Published::Duplicate(ack.sequence)),
            Ok(ack) => Ok(Published::Stored(ack.sequence)),
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                Ok(Published::Behind(actual_sequence(&e.to_string())))
            }
            Err(e) => Err(not_confirmed(&e)),
        }
    }

    /// The answer for `event`, stored at `sequence`, once this node has applied it.
    async fn applied(&self, event: &Event, sequence: u64) -> Answer {
        self.wait_position(sequence).await?;
        if let Some(refused) = self.outcomes.refusal(sequence) {
            return Err(refused);
        }
        let size = self.view.get().size;
        match self.store.index_of(event.id(), size).map_err(internal)? {
            Some(index) => Ok(Appended {
                id: *event.id(),
                index,
                contract: event.contract().clone(),
                seq: event.seq(),
            }),
            None => Err(internal(format!(
                "stream message {sequence} was applied but event {} is neither in the log nor \
                 a recent refusal; see GET /v1/refused",
                event.id()
            ))),
        }
    }

    /// The answer for `event` when JetStream already holds a message with its id at
    /// `sequence`, once this node has applied that message: 409 duplicate with the index it
    /// was admitted at, or the apply's refusal of it (the copy in the stream may be another
    /// envelope of the same payload).
    async fn duplicate(&self, event: &Event, sequence: u64) -> Answer {
        let stored = self.applied(event, sequence).await?;
        Err(AppendError::Duplicate {
            id: stored.id,
            index: stored.index,
        })
    }

    /// Waits until this node has applied the stream up to `sequence`.
    async fn wait_position(&self, sequence: u64) -> Result<(), AppendError> {
        let what = format!("stream message {sequence}");
        self.wait_for(&what, |view| Ok(view.position >= sequence))
            .await
    }

    /// Waits until this node has applied a message of `event`'s subject past `expected`.
    async fn wait_subject_past(&self, event: &Event, expected: u64) -> Result<(), AppendError> {
        let token = event.contract().as_str();
        let what = format!("the next message of contract {token}");
        self.wait_for(&what, |view| {
            let last = self.store.subject_sequence(token).map_err(internal)?;
            Ok(last.is_some_and(|last| last > expected && last <= view.position))
        })
        .await
    }

    async fn wait_for(
        &self,
        what: &str,
        mut condition: impl FnMut(&View) -> Result<bool, AppendError>,
    ) -> Result<(), AppendError> {
        let mut views = self.view.subscribe();
        let deadline = tokio::time::Instant::now() + self.apply_wait;
        loop {
            let view = Arc::clone(&views.borrow_and_update());
            if condition(&view)? {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, views.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(unavailable("the node is shutting down")),
                Err(_) => {
                    let wait = self.apply_wait;
                    return Err(unavailable(format!(
                        "this node has not applied {what} within {wait:?} (is NATS \
                         reachable?); the event may be stored: retry, a retry is safe and gives \
                         the stored event's index if it was"
                    )));
                }
            }
        }
    }
}

/// What JetStream acknowledged for an event of a chain.
#[derive(Clone, Copy)]
enum Ack {
    Stored(u64),
    Duplicate(u64),
}

/// A ledger holding only `event`'s contract as `view` has it (none for a new contract), to
/// judge a chain of its events; `None` if the projection does not restore (a bug).
fn scratch_ledger(view: &View, event: &Event) -> Option<Ledger> {
    match view.contracts.get(event.contract()) {
        None => Some(Ledger::new()),
        Some(state) => Ledger::restore([(**state).clone()], state.events()).ok(),
    }
}

/// Whether `event` comes after the next seq of its contract in `view`.
fn ahead(view: &View, event: &Event) -> bool {
    let next_seq = view
        .contracts
        .get(event.contract())
        .map_or(0, |state| state.events());
    event.seq() > next_seq
}

/// The subject's actual last sequence in a "wrong last sequence: N" error, if it says.
fn actual_sequence(error: &str) -> Option<u64> {
    let (_, rest) = error.rsplit_once("wrong last sequence: ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_actual_sequence_of_a_conflict() {
        // The text async-nats 0.42 gives for nats-server 2.9's error 10071.
        let text = "wrong last sequence: wrong last sequence: 17 (code 400, error code 10071)";
        assert_eq!(actual_sequence(text), Some(17));
        assert_eq!(actual_sequence("wrong last sequence"), None);
        assert_eq!(actual_sequence("timed out"), None);
    }
}
