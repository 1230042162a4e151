//! Impersonation: `POST /platform/v1/tenants/{slug}/impersonate {reason, user_id?,
//! ttl_secs?}` by a platform admin gives a short-lived token (default 15 minutes) for one
//! tenant, acting as one of its members (an owner unless `user_id` says otherwise).
//!
//! The token is a `public.sessions` row with `impersonator_id` and `reason`. Everything
//! done with it is recorded twice: every request in `public.platform_audit`
//! (`impersonation.request`, with the admin as actor), and every mutation in the
//! tenant's `audit_log` with `impersonator_id` set — the tenant's owners see it in
//! `GET /api/v1/audit-log`. The start itself is in both logs too.

use axum::extract::State;
use axum::http::request::Parts;
use axum::routing::post;
use axum::Router;
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use zumodra_tenancy::{TenantStatus, TenantTx};

use super::PlatformAdmin;
use crate::audit::{self, PlatformEvent};
use crate::audit_log::{self, Change};
use crate::auth::session::{self, Session};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ClientAddr, Json, PathText};
use crate::state::AppState;
use crate::tenants::TenantEntry;

/// How long an impersonation token lives unless the admin asks for less.
pub const DEFAULT_TTL_SECS: i64 = 15 * 60;
/// The longest an admin may ask for.
pub const MAX_TTL_SECS: i64 = 60 * 60;

/// The route of impersonation.
pub fn router() -> Router<AppState> {
    Router::new().route("/platform/v1/tenants/{slug}/impersonate", post(impersonate))
}

/// The body of `POST …/impersonate`.
#[derive(Debug, Default, Deserialize)]
pub struct ImpersonateBody {
    /// Required: why (shown to the tenant's owners).
    pub reason: Option<String>,
    /// The member to act as; default: the tenant's first owner.
    pub user_id: Option<i64>,
    /// Lifetime in seconds, 60 to 3600; default 900.
    pub ttl_secs: Option<i64>,
}

async fn impersonate(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
    Json(body): Json<ImpersonateBody>,
) -> ApiResult<axum::Json<Value>> {
    let reason = body
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::field("reason", "required"))?;
    if reason.chars().count() > 500 {
        return Err(ApiError::field("reason", "at most 500 characters"));
    }
    let ttl = body.ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
    if !(60..=MAX_TTL_SECS).contains(&ttl) {
        return Err(ApiError::field("ttl_secs", "60 to 3600 seconds"));
    }
    let tenant = state.engine.tenant(&slug).await?;
    if matches!(
        tenant.status,
        TenantStatus::Deleted | TenantStatus::Deleting | TenantStatus::Provisioning
    ) {
        return Err(ApiError::NotFound);
    }
    let expires_at = Utc::now() + Duration::seconds(ttl);
    let admin_email: String = state
        .engine
        .shared()
        .await?
        .query_opt(
            "select email from public.users where id = $1",
            &[&admin.user_id],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?
        .map(|r| r.get(0))
        .unwrap_or_default();

    // The member to act as, and the start in the tenant's own log (one transaction).
    let tx = state.engine.begin(&tenant.as_ref()).await?;
    mark(&tx, admin.user_id).await?;
    let user_id = match body.user_id {
        Some(id) => tx
            .query_opt(
                "select user_id from members where user_id = $1 and active",
                &[&id],
            )
            .await?
            .map(|r| r.get::<_, i64>(0))
            .ok_or_else(|| ApiError::field("user_id", "not an active member of this tenant"))?,
        None => tx
            .query_opt(
                "select user_id from members where role = 'owner' and active \
                 order by user_id limit 1",
                &[],
            )
            .await?
            .map(|r| r.get::<_, i64>(0))
            .ok_or_else(|| ApiError::Conflict("This tenant has no active owner.".into()))?,
    };
    let detail = json!({
        "user_id": user_id,
        "admin_user_id": admin.user_id,
        "admin_email": admin_email,
        "reason": reason,
        "expires_at": expires_at,
    });
    audit_log::write(
        &tx,
        Change {
            actor: Some(user_id),
            action: "start",
            entity: "impersonation",
            entity_id: user_id,
            before: None,
            after: Some(detail.clone()),
            request_id: None,
            address: Some(admin.address.to_string()),
        },
    )
    .await?;
    let (token, hash) = session::new_token();
    let conn = state.engine.shared().await?;
    conn.execute(
        "insert into public.sessions (token_hash, user_id, tenant_id, impersonator_id, reason, \
         expires_at) values ($1, $2, $3, $4, $5, $6)",
        &[
            &hash,
            &user_id,
            &tenant.id.0,
            &admin.user_id,
            &reason,
            &expires_at,
        ],
    )
    .await
    .map_err(zumodra_tenancy::Error::from)?;
    drop(conn);
    tx.commit().await?;
    state.cache.invalidate_tenant(tenant.id).await;
    admin
        .audit(&state, "tenant.impersonate", Some(tenant.id), detail)
        .await?;
    Ok(axum::Json(json!({
        "token": token,
        "expires_at": expires_at,
        "tenant": tenant.slug.as_str(),
        "user_id": user_id,
    })))
}

/// Mark `tx` as done by platform admin `admin`: the tenant audit rows written in it
/// carry `impersonator_id` (see `audit_log::write`). Transaction-local.
async fn mark(tx: &TenantTx, admin: i64) -> Result<(), ApiError> {
    tx.execute(
        "select set_config('zumodra.impersonator', $1, true)",
        &[&admin.to_string()],
    )
    .await?;
    Ok(())
}

/// Called when a request context is built: mark the transaction of an impersonation
/// session (nothing for an ordinary one).
pub async fn mark_tx(tx: &TenantTx, session: &Session) -> Result<(), ApiError> {
    match session.impersonator_id {
        Some(admin) => mark(tx, admin).await,
        None => Ok(()),
    }
}

/// Record one request made with an impersonation token in `public.platform_audit`.
pub async fn record_request(
    state: &AppState,
    parts: &Parts,
    tenant: &TenantEntry,
    session: &Session,
) -> Result<(), ApiError> {
    let address = ClientAddr::from_parts(parts, state).0;
    audit::record(
        state,
        PlatformEvent {
            actor: session.impersonator_id,
            action: "impersonation.request",
            tenant: Some(tenant.tenant.id),
            address,
            detail: json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "user_id": session.user_id,
                "reason": session.reason,
            }),
        },
    )
    .await
}
