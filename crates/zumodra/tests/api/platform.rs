//! The platform host: admins only, allow-listed addresses only, everything audited.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn admins_manage_tenants_and_every_action_is_audited() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let r = app
        .post(
            "localhost",
            "/platform/v1/tenants",
            Some(&admin),
            json!({
                "slug": "initech", "name": "Initech", "plan": "starter",
                "owner_email": "bill@initech.test", "owner_password": PASSWORD
            }),
        )
        .await;
    let t = r.ok(201);
    assert_eq!(t["slug"], "initech");
    assert_eq!(t["status"], "active");
    assert_eq!(t["domains"][0]["domain"], "initech.localhost");
    // The owner can log in on the new tenant right away (no stale negative cache).
    app.login("initech", "bill@initech.test").await;

    app.post("localhost", "/platform/v1/tenants", Some(&admin), json!({
        "slug": "initech", "name": "Again", "plan": "free", "owner_email": "x@y.test", "owner_password": PASSWORD
    }))
    .await
    .expect(409, "conflict");
    let r = app.post("localhost", "/platform/v1/tenants", Some(&admin), json!({
        "slug": "www", "name": "W", "plan": "free", "owner_email": "x@y.test", "owner_password": PASSWORD
    }))
    .await;
    r.expect(422, "validation_failed");
    assert!(r.body["error"]["fields"]["slug"].is_string());

    let list = app
        .get("localhost", "/platform/v1/tenants", Some(&admin))
        .await;
    assert_eq!(list.ok(200)["items"].as_array().unwrap().len(), 1);
    app.get("localhost", "/platform/v1/tenants/initech", Some(&admin))
        .await
        .ok(200);
    app.get("localhost", "/platform/v1/tenants/nope", Some(&admin))
        .await
        .expect(404, "not_found");
    let r = app
        .patch(
            "localhost",
            "/platform/v1/tenants/initech",
            Some(&admin),
            json!({"name": "Initech Corp", "plan": "enterprise"}),
        )
        .await;
    assert_eq!(r.ok(200)["plan"], "enterprise");

    // Custom domains need the plan feature; enterprise has it.
    let r = app
        .post(
            "localhost",
            "/platform/v1/tenants/initech/domains",
            Some(&admin),
            json!({"domain": "jobs.initech.example"}),
        )
        .await;
    r.ok(201);
    let bill = app.login("initech", "bill@initech.test").await;
    let me = app
        .get("jobs.initech.example", "/api/v1/me", Some(&bill))
        .await;
    assert_eq!(me.ok(200)["tenant"]["slug"], "initech");
    let r = app
        .send(
            reqwest::Method::DELETE,
            "localhost",
            "/platform/v1/tenants/initech/domains",
            Some(&admin),
            Some(json!({"domain": "jobs.initech.example"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Gone from routing within a second.
    let started = std::time::Instant::now();
    loop {
        let r = app
            .get("jobs.initech.example", "/api/v1/me", Some(&bill))
            .await;
        if r.status == 404 {
            r.expect(404, "tenant_not_found");
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    for action in [
        "platform.login",
        "tenant.create",
        "tenants.list",
        "tenant.show",
        "tenant.update",
        "tenant.domain_add",
        "tenant.domain_remove",
    ] {
        assert!(
            !app.audit_rows(action).await.is_empty(),
            "{action} not audited"
        );
    }
}

#[tokio::test]
async fn custom_domains_need_the_feature() {
    let app = spawn_app().await;
    app.tenant_on("tiny", "tina@tiny.test", "free").await;
    let admin = app.admin_token().await;
    let r = app
        .post(
            "localhost",
            "/platform/v1/tenants/tiny/domains",
            Some(&admin),
            json!({"domain": "jobs.tiny.example"}),
        )
        .await;
    r.expect(403, "feature_not_in_plan");
    assert_eq!(r.body["error"]["feature"], "custom_domains");
}

#[tokio::test]
async fn non_admins_and_tenant_tokens_are_refused() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let alice = app.login("acme", "alice@acme.test").await;
    app.post(
        "localhost",
        "/platform/v1/auth/login",
        None,
        json!({"email": "alice@acme.test", "password": PASSWORD}),
    )
    .await
    .expect(401, "unauthenticated");
    app.get("localhost", "/platform/v1/tenants", Some(&alice))
        .await
        .expect(401, "unauthenticated");
    app.get("localhost", "/platform/v1/tenants", None)
        .await
        .expect(401, "unauthenticated");
    // Platform paths do not exist on tenant hosts, nor tenant paths on the platform.
    let admin = app.admin_token().await;
    app.get(&host("acme"), "/platform/v1/tenants", Some(&admin))
        .await
        .expect(404, "not_found");
    app.get("localhost", "/api/v1/jobs", Some(&admin))
        .await
        .expect(404, "not_found");
    // A demoted admin's session stops working.
    let su = app.db.superuser().await;
    su.execute(
        "update public.users set is_platform_admin = false where email = $1",
        &[&ADMIN],
    )
    .await
    .unwrap();
    let r = app
        .get("localhost", "/platform/v1/tenants", Some(&admin))
        .await;
    r.expect(403, "forbidden");
}

#[tokio::test]
async fn platform_endpoints_refuse_addresses_outside_the_allow_list() {
    let app = spawn_with(|s| {
        s.platform_allowlist = vec![zumodra::config::Cidr::parse("10.0.0.0/8").unwrap()];
    })
    .await;
    app.engine()
        .create_user(ADMIN, PASSWORD, "", true)
        .await
        .unwrap();
    let r = app
        .post(
            "localhost",
            "/platform/v1/auth/login",
            None,
            json!({"email": ADMIN, "password": PASSWORD}),
        )
        .await;
    r.expect(403, "ip_not_allowed");
    app.get("localhost", "/platform/v1/tenants", None)
        .await
        .expect(403, "ip_not_allowed");
    app.get("localhost", "/metrics", None)
        .await
        .expect(403, "ip_not_allowed");
    // Self-service sign-up is open to everyone.
    let r = app.post("localhost", "/platform/v1/signup", None, json!({"slug": "newco", "name": "NewCo", "email": "ceo@newco.test", "password": PASSWORD})).await;
    r.ok(201);
}

#[tokio::test]
async fn signup_makes_a_trial_tenant_and_is_rate_limited() {
    let app = spawn_app().await;
    let r = app.post("localhost", "/platform/v1/signup", None, json!({"slug": "newco", "name": "NewCo", "email": "ceo@newco.test", "password": PASSWORD})).await;
    let t = r.ok(201);
    assert_eq!(t["status"], "trial");
    assert_eq!(t["plan"], "free");
    let token = app.login("newco", "ceo@newco.test").await;
    let me = app.get(&host("newco"), "/api/v1/me", Some(&token)).await;
    assert_eq!(me.ok(200)["role"], "owner");
    assert_eq!(app.audit_rows("signup").await.len(), 1);
    // Someone else's e-mail without its password: refused.
    app.post("localhost", "/platform/v1/signup", None, json!({"slug": "evilco", "name": "Evil", "email": "ceo@newco.test", "password": "wrong password"}))
        .await
        .expect(409, "conflict");
    let mut last = None;
    for i in 0..5 {
        last = Some(app.post("localhost", "/platform/v1/signup", None, json!({"slug": format!("co{i}x"), "name": "Co", "email": format!("c{i}@co.test"), "password": PASSWORD})).await);
    }
    last.unwrap().expect(429, "rate_limited");
}
