//! The employee queries. Each takes the tenant transaction.

use zumodra_tenancy::TenantTx;

use super::model::{Draft, Employee, COLUMNS};
use crate::http::error::ApiError;
use crate::http::pagination::Page;
use crate::rows;

/// Newest first, optionally of one status or department.
pub async fn list(
    tx: &TenantTx,
    status: Option<&str>,
    department: Option<&str>,
    page: Page,
) -> Result<Vec<Employee>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from hr_core_employee where ($1::text is null or status = $1) \
         and ($2::text is null or department = $2) and ($3::bigint is null or id < $3) \
         order by id desc limit $4"
    );
    let found = tx
        .query_and_end(&sql, &[&status, &department, &page.before, &page.fetch()])
        .await?;
    rows::all(&found, Employee::from_row)
}

/// One employee; `lock` takes a row lock (balance changes lock it first).
pub async fn get(tx: &TenantTx, id: i64, lock: bool) -> Result<Option<Employee>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from hr_core_employee where id = $1{}",
        if lock { " for update" } else { "" }
    );
    rows::opt(tx.query_opt(&sql, &[&id]).await?, Employee::from_row)
}

/// The employee record of a member.
pub async fn by_user(tx: &TenantTx, user_id: i64) -> Result<Option<Employee>, ApiError> {
    let sql = format!("select {COLUMNS} from hr_core_employee where user_id = $1");
    rows::opt(tx.query_opt(&sql, &[&user_id]).await?, Employee::from_row)
}

/// Is this e-mail (or user) taken by another employee than `except`?
pub async fn taken(tx: &TenantTx, d: &Draft, except: Option<i64>) -> Result<bool, ApiError> {
    Ok(tx
        .query_opt(
            "select 1 from hr_core_employee where (lower(email) = lower($1) or user_id = $2) \
             and ($3::bigint is null or id <> $3)",
            &[&d.email, &d.user_id, &except],
        )
        .await?
        .is_some())
}

/// Would `manager` managing `id` close a loop (the manager reports to `id`)?
pub async fn manages_itself(tx: &TenantTx, id: i64, manager: i64) -> Result<bool, ApiError> {
    Ok(tx
        .query_one(
            "with recursive up(id, manager_id) as ( \
               select id, manager_id from hr_core_employee where id = $2 \
               union select e.id, e.manager_id from hr_core_employee e join up on e.id = up.manager_id) \
             select exists (select 1 from up where id = $1)",
            &[&id, &manager],
        )
        .await?
        .get(0))
}

/// Insert an employee.
pub async fn insert(tx: &TenantTx, d: &Draft) -> Result<Employee, ApiError> {
    let sql = format!(
        "insert into hr_core_employee (user_id, name, email, job_title, department, manager_id, \
         hire_date, employment_type, status, pto_balance_days) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::float8::numeric) returning {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &d.user_id,
                &d.name,
                &d.email,
                &d.job_title,
                &d.department,
                &d.manager_id,
                &d.hire_date,
                &d.employment_type,
                &d.status,
                &d.pto_balance_days,
            ],
        )
        .await?;
    rows::one(&row, Employee::from_row)
}

/// Write every writable column and bump the version.
pub async fn update(tx: &TenantTx, id: i64, d: &Draft) -> Result<Employee, ApiError> {
    let sql = format!(
        "update hr_core_employee set user_id = $2, name = $3, email = $4, job_title = $5, \
         department = $6, manager_id = $7, hire_date = $8, employment_type = $9, status = $10, \
         pto_balance_days = $11::float8::numeric, version = version + 1, updated_at = now() \
         where id = $1 returning {COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &id,
                &d.user_id,
                &d.name,
                &d.email,
                &d.job_title,
                &d.department,
                &d.manager_id,
                &d.hire_date,
                &d.employment_type,
                &d.status,
                &d.pto_balance_days,
            ],
        )
        .await?;
    rows::one(&row, Employee::from_row)
}

/// Delete an employee: their reports lose their manager, their time off goes with them.
pub async fn delete(tx: &TenantTx, id: i64) -> Result<bool, ApiError> {
    tx.execute(
        "update hr_core_employee set manager_id = null where manager_id = $1",
        &[&id],
    )
    .await?;
    Ok(tx
        .execute("delete from hr_core_employee where id = $1", &[&id])
        .await?
        == 1)
}
