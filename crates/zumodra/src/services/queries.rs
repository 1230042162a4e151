//! The listing queries. Each takes the tenant transaction.

use zumodra_tenancy::TenantTx;

use super::model::{Draft, Listing, COLUMNS};
use crate::http::error::ApiError;
use crate::http::pagination::Page;
use crate::rows;

/// Newest first, optionally of one status or category.
pub async fn list(
    tx: &TenantTx,
    status: Option<&str>,
    category: Option<&str>,
    page: Page,
) -> Result<Vec<Listing>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from services_listing where ($1::text is null or status = $1) \
         and ($2::text is null or category = $2) and ($3::bigint is null or id < $3) \
         order by id desc limit $4"
    );
    let found = tx
        .query_and_end(&sql, &[&status, &category, &page.before, &page.fetch()])
        .await?;
    rows::all(&found, Listing::from_row)
}

/// One listing; `lock` takes a row lock.
pub async fn get(tx: &TenantTx, id: i64, lock: bool) -> Result<Option<Listing>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from services_listing where id = $1{}",
        if lock { " for update" } else { "" }
    );
    rows::opt(tx.query_opt(&sql, &[&id]).await?, Listing::from_row)
}

/// Insert a listing.
pub async fn insert(tx: &TenantTx, d: &Draft) -> Result<Listing, ApiError> {
    let sql = format!(
        "insert into services_listing (title, description, category, kind, price_minor, currency, \
         delivery, status) values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &d.title,
                &d.description,
                &d.category,
                &d.kind,
                &d.price_minor,
                &d.currency,
                &d.delivery,
                &d.status,
            ],
        )
        .await?;
    rows::one(&row, Listing::from_row)
}

/// Write every writable column and bump the version.
pub async fn update(tx: &TenantTx, id: i64, d: &Draft) -> Result<Listing, ApiError> {
    let sql = format!(
        "update services_listing set title = $2, description = $3, category = $4, kind = $5, \
         price_minor = $6, currency = $7, delivery = $8, status = $9, version = version + 1, \
         updated_at = now() where id = $1 returning {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &id,
                &d.title,
                &d.description,
                &d.category,
                &d.kind,
                &d.price_minor,
                &d.currency,
                &d.delivery,
                &d.status,
            ],
        )
        .await?;
    rows::one(&row, Listing::from_row)
}

/// `true` when a listing was deleted.
pub async fn delete(tx: &TenantTx, id: i64) -> Result<bool, ApiError> {
    Ok(tx
        .execute("delete from services_listing where id = $1", &[&id])
        .await?
        == 1)
}
