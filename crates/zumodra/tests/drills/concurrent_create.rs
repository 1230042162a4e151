//! Drill 5: 50 concurrent creations of one slug, then of 50 different slugs (one owner
//! for all, so the owner's user row is raced too), through the platform API. Verdict:
//! exactly 1 and exactly 50 succeed with 201, every other answer is 409 `conflict`, and
//! PostgreSQL has exactly the catalog's schemas and roles (no orphan either way).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use zumodra_tenancy::testing::TestDb;

use crate::helpers::{self, TestApp, PASSWORD};
use crate::support::{self, ms, try_send};

const N: usize = 50;

/// Fire all bodies at once; (status, code, elapsed) of each.
async fn burst(app: &TestApp, token: &str, bodies: Vec<serde_json::Value>) -> Vec<(u16, String)> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let mut tasks = Vec::new();
    for body in bodies {
        let (client, port, token, barrier) = (
            reqwest::Client::new(),
            app.port,
            token.to_owned(),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let r = try_send(
                &client,
                port,
                Method::POST,
                "localhost",
                "/platform/v1/tenants",
                Some(&token),
                Some(body),
            )
            .await;
            match r {
                Ok(r) => (r.status, r.code().to_owned()),
                Err(e) => (0, e),
            }
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(answers: &[(u16, String)], status: u16, code: &str) -> usize {
    answers
        .iter()
        .filter(|(s, c)| *s == status && (status < 400 || c == code))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creations() {
    let _serial = crate::support::one_at_a_time().await;
    // A correctness drill, not a capacity one: on a loaded machine 50 creations queue
    // for the 4 owner connections longer than the default 5 s pool timeout, and the
    // late ones get the designed 503 (`pool_exhaustion` checks that bound).
    let db = TestDb::with(|c| c.pool_timeout = Duration::from_secs(60)).await;
    let port = helpers::start_server(db.engine.clone(), helpers::settings()).await;
    let app = TestApp {
        db,
        port,
        client: reqwest::Client::new(),
    };
    let token = app.admin_token().await;

    let started = Instant::now();
    let same: Vec<_> = (0..N)
        .map(|i| {
            json!({"slug": "dup", "name": format!("Dup {i}"), "plan": "free",
                   "owner_email": format!("owner{i}@dup.test"), "owner_password": PASSWORD})
        })
        .collect();
    let one_slug = burst(&app, &token, same).await;
    let one_slug_time = started.elapsed();

    let started = Instant::now();
    let many: Vec<_> = (0..N)
        .map(|i| {
            json!({"slug": format!("s{i:02}"), "name": format!("S {i}"), "plan": "free",
                   "owner_email": "boss@many.test", "owner_password": PASSWORD})
        })
        .collect();
    let many_slugs = burst(&app, &token, many).await;
    let many_slugs_time = started.elapsed();

    let su = app.db.superuser().await;
    let (orphan_schemas, orphan_roles, broken) =
        support::orphans(&su, app.db.prefix.as_str()).await;
    let tenants: Vec<(String, String)> = su
        .query("select slug, status from public.tenants order by slug", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let schemas: i64 = su
        .query_one(
            "select count(*) from pg_namespace where nspname like 'tenant\\_%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let owners: i64 = su
        .query_one(
            "select count(*) from public.users where lower(email) = 'boss@many.test'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // The owner of the 50 can log in to each of them.
    let boss = app.login("s07", "boss@many.test").await;
    let me = app
        .get(&helpers::host("s07"), "/api/v1/me", Some(&boss))
        .await;

    eprintln!(
        "drill concurrent_create: one slug x{N}: 201 {}, 409 conflict {} in {} ms; \
         {N} slugs: 201 {}, 409 {} in {} ms; tenants {}, tenant schemas {}, \
         orphan schemas {}, orphan roles {}, catalog rows without schema or role {}",
        count(&one_slug, 201, ""),
        count(&one_slug, 409, "conflict"),
        ms(one_slug_time),
        count(&many_slugs, 201, ""),
        count(&many_slugs, 409, "conflict"),
        ms(many_slugs_time),
        tenants.len(),
        schemas,
        orphan_schemas.len(),
        orphan_roles.len(),
        broken.len(),
    );
    assert_eq!(count(&one_slug, 201, ""), 1, "{one_slug:?}");
    assert_eq!(count(&one_slug, 409, "conflict"), N - 1, "{one_slug:?}");
    assert_eq!(count(&many_slugs, 201, ""), N, "{many_slugs:?}");
    assert_eq!(tenants.len(), N + 1);
    assert!(tenants.iter().all(|(_, s)| s == "active"), "{tenants:?}");
    assert_eq!(schemas, N as i64 + 1);
    assert_eq!(owners, 1, "one user row for the shared owner");
    assert_eq!(me.status, 200, "{}", me.text);
    assert!(
        orphan_schemas.is_empty() && orphan_roles.is_empty() && broken.is_empty(),
        "orphans: schemas {orphan_schemas:?}, roles {orphan_roles:?}, rows {broken:?}"
    );
}
