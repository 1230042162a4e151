//! The HTTP surface: [`app`] builds the router from every feature's `router()` and wraps
//! it in the request path of `docs/architecture.md`:
//!
//! ```text
//! request id → trace span → timeout + metrics → body limit → site resolution → handler
//! ```

pub mod error;
pub mod extract;
pub mod pagination;
pub mod timestamp;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use self::error::ApiError;
use crate::state::AppState;
use crate::tenants::gate::resolve_site;
use crate::tenants::{Site, TenantEntry};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application as a router (tests can call it without a socket; serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`).
pub fn app(state: AppState) -> Router {
    let routes = routes()
        .layer(middleware::from_fn_with_state(state.clone(), buffer_body))
        .layer(middleware::from_fn_with_state(state.clone(), resolve_site));
    wrap(routes, state)
}

/// The same application with every request sent to one tenant, without host
/// resolution, cache or status gate: only for measuring what routing costs
/// (`examples/bench_server.rs`, `docs/benchmarks-http.md`).
pub fn app_fixed_tenant(state: AppState, tenant: Arc<TenantEntry>) -> Router {
    let site = Site::Tenant(tenant);
    let routes = routes()
        .layer(middleware::from_fn_with_state(state.clone(), buffer_body))
        .layer(middleware::from_fn(move |mut req: Request, next: Next| {
            req.extensions_mut().insert(site.clone());
            next.run(req)
        }));
    wrap(routes, state)
}

/// Every feature's routes.
fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::auth::router())
        .merge(crate::members::router())
        .merge(crate::ats::router())
        .merge(crate::audit_log::router())
        .merge(crate::hr::router())
        .merge(crate::services::router())
        .merge(crate::careers::router())
        .merge(crate::openapi::router())
        .merge(crate::settings::router())
        .merge(crate::quota::usage::router())
        .merge(crate::events::router())
        .merge(crate::platform::router())
        .merge(crate::exports::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// The layers around the routes, outermost last.
fn wrap(routes: Router<AppState>, state: AppState) -> Router {
    let body_limit = state.settings.body_limit_bytes;
    routes
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let request_id = req
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %request_id,
                        tenant = tracing::field::Empty,
                        user_id = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The request timeout (→ 503 `service_unavailable`; the handler's future is dropped,
/// which rolls its tenant transaction back) and the response counters.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = match tokio::time::timeout(state.settings.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request timed out"
            );
            ApiError::ServiceUnavailable.into_response()
        }
    };
    state
        .metrics
        .observe_response(response.status().as_u16(), started.elapsed());
    response
}

/// Read the whole body (up to the limit) before any handler runs. The tenant
/// transaction is opened by an extractor that runs before the body is read, so without
/// this a slow upload would hold a pooled connection for as long as the client likes.
async fn buffer_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, state.settings.body_limit_bytes).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        // Over the limit (a client that hung up mid-body gets no answer either way).
        Err(_) => ApiError::PayloadTooLarge.into_response(),
    }
}

/// `GET /healthz`: the process is alive.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.engine.ping().await {
        (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
    } else {
        ApiError::ServiceUnavailable.into_response()
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
