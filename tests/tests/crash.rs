//! Crash test, sled style: several clients append concurrently to the real `ledger-node` while
//! the test kills it with SIGKILL at random moments (seeded, printed) and restarts it. After
//! every restart and at the end:
//!
//! - every acknowledged event is in the log exactly once, at the index it was acknowledged with;
//! - every checkpoint seen before a kill is still the root of the log's prefix of its size,
//!   and the node proves the old checkpoint consistent with the new one;
//! - the log read after the last restart is still its prefix: the checkpoint verified then is
//!   proven consistent with the new one, and only the log past it is read again (so a soak of
//!   thousands of kills does not read the whole log each time);
//! - at the end the log verifies from scratch: ids, payloads, signatures, per-contract chains,
//!   the Merkle root against the latest signed checkpoint, and every index (by id, by contract,
//!   the contract list) agrees with the log, so nothing half-written is visible.
//!
//! `LEDGER_CRASH_SEED` replays a run; `LEDGER_CRASH_CYCLES` sets the number of kills (20 in
//! the test command; `scripts/soak` runs 1,000 and more, printing progress every
//! [`PROGRESS_CYCLES`] kills).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use ledger_tests::api::{Api, EventRecord};
use ledger_tests::events::{Contract, Signed};
use ledger_tests::verify::{
    hashes_from_hex, leaf_hash, open_checkpoint, open_envelope, root_of, verify_consistency,
    Checkpoint, Hash, NoteVerifier,
};
use ledger_tests::{wait_until, Node};
use proto::{EventId, Payload};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CLIENTS: usize = 4;
const CYCLES_DEFAULT: u64 = 20;
/// Most acknowledgements between a restart and the next kill (0 kills the node as soon as it
/// listens again).
const ACKS_BETWEEN_KILLS_MAX: u64 = 100;
const WAIT: Duration = Duration::from_secs(60);
/// Kills between two progress lines on stderr.
const PROGRESS_CYCLES: u64 = 50;

/// An acknowledged append.
#[derive(Clone, Debug)]
struct Ack {
    id: EventId,
    index: u64,
}

/// What the clients and the killer share.
struct Shared {
    base: RwLock<String>,
    acks: Mutex<Vec<Ack>>,
    ack_count: AtomicU64,
    stop: AtomicBool,
    anomalies: Mutex<Vec<String>>,
}

impl Shared {
    fn base(&self) -> String {
        self.base
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn acks(&self) -> Vec<Ack> {
        self.acks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn anomaly(&self, what: String) {
        self.anomalies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(what);
    }
}

fn env_u64(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(text) => Ok(Some(
            text.parse().with_context(|| format!("{name}={text:?}"))?,
        )),
        Err(_) => Ok(None),
    }
}

#[test]
fn acknowledged_events_survive_sigkill_at_random_moments() -> Result<()> {
    let seed = match env_u64("LEDGER_CRASH_SEED")? {
        Some(seed) => seed,
        None => u64::try_from(
            SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() % u128::from(u64::MAX),
        )?,
    };
    let cycles = env_u64("LEDGER_CRASH_CYCLES")?.unwrap_or(CYCLES_DEFAULT);
    println!("crash test seed {seed}, {cycles} cycles (replay with LEDGER_CRASH_SEED={seed})");
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);

