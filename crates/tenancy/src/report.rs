//! Cross-tenant usage reports, read through each tenant's own role: a report never
//! widens the runtime role, it opens one tenant transaction per tenant.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

use crate::catalog::TenantStatus;
use crate::error::Result;
use crate::Engine;

/// One tenant's line of the usage report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsageRow {
    pub slug: String,
    pub name: String,
    pub plan: String,
    pub status: String,
    pub members: i64,
    pub jobs_by_status: BTreeMap<String, i64>,
    pub candidates: i64,
    pub applications: i64,
    pub employees: i64,
    pub services: i64,
    pub storage_bytes: i64,
    pub last_activity: Option<DateTime<Utc>>,
}

// One round trip per tenant. Storage is the size of the tenant's own tables (with their
// indexes and TOAST), which its role may ask about. The table names come in as $1 and
// resolve through the tenant's search_path by index: filtering pg_class by schema would
// scan the whole catalog for every tenant — quadratic over a thousand tenants.
const USAGE_SQL: &str = "select \
    (select count(*) from members where active), \
    (select coalesce(jsonb_object_agg(status, n), '{}')::text \
       from (select status, count(*) n from ats_job group by status) s), \
    (select count(*) from ats_candidate), \
    (select count(*) from ats_application), \
    (select count(*) from hr_core_employee), \
    (select count(*) from services_listing), \
    (select coalesce(sum(pg_total_relation_size(to_regclass(t))), 0)::bigint \
       from unnest($1::text[]) t), \
    greatest((select max(updated_at) from ats_job), (select max(updated_at) from ats_candidate), \
             (select max(updated_at) from ats_application), (select max(updated_at) from members), \
             (select max(updated_at) from hr_core_employee), (select max(at) from audit_log))";

impl Engine {
    /// Usage of every live tenant (not deleting or deleted), `concurrency` tenants at a
    /// time, sorted by slug.
    pub async fn usage_report(&self, concurrency: usize) -> Result<Vec<UsageRow>> {
        let tenants: Vec<_> = self
            .tenants()
            .await?
            .into_iter()
            .filter(|t| {
                !matches!(
                    t.status,
                    TenantStatus::Deleting | TenantStatus::Deleted | TenantStatus::Provisioning
                )
            })
            .collect();
        // The tenant tables of this version, read once from one tenant's schema.
        let tables: Vec<String> = match tenants.first() {
            Some(t) => self
                .shared()
                .await?
                .query(
                    "select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace \
                     where n.nspname = $1 and c.relkind in ('r', 'p', 'm')",
                    &[&t.slug.schema_name().as_str()],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect(),
            None => Vec::new(),
        };
        let tables = &tables;
        let rows: Vec<Result<UsageRow>> = futures::stream::iter(tenants)
            .map(|t| async move {
                let tx = self.begin(&t.as_ref()).await?;
                let r = tx.query_one(USAGE_SQL, &[tables]).await?;
                drop(tx);
                let jobs: String = r.get(1);
                Ok(UsageRow {
                    slug: t.slug.to_string(),
                    name: t.name.clone(),
                    plan: t.plan.clone(),
                    status: t.status.to_string(),
                    members: r.get(0),
                    jobs_by_status: serde_json::from_str(&jobs).unwrap_or_default(),
                    candidates: r.get(2),
                    applications: r.get(3),
                    employees: r.get(4),
                    services: r.get(5),
                    storage_bytes: r.get(6),
                    last_activity: r.get(7),
                })
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let mut rows = rows.into_iter().collect::<Result<Vec<_>>>()?;
        rows.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(rows)
    }
}

/// The report as CSV (jobs by status flattened to `jobs_<status>` columns).
pub fn usage_csv(rows: &[UsageRow]) -> String {
    const STATUSES: [&str; 6] = ["draft", "open", "on_hold", "closed", "filled", "cancelled"];
    let mut out = String::from("slug,name,plan,status,members");
    for s in STATUSES {
        out.push_str(&format!(",jobs_{s}"));
    }
    out.push_str(",candidates,applications,employees,services,storage_bytes,last_activity\n");
    let field = |text: &str| {
        if text.contains([',', '"', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{}",
            field(&r.slug),
            field(&r.name),
            field(&r.plan),
            r.status,
            r.members
        ));
        for s in STATUSES {
            out.push_str(&format!(
                ",{}",
                r.jobs_by_status.get(s).copied().unwrap_or(0)
            ));
        }
        out.push_str(&format!(
            ",{},{},{},{},{},{}\n",
            r.candidates,
            r.applications,
            r.employees,
            r.services,
            r.storage_bytes,
            r.last_activity.map(|t| t.to_rfc3339()).unwrap_or_default()
        ));
    }
    out
}
