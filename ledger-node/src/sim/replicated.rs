//! The replicated scenario: one stream of valid and invalid messages (a rogue publisher's
//! included) applied by two replicas, each through its own consumer sessions (redeliveries,
//! swaps and gaps, sometimes resuming before its position) and its own store faults and
//! crashes, resuming after each restart from the position stored with its data. After every
//! step the replica's store must hold exactly what the stream's prefix up to its position
//! produces, and replicas at one position must agree.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::oneshot;

use super::crash::Process;
use super::faulty_store::{Fault, Target};
use super::invariants::{self, Expected};
use super::stream;
use super::workload::{self, Expect, Workload};
use super::{StepCounter, Summary, Violation};
use crate::append::Message;
use crate::replication::consumer::{StreamMessage, StreamRequest};
use crate::replication::Outcomes;

/// Messages of the stream.
const STREAM_MESSAGES: u64 = 30;
/// Steps before both replicas must have applied the whole stream.
const STEPS_MAX: usize = 300;
/// The checkpoint interval, on the paused clock (which the scenario does not move).
const CHECKPOINT_INTERVAL_MS: u64 = 1_000;

/// The stream and what each prefix of it must produce.
struct Reference {
    messages: Vec<StreamMessage>,
    /// Per sequence (index `sequence - 1`): whether the message is admitted.
    admitted: Vec<bool>,
    refused: Vec<u64>,
}

impl Reference {
    fn new(rng: &mut StdRng) -> Self {
        let mut workload = Workload::new();
        let mut log: Vec<Vec<u8>> = Vec::new();
        let mut reference = Reference {
            messages: Vec::new(),
            admitted: Vec::new(),
            refused: Vec::new(),
        };
        for sequence in 1..=STREAM_MESSAGES {
            let planned = workload.message(rng, &log);
            let admitted = match planned.expect {
                Expect::Admit { chain } => {
                    workload.admitted(chain);
                    log.push(planned.bytes.clone());
                    true
                }
                Expect::Refuse(_) => {
                    reference.refused.push(sequence);
                    false
                }
            };
            reference.admitted.push(admitted);
            reference.messages.push(StreamMessage {
                sequence,
                subject: format!("ledger.sim.events.{}", planned.subject),
                payload: planned.bytes,
            });
        }
        reference
    }
}

/// One replica: a node, what it must hold at its position, and the position it was last
/// answered (acknowledged) at.
struct Replica {
    process: Option<Process>,
    expected: Expected,
    position: u64,
    acknowledged: u64,
}

impl Replica {
    async fn start() -> Result<Self, String> {
        Ok(Self {
            process: Some(Process::start(CHECKPOINT_INTERVAL_MS).await?),
            expected: Expected::default(),
            position: 0,
            acknowledged: 0,
        })
    }

    fn process(&self) -> Result<&Process, String> {
        self.process
            .as_ref()
            .ok_or_else(|| "no node is running".into())
    }

    fn stored_position(&self) -> Result<u64, String> {
        let store = self.process()?.node.store_for_test();
        let position = store
            .stream_position()
            .map_err(|e| format!("reading: {e}"))?;
        Ok(position.unwrap_or(0))
    }

    /// Moves what the replica must hold on to the stored position, which must be at or past
    /// the acknowledged one and never go back.
    fn advance(&mut self, reference: &Reference) -> Result<(), String> {
        let stored = self.stored_position()?;
        if stored < self.acknowledged || stored < self.position {
            return Err(format!(
                "the stored stream position {stored} is behind the acknowledged {} (or the last {})",
                self.acknowledged, self.position
            ));
        }
        for sequence in self.position + 1..=stored {
            let index = usize::try_from(sequence - 1).map_err(|e| e.to_string())?;
            let message = reference
                .messages
                .get(index)
                .ok_or("position past the stream")?;
            if reference.admitted[index] {
                self.expected.admit(message.payload.clone())?;
            } else {
                self.expected.refuse(message.payload.clone());
            }
        }
        self.position = stored;
        Ok(())
    }

    /// Sends one batch to the writer; `Ok(None)` if the writer answered its failure.
    async fn apply(&mut self, batch: Vec<StreamMessage>) -> Result<Option<u64>, String> {
        let (reply, answer) = oneshot::channel();
        let request = StreamRequest {
            messages: batch,
            rebase: None,
            outcomes: Arc::new(Outcomes::default()),
            reply,
        };
        let writer = self.process()?.node.writer_for_test();
        writer
            .send(Message::Stream(request))
            .await
            .map_err(|_| "the writer is gone")?;
        match answer.await {
            Ok(Ok(position)) => Ok(Some(position)),
            Ok(Err(_failure)) => Ok(None),
            Err(_) => Err("the writer dropped a stream batch".into()),
        }
    }
}

