//! Graceful shutdown: a request in flight when the stop signal arrives still gets its
//! answer; new connections are refused afterwards.

use std::time::Duration;

use serde_json::json;
use zumodra::Application;

use crate::helpers::*;

#[tokio::test]
async fn in_flight_requests_finish_before_the_server_stops() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let server = Application::with_engine(settings(), app.engine().clone())
        .await
        .unwrap();
    let port = server.port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async {
        let _ = stop_rx.await;
    }));

    // A login spends tens of milliseconds in argon2: stop while it runs.
    let client = app.client.clone();
    let in_flight = tokio::spawn(async move {
        send(
            &client,
            port,
            reqwest::Method::POST,
            "acme.localhost",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "alice@acme.test", "password": PASSWORD})),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    stop_tx.send(()).unwrap();
    let r = in_flight.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}
