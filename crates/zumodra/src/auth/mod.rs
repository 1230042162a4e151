//! Authentication bound to the tenant: `POST /api/v1/auth/login`, `POST
//! /api/v1/auth/logout`, `GET /api/v1/me`.

pub mod credentials;
pub mod limiter;
pub mod session;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ClientAddr, Json};
use crate::rbac::context::{read_membership, TenantHost, TenantSession};
use crate::rbac::Ctx;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
}

#[derive(Deserialize)]
pub struct Credentials {
    pub email: Option<String>,
    pub password: Option<String>,
}

/// `{email, password}` → `{token, expires_at}`, for active members of this tenant only.
async fn login(
    State(state): State<AppState>,
    TenantHost(tenant): TenantHost,
    ClientAddr(address): ClientAddr,
    Json(body): Json<Credentials>,
) -> ApiResult<axum::Json<Value>> {
    let (email, password) = credentials::require_fields(body.email, body.password)?;
    let verified = credentials::verify(&state, &email, password, address)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let member = {
        let tx = state.engine.begin(&tenant.tenant_ref()).await?;
        read_membership(&tx, verified.user_id).await?
    };
    if member.is_none() {
        // Right password, but not a member here: the same answer as a wrong one.
        credentials::failed(&state, &email, address);
        return Err(ApiError::Unauthenticated);
    }
    tracing::Span::current().record("user_id", verified.user_id);
    let (token, expires_at) =
        session::create(&state, verified.user_id, Some(tenant.tenant.id)).await?;
    tracing::info!(user_id = verified.user_id, "logged in");
    Ok(axum::Json(
        json!({ "token": token, "expires_at": expires_at }),
    ))
}

/// Revoke the session of the token presented.
async fn logout(State(state): State<AppState>, auth: TenantSession) -> ApiResult<StatusCode> {
    session::revoke(&state, &auth.session.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, their role and permissions in this tenant.
async fn me(ctx: Ctx) -> ApiResult<axum::Json<Value>> {
    let t = &ctx.tenant.tenant;
    Ok(axum::Json(json!({
        "user": {
            "id": ctx.member.user_id,
            "email": ctx.member.email,
            "display_name": ctx.member.display_name,
        },
        "role": ctx.member.role,
        "permissions": ctx.member.permissions,
        "tenant": { "slug": t.slug, "name": t.name, "plan": t.plan, "status": t.status },
    })))
}
