//! The middleware in front of every route but the health checks: decide the site from
//! the host, refuse unknown, suspended and unavailable tenants, apply the plan's request
//! rate, and hand the [`Site`] to the handlers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use zumodra_tenancy::TenantStatus;

use crate::auth::session;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::tenants::host::{classify, normalize, request_host, HostKind};
use crate::tenants::{Site, TenantEntry};

/// Paths answered on any host, known or not.
pub fn is_any_host_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// Resolve the site and gate it. See the module docs.
pub async fn resolve_site(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if is_any_host_path(req.uri().path()) {
        return next.run(req).await;
    }
    let kind = host_kind(&state, &req);
    // Owned, so no part of the request is held across an await.
    let token = session::bearer(req.headers()).map(str::to_owned);
    match site_of(&state, kind, token.as_deref()).await {
        Ok(site) => {
            if let Site::Tenant(entry) = &site {
                tracing::Span::current().record("tenant", entry.tenant.slug.as_str());
                if let Err(e) = rate(&state, entry) {
                    return e.into_response();
                }
            }
            req.extensions_mut().insert(site);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

// Synchronous, so no part of the (non-`Sync`) request is held across an await.
fn host_kind(state: &AppState, req: &Request) -> HostKind {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let trusted = state
        .settings
        .trusted_proxies
        .iter()
        .any(|c| c.contains(peer));
    let host = request_host(req.headers(), req.uri(), trusted).and_then(normalize);
    classify(host, state.engine.base_domain())
}

async fn site_of(state: &AppState, kind: HostKind, token: Option<&str>) -> Result<Site, ApiError> {
    use std::sync::atomic::Ordering::Relaxed;
    let metrics = &state.metrics;
    match kind {
        HostKind::Platform => {
            metrics.resolution_platform.fetch_add(1, Relaxed);
            Ok(Site::Platform)
        }
        HostKind::Unknown => {
            metrics.resolution_unknown.fetch_add(1, Relaxed);
            Err(ApiError::TenantNotFound)
        }
        HostKind::Tenant(host) => match state.resolver.resolve(&host).await {
            Ok(Some(entry)) => {
                metrics.resolution_tenant.fetch_add(1, Relaxed);
                if let Err(e) = check_status(&entry) {
                    if !(entry.tenant.maintenance && admin_passes(state, &entry, token).await) {
                        return Err(e);
                    }
                }
                Ok(Site::Tenant(entry))
            }
            Ok(None) => {
                metrics.resolution_unknown.fetch_add(1, Relaxed);
                Err(ApiError::TenantNotFound)
            }
            Err(e) => {
                metrics.resolution_error.fetch_add(1, Relaxed);
                // Whatever went wrong looking the host up, the client gets a 503, never
                // a 500 (SPEC §2.11).
                tracing::warn!(error = %e, "tenant resolution failed");
                Err(ApiError::ServiceUnavailable)
            }
        },
    }
}

/// SPEC §3: suspended/cancelled → 403, provisioning/maintenance/deleting → 503,
/// deleted → as unknown.
fn check_status(entry: &TenantEntry) -> Result<(), ApiError> {
    match entry.tenant.status {
        TenantStatus::Deleted => Err(ApiError::TenantNotFound),
        TenantStatus::Suspended | TenantStatus::Cancelled => Err(ApiError::TenantSuspended),
        TenantStatus::Provisioning | TenantStatus::Deleting => Err(ApiError::TenantUnavailable),
        TenantStatus::Trial | TenantStatus::Active if entry.tenant.maintenance => {
            Err(ApiError::TenantUnavailable)
        }
        TenantStatus::Trial | TenantStatus::Active => Ok(()),
    }
}

/// A platform admin passes maintenance mode (only that: not a suspension, not a
/// tenant being provisioned or deleted) with a live session for this tenant: an
/// impersonation token, or the admin's own membership.
async fn admin_passes(state: &AppState, entry: &TenantEntry, token: Option<&str>) -> bool {
    if !matches!(
        entry.tenant.status,
        TenantStatus::Trial | TenantStatus::Active
    ) {
        return false;
    }
    let Some(token) = token else {
        return false;
    };
    match session::lookup(state, token).await {
        Ok(Some(s)) => {
            s.tenant_id == Some(entry.tenant.id)
                && (s.impersonator_id.is_some() || s.is_platform_admin)
        }
        _ => false,
    }
}

/// The plan's requests per minute, per tenant and per instance (0 = unlimited).
fn rate(state: &AppState, entry: &TenantEntry) -> Result<(), ApiError> {
    let limit = entry.plan.requests_per_minute;
    if limit <= 0 {
        return Ok(());
    }
    state
        .limiters
        .tenant_requests
        .hit(entry.tenant.id.0.to_string(), limit as u32)
}
