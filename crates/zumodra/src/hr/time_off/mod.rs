//! Time off: `GET|POST /api/v1/time-off`, `GET /api/v1/time-off/{id}`,
//! `POST /api/v1/time-off/{id}/{approve|reject|cancel}`.
//!
//! Members request their own time off (their employee record is the one linked to their
//! user); hr_manager, admin and owner see everyone's and decide. Nobody decides their
//! own request. Approving locks the request, then the employee row (`for update`, the
//! same order everywhere, so no deadlock), refuses an overlap with approved time off and
//! takes vacation days from the balance in one conditional `update`: two approvals
//! racing on one balance cannot both succeed unless both fit.

pub mod model;
pub mod queries;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use self::model::{Input, TimeOff, PAID, STATUSES};
use super::employees::queries as employees;
use super::FEATURE;
use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{Page, Paged};
use crate::rbac::{Ctx, Permission};
use crate::state::AppState;

/// The routes of time off.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/time-off", get(list).post(create))
        .route("/api/v1/time-off/{id}", get(show))
        .route("/api/v1/time-off/{id}/approve", post(approve))
        .route("/api/v1/time-off/{id}/reject", post(reject))
        .route("/api/v1/time-off/{id}/cancel", post(cancel))
}

const ENTITY: &str = "time_off";

/// The employee id of the calling member, if they have an employee record.
async fn own_employee(ctx: &Ctx) -> ApiResult<Option<i64>> {
    Ok(employees::by_user(&ctx.tx, ctx.member.user_id)
        .await?
        .map(|e| e.id))
}

/// The query string of the list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub status: Option<String>,
    pub employee_id: Option<String>,
}

async fn list(ctx: Ctx, Query(p): Query<ListParams>) -> ApiResult<axum::Json<Paged<TimeOff>>> {
    ctx.require_feature(FEATURE)?;
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let status = p.status.filter(|s| !s.is_empty());
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(ApiError::field(
            "status",
            "one of pending, approved, rejected, cancelled",
        ));
    }
    let asked = match p.employee_id.filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::field("employee_id", "an id"))?,
        ),
    };
    let employee = if ctx.member.can(Permission::TimeOffViewAll) {
        asked
    } else {
        ctx.require(Permission::TimeOffRequestOwn)?;
        match own_employee(&ctx).await? {
            Some(own) if asked.is_none_or(|a| a == own) => Some(own),
            _ => return Ok(axum::Json(page.finish(Vec::new(), |t: &TimeOff| t.id))),
        }
    };
    let found = queries::list(&ctx.tx, employee, status.as_deref(), page).await?;
    Ok(axum::Json(page.finish(found, |t| t.id)))
}

async fn create(
    ctx: Ctx,
    rid: RequestId,
    Json(input): Json<Input>,
) -> ApiResult<(StatusCode, axum::Json<TimeOff>)> {
    ctx.require(Permission::TimeOffRequestOwn)?;
    ctx.require_feature(FEATURE)?;
    let own = own_employee(&ctx).await?;
    let employee = match input.employee_id {
        Some(id) if Some(id) != own => {
            ctx.require(Permission::TimeOffApprove)?;
            if employees::get(&ctx.tx, id, false).await?.is_none() {
                return Err(ApiError::field("employee_id", "no such employee"));
            }
            id
        }
        _ => own.ok_or_else(|| {
            ApiError::field(
                "employee_id",
                "you have no employee record; ask HR to link one",
            )
        })?,
    };
    let draft = input.check()?;
    let created = queries::insert(&ctx.tx, employee, &draft).await?;
    audit_log::record(
        &ctx,
        &rid,
        "create",
        ENTITY,
        created.id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

async fn show(ctx: Ctx, PathId(id): PathId) -> ApiResult<axum::Json<TimeOff>> {
    ctx.require_feature(FEATURE)?;
    let found = queries::get(&ctx.tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !ctx.member.can(Permission::TimeOffViewAll)
        && own_employee(&ctx).await? != Some(found.employee_id)
    {
        return Err(ApiError::NotFound);
    }
    Ok(axum::Json(found))
}

/// Lock a pending request and its employee, refusing the decider's own request.
async fn pending_for_decision(ctx: &Ctx, id: i64) -> ApiResult<TimeOff> {
    ctx.require(Permission::TimeOffApprove)?;
    ctx.require_feature(FEATURE)?;
    let request = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let employee = employees::get(&ctx.tx, request.employee_id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if employee.user_id == Some(ctx.member.user_id) {
        return Err(ApiError::Forbidden(Permission::TimeOffApprove));
    }
    if request.status != "pending" {
        return Err(ApiError::Conflict(format!(
            "This request is already {}.",
            request.status
        )));
    }
    Ok(request)
}

async fn approve(ctx: Ctx, rid: RequestId, PathId(id): PathId) -> ApiResult<axum::Json<TimeOff>> {
    let request = pending_for_decision(&ctx, id).await?;
    if queries::overlaps_approved(&ctx.tx, &request).await? {
        return Err(ApiError::Conflict(
            "It overlaps time off already approved.".into(),
        ));
    }
    if request.kind == PAID
        && !queries::deduct(&ctx.tx, request.employee_id, request.total_days).await?
    {
        return Err(ApiError::Conflict(
            "The employee's balance is too small.".into(),
        ));
    }
    let decided = queries::decide(&ctx.tx, id, "approved", ctx.member.user_id).await?;
    audit_log::record(
        &ctx,
        &rid,
        "approve",
        ENTITY,
        id,
        Some(&request),
        Some(&decided),
    )
    .await?;
    ctx.commit().await?;
    Ok(axum::Json(decided))
}

async fn reject(ctx: Ctx, rid: RequestId, PathId(id): PathId) -> ApiResult<axum::Json<TimeOff>> {
    let request = pending_for_decision(&ctx, id).await?;
    let decided = queries::decide(&ctx.tx, id, "rejected", ctx.member.user_id).await?;
    audit_log::record(
        &ctx,
        &rid,
        "reject",
        ENTITY,
        id,
        Some(&request),
        Some(&decided),
    )
    .await?;
    ctx.commit().await?;
    Ok(axum::Json(decided))
}

/// The requester (or an approver) withdraws a pending or approved request; approved
/// vacation days go back to the balance.
async fn cancel(ctx: Ctx, rid: RequestId, PathId(id): PathId) -> ApiResult<axum::Json<TimeOff>> {
    ctx.require_feature(FEATURE)?;
    let request = queries::get(&ctx.tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let own = own_employee(&ctx).await? == Some(request.employee_id);
    if own {
        ctx.require(Permission::TimeOffRequestOwn)?;
    } else if !ctx.member.can(Permission::TimeOffViewAll) {
        return Err(ApiError::NotFound);
    } else {
        ctx.require(Permission::TimeOffApprove)?;
    }
    employees::get(&ctx.tx, request.employee_id, true).await?;
    if !matches!(request.status.as_str(), "pending" | "approved") {
        return Err(ApiError::Conflict(format!(
            "This request is already {}.",
            request.status
        )));
    }
    if request.status == "approved" && request.kind == PAID {
        queries::refund(&ctx.tx, request.employee_id, request.total_days).await?;
    }
    let decided = queries::decide(&ctx.tx, id, "cancelled", ctx.member.user_id).await?;
    audit_log::record(
        &ctx,
        &rid,
        "cancel",
        ENTITY,
        id,
        Some(&request),
        Some(&decided),
    )
    .await?;
    ctx.commit().await?;
    Ok(axum::Json(decided))
}
