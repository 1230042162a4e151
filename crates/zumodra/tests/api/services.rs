//! Service listings: CRUD, validation, permissions per role, the other tenant's view.

use serde_json::json;

use crate::helpers::*;
use crate::product::*;

#[tokio::test]
async fn service_crud_validation_and_other_tenant() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");
    let r = app
        .post(&h, "/api/v1/services", Some(&t), json!({
            "title": "Payroll setup", "type": "fixed", "price_minor": 150000, "currency": "eur", "delivery": "remote"
        }))
        .await;
    let s = r.ok(201).clone();
    assert_eq!(
        (
            s["type"].as_str(),
            s["currency"].as_str(),
            s["status"].as_str()
        ),
        (Some("fixed"), Some("EUR"), Some("draft"))
    );
    let id = s["id"].as_i64().unwrap();
    let r = app
        .post(
            &h,
            "/api/v1/services",
            Some(&t),
            json!({"type": "barter", "delivery": "mail", "price_minor": -1, "status": "gone"}),
        )
        .await;
    r.expect(422, "validation_failed");
    for f in [
        "title",
        "type",
        "delivery",
        "price_minor",
        "status",
        "currency",
    ] {
        assert!(r.body["error"]["fields"][f].is_string(), "{f}: {}", r.text);
    }
    let path = format!("/api/v1/services/{id}");
    let r = app
        .patch(
            &h,
            &path,
            Some(&t),
            json!({"status": "published", "version": 1}),
        )
        .await;
    assert_eq!(r.ok(200)["status"], "published");
    app.patch(&h, &path, Some(&t), json!({"title": "x", "version": 1}))
        .await
        .expect(409, "conflict");
    // Publishing a fixed price service needs a price.
    app.patch(
        &h,
        &path,
        Some(&t),
        json!({"price_minor": null, "currency": null}),
    )
    .await
    .expect(422, "validation_failed");
    let list = app
        .get(&h, "/api/v1/services?status=published", Some(&t))
        .await;
    assert_eq!(list.ok(200)["items"].as_array().unwrap().len(), 1);
    app.get(&host("globex"), &path, Some(&g))
        .await
        .expect(404, "not_found");
    app.patch(&host("globex"), &path, Some(&g), json!({"title": "x"}))
        .await
        .expect(404, "not_found");
    app.delete(&host("globex"), &path, Some(&g))
        .await
        .expect(404, "not_found");
    app.delete(&h, &path, Some(&t)).await.ok(204);
    app.get(&h, &path, Some(&t)).await.expect(404, "not_found");
    let rows: Vec<_> = audit(&app, &acme)
        .await
        .into_iter()
        .map(|(a, e, _)| format!("{a} {e}"))
        .collect();
    assert_eq!(rows, ["create service", "update service", "delete service"]);
    // The free plan has no services.
    app.tenant_on("smallco", "sam@small.test", "free").await;
    let st = app.login("smallco", "sam@small.test").await;
    app.get(&host("smallco"), "/api/v1/services", Some(&st))
        .await
        .expect(403, "feature_not_in_plan");
}

#[tokio::test]
async fn service_permissions_per_role() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    let owner = members[0].2.clone();
    // (role, view, add/change, delete)
    let expected = [
        ("owner", true, true, true),
        ("admin", true, true, true),
        ("hr_manager", false, false, false),
        ("recruiter", false, false, false),
        ("hiring_manager", false, false, false),
        ("employee", true, false, false),
        ("viewer", true, false, false),
    ];
    for ((role, _, token), (_, view, write, delete)) in members.iter().zip(expected) {
        let t = Some(token.as_str());
        let st = |ok: bool, yes: u16| if ok { yes } else { 403 };
        let r = app
            .post(&h, "/api/v1/services", Some(&owner), json!({"title": "S"}))
            .await;
        let path = format!("/api/v1/services/{}", r.ok(201)["id"]);
        assert_eq!(
            app.get(&h, "/api/v1/services", t).await.status,
            st(view, 200),
            "{role}"
        );
        assert_eq!(app.get(&h, &path, t).await.status, st(view, 200), "{role}");
        assert_eq!(
            app.post(&h, "/api/v1/services", t, json!({"title": "N"}))
                .await
                .status,
            st(write, 201),
            "{role}"
        );
        assert_eq!(
            app.patch(&h, &path, t, json!({"category": "c"}))
                .await
                .status,
            st(write, 200),
            "{role}"
        );
        assert_eq!(
            app.delete(&h, &path, t).await.status,
            st(delete, 204),
            "{role}"
        );
    }
}
