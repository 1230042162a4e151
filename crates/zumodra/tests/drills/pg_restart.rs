//! Drill 1: PostgreSQL stopped (`pg_ctl stop -m fast`) and started again under a
//! write load. While it is down every request gets 503 `service_unavailable` (never a
//! 500, never no answer); the server recovers by itself within 5 s of PostgreSQL's
//! return; every candidate acknowledged with a 201 is in the database afterwards.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use zumodra_tenancy::{Engine, EngineConfig};

use crate::helpers::{self, send};
use crate::support::{self, candidate_writers, histogram, ms, Cluster};

const DOWN_FOR: Duration = Duration::from_secs(3);
const RECOVERY_LIMIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_mid_load() {
    let _serial = crate::support::one_at_a_time().await;
    let mut cluster = tokio::task::spawn_blocking(|| Cluster::start(true))
        .await
        .unwrap();
    let mut config = EngineConfig::new(cluster.config(), "localhost");
    config.pool_size = 8;
    config.pool_timeout = Duration::from_secs(2);
    let engine = Engine::connect(config).await.unwrap();
    let tenant = support::create_acme(&engine).await;
    let port = helpers::start_server(engine.clone(), helpers::settings()).await;
    let client = reqwest::Client::new();
    let token = send(
        &client,
        port,
        reqwest::Method::POST,
        &support::host("acme"),
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "owner@acme.test", "password": helpers::PASSWORD})),
    )
    .await
    .ok(200)["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(candidate_writers(
        Arc::new(AtomicU16::new(port)),
        "acme".into(),
        token.clone(),
        6,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Down: stop returns once PostgreSQL has exited.
    let stopping = Instant::now();
    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .unwrap();
    let down = Instant::now();
    tokio::time::sleep(DOWN_FOR).await;
    let starting = Instant::now();
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start_again();
        cluster
    })
    .await
    .unwrap();
    let up = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, SeqCst);
    let outcomes = load.await.unwrap();

    // Asked while down (after the stop returned, answered before the start began): only
    // 503 service_unavailable.
    let during: Vec<_> = outcomes
        .iter()
        .filter(|o| o.at - o.elapsed > down && o.at < starting)
        .collect();
    let wrong: Vec<_> = outcomes
        .iter()
        .filter(|o| !(o.status == 201 || (o.status == 503 && o.code == "service_unavailable")))
        .collect();
    let first_ok = outcomes.iter().find(|o| o.at > up && o.status == 201);
    let recovery = first_ok.map(|o| o.at - up);
    let slowest_down = during.iter().map(|o| o.elapsed).max().unwrap_or_default();
    let acked: Vec<i64> = outcomes.iter().filter_map(|o| o.id).collect();

    let su = support::connect(&cluster.config()).await;
    let present = support::present_ids(&su, "tenant_acme", "ats_candidate", &acked).await;
    let lost: Vec<i64> = acked
        .iter()
        .copied()
        .filter(|id| !present.contains(id))
        .collect();
    let stored: i64 = su
        .query_one("select count(*) from tenant_acme.ats_candidate", &[])
        .await
        .unwrap()
        .get(0);

    eprintln!(
        "drill pg_restart: requests {}, answers {:?}; stop took {} ms, down {} ms; \
         during the outage {} answers (slowest {} ms); recovery after PostgreSQL's return {:?} ms; \
         acknowledged {}, present {}, lost {}; candidate rows stored {}",
        outcomes.len(),
        histogram(&outcomes),
        ms(down - stopping),
        ms(up - down),
        during.len(),
        ms(slowest_down),
        recovery.map(ms),
        acked.len(),
        present.len(),
        lost.len(),
        stored,
    );
    assert!(
        wrong.is_empty(),
        "answers other than 201 and 503 service_unavailable: {wrong:?}"
    );
    assert!(
        during.len() >= 5 && during.iter().all(|o| o.status == 503),
        "the outage was observed as 503s: {during:?}"
    );
    let recovery = recovery.expect("no 201 after PostgreSQL came back");
    assert!(
        recovery <= RECOVERY_LIMIT,
        "recovered in {recovery:?} (limit {RECOVERY_LIMIT:?})"
    );
    assert!(lost.is_empty(), "acknowledged but missing: {lost:?}");
    assert!(acked.len() >= 50, "too little load: {} writes", acked.len());
    drop(tenant);
    drop(su);
    drop(engine);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
