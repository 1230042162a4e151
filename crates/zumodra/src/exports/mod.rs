//! Tenant data export over the API (issue #6): `POST /api/v1/exports` (permission
//! `data.export`, plan feature `data_export`) queues a platform job that runs the
//! engine's export to `<data_dir>/exports/<tenant>/<job id>.tar.gz`;
//! `GET /api/v1/exports/{id}` shows its status and, once done, a download link valid
//! for [`LINK_TTL_SECS`]; the link (`…/download?expires=&sig=`) streams the archive.
//!
//! The export id is the job id. The link is signed with a random secret kept in the
//! job's payload, which only the runtime role can read (tenants see only a job's id,
//! kind and status).

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::io::AsyncReadExt;
use zumodra_tenancy::jobs::{JobKind, JobRegistry};

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{PathText, Query};
use crate::rbac::context::TenantHost;
use crate::rbac::{Ctx, Permission};
use crate::state::AppState;

/// The platform job that writes one export.
pub const EXPORT: JobKind = JobKind::platform("exports.run");
/// How long a download link stays valid.
pub const LINK_TTL_SECS: i64 = 600;

/// The routes of exports.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/exports", post(create))
        .route("/api/v1/exports/{id}", get(show))
        .route("/api/v1/exports/{id}/download", get(download))
}

/// Add the export job to the server's registry.
pub fn register(registry: &mut JobRegistry) {
    registry.platform(EXPORT, |engine, job| {
        Box::pin(async move {
            let slug = job.payload["slug"].as_str().unwrap_or_default().to_owned();
            let dir = job.payload["dir"].as_str().unwrap_or_default();
            if slug.is_empty() || dir.is_empty() {
                anyhow::bail!("export job without slug or directory");
            }
            let path = PathBuf::from(dir).join(format!("{}.tar.gz", job.id.0));
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            let manifest = engine.export_tenant(&slug, &path, &|_, _| {}).await?;
            tracing::info!(tenant = %slug, path = %path.display(), parts = manifest.parts.len(), "export written");
            Ok(())
        })
    });
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    ctx.require(Permission::DataExport)?;
    ctx.require_feature("data_export")?;
    let slug = ctx.tenant.tenant.slug.to_string();
    let tenant_id = ctx.tenant.tenant.id.0;
    let dir = state.settings.data_dir.join("exports").join(&slug);
    let id = state
        .engine
        .enqueue_platform(
            EXPORT,
            json!({
                "slug": slug,
                "tenant_id": tenant_id,
                "dir": dir.to_string_lossy(),
                "secret": hex::encode(rand::random::<[u8; 32]>()),
                "requested_by": ctx.member.user_id,
            }),
        )
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "id": id.0, "status": "queued" })),
    ))
}

/// One export job as the runtime sees it: status, output file and link secret.
struct ExportJob {
    status: String,
    path: PathBuf,
    secret: String,
    error: Option<String>,
}

async fn find(state: &AppState, tenant_id: i64, id: &str) -> Result<ExportJob, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let conn = state.engine.shared().await?;
    let row = conn
        .query_opt(
            "select status, payload->>'dir', payload->>'secret', last_error from public.jobs \
             where id = $1 and kind = $2 and (payload->>'tenant_id')::bigint = $3",
            &[&id, &EXPORT.name(), &tenant_id],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?
        .ok_or(ApiError::NotFound)?;
    let dir: Option<String> = row.get(1);
    Ok(ExportJob {
        status: row.get(0),
        path: PathBuf::from(dir.unwrap_or_default()).join(format!("{id}.tar.gz")),
        secret: row.get::<_, Option<String>>(2).unwrap_or_default(),
        error: row.get(3),
    })
}

fn signature(secret: &str, id: &str, expires: i64) -> String {
    hex::encode(Sha256::digest(
        format!("{secret}:{id}:{expires}").as_bytes(),
    ))
}

async fn show(
    State(state): State<AppState>,
    ctx: Ctx,
    PathText(id): PathText,
) -> ApiResult<axum::Json<Value>> {
    ctx.require(Permission::DataExport)?;
    ctx.require_feature("data_export")?;
    let job = find(&state, ctx.tenant.tenant.id.0, &id).await?;
    let mut body = json!({ "id": id.parse::<i64>().unwrap_or_default() });
    match job.status.as_str() {
        "done" => {
            let expires = chrono::Utc::now().timestamp() + LINK_TTL_SECS;
            let sig = signature(&job.secret, &id, expires);
            body["status"] = json!("done");
            body["size_bytes"] = json!(tokio::fs::metadata(&job.path).await.ok().map(|m| m.len()));
            body["download_url"] = json!(format!(
                "/api/v1/exports/{id}/download?expires={expires}&sig={sig}"
            ));
            body["expires_at"] = json!(chrono::DateTime::from_timestamp(expires, 0));
        }
        "dead" => {
            body["status"] = json!("failed");
            body["error"] = json!(job.error.map(|e| e.lines().next().unwrap_or("").to_owned()));
        }
        other => body["status"] = json!(other),
    }
    Ok(axum::Json(body))
}

/// The query of a download link.
#[derive(Debug, Default, Deserialize)]
pub struct LinkParams {
    pub expires: Option<i64>,
    pub sig: Option<String>,
}

async fn download(
    State(state): State<AppState>,
    TenantHost(tenant): TenantHost,
    PathText(id): PathText,
    Query(link): Query<LinkParams>,
) -> ApiResult<Response> {
    let (Some(expires), Some(sig)) = (link.expires, link.sig) else {
        return Err(ApiError::NotFound);
    };
    let job = find(&state, tenant.tenant.id.0, &id).await?;
    let valid = job.status == "done"
        && !job.secret.is_empty()
        && expires >= chrono::Utc::now().timestamp()
        && expires <= chrono::Utc::now().timestamp() + LINK_TTL_SECS
        // Constant time: how long the comparison takes says nothing of how much matched.
        && bool::from(signature(&job.secret, &id, expires).as_bytes().ct_eq(sig.as_bytes()));
    if !valid {
        // An expired, forged or foreign link: as if there were nothing here.
        return Err(ApiError::NotFound);
    }
    let file = tokio::fs::File::open(&job.path)
        .await
        .map_err(|_| ApiError::NotFound)?;
    let stream = futures::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let name = format!("{}-{id}.tar.gz", tenant.tenant.slug.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
