//! The archive reader on random input, through the public `import_tenant`: byte-level
//! mutations of a real export (gzip and tar layers), and structure-aware ones whose
//! checksums are fixed up so the rows reach the loader. Every import ends in `Ok` or a
//! typed `Err` within a bound — never a panic or a hang — and a refused import leaves
//! no schema behind. `PROPTEST_CASES=N` sets the cases per property (default 16).

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::Engine;

use crate::support::new_tenant;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

fn draw<S: Strategy>(strategy: S, n: u32) -> Vec<S::Value> {
    let mut runner = TestRunner::new(Config::default());
    (0..n)
        .filter_map(|_| strategy.new_tree(&mut runner).ok().map(|t| t.current()))
        .collect()
}

/// A byte-level edit: flip, overwrite, insert, or truncate at a relative position.
#[derive(Debug, Clone)]
enum Edit {
    Xor(f64, u8),
    Set(f64, u8),
    Insert(f64, Vec<u8>),
    Truncate(f64),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let pos = 0.0f64..1.0;
    let edit = prop_oneof![
        4 => (pos.clone(), 1u8..=255).prop_map(|(p, x)| Edit::Xor(p, x)),
        2 => (pos.clone(), any::<u8>()).prop_map(|(p, x)| Edit::Set(p, x)),
        1 => (pos.clone(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(p, b)| Edit::Insert(p, b)),
        1 => pos.prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..6)
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len.saturating_sub(1));
        match e {
            Edit::Xor(p, x) if !bytes.is_empty() => {
                let i = at(*p, bytes.len());
                bytes[i] ^= x;
            }
            Edit::Set(p, x) if !bytes.is_empty() => {
                let i = at(*p, bytes.len());
                bytes[i] = *x;
            }
            Edit::Insert(p, b) => {
                let i = at(*p, bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            Edit::Truncate(p) => bytes.truncate(at(*p, bytes.len())),
            _ => {}
        }
    }
    bytes
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, bytes).unwrap();
    enc.finish().unwrap()
}

/// Import `bytes` as tenant `slug`: must end (Ok or Err) within the bound, and a
/// refused import must leave no tenant.
async fn import(engine: &Engine, dir: &Path, slug: &str, bytes: &[u8]) -> bool {
    let path = dir.join(format!("{slug}.tar.gz"));
    std::fs::write(&path, bytes).unwrap();
    let run = engine.import_tenant(&path, new_tenant(slug), &|_, _| {});
    let result = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("import of {slug} hung"));
    if result.is_err() {
        assert!(
            engine.tenant(slug).await.is_err(),
            "{slug}: refused but created: {result:?}"
        );
    }
    result.is_ok()
}

async fn exported(db: &TestDb, dir: &Path) -> Vec<u8> {
    let source = crate::support::create(&db.engine, "source").await;
    let tx = db.engine.begin(&source.as_ref()).await.unwrap();
    tx.execute(
        "insert into ats_job (title, status, salary_min, deadline) values ('Engineer', 'open', 100, '2030-01-01')",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into ats_candidate (name, email, tags) values ('Ada', 'ada@example.test', '{rust}')",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into hr_core_employee (name, email, pto_balance_days) values ('Boss', 'boss@x.test', 2.5)",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let good = dir.join("good.tar.gz");
    db.engine
        .export_tenant("source", &good, &|_, _| {})
        .await
        .unwrap();
    std::fs::read(&good).unwrap()
}

#[tokio::test]
async fn mutated_archive_bytes_are_refused_or_imported_never_panic() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let good = exported(&db, dir.path()).await;
    let tar = gunzip(&good);
    let mut n = 0;
    for (i, (layer, e)) in draw((any::<bool>(), edits()), cases() * 2)
        .into_iter()
        .enumerate()
    {
        // The gzip layer (its CRC catches most edits) or the tar inside, re-gzipped.
        let bytes = if layer {
            apply(good.clone(), &e)
        } else {
            gzip(&apply(tar.clone(), &e))
        };
        n += import(&db.engine, dir.path(), &format!("m{i}x"), &bytes).await as usize;
    }
    // Random bytes and the empty file.
    for (i, bytes) in draw(prop::collection::vec(any::<u8>(), 0..4096), cases())
        .into_iter()
        .chain([Vec::new(), gzip(b""), gzip(&[0; 1024])])
        .enumerate()
    {
        assert!(!import(&db.engine, dir.path(), &format!("r{i}x"), &bytes).await);
    }
    let _ = n;
}

