//! Suspend, resume, cancel, domains, and deletion in batches.

use zumodra_tenancy::embedded::{ClusterOptions, EmbeddedPostgres};
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{Engine, EngineConfig, Error, TenantStatus};

use crate::support::{create, leftovers};

#[tokio::test]
async fn the_status_machine_allows_only_legal_moves() {
    let db = TestDb::new().await;
    create(&db.engine, "acme").await;
    let e = &db.engine;
    assert_eq!(
        e.suspend_tenant("acme", Some("unpaid"))
            .await
            .unwrap()
            .status,
        TenantStatus::Suspended
    );
    assert!(matches!(
        e.suspend_tenant("acme", None).await,
        Err(Error::InvalidTransition { .. })
    ));
    assert_eq!(
        e.resume_tenant("acme").await.unwrap().status,
        TenantStatus::Active
    );
    assert!(matches!(
        e.resume_tenant("acme").await,
        Err(Error::InvalidTransition { .. })
    ));
    assert_eq!(
        e.cancel_tenant("acme", None).await.unwrap().status,
        TenantStatus::Cancelled
    );
    assert!(matches!(
        e.suspend_tenant("nope", None).await,
        Err(Error::TenantNotFound(_))
    ));
    assert!(e.set_maintenance("acme", true).await.unwrap().maintenance);
}

#[tokio::test]
async fn custom_domains_are_unique_and_the_primary_stays() {
    let db = TestDb::new().await;
    create(&db.engine, "acme").await;
    create(&db.engine, "globex").await;
    let e = &db.engine;
    assert_eq!(
        e.add_domain("acme", "Jobs.Acme.TEST.")
            .await
            .unwrap()
            .domain,
        "jobs.acme.test"
    );
    assert!(matches!(
        e.add_domain("globex", "jobs.acme.test").await,
        Err(Error::DomainTaken(_))
    ));
    assert!(matches!(
        e.add_domain("globex", "x.localhost").await,
        Err(Error::InvalidDomain(_))
    ));
    assert!(matches!(
        e.add_domain("globex", "bad domain").await,
        Err(Error::InvalidDomain(_))
    ));
    assert_eq!(
        e.tenant_by_domain("jobs.acme.test")
            .await
            .unwrap()
            .unwrap()
            .slug
            .as_str(),
        "acme"
    );
    assert!(matches!(
        e.remove_domain("acme", "acme.localhost").await,
        Err(Error::PrimaryDomain)
    ));
    assert!(matches!(
        e.remove_domain("globex", "jobs.acme.test").await,
        Err(Error::DomainNotFound(_))
    ));
    e.remove_domain("acme", "jobs.acme.test").await.unwrap();
    assert!(e
        .tenant_by_domain("jobs.acme.test")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn deletion_drops_everything_and_keeps_a_tombstone() {
    let db = TestDb::new().await;
    let acme = create(&db.engine, "acme").await;
    create(&db.engine, "globex").await;
    db.engine.delete_tenant("acme").await.unwrap();
    let (schemas, roles) = leftovers(&db).await;
    assert_eq!(schemas, ["tenant_globex"]);
    assert!(!roles.iter().any(|r| r.ends_with("_t_acme")), "{roles:?}");
    let tombstone = db.engine.tenant("acme").await.unwrap();
    assert_eq!(tombstone.status, TenantStatus::Deleted);
    assert!(db
        .engine
        .tenant_by_domain("acme.localhost")
        .await
        .unwrap()
        .is_none());
    assert!(db.engine.domains(acme.id).await.unwrap().is_empty());
    // The slug stays taken while the tombstone exists.
    assert!(matches!(
        db.engine
            .create_tenant(crate::support::new_tenant("acme"))
            .await,
        Err(Error::SlugTaken(_))
    ));
    assert!(db.engine.pending_tenants().await.unwrap().is_empty());
}

/// `DROP SCHEMA … CASCADE` of a big tenant needs more locks than the server has; the
/// batched delete does not.
#[tokio::test]
async fn deleting_a_tenant_with_many_tables_works_under_few_locks() {
    let dir = std::env::temp_dir().join(format!("zumodra-locks-{}", std::process::id()));
    let opts = ClusterOptions {
        ephemeral: true,
        settings: vec![
            ("max_locks_per_transaction".into(), "10".into()),
            ("max_connections".into(), "20".into()),
        ],
    };
    let d = dir.clone();
    let cluster = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d, &opts))
        .await
        .unwrap()
        .unwrap();
    let database = cluster.database().await.unwrap();
    let mut config = EngineConfig::new(database.clone(), "localhost");
    config.pool_size = 2;
    config.admin_pool_size = 2;
    let engine = Engine::connect(config).await.unwrap();
    create(&engine, "huge").await;
    let (su, connection) = database
        .connect(zumodra_tenancy::tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for batch in 0..40 {
        let ddl: String = (0..10)
            .map(|i| format!("create table tenant_huge.extra_{batch}_{i} (id bigserial primary key, note text);"))
            .collect();
        // Each call is one implicit transaction of 10 tables.
        su.batch_execute(&ddl).await.unwrap();
    }
    let err = su
        .batch_execute("begin; drop schema tenant_huge cascade;")
        .await
        .unwrap_err();
    assert_eq!(
        err.code().map(|c| c.code()),
        Some("53200"),
        "out of shared memory: {err}"
    );
    su.batch_execute("rollback").await.unwrap();

    engine.delete_tenant("huge").await.unwrap();
    let left: i64 = su
        .query_one(
            "select count(*) from pg_namespace where nspname = 'tenant_huge'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(
        engine.tenant("huge").await.unwrap().status,
        TenantStatus::Deleted
    );
    drop(engine);
    drop(su);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_purged_tombstone_frees_the_slug() {
    let db = TestDb::new().await;
    create(&db.engine, "phoenix").await;
    assert!(matches!(
        db.engine.purge_tenant("phoenix").await,
        Err(Error::InvalidTransition { .. })
    ));
    db.engine.delete_tenant("phoenix").await.unwrap();
    db.engine.purge_tenant("phoenix").await.unwrap();
    let reborn = create(&db.engine, "phoenix").await;
    assert_eq!(reborn.status, TenantStatus::Active);
    let tenants = db.engine.tenants().await.unwrap();
    assert!(tenants
        .iter()
        .any(|t| t.slug.as_str().starts_with("purged-") && t.status == TenantStatus::Deleted));
}
