//! The embedded cluster: starts, keeps its data across a restart, is shared with a
//! second process, and stops cleanly.

use zumodra_tenancy::embedded::{ClusterOptions, EmbeddedPostgres};
use zumodra_tenancy::{Engine, EngineConfig};

use crate::support::create;

#[tokio::test]
async fn the_embedded_cluster_starts_restarts_with_its_data_and_stops() {
    let dir = std::env::temp_dir().join(format!("zumodra-embedded-{}", std::process::id()));
    let opts = ClusterOptions {
        ephemeral: true,
        ..Default::default()
    };
    let (d, o) = (dir.clone(), opts.clone());
    let cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d, &o))
        .await
        .unwrap()
        .unwrap();
    assert!(cluster.started_here());
    assert!(cluster.is_running());
    assert!(!dir.join("postgres/run/.s.PGSQL.5432").exists() || dir.join("postgres/run").is_dir());
    let database = cluster.database().await.unwrap();
    let engine = Engine::connect(EngineConfig::new(database.clone(), "localhost"))
        .await
        .unwrap();
    create(&engine, "durable").await;
    drop(engine);

    // A second process on the same data directory joins the running cluster and does
    // not stop it.
    let d = dir.clone();
    let o = opts.clone();
    let joined = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d, &o))
        .await
        .unwrap()
        .unwrap();
    assert!(!joined.started_here());
    drop(joined);
    assert!(cluster.is_running());

    // Stop, start again: the data is still there.
    let mut cluster = cluster;
    tokio::task::spawn_blocking(move || {
        cluster.stop().unwrap();
        assert!(!cluster.is_running());
    })
    .await
    .unwrap();
    let (d, o) = (dir.clone(), opts.clone());
    let cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d, &o))
        .await
        .unwrap()
        .unwrap();
    let engine = Engine::connect(EngineConfig::new(
        cluster.database().await.unwrap(),
        "localhost",
    ))
    .await
    .unwrap();
    assert_eq!(
        engine.tenant("durable").await.unwrap().slug.as_str(),
        "durable"
    );
    drop(engine);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
