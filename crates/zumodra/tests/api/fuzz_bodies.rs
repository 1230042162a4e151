//! Random JSON bodies (and a few non-JSON ones) to every POST/PATCH endpoint: the
//! answer is always 2xx or 4xx with a typed error body, never a 5xx. The bodies come
//! from the strategies of `tests/fuzz_support` (the ones `tests/fuzz.rs` checks
//! in-process). `PROPTEST_CASES=N` sets the bodies per endpoint (default 24). Random
//! `Host` headers are in `hosts.rs`; here only the forwarded host of a trusted proxy.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

#[path = "../fuzz_support/mod.rs"]
mod fuzz_support;

use fuzz_support::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// `n` values drawn from `strategy` (no shrinking: the failing body is printed whole).
fn draw<S: Strategy>(strategy: S, n: u32) -> Vec<S::Value> {
    let mut runner = TestRunner::new(Config::default());
    (0..n)
        .filter_map(|_| strategy.new_tree(&mut runner).ok().map(|t| t.current()))
        .collect()
}

#[track_caller]
fn assert_typed(method: &Method, path: &str, body: &Value, r: &Resp) {
    assert!(
        r.status < 500,
        "{method} {path} {body} → {} {}",
        r.status,
        r.text
    );
    if r.status >= 400 {
        assert!(
            !r.code().is_empty(),
            "{method} {path} {body} → {} untyped: {}",
            r.status,
            r.text
        );
    }
}

/// Send bodies to one endpoint; each also as raw text with a random cut, so truncated
/// JSON is covered.
async fn sweep(
    app: &TestApp,
    host: &str,
    token: &str,
    method: Method,
    path: &str,
    fields: &'static [&'static str],
) {
    let n = cases();
    for (i, b) in draw(body(fields), n).into_iter().enumerate() {
        let r = app
            .send(method.clone(), host, path, Some(token), Some(b.clone()))
            .await;
        assert_typed(&method, path, &b, &r);
        if i % 4 == 0 {
            let text = b.to_string();
            let cut = &text.as_bytes()[..text.len() / 2];
            let r = app
                .client
                .request(
                    method.clone(),
                    format!("http://127.0.0.1:{}{path}", app.port),
                )
                .header("host", host)
                .header("content-type", "application/json")
                .bearer_auth(token)
                .body(cut.to_vec())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            assert!(
                (400..500).contains(&status),
                "{method} {path} cut {:?} → {status} {text}",
                String::from_utf8_lossy(cut)
            );
        }
    }
}

#[tokio::test]
async fn random_bodies_to_tenant_endpoints_are_never_5xx() {
    let app = spawn_app().await;
    let tenant = app.tenant("acme", "alice@acme.test").await;
    let bob = app.member(&tenant, "bob@acme.test", "employee").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");
    // One of everything, so ids in the bodies and paths hit real rows.
    let job = app
        .post(&h, "/api/v1/jobs", Some(&t), json!({"title": "Engineer"}))
        .await;
    let job = job.ok(201)["id"].as_i64().unwrap();
    app.post(
        &h,
        &format!("/api/v1/jobs/{job}/publish"),
        Some(&t),
        json!({}),
    )
    .await;
    let cand = app
        .post(
            &h,
            "/api/v1/candidates",
            Some(&t),
            json!({"name": "Cara", "email": "cara@x.io"}),
        )
        .await;
    let cand = cand.ok(201)["id"].as_i64().unwrap();
    let appl = app
        .post(
            &h,
            "/api/v1/applications",
            Some(&t),
            json!({"job_id": job, "candidate_id": cand}),
        )
        .await;
    let appl = appl.ok(201)["id"].as_i64().unwrap();
    let emp = app
        .post(
            &h,
            "/api/v1/employees",
            Some(&t),
            json!({"name": "Bob", "email": "bob@acme.test", "user_id": bob}),
        )
        .await;
    let emp = emp.ok(201)["id"].as_i64().unwrap();
    let svc = app
        .post(
            &h,
            "/api/v1/services",
            Some(&t),
            json!({"title": "Payroll"}),
        )
        .await;
    let svc = svc.ok(201)["id"].as_i64().unwrap();
    let off = app
        .post(
            &h,
            "/api/v1/time-off",
            Some(&t),
            json!({"employee_id": emp, "kind": "sick", "start_date": "2030-01-07", "end_date": "2030-01-08"}),
        )
        .await;
    let off = off.body["id"].as_i64().unwrap_or(1);

    const MEMBER: &[&str] = &["email", "role", "password", "active"];
    const SETTINGS: &[&str] = &["pipeline_stages", "timezone", "branding"];
    const APPLY: &[&str] = &["name", "email", "resume_text"];
    const IMPORT: &[&str] = &["candidates"];
    const REASON: &[&str] = &["reason", "note", "version"];
    let (post, patch) = (Method::POST, Method::PATCH);
    let endpoints: Vec<(Method, String, &'static [&'static str])> = vec![
        (post.clone(), "/api/v1/jobs".into(), JOB_FIELDS),
        (patch.clone(), format!("/api/v1/jobs/{job}"), JOB_FIELDS),
        (post.clone(), "/api/v1/candidates".into(), CANDIDATE_FIELDS),
        (
            patch.clone(),
            format!("/api/v1/candidates/{cand}"),
            CANDIDATE_FIELDS,
        ),
        (post.clone(), "/api/v1/candidates/import".into(), IMPORT),
        (
            post.clone(),
            "/api/v1/applications".into(),
            APPLICATION_FIELDS,
        ),
        (
            patch.clone(),
            format!("/api/v1/applications/{appl}"),
            APPLICATION_FIELDS,
        ),
        (
            post.clone(),
            format!("/api/v1/applications/{appl}/move"),
            APPLICATION_FIELDS,
        ),
        (post.clone(), "/api/v1/employees".into(), EMPLOYEE_FIELDS),
        (
            patch.clone(),
            format!("/api/v1/employees/{emp}"),
            EMPLOYEE_FIELDS,
        ),
        (post.clone(), "/api/v1/time-off".into(), TIME_OFF_FIELDS),
        (
            post.clone(),
            format!("/api/v1/time-off/{off}/approve"),
            REASON,
        ),
        (
            post.clone(),
            format!("/api/v1/time-off/{off}/reject"),
            REASON,
        ),
        (post.clone(), "/api/v1/services".into(), SERVICE_FIELDS),
        (
            patch.clone(),
            format!("/api/v1/services/{svc}"),
            SERVICE_FIELDS,
        ),
        (post.clone(), "/api/v1/members".into(), MEMBER),
        (patch.clone(), format!("/api/v1/members/{bob}"), MEMBER),
        (patch.clone(), "/api/v1/settings".into(), SETTINGS),
        (
            post.clone(),
            format!("/api/v1/public/jobs/{job}/apply"),
            APPLY,
        ),
        (post.clone(), "/api/v1/auth/login".into(), MEMBER),
    ];
    for (method, path, fields) in endpoints {
        sweep(&app, &h, &t, method, &path, fields).await;
    }
    // The owner can still work: nothing above broke the tenant.
    app.get(&h, "/api/v1/jobs", Some(&t)).await.ok(200);
}

