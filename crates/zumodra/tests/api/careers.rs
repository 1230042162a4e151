//! The public careers API and the HTML careers page.

use serde_json::json;

use crate::helpers::*;
use crate::product::*;

async fn form_post(
    app: &TestApp,
    host: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let r = app
        .client
        .post(format!("http://127.0.0.1:{}{path}", app.port))
        .header("host", host)
        .form(fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn page(app: &TestApp, host: &str) -> (u16, String, String) {
    let r = app
        .client
        .get(format!("http://127.0.0.1:{}/careers", app.port))
        .header("host", host)
        .send()
        .await
        .unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), ct, r.text().await.unwrap())
}

#[tokio::test]
async fn public_api_shows_open_jobs_only_and_applies() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");
    let open = open_job(&app, &h, &t, "Engineer").await;
    let draft = app
        .post(&h, "/api/v1/jobs", Some(&t), json!({"title": "Secret"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let globex_job = open_job(&app, &host("globex"), &g, "Globex only").await;

    let list = app.get(&h, "/api/v1/public/jobs", None).await;
    let items = list.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], open);
    assert!(items[0].get("created_by").is_none() && items[0].get("status").is_none());
    app.get(&h, &format!("/api/v1/public/jobs/{draft}"), None)
        .await
        .expect(404, "not_found");
    app.get(&h, &format!("/api/v1/public/jobs/{open}"), None)
        .await
        .ok(200);
    // Globex's open job has id 1 as well, but globex's host shows only globex's job.
    let gl = app.get(&host("globex"), "/api/v1/public/jobs", None).await;
    let gl = gl.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(
        (gl.len(), gl[0]["title"].as_str()),
        (1, Some("Globex only"))
    );
    let _ = globex_job;

    let apply = format!("/api/v1/public/jobs/{open}/apply");
    let r = app
        .post(
            &h,
            &apply,
            None,
            json!({"name": "Pat", "email": "pat@example.com", "resume_text": "Rust"}),
        )
        .await;
    assert_eq!(r.ok(201)["received"], true);
    app.post(
        &h,
        &apply,
        None,
        json!({"name": "Pat", "email": "PAT@example.com"}),
    )
    .await
    .expect(409, "conflict");
    let r = app.post(&h, &apply, None, json!({"email": "nope"})).await;
    r.expect(422, "validation_failed");
    assert!(
        r.body["error"]["fields"]["name"].is_string()
            && r.body["error"]["fields"]["email"].is_string()
    );
    app.post(
        &h,
        &format!("/api/v1/public/jobs/{draft}/apply"),
        None,
        json!({"name": "P", "email": "p@example.com"}),
    )
    .await
    .expect(404, "not_found");
    // The same person applying to a second job reuses the candidate.
    let second = open_job(&app, &h, &t, "Designer").await;
    app.post(
        &h,
        &format!("/api/v1/public/jobs/{second}/apply"),
        None,
        json!({"name": "Pat", "email": "pat@example.com"}),
    )
    .await
    .ok(201);
    let cands = app.get(&h, "/api/v1/candidates?q=pat@", Some(&t)).await;
    let cands = cands.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(cands.len(), 1);
    assert_eq!(cands[0]["source"], "career_page");
    let apps = app
        .get(
            &h,
            &format!("/api/v1/applications?candidate_id={}", cands[0]["id"]),
            Some(&t),
        )
        .await;
    let apps = apps.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(apps.len(), 2);
    assert!(apps.iter().all(|a| a["stage"] == "new"));
    // Nothing reached globex.
    let gc = app
        .get(&host("globex"), "/api/v1/candidates", Some(&g))
        .await;
    assert!(gc.ok(200)["items"].as_array().unwrap().is_empty());
    let rows = audit(&app, &acme).await;
    let public: Vec<_> = rows.iter().filter(|(a, _, _)| a == "apply").collect();
    assert_eq!(public.len(), 2);
}

#[tokio::test]
async fn applying_is_rate_limited_per_address() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");
    let job = open_job(&app, &h, &t, "Engineer").await;
    let apply = format!("/api/v1/public/jobs/{job}/apply");
    let mut last = None;
    for i in 0..21 {
        last = Some(
            app.post(
                &h,
                &apply,
                None,
                json!({"name": "P", "email": format!("p{i}@example.com")}),
            )
            .await,
        );
    }
    let last = last.unwrap();
    last.expect(429, "rate_limited");
    assert!(last.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn careers_page_escapes_lists_and_applies_without_javascript() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");
    let job = open_job(&app, &h, &t, "<script>alert(1)</script> Engineer").await;
    app.post(
        &h,
        "/api/v1/jobs",
        Some(&t),
        json!({"title": "Hidden draft"}),
    )
    .await
    .ok(201);

    let (status, ct, html) = page(&app, &h).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(html.contains("Careers at acme Inc."), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Engineer"));
    assert!(!html.contains("<script>"));
    assert!(!html.contains("Hidden draft"));
    assert!(html.contains(&format!("action=\"/careers/jobs/{job}/apply\"")));
    let (_, _, globex) = page(&app, &host("globex")).await;
    assert!(globex.contains("Careers at globex Inc.") && !globex.contains("Engineer"));

    let path = format!("/careers/jobs/{job}/apply");
    let (status, html) = form_post(
        &app,
        &h,
        &path,
        &[
            ("name", "Zoë <b>"),
            ("email", "zoe@example.com"),
            ("resume_text", "hi"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Thank you, Zoë &lt;b&gt;!"), "{html}");
    let (status, html) = form_post(&app, &h, &path, &[("name", ""), ("email", "bad")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("Please correct the form") && html.contains("value=\"bad\""));
    let (status, html) = form_post(
        &app,
        &h,
        &path,
        &[("name", "Zoë"), ("email", "zoe@example.com")],
    )
    .await;
    assert_eq!((status, html.contains("already applied")), (409, true));
    let (status, _) = form_post(
        &app,
        &host("globex"),
        &path,
        &[("name", "Z"), ("email", "z@example.com")],
    )
    .await;
    assert_eq!(status, 404, "acme's job id means nothing on globex's page");

    let apps = app
        .get(&h, &format!("/api/v1/applications?job_id={job}"), Some(&t))
        .await;
    assert_eq!(apps.ok(200)["items"].as_array().unwrap().len(), 1);
    let _ = acme;
}
