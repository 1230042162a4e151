//! Export and import: round trip, refusal of every kind of broken archive (with nothing
//! created), and archives of an older schema migrated forward.

use std::path::{Path, PathBuf};

use zumodra_tenancy::archive::{ArchiveError, Manifest};
use zumodra_tenancy::migrations::Migrations;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{Engine, Error, NewTenant, Tenant, TenantStatus};

use crate::support::{create_at, leftovers, new_tenant, with_owner};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zumodra-archive-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Rows in every table, including a self-reference and the audit log.
async fn fill(engine: &Engine, tenant: &Tenant) {
    let tx = engine.begin(&tenant.as_ref()).await.unwrap();
    tx.execute(
        "insert into ats_job (title, status, salary_min, deadline) values \
         ('Engineer', 'open', 100, '2030-01-01'), ('Designer', 'draft', null, null)",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into ats_candidate (name, email, tags, resume_text) values \
         ('Ada', 'ada@example.test', '{rust,sql}', 'line one\nline \"two\" \\\\ é'), ('Bob', 'bob@example.test', '{}', '')",
        &[],
    )
    .await
    .unwrap();
    tx.execute("insert into ats_application (job_id, candidate_id, stage, rating) values (1, 1, 'new', 4), (1, 2, 'screening', null)", &[]).await.unwrap();
    tx.execute("insert into ats_application_history (application_id, from_stage, to_stage) values (2, 'new', 'screening')", &[]).await.unwrap();
    tx.execute("insert into hr_core_employee (name, email, pto_balance_days) values ('Boss', 'boss@x.test', 20.5)", &[]).await.unwrap();
    tx.execute(
        "insert into hr_core_employee (name, email, manager_id) values ('Worker', 'w@x.test', 1)",
        &[],
    )
    .await
    .unwrap();
    // A manager with a higher id than the employee: load order must not matter.
    tx.execute(
        "insert into hr_core_employee (name, email) values ('Late boss', 'late@x.test')",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "update hr_core_employee set manager_id = 3 where id = 1",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into hr_core_timeoff (employee_id, kind, start_date, end_date, total_days) values (2, 'vacation', '2030-02-01', '2030-02-03', 3)",
        &[],
    )
    .await
    .unwrap();
    tx.execute("insert into services_listing (title, price_minor, currency) values ('Audit', 50000, 'EUR')", &[]).await.unwrap();
    tx.execute("update settings set timezone = 'Europe/Paris'", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn table_hashes(m: &Manifest) -> Vec<(String, String, u64)> {
    let mut v: Vec<_> = m
        .parts
        .iter()
        .map(|p| (p.file.clone(), p.sha256.clone(), p.rows))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn export_import_export_gives_identical_tables() {
    let db = TestDb::new().await;
    let source = db
        .engine
        .create_tenant(with_owner("source", "owner@source.test"))
        .await
        .unwrap();
    fill(&db.engine, &source).await;
    let dir = scratch("roundtrip");
    let first = dir.join("source.tar.gz");
    let m1 = db
        .engine
        .export_tenant("source", &first, &|_, _| {})
        .await
        .unwrap();
    assert!(m1
        .parts
        .iter()
        .any(|p| p.file == "tables/ats_job.jsonl" && p.rows == 2));
    assert!(m1
        .parts
        .iter()
        .any(|p| p.file == "users.jsonl" && p.rows == 1));
    let copy = db
        .engine
        .import_tenant(
            &first,
            NewTenant {
                slug: "copy".into(),
                name: "Copy".into(),
                ..new_tenant("copy")
            },
            &|_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(copy.status, TenantStatus::Active);
    let second = dir.join("copy.tar.gz");
    let m2 = db
        .engine
        .export_tenant("copy", &second, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(table_hashes(&m1), table_hashes(&m2));
    // The copy is a working tenant: its sequences go on after the imported ids.
    let tx = db.engine.begin(&copy.as_ref()).await.unwrap();
    let id: i64 = tx
        .query_one(
            "insert into ats_job (title) values ('New') returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(id, 3);
    tx.commit().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// Rewrite an archive: `edit` may change the unpacked files before they are packed again.
fn repack(src: &Path, dst: &Path, edit: impl FnOnce(&Path)) {
    let work = tempfile::tempdir().unwrap();
    let file = std::fs::File::open(src).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(work.path())
        .unwrap();
    edit(work.path());
    let out = std::fs::File::create(dst).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        out,
        flate2::Compression::fast(),
    ));
    let mut names = vec!["manifest.json".to_string(), "users.jsonl".to_string()];
    for entry in std::fs::read_dir(work.path().join("tables")).unwrap() {
        names.push(format!(
            "tables/{}",
            entry.unwrap().file_name().to_string_lossy()
        ));
    }
    for name in names {
        tar.append_path_with_name(work.path().join(&name), &name)
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

#[tokio::test]
async fn broken_archives_are_refused_and_create_nothing() {
    let db = TestDb::new().await;
    let source = crate::support::create(&db.engine, "source").await;
    fill(&db.engine, &source).await;
    let dir = scratch("broken");
    let good = dir.join("good.tar.gz");
    db.engine
        .export_tenant("source", &good, &|_, _| {})
        .await
        .unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = dir.join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = dir.join("garbage.tar.gz");
    std::fs::write(&garbage, b"this is not an archive").unwrap();
    let tampered = dir.join("tampered.tar.gz");
    repack(&good, &tampered, |d| {
        let p = d.join("tables/ats_job.jsonl");
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("Engineer", "Engineeer");
        std::fs::write(p, text).unwrap();
    });
    let newer = dir.join("newer.tar.gz");
    repack(&good, &newer, |d| {
        let p = d.join("manifest.json");
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("\"format_version\": 1", "\"format_version\": 99");
        std::fs::write(p, text).unwrap();
    });
    let missing = dir.join("missing.tar.gz");
    repack(&good, &missing, |d| {
        std::fs::remove_file(d.join("tables/ats_candidate.jsonl")).unwrap()
    });

    type Expected = fn(&ArchiveError) -> bool;
    let cases: [(&Path, Expected); 5] = [
        (&truncated, |e| matches!(e, ArchiveError::Unreadable(_))),
        (&garbage, |e| matches!(e, ArchiveError::Unreadable(_))),
        (
            &tampered,
            |e| matches!(e, ArchiveError::Checksum(f, _, _) if f == "tables/ats_job.jsonl"),
        ),
        (&newer, |e| matches!(e, ArchiveError::NewerFormat(99))),
        (
            &missing,
            |e| matches!(e, ArchiveError::MissingPart(f) if f == "tables/ats_candidate.jsonl"),
        ),
    ];
    for (path, expected) in cases {
        let err = db
            .engine
            .import_tenant(path, new_tenant("victim"), &|_, _| {})
            .await
            .unwrap_err();
        match &err {
            Error::Archive(a) => assert!(expected(a), "{}: {a}", path.display()),
            other => panic!("{}: {other}", path.display()),
        }
        assert!(matches!(
            db.engine.tenant("victim").await,
            Err(Error::TenantNotFound(_))
        ));
        assert!(!leftovers(&db)
            .await
            .0
            .contains(&"tenant_victim".to_string()));
    }
    // The good one still imports.
    db.engine
        .import_tenant(&good, new_tenant("victim"), &|_, _| {})
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_archive_of_an_older_schema_is_migrated_forward_on_import() {
    let db = TestDb::with(|c| {
        c.tenant_migrations = Migrations::tenant().with(
            "priority",
            "alter table ats_job add column priority integer not null default 3;",
        )
    })
    .await;
    let old = create_at(&db.engine, "old", 1).await;
    fill(&db.engine, &old).await;
    let dir = scratch("older");
    let path = dir.join("old.tar.gz");
    let manifest = db
        .engine
        .export_tenant("old", &path, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(manifest.migration_version, 1);
    let new = db
        .engine
        .import_tenant(&path, new_tenant("renewed"), &|_, _| {})
        .await
        .unwrap();
    let tx = db.engine.begin(&new.as_ref()).await.unwrap();
    let priorities: Vec<i32> = tx
        .query("select priority from ats_job order by id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(priorities, [3, 3]);
    drop(tx);
    let status = db.engine.migration_status().await.unwrap();
    assert!(
        status.counts.contains(&(2, "ok".to_string(), 1)),
        "{:?}",
        status.counts
    );
    let _ = std::fs::remove_dir_all(dir);
}
