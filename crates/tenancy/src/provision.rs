//! Provisioning: a tenant's catalog row, role, schema, tables, primary domain and owner,
//! all in one transaction of the owner role. PostgreSQL's DDL (`CREATE ROLE` included)
//! is transactional, so a failure at any step leaves no schema, no role and no row.

use chrono::Utc;
use deadpool_postgres::Transaction;

use crate::catalog::{
    check_password, notify_tenant_changed, parse_email, Tenant, TenantStatus, TENANT_COLUMNS,
};
use crate::error::{Error, Result};
use crate::migrations::render;
use crate::names::{RoleName, SchemaName, Slug};
use crate::Engine;

/// What to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub plan: String,
    /// `Active`, or `Trial` for self-service sign-up.
    pub status: TenantStatus,
    /// The first owner; created as a user if the e-mail is new, else made owner.
    pub owner: Option<NewOwner>,
}

#[derive(Debug, Clone)]
pub struct NewOwner {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

/// The steps of provisioning, in order (for failure injection in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionStep {
    CatalogRow,
    Role,
    Schema,
    Tables,
    Domain,
    Owner,
    Activate,
}

impl ProvisionStep {
    pub const ALL: [ProvisionStep; 7] = [
        Self::CatalogRow,
        Self::Role,
        Self::Schema,
        Self::Tables,
        Self::Domain,
        Self::Owner,
        Self::Activate,
    ];
}

/// Knobs for tests and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct ProvisionOptions {
    /// Raise an error right after this step.
    pub fail_after: Option<ProvisionStep>,
    /// Create the schema at this migration version instead of the latest.
    pub version: Option<i32>,
    /// Build the schema even when the warm pool has one ready (benchmarks, tests).
    pub from_scratch: bool,
}

/// A validated [`NewTenant`], ready to provision (the owner's password already hashed).
pub(crate) struct Prepared {
    pub(crate) slug: Slug,
    name: String,
    plan: String,
    status: TenantStatus,
    owner: Option<(String, String, String)>,
    pub(crate) version: i32,
}

impl Engine {
    /// Create a tenant. Exactly one of many concurrent creations of one slug succeeds;
    /// the others get [`Error::SlugTaken`].
    pub async fn create_tenant(&self, new: NewTenant) -> Result<Tenant> {
        self.create_tenant_with(new, ProvisionOptions::default())
            .await
    }

    /// [`Engine::create_tenant`] with test knobs.
    pub async fn create_tenant_with(
        &self,
        new: NewTenant,
        opts: ProvisionOptions,
    ) -> Result<Tenant> {
        let prepared = self.prepare_tenant(new, opts.version).await?;
        let mut conn = self.admin().await?;
        let tx = conn.transaction().await?;
        let use_warm = self.warm_pool_size() > 0 && !opts.from_scratch;
        let (id, claimed) = self
            .provision_in(&tx, &prepared, opts.fail_after, use_warm)
            .await?;
        let tenant = activate(&tx, id, &prepared, prepared.version, opts.fail_after).await?;
        tx.commit().await?;
        self.release_admin(conn);
        if use_warm {
            // One schema fewer in the pool (or none was ready): the top-up task builds.
            self.wake_warm_pool();
        }
        tracing::info!(tenant = %prepared.slug, warm = claimed, "tenant provisioned");
        Ok(tenant)
    }