    let dir = tempfile::Builder::new().prefix("ledger-crash-").tempdir()?;
    let mut node = Node::start(dir.path(), &["--checkpoint-interval-ms", "5"])?;
    let verifier = NoteVerifier::parse(
        Api::new(&node.url(""))?.get("/v1/node")?.json()?["verifier_key"]
            .as_str()
            .context("verifier_key")?,
    )?;
    let shared = Arc::new(Shared {
        base: RwLock::new(node.url("")),
        acks: Mutex::new(Vec::new()),
        ack_count: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        anomalies: Mutex::new(Vec::new()),
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || client(n, &shared))
        })
        .collect();

    let outcome = kill_loop(&mut node, &shared, &verifier, &mut rng, cycles);
    shared.stop.store(true, Ordering::SeqCst);
    for handle in clients {
        match handle.join() {
            Ok(result) => result?,
            Err(_) => bail!("a client thread panicked"),
        }
    }
    outcome.with_context(|| format!("seed {seed}; node log:\n{}", node.log_tail()))?;
    let anomalies = shared
        .anomalies
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    ensure!(
        anomalies.is_empty(),
        "seed {seed}: unexpected answers:\n{}",
        anomalies.join("\n")
    );

    let api = Api::new(&node.url(""))?;
    let total = verify_end_to_end(&api, &verifier, &shared.acks())
        .with_context(|| format!("seed {seed}; node log:\n{}", node.log_tail()))?;
    println!(
        "crash test: {cycles} kills, {} acknowledged of {total} events in the log, none lost, \
         none twice, {:.1} s",
        shared.ack_count.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn kill_loop(
    node: &mut Node,
    shared: &Shared,
    verifier: &NoteVerifier,
    rng: &mut StdRng,
    cycles: u64,
) -> Result<()> {
    let started = Instant::now();
    let mut verified = Verified::default();
    for cycle in 0..cycles {
        if cycle > 0 && cycle % PROGRESS_CYCLES == 0 {
            eprintln!(
                "crash test: {cycle} of {cycles} kills, {} acknowledged, {:.1} s",
                shared.ack_count.load(Ordering::SeqCst),
                started.elapsed().as_secs_f64()
            );
        }
        let target =
            shared.ack_count.load(Ordering::SeqCst) + rng.gen_range(0..=ACKS_BETWEEN_KILLS_MAX);
        wait_until(
            WAIT,
            &format!("cycle {cycle}: {target} acknowledgements"),
            || {
                let anomalies = shared
                    .anomalies
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len();
                ensure!(anomalies == 0, "a client saw an unexpected answer");
                Ok((shared.ack_count.load(Ordering::SeqCst) >= target).then_some(()))
            },
        )?;
        let seen = Api::new(&node.url(""))?.checkpoint_note().ok();
        node.kill()?;
        node.restart()
            .with_context(|| format!("cycle {cycle}: restart after SIGKILL"))?;
        *shared.base.write().unwrap_or_else(PoisonError::into_inner) = node.url("");
        let api = Api::new(&node.url(""))?;
        verified
            .after_restart(&api, verifier, &shared.acks(), seen.as_deref())
            .with_context(|| format!("cycle {cycle}: after restart"))?;
    }
    Ok(())
}

/// What the killer verified of the log after the last restart: the ids and leaf hashes of its
/// entries, and the latest checkpoint then, whose root those leaves were shown to have.
#[derive(Default)]
struct Verified {
    ids: Vec<String>,
    leaves: Vec<Hash>,
    trusted: Option<Checkpoint>,
}

impl Verified {
    /// After a restart: the checkpoint verified last time is consistent with the node's latest,
    /// the log past it is read again and, with the prefix kept, hashes to the latest
    /// checkpoint's root; every acknowledgement so far is in it, no event twice; and the
    /// checkpoint `seen` before the kill still commits to the log's prefix.
    fn after_restart(
        &mut self,
        api: &Api,
        verifier: &NoteVerifier,
        acks: &[Ack],
        seen: Option<&str>,
    ) -> Result<()> {
        let latest = open_checkpoint(verifier, &api.checkpoint_note()?)?;
        let start = match &self.trusted {
            Some(trusted) => {
                ensure!(
                    latest.size >= trusted.size,
                    "latest checkpoint at {}, one at {} was verified before",
                    latest.size,
                    trusted.size
                );
                check_consistency(api, trusted, &latest)?;
                trusted.size
            }
            None => 0,
        };
        let fresh = log_from(api, start)?;
        let keep = usize::try_from(start)?;
        self.ids.truncate(keep);
        self.leaves.truncate(keep);
        for entry in &fresh {
            self.ids.push(entry.id.clone());
            self.leaves.push(leaf_hash(entry.envelope_bytes()));
        }
        check_acks(&self.ids, acks)?;
        let old = seen
            .map(|note| open_checkpoint(verifier, note))
            .transpose()?;
        for checkpoint in std::iter::once(&latest).chain(old.as_ref()) {
            let size = usize::try_from(checkpoint.size)?;
            ensure!(
                size <= self.leaves.len(),
                "checkpoint at {size}, log of {}",
                self.leaves.len()
            );
            ensure!(
                root_of(&self.leaves[..size]) == checkpoint.root,
                "the log's first {size} leaves do not hash to the checkpoint's root"
            );
        }
        if let Some(old) = &old {
            if latest.size >= old.size {
                check_consistency(api, old, &latest)?;
            }
        }
        self.trusted = Some(latest);
        Ok(())
    }
}

/// The log from index `from` to its end.
fn log_from(api: &Api, from: u64) -> Result<Vec<EventRecord>> {
    let mut events = Vec::new();
    let mut next = Some(from);
    while let Some(start) = next {
        let reply = api.get(&format!("/v1/log?from={start}&limit=1000"))?;
        ensure!(
            reply.status == 200,
            "GET /v1/log: {} {}",
            reply.status,
            reply.text()
        );
        let page: StreamPage = serde_json::from_slice(&reply.body)?;
        ensure!(
            page.events.first().is_none_or(|e| e.index == start),
            "a log page from {start} starts elsewhere"
        );
        events.extend(page.events);
        next = page.next;
    }
    Ok(events)
}

/// Every acknowledgement is at its index in `ids` (the log's event ids in order), and no id is
/// there twice.
fn check_acks(ids: &[String], acks: &[Ack]) -> Result<()> {
    for ack in acks {
        let entry = usize::try_from(ack.index).ok().and_then(|i| ids.get(i));
        let Some(entry) = entry else {
            bail!(
                "acknowledged event {} at index {} is missing (log of {})",
                ack.id,
                ack.index,
                ids.len()
            )
        };
        ensure!(
            *entry == ack.id.to_hex(),
            "index {} holds {entry}, {} was acknowledged there",
            ack.index,
            ack.id
        );
    }
    let mut seen = HashSet::new();
    for id in ids {
        ensure!(seen.insert(id.as_str()), "event {id} is in the log twice");
    }
    Ok(())
}

fn check_consistency(api: &Api, old: &Checkpoint, new: &Checkpoint) -> Result<()> {
    let reply = api.get(&format!(
        "/v1/proof/consistency?from={}&to={}",
        old.size, new.size
    ))?;
    ensure!(
        reply.status == 200,
        "consistency proof: {} {}",
        reply.status,
        reply.text()
    );
    let hashes: Vec<String> = serde_json::from_value(reply.json()?["hashes"].clone())?;
    verify_consistency(
        old.size,
        new.size,
        &hashes_from_hex(&hashes)?,
        &old.root,
        &new.root,
    )
}

/// One client: appends claims to its own contract until told to stop, riding through kills.
fn client(n: usize, shared: &Shared) -> Result<()> {
    let mut contract = Contract::new(&format!("crash-{n}"))?;
    let mut nonce = 0u64;
    let mut api = Api::new(&shared.base())?;
    while !shared.stop.load(Ordering::SeqCst) {
        nonce += 1;
        let event = if contract.next_seq() == 0 {
            contract.registered()?
        } else {
            contract.claim("housed-12m", 1, nonce)?
        };
        match api.post_event(&event.envelope) {
            Ok(reply) if reply.status == 201 => {
                acknowledge(shared, &mut contract, &event, &reply.json()?)?
            }
            Ok(reply) if reply.status == 503 => api = recover(shared, &mut contract)?,
            Ok(reply) => {
                shared.anomaly(format!(
                    "client {n}: {} answered {} {}",
                    event.id,
                    reply.status,
                    reply.text()
                ));
                return Ok(());
            }
            Err(_) if shared.stop.load(Ordering::SeqCst) => return Ok(()),
            Err(_) => api = recover(shared, &mut contract)?,
        }
    }
    Ok(())
}

fn acknowledge(
    shared: &Shared,
    contract: &mut Contract,
    event: &Signed,
    answer: &serde_json::Value,
) -> Result<()> {
    ensure!(
        answer["id"] == event.id.to_hex(),
        "acknowledged id {} for {}",
        answer["id"],
        event.id
    );
    let index = answer["index"]
        .as_u64()
        .context("acknowledgement without index")?;
    shared
        .acks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Ack {
            id: event.id,
            index,
        });
    shared.ack_count.fetch_add(1, Ordering::SeqCst);
    contract.accept(event);
    Ok(())
}

