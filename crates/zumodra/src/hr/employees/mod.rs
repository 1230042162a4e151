//! Employees: `GET|POST /api/v1/employees`, `GET|PATCH|DELETE /api/v1/employees/{id}`.
//! The manager is another employee of the same tenant (no loops); the e-mail and the
//! linked member are unique (409); creating one counts against `max_employees`.

pub mod model;
pub mod queries;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use self::model::{Draft, Employee, Input, STATUSES};
use super::FEATURE;
use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{Page, Paged};
use crate::quota::{self, Limit};
use crate::rbac::{Ctx, Permission};
use crate::state::AppState;

/// The routes of employees.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/employees", get(list).post(create))
        .route(
            "/api/v1/employees/{id}",
            get(show).patch(update).delete(remove),
        )
}

const ENTITY: &str = "employee";

fn taken() -> ApiError {
    ApiError::Conflict("An employee with this e-mail or member already exists.".into())
}

/// The query string of the list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub department: Option<String>,
}

async fn list(ctx: Ctx, Query(p): Query<ListParams>) -> ApiResult<axum::Json<Paged<Employee>>> {
    ctx.require(Permission::EmployeesView)?;
    ctx.require_feature(FEATURE)?;
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let status = p.status.filter(|s| !s.is_empty());
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(ApiError::field(
            "status",
            "one of active, on_leave, probation, suspended, terminated",
        ));
    }
    let department = p.department.filter(|s| !s.is_empty());
    let found = queries::list(&ctx.tx, status.as_deref(), department.as_deref(), page).await?;
    Ok(axum::Json(page.finish(found, |e| e.id)))
}

/// The linked user must be a member here; the manager another employee, with no loop.
async fn check_links(ctx: &Ctx, id: Option<i64>, d: &Draft) -> ApiResult<()> {
    if let Some(user) = d.user_id {
        let member = ctx
            .tx
            .query_opt("select 1 from members where user_id = $1", &[&user])
            .await?;
        if member.is_none() {
            return Err(ApiError::field(
                "user_id",
                "not a member of this organization",
            ));
        }
    }
    let Some(manager) = d.manager_id else {
        return Ok(());
    };
    if queries::get(&ctx.tx, manager, false).await?.is_none() {
        return Err(ApiError::field("manager_id", "no such employee"));
    }
    if let Some(id) = id {
        if manager == id || queries::manages_itself(&ctx.tx, id, manager).await? {
            return Err(ApiError::field(
                "manager_id",
                "would make the employee their own manager",
            ));
        }
    }
    Ok(())
}

async fn create(
    ctx: Ctx,
    rid: RequestId,
    Json(input): Json<Input>,
) -> ApiResult<(StatusCode, axum::Json<Employee>)> {
    ctx.require(Permission::EmployeesAdd)?;
    ctx.require_feature(FEATURE)?;
    let draft = input.apply(Draft::default())?;
    check_links(&ctx, None, &draft).await?;
    quota::reserve(&ctx.tx, &ctx.tenant.plan.code, Limit::Employees).await?;
    if queries::taken(&ctx.tx, &draft, None).await? {
        return Err(taken());
    }
    let employee = queries::insert(&ctx.tx, &draft).await?;
    audit_log::record(
        &ctx,
        &rid,
        "create",
        ENTITY,
        employee.id,
        None::<&()>,
        Some(&employee),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(employee)))
}

async fn show(ctx: Ctx, PathId(id): PathId) -> ApiResult<axum::Json<Employee>> {
    ctx.require(Permission::EmployeesView)?;
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
) -> ApiResult<axum::Json<Employee>> {
    ctx.require(Permission::EmployeesChange)?;
    ctx.require_feature(FEATURE)?;
    let current = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    ApiError::check_version(ENTITY, input.version, current.version)?;
    let draft = input.apply(current.draft())?;
    check_links(&ctx, Some(id), &draft).await?;
    if queries::taken(&ctx.tx, &draft, Some(id)).await? {
        return Err(taken());
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
    ctx.require(Permission::EmployeesDelete)?;
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
