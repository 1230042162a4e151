//! Changing a tenant's name or plan (the platform's `PATCH /platform/v1/tenants/{slug}`).

use crate::catalog::{notify_tenant_changed, Tenant, TENANT_COLUMNS};
use crate::error::{Error, Result};
use crate::Engine;

/// What to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct TenantUpdate {
    pub name: Option<String>,
    pub plan: Option<String>,
}

impl Engine {
    /// Rename a tenant or move it to another plan. Deleted or deleting tenants are not
    /// found. Every server instance is told (the plan decides limits and features).
    pub async fn update_tenant(&self, slug: &str, update: TenantUpdate) -> Result<Tenant> {
        let name = update.name.map(|n| n.trim().to_owned());
        if let Some(name) = &name {
            if name.is_empty() || name.chars().count() > 200 {
                return Err(Error::Invalid(
                    "a tenant name is 1 to 200 characters".into(),
                ));
            }
        }
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                &format!(
                    "update public.tenants t set name = coalesce($2, t.name), \
                     plan = coalesce($3, t.plan), updated_at = now() \
                     where t.slug = $1 and t.status not in ('deleting', 'deleted') \
                     returning {TENANT_COLUMNS}"
                ),
                &[&slug, &name, &update.plan],
            )
            .await
            .map_err(|e| match Error::from(e) {
                e if e.sqlstate() == Some("23503") => {
                    Error::UnknownPlan(update.plan.clone().unwrap_or_default())
                }
                e => e,
            })?
            .ok_or_else(|| Error::TenantNotFound(slug.to_owned()))?;
        let tenant = Tenant::from_row(&row)?;
        notify_tenant_changed(&conn, &tenant.slug).await?;
        Ok(tenant)
    }
}
