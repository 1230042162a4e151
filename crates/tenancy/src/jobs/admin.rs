//! Reading and retrying jobs (`zumodra jobs list|retry`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use super::{JobError, JobId, JobStatus};
use crate::catalog::TenantId;
use crate::error::Error;
use crate::Engine;

/// Which jobs to list.
#[derive(Debug, Clone)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub tenant: Option<TenantId>,
    /// At most this many, newest first (1 to 1000).
    pub limit: i64,
}

impl Default for JobFilter {
    fn default() -> Self {
        Self {
            status: None,
            tenant: None,
            limit: 100,
        }
    }
}

/// One job as the queue holds it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: JobId,
    pub tenant_id: Option<TenantId>,
    pub tenant_slug: Option<String>,
    pub kind: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const JOB_COLUMNS: &str = "j.id, j.tenant_id, t.slug, j.kind, j.status, j.attempts, \
     j.max_attempts, j.run_at, j.last_error, j.created_at, j.updated_at";

fn job_from_row(row: &Row) -> Result<JobRow, JobError> {
    let status: String = row.try_get(4).map_err(Error::from)?;
    let get = |e: tokio_postgres::Error| JobError::from(e);
    Ok(JobRow {
        id: JobId(row.try_get(0).map_err(get)?),
        tenant_id: row.try_get::<_, Option<i64>>(1).map_err(get)?.map(TenantId),
        tenant_slug: row.try_get(2).map_err(get)?,
        kind: row.try_get(3).map_err(get)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| Error::Invalid(format!("bad job status: {status}")))?,
        attempts: row.try_get(5).map_err(get)?,
        max_attempts: row.try_get(6).map_err(get)?,
        run_at: row.try_get(7).map_err(get)?,
        last_error: row.try_get(8).map_err(get)?,
        created_at: row.try_get(9).map_err(get)?,
        updated_at: row.try_get(10).map_err(get)?,
    })
}

impl Engine {
    /// Jobs, newest first.
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRow>, JobError> {
        let conn = self.shared().await?;
        let status = filter.status.map(JobStatus::as_str);
        let tenant = filter.tenant.map(|t| t.0);
        conn.query(
            &format!(
                "select {JOB_COLUMNS} from public.jobs j \
                 left join public.tenants t on t.id = j.tenant_id \
                 where ($1::text is null or j.status = $1) \
                   and ($2::bigint is null or j.tenant_id = $2) \
                 order by j.id desc limit $3"
            ),
            &[&status, &tenant, &filter.limit.clamp(1, 1000)],
        )
        .await?
        .iter()
        .map(job_from_row)
        .collect()
    }

    /// One job.
    pub async fn job(&self, id: JobId) -> Result<JobRow, JobError> {
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                &format!(
                    "select {JOB_COLUMNS} from public.jobs j \
                     left join public.tenants t on t.id = j.tenant_id where j.id = $1"
                ),
                &[&id.0],
            )
            .await?
            .ok_or(JobError::NotFound(id))?;
        job_from_row(&row)
    }

    /// Queue a dead (or waiting) job to run now with a fresh set of attempts. A running
    /// or done job is left alone.
    pub async fn retry_job(&self, id: JobId) -> Result<JobRow, JobError> {
        let conn = self.shared().await?;
        let n = conn
            .execute(
                "update public.jobs set status = 'queued', attempts = 0, run_at = now(), \
                        locked_by = null, locked_until = null, updated_at = now() \
                  where id = $1 and status in ('dead', 'queued')",
                &[&id.0],
            )
            .await?;
        let job = self.job(id).await?;
        if n == 0 {
            return Err(JobError::Engine(Error::Invalid(format!(
                "job {id} is {}; only dead or queued jobs can be retried",
                job.status
            ))));
        }
        Ok(job)
    }
}
