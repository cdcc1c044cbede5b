//! Replicated ingest over NATS JetStream, beside raw JetStream publishing measured in the same
//! run against the same server:
//!
//! - raw: pipelined JetStream publishes (a window of outstanding acknowledgements) of
//!   envelope-sized messages with a `Nats-Msg-Id` each, to a scratch stream of one replica on
//!   file storage, as the ledger's events stream: the floor of an ordered, durable write;
//! - ledger: three nodes in this process join one ledger (three data directories, three NATS
//!   connections); concurrent clients append through all three nodes, one envelope per
//!   request, then 64 per request. Every event is judged, published with its expected subject
//!   sequence, and applied (verified, stored, flushed) by all three nodes. Events per second as
//!   acknowledged by the node the client used, and request p50/p99;
//! - lag: clients paced at half the one-envelope rate; for every event, the time from its
//!   acknowledgement (publisher applied it) until each other node has applied it, and the
//!   time from the request until all three have (visible everywhere). p50/p99;
//! - the same clients against one standalone node (no NATS), the ceiling of one node's
//!   judge-and-store path that each of the three replicas runs for every event;
//! - catch-up: a fourth node on an empty data directory applies the whole stream;
//! - CPU: this process's CPU time per event in each ingest run (Linux, from `/proc/self/stat`;
//!   the clients' work is in it, the NATS server's is not), so replicated ingest can be set
//!   against the standalone node's judge-and-store times the number of replicas.
//!
//! Run: `cargo bench -p ledger-node --bench replication` with a JetStream server at
//! `LEDGER_BENCH_NATS` (default `nats://127.0.0.1:4222`). The run creates streams named after
//! its process id and deletes them at the end. Not a test: it prints figures and ratios.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, context::Publish, stream};
use ledger_node::config::{Config, Settings};
use ledger_node::service::{NoObserver, Node, Observer};
use tokio::sync::Mutex;

#[path = "common/workload.rs"]
mod workload;
use workload::contract_stream;

const RAW_MESSAGES: usize = 20_000;
const RAW_WINDOW: usize = 256;
const NODES: usize = 3;
const CLIENTS: usize = 24;
const EVENTS_PER_CLIENT: usize = 200;
const LAG_SECONDS: f64 = 10.0;

fn main() -> anyhow::Result<()> {
    let url = std::env::var("LEDGER_BENCH_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let run = format!("bench{}", std::process::id());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let envelope_bytes = contract_stream("size-probe", 2)[1].len();
        let raw = raw_publish(&url, &run, envelope_bytes).await?;
        println!(
            "raw JetStream publish, window {RAW_WINDOW}, {envelope_bytes}-byte messages with Nats-Msg-Id, R1 file: {raw:.0} messages/s"
        );
        let alone = open_standalone().await?;
        let mut alone_rates = Vec::new();
        for per_request in [1usize, 64] {
            let ingest = ingest(std::slice::from_ref(&alone), per_request).await?;
            println!(
                "standalone node, {CLIENTS} clients, {per_request} event(s)/request: {:.0} events/s, request p50 {:.2} ms, p99 {:.2} ms; CPU {}; {}",
                ingest.rate,
                ms(ingest.p50),
                ms(ingest.p99),
                cpu_text(ingest.cpu_per_event),
                ingest.groups
            );
            alone_rates.push((ingest.rate, ingest.cpu_per_event));
        }
        alone.node.shutdown().await;
        let nodes = open_nodes(&url, &run).await?;
        let mut one_rate = 0.0;
        for (per_request, (alone_rate, alone_cpu)) in [1usize, 64].into_iter().zip(alone_rates) {
            let ingest = ingest(&nodes, per_request).await?;
            let cpu_ratio = match (ingest.cpu_per_event, alone_cpu) {
                (Some(replicated), Some(alone)) if alone > Duration::ZERO => {
                    format!("{:.2}", replicated.as_secs_f64() / alone.as_secs_f64())
                }
                _ => "n/a".to_owned(),
            };
            println!(
                "replicated ingest, {NODES} nodes, {CLIENTS} clients, {per_request} event(s)/request: {:.0} events/s, request p50 {:.2} ms, p99 {:.2} ms; CPU {} ({cpu_ratio} x the standalone node's); {}; ratio to raw publish {:.3}, to the standalone node {:.3}",
                ingest.rate,
                ms(ingest.p50),
                ms(ingest.p99),
                cpu_text(ingest.cpu_per_event),
                ingest.groups,
                ingest.rate / raw,
                ingest.rate / alone_rate
            );
            if per_request == 1 {
                one_rate = ingest.rate;
            }
        }
        let lag = lag(&nodes, one_rate / 2.0).await?;
        println!(
            "lag at {:.0} events/s (half the 1-event rate), {} events: follower lag after the ack p50 {:.2} ms, p99 {:.2} ms; request to visible on all {NODES} nodes p50 {:.2} ms, p99 {:.2} ms",
            one_rate / 2.0,
            lag.events,
            ms(lag.follower_p50),
            ms(lag.follower_p99),
            ms(lag.all_p50),
            ms(lag.all_p99)
        );
        let (events, rate) = catch_up(&url, &run, &nodes[0].node).await?;
        println!("catch-up: a new node applies the stream's {events} events at {rate:.0} events/s");
        for node in &nodes {
            node.node.shutdown().await;
        }
        cleanup(&url, &run).await
    })
}