/// Waits until the (possibly restarted) node answers, then takes the contract's head from it:
/// an append in flight at the kill may or may not have been committed.
fn recover(shared: &Shared, contract: &mut Contract) -> Result<Api> {
    let api = wait_until(WAIT, "the node answers again", || {
        if shared.stop.load(Ordering::SeqCst) {
            return Ok(Some(Api::new(&shared.base())?));
        }
        let api = Api::new(&shared.base())?;
        Ok(api
            .get("/healthz")
            .ok()
            .filter(|r| r.status == 200)
            .map(|_| api))
    })?;
    let Ok(reply) = api.get("/v1/contracts") else {
        return Ok(api);
    };
    let list = reply.json()?;
    let summary = list["contracts"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == contract.id().as_str()));
    match summary {
        Some(summary) => {
            let events = summary["events"].as_u64().context("events")?;
            let head: EventId = summary["head"].as_str().context("head")?.parse()?;
            contract.rebase(events, Some(head));
        }
        None => contract.rebase(0, None),
    }
    Ok(api)
}

/// The final audit, from scratch. Returns the log size.
fn verify_end_to_end(api: &Api, verifier: &NoteVerifier, acks: &[Ack]) -> Result<usize> {
    let log = api.log_all(1_000)?;
    let ids: Vec<String> = log.iter().map(|e| e.id.clone()).collect();
    check_acks(&ids, acks)?;
    let mut streams: HashMap<String, Vec<&EventRecord>> = HashMap::new();
    for (position, entry) in log.iter().enumerate() {
        ensure!(
            entry.index == u64::try_from(position)?,
            "entry {position} says index {}",
            entry.index
        );
        check_entry(
            entry,
            streams.get(&entry.contract).and_then(|s| s.last().copied()),
        )
        .with_context(|| format!("log entry {position}"))?;
        streams
            .entry(entry.contract.clone())
            .or_default()
            .push(entry);
    }
    let size = u64::try_from(log.len())?;
    let checkpoint = wait_until(WAIT, "a checkpoint of the whole log", || {
        let checkpoint = open_checkpoint(verifier, &api.checkpoint_note()?)?;
        Ok((checkpoint.size == size).then_some(checkpoint))
    })?;
    let leaves: Vec<Hash> = log.iter().map(|e| leaf_hash(e.envelope_bytes())).collect();
    ensure!(
        root_of(&leaves) == checkpoint.root,
        "the latest checkpoint's root is not the log's root"
    );
    check_indexes(api, &log, &streams)?;
    Ok(log.len())
}

