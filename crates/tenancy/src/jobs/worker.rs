//! The worker: claim, run in the job's tenant, finish or retry.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::registry::Handler;
use super::schedule::{self, Periodic};
use super::{Job, JobId, JobRegistry};
use crate::catalog::{TenantId, TenantRef};
use crate::error::Result;
use crate::names::Slug;
use crate::Engine;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Shown in `locked_by` (with a random lease suffix) and in logs.
    pub name: String,
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How long a claim holds a job. A job running longer is stopped and retried; a
    /// worker killed mid-job leaves it to be re-run once the lease expires.
    pub lease: Duration,
    /// The wait between polls of an empty queue.
    pub idle_poll: Duration,
    /// The first retry's delay; doubled for each further attempt.
    pub backoff_base: Duration,
    /// The longest delay between two attempts.
    pub backoff_max: Duration,
    /// Periodic work this process may enqueue (instances agree through
    /// `public.job_schedule`, so each period is enqueued once).
    pub periodic: Vec<Periodic>,
    /// How often the periodic schedule is checked.
    pub schedule_tick: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            name: format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
                std::process::id()
            ),
            concurrency: 2,
            lease: Duration::from_secs(300),
            idle_poll: Duration::from_secs(1),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(3600),
            periodic: schedule::default_schedule(),
            schedule_tick: Duration::from_secs(30),
        }
    }
}

/// What happened to a claimed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Ran and committed with its effects.
    Done,
    /// Failed; queued again after a backoff.
    Retry,
    /// Failed its last attempt (or can never run); visible in `zumodra jobs list`.
    Dead,
    /// Ran past its lease and another worker took it over; this run was rolled back.
    LostLease,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retry => "retry",
            Self::Dead => "dead",
            Self::LostLease => "lost_lease",
        }
    }
}

/// Counters of job outcomes in this process (`zumodra_jobs_total{result}`).
#[derive(Debug, Default)]
pub struct JobStats {
    done: AtomicU64,
    retry: AtomicU64,
    dead: AtomicU64,
    lost_lease: AtomicU64,
}

