//! SPEC §2.9: a WebSocket opened on A's host receives only A's events, whatever it
//! sends; events travel after commit through PostgreSQL so every instance has them.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{host, settings, spawn_app, start_server, TestApp};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(port: u16, slug: &str, token: Option<&str>, query: &str) -> Result<Socket, u16> {
    let mut request = format!("ws://127.0.0.1:{port}/api/v1/events{query}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("host", host(slug).parse().unwrap());
    if let Some(t) = token {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("websocket: {e}"),
    }
}

/// Every event kind received until `quiet` passes with nothing new.
async fn drain(socket: &mut Socket, quiet: Duration) -> Vec<Value> {
    let mut seen = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, socket.next()).await {
        if let Message::Text(text) = message {
            seen.push(serde_json::from_str(&text).unwrap());
        }
    }
    seen
}

async fn two_tenants(app: &TestApp) -> (String, String) {
    app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    (
        app.login("acme", "alice@acme.test").await,
        app.login("globex", "hank@globex.test").await,
    )
}

#[tokio::test]
async fn a_socket_receives_only_its_tenants_events_under_a_burst() {
    let app = spawn_app().await;
    let (alice, hank) = two_tenants(&app).await;
    let mut acme = connect(app.port, "acme", Some(&alice), "").await.unwrap();
    let mut globex = connect(app.port, "globex", Some(&hank), "").await.unwrap();
    // Whatever a client sends, it stays where it is.
    for text in [
        r#"{"subscribe":"globex"}"#,
        r#"{"tenant_id":2}"#,
        "globex.localhost",
    ] {
        acme.send(Message::Text(text.into())).await.unwrap();
    }
    let (acme_host, globex_host) = (host("acme"), host("globex"));
    let burst = (0..15).flat_map(|i| {
        [
            app.post(
                &acme_host,
                "/api/v1/jobs",
                Some(&alice),
                json!({"title": format!("acme-{i}")}),
            ),
            app.post(
                &globex_host,
                "/api/v1/jobs",
                Some(&hank),
                json!({"title": format!("globex-{i}")}),
            ),
        ]
    });
    for r in futures::future::join_all(burst).await {
        r.ok(201);
    }
    let got_acme = drain(&mut acme, Duration::from_secs(2)).await;
    let got_globex = drain(&mut globex, Duration::from_millis(500)).await;
    let titles = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| e["data"]["title"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(titles(&got_acme).len(), 15, "{got_acme:?}");
    assert!(
        titles(&got_acme).iter().all(|t| t.starts_with("acme-")),
        "{got_acme:?}"
    );
    assert_eq!(titles(&got_globex).len(), 15);
    assert!(titles(&got_globex).iter().all(|t| t.starts_with("globex-")));
    assert!(got_acme.iter().all(|e| e["kind"] == "job.created"));
}

#[tokio::test]
async fn events_cross_instances_and_respect_permissions_and_rollbacks() {
    let app = spawn_app().await;
    let (alice, _) = two_tenants(&app).await;
    let acme = app.engine().tenant("acme").await.unwrap();
    app.member(&acme, "eve@acme.test", "employee").await;
    let eve = app.login("acme", "eve@acme.test").await;
    // A second server instance on the same database.
    let other = start_server(app.engine().clone(), settings()).await;
    let mut owner_socket = connect(other, "acme", Some(&alice), "").await.unwrap();
    let mut employee_socket = connect(other, "acme", Some(&eve), "").await.unwrap();

    let engine = app.engine();
    let tx = engine.begin(&acme.as_ref()).await.unwrap();
    tx.publish(
        "candidate.created",
        Some("candidates.view"),
        json!({"id": 1}),
    )
    .await
    .unwrap();
    tx.publish("job.published", Some("jobs.view"), json!({"id": 2}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Rolled back: never published.
    let tx = engine.begin(&acme.as_ref()).await.unwrap();
    tx.publish("job.created", None, json!({"id": 99}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let owner_kinds: Vec<Value> = drain(&mut owner_socket, Duration::from_secs(2))
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    let employee_kinds: Vec<Value> = drain(&mut employee_socket, Duration::from_millis(500))
        .await
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(
        owner_kinds,
        [json!("candidate.created"), json!("job.published")]
    );
    assert_eq!(
        employee_kinds,
        [json!("job.published")],
        "an employee gets no candidate events"
    );
}

#[tokio::test]
async fn sockets_need_a_token_of_their_own_tenant_or_a_single_use_ticket() {
    let app = spawn_app().await;
    let (alice, hank) = two_tenants(&app).await;
    assert_eq!(connect(app.port, "acme", None, "").await.err(), Some(401));
    assert_eq!(
        connect(app.port, "acme", Some(&hank), "").await.err(),
        Some(401),
        "globex's token on acme"
    );
    assert_eq!(
        connect(app.port, "acme", None, "?ticket=nonsense")
            .await
            .err(),
        Some(401)
    );

    let ticket = app
        .post(
            &host("acme"),
            "/api/v1/events/ticket",
            Some(&alice),
            json!({}),
        )
        .await;
    let ticket = ticket.ok(201)["ticket"].as_str().unwrap().to_owned();
    assert_eq!(
        connect(app.port, "globex", None, &format!("?ticket={ticket}"))
            .await
            .err(),
        Some(401)
    );
    // The failed attempt on globex did not burn it; only a successful use does.
    let mut socket = connect(app.port, "acme", None, &format!("?ticket={ticket}")).await;
    assert!(
        socket.is_ok(),
        "the ticket opens an acme socket: {:?}",
        socket.as_ref().err()
    );
    assert_eq!(
        connect(app.port, "acme", None, &format!("?ticket={ticket}"))
            .await
            .err(),
        Some(401),
        "single use"
    );
    app.post(
        &host("acme"),
        "/api/v1/jobs",
        Some(&alice),
        json!({"title": "via ticket"}),
    )
    .await
    .ok(201);
    let got = drain(socket.as_mut().unwrap(), Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1);
}
