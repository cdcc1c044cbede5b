//! Durable ingest of the node in process, beside its two floors measured in the same run:
//!
//! - raw sled: `apply_batch` of 256 records of 300 bytes, then `flush`, repeated;
//! - raw signatures: 2-thread `ed25519_dalek::verify_batch` (chunks of 64), and the exact
//!   2-thread path the node uses (`ledger_core::signing::verify_all_parallel`);
//! - the node: `Node::append` from concurrent clients (one contract each, one envelope per
//!   request, then 64 per request), every signature checked, every group flushed before the
//!   answer. Events per second and per-request p50/p99 latency.
//!
//! Run: `cargo bench -p ledger-node --bench ingest`. Not a test: it prints figures and ratios.
//! (The raw sled baseline names sled directly on purpose; the node itself only does in
//! `store/`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use ledger_core::signing::{self, SigCheck};
use ledger_node::config::{Config, Settings};
use ledger_node::service::{NoObserver, Node};
use proto::dsse::{self, Envelope};
use proto::payload::PAYLOAD_TYPE;

#[path = "common/workload.rs"]
mod workload;
use workload::{contract_stream, key};

const SLED_BATCH_RECORDS: usize = 256;
const SLED_BATCHES: usize = 200;
const SLED_RECORD_BYTES: usize = 300;
const VERIFY_SIGNATURES: usize = 8_192;
const VERIFY_KEYS: usize = 64;
const CLIENTS: usize = 16;
const EVENTS_PER_CLIENT: usize = 500;

fn main() -> anyhow::Result<()> {
    let sled_rate = raw_sled()?;
    println!("raw sled apply_batch({SLED_BATCH_RECORDS}) + flush, {SLED_RECORD_BYTES}-byte records: {sled_rate:.0} records/s");
    let (batch_rate, exact_rate) = raw_verify();
    println!("raw ed25519 verify_batch, 2 threads: {batch_rate:.0} signatures/s");
    println!("exact batch verify (node path), 2 threads: {exact_rate:.0} signatures/s");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    for per_request in [1usize, 64] {
        let run = runtime.block_on(node_ingest(per_request))?;
        println!(
            "node durable append, {CLIENTS} clients, {per_request} event(s)/request: {:.0} events/s, \
             {} signatures/event, request p50 {:.2} ms, p99 {:.2} ms",
            run.events_per_second,
            run.signatures_per_event,
            run.p50.as_secs_f64() * 1e3,
            run.p99.as_secs_f64() * 1e3
        );
        println!(
            "  ratios: node/raw sled {:.3}, node signatures/exact verify {:.3}",
            run.events_per_second / sled_rate,
            run.events_per_second * run.signatures_per_event / exact_rate
        );
    }
    Ok(())
}

fn raw_sled() -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new().path(dir.path().join("raw")).open()?;
    let tree = db.open_tree("log")?;
    let record = vec![0x5a_u8; SLED_RECORD_BYTES];
    let started = Instant::now();
    let mut index: u64 = 0;
    for _ in 0..SLED_BATCHES {
        let mut batch = sled::Batch::default();
        for _ in 0..SLED_BATCH_RECORDS {
            batch.insert(&index.to_be_bytes()[..], record.as_slice());
            index += 1;
        }
        tree.apply_batch(batch)?;
        db.flush()?;
    }
    Ok(index as f64 / started.elapsed().as_secs_f64())
}

