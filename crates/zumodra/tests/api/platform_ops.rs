//! Platform operations over HTTP (issue #6): usage report, platform audit log.

use serde_json::json;

use crate::helpers::*;

/// Counts taken tenant by tenant, in the tenant's own transaction.
async fn counts(app: &TestApp, slug: &str) -> [i64; 5] {
    let tenant = app.engine().tenant(slug).await.unwrap();
    let tx = app.engine().begin(&tenant.as_ref()).await.unwrap();
    let mut out = [0; 5];
    for (i, table) in [
        "members where active",
        "ats_job",
        "ats_candidate",
        "ats_application",
        "hr_core_employee",
    ]
    .iter()
    .enumerate()
    {
        let row = tx
            .query_one(&format!("select count(*) from {table}"), &[])
            .await
            .unwrap();
        out[i] = row.get(0);
    }
    out
}

#[tokio::test]
async fn usage_report_equals_counts_taken_tenant_by_tenant() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    app.tenant_on("globex", "hank@globex.test", "starter").await;
    let a = app.login("acme", "alice@acme.test").await;
    let g = app.login("globex", "hank@globex.test").await;
    for i in 0..3 {
        app.post(
            &host("acme"),
            "/api/v1/candidates",
            Some(&a),
            json!({"name": format!("Cand {i}"), "email": format!("c{i}@x.test")}),
        )
        .await
        .ok(201);
    }
    app.post(
        &host("acme"),
        "/api/v1/jobs",
        Some(&a),
        json!({"title": "Engineer"}),
    )
    .await
    .ok(201);
    app.post(
        &host("globex"),
        "/api/v1/candidates",
        Some(&g),
        json!({"name": "Solo", "email": "solo@x.test"}),
    )
    .await
    .ok(201);
    app.member(
        &app.engine().tenant("globex").await.unwrap(),
        "bob@globex.test",
        "recruiter",
    )
    .await;

    let admin = app.admin_token().await;
    let r = app
        .get("localhost", "/platform/v1/reports/usage", Some(&admin))
        .await;
    let items = r.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    for item in &items {
        let slug = item["slug"].as_str().unwrap();
        let [members, jobs, candidates, applications, employees] = counts(&app, slug).await;
        assert_eq!(item["members"], members, "{slug}");
        let job_total: i64 = item["jobs_by_status"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum();
        assert_eq!(job_total, jobs, "{slug}");
        assert_eq!(item["candidates"], candidates, "{slug}");
        assert_eq!(item["applications"], applications, "{slug}");
        assert_eq!(item["employees"], employees, "{slug}");
        assert!(item["storage_bytes"].as_i64().unwrap() > 0);
    }
    assert_eq!(items[0]["slug"], "acme");
    assert_eq!(items[0]["candidates"], 3);
    assert_eq!(items[1]["members"], 2);

    // Sorted by members, descending: globex first.
    let r = app
        .get(
            "localhost",
            "/platform/v1/reports/usage?sort=-members",
            Some(&admin),
        )
        .await;
    assert_eq!(r.ok(200)["items"][0]["slug"], "globex");
    app.get(
        "localhost",
        "/platform/v1/reports/usage?sort=bogus",
        Some(&admin),
    )
    .await
    .expect(422, "validation_failed");

    let r = app
        .get(
            "localhost",
            "/platform/v1/reports/usage?format=csv&sort=slug",
            Some(&admin),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<&str> = r.text.lines().collect();
    assert!(lines[0].starts_with("slug,name,plan,status,members"));
    assert!(lines[1].starts_with("acme,"));
    assert!(lines[2].starts_with("globex,"));
    assert_eq!(lines.len(), 3);

    // Admins only, and audited.
    app.get("localhost", "/platform/v1/reports/usage", Some(&a))
        .await
        .expect(401, "unauthenticated");
    assert_eq!(app.audit_rows("reports.usage").await.len(), 3);
}

#[tokio::test]
async fn platform_audit_is_listed_newest_first_with_filters_and_pages() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for slug in ["one", "two", "three"] {
        app.post(
            "localhost",
            "/platform/v1/tenants",
            Some(&admin),
            json!({
                "slug": slug, "name": slug, "plan": "free",
                "owner_email": format!("o@{slug}.test"), "owner_password": PASSWORD
            }),
        )
        .await
        .ok(201);
    }
    app.get("localhost", "/platform/v1/tenants/two", Some(&admin))
        .await
        .ok(200);

    let r = app
        .get(
            "localhost",
            "/platform/v1/audit?action=tenant.create&limit=2",
            Some(&admin),
        )
        .await;
    let page = r.ok(200);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["tenant"], "three");
    assert_eq!(items[1]["tenant"], "two");
    assert_eq!(items[0]["actor_email"], ADMIN);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(
            "localhost",
            &format!("/platform/v1/audit?action=tenant.create&limit=2&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    let page = r.ok(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["tenant"], "one");
    assert!(page["next_cursor"].is_null());

    let r = app
        .get("localhost", "/platform/v1/audit?tenant=two", Some(&admin))
        .await;
    let actions: Vec<&str> = r.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["tenant.show", "tenant.create"]);

    app.get("localhost", "/platform/v1/audit?cursor=junk", Some(&admin))
        .await
        .expect(422, "validation_failed");
    app.get("localhost", "/platform/v1/audit", None)
        .await
        .expect(401, "unauthenticated");
}