/// This process's CPU time (user + system) so far, from `/proc/self/stat` (Linux; `None`
/// elsewhere). Its fields 14 and 15 count clock ticks of 1/100 s (Linux's fixed `USER_HZ`).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}

fn cpu_text(per_event: Option<Duration>) -> String {
    per_event.map_or_else(
        || "n/a".to_owned(),
        |cpu| format!("{:.0} us/event", cpu.as_secs_f64() * 1e6),
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let at = ((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(at).copied().unwrap_or_default()
}

/// Pipelined publishes to a scratch stream: messages per second.
async fn raw_publish(url: &str, run: &str, bytes: usize) -> anyhow::Result<f64> {
    let client = async_nats::connect(url)
        .await
        .context("connecting to NATS")?;
    let context = jetstream::new(client);
    context
        .create_stream(stream::Config {
            name: format!("{run}-raw"),
            subjects: vec![format!("{run}.raw.*")],
            storage: stream::StorageType::File,
            ..stream::Config::default()
        })
        .await?;
    let payload = vec![b'x'; bytes];
    let started = Instant::now();
    let mut window = VecDeque::with_capacity(RAW_WINDOW);
    for n in 0..RAW_MESSAGES {
        let publish = Publish::build()
            .payload(payload.clone().into())
            .message_id(format!("{run}-{n}"));
        let subject = format!("{run}.raw.c{}", n % CLIENTS);
        window.push_back(context.send_publish(subject, publish).await?);
        if window.len() >= RAW_WINDOW {
            if let Some(ack) = window.pop_front() {
                ack.await?;
            }
        }
    }
    for ack in window {
        ack.await?;
    }
    Ok(RAW_MESSAGES as f64 / started.elapsed().as_secs_f64())
}

/// A node of the benchmark ledger and when its log grew.
/// Commit groups of every bench node (the catch-up node's excepted): how many, how many events
/// in them, and how long their flushes took.
#[derive(Default)]
struct Groups {
    groups: AtomicU64,
    events: AtomicU64,
    flush_us: AtomicU64,
}

static GROUPS: std::sync::LazyLock<Arc<Groups>> = std::sync::LazyLock::new(Arc::default);

impl Observer for Groups {
    fn appended(&self, _count: u64) {}
    fn refused(&self, _code: &'static str) {}
    fn flushed(&self, events: usize, flush: Duration) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events as u64, Ordering::Relaxed);
        let us = u64::try_from(flush.as_micros()).unwrap_or(u64::MAX);
        self.flush_us.fetch_add(us, Ordering::Relaxed);
    }
    fn log_size(&self, _size: u64) {}
}

impl Groups {
    fn snapshot(&self) -> [u64; 3] {
        [&self.groups, &self.events, &self.flush_us].map(|c| c.load(Ordering::Relaxed))
    }
}

/// Commit groups between two snapshots: "N groups of E events on average, flush F ms".
fn groups_text(before: [u64; 3], after: [u64; 3]) -> String {
    let [groups, events, flush_us] = [0, 1, 2].map(|i| after[i].saturating_sub(before[i]));
    let per = |total: u64| total as f64 / groups.max(1) as f64;
    format!(
        "{groups} commit groups of {:.1} events, flush {:.2} ms on average",
        per(events),
        per(flush_us) / 1e3
    )
}

struct BenchNode {
    node: Node,
    _dir: tempfile::TempDir,
    growth: Arc<Mutex<Vec<(Instant, u64)>>>,
}

async fn open_nodes(url: &str, run: &str) -> anyhow::Result<Vec<BenchNode>> {
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        let dir = tempfile::tempdir()?;
        let settings = Settings {
            data_dir: Some(dir.path().to_owned()),
            nats: Some(url.to_owned()),
            ledger: Some(run.to_owned()),
            ..Settings::default()
        };
        let node = Node::open(&Config::resolve(settings)?, Arc::clone(&GROUPS) as _).await?;
        let growth = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(watch_growth(node.clone(), Arc::clone(&growth)));
        nodes.push(BenchNode {
            node,
            _dir: dir,
            growth,
        });
    }
    for node in &nodes {
        wait_ready(&node.node).await?;
    }
    Ok(nodes)
}

async fn open_standalone() -> anyhow::Result<BenchNode> {
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        data_dir: Some(dir.path().to_owned()),
        ..Settings::default()
    };
    let node = Node::open(&Config::resolve(settings)?, Arc::clone(&GROUPS) as _).await?;
    Ok(BenchNode {
        node,
        _dir: dir,
        growth: Arc::new(Mutex::new(Vec::new())),
    })
}

