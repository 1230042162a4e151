//! The fleet migration runner: failures are recorded and resumable, lock waits bounded.

use std::time::Duration;

use zumodra_tenancy::migrations::Migrations;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{MigrateOptions, TenantOutcome};

use crate::support::create_at;

/// Version 2 fails in any schema listed in `public.zt_fail`, else adds a column.
const FLAKY_V2: &str = "do $$ begin \
       if exists (select 1 from public.zt_fail where schema_name = current_schema()) then \
         raise exception 'injected migration failure'; \
       end if; end $$;\n\
     alter table ats_job add column priority integer;";

async fn has_priority(db: &TestDb, schema: &str) -> bool {
    db.superuser()
        .await
        .query_opt(
            "select 1 from information_schema.columns where table_schema = $1 \
             and table_name = 'ats_job' and column_name = 'priority'",
            &[&schema],
        )
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn a_failed_fleet_migration_resumes_and_the_ledger_agrees() {
    let db =
        TestDb::with(|c| c.tenant_migrations = Migrations::tenant().with("flaky", FLAKY_V2)).await;
    let su = db.superuser().await;
    su.batch_execute(
        "create table public.zt_fail (schema_name text primary key); \
         grant select on public.zt_fail to public; \
         insert into public.zt_fail values ('tenant_t03'), ('tenant_t05');",
    )
    .await
    .unwrap();
    for i in 0..8 {
        create_at(&db.engine, &format!("t{i:02}"), 1).await;
    }
    let pending = db.engine.pending_tenants().await.unwrap();
    assert_eq!(pending.len(), 8);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let on_done = |_: &TenantOutcome| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    let opts = MigrateOptions {
        concurrency: 3,
        ..Default::default()
    };
    let report = db
        .engine
        .migrate_tenants(pending, &opts, &on_done)
        .await
        .unwrap();
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        8,
        "progress saw every tenant"
    );
    assert_eq!(report.migrated, 6);
    let mut failed: Vec<_> = report.failed.iter().map(|(s, _)| s.clone()).collect();
    failed.sort();
    assert_eq!(failed, ["t03", "t05"]);
    assert!(report.failed[0].1.contains("injected migration failure"));

    // The ledger agrees with the schemas.
    let status = db.engine.migration_status().await.unwrap();
    assert_eq!(
        status.counts,
        vec![(1, "failed".to_string(), 2), (2, "ok".to_string(), 6)]
    );
    assert_eq!(status.failed.len(), 2);
    for i in 0..8 {
        let schema = format!("tenant_t{i:02}");
        assert_eq!(
            has_priority(&db, &schema).await,
            i != 3 && i != 5,
            "{schema}"
        );
    }

    // Fix the cause; the rerun takes only the two that are behind.
    su.batch_execute("delete from public.zt_fail")
        .await
        .unwrap();
    let pending = db.engine.pending_tenants().await.unwrap();
    assert_eq!(pending.len(), 2);
    let report = db
        .engine
        .migrate_tenants(pending, &opts, &|_| {})
        .await
        .unwrap();
    assert_eq!((report.migrated, report.failed.len()), (2, 0));
    let status = db.engine.migration_status().await.unwrap();
    assert_eq!(status.counts, vec![(2, "ok".to_string(), 8)]);
    assert!(status.failed.is_empty());
    assert!(
        db.engine.pending_tenants().await.unwrap().is_empty(),
        "a no-op run has nothing to do"
    );
    for i in 0..8 {
        assert!(has_priority(&db, &format!("tenant_t{i:02}")).await);
    }
}

#[tokio::test]
async fn a_migration_does_not_wait_long_behind_an_application_lock() {
    let db = TestDb::with(|c| {
        c.tenant_migrations = Migrations::tenant().with(
            "add_column",
            "alter table ats_job add column priority integer;",
        )
    })
    .await;
    create_at(&db.engine, "busy", 1).await;
    // A long transaction holds a lock that ALTER TABLE must wait for.
    let holder = db.superuser().await;
    holder
        .batch_execute("begin; lock table tenant_busy.ats_job in access share mode")
        .await
        .unwrap();
    let opts = MigrateOptions {
        lock_timeout: Duration::from_millis(100),
        lock_retries: 1,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let report = db
        .engine
        .migrate_tenants(db.engine.pending_tenants().await.unwrap(), &opts, &|_| {})
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.failed[0].1.starts_with("55P03"),
        "{}",
        report.failed[0].1
    );
    holder.batch_execute("commit").await.unwrap();
    let report = db
        .engine
        .migrate_tenants(db.engine.pending_tenants().await.unwrap(), &opts, &|_| {})
        .await
        .unwrap();
    assert_eq!((report.migrated, report.failed.len()), (1, 0));
}

