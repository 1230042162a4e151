//! The Zumodra fuzz targets' checks. The targets (`fuzz_targets/*.rs`) are one line
//! each; the properties live in `checks.rs`, which the normal test suite also includes
//! to replay the committed corpora (`crates/zumodra/tests/fuzz_corpus.rs`).

pub mod checks;
