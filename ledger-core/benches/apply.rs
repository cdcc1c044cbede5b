//! Admission cost per event on a realistic history: three "Homes First" contracts of 1 381
//! events each (claims, verifications, payments of ten claims, distributions, feedback), 4 143
//! events and 4 161 signatures in all.
//!
//! Measures, per event: the rules and the projection alone (`Ledger::admit` with verdicts
//! computed beforehand), the whole pipeline (`Ledger::append_batch`: decode, resolve keys,
//! verify, judge, apply) on 1 and 2 threads, and as the same-run baseline raw ed25519-dalek
//! `verify_batch` over the same signatures, messages and keys. After criterion's output it
//! prints each median as a ratio to that baseline.
//! Run: `cargo bench -p ledger-core --bench apply` (about a minute).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};
use ledger_core::{Event, Ledger, SignatureVerdicts};
use proto::payload::Stance;
use support::*;

const ROUNDS: u64 = 60;
const CLAIMS_PER_ROUND: u64 = 10;

/// Median seconds per iteration of each benchmark.
static SAMPLES: Mutex<BTreeMap<&'static str, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// One contract's history: rounds of ten claims, their verifications, one payment of all ten,
/// a distribution and a piece of feedback.
fn contract_history(contract: &str) -> Vec<Vec<u8>> {
    let mut body = programme();
    for outcome in &mut body.outcomes {
        outcome.cap_units = int(1_000_000);
    }
    body.cap = int(1_000_000_000_000);
    let mut s = Stream::registered_with(contract, body);
    for round in 0..ROUNDS {
        let mut lines = Vec::new();
        for i in 0..CLAIMS_PER_ROUND {
            let (outcome, price) = match (round + i) % 3 {
                0 => ("housed-3m", 50_000),
                1 => ("housed-6m", 150_000),
                _ => ("housed-12m", 300_000),
            };
            let quantity = 1 + (round * 7 + i) % 3;
            let claim_id = s.add(Who::Provider, claim(outcome, quantity));
            s.add(Who::Verifier, verify(claim_id, quantity));
            lines.push((claim_id, price * quantity));
        }
        let total: u64 = lines.iter().map(|(_, amount)| amount).sum();
        s.add(Who::Commissioner, pay(&lines));
        s.add(Who::Intermediary, distribute(Who::InvestorA, total / 2));
        s.add(Who::Rep, feedback(Some(lines[0].0), None, Stance::Affirms));
    }
    s.envelopes
}

struct Corpus {
    envelopes: Vec<Vec<u8>>,
    events: Vec<Event>,
    verdicts: Vec<SignatureVerdicts>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<Signature>,
    keys: Vec<VerifyingKey>,
}

impl Corpus {
    fn new() -> Corpus {
        let mut envelopes = Vec::new();
        for contract in ["homes-first-north", "homes-first-east", "homes-first-west"] {
            envelopes.extend(contract_history(contract));
        }
        let events: Vec<Event> = envelopes
            .iter()
            .map(|e| Event::decode(e).expect("history decodes"))
            .collect();
        let verdicts = Ledger::new().check_signatures(&events, 1);
        assert!(verdicts.iter().all(SignatureVerdicts::all_valid));
        let mut corpus = Corpus {
            envelopes,
            events,
            verdicts,
            messages: Vec::new(),
            signatures: Vec::new(),
            keys: Vec::new(),
        };
        corpus.collect_signatures();
        corpus
    }

    fn collect_signatures(&mut self) {
        let public: BTreeMap<proto::KeyId, VerifyingKey> = support::PARTIES
            .iter()
            .map(|(who, _, _)| (who.id(), who.key().verifying_key()))
            .collect();
        for event in &self.events {
            for signature in event.envelope().signatures() {
                self.messages.push(event.envelope().pae());
                self.signatures.push(Signature::from_bytes(signature.sig()));
                self.keys.push(public[signature.keyid()]);
            }
        }
    }
}

fn record(name: &'static str, iterations: u64, elapsed: Duration) {
    if let Ok(mut samples) = SAMPLES.lock() {
        let per_iteration = elapsed.as_secs_f64() / iterations.max(1) as f64;
        samples.entry(name).or_default().push(per_iteration);
    }
}

fn bench(c: &mut Criterion, corpus: &Corpus) {
    let mut group = c.benchmark_group("apply");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(corpus.events.len() as u64));
    group.bench_function("rules_and_projection", |b| {
        b.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                let mut ledger = Ledger::new();
                for (event, verdicts) in corpus.events.iter().zip(&corpus.verdicts) {
                    assert!(ledger.admit(event, verdicts).is_ok());
                }
            }
            let elapsed = start.elapsed();
            record("rules_and_projection", iterations, elapsed);
            elapsed
        })
    });
    let refs: Vec<&[u8]> = corpus.envelopes.iter().map(Vec::as_slice).collect();
    for (name, threads) in [("pipeline_1_thread", 1), ("pipeline_2_threads", 2)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let start = Instant::now();
                for _ in 0..iterations {
                    let results = Ledger::new().append_batch(&refs, threads);
                    assert!(results.iter().all(Result::is_ok));
                }
                let elapsed = start.elapsed();
                record(name, iterations, elapsed);
                elapsed
            })
        });
    }
    group.bench_function("baseline_dalek_verify_batch", |b| {
        let messages: Vec<&[u8]> = corpus.messages.iter().map(Vec::as_slice).collect();
        b.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                let verified =
                    ed25519_dalek::verify_batch(&messages, &corpus.signatures, &corpus.keys);
                assert!(verified.is_ok());
            }
            let elapsed = start.elapsed();
            record("baseline_dalek_verify_batch", iterations, elapsed);
            elapsed
        })
    });
    group.finish();
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(corpus: &Corpus) {
    let Ok(samples) = SAMPLES.lock() else { return };
    let Some(baseline) = samples
        .get("baseline_dalek_verify_batch")
        .map(|s| median(s))
    else {
        return;
    };
    let events = corpus.events.len() as f64;
    println!(
        "\n{} events, {} signatures; ratio = median / median of raw verify_batch (same run)",
        corpus.events.len(),
        corpus.signatures.len()
    );
    for (name, values) in samples.iter() {
        let m = median(values);
        println!(
            "  {name:<30} {:>8.2} us/event  ratio {:>5.2}",
            m / events * 1e6,
            m / baseline
        );
    }
}

fn main() {
    let corpus = Corpus::new();
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion, &corpus);
    criterion.final_summary();
    report(&corpus);
}
