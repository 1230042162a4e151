//! SPEC §2.7 through HTTP: the public job list is cached per tenant, and a change in one
//! tenant reaches every instance's cache at commit — with the in-process cache, with
//! Redis, and with Redis unreachable (bypassed, still correct).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{host, settings, spawn_with, start_server, TestApp};

async fn public_titles(app: &TestApp, port: u16, slug: &str) -> Vec<String> {
    let r = crate::helpers::send(
        &app.client,
        port,
        reqwest::Method::GET,
        &host(slug),
        "/api/v1/public/jobs",
        None,
        None,
    )
    .await;
    r.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn scenario(redis_url: Option<&str>) {
    let url = redis_url.map(str::to_owned);
    let app = spawn_with(|s| s.redis_url = url.clone()).await;
    app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let mut second = settings();
    second.redis_url = redis_url.map(str::to_owned);
    let other = start_server(app.engine().clone(), second).await;

    // Warm both instances' caches, for both tenants.
    for port in [app.port, other] {
        assert!(public_titles(&app, port, "acme").await.is_empty());
        assert!(public_titles(&app, port, "globex").await.is_empty());
    }
    let job = app
        .post(
            &host("acme"),
            "/api/v1/jobs",
            Some(&alice),
            json!({"title": "Cached Engineer"}),
        )
        .await;
    let id = job.ok(201)["id"].as_i64().unwrap();
    app.post(
        &host("acme"),
        &format!("/api/v1/jobs/{id}/publish"),
        Some(&alice),
        json!({}),
    )
    .await
    .ok(200);

    // The other instance sees it within a second.
    let started = Instant::now();
    loop {
        if public_titles(&app, other, "acme").await == ["Cached Engineer"] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "stale cache on the other instance ({redis_url:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        public_titles(&app, app.port, "acme").await,
        ["Cached Engineer"]
    );
    // The other tenant's entries were not touched, and show nothing of acme.
    assert!(public_titles(&app, other, "globex").await.is_empty());
}

#[tokio::test]
async fn invalidation_reaches_every_instance_in_process() {
    scenario(None).await;
}

#[tokio::test]
async fn invalidation_reaches_every_instance_with_redis() {
    scenario(Some("redis://127.0.0.1:6379")).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_bypassed_and_answers_stay_right() {
    scenario(Some("redis://127.0.0.1:1")).await;
}

/// Poll `check` until it holds, for at most a second.
async fn within_a_second<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what} not seen within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sessions and memberships are cached per tenant; logout, a role change and a removal
/// reach the other instance's cache within a second.
async fn access_scenario(redis_url: Option<&str>) {
    let url = redis_url.map(str::to_owned);
    let app = spawn_with(|s| s.redis_url = url.clone()).await;
    app.tenant("acme", "alice@acme.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let mut second = settings();
    second.redis_url = redis_url.map(str::to_owned);
    let other = start_server(app.engine().clone(), second).await;
    let acme = host("acme");
    let on_other = |path: &'static str, token: String| {
        let (client, acme) = (app.client.clone(), acme.clone());
        async move {
            crate::helpers::send(
                &client,
                other,
                reqwest::Method::GET,
                &acme,
                path,
                Some(&token),
                None,
            )
            .await
        }
    };
    let add = app
        .post(&acme, "/api/v1/members", Some(&alice), json!({"email": "bob@acme.test", "role": "recruiter", "password": crate::helpers::PASSWORD}))
        .await;
    let bob_id = add.ok(201)["user_id"].as_i64().unwrap();
    let bob = app.login("acme", "bob@acme.test").await;
    // Warm the other instance's cache with bob's session and membership.
    on_other("/api/v1/me", bob.clone()).await.ok(200);
    let can_add = |token: String| {
        let (client, acme) = (app.client.clone(), acme.clone());
        async move {
            crate::helpers::send(
                &client,
                other,
                reqwest::Method::POST,
                &acme,
                "/api/v1/jobs",
                Some(&token),
                Some(json!({"title": "x"})),
            )
            .await
            .status
                == 201
        }
    };
    assert!(can_add(bob.clone()).await);
    // Demoted on the first instance: the second forbids within a second.
    app.patch(
        &acme,
        &format!("/api/v1/members/{bob_id}"),
        Some(&alice),
        json!({"role": "viewer"}),
    )
    .await
    .ok(200);
    within_a_second("the demotion", || {
        let bob = bob.clone();
        async move { !can_add(bob).await }
    })
    .await;
    // Removed: bob does not exist here any more, on either instance.
    app.delete(&acme, &format!("/api/v1/members/{bob_id}"), Some(&alice))
        .await;
    within_a_second("the removal", || {
        let bob = bob.clone();
        async move { on_other("/api/v1/me", bob).await.status == 401 }
    })
    .await;
    // Logout on the first instance: the token is dead on the second.
    on_other("/api/v1/me", alice.clone()).await.ok(200);
    app.post(&acme, "/api/v1/auth/logout", Some(&alice), json!({}))
        .await;
    within_a_second("the logout", || {
        let alice = alice.clone();
        async move { on_other("/api/v1/me", alice).await.status == 401 }
    })
    .await;
}

#[tokio::test]
async fn access_changes_reach_every_instance_in_process() {
    access_scenario(None).await;
}

#[tokio::test]
async fn access_changes_reach_every_instance_with_redis() {
    access_scenario(Some("redis://127.0.0.1:6379")).await;
}
