//! Candidates: `GET|POST /api/v1/candidates` (`?q=` searches name and e-mail),
//! `GET|PATCH|DELETE /api/v1/candidates/{id}`. The e-mail is unique per tenant,
//! case-insensitively (409); creating one counts against the plan's
//! `max_candidates_per_month`. Every write leaves one audit row.

pub mod import;
pub mod model;
pub mod queries;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use self::model::{Candidate, Draft, Input, SOURCES};
use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{Page, Paged};
use crate::quota::{self, Limit};
use crate::rbac::{Ctx, Permission};
use crate::state::AppState;

/// The routes of candidates.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/candidates", get(list).post(create))
        .route(
            "/api/v1/candidates/import",
            axum::routing::post(import::import),
        )
        .route(
            "/api/v1/candidates/{id}",
            get(show).patch(update).delete(remove),
        )
}

const FEATURE: &str = "ats";
const ENTITY: &str = "candidate";

fn email_conflict() -> ApiError {
    ApiError::Conflict("A candidate with this e-mail already exists.".into())
}

/// The query string of the list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub q: Option<String>,
    pub source: Option<String>,
}

async fn list(ctx: Ctx, Query(p): Query<ListParams>) -> ApiResult<axum::Json<Paged<Candidate>>> {
    ctx.require(Permission::CandidatesView)?;
    ctx.require_feature(FEATURE)?;
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let q = p.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    let source = p.source.filter(|s| !s.is_empty());
    if source.as_deref().is_some_and(|s| !SOURCES.contains(&s)) {
        return Err(ApiError::field(
            "source",
            "one of career_page, referral, linkedin, agency, direct, imported, other",
        ));
    }
    let found = queries::list(&ctx.tx, q.as_deref(), source.as_deref(), page).await?;
    Ok(axum::Json(page.finish(found, |c| c.id)))
}

async fn create(
    ctx: Ctx,
    rid: RequestId,
    Json(input): Json<Input>,
) -> ApiResult<(StatusCode, axum::Json<Candidate>)> {
    ctx.require(Permission::CandidatesAdd)?;
    ctx.require_feature(FEATURE)?;
    let draft = input.apply(Draft::default())?;
    quota::reserve(&ctx.tx, &ctx.tenant.plan.code, Limit::CandidatesPerMonth).await?;
    if queries::email_taken(&ctx.tx, &draft.email, None).await? {
        return Err(email_conflict());
    }
    let candidate = queries::insert(&ctx.tx, &draft).await?;
    audit_log::record(
        &ctx,
        &rid,
        "create",
        ENTITY,
        candidate.id,
        None::<&()>,
        Some(&candidate),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(candidate)))
}

async fn show(ctx: Ctx, PathId(id): PathId) -> ApiResult<axum::Json<Candidate>> {
    ctx.require(Permission::CandidatesView)?;
    ctx.require_feature(FEATURE)?;
    let found = queries::get(&ctx.tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(found))
}

async fn update(
    ctx: Ctx,
    rid: RequestId,
    PathId(id): PathId,
    Json(input): Json<Input>,
) -> ApiResult<axum::Json<Candidate>> {
    ctx.require(Permission::CandidatesChange)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    ApiError::check_version(ENTITY, input.version, current.version)?;
    let draft = input.apply(current.draft())?;
    if queries::email_taken(&ctx.tx, &draft.email, Some(id)).await? {
        return Err(email_conflict());
    }
    let updated = queries::update(&ctx.tx, id, &draft).await?;
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

async fn remove(ctx: Ctx, rid: RequestId, PathId(id): PathId) -> ApiResult<StatusCode> {
    ctx.require(Permission::CandidatesDelete)?;
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
