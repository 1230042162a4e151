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
