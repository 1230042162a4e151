//! The OpenAPI document describes every route the source registers.

use std::collections::BTreeSet;
use std::path::Path;

use crate::helpers::*;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (method, path) of every `.route("path", get(..).post(..))` in `src/`.
fn registered() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            let call = &rest[at + ".route(".len()..];
            let mut depth = 1;
            let end = call
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap_or(call.len());
            let args = &call[..end];
            rest = &call[end..];
            let Some(path) = args.split('"').nth(1) else {
                continue;
            };
            let bytes = args.as_bytes();
            for method in ["get", "post", "patch", "put", "delete"] {
                let pat = format!("{method}(");
                let mut from = 0;
                while let Some(i) = args[from..].find(&pat) {
                    let i = from + i;
                    let before = if i == 0 { b' ' } else { bytes[i - 1] };
                    if !(before.is_ascii_alphanumeric() || before == b'_') {
                        found.insert((method.to_owned(), path.to_owned()));
                    }
                    from = i + pat.len();
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn every_route_is_described() {
    let app = spawn_app().await;
    let doc = app.get("localhost", "/api/v1/openapi.json", None).await;
    let doc = doc.ok(200).clone();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            assert!(op["responses"].is_object(), "{method} {path}");
            described.insert((method.clone(), path.clone()));
        }
    }
    let registered = registered();
    assert!(
        registered.len() > 40,
        "the scan found the routes: {registered:?}"
    );
    let missing: Vec<_> = registered.difference(&described).collect();
    assert!(
        missing.is_empty(),
        "routes missing from src/openapi/routes.rs: {missing:?}"
    );
    // Every referenced schema exists.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            schemas.contains_key(&name),
            "schema {name} is referenced but not defined"
        );
    }
    // Served on tenant hosts too.
    app.tenant("acme", "alice@acme.test").await;
    app.get(&host("acme"), "/api/v1/openapi.json", None)
        .await
        .ok(200);
}
