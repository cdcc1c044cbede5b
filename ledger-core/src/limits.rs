//! Bounds of the ledger core. The format bounds on list lengths live in
//! `proto::payload::bounds`; node configuration may set smaller ones.

/// Most bytes of one envelope as received. The largest valid payload (a claim with 10 000
/// participants and 64 evidence items) is about 0.85 MB, or 1.1 MB in base64.
pub const ENVELOPE_BYTES_MAX: usize = 2 * 1024 * 1024;

/// Most signatures on one envelope: one per party of a registration.
pub const SIGNATURES_MAX: usize = proto::payload::bounds::PARTIES_MAX;

/// Most threads [`crate::Ledger::check_signatures`] uses, whatever it is asked for.
pub const THREADS_MAX: usize = 64;

/// Fewest signatures worth handing to another thread.
pub const SIGNATURES_PER_THREAD_MIN: usize = 16;
