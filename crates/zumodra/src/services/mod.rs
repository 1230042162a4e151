//! Service listings: `GET|POST /api/v1/services`, `GET|PATCH|DELETE /api/v1/services/{id}`.

pub mod model;
pub mod queries;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use self::model::{Draft, Input, Listing, STATUSES};
use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{Page, Paged};
use crate::rbac::{Ctx, Permission};
use crate::state::AppState;

/// The routes of services.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/services", get(list).post(create))
        .route(
            "/api/v1/services/{id}",
            get(show).patch(update).delete(remove),
        )
}

const FEATURE: &str = "services";
const ENTITY: &str = "service";

/// The query string of the list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
}

async fn list(ctx: Ctx, Query(p): Query<ListParams>) -> ApiResult<axum::Json<Paged<Listing>>> {
    ctx.require(Permission::ServicesView)?;
    ctx.require_feature(FEATURE)?;
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let status = p.status.filter(|s| !s.is_empty());
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(ApiError::field(
            "status",
            "one of draft, published, archived",
        ));
    }
    let category = p.category.filter(|s| !s.is_empty());
    let found = queries::list(&ctx.tx, status.as_deref(), category.as_deref(), page).await?;
    Ok(axum::Json(page.finish(found, |l| l.id)))
}

async fn create(
    ctx: Ctx,
    rid: RequestId,
    Json(input): Json<Input>,
) -> ApiResult<(StatusCode, axum::Json<Listing>)> {
    ctx.require(Permission::ServicesAdd)?;
    ctx.require_feature(FEATURE)?;
    let draft = input.apply(Draft::default())?;
    let listing = queries::insert(&ctx.tx, &draft).await?;
    audit_log::record(
        &ctx,
        &rid,
        "create",
        ENTITY,
        listing.id,
        None::<&()>,
        Some(&listing),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(listing)))
}

async fn show(ctx: Ctx, PathId(id): PathId) -> ApiResult<axum::Json<Listing>> {
    ctx.require(Permission::ServicesView)?;
    ctx.require_feature(FEATURE)?;
    Ok(axum::Json(
        queries::get(&ctx.tx, id, false)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

async fn update(
    ctx: Ctx,
    rid: RequestId,
    PathId(id): PathId,
    Json(input): Json<Input>,
) -> ApiResult<axum::Json<Listing>> {
    ctx.require(Permission::ServicesChange)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    ApiError::check_version(ENTITY, input.version, current.version)?;
    let draft = input.apply(current.draft())?;
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
    ctx.require(Permission::ServicesDelete)?;
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
