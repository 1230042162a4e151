//! Background jobs: SPEC §2 guarantee 8 (a job runs in the tenant that enqueued it, in
//! the same transaction as its cause; no job without a tenant unless platform-wide),
//! leases, retries and the periodic fan-out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use zumodra_tenancy::jobs::{
    builtin, kinds, schedule, JobError, JobFilter, JobKind, JobOutcome, JobRegistry, JobStatus,
    Worker, WorkerConfig,
};
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::TenantId;

use crate::support::create;

const SEE_JOBS: JobKind = JobKind::tenant("test.see_jobs");
const ALWAYS_FAILS: JobKind = JobKind::tenant("test.always_fails");
const HANGS_FIRST: JobKind = JobKind::tenant("test.hangs_first");

fn config() -> WorkerConfig {
    WorkerConfig {
        name: "test".into(),
        concurrency: 1,
        lease: Duration::from_secs(30),
        idle_poll: Duration::from_millis(20),
        backoff_base: Duration::ZERO,
        backoff_max: Duration::ZERO,
        periodic: Vec::new(),
        schedule_tick: Duration::from_secs(3600),
    }
}

type Seen = Arc<Mutex<Vec<(TenantId, Vec<String>)>>>;

/// A registry whose `test.see_jobs` records the tenant and the job titles it sees.
fn seeing_registry(seen: &Seen) -> JobRegistry {
    let mut registry = builtin::registry();
    let seen = seen.clone();
    registry.tenant(SEE_JOBS, move |tx, _job| {
        let seen = seen.clone();
        Box::pin(async move {
            let titles = tx
                .query("select title from ats_job order by id", &[])
                .await?
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect();
            seen.lock().unwrap().push((tx.tenant_id(), titles));
            Ok(())
        })
    });
    registry
}

#[tokio::test]
async fn a_job_exists_only_if_its_transaction_commits_and_runs_once_in_its_tenant() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await.as_ref();
    let globex = create(&db.engine, "globex").await.as_ref();
    let tx = db.engine.begin(&globex).await.unwrap();
    tx.execute("insert into ats_job (title) values ('Globex job')", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Rolled back: the job goes with the row that caused it.
    let tx = db.engine.begin(&acme).await.unwrap();
    tx.execute("insert into ats_job (title) values ('Phantom')", &[])
        .await
        .unwrap();
    tx.enqueue(SEE_JOBS, json!({})).await.unwrap();
    tx.rollback().await.unwrap();
    // Dropped without commit (an error or panic in a request): the same.
    {
        let tx = db.engine.begin(&acme).await.unwrap();
        tx.enqueue(SEE_JOBS, json!({})).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(db
        .engine
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .is_empty());

    // Committed: exactly one job, of acme.
    let tx = db.engine.begin(&acme).await.unwrap();
    tx.execute("insert into ats_job (title) values ('Acme job')", &[])
        .await
        .unwrap();
    let id = tx.enqueue(SEE_JOBS, json!({"why": "test"})).await.unwrap();
    tx.commit().await.unwrap();
    let jobs = db.engine.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, id);
    assert_eq!(jobs[0].tenant_id, Some(acme.id));
    assert_eq!(jobs[0].tenant_slug.as_deref(), Some("acme"));
    assert_eq!(jobs[0].status, JobStatus::Queued);

    // Two workers race for it (as two server instances would); it runs once.
    let seen = Seen::default();
    let w1 = Worker::new(db.engine.clone(), seeing_registry(&seen), config());
    let w2 = Worker::new(db.engine.clone(), seeing_registry(&seen), config());
    let (a, b) = tokio::join!(w1.run_once(), w2.run_once());
    let outcomes: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(outcomes, vec![(id, JobOutcome::Done)]);
    assert!(w1.run_once().await.unwrap().is_none());
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(acme.id, vec!["Acme job".to_string()])],
        "the handler ran once, in acme, and saw acme's tables only"
    );
    let job = db.engine.job(id).await.unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Done, 1));
    let done: u64 = w1
        .stats()
        .snapshot()
        .iter()
        .chain(w2.stats().snapshot().iter())
        .filter(|(k, _)| *k == "done")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(done, 1);
}

