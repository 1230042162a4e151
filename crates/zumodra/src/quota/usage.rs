//! `GET /api/v1/usage`: every limit of the plan with what is used, and the features.

use axum::routing::get;
use axum::Router;
use serde::Serialize;

use super::{maximum, used, Limit};
use crate::http::error::ApiResult;
use crate::rbac::Ctx;
use crate::state::AppState;

/// The routes of usage.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/usage", get(show))
}

/// One limit: `max` 0 means unlimited.
#[derive(Debug, Serialize)]
pub struct Meter {
    pub limit: &'static str,
    pub used: i64,
    pub max: i64,
}

/// The answer of `GET /api/v1/usage`.
#[derive(Debug, Serialize)]
pub struct Usage {
    pub plan: String,
    pub limits: Vec<Meter>,
    pub requests_per_minute: i32,
    pub features: Vec<String>,
}

// Any member may see the plan's usage: it is what the admin screens show everyone.
async fn show(ctx: Ctx) -> ApiResult<axum::Json<Usage>> {
    let plan = ctx.tenant.plan.code.clone();
    let mut limits = Vec::new();
    for limit in Limit::ALL {
        limits.push(Meter {
            limit: limit.name(),
            used: used(&ctx.tx, *limit).await?,
            max: maximum(&ctx.tx, &plan, *limit).await?,
        });
    }
    Ok(axum::Json(Usage {
        plan,
        limits,
        requests_per_minute: ctx.tenant.plan.requests_per_minute,
        features: ctx.tenant.plan.features.clone(),
    }))
}
