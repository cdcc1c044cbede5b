//! The workload: signed events of a few contracts, valid ones in chain order and invalid ones
//! of every kind a client or a rogue publisher could send, each with what it must meet.
//!
//! Valid events of a contract wait in its queue until the node admits them: one answered
//! `Unavailable` is sent again (the same bytes) after the restart unless the store holds it, as
//! a client retries.

use std::collections::VecDeque;

use proto::dsse::Envelope;
use proto::{ContractId, EventId};
use rand::rngs::StdRng;
use rand::Rng;

use crate::testkit::ContractKit;

/// Contracts of a workload.
const CONTRACTS: usize = 3;

/// Why an event must be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Invalid {
    /// A signature by the wrong key.
    Forged,
    /// Bytes that are no envelope, or a valid envelope with one byte changed or cut short.
    Garbage,
    /// An admitted event sent again.
    Duplicate,
    /// The event after the contract's next one.
    OutOfOrder,
    /// A claim on a contract never registered.
    Unregistered,
    /// A valid event published on another contract's subject (stream only).
    SubjectMismatch,
}

/// What an event must meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    /// Admitted as its contract's next event (chain `chain`).
    Admit { chain: usize },
    /// Refused, for this reason.
    Refuse(Invalid),
}

/// One event of the workload.
#[derive(Clone, Debug)]
pub(super) struct Planned {
    pub(super) bytes: Vec<u8>,
    pub(super) expect: Expect,
    /// The subject token it is published under (stream only).
    pub(super) subject: String,
}

/// The event id of envelope bytes, if they decode.
pub(super) fn event_id(bytes: &[u8]) -> Option<EventId> {
    let envelope = Envelope::decode(bytes).ok()?;
    Some(EventId::of_payload(envelope.payload()))
}

/// One contract's valid events: generated in chain order, queued until admitted.
struct Chain {
    kit: ContractKit,
    registered: bool,
    claims: u64,
    queue: VecDeque<Vec<u8>>,
}

impl Chain {
    fn new(name: &str) -> Self {
        Self {
            kit: ContractKit::new(name),
            registered: false,
            claims: 0,
            queue: VecDeque::new(),
        }
    }

    /// The `n`th event of the queue (0: the next one to admit), generating as needed.
    fn queued(&mut self, n: usize) -> Vec<u8> {
        while self.queue.len() <= n {
            let next = if self.registered {
                self.claims += 1;
                self.kit.claim(self.claims)
            } else {
                self.registered = true;
                self.kit.registration()
            };
            self.queue.push_back(next);
        }
        self.queue[n].clone()
    }
}

/// The workload of one seed.
pub(super) struct Workload {
    chains: Vec<Chain>,
    /// Claims on a contract nobody registered.
    stray: ContractKit,
    stray_claims: u64,
}

impl Workload {
    pub(super) fn new() -> Self {
        Self {
            chains: (0..CONTRACTS)
                .map(|n| Chain::new(&format!("sim-{n}")))
                .collect(),
            stray: ContractKit::new("sim-stray"),
            stray_claims: 0,
        }
    }

    /// Chain `chain` admitted its next event: it leaves the queue.
    pub(super) fn admitted(&mut self, chain: usize) {
        if let Some(c) = self.chains.get_mut(chain) {
            c.queue.pop_front();
        }
    }

    /// One request of up to `events_max` events: mostly valid, some invalid; `log` is the
    /// admitted envelopes so far (duplicates are drawn from it).
    pub(super) fn request(
        &mut self,
        rng: &mut StdRng,
        events_max: usize,
        log: &[Vec<u8>],
    ) -> Vec<Planned> {
        let count = rng.gen_range(1..=events_max);
        // How many of each chain's queued events the request holds so far.
        let mut taken = vec![0usize; self.chains.len()];
        (0..count)
            .map(|_| self.one(rng, &mut taken, log, false))
            .collect()
    }

    /// The next message of a stream; `log` is what the stream admitted so far.
    pub(super) fn message(&mut self, rng: &mut StdRng, log: &[Vec<u8>]) -> Planned {
        let mut taken = vec![0usize; self.chains.len()];
        self.one(rng, &mut taken, log, true)
    }

    fn one(
        &mut self,
        rng: &mut StdRng,
        taken: &mut [usize],
        log: &[Vec<u8>],
        stream: bool,
    ) -> Planned {
        let chain = rng.gen_range(0..self.chains.len());
        let subject = self.chains[chain].kit.id().as_str().to_owned();
        let roll = rng.gen_range(0..100u32);
        let invalid = match roll {
            0..=59 => None,
            60..=67 => Some(Invalid::Forged),
            68..=77 => Some(Invalid::Garbage),
            78..=85 if !log.is_empty() => Some(Invalid::Duplicate),
            86..=92 => Some(Invalid::OutOfOrder),
            93..=96 => Some(Invalid::Unregistered),
            97..=99 if stream => Some(Invalid::SubjectMismatch),
            _ => None,
        };
        let offset = taken[chain];
        let Some(invalid) = invalid else {
            taken[chain] += 1;
            let bytes = self.chains[chain].queued(offset);
            return Planned {
                bytes,
                expect: Expect::Admit { chain },
                subject,
            };
        };
        let (bytes, subject) = match invalid {
            Invalid::Forged => (self.chains[chain].kit.forged_claim(), subject),
            Invalid::Garbage => (self.garbage(rng, chain, offset), subject),
            Invalid::Duplicate => (log[rng.gen_range(0..log.len())].clone(), subject),
            Invalid::OutOfOrder => (self.chains[chain].queued(offset + 1), subject),
            Invalid::Unregistered => {
                self.stray_claims += 1;
                let bytes = self.stray.claim(self.stray_claims);
                (bytes, self.stray.id().as_str().to_owned())
            }
            Invalid::SubjectMismatch => {
                let other = (chain + 1) % self.chains.len();
                let subject = self.chains[other].kit.id().as_str().to_owned();
                (self.chains[chain].queued(offset), subject)
            }
        };
        Planned {
            bytes,
            expect: Expect::Refuse(invalid),
            subject,
        }
    }

    /// Random bytes, or the chain's next event with one byte changed or cut short.
    fn garbage(&mut self, rng: &mut StdRng, chain: usize, offset: usize) -> Vec<u8> {
        let mut bytes = self.chains[chain].queued(offset);
        match rng.gen_range(0..3u32) {
            0 => {
                let len = rng.gen_range(1..64usize);
                (0..len).map(|_| rng.gen()).collect()
            }
            1 => {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] ^= rng.gen_range(1..=255u8);
                bytes
            }
            _ => {
                bytes.truncate(rng.gen_range(0..bytes.len()));
                bytes
            }
        }
    }
}

/// The contract ids of the workload's chains (the stray one included).
pub(super) fn contract_ids() -> Vec<ContractId> {
    let mut ids: Vec<ContractId> = (0..CONTRACTS)
        .map(|n| ContractKit::new(&format!("sim-{n}")).id().clone())
        .collect();
    ids.push(ContractKit::new("sim-stray").id().clone());
    ids
}
