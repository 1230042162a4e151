//! The public face of a tenant, without a token: `GET /api/v1/public/jobs`,
//! `GET /api/v1/public/jobs/{id}`, `POST /api/v1/public/jobs/{id}/apply`, and the
//! server-rendered careers page `GET /careers` with its form
//! (`POST /careers/jobs/{id}/apply`, urlencoded, no JavaScript needed).
//!
//! The tenant comes from the host only; its transaction sees its own schema only, so
//! another tenant's jobs cannot appear. Applying is rate-limited per tenant and address.

pub mod apply;
pub mod page;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use zumodra_tenancy::TenantTx;

use self::apply::{Application, Origin, PublicJob};
use crate::audit_log::RequestId;
use crate::auth::limiter::CAREERS_APPLIES_PER_ADDRESS;
use crate::cache::TenantKey;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{ClientAddr, Json, PathId, Query};
use crate::http::pagination::{Page, Paged};
use crate::rbac::context::TenantHost;
use crate::state::AppState;
use crate::tenants::TenantEntry;

/// The plan feature of everything public.
pub const FEATURE: &str = "career_pages";

/// How long the public job list may be served from the cache (it is also dropped at
/// once whenever the tenant's data changes).
const PUBLIC_JOBS_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// The routes of the careers site and its API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/public/jobs", get(list))
        .route("/api/v1/public/jobs/{id}", get(show))
        .route("/api/v1/public/jobs/{id}/apply", post(apply_json))
        .route("/careers", get(page::index))
        .route("/careers/jobs/{id}/apply", post(page::apply_form))
}

/// Check the feature and open the tenant's transaction.
pub(crate) async fn begin(state: &AppState, tenant: &TenantEntry) -> ApiResult<TenantTx> {
    if !tenant.plan.has(FEATURE) {
        return Err(ApiError::FeatureNotInPlan(FEATURE));
    }
    Ok(state.engine.begin(&tenant.tenant_ref()).await?)
}

/// Count one application from `address`; 429 beyond the hourly limit.
pub(crate) fn limit(state: &AppState, tenant: &TenantEntry, address: &ClientAddr) -> ApiResult<()> {
    let key = format!("{}:{}", tenant.tenant.id.0, address.0);
    state
        .limiters
        .careers_apply
        .hit(key, CAREERS_APPLIES_PER_ADDRESS)
}

/// The query string of the list.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    TenantHost(tenant): TenantHost,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<Paged<PublicJob>>> {
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    if !tenant.plan.has(FEATURE) {
        return Err(ApiError::FeatureNotInPlan(FEATURE));
    }
    // The busiest public read: cached per tenant, dropped on any change of the tenant.
    let key = TenantKey::new(
        tenant.tenant.id,
        "public_jobs",
        format!("{:?}:{:?}", p.limit, p.cursor),
    );
    let listed = state
        .cache
        .get_or_load(&key, PUBLIC_JOBS_TTL, || async {
            let tx = begin(&state, &tenant).await?;
            let jobs = apply::open_jobs(&tx, page).await?;
            Ok::<_, ApiError>(page.finish(jobs, |j| j.id))
        })
        .await?;
    Ok(axum::Json(listed))
}

async fn show(
    State(state): State<AppState>,
    TenantHost(tenant): TenantHost,
    PathId(id): PathId,
) -> ApiResult<axum::Json<PublicJob>> {
    let tx = begin(&state, &tenant).await?;
    Ok(axum::Json(
        apply::open_job(&tx, id).await?.ok_or(ApiError::NotFound)?,
    ))
}

/// The answer to an application: nothing internal, only that it arrived.
#[derive(Debug, Serialize)]
pub struct Received {
    pub received: bool,
    pub job_id: i64,
}

async fn apply_json(
    State(state): State<AppState>,
    TenantHost(tenant): TenantHost,
    address: ClientAddr,
    rid: RequestId,
    PathId(id): PathId,
    Json(form): Json<Application>,
) -> ApiResult<(StatusCode, axum::Json<Received>)> {
    limit(&state, &tenant, &address)?;
    let tx = begin(&state, &tenant).await?;
    let origin = Origin {
        address: address.0.to_string(),
        request_id: rid.0.as_deref(),
    };
    apply::apply(&tx, &tenant.plan.code, id, form, &origin).await?;
    tx.commit().await?;
    // The application is audited: drop the tenant's cache here before answering.
    state.cache.invalidate_tenant(tenant.tenant.id).await;
    Ok((
        StatusCode::CREATED,
        axum::Json(Received {
            received: true,
            job_id: id,
        }),
    ))
}
