//! `POST /platform/v1/auth/login` (platform admins, allow-listed addresses) and logout.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use super::{AllowListed, PlatformAdmin};
use crate::audit::{self, PlatformEvent};
use crate::auth::{credentials, session, Credentials};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::AppState;

pub async fn login(
    State(state): State<AppState>,
    AllowListed(address): AllowListed,
    Json(body): Json<Credentials>,
) -> ApiResult<axum::Json<Value>> {
    let (email, password) = credentials::require_fields(body.email, body.password)?;
    let verified = credentials::verify(&state, &email, password, address)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if !verified.is_platform_admin {
        // Not an admin: the same answer as a wrong password.
        credentials::failed(&state, &email, address);
        return Err(ApiError::Unauthenticated);
    }
    let (token, expires_at) = session::create(&state, verified.user_id, None).await?;
    audit::record(
        &state,
        PlatformEvent {
            actor: Some(verified.user_id),
            action: "platform.login",
            tenant: None,
            address,
            detail: json!({}),
        },
    )
    .await?;
    Ok(axum::Json(
        json!({ "token": token, "expires_at": expires_at }),
    ))
}

pub async fn logout(State(state): State<AppState>, admin: PlatformAdmin) -> ApiResult<StatusCode> {
    session::revoke(&state, &admin.token_hash).await?;
    admin
        .audit(&state, "platform.logout", None, json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