/// A JSON value for a column: of the right kind sometimes, of any kind often.
fn cell() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-2i64..5).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
        prop::sample::select(vec![
            "2030-01-01",
            "2030-13-45",
            "2030-01-01T00:00:00Z",
            "open",
            "{a,b}",
            "",
        ])
        .prop_map(Value::from),
        prop::collection::vec("[a-z]{0,5}", 0..3).prop_map(Value::from),
        Just(serde_json::json!({"nested": [1, {"x": null}]})),
    ]
}

/// Edit one row object of a part: change, drop or add a column.
#[derive(Debug, Clone)]
enum RowEdit {
    Set(usize, Value),
    Drop(usize),
    Add(String, Value),
    /// Replace the whole line with this text.
    Line(String),
}

fn row_edits() -> impl Strategy<Value = (usize, usize, Vec<RowEdit>)> {
    let edit = prop_oneof![
        4 => (any::<usize>(), cell()).prop_map(|(i, v)| RowEdit::Set(i, v)),
        1 => any::<usize>().prop_map(RowEdit::Drop),
        1 => ("[a-z_]{1,10}", cell()).prop_map(|(k, v)| RowEdit::Add(k, v)),
        1 => prop_oneof!["\\PC{0,30}", Just("[]".to_owned()), Just("{}".to_owned())]
            .prop_map(RowEdit::Line),
    ];
    (
        any::<usize>(),
        any::<usize>(),
        prop::collection::vec(edit, 1..4),
    )
}

fn edit_line(line: &str, edits: &[RowEdit]) -> String {
    let mut obj = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(o)) => o,
        _ => return line.to_owned(),
    };
    for e in edits {
        let keys: Vec<String> = obj.keys().cloned().collect();
        match e {
            RowEdit::Set(i, v) if !keys.is_empty() => {
                obj.insert(keys[i % keys.len()].clone(), v.clone());
            }
            RowEdit::Drop(i) if !keys.is_empty() => {
                obj.remove(&keys[i % keys.len()]);
            }
            RowEdit::Add(k, v) => {
                obj.insert(k.clone(), v.clone());
            }
            RowEdit::Line(text) => return text.replace('\n', " "),
            _ => {}
        }
    }
    Value::Object(obj).to_string()
}

#[tokio::test]
async fn rows_with_valid_checksums_but_random_values_are_refused_or_loaded() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let good = exported(&db, dir.path()).await;
    let base = tempfile::tempdir().unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(good.as_slice()))
        .unpack(base.path())
        .unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(base.path().join("manifest.json")).unwrap()).unwrap();
    // Parts with at least one row.
    let parts: Vec<String> = manifest["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["rows"].as_u64() > Some(0))
        .map(|p| p["file"].as_str().unwrap().to_owned())
        .collect();
    assert!(!parts.is_empty());
    let mut loaded = 0;
    for (i, (which, row, edits)) in draw(row_edits(), cases()).into_iter().enumerate() {
        let file = &parts[which % parts.len()];
        let text = std::fs::read_to_string(base.path().join(file)).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let r = row % lines.len();
        lines[r] = edit_line(&lines[r], &edits);
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        // Fix up the manifest so the checksum and row count match the edit.
        let mut m = manifest.clone();
        for p in m["parts"].as_array_mut().unwrap() {
            if p["file"] == file.as_str() {
                p["sha256"] = hex::encode(Sha256::digest(body.as_bytes())).into();
                p["bytes"] = body.len().into();
                p["rows"] = lines.len().into();
            }
        }
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            builder.append_data(&mut h, name, data).unwrap();
        };
        add("manifest.json", m.to_string().as_bytes());
        for p in manifest["parts"].as_array().unwrap() {
            let name = p["file"].as_str().unwrap();
            if name == file.as_str() {
                add(name, body.as_bytes());
            } else {
                add(name, &std::fs::read(base.path().join(name)).unwrap());
            }
        }
        let bytes = builder.into_inner().unwrap().finish().unwrap();
        loaded += import(&db.engine, dir.path(), &format!("s{i}x"), &bytes).await as usize;
    }
    let _ = loaded;
}
