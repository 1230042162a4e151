//! A tenant's life after provisioning: suspend, resume, cancel, maintenance, delete.
//!
//! ```text
//! provisioning → trial/active ⇄ suspended → cancelled → deleting → deleted (tombstone)
//! ```

use crate::catalog::{notify_tenant_changed, Tenant, TenantStatus, TENANT_COLUMNS};
use crate::error::{Error, Result};
use crate::names::Slug;
use crate::Engine;

use TenantStatus::*;

/// Tables dropped per transaction when deleting a tenant: small enough that the locks of
/// one batch (a table, its indexes, sequences, TOAST) stay far below
/// `max_locks_per_transaction` — `DROP SCHEMA … CASCADE` on a large tenant takes them all
/// at once and can run out of shared lock memory.
pub const DEFAULT_DROP_BATCH: usize = 16;

impl Engine {
    /// `trial`/`active` → `suspended`.
    pub async fn suspend_tenant(&self, slug: &str, reason: Option<&str>) -> Result<Tenant> {
        self.transition(slug, "suspended", &[Trial, Active], Suspended, reason)
            .await
    }

    /// `suspended`/`cancelled` → `active`.
    pub async fn resume_tenant(&self, slug: &str) -> Result<Tenant> {
        self.transition(slug, "resumed", &[Suspended, Cancelled], Active, None)
            .await
    }

    /// `trial`/`active`/`suspended` → `cancelled`.
    pub async fn cancel_tenant(&self, slug: &str, reason: Option<&str>) -> Result<Tenant> {
        self.transition(
            slug,
            "cancelled",
            &[Trial, Active, Suspended],
            Cancelled,
            reason,
        )
        .await
    }

    /// Turn maintenance mode on or off: a tenant in maintenance answers 503.
    pub async fn set_maintenance(&self, slug: &str, on: bool) -> Result<Tenant> {
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                &format!(
                    "update public.tenants t set maintenance = $2, updated_at = now() \
                     where t.slug = $1 and t.status not in ('deleting', 'deleted') \
                     returning {TENANT_COLUMNS}"
                ),
                &[&slug, &on],
            )
            .await?
            .ok_or_else(|| Error::TenantNotFound(slug.to_owned()))?;
        let tenant = Tenant::from_row(&row)?;
        notify_tenant_changed(&conn, &tenant.slug).await?;
        Ok(tenant)
    }

    async fn transition(
        &self,
        slug: &str,
        action: &'static str,
        from: &[TenantStatus],
        to: TenantStatus,
        reason: Option<&str>,
    ) -> Result<Tenant> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                &format!(
                    "update public.tenants t set status = $2, status_reason = $3, updated_at = now() \
                     where t.slug = $1 and t.status = any($4) returning {TENANT_COLUMNS}"
                ),
                &[&slug, &to.as_str(), &reason, &from],
            )
            .await?;
        match row {
            Some(row) => {
                let tenant = Tenant::from_row(&row)?;
                notify_tenant_changed(&conn, &tenant.slug).await?;
                tracing::info!(tenant = %tenant.slug, status = %to, "tenant status changed");
                Ok(tenant)
            }
            None => {
                let current = self.tenant(slug).await?;
                Err(Error::InvalidTransition {
                    from: current.status.to_string(),
                    action,
                })
            }
        }
    }

    /// Delete a tenant: mark it `deleting`, drop its tables in batches, then its schema
    /// and role, and keep the catalog row as a `deleted` tombstone. Resumable: running it
    /// again on a tenant left in `deleting` finishes the job.
    pub async fn delete_tenant(&self, slug: &str) -> Result<()> {
        self.delete_tenant_with(slug, DEFAULT_DROP_BATCH).await
    }

    /// [`Engine::delete_tenant`] with a chosen batch size.
    pub async fn delete_tenant_with(&self, slug: &str, batch: usize) -> Result<()> {
        let tenant = self
            .transition(
                slug,
                "deleted",
                &[Trial, Active, Suspended, Cancelled, Deleting],
                Deleting,
                None,
            )
            .await?;
        let slug = tenant.slug.clone();
        let schema = slug.schema_name();
        let role = self.inner.prefix.tenant_role(&slug);
        let conn = self.admin().await?;
        loop {
            let tables: Vec<String> = conn
                .query(
                    "select c.relname::text from pg_class c \
                     join pg_namespace n on n.oid = c.relnamespace \
                     where n.nspname = $1 and c.relkind in ('r', 'p') \
                     order by c.oid desc limit $2",
                    &[&schema.as_str(), &(batch.max(1) as i64)],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if tables.is_empty() {
                break;
            }
            let list: Vec<String> = tables
                .iter()
                .map(|t| format!("{schema}.\"{}\"", t.replace('"', "\"\"")))
                .collect();
            conn.batch_execute(&format!("drop table if exists {} cascade", list.join(", ")))
                .await?;
        }
        // What is left is small (views, functions, types); then the role.
        let role_exists = conn
            .query_opt(
                "select 1 from pg_roles where rolname = $1",
                &[&role.as_str()],
            )
            .await?
            .is_some();
        let mut script = format!("begin; drop schema if exists {schema} cascade;");
        if role_exists {
            script.push_str(&format!(" drop owned by {role}; drop role {role};"));
        }
        script.push_str(" commit;");
        if let Err(e) = conn.batch_execute(&script).await {
            let _ = conn.batch_execute("rollback").await;
            return Err(e.into());
        }
        tombstone(&conn, &slug, tenant.id.0).await?;
        tracing::info!(tenant = %slug, "tenant deleted");
        Ok(())
    }
}