#[tokio::test]
async fn a_locking_migration_runs_with_the_tenant_in_maintenance() {
    // The owner part records what the catalog says while the step runs.
    let db = TestDb::with(|c| {
        c.tenant_migrations = Migrations::tenant().with(
            "locking",
            "-- @locking\nalter table ats_job add column priority integer;\n-- @owner\n\
             insert into public.zt_seen (schema_name, maintenance) \
             select schema_name, maintenance from public.tenants where schema_name = current_schema();",
        )
    })
    .await;
    db.superuser()
        .await
        .batch_execute("create table public.zt_seen (schema_name text, maintenance boolean)")
        .await
        .unwrap();
    create_at(&db.engine, "busy", 1).await;
    create_at(&db.engine, "held", 1).await;
    // An operator had put `held` in maintenance already: it stays there afterwards.
    db.engine.set_maintenance("held", true).await.unwrap();
    let report = db
        .engine
        .migrate_tenants(
            db.engine.pending_tenants().await.unwrap(),
            &MigrateOptions::default(),
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!((report.migrated, report.failed.len()), (2, 0));
    let seen: Vec<(String, bool)> = db
        .superuser()
        .await
        .query(
            "select schema_name, maintenance from public.zt_seen order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        seen,
        [
            ("tenant_busy".to_string(), true),
            ("tenant_held".to_string(), true)
        ]
    );
    assert!(
        !db.engine.tenant("busy").await.unwrap().maintenance,
        "switched off again"
    );
    assert!(
        db.engine.tenant("held").await.unwrap().maintenance,
        "left as the operator set it"
    );
}

/// What a run killed mid-step leaves behind: PostgreSQL finishes the orphaned step on
/// its own (here: a superuser transaction doing what a step does, committed while the
/// rerun is already waiting), and the tenant the killed run put in maintenance stays
/// there. The rerun waits for the orphan, carries on from the version it reached without
/// a failure, and lifts the runner's maintenance (not an operator's).
#[tokio::test]
async fn a_rerun_finishes_what_a_killed_run_left() {
    let db = TestDb::with(|c| {
        c.tenant_migrations = Migrations::tenant().with(
            "locking",
            "-- @locking\nalter table ats_job add column priority integer;",
        )
    })
    .await;
    let orphaned = create_at(&db.engine, "orphaned", 1).await;
    let stuck = create_at(&db.engine, "stuck", 1).await;
    let held = create_at(&db.engine, "held", 1).await;
    let su = db.superuser().await;
    // `stuck`: the killed run had put it in maintenance and its step committed (v2).
    // `held`: an operator's maintenance; `orphaned`: in maintenance, step still running.
    su.batch_execute(&format!(
        "update public.tenants set maintenance = true where id in ({}, {}, {});
         update public.tenant_migrations set maintenance_by_runner = true where tenant_id in ({}, {});
         alter table tenant_stuck.ats_job add column priority integer;
         update public.tenant_migrations set version = 2 where tenant_id = {};",
        orphaned.id.0, stuck.id.0, held.id.0, orphaned.id.0, stuck.id.0, stuck.id.0,
    ))
    .await
    .unwrap();
    su.batch_execute(&format!(
        "begin;
         select 1 from public.tenant_migrations where tenant_id = {0} for update;
         alter table tenant_orphaned.ats_job add column priority integer;
         update public.tenant_migrations set version = 2, status = 'ok' where tenant_id = {0};",
        orphaned.id.0,
    ))
    .await
    .unwrap();
    let pending = db.engine.pending_tenants().await.unwrap();
    let mut slugs: Vec<String> = pending.iter().map(|p| p.tenant.slug.to_string()).collect();
    slugs.sort();
    assert_eq!(slugs, ["held", "orphaned", "stuck"]);
    let commit_later = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        su.batch_execute("commit").await.unwrap();
    };
    let opts = MigrateOptions::default();
    let (report, ()) = tokio::join!(
        db.engine.migrate_tenants(pending, &opts, &|_| {}),
        commit_later
    );
    let report = report.unwrap();
    assert_eq!(
        (report.migrated, report.failed.len()),
        (3, 0),
        "{:?}",
        report.failed
    );
    let status = db.engine.migration_status().await.unwrap();
    assert_eq!(status.counts, vec![(2, "ok".to_string(), 3)]);
    assert!(!db.engine.tenant("orphaned").await.unwrap().maintenance);
    assert!(!db.engine.tenant("stuck").await.unwrap().maintenance);
    assert!(
        db.engine.tenant("held").await.unwrap().maintenance,
        "an operator's maintenance stays"
    );
    for schema in ["tenant_orphaned", "tenant_stuck", "tenant_held"] {
        assert!(has_priority(&db, schema).await, "{schema}");
    }
}
