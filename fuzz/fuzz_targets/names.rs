//! cargo-fuzz target `names`: the check is `zumodra_fuzz::checks::names`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zumodra_fuzz::checks::names(data));