impl JobStats {
    fn count(&self, outcome: JobOutcome) {
        let counter = match outcome {
            JobOutcome::Done => &self.done,
            JobOutcome::Retry => &self.retry,
            JobOutcome::Dead => &self.dead,
            JobOutcome::LostLease => &self.lost_lease,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// `(result label, count)` for each outcome.
    pub fn snapshot(&self) -> [(&'static str, u64); 4] {
        [
            ("done", self.done.load(Relaxed)),
            ("retry", self.retry.load(Relaxed)),
            ("dead", self.dead.load(Relaxed)),
            ("lost_lease", self.lost_lease.load(Relaxed)),
        ]
    }
}

/// Runs jobs. Cheap to clone; every clone shares the registry and the counters.
#[derive(Clone)]
pub struct Worker {
    engine: Engine,
    registry: Arc<JobRegistry>,
    config: Arc<WorkerConfig>,
    stats: Arc<JobStats>,
}

/// Running worker tasks; [`WorkerHandle::stop`] lets current jobs finish.
pub struct WorkerHandle {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<JobStats>,
}

impl WorkerHandle {
    /// The counters of these workers.
    pub fn stats(&self) -> Arc<JobStats> {
        self.stats.clone()
    }

    /// Stop claiming, wait for the jobs in progress, and return.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

struct Claimed {
    job: Job,
    lease: String,
    tenant: Option<(TenantRef, String)>,
}

impl Worker {
    pub fn new(engine: Engine, registry: JobRegistry, config: WorkerConfig) -> Self {
        Self {
            engine,
            registry: Arc::new(registry),
            config: Arc::new(config),
            stats: Arc::new(JobStats::default()),
        }
    }

    /// Count outcomes into `stats` (e.g. the server's metrics).
    pub fn with_stats(mut self, stats: Arc<JobStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The counters of this worker (and its clones).
    pub fn stats(&self) -> Arc<JobStats> {
        self.stats.clone()
    }

    /// Start `concurrency` job loops and the periodic scheduler on the current runtime.
    /// `zumodra serve` and `zumodra worker` both call this.
    pub fn spawn(self) -> WorkerHandle {
        let (shutdown, watch) = watch::channel(false);
        let mut tasks = Vec::new();
        for slot in 0..self.config.concurrency.max(1) {
            let worker = self.clone();
            let watch = watch.clone();
            tasks.push(tokio::spawn(
                async move { worker.job_loop(slot, watch).await },
            ));
        }
        if !self.config.periodic.is_empty() {
            let worker = self.clone();
            tasks.push(tokio::spawn(
                async move { worker.schedule_loop(watch).await },
            ));
        }
        WorkerHandle {
            shutdown,
            tasks,
            stats: self.stats.clone(),
        }
    }

    async fn job_loop(&self, slot: usize, mut shutdown: watch::Receiver<bool>) {
        let mut failures = 0u32;
        while !*shutdown.borrow() {
            let wait = match self.run_once().await {
                Ok(Some(_)) => {
                    failures = 0;
                    continue;
                }
                Ok(None) => jittered(self.config.idle_poll),
                Err(e) => {
                    // The database is away: back off, up to a minute, without spinning.
                    failures = failures.saturating_add(1);
                    tracing::warn!(slot, error = %e, "job worker: claiming failed");
                    backoff(Duration::from_secs(1), Duration::from_secs(60), failures)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn schedule_loop(&self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match schedule::enqueue_due(&self.engine, &self.config.periodic).await {
                Ok(n) if n > 0 => tracing::info!(jobs = n, "periodic jobs enqueued"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "periodic schedule failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(jittered(self.config.schedule_tick)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Claim one due job and run it. `Ok(None)` when no job is due.
    pub async fn run_once(&self) -> Result<Option<(JobId, JobOutcome)>> {
        let Some(claimed) = self.claim().await? else {
            return Ok(None);
        };
        let id = claimed.job.id;
        let slug = claimed
            .tenant
            .as_ref()
            .map(|(t, _)| t.slug.to_string())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "job",
            job_id = id.0,
            kind = %claimed.job.kind,
            tenant = %slug,
            attempt = claimed.job.attempt
        );
        let outcome = self.process(claimed).instrument(span).await?;
        self.stats.count(outcome);
        Ok(Some((id, outcome)))
    }

    async fn claim(&self) -> Result<Option<Claimed>> {
        let lease = format!(
            "{}:{}",
            self.config.name,
            hex::encode(rand::random::<[u8; 16]>())
        );
        let conn = self.engine.shared().await?;
        // One statement, its own transaction: the row lock of SKIP LOCKED lasts only
        // for the claim; from then on the lease (locked_by, locked_until) owns the job.
        // A running job whose lease expired is claimable again (its worker died).
        let row = conn
            .query_opt(
                "with next as ( \
                     select c.id from public.jobs c \
                      where (c.status = 'queued' and c.run_at <= now()) \
                         or (c.status = 'running' and c.locked_until < now()) \
                      order by c.run_at, c.id \
                      limit 1 \
                      for update skip locked) \
                 update public.jobs j \
                    set status = 'running', attempts = j.attempts + 1, locked_by = $1, \
                        locked_until = now() + make_interval(secs => $2), updated_at = now() \
                   from next \
                  where j.id = next.id \
                 returning j.id, j.tenant_id, j.kind, j.payload, j.attempts, j.max_attempts, \
                           (select t.slug from public.tenants t where t.id = j.tenant_id), \
                           (select t.status from public.tenants t where t.id = j.tenant_id)",
                &[&lease, &self.config.lease.as_secs_f64()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let tenant_id: Option<i64> = row.try_get(1)?;
        let slug: Option<String> = row.try_get(6)?;
        let status: Option<String> = row.try_get(7)?;
        let tenant = match (tenant_id, slug, status) {
            (Some(id), Some(slug), Some(status)) => {
                let slug = Slug::parse(&slug)
                    .map_err(|_| crate::Error::Invalid(format!("bad slug in catalog: {slug}")))?;
                Some((
                    TenantRef {
                        id: TenantId(id),
                        slug,
                    },
                    status,
                ))
            }
            _ => None,
        };
        Ok(Some(Claimed {
            job: Job {
                id: JobId(row.try_get(0)?),
                tenant: tenant_id.map(TenantId),
                kind: row.try_get(2)?,
                payload: row.try_get(3)?,
                attempt: row.try_get(4)?,
                max_attempts: row.try_get(5)?,
            },
            lease,
            tenant,
        }))
    }

    async fn process(&self, claimed: Claimed) -> Result<JobOutcome> {
        let Claimed { job, lease, tenant } = claimed;
        let handler = self.registry.get(&job.kind).cloned();
        // Jobs that can never run go straight to dead, with the reason.
        let refusal = match (&handler, &job.tenant, &tenant) {
            _ if job.attempt > job.max_attempts => Some("its lease expired on every attempt"),
            (Some(Handler::Tenant(_)), None, _) => {
                Some("a tenant job without a tenant (refused: the kind is not platform-wide)")
            }
            (Some(Handler::Platform(_)), Some(_), _) => Some("a platform-wide job with a tenant"),
            (_, Some(_), None) => Some("its tenant is not in the catalog"),
            (_, Some(_), Some((_, status))) if status == "deleted" || status == "deleting" => {
                Some("its tenant is being deleted")
            }
            _ => None,
        };
        if let Some(reason) = refusal {
            tracing::warn!(reason, "job refused");
            return self.fail(&job, &lease, reason, true).await;
        }
        let Some(handler) = handler else {
            // Maybe a newer server version knows this kind: retry, then dead.
            let reason = format!("no handler for the kind '{}'", job.kind);
            return self.fail(&job, &lease, &reason, false).await;
        };
        let run = async {
            match (&handler, &tenant) {
                (Handler::Tenant(h), Some((tenant, _))) => {
                    self.run_in_tenant(h.as_ref(), &job, tenant, &lease).await
                }
                (Handler::Platform(h), None) => self.run_platform(h.as_ref(), &job, &lease).await,
                _ => Err(anyhow::anyhow!("job scope mismatch")),
            }
        };
        // A panicking handler is a failed attempt, not a dead worker. The timeout stops
        // a run at its lease, after which another worker may have taken the job.
        let result = tokio::time::timeout(
            self.config.lease,
            std::panic::AssertUnwindSafe(run).catch_unwind(),
        )
        .await;
        match result {
            Ok(Ok(Ok(true))) => {
                tracing::info!("job done");
                Ok(JobOutcome::Done)
            }
            Ok(Ok(Ok(false))) => {
                tracing::warn!("job lease lost to another worker; this run was rolled back");
                Ok(JobOutcome::LostLease)
            }
            Ok(Ok(Err(e))) => self.fail(&job, &lease, &format!("{e:#}"), false).await,
            Ok(Err(_)) => self.fail(&job, &lease, "the handler panicked", false).await,
            Err(_) => {
                self.fail(&job, &lease, "the handler ran past its lease", false)
                    .await
            }
        }
    }

    /// Run a tenant handler in the tenant's transaction and mark the job done in it.
    /// `Ok(false)`: the lease was lost, everything rolled back.
    async fn run_in_tenant(
        &self,
        handler: &super::registry::TenantFnRef,
        job: &Job,
        tenant: &TenantRef,
        lease: &str,
    ) -> anyhow::Result<bool> {
        let tx = self.engine.begin(tenant).await?;
        handler(&tx, job).await?;
        let finished: Option<bool> = tx
            .query_one(
                "select public.zumodra_job_finish($1, $2)",
                &[&job.id.0, &lease],
            )
            .await?
            .try_get(0)?;
        if finished == Some(true) {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }

    /// Run a platform handler, then mark the job done (platform handlers are
    /// idempotent: a crash between the two runs the job again).
    async fn run_platform(
        &self,
        handler: &super::registry::PlatformFnRef,
        job: &Job,
        lease: &str,
    ) -> anyhow::Result<bool> {
        handler(&self.engine, job).await?;
        let conn = self.engine.shared().await?;
        let finished: Option<bool> = conn
            .query_one(
                "select public.zumodra_job_finish($1, $2)",
                &[&job.id.0, &lease],
            )
            .await?
            .try_get(0)?;
        Ok(finished == Some(true))
    }

    /// Record a failed attempt: queued again after a backoff, or dead.
    async fn fail(&self, job: &Job, lease: &str, error: &str, dead: bool) -> Result<JobOutcome> {
        let delay = backoff(
            self.config.backoff_base,
            self.config.backoff_max,
            job.attempt.max(1) as u32,
        );
        let error: String = error.chars().take(2000).collect();
        let conn = self.engine.shared().await?;
        let row = conn
            .query_opt(
                "update public.jobs \
                    set status = case when $5 or attempts >= max_attempts then 'dead' else 'queued' end, \
                        run_at = now() + make_interval(secs => $3), \
                        locked_by = null, locked_until = null, last_error = $2, updated_at = now() \
                  where id = $1 and locked_by = $4 and status = 'running' \
                 returning status",
                &[&job.id.0, &error, &delay.as_secs_f64(), &lease, &dead],
            )
            .await?;
        Ok(match row {
            None => JobOutcome::LostLease,
            Some(row) if row.try_get::<_, String>(0)? == "dead" => {
                tracing::error!(error = %error, "job dead");
                JobOutcome::Dead
            }
            Some(_) => {
                tracing::warn!(error = %error, retry_in_s = delay.as_secs_f64(), "job failed; will retry");
                JobOutcome::Retry
            }
        })
    }
}

/// `base * 2^(attempt-1)`, at most `max`, minus up to a quarter at random so that jobs
/// failing together do not retry together.
fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let delay = base.saturating_mul(factor).min(max);
    delay.mul_f64(1.0 - rand::random::<f64>() * 0.25)
}

/// `d` plus up to 20 % at random.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(1.0 + rand::random::<f64>() * 0.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(100);
        for (attempt, full) in [
            (1, 10.0),
            (2, 20.0),
            (3, 40.0),
            (4, 80.0),
            (5, 100.0),
            (40, 100.0),
        ] {
            let d = backoff(base, max, attempt).as_secs_f64();
            assert!(d <= full && d >= full * 0.75, "attempt {attempt}: {d}");
        }
    }
}