/// One entry: its payload hashes to its id and matches its metadata, its signatures verify
/// under the contract's parties' keys, and it chains to the previous event of its contract.
fn check_entry(entry: &EventRecord, previous: Option<&EventRecord>) -> Result<()> {
    let contract = Contract::new(&entry.contract)?;
    let keys: HashMap<String, [u8; 32]> = contract
        .parties()
        .all()
        .iter()
        .map(|s| (s.key_id().to_hex(), *s.public().as_bytes()))
        .collect();
    let payload_bytes = open_envelope(&serde_json::from_str(entry.envelope.get())?, &keys)?;
    ensure!(
        EventId::of_payload(&payload_bytes).to_hex() == entry.id,
        "id is not the payload's hash"
    );
    let payload = Payload::decode(&payload_bytes).map_err(|e| anyhow::anyhow!("payload: {e}"))?;
    ensure!(
        payload.contract.as_str() == entry.contract && payload.seq.get() == entry.seq,
        "contract/seq differ"
    );
    let (expected_seq, expected_prev) = match previous {
        Some(previous) => (previous.seq + 1, Some(previous.id.clone())),
        None => (0, None),
    };
    ensure!(
        entry.seq == expected_seq,
        "seq {} after {expected_seq} events of {}",
        entry.seq,
        entry.contract
    );
    ensure!(
        payload.prev.map(|p| p.to_hex()) == expected_prev,
        "prev does not name the previous event"
    );
    Ok(())
}

/// The indexes agree with the log: by id, by contract stream, and the contract list.
fn check_indexes(
    api: &Api,
    log: &[EventRecord],
    streams: &HashMap<String, Vec<&EventRecord>>,
) -> Result<()> {
    for entry in log {
        let reply = api.get(&format!("/v1/events/{}", entry.id))?;
        ensure!(
            reply.status == 200,
            "event {} by id: {} {}",
            entry.id,
            reply.status,
            reply.text()
        );
        let by_id: EventRecord = serde_json::from_slice(&reply.body)?;
        ensure!(
            by_id == *entry,
            "event {} by id differs from the log",
            entry.id
        );
    }
    let list = api.get("/v1/contracts")?.json()?;
    let listed = list["contracts"].as_array().context("contracts")?;
    ensure!(
        listed.len() == streams.len(),
        "{} contracts listed, {} in the log",
        listed.len(),
        streams.len()
    );
    for (id, stream) in streams {
        let summary = listed
            .iter()
            .find(|c| c["id"] == id.as_str())
            .with_context(|| format!("{id} not listed"))?;
        let last = stream.last().context("empty stream")?;
        ensure!(
            summary["events"] == stream.len() && summary["head"] == last.id.as_str(),
            "summary of {id}: {summary}"
        );
        let served = contract_stream(api, id)?;
        ensure!(
            served.len() == stream.len(),
            "{id}: {} events served, {} in the log",
            served.len(),
            stream.len()
        );
        ensure!(
            served.iter().zip(stream).all(|(a, b)| a == *b),
            "{id}: its stream differs from the log"
        );
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct StreamPage {
    events: Vec<EventRecord>,
    next: Option<u64>,
}

fn contract_stream(api: &Api, id: &str) -> Result<Vec<EventRecord>> {
    let mut events = Vec::new();
    let mut from = Some(0u64);
    while let Some(start) = from {
        let reply = api.get(&format!(
            "/v1/contracts/{id}/events?from={start}&limit=1000"
        ))?;
        ensure!(
            reply.status == 200,
            "stream of {id}: {} {}",
            reply.status,
            reply.text()
        );
        let page: StreamPage = serde_json::from_slice(&reply.body)?;
        events.extend(page.events);
        from = page.next;
    }
    Ok(events)
}
