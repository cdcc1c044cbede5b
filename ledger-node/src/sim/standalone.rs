//! The standalone scenario: one node's writer appending requests of valid and invalid events,
//! with failed writes, failed flushes and crashes at each point of a group's write, clean
//! restarts and checkpoint timers on the paused clock; every invariant checked after every
//! step.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::crash::Process;
use super::faulty_store::{Fault, Faults, Target};
use super::invariants::{self, Expected};
use super::workload::{self, event_id, Expect, Planned, Workload};
use super::{StepCounter, Summary, Violation};
use crate::service::AppendError;

/// Steps of one seed.
const STEPS: usize = 40;
/// Events of one request at most.
const REQUEST_EVENTS_MAX: usize = 4;
/// The checkpoint interval, on the paused clock.
const CHECKPOINT_INTERVAL_MS: u64 = 1_000;

/// One seed's state.
struct Sim {
    rng: StdRng,
    process: Option<Process>,
    workload: Workload,
    expected: Expected,
    summary: Summary,
}

/// Runs the standalone scenario of `seed`.
pub(super) async fn run(seed: u64, steps: StepCounter) -> Result<Summary, Violation> {
    let at = |step: usize| move |message: String| Violation { step, message };
    let process = Process::start(CHECKPOINT_INTERVAL_MS)
        .await
        .map_err(at(0))?;
    let mut sim = Sim {
        rng: StdRng::seed_from_u64(seed),
        process: Some(process),
        workload: Workload::new(),
        expected: Expected::default(),
        summary: Summary::default(),
    };
    for step in 1..=STEPS {
        steps.set(step);
        sim.step().await.map_err(at(step))?;
        sim.check(step as u64).map_err(at(step))?;
        sim.summary.steps += 1;
    }
    sim.restart(None).await.map_err(at(STEPS + 1))?;
    sim.check(0).map_err(at(STEPS + 1))?;
    Ok(sim.summary)
}

impl Sim {
    fn process(&self) -> Result<&Process, String> {
        self.process
            .as_ref()
            .ok_or_else(|| "no node is running".into())
    }

    fn faults(&self) -> Result<std::sync::Arc<Faults>, String> {
        Ok(std::sync::Arc::clone(&self.process()?.faults))
    }

    /// One step: an append (a fault armed one time in five), a clock tick, a kill between
    /// writes, or a clean restart.
    async fn step(&mut self) -> Result<(), String> {
        let roll = self.rng.gen_range(0..100u32);
        let fault = (self.rng.gen_range(0..5u32) == 0)
            .then(|| Fault::ALL[self.rng.gen_range(0..Fault::ALL.len())]);
        if let Some(fault) = fault {
            let target = if (80..=91).contains(&roll) {
                Target::CheckpointOnly
            } else {
                Target::Group
            };
            self.faults()?.arm(fault, target);
        }
        let action = match roll {
            0..=79 => "append",
            80..=91 => "tick",
            92..=95 => "kill",
            _ => "restart",
        };
        let context = |e: String| format!("{action}, {fault:?} armed: {e}");
        let pending = match roll {
            0..=79 => self.append().await.map_err(context)?,
            80..=91 => {
                self.tick().await.map_err(context)?;
                Vec::new()
            }
            92..=95 => {
                self.faults()?.settle();
                self.faults()?.kill();
                Vec::new()
            }
            _ => {
                self.faults()?.settle();
                return self.restart(None).await;
            }
        };
        match self.faults()?.settle() {
            Some(fired) => {
                self.summary.faults += 1;
                self.summary.crashes += u64::from(fired.is_crash());
                self.restart(Some(fired)).await.map_err(context)?;
                self.reconcile(&pending, fired).map_err(context)
            }
            None if pending.is_empty() => Ok(()),
            None => Err(format!(
                "{} events answered unavailable with no fault",
                pending.len()
            )),
        }
    }

    /// Sends one request and checks each answer against its expectation; returns the valid
    /// events answered `Unavailable` (their write met a fault), in order.
    async fn append(&mut self) -> Result<Vec<Planned>, String> {
        let request = self
            .workload
            .request(&mut self.rng, REQUEST_EVENTS_MAX, &self.expected.log);
        let mut envelopes: Vec<Vec<u8>> = request.iter().map(|p| p.bytes.clone()).collect();
        let node = self.process()?.node.clone();
        let answers = if envelopes.len() >= 2 && self.rng.gen_bool(0.3) {
            // Two callers at once: both requests are queued before the writer runs (one
            // thread), so they form one commit group.
            let second = envelopes.split_off(self.rng.gen_range(1..envelopes.len()));
            let (mut first, second) = tokio::join!(node.append(envelopes), node.append(second));
            first.extend(second);
            first
        } else {
            node.append(envelopes).await
        };
        let mut pending = Vec::new();
        for (planned, answer) in request.into_iter().zip(answers) {
            match (planned.expect, answer) {
                (Expect::Admit { chain }, Ok(appended)) => {
                    self.admitted(chain, planned.bytes, appended.index)?;
                }
                (Expect::Admit { .. }, Err(AppendError::Unavailable(_))) => pending.push(planned),
                (Expect::Refuse(why), Err(e @ AppendError::Duplicate { .. })) => {
                    self.duplicate(why, &planned, &e)?;
                }
                (Expect::Refuse(_), Err(AppendError::Rejected(_))) => {
                    self.summary.refused += 1;
                    self.expected.refuse(planned.bytes);
                }
                (expect, answer) => {
                    return Err(format!(
                        "an event expected to meet {expect:?} got {answer:?}"
                    ))
                }
            }
        }
        Ok(pending)
    }

