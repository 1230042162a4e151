//! The shared catalog: tenants and their status machine, domains, users.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use crate::error::{Error, Result};
use crate::names::Slug;
use crate::Engine;

/// A tenant's id in the catalog.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TenantId(pub i64);

/// What a tenant transaction needs: the tenant's id and slug (its schema and role
/// derive from the slug).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantRef {
    pub id: TenantId,
    pub slug: Slug,
}

/// Where a tenant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Provisioning,
    Trial,
    Active,
    Suspended,
    Cancelled,
    Deleting,
    Deleted,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Trial => "trial",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Cancelled => "cancelled",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "provisioning" => Self::Provisioning,
            "trial" => Self::Trial,
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "cancelled" => Self::Cancelled,
            "deleting" => Self::Deleting,
            "deleted" => Self::Deleted,
            _ => return None,
        })
    }

    /// `true` when the tenant serves its users.
    pub fn is_live(self) -> bool {
        matches!(self, Self::Trial | Self::Active)
    }
}

impl std::fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A tenant as the catalog holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Slug,
    pub name: String,
    pub plan: String,
    pub status: TenantStatus,
    pub status_reason: Option<String>,
    pub maintenance: bool,
    pub placement: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Tenant {
    pub fn as_ref(&self) -> TenantRef {
        TenantRef {
            id: self.id,
            slug: self.slug.clone(),
        }
    }
}

/// The column list every tenant query reads, in the order `Tenant::from_row` expects.
pub(crate) const TENANT_COLUMNS: &str = "t.id, t.slug, t.name, t.plan, t.status, t.status_reason, \
     t.maintenance, t.placement, t.created_at, t.updated_at";

impl Tenant {
    pub(crate) fn from_row(row: &Row) -> Result<Self> {
        let slug: String = row.try_get(1)?;
        let status: String = row.try_get(4)?;
        Ok(Self {
            id: TenantId(row.try_get(0)?),
            slug: Slug::parse(&slug)
                .map_err(|_| Error::Invalid(format!("bad slug in catalog: {slug}")))?,
            name: row.try_get(2)?,
            plan: row.try_get(3)?,
            status: TenantStatus::parse(&status)
                .ok_or_else(|| Error::Invalid(format!("bad status in catalog: {status}")))?,
            status_reason: row.try_get(5)?,
            maintenance: row.try_get(6)?,
            placement: row.try_get(7)?,
            created_at: row.try_get(8)?,
            updated_at: row.try_get(9)?,
        })
    }
}

/// A domain normalized for the catalog: lower-case, no port, no trailing dot, only
/// letters, digits, `-` and `.` in labels of 1 to 63 characters. `None` if it is not a
/// host name.
pub fn normalize_domain(input: &str) -> Option<String> {
    let host = input.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    ok.then_some(host)
}

/// One row of `public.domains`.
#[derive(Debug, Clone, Serialize)]
pub struct Domain {
    pub domain: String,
    pub is_primary: bool,
}

/// A global user.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub is_platform_admin: bool,
    pub disabled: bool,
}

