//! Plan limits on every path that creates the counted thing, under concurrency, and the
//! audit rows of jobs and members.

use serde_json::json;

use crate::helpers::*;
use crate::product::*;

#[tokio::test]
async fn racing_job_creates_at_the_limit_exactly_one_wins() {
    let app = spawn_app().await;
    // Free: 3 jobs.
    let acme = app.tenant_on("acme", "alice@acme.test", "free").await;
    let h = host("acme");
    let t = app.login("acme", "alice@acme.test").await;
    for i in 0..2 {
        app.post(
            &h,
            "/api/v1/jobs",
            Some(&t),
            json!({"title": format!("J{i}")}),
        )
        .await
        .ok(201);
    }
    let (a, b) = tokio::join!(
        app.post(&h, "/api/v1/jobs", Some(&t), json!({"title": "A"})),
        app.post(&h, "/api/v1/jobs", Some(&t), json!({"title": "B"})),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 403], "{} / {}", a.text, b.text);
    let loser = if a.status == 403 { &a } else { &b };
    assert_eq!(
        (loser.code(), loser.body["error"]["limit"].as_str()),
        ("quota_exceeded", Some("max_jobs"))
    );
    // Reopening a closed job counts too.
    let jobs = app.get(&h, "/api/v1/jobs", Some(&t)).await;
    let first = jobs.ok(200)["items"][0]["id"].as_i64().unwrap();
    app.post(
        &h,
        &format!("/api/v1/jobs/{first}/close"),
        Some(&t),
        json!({}),
    )
    .await
    .ok(200);
    app.post(&h, "/api/v1/jobs", Some(&t), json!({"title": "C"}))
        .await
        .ok(201);
    app.post(
        &h,
        &format!("/api/v1/jobs/{first}/publish"),
        Some(&t),
        json!({}),
    )
    .await
    .expect(403, "quota_exceeded");
    let rows: Vec<_> = audit(&app, &acme)
        .await
        .into_iter()
        .map(|(a, e, _)| format!("{a} {e}"))
        .collect();
    assert_eq!(
        rows,
        [
            "create job",
            "create job",
            "create job",
            "close job",
            "create job"
        ]
    );
}

#[tokio::test]
async fn candidates_per_month_hold_on_the_api_and_the_careers_page() {
    let app = spawn_app().await;
    let acme = app.tenant_on("acme", "alice@acme.test", "free").await;
    let h = host("acme");
    let t = app.login("acme", "alice@acme.test").await;
    let job = open_job(&app, &h, &t, "Engineer").await;
    let tx = app.engine().begin(&acme.as_ref()).await.unwrap();
    tx.execute(
        "insert into ats_candidate (name, email) select 'C', 'c' || g || '@x.test' from generate_series(1, 49) g",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let apply = format!("/api/v1/public/jobs/{job}/apply");
    let (a, b) = tokio::join!(
        app.post(
            &h,
            &apply,
            None,
            json!({"name": "A", "email": "a@example.com"})
        ),
        app.post(
            &h,
            "/api/v1/candidates",
            Some(&t),
            json!({"name": "B", "email": "b@example.com"})
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 403], "{} / {}", a.text, b.text);
    // An existing candidate may still apply: no new candidate is counted.
    let r = app
        .post(
            &h,
            &apply,
            None,
            json!({"name": "C1", "email": "c1@x.test"}),
        )
        .await;
    r.ok(201);
    let usage = app.get(&h, "/api/v1/usage", Some(&t)).await;
    let limits = usage.ok(200)["limits"].as_array().unwrap().clone();
    let c = limits
        .iter()
        .find(|l| l["limit"] == "max_candidates_per_month")
        .unwrap();
    assert_eq!(
        (c["used"].as_i64(), c["max"].as_i64()),
        (Some(50), Some(50))
    );
}

#[tokio::test]
async fn racing_member_adds_at_the_limit_exactly_one_wins_and_are_audited() {
    let app = spawn_app().await;
    // Free: 3 users; the owner plus one member leaves room for one.
    let acme = app.tenant_on("acme", "alice@acme.test", "free").await;
    let h = host("acme");
    app.member(&acme, "bob@acme.test", "viewer").await;
    let t = app.login("acme", "alice@acme.test").await;
    let (a, b) = tokio::join!(
        app.post(
            &h,
            "/api/v1/members",
            Some(&t),
            json!({"email": "c@acme.test", "role": "viewer", "password": PASSWORD})
        ),
        app.post(
            &h,
            "/api/v1/members",
            Some(&t),
            json!({"email": "d@acme.test", "role": "viewer", "password": PASSWORD})
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 403], "{} / {}", a.text, b.text);
    let rows: Vec<_> = audit(&app, &acme)
        .await
        .into_iter()
        .map(|(a, e, _)| format!("{a} {e}"))
        .collect();
    assert_eq!(rows, ["create member"]);
}

#[tokio::test]
async fn the_plan_request_rate_is_per_tenant() {
    let app = spawn_app().await;
    let su = app.db.superuser().await;
    su.execute(
        "update public.plans set requests_per_minute = 5 where code = 'free'",
        &[],
    )
    .await
    .unwrap();
    app.tenant_on("acme", "alice@acme.test", "free").await;
    app.tenant("globex", "gus@globex.test").await;
    for _ in 0..5 {
        app.get(&host("acme"), "/api/v1/public/jobs", None)
            .await
            .ok(200);
    }
    let r = app.get(&host("acme"), "/api/v1/public/jobs", None).await;
    r.expect(429, "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another tenant is not slowed down by acme's traffic.
    for _ in 0..10 {
        app.get(&host("globex"), "/api/v1/public/jobs", None)
            .await
            .ok(200);
    }
}

#[tokio::test]
async fn usage_is_per_tenant_and_open_to_every_member() {
    let app = spawn_app().await;
    let acme = app.tenant_on("acme", "alice@acme.test", "starter").await;
    app.tenant("globex", "gus@globex.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    open_job(&app, &h, &members[0].2, "Engineer").await;
    candidate(&app, &h, &members[0].2, "a@example.com").await;
    for (role, _, token) in &members {
        let r = app.get(&h, "/api/v1/usage", Some(token)).await;
        let body = r.ok(200).clone();
        assert_eq!(body["plan"], "starter", "{role}");
        let used = |name: &str| {
            body["limits"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["limit"] == name)
                .unwrap()["used"]
                .as_i64()
        };
        assert_eq!(
            (
                used("max_users"),
                used("max_jobs"),
                used("max_candidates_per_month")
            ),
            (Some(7), Some(1), Some(1))
        );
    }
    let g = app.login("globex", "gus@globex.test").await;
    let r = app.get(&host("globex"), "/api/v1/usage", Some(&g)).await;
    let body = r.ok(200).clone();
    let used: Vec<_> = body["limits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["used"].as_i64().unwrap())
        .collect();
    assert_eq!(used, [1, 0, 0, 0], "globex counts only its own");
    app.get(&h, "/api/v1/usage", None)
        .await
        .expect(401, "unauthenticated");
}
