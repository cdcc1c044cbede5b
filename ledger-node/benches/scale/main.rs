//! The node at scale: the real `ledger-node` binary holding `LEDGER_SCALE_EVENTS` (default
//! 10^6) valid signed events over many contracts, loaded through `POST /v1/events`. It
//! measures, in one run:
//!
//! - the node process's memory (`/proc/PID/status` VmRSS, RssAnon, VmHWM) empty, while
//!   loading, after loading, after the read runs, and after a restart (open check and replay)
//!   with the same reads again;
//! - the data directory's size on disk;
//! - latency of `GET /v1/proof/inclusion?index=&size=` at random indexes of the whole log,
//!   `GET /v1/proof/consistency?from=&to=` from a random size to the whole log, `GET
//!   /v1/events/{id}` at random events and `GET /v1/log?from=&limit=1` (an event by index),
//!   from 1 and from 8 concurrent keep-alive clients,
//!   beside `GET /healthz` (the same HTTP round trip with no store work) measured the same way;
//! - and it checks that sampled proofs verify against the node's root.
//!
//! The corpus is generated once and cached under the target directory (`ledger-scale/`).
//! Settings (environment): `LEDGER_SCALE_EVENTS` (events), `LEDGER_SCALE_REQUESTS` (requests
//! per latency run, default 20000), `LEDGER_SCALE_REUSE=1` (serve the data directory a
//! previous run kept instead of loading again), `LEDGER_SCALE_KEEP=1` (keep the data
//! directory). The node reads its own `LEDGER_*` settings from the environment as usual.
//!
//! Run: `cargo bench -p ledger-node --bench scale`. Not a test: it prints figures and ratios,
//! and stops by itself (every wait has a deadline).

mod corpus;
mod http;
mod latency;
mod load;
mod process;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rand::Rng;

use latency::Stats;
use process::{Memory, NodeProcess};

/// Corpus files, and so concurrent loaders.
const LOADERS: usize = 4;
/// Envelopes per `POST /v1/events` (the node's default `events_per_request_max`).
const BATCH: usize = 256;
/// Concurrent clients of the second latency run of each endpoint.
const CLIENTS: usize = 8;
/// Proofs checked against the root after each start.
const PROOFS_CHECKED: usize = 32;
/// Latency runs per phase and client count: `GET /healthz` (the baseline) first, then the
/// endpoints compared with it.
const RUNS: usize = 5;

/// Draws the path of the next request of a latency run.
type PathFn<'a> = Box<dyn Fn(&mut rand::rngs::StdRng) -> String + Sync + 'a>;

struct Settings {
    events: u64,
    requests: usize,
    reuse: bool,
    keep: bool,
}

impl Settings {
    fn from_env() -> Result<Self> {
        let number = |name: &str, default: u64| -> Result<u64> {
            match std::env::var(name) {
                Ok(text) => text
                    .trim()
                    .parse()
                    .with_context(|| format!("{name}={text:?}")),
                Err(_) => Ok(default),
            }
        };
        let flag = |name: &str| std::env::var(name).is_ok_and(|v| v == "1");
        Ok(Self {
            events: number("LEDGER_SCALE_EVENTS", 1_000_000)?.max(1),
            requests: usize::try_from(number("LEDGER_SCALE_REQUESTS", 20_000)?.max(1))?,
            reuse: flag("LEDGER_SCALE_REUSE"),
            keep: flag("LEDGER_SCALE_KEEP"),
        })
    }
}

/// Everything printed at the end.
#[derive(Default)]
struct Report {
    rows: Vec<(String, String)>,
    latency: Vec<(String, Stats)>,
}

impl Report {
    fn row(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        eprintln!("  {name}: {value}");
        self.rows.push((name, value));
    }

    fn memory(&mut self, when: &str, memory: Memory) {
        self.row(
            format!("node memory {when}"),
            format!(
                "RSS {} MiB (anon {} MiB), peak (VmHWM) {} MiB",
                mib(memory.rss_bytes),
                mib(memory.anon_bytes),
                mib(memory.hwm_bytes)
            ),
        );
    }
}

fn main() -> Result<()> {
    let settings = Settings::from_env()?;
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ledger-scale");
    let mut report = Report::default();
    report.row("load average at start", process::load_average());
    let started = Instant::now();
    let corpus = corpus::load_or_generate(&work.join("corpus"), settings.events, LOADERS)?;
    report.row(
        "corpus",
        format!(
            "{} events over {} contracts, {} in {:.1} s",
            settings.events,
            corpus.contracts,
            if corpus.generated {
                "generated"
            } else {
                "read from the cache"
            },
            started.elapsed().as_secs_f64()
        ),
    );
    let data = work.join(format!("node-{}", settings.events));
    let log = work.join(format!("node-{}.log", settings.events));
    if !(settings.reuse && data.is_dir()) {
        remove_dir(&data)?;
        std::fs::create_dir_all(&data)?;
        first_start(&data, &log, &corpus, &settings, &mut report)?;
    }
    second_start(&data, &log, &corpus, &settings, &mut report)?;
    report.row("load average at end", process::load_average());
    if !settings.keep {
        remove_dir(&data)?;
    }
    print_report(&report, settings.events);
    Ok(())
}

