#![no_main]

// The CLI is a binary crate: its bundle reader and the target's body are included as modules.
#[allow(dead_code, unreachable_pub)]
#[path = "../../ledger-cli/src/bundle.rs"]
mod bundle;
#[path = "../../ledger-cli/src/bundle_fuzzing.rs"]
mod bundle_fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| bundle_fuzzing::bundle(data));
