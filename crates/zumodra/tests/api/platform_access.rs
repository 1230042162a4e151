//! Platform admins inside tenants (issue #6): maintenance mode and impersonation.

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

async fn impersonate(app: &TestApp, admin: &str, slug: &str, reason: &str) -> String {
    let r = app
        .post(
            "localhost",
            &format!("/platform/v1/tenants/{slug}/impersonate"),
            Some(admin),
            json!({ "reason": reason }),
        )
        .await;
    r.ok(200)["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn maintenance_answers_503_to_users_and_passes_platform_admins() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let admin = app.admin_token().await;
    let support = impersonate(&app, &admin, "acme", "migration check").await;

    let path = "/platform/v1/tenants/acme/maintenance";
    app.post("localhost", path, Some(&admin), json!({}))
        .await
        .expect(422, "validation_failed");
    app.post("localhost", path, Some(&alice), json!({"on": true}))
        .await
        .expect(401, "unauthenticated");
    let r = app
        .post("localhost", path, Some(&admin), json!({"on": true}))
        .await;
    assert_eq!(r.ok(200)["maintenance"], true);

    let r = eventually(&app, "acme", &alice, 503).await;
    r.expect(503, "tenant_unavailable");
    assert!(r.headers.contains_key("retry-after"));
    // Anonymous requests too.
    app.post(
        &host("acme"),
        "/api/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": PASSWORD}),
    )
    .await
    .expect(503, "tenant_unavailable");
    // The admin's impersonation token passes, reads and writes.
    app.get(&host("acme"), "/api/v1/me", Some(&support))
        .await
        .ok(200);
    app.post(
        &host("acme"),
        "/api/v1/candidates",
        Some(&support),
        json!({"name": "During maintenance", "email": "m@x.test"}),
    )
    .await
    .ok(201);

    app.post("localhost", path, Some(&admin), json!({"on": false}))
        .await
        .ok(200);
    eventually(&app, "acme", &alice, 200).await;
    let rows = app.audit_rows("tenant.maintenance").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].3["on"], true);
}

#[tokio::test]
async fn impersonation_is_recorded_in_both_audit_logs_and_owners_see_it() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    let bob = app.member(&acme, "bob@acme.test", "recruiter").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let admin = app.admin_token().await;
    let admin_id = app.engine().user_by_email(ADMIN).await.unwrap().unwrap().id;
    let alice_id = app
        .engine()
        .user_by_email("alice@acme.test")
        .await
        .unwrap()
        .unwrap()
        .id;

    let path = "/platform/v1/tenants/acme/impersonate";
    app.post("localhost", path, Some(&admin), json!({}))
        .await
        .expect(422, "validation_failed");
    let hank = app
        .engine()
        .user_by_email("hank@globex.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = app
        .post(
            "localhost",
            path,
            Some(&admin),
            json!({"reason": "x", "user_id": hank}),
        )
        .await;
    r.expect(422, "validation_failed");
    assert!(r.body["error"]["fields"]["user_id"].is_string());
    app.post(
        "localhost",
        "/platform/v1/tenants/nope/impersonate",
        Some(&admin),
        json!({"reason": "x"}),
    )
    .await
    .expect(404, "not_found");

    // Default: an owner, for 15 minutes.
    let r = app
        .post(
            "localhost",
            path,
            Some(&admin),
            json!({"reason": "ticket 42"}),
        )
        .await;
    let body = r.ok(200).clone();
    assert_eq!(body["user_id"], alice_id);
    let expires: chrono::DateTime<chrono::Utc> =
        body["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now();
    assert!(left <= chrono::Duration::minutes(15) && left > chrono::Duration::minutes(14));
    let token = body["token"].as_str().unwrap().to_owned();

    // Single tenant: another host refuses it.
    app.get(&host("globex"), "/api/v1/me", Some(&token))
        .await
        .expect(401, "unauthenticated");
    let r = app
        .post(
            &host("acme"),
            "/api/v1/candidates",
            Some(&token),
            json!({"name": "Imp Ersonated", "email": "imp@x.test"}),
        )
        .await;
    let candidate = r.ok(201)["id"].as_i64().unwrap();
    // Alice's own change is hers alone.
    app.post(
        &host("acme"),
        "/api/v1/candidates",
        Some(&alice),
        json!({"name": "Own Work", "email": "own@x.test"}),
    )
    .await
    .ok(201);

    // Platform log: the start, and every request made with the token.
    let starts = app.audit_rows("tenant.impersonate").await;
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].0, Some(admin_id));
    assert_eq!(starts[0].1, Some(acme.id.0));
    assert_eq!(starts[0].3["reason"], "ticket 42");
    let requests = app.audit_rows("impersonation.request").await;
    assert!(requests
        .iter()
        .any(|(actor, tenant, _, d)| *actor == Some(admin_id)
            && *tenant == Some(acme.id.0)
            && d["path"] == "/api/v1/candidates"
            && d["method"] == "POST"
            && d["reason"] == "ticket 42"));

    // Tenant log, as the owner sees it.
    let r = app
        .get(&host("acme"), "/api/v1/audit-log", Some(&alice))
        .await;
    let items = r.ok(200)["items"].as_array().unwrap().clone();
    let created = items
        .iter()
        .find(|i| i["entity"] == "candidate" && i["entity_id"] == *candidate.to_string())
        .expect("the impersonated change is in the tenant log");
    assert_eq!(created["actor_user_id"], alice_id);
    assert_eq!(created["impersonator_id"], admin_id);
    let start = items
        .iter()
        .find(|i| i["entity"] == "impersonation")
        .expect("the start is in the tenant log");
    assert_eq!(start["impersonator_id"], admin_id);
    assert_eq!(start["after"]["reason"], "ticket 42");
    assert_eq!(start["after"]["admin_email"], ADMIN);
    let own = items
        .iter()
        .find(|i| i["after"]["name"] == "Own Work")
        .expect("alice's change");
    assert!(own["impersonator_id"].is_null());

    // Another member, explicitly; and a demoted admin's tokens die with the role.
    let r = app
        .post(
            "localhost",
            path,
            Some(&admin),
            json!({"reason": "as bob", "user_id": bob}),
        )
        .await;
    assert_eq!(r.ok(200)["user_id"], bob);
    let su = app.db.superuser().await;
    su.execute(
        "update public.users set is_platform_admin = false where id = $1",
        &[&admin_id],
    )
    .await
    .unwrap();
    app.get(&host("acme"), "/api/v1/me", Some(&token))
        .await
        .expect(401, "unauthenticated");
}
