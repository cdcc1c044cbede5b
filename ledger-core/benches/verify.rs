//! Signature checking throughput on 4096 valid signatures (DSSE PAE messages of ~300 bytes, 16
//! distinct keys, keys decoded ahead as a long-lived node would have them).
//!
//! Compares raw ed25519-dalek `verify_batch` (batches of 64 and 256, 1 and 2 threads; not
//! exact, see `ledger_core::signing`) and `verify_strict` (1 and 2 threads) with
//! `verify_all` and `verify_all_parallel(2)`, plus the batch and individual methods on 128 and
//! 512 signatures (where batching starts to pay). Then the same 4096 messages signed by 4096
//! distinct keys (`distinct/`, as in an audit of many contracts, where no key signs twice in a
//! batch): raw `verify_batch` and the exact path, 1 and 2 threads. After criterion's output it
//! prints each median per signature and its ratio to the faster raw 2-thread `verify_batch` of
//! the same corpus in this same run.
//! Run: `cargo bench -p ledger-core --bench verify` (about a minute and a half).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use ledger_core::signing::{KeyCache, Method, SigCheck};

const SIGNATURES: usize = 4096;
const KEYS: usize = 16;
/// Prefix of the benchmarks over the corpus with one key per signature.
const DISTINCT: &str = "distinct/";
const PAYLOAD_TYPE: &str = "application/vnd.outcome-ledger.event.v1+json";

/// Seconds per signature of each benchmark, one entry per sample criterion took.
static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

struct Corpus {
    public_keys: Vec<[u8; 32]>,
    verifying_keys: Vec<VerifyingKey>,
    messages: Vec<Vec<u8>>,
    signatures: Vec<[u8; 64]>,
}

impl Corpus {
    /// The corpus signed by `keys` keys in turn.
    fn new(keys: usize) -> Self {
        let signers: Vec<SigningKey> = (0..keys)
            .map(|i| {
                let mut seed = [1u8; 32];
                seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
                SigningKey::from_bytes(&seed)
            })
            .collect();
        let mut corpus = Corpus {
            public_keys: Vec::new(),
            verifying_keys: Vec::new(),
            messages: Vec::new(),
            signatures: Vec::new(),
        };
        for i in 0..SIGNATURES {
            let signer = &signers[i % keys];
            let payload = format!(
                "{{\"at\":\"2026-03-01T12:00:00Z\",\"author\":\"{}\",\"body\":{{\"claim\":\
                 \"claim-{i:06}\",\"outcome\":\"sustained-employment-26w\",\"units\":{}}},\
                 \"contract\":\"sib-2026-{:03}\",\"kind\":\"claim_verified\",\"seq\":{i}}}",
                hex::encode(signer.verifying_key().as_bytes()),
                i % 7 + 1,
                i % 5
            );
            let message = proto::dsse::pae(PAYLOAD_TYPE, payload.as_bytes());
            corpus.signatures.push(signer.sign(&message).to_bytes());
            corpus.messages.push(message);
            corpus.public_keys.push(signer.verifying_key().to_bytes());
            corpus.verifying_keys.push(signer.verifying_key());
        }
        corpus
    }

    fn checks(&self) -> Vec<SigCheck<'_>> {
        (0..SIGNATURES)
            .map(|i| SigCheck {
                public_key: &self.public_keys[i],
                message: &self.messages[i],
                signature: &self.signatures[i],
            })
            .collect()
    }
}

/// Runs `work` on `threads` contiguous parts of `0..SIGNATURES` and returns whether all passed.
fn split(threads: usize, work: impl Fn(std::ops::Range<usize>) -> bool + Sync) -> bool {
    let part = SIGNATURES.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let work = &work;
                scope.spawn(move || work(t * part..((t + 1) * part).min(SIGNATURES)))
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    })
}

fn dalek_batch(corpus: &Corpus, range: std::ops::Range<usize>, batch: usize) -> bool {
    let signatures: Vec<Signature> = corpus.signatures[range.clone()]
        .iter()
        .map(Signature::from_bytes)
        .collect();
    let messages: Vec<&[u8]> = corpus.messages[range.clone()]
        .iter()
        .map(Vec::as_slice)
        .collect();
    let keys = &corpus.verifying_keys[range];
    signatures
        .chunks(batch)
        .zip(messages.chunks(batch))
        .zip(keys.chunks(batch))
        .all(|((s, m), k)| ed25519_dalek::verify_batch(m, s, k).is_ok())
}

fn dalek_strict(corpus: &Corpus, range: std::ops::Range<usize>) -> bool {
    range.into_iter().all(|i| {
        let signature = Signature::from_bytes(&corpus.signatures[i]);
        corpus.verifying_keys[i]
            .verify_strict(&corpus.messages[i], &signature)
            .is_ok()
    })
}