/// A fresh node: load the corpus, measure, read, measure, stop.
fn first_start(
    data: &Path,
    log: &Path,
    corpus: &corpus::Corpus,
    settings: &Settings,
    report: &mut Report,
) -> Result<()> {
    let node = NodeProcess::start(data, log, &[])?;
    report.memory("empty", node.memory()?);
    eprintln!("loading {} events over HTTP...", settings.events);
    let loaded = load::load(&node, &corpus.files, BATCH, settings.events)?;
    report.row(
        format!("load over HTTP ({LOADERS} clients, {BATCH} events/request)"),
        format!(
            "{} events in {:.1} s: {:.0} events/s; RSS peak sampled while loading {} MiB",
            loaded.events,
            loaded.elapsed.as_secs_f64(),
            loaded.events as f64 / loaded.elapsed.as_secs_f64(),
            mib(loaded.rss_peak_bytes)
        ),
    );
    report.memory("after load", node.memory()?);
    disk(report, "data directory after load", data)?;
    reads(&node, corpus, settings, "after load", report)?;
    report.memory("after load and reads", node.memory()?);
    let stopped = node.terminate()?;
    report.row(
        "graceful shutdown (SIGTERM to exit)",
        format!("{:.2} s", stopped.as_secs_f64()),
    );
    disk(report, "data directory after shutdown", data)
}

/// The node started again on the same store: open time, memory, the same reads.
fn second_start(
    data: &Path,
    log: &Path,
    corpus: &corpus::Corpus,
    settings: &Settings,
    report: &mut Report,
) -> Result<()> {
    let node = NodeProcess::start(data, log, &[])?;
    report.row(
        "restart: spawn to listening (open check, projections, replay)",
        format!("{:.2} s", node.started_in.as_secs_f64()),
    );
    report.memory("after restart", node.memory()?);
    reads(&node, corpus, settings, "after restart", report)?;
    report.memory("after restart and reads", node.memory()?);
    node.terminate()?;
    Ok(())
}

/// Proof checks, then healthz, inclusion and consistency proofs, events by id and by index
/// from 1 and from 8 clients.
fn reads(
    node: &NodeProcess,
    corpus: &corpus::Corpus,
    settings: &Settings,
    when: &str,
    report: &mut Report,
) -> Result<()> {
    let size = settings.events;
    let mut rng = rand::thread_rng();
    let sample: Vec<u64> = (0..PROOFS_CHECKED)
        .map(|_| rng.gen_range(0..size))
        .collect();
    latency::check_proofs(node.addr, size, &sample)?;
    report.row(
        format!("proofs checked {when}"),
        format!("{PROOFS_CHECKED} verify against the root"),
    );
    let ids = &corpus.ids;
    for clients in [1, CLIENTS] {
        let requests = settings.requests;
        let runs: [(&str, PathFn<'_>); RUNS] = [
            ("GET /healthz", Box::new(|_| "/healthz".to_owned())),
            (
                "GET /v1/proof/inclusion",
                Box::new(move |r| {
                    format!(
                        "/v1/proof/inclusion?index={}&size={size}",
                        r.gen_range(0..size)
                    )
                }),
            ),
            (
                "GET /v1/proof/consistency",
                Box::new(move |r| {
                    format!(
                        "/v1/proof/consistency?from={}&to={size}",
                        r.gen_range(1..=size)
                    )
                }),
            ),
            (
                "GET /v1/events/{id}",
                Box::new(|r| format!("/v1/events/{}", ids[r.gen_range(0..ids.len())])),
            ),
            (
                "GET /v1/log?from=&limit=1",
                Box::new(move |r| format!("/v1/log?from={}&limit=1", r.gen_range(0..size))),
            ),
        ];
        for (name, path) in runs {
            let stats = latency::run(node.addr, clients, requests, &path)?;
            eprintln!(
                "  {when}: {name}, {clients} client(s): {}",
                describe(&stats)
            );
            report.latency.push((format!("{name} ({when})"), stats));
        }
    }
    Ok(())
}

fn disk(report: &mut Report, name: &str, dir: &Path) -> Result<()> {
    let (apparent, allocated) = process::dir_size(dir)?;
    report.row(
        name,
        format!(
            "{} MiB apparent, {} MiB allocated",
            mib(apparent),
            mib(allocated)
        ),
    );
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn describe(stats: &Stats) -> String {
    format!(
        "p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {:.0} req/s",
        ms(stats.p50),
        ms(stats.p90),
        ms(stats.p99),
        ms(stats.max),
        stats.per_second
    )
}

fn print_report(report: &Report, events: u64) {
    println!("\nledger-node at {events} events\n");
    println!("| measurement | figure |\n| --- | --- |");
    for (name, value) in &report.rows {
        println!("| {name} | {value} |");
    }
    println!("\n| request | clients | requests | p50 ms | p90 ms | p99 ms | max ms | req/s |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, s) in &report.latency {
        println!(
            "| {name} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.0} |",
            s.clients,
            s.requests,
            ms(s.p50),
            ms(s.p90),
            ms(s.p99),
            ms(s.max),
            s.per_second
        );
    }
    println!("\nratios to GET /healthz from the same clients in the same phase (p50, p99):");
    for chunk in report.latency.chunks(RUNS) {
        if let [(_, health), rest @ ..] = chunk {
            for (name, s) in rest {
                println!(
                    "  {name}, {} client(s): {:.2}x, {:.2}x",
                    s.clients,
                    ms(s.p50) / ms(health.p50),
                    ms(s.p99) / ms(health.p99)
                );
            }
        }
    }
}
