//! The application queries. Each takes the tenant transaction.

use zumodra_tenancy::TenantTx;

use super::model::{Application, Move, COLUMNS};
use crate::http::error::ApiError;
use crate::http::pagination::Page;
use crate::rows;

/// The tenant's pipeline, in order (tenant settings).
pub async fn pipeline(tx: &TenantTx) -> Result<Vec<String>, ApiError> {
    let row = tx
        .query_opt("select pipeline_stages from settings", &[])
        .await?;
    Ok(row.map(|r| r.get(0)).unwrap_or_default())
}

/// Filters of the list.
#[derive(Debug, Default)]
pub struct Filter {
    pub job_id: Option<i64>,
    pub candidate_id: Option<i64>,
    pub stage: Option<String>,
}

/// Newest first.
pub async fn list(tx: &TenantTx, f: &Filter, page: Page) -> Result<Vec<Application>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from ats_application where ($1::bigint is null or job_id = $1) \
         and ($2::bigint is null or candidate_id = $2) and ($3::text is null or stage = $3) \
         and ($4::bigint is null or id < $4) order by id desc limit $5"
    );
    let found = tx
        .query_and_end(
            &sql,
            &[
                &f.job_id,
                &f.candidate_id,
                &f.stage,
                &page.before,
                &page.fetch(),
            ],
        )
        .await?;
    rows::all(&found, Application::from_row)
}

/// One application; `lock` takes a row lock.
pub async fn get(tx: &TenantTx, id: i64, lock: bool) -> Result<Option<Application>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from ats_application where id = $1{}",
        if lock { " for update" } else { "" }
    );
    rows::opt(tx.query_opt(&sql, &[&id]).await?, Application::from_row)
}

/// The moves of an application, oldest first.
pub async fn history(tx: &TenantTx, id: i64) -> Result<Vec<Move>, ApiError> {
    let found = tx
        .query(
            "select id, from_stage, to_stage, moved_by, created_at from ats_application_history \
             where application_id = $1 order by id",
            &[&id],
        )
        .await?;
    rows::all(&found, Move::from_row)
}

/// Does the (job, candidate) pair already have an application?
pub async fn exists(tx: &TenantTx, job_id: i64, candidate_id: i64) -> Result<bool, ApiError> {
    Ok(tx
        .query_opt(
            "select 1 from ats_application where job_id = $1 and candidate_id = $2",
            &[&job_id, &candidate_id],
        )
        .await?
        .is_some())
}

/// Insert an application and its first history row.
pub async fn insert(
    tx: &TenantTx,
    job_id: i64,
    candidate_id: i64,
    stage: &str,
    rating: Option<i16>,
    by: Option<i64>,
) -> Result<Application, ApiError> {
    let sql = format!(
        "insert into ats_application (job_id, candidate_id, stage, rating) values ($1, $2, $3, $4) \
         returning {COLUMNS}"
    );
    let row = tx
        .query_one(&sql, &[&job_id, &candidate_id, &stage, &rating])
        .await?;
    let app = rows::one(&row, Application::from_row)?;
    record_move(tx, app.id, None, stage, by).await?;
    Ok(app)
}

async fn record_move(
    tx: &TenantTx,
    id: i64,
    from: Option<&str>,
    to: &str,
    by: Option<i64>,
) -> Result<(), ApiError> {
    tx.execute(
        "insert into ats_application_history (application_id, from_stage, to_stage, moved_by) \
         values ($1, $2, $3, $4)",
        &[&id, &from, &to, &by],
    )
    .await?;
    Ok(())
}

/// Move to `stage` with a history row; bumps the version.
pub async fn move_to(
    tx: &TenantTx,
    current: &Application,
    stage: &str,
    by: i64,
) -> Result<Application, ApiError> {
    let sql = format!(
        "update ats_application set stage = $2, version = version + 1, updated_at = now() \
         where id = $1 returning {COLUMNS}"
    );
    let row = tx.query_one(&sql, &[&current.id, &stage]).await?;
    record_move(tx, current.id, Some(&current.stage), stage, Some(by)).await?;
    rows::one(&row, Application::from_row)
}

/// Set the rating; bumps the version.
pub async fn set_rating(
    tx: &TenantTx,
    id: i64,
    rating: Option<i16>,
) -> Result<Application, ApiError> {
    let sql = format!(
        "update ats_application set rating = $2, version = version + 1, updated_at = now() \
         where id = $1 returning {COLUMNS}"
    );
    rows::one(
        &tx.query_one(&sql, &[&id, &rating]).await?,
        Application::from_row,
    )
}