    /// Validate a new tenant and hash its owner's password (off the async runtime).
    pub(crate) async fn prepare_tenant(
        &self,
        new: NewTenant,
        version: Option<i32>,
    ) -> Result<Prepared> {
        let slug = Slug::parse(&new.slug)?;
        let name = new.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::Invalid(
                "a tenant name is 1 to 200 characters".into(),
            ));
        }
        if !matches!(new.status, TenantStatus::Active | TenantStatus::Trial) {
            return Err(Error::Invalid("a new tenant is active or trial".into()));
        }
        let owner = match &new.owner {
            Some(o) => {
                let email = parse_email(&o.email)?;
                check_password(&o.password)?;
                let hash = crate::password::hash_blocking(o.password.clone()).await?;
                Some((email, hash, o.display_name.clone()))
            }
            None => None,
        };
        let version = version.unwrap_or(self.inner.tenant_migrations.latest());
        Ok(Prepared {
            slug,
            name,
            plan: new.plan,
            status: new.status,
            owner,
            version,
        })
    }

    /// Steps 1–6 of provisioning inside the caller's owner transaction: catalog row
    /// (status `provisioning`), role, schema, tables at `prepared.version` — claimed
    /// from the warm pool when `use_warm` and one is ready, else built — primary domain,
    /// owner. Returns the tenant id and whether the schema was claimed; [`activate`]
    /// finishes.
    pub(crate) async fn provision_in(
        &self,
        tx: &Transaction<'_>,
        prepared: &Prepared,
        fail_after: Option<ProvisionStep>,
        use_warm: bool,
    ) -> Result<(i64, bool)> {
        let slug = &prepared.slug;
        let role = self.inner.prefix.tenant_role(slug);
        let schema = slug.schema_name();
        let fail = |step: ProvisionStep| fail_after == Some(step);

        // 1. The catalog row. The unique slug makes concurrent creations queue here.
        let row = tx
            .query_one(
                "insert into public.tenants (slug, name, plan, status, schema_name, role_name) \
                 values ($1, $2, $3, 'provisioning', $4, $5) returning id",
                &[
                    &slug.as_str(),
                    &prepared.name,
                    &prepared.plan,
                    &schema.as_str(),
                    &role.as_str(),
                ],
            )
            .await
            .map_err(|e| match Error::from(e) {
                e if e.sqlstate() == Some("23505") => Error::SlugTaken(slug.to_string()),
                e if e.sqlstate() == Some("23503") => Error::UnknownPlan(prepared.plan.clone()),
                e => e,
            })?;
        let id: i64 = row.get(0);
        inject(tx, fail(ProvisionStep::CatalogRow)).await?;

        // 2–4. The role, the schema and its tables: claimed from the warm pool when one
        // is ready at this version (renamed to the tenant's names), else built here.
        let claimed = use_warm
            && self
                .claim_warm(tx, &schema, &role, prepared.version)
                .await?;
        if claimed {
            let failed = [
                ProvisionStep::Role,
                ProvisionStep::Schema,
                ProvisionStep::Tables,
            ]
            .iter()
            .any(|s| fail(*s));
            inject(tx, failed).await?;
        } else {
            tx.batch_execute(&self.build_script(&schema, &role, prepared.version, fail_after))
                .await?;
        }

        // 5. The primary domain.
        let domain = format!("{slug}.{}", self.inner.base_domain);
        tx.execute(
            "insert into public.domains (domain, tenant_id, is_primary) values ($1, $2, true)",
            &[&domain, &id],
        )
        .await
        .map_err(|e| match Error::from(e) {
            e if e.sqlstate() == Some("23505") => Error::DomainTaken(domain.clone()),
            e => e,
        })?;
        inject(tx, fail(ProvisionStep::Domain)).await?;

        // 6. The owner.
        if let Some((email, hash, display_name)) = &prepared.owner {
            add_owner(tx, &schema, &role, email, hash, display_name).await?;
        }
        inject(tx, fail(ProvisionStep::Owner)).await?;
        Ok((id, claimed))
    }

    /// Steps 2–4 of provisioning as one message (one round trip): `role` (NOLOGIN, in
    /// the tenants group, the runtime role a member), `schema` owned by it, and the
    /// tables up to `version`. `fail_after` puts an injected failure after that step.
    /// Also builds the warm pool's schemas, under placeholder names.
    pub(crate) fn build_script(
        &self,
        schema: &SchemaName,
        role: &RoleName,
        version: i32,
        fail_after: Option<ProvisionStep>,
    ) -> String {
        let runtime = self.inner.prefix.runtime_role();
        let group = self.inner.prefix.tenants_group();
        let fail = |step: ProvisionStep| {
            if fail_after == Some(step) {
                format!("\n{INJECTED};\n")
            } else {
                String::new()
            }
        };
        // The owner must be a member to create the schema for the role and to run the
        // tenant's part of migrations as it (a superuser needs no membership).
        let owner_membership = if self.inner.admin_is_superuser {
            String::new()
        } else {
            format!(" grant {role} to current_user;")
        };
        format!(
            "create role {role} nologin; grant {group} to {role}; grant {role} to {runtime};\
             {owner_membership}{}\ncreate schema {schema} authorization {role};{}\n{};{}",
            fail(ProvisionStep::Role),
            fail(ProvisionStep::Schema),
            schema_script(self, schema, role, 0, version),
            fail(ProvisionStep::Tables),
        )
    }
}

