//! Deletion through the platform API: `DELETE /platform/v1/tenants/{slug}` → 202. The
//! tenant is cancelled at once (its users get 403 `tenant_suspended`) and its deletion
//! scheduled after the grace period (`deletion_grace_secs`, default 7 days), during
//! which `POST …/resume` restores it. When due, the platform job [`DELETE_DUE`] (queued
//! for that moment) runs [`sweep`], which drops every due tenant with the engine's
//! batched delete, leaving the tombstone.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use zumodra_tenancy::jobs::{EnqueueOptions, JobKind, JobRegistry};
use zumodra_tenancy::{Engine, TenantStatus};

use super::tenants::view;
use super::PlatformAdmin;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::PathText;
use crate::state::AppState;

/// The platform-wide job that deletes the tenants whose grace period is over.
pub const DELETE_DUE: JobKind = JobKind::platform("tenants.delete_due");

/// Add the deletion job to the server's registry.
pub fn register(registry: &mut JobRegistry) {
    registry.platform(DELETE_DUE, |engine, _job| {
        Box::pin(async move {
            sweep(engine).await?;
            Ok(())
        })
    });
}

/// `DELETE /platform/v1/tenants/{slug}`: cancel now, delete after the grace period.
pub async fn schedule(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let mut tenant = state.engine.tenant(&slug).await?;
    match tenant.status {
        TenantStatus::Deleted => return Err(ApiError::NotFound),
        TenantStatus::Deleting => {
            return Err(ApiError::Conflict("This tenant is being deleted.".into()))
        }
        TenantStatus::Cancelled => {}
        _ => {
            tenant = state
                .engine
                .cancel_tenant(&slug, Some("deletion scheduled"))
                .await?;
        }
    }
    let due: DateTime<Utc> = state
        .engine
        .schedule_deletion(&slug, state.settings.deletion_grace)
        .await?
        .ok_or_else(|| ApiError::Conflict("The tenant changed meanwhile; try again.".into()))?;
    state
        .engine
        .enqueue_platform_with(
            DELETE_DUE,
            json!({ "slug": slug }),
            EnqueueOptions {
                run_at: Some(due),
                ..EnqueueOptions::default()
            },
        )
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    admin
        .audit(
            &state,
            "tenant.delete_scheduled",
            Some(tenant.id),
            json!({ "slug": slug, "deletion_scheduled_at": due }),
        )
        .await?;
    let mut body = view(&state, &tenant).await?;
    body["deletion_scheduled_at"] = json!(due);
    Ok((StatusCode::ACCEPTED, axum::Json(body)))
}

/// Forget a scheduled deletion (the tenant was resumed).
pub async fn unschedule(state: &AppState, slug: &str) -> Result<bool, ApiError> {
    Ok(state.engine.unschedule_deletion(slug).await?)
}

/// Delete every tenant whose grace period is over; returns their slugs. Each is first
/// claimed (`cancelled` → `deleting` in one statement, so a concurrent `resume` either
/// wins before or fails after), then dropped by the engine. A tenant left `deleting` by
/// an interrupted sweep is finished by the next one. Idempotent.
pub async fn sweep(engine: &Engine) -> zumodra_tenancy::Result<Vec<String>> {
    let slugs = engine.claim_due_deletions().await?;
    for slug in &slugs {
        engine.delete_tenant(slug).await?;
        tracing::info!(tenant = %slug, "tenant deleted after its grace period");
    }
    Ok(slugs)
}
