#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ledger_node::http::fuzzing::path(data));
