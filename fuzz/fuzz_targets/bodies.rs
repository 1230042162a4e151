//! cargo-fuzz target `bodies`: the check is `zumodra_fuzz::checks::bodies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zumodra_fuzz::checks::bodies(data));
