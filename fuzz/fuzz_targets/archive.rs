//! cargo-fuzz target `archive`: the check is `zumodra_fuzz::checks::archive`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zumodra_fuzz::checks::archive(data));
