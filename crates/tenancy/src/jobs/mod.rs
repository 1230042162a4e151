//! Background jobs (issue #5, SPEC §2 guarantee 8): a queue in `public.jobs` whose rows
//! carry their tenant.
//!
//! - **Enqueue** inside the tenant transaction that causes the job:
//!   [`TenantTx::enqueue`]. The row is written as the tenant's role, and the database
//!   fills `tenant_id` from that role (the tenants group may not even name the column),
//!   so a rolled-back request enqueues nothing and no code can enqueue for another tenant.
//! - **Platform-wide** jobs (no tenant) go through [`Engine::enqueue_platform`], which
//!   refuses a kind not declared [`JobScope::Platform`].
//! - **Workers** ([`Worker`]) claim with `FOR UPDATE SKIP LOCKED` and a lease, run each
//!   job inside its tenant's transaction, and mark it done in that same transaction
//!   (`public.zumodra_job_finish`), so effects and completion commit together. A worker
//!   killed mid-job loses its lease; another worker runs the job again, and the first
//!   one's completion, should it come back, is refused.
//! - **Periodic** work ([`schedule`]) fans out one job per live tenant, spread with
//!   jitter over a window.

mod admin;
pub mod builtin;
mod registry;
pub mod schedule;
mod worker;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::TenantId;
use crate::error::Error;
use crate::{Engine, TenantTx};

pub use admin::{JobFilter, JobRow};
pub use registry::{BoxFuture, JobRegistry};
pub use worker::{JobOutcome, JobStats, Worker, WorkerConfig, WorkerHandle};

/// Whether a kind of job runs in one tenant or platform-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobScope {
    /// Runs inside one tenant's transaction; enqueued from that tenant's transaction.
    Tenant,
    /// Runs with no tenant, on the runtime role's shared connection.
    Platform,
}

/// A kind of job and its scope, declared once as a constant (see [`kinds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobKind {
    name: &'static str,
    scope: JobScope,
}

impl JobKind {
    /// A kind that runs in the tenant that enqueued it.
    pub const fn tenant(name: &'static str) -> Self {
        Self {
            name,
            scope: JobScope::Tenant,
        }
    }

    /// A kind declared platform-wide: the only kind that may have no tenant.
    pub const fn platform(name: &'static str) -> Self {
        Self {
            name,
            scope: JobScope::Platform,
        }
    }

    /// The name stored in `public.jobs.kind` (`^[a-z][a-z0-9_.]{0,63}$`).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    pub const fn scope(&self) -> JobScope {
        self.scope
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name)
    }
}

/// The kinds of job the product uses.
pub mod kinds {
    use super::JobKind;

    /// Delete sessions that expired or were revoked (platform-wide).
    pub const EXPIRE_SESSIONS: JobKind = JobKind::platform("sessions.expire");
    /// Recompute a tenant's usage counters into `public.tenant_usage`.
    pub const RECOMPUTE_USAGE: JobKind = JobKind::tenant("usage.recompute");
    /// Close a tenant's open jobs whose deadline has passed.
    pub const CLOSE_EXPIRED_JOBS: JobKind = JobKind::tenant("ats.close_expired");
    /// Queue a notification e-mail in `public.outbox_emails`
    /// (payload `{"to": …, "subject": …, "body": …}`).
    pub const NOTIFY_EMAIL: JobKind = JobKind::tenant("email.notify");
}

/// A job's id in `public.jobs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Honours width and alignment (`{:>8}` in `zumodra jobs list`).
        std::fmt::Display::fmt(&self.0, f)
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Options of one enqueue.
#[derive(Debug, Clone)]
pub struct EnqueueOptions {
    /// Not before this time (default: now).
    pub run_at: Option<DateTime<Utc>>,
    /// Attempts before the job is dead (1 to 100, default 5).
    pub max_attempts: i32,
}

impl Default for EnqueueOptions {
    fn default() -> Self {
        Self {
            run_at: None,
            max_attempts: 5,
        }
    }
}

/// Why a job could not be enqueued.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A job with no tenant, of a kind not declared platform-wide.
    #[error("the job kind '{0}' is not platform-wide: enqueue it in a tenant transaction")]
    NotPlatformWide(&'static str),
    /// A platform-wide kind enqueued from a tenant transaction.
    #[error("the job kind '{0}' is platform-wide: a tenant cannot enqueue it")]
    PlatformWide(&'static str),
    #[error("max_attempts is 1 to 100")]
    InvalidAttempts,
    #[error("no job {0}")]
    NotFound(JobId),
    #[error(transparent)]
    Engine(#[from] Error),
}

impl From<tokio_postgres::Error> for JobError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Engine(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for JobError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Engine(e.into())
    }
}

fn check_attempts(opts: &EnqueueOptions) -> Result<(), JobError> {
    if (1..=100).contains(&opts.max_attempts) {
        Ok(())
    } else {
        Err(JobError::InvalidAttempts)
    }
}

impl TenantTx {
    /// Enqueue a job of this transaction's tenant. It exists only if this transaction
    /// commits; the tenant comes from the transaction's role, never from a parameter.
    pub async fn enqueue(&self, kind: JobKind, payload: Value) -> Result<JobId, JobError> {
        self.enqueue_with(kind, payload, EnqueueOptions::default())
            .await
    }

    /// [`TenantTx::enqueue`] with a start time and an attempt limit.
    pub async fn enqueue_with(
        &self,
        kind: JobKind,
        payload: Value,
        opts: EnqueueOptions,
    ) -> Result<JobId, JobError> {
        if kind.scope() == JobScope::Platform {
            return Err(JobError::PlatformWide(kind.name()));
        }
        check_attempts(&opts)?;
        // tenant_id is left to the column default (the tenant of current_user); the
        // tenants group has no insert privilege on it.
        let row = self
            .query_one(
                "insert into public.jobs (kind, payload, max_attempts, run_at) \
                 values ($1, $2, $3, coalesce($4, now())) returning id",
                &[&kind.name(), &payload, &opts.max_attempts, &opts.run_at],
            )
            .await?;
        Ok(JobId(row.try_get(0).map_err(Error::from)?))
    }
}

impl Engine {
    /// Enqueue a job with no tenant. Refused with [`JobError::NotPlatformWide`] unless
    /// the kind is declared [`JobScope::Platform`].
    pub async fn enqueue_platform(&self, kind: JobKind, payload: Value) -> Result<JobId, JobError> {
        self.enqueue_platform_with(kind, payload, EnqueueOptions::default())
            .await
    }

    /// [`Engine::enqueue_platform`] with a start time and an attempt limit.
    pub async fn enqueue_platform_with(
        &self,
        kind: JobKind,
        payload: Value,
        opts: EnqueueOptions,
    ) -> Result<JobId, JobError> {
        if kind.scope() != JobScope::Platform {
            return Err(JobError::NotPlatformWide(kind.name()));
        }
        check_attempts(&opts)?;
        let conn = self.shared().await?;
        let row = conn
            .query_one(
                "insert into public.jobs (tenant_id, kind, payload, max_attempts, run_at) \
                 values (null, $1, $2, $3, coalesce($4, now())) returning id",
                &[&kind.name(), &payload, &opts.max_attempts, &opts.run_at],
            )
            .await?;
        Ok(JobId(row.try_get(0)?))
    }
}

/// A claimed job, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: JobId,
    /// `None` for a platform-wide job.
    pub tenant: Option<TenantId>,
    pub kind: String,
    pub payload: Value,
    /// This run's attempt number, from 1.
    pub attempt: i32,
    pub max_attempts: i32,
}
