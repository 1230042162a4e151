//! Candidates and applications: CRUD, search, uniqueness, pipeline moves, versions,
//! permissions per role, the other tenant's view, one audit row per mutation.

use serde_json::json;

use crate::helpers::*;
use crate::product::*;

#[tokio::test]
async fn candidate_crud_search_uniqueness_and_audit() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");

    let c = app
        .post(&h, "/api/v1/candidates", Some(&t), json!({
            "name": "Ada Lovelace", "email": "Ada@Example.com", "source": "referral", "tags": ["rust"]
        }))
        .await;
    let c = c.ok(201).clone();
    let id = c["id"].as_i64().unwrap();
    assert_eq!(c["version"], 1);
    // Unique per tenant, case-insensitively.
    app.post(
        &h,
        "/api/v1/candidates",
        Some(&t),
        json!({"name": "Other", "email": "ada@EXAMPLE.com"}),
    )
    .await
    .expect(409, "conflict");
    let r = app
        .post(
            &h,
            "/api/v1/candidates",
            Some(&t),
            json!({"email": "x", "source": "tv"}),
        )
        .await;
    r.expect(422, "validation_failed");
    for f in ["name", "email", "source"] {
        assert!(r.body["error"]["fields"][f].is_string(), "{f}: {}", r.text);
    }
    app.post(
        &h,
        "/api/v1/candidates",
        Some(&t),
        json!({"name": "Bob Byte", "email": "bob@example.com"}),
    )
    .await
    .ok(201);

    let found = app.get(&h, "/api/v1/candidates?q=lovel", Some(&t)).await;
    let items = found.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    let found = app
        .get(&h, "/api/v1/candidates?q=EXAMPLE.COM", Some(&t))
        .await;
    assert_eq!(found.ok(200)["items"].as_array().unwrap().len(), 2);
    let page = app.get(&h, "/api/v1/candidates?limit=1", Some(&t)).await;
    let cursor = page.ok(200)["next_cursor"].as_str().unwrap().to_owned();
    let next = app
        .get(
            &h,
            &format!("/api/v1/candidates?limit=1&cursor={cursor}"),
            Some(&t),
        )
        .await;
    assert_eq!(next.ok(200)["items"][0]["id"], id);

    let path = format!("/api/v1/candidates/{id}");
    let r = app
        .patch(
            &h,
            &path,
            Some(&t),
            json!({"phone": "+1 555", "version": 1}),
        )
        .await;
    assert_eq!(r.ok(200)["version"], 2);
    app.patch(
        &h,
        &path,
        Some(&t),
        json!({"phone": "+1 556", "version": 1}),
    )
    .await
    .expect(409, "conflict");
    app.patch(&h, &path, Some(&t), json!({"email": "BOB@example.com"}))
        .await
        .expect(409, "conflict");

    // Globex sees none of acme's ids.
    app.get(&host("globex"), &path, Some(&g))
        .await
        .expect(404, "not_found");
    app.patch(&host("globex"), &path, Some(&g), json!({"name": "x"}))
        .await
        .expect(404, "not_found");
    app.delete(&host("globex"), &path, Some(&g))
        .await
        .expect(404, "not_found");

    app.delete(&h, &path, Some(&t)).await.ok(204);
    app.get(&h, &path, Some(&t)).await.expect(404, "not_found");
    // The same e-mail in another tenant is another candidate.
    app.post(
        &host("globex"),
        "/api/v1/candidates",
        Some(&g),
        json!({"name": "Ada", "email": "ada@example.com"}),
    )
    .await
    .ok(201);

    let rows = audit(&app, &acme).await;
    let actions: Vec<_> = rows.iter().map(|(a, e, _)| format!("{a} {e}")).collect();
    assert_eq!(
        actions,
        [
            "create candidate",
            "create candidate",
            "update candidate",
            "delete candidate"
        ],
        "one row per mutation, none for reads or refused writes"
    );
    assert_eq!(rows[0].2.as_deref(), Some(id.to_string().as_str()));
}

