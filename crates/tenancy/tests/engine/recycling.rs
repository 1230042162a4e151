//! Connection recycling (issue #7): a pooled connection is closed and replaced after its
//! use count or its age, its PostgreSQL backend goes away, and no transaction notices.

use std::time::Duration;

use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{Engine, Recycling, TenantRef};

use crate::support::create;

/// One tenant transaction: the backend's pid, after checking the tenant's role.
async fn backend_pid(engine: &Engine, tenant: &TenantRef) -> i32 {
    let tx = engine.begin(tenant).await.unwrap();
    let row = tx
        .query_one(
            "select pg_backend_pid(), current_user::text, (select count(*) from ats_job)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(1),
        engine.tenant_role(&tenant.slug).as_str()
    );
    tx.commit().await.unwrap();
    row.get(0)
}

/// Lengths of the runs of equal consecutive values.
fn runs(pids: &[i32]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for (i, pid) in pids.iter().enumerate() {
        if i > 0 && pids[i - 1] == *pid {
            *out.last_mut().unwrap() += 1;
        } else {
            out.push(1);
        }
    }
    out
}

/// Wait until no client backend has this pid any more.
async fn backend_gone(db: &TestDb, pid: i32) -> bool {
    let su = db.superuser().await;
    for _ in 0..50 {
        let alive: i64 = su
            .query_one(
                "select count(*) from pg_stat_activity where pid = $1",
                &[&pid],
            )
            .await
            .unwrap()
            .get(0);
        if alive == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_connection_is_replaced_after_its_use_count() {
    let db = TestDb::with(|c| {
        c.pool_size = 1;
        c.recycling = Recycling {
            max_age: None,
            max_uses: Some(3),
        };
    })
    .await;
    let t = create(&db.engine, "acme").await.as_ref();
    let retired_before = db.engine.connections_retired();
    let mut pids = Vec::new();
    for _ in 0..10 {
        pids.push(backend_pid(&db.engine, &t).await);
    }
    // One connection in the pool: every transaction ran on it, three per backend (the
    // first backend may have served the set-up already).
    let runs = runs(&pids);
    assert!(runs.len() >= 4, "pids {pids:?}");
    assert!(runs[0] <= 3, "pids {pids:?}");
    assert!(
        runs[1..runs.len() - 1].iter().all(|&n| n == 3),
        "pids {pids:?}"
    );
    assert!(*runs.last().unwrap() <= 3, "pids {pids:?}");
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), runs.len(), "a pid came back: {pids:?}");
    assert!(db.engine.connections_retired() - retired_before >= runs.len() as u64 - 1);
    // The retired backends are closed, not leaked.
    assert!(
        backend_gone(&db, pids[0]).await,
        "backend {} still there",
        pids[0]
    );

    // Without limits the same load stays on one backend.
    let steady = TestDb::with(|c| {
        c.pool_size = 1;
        c.recycling = Recycling::NEVER;
    })
    .await;
    let t = create(&steady.engine, "acme").await.as_ref();
    let mut pids = Vec::new();
    for _ in 0..10 {
        pids.push(backend_pid(&steady.engine, &t).await);
    }
    assert!(pids.iter().all(|p| *p == pids[0]), "pids {pids:?}");
    assert_eq!(steady.engine.connections_retired(), 0);
}

#[tokio::test]
async fn a_connection_is_replaced_after_its_age() {
    let db = TestDb::with(|c| {
        c.pool_size = 1;
        c.recycling = Recycling {
            // Each connection's own limit: 1.6 to 2 s.
            max_age: Some(Duration::from_secs(2)),
            max_uses: None,
        };
    })
    .await;
    let t = create(&db.engine, "acme").await.as_ref();
    // A young connection is kept.
    let first = backend_pid(&db.engine, &t).await;
    assert_eq!(backend_pid(&db.engine, &t).await, first);
    let retired = db.engine.connections_retired();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = backend_pid(&db.engine, &t).await;
    assert_ne!(
        first, later,
        "the old backend served a transaction past its age"
    );
    assert_eq!(db.engine.connections_retired(), retired + 1);
    assert!(
        backend_gone(&db, first).await,
        "backend {first} still there"
    );
    // The replacement serves on.
    assert_eq!(backend_pid(&db.engine, &t).await, later);
}

#[tokio::test]
async fn no_transaction_fails_across_recycles() {
    let db = TestDb::with(|c| {
        c.pool_size = 4;
        c.recycling = Recycling {
            max_age: Some(Duration::from_millis(40)),
            max_uses: Some(2),
        };
    })
    .await;
    let mut tenants = Vec::new();
    for slug in ["acme", "globex", "initech"] {
        tenants.push(create(&db.engine, slug).await.as_ref());
    }
    let retired = db.engine.connections_retired();
    let mut tasks = Vec::new();
    for worker in 0..24usize {
        let engine = db.engine.clone();
        let tenant = tenants[worker % tenants.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut pids = Vec::new();
            for round in 0..5 {
                let tx = engine.begin(&tenant).await?;
                tx.execute(
                    "insert into ats_job (title) values ($1)",
                    &[&format!("w{worker} r{round}")],
                )
                .await?;
                let row = tx
                    .query_one("select pg_backend_pid(), current_user::text", &[])
                    .await?;
                assert_eq!(
                    row.get::<_, String>(1),
                    engine.tenant_role(&tenant.slug).as_str()
                );
                pids.push(row.get::<_, i32>(0));
                tx.commit().await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, zumodra_tenancy::Error>(pids)
        }));
    }
    let mut pids = Vec::new();
    for task in tasks {
        pids.extend(task.await.unwrap().unwrap());
    }
    pids.sort_unstable();
    pids.dedup();
    // 120 transactions on 4 connections of 2 uses each: many backends came and went.
    assert!(pids.len() >= 20, "only {} backends", pids.len());
    assert!(db.engine.connections_retired() - retired >= 16);
    // Every write is there: 24 workers × 5 rounds, spread over the three tenants.
    let mut total = 0;
    for t in &tenants {
        let tx = db.engine.begin(t).await.unwrap();
        let n: i64 = tx
            .query_one("select count(*) from ats_job", &[])
            .await
            .unwrap()
            .get(0);
        tx.commit().await.unwrap();
        assert_eq!(n, 40, "tenant {}", t.slug.as_str());
        total += n;
    }
    assert_eq!(total, 120);
    let (open, _, max) = db.engine.pool_status();
    assert!(open <= max, "{open} connections open, max {max}");
}