impl Engine {
    /// The tenant with this slug (tombstones of deleted tenants included).
    pub async fn tenant(&self, slug: &str) -> Result<Tenant> {
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                &format!("select {TENANT_COLUMNS} from public.tenants t where t.slug = $1"),
                &[&slug],
            )
            .await?
            .ok_or_else(|| Error::TenantNotFound(slug.to_owned()))?;
        Tenant::from_row(&row)
    }

    /// Every tenant, oldest first.
    pub async fn tenants(&self) -> Result<Vec<Tenant>> {
        let conn = self.shared().await?;
        conn.query(
            &format!("select {TENANT_COLUMNS} from public.tenants t order by t.id"),
            &[],
        )
        .await?
        .iter()
        .map(Tenant::from_row)
        .collect()
    }

    /// The tenant a host name belongs to (`<slug>.<base_domain>` or a registered
    /// domain); `None` for an unknown host.
    pub async fn tenant_by_domain(&self, host: &str) -> Result<Option<Tenant>> {
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                &format!(
                    "select {TENANT_COLUMNS} from public.domains d \
                     join public.tenants t on t.id = d.tenant_id where d.domain = $1"
                ),
                &[&host],
            )
            .await?;
        row.as_ref().map(Tenant::from_row).transpose()
    }

    /// The domains of a tenant, primary first.
    pub async fn domains(&self, tenant: TenantId) -> Result<Vec<Domain>> {
        let conn = self.shared().await?;
        Ok(conn
            .query(
                "select domain, is_primary from public.domains where tenant_id = $1 \
                 order by is_primary desc, domain",
                &[&tenant.0],
            )
            .await?
            .iter()
            .map(|r| Domain {
                domain: r.get(0),
                is_primary: r.get(1),
            })
            .collect())
    }

    /// Add a custom domain to a tenant. Domains under the base domain are reserved for
    /// the `<slug>.<base>` scheme.
    pub async fn add_domain(&self, slug: &str, domain: &str) -> Result<Domain> {
        let domain =
            normalize_domain(domain).ok_or_else(|| Error::InvalidDomain(domain.to_owned()))?;
        let base = self.base_domain();
        if domain == base || domain.ends_with(&format!(".{base}")) {
            return Err(Error::InvalidDomain(format!(
                "{domain} (names under {base} are reserved for tenant slugs)"
            )));
        }
        let tenant = self.tenant(slug).await?;
        let conn = self.shared().await?;
        let inserted = conn
            .execute(
                "insert into public.domains (domain, tenant_id, is_primary) values ($1, $2, false) \
                 on conflict (domain) do nothing",
                &[&domain, &tenant.id.0],
            )
            .await?;
        if inserted == 0 {
            return Err(Error::DomainTaken(domain));
        }
        notify_tenant_changed(&conn, &tenant.slug).await?;
        Ok(Domain {
            domain,
            is_primary: false,
        })
    }

    /// Remove a custom domain from a tenant (never its primary domain).
    pub async fn remove_domain(&self, slug: &str, domain: &str) -> Result<()> {
        let domain =
            normalize_domain(domain).ok_or_else(|| Error::InvalidDomain(domain.to_owned()))?;
        let tenant = self.tenant(slug).await?;
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                "select is_primary from public.domains where domain = $1 and tenant_id = $2",
                &[&domain, &tenant.id.0],
            )
            .await?
            .ok_or_else(|| Error::DomainNotFound(domain.clone()))?;
        if row.get::<_, bool>(0) {
            return Err(Error::PrimaryDomain);
        }
        conn.execute(
            "delete from public.domains where domain = $1 and tenant_id = $2",
            &[&domain, &tenant.id.0],
        )
        .await?;
        notify_tenant_changed(&conn, &tenant.slug).await?;
        Ok(())
    }

    /// Create a global user. The password is hashed with argon2id off the async runtime.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        platform_admin: bool,
    ) -> Result<User> {
        let email = parse_email(email)?;
        check_password(password)?;
        let hash = crate::password::hash_blocking(password.to_owned()).await?;
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                "insert into public.users (email, password_hash, display_name, is_platform_admin) \
                 values ($1, $2, $3, $4) on conflict ((lower(email))) do nothing \
                 returning id, email, display_name, is_platform_admin, disabled",
                &[&email, &hash, &display_name, &platform_admin],
            )
            .await?
            .ok_or_else(|| Error::EmailTaken(email.clone()))?;
        Ok(user_from_row(&row))
    }

    /// A user by e-mail, case-insensitively.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let conn = self.shared().await?;
        let row = conn
            .query_opt(
                "select id, email, display_name, is_platform_admin, disabled from public.users \
                 where lower(email) = lower($1)",
                &[&email],
            )
            .await?;
        Ok(row.as_ref().map(user_from_row))
    }
}

pub(crate) fn user_from_row(row: &Row) -> User {
    User {
        id: row.get(0),
        email: row.get(1),
        display_name: row.get(2),
        is_platform_admin: row.get(3),
        disabled: row.get(4),
    }
}

/// A minimal e-mail check: something@something.tld, no spaces, at most 254 bytes.
pub fn parse_email(input: &str) -> Result<String> {
    let email = input.trim();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if valid {
        Ok(email.to_owned())
    } else {
        Err(Error::Invalid(format!(
            "'{input}' is not an e-mail address"
        )))
    }
}

/// Passwords are 8 to 1024 characters.
pub fn check_password(password: &str) -> Result<()> {
    if (8..=1024).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(Error::Invalid("a password is 8 to 1024 characters".into()))
    }
}

/// Tell every server instance that a tenant's status or domains changed.
pub(crate) async fn notify_tenant_changed(
    conn: &impl deadpool_postgres::GenericClient,
    slug: &Slug,
) -> Result<()> {
    conn.execute(
        "select pg_notify('zumodra_tenant_changed', $1)",
        &[&slug.as_str()],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized() {
        assert_eq!(
            normalize_domain("Jobs.Acme.COM.").as_deref(),
            Some("jobs.acme.com")
        );
        assert_eq!(normalize_domain("localhost").as_deref(), Some("localhost"));
        for bad in [
            "", ".", "a..b", "-a.com", "a-.com", "a b.com", "a:80", "é.com", "a/b",
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn emails_and_passwords() {
        assert!(parse_email("alice@acme.test").is_ok());
        for bad in [
            "",
            "alice",
            "@acme.test",
            "alice@acme",
            "al ice@acme.test",
            "a@b@c.d",
        ] {
            assert!(parse_email(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            "provisioning",
            "trial",
            "active",
            "suspended",
            "cancelled",
            "deleting",
            "deleted",
        ] {
            assert_eq!(TenantStatus::parse(s).unwrap().as_str(), s);
        }
        assert!(TenantStatus::parse("nope").is_none());
    }
}
