//! The replay: every event of a log checked from scratch, in log order, with the expensive
//! work (decoding and signatures) spread over worker threads.
//!
//! A feeder thread pulls chunks of raw events from the source (a bundle file or the node's
//! log pages) and deals them round-robin to [`WORKERS`] workers. Each worker decodes its
//! chunk strictly, checks that every envelope's bytes are its RFC 8785 form, hashes the Merkle
//! leaves and verifies every signature (ledger-core's exact path: the verdicts of
//! `verify_strict`). The calling thread takes the workers' results back in the same
//! round-robin order, so events reach [`Replay`] in log order: it judges each with
//! `ledger_core::Ledger` (roles, chain, every contract rule) and appends its leaf hash to a
//! Merkle [`Frontier`] (O(log n) memory). Channels are bounded, so memory is bounded by a few
//! chunks whatever the log's size.
//!
//! A worker needs each signer's public key. It knows the keys given up front (a bundle's key
//! lines), those its own chunks introduce, and those other workers shared; a signature whose
//! key is still unknown is checked again by the replay against every key admitted so far, so
//! sharing keys only saves time and never changes a verdict.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use indicatif::ProgressBar;
use ledger_core::merkle::{self, Frontier, Hash, Node};
use ledger_core::signing::KeyCache;
use ledger_core::{Event, KeyDirectory, Ledger, SignatureVerdicts, Verdict};
use proto::PublicKey;
use serde_json::value::RawValue;

use super::finding::{Check, Finding, Stop};
use crate::bundle::{parse_event_line, EventChunk};

/// Worker threads: the machine the benchmark targets has two cores.
pub(crate) const WORKERS: usize = 2;

/// Events per chunk: big enough to amortise the channel hops, small enough to keep memory low.
pub(crate) const CHUNK_EVENTS: usize = 2048;

/// Chunks waiting in each channel.
const CHANNEL_CHUNKS: usize = 2;

/// Decoded public keys each worker keeps.
const KEY_CACHE_KEYS_MAX: usize = 65_536;

/// Raw events as a source gives them.
pub(crate) enum RawChunk {
    /// Event lines of a bundle.
    Bundle(EventChunk),
    /// Envelopes served by a node (their stored bytes), the first at log index `first_index`.
    Node {
        /// Log index of the first envelope.
        first_index: u64,
        /// The envelopes.
        envelopes: Vec<Box<RawValue>>,
    },
}

impl RawChunk {
    /// Each event's log index and envelope bytes, or why its line is not an event line.
    fn envelopes(&self) -> Vec<(u64, Result<&[u8], Finding>)> {
        match self {
            RawChunk::Bundle(chunk) => chunk
                .lines()
                .map(|(line, index, bytes)| {
                    let envelope = parse_event_line(bytes, line, index);
                    (index, envelope.map_err(|e| bundle_finding(e).at(index)))
                })
                .collect(),
            RawChunk::Node {
                first_index,
                envelopes,
            } => (*first_index..)
                .zip(envelopes)
                .map(|(index, raw)| (index, Ok(raw.get().as_bytes())))
                .collect(),
        }
    }
}

fn bundle_finding(error: crate::bundle::BundleError) -> Finding {
    Finding::new(Check::Bundle, error.code(), error.to_string())
}

/// One event decoded and its signatures verified by a worker.
struct Checked {
    index: u64,
    event: Event,
    leaf: Hash,
    verdicts: SignatureVerdicts,
}

/// A worker's result for one chunk: the events up to the first that fails to decode, and
/// that failure.
struct CheckedChunk {
    events: Vec<Checked>,
    failure: Option<Finding>,
}

/// What [`Replay::run_observed`] calls with each admitted event: its log index, the event, and
/// the ledger with the event applied.
pub(crate) type Observer<'a> = dyn FnMut(u64, &Event, &Ledger) -> anyhow::Result<()> + 'a;

/// A Merkle root the log must have when it reaches `size` events (an earlier checkpoint).
pub(crate) struct RootMark {
    /// Tree size.
    pub(crate) size: u64,
    /// The root the tree of that size must have.
    pub(crate) root: Hash,
    /// Where that root comes from, for the failure message.
    pub(crate) source: String,
}

/// The sequential half of the audit: the ledger replayed event by event and the Merkle tree.
pub(crate) struct Replay {
    ledger: Ledger,
    frontier: Frontier,
    nodes: Vec<Node>,
    marks: Vec<RootMark>,
    progress: Option<ProgressBar>,
}

impl Replay {
    /// An empty replay that checks the roots of `marks` on the way and ticks `progress`.
    pub(crate) fn new(marks: Vec<RootMark>, progress: Option<ProgressBar>) -> Self {
        Self {
            ledger: Ledger::new(),
            frontier: Frontier::new(),
            nodes: Vec::new(),
            marks,
            progress,
        }
    }

