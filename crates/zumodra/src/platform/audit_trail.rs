//! `GET /platform/v1/audit?action=&tenant=<slug>&limit=&cursor=`: the platform audit
//! log (`public.platform_audit`), newest first, keyset-paginated like every list.
//! Reading it is itself audited.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::PlatformAdmin;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Query;
use crate::http::pagination::{Page, Paged};
use crate::state::AppState;

/// The route of the platform audit log.
pub fn router() -> Router<AppState> {
    Router::new().route("/platform/v1/audit", get(list))
}

/// One platform audit row as the API shows it.
#[derive(Debug, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<i64>,
    pub actor_email: Option<String>,
    pub action: String,
    pub tenant_id: Option<i64>,
    pub tenant: Option<String>,
    pub address: Option<String>,
    pub detail: Value,
}

/// The filters of `GET /platform/v1/audit`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// Exact action, e.g. `tenant.create`.
    pub action: Option<String>,
    /// A tenant slug.
    pub tenant: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Query(p): Query<AuditParams>,
) -> ApiResult<axum::Json<Paged<AuditEntry>>> {
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let action = p.action.filter(|a| !a.is_empty());
    let slug = p.tenant.filter(|t| !t.is_empty());
    // An unknown slug filters to nothing rather than failing: deleted tenants keep
    // their tombstone, so their history stays reachable.
    let conn = state.engine.shared().await?;
    let rows = conn
        .query(
            "select a.id, a.at, a.actor_user_id, u.email, a.action, a.tenant_id, t.slug, \
             a.address, a.detail from public.platform_audit a \
             left join public.users u on u.id = a.actor_user_id \
             left join public.tenants t on t.id = a.tenant_id \
             where ($1::text is null or a.action = $1) and ($2::text is null or t.slug = $2) \
             and ($3::bigint is null or a.id < $3) order by a.id desc limit $4",
            &[&action, &slug, &page.before, &page.fetch()],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?;
    drop(conn);
    let entries = rows
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                actor_user_id: r.try_get(2)?,
                actor_email: r.try_get(3)?,
                action: r.try_get(4)?,
                tenant_id: r.try_get(5)?,
                tenant: r.try_get(6)?,
                address: r.try_get(7)?,
                detail: r.try_get(8)?,
            })
        })
        .collect::<Result<Vec<_>, zumodra_tenancy::tokio_postgres::Error>>()
        .map_err(|e| ApiError::from(zumodra_tenancy::Error::from(e)))?;
    admin
        .audit(
            &state,
            "audit.list",
            None,
            json!({ "action": action, "tenant": slug, "count": entries.len() }),
        )
        .await?;
    Ok(axum::Json(page.finish(entries, |e| e.id)))
}
