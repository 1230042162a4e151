//! Security checks (issue #8, part 4), the logs part: no token, WebSocket ticket,
//! export link signature or secret, or password appears in the server's logs, at the
//! production level (`info`) or at `trace`, with tokio-postgres's `log` records
//! bridged in as `telemetry::init` does. A binary of its own: the capture is a
//! thread-local subscriber, and tests running beside it in one process disturb
//! `tracing`'s callsite caches, so lines would go missing. The other security checks
//! are in `tests/api/security.rs`; `docs/reliability.md` ("Security checks") says what
//! each proves.

// Test support code panics on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use serde_json::json;
use zumodra::config::LogFormat;

use crate::helpers::*;

/// A log sink the test can read.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The `log` crate's records (tokio-postgres writes through it) into `tracing`, as the
/// server's own `telemetry::init` arranges.
fn bridge_log() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = tracing_log::LogTracer::init();
    });
}

async fn ws_connect(port: u16, query: &str) -> bool {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://127.0.0.1:{port}/api/v1/events{query}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("host", "acme.localhost".parse().unwrap());
    tokio_tungstenite::connect_async(request).await.is_ok()
}

/// Everything that issues or takes a secret, with logs captured at `level`; returns
/// the secrets seen on the wire.
async fn issue_secrets(app: &TestApp) -> Vec<String> {
    let mut secrets = vec![PASSWORD.to_owned()];
    let h = host("acme");
    let alice = app.login("acme", "alice@acme.test").await;
    secrets.push(alice.clone());
    // A failed login's password.
    let wrong = "Wrong-Password-7d1e";
    app.post(
        &h,
        "/api/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": wrong}),
    )
    .await
    .expect(401, "unauthenticated");
    secrets.push(wrong.into());
    // Authenticated work, including a failing request.
    app.get(&h, "/api/v1/me", Some(&alice)).await.ok(200);
    app.post(&h, "/api/v1/jobs", Some(&alice), json!({"title": "Logged"}))
        .await
        .ok(201);
    app.get(&host("globex"), "/api/v1/me", Some(&alice))
        .await
        .expect(401, "unauthenticated");
    // A new member's password.
    let member_pw = "Member-Secret-41c9";
    app.post(
        &h,
        "/api/v1/members",
        Some(&alice),
        json!({"email": "new@acme.test", "role": "viewer", "password": member_pw}),
    )
    .await
    .ok(201);
    secrets.push(member_pw.into());
    // Platform: the admin's token, a new tenant's owner password, a sign-up's.
    let admin = app.admin_token().await;
    secrets.push(admin.clone());
    let owner_pw = "Owner-Secret-90ab";
    app.post(
        "localhost",
        "/platform/v1/tenants",
        Some(&admin),
        json!({"slug": "newco", "name": "NewCo", "plan": "free", "owner_email": "o@newco.test", "owner_password": owner_pw}),
    )
    .await
    .ok(201);
    secrets.push(owner_pw.into());
    let signup_pw = "Signup-Secret-55f2";
    app.post(
        "localhost",
        "/platform/v1/signup",
        None,
        json!({"slug": "selfco", "name": "SelfCo", "email": "me@selfco.test", "password": signup_pw}),
    )
    .await
    .ok(201);
    secrets.push(signup_pw.into());
    // Impersonation: the token, used.
    let r = app
        .post(
            "localhost",
            "/platform/v1/tenants/acme/impersonate",
            Some(&admin),
            json!({"reason": "ticket 42"}),
        )
        .await;
    let imp = r.ok(200)["token"].as_str().unwrap().to_owned();
    app.get(&h, "/api/v1/me", Some(&imp)).await.ok(200);
    secrets.push(imp);
    // A WebSocket ticket, used.
    let r = app
        .post(&h, "/api/v1/events/ticket", Some(&alice), json!({}))
        .await;
    let ticket = r.ok(201)["ticket"].as_str().unwrap().to_owned();
    assert!(ws_connect(app.port, &format!("?ticket={ticket}")).await);
    secrets.push(ticket);
    // An export: the link's signature and the secret it is made from, used.
    let r = app
        .post(&h, "/api/v1/exports", Some(&alice), json!({}))
        .await;
    let id = r.ok(202)["id"].as_i64().unwrap();
    let started = Instant::now();
    let url = loop {
        let r = app
            .get(&h, &format!("/api/v1/exports/{id}"), Some(&alice))
            .await;
        let body = r.ok(200).clone();
        if body["status"] == "done" {
            break body["download_url"].as_str().unwrap().to_owned();
        }
        assert_ne!(body["status"], "failed", "{body}");
        assert!(started.elapsed() < Duration::from_secs(20), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sig = url.split("sig=").nth(1).unwrap().to_owned();
    let r = app
        .client
        .get(format!("http://127.0.0.1:{}{url}", app.port))
        .header("host", &h)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    secrets.push(sig);
    let su = app.db.superuser().await;
    let secret: String = su
        .query_one(
            "select payload->>'secret' from public.jobs where id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    secrets.push(secret);
    // Log out (the token is presented once more).
    app.post(&h, "/api/v1/auth/logout", Some(&alice), json!({}))
        .await;
    secrets
}

#[tokio::test]
async fn no_token_ticket_signature_or_password_reaches_the_logs() {
    bridge_log();
    for level in ["info", "trace"] {
        let sink = Capture::default();
        // The production filter at `level`, minus this test's own WebSocket client,
        // which logs the request it sends (ticket included) at trace.
        let spec = format!("{level},tungstenite::handshake::client=off");
        let subscriber = zumodra::telemetry::subscriber(
            LogFormat::Json,
            zumodra::telemetry::filter(&spec),
            sink.clone(),
        );
        // This test's runtime runs on this thread only (the server included), so a
        // thread-local subscriber sees every line the server writes.
        let guard = tracing::subscriber::set_default(subscriber);
        let dir = std::env::temp_dir().join(format!(
            "zumodra-security-logs-{}-{level}",
            std::process::id()
        ));
        let data_dir = dir.clone();
        let app = spawn_with(move |s| s.data_dir = data_dir).await;
        app.tenant("acme", "alice@acme.test").await;
        app.tenant("globex", "hank@globex.test").await;
        let secrets = issue_secrets(&app).await;
        drop(guard);
        let logs = String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned();
        let lines = logs.lines().count();
        assert!(
            logs.contains("logged in") && lines > 20,
            "the capture works at {level}: {lines} lines"
        );
        for secret in &secrets {
            if let Some(line) = logs.lines().find(|l| l.contains(secret.as_str())) {
                panic!(
                    "{level}: a secret is in the logs: {}",
                    &line[..line.len().min(400)]
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!(
            "security/logs at {level}: {lines} lines, {} secrets checked, none found",
            secrets.len()
        );
    }
    // A sanity check of the check: a secret that is logged is found.
    let sink = Capture::default();
    let guard = tracing::subscriber::set_default(zumodra::telemetry::subscriber(
        LogFormat::Json,
        zumodra::telemetry::filter("info"),
        sink.clone(),
    ));
    tracing::info!(token = "canary-1234", "a line that leaks");
    drop(guard);
    assert!(String::from_utf8_lossy(&sink.0.lock().unwrap()).contains("canary-1234"));
}
