//! Decoded public keys kept across calls: a key signs thousands of events, so its decompression
//! and torsion check are done once.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;

use super::{batch, strict, verify_one, Method, SigCheck, BATCH_SIGNATURES_MIN, THREADS_MAX};

/// What one public key allows.
#[derive(Clone, Copy, Debug)]
pub(super) enum KeyClass {
    /// The bytes do not decode to a curve point: every signature under them is invalid.
    Undecodable,
    /// Decodes, but is of small order or has a small-order component: each signature goes to
    /// `verify_strict` on its own.
    Individual(VerifyingKey),
    /// Decodes to a torsion-free point other than the identity: the batch may take its
    /// signatures.
    Batchable(VerifyingKey),
}

impl KeyClass {
    fn of(public_key: &[u8; 32]) -> Self {
        let Ok(key) = VerifyingKey::from_bytes(public_key) else {
            return KeyClass::Undecodable;
        };
        let point = key.to_edwards();
        if !point.is_small_order() && point.is_torsion_free() {
            KeyClass::Batchable(key)
        } else {
            KeyClass::Individual(key)
        }
    }
}

/// Decoded public keys (the curve point and whether the batch path may use it), at most
/// `keys_max` of them. The node and the auditor keep one across calls. When a new key does not
/// fit, the cache is emptied first; a key dropped that way during a call is decoded again per
/// signature, which changes no verdict.
#[derive(Debug)]
pub struct KeyCache {
    entries: HashMap<[u8; 32], KeyClass>,
    keys_max: usize,
}

impl KeyCache {
    /// An empty cache that holds at most `keys_max` keys (0 caches nothing).
    pub fn new(keys_max: usize) -> Self {
        Self {
            entries: HashMap::new(),
            keys_max,
        }
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks one signature: the verdict of ed25519-dalek `verify_strict`.
    pub fn verify_one(&mut self, check: &SigCheck<'_>) -> bool {
        self.admit(std::slice::from_ref(check));
        self.verify_individually(check)
    }

    /// Checks every signature with [`Method::Auto`]: one verdict per check, in order, each
    /// equal to ed25519-dalek `verify_strict`'s.
    pub fn verify_all(&mut self, checks: &[SigCheck<'_>]) -> Vec<bool> {
        self.verify_all_with(checks, Method::Auto)
    }

    /// Checks every signature with the given method (all methods give the same verdicts).
    pub fn verify_all_with(&mut self, checks: &[SigCheck<'_>], method: Method) -> Vec<bool> {
        self.admit(checks);
        self.run_to_vec(method, checks)
    }

    /// Like [`KeyCache::verify_all`], split over `threads` threads (clamped to
    /// 1..=[`THREADS_MAX`]).
    pub fn verify_all_parallel(&mut self, checks: &[SigCheck<'_>], threads: usize) -> Vec<bool> {
        self.verify_all_parallel_with(checks, threads, Method::Auto)
    }

    /// Like [`KeyCache::verify_all_with`], split over `threads` threads (clamped to
    /// 1..=[`THREADS_MAX`]) in contiguous runs, the first on the calling thread. A thread that
    /// cannot be started leaves its run to the calling thread.
    pub fn verify_all_parallel_with(
        &mut self,
        checks: &[SigCheck<'_>],
        threads: usize,
        method: Method,
    ) -> Vec<bool> {
        self.admit(checks);
        let threads = threads.clamp(1, THREADS_MAX);
        let run_len = checks.len().div_ceil(threads).max(1);
        let cache = &*self;
        let mut runs = checks.chunks(run_len);
        let first = runs.next().unwrap_or_default();
        let verdicts: Vec<Vec<bool>> = std::thread::scope(|scope| {
            let started: Vec<_> = runs
                .map(|run| {
                    let thread = std::thread::Builder::new()
                        .spawn_scoped(scope, move || cache.run_to_vec(method, run));
                    (run, thread)
                })
                .collect();
            // The calling thread takes the first run while the others work.
            let mut verdicts = vec![cache.run_to_vec(method, first)];
            for (run, thread) in started {
                verdicts.push(match thread {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err(_) => cache.run_to_vec(method, run),
                });
            }
            verdicts
        });
        verdicts.concat()
    }

    /// The class of a key, if held.
    pub(super) fn class(&self, public_key: &[u8; 32]) -> Option<&KeyClass> {
        self.entries.get(public_key)
    }

    /// Decodes and holds the keys of `checks` not yet held.
    fn admit(&mut self, checks: &[SigCheck<'_>]) {
        for check in checks {
            if self.entries.contains_key(check.public_key) || self.keys_max == 0 {
                continue;
            }
            if self.entries.len() >= self.keys_max {
                self.entries.clear();
            }
            self.entries
                .insert(*check.public_key, KeyClass::of(check.public_key));
        }
    }

    fn run_to_vec(&self, method: Method, checks: &[SigCheck<'_>]) -> Vec<bool> {
        match method {
            Method::Individual => checks
                .iter()
                .map(|check| self.verify_individually(check))
                .collect(),
            Method::Batch => batch::verify_chunked(self, checks, 1),
            Method::Auto => batch::verify_chunked(self, checks, BATCH_SIGNATURES_MIN),
        }
    }

    /// `verify_strict` of one check, with the key from the cache when it is held.
    fn verify_individually(&self, check: &SigCheck<'_>) -> bool {
        match self.class(check.public_key) {
            Some(KeyClass::Undecodable) => false,
            Some(KeyClass::Individual(key) | KeyClass::Batchable(key)) => strict(key, check),
            None => verify_one(check),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_gives_no_verdicts_with_any_thread_count() {
        let mut cache = KeyCache::new(4);
        for method in [Method::Individual, Method::Batch, Method::Auto] {
            assert!(cache.verify_all_with(&[], method).is_empty());
            for threads in [0, 1, 2, THREADS_MAX + 1] {
                assert!(cache
                    .verify_all_parallel_with(&[], threads, method)
                    .is_empty());
            }
        }
        assert!(cache.is_empty());
    }

    #[test]
    fn cache_never_holds_more_than_keys_max() {
        let keys: Vec<[u8; 32]> = (0..10u8).map(|i| [i; 32]).collect();
        let checks: Vec<SigCheck<'_>> = keys
            .iter()
            .map(|key| SigCheck {
                public_key: key,
                message: b"m",
                signature: &[0; 64],
            })
            .collect();
        let mut cache = KeyCache::new(3);
        assert_eq!(cache.verify_all(&checks), vec![false; 10]);
        assert!(cache.len() <= 3 && !cache.is_empty());
        let mut none = KeyCache::new(0);
        assert_eq!(none.verify_all(&checks), vec![false; 10]);
        assert!(none.is_empty());
    }
}
