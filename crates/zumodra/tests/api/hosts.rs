//! The `Host` header: unknown hosts, health checks on any host, and a randomized sweep
//! of odd hosts that must never reach a tenant they do not name, nor cause a 500.

use rand::Rng;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

#[tokio::test]
async fn unknown_hosts_are_tenant_not_found_without_detail() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    for h in [
        "ghost.localhost",
        "www.localhost",
        "a.b.localhost",
        "example.org",
        "127.0.0.1",
    ] {
        let r = app.get(h, "/api/v1/jobs", None).await;
        r.expect(404, "tenant_not_found");
        assert_eq!(
            r.body,
            json!({"error": {"code": "tenant_not_found", "message": "No organization is served at this address."}})
        );
        assert!(r.headers.get("x-request-id").is_some());
    }
    // Health checks answer on any host.
    app.get("ghost.localhost", "/healthz", None).await.ok(200);
    app.get("ghost.localhost", "/readyz", None).await.ok(200);
    app.get("acme.localhost", "/healthz", None).await.ok(200);
}

#[tokio::test]
async fn host_variants_reach_the_right_tenant() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    for h in [
        "acme.localhost",
        "ACME.LocalHost",
        "acme.localhost.",
        "acme.localhost:8080",
        "Acme.Localhost.:1",
    ] {
        let r = app.get(h, "/api/v1/me", Some(&alice)).await;
        assert_eq!(r.ok(200)["tenant"]["slug"], "acme", "{h}");
    }
    for h in [
        "globex.localhost",
        "GLOBEX.localhost.",
        "globex.localhost:80",
    ] {
        app.get(h, "/api/v1/me", Some(&alice))
            .await
            .expect(401, "unauthenticated");
    }
}

/// One raw HTTP/1.1 request with exactly this Host line (or none); the status code.
async fn raw_status(port: u16, host: Option<&[u8]>) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut req = b"GET /api/v1/jobs HTTP/1.1\r\n".to_vec();
    if let Some(h) = host {
        req.extend_from_slice(b"Host: ");
        req.extend_from_slice(h);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    stream.write_all(&req).await.unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn odd_hosts_get_only_400_or_404() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let mut cases: Vec<Vec<u8>> = [
        "",
        " ",
        ".",
        "..",
        ":",
        ":80",
        "localhost:",
        "localhost:99999999",
        "[::1]",
        "[::1]:8080",
        "::1",
        "[acme.localhost]",
        "acme..localhost",
        "acme.localhost..",
        "acme.localhost:80:80",
        "acme.localhost:port",
        "-acme.localhost",
        "acme-.localhost",
        "ac me.localhost",
        "acmé.localhost",
        "xn--acm-bpa.localhost",
        "ａｃｍｅ.localhost",
        "acme.localhost/x",
        "acme.localhost?x",
        "acme.localhost#",
        "user@acme.localhost",
        "acme%2elocalhost",
        "0.0.0.0",
        "255.255.255.255:1",
        "www.localhost",
        "public.localhost",
        "acme.acme.localhost",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    cases.push(vec![b'a'; 300]);
    cases.push(format!("{}.localhost", "a".repeat(64)).into_bytes());
    cases.push(format!("{}.localhost", "a.".repeat(2000)).into_bytes());
    cases.push(vec![0xff, 0xfe, b'.', b'l']);
    let alphabet: Vec<char> = "aAcme.-:[]_0123456789é ü%@".chars().collect();
    let mut rng = rand::thread_rng();
    for _ in 0..200 {
        let len = rng.gen_range(0..40);
        let s: String = (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect();
        // Random text that happens to normalize to the real tenant is a valid request.
        if s.to_lowercase().starts_with("acme") {
            continue;
        }
        cases.push(format!("{s}.localhost").into_bytes());
        cases.push(s.into_bytes());
    }
    for case in &cases {
        let status = raw_status(app.port, Some(case)).await;
        assert!(
            matches!(status, 400 | 404),
            "{:?} → {status}",
            String::from_utf8_lossy(case)
        );
    }
    let status = raw_status(app.port, None).await;
    assert!(matches!(status, 400 | 404), "no Host → {status}");
    // And the real one still works (401: no token, but the tenant was found).
    assert_eq!(raw_status(app.port, Some(b"acme.localhost")).await, 401);
}
