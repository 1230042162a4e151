//! The one HTTP-facing error type: every row of SPEC §3's error table, rendered as
//! `{"error": {"code", "message", ...}}`. Causes of 500s are logged, never shown.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::rbac::Permission;

/// Seconds a client should wait before retrying a 503.
pub const RETRY_TENANT_UNAVAILABLE: u64 = 30;
pub const RETRY_SERVICE_UNAVAILABLE: u64 = 5;

/// Field name → what is wrong with it, for 422 answers.
pub type FieldErrors = BTreeMap<String, String>;

/// Everything a client can be told went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or not JSON of the endpoint's shape.
    #[error("the body is not valid JSON for this endpoint: {0}")]
    InvalidJson(String),
    /// 401: no token, bad token, expired, revoked, or issued for another tenant. One
    /// body for all of them (no oracle for which).
    #[error("authentication required")]
    Unauthenticated,
    /// 403: the member lacks this permission.
    #[error("missing permission {}", .0.as_str())]
    Forbidden(Permission),
    /// 403: a platform endpoint, and the user is not a platform admin.
    #[error("platform administrators only")]
    NotPlatformAdmin,
    #[error("tenant suspended")]
    TenantSuspended,
    /// 403: a plan limit is reached (the limit's name, e.g. `max_jobs`).
    #[error("quota {0} exceeded")]
    QuotaExceeded(&'static str),
    /// 403: the plan lacks a feature (e.g. `custom_domains`).
    #[error("feature {0} not in plan")]
    FeatureNotInPlan(&'static str),
    #[error("address not allowed")]
    IpNotAllowed,
    #[error("tenant not found")]
    TenantNotFound,
    #[error("not found")]
    NotFound,
    /// 405, for completeness: a known path with another method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: uniqueness or a stale version; the message is for humans and safe to show.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 429 with `Retry-After` seconds.
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    /// 503: the tenant is provisioning, in maintenance or being deleted.
    #[error("tenant unavailable")]
    TenantUnavailable,
    /// 503: the database is unreachable (or the request ran out of time).
    #[error("service unavailable")]
    ServiceUnavailable,
    /// 500: logged with its cause, shown as a bare `internal_error`.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// Optimistic concurrency: a write that names a `version` other than the current one
    /// of `entity` → 409 `conflict`.
    pub fn check_version(entity: &str, sent: Option<i32>, current: i32) -> Result<(), Self> {
        match sent {
            Some(v) if v != current => Err(Self::Conflict(format!(
                "The {entity} was changed by someone else; reload it and try again."
            ))),
            _ => Ok(()),
        }
    }

    /// A 422 with a single field.
    pub fn field(name: &str, problem: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(name.to_owned(), problem.into());
        Self::Validation(fields)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_)
            | Self::NotPlatformAdmin
            | Self::TenantSuspended
            | Self::QuotaExceeded(_)
            | Self::FeatureNotInPlan(_)
            | Self::IpNotAllowed => StatusCode::FORBIDDEN,
            Self::TenantNotFound | Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TenantUnavailable | Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) | Self::NotPlatformAdmin => "forbidden",
            Self::TenantSuspended => "tenant_suspended",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::FeatureNotInPlan(_) => "feature_not_in_plan",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::TenantNotFound => "tenant_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::TenantUnavailable => "tenant_unavailable",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::InvalidJson(detail) => {
                format!("The request body is not valid JSON for this endpoint: {detail}")
            }
            Self::Unauthenticated => {
                "Authentication required: the token is missing, invalid or expired.".into()
            }
            Self::Forbidden(p) => format!("You lack the permission {}.", p.as_str()),
            Self::NotPlatformAdmin => "Platform administrators only.".into(),
            Self::TenantSuspended => "This organization's account is suspended.".into(),
            Self::QuotaExceeded(limit) => format!("The plan's limit {limit} is reached."),
            Self::FeatureNotInPlan(f) => format!("The plan does not include {f}."),
            Self::IpNotAllowed => "This endpoint is not available from your address.".into(),
            Self::TenantNotFound => "No organization is served at this address.".into(),
            Self::NotFound => "Not found.".into(),
            Self::MethodNotAllowed => "Method not allowed.".into(),
            Self::Conflict(m) => m.clone(),
            Self::PayloadTooLarge => "The request body is too large.".into(),
            Self::UnsupportedMediaType => {
                "Send a JSON body with Content-Type: application/json.".into()
            }
            Self::Validation(_) => "Some fields are invalid.".into(),
            Self::RateLimited { .. } => "Too many requests; retry later.".into(),
            Self::TenantUnavailable => {
                "This organization is temporarily unavailable; retry later.".into()
            }
            Self::ServiceUnavailable => {
                "The service is temporarily unavailable; retry later.".into()
            }
            Self::Internal(_) => "An internal error occurred.".into(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } => Some((*retry_after).max(1)),
            Self::TenantUnavailable => Some(RETRY_TENANT_UNAVAILABLE),
            Self::ServiceUnavailable => Some(RETRY_SERVICE_UNAVAILABLE),
            _ => None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code()));
        error.insert("message".into(), json!(self.message()));
        match self {
            Self::Validation(fields) => {
                error.insert("fields".into(), json!(fields));
            }
            Self::Forbidden(p) => {
                error.insert("permission".into(), json!(p.as_str()));
            }
            Self::NotPlatformAdmin => {
                error.insert("permission".into(), json!("platform.admin"));
            }
            Self::QuotaExceeded(limit) => {
                error.insert("limit".into(), json!(limit));
            }
            Self::FeatureNotInPlan(f) => {
                error.insert("feature".into(), json!(f));
            }
            _ => {}
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "internal error")
            }
            Self::ServiceUnavailable => tracing::warn!("answering 503 service_unavailable"),
            _ => {}
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<zumodra_tenancy::Error> for ApiError {
    fn from(err: zumodra_tenancy::Error) -> Self {
        use zumodra_tenancy::Error as E;
        match err {
            E::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::ServiceUnavailable
            }
            E::SlugTaken(_) => Self::Conflict("This slug is already taken.".into()),
            E::InvalidSlug(e) => Self::field("slug", e.to_string()),
            E::TenantNotFound(_) | E::DomainNotFound(_) => Self::NotFound,
            E::UnknownPlan(_) => Self::field("plan", "no such plan"),
            E::DomainTaken(_) => Self::Conflict("This domain is already in use.".into()),
            E::InvalidDomain(_) => Self::field("domain", "not a valid domain name for a tenant"),
            E::PrimaryDomain => {
                Self::Conflict("The primary domain of a tenant cannot be removed.".into())
            }
            E::InvalidTransition { from, action } => {
                Self::Conflict(format!("A tenant that is {from} cannot be {action}."))
            }
            E::EmailTaken(_) => Self::Conflict("A user with this e-mail already exists.".into()),
            // The engine's validation messages name the problem, never SQL.
            E::Invalid(message) => Self::field("request", message),
            // An archive's refusal names the part that failed, never SQL.
            E::Archive(e) => Self::field("archive", e.to_string()),
            e @ E::Db(_) => from_sqlstate(e),
            E::Other(cause) => Self::Internal(cause),
            // Variants added to the engine later are internal until mapped here.
            #[allow(unreachable_patterns)]
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

/// PostgreSQL errors by SQLSTATE (PostgreSQL docs, Appendix A).
fn from_sqlstate(err: zumodra_tenancy::Error) -> ApiError {
    let state = err.sqlstate().unwrap_or("");
    match state {
        "23505" => ApiError::Conflict("This already exists.".into()),
        // serialization_failure, deadlock_detected: the client may simply retry.
        "40001" | "40P01" => {
            ApiError::Conflict("A concurrent change got in the way; retry.".into())
        }
        "23503" => ApiError::Conflict("This refers to something that does not exist.".into()),
        "23514" | "22001" | "22003" | "22007" | "22008" => {
            ApiError::field("request", "a value is out of range")
        }
        // character_not_in_repertoire, untranslatable_character: PostgreSQL text and
        // jsonb cannot hold U+0000, which JSON (`"\u0000"`) and query strings (`%00`)
        // can carry. The client's text, not a fault of ours.
        "22021" | "22P05" => ApiError::field("request", "text may not contain NUL characters"),
        // admin_shutdown, crash_shutdown, cannot_connect_now, query_canceled (statement
        // timeout), too_many_connections, and the connection_exception class.
        s if s.starts_with("08") || s.starts_with("57") || s == "53300" => {
            tracing::warn!(sqlstate = s, "database unavailable");
            ApiError::ServiceUnavailable
        }
        _ => ApiError::Internal(anyhow::Error::new(err)),
    }
}

/// The error type handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
