//! Membership queries, in the tenant transaction; user details come from the shared
//! catalog separately (the tenant role cannot read `public.users`, by design).

use chrono::{DateTime, Utc};
use serde::Serialize;
use zumodra_tenancy::tokio_postgres::Row;
use zumodra_tenancy::{Engine, TenantTx};

use crate::http::error::ApiError;
use crate::http::pagination::Page;

/// A membership row.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user_id: i64,
    pub role: String,
    pub active: bool,
    pub joined_at: DateTime<Utc>,
}

fn from_row(row: &Row) -> MemberRow {
    MemberRow {
        user_id: row.get(0),
        role: row.get(1),
        active: row.get(2),
        joined_at: row.get(3),
    }
}

/// A member as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub active: bool,
    pub joined_at: DateTime<Utc>,
}

pub async fn list(tx: &TenantTx, page: Page) -> Result<Vec<MemberRow>, ApiError> {
    let rows = tx
        .query_and_end(
            "select user_id, role, active, joined_at from members \
             where ($1::bigint is null or user_id < $1) order by user_id desc limit $2",
            &[&page.before, &page.fetch()],
        )
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

pub async fn get(tx: &TenantTx, user_id: i64) -> Result<Option<MemberRow>, ApiError> {
    let row = tx
        .query_opt(
            "select user_id, role, active, joined_at from members where user_id = $1 for update",
            &[&user_id],
        )
        .await?;
    Ok(row.as_ref().map(from_row))
}

pub async fn count_active(tx: &TenantTx) -> Result<i64, ApiError> {
    Ok(tx
        .query_one("select count(*) from members where active", &[])
        .await?
        .get(0))
}

/// Lock every active owner and count those other than `user_id`. Taking the locks
/// serializes concurrent demotions, so two of them cannot remove the last two owners.
pub async fn other_owners(tx: &TenantTx, user_id: i64) -> Result<usize, ApiError> {
    let rows = tx
        .query(
            "select user_id from members where role = 'owner' and active order by user_id for update",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .filter(|r| r.get::<_, i64>(0) != user_id)
        .count())
}

/// Add a member, or re-activate a former one; `None` when already an active member.
pub async fn add(tx: &TenantTx, user_id: i64, role: &str) -> Result<Option<MemberRow>, ApiError> {
    let row = tx
        .query_opt(
            "insert into members (user_id, role) values ($1, $2) on conflict (user_id) do update \
             set role = excluded.role, active = true, joined_at = now(), updated_at = now() \
             where not members.active returning user_id, role, active, joined_at",
            &[&user_id, &role],
        )
        .await?;
    Ok(row.as_ref().map(from_row))
}

pub async fn update(
    tx: &TenantTx,
    user_id: i64,
    role: &str,
    active: bool,
) -> Result<MemberRow, ApiError> {
    let row = tx
        .query_one(
            "update members set role = $2, active = $3, updated_at = now() where user_id = $1 \
             returning user_id, role, active, joined_at",
            &[&user_id, &role, &active],
        )
        .await?;
    Ok(from_row(&row))
}

pub async fn delete(tx: &TenantTx, user_id: i64) -> Result<bool, ApiError> {
    Ok(tx
        .execute("delete from members where user_id = $1", &[&user_id])
        .await?
        == 1)
}

/// Join membership rows with the users' e-mails and names from the shared catalog.
pub async fn views(engine: &Engine, rows: Vec<MemberRow>) -> Result<Vec<MemberView>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.user_id).collect();
    let conn = engine.shared().await?;
    let users = conn
        .query(
            "select id, email, display_name from public.users where id = any($1)",
            &[&ids],
        )
        .await
        .map_err(zumodra_tenancy::Error::from)?;
    let find = |id: i64| {
        users
            .iter()
            .find(|u| u.get::<_, i64>(0) == id)
            .map(|u| (u.get::<_, String>(1), u.get::<_, String>(2)))
            .unwrap_or_default()
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let (email, display_name) = find(r.user_id);
            MemberView {
                user_id: r.user_id,
                email,
                display_name,
                role: r.role,
                active: r.active,
                joined_at: r.joined_at,
            }
        })
        .collect())
}
