//! The fleet migration runner: every tenant schema to the latest tenant migration.
//!
//! - One catalog query decides what is pending, so a no-op run over N tenants costs one
//!   round trip, not N.
//! - Each (tenant, version) step is one transaction that applies the SQL and advances the
//!   tenant's ledger row, so a schema and its ledger row never disagree, whenever the run
//!   is killed. A rerun continues from the ledger.
//! - `lock_timeout` (default 2 s) bounds how long a step waits behind application locks;
//!   a timed-out step is retried with backoff, so a migration never queues requests
//!   behind it for long.
//! - A failing tenant is recorded (`status = 'failed'`, the error) and does not stop the
//!   others.
//! - A killed run is finished by the rerun. PostgreSQL goes on executing a step whose
//!   client died (the whole step is one message), so a step first locks its tenant's
//!   ledger row and checks that the version is still the one it starts from: a rerun
//!   waits for the orphaned step, sees the version moved, and carries on from there.
//!   The maintenance a `-- @locking` step turns on is recorded in the ledger row in the
//!   same transaction (`maintenance_by_runner`), so the rerun also turns it off.

use std::time::Duration;

use futures::StreamExt;

use crate::catalog::{TenantId, TenantRef};
use crate::engine::{make_pool, Retire};
use crate::error::{Error, Result};
use crate::names::Slug;
use crate::provision::schema_script;
use crate::Engine;

/// The SQLSTATE a step raises when its tenant's ledger is no longer at the version the
/// step starts from (another run moved it).
const LEDGER_MOVED: &str = "ZM001";

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// Tenants migrated at once.
    pub concurrency: usize,
    /// How long one step may wait for a lock.
    pub lock_timeout: Duration,
    /// Retries of a step that hit the lock timeout.
    pub lock_retries: u32,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lock_timeout: Duration::from_secs(2),
            lock_retries: 5,
        }
    }
}

/// A tenant whose schema is behind.
#[derive(Debug, Clone)]
pub struct PendingTenant {
    pub tenant: TenantRef,
    pub version: i32,
}

/// What happened to one tenant.
#[derive(Debug, Clone)]
pub enum TenantOutcome {
    Migrated {
        slug: Slug,
        from: i32,
        to: i32,
    },
    Failed {
        slug: Slug,
        version: i32,
        error: String,
    },
}

/// The end of a run.
#[derive(Debug, Clone, Default)]
pub struct MigrateReport {
    pub migrated: usize,
    pub failed: Vec<(String, String)>,
}

/// `migrate --status`: tenants per (version, status), and the failed ones.
#[derive(Debug, Clone)]
pub struct MigrationStatus {
    pub latest: i32,
    pub counts: Vec<(i32, String, i64)>,
    pub failed: Vec<(String, i32, String)>,
}

