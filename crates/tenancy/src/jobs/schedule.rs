//! Periodic work: each period, one job per live tenant (or one platform-wide job),
//! spread at random over a window so thousands of tenants do not start at once.
//!
//! Several server instances may run the scheduler: `public.job_schedule` holds each
//! kind's next due time and only the instance whose `update` moves it enqueues that
//! period, in the same transaction.

use std::time::Duration;

use super::{kinds, JobError, JobKind, JobScope};
use crate::Engine;

/// A kind enqueued every `every`, each job delayed by a random part of `spread`.
#[derive(Debug, Clone)]
pub struct Periodic {
    pub kind: JobKind,
    pub every: Duration,
    pub spread: Duration,
}

/// The product's periodic work: expire old sessions (platform-wide), recompute usage
/// counters and close jobs past their deadline (per tenant).
pub fn default_schedule() -> Vec<Periodic> {
    vec![
        Periodic {
            kind: kinds::EXPIRE_SESSIONS,
            every: Duration::from_secs(3600),
            spread: Duration::from_secs(60),
        },
        Periodic {
            kind: kinds::RECOMPUTE_USAGE,
            every: Duration::from_secs(3600),
            spread: Duration::from_secs(600),
        },
        Periodic {
            kind: kinds::CLOSE_EXPIRED_JOBS,
            every: Duration::from_secs(3600),
            spread: Duration::from_secs(600),
        },
    ]
}

/// Enqueue the periods that are due; returns the number of jobs enqueued.
pub async fn enqueue_due(engine: &Engine, periodic: &[Periodic]) -> Result<u64, JobError> {
    let mut total = 0;
    for p in periodic {
        let mut conn = engine.shared().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "insert into public.job_schedule (kind, next_run_at) values ($1, now()) \
             on conflict (kind) do nothing",
            &[&p.kind.name()],
        )
        .await?;
        let due = tx
            .execute(
                "update public.job_schedule \
                    set next_run_at = now() + make_interval(secs => $2), updated_at = now() \
                  where kind = $1 and next_run_at <= now()",
                &[&p.kind.name(), &p.every.as_secs_f64()],
            )
            .await?;
        if due == 1 {
            total += fan_out_in(&tx, p.kind, p.spread).await?;
        }
        tx.commit().await?;
    }
    Ok(total)
}

/// Enqueue `kind` now: one job per live tenant (trial or active) for a tenant kind,
/// one job for a platform-wide kind, skipping where one is already queued or running.
/// Each job starts at a random point of `spread`.
pub async fn fan_out(engine: &Engine, kind: JobKind, spread: Duration) -> Result<u64, JobError> {
    let conn = engine.shared().await?;
    fan_out_in(&conn, kind, spread).await
}

async fn fan_out_in(
    conn: &impl deadpool_postgres::GenericClient,
    kind: JobKind,
    spread: Duration,
) -> Result<u64, JobError> {
    // The runtime role writes tenant_id here: the tenants come from the catalog, never
    // from a caller.
    let sql = match kind.scope() {
        JobScope::Tenant => {
            "insert into public.jobs (tenant_id, kind, payload, run_at) \
             select t.id, $1, '{}'::jsonb, now() + make_interval(secs => $2) * random() \
               from public.tenants t \
              where t.status in ('trial', 'active') \
                and not exists (select 1 from public.jobs j where j.tenant_id = t.id \
                                   and j.kind = $1 and j.status in ('queued', 'running'))"
        }
        JobScope::Platform => {
            "insert into public.jobs (tenant_id, kind, payload, run_at) \
             select null, $1, '{}'::jsonb, now() + make_interval(secs => $2) * random() \
              where not exists (select 1 from public.jobs j where j.tenant_id is null \
                                   and j.kind = $1 and j.status in ('queued', 'running'))"
        }
    };
    Ok(conn
        .execute(sql, &[&kind.name(), &spread.as_secs_f64()])
        .await?)
}
