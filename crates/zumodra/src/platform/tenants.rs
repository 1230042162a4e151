//! Tenant administration on the platform host: list, create, show, change, delete
//! (scheduled: see `deletion`), suspend/resume/cancel, custom domains. Every call is
//! audited, reads included.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use zumodra_tenancy::{NewOwner, NewTenant, Tenant, TenantStatus, TenantUpdate};

use super::PlatformAdmin;
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::{Json, OptionalJson, PathText, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/platform/v1/tenants", get(list).post(create))
        .route(
            "/platform/v1/tenants/{slug}",
            get(show).patch(update).delete(super::deletion::schedule),
        )
        .route("/platform/v1/tenants/{slug}/suspend", post(suspend))
        .route("/platform/v1/tenants/{slug}/resume", post(resume))
        .route("/platform/v1/tenants/{slug}/cancel", post(cancel))
        .route(
            "/platform/v1/tenants/{slug}/domains",
            post(add_domain).delete(remove_domain),
        )
}

/// A tenant with its domains, as the platform API shows it.
pub async fn view(state: &AppState, tenant: &Tenant) -> ApiResult<Value> {
    let domains = state.engine.domains(tenant.id).await?;
    let mut value = serde_json::to_value(tenant).map_err(|e| ApiError::Internal(e.into()))?;
    value["domains"] = json!(domains);
    let conn = state.engine.shared().await?;
    let due: Option<chrono::DateTime<chrono::Utc>> = conn
        .query_opt(
            "select deletion_scheduled_at from public.tenants where id = $1",
            &[&tenant.id.0],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?
        .and_then(|r| r.get(0));
    value["deletion_scheduled_at"] = json!(due);
    Ok(value)
}

async fn list(State(state): State<AppState>, admin: PlatformAdmin) -> ApiResult<axum::Json<Value>> {
    let tenants = state.engine.tenants().await?;
    admin
        .audit(
            &state,
            "tenants.list",
            None,
            json!({ "count": tenants.len() }),
        )
        .await?;
    Ok(axum::Json(json!({ "items": tenants, "next_cursor": null })))
}

#[derive(Debug, Deserialize)]
pub struct CreateTenant {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub plan: Option<String>,
    pub owner_email: Option<String>,
    pub owner_password: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Json(body): Json<CreateTenant>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let mut fields = FieldErrors::new();
    for (name, value) in [
        ("slug", &body.slug),
        ("name", &body.name),
        ("owner_email", &body.owner_email),
        ("owner_password", &body.owner_password),
    ] {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            fields.insert(name.into(), "required".into());
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation(fields));
    }
    let owner_email = body.owner_email.unwrap_or_default();
    if zumodra_tenancy::catalog::parse_email(&owner_email).is_err() {
        return Err(ApiError::field("owner_email", "an e-mail address"));
    }
    let owner_password = body.owner_password.unwrap_or_default();
    if zumodra_tenancy::catalog::check_password(&owner_password).is_err() {
        return Err(ApiError::field("owner_password", "8 to 1024 characters"));
    }
    let tenant = state
        .engine
        .create_tenant(NewTenant {
            slug: body.slug.unwrap_or_default(),
            name: body.name.unwrap_or_default(),
            plan: body.plan.unwrap_or_else(|| "free".into()),
            status: TenantStatus::Active,
            owner: Some(NewOwner {
                email: owner_email.clone(),
                password: owner_password,
                display_name: String::new(),
            }),
        })
        .await
        .map_err(name_field)?;
    admin
        .audit(
            &state,
            "tenant.create",
            Some(tenant.id),
            json!({ "slug": tenant.slug, "plan": tenant.plan, "owner_email": owner_email }),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(view(&state, &tenant).await?),
    ))
}

/// The engine's one free-text validation error on creation is about the name.
fn name_field(e: zumodra_tenancy::Error) -> ApiError {
    match e {
        zumodra_tenancy::Error::Invalid(m) if m.contains("name") => ApiError::field("name", m),
        e => e.into(),
    }
}

