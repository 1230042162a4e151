//! Drill 6: the runtime pool (4 connections, 1 s pool timeout) exhausted by slow
//! queries. An owner connection takes `LOCK TABLE tenant_acme.ats_job IN ACCESS
//! EXCLUSIVE MODE`; four job-list requests then block on that table while each holds a
//! pooled connection. Verdict: every new request gets 503 `service_unavailable` after a
//! bounded wait (≤ pool timeout + 1 s), not an unbounded queue; once the lock is
//! released the blocked requests finish and new ones answer 2xx at once.

use std::time::{Duration, Instant};

use reqwest::Method;
use zumodra_tenancy::testing::TestDb;

use crate::helpers::{self, host, TestApp};
use crate::support::{ms, try_send};

const POOL: usize = 4;
const POOL_TIMEOUT: Duration = Duration::from_secs(1);
const MARGIN: Duration = Duration::from_secs(1);

async fn timed_get(port: u16, path: &str, token: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let r = try_send(
        &reqwest::Client::new(),
        port,
        Method::GET,
        &host("acme"),
        path,
        Some(token),
        None,
    )
    .await;
    match r {
        Ok(r) => (r.status, r.code().to_owned(), started.elapsed()),
        Err(e) => (0, e, started.elapsed()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_exhausted_by_slow_queries() {
    let _serial = crate::support::one_at_a_time().await;
    let db = TestDb::with(|c| {
        c.pool_size = POOL;
        c.pool_timeout = POOL_TIMEOUT;
    })
    .await;
    let port = helpers::start_server(db.engine.clone(), helpers::settings()).await;
    let app = TestApp {
        db,
        port,
        client: reqwest::Client::new(),
    };
    app.tenant("acme", "owner@acme.test").await;
    let token = app.login("acme", "owner@acme.test").await;
    // Warm the caches (host, session, member) so blocked requests need only the pool.
    assert_eq!(timed_get(port, "/api/v1/jobs", &token).await.0, 200);
    assert_eq!(timed_get(port, "/api/v1/candidates", &token).await.0, 200);

    let locker = app.db.superuser().await;
    locker
        .batch_execute("begin; lock table tenant_acme.ats_job in access exclusive mode")
        .await
        .unwrap();
    let locked = Instant::now();
    let mut blocked = Vec::new();
    for _ in 0..POOL {
        let token = token.clone();
        blocked.push(tokio::spawn(async move {
            timed_get(port, "/api/v1/jobs", &token).await
        }));
    }
    // Until every pooled connection is taken.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (size, idle, _) = app.engine().pool_status();
        if size == POOL && idle == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pool never filled: {size} open, {idle} idle"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let waiting: i64 = locker
        .query_one(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' \
             and datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    // New requests while every connection is held: a bounded wait, then 503.
    let mut fresh = Vec::new();
    for i in 0..12 {
        let token = token.clone();
        let path = if i % 2 == 0 {
            "/api/v1/candidates"
        } else {
            "/api/v1/jobs"
        };
        fresh.push(tokio::spawn(
            async move { timed_get(port, path, &token).await },
        ));
    }
    let mut refused = Vec::new();
    for t in fresh {
        refused.push(t.await.unwrap());
    }
    let ready = {
        let started = Instant::now();
        let r = try_send(
            &reqwest::Client::new(),
            port,
            Method::GET,
            "localhost",
            "/readyz",
            None,
            None,
        )
        .await
        .unwrap();
        (r.status, started.elapsed())
    };

    // Release: the blocked requests finish, and new ones are served.
    locker.batch_execute("commit").await.unwrap();
    let released = Instant::now();
    let mut finished = Vec::new();
    for t in blocked {
        finished.push(t.await.unwrap());
    }
    let after = timed_get(port, "/api/v1/candidates", &token).await;
    let recovered = released.elapsed();

    let longest = refused.iter().map(|r| r.2).max().unwrap_or_default();
    let shortest = refused.iter().map(|r| r.2).min().unwrap_or_default();
    eprintln!(
        "drill pool_exhaustion: pool {POOL}, pool timeout {} ms; requests waiting on the lock \
         in PostgreSQL {waiting}; {} new requests while exhausted: {:?}, waited {}–{} ms; \
         /readyz {} after {} ms; lock held {} ms; the blocked requests then answered {:?}; \
         a new request after the release: {} in {} ms",
        ms(POOL_TIMEOUT),
        refused.len(),
        refused.iter().map(|r| r.0).collect::<Vec<_>>(),
        ms(shortest),
        ms(longest),
        ready.0,
        ms(ready.1),
        ms(released - locked),
        finished.iter().map(|r| (r.0, ms(r.2))).collect::<Vec<_>>(),
        after.0,
        ms(recovered),
    );
    assert_eq!(
        waiting, POOL as i64,
        "every pooled connection blocked on the lock"
    );
    for (status, code, waited) in &refused {
        assert_eq!(
            (*status, code.as_str()),
            (503, "service_unavailable"),
            "a request while the pool is exhausted"
        );
        assert!(
            *waited <= POOL_TIMEOUT + MARGIN,
            "waited {waited:?}, more than the pool timeout {POOL_TIMEOUT:?} + {MARGIN:?}"
        );
    }
    assert_eq!(ready.0, 503, "/readyz while exhausted");
    assert!(ready.1 <= POOL_TIMEOUT + MARGIN);
    assert!(
        finished.iter().all(|r| r.0 == 200),
        "the blocked requests: {finished:?}"
    );
    assert_eq!(after.0, 200, "served again after the release");
    assert!(
        recovered <= Duration::from_secs(2),
        "recovered in {recovered:?}"
    );
}
