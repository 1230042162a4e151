//! The job queries. Each takes the tenant transaction: no schema name, no pool.

use zumodra_tenancy::tokio_postgres::Row;
use zumodra_tenancy::TenantTx;

use super::model::{job_columns, Job, JobDraft};
use crate::http::error::ApiError;
use crate::http::pagination::Page;

fn row_to_job(row: &zumodra_tenancy::tokio_postgres::Row) -> Result<Job, ApiError> {
    Job::from_row(row).map_err(|e| ApiError::from(zumodra_tenancy::Error::from(e)))
}

/// Newest first, optionally of one status, one page: the rows, for
/// `Job::<&str>::from_row` (the list borrows its text from them).
pub async fn list(tx: &TenantTx, status: Option<&str>, page: Page) -> Result<Vec<Row>, ApiError> {
    Ok(tx
        .query_and_end(
            concat!(
                "select ",
                job_columns!(),
                " from ats_job ",
                "where ($1::text is null or status = $1) and ($2::bigint is null or id < $2) ",
                "order by id desc limit $3"
            ),
            &[&status, &page.before, &page.fetch()],
        )
        .await?)
}

/// One job; `lock` takes a row lock for a read-modify-write.
pub async fn get(tx: &TenantTx, id: i64, lock: bool) -> Result<Option<Job>, ApiError> {
    let row = if lock {
        tx.query_opt(
            concat!(
                "select ",
                job_columns!(),
                " from ats_job where id = $1 for update"
            ),
            &[&id],
        )
        .await?
    } else {
        tx.query_opt(
            concat!("select ", job_columns!(), " from ats_job where id = $1"),
            &[&id],
        )
        .await?
    };
    row.as_ref().map(row_to_job).transpose()
}

/// Jobs that count against the plan's `max_jobs`: those not finished.
pub async fn count_active(tx: &TenantTx) -> Result<i64, ApiError> {
    Ok(tx
        .query_one(
            "select count(*) from ats_job where status in ('draft', 'open', 'on_hold')",
            &[],
        )
        .await?
        .get(0))
}

pub async fn insert(tx: &TenantTx, d: &JobDraft, created_by: i64) -> Result<Job, ApiError> {
    let row = tx
        .query_one(
            concat!(
                "insert into ats_job (title, description, department, location, employment_type, ",
                "remote_policy, salary_min, salary_max, salary_currency, positions, deadline, status, ",
                "created_by, published_at) ",
                "values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, ",
                "case when $12 = 'open' then now() end) returning ", job_columns!()
            ),
            &[
                &d.title, &d.description, &d.department, &d.location, &d.employment_type,
                &d.remote_policy, &d.salary_min, &d.salary_max, &d.salary_currency, &d.positions,
                &d.deadline, &d.status, &created_by,
            ],
        )
        .await?;
    row_to_job(&row)
}

/// Write every writable column and bump the version.
pub async fn update(tx: &TenantTx, id: i64, d: &JobDraft) -> Result<Job, ApiError> {
    let row = tx
        .query_one(
            concat!(
                "update ats_job set title = $2, description = $3, department = $4, location = $5, ",
                "employment_type = $6, remote_policy = $7, salary_min = $8, salary_max = $9, ",
                "salary_currency = $10, positions = $11, deadline = $12, status = $13, ",
                "published_at = case when $13 = 'open' then coalesce(published_at, now()) else published_at end, ",
                "version = version + 1, updated_at = now() where id = $1 returning ", job_columns!()
            ),
            &[
                &id, &d.title, &d.description, &d.department, &d.location, &d.employment_type,
                &d.remote_policy, &d.salary_min, &d.salary_max, &d.salary_currency, &d.positions,
                &d.deadline, &d.status,
            ],
        )
        .await?;
    row_to_job(&row)
}

/// `true` when a job was deleted.
pub async fn delete(tx: &TenantTx, id: i64) -> Result<bool, ApiError> {
    Ok(tx
        .execute("delete from ats_job where id = $1", &[&id])
        .await?
        == 1)
}