/// Registers one benchmark whose every sample is also kept for the ratio summary.
fn timed(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    work: impl Fn() -> bool,
) {
    let signatures = name
        .split('/')
        .next()
        .and_then(|size| size.parse::<f64>().ok())
        .unwrap_or(SIGNATURES as f64);
    assert!(work(), "{name}: every signature in the corpus is valid");
    group.bench_function(name, |bencher| {
        bencher.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                std::hint::black_box(work());
            }
            let elapsed = start.elapsed();
            let per_signature = elapsed.as_secs_f64() / iterations.max(1) as f64 / signatures;
            if let Ok(mut samples) = SAMPLES.lock() {
                samples
                    .entry(name.to_owned())
                    .or_default()
                    .push(per_signature);
            }
            elapsed
        })
    });
}

fn benches(criterion: &mut Criterion, corpus: &Corpus) {
    let checks = corpus.checks();
    let mut cache = KeyCache::new(KEYS);
    let _ = cache.verify_all(&checks); // keys decoded ahead, as in a running node
    let cache = Mutex::new(cache);
    let with_cache = |f: &dyn Fn(&mut KeyCache) -> Vec<bool>| {
        cache
            .lock()
            .map(|mut cache| f(&mut cache).iter().all(|&v| v))
            .unwrap_or(false)
    };
    let mut group = criterion.benchmark_group("verify_4096");
    group.throughput(Throughput::Elements(SIGNATURES as u64));
    for threads in [1, 2] {
        for batch in [64, 256] {
            timed(
                &mut group,
                &format!("dalek_verify_batch/{threads}t/b{batch}"),
                || split(threads, |range| dalek_batch(corpus, range, batch)),
            );
        }
        timed(
            &mut group,
            &format!("dalek_verify_strict/{threads}t"),
            || split(threads, |range| dalek_strict(corpus, range)),
        );
    }
    timed(&mut group, "verify_all/1t", || {
        with_cache(&|c| c.verify_all(&checks))
    });
    timed(&mut group, "verify_all_parallel/2t", || {
        with_cache(&|c| c.verify_all_parallel(&checks, 2))
    });
    group.finish();
    // Small inputs: where the batch's fixed cost stops paying (BATCH_SIGNATURES_MIN).
    for size in [128, 512] {
        let mut group = criterion.benchmark_group(format!("verify_{size}"));
        group.throughput(Throughput::Elements(size as u64));
        let checks = &checks[..size];
        for (label, method) in [("batch", Method::Batch), ("individual", Method::Individual)] {
            timed(&mut group, &format!("{size}/method_{label}/1t"), || {
                with_cache(&|c| c.verify_all_with(checks, method))
            });
        }
        group.finish();
    }
}

/// The exact path and its raw baseline over `corpus`, one key per signature.
fn distinct_key_benches(criterion: &mut Criterion, corpus: &Corpus) {
    let checks = corpus.checks();
    let mut cache = KeyCache::new(SIGNATURES);
    let _ = cache.verify_all(&checks); // keys decoded ahead, as in a running node
    let cache = Mutex::new(cache);
    let mut group = criterion.benchmark_group("verify_4096_distinct_keys");
    group.throughput(Throughput::Elements(SIGNATURES as u64));
    for threads in [1, 2] {
        timed(
            &mut group,
            &format!("{DISTINCT}dalek_verify_batch/{threads}t/b256"),
            || split(threads, |range| dalek_batch(corpus, range, 256)),
        );
        timed(
            &mut group,
            &format!("{DISTINCT}verify_all_parallel/{threads}t"),
            || {
                cache
                    .lock()
                    .map(|mut c| c.verify_all_parallel(&checks, threads).iter().all(|&v| v))
                    .unwrap_or(false)
            },
        );
    }
    group.finish();
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn print_summary() {
    let Ok(samples) = SAMPLES.lock() else { return };
    let medians: BTreeMap<&str, f64> = samples
        .iter()
        .map(|(name, values)| (name.as_str(), median(values)))
        .collect();
    let baseline = |prefix: &str| {
        ["dalek_verify_batch/2t/b64", "dalek_verify_batch/2t/b256"]
            .into_iter()
            .filter_map(|name| {
                let name = format!("{prefix}{name}");
                medians.get(name.as_str()).map(|&t| (name, t))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let (Some(shared), Some(distinct)) = (baseline(""), baseline(DISTINCT)) else {
        return;
    };
    println!(
        "\nsummary: medians per signature (~300-byte messages; {KEYS} keys, or one per signature \
         under {DISTINCT}); ratio = time / time of {} or {} (same run)",
        shared.0, distinct.0
    );
    println!(
        "{:<40} {:>9} {:>11} {:>7}",
        "benchmark", "us/sig", "sigs/s", "ratio"
    );
    for (name, time) in &medians {
        let baseline_time = if name.starts_with(DISTINCT) {
            distinct.1
        } else {
            shared.1
        };
        println!(
            "{name:<40} {:>9.2} {:>11.0} {:>7.2}",
            time * 1e6,
            1.0 / time,
            time / baseline_time
        );
    }
}

fn main() {
    let corpus = Corpus::new(KEYS);
    let distinct = Corpus::new(SIGNATURES);
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut criterion, &corpus);
    distinct_key_benches(&mut criterion, &distinct);
    criterion.final_summary();
    print_summary();
}
