//! Authentication bound to the tenant (SPEC §2.5, §2.6).

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn bad_logins_all_get_the_same_401() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "hank@globex.test").await;
    let disabled = app.member(&acme, "dis@acme.test", "viewer").await;
    let su = app.db.superuser().await;
    su.execute(
        "update public.users set disabled = true where id = $1",
        &[&disabled],
    )
    .await
    .unwrap();

    let attempt = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.post(
                &host("globex"),
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await
        }
    };
    let wrong = attempt("hank@globex.test", "not the password").await;
    wrong.expect(401, "unauthenticated");
    // alice exists (in acme), with the right password, but is not a member of globex.
    let non_member = attempt("alice@acme.test", PASSWORD).await;
    let unknown = attempt("nobody@nowhere.test", PASSWORD).await;
    assert_eq!(wrong.text, non_member.text);
    assert_eq!(wrong.text, unknown.text);
    // Disabled users cannot log in anywhere.
    let r = app
        .post(
            &host("acme"),
            "/api/v1/auth/login",
            None,
            json!({"email": "dis@acme.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.text, wrong.text);
    // But alice can log in at home, case-insensitively.
    let r = app
        .post(
            &host("acme"),
            "/api/v1/auth/login",
            None,
            json!({"email": "Alice@Acme.test", "password": PASSWORD}),
        )
        .await;
    let body = r.ok(200);
    assert_eq!(body["token"].as_str().unwrap().len(), 64);
    assert!(body["expires_at"].is_string());
}

#[tokio::test]
async fn a_token_on_another_tenants_host_is_refused_counted_and_audited() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let globex = app.tenant("globex", "hank@globex.test").await;
    let alice = app.login("acme", "alice@acme.test").await;

    let bad_token = "0".repeat(64);
    let foreign = app.get(&host("globex"), "/api/v1/jobs", Some(&alice)).await;
    let bad = app
        .get(&host("globex"), "/api/v1/jobs", Some(&bad_token))
        .await;
    let none = app.get(&host("globex"), "/api/v1/jobs", None).await;
    foreign.expect(401, "unauthenticated");
    assert_eq!(foreign.text, bad.text);
    assert_eq!(foreign.text, none.text);

    let rows = app.audit_rows("cross_tenant_token").await;
    assert_eq!(rows.len(), 1);
    let (actor, tenant, address, detail) = &rows[0];
    let alice_id = app
        .engine()
        .user_by_email("alice@acme.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(*actor, Some(alice_id));
    assert_eq!(*tenant, Some(globex.id.0));
    assert_eq!(address.as_deref(), Some("127.0.0.1"));
    assert_eq!(detail["token_tenant"], acme.id.0);

    // Counted in the metric.
    let metrics = app.get("localhost", "/metrics", None).await;
    assert!(
        metrics
            .text
            .contains("zumodra_cross_tenant_attempts_total 1"),
        "{}",
        metrics.text
    );
    // And the token still works at home.
    app.get(&host("acme"), "/api/v1/jobs", Some(&alice))
        .await
        .ok(200);
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    app.get(&host("acme"), "/api/v1/me", Some(&alice))
        .await
        .ok(200);
    let r = app
        .send(
            reqwest::Method::POST,
            &host("acme"),
            "/api/v1/auth/logout",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get(&host("acme"), "/api/v1/me", Some(&alice))
        .await
        .expect(401, "unauthenticated");
}

#[tokio::test]
async fn expired_sessions_are_refused() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let su = app.db.superuser().await;
    su.execute(
        "update public.sessions set expires_at = now() - interval '1 second'",
        &[],
    )
    .await
    .unwrap();
    app.get(&host("acme"), "/api/v1/me", Some(&alice))
        .await
        .expect(401, "unauthenticated");
}

#[tokio::test]
async fn brute_force_is_rate_limited_per_email() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let mut last = None;
    for _ in 0..11 {
        last = Some(
            app.post(
                &host("acme"),
                "/api/v1/auth/login",
                None,
                json!({"email": "alice@acme.test", "password": "guess guess"}),
            )
            .await,
        );
    }
    let r = last.unwrap();
    r.expect(429, "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    // Even the right password is refused while limited.
    app.post(
        &host("acme"),
        "/api/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": PASSWORD}),
    )
    .await
    .expect(429, "rate_limited");
}

#[tokio::test]
async fn roles_hold_per_tenant() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let globex = app.tenant("globex", "hank@globex.test").await;
    // alice: owner in acme, recruiter in globex.
    app.member(&globex, "alice@acme.test", "recruiter").await;
    let in_acme = app.login("acme", "alice@acme.test").await;
    let in_globex = app.login("globex", "alice@acme.test").await;

    let me = app
        .get(&host("globex"), "/api/v1/me", Some(&in_globex))
        .await;
    assert_eq!(me.ok(200)["role"], "recruiter");
    let me = app.get(&host("acme"), "/api/v1/me", Some(&in_acme)).await;
    assert_eq!(me.ok(200)["role"], "owner");

    // Recruiter rights in globex: create and change jobs, but not delete them, nor
    // manage members.
    let job = app
        .post(
            &host("globex"),
            "/api/v1/jobs",
            Some(&in_globex),
            json!({"title": "Engineer"}),
        )
        .await;
    let id = job.ok(201)["id"].as_i64().unwrap();
    let r = app
        .delete(
            &host("globex"),
            &format!("/api/v1/jobs/{id}"),
            Some(&in_globex),
        )
        .await;
    r.expect(403, "forbidden");
    assert_eq!(r.body["error"]["permission"], "jobs.delete");
    app.post(
        &host("globex"),
        "/api/v1/members",
        Some(&in_globex),
        json!({"email": "x@y.test", "role": "viewer", "password": PASSWORD}),
    )
    .await
    .expect(403, "forbidden");
    // Owner rights in acme.
    let job = app
        .post(
            &host("acme"),
            "/api/v1/jobs",
            Some(&in_acme),
            json!({"title": "Engineer"}),
        )
        .await;
    let id = job.ok(201)["id"].as_i64().unwrap();
    let r = app
        .delete(&host("acme"), &format!("/api/v1/jobs/{id}"), Some(&in_acme))
        .await;
    assert_eq!(r.status, 204);
}