async fn show(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.engine.tenant(&slug).await?;
    admin
        .audit(&state, "tenant.show", Some(tenant.id), json!({}))
        .await?;
    Ok(axum::Json(view(&state, &tenant).await?))
}

#[derive(Debug, Deserialize)]
pub struct ChangeTenant {
    pub name: Option<String>,
    pub plan: Option<String>,
    pub maintenance: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
    Json(body): Json<ChangeTenant>,
) -> ApiResult<axum::Json<Value>> {
    let mut tenant = state.engine.tenant(&slug).await?;
    if body.name.is_some() || body.plan.is_some() {
        let change = TenantUpdate {
            name: body.name.clone(),
            plan: body.plan.clone(),
        };
        tenant = state
            .engine
            .update_tenant(&slug, change)
            .await
            .map_err(name_field)?;
    }
    if let Some(on) = body.maintenance {
        tenant = state.engine.set_maintenance(&slug, on).await?;
    }
    admin
        .audit(
            &state,
            "tenant.update",
            Some(tenant.id),
            json!({ "name": body.name, "plan": body.plan, "maintenance": body.maintenance }),
        )
        .await?;
    Ok(axum::Json(view(&state, &tenant).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct Reason {
    pub reason: Option<String>,
}

async fn suspend(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
    OptionalJson(body): OptionalJson<Reason>,
) -> ApiResult<axum::Json<Value>> {
    let reason = body.unwrap_or_default().reason;
    let tenant = state
        .engine
        .suspend_tenant(&slug, reason.as_deref())
        .await?;
    admin
        .audit(
            &state,
            "tenant.suspend",
            Some(tenant.id),
            json!({ "reason": reason }),
        )
        .await?;
    Ok(axum::Json(view(&state, &tenant).await?))
}

async fn resume(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
) -> ApiResult<axum::Json<Value>> {
    let tenant = state.engine.resume_tenant(&slug).await?;
    let deletion_cancelled = super::deletion::unschedule(&state, &slug).await?;
    admin
        .audit(
            &state,
            "tenant.resume",
            Some(tenant.id),
            json!({ "deletion_cancelled": deletion_cancelled }),
        )
        .await?;
    Ok(axum::Json(view(&state, &tenant).await?))
}

async fn cancel(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
    OptionalJson(body): OptionalJson<Reason>,
) -> ApiResult<axum::Json<Value>> {
    let reason = body.unwrap_or_default().reason;
    let tenant = state.engine.cancel_tenant(&slug, reason.as_deref()).await?;
    admin
        .audit(
            &state,
            "tenant.cancel",
            Some(tenant.id),
            json!({ "reason": reason }),
        )
        .await?;
    Ok(axum::Json(view(&state, &tenant).await?))
}

#[derive(Debug, Default, Deserialize)]
pub struct DomainBody {
    pub domain: Option<String>,
}

fn domain_of(body: Option<DomainBody>, query: DomainBody) -> Result<String, ApiError> {
    body.and_then(|b| b.domain)
        .or(query.domain)
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ApiError::field("domain", "required"))
}

async fn add_domain(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
    Json(body): Json<DomainBody>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    let domain = domain_of(Some(body), DomainBody::default())?;
    let tenant = state.engine.tenant(&slug).await?;
    let plan = state.resolver.plan(&tenant.plan).await?;
    if !plan.has("custom_domains") {
        return Err(ApiError::FeatureNotInPlan("custom_domains"));
    }
    let added = state.engine.add_domain(&slug, &domain).await?;
    admin
        .audit(
            &state,
            "tenant.domain_add",
            Some(tenant.id),
            json!({ "domain": added.domain }),
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!(added))))
}

async fn remove_domain(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    PathText(slug): PathText,
    Query(query): Query<DomainBody>,
    OptionalJson(body): OptionalJson<DomainBody>,
) -> ApiResult<StatusCode> {
    let domain = domain_of(body, query)?;
    let tenant = state.engine.tenant(&slug).await?;
    state.engine.remove_domain(&slug, &domain).await?;
    admin
        .audit(
            &state,
            "tenant.domain_remove",
            Some(tenant.id),
            json!({ "domain": domain }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
