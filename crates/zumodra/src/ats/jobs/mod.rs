//! Jobs, the first tenant resource — and the pattern every other resource copies:
//!
//! - handlers take [`Ctx`] first (tenant, member, open transaction), then the path,
//!   then the body; the first line checks the permission;
//! - queries live in `queries.rs` and take the `TenantTx`, never the pool;
//! - validation lives in `model.rs` and answers 422 with every field at once;
//! - another tenant's id is simply not in this tenant's schema: 404, the same as an id
//!   that exists nowhere (SPEC §2.1);
//! - writes commit explicitly; reads let the transaction roll back on drop.

pub mod model;
pub mod queries;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use self::model::{Job, JobDraft, JobInput, STATUSES};
use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::Page;
use crate::quota::{self, Limit};
use crate::rbac::{Ctx, Permission};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/jobs", get(list).post(create))
        .route("/api/v1/jobs/{id}", get(show).patch(update).delete(remove))
        .route("/api/v1/jobs/{id}/publish", post(publish))
        .route("/api/v1/jobs/{id}/close", post(close))
}

/// The plan feature every job endpoint needs.
const FEATURE: &str = "ats";

#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub status: Option<String>,
}

/// `GET /api/v1/jobs?limit=&cursor=&status=`: a [`Paged`](crate::http::pagination::Paged) of [`Job`]s, written while the
/// rows they borrow from are still here.
async fn list(ctx: Ctx, Query(params): Query<ListParams>) -> ApiResult<Response> {
    ctx.require(Permission::JobsView)?;
    ctx.require_feature(FEATURE)?;
    let page = Page::parse(params.limit.as_deref(), params.cursor.as_deref())?;
    let status = params.status.filter(|s| !s.is_empty());
    if let Some(s) = &status {
        if !STATUSES.contains(&s.as_str()) {
            return Err(ApiError::field(
                "status",
                "one of draft, open, on_hold, closed, filled, cancelled",
            ));
        }
    }
    let rows = queries::list(&ctx.tx, status.as_deref(), page).await?;
    let jobs = rows
        .iter()
        .map(Job::<&str>::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::from(zumodra_tenancy::Error::from(e)))?;
    Ok(axum::Json(page.finish(jobs, |j| j.id)).into_response())
}

/// `POST /api/v1/jobs` → 201 with the job.
async fn create(
    ctx: Ctx,
    rid: RequestId,
    Json(input): Json<JobInput>,
) -> ApiResult<(StatusCode, axum::Json<Job>)> {
    ctx.require(Permission::JobsAdd)?;
    ctx.require_feature(FEATURE)?;
    let draft = input.apply(JobDraft::default())?;
    // Serialized per tenant, so racing creates cannot overshoot `max_jobs` (issue #4).
    quota::reserve(&ctx.tx, &ctx.tenant.plan.code, Limit::Jobs).await?;
    let job = queries::insert(&ctx.tx, &draft, ctx.member.user_id).await?;
    audit_log::record(
        &ctx,
        &rid,
        "create",
        ENTITY,
        job.id,
        None::<&()>,
        Some(&job),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(job)))
}

/// `GET /api/v1/jobs/{id}`
async fn show(ctx: Ctx, PathId(id): PathId) -> ApiResult<axum::Json<Job>> {
    ctx.require(Permission::JobsView)?;
    ctx.require_feature(FEATURE)?;
    let job = queries::get(&ctx.tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(job))
}

/// `PATCH /api/v1/jobs/{id}`: change some fields; `version` guards against lost updates.
async fn update(
    ctx: Ctx,
    rid: RequestId,
    PathId(id): PathId,
    Json(input): Json<JobInput>,
) -> ApiResult<axum::Json<Job>> {
    ctx.require(Permission::JobsChange)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    ApiError::check_version(ENTITY, input.version, current.version)?;
    let draft = input.apply(current.draft())?;
    if !counts(&current.status) && counts(&draft.status) {
        quota::reserve(&ctx.tx, &ctx.tenant.plan.code, Limit::Jobs).await?;
    }
    let job = queries::update(&ctx.tx, id, &draft).await?;
    audit_log::record(&ctx, &rid, "update", ENTITY, id, Some(&current), Some(&job)).await?;
    ctx.commit().await?;
    Ok(axum::Json(job))
}

/// `DELETE /api/v1/jobs/{id}` → 204.
async fn remove(ctx: Ctx, rid: RequestId, PathId(id): PathId) -> ApiResult<StatusCode> {
    ctx.require(Permission::JobsDelete)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    queries::delete(&ctx.tx, id).await?;
    audit_log::record(
        &ctx,
        &rid,
        "delete",
        ENTITY,
        id,
        Some(&current),
        None::<&()>,
    )
    .await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/jobs/{id}/publish`: → `open` (from draft, on hold or closed).
async fn publish(ctx: Ctx, rid: RequestId, PathId(id): PathId) -> ApiResult<axum::Json<Job>> {
    transition(
        ctx,
        rid,
        id,
        "open",
        &["draft", "on_hold", "closed", "open"],
    )
    .await
}

/// `POST /api/v1/jobs/{id}/close`: → `closed` (from draft, open or on hold).
async fn close(ctx: Ctx, rid: RequestId, PathId(id): PathId) -> ApiResult<axum::Json<Job>> {
    transition(
        ctx,
        rid,
        id,
        "closed",
        &["draft", "open", "on_hold", "closed"],
    )
    .await
}

/// Jobs in these states count against `max_jobs`.
fn counts(status: &str) -> bool {
    matches!(status, "draft" | "open" | "on_hold")
}

const ENTITY: &str = "job";

async fn transition(
    ctx: Ctx,
    rid: RequestId,
    id: i64,
    to: &str,
    from: &[&str],
) -> ApiResult<axum::Json<Job>> {
    ctx.require(Permission::JobsChange)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.status == to {
        return Ok(axum::Json(current));
    }
    if !from.contains(&current.status.as_str()) {
        return Err(ApiError::Conflict(format!(
            "A job that is {} cannot become {to}.",
            current.status
        )));
    }
    let mut draft = current.draft();
    draft.status = to.to_owned();
    if !counts(&current.status) && counts(to) {
        quota::reserve(&ctx.tx, &ctx.tenant.plan.code, Limit::Jobs).await?;
    }
    let job = queries::update(&ctx.tx, id, &draft).await?;
    let action = if to == "open" { "publish" } else { "close" };
    audit_log::record(&ctx, &rid, action, ENTITY, id, Some(&current), Some(&job)).await?;
    ctx.commit().await?;
    Ok(axum::Json(job))
}
