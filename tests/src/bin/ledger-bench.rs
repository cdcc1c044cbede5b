//! `ledger-bench`: durable ingest over HTTP against the real `ledger-node` binary, beside two
//! baselines measured in the same run on the same events:
//!
//! - raw sled: `Tree::apply_batch` of 256 envelopes, then `Db::flush` (the floor of a durable
//!   write on this disk);
//! - raw signatures: `ed25519_dalek::verify_batch` over the events' DSSE PAE messages, in
//!   chunks of 256, on 2 threads.
//!
//! Then, for each scenario, a fresh node on a fresh directory, and concurrent clients, each
//! with its own contract (a registration signed by all six parties, untimed, then one-unit
//! claims signed by the provider), posting one envelope or an array per request. It prints
//! events/s, p50/p99 request latency, the node's mean commit group, and the ratios to the
//! baselines. It stops by itself: every scenario posts a fixed number of events.
//!
//! Run: `cargo run --release -p ledger-tests --bin ledger-bench` (the node binary is built in
//! the same profile).

use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use ed25519_dalek::{Signature, VerifyingKey};
use ledger_tests::api::Api;
use ledger_tests::events::{Contract, Signed};
use ledger_tests::Node;

/// Events per sled batch and per signature batch.
const BATCH: usize = 256;
/// Events the baselines process.
const BASELINE_EVENTS: usize = 16_384;

/// One ingest scenario.
struct Scenario {
    clients: usize,
    events_per_request: usize,
    events_per_client: usize,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        clients: 1,
        events_per_request: 1,
        events_per_client: 500,
    },
    Scenario {
        clients: 16,
        events_per_request: 1,
        events_per_client: 500,
    },
    Scenario {
        clients: 64,
        events_per_request: 1,
        events_per_client: 125,
    },
    Scenario {
        clients: 16,
        events_per_request: 64,
        events_per_client: 1_024,
    },
];

/// What one scenario measured.
struct Ingest {
    events: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    commit_group_mean: f64,
}

fn main() -> Result<()> {
    let corpus = claims_corpus(BASELINE_EVENTS)?;
    let sled_rate = raw_sled(&corpus)?;
    let verify_rate = raw_verify(&corpus)?;
    println!("raw sled apply_batch({BATCH}) + flush: {sled_rate:.0} events/s");
    println!("raw verify_batch (chunks of {BATCH}, 2 threads): {verify_rate:.0} signatures/s");
    println!();
    println!("| clients | events/request | events | events/s | p50 ms | p99 ms | mean commit group | ÷ raw sled | ÷ raw verify |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for scenario in &SCENARIOS {
        let ingest = run(scenario)?;
        let rate = per_second(ingest.events, ingest.elapsed);
        println!(
            "| {} | {} | {} | {rate:.0} | {:.2} | {:.2} | {:.1} | {:.3} | {:.3} |",
            scenario.clients,
            scenario.events_per_request,
            ingest.events,
            millis(percentile(&ingest.latencies, 50)),
            millis(percentile(&ingest.latencies, 99)),
            ingest.commit_group_mean,
            rate / sled_rate,
            rate / verify_rate,
        );
    }
    Ok(())
}

/// `count` signed claims spread over 16 contracts (their envelopes and one signature each).
fn claims_corpus(count: usize) -> Result<Vec<Signed>> {
    let mut contracts: Vec<Contract> = (0..16)
        .map(|n| Contract::new(&format!("baseline-{n}")))
        .collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let contract = &mut contracts[n % 16];
        let claim = contract.claim("housed-12m", 1, u64::try_from(n)?)?;
        contract.accept(&claim);
        out.push(claim);
    }
    Ok(out)
}

fn per_second(events: usize, elapsed: Duration) -> f64 {
    // Event counts here are far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let events = events as f64;
    events / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent)
        .div_ceil(100)
        .clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Raw sled: the envelopes under big-endian indexes, `apply_batch` of [`BATCH`] then `flush`.
fn raw_sled(corpus: &[Signed]) -> Result<f64> {
    let dir = tempfile::Builder::new()
        .prefix("ledger-bench-sled-")
        .tempdir()?;
    let db = sled::Config::new().path(dir.path()).open()?;
    let tree = db.open_tree("log")?;
    let started = Instant::now();
    for (chunk_number, chunk) in corpus.chunks(BATCH).enumerate() {
        let mut batch = sled::Batch::default();
        for (offset, event) in chunk.iter().enumerate() {
            let index = u64::try_from(chunk_number * BATCH + offset)?;
            batch.insert(&index.to_be_bytes(), event.envelope.as_slice());
        }
        tree.apply_batch(batch)?;
        db.flush()?;
    }
    Ok(per_second(corpus.len(), started.elapsed()))
}

