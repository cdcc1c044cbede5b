//! [`Ledger`]: every contract's state in memory and the admission pipeline the node and the
//! offline auditor share: decode, then for each event in order the cheap checks (chain
//! position, closed, author and the signer set against the contract), and only for an event
//! that passes them its signatures (batched, parallel), then the kind's rules and apply. There
//! is no Merkle tree here: the node keeps its tree in its store, and the auditor feeds a
//! `merkle` tree itself from [`Admitted::leaf`].
//!
//! *Why cheap checks first.* Verifying a signature costs tens of microseconds; a wrong seq or
//! an unknown signer is found in nanoseconds. A batch of envelopes that are refused anyway
//! (wrong position, signers the contract does not have) then costs no signature check at all,
//! so a flood of them cannot slow down honest appends (issue 9, finding 4).
//!
//! *Why the outcome is unchanged.* [`rules::screen`] judges with verdicts presumed from key
//! resolution alone, and refuses only events the full judgement refuses too; it runs against
//! the ledger as it is when the event's turn comes, after every earlier event of the batch was
//! admitted or refused. To keep verifying in batches, the first event that passes asks for the
//! signatures of the events after it that look admissible too (the chain continued from
//! earlier such events, author and signers against the contract); an event verified this way
//! is still screened at its turn. Verdicts are the same whichever events are verified
//! together: keys resolve through the directory and every key the batch introduces
//! ([`BatchKeys`]), and the directory only ever learns keys the batch introduces.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use proto::{Body, ContractId, EventId, Kind};

use crate::error::Rejection;
use crate::event::Event;
use crate::keys::{BatchKeys, KeyDirectory, SignatureVerdicts, Verdict};
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
    /// Signatures verified so far (a count for metrics and tests).
    verified: AtomicU64,
}