/// Step 7 of provisioning: the ledger row at `version` and the final status.
pub(crate) async fn activate(
    tx: &Transaction<'_>,
    id: i64,
    prepared: &Prepared,
    version: i32,
    fail_after: Option<ProvisionStep>,
) -> Result<Tenant> {
    let trial_ends =
        (prepared.status == TenantStatus::Trial).then(|| Utc::now() + chrono::Duration::days(14));
    tx.execute(
        "insert into public.tenant_migrations (tenant_id, version, status, started_at, finished_at) \
         values ($1, $2, 'ok', now(), now())",
        &[&id, &version],
    )
    .await?;
    let row = tx
        .query_one(
            &format!(
                "update public.tenants t set status = $2, trial_ends_at = $3, updated_at = now() \
                 where t.id = $1 returning {TENANT_COLUMNS}"
            ),
            &[&id, &prepared.status.as_str(), &trial_ends],
        )
        .await?;
    notify_tenant_changed(tx, &prepared.slug).await?;
    inject(tx, fail_after == Some(ProvisionStep::Activate)).await?;
    Tenant::from_row(&row)
}

/// The SQL that brings a schema from version `from` to version `to`: each migration's
/// tenant part as the tenant role, its owner part as the owner.
pub(crate) fn schema_script(
    engine: &Engine,
    schema: &SchemaName,
    role: &RoleName,
    from: i32,
    to: i32,
) -> String {
    let mut script = format!("set local search_path = {schema};");
    for m in engine
        .inner
        .tenant_migrations
        .after(from)
        .take_while(|m| m.version <= to)
    {
        script.push_str(&format!("\nset local role {role};\n"));
        script.push_str(&render(&m.sql, &[("tenant", role)]));
        script.push_str("\nset local role none;\n");
        script.push_str(&render(&m.owner_sql, &[("tenant", role)]));
    }
    script
}

async fn add_owner(
    tx: &Transaction<'_>,
    schema: &SchemaName,
    role: &RoleName,
    email: &str,
    hash: &str,
    display_name: &str,
) -> Result<()> {
    let inserted = tx
        .query_opt(
            "insert into public.users (email, password_hash, display_name) values ($1, $2, $3) \
             on conflict ((lower(email))) do nothing returning id",
            &[&email, &hash, &display_name],
        )
        .await?;
    let user_id: i64 = match inserted {
        Some(row) => row.get(0),
        None => tx
            .query_one(
                "select id from public.users where lower(email) = lower($1)",
                &[&email],
            )
            .await?
            .get(0),
    };
    // As the tenant role, into the tenant's own table.
    tx.batch_execute(&format!(
        "set local role {role}; set local search_path = {schema}"
    ))
    .await?;
    tx.execute(
        "insert into members (user_id, role) values ($1, 'owner') \
         on conflict (user_id) do update set role = 'owner', active = true, updated_at = now()",
        &[&user_id],
    )
    .await?;
    tx.batch_execute("set local role none").await?;
    Ok(())
}

/// The statement of an injected failure (tests).
const INJECTED: &str = "do $$ begin raise exception 'injected provisioning failure'; end $$";

async fn inject(tx: &Transaction<'_>, now: bool) -> Result<()> {
    if now {
        tx.batch_execute(INJECTED).await?;
    }
    Ok(())
}
