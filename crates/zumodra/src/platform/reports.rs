//! `GET /platform/v1/reports/usage?format=json|csv&sort=<column>|-<column>`: per-tenant
//! counts across all tenants, read by the engine through each tenant's own role. The
//! call is audited like every platform action.

use std::cmp::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use zumodra_tenancy::report::{usage_csv, UsageRow};

use super::PlatformAdmin;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Query;
use crate::state::AppState;

/// The routes of the platform reports.
pub fn router() -> Router<AppState> {
    Router::new().route("/platform/v1/reports/usage", get(usage))
}

/// The query of the usage report.
#[derive(Debug, Default, Deserialize)]
pub struct UsageParams {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// A column (ascending) or `-column` (descending); default `slug`.
    pub sort: Option<String>,
}

/// The columns the report sorts by.
const SORTABLE: &[&str] = &[
    "slug",
    "name",
    "plan",
    "status",
    "members",
    "jobs",
    "candidates",
    "applications",
    "employees",
    "services",
    "storage_bytes",
    "last_activity",
];

/// Sort `rows` by `spec` (`column` or `-column`); ties by slug. 422 on an unknown column.
pub fn sort_rows(rows: &mut [UsageRow], spec: &str) -> Result<(), ApiError> {
    let (descending, column) = match spec.strip_prefix('-') {
        Some(c) => (true, c),
        None => (false, spec),
    };
    if !SORTABLE.contains(&column) {
        return Err(ApiError::field(
            "sort",
            format!("one of {} (prefix - for descending)", SORTABLE.join(", ")),
        ));
    }
    let key = |r: &UsageRow| -> i64 {
        match column {
            "members" => r.members,
            "jobs" => r.jobs_by_status.values().sum(),
            "candidates" => r.candidates,
            "applications" => r.applications,
            "employees" => r.employees,
            "services" => r.services,
            "storage_bytes" => r.storage_bytes,
            "last_activity" => r.last_activity.map_or(i64::MIN, |t| t.timestamp_micros()),
            _ => 0,
        }
    };
    rows.sort_by(|a, b| {
        let order = match column {
            "slug" => Ordering::Equal,
            "name" => a.name.cmp(&b.name),
            "plan" => a.plan.cmp(&b.plan),
            "status" => a.status.cmp(&b.status),
            _ => key(a).cmp(&key(b)),
        };
        let order = order.then_with(|| a.slug.cmp(&b.slug));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    Ok(())
}

async fn usage(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Query(params): Query<UsageParams>,
) -> ApiResult<Response> {
    let csv = match params.format.as_deref() {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::field("format", "json or csv")),
    };
    let sort = params
        .sort
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "slug".into());
    // Half the pool: the report must not starve the requests being served meanwhile.
    let concurrency = (state.settings.pool_size / 2).max(1);
    let mut rows = state.engine.usage_report(concurrency).await?;
    sort_rows(&mut rows, &sort)?;
    admin
        .audit(
            &state,
            "reports.usage",
            None,
            json!({ "format": if csv { "csv" } else { "json" }, "sort": sort, "tenants": rows.len() }),
        )
        .await?;
    if csv {
        Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            usage_csv(&rows),
        )
            .into_response())
    } else {
        Ok(axum::Json(json!({ "items": rows })).into_response())
    }
}
