//! Plan limits (SPEC §1) enforced where the counted thing is created, and
//! `GET /api/v1/usage`.
//!
//! A check and the insert that follows it must not race: two creates at limit − 1
//! would both see room. [`reserve`] takes a transaction-level advisory lock keyed by
//! the tenant's schema and the limit, so creates of one kind in one tenant queue up
//! until the first commits; the count the second one reads includes the first's row.

pub mod usage;

use zumodra_tenancy::TenantTx;

use crate::http::error::ApiError;

/// A counted resource and the plan column that bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Active members (`max_users`).
    Users,
    /// Jobs not finished: draft, open, on hold (`max_jobs`).
    Jobs,
    /// Candidates created this calendar month, UTC (`max_candidates_per_month`).
    CandidatesPerMonth,
    /// Employees not terminated (`max_employees`).
    Employees,
}

impl Limit {
    /// Every limit, in the order `GET /api/v1/usage` shows them.
    pub const ALL: &'static [Limit] = &[
        Limit::Users,
        Limit::Jobs,
        Limit::CandidatesPerMonth,
        Limit::Employees,
    ];

    /// The plan column, which is also the name clients see in `quota_exceeded`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Users => "max_users",
            Limit::Jobs => "max_jobs",
            Limit::CandidatesPerMonth => "max_candidates_per_month",
            Limit::Employees => "max_employees",
        }
    }

    fn lock_key(self) -> i32 {
        match self {
            Limit::Users => 1,
            Limit::Jobs => 2,
            Limit::CandidatesPerMonth => 3,
            Limit::Employees => 4,
        }
    }

    fn count_sql(self) -> &'static str {
        match self {
            Limit::Users => "select count(*) from members where active",
            Limit::Jobs => "select count(*) from ats_job where status in ('draft', 'open', 'on_hold')",
            Limit::CandidatesPerMonth => {
                "select count(*) from ats_candidate \
                 where created_at >= date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'"
            }
            Limit::Employees => "select count(*) from hr_core_employee where status <> 'terminated'",
        }
    }
}

/// The plan's value of `limit` (0 = unlimited).
pub async fn maximum(tx: &TenantTx, plan: &str, limit: Limit) -> Result<i64, ApiError> {
    let sql = format!(
        "select {}::bigint from public.plans where code = $1",
        limit.name()
    );
    let row = tx.query_opt(&sql, &[&plan]).await?;
    Ok(row.map(|r| r.get::<_, i64>(0)).unwrap_or(0))
}

/// How many of `limit`'s resource exist now.
pub async fn used(tx: &TenantTx, limit: Limit) -> Result<i64, ApiError> {
    Ok(tx.query_one(limit.count_sql(), &[]).await?.get(0))
}

/// Make room for one more of `limit`'s resource in this transaction, or answer 403
/// `quota_exceeded` naming the limit. Holds the lock until the transaction ends, so
/// call it right before the insert and commit soon after.
pub async fn reserve(tx: &TenantTx, plan: &str, limit: Limit) -> Result<(), ApiError> {
    reserve_many(tx, plan, limit, 1).await
}

/// Make room for `n` more at once (an import: all or nothing).
pub async fn reserve_many(tx: &TenantTx, plan: &str, limit: Limit, n: i64) -> Result<(), ApiError> {
    tx.execute(
        "select pg_advisory_xact_lock(hashtext(current_schema()), $1)",
        &[&limit.lock_key()],
    )
    .await?;
    let max = maximum(tx, plan, limit).await?;
    if max > 0 && used(tx, limit).await? + n > max {
        return Err(ApiError::QuotaExceeded(limit.name()));
    }
    Ok(())
}