impl Engine {
    /// Tenants whose schema is behind the latest version, or that a killed run left in
    /// maintenance: one query.
    pub async fn pending_tenants(&self) -> Result<Vec<PendingTenant>> {
        let conn = self.shared().await?;
        let latest = self.inner.tenant_migrations.latest();
        let rows = conn
            .query(
                "select t.id, t.slug, coalesce(m.version, 0) from public.tenants t \
                 left join public.tenant_migrations m on m.tenant_id = t.id \
                 where t.status not in ('provisioning', 'deleting', 'deleted') \
                   and (coalesce(m.version, 0) < $1 or coalesce(m.maintenance_by_runner, false)) \
                 order by t.id",
                &[&latest],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let slug: String = r.get(1);
                Ok(PendingTenant {
                    tenant: TenantRef {
                        id: TenantId(r.get(0)),
                        slug: Slug::parse(&slug)
                            .map_err(|_| Error::Invalid(format!("bad slug in catalog: {slug}")))?,
                    },
                    version: r.get(2),
                })
            })
            .collect()
    }

    /// Migrate the given tenants, `opts.concurrency` at a time; `on_done` is called as
    /// each tenant finishes (for a progress bar).
    pub async fn migrate_tenants(
        &self,
        pending: Vec<PendingTenant>,
        opts: &MigrateOptions,
        on_done: &(dyn Fn(&TenantOutcome) + Send + Sync),
    ) -> Result<MigrateReport> {
        if pending.is_empty() {
            return Ok(MigrateReport::default());
        }
        let concurrency = opts.concurrency.max(1);
        let pool = make_pool(
            self.inner.admin_config.clone(),
            concurrency,
            Duration::from_secs(30),
            // Short-lived: it ends with the run.
            &Retire::default(),
        )?;
        let outcomes: Vec<TenantOutcome> = futures::stream::iter(pending)
            .map(|p| {
                let pool = pool.clone();
                async move {
                    let outcome = self.migrate_one(&pool, &p, opts).await;
                    on_done(&outcome);
                    outcome
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut report = MigrateReport::default();
        for outcome in outcomes {
            match outcome {
                TenantOutcome::Migrated { .. } => report.migrated += 1,
                TenantOutcome::Failed { slug, error, .. } => {
                    report.failed.push((slug.to_string(), error))
                }
            }
        }
        Ok(report)
    }

    async fn migrate_one(
        &self,
        pool: &deadpool_postgres::Pool,
        pending: &PendingTenant,
        opts: &MigrateOptions,
    ) -> TenantOutcome {
        let slug = pending.tenant.slug.clone();
        let latest = self.inner.tenant_migrations.latest();
        let mut version = pending.version;
        while version < latest {
            let next = version + 1;
            let mut attempt = 0;
            let result = loop {
                match self
                    .migrate_step(pool, &pending.tenant, version, next, opts)
                    .await
                {
                    Err(e) if e.sqlstate() == Some("55P03") && attempt < opts.lock_retries => {
                        attempt += 1;
                        let backoff = 100u64 << attempt.min(6);
                        let jitter = rand::random::<u64>() % backoff;
                        tracing::warn!(tenant = %slug, attempt, "migration waited too long for a lock; retrying");
                        tokio::time::sleep(Duration::from_millis(backoff + jitter)).await;
                    }
                    other => break other,
                }
            };
            match result {
                Ok(()) => version = next,
                // Another run (a killed one's orphaned step) moved the ledger: go on from
                // where it is now.
                Err(e) if e.sqlstate() == Some(LEDGER_MOVED) => {
                    match ledger_version(pool, pending.tenant.id).await {
                        Ok(now) if now > version => {
                            tracing::info!(tenant = %slug, from = version, to = now, "another run migrated this tenant meanwhile");
                            version = now;
                        }
                        Ok(_) => return self.record_failure(pool, pending, next, &e).await,
                        Err(e2) => return self.record_failure(pool, pending, next, &e2).await,
                    }
                }
                Err(e) => return self.record_failure(pool, pending, next, &e).await,
            }
        }
        if let Err(e) = release_maintenance(pool, &pending.tenant).await {
            return self.record_failure(pool, pending, version, &e).await;
        }
        TenantOutcome::Migrated {
            slug,
            from: pending.version,
            to: latest,
        }
    }

    /// Record a failed tenant (its ledger row says `failed`, with the error) and take it
    /// out of any maintenance this runner put it in.
    async fn record_failure(
        &self,
        pool: &deadpool_postgres::Pool,
        pending: &PendingTenant,
        version: i32,
        e: &Error,
    ) -> TenantOutcome {
        let error = describe(e);
        if let Ok(conn) = pool.get().await {
            let _ = conn
                .execute(
                    "update public.tenant_migrations set status = 'failed', error = $2, \
                     finished_at = now(), updated_at = now() where tenant_id = $1",
                    &[&pending.tenant.id.0, &error],
                )
                .await;
        }
        if let Err(e) = release_maintenance(pool, &pending.tenant).await {
            tracing::error!(tenant = %pending.tenant.slug, error = %e, "could not take the tenant out of maintenance");
        }
        tracing::error!(tenant = %pending.tenant.slug, version, error = %error, "tenant migration failed");
        TenantOutcome::Failed {
            slug: pending.tenant.slug.clone(),
            version,
            error,
        }
    }

    /// One version of one tenant. A migration marked `-- @locking` runs with the tenant
    /// in maintenance (its users get 503 `tenant_unavailable`), unless an operator had
    /// already put it there — then it stays as the operator left it. The runner's
    /// maintenance is recorded in the ledger row in the same transaction, and lifted by
    /// [`release_maintenance`] — by this run, or by the rerun if this one is killed.
    async fn migrate_step(
        &self,
        pool: &deadpool_postgres::Pool,
        tenant: &TenantRef,
        from: i32,
        to: i32,
        opts: &MigrateOptions,
    ) -> Result<()> {
        if !self.inner.tenant_migrations.is_locking(to) {
            return self.migrate_step_in_tx(pool, tenant, from, to, opts).await;
        }
        let mut conn = pool.get().await?;
        let tx = conn.transaction().await?;
        let switched_on = tx
            .query_opt(
                "update public.tenants set maintenance = true, updated_at = now() \
                 where id = $1 and not maintenance returning id",
                &[&tenant.id.0],
            )
            .await?
            .is_some();
        if switched_on {
            tx.execute(
                "update public.tenant_migrations set maintenance_by_runner = true, \
                 updated_at = now() where tenant_id = $1",
                &[&tenant.id.0],
            )
            .await?;
            crate::catalog::notify_tenant_changed(&tx, &tenant.slug).await?;
        }
        tx.commit().await?;
        drop(conn);
        let result = self.migrate_step_in_tx(pool, tenant, from, to, opts).await;
        release_maintenance(pool, tenant).await?;
        result
    }

    /// One version of one tenant, in one transaction with its ledger row.
    async fn migrate_step_in_tx(
        &self,
        pool: &deadpool_postgres::Pool,
        tenant: &TenantRef,
        from: i32,
        to: i32,
        opts: &MigrateOptions,
    ) -> Result<()> {
        let conn = pool.get().await?;
        // Only a ledger still at `from` says `running` (after an orphaned step of a
        // killed run committed, it stays as that step left it).
        conn.execute(
            "insert into public.tenant_migrations (tenant_id, version, status, started_at) \
             values ($1, $2, 'running', now()) on conflict (tenant_id) do update \
             set status = 'running', started_at = now(), error = null, updated_at = now() \
             where public.tenant_migrations.version = excluded.version",
            &[&tenant.id.0, &from],
        )
        .await?;
        let schema = tenant.slug.schema_name();
        let role = self.inner.prefix.tenant_role(&tenant.slug);
        // Integers from our own catalog are the only values formatted in here. The
        // ledger row is locked first: a concurrent step of the same tenant (a killed
        // run's, still executing) is waited for, and then seen to have moved it.
        let script = format!(
            "begin; set local lock_timeout = '{}ms';\n\
             do $$ begin \
               perform 1 from public.tenant_migrations where tenant_id = {id} and version = {from} for update; \
               if not found then \
                 raise exception 'the ledger of tenant {id} is no longer at version {from}' using errcode = '{LEDGER_MOVED}'; \
               end if; \
             end $$;\n{}\n\
             update public.tenant_migrations set version = {to}, status = 'ok', error = null, \
             finished_at = now(), updated_at = now() where tenant_id = {};\ncommit;",
            opts.lock_timeout.as_millis(),
            schema_script(self, &schema, &role, from, to),
            tenant.id.0,
            id = tenant.id.0,
        );
        if let Err(e) = conn.batch_execute(&script).await {
            // A multi-statement message stops at the first error with the transaction
            // still open (aborted): end it before the connection is reused.
            if conn.batch_execute("rollback").await.is_err() {
                drop(deadpool_postgres::Object::take(conn));
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Tenants per migration version and status, and the failed ones.
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        let conn = self.shared().await?;
        let counts = conn
            .query(
                "select coalesce(m.version, 0), coalesce(m.status, 'missing'), count(*) \
                 from public.tenants t left join public.tenant_migrations m on m.tenant_id = t.id \
                 where t.status not in ('deleting', 'deleted') group by 1, 2 order by 1, 2",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let failed = conn
            .query(
                "select t.slug, m.version, coalesce(m.error, '') from public.tenant_migrations m \
                 join public.tenants t on t.id = m.tenant_id where m.status = 'failed' order by t.slug",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        Ok(MigrationStatus {
            latest: self.inner.tenant_migrations.latest(),
            counts,
            failed,
        })
    }
}

/// The version a tenant's ledger row says.
async fn ledger_version(pool: &deadpool_postgres::Pool, tenant: TenantId) -> Result<i32> {
    let conn = pool.get().await?;
    let row = conn
        .query_one(
            "select version from public.tenant_migrations where tenant_id = $1",
            &[&tenant.0],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Take the tenant out of the maintenance the runner put it in (this run or a killed
/// one), if it did: the ledger's mark and the flag go together, in one transaction.
async fn release_maintenance(pool: &deadpool_postgres::Pool, tenant: &TenantRef) -> Result<()> {
    let mut conn = pool.get().await?;
    let tx = conn.transaction().await?;
    let marked = tx
        .query_opt(
            "update public.tenant_migrations set maintenance_by_runner = false, updated_at = now() \
             where tenant_id = $1 and maintenance_by_runner returning tenant_id",
            &[&tenant.id.0],
        )
        .await?
        .is_some();
    if marked {
        tx.execute(
            "update public.tenants set maintenance = false, updated_at = now() where id = $1",
            &[&tenant.id.0],
        )
        .await?;
        crate::catalog::notify_tenant_changed(&tx, &tenant.slug).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn describe(e: &Error) -> String {
    match e {
        Error::Db(db) => match db.as_db_error() {
            Some(d) => format!("{}: {}", d.code().code(), d.message()),
            None => db.to_string(),
        },
        other => other.to_string(),
    }
}