    /// The ledger replayed so far.
    pub(crate) fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Events replayed so far.
    pub(crate) fn size(&self) -> u64 {
        self.frontier.size().get()
    }

    /// The Merkle root of the events replayed so far.
    pub(crate) fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Adds a root the log must have at `mark.size` events, checked at once if the replay is
    /// there.
    ///
    /// # Errors
    /// A [`Check::Consistency`] finding if the replay is at that size with another root.
    pub(crate) fn add_mark(&mut self, mark: RootMark) -> Result<(), Finding> {
        self.marks.push(mark);
        self.check_marks()
    }

    /// The progress bar, if one is drawn.
    pub(crate) fn progress(&self) -> Option<&ProgressBar> {
        self.progress.as_ref()
    }

    /// Replays every chunk of `source`, in order, verifying signatures on the worker threads.
    /// `keys` are the public keys known before the first event (a bundle's key lines).
    ///
    /// # Errors
    /// [`Stop::Failed`] with the first failure in log order; [`Stop::Trouble`] if the source
    /// failed to read.
    pub(crate) fn run<I>(&mut self, source: I, keys: &KeyDirectory) -> Result<(), Stop>
    where
        I: Iterator<Item = Result<RawChunk, Stop>> + Send,
    {
        self.run_observed(source, keys, &mut |_, _, _| Ok(()))
    }

    /// Like [`Replay::run`], calling `observer` with each event's log index, the event and the
    /// ledger once the event is admitted.
    ///
    /// # Errors
    /// As [`Replay::run`]; an observer's error is a [`Stop::Trouble`].
    pub(crate) fn run_observed<I>(
        &mut self,
        source: I,
        keys: &KeyDirectory,
        observer: &mut Observer<'_>,
    ) -> Result<(), Stop>
    where
        I: Iterator<Item = Result<RawChunk, Stop>> + Send,
    {
        let shared = SharedKeys::default();
        std::thread::scope(|scope| {
            let mut inputs = Vec::with_capacity(WORKERS);
            let mut outputs = Vec::with_capacity(WORKERS);
            for number in 0..WORKERS {
                let (input, work) = sync_channel(CHANNEL_CHUNKS);
                let (done, output) = sync_channel(CHANNEL_CHUNKS);
                let mut worker = Worker {
                    keys: keys.clone(),
                    shared: &shared,
                    seen: 0,
                };
                thread(scope, format!("audit-worker-{number}"), move || {
                    worker.run(&work, &done);
                })?;
                inputs.push(input);
                outputs.push(output);
            }
            thread(scope, "audit-reader".to_owned(), move || {
                feed(source, &inputs)
            })?;
            self.collect(&outputs, observer)
        })
    }

