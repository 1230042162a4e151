//! Jobs: the first tenant resource and the pattern others copy.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn create_read_update_publish_close_delete() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");

    let r = app
        .post(
            &h,
            "/api/v1/jobs",
            Some(&t),
            json!({
                "title": "Engineer", "department": "R&D", "salary_min": 50000, "salary_max": 70000,
                "salary_currency": "eur", "deadline": "2030-01-31", "remote_policy": "hybrid"
            }),
        )
        .await;
    let job = r.ok(201).clone();
    let id = job["id"].as_i64().unwrap();
    assert_eq!(job["status"], "draft");
    assert_eq!(job["salary_currency"], "EUR");
    assert_eq!(job["deadline"], "2030-01-31");
    assert_eq!(job["version"], 1);

    let got = app.get(&h, &format!("/api/v1/jobs/{id}"), Some(&t)).await;
    assert_eq!(got.ok(200)["title"], "Engineer");

    let r = app
        .patch(
            &h,
            &format!("/api/v1/jobs/{id}"),
            Some(&t),
            json!({"title": "Staff Engineer", "deadline": null, "version": 1}),
        )
        .await;
    let changed = r.ok(200);
    assert_eq!(changed["title"], "Staff Engineer");
    assert_eq!(changed["deadline"], serde_json::Value::Null);
    assert_eq!(changed["department"], "R&D");
    assert_eq!(changed["version"], 2);
    // A stale version is a conflict.
    app.patch(
        &h,
        &format!("/api/v1/jobs/{id}"),
        Some(&t),
        json!({"title": "x", "version": 1}),
    )
    .await
    .expect(409, "conflict");

    let r = app
        .post(
            &h,
            &format!("/api/v1/jobs/{id}/publish"),
            Some(&t),
            json!({}),
        )
        .await;
    let published = r.ok(200);
    assert_eq!(published["status"], "open");
    assert!(published["published_at"].is_string());
    // The list writes its jobs from borrowed rows (issue #7), the single job from an
    // owned one: every field reads the same.
    let shown = app.get(&h, &format!("/api/v1/jobs/{id}"), Some(&t)).await;
    let listed = app.get(&h, "/api/v1/jobs", Some(&t)).await;
    assert_eq!(listed.ok(200)["items"][0], *shown.ok(200));
    assert_eq!(*shown.ok(200), *published);
    let r = app
        .post(&h, &format!("/api/v1/jobs/{id}/close"), Some(&t), json!({}))
        .await;
    assert_eq!(r.ok(200)["status"], "closed");
    app.patch(
        &h,
        &format!("/api/v1/jobs/{id}"),
        Some(&t),
        json!({"status": "cancelled"}),
    )
    .await
    .ok(200);
    app.post(
        &h,
        &format!("/api/v1/jobs/{id}/publish"),
        Some(&t),
        json!({}),
    )
    .await
    .expect(409, "conflict");

    assert_eq!(
        app.delete(&h, &format!("/api/v1/jobs/{id}"), Some(&t))
            .await
            .status,
        204
    );
    app.get(&h, &format!("/api/v1/jobs/{id}"), Some(&t))
        .await
        .expect(404, "not_found");
    app.delete(&h, &format!("/api/v1/jobs/{id}"), Some(&t))
        .await
        .expect(404, "not_found");
    // Ids that are not ids are just not found.
    app.get(&h, "/api/v1/jobs/abc", Some(&t))
        .await
        .expect(404, "not_found");
    app.get(&h, "/api/v1/jobs/-1", Some(&t))
        .await
        .expect(404, "not_found");
}

#[tokio::test]
async fn validation_lists_every_bad_field() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let r = app
        .post(
            &host("acme"),
            "/api/v1/jobs",
            Some(&t),
            json!({
                "salary_min": 10, "salary_max": 5, "salary_currency": "EUR", "positions": 0,
                "employment_type": "forever", "deadline": "someday"
            }),
        )
        .await;
    r.expect(422, "validation_failed");
    let fields = r.body["error"]["fields"].as_object().unwrap();
    for f in [
        "title",
        "salary_max",
        "positions",
        "employment_type",
        "deadline",
    ] {
        assert!(fields.contains_key(f), "{f}: {}", r.text);
    }
    // Wrong JSON types are a 400.
    app.post(
        &host("acme"),
        "/api/v1/jobs",
        Some(&t),
        json!({"title": 42}),
    )
    .await
    .expect(400, "invalid_json");
    app.get(&host("acme"), "/api/v1/jobs?status=nope", Some(&t))
        .await
        .expect(422, "validation_failed");
    app.get(&host("acme"), "/api/v1/jobs?cursor=garbage", Some(&t))
        .await
        .expect(422, "validation_failed");
}

#[tokio::test]
async fn keyset_pagination_and_status_filter() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");
    for i in 0..7 {
        let r = app
            .post(
                &h,
                "/api/v1/jobs",
                Some(&t),
                json!({"title": format!("Job {i}")}),
            )
            .await;
        let id = r.ok(201)["id"].as_i64().unwrap();
        if i % 2 == 0 {
            app.post(
                &h,
                &format!("/api/v1/jobs/{id}/publish"),
                Some(&t),
                json!({}),
            )
            .await
            .ok(200);
        }
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/jobs?limit=3&cursor={c}"),
            None => "/api/v1/jobs?limit=3".to_owned(),
        };
        let page = app.get(&h, &path, Some(&t)).await;
        let body = page.ok(200);
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|j| j["title"].as_str().unwrap().to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Job {i}")).collect();
    assert_eq!(seen, expected);

    let open = app.get(&h, "/api/v1/jobs?status=open", Some(&t)).await;
    let body = open.ok(200);
    assert_eq!(body["items"].as_array().unwrap().len(), 4);
    assert!(body["next_cursor"].is_null());
    // Limits above the maximum are lowered to it.
    app.get(&h, "/api/v1/jobs?limit=5000", Some(&t))
        .await
        .ok(200);
}

#[tokio::test]
async fn the_plan_limits_jobs() {
    let app = spawn_app().await;
    app.tenant_on("tiny", "tina@tiny.test", "free").await;
    let t = app.login("tiny", "tina@tiny.test").await;
    for i in 0..3 {
        app.post(
            &host("tiny"),
            "/api/v1/jobs",
            Some(&t),
            json!({"title": format!("Job {i}")}),
        )
        .await
        .ok(201);
    }
    let r = app
        .post(
            &host("tiny"),
            "/api/v1/jobs",
            Some(&t),
            json!({"title": "One too many"}),
        )
        .await;
    r.expect(403, "quota_exceeded");
    assert_eq!(r.body["error"]["limit"], "max_jobs");
}

#[tokio::test]
async fn viewers_read_but_do_not_write() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.member(&acme, "vic@acme.test", "viewer").await;
    let vic = app.login("acme", "vic@acme.test").await;
    app.get(&host("acme"), "/api/v1/jobs", Some(&vic))
        .await
        .ok(200);
    let r = app
        .post(
            &host("acme"),
            "/api/v1/jobs",
            Some(&vic),
            json!({"title": "Nope"}),
        )
        .await;
    r.expect(403, "forbidden");
    assert_eq!(r.body["error"]["permission"], "jobs.add");
}
