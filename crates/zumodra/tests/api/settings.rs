//! Tenant settings: the pipeline is the tenant's own and editable by owners and admins.

use serde_json::json;

use crate::helpers::*;
use crate::product::*;

#[tokio::test]
async fn pipeline_is_editable_per_tenant_by_owners_and_admins() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    let owner = members[0].2.clone();
    let r = app.get(&h, "/api/v1/settings", Some(&members[6].2)).await;
    assert_eq!(r.ok(200)["pipeline_stages"][0], "new");
    let stages =
        json!({"pipeline_stages": ["applied", "phone_screen", "onsite", "hired", "rejected"]});
    for (role, _, token) in &members {
        let allowed = matches!(*role, "owner" | "admin");
        let r = app
            .patch(&h, "/api/v1/settings", Some(token), stages.clone())
            .await;
        assert_eq!(
            r.status,
            if allowed { 200 } else { 403 },
            "{role}: {}",
            r.text
        );
    }
    let r = app
        .patch(
            &h,
            "/api/v1/settings",
            Some(&owner),
            json!({"pipeline_stages": ["Bad Stage"], "timezone": "Mars/Olympus", "branding": 3}),
        )
        .await;
    r.expect(422, "validation_failed");
    for f in ["pipeline_stages", "timezone", "branding"] {
        assert!(r.body["error"]["fields"][f].is_string(), "{f}: {}", r.text);
    }
    app.patch(
        &h,
        "/api/v1/settings",
        Some(&owner),
        json!({"timezone": "Europe/Paris"}),
    )
    .await
    .ok(200);
    // New applications start at the new first stage; globex keeps the default.
    let job = open_job(&app, &h, &owner, "Engineer").await;
    let cand = candidate(&app, &h, &owner, "a@example.com").await["id"]
        .as_i64()
        .unwrap();
    let a = app
        .post(
            &h,
            "/api/v1/applications",
            Some(&owner),
            json!({"job_id": job, "candidate_id": cand}),
        )
        .await;
    let a = a.ok(201).clone();
    assert_eq!(a["stage"], "applied");
    app.post(
        &h,
        &format!("/api/v1/applications/{}/move", a["id"]),
        Some(&owner),
        json!({"stage": "screening"}),
    )
    .await
    .expect(422, "validation_failed");
    let gs = app.get(&host("globex"), "/api/v1/settings", Some(&g)).await;
    assert_eq!(gs.ok(200)["pipeline_stages"][1], "screening");
    let rows: Vec<_> = audit(&app, &acme)
        .await
        .into_iter()
        .map(|(a, e, _)| format!("{a} {e}"))
        .collect();
    assert_eq!(
        rows.iter().filter(|r| *r == "update settings").count(),
        3,
        "{rows:?}"
    );
}
