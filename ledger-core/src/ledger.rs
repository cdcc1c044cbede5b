//! [`Ledger`]: every contract's state in memory and the admission pipeline the node and the
//! offline auditor share: decode, resolve and verify signatures (batched, parallel), then judge
//! and apply each event in order. There is no Merkle tree here: the node keeps its tree in
//! its store, and the auditor feeds a `merkle` tree itself from [`Admitted::leaf`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use proto::{ContractId, EventId};

use crate::error::Rejection;
use crate::event::Event;
use crate::keys::{KeyDirectory, SignatureVerdicts};
use crate::limits::THREADS_MAX;
use crate::projection::ContractState;
use crate::rules::{self, Judgement};
use crate::signing::KeyCache;

/// Most decoded public keys the ledger keeps for signature checking.
const KEY_CACHE_KEYS_MAX: usize = 65_536;

/// An event the ledger admitted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Admitted {
    /// Its leaf index in the global log (0-based).
    pub index: u64,
    /// Its event id.
    pub id: EventId,
    /// Its contract.
    pub contract: ContractId,
    /// Its seq in the contract.
    pub seq: u64,
    /// The Merkle leaf data: the RFC 8785 bytes of its envelope.
    pub leaf: Vec<u8>,
}

/// A snapshot that does not add up.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RestoreError {
    /// Two states of one contract.
    #[error(
        "the snapshot holds contract {contract} twice; it is corrupt, rebuild it from the log"
    )]
    DuplicateContract {
        /// The contract id.
        contract: ContractId,
    },
    /// The contracts' event counts do not add up to the log size.
    #[error("the snapshot's contracts hold {events} events but the log holds {size}; rebuild the snapshot from the log")]
    SizeMismatch {
        /// Events in the contracts.
        events: u64,
        /// The log size given.
        size: u64,
    },
    /// A state whose invariants do not hold.
    #[error("contract {contract} in the snapshot breaks an invariant ({invariant}); rebuild it from the log")]
    BrokenInvariant {
        /// The contract id.
        contract: ContractId,
        /// The invariant.
        invariant: &'static str,
    },
}

impl RestoreError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::DuplicateContract { .. } => "snapshot-duplicate-contract",
            Self::SizeMismatch { .. } => "snapshot-size-mismatch",
            Self::BrokenInvariant { .. } => "snapshot-broken-invariant",
        }
    }
}

/// Every contract's state, the keys seen, and the number of events admitted.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Shared with readers ([`Ledger::shared_contract`]); copied on write.
    contracts: HashMap<ContractId, Arc<ContractState>>,
    keys: KeyDirectory,
    size: u64,
    cache: Mutex<Option<KeyCache>>,
}

impl Clone for Ledger {
    /// The same contracts, keys and size, with an empty key cache (it only saves decoding).
    fn clone(&self) -> Self {
        Self {
            contracts: self.contracts.clone(),
            keys: self.keys.clone(),
            size: self.size,
            cache: Mutex::new(None),
        }
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A ledger from a snapshot of its contracts, `size` events in all. The key directory is
    /// rebuilt from the parties' keys.
    ///
    /// # Errors
    /// [`RestoreError`] if the snapshot does not add up.
    pub fn restore(
        states: impl IntoIterator<Item = ContractState>,
        size: u64,
    ) -> Result<Self, RestoreError> {
        let mut ledger = Ledger::new();
        let mut events: u64 = 0;
        for state in states {
            if let Some(invariant) = state.broken_invariant() {
                return Err(RestoreError::BrokenInvariant {
                    contract: state.id().clone(),
                    invariant,
                });
            }
            for record in state.keys().values() {
                ledger.keys.insert(*record.public_key());
            }
            events = events.saturating_add(state.events());
            let id = state.id().clone();
            if ledger
                .contracts
                .insert(id.clone(), Arc::new(state))
                .is_some()
            {
                return Err(RestoreError::DuplicateContract { contract: id });
            }
        }
        if events != size {
            return Err(RestoreError::SizeMismatch { events, size });
        }
        ledger.size = size;
        Ok(ledger)
    }

    /// Number of events admitted: the size of the log.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The state of one contract.
    pub fn contract(&self, id: &ContractId) -> Option<&ContractState> {
        self.contracts.get(id).map(Arc::as_ref)
    }

    /// The state of one contract, shared rather than copied: the ledger copies a state it
    /// shares before changing it, so the holder keeps the state as it is now. A service that
    /// publishes every contract to its readers this way holds each state once, not twice.
    pub fn shared_contract(&self, id: &ContractId) -> Option<Arc<ContractState>> {
        self.contracts.get(id).map(Arc::clone)
    }

    /// Every contract's state, in no particular order.
    pub fn contracts(&self) -> impl Iterator<Item = &ContractState> + '_ {
        self.contracts.values().map(Arc::as_ref)
    }

