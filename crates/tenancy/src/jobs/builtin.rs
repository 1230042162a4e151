//! The handlers of the product's own job kinds ([`super::kinds`]).

use anyhow::Context;
use serde::Deserialize;

use super::{kinds, JobRegistry};

/// A registry with every built-in kind.
pub fn registry() -> JobRegistry {
    let mut registry = JobRegistry::new();
    register(&mut registry);
    registry
}

/// Add the built-in kinds to `registry`.
pub fn register(registry: &mut JobRegistry) {
    registry
        .platform(kinds::EXPIRE_SESSIONS, |engine, _job| {
            Box::pin(async move {
                let conn = engine.shared().await?;
                let n = conn
                    .execute(
                        "delete from public.sessions \
                          where expires_at < now() or revoked_at < now()",
                        &[],
                    )
                    .await?;
                tracing::info!(sessions = n, "expired sessions deleted");
                Ok(())
            })
        })
        .tenant(kinds::RECOMPUTE_USAGE, |tx, _job| {
            Box::pin(async move {
                // Unqualified names are the tenant's tables; the row written is the
                // tenant's own (the column default and row-level security see to it).
                tx.execute(
                    "insert into public.tenant_usage (members, jobs, open_jobs, candidates, \
                         candidates_this_month, applications, employees, computed_at) \
                     select (select count(*) from members where active)::int, \
                            (select count(*) from ats_job)::int, \
                            (select count(*) from ats_job where status = 'open')::int, \
                            (select count(*) from ats_candidate)::int, \
                            (select count(*) from ats_candidate \
                              where created_at >= date_trunc('month', now()))::int, \
                            (select count(*) from ats_application)::int, \
                            (select count(*) from hr_core_employee)::int, \
                            now() \
                     on conflict (tenant_id) do update set \
                         members = excluded.members, jobs = excluded.jobs, \
                         open_jobs = excluded.open_jobs, candidates = excluded.candidates, \
                         candidates_this_month = excluded.candidates_this_month, \
                         applications = excluded.applications, employees = excluded.employees, \
                         computed_at = excluded.computed_at, updated_at = now()",
                    &[],
                )
                .await?;
                Ok(())
            })
        })
        .tenant(kinds::CLOSE_EXPIRED_JOBS, |tx, _job| {
            Box::pin(async move {
                // "Past its deadline" in the tenant's own time zone.
                let n = tx
                    .execute(
                        "update ats_job set status = 'closed', version = version + 1, \
                                updated_at = now() \
                          where status = 'open' \
                            and deadline < (now() at time zone \
                                 coalesce((select s.timezone from settings s), 'UTC'))::date",
                        &[],
                    )
                    .await?;
                if n > 0 {
                    tracing::info!(jobs = n, "jobs past their deadline closed");
                }
                Ok(())
            })
        })
        .tenant(kinds::NOTIFY_EMAIL, |tx, job| {
            Box::pin(async move {
                let email: Email = serde_json::from_value(job.payload.clone())
                    .context("the payload of email.notify is {to, subject, body}")?;
                tx.execute(
                    "insert into public.outbox_emails (to_address, subject, body) \
                     values ($1, $2, $3)",
                    &[&email.to, &email.subject, &email.body],
                )
                .await?;
                Ok(())
            })
        });
}

#[derive(Deserialize)]
struct Email {
    to: String,
    subject: String,
    body: String,
}