#[tokio::test]
async fn spawned_workers_run_jobs_and_stop() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await.as_ref();
    let seen = Seen::default();
    let handle = Worker::new(
        db.engine.clone(),
        seeing_registry(&seen),
        WorkerConfig {
            concurrency: 2,
            ..config()
        },
    )
    .spawn();
    for _ in 0..5 {
        let tx = db.engine.begin(&acme).await.unwrap();
        tx.enqueue(SEE_JOBS, json!({})).await.unwrap();
        tx.commit().await.unwrap();
    }
    for _ in 0..200 {
        if seen.lock().unwrap().len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let stats = handle.stats();
    handle.stop().await;
    assert_eq!(seen.lock().unwrap().len(), 5);
    assert_eq!(stats.snapshot()[0], ("done", 5));
}

#[tokio::test]
async fn a_job_without_a_tenant_is_refused_unless_platform_wide() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await.as_ref();
    let err = db
        .engine
        .enqueue_platform(SEE_JOBS, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, JobError::NotPlatformWide("test.see_jobs")),
        "{err}"
    );
    let tx = db.engine.begin(&acme).await.unwrap();
    let err = tx
        .enqueue(kinds::EXPIRE_SESSIONS, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, JobError::PlatformWide("sessions.expire")),
        "{err}"
    );
    drop(tx);

    let id = db
        .engine
        .enqueue_platform(kinds::EXPIRE_SESSIONS, json!({}))
        .await
        .unwrap();
    assert_eq!(db.engine.job(id).await.unwrap().tenant_id, None);
    // A tenant kind slipped in without a tenant (a row written by hand) never runs.
    let conn = db.engine.shared().await.unwrap();
    let forged: i64 = conn
        .query_one(
            "insert into public.jobs (tenant_id, kind) values (null, 'test.see_jobs') returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let seen = Seen::default();
    let worker = Worker::new(db.engine.clone(), seeing_registry(&seen), config());
    let mut outcomes = Vec::new();
    while let Some(o) = worker.run_once().await.unwrap() {
        outcomes.push(o);
    }
    outcomes.sort_by_key(|(id, _)| *id);
    assert_eq!(
        outcomes,
        vec![
            (id, JobOutcome::Done),
            (zumodra_tenancy::jobs::JobId(forged), JobOutcome::Dead)
        ]
    );
    assert!(seen.lock().unwrap().is_empty());
    let dead = db
        .engine
        .list_jobs(&JobFilter {
            status: Some(JobStatus::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("without a tenant"));
}

#[tokio::test]
async fn a_tenant_cannot_forge_read_or_alter_another_tenants_jobs() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await.as_ref();
    let globex = create(&db.engine, "globex").await.as_ref();
    let tx = db.engine.begin(&acme).await.unwrap();
    let acme_job = tx
        .enqueue(SEE_JOBS, json!({"secret": "acme"}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tx = db.engine.begin(&globex).await.unwrap();
    let globex_job = tx.enqueue(SEE_JOBS, json!({})).await.unwrap();
    tx.commit().await.unwrap();

    // Globex sees its own job only.
    let tx = db.engine.begin(&globex).await.unwrap();
    let ids: Vec<i64> = tx
        .query("select id from public.jobs order by id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![globex_job.0]);
    drop(tx);

    let denied = [
        // naming the tenant is not allowed at all
        format!("insert into public.jobs (tenant_id, kind) values ({}, 'test.see_jobs')", acme.id.0),
        "insert into public.jobs (kind, status) values ('test.see_jobs', 'done')".to_string(),
        format!("update public.jobs set status = 'dead' where id = {}", acme_job.0),
        format!("delete from public.jobs where id = {}", acme_job.0),
        "select payload from public.jobs".to_string(),
        "select locked_by from public.jobs".to_string(),
        format!("insert into public.outbox_emails (tenant_id, to_address, subject, body) values ({}, 'a@b.c', 's', 'b')", acme.id.0),
        format!("insert into public.tenant_usage (tenant_id, jobs) values ({}, 99)", acme.id.0),
    ];
    for sql in &denied {
        let tx = db.engine.begin(&globex).await.unwrap();
        let err = tx.execute(sql, &[]).await.unwrap_err();
        assert_eq!(err.sqlstate(), Some("42501"), "{sql}: {err}");
    }
    // Without the lease, the finish function does nothing.
    let tx = db.engine.begin(&globex).await.unwrap();
    let finished: Option<bool> = tx
        .query_one(
            "select public.zumodra_job_finish($1, 'test:guess')",
            &[&acme_job.0],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(finished, None);
    tx.commit().await.unwrap();
    let job = db.engine.job(acme_job).await.unwrap();
    assert_eq!(
        (job.status, job.tenant_id),
        (JobStatus::Queued, Some(acme.id))
    );
}

#[tokio::test]
async fn a_killed_worker_s_job_runs_again_and_completes_once() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await.as_ref();
    let mut registry = JobRegistry::new();
    registry.tenant(HANGS_FIRST, |tx, job| {
        Box::pin(async move {
            tx.execute("insert into ats_job (title) values ('effect')", &[])
                .await?;
            if job.attempt == 1 {
                // The worker dies here.
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    });
    let tx = db.engine.begin(&acme).await.unwrap();
    let id = tx.enqueue(HANGS_FIRST, json!({})).await.unwrap();
    tx.commit().await.unwrap();

    let lease = Duration::from_millis(800);
    let first = Worker::new(
        db.engine.clone(),
        registry.clone(),
        WorkerConfig { lease, ..config() },
    );
    let task = tokio::spawn(async move { first.run_once().await });
    for _ in 0..100 {
        if db.engine.job(id).await.unwrap().status == JobStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();
    let _ = task.await;

    let second = Worker::new(
        db.engine.clone(),
        registry,
        WorkerConfig { lease, ..config() },
    );
    // While the lease holds, nobody else takes the job.
    assert!(second.run_once().await.unwrap().is_none());
    tokio::time::sleep(lease).await;
    assert_eq!(
        second.run_once().await.unwrap(),
        Some((id, JobOutcome::Done))
    );
    assert!(second.run_once().await.unwrap().is_none());
    let job = db.engine.job(id).await.unwrap();
    assert_eq!((job.status, job.attempts), (JobStatus::Done, 2));
    let tx = db.engine.begin(&acme).await.unwrap();
    let effects: i64 = tx
        .query_one("select count(*) from ats_job", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(effects, 1, "the killed run's effects were rolled back");
}

#[tokio::test]
async fn a_failing_job_retries_then_is_dead_and_can_be_retried() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await.as_ref();
    let mut registry = JobRegistry::new();
    registry.tenant(ALWAYS_FAILS, |tx, _job| {
        Box::pin(async move {
            tx.execute("insert into ats_job (title) values ('partial')", &[])
                .await?;
            anyhow::bail!("the mail server said no")
        })
    });
    let tx = db.engine.begin(&acme).await.unwrap();
    let id = tx
        .enqueue_with(
            ALWAYS_FAILS,
            json!({}),
            zumodra_tenancy::jobs::EnqueueOptions {
                max_attempts: 3,
                run_at: None,
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Exponential backoff: the second attempt waits.
    let slow = Worker::new(
        db.engine.clone(),
        registry.clone(),
        WorkerConfig {
            backoff_base: Duration::from_secs(3600),
            backoff_max: Duration::from_secs(7200),
            ..config()
        },
    );
    assert_eq!(
        slow.run_once().await.unwrap(),
        Some((id, JobOutcome::Retry))
    );
    assert!(slow.run_once().await.unwrap().is_none(), "not due yet");
    let job = db.engine.job(id).await.unwrap();
    assert!(job.run_at > chrono::Utc::now() + chrono::Duration::minutes(40));
    db.engine
        .shared()
        .await
        .unwrap()
        .execute(
            "update public.jobs set run_at = now() where id = $1",
            &[&id.0],
        )
        .await
        .unwrap();

    let worker = Worker::new(db.engine.clone(), registry, config());
    assert_eq!(
        worker.run_once().await.unwrap(),
        Some((id, JobOutcome::Retry))
    );
    assert_eq!(
        worker.run_once().await.unwrap(),
        Some((id, JobOutcome::Dead))
    );
    assert!(worker.run_once().await.unwrap().is_none());
    let dead = db
        .engine
        .list_jobs(&JobFilter {
            status: Some(JobStatus::Dead),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("the mail server said no"));
    let tx = db.engine.begin(&acme).await.unwrap();
    let partial: i64 = tx
        .query_one("select count(*) from ats_job", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(partial, 0, "failed attempts leave nothing behind");
    drop(tx);

    let retried = db.engine.retry_job(id).await.unwrap();
    assert_eq!((retried.status, retried.attempts), (JobStatus::Queued, 0));
    assert_eq!(
        worker.run_once().await.unwrap(),
        Some((id, JobOutcome::Retry))
    );
    assert!(db
        .engine
        .retry_job(zumodra_tenancy::jobs::JobId(id.0 + 100))
        .await
        .is_err());
    assert_eq!(worker.stats().snapshot()[1..3], [("retry", 2), ("dead", 1)]);
}

#[tokio::test]
async fn periodic_work_fans_out_once_per_live_tenant() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await.as_ref();
    let globex = create(&db.engine, "globex").await.as_ref();
    let tx = db.engine.begin(&acme).await.unwrap();
    tx.execute(
        "insert into ats_job (title, status, deadline) values \
         ('late', 'open', current_date - 2), ('on time', 'open', current_date + 5), ('draft', 'draft', current_date - 2)",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into ats_candidate (name, email) values ('C', 'c@x.test')",
        &[],
    )
    .await
    .unwrap();
    tx.enqueue(
        kinds::NOTIFY_EMAIL,
        json!({"to": "boss@acme.test", "subject": "Hi", "body": "Hello"}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let tx = db.engine.begin(&globex).await.unwrap();
    tx.execute(
        "insert into ats_job (title, status, deadline) values ('late', 'open', current_date - 2)",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let conn = db.engine.shared().await.unwrap();
    let user: i64 = conn
        .query_one(
            "insert into public.users (email, password_hash) values ('u@x.test', 'x') returning id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    conn.execute(
        "insert into public.sessions (token_hash, user_id, tenant_id, expires_at) values \
         (sha256('old'), $1, $2, now() - interval '1 hour'), (sha256('live'), $1, $2, now() + interval '1 hour')",
        &[&user, &acme.id.0],
    )
    .await
    .unwrap();
    db.engine.suspend_tenant("globex", None).await.ok();
    let suspended = db.engine.tenant("globex").await.unwrap().status;

    let periodic: Vec<_> = schedule::default_schedule()
        .into_iter()
        .map(|p| schedule::Periodic {
            spread: Duration::ZERO,
            ..p
        })
        .collect();
    let n = schedule::enqueue_due(&db.engine, &periodic).await.unwrap();
    let live_tenants = if suspended.is_live() { 2 } else { 1 };
    assert_eq!(
        n,
        1 + 2 * live_tenants,
        "sessions once, two kinds per live tenant"
    );
    assert_eq!(
        schedule::enqueue_due(&db.engine, &periodic).await.unwrap(),
        0,
        "not due again"
    );
    // Another fan-out while the first is pending adds nothing.
    assert_eq!(
        schedule::fan_out(&db.engine, kinds::RECOMPUTE_USAGE, Duration::ZERO)
            .await
            .unwrap(),
        0
    );

    let worker = Worker::new(db.engine.clone(), builtin::registry(), config());
    while let Some((_, outcome)) = worker.run_once().await.unwrap() {
        assert_eq!(outcome, JobOutcome::Done);
    }
    let tx = db.engine.begin(&acme).await.unwrap();
    let statuses: Vec<(String, String)> = tx
        .query("select title, status from ats_job order by id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses,
        [("late", "closed"), ("on time", "open"), ("draft", "draft")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    drop(tx);
    let usage = conn
        .query("select tenant_id, jobs, open_jobs, candidates from public.tenant_usage order by tenant_id", &[])
        .await
        .unwrap();
    assert_eq!(usage.len() as u64, live_tenants);
    assert_eq!(
        // open_jobs depends on whether the deadline job ran first: not asserted.
        (
            usage[0].get::<_, i64>(0),
            usage[0].get::<_, i32>(1),
            usage[0].get::<_, i32>(3)
        ),
        (acme.id.0, 3, 1)
    );
    let sessions: i64 = conn
        .query_one("select count(*) from public.sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        sessions, 1,
        "the expired session is gone, the live one stays"
    );
    let outbox = conn
        .query(
            "select tenant_id, to_address from public.outbox_emails",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].get::<_, i64>(0), outbox[0].get::<_, String>(1)),
        (acme.id.0, "boss@acme.test".to_string())
    );
}
