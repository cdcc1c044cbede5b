//! Which public key a key id names, and which signatures of an envelope verify.
//!
//! A key id is SHA-256 of its public key, so an id names one key wherever it was seen: the
//! [`KeyDirectory`] learns keys from every admitted event that introduces one (registration,
//! rotation, revocation with a successor, enrolment), and a batch also
//! resolves keys from the bodies of its own events (a registration then a claim in one batch).
//! Resolving a key grants nothing: whether a signer may sign is the rules' business.

use std::collections::HashMap;

use proto::{Body, EventId, KeyId, PublicKey};

use crate::event::Event;
use crate::signing::{KeyCache, SigCheck};

/// Key id -> public key, for every key admitted so far.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct KeyDirectory {
    keys: HashMap<KeyId, PublicKey>,
}

/// What became of one signature of an envelope.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Verdict {
    /// It verifies under the key its key id names.
    Valid,
    /// It does not verify (or the key does not decode to a curve point).
    Invalid,
    /// Its key id names no key the ledger knows.
    UnknownKey,
}

/// The verdict on each signature of one event, in the envelope's order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignatureVerdicts {
    event: EventId,
    verdicts: Vec<(KeyId, Verdict)>,
}

impl SignatureVerdicts {
    /// The event these verdicts are about.
    pub fn event(&self) -> &EventId {
        &self.event
    }

    /// Each signer's key id and verdict, sorted by key id.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, Verdict)> + '_ {
        self.verdicts.iter().map(|(key, verdict)| (key, *verdict))
    }

    /// The verdict on the signature by `key`, if the envelope has one.
    pub fn get(&self, key: &KeyId) -> Option<Verdict> {
        self.verdicts
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| self.verdicts[i].1)
    }

    /// Verdicts on `event`'s signatures presumed without verifying any: `Valid` for a key id
    /// `resolves`, `UnknownKey` for one it does not. The rules that stop short of the
    /// signatures' validity ([`crate::rules::screen`]) judge with these.
    pub fn presumed(event: &Event, resolves: impl Fn(&KeyId) -> bool) -> Self {
        let verdicts = event
            .envelope()
            .signatures()
            .iter()
            .map(|signature| {
                let key = *signature.keyid();
                let verdict = if resolves(&key) {
                    Verdict::Valid
                } else {
                    Verdict::UnknownKey
                };
                (key, verdict)
            })
            .collect();
        Self {
            event: *event.id(),
            verdicts,
        }
    }

    /// Whether every signature verifies.
    pub fn all_valid(&self) -> bool {
        self.verdicts.iter().all(|(_, v)| *v == Verdict::Valid)
    }
}

impl KeyDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a public key under its key id.
    pub fn insert(&mut self, key: PublicKey) {
        self.keys.insert(KeyId::of(&key), key);
    }

    /// The public key of a key id.
    pub fn get(&self, id: &KeyId) -> Option<&PublicKey> {
        self.keys.get(id)
    }

    /// Number of keys known.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every key known.
    pub fn iter(&self) -> impl Iterator<Item = (&KeyId, &PublicKey)> + '_ {
        self.keys.iter()
    }

    /// Learns the keys an event's body introduces ([`Body::introduced_keys`]).
    pub fn learn(&mut self, event: &Event) {
        for key in introduced_keys(event.body()) {
            self.insert(*key);
        }
    }

    /// Verdicts on every signature of `events`, verified on up to `threads` threads with the
    /// decoded keys of `cache`. Key ids resolve through this directory and the keys introduced
    /// by any of `events`.
    pub fn verdicts(
        &self,
        events: &[Event],
        threads: usize,
        cache: &mut KeyCache,
    ) -> Vec<SignatureVerdicts> {
        let refs: Vec<&Event> = events.iter().collect();
        self.verdicts_in(&refs, &BatchKeys::of(events), threads, cache)
    }

    /// Whether `id` names a key of this directory or one of `batch`.
    pub fn resolves(&self, batch: &BatchKeys, id: &KeyId) -> bool {
        self.keys.contains_key(id) || batch.keys.contains_key(id)
    }

    /// Verdicts on every signature of `events` (some events of a batch), verified on up to
    /// `threads` threads with the decoded keys of `cache`. Key ids resolve through this
    /// directory and `batch`.
    pub fn verdicts_in(
        &self,
        events: &[&Event],
        batch: &BatchKeys,
        threads: usize,
        cache: &mut KeyCache,
    ) -> Vec<SignatureVerdicts> {
        let resolve = |id: &KeyId| self.keys.get(id).or_else(|| batch.keys.get(id));
        let messages: Vec<Vec<u8>> = events.iter().map(|e| e.envelope().pae()).collect();
        let mut checks = Vec::new();
        let mut slots = Vec::new();
        for (index, event) in events.iter().enumerate() {
            for signature in event.envelope().signatures() {
                if let Some(key) = resolve(signature.keyid()) {
                    slots.push((index, *signature.keyid()));
                    checks.push(SigCheck {
                        public_key: key.as_bytes(),
                        message: &messages[index],
                        signature: signature.sig(),
                    });
                }
            }
        }
        let valid = cache.verify_all_parallel(&checks, threads);
        assemble(events, &slots, &valid)
    }
}

/// The keys the events of one batch introduce (registrations' parties, rotations' new keys):
/// a batch resolves key ids through them as well as through the directory.
#[derive(Clone, Default, Debug)]
pub struct BatchKeys {
    keys: HashMap<KeyId, PublicKey>,
}

impl BatchKeys {
    /// The keys `events` introduce.
    pub fn of(events: &[Event]) -> Self {
        let keys = events
            .iter()
            .flat_map(|e| introduced_keys(e.body()))
            .map(|key| (KeyId::of(key), *key))
            .collect();
        Self { keys }
    }
}

fn assemble(events: &[&Event], slots: &[(usize, KeyId)], valid: &[bool]) -> Vec<SignatureVerdicts> {
    assert_eq!(
        slots.len(),
        valid.len(),
        "one verdict per signature checked"
    );
    let mut checked = slots.iter().zip(valid).peekable();
    let mut out = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let mut verdicts = Vec::with_capacity(event.envelope().signatures().len());
        for signature in event.envelope().signatures() {
            let verdict = match checked.peek() {
                Some(((i, key), ok)) if *i == index && key == signature.keyid() => {
                    let verdict = if **ok {
                        Verdict::Valid
                    } else {
                        Verdict::Invalid
                    };
                    checked.next();
                    verdict
                }
                _ => Verdict::UnknownKey,
            };
            verdicts.push((*signature.keyid(), verdict));
        }
        out.push(SignatureVerdicts {
            event: *event.id(),
            verdicts,
        });
    }
    out
}

fn introduced_keys(body: &Body) -> Vec<&PublicKey> {
    body.introduced_keys()
}
