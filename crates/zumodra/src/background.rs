//! Background jobs in the server and on the command line: `zumodra worker`,
//! `zumodra jobs list|retry`, and [`spawn`] for `zumodra serve`.

use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use zumodra_tenancy::jobs::{
    builtin, JobFilter, JobId, JobRegistry, JobStats, JobStatus, Worker, WorkerConfig, WorkerHandle,
};
use zumodra_tenancy::Engine;

use crate::config::Settings;
use crate::database::Database;

/// `zumodra worker`.
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// Jobs run at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

/// `zumodra jobs …`.
#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state: queued, running, done or dead.
        #[arg(long)]
        status: Option<String>,
        /// Only this tenant's jobs.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a dead job again, with a fresh set of attempts.
    Retry { id: i64 },
}

/// Every job kind the server knows: the engine's built-in kinds, then the features'.
pub fn registry() -> JobRegistry {
    // Features add their kinds here (`registry.tenant(KIND, handler)`).
    let mut registry = builtin::registry();
    crate::platform::deletion::register(&mut registry);
    crate::exports::register(&mut registry);
    registry
}

/// Start the job workers and the periodic scheduler on the current runtime; `zumodra
/// serve` calls this after the engine is up and `stop()`s the handle when it drains.
/// `stats` feeds `zumodra_jobs_total{result}`.
pub fn spawn(engine: Engine, stats: Arc<JobStats>, concurrency: usize) -> WorkerHandle {
    let config = WorkerConfig {
        concurrency,
        ..WorkerConfig::default()
    };
    Worker::new(engine, registry(), config)
        .with_stats(stats)
        .spawn()
}

/// `zumodra worker`: run jobs until Ctrl-C (or SIGTERM), then let the current jobs end.
pub async fn run_worker(settings: Settings, args: WorkerArgs) -> anyhow::Result<()> {
    let db = Database::open(&settings).await?;
    let handle = spawn(
        db.engine.clone(),
        Arc::new(JobStats::default()),
        args.concurrency,
    );
    let mailer = crate::mailer::spawn(db.engine.clone(), &settings);
    tracing::info!(concurrency = args.concurrency, "worker started");
    shutdown_signal().await;
    tracing::info!("worker stopping: waiting for the jobs in progress");
    handle.stop().await;
    mailer.stop().await;
    db.close();
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// `zumodra jobs …`.
pub async fn run_jobs(engine: &Engine, command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::List {
            status,
            tenant,
            limit,
        } => {
            let status = status
                .map(|s| {
                    JobStatus::parse(&s).with_context(|| {
                        format!("unknown status '{s}': queued, running, done or dead")
                    })
                })
                .transpose()?;
            let tenant = match tenant {
                Some(slug) => Some(engine.tenant(&slug).await?.id),
                None => None,
            };
            let jobs = engine
                .list_jobs(&JobFilter {
                    status,
                    tenant,
                    limit,
                })
                .await?;
            println!(
                "{:>8}  {:<16} {:<20} {:<8} {:>8}  {:<20}  last error",
                "id", "tenant", "kind", "status", "attempts", "run at"
            );
            for j in jobs {
                println!(
                    "{:>8}  {:<16} {:<20} {:<8} {:>4}/{:<3}  {:<20}  {}",
                    j.id,
                    j.tenant_slug.as_deref().unwrap_or("(platform)"),
                    j.kind,
                    j.status,
                    j.attempts,
                    j.max_attempts,
                    j.run_at.format("%Y-%m-%d %H:%M:%S"),
                    j.last_error
                        .as_deref()
                        .map(|e| e.lines().next().unwrap_or(""))
                        .unwrap_or("")
                );
            }
            Ok(())
        }
        JobsCommand::Retry { id } => {
            let job = engine.retry_job(JobId(id)).await?;
            println!("job {} ({}) queued again", job.id, job.kind);
            Ok(())
        }
    }
}