#[tokio::test]
async fn random_bodies_to_platform_endpoints_are_never_5xx() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let admin = app.admin_token().await;
    const TENANT: &[&str] = &[
        "slug",
        "name",
        "plan",
        "owner_email",
        "owner_password",
        "maintenance",
    ];
    const SIGNUP: &[&str] = &["slug", "name", "email", "password"];
    const OTHER: &[&str] = &["on", "reason", "user_id", "ttl_secs", "domain"];
    let post = Method::POST;
    let endpoints: Vec<(Method, &str, &'static [&'static str])> = vec![
        (post.clone(), "/platform/v1/tenants", TENANT),
        (Method::PATCH, "/platform/v1/tenants/acme", TENANT),
        (post.clone(), "/platform/v1/signup", SIGNUP),
        (post.clone(), "/platform/v1/tenants/acme/maintenance", OTHER),
        (post.clone(), "/platform/v1/tenants/acme/impersonate", OTHER),
        (post.clone(), "/platform/v1/tenants/acme/domains", OTHER),
        (post.clone(), "/platform/v1/auth/login", SIGNUP),
    ];
    for (method, path, fields) in endpoints {
        sweep(&app, "localhost", &admin, method, path, fields).await;
    }
}

#[tokio::test]
async fn random_forwarded_hosts_from_a_trusted_proxy_get_only_400_or_404() {
    let app = spawn_with(|s| {
        s.trusted_proxies = vec![zumodra::config::Cidr::parse("127.0.0.1/32").unwrap()]
    })
    .await;
    app.tenant("acme", "alice@acme.test").await;
    for raw in draw(host_text(), cases() * 4) {
        // Random text that happens to name the real tenant is a valid request.
        if normalize_is_acme(&raw) {
            continue;
        }
        // A value that is not visible ASCII is unreadable, and `raw_host` then falls back
        // to `Host` (here the real tenant): that case is `raw_host`'s, in tests/fuzz.rs.
        let Ok(value) = reqwest::header::HeaderValue::from_str(&raw) else {
            continue;
        };
        if value.to_str().is_err() {
            continue;
        }
        let r = app
            .client
            .get(format!("http://127.0.0.1:{}/api/v1/jobs", app.port))
            .header("host", "acme.localhost")
            .header("x-forwarded-host", value)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert!(matches!(status, 400 | 404), "{raw:?} → {status}");
    }
}

fn normalize_is_acme(raw: &str) -> bool {
    let first = raw.split(',').next().unwrap_or("");
    zumodra::tenants::host::normalize(first).as_deref() == Some("acme.localhost")
}
