//! The warm pool: a claimed tenant is the tenant a build makes, isolation holds for it,
//! concurrent claims never share a schema, an empty pool falls back to building, a
//! failed creation puts the schema back, fleet migrations cover warm schemas, and
//! nothing is left behind when the pool is drained or the installation torn down.

use std::time::Duration;

use zumodra_tenancy::migrations::Migrations;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{Error, NewTenant, ProvisionOptions, ProvisionStep, WarmReport};

use crate::provisioning::schema_shape;
use crate::support::{create, fail_creation_at, leftovers, new_tenant, with_owner};

/// A second tenant migration, so the comparisons cover more than one version.
const SECOND: &str = "alter table ats_job add column priority integer not null default 0;\n\
     create index ats_job_priority on ats_job (priority);";

async fn pool_of(size: usize) -> TestDb {
    TestDb::with(|c| {
        c.warm_pool_size = size;
        c.admin_pool_size = 8;
    })
    .await
}

/// Schemas named `warm_%` in the test database.
async fn warm_schemas(db: &TestDb) -> Vec<String> {
    db.superuser()
        .await
        .query(
            "select nspname::text from pg_namespace where nspname like 'warm\\_%' order by 1",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("listing warm schemas: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn scratch(new: NewTenant) -> (NewTenant, ProvisionOptions) {
    (
        new,
        ProvisionOptions {
            from_scratch: true,
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn a_claimed_tenant_is_the_tenant_a_build_makes() {
    let db = TestDb::with(|c| {
        c.warm_pool_size = 1;
        c.tenant_migrations = Migrations::tenant().with("test_priority", SECOND);
    })
    .await;
    let report = db.engine.top_up_warm_pool().await.unwrap();
    assert_eq!((report.built, report.ready), (1, 1));
    let warm_name = warm_schemas(&db).await.pop().unwrap();

    let claimed = db
        .engine
        .create_tenant(with_owner("warm-co", "owner@warm.test"))
        .await
        .unwrap();
    assert_eq!(
        db.engine.warm_ready().await.unwrap(),
        0,
        "the schema was claimed"
    );
    assert!(warm_schemas(&db).await.is_empty());
    let (new, opts) = scratch(with_owner("built-co", "owner@built.test"));
    let built = db.engine.create_tenant_with(new, opts).await.unwrap();

    let a = schema_shape(
        &db,
        "tenant_warm_co",
        db.engine.tenant_role(&claimed.slug).as_str(),
    )
    .await;
    let b = schema_shape(
        &db,
        "tenant_built_co",
        db.engine.tenant_role(&built.slug).as_str(),
    )
    .await;
    assert!(a.len() > 50, "the comparison sees the schema: {}", a.len());
    assert!(a.iter().any(|l| l.starts_with("fn audit_log_chain")));
    assert!(a.iter().any(|l| l.starts_with("trg ")));
    assert!(a.iter().any(|l| l.contains("ats_job_priority")));
    let only_a: Vec<_> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_b: Vec<_> = b.iter().filter(|l| !a.contains(l)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "claimed only: {only_a:#?}\nbuilt only: {only_b:#?}"
    );
    // No trace of the placeholder names anywhere in the claimed schema's definitions.
    let token = warm_name.trim_start_matches("warm_");
    assert!(
        a.iter().all(|l| !l.contains(token)),
        "{:#?}",
        a.iter().filter(|l| l.contains(token)).collect::<Vec<_>>()
    );

    // It works like a built tenant: catalog, ledger, owner, audit chain.
    let status = db.engine.migration_status().await.unwrap();
    assert_eq!(status.counts, vec![(2, "ok".to_string(), 2)]);
    for t in [&claimed, &built] {
        let tx = db.engine.begin(&t.as_ref()).await.unwrap();
        let owners: i64 = tx
            .query_one("select count(*) from members where role = 'owner'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(owners, 1);
        for action in ["create", "update"] {
            tx.execute(
                "insert into audit_log (action, entity) values ($1, 'job')",
                &[&action],
            )
            .await
            .unwrap();
        }
        let chained: i64 = tx
            .query_one(
                "select count(*) from audit_log where seq in (1, 2) and length(hash) = 32 \
                 and (seq = 1 or prev_hash is not null)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(chained, 2, "{}", t.slug);
        tx.commit().await.unwrap();
    }
    let found = db
        .engine
        .tenant_by_domain("warm-co.localhost")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, claimed.id);
}

#[tokio::test]
async fn a_claimed_tenant_cannot_reach_another_schema() {
    let db = pool_of(3).await;
    db.engine.top_up_warm_pool().await.unwrap();
    let a = create(&db.engine, "acme").await.as_ref();
    let b = create(&db.engine, "globex").await.as_ref();
    assert_eq!(db.engine.warm_ready().await.unwrap(), 1);
    let left = warm_schemas(&db).await.pop().unwrap();
    for (me, other) in [
        (&a, "tenant_globex"),
        (&b, "tenant_acme"),
        (&a, left.as_str()),
    ] {
        let tx = db.engine.begin(me).await.unwrap();
        let err = tx
            .query(&format!("select id from {other}.ats_job"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            err.sqlstate(),
            Some("42501"),
            "{} reading {other}: {err}",
            me.slug
        );
    }
    // And its own tables are its own.
    let tx = db.engine.begin(&a).await.unwrap();
    tx.execute("insert into ats_job (title) values ('Engineer')", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tx = db.engine.begin(&b).await.unwrap();
    let n: i64 = tx
        .query_one("select count(*) from ats_job", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn concurrent_claims_never_share_a_schema_and_the_rest_are_built() {
    let db = pool_of(6).await;
    db.engine.top_up_warm_pool().await.unwrap();
    let (_, roles_before) = leftovers(&db).await;
    assert_eq!(roles_before.len(), 2 + 6, "runtime, group, six warm roles");
    // Ten creations at once: six claim, four find the pool empty and build.
    let attempts = (0..10).map(|i| {
        let engine = db.engine.clone();
        tokio::spawn(async move { engine.create_tenant(new_tenant(&format!("co{i:02}"))).await })
    });
    for r in futures::future::join_all(attempts).await {
        r.unwrap().unwrap();
    }
    assert_eq!(db.engine.warm_ready().await.unwrap(), 0);
    assert!(warm_schemas(&db).await.is_empty());
    let (schemas, roles) = leftovers(&db).await;
    assert_eq!(schemas.len(), 10);
    assert_eq!(
        roles.len(),
        2 + 10,
        "no warm role left, none lost: {roles:?}"
    );
    for i in 0..10 {
        let t = db.engine.tenant(&format!("co{i:02}")).await.unwrap();
        let tx = db.engine.begin(&t.as_ref()).await.unwrap();
        let schema: String = tx
            .query_one("select current_schema()::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(schema, format!("tenant_co{i:02}"));
    }
}

#[tokio::test]
async fn an_empty_pool_falls_back_to_building() {
    let db = pool_of(2).await;
    // Never topped up: the pool is empty.
    let t = create(&db.engine, "acme").await;
    let tx = db.engine.begin(&t.as_ref()).await.unwrap();
    tx.query_one("select count(*) from ats_job", &[])
        .await
        .unwrap();
    drop(tx);
    assert_eq!(db.engine.warm_ready().await.unwrap(), 0);
    // An engine with the pool disabled does not claim what another one built.
    db.engine.top_up_warm_pool().await.unwrap();
    let mut config = db.config();
    config.warm_pool_size = 0;
    let disabled = zumodra_tenancy::Engine::connect(config).await.unwrap();
    create(&disabled, "globex").await;
    assert_eq!(db.engine.warm_ready().await.unwrap(), 2);
}

#[tokio::test]
async fn a_failed_creation_puts_the_schema_back() {
    let db = pool_of(1).await;
    db.engine.top_up_warm_pool().await.unwrap();
    let warm_before = warm_schemas(&db).await;
    let (_, roles_before) = leftovers(&db).await;
    for step in ProvisionStep::ALL {
        fail_creation_at(&db.engine, step).await;
        assert_eq!(warm_schemas(&db).await, warm_before, "{step:?}");
        let (schemas, roles) = leftovers(&db).await;
        assert!(schemas.is_empty(), "{step:?} left {schemas:?}");
        assert_eq!(roles, roles_before, "{step:?}");
        assert!(matches!(
            db.engine.tenant("doomed").await,
            Err(Error::TenantNotFound(_))
        ));
    }
    // A taken slug also leaves the pool as it was.
    db.engine
        .create_tenant_with(
            new_tenant("taken"),
            ProvisionOptions {
                from_scratch: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let err = db
        .engine
        .create_tenant(new_tenant("taken"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SlugTaken(_)), "{err}");
    assert_eq!(warm_schemas(&db).await, warm_before);
    // And then the schema is claimed.
    create(&db.engine, "doomed").await;
    assert!(warm_schemas(&db).await.is_empty());
}

#[tokio::test]
async fn fleet_migrations_cover_warm_schemas() {
    let db = pool_of(2).await;
    db.engine.top_up_warm_pool().await.unwrap();
    // A new release with one more tenant migration, on the same database.
    let mut config = db.config();
    config.tenant_migrations = Migrations::tenant().with("test_priority", SECOND);
    let newer = zumodra_tenancy::Engine::connect(config).await.unwrap();
    assert_eq!(
        newer.warm_ready().await.unwrap(),
        0,
        "old schemas are not claimable"
    );
    // Claimed before migrating: built at version 2, the old schemas untouched.
    let early = create(&newer, "early").await;
    assert_eq!(newer.migrate_warm_pool().await.unwrap(), 2);
    assert_eq!(newer.warm_ready().await.unwrap(), 2);
    assert_eq!(
        db.engine.warm_ready().await.unwrap(),
        0,
        "the old release claims none"
    );
    let late = create(&newer, "late").await;
    assert_eq!(newer.warm_ready().await.unwrap(), 1);
    let status = newer.migration_status().await.unwrap();
    assert_eq!(status.counts, vec![(2, "ok".to_string(), 2)]);
    let a = schema_shape(&db, "tenant_early", newer.tenant_role(&early.slug).as_str()).await;
    let b = schema_shape(&db, "tenant_late", newer.tenant_role(&late.slug).as_str()).await;
    assert!(a.iter().any(|l| l.contains("ats_job_priority")));
    assert_eq!(a, b, "a migrated warm schema is the schema a build makes");
}

#[tokio::test]
async fn top_up_converges_and_drain_removes_everything() {
    let db = pool_of(3).await;
    let first = db.engine.top_up_warm_pool().await.unwrap();
    assert_eq!(
        first,
        WarmReport {
            built: 3,
            ready: 3,
            ..Default::default()
        }
    );
    let again = db.engine.top_up_warm_pool().await.unwrap();
    assert_eq!((again.built, again.dropped, again.ready), (0, 0, 3));
    // A smaller pool drops the surplus.
    let mut config = db.config();
    config.warm_pool_size = 1;
    let smaller = zumodra_tenancy::Engine::connect(config).await.unwrap();
    let shrink = smaller.top_up_warm_pool().await.unwrap();
    assert_eq!((shrink.dropped, shrink.ready), (2, 1));
    assert_eq!(warm_schemas(&db).await.len(), 1);
    assert_eq!(leftovers(&db).await.1.len(), 2 + 1);
    assert_eq!(db.engine.drain_warm_pool().await.unwrap(), 1);
    assert!(warm_schemas(&db).await.is_empty());
    assert_eq!(
        leftovers(&db).await.1.len(),
        2,
        "runtime role and group only"
    );
}

#[tokio::test]
async fn the_background_task_refills_after_a_claim() {
    let db = pool_of(2).await;
    let task = db.engine.spawn_warm_pool();
    let ready_within = |n: usize| {
        let engine = db.engine.clone();
        async move {
            for _ in 0..300 {
                if engine.warm_ready().await.unwrap() == n {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(ready_within(2).await, "filled at start");
    create(&db.engine, "acme").await;
    assert!(ready_within(2).await, "refilled after the claim");
    task.abort();
    assert_eq!(warm_schemas(&db).await.len(), 2);
}

#[tokio::test]
async fn tearing_down_the_installation_removes_warm_roles() {
    let db = pool_of(2).await;
    db.engine.top_up_warm_pool().await.unwrap();
    let prefix = db.prefix.clone();
    assert_eq!(leftovers(&db).await.1.len(), 2 + 2);
    drop(db);
    let (client, connection) = zumodra_tenancy::testing::server_config()
        .connect(zumodra_tenancy::tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let n: i64 = client
        .query_one(
            "select count(*) from pg_roles where rolname like $1",
            &[&prefix.like_pattern()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "no role of the installation is left");
}
