//! Replication over NATS JetStream: many nodes, one log.
//!
//! With `--nats URL --ledger NAME` a node joins ledger NAME. JetStream is then the single
//! ordering authority: one stream ([`Names::events_stream`]) holds every event, on one subject
//! per contract (`ledger.NAME.events.<contract-id>`; contract ids are subject-safe tokens).
//!
//! - *Write* ([`crate::sequencer::jetstream`]): the node judges an envelope against what it has
//!   applied (a fast 4xx), then publishes it with `Nats-Msg-Id` = event id and
//!   `Nats-Expected-Last-Subject-Sequence` = the stream sequence of the last message on the
//!   contract's subject. Of two racing appends to one contract JetStream stores one; the other
//!   is re-judged once this node has applied the winner, and gets its 409 with the new head.
//!   The answer waits until this node has applied the event (read-your-writes).
//! - *Apply* ([`consumer`]): every node, the publisher included, reads the stream in order from
//!   the position stored in its own sled store, and hands batches to the one writer, which
//!   judges each message exactly as on a standalone node and writes the admitted events, the
//!   refused messages with their reasons, the last sequence of each subject and the new
//!   position in ONE transaction. A restart resumes after that position: nothing is applied
//!   twice, nothing skipped. The global index is the order of admitted messages in the stream,
//!   so every node builds the same tree.
//! - *Cosign* ([`cosign`]): every checkpoint a node signs is announced on a second stream; each
//!   node checks a peer's signature against its own tree at that size, keeps it, and signs
//!   that size too, so every size anyone signed ends up signed by every node.
//!
//! Invariant: a message's fate (admitted at index i, or refused with reason r) is a function of
//! the stream prefix before it, never of the node, its configuration or its clock.
//! Nothing here names sled (the store does) and `async_nats` types stay in this module and in
//! `sequencer::jetstream`.

pub mod connect;
pub(crate) mod consumer;
pub(crate) mod cosign;
pub mod republish;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::ContractId;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use self::connect::NatsAuth;
use crate::append::Message;
use crate::checkpoint::CheckpointSigner;
use crate::health::Unready;
use crate::sequencer::jetstream::JetStream;
use crate::service::{AppendError, Appended, SignedCheckpoint, StoreError, ViewCell};
use crate::store::Store;

/// Most stream replicas JetStream allows.
pub const STREAM_REPLICAS_MAX: usize = 5;

/// The longest a ledger name may be (a contract id's bound).
const LEDGER_NAME_BYTES_MAX: usize = 64;

/// The name of a replicated ledger: `[a-z0-9][a-z0-9-]{0,63}`, so it is a NATS subject token
/// and part of a JetStream stream name as is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LedgerName(String);

/// A replication setting that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationConfigError {
    /// The ledger name is not a subject-safe token.
    #[error(
        "ledger name {0:?} must be 1 to 64 of a-z, 0-9 and '-', starting with a letter or digit"
    )]
    LedgerName(String),
    /// `--nats` without `--ledger`, or the reverse.
    #[error(
        "--nats and --ledger go together: give both to join a ledger, neither to run standalone"
    )]
    Incomplete,
    /// A replica count JetStream does not allow.
    #[error("stream_replicas = {0} must be between 1 and 5")]
    Replicas(usize),
    /// An apply wait of zero (every append would time out).
    #[error("apply_wait_ms = 0 must be at least 1")]
    ApplyWait,
    /// A NATS credentials, seed, certificate or key file that cannot be used.
    #[error(transparent)]
    NatsFile(#[from] connect::NatsFileError),
}

impl ReplicationConfigError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LedgerName(_) => "ledger-name",
            Self::Incomplete => "replication-incomplete",
            Self::Replicas(_) => "stream-replicas",
            Self::ApplyWait => "apply-wait",
            Self::NatsFile(_) => "nats-file",
        }
    }
}

impl LedgerName {
    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for LedgerName {
    type Err = ReplicationConfigError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let valid_byte = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        let ok = name.len() <= LEDGER_NAME_BYTES_MAX
            && name.bytes().next().is_some_and(|b| b != b'-')
            && name.as_bytes().iter().all(valid_byte);
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(ReplicationConfigError::LedgerName(name.to_owned()))
        }
    }
}

