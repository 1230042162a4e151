//! The time-off queries. Each takes the tenant transaction.

use zumodra_tenancy::TenantTx;

use super::model::{Draft, TimeOff, COLUMNS};
use crate::http::error::ApiError;
use crate::http::pagination::Page;
use crate::rows;

/// Newest first; `employee` limits to one employee's requests.
pub async fn list(
    tx: &TenantTx,
    employee: Option<i64>,
    status: Option<&str>,
    page: Page,
) -> Result<Vec<TimeOff>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from hr_core_timeoff where ($1::bigint is null or employee_id = $1) \
         and ($2::text is null or status = $2) and ($3::bigint is null or id < $3) \
         order by id desc limit $4"
    );
    let found = tx
        .query_and_end(&sql, &[&employee, &status, &page.before, &page.fetch()])
        .await?;
    rows::all(&found, TimeOff::from_row)
}

/// One request; `lock` takes a row lock.
pub async fn get(tx: &TenantTx, id: i64, lock: bool) -> Result<Option<TimeOff>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from hr_core_timeoff where id = $1{}",
        if lock { " for update" } else { "" }
    );
    rows::opt(tx.query_opt(&sql, &[&id]).await?, TimeOff::from_row)
}

/// Insert a pending request.
pub async fn insert(tx: &TenantTx, employee: i64, d: &Draft) -> Result<TimeOff, ApiError> {
    let sql = format!(
        "insert into hr_core_timeoff (employee_id, kind, start_date, end_date, half_day, total_days, reason) \
         values ($1, $2, $3, $4, $5, $6::float8::numeric, $7) returning {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &employee,
                &d.kind,
                &d.start_date,
                &d.end_date,
                &d.half_day,
                &d.total_days,
                &d.reason,
            ],
        )
        .await?;
    rows::one(&row, TimeOff::from_row)
}

/// Does another approved request of the employee overlap this one?
pub async fn overlaps_approved(tx: &TenantTx, t: &TimeOff) -> Result<bool, ApiError> {
    Ok(tx
        .query_opt(
            "select 1 from hr_core_timeoff where employee_id = $1 and id <> $2 and status = 'approved' \
             and start_date <= $4 and end_date >= $3",
            &[&t.employee_id, &t.id, &t.start_date, &t.end_date],
        )
        .await?
        .is_some())
}

/// Take `days` from the balance; `false` (nothing changed) when it is too small. The
/// employee row must already be locked by this transaction.
pub async fn deduct(tx: &TenantTx, employee: i64, days: f64) -> Result<bool, ApiError> {
    Ok(tx
        .execute(
            "update hr_core_employee set pto_balance_days = pto_balance_days - $2::float8::numeric, \
             version = version + 1, updated_at = now() \
             where id = $1 and pto_balance_days >= $2::float8::numeric",
            &[&employee, &days],
        )
        .await?
        == 1)
}

/// Give `days` back (an approved request cancelled).
pub async fn refund(tx: &TenantTx, employee: i64, days: f64) -> Result<(), ApiError> {
    tx.execute(
        "update hr_core_employee set pto_balance_days = pto_balance_days + $2::float8::numeric, \
         version = version + 1, updated_at = now() where id = $1",
        &[&employee, &days],
    )
    .await?;
    Ok(())
}

/// Set the status and who decided.
pub async fn decide(tx: &TenantTx, id: i64, status: &str, by: i64) -> Result<TimeOff, ApiError> {
    let sql = format!(
        "update hr_core_timeoff set status = $2, decided_by = $3, decided_at = now(), updated_at = now() \
         where id = $1 returning {COLUMNS}"
    );
    rows::one(
        &tx.query_one(&sql, &[&id, &status, &by]).await?,
        TimeOff::from_row,
    )
}