/// A new node on an empty directory follows the ledger until it holds what `reference`
/// holds: events, and events per second.
async fn catch_up(url: &str, run: &str, reference: &Node) -> anyhow::Result<(u64, f64)> {
    let target = reference.info().log_size;
    let dir = tempfile::tempdir()?;
    let settings = Settings {
        data_dir: Some(dir.path().to_owned()),
        nats: Some(url.to_owned()),
        ledger: Some(run.to_owned()),
        ..Settings::default()
    };
    let started = Instant::now();
    let node = Node::open(&Config::resolve(settings)?, Arc::new(NoObserver)).await?;
    let mut size = 0;
    while size < target {
        let grown = node.log_size_above(size).await;
        anyhow::ensure!(grown > size, "the new node stopped at {size} events");
        size = grown;
    }
    let rate = target as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(
        node.info().root == reference.info().root,
        "the new node's root differs"
    );
    node.shutdown().await;
    Ok((target, rate))
}

async fn wait_ready(node: &Node) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.replication_status().map(|s| s.state) != Some("ready") {
        anyhow::ensure!(Instant::now() < deadline, "a node did not join the ledger");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Records every growth of the node's log, with its time.
async fn watch_growth(node: Node, growth: Arc<Mutex<Vec<(Instant, u64)>>>) {
    let mut size = node.info().log_size;
    loop {
        let grown = node.log_size_above(size).await;
        if grown == size {
            return;
        }
        size = grown;
        growth.lock().await.push((Instant::now(), size));
    }
}

struct Ingest {
    rate: f64,
    /// This process's CPU time per event over the run.
    cpu_per_event: Option<Duration>,
    /// The nodes' commit groups during the run.
    groups: String,
    p50: Duration,
    p99: Duration,
}

/// Clients append through all three nodes (client c through node c mod 3) as fast as they are
/// answered.
async fn ingest(nodes: &[BenchNode], per_request: usize) -> anyhow::Result<Ingest> {
    let streams: Vec<Vec<Vec<u8>>> = (0..CLIENTS)
        .map(|c| contract_stream(&format!("ingest-{per_request}-{c}"), EVENTS_PER_CLIENT))
        .collect();
    let started = Instant::now();
    let cpu_before = cpu_time();
    let groups_before = GROUPS.snapshot();
    let mut tasks = Vec::new();
    for (c, stream) in streams.into_iter().enumerate() {
        let node = nodes[c % nodes.len()].node.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (first, rest) = stream.split_at(1);
            for chunk in std::iter::once(first).chain(rest.chunks(per_request)) {
                let sent = Instant::now();
                let answers = node.append(chunk.to_vec()).await;
                latencies.push(sent.elapsed());
                if let Some(Err(e)) = answers.into_iter().find(Result::is_err) {
                    anyhow::bail!("benchmark event refused: {e}");
                }
            }
            Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let events = CLIENTS * EVENTS_PER_CLIENT;
    let rate = events as f64 / started.elapsed().as_secs_f64();
    let cpu_per_event = match (cpu_before, cpu_time()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) / events as u32),
        _ => None,
    };
    latencies.sort_unstable();
    Ok(Ingest {
        rate,
        cpu_per_event,
        groups: groups_text(groups_before, GROUPS.snapshot()),
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
    })
}