impl fmt::Display for LedgerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a node joins a replicated ledger (validated; see `config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationConfig {
    nats_url: String,
    ledger: LedgerName,
    stream_replicas: usize,
    apply_wait: Duration,
    auth: NatsAuth,
}

/// How long an append waits, by default, for its node to apply what it waits for.
pub const APPLY_WAIT_MS_DEFAULT: u64 = 10_000;

impl ReplicationConfig {
    /// A replication config.
    ///
    /// # Errors
    /// [`ReplicationConfigError::Replicas`] outside 1..=[`STREAM_REPLICAS_MAX`].
    pub fn new(
        nats_url: String,
        ledger: LedgerName,
        stream_replicas: usize,
    ) -> Result<Self, ReplicationConfigError> {
        if !(1..=STREAM_REPLICAS_MAX).contains(&stream_replicas) {
            return Err(ReplicationConfigError::Replicas(stream_replicas));
        }
        Ok(Self {
            nats_url,
            ledger,
            stream_replicas,
            apply_wait: Duration::from_millis(APPLY_WAIT_MS_DEFAULT),
            auth: NatsAuth::none(),
        })
    }

    /// This config connecting with `auth` (credentials and TLS).
    pub fn with_auth(self, auth: NatsAuth) -> Self {
        Self { auth, ..self }
    }

    /// How this node connects: credentials and TLS.
    pub fn auth(&self) -> &NatsAuth {
        &self.auth
    }

    /// This config with an apply wait of `apply_wait_ms` ([`APPLY_WAIT_MS_DEFAULT`] if `None`).
    ///
    /// # Errors
    /// [`ReplicationConfigError::ApplyWait`] for 0.
    pub fn with_apply_wait_ms(
        self,
        apply_wait_ms: Option<u64>,
    ) -> Result<Self, ReplicationConfigError> {
        match apply_wait_ms.unwrap_or(APPLY_WAIT_MS_DEFAULT) {
            0 => Err(ReplicationConfigError::ApplyWait),
            ms => Ok(Self {
                apply_wait: Duration::from_millis(ms),
                ..self
            }),
        }
    }
    /// The NATS server URL(s), comma-separated.
    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }
    /// The ledger joined.
    pub fn ledger(&self) -> &LedgerName {
        &self.ledger
    }
    /// Replicas of the streams when this node creates them.
    pub fn stream_replicas(&self) -> usize {
        self.stream_replicas
    }
    /// How long an append waits for this node to apply its event (or the message it waits
    /// for) before it answers 503.
    pub fn apply_wait(&self) -> Duration {
        self.apply_wait
    }
    /// The checkpoint origin every node of the ledger shares unless configured otherwise.
    pub fn default_origin(&self) -> String {
        format!("outcome-ledger/{}", self.ledger)
    }
}

/// Stream names and subjects of one ledger.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    ledger: LedgerName,
}

impl Names {
    pub(crate) fn new(ledger: LedgerName) -> Self {
        Self { ledger }
    }
    /// The stream of events.
    pub(crate) fn events_stream(&self) -> String {
        format!("ledger-{}-events", self.ledger)
    }
    /// Every event subject (the events stream's filter).
    pub(crate) fn events_subjects(&self) -> String {
        format!("ledger.{}.events.*", self.ledger)
    }
    /// The subject of `contract`'s events.
    pub(crate) fn event_subject(&self, contract: &ContractId) -> String {
        format!("ledger.{}.events.{}", self.ledger, contract.as_str())
    }
    /// The stream of checkpoint signatures.
    pub(crate) fn cosign_stream(&self) -> String {
        format!("ledger-{}-cosign", self.ledger)
    }
    /// The subject of checkpoint signatures.
    pub(crate) fn cosign_subject(&self) -> String {
        format!("ledger.{}.cosign", self.ledger)
    }
}

/// The last token of an event subject (the contract id it claims), as received.
pub(crate) fn subject_token(subject: &str) -> &str {
    subject.rsplit('.').next().unwrap_or(subject)
}

/// Where this node's link to JetStream stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    /// Connecting, or setting up the streams.
    Connecting,
    /// The streams exist and the consumer runs.
    Ready,
    /// Replication stopped for good (a failed store, a stream that lost messages); the message
    /// says why and what to do.
    Broken(String),
}

/// Where a node stands in its replicated ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// The ledger's name.
    pub ledger: String,
    /// `connecting`, `ready` or `broken`.
    pub state: &'static str,
    /// Why replication is broken, and what to do.
    pub detail: Option<String>,
    /// The last stream sequence this node applied.
    pub position: u64,
}

/// Refusals of recent stream messages, kept so a publisher waiting for its message learns why
/// it was refused. Bounded: the oldest are forgotten first.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    refused: Mutex<BTreeMap<u64, AppendError>>,
}

/// Refusals remembered for waiting publishers.
const OUTCOMES_MAX: usize = 65_536;

impl Outcomes {
    pub(crate) fn record(&self, refused: impl IntoIterator<Item = (u64, AppendError)>) {
        let mut map = self
            .refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.extend(refused);
        while map.len() > OUTCOMES_MAX {
            map.pop_first();
        }
    }

    /// Forgets every refusal (their sequences count in a stream that was replaced).
    pub(crate) fn clear(&self) {
        self.refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    pub(crate) fn refusal(&self, sequence: u64) -> Option<AppendError> {
        self.refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&sequence)
            .cloned()
    }
}

/// What replication needs from the node being opened.
pub(crate) struct Parts {
    pub(crate) config: ReplicationConfig,
    pub(crate) store: Store,
    pub(crate) view: Arc<ViewCell>,
    pub(crate) writer: mpsc::Sender<Message>,
    pub(crate) signer: Arc<CheckpointSigner>,
    pub(crate) payload_bytes_max: usize,
    pub(crate) group_events_max: usize,
}

/// A node's replication: the publisher, the consumer and cosigning tasks.
pub(crate) struct Replication {
    ledger: LedgerName,
    publisher: Arc<JetStream>,
    cosign: Arc<cosign::Cosign>,
    link: watch::Receiver<Link>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The stream's last sequence when the consumer last opened.
    linked_at: Arc<AtomicU64>,
}

/// How long the first connection attempt and each request to JetStream may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl Replication {
    /// Connects (in the background: the node serves reads while NATS is away), sets up the
    /// streams and starts following them.
    ///
    /// # Errors
    /// If the NATS URL cannot be parsed.
    pub(crate) async fn start(parts: Parts) -> anyhow::Result<Replication> {
        let names = Names::new(parts.config.ledger().clone());
        let client = connect::connect(parts.config.nats_url(), parts.config.auth()).await?;
        let mut context = async_nats::jetstream::new(client.clone());
        context.set_timeout(REQUEST_TIMEOUT);
        let (link_sender, link) = watch::channel(Link::Connecting);
        let (stop, stopped) = watch::channel(false);
        let outcomes = Arc::new(Outcomes::default());
        let linked_at = Arc::new(AtomicU64::new(0));
        let publisher = Arc::new(JetStream::new(
            client,
            context.clone(),
            names.clone(),
            parts.store.clone(),
            Arc::clone(&parts.view),
            Arc::clone(&outcomes),
            link.clone(),
            parts.payload_bytes_max,
            parts.config.apply_wait(),
        ));
        let cosign = Arc::new(cosign::Cosign::new(
            parts.store.clone(),
            Arc::clone(&parts.view),
            Arc::clone(&parts.signer),
        )?);
        let follower = consumer::Follower {
            context: context.clone(),
            names: names.clone(),
            replicas: parts.config.stream_replicas(),
            writer: parts.writer,
            view: Arc::clone(&parts.view),
            outcomes,
            link: link_sender,
            stopped: stopped.clone(),
            group_events_max: parts.group_events_max,
            linked_at: Arc::clone(&linked_at),
            store: parts.store.clone(),
        };
        let tasks = vec![
            tokio::spawn(follower.run()),
            tokio::spawn(cosign::run(
                Arc::clone(&cosign),
                context,
                names,
                parts.config.stream_replicas(),
                stopped,
            )),
        ];
        Ok(Replication {
            ledger: parts.config.ledger().clone(),
            link,
            publisher,
            cosign,
            stop,
            tasks: Mutex::new(tasks),
            linked_at,
        })
    }

    /// Appends envelopes through JetStream (see [`JetStream::append`]).
    pub(crate) async fn append(
        &self,
        envelopes: Vec<Vec<u8>>,
    ) -> Vec<Result<Appended, AppendError>> {
        Arc::clone(&self.publisher).append(envelopes).await
    }

    /// The latest checkpoint this node signed, with every node signature collected for it.
    pub(crate) fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.cosign.latest()
    }

    /// The checkpoint of `size` with every node signature collected for it, if this node has
    /// signed that size.
    pub(crate) fn checkpoint_at(&self, size: u64) -> Result<Option<SignedCheckpoint>, StoreError> {
        self.cosign.note_at(size)
    }

    /// Where this node stands, at stream `position`.
    pub(crate) fn status(&self, position: u64) -> ReplicationStatus {
        let (state, detail) = match &*self.link.borrow() {
            Link::Connecting => ("connecting", None),
            Link::Ready => ("ready", None),
            Link::Broken(why) => ("broken", Some(why.clone())),
        };
        ReplicationStatus {
            ledger: self.ledger.to_string(),
            state,
            detail,
            position,
        }
    }

    /// Whether a node at stream `position` is ready for traffic: linked, and caught up with
    /// the stream as it stood when it linked.
    pub(crate) fn readiness(&self, position: u64) -> Result<(), Unready> {
        match &*self.link.borrow() {
            Link::Connecting => Err(Unready::Connecting),
            Link::Broken(why) => Err(Unready::ReplicationBroken(why.clone())),
            Link::Ready => {
                let target = self.linked_at.load(Ordering::SeqCst);
                if position < target {
                    Err(Unready::CatchingUp { position, target })
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Stops following the streams (in-flight appends answer 503) and waits for the tasks.
    pub(crate) async fn stop(&self) {
        self.stop.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a replication task failed");
            }
        }
    }
}

/// Resolves once `stopped` says so (or its sender is gone).
pub(crate) async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, before any other await.
    let _ = stopped.wait_for(|stop| *stop).await.map(|_| ());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_names_are_subject_tokens() {
        for good in ["a", "northtown", "ledger-1", &"x".repeat(64)] {
            assert_eq!(good.parse::<LedgerName>().map(|n| n.0), Ok(good.to_owned()));
        }
        for bad in ["", "-a", "A", "a.b", "a*", "a>", "a b", &"x".repeat(65)] {
            assert!(bad.parse::<LedgerName>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn subjects_and_streams_of_a_ledger() {
        let names = Names::new("north".parse().unwrap());
        let contract: ContractId = "housing-1".parse().unwrap();
        assert_eq!(
            names.event_subject(&contract),
            "ledger.north.events.housing-1"
        );
        assert_eq!(names.events_subjects(), "ledger.north.events.*");
        assert_eq!(names.events_stream(), "ledger-north-events");
        assert_eq!(names.cosign_stream(), "ledger-north-cosign");
        assert_eq!(subject_token("ledger.north.events.housing-1"), "housing-1");
    }

    #[test]
    fn outcomes_forget_the_oldest_first() {
        let outcomes = Outcomes::default();
        let refusal = |n: u64| AppendError::Unavailable(n.to_string());
        outcomes.record((1..=(OUTCOMES_MAX as u64 + 1)).map(|n| (n, refusal(n))));
        assert_eq!(outcomes.refusal(1), None);
        assert_eq!(outcomes.refusal(2), Some(refusal(2)));
    }

    #[test]
    fn replicas_are_bounded() {
        let name: LedgerName = "l".parse().unwrap();
        assert!(ReplicationConfig::new("nats://h:1".into(), name.clone(), 0).is_err());
        assert!(ReplicationConfig::new("nats://h:1".into(), name.clone(), 6).is_err());
        let config = ReplicationConfig::new("nats://h:1".into(), name, 3).unwrap();
        assert_eq!(config.apply_wait(), Duration::from_secs(10));
        let config = config.with_apply_wait_ms(Some(250)).unwrap();
        assert_eq!(config.apply_wait(), Duration::from_millis(250));
        assert_eq!(
            config.with_apply_wait_ms(Some(0)),
            Err(ReplicationConfigError::ApplyWait)
        );
    }
}