    /// Takes the workers' results in the order the feeder dealt the chunks.
    fn collect(
        &mut self,
        outputs: &[Receiver<Result<CheckedChunk, Stop>>],
        observer: &mut Observer<'_>,
    ) -> Result<(), Stop> {
        for turn in 0.. {
            match outputs[turn % outputs.len()].recv() {
                Ok(Ok(chunk)) => self.apply(chunk, observer)?,
                Ok(Err(stop)) => return Err(stop),
                // The feeder ran out of chunks: every worker has finished in turn.
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }

    fn apply(&mut self, chunk: CheckedChunk, observer: &mut Observer<'_>) -> Result<(), Stop> {
        let count = chunk.events.len() as u64;
        for checked in chunk.events {
            let (index, event) = self.admit(checked)?;
            observer(index, &event, &self.ledger).map_err(Stop::Trouble)?;
        }
        if let Some(progress) = &self.progress {
            progress.inc(count);
        }
        chunk.failure.map_or(Ok(()), |finding| Err(finding.into()))
    }

    fn admit(&mut self, checked: Checked) -> Result<(u64, Event), Finding> {
        let Checked {
            index,
            event,
            leaf,
            verdicts,
        } = checked;
        assert_eq!(
            index,
            self.ledger.size(),
            "the replay takes events in log order"
        );
        let verdicts = if verdicts.iter().any(|(_, v)| v == Verdict::UnknownKey) {
            let again = self
                .ledger
                .check_signatures(std::slice::from_ref(&event), 1);
            again.into_iter().next().unwrap_or(verdicts)
        } else {
            verdicts
        };
        self.ledger.admit(&event, &verdicts).map_err(|why| {
            Finding::rejected(
                index,
                Some(*event.id()),
                Some(event.contract().clone()),
                &why,
            )
        })?;
        self.frontier
            .append(leaf, &mut self.nodes)
            .map_err(|e| Finding::new(Check::Root, e.code(), e.to_string()).at(index))?;
        self.nodes.clear();
        self.check_marks()?;
        Ok((index, event))
    }

    fn check_marks(&self) -> Result<(), Finding> {
        let size = self.size();
        match self.marks.iter().find(|mark| mark.size == size) {
            Some(mark) if mark.root != self.root() => Err(Finding::new(
                Check::Consistency,
                "log-rewritten",
                format!(
                    "the log was rewritten: its first {size} events hash to {}, but {} says {}",
                    self.root(),
                    mark.source,
                    mark.root
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl Drop for Replay {
    /// Takes the progress bar off the terminal, whatever the outcome.
    fn drop(&mut self) {
        if let Some(progress) = &self.progress {
            progress.finish_and_clear();
        }
    }
}

/// Starts a named thread in `scope`.
fn thread<'scope, F>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    body: F,
) -> Result<(), Stop>
where
    F: FnOnce() + Send + 'scope,
{
    std::thread::Builder::new()
        .name(name)
        .spawn_scoped(scope, body)
        .map(drop)
        .map_err(|e| Stop::Trouble(anyhow::anyhow!("cannot start a thread of the audit: {e}")))
}

/// Deals the source's chunks round-robin to the workers, stopping after an error.
fn feed<I>(source: I, inputs: &[SyncSender<Result<RawChunk, Stop>>])
where
    I: Iterator<Item = Result<RawChunk, Stop>>,
{
    for (turn, item) in source.enumerate() {
        let last = item.is_err();
        if inputs[turn % inputs.len()].send(item).is_err() || last {
            return;
        }
    }
}

/// Keys introduced by events, shared between workers.
#[derive(Default)]
struct SharedKeys {
    learned: Mutex<Vec<PublicKey>>,
}

/// One worker: its own key directory (what it was given, learnt and was told) and a cache of
/// decoded keys.
struct Worker<'a> {
    keys: KeyDirectory,
    shared: &'a SharedKeys,
    /// How many of the shared keys `keys` already holds.
    seen: usize,
}

impl Worker<'_> {
    fn run(
        &mut self,
        work: &Receiver<Result<RawChunk, Stop>>,
        done: &SyncSender<Result<CheckedChunk, Stop>>,
    ) {
        let mut cache = KeyCache::new(KEY_CACHE_KEYS_MAX);
        for item in work {
            let result = item.map(|chunk| self.check(&chunk, &mut cache));
            if done.send(result).is_err() {
                return;
            }
        }
    }

    fn check(&mut self, chunk: &RawChunk, cache: &mut KeyCache) -> CheckedChunk {
        let mut indexes = Vec::with_capacity(CHUNK_EVENTS);
        let mut events = Vec::with_capacity(CHUNK_EVENTS);
        let mut leaves = Vec::with_capacity(CHUNK_EVENTS);
        let mut failure = None;
        for (index, bytes) in chunk.envelopes() {
            match bytes.and_then(|bytes| decode(index, bytes)) {
                Ok((event, leaf)) => {
                    indexes.push(index);
                    events.push(event);
                    leaves.push(leaf);
                }
                Err(finding) => {
                    failure = Some(finding);
                    break;
                }
            }
        }
        self.share(&events);
        let verdicts = self.keys.verdicts(&events, 1, cache);
        let events = indexes
            .into_iter()
            .zip(events)
            .zip(leaves.into_iter().zip(verdicts))
            .map(|((index, event), (leaf, verdicts))| Checked {
                index,
                event,
                leaf,
                verdicts,
            })
            .collect();
        CheckedChunk { events, failure }
    }

    /// Publishes the keys `events` introduce and takes those other workers published.
    fn share(&mut self, events: &[Event]) {
        let introduced: Vec<PublicKey> = events.iter().flat_map(introduced_keys).collect();
        let mut learned = self
            .shared
            .learned
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        learned.extend_from_slice(&introduced);
        for key in &learned[self.seen..] {
            self.keys.insert(*key);
        }
        self.seen = learned.len();
    }
}

/// Decodes one envelope strictly and checks its bytes are its RFC 8785 form; returns the
/// event and its Merkle leaf hash.
fn decode(index: u64, bytes: &[u8]) -> Result<(Event, Hash), Finding> {
    let event = Event::decode(bytes).map_err(|why| Finding::undecodable(index, bytes, &why))?;
    if event.leaf_bytes() != bytes {
        return Err(Finding::non_canonical(
            index,
            *event.id(),
            event.contract().clone(),
        ));
    }
    Ok((event, merkle::leaf_hash(bytes)))
}

/// The public keys an event introduces ([`proto::Body::introduced_keys`]).
pub(crate) fn introduced_keys(event: &Event) -> Vec<PublicKey> {
    event
        .body()
        .introduced_keys()
        .into_iter()
        .copied()
        .collect()
}
