//! The platform host (the bare base domain): platform admins manage tenants, from
//! allow-listed addresses only; anyone may sign up for a trial tenant. Every platform
//! action is written to `public.platform_audit`.

pub mod audit_trail;
pub mod deletion;
pub mod impersonate;
pub mod login;
pub mod maintenance;
pub mod reports;
pub mod signup;
pub mod tenants;

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use zumodra_tenancy::TenantId;

use crate::audit::{self, PlatformEvent};
use crate::auth::session;
use crate::http::error::ApiError;
use crate::http::extract::ClientAddr;
use crate::state::AppState;
use crate::tenants::Site;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/platform/v1/auth/login", post(login::login))
        .route("/platform/v1/auth/logout", post(login::logout))
        .route("/platform/v1/signup", post(signup::signup))
        .route("/metrics", get(crate::metrics::metrics))
        .merge(tenants::router())
        .merge(reports::router())
        .merge(audit_trail::router())
        .merge(impersonate::router())
        .merge(maintenance::router())
}

/// A platform-host request. On a tenant host platform paths do not exist: 404.
pub struct PlatformHost;

impl FromRequestParts<AppState> for PlatformHost {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Site>() {
            Some(Site::Platform) => Ok(Self),
            _ => Err(ApiError::NotFound),
        }
    }
}

/// A platform-host request from an allow-listed address (else 403 `ip_not_allowed`).
pub struct AllowListed(pub IpAddr);

impl FromRequestParts<AppState> for AllowListed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        PlatformHost::from_request_parts(parts, state).await?;
        let ClientAddr(address) = ClientAddr::from_parts(parts, state);
        if state
            .settings
            .platform_allowlist
            .iter()
            .any(|c| c.contains(address))
        {
            Ok(Self(address))
        } else {
            tracing::warn!(%address, "platform endpoint from outside the allow-list");
            Err(ApiError::IpNotAllowed)
        }
    }
}

/// An allow-listed platform admin with a platform session.
pub struct PlatformAdmin {
    pub user_id: i64,
    pub address: IpAddr,
    pub token_hash: Vec<u8>,
}

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let AllowListed(address) = AllowListed::from_request_parts(parts, state).await?;
        let token = session::bearer(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let session = session::lookup(state, token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        // A tenant session is no platform session.
        if session.tenant_id.is_some() {
            return Err(ApiError::Unauthenticated);
        }
        tracing::Span::current().record("user_id", session.user_id);
        // Demoted since logging in.
        if !session.is_platform_admin {
            return Err(ApiError::NotPlatformAdmin);
        }
        Ok(Self {
            user_id: session.user_id,
            address,
            token_hash: session.token_hash,
        })
    }
}

impl PlatformAdmin {
    /// Audit an action of this admin.
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        tenant: Option<TenantId>,
        detail: Value,
    ) -> Result<(), ApiError> {
        audit::record(
            state,
            PlatformEvent {
                actor: Some(self.user_id),
                action,
                tenant,
                address: self.address,
                detail,
            },
        )
        .await
    }
}