struct Lag {
    events: usize,
    follower_p50: Duration,
    follower_p99: Duration,
    all_p50: Duration,
    all_p99: Duration,
}

/// One acknowledged event of the lag run.
struct Acked {
    index: u64,
    node: usize,
    sent: Instant,
    acked: Instant,
}

/// Paced clients at `rate` events/s in all; lag of every event on the other nodes.
async fn lag(nodes: &[BenchNode], rate: f64) -> anyhow::Result<Lag> {
    let per_client = ((rate * LAG_SECONDS) as usize / CLIENTS).max(2);
    let interval = Duration::from_secs_f64(CLIENTS as f64 / rate.max(1.0));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let node = nodes[c % NODES].node.clone();
        let stream = contract_stream(&format!("lag-{c}"), per_client);
        let offset = interval.mul_f64(c as f64 / CLIENTS as f64);
        tasks.push(tokio::spawn(async move {
            let start = tokio::time::Instant::now() + offset;
            let mut acked = Vec::new();
            for (k, envelope) in stream.into_iter().enumerate() {
                tokio::time::sleep_until(start + interval.mul_f64(k as f64)).await;
                let sent = Instant::now();
                let answer = node.append(vec![envelope]).await.pop();
                let appended = answer.context("no answer")??;
                acked.push(Acked {
                    index: appended.index,
                    node: c % NODES,
                    sent,
                    acked: Instant::now(),
                });
            }
            anyhow::Ok(acked)
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await??);
    }
    let last = acked.iter().map(|a| a.index).max().unwrap_or(0);
    for node in nodes {
        let size = node.node.log_size_above(last).await;
        anyhow::ensure!(size > last, "a node stopped");
        // Its growth recorder sees the same change on its own task.
        let deadline = Instant::now() + Duration::from_secs(10);
        while node.growth.lock().await.last().map_or(0, |g| g.1) <= last {
            anyhow::ensure!(Instant::now() < deadline, "growth not recorded");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    measure_lag(nodes, &acked).await
}

async fn measure_lag(nodes: &[BenchNode], acked: &[Acked]) -> anyhow::Result<Lag> {
    let mut growths = Vec::new();
    for node in nodes {
        growths.push(node.growth.lock().await.clone());
    }
    // When a node first held more than `index` events.
    let applied = |growth: &[(Instant, u64)], index: u64| {
        let at = growth.partition_point(|(_, size)| *size <= index);
        growth.get(at).map(|(time, _)| *time)
    };
    let mut follower = Vec::new();
    let mut everywhere = Vec::new();
    for event in acked {
        let mut last_applied = event.acked;
        for (n, growth) in growths.iter().enumerate() {
            let time = applied(growth, event.index).context("an event never applied")?;
            if n != event.node {
                follower.push(time.saturating_duration_since(event.acked));
            }
            last_applied = last_applied.max(time);
        }
        everywhere.push(last_applied.duration_since(event.sent));
    }
    follower.sort_unstable();
    everywhere.sort_unstable();
    Ok(Lag {
        events: acked.len(),
        follower_p50: quantile(&follower, 0.50),
        follower_p99: quantile(&follower, 0.99),
        all_p50: quantile(&everywhere, 0.50),
        all_p99: quantile(&everywhere, 0.99),
    })
}

async fn cleanup(url: &str, run: &str) -> anyhow::Result<()> {
    let context = jetstream::new(async_nats::connect(url).await?);
    for name in [
        format!("{run}-raw"),
        format!("ledger-{run}-events"),
        format!("ledger-{run}-cosign"),
    ] {
        context.delete_stream(&name).await?;
    }
    Ok(())
}
