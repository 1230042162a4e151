//! [`Ctx`]: what a tenant handler gets — the tenant, the authenticated member and an
//! open [`TenantTx`] in which the membership was read. Built by an extractor, so a
//! handler that names `Ctx` cannot run for an anonymous or foreign caller.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::json;
use zumodra_tenancy::TenantTx;

use crate::audit::{self, PlatformEvent};
use crate::auth::session::{self, Session};
use crate::cache::{TenantCache, TenantKey};
use crate::http::error::ApiError;
use crate::http::extract::ClientAddr;
use crate::rbac::{Permission, Role};
use crate::state::AppState;
use crate::tenants::{Site, TenantEntry};

/// The tenant of a tenant-host request. On the platform host, tenant paths do not
/// exist: 404 `not_found`.
#[derive(Clone)]
pub struct TenantHost(pub Arc<TenantEntry>);

impl FromRequestParts<AppState> for TenantHost {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Site>() {
            Some(Site::Tenant(entry)) => Ok(Self(entry.clone())),
            _ => Err(ApiError::NotFound),
        }
    }
}

/// A member of this tenant, as read in this request's transaction.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub permissions: BTreeSet<Permission>,
}

impl Member {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

/// The authenticated session of a tenant-host request (no transaction yet).
pub struct TenantSession {
    pub tenant: Arc<TenantEntry>,
    pub session: Session,
}

impl FromRequestParts<AppState> for TenantSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let TenantHost(tenant) = TenantHost::from_request_parts(parts, state).await?;
        let token = session::bearer(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let session = session::lookup_on_tenant(state, tenant.tenant.id, token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        match session.tenant_id {
            Some(id) if id == tenant.tenant.id => {}
            Some(other) => {
                // SPEC §2.5: the same 401 as a bad token, counted and audited.
                state
                    .metrics
                    .cross_tenant_attempts
                    .fetch_add(1, Ordering::Relaxed);
                let address = ClientAddr::from_parts(parts, state).0;
                tracing::warn!(
                    user_id = session.user_id,
                    token_tenant = other.0,
                    "cross-tenant token"
                );
                let event = PlatformEvent {
                    actor: Some(session.user_id),
                    action: "cross_tenant_token",
                    tenant: Some(tenant.tenant.id),
                    address,
                    detail: json!({
                        "token_tenant": other.0,
                        "host_tenant": tenant.tenant.id.0,
                        "host_tenant_slug": tenant.tenant.slug.as_str(),
                    }),
                };
                if let Err(e) = audit::record(state, event).await {
                    tracing::error!(error = %e, "could not audit a cross-tenant attempt");
                }
                return Err(ApiError::Unauthenticated);
            }
            None => return Err(ApiError::Unauthenticated),
        }
        tracing::Span::current().record("user_id", session.user_id);
        if session.impersonator_id.is_some() {
            crate::platform::impersonate::record_request(state, parts, &tenant, &session).await?;
        }
        Ok(Self { tenant, session })
    }
}

/// A tenant request by an active member: the tenant, the member, and the open
/// transaction to do the work in (dropped → rolled back; call [`Ctx::commit`] for
/// writes).
pub struct Ctx {
    pub tenant: Arc<TenantEntry>,
    pub member: Member,
    pub session: Session,
    pub tx: TenantTx,
    pub address: ClientAddr,
    cache: Arc<TenantCache>,
}

impl Ctx {
    /// Commit the work, then drop the tenant's cached entries here before the client
    /// hears back, so that its next read sees the write. (Other instances drop theirs
    /// when the commit's `NOTIFY`, sent by the audit row, reaches their listener.)
    pub async fn commit(self) -> Result<(), ApiError> {
        let tenant = self.tenant.tenant.id;
        self.tx.commit().await?;
        self.cache.invalidate_tenant(tenant).await;
        Ok(())
    }

    /// 403 `forbidden` naming the permission, unless the member has it.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.member.can(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(permission))
        }
    }

    /// 403 `feature_not_in_plan` unless the tenant's plan has the feature.
    pub fn require_feature(&self, feature: &'static str) -> Result<(), ApiError> {
        if self.tenant.plan.has(feature) {
            Ok(())
        } else {
            Err(ApiError::FeatureNotInPlan(feature))
        }
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let TenantSession { tenant, session } =
            TenantSession::from_request_parts(parts, state).await?;
        let tx = state.engine.begin(&tenant.tenant_ref()).await?;
        crate::platform::impersonate::mark_tx(&tx, &session).await?;
        let role = cached_membership(state, &tenant, &tx, session.user_id).await?;
        // Not a member (or no longer active): this user does not exist here.
        let (role, granted, revoked) = role.ok_or(ApiError::Unauthenticated)?;
        let mut permissions: BTreeSet<Permission> = role.permissions().iter().copied().collect();
        permissions.extend(granted.iter().filter_map(|p| Permission::parse(p)));
        for p in revoked.iter().filter_map(|p| Permission::parse(p)) {
            permissions.remove(&p);
        }
        let member = Member {
            user_id: session.user_id,
            email: session.email.clone(),
            display_name: session.display_name.clone(),
            role,
            permissions,
        };
        Ok(Self {
            tenant,
            member,
            session,
            tx,
            address: ClientAddr::from_parts(parts, state),
            cache: state.cache.clone(),
        })
    }
}

type Membership = Option<(Role, Vec<String>, Vec<String>)>;

/// How long a member's role may be served from the tenant's cache. Every change of a
/// membership is audited, and every audited change drops the tenant's cached entries on
/// every instance at commit; the time-to-live only bounds what a lost notification
/// could leave behind.
const MEMBER_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// [`read_membership`] through the tenant's cache: a known member costs no query.
async fn cached_membership(
    state: &AppState,
    tenant: &TenantEntry,
    tx: &TenantTx,
    user_id: i64,
) -> Result<Membership, ApiError> {
    let key = TenantKey::new(tenant.tenant.id, "member", user_id.to_string());
    let found = state
        .cache
        .get_or_load(&key, MEMBER_CACHE_TTL, || async {
            match read_membership(tx, user_id).await {
                Ok(Some((role, granted, revoked))) => {
                    Ok((role.as_str().to_owned(), granted, revoked))
                }
                // Not a member: not cached, so a new member is known at once.
                Ok(None) => Err(None),
                Err(e) => Err(Some(e)),
            }
        })
        .await;
    match found {
        Ok((role, granted, revoked)) => Ok(Role::parse(&role).map(|role| (role, granted, revoked))),
        Err(None) => Ok(None),
        Err(Some(e)) => Err(e),
    }
}

/// The active membership of a user, with custom grants and revocations.
pub async fn read_membership(tx: &TenantTx, user_id: i64) -> Result<Membership, ApiError> {
    let row = tx
        .query_opt(
            "select m.role, \
             array(select c.permission from custom_permissions c where c.user_id = m.user_id and c.granted), \
             array(select c.permission from custom_permissions c where c.user_id = m.user_id and not c.granted) \
             from members m where m.user_id = $1 and m.active",
            &[&user_id],
        )
        .await?;
    Ok(row.and_then(|row| {
        let role = Role::parse(row.get::<_, &str>(0))?;
        Some((role, row.get(1), row.get(2)))
    }))
}
