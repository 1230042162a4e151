//! The tenant audit log: privileges enforced by PostgreSQL, the hash chain, the list.

use serde_json::json;

use crate::helpers::*;
use crate::product::*;

#[tokio::test]
async fn tenant_role_cannot_change_or_delete_audit_rows() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    candidate(&app, &host("acme"), &t, "a@example.com").await;
    for sql in [
        "update audit_log set action = 'x'",
        "delete from audit_log",
        "truncate audit_log",
    ] {
        let tx = app.engine().begin(&acme.as_ref()).await.unwrap();
        let err = tx.execute(sql, &[]).await.unwrap_err();
        assert_eq!(err.sqlstate(), Some("42501"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn chain_verifies_and_a_tampered_row_is_found() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let h = host("acme");
    for i in 0..4 {
        candidate(&app, &h, &t, &format!("c{i}@example.com")).await;
    }
    let tx = app.engine().begin(&acme.as_ref()).await.unwrap();
    let report = zumodra::audit_log::verify::verify(&tx).await.unwrap();
    drop(tx);
    assert_eq!(report.rows, 4);
    assert_eq!(report.first_broken, None);

    // Tampered by someone with more rights than the tenant role.
    let schema = schema(&app, &acme).await;
    let su = app.db.superuser().await;
    su.execute(
        &format!("update {schema}.audit_log set after = '{{\"name\": \"forged\"}}' where seq = 3"),
        &[],
    )
    .await
    .unwrap();
    let tx = app.engine().begin(&acme.as_ref()).await.unwrap();
    let report = zumodra::audit_log::verify::verify(&tx).await.unwrap();
    let broken = report.first_broken.expect("the forged row is reported");
    assert_eq!(broken.seq, 3);
    drop(tx);

    // What `zumodra audit verify acme` reports.
    let report = zumodra::audit_log::verify::verify_tenant(app.engine(), "acme")
        .await
        .unwrap();
    assert_eq!(report.first_broken.map(|b| b.seq), Some(3));
    // A deleted row is a gap.
    su.execute(
        &format!("update {schema}.audit_log set after = null where seq = 3"),
        &[],
    )
    .await
    .unwrap();
    su.execute(
        &format!("delete from {schema}.audit_log where seq = 2"),
        &[],
    )
    .await
    .unwrap();
    let tx = app.engine().begin(&acme.as_ref()).await.unwrap();
    let report = zumodra::audit_log::verify::verify(&tx).await.unwrap();
    assert_eq!(report.first_broken.map(|b| b.seq), Some(3));
}

#[tokio::test]
async fn audit_log_endpoint_filters_and_permissions() {
    let app = spawn_app().await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    let free = app.tenant_on("smallco", "sam@small.test", "free").await;
    let h = host("acme");
    let members = role_tokens(&app, &acme, "alice@acme.test").await;
    let owner = members[0].2.clone();
    let owner_id = members[0].1;
    candidate(&app, &h, &owner, "a@example.com").await;
    open_job(&app, &h, &owner, "Engineer").await;
    let r = app
        .get(&h, "/api/v1/audit-log?entity=candidate", Some(&owner))
        .await;
    let items = r.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["action"], "create");
    assert_eq!(items[0]["actor_user_id"], owner_id);
    assert_eq!(items[0]["after"]["email"], "a@example.com");
    assert!(items[0]["request_id"].is_string() && items[0]["hash"].is_string());
    let r = app
        .get(
            &h,
            &format!("/api/v1/audit-log?actor={owner_id}&from=2000-01-01"),
            Some(&owner),
        )
        .await;
    assert!(!r.ok(200)["items"].as_array().unwrap().is_empty());
    let r = app
        .get(
            &h,
            "/api/v1/audit-log?to=2000-01-01T00:00:00Z",
            Some(&owner),
        )
        .await;
    assert!(r.ok(200)["items"].as_array().unwrap().is_empty());
    app.get(&h, "/api/v1/audit-log?from=yesterday", Some(&owner))
        .await
        .expect(422, "validation_failed");
    for (role, _, token) in &members {
        let allowed = matches!(*role, "owner" | "admin" | "hr_manager");
        let r = app.get(&h, "/api/v1/audit-log", Some(token)).await;
        assert_eq!(r.status, if allowed { 200 } else { 403 }, "{role}");
    }
    // A plan without audit logs.
    let st = app.login("smallco", "sam@small.test").await;
    let _ = free;
    app.get(&host("smallco"), "/api/v1/audit-log", Some(&st))
        .await
        .expect(403, "feature_not_in_plan");
    let _ = json!({});
}

#[tokio::test]
async fn an_imported_tenant_keeps_its_audit_chain() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    for i in 0..3 {
        candidate(&app, &host("acme"), &t, &format!("c{i}@example.com")).await;
    }
    let dir = std::env::temp_dir().join(format!("zumodra-audit-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let archive = dir.join("acme.tar.gz");
    app.engine()
        .export_tenant("acme", &archive, &|_, _| {})
        .await
        .unwrap();
    let copy = app
        .engine()
        .import_tenant(
            &archive,
            zumodra_tenancy::NewTenant {
                slug: "acme-copy".into(),
                name: "Acme copy".into(),
                plan: "enterprise".into(),
                status: zumodra_tenancy::TenantStatus::Active,
                owner: None,
            },
            &|_, _| {},
        )
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let original = zumodra::audit_log::verify::verify_tenant(app.engine(), "acme")
        .await
        .unwrap();
    let imported = zumodra::audit_log::verify::verify_tenant(app.engine(), "acme-copy")
        .await
        .unwrap();
    assert_eq!((imported.rows, imported.first_broken), (3, None));
    assert_eq!(original.rows, 3);
    // The same hashes: the archive's chain, not a new one.
    let acme = app.engine().tenant("acme").await.unwrap();
    assert_eq!(hashes(&app, &acme).await, hashes(&app, &copy).await);
    // New rows in the copy continue its chain.
    let tc = {
        app.member(
            &app.engine().tenant("acme-copy").await.unwrap(),
            "alice@acme.test",
            "owner",
        )
        .await;
        app.login("acme-copy", "alice@acme.test").await
    };
    candidate(&app, &host("acme-copy"), &tc, "new@example.com").await;
    let after = zumodra::audit_log::verify::verify_tenant(app.engine(), "acme-copy")
        .await
        .unwrap();
    assert_eq!((after.rows, after.first_broken), (4, None));
}

async fn hashes(app: &TestApp, tenant: &zumodra_tenancy::Tenant) -> Vec<Vec<u8>> {
    let tx = app.engine().begin(&tenant.as_ref()).await.unwrap();
    let rows = tx
        .query("select hash from audit_log order by seq", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect()
}
