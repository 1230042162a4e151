//! Members of a tenant: `GET|POST /api/v1/members`, `PATCH|DELETE
//! /api/v1/members/{user_id}`. Making or unmaking an owner needs `ownership.transfer`;
//! the last active owner can be neither demoted nor removed (409).

pub mod queries;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::Router;
use serde::Deserialize;
use zumodra_tenancy::catalog::{check_password, parse_email};

use self::queries::MemberView;
use crate::audit_log::{self, RequestId};
use crate::auth::session;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, PathId, Query};
use crate::http::pagination::{Page, Paged};
use crate::quota::{self, Limit};
use crate::rbac::{Ctx, Permission, Role};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/members", get(list).post(add))
        .route("/api/v1/members/{user_id}", patch(update).delete(remove))
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<Paged<MemberView>>> {
    ctx.require(Permission::MembersView)?;
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let rows = queries::list(&ctx.tx, page).await?;
    // Done with the tenant: release its connection before reading the catalog.
    drop(ctx);
    let views = queries::views(&state.engine, rows).await?;
    Ok(axum::Json(page.finish(views, |m| m.user_id)))
}

#[derive(Debug, Deserialize)]
pub struct NewMember {
    pub email: Option<String>,
    pub role: Option<String>,
    /// Only for a user who does not exist yet.
    pub password: Option<String>,
}

fn parse_role(role: Option<&str>) -> Result<Role, ApiError> {
    role.and_then(Role::parse).ok_or_else(|| {
        ApiError::field(
            "role",
            "one of owner, admin, hr_manager, recruiter, hiring_manager, employee, viewer",
        )
    })
}

/// `POST /api/v1/members` `{email, role, password?}` → 201.
async fn add(
    State(state): State<AppState>,
    ctx: Ctx,
    rid: RequestId,
    Json(body): Json<NewMember>,
) -> ApiResult<(StatusCode, axum::Json<MemberView>)> {
    ctx.require(Permission::MembersManage)?;
    let role = parse_role(body.role.as_deref())?;
    if role == Role::Owner {
        ctx.require(Permission::OwnershipTransfer)?;
    }
    let email = parse_email(body.email.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::field("email", "an e-mail address"))?;
    // Serialized per tenant, so racing adds cannot overshoot `max_users` (issue #4).
    quota::reserve(&ctx.tx, &ctx.tenant.plan.code, Limit::Users).await?;
    let user_id = match state.engine.user_by_email(&email).await? {
        Some(user) => user.id,
        None => {
            let password = body
                .password
                .ok_or_else(|| ApiError::field("password", "required for a new user"))?;
            check_password(&password)
                .map_err(|_| ApiError::field("password", "8 to 1024 characters"))?;
            state
                .engine
                .create_user(&email, &password, "", false)
                .await?
                .id
        }
    };
    let row = queries::add(&ctx.tx, user_id, role.as_str())
        .await?
        .ok_or_else(|| ApiError::Conflict("This user is already a member.".into()))?;
    audit_log::record(
        &ctx,
        &rid,
        "create",
        ENTITY,
        user_id,
        None::<&()>,
        Some(&audited(&row)),
    )
    .await?;
    ctx.commit().await?;
    let view = one_view(&state, row).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

#[derive(Debug, Deserialize)]
pub struct MemberChange {
    pub role: Option<String>,
    pub active: Option<bool>,
}

/// `PATCH /api/v1/members/{user_id}` `{role?, active?}`.
async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    rid: RequestId,
    PathId(user_id): PathId,
    Json(body): Json<MemberChange>,
) -> ApiResult<axum::Json<MemberView>> {
    ctx.require(Permission::MembersManage)?;
    let current = queries::get(&ctx.tx, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let role = match body.role.as_deref() {
        Some(r) => parse_role(Some(r))?,
        None => Role::parse(&current.role).ok_or(ApiError::NotFound)?,
    };
    let active = body.active.unwrap_or(current.active);
    let was_owner = current.role == "owner" && current.active;
    if current.role == "owner" || role == Role::Owner {
        ctx.require(Permission::OwnershipTransfer)?;
    }
    if was_owner
        && (role != Role::Owner || !active)
        && queries::other_owners(&ctx.tx, user_id).await? == 0
    {
        return Err(ApiError::Conflict(
            "The last owner cannot be demoted or deactivated.".into(),
        ));
    }
    if active && !current.active {
        quota::reserve(&ctx.tx, &ctx.tenant.plan.code, Limit::Users).await?;
    }
    let row = queries::update(&ctx.tx, user_id, role.as_str(), active).await?;
    let (before, after) = (audited(&current), audited(&row));
    audit_log::record(
        &ctx,
        &rid,
        "update",
        ENTITY,
        user_id,
        Some(&before),
        Some(&after),
    )
    .await?;
    let tenant = ctx.tenant.tenant.id;
    ctx.commit().await?;
    if !active {
        session::revoke_user_in_tenant(&state, user_id, tenant).await?;
    }
    Ok(axum::Json(one_view(&state, row).await?))
}

/// `DELETE /api/v1/members/{user_id}` → 204; their sessions here are revoked.
async fn remove(
    State(state): State<AppState>,
    ctx: Ctx,
    rid: RequestId,
    PathId(user_id): PathId,
) -> ApiResult<StatusCode> {
    ctx.require(Permission::MembersManage)?;
    let current = queries::get(&ctx.tx, user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.role == "owner" {
        ctx.require(Permission::OwnershipTransfer)?;
        if current.active && queries::other_owners(&ctx.tx, user_id).await? == 0 {
            return Err(ApiError::Conflict(
                "The last owner cannot be removed.".into(),
            ));
        }
    }
    queries::delete(&ctx.tx, user_id).await?;
    audit_log::record(
        &ctx,
        &rid,
        "delete",
        ENTITY,
        user_id,
        Some(&audited(&current)),
        None::<&()>,
    )
    .await?;
    let tenant = ctx.tenant.tenant.id;
    ctx.commit().await?;
    session::revoke_user_in_tenant(&state, user_id, tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

const ENTITY: &str = "member";

/// A membership as written to the audit log.
fn audited(row: &queries::MemberRow) -> serde_json::Value {
    serde_json::json!({"user_id": row.user_id, "role": row.role, "active": row.active})
}

async fn one_view(state: &AppState, row: queries::MemberRow) -> ApiResult<MemberView> {
    queries::views(&state.engine, vec![row])
        .await?
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound)
}