impl Engine {
    /// Schedule a cancelled tenant's deletion `grace` from now; an earlier schedule
    /// stands (deleting twice does not extend the grace period). Returns when it is due,
    /// or `None` if the tenant is not (or no longer) cancelled.
    pub async fn schedule_deletion(
        &self,
        slug: &str,
        grace: std::time::Duration,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                "update public.tenants set deletion_scheduled_at = coalesce(deletion_scheduled_at, \
                 now() + make_interval(secs => $2)), updated_at = now() \
                 where slug = $1 and status = 'cancelled' returning deletion_scheduled_at",
                &[&slug, &grace.as_secs_f64()],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Forget a scheduled deletion (the tenant is resumed); `true` if there was one.
    pub async fn unschedule_deletion(&self, slug: &str) -> Result<bool> {
        let conn = self.shared().await?;
        let n = conn
            .execute(
                "update public.tenants set deletion_scheduled_at = null, updated_at = now() \
                 where slug = $1 and deletion_scheduled_at is not null and status <> 'deleting'",
                &[&slug],
            )
            .await?;
        Ok(n > 0)
    }

    /// Claim every tenant whose scheduled deletion is due (`cancelled` → `deleting` in one
    /// statement, so a concurrent resume either wins before or fails after), plus those
    /// an interrupted run left in `deleting`; every instance is told. The caller then
    /// runs [`Engine::delete_tenant`] on each.
    pub async fn claim_due_deletions(&self) -> Result<Vec<String>> {
        let conn = self.shared().await?;
        let claimed = conn
            .query(
                "update public.tenants set status = 'deleting', updated_at = now() \
                 where deletion_scheduled_at <= now() and status = 'cancelled' returning slug",
                &[],
            )
            .await?;
        let mut slugs: Vec<String> = Vec::new();
        for row in &claimed {
            let slug: String = row.get(0);
            if let Ok(parsed) = Slug::parse(&slug) {
                notify_tenant_changed(&conn, &parsed).await?;
            }
            slugs.push(slug);
        }
        let stuck = conn
            .query(
                "select slug from public.tenants \
                 where deletion_scheduled_at is not null and status = 'deleting'",
                &[],
            )
            .await?;
        for row in stuck {
            let slug: String = row.get(0);
            if !slugs.contains(&slug) {
                slugs.push(slug);
            }
        }
        Ok(slugs)
    }

    /// Clear the tombstone of a deleted tenant so its slug can be used again. The row
    /// stays (the platform audit refers to it) under the name `purged-<id>`.
    pub async fn purge_tenant(&self, slug: &str) -> Result<()> {
        let conn = self.admin().await?;
        let row = conn
            .query_opt(
                "update public.tenants set slug = 'purged-' || id, \
                 schema_name = 'purged_' || id, role_name = 'purged_' || id, updated_at = now() \
                 where slug = $1 and status = 'deleted' returning id",
                &[&slug],
            )
            .await?;
        match row {
            Some(_) => Ok(()),
            None => {
                let current = self.tenant(slug).await?;
                Err(Error::InvalidTransition {
                    from: current.status.to_string(),
                    action: "purged",
                })
            }
        }
    }
}

async fn tombstone(conn: &deadpool_postgres::Object, slug: &Slug, id: i64) -> Result<()> {
    conn.batch_execute("begin").await?;
    let result = async {
        conn.execute("delete from public.domains where tenant_id = $1", &[&id])
            .await?;
        conn.execute("delete from public.sessions where tenant_id = $1", &[&id])
            .await?;
        conn.execute(
            "delete from public.tenant_migrations where tenant_id = $1",
            &[&id],
        )
        .await?;
        conn.execute(
            "update public.tenants set status = 'deleted', deleted_at = now(), updated_at = now() \
             where id = $1",
            &[&id],
        )
        .await?;
        notify_tenant_changed(conn, slug).await?;
        conn.batch_execute("commit").await?;
        Ok::<_, Error>(())
    }
    .await;
    if result.is_err() {
        let _ = conn.batch_execute("rollback").await;
    }
    result
}