impl Clone for Ledger {
    /// The same contracts, keys and size, with an empty key cache (it only saves decoding).
    fn clone(&self) -> Self {
        Self {
            contracts: self.contracts.clone(),
            keys: self.keys.clone(),
            size: self.size,
            cache: Mutex::new(None),
            verified: AtomicU64::new(self.signatures_verified()),
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
        let refs: Vec<&Event> = events.iter().collect();
        self.verify(&refs, &BatchKeys::of(events), threads)
    }

    /// Signatures this ledger (and the ledger it was cloned from) verified so far: every
    /// signature whose key resolved, valid or not.
    pub fn signatures_verified(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    /// Verdicts on the signatures of `events`, keys resolving through the directory and
    /// `batch`, on up to `threads` threads.
    fn verify(
        &self,
        events: &[&Event],
        batch: &BatchKeys,
        threads: usize,
    ) -> Vec<SignatureVerdicts> {
        let threads = threads.clamp(1, THREADS_MAX);
        // A panic while the lock was held leaves a cache that is still sound: start afresh.
        let mut guard = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let cache = guard.get_or_insert_with(|| KeyCache::new(KEY_CACHE_KEYS_MAX));
        let verdicts = self.keys.verdicts_in(events, batch, threads, cache);
        let checked = verdicts
            .iter()
            .flat_map(SignatureVerdicts::iter)
            .filter(|(_, verdict)| *verdict != Verdict::UnknownKey)
            .count();
        self.verified.fetch_add(
            u64::try_from(checked).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        verdicts
    }

    /// Verdicts presumed for `event` without verifying anything
    /// ([`SignatureVerdicts::presumed`]).
    fn presumed(&self, event: &Event, batch: &BatchKeys) -> SignatureVerdicts {
        SignatureVerdicts::presumed(event, |id| self.keys.resolves(batch, id))
    }

    /// Judges event `index` of `batch` against the ledger as it is now and, if it passes every
    /// rule, applies it. Its signatures are verified only once the cheap rules
    /// ([`rules::screen`]) pass; if they are not verified yet, they are verified now together
    /// with those of the later events of the batch that look admissible. Call it for the
    /// events of a batch in order (the caller may refuse some itself, e.g. duplicates).
    ///
    /// # Errors
    /// [`Rejection::Rule`] naming the first rule it breaks, in the order: chain, closed,
    /// author, signer set, signatures' validity, the kind's rules; the ledger is then
    /// unchanged.
    ///
    /// # Panics
    /// If `index` is not an event of `batch`.
    pub fn admit_next(
        &mut self,
        batch: &mut Batch<'_>,
        index: usize,
    ) -> Result<Admitted, Rejection> {
        let event = batch.events[index];
        let state = self.contract(event.contract());
        rules::screen(state, event, &self.presumed(event, &batch.keys))?;
        if batch.verdicts[index].is_none() {
            self.verify_ahead(batch, index);
        }
        let verdicts = batch.verdicts[index]
            .take()
            .unwrap_or_else(|| unreachable!("the event's signatures were just verified"));
        self.admit(event, &verdicts)
    }

    /// Verifies, in one batched call, the signatures of event `from` of `batch` and of every
    /// later unverified event that looks admissible after it ([`Ledger::looks_admissible`]).
    fn verify_ahead(&self, batch: &mut Batch<'_>, from: usize) {
        let mut ahead = Ahead::default();
        let mut chosen = vec![from];
        ahead.follow(batch.events[from]);
        for index in from.saturating_add(1)..batch.events.len() {
            let event = batch.events[index];
            if batch.verdicts[index].is_none() && self.looks_admissible(batch, &ahead, event) {
                chosen.push(index);
                ahead.follow(event);
            }
        }
        let events: Vec<&Event> = chosen.iter().map(|&i| batch.events[i]).collect();
        let verdicts = self.verify(&events, &batch.keys, batch.threads);
        for (index, verdicts) in chosen.into_iter().zip(verdicts) {
            batch.verdicts[index] = Some(verdicts);
        }
    }

    /// Whether `event` would pass the cheap rules if the events `ahead` of it were admitted:
    /// the screen against the ledger for a contract `ahead` does not touch; else the chain
    /// continued from the last of them, and author and signers against the contract as it is
    /// (or as its registration ahead makes it). Only an approximation: an event verified on
    /// its strength is still screened at its turn.
    fn looks_admissible(&self, batch: &Batch<'_>, ahead: &Ahead, event: &Event) -> bool {
        let presumed = self.presumed(event, &batch.keys);
        let Some((seq, head)) = ahead.heads.get(event.contract()) else {
            return rules::screen(self.contract(event.contract()), event, &presumed).is_ok();
        };
        let chained = seq.checked_add(1) == Some(event.seq())
            && event.payload().prev.as_ref() == Some(head)
            && event.kind() != Kind::ContractRegistered;
        let state = self
            .contract(event.contract())
            .or_else(|| ahead.registered.get(event.contract()));
        chained && state.is_some_and(|s| rules::screen_parties(s, event, &presumed).is_ok())
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
    /// envelope changes nothing, and later ones are judged as if it had not come. Signatures
    /// are verified only for events that pass the cheap rules ([`Ledger::admit_next`]).
    pub fn append_batch(
        &mut self,
        envelopes: &[&[u8]],
        threads: usize,
    ) -> Vec<Result<Admitted, Rejection>> {
        let mut refused = Vec::with_capacity(envelopes.len());
        let mut events = Vec::new();
        for result in Self::decode_all(envelopes, threads) {
            match result {
                Ok(event) => {
                    events.push(event);
                    refused.push(None);
                }
                Err(rejection) => refused.push(Some(rejection)),
            }
        }
        let mut batch = Batch::new(&events, threads);
        let mut next = 0;
        let mut out = Vec::with_capacity(envelopes.len());
        for rejection in refused {
            out.push(match rejection {
                Some(rejection) => Err(rejection),
                None => {
                    let result = self.admit_next(&mut batch, next);
                    next += 1;
                    result
                }
            });
        }
        out
    }
}

/// The events of one batch and the verdicts on their signatures, verified as the batch is
/// admitted ([`Ledger::admit_next`]).
#[derive(Debug)]
pub struct Batch<'a> {
    events: Vec<&'a Event>,
    keys: BatchKeys,
    verdicts: Vec<Option<SignatureVerdicts>>,
    threads: usize,
}

impl<'a> Batch<'a> {
    /// A batch of `events`, its signatures to be verified on up to `threads` threads.
    pub fn new(events: &'a [Event], threads: usize) -> Self {
        Self {
            events: events.iter().collect(),
            keys: BatchKeys::of(events),
            verdicts: vec![None; events.len()],
            threads,
        }
    }
}

/// The events chosen so far for one verification ahead: each contract's last one, and the
/// state a registration among them makes.
#[derive(Default)]
struct Ahead {
    heads: HashMap<ContractId, (u64, EventId)>,
    registered: HashMap<ContractId, ContractState>,
}

impl Ahead {
    /// `event` is chosen: later events of its contract must continue from it.
    fn follow(&mut self, event: &Event) {
        if let Body::ContractRegistered(body) = event.body() {
            if rules::check_registration(body).is_ok() {
                self.registered
                    .insert(event.contract().clone(), ContractState::register(event));
            }
        }
        self.heads
            .insert(event.contract().clone(), (event.seq(), *event.id()));
    }
}