/// Raw signatures: `verify_batch` over chunks of [`BATCH`], half the chunks on each of 2 threads.
fn raw_verify(corpus: &[Signed]) -> Result<f64> {
    let mut messages = Vec::with_capacity(corpus.len());
    let mut signatures = Vec::with_capacity(corpus.len());
    let mut keys = Vec::with_capacity(corpus.len());
    for event in corpus {
        let envelope =
            proto::dsse::Envelope::decode(&event.envelope).map_err(|e| anyhow::anyhow!("{e}"))?;
        let signature = envelope.signatures().first().context("unsigned envelope")?;
        let signer = Contract::new(event.payload.contract.as_str())?
            .parties()
            .provider
            .clone();
        ensure!(
            *signature.keyid() == signer.key_id(),
            "claim not signed by the provider"
        );
        messages.push(envelope.pae());
        signatures.push(Signature::from_bytes(signature.sig()));
        keys.push(VerifyingKey::from_bytes(signer.public().as_bytes())?);
    }
    let chunks: Vec<usize> = (0..corpus.len()).step_by(BATCH).collect();
    let started = Instant::now();
    let results: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = [0usize, 1]
            .into_iter()
            .map(|thread| {
                let (messages, signatures, keys, chunks) = (&messages, &signatures, &keys, &chunks);
                scope.spawn(move || {
                    chunks.iter().skip(thread).step_by(2).all(|&start| {
                        let end = (start + BATCH).min(messages.len());
                        let refs: Vec<&[u8]> =
                            messages[start..end].iter().map(Vec::as_slice).collect();
                        ed25519_dalek::verify_batch(
                            &refs,
                            &signatures[start..end],
                            &keys[start..end],
                        )
                        .is_ok()
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .collect()
    });
    let elapsed = started.elapsed();
    ensure!(
        results.iter().all(|ok| *ok),
        "a signature batch failed to verify"
    );
    Ok(per_second(corpus.len(), elapsed))
}

/// One scenario on a fresh node.
fn run(scenario: &Scenario) -> Result<Ingest> {
    let dir = tempfile::Builder::new().prefix("ledger-bench-").tempdir()?;
    let node = Node::start(dir.path(), &[])?;
    let api = Api::new(&node.url(""))?;
    let plans: Vec<(Signed, Vec<Vec<u8>>)> = (0..scenario.clients)
        .map(|n| plan(n, scenario))
        .collect::<Result<_>>()?;
    for (registration, _) in &plans {
        let reply = api.post_event(&registration.envelope)?;
        ensure!(
            reply.status == 201,
            "registration refused: {} {}",
            reply.status,
            reply.text()
        );
    }
    let barrier = Barrier::new(scenario.clients + 1);
    let (elapsed, latencies) = std::thread::scope(|scope| -> Result<(Duration, Vec<Duration>)> {
        let handles: Vec<_> = plans
            .iter()
            .map(|(_, requests)| {
                let (api, barrier) = (api.clone(), &barrier);
                scope.spawn(move || post_all(&api, requests, barrier))
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let mut latencies = Vec::new();
        for handle in handles {
            match handle.join() {
                Ok(result) => latencies.extend(result?),
                Err(_) => bail!("a client thread panicked"),
            }
        }
        Ok((started.elapsed(), latencies))
    })?;
    let mut latencies = latencies;
    latencies.sort_unstable();
    let commit_group_mean = mean_commit_group(&api.get("/metrics")?.text());
    Ok(Ingest {
        events: scenario.clients * scenario.events_per_client,
        elapsed,
        latencies,
        commit_group_mean,
    })
}

/// A client's registration and its request bodies (claims chained on its own contract).
fn plan(client: usize, scenario: &Scenario) -> Result<(Signed, Vec<Vec<u8>>)> {
    let mut contract = Contract::new(&format!("bench-{client}"))?;
    let registration = contract.registered()?;
    contract.accept(&registration);
    let mut claims = Vec::with_capacity(scenario.events_per_client);
    for nonce in 0..scenario.events_per_client {
        let claim = contract.claim("housed-12m", 1, u64::try_from(nonce)?)?;
        contract.accept(&claim);
        claims.push(claim.envelope);
    }
    let requests = claims
        .chunks(scenario.events_per_request)
        .map(|chunk| match chunk {
            [one] => one.clone(),
            many => {
                let mut body = b"[".to_vec();
                body.extend_from_slice(&many.join(&b','));
                body.push(b']');
                body
            }
        })
        .collect();
    Ok((registration, requests))
}

fn post_all(api: &Api, requests: &[Vec<u8>], barrier: &Barrier) -> Result<Vec<Duration>> {
    barrier.wait();
    let mut latencies = Vec::with_capacity(requests.len());
    for body in requests {
        let started = Instant::now();
        let reply = api.post("/v1/events", body.clone())?;
        latencies.push(started.elapsed());
        let accepted = match reply.status {
            201 => true,
            200 => reply.json()?["errors"] == false,
            _ => false,
        };
        ensure!(accepted, "refused: {} {}", reply.status, reply.text());
    }
    Ok(latencies)
}

/// Mean events per commit group, from `ledger_commit_group_events_{sum,count}`.
fn mean_commit_group(metrics: &str) -> f64 {
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|rest| rest.trim().parse::<f64>().ok())
            })
            .unwrap_or(0.0)
    };
    value("ledger_commit_group_events_sum ") / value("ledger_commit_group_events_count ").max(1.0)
}
