//! Latency of GET requests from concurrent keep-alive clients, and a check that the node's
//! inclusion proofs verify.

use std::net::SocketAddr;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use ledger_core::merkle::{self, LeafIndex, TreeSize};
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::http::Connection;

/// Percentiles of one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats {
    pub(crate) requests: usize,
    pub(crate) clients: usize,
    pub(crate) p50: Duration,
    pub(crate) p90: Duration,
    pub(crate) p99: Duration,
    pub(crate) max: Duration,
    pub(crate) per_second: f64,
}

/// `requests` GETs split over `clients` threads, each on its own connection; `path` draws the
/// next path from the client's seeded generator (before the clock starts). Every answer must
/// be `200`.
pub(crate) fn run<F>(addr: SocketAddr, clients: usize, requests: usize, path: F) -> Result<Stats>
where
    F: Fn(&mut StdRng) -> String + Sync,
{
    let per_client = requests.div_ceil(clients);
    let barrier = Barrier::new(clients);
    let mut all: Vec<Duration> = Vec::with_capacity(per_client * clients);
    let elapsed = std::thread::scope(|scope| -> Result<Duration> {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (barrier, path) = (&barrier, &path);
                scope.spawn(move || client(addr, c, per_client, barrier, path))
            })
            .collect();
        let mut slowest = Duration::ZERO;
        for worker in workers {
            let (latencies, took) = worker.join().map_err(|_| anyhow!("a client panicked"))??;
            all.extend(latencies);
            slowest = slowest.max(took);
        }
        Ok(slowest)
    })?;
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Ok(Stats {
        requests: all.len(),
        clients,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: all[all.len() - 1],
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
    })
}

fn client<F>(
    addr: SocketAddr,
    seed: usize,
    requests: usize,
    barrier: &Barrier,
    path: &F,
) -> Result<(Vec<Duration>, Duration)>
where
    F: Fn(&mut StdRng) -> String,
{
    let mut rng = StdRng::seed_from_u64(0x5ca1e ^ seed as u64);
    let paths: Vec<String> = (0..requests).map(|_| path(&mut rng)).collect();
    let mut connection = Connection::open(addr)?;
    // One request first, so the connection is set up before the clock starts.
    connection.get("/healthz")?;
    let mut latencies = Vec::with_capacity(requests);
    barrier.wait();
    let started = Instant::now();
    for path in &paths {
        let sent = Instant::now();
        let answer = connection.get(path)?;
        latencies.push(sent.elapsed());
        if answer.status != 200 {
            bail!(
                "GET {path} answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
    }
    Ok((latencies, started.elapsed()))
}

/// Fetches `count` leaves through `GET /v1/log` and checks that their `GET
/// /v1/proof/inclusion` answers verify against the root of `GET /v1/node`.
pub(crate) fn check_proofs(addr: SocketAddr, size: u64, indexes: &[u64]) -> Result<()> {
    let mut connection = Connection::open(addr)?;
    let node: serde_json::Value = json(&connection.get("/v1/node")?.body)?;
    anyhow::ensure!(
        node["size"] == size,
        "the node holds {} events, not {size}",
        node["size"]
    );
    let root = hash(node["root"].as_str().unwrap_or_default())?;
    for &index in indexes {
        let page = connection.get(&format!("/v1/log?from={index}&limit=1"))?;
        let page: LogPage = serde_json::from_slice(&page.body).context("GET /v1/log answer")?;
        let event = page
            .events
            .first()
            .ok_or_else(|| anyhow!("no event at {index}"))?;
        let leaf = merkle::leaf_hash(event.envelope.get().as_bytes());
        let proof = connection.get(&format!("/v1/proof/inclusion?index={index}&size={size}"))?;
        let proof: serde_json::Value = json(&proof.body)?;
        let hashes = proof["hashes"]
            .as_array()
            .ok_or_else(|| anyhow!("proof without hashes"))?
            .iter()
            .map(|h| hash(h.as_str().unwrap_or_default()))
            .collect::<Result<Vec<_>>>()?;
        merkle::verify_inclusion(
            &leaf,
            LeafIndex::new(index),
            TreeSize::new(size),
            &hashes,
            &root,
        )
        .map_err(|e| anyhow!("the inclusion proof of {index} does not verify: {e}"))?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct LogPage {
    events: Vec<LogEvent>,
}

#[derive(serde::Deserialize)]
struct LogEvent {
    envelope: Box<serde_json::value::RawValue>,
}

fn json(body: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(body).context("an answer is not JSON")
}

fn hash(text: &str) -> Result<merkle::Hash> {
    let bytes: [u8; 32] = hex::decode(text)?
        .try_into()
        .map_err(|_| anyhow!("{text:?} is not a 32-byte hash"))?;
    Ok(merkle::Hash::from_bytes(bytes))
}