#[tokio::test]
async fn candidate_permissions_per_role() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    // (role, view, add, change, delete)
    let expected = [
        ("owner", true, true, true, true),
        ("admin", true, true, true, true),
        ("hr_manager", true, true, true, false),
        ("recruiter", true, true, true, false),
        ("hiring_manager", true, false, false, false),
        ("employee", false, false, false, false),
        ("viewer", true, false, false, false),
    ];
    for ((role, _, token), (erole, view, add, change, delete)) in members.iter().zip(expected) {
        assert_eq!(*role, erole);
        let t = Some(token.as_str());
        let c = candidate(
            &app,
            &h,
            members[0].2.as_str(),
            &format!("{role}@cand.test"),
        )
        .await;
        let path = format!("/api/v1/candidates/{}", c["id"]);
        let status = |ok: bool, yes: u16| if ok { yes } else { 403 };
        assert_eq!(
            app.get(&h, "/api/v1/candidates", t).await.status,
            status(view, 200),
            "{role} list"
        );
        assert_eq!(
            app.get(&h, &path, t).await.status,
            status(view, 200),
            "{role} show"
        );
        let r = app
            .post(
                &h,
                "/api/v1/candidates",
                t,
                json!({"name": "N", "email": format!("new-{role}@x.test")}),
            )
            .await;
        assert_eq!(r.status, status(add, 201), "{role} add: {}", r.text);
        if !add {
            assert_eq!(r.body["error"]["permission"], "candidates.add");
        }
        assert_eq!(
            app.patch(&h, &path, t, json!({"phone": "1"})).await.status,
            status(change, 200),
            "{role} change"
        );
        assert_eq!(
            app.delete(&h, &path, t).await.status,
            status(delete, 204),
            "{role} delete"
        );
    }
}

#[tokio::test]
async fn applications_pipeline_moves_history_and_conflicts() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");
    let job = open_job(&app, &h, &t, "Engineer").await;
    let cand = candidate(&app, &h, &t, "ann@example.com").await["id"]
        .as_i64()
        .unwrap();

    let r = app
        .post(
            &h,
            "/api/v1/applications",
            Some(&t),
            json!({"job_id": job, "candidate_id": cand, "rating": 4}),
        )
        .await;
    let a = r.ok(201).clone();
    let id = a["id"].as_i64().unwrap();
    assert_eq!(a["stage"], "new", "the pipeline's first stage");
    app.post(
        &h,
        "/api/v1/applications",
        Some(&t),
        json!({"job_id": job, "candidate_id": cand}),
    )
    .await
    .expect(409, "conflict");
    let r = app
        .post(
            &h,
            "/api/v1/applications",
            Some(&t),
            json!({"job_id": 999, "candidate_id": cand, "stage": "nope", "rating": 9}),
        )
        .await;
    r.expect(422, "validation_failed");
    for f in ["job_id", "stage", "rating"] {
        assert!(r.body["error"]["fields"][f].is_string(), "{f}: {}", r.text);
    }

    let mv = format!("/api/v1/applications/{id}/move");
    let r = app
        .post(
            &h,
            &mv,
            Some(&t),
            json!({"stage": "screening", "version": 1}),
        )
        .await;
    assert_eq!(r.ok(200)["stage"], "screening");
    assert_eq!(r.body["version"], 2);
    app.post(
        &h,
        &mv,
        Some(&t),
        json!({"stage": "interview", "version": 1}),
    )
    .await
    .expect(409, "conflict");
    app.post(&h, &mv, Some(&t), json!({"stage": "lunch"}))
        .await
        .expect(422, "validation_failed");
    // The pipeline is the tenant's own: an edited pipeline changes what moves are legal.
    let tx = app.engine().begin(&acme.as_ref()).await.unwrap();
    tx.execute(
        "update settings set pipeline_stages = '{applied,screening,lunch,hired}'",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.post(&h, &mv, Some(&t), json!({"stage": "lunch"}))
        .await
        .ok(200);

    let detail = app
        .get(&h, &format!("/api/v1/applications/{id}"), Some(&t))
        .await;
    let history = detail.ok(200)["history"].as_array().unwrap().clone();
    let stages: Vec<_> = history
        .iter()
        .map(|m| m["to_stage"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stages, ["new", "screening", "lunch"]);
    let listed = app
        .get(&h, &format!("/api/v1/applications?job_id={job}"), Some(&t))
        .await;
    assert_eq!(listed.ok(200)["items"].as_array().unwrap().len(), 1);
    app.patch(
        &h,
        &format!("/api/v1/applications/{id}"),
        Some(&t),
        json!({"rating": 6}),
    )
    .await
    .expect(422, "validation_failed");
    app.patch(
        &h,
        &format!("/api/v1/applications/{id}"),
        Some(&t),
        json!({"rating": 5}),
    )
    .await
    .ok(200);

    // Globex: not found, and cannot apply acme's ids.
    app.get(
        &host("globex"),
        &format!("/api/v1/applications/{id}"),
        Some(&g),
    )
    .await
    .expect(404, "not_found");
    app.post(&host("globex"), &mv, Some(&g), json!({"stage": "new"}))
        .await
        .expect(404, "not_found");
    let r = app
        .post(
            &host("globex"),
            "/api/v1/applications",
            Some(&g),
            json!({"job_id": job, "candidate_id": cand}),
        )
        .await;
    r.expect(422, "validation_failed");

    let rows = audit(&app, &acme).await;
    let apps: Vec<_> = rows
        .iter()
        .filter(|(_, e, _)| e == "application")
        .map(|(a, _, _)| a.as_str())
        .collect();
    assert_eq!(apps, ["create", "move", "move", "update"]);
}

#[tokio::test]
async fn application_permissions_per_role() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    let owner = members[0].2.clone();
    let job = open_job(&app, &h, &owner, "Engineer").await;
    // (role, view, add, move)
    let expected = [
        ("owner", true, true, true),
        ("admin", true, true, true),
        ("hr_manager", true, true, true),
        ("recruiter", true, true, true),
        ("hiring_manager", true, false, true),
        ("employee", false, false, false),
        ("viewer", true, false, false),
    ];
    for ((role, _, token), (_, view, add, mv)) in members.iter().zip(expected) {
        let t = Some(token.as_str());
        let status = |ok: bool, yes: u16| if ok { yes } else { 403 };
        let c1 = candidate(&app, &h, &owner, &format!("{role}-1@cand.test")).await["id"]
            .as_i64()
            .unwrap();
        let c2 = candidate(&app, &h, &owner, &format!("{role}-2@cand.test")).await["id"]
            .as_i64()
            .unwrap();
        let a = app
            .post(
                &h,
                "/api/v1/applications",
                Some(&owner),
                json!({"job_id": job, "candidate_id": c1}),
            )
            .await;
        let id = a.ok(201)["id"].as_i64().unwrap();
        assert_eq!(
            app.get(&h, "/api/v1/applications", t).await.status,
            status(view, 200),
            "{role}"
        );
        assert_eq!(
            app.get(&h, &format!("/api/v1/applications/{id}"), t)
                .await
                .status,
            status(view, 200),
            "{role}"
        );
        let r = app
            .post(
                &h,
                "/api/v1/applications",
                t,
                json!({"job_id": job, "candidate_id": c2}),
            )
            .await;
        assert_eq!(r.status, status(add, 201), "{role} add");
        let r = app
            .post(
                &h,
                &format!("/api/v1/applications/{id}/move"),
                t,
                json!({"stage": "interview"}),
            )
            .await;
        assert_eq!(r.status, status(mv, 200), "{role} move");
    }
}

