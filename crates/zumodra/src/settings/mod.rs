//! Tenant settings: `GET|PATCH /api/v1/settings` — the pipeline stages applications move
//! through, the timezone and the branding. Every member may read them (the pipeline is
//! needed to show applications); owners and admins (`members.manage`) change them.
//! Applications already in a stage that is removed keep it; moves go to the new stages.

use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};

use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::rbac::{Ctx, Permission};
use crate::rows::{self, bad};
use crate::state::AppState;

/// The routes of settings.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/settings", get(show).patch(update))
}

const COLUMNS: &str = "pipeline_stages, timezone, branding, updated_at";

/// The tenant's settings.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub pipeline_stages: Vec<String>,
    pub timezone: String,
    pub branding: Value,
    pub updated_at: DateTime<Utc>,
}

impl Settings {
    fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            pipeline_stages: r.try_get(0)?,
            timezone: r.try_get(1)?,
            branding: r.try_get(2)?,
            updated_at: r.try_get(3)?,
        })
    }
}

/// `PATCH /api/v1/settings`: absent fields keep their value.
#[derive(Debug, Default, Deserialize)]
pub struct Input {
    pub pipeline_stages: Option<Vec<String>>,
    pub timezone: Option<String>,
    pub branding: Option<Value>,
}

fn stage_ok(stage: &str) -> bool {
    let mut chars = stage.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && stage.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

async fn show(ctx: Ctx) -> ApiResult<axum::Json<Settings>> {
    let row = ctx
        .tx
        .query_one(&format!("select {COLUMNS} from settings"), &[])
        .await?;
    Ok(axum::Json(rows::one(&row, Settings::from_row)?))
}

async fn update(
    ctx: Ctx,
    rid: RequestId,
    Json(input): Json<Input>,
) -> ApiResult<axum::Json<Settings>> {
    ctx.require(Permission::MembersManage)?;
    let row = ctx
        .tx
        .query_one(&format!("select {COLUMNS} from settings for update"), &[])
        .await?;
    let current = rows::one(&row, Settings::from_row)?;
    let mut next = current.clone();
    let mut fields = FieldErrors::new();
    if let Some(stages) = input.pipeline_stages {
        let mut seen = std::collections::BTreeSet::new();
        if !(2..=20).contains(&stages.len())
            || !stages.iter().all(|s| stage_ok(s) && seen.insert(s.clone()))
        {
            bad(
                &mut fields,
                "pipeline_stages",
                "2 to 20 distinct names of lower-case letters, digits and _",
            );
        }
        next.pipeline_stages = stages;
    }
    if let Some(tz) = input.timezone {
        let known = ctx
            .tx
            .query_opt(
                "select 1 from pg_catalog.pg_timezone_names where name = $1",
                &[&tz],
            )
            .await?
            .is_some();
        if !known {
            bad(
                &mut fields,
                "timezone",
                "an IANA time zone such as Europe/Paris",
            );
        }
        next.timezone = tz;
    }
    if let Some(branding) = input.branding {
        if !branding.is_object() || branding.to_string().len() > 10_000 {
            bad(
                &mut fields,
                "branding",
                "a JSON object of at most 10000 bytes",
            );
        }
        next.branding = branding;
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation(fields));
    }
    let row = ctx
        .tx
        .query_one(
            &format!(
                "update settings set pipeline_stages = $1, timezone = $2, branding = $3, updated_at = now() \
                 returning {COLUMNS}"
            ),
            &[&next.pipeline_stages, &next.timezone, &next.branding],
        )
        .await?;
    let updated = rows::one(&row, Settings::from_row)?;
    audit_log::record(
        &ctx,
        &rid,
        "update",
        "settings",
        1,
        Some(&current),
        Some(&updated),
    )
    .await?;
    ctx.commit().await?;
    Ok(axum::Json(updated))
}
