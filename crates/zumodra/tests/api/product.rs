//! Helpers for the product tests: one member per role, audit rows, a seeded job.

use serde_json::{json, Value};
use zumodra_tenancy::Tenant;

use crate::helpers::*;

/// The seven roles, in SPEC order.
pub const ROLES: &[&str] = &[
    "owner",
    "admin",
    "hr_manager",
    "recruiter",
    "hiring_manager",
    "employee",
    "viewer",
];

/// A member of every role in `tenant` (owner is the tenant's owner `owner_email`),
/// logged in: (role, user id, token).
pub async fn role_tokens(
    app: &TestApp,
    tenant: &Tenant,
    owner_email: &str,
) -> Vec<(&'static str, i64, String)> {
    let slug = tenant.slug.as_str().to_owned();
    let mut out = Vec::new();
    for role in ROLES {
        let email = if *role == "owner" {
            owner_email.to_owned()
        } else {
            format!("{role}@{slug}.test")
        };
        let id = app.member(tenant, &email, role).await;
        out.push((*role, id, app.login(&slug, &email).await));
    }
    out
}

/// Audit rows of `tenant`, read in its own transaction: (action, entity, entity_id).
pub async fn audit(app: &TestApp, tenant: &Tenant) -> Vec<(String, String, Option<String>)> {
    let tx = app.engine().begin(&tenant.as_ref()).await.unwrap();
    tx.query(
        "select action, entity, entity_id from audit_log order by seq",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// The schema of `tenant`, for superuser statements in tests.
pub async fn schema(app: &TestApp, tenant: &Tenant) -> String {
    let su = app.db.superuser().await;
    su.query_one(
        "select schema_name from public.tenants where id = $1",
        &[&tenant.id.0],
    )
    .await
    .unwrap()
    .get(0)
}

/// An open job in the tenant of `host`.
pub async fn open_job(app: &TestApp, h: &str, t: &str, title: &str) -> i64 {
    let job = app
        .post(
            h,
            "/api/v1/jobs",
            Some(t),
            json!({"title": title, "status": "open"}),
        )
        .await;
    job.ok(201)["id"].as_i64().unwrap()
}

/// A candidate in the tenant of `host`.
pub async fn candidate(app: &TestApp, h: &str, t: &str, email: &str) -> Value {
    let c = app
        .post(
            h,
            "/api/v1/candidates",
            Some(t),
            json!({"name": "Cand", "email": email}),
        )
        .await;
    c.ok(201).clone()
}
