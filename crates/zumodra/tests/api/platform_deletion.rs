//! Deleting a tenant through the platform API (issue #6): 202, a grace period during
//! which `resume` restores it, then the batched drop.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

/// Poll `GET /api/v1/me` until it answers `status` (at most two seconds).
async fn eventually(app: &TestApp, slug: &str, token: &str, status: u16) -> Resp {
    let started = Instant::now();
    loop {
        let r = app.get(&host(slug), "/api/v1/me", Some(token)).await;
        if r.status == status {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still {}: {}",
            r.status,
            r.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deletion_waits_for_the_grace_period_and_resume_restores() {
    let app = spawn_with(|s| s.deletion_grace = Duration::from_secs(1)).await;
    app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let hank = app.login("globex", "hank@globex.test").await;
    let admin = app.admin_token().await;
    let path = "/platform/v1/tenants/acme";

    // Inside the grace period: cancelled-like, restorable.
    let r = app.delete("localhost", path, Some(&admin)).await;
    let body = r.ok(202);
    assert_eq!(body["status"], "cancelled");
    assert!(body["deletion_scheduled_at"].is_string());
    eventually(&app, "acme", &alice, 403)
        .await
        .expect(403, "tenant_suspended");
    // Nothing is due yet.
    let swept = zumodra::platform::deletion::sweep(app.engine())
        .await
        .unwrap();
    assert!(swept.is_empty());
    let r = app
        .post(
            "localhost",
            &format!("{path}/resume"),
            Some(&admin),
            json!({}),
        )
        .await;
    let body = r.ok(200);
    assert_eq!(body["status"], "active");
    assert!(body["deletion_scheduled_at"].is_null());
    eventually(&app, "acme", &alice, 200).await;
    // Resumed: even once the old due time passes, nothing is deleted.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(zumodra::platform::deletion::sweep(app.engine())
        .await
        .unwrap()
        .is_empty());
    app.get(&host("acme"), "/api/v1/me", Some(&alice))
        .await
        .ok(200);

    // After the grace period: dropped, a tombstone, and routing forgets the tenant.
    app.delete("localhost", path, Some(&admin)).await.ok(202);
    let started = Instant::now();
    let swept = loop {
        let swept = zumodra::platform::deletion::sweep(app.engine())
            .await
            .unwrap();
        if !swept.is_empty() || started.elapsed() > Duration::from_secs(3) {
            break swept;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(swept, ["acme"]);
    assert!(started.elapsed() >= Duration::from_millis(900));
    let tenant = app.engine().tenant("acme").await.unwrap();
    assert_eq!(tenant.status.as_str(), "deleted");
    eventually(&app, "acme", &alice, 404)
        .await
        .expect(404, "tenant_not_found");
    let su = app.db.superuser().await;
    let schema: Option<String> = su
        .query_opt(
            "select nspname::text from pg_namespace where nspname like '%acme%'",
            &[],
        )
        .await
        .unwrap()
        .map(|r| r.get(0));
    assert_eq!(schema, None);
    // Too late to resume; deleting again is a 404; other tenants are untouched.
    app.post(
        "localhost",
        &format!("{path}/resume"),
        Some(&admin),
        json!({}),
    )
    .await
    .expect(409, "conflict");
    app.delete("localhost", path, Some(&admin))
        .await
        .expect(404, "not_found");
    app.get(&host("globex"), "/api/v1/me", Some(&hank))
        .await
        .ok(200);
    assert_eq!(app.audit_rows("tenant.delete_scheduled").await.len(), 2);

    // The job queued for the due time finds nothing left to do.
    let jobs = su
        .query(
            "select status from public.jobs where kind = 'tenants.delete_due'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(jobs.len(), 2);
}