#[tokio::test]
async fn import_is_all_or_nothing_and_counts_against_the_month() {
    let app = spawn_app().await;
    let acme = app.tenant_on("acme", "alice@acme.test", "free").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");
    candidate(&app, &h, &t, "known@example.com").await;
    let r = app
        .post(
            &h,
            "/api/v1/candidates/import",
            Some(&t),
            json!({"candidates": [
                {"name": "A", "email": "a@example.com"}, {"name": "", "email": "nope"}
            ]}),
        )
        .await;
    r.expect(422, "validation_failed");
    assert!(
        r.body["error"]["fields"]["candidates[1].email"].is_string(),
        "{}",
        r.text
    );
    let r = app
        .post(
            &h,
            "/api/v1/candidates/import",
            Some(&t),
            json!({"candidates": [
                {"name": "A", "email": "a@example.com", "tags": ["csv"]},
                {"name": "Known", "email": "KNOWN@example.com"},
                {"name": "A again", "email": "A@example.com"}
            ]}),
        )
        .await;
    let body = r.ok(201).clone();
    assert_eq!(body["created"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["skipped"],
        json!(["KNOWN@example.com", "A@example.com"])
    );
    let id = body["created"][0].as_i64().unwrap();
    let c = app
        .get(&h, &format!("/api/v1/candidates/{id}"), Some(&t))
        .await;
    assert_eq!(c.ok(200)["source"], "imported");
    // Free: 50 a month; 2 exist, so 49 more do not fit and nothing is created.
    let many: Vec<_> = (0..49)
        .map(|i| json!({"name": "N", "email": format!("n{i}@example.com")}))
        .collect();
    let r = app
        .post(
            &h,
            "/api/v1/candidates/import",
            Some(&t),
            json!({"candidates": many}),
        )
        .await;
    r.expect(403, "quota_exceeded");
    let all = app.get(&h, "/api/v1/candidates?limit=200", Some(&t)).await;
    assert_eq!(all.ok(200)["items"].as_array().unwrap().len(), 2);
    // Viewers cannot import; globex sees nothing of it.
    let viewer = app.member(&acme, "v@acme.test", "viewer").await;
    let _ = viewer;
    let vt = app.login("acme", "v@acme.test").await;
    app.post(
        &h,
        "/api/v1/candidates/import",
        Some(&vt),
        json!({"candidates": [{"name": "X", "email": "x@example.com"}]}),
    )
    .await
    .expect(403, "forbidden");
    let g = app.login("globex", "gus@globex.test").await;
    let gl = app
        .get(&host("globex"), "/api/v1/candidates", Some(&g))
        .await;
    assert!(gl.ok(200)["items"].as_array().unwrap().is_empty());
    let imports = audit(&app, &acme)
        .await
        .into_iter()
        .filter(|(a, _, _)| a == "import")
        .count();
    assert_eq!(imports, 1);
}
