//! Replays the committed cargo-fuzz corpora (`fuzz/corpus/<target>/*`) and the seed
//! inputs through the same checks the fuzz targets run (`fuzz/src/checks.rs`), so
//! every input the fuzzer found interesting guards against regressions in the normal
//! test suite, without cargo-fuzz. No database needed.
// Test code may unwrap: a failed unwrap is a failed test (helpers included, which
// clippy's allow-unwrap-in-tests does not cover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/src/checks.rs"]
mod checks;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

#[test]
fn committed_corpora_pass_their_checks() {
    let mut total = 0;
    for (target, check) in checks::TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for {target}");
        for file in &files {
            let data = std::fs::read(file).unwrap();
            // A panic names the input: rerun it with `cargo fuzz run <target> <file>`.
            eprintln!("{target}: {}", file.display());
            check(&data);
        }
        total += files.len();
    }
    assert!(total >= checks::TARGETS.len());
}

#[test]
fn seeds_pass_their_checks() {
    for (target, data) in checks::seeds() {
        let (_, check) = checks::TARGETS
            .iter()
            .find(|(name, _)| *name == target)
            .unwrap();
        check(&data);
    }
    // The seed archive is valid: it reaches the end of verification.
    let (plain, gz) = checks::sample_archive();
    let m = zumodra_tenancy::archive::verify_tar(plain.as_slice()).unwrap();
    assert_eq!(m.parts.len(), 3);
    let m2 =
        zumodra_tenancy::archive::verify_tar(flate2::read::GzDecoder::new(gz.as_slice())).unwrap();
    assert_eq!(m, m2);
}

/// Writes the seed inputs into `fuzz/corpus/<target>/seed-<n>` (run once, before the
/// first fuzz run): `cargo test -p zumodra --test fuzz_corpus -- --ignored write_seeds`.
#[test]
#[ignore]
fn write_seeds() {
    for (n, (target, data)) in checks::seeds().into_iter().enumerate() {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{n:02}")), data).unwrap();
    }
}