    /// The keys seen in admitted events.
    pub fn keys(&self) -> &KeyDirectory {
        &self.keys
    }

    /// Decodes one envelope ([`Event::decode`]).
    ///
    /// # Errors
    /// [`Rejection::Decode`].
    pub fn decode(envelope_json: &[u8]) -> Result<Event, Rejection> {
        Event::decode(envelope_json)
    }

    /// Decodes every envelope ([`Event::decode`]), on up to `threads` threads; one result per
    /// envelope, in order.
    pub fn decode_all(envelopes: &[&[u8]], threads: usize) -> Vec<Result<Event, Rejection>> {
        let decode = |part: &[&[u8]]| part.iter().map(|b| Event::decode(b)).collect::<Vec<_>>();
        let threads = threads.clamp(1, THREADS_MAX);
        if threads == 1 || envelopes.len() < 2 * threads {
            return decode(envelopes);
        }
        let chunk = envelopes.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = envelopes
                .chunks(chunk)
                .map(|part| {
                    let spawned =
                        std::thread::Builder::new().spawn_scoped(scope, move || decode(part));
                    (part, spawned.ok())
                })
                .collect();
            let mut out = Vec::with_capacity(envelopes.len());
            for (part, handle) in parts {
                // A thread that could not start, or panicked, leaves its part to this thread.
                match handle.map(std::thread::ScopedJoinHandle::join) {
                    Some(Ok(events)) => out.extend(events),
                    _ => out.extend(decode(part)),
                }
            }
            out
        })
    }

    /// Verdicts on every signature of `events` (one entry per event, in order), verified on up
    /// to `threads` threads. Keys resolve through the keys admitted so far and those the
    /// events themselves introduce.
    pub fn check_signatures(&self, events: &[Event], threads: usize) -> Vec<SignatureVerdicts> {
        let threads = threads.clamp(1, THREADS_MAX);
        // A panic while the lock was held leaves a cache that is still sound: start afresh.
        let mut guard = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let cache = guard.get_or_insert_with(|| KeyCache::new(KEY_CACHE_KEYS_MAX));
        self.keys.verdicts(events, threads, cache)
    }

    /// Judges one event and, if it passes every rule, applies it.
    ///
    /// # Errors
    /// [`Rejection::Rule`] naming the first rule it breaks; the ledger is then unchanged.
    pub fn admit(
        &mut self,
        event: &Event,
        signatures: &SignatureVerdicts,
    ) -> Result<Admitted, Rejection> {
        let state = self.contracts.get(event.contract()).map(Arc::as_ref);
        match rules::judge(state, event, signatures)? {
            Judgement::Register => {
                let state = ContractState::register(event);
                self.contracts
                    .insert(event.contract().clone(), Arc::new(state));
            }
            Judgement::Change(effect) => {
                let state = self.contracts.get_mut(event.contract());
                let state = state.unwrap_or_else(|| unreachable!("judged against this state"));
                Arc::make_mut(state).commit(event, effect);
            }
        }
        self.keys.learn(event);
        let index = self.size;
        self.size = self
            .size
            .checked_add(1)
            .unwrap_or_else(|| panic!("log size overflow"));
        Ok(Admitted {
            index,
            id: *event.id(),
            contract: event.contract().clone(),
            seq: event.seq(),
            leaf: event.leaf(),
        })
    }

    /// Decodes, verifies and admits each envelope in order, each judged on its own: a refused
    /// envelope changes nothing, and later ones are judged as if it had not come.
    pub fn append_batch(
        &mut self,
        envelopes: &[&[u8]],
        threads: usize,
    ) -> Vec<Result<Admitted, Rejection>> {
        let decoded = Self::decode_all(envelopes, threads);
        let events: Vec<Event> = decoded
            .iter()
            .filter_map(|d| d.as_ref().ok())
            .cloned()
            .collect();
        let mut verdicts = self.check_signatures(&events, threads).into_iter();
        let mut events = events.iter();
        let mut out = Vec::with_capacity(envelopes.len());
        for result in decoded {
            out.push(match result {
                Err(rejection) => Err(rejection),
                Ok(_) => match (events.next(), verdicts.next()) {
                    (Some(event), Some(verdict)) => self.admit(event, &verdict),
                    _ => unreachable!("one event and one verdict per decoded envelope"),
                },
            });
        }
        out
    }
}
