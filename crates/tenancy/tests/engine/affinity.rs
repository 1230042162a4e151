//! The tenant-affine runtime pool (`pool.rs`, issue #7): a tenant's work waits briefly
//! for its home shard rather than taking another shard's free connection, and still
//! gets a connection — within the grace, not the pool timeout — when the home shard is
//! stuck. Connections are held by lazy transactions (taken, nothing sent), so the tests
//! decide which connections are busy without racing the database.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{Engine, TenantRef, TenantTx};

use crate::support::create;

/// Four connections: two shards of two.
async fn two_shards() -> TestDb {
    TestDb::with(|c| {
        c.pool_size = 4;
        c.tenant_affinity = true;
        c.pool_timeout = Duration::from_secs(5);
    })
    .await
}

/// Two tenants with different home shards (tenant id modulo the two shards).
async fn tenants_on_both_shards(engine: &Engine) -> (TenantRef, TenantRef) {
    let a = create(engine, "acme").await.as_ref();
    for i in 0..8 {
        let b = create(engine, &format!("other{i}")).await.as_ref();
        if b.id.0 % 2 != a.id.0 % 2 {
            return (a, b);
        }
    }
    panic!("no tenant homed on the other shard");
}

async fn backend_pid(engine: &Engine, tenant: &TenantRef) -> i32 {
    let tx = engine.begin(tenant).await.unwrap();
    let pid = tx
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    pid
}

/// Both connections of `tenant`'s home shard, held by lazy transactions (nothing sent).
async fn hold_home(engine: &Engine, tenant: &TenantRef) -> [TenantTx; 2] {
    [
        engine.begin(tenant).await.unwrap(),
        engine.begin(tenant).await.unwrap(),
    ]
}

/// The pids of `tenant`'s home shard: two transactions held at once take both.
async fn home_pids(engine: &Engine, tenant: &TenantRef) -> HashSet<i32> {
    let mut pids = HashSet::new();
    for tx in hold_home(engine, tenant).await {
        pids.insert(
            tx.query_one("select pg_backend_pid()", &[])
                .await
                .unwrap()
                .get::<_, i32>(0),
        );
        tx.commit().await.unwrap();
    }
    assert_eq!(pids.len(), 2);
    pids
}

#[tokio::test]
async fn a_tenant_waits_for_its_home_shard_rather_than_taking_another() {
    let db = two_shards().await;
    let (a, _) = tenants_on_both_shards(&db.engine).await;
    let home = home_pids(&db.engine, &a).await;

    // Both home connections busy, the other shard free.
    let held = hold_home(&db.engine, &a).await;
    let engine = db.engine.clone();
    let a2 = a.clone();
    let third = tokio::spawn(async move { backend_pid(&engine, &a2).await });
    // Let the third request start waiting, then free one home connection.
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    let [first, second] = held;
    drop(first);
    let pid = third.await.unwrap();
    assert!(
        home.contains(&pid),
        "served by {pid}, not by its home shard {home:?}"
    );
    drop(second);

    // With nothing busy, every transaction lands on the home shard.
    for _ in 0..10 {
        assert!(home.contains(&backend_pid(&db.engine, &a).await));
    }
}

#[tokio::test]
async fn a_stuck_home_shard_costs_the_grace_not_the_pool_timeout() {
    let db = two_shards().await;
    let (a, _) = tenants_on_both_shards(&db.engine).await;
    let home = home_pids(&db.engine, &a).await;

    let _held = hold_home(&db.engine, &a).await;
    let started = Instant::now();
    let pid = backend_pid(&db.engine, &a).await;
    let waited = started.elapsed();
    assert!(!home.contains(&pid), "served by the other shard");
    assert!(
        waited < Duration::from_secs(2),
        "waited {waited:?}, the pool timeout is 5 s"
    );
}

#[tokio::test]
async fn with_every_connection_busy_the_first_freed_anywhere_serves() {
    let db = two_shards().await;
    let (a, b) = tenants_on_both_shards(&db.engine).await;
    let a_home = home_pids(&db.engine, &a).await;
    let b_home = home_pids(&db.engine, &b).await;
    assert!(a_home.is_disjoint(&b_home));

    let held_a = hold_home(&db.engine, &a).await;
    let [_held_b, freed_later] = hold_home(&db.engine, &b).await;
    let engine = db.engine.clone();
    let a2 = a.clone();
    let started = Instant::now();
    let waiting = tokio::spawn(async move { backend_pid(&engine, &a2).await });
    // Past the grace: the request now waits on every shard; free one of b's.
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(freed_later);
    let pid = waiting.await.unwrap();
    assert!(
        b_home.contains(&pid),
        "served by the connection b's shard freed"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(held_a);
}