/// Signatures of ~300-byte messages by a few keys: (verify_batch rate, exact path rate).
fn raw_verify() -> (f64, f64) {
    let keys: Vec<SigningKey> = (0..VERIFY_KEYS)
        .map(|i| key(&format!("verify/{i}")))
        .collect();
    let messages: Vec<Vec<u8>> = (0..VERIFY_SIGNATURES)
        .map(|i| dsse::pae(PAYLOAD_TYPE, format!("{i:0>300}").as_bytes()))
        .collect();
    let signed: Vec<(ed25519_dalek::VerifyingKey, ed25519_dalek::Signature)> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let key = &keys[i % VERIFY_KEYS];
            (key.verifying_key(), key.sign(m))
        })
        .collect();
    let started = Instant::now();
    let halves = VERIFY_SIGNATURES / 2;
    let all_ok = std::thread::scope(|scope| {
        let workers: Vec<_> = [0, halves]
            .into_iter()
            .map(|start| {
                let (messages, signed) = (
                    &messages[start..start + halves],
                    &signed[start..start + halves],
                );
                scope.spawn(move || {
                    messages.chunks(64).zip(signed.chunks(64)).all(|(m, s)| {
                        let m: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
                        let (k, s): (Vec<_>, Vec<_>) = s.iter().copied().unzip();
                        ed25519_dalek::verify_batch(&m, &s, &k).is_ok()
                    })
                })
            })
            .collect();
        workers.into_iter().all(|w| w.join().unwrap_or(false))
    });
    let batch_rate = VERIFY_SIGNATURES as f64 / started.elapsed().as_secs_f64();
    assert!(all_ok, "benchmark signatures must verify");
    let publics: Vec<[u8; 32]> = signed.iter().map(|(k, _)| k.to_bytes()).collect();
    let sigs: Vec<[u8; 64]> = signed.iter().map(|(_, s)| s.to_bytes()).collect();
    let checks: Vec<SigCheck<'_>> = (0..VERIFY_SIGNATURES)
        .map(|i| SigCheck {
            public_key: &publics[i],
            message: &messages[i],
            signature: &sigs[i],
        })
        .collect();
    let started = Instant::now();
    let verdicts = signing::verify_all_parallel(&checks, 2);
    let exact_rate = VERIFY_SIGNATURES as f64 / started.elapsed().as_secs_f64();
    assert!(
        verdicts.iter().all(|v| *v),
        "benchmark signatures must verify"
    );
    (batch_rate, exact_rate)
}

struct IngestRun {
    events_per_second: f64,
    signatures_per_event: f64,
    p50: Duration,
    p99: Duration,
}

async fn node_ingest(per_request: usize) -> anyhow::Result<IngestRun> {
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        data_dir: Some(dir.path().to_owned()),
        ..Settings::default()
    };
    let node = Node::open(&Config::resolve(settings)?, Arc::new(NoObserver)).await?;
    let streams: Vec<Vec<Vec<u8>>> = (0..CLIENTS)
        .map(|c| contract_stream(&format!("bench-{per_request}-{c}"), EVENTS_PER_CLIENT))
        .collect();
    let signatures: usize = streams.iter().flatten().map(|e| signature_count(e)).sum();
    let events: usize = streams.iter().map(Vec::len).sum();
    let started = Instant::now();
    let clients: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            let node = node.clone();
            tokio::spawn(async move { client(node, stream, per_request).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await??);
    }
    let elapsed = started.elapsed();
    node.shutdown().await;
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok(IngestRun {
        events_per_second: events as f64 / elapsed.as_secs_f64(),
        signatures_per_event: signatures as f64 / events as f64,
        p50: at(0.50),
        p99: at(0.99),
    })
}

/// Appends a contract's stream in order; the registration goes alone first.
async fn client(
    node: Node,
    stream: Vec<Vec<u8>>,
    per_request: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::new();
    let (first, rest) = stream.split_at(1);
    for chunk in std::iter::once(first).chain(rest.chunks(per_request)) {
        let started = Instant::now();
        let answers = node.append(chunk.to_vec()).await;
        latencies.push(started.elapsed());
        if let Some(Err(e)) = answers.into_iter().find(Result::is_err) {
            anyhow::bail!("benchmark event refused: {e}");
        }
    }
    Ok(latencies)
}

fn signature_count(envelope: &[u8]) -> usize {
    Envelope::decode(envelope)
        .map(|e| e.signatures().len())
        .unwrap_or(0)
}
