//! The candidate queries. Each takes the tenant transaction: no schema name, no pool.

use zumodra_tenancy::TenantTx;

use super::model::{Candidate, Draft, COLUMNS};
use crate::http::error::ApiError;
use crate::http::pagination::Page;
use crate::rows;

/// Newest first; `q` searches name and e-mail (case-insensitive substring).
pub async fn list(
    tx: &TenantTx,
    q: Option<&str>,
    source: Option<&str>,
    page: Page,
) -> Result<Vec<Candidate>, ApiError> {
    let pattern = q.map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let sql = format!(
        "select {COLUMNS} from ats_candidate \
         where ($1::text is null or name ilike $1 or email ilike $1) \
         and ($2::text is null or source = $2) and ($3::bigint is null or id < $3) \
         order by id desc limit $4"
    );
    let found = tx
        .query_and_end(&sql, &[&pattern, &source, &page.before, &page.fetch()])
        .await?;
    rows::all(&found, Candidate::from_row)
}

/// One candidate; `lock` takes a row lock for a read-modify-write.
pub async fn get(tx: &TenantTx, id: i64, lock: bool) -> Result<Option<Candidate>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from ats_candidate where id = $1{}",
        if lock { " for update" } else { "" }
    );
    rows::opt(tx.query_opt(&sql, &[&id]).await?, Candidate::from_row)
}

/// The candidate with this e-mail (case-insensitive).
pub async fn by_email(tx: &TenantTx, email: &str) -> Result<Option<Candidate>, ApiError> {
    let sql = format!("select {COLUMNS} from ats_candidate where lower(email) = lower($1)");
    rows::opt(tx.query_opt(&sql, &[&email]).await?, Candidate::from_row)
}

/// Is this e-mail taken by another candidate than `except`?
pub async fn email_taken(
    tx: &TenantTx,
    email: &str,
    except: Option<i64>,
) -> Result<bool, ApiError> {
    Ok(tx
        .query_opt(
            "select 1 from ats_candidate where lower(email) = lower($1) and ($2::bigint is null or id <> $2)",
            &[&email, &except],
        )
        .await?
        .is_some())
}

/// Insert a candidate.
pub async fn insert(tx: &TenantTx, d: &Draft) -> Result<Candidate, ApiError> {
    let sql = format!(
        "insert into ats_candidate (name, email, phone, resume_text, source, tags) \
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &d.name,
                &d.email,
                &d.phone,
                &d.resume_text,
                &d.source,
                &d.tags,
            ],
        )
        .await?;
    rows::one(&row, Candidate::from_row)
}

/// Write every writable column and bump the version.
pub async fn update(tx: &TenantTx, id: i64, d: &Draft) -> Result<Candidate, ApiError> {
    let sql = format!(
        "update ats_candidate set name = $2, email = $3, phone = $4, resume_text = $5, \
         source = $6, tags = $7, version = version + 1, updated_at = now() \
         where id = $1 returning {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &id,
                &d.name,
                &d.email,
                &d.phone,
                &d.resume_text,
                &d.source,
                &d.tags,
            ],
        )
        .await?;
    rows::one(&row, Candidate::from_row)
}

/// `true` when a candidate was deleted.
pub async fn delete(tx: &TenantTx, id: i64) -> Result<bool, ApiError> {
    Ok(tx
        .execute("delete from ats_candidate where id = $1", &[&id])
        .await?
        == 1)
}
