//! The tenant audit log (SPEC §1, §2.10): every mutation of tenant data writes exactly
//! one row in the same transaction. The table belongs to the installation owner; the
//! tenant role may only insert and read it, so PostgreSQL itself refuses an `update` or
//! `delete`. A trigger (migration `0001_initial.sql`) numbers the rows and chains each
//! row's SHA-256 to the previous one; [`verify::verify`] walks the chain.
//!
//! `GET /api/v1/audit-log?entity=&actor=&from=&to=&limit=&cursor=` lists it.

pub mod verify;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zumodra_tenancy::TenantTx;

use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Query;
use crate::http::pagination::{Page, Paged};
use crate::rbac::{Ctx, Permission};
use crate::state::AppState;

/// The routes of the audit log.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit-log", get(list))
}

/// The request id (`x-request-id`, set for every request by the HTTP layer).
#[derive(Debug, Clone, Default)]
pub struct RequestId(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(200).collect()),
        ))
    }
}

/// One mutation, as written to the log.
pub struct Change<'a> {
    pub actor: Option<i64>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: i64,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<&'a str>,
    pub address: Option<String>,
}

/// Write one audit row in `tx` (the caller commits it with the change).
pub async fn write(tx: &TenantTx, change: Change<'_>) -> Result<(), ApiError> {
    tx.execute(
        // The impersonating admin, if any, is marked on the transaction when the request
        // context is built (`platform::impersonate::mark_tx`).
        "insert into audit_log (actor_user_id, action, entity, entity_id, before, after, \
         request_id, address, impersonator_id) values ($1, $2, $3, $4, $5, $6, $7, $8, \
         nullif(current_setting('zumodra.impersonator', true), '')::bigint)",
        &[
            &change.actor,
            &change.action,
            &change.entity,
            &change.entity_id.to_string(),
            &change.before,
            &change.after,
            &change.request_id,
            &change.address,
        ],
    )
    .await?;
    // Every instance drops this tenant's cached entries when the change commits.
    crate::cache::publish_invalidation(tx).await?;
    // The same mutation, pushed to the tenant's WebSockets when it commits.
    crate::events::publish::mutation(
        tx,
        change.entity,
        change.action,
        change.entity_id,
        change.after.as_ref(),
    )
    .await
}

/// Write the audit row of a member's mutation: actor, address and request id from the
/// request; `before`/`after` are the object as clients see it.
pub async fn record<B: Serialize, A: Serialize>(
    ctx: &Ctx,
    rid: &RequestId,
    action: &str,
    entity: &str,
    entity_id: i64,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), ApiError> {
    write(
        &ctx.tx,
        Change {
            actor: Some(ctx.member.user_id),
            action,
            entity,
            entity_id,
            before: before.and_then(|b| serde_json::to_value(b).ok()),
            after: after.and_then(|a| serde_json::to_value(a).ok()),
            request_id: rid.0.as_deref(),
            address: Some(ctx.address.0.to_string()),
        },
    )
    .await
}

/// An audit row as clients see it.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<i64>,
    /// The platform admin who acted as the actor (impersonation), if any.
    pub impersonator_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub address: Option<String>,
    pub hash: String,
}

/// The filters of `GET /api/v1/audit-log`.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub entity: Option<String>,
    pub actor: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

fn time(name: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(&v)
            .map(|t| Some(t.with_timezone(&Utc)))
            .or_else(|_| {
                v.parse::<chrono::NaiveDate>()
                    .map(|d| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
            })
            .map_err(|_| ApiError::field(name, "an RFC 3339 time or a date YYYY-MM-DD")),
    }
}

/// `GET /api/v1/audit-log`: newest first (by chain position).
async fn list(ctx: Ctx, Query(p): Query<ListParams>) -> ApiResult<axum::Json<Paged<Entry>>> {
    ctx.require(Permission::AuditView)?;
    ctx.require_feature("audit_logs")?;
    let page = Page::parse(p.limit.as_deref(), p.cursor.as_deref())?;
    let actor = match p.actor.filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(
            a.parse::<i64>()
                .map_err(|_| ApiError::field("actor", "a user id"))?,
        ),
    };
    let from = time("from", p.from)?;
    let to = time("to", p.to)?;
    let entity = p.entity.filter(|e| !e.is_empty());
    let rows = ctx
        .tx
        .query(
            "select id, seq, at, actor_user_id, action, entity, entity_id, before, after, \
             request_id, address, hash, impersonator_id from audit_log \
             where ($1::text is null or entity = $1) and ($2::bigint is null or actor_user_id = $2) \
             and ($3::timestamptz is null or at >= $3) and ($4::timestamptz is null or at < $4) \
             and ($5::bigint is null or seq < $5) order by seq desc limit $6",
            &[&entity, &actor, &from, &to, &page.before, &page.fetch()],
        )
        .await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(Entry {
                id: r.try_get(0)?,
                seq: r.try_get(1)?,
                at: r.try_get(2)?,
                actor_user_id: r.try_get(3)?,
                action: r.try_get(4)?,
                entity: r.try_get(5)?,
                entity_id: r.try_get(6)?,
                before: r.try_get(7)?,
                after: r.try_get(8)?,
                request_id: r.try_get(9)?,
                address: r.try_get(10)?,
                hash: hex::encode(r.try_get::<_, Vec<u8>>(11)?),
                impersonator_id: r.try_get(12)?,
            })
        })
        .collect::<Result<Vec<_>, zumodra_tenancy::tokio_postgres::Error>>()
        .map_err(|e| ApiError::from(zumodra_tenancy::Error::from(e)))?;
    Ok(axum::Json(page.finish(entries, |e| e.seq)))
}
