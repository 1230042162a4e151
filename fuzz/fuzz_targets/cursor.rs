//! cargo-fuzz target `cursor`: the check is `zumodra_fuzz::checks::cursor`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zumodra_fuzz::checks::cursor(data));
