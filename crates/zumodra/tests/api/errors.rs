//! The error contract: rows of SPEC §3's table not produced by the feature tests, and a
//! stopped database answering 503 (never 500) and recovering by itself.

use std::time::{Duration, Instant};

use serde_json::json;
use zumodra_tenancy::embedded::{ClusterOptions, EmbeddedPostgres};
use zumodra_tenancy::{Engine, EngineConfig, NewOwner, NewTenant, TenantStatus};

use crate::helpers::*;

#[tokio::test]
async fn bodies_are_checked_before_they_are_believed() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let url = format!("http://127.0.0.1:{}/api/v1/jobs", app.port);
    let post = || {
        app.client
            .post(&url)
            .header("host", "acme.localhost")
            .bearer_auth(&t)
    };

    // 400: not JSON.
    let r = post()
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    // 415: not declared as JSON, or no body type at all.
    for ct in [Some("text/plain"), None] {
        let mut req = post().body("{\"title\": \"x\"}");
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 415);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
    // 413: over the 1 MiB default.
    let big = json!({ "title": "x", "description": "y".repeat(2 * 1024 * 1024) });
    let r = post().json(&big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    // Every answer carries a request id, errors included.
    let r = post().body("x").send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));
    // Unknown paths and methods are JSON errors too.
    app.get(&host("acme"), "/api/v1/nothing", Some(&t))
        .await
        .expect(404, "not_found");
    let r = app
        .send(
            reqwest::Method::PUT,
            &host("acme"),
            "/api/v1/jobs",
            Some(&t),
            Some(json!({})),
        )
        .await;
    r.expect(405, "method_not_allowed");
}

#[tokio::test]
async fn a_provisioning_tenant_is_unavailable() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let su = app.db.superuser().await;
    su.execute(
        "update public.tenants set status = 'provisioning' where id = $1",
        &[&acme.id.0],
    )
    .await
    .unwrap();
    // Tell the instances, as the engine does on every status change.
    su.execute("select pg_notify('zumodra_tenant_changed', 'acme')", &[])
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let r = app.get(&host("acme"), "/api/v1/jobs", None).await;
        if r.status == 503 {
            r.expect(503, "tenant_unavailable");
            assert!(r.headers.contains_key("retry-after"));
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "{}", r.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_stopped_database_is_503_and_service_resumes_by_itself() {
    let dir = std::env::temp_dir().join(format!("zumodra-http-dbstop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = ClusterOptions {
        ephemeral: true,
        ..Default::default()
    };
    let (d, o) = (dir.clone(), opts.clone());
    let mut cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d, &o))
        .await
        .unwrap()
        .unwrap();
    let mut config = EngineConfig::new(cluster.database().await.unwrap(), "localhost");
    config.pool_timeout = Duration::from_secs(1);
    let engine = Engine::connect(config).await.unwrap();
    engine
        .create_tenant(NewTenant {
            slug: "acme".into(),
            name: "Acme".into(),
            plan: "enterprise".into(),
            status: TenantStatus::Active,
            owner: Some(NewOwner {
                email: "alice@acme.test".into(),
                password: PASSWORD.into(),
                display_name: String::new(),
            }),
        })
        .await
        .unwrap();
    let port = start_server(engine, settings()).await;
    let client = reqwest::Client::new();
    let call = |path: &'static str, token: Option<String>| {
        let client = client.clone();
        async move {
            send(
                &client,
                port,
                reqwest::Method::GET,
                "acme.localhost",
                path,
                token.as_deref(),
                None,
            )
            .await
        }
    };
    let login = send(
        &client,
        port,
        reqwest::Method::POST,
        "acme.localhost",
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "alice@acme.test", "password": PASSWORD})),
    )
    .await;
    let token = login.ok(200)["token"].as_str().unwrap().to_owned();
    call("/api/v1/jobs", Some(token.clone())).await.ok(200);

    tokio::task::spawn_blocking(move || cluster.stop_forced().map(|_| cluster))
        .await
        .unwrap()
        .unwrap();
    for _ in 0..10 {
        let r = call("/api/v1/jobs", Some(token.clone())).await;
        r.expect(503, "service_unavailable");
        assert!(r.headers.contains_key("retry-after"));
    }
    call("/readyz", None)
        .await
        .expect(503, "service_unavailable");
    call("/healthz", None).await.ok(200);
    // An unknown host cannot be looked up either: 503, not 404 and not 500.
    let r = send(
        &client,
        port,
        reqwest::Method::GET,
        "other.localhost",
        "/api/v1/jobs",
        None,
        None,
    )
    .await;
    r.expect(503, "service_unavailable");

    let (d, o) = (dir.clone(), opts.clone());
    let mut cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::restart(&d, &o))
        .await
        .unwrap()
        .unwrap();
    let started = Instant::now();
    loop {
        let r = call("/api/v1/jobs", Some(token.clone())).await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no recovery: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    call("/readyz", None).await.ok(200);
    tokio::task::spawn_blocking(move || {
        let _ = cluster.stop_forced();
        drop(cluster);
        let _ = std::fs::remove_dir_all(&dir);
    })
    .await
    .unwrap();
}