/// Runs the replicated scenario of `seed`.
pub(super) async fn run(seed: u64, steps: StepCounter) -> Result<Summary, Violation> {
    let at = |step: usize| move |message: String| Violation { step, message };
    let mut rng = StdRng::seed_from_u64(seed);
    let reference = Reference::new(&mut rng);
    let mut replicas = [
        Replica::start().await.map_err(at(0))?,
        Replica::start().await.map_err(at(0))?,
    ];
    let mut summary = Summary::default();
    let mut step = 0;
    while replicas.iter().any(|r| r.position < STREAM_MESSAGES) {
        step += 1;
        steps.set(step);
        if step > STEPS_MAX {
            return Err(at(step)(format!(
                "the replicas did not apply the stream in {STEPS_MAX} steps"
            )));
        }
        let which = rng.gen_range(0..replicas.len());
        let replica = &mut replicas[which];
        session(&mut rng, replica, &reference, &mut summary)
            .await
            .map_err(at(step))?;
        check(replica, &reference, step as u64).map_err(at(step))?;
        let (a, b) = (
            replicas[0].process().map_err(at(step))?,
            replicas[1].process().map_err(at(step))?,
        );
        invariants::replicas_at_one_position_agree(&a.node, &b.node).map_err(at(step))?;
        summary.steps += 1;
    }
    summary.admitted = replicas[0].expected.size();
    summary.refused = reference.refused.len() as u64;
    Ok(summary)
}

/// One consumer session of `replica`: from its position + 1 (sometimes from before it, as a
/// stale view would), the batches the consumer keeps, each maybe meeting a store fault.
async fn session(
    rng: &mut StdRng,
    replica: &mut Replica,
    reference: &Reference,
    summary: &mut Summary,
) -> Result<(), String> {
    if rng.gen_range(0..10u32) == 0 {
        // Killed between two batches: the disk holds what the last flush made durable.
        let fault = replica.process()?.faults.kill();
        restart(replica, fault, summary).await?;
        replica.advance(reference)?;
    }
    let stale = if rng.gen_bool(0.2) {
        rng.gen_range(1..=2u64)
    } else {
        0
    };
    let start = replica
        .position
        .saturating_add(1)
        .saturating_sub(stale)
        .max(1);
    let delivered = stream::deliveries(rng, start, STREAM_MESSAGES);
    let mut next = start;
    let kept = stream::in_order(&delivered, &mut next);
    for batch in stream::batches(rng, &kept, &reference.messages) {
        let last = batch.last().map_or(0, |m| m.sequence);
        let faults = Arc::clone(&replica.process()?.faults);
        if rng.gen_range(0..5u32) == 0 {
            faults.arm(
                Fault::ALL[rng.gen_range(0..Fault::ALL.len())],
                Target::Group,
            );
        }
        let answered = replica.apply(batch).await?;
        let fired = faults.settle();
        match (answered, fired) {
            (Some(position), fired) => {
                if position != last.max(replica.position) {
                    return Err(format!("a batch up to {last} was answered at {position}"));
                }
                replica.acknowledged = position;
                if let Some(fault) = fired {
                    restart(replica, fault, summary).await?;
                    replica.advance(reference)?;
                    return Ok(());
                }
            }
            (None, Some(fault)) => {
                restart(replica, fault, summary).await?;
                replica.advance(reference)?;
                return Ok(());
            }
            (None, None) => return Err("the writer failed a batch with no fault".into()),
        }
        replica.advance(reference)?;
    }
    Ok(())
}

async fn restart(replica: &mut Replica, fault: Fault, summary: &mut Summary) -> Result<(), String> {
    summary.faults += 1;
    summary.crashes += u64::from(fault.is_crash());
    let process = replica.process.take().ok_or("no node is running")?;
    replica.process = Some(process.restart(Some(fault)).await?);
    invariants::projections_equal_a_rebuild_of_the_stored_log(&replica.process()?.node)
}

/// Every invariant of one replica, after a step.
fn check(replica: &Replica, reference: &Reference, step: u64) -> Result<(), String> {
    let node = &replica.process()?.node;
    invariants::stream_position_is_stored_with_the_data(
        node,
        &replica.expected,
        &reference.refused,
    )?;
    invariants::log_tree_holds_exactly_the_admitted_events_in_order(
        node,
        &replica.expected,
        step.wrapping_mul(7919),
    )?;
    invariants::a_refused_event_leaves_nothing(node, &replica.expected, &workload::contract_ids())?;
    invariants::projections_after_incremental_apply_equal_a_rebuild_from_the_log(
        node,
        &replica.expected,
    )
}
