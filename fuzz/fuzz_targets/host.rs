//! cargo-fuzz target `host`: the check is `zumodra_fuzz::checks::host`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zumodra_fuzz::checks::host(data));
