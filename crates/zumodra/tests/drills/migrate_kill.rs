//! Drill 4: a fleet migration killed mid-run. 40 tenants at version 1; two added slow
//! migrations (v2 adds a column, v3 — marked `-- @locking`, so the runner puts each
//! tenant in maintenance while it runs — adds a table). The engine's runner migrates
//! them in a child process (this test binary, re-run as `child_migrate`), which is
//! killed with SIGKILL once a third of the tenants are done; the rerun then starts at
//! once. Verdict: right after the kill, every tenant's schema is at the version its
//! ledger row says (an interrupted one says `running`); the rerun completes every
//! tenant with no failure; no tenant is left in maintenance.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use futures::StreamExt;
use zumodra_tenancy::migrations::Migrations;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::tokio_postgres::Client;
use zumodra_tenancy::{Engine, EngineConfig, MigrateOptions, NewTenant, ProvisionOptions};
use zumodra_tenancy::{TenantOutcome, TenantStatus};

use crate::support::{self, ms};

const TENANTS: usize = 40;
const CHILD_ENV: &str = "ZUMODRA_DRILL_MIGRATE_URL";

fn migrations() -> Migrations {
    Migrations::tenant()
        .with(
            "drill_slow_column",
            "select pg_sleep(0.15);\nalter table ats_job add column drill_priority integer;",
        )
        .with(
            "drill_slow_table",
            "-- @locking\nselect pg_sleep(0.15);\ncreate table drill_marker (id integer primary key);",
        )
}

fn options() -> MigrateOptions {
    MigrateOptions {
        concurrency: 4,
        ..MigrateOptions::default()
    }
}

/// The child: run the fleet migration with the drill's migrations, printing each
/// finished tenant. Does nothing unless started by the drill.
#[tokio::test]
#[ignore = "run by migrate_kill as a child process"]
async fn child_migrate() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut config = EngineConfig::new(url.parse().unwrap(), "localhost");
    config.tenant_migrations = migrations();
    let engine = Engine::connect(config).await.unwrap();
    let pending = engine.pending_tenants().await.unwrap();
    println!("pending {}", pending.len());
    let report = engine
        .migrate_tenants(pending, &options(), &|o| match o {
            TenantOutcome::Migrated { slug, .. } => println!("done {slug}"),
            TenantOutcome::Failed { slug, error, .. } => println!("failed {slug}: {error}"),
        })
        .await
        .unwrap();
    println!("finished {}", report.migrated);
}

/// Per tenant, in one snapshot: (slug, ledger version, ledger status, version the
/// schema is actually at, in maintenance).
async fn states(su: &Client) -> Vec<(String, i32, String, i32, bool)> {
    su.query(
        "select t.slug, m.version, m.status, \
                1 + (exists (select 1 from information_schema.columns c \
                             where c.table_schema = t.schema_name and c.table_name = 'ats_job' \
                               and c.column_name = 'drill_priority'))::int \
                  + (exists (select 1 from information_schema.tables x \
                             where x.table_schema = t.schema_name \
                               and x.table_name = 'drill_marker'))::int, \
                t.maintenance \
         from public.tenants t join public.tenant_migrations m on m.tenant_id = t.id \
         order by t.slug",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fleet_migration_killed_mid_run() {
    let _serial = crate::support::one_at_a_time().await;
    let db = TestDb::with(|c| c.tenant_migrations = migrations()).await;
    let engine = db.engine.clone();
    futures::stream::iter(0..TENANTS)
        .map(|i| {
            let engine = engine.clone();
            async move {
                let new = NewTenant {
                    slug: format!("m{i:02}"),
                    name: format!("M {i}"),
                    plan: "free".into(),
                    status: TenantStatus::Active,
                    owner: None,
                };
                let opts = ProvisionOptions {
                    version: Some(1),
                    ..ProvisionOptions::default()
                };
                engine.create_tenant_with(new, opts).await.unwrap();
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
    let su = db.superuser().await;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["migrate_kill::child_migrate", "--exact", "--ignored"])
        .args(["--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, support::url_of(&db.config().database))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = Instant::now();
    let (lines, done_at_kill) = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let mut done = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.starts_with("done ") {
                done += 1;
            }
            lines.push(line);
            if done >= TENANTS / 3 {
                break;
            }
        }
        (lines, done)
    })
    .await
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let run_for = started.elapsed();
    assert!(
        (TENANTS / 3..TENANTS).contains(&done_at_kill),
        "the child did not get a third of the way: {lines:?}"
    );

    // Right after the kill: each schema is where its ledger row says.
    let after_kill = states(&su).await;
    let disagree: Vec<_> = after_kill.iter().filter(|s| s.1 != s.3).collect();
    let running = after_kill.iter().filter(|s| s.2 == "running").count();
    let behind = after_kill.iter().filter(|s| s.1 < 3).count();
    let in_maintenance = after_kill.iter().filter(|s| s.4).count();

    // The rerun, at once.
    let rerun_started = Instant::now();
    let pending = engine.pending_tenants().await.unwrap();
    let rerun_pending = pending.len();
    let report = engine
        .migrate_tenants(pending, &options(), &|_| {})
        .await
        .unwrap();
    let rerun_time = rerun_started.elapsed();
    let finally = states(&su).await;
    let not_done: Vec<_> = finally
        .iter()
        .filter(|s| (s.1, s.2.as_str(), s.3, s.4) != (3, "ok", 3, false))
        .collect();

    eprintln!(
        "drill migrate_kill: {TENANTS} tenants, killed after {} ms with {done_at_kill} done; \
         after the kill: {behind} behind, {running} with a `running` ledger row, \
         {in_maintenance} in maintenance, {} whose schema disagrees with the ledger; \
         rerun: {rerun_pending} pending, {} migrated, {} failed in {} ms; \
         afterwards {} not at version 3 ok or in maintenance",
        ms(run_for),
        disagree.len(),
        report.migrated,
        report.failed.len(),
        ms(rerun_time),
        not_done.len(),
    );
    assert!(
        disagree.is_empty(),
        "schema and ledger disagree: {disagree:?}"
    );
    assert!(behind > 0, "the kill landed after the run");
    assert!(
        report.failed.is_empty(),
        "rerun failures: {:?}",
        report.failed
    );
    assert!(not_done.is_empty(), "after the rerun: {not_done:?}");
}