    fn admitted(&mut self, chain: usize, bytes: Vec<u8>, index: u64) -> Result<(), String> {
        if index != self.expected.size() {
            return Err(format!(
                "an event was admitted at {index}, the next index is {}",
                self.expected.size()
            ));
        }
        self.expected.admit(bytes)?;
        self.workload.admitted(chain);
        self.summary.admitted += 1;
        Ok(())
    }

    /// A duplicate answer names the index the copy is stored at.
    fn duplicate(
        &mut self,
        why: workload::Invalid,
        planned: &Planned,
        answer: &AppendError,
    ) -> Result<(), String> {
        let AppendError::Duplicate { index, .. } = answer else {
            return Err("not a duplicate".into());
        };
        let id = event_id(&planned.bytes).ok_or("a duplicate that does not decode")?;
        if why != workload::Invalid::Duplicate || self.expected.index_of(&id) != Some(*index) {
            return Err(format!("{why:?} answered duplicate of index {index}"));
        }
        self.summary.refused += 1;
        Ok(())
    }

    /// Moves the paused clock one checkpoint interval on; if a checkpoint is due, waits
    /// (yielding, never sleeping) until the node serves it or its write met the armed fault.
    async fn tick(&mut self) -> Result<(), String> {
        let node = self.process()?.node.clone();
        let size = node.info().log_size;
        let behind = size > 0 && node.latest_checkpoint().map(|c| c.size) != Some(size);
        let faults = self.faults()?;
        tokio::time::advance(Duration::from_millis(CHECKPOINT_INTERVAL_MS)).await;
        if behind {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while node.latest_checkpoint().map(|c| c.size) != Some(size) && !faults.has_fired() {
                if std::time::Instant::now() > deadline {
                    return Err("the checkpoint due was not written in 30 s".into());
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(())
    }

    async fn restart(&mut self, fault: Option<Fault>) -> Result<(), String> {
        let process = self.process.take().ok_or("no node is running")?;
        self.process = Some(process.restart(fault).await?);
        let node = &self.process()?.node;
        invariants::projections_equal_a_rebuild_of_the_stored_log(node)
    }

    /// After the restart that followed `fault`: the valid events of the faulty group are
    /// all in the store or none is (as the fault says), in order; those stored count as
    /// admitted, the others will be sent again.
    fn reconcile(&mut self, pending: &[Planned], fault: Fault) -> Result<(), String> {
        let store = self.process()?.node.store_for_test().clone();
        let mut stored = Vec::new();
        for planned in pending {
            let id = event_id(&planned.bytes).ok_or("a valid event does not decode")?;
            let index = store
                .index_of(&id, u64::MAX)
                .map_err(|e| format!("reading the store: {e}"))?;
            stored.push((planned, index));
        }
        let present = stored.iter().filter(|(_, i)| i.is_some()).count();
        let all_or_none = present == 0 || present == stored.len();
        let as_said = fault
            .leaves_group()
            .is_none_or(|kept| kept == (present > 0))
            || stored.is_empty();
        if !all_or_none || !as_said {
            return Err(format!(
                "after {fault:?}, {present} of the group's {} events are stored",
                stored.len()
            ));
        }
        for (planned, index) in stored {
            if let (Some(index), Expect::Admit { chain }) = (index, planned.expect) {
                self.admitted(chain, planned.bytes.clone(), index)?;
            }
        }
        Ok(())
    }

    /// Every invariant, after a step.
    fn check(&self, step: u64) -> Result<(), String> {
        let node = &self.process()?.node;
        let store = node.store_for_test();
        invariants::acknowledged_means_durable(store, &self.expected)?;
        invariants::log_tree_holds_exactly_the_admitted_events_in_order(
            node,
            &self.expected,
            step.wrapping_mul(7919),
        )?;
        invariants::a_refused_event_leaves_nothing(
            node,
            &self.expected,
            &workload::contract_ids(),
        )?;
        invariants::projections_after_incremental_apply_equal_a_rebuild_from_the_log(
            node,
            &self.expected,
        )
    }
}
