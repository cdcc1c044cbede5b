//! DST-lite: a seeded, deterministic simulation of the writer and the store under injected
//! faults (cfg(test) only).
//!
//! Each seed drives the real apply path ([`crate::open::open`] with the sled store behind a
//! faulty [`crate::append::Durable`], appends through [`crate::service::Node::append`], stream
//! batches through [`crate::append::Writer::apply_stream`]) over a seeded schedule of failed
//! writes, failed flushes, crashes at each point of a commit group's write and reordered,
//! duplicated or gapped stream deliveries, and checks ARCHITECTURE.md's invariants after every
//! step ([`invariants`]). Time is tokio's paused clock, advanced by the schedule only.
//!
//! - `cargo test -p ledger-node --lib sim` runs [`SEEDS_DEFAULT`] seeds of each scenario;
//! - `LEDGER_SIM_SEEDS=N` runs N seeds (from `LEDGER_SIM_FIRST_SEED`, default 0);
//! - `LEDGER_SIM_SEED=S` replays seed S alone.
//!
//! A failure names the scenario, the seed and the step.
//!
//! The models: [`faulty_store`] (failed writes and crash images), [`crash`] (stopping and
//! reopening a node on what its disk holds), [`workload`] (valid and invalid signed events
//! with what each must meet), [`stream`] (what a JetStream consumer hands the writer) and the
//! two scenarios, [`standalone`] and [`replicated`].

mod crash;
mod faulty_store;
mod invariants;
mod replicated;
mod standalone;
mod stream;
mod workload;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Seeds of each scenario `cargo test` runs.
const SEEDS_DEFAULT: u64 = 40;

/// A broken invariant, with the step it was found after.
#[derive(Debug)]
pub(super) struct Violation {
    pub(super) step: usize,
    pub(super) message: String,
}

/// What an invariant check returns: the message says what differs.
pub(super) type Check = Result<(), String>;

/// The step a scenario is at, for a panic's report.
#[derive(Clone, Default)]
pub(super) struct StepCounter(Arc<AtomicUsize>);

impl StepCounter {
    pub(super) fn set(&self, step: usize) {
        self.0.store(step, Ordering::SeqCst);
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.parse() {
        Ok(value) => Some(value),
        Err(e) => panic!("{name}={text:?} is not a number: {e}"),
    }
}

/// The seeds to run: `LEDGER_SIM_SEED` alone, or `LEDGER_SIM_SEEDS` (default
/// [`SEEDS_DEFAULT`]) from `LEDGER_SIM_FIRST_SEED`.
fn seeds() -> std::ops::Range<u64> {
    if let Some(seed) = env_u64("LEDGER_SIM_SEED") {
        return seed..seed.saturating_add(1);
    }
    let first = env_u64("LEDGER_SIM_FIRST_SEED").unwrap_or(0);
    let count = env_u64("LEDGER_SIM_SEEDS").unwrap_or(SEEDS_DEFAULT);
    first..first.saturating_add(count)
}

/// The runtime of one seed: one thread, the clock paused (it moves only when the schedule
/// advances it), blocking work on tokio's blocking threads as in the node.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("cannot build the simulation runtime: {e}"))
}

/// Runs `scenario` for every seed; panics naming the first seed and step that fail.
fn run_seeds<F, Fut>(name: &str, scenario: F)
where
    F: Fn(u64, StepCounter) -> Fut,
    Fut: std::future::Future<Output = Result<Summary, Violation>>,
{
    let started = std::time::Instant::now();
    let mut total = Summary::default();
    for seed in seeds() {
        let steps = StepCounter::default();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime().block_on(scenario(seed, steps.clone()))
        }));
        let replay =
            format!("replay: LEDGER_SIM_SEED={seed} cargo test -p ledger-node --lib sim::{name}");
        match outcome {
            Ok(Ok(summary)) => total.add(&summary),
            Ok(Err(v)) => panic!(
                "simulation {name} failed: seed {seed}, step {}: {}\n{replay}",
                v.step, v.message
            ),
            Err(_) => panic!(
                "simulation {name} panicked: seed {seed}, step {} (the panic is printed above)\n{replay}",
                steps.get()
            ),
        }
    }
    eprintln!(
        "simulation {name}: seeds {:?}, {} steps, {} events admitted, {} refused, {} faults \
         ({} crashes), {:.1} s",
        seeds(),
        total.steps,
        total.admitted,
        total.refused,
        total.faults,
        total.crashes,
        started.elapsed().as_secs_f64()
    );
}

/// What a seed did, for the report of a campaign.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Summary {
    pub(super) steps: u64,
    pub(super) admitted: u64,
    pub(super) refused: u64,
    pub(super) faults: u64,
    pub(super) crashes: u64,
}

impl Summary {
    fn add(&mut self, other: &Summary) {
        self.steps += other.steps;
        self.admitted += other.admitted;
        self.refused += other.refused;
        self.faults += other.faults;
        self.crashes += other.crashes;
    }
}

#[test]
fn standalone_writer_under_faults_keeps_the_invariants() {
    run_seeds("standalone", standalone::run);
}

#[test]
fn replicated_stream_under_faults_keeps_the_invariants() {
    run_seeds("replicated", replicated::run);
}
