//! `POST /platform/v1/tenants/{slug}/maintenance {on}`: a tenant in maintenance answers
//! 503 `tenant_unavailable` with `Retry-After` to its users; platform admins (an
//! impersonation token, or an admin's own session) still pass (see `tenants::gate`).

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::tenants::view;
use super::PlatformAdmin;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathText};
use crate::state::AppState;

/// The route of maintenance mode.
pub fn router() -> Router<AppState> {
    Router::new().route("/platform/v1/tenants/{slug}/maintenance", post(set))
}

/// The body of `POST …/maintenance`.
#[derive(Debug, Default, Deserialize)]
pub struct MaintenanceBody {
    pub on: Option<bool>,
}

async fn set(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
    Json(body): Json<MaintenanceBody>,
) -> ApiResult<axum::Json<Value>> {
    let on = body
        .on
        .ok_or_else(|| ApiError::field("on", "required: true or false"))?;
    let tenant = state.engine.set_maintenance(&slug, on).await?;
    admin
        .audit(
            &state,
            "tenant.maintenance",
            Some(tenant.id),
            json!({ "on": on }),
        )
        .await?;
    Ok(axum::Json(view(&state, &tenant).await?))
}
