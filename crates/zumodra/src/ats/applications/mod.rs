//! Applications: `GET|POST /api/v1/applications`, `GET|PATCH /api/v1/applications/{id}`,
//! `POST /api/v1/applications/{id}/move {stage, version?}`. One application per (job,
//! candidate) → 409; the stage comes from the tenant's pipeline (settings); every move
//! writes a history row; a stale `version` → 409. Every write leaves one audit row.

pub mod model;
pub mod queries;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use self::model::{rating_problem, Application, Change, Detail, MoveTo, NewApplication};
use self::queries::Filter;
use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{Page, Paged};
use crate::rbac::{Ctx, Permission};
use crate::rows::bad;
use crate::state::AppState;

/// The routes of applications.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/applications", get(list).post(create))
        .route("/api/v1/applications/{id}", get(show).patch(update))
        .route("/api/v1/applications/{id}/move", post(move_stage))
}

const FEATURE: &str = "ats";
const ENTITY: &str = "application";

fn duplicate() -> ApiError {
    ApiError::Conflict("This candidate already applied to this job.".into())
}

fn stage_problem(pipeline: &[String]) -> String {
    format!("one of {}", pipeline.join(", "))
}

/// The query string of the list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub job_id: Option<String>,
    pub candidate_id: Option<String>,
    pub stage: Option<String>,
}

fn id_param(fields: &mut FieldErrors, name: &str, v: Option<String>) -> Option<i64> {
    let v = v.filter(|v| !v.is_empty())?;
    let parsed = v.parse::<i64>().ok();
    if parsed.is_none() {
        bad(fields, name, "an id");
    }
    parsed
}

async fn list(ctx: Ctx, Query(p): Query<ListParams>) -> ApiResult<axum::Json<Paged<Application>>> {
    ctx.require(Permission::ApplicationsView)?;
    ctx.require_feature(FEATURE)?;
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let mut fields = FieldErrors::new();
    let filter = Filter {
        job_id: id_param(&mut fields, "job_id", p.job_id),
        candidate_id: id_param(&mut fields, "candidate_id", p.candidate_id),
        stage: p.stage.filter(|s| !s.is_empty()),
    };
    if !fields.is_empty() {
        return Err(ApiError::Validation(fields));
    }
    let found = queries::list(&ctx.tx, &filter, page).await?;
    Ok(axum::Json(page.finish(found, |a| a.id)))
}

async fn create(
    ctx: Ctx,
    rid: RequestId,
    Json(input): Json<NewApplication>,
) -> ApiResult<(StatusCode, axum::Json<Application>)> {
    ctx.require(Permission::ApplicationsAdd)?;
    ctx.require_feature(FEATURE)?;
    let pipeline = queries::pipeline(&ctx.tx).await?;
    let mut fields = FieldErrors::new();
    let job = match input.job_id {
        None => {
            bad(&mut fields, "job_id", "required");
            None
        }
        Some(id) => crate::ats::jobs::queries::get(&ctx.tx, id, false).await?,
    };
    if input.job_id.is_some() && job.is_none() {
        bad(&mut fields, "job_id", "no such job");
    }
    let candidate = match input.candidate_id {
        None => {
            bad(&mut fields, "candidate_id", "required");
            None
        }
        Some(id) => crate::ats::candidates::queries::get(&ctx.tx, id, false).await?,
    };
    if input.candidate_id.is_some() && candidate.is_none() {
        bad(&mut fields, "candidate_id", "no such candidate");
    }
    let stage = input
        .stage
        .or_else(|| pipeline.first().cloned())
        .unwrap_or_default();
    if !pipeline.contains(&stage) {
        bad(&mut fields, "stage", &stage_problem(&pipeline));
    }
    if let Some(p) = rating_problem(input.rating) {
        bad(&mut fields, "rating", p);
    }
    let (Some(job), Some(candidate), true) = (job, candidate, fields.is_empty()) else {
        return Err(ApiError::Validation(fields));
    };
    if queries::exists(&ctx.tx, job.id, candidate.id).await? {
        return Err(duplicate());
    }
    let app = queries::insert(
        &ctx.tx,
        job.id,
        candidate.id,
        &stage,
        input.rating,
        Some(ctx.member.user_id),
    )
    .await?;
    audit_log::record(
        &ctx,
        &rid,
        "create",
        ENTITY,
        app.id,
        None::<&()>,
        Some(&app),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(app)))
}

async fn show(ctx: Ctx, PathId(id): PathId) -> ApiResult<axum::Json<Detail>> {
    ctx.require(Permission::ApplicationsView)?;
    ctx.require_feature(FEATURE)?;
    let application = queries::get(&ctx.tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let history = queries::history(&ctx.tx, id).await?;
    Ok(axum::Json(Detail {
        application,
        history,
    }))
}

async fn update(
    ctx: Ctx,
    rid: RequestId,
    PathId(id): PathId,
    Json(input): Json<Change>,
) -> ApiResult<axum::Json<Application>> {
    ctx.require(Permission::ApplicationsChange)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    ApiError::check_version(ENTITY, input.version, current.version)?;
    let rating = input.rating.unwrap_or(current.rating);
    if let Some(p) = rating_problem(rating) {
        return Err(ApiError::field("rating", p));
    }
    let updated = queries::set_rating(&ctx.tx, id, rating).await?;
    audit_log::record(
        &ctx,
        &rid,
        "update",
        ENTITY,
        id,
        Some(&current),
        Some(&updated),
    )
    .await?;
    ctx.commit().await?;
    Ok(axum::Json(updated))
}

async fn move_stage(
    ctx: Ctx,
    rid: RequestId,
    PathId(id): PathId,
    Json(input): Json<MoveTo>,
) -> ApiResult<axum::Json<Application>> {
    ctx.require(Permission::ApplicationsMove)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let pipeline = queries::pipeline(&ctx.tx).await?;
    let stage = input.stage.unwrap_or_default();
    if !pipeline.contains(&stage) {
        return Err(ApiError::field("stage", stage_problem(&pipeline)));
    }
    ApiError::check_version(ENTITY, input.version, current.version)?;
    let moved = queries::move_to(&ctx.tx, &current, &stage, ctx.member.user_id).await?;
    audit_log::record(&ctx, &rid, "move", ENTITY, id, Some(&current), Some(&moved)).await?;
    ctx.commit().await?;
    Ok(axum::Json(moved))
}
