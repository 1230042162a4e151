//! Tenant export over the API (issue #6): queued, then a short-lived signed link that
//! streams an archive the engine can import.

use std::time::{Duration, Instant};

use serde_json::json;
use zumodra_tenancy::{NewTenant, TenantStatus};

use crate::helpers::*;

#[tokio::test]
async fn export_round_trip_through_the_api() {
    let dir = std::env::temp_dir().join(format!("zumodra-exports-{}", std::process::id()));
    let data_dir = dir.clone();
    let app = spawn_with(move |s| s.data_dir = data_dir).await;
    let acme = app.tenant("acme", "alice@acme.test").await;
    app.tenant_on("tiny", "tom@tiny.test", "free").await;
    app.tenant("globex", "hank@globex.test").await;
    app.member(&acme, "rita@acme.test", "recruiter").await;
    let alice = app.login("acme", "alice@acme.test").await;
    let rita = app.login("acme", "rita@acme.test").await;
    let tom = app.login("tiny", "tom@tiny.test").await;
    let hank = app.login("globex", "hank@globex.test").await;
    let h = host("acme");
    for i in 0..3 {
        app.post(
            &h,
            "/api/v1/candidates",
            Some(&alice),
            json!({"name": format!("Cand {i}"), "email": format!("c{i}@x.test")}),
        )
        .await
        .ok(201);
    }

    app.post(&h, "/api/v1/exports", Some(&rita), json!({}))
        .await
        .expect(403, "forbidden");
    app.post(&host("tiny"), "/api/v1/exports", Some(&tom), json!({}))
        .await
        .expect(403, "feature_not_in_plan");
    let r = app
        .post(&h, "/api/v1/exports", Some(&alice), json!({}))
        .await;
    let id = r.ok(202)["id"].as_i64().unwrap();
    let started = Instant::now();
    let status = loop {
        let r = app
            .get(&h, &format!("/api/v1/exports/{id}"), Some(&alice))
            .await;
        let body = r.ok(200).clone();
        if body["status"] == "done" || body["status"] == "failed" {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["status"], "done", "{status}");
    let url = status["download_url"].as_str().unwrap().to_owned();
    // Another tenant cannot see it.
    app.get(
        &host("globex"),
        &format!("/api/v1/exports/{id}"),
        Some(&hank),
    )
    .await
    .expect(404, "not_found");
    app.get(&host("globex"), &url, None)
        .await
        .expect(404, "not_found");
    // A forged link is refused.
    let forged = format!("{}0", &url[..url.len() - 1]);
    let forged = if forged == url {
        format!("{}1", &url[..url.len() - 1])
    } else {
        forged
    };
    app.get(&h, &forged, None).await.expect(404, "not_found");

    // The link works without a token and streams the archive.
    let resp = app
        .client
        .get(format!("http://127.0.0.1:{}{url}", app.port))
        .header("host", &h)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
    let file = dir.join("download.tar.gz");
    std::fs::write(&file, &bytes).unwrap();
    let copy = app
        .engine()
        .import_tenant(
            &file,
            NewTenant {
                slug: "acme2".into(),
                name: String::new(),
                plan: String::new(),
                status: TenantStatus::Active,
                owner: None,
            },
            &|_, _| {},
        )
        .await
        .unwrap();
    let tx = app.engine().begin(&copy.as_ref()).await.unwrap();
    let n: i64 = tx
        .query_one("select count(*) from ats_candidate", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    drop(tx);
    let _ = std::fs::remove_dir_all(&dir);
}
