//! Loading the corpus through `POST /v1/events`: one thread per corpus file, each posting
//! arrays of envelopes over its own keep-alive connection and checking every result.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::corpus;
use crate::http::Connection;
use crate::process::NodeProcess;

/// What loading took.
pub(crate) struct LoadReport {
    pub(crate) events: u64,
    pub(crate) elapsed: Duration,
    /// Highest resident set sampled while loading.
    pub(crate) rss_peak_bytes: u64,
}

/// Posts every file's envelopes, `batch` per request, while sampling the node's memory.
pub(crate) fn load(
    node: &NodeProcess,
    files: &[PathBuf],
    batch: usize,
    total: u64,
) -> Result<LoadReport> {
    let posted = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let addr = node.addr;
    let mut rss_peak_bytes = 0u64;
    std::thread::scope(|scope| -> Result<()> {
        let loaders: Vec<_> = files
            .iter()
            .map(|file| {
                let posted = &posted;
                scope.spawn(move || load_file(addr, file, batch, posted))
            })
            .collect();
        let watcher = scope.spawn(|| {
            let mut peak = 0u64;
            let mut last_print = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                if let Ok(memory) = node.memory() {
                    peak = peak.max(memory.rss_bytes);
                    if last_print.elapsed() >= Duration::from_secs(15) {
                        last_print = Instant::now();
                        let n = posted.load(Ordering::Relaxed);
                        eprintln!(
                            "  loaded {n}/{total} events, {:.0} events/s, node RSS {} MiB",
                            n as f64 / started.elapsed().as_secs_f64(),
                            memory.rss_bytes >> 20
                        );
                    }
                }
            }
            peak
        });
        let mut outcome = Ok(());
        for loader in loaders {
            let joined = loader.join().map_err(|_| anyhow!("a loader panicked"));
            if outcome.is_ok() {
                outcome = joined.and_then(|r| r);
            }
        }
        done.store(true, Ordering::Relaxed);
        rss_peak_bytes = watcher
            .join()
            .map_err(|_| anyhow!("the watcher panicked"))?;
        outcome
    })?;
    Ok(LoadReport {
        events: posted.into_inner(),
        elapsed: started.elapsed(),
        rss_peak_bytes,
    })
}

fn load_file(
    addr: SocketAddr,
    file: &std::path::Path,
    batch: usize,
    posted: &AtomicU64,
) -> Result<()> {
    let mut connection = Connection::open(addr)?;
    let mut pending: Vec<Vec<u8>> = Vec::with_capacity(batch);
    corpus::for_each_envelope(file, |envelope| {
        pending.push(envelope);
        if pending.len() == batch {
            post(&mut connection, &pending)?;
            posted.fetch_add(pending.len() as u64, Ordering::Relaxed);
            pending.clear();
        }
        Ok(())
    })?;
    if !pending.is_empty() {
        post(&mut connection, &pending)?;
        posted.fetch_add(pending.len() as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Posts one array and checks that every envelope was appended.
fn post(connection: &mut Connection, envelopes: &[Vec<u8>]) -> Result<()> {
    let size: usize = envelopes.iter().map(|e| e.len() + 1).sum();
    let mut body = Vec::with_capacity(size + 2);
    body.push(b'[');
    for (i, envelope) in envelopes.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(envelope);
    }
    body.push(b']');
    let answer = connection.post_json("/v1/events", &body)?;
    if answer.status != 200 {
        bail!(
            "POST /v1/events answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }
    let value: serde_json::Value =
        serde_json::from_slice(&answer.body).context("POST /v1/events answer is not JSON")?;
    let results = value["results"]
        .as_array()
        .ok_or_else(|| anyhow!("POST /v1/events answer has no results"))?;
    if value["errors"] != serde_json::Value::Bool(false) || results.len() != envelopes.len() {
        let refused = results.iter().find(|r| r["status"] != 201);
        bail!("the node refused a corpus event: {refused:?}");
    }
    Ok(())
}
