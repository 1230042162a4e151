//! Tenant routing: the seed's isolation scenarios and cache invalidation across
//! instances.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn identical_jobs_in_two_tenants_stay_independent() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let hank = app.login("globex", "hank@globex.test").await;

    let a = app
        .post(
            &host("acme"),
            "/api/v1/jobs",
            Some(&alice),
            json!({"title": "Engineer", "description": "rockets"}),
        )
        .await;
    let a_id = a.ok(201)["id"].as_i64().unwrap();
    let b = app
        .post(
            &host("globex"),
            "/api/v1/jobs",
            Some(&hank),
            json!({"title": "Engineer", "description": "doomsday"}),
        )
        .await;
    b.ok(201);

    // Each tenant sees only its own.
    let list_a = app.get(&host("acme"), "/api/v1/jobs", Some(&alice)).await;
    let items = list_a.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["description"], "rockets");
    let list_b = app.get(&host("globex"), "/api/v1/jobs", Some(&hank)).await;
    assert_eq!(list_b.ok(200)["items"][0]["description"], "doomsday");

    // Changing A's leaves B's alone.
    app.patch(
        &host("acme"),
        &format!("/api/v1/jobs/{a_id}"),
        Some(&alice),
        json!({"title": "Senior Engineer"}),
    )
    .await
    .ok(200);
    let list_b = app.get(&host("globex"), "/api/v1/jobs", Some(&hank)).await;
    assert_eq!(list_b.ok(200)["items"][0]["title"], "Engineer");

    // A's id asked on B's host: the same 404 as an id that exists nowhere. The ids are
    // per tenant, so pick one that exists in A only.
    let a2 = app
        .post(
            &host("acme"),
            "/api/v1/jobs",
            Some(&alice),
            json!({"title": "Designer"}),
        )
        .await;
    let a2_id = a2.ok(201)["id"].as_i64().unwrap();
    let on_b = app
        .get(
            &host("globex"),
            &format!("/api/v1/jobs/{a2_id}"),
            Some(&hank),
        )
        .await;
    let nowhere = app
        .get(&host("globex"), "/api/v1/jobs/987654321", Some(&hank))
        .await;
    on_b.expect(404, "not_found");
    assert_eq!(on_b.text, nowhere.text);
    // Nor can B change or delete it.
    app.patch(
        &host("globex"),
        &format!("/api/v1/jobs/{a2_id}"),
        Some(&hank),
        json!({"title": "x"}),
    )
    .await
    .expect(404, "not_found");
    app.delete(
        &host("globex"),
        &format!("/api/v1/jobs/{a2_id}"),
        Some(&hank),
    )
    .await
    .expect(404, "not_found");
    app.get(
        &host("acme"),
        &format!("/api/v1/jobs/{a2_id}"),
        Some(&alice),
    )
    .await
    .ok(200);
}

#[tokio::test]
async fn a_suspension_reaches_every_instance_within_a_second() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    // A second instance on the same database, with its own engine and cache.
    let engine2 = zumodra_tenancy::Engine::connect(app.db.config())
        .await
        .unwrap();
    let port2 = start_server(engine2, settings()).await;
    let alice = app.login("acme", "alice@acme.test").await;
    let get2 = |path: &'static str| {
        let client = app.client.clone();
        let token = alice.clone();
        async move {
            send(
                &client,
                port2,
                reqwest::Method::GET,
                "acme.localhost",
                path,
                Some(&token),
                None,
            )
            .await
        }
    };
    // Warm both caches.
    app.get(&host("acme"), "/api/v1/me", Some(&alice))
        .await
        .ok(200);
    get2("/api/v1/me").await.ok(200);
    // Give both listeners time to be connected.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let admin = app.admin_token().await;
    app.post(
        "localhost",
        "/platform/v1/tenants/acme/suspend",
        Some(&admin),
        json!({"reason": "unpaid"}),
    )
    .await
    .ok(200);
    let started = Instant::now();
    loop {
        let one = app.get(&host("acme"), "/api/v1/me", Some(&alice)).await;
        let two = get2("/api/v1/me").await;
        if one.status == 403 && two.status == 403 {
            one.expect(403, "tenant_suspended");
            two.expect(403, "tenant_suspended");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not suspended everywhere after 1 s: {} / {}",
            one.text,
            two.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    app.post(
        "localhost",
        "/platform/v1/tenants/acme/resume",
        Some(&admin),
        json!({}),
    )
    .await
    .ok(200);
    let started = Instant::now();
    loop {
        let one = app.get(&host("acme"), "/api/v1/me", Some(&alice)).await;
        let two = get2("/api/v1/me").await;
        if one.status == 200 && two.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not resumed everywhere after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn maintenance_cancellation_and_deletion() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let admin = app.admin_token().await;
    app.get(&host("acme"), "/api/v1/me", Some(&alice))
        .await
        .ok(200);

    app.patch(
        "localhost",
        "/platform/v1/tenants/acme",
        Some(&admin),
        json!({"maintenance": true}),
    )
    .await
    .ok(200);
    let r = eventually(&app, "acme", &alice, 503).await;
    r.expect(503, "tenant_unavailable");
    assert!(r.headers.get("retry-after").is_some());
    app.patch(
        "localhost",
        "/platform/v1/tenants/acme",
        Some(&admin),
        json!({"maintenance": false}),
    )
    .await
    .ok(200);
    eventually(&app, "acme", &alice, 200).await;

    app.post(
        "localhost",
        "/platform/v1/tenants/acme/cancel",
        Some(&admin),
        json!({}),
    )
    .await
    .ok(200);
    eventually(&app, "acme", &alice, 403)
        .await
        .expect(403, "tenant_suspended");

    // Deleting through the API waits for the grace period; the drop itself is the
    // engine's.
    app.delete("localhost", "/platform/v1/tenants/acme", Some(&admin))
        .await
        .ok(202);
    app.engine().delete_tenant("acme").await.unwrap();
    eventually(&app, "acme", &alice, 404)
        .await
        .expect(404, "tenant_not_found");
}

/// Poll `/api/v1/me` until it answers `status` (at most a second).
async fn eventually(app: &TestApp, slug: &str, token: &str, status: u16) -> Resp {
    let started = Instant::now();
    loop {
        let r = app.get(&host(slug), "/api/v1/me", Some(token)).await;
        if r.status == status {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still {}: {}",
            r.status,
            r.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
