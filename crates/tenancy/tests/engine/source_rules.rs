//! Rules of the house checked over the source tree: only the tenancy engine changes the
//! role or the search_path, and no query reads `SELECT *`.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("rs" | "sql")) {
            out.push(path);
        }
    }
}

#[test]
fn only_the_engine_changes_role_or_search_path() {
    let root = workspace();
    let engine = root.join("crates/tenancy");
    let mut all = Vec::new();
    files(&root.join("crates"), &mut all);
    files(&root.join("migrations"), &mut all);
    files(&root.join("bench"), &mut all);
    assert!(all.len() > 10, "the scan sees the tree");
    let patterns = ["set role", "set local role", "reset role", "set_config('role'", "search_path", "session authorization"];
    let mut offenders = Vec::new();
    for path in all.iter().filter(|p| !p.starts_with(&engine)) {
        let text = std::fs::read_to_string(path).unwrap_or_default().to_lowercase();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for p in patterns {
            if text.contains(p) {
                offenders.push(format!("{}: {p}", path.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "role or search_path changed outside the engine: {offenders:#?}");
}

#[test]
fn no_select_star_outside_tests() {
    let root = workspace();
    let mut all = Vec::new();
    files(&root.join("crates"), &mut all);
    files(&root.join("migrations"), &mut all);
    let mut offenders = Vec::new();
    for path in all.iter().filter(|p| !p.components().any(|c| c.as_os_str() == "tests")) {
        let text = std::fs::read_to_string(path).unwrap_or_default().to_lowercase();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.contains("select * from") {
            offenders.push(path.display().to_string());
        }
    }
    assert!(offenders.is_empty(), "SELECT * in {offenders:?}");
}
