//! SPEC §2 guarantees 1 (engine level), 2, 3 and 4.

use std::time::Duration;

use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::Engine;

use crate::support::create;

/// The connection's own state, outside any tenant transaction.
async fn connection_state(engine: &Engine) -> (String, String, bool) {
    let conn = engine.shared().await.unwrap();
    // One simple-protocol message: a fresh implicit transaction starts with the query,
    // so xact_start = query_start unless an earlier transaction is still open.
    let messages = conn
        .simple_query(
            "select current_user::text, current_setting('search_path'), \
                    coalesce(xact_start = query_start, true)::text \
             from pg_stat_activity where pid = pg_backend_pid()",
        )
        .await
        .unwrap();
    let row = messages
        .iter()
        .find_map(|m| match m {
            zumodra_tenancy::tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let text = |i: usize| row.get(i).unwrap().to_string();
    (text(0), text(1), text(2) == "true")
}

#[tokio::test]
async fn identical_rows_in_two_tenants_stay_independent() {
    let db = TestDb::new().await;
    let a = create(&db.engine, "acme").await.as_ref();
    let b = create(&db.engine, "globex").await.as_ref();
    for t in [&a, &b] {
        let tx = db.engine.begin(t).await.unwrap();
        let id: i64 = tx
            .query_one(
                "insert into ats_job (title) values ('Engineer') returning id",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(id, 1, "each tenant has its own sequence");
        tx.commit().await.unwrap();
    }
    let tx = db.engine.begin(&a).await.unwrap();
    tx.execute(
        "update ats_job set title = 'Senior Engineer' where id = 1",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let tx = db.engine.begin(&b).await.unwrap();
    let title: String = tx
        .query_one("select title from ats_job where id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(title, "Engineer");
    let n: i64 = tx
        .query_one("select count(*) from ats_job", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn tenant_tables_exist_only_in_tenant_schemas() {
    let db = TestDb::new().await;
    create(&db.engine, "acme").await;
    let su = db.superuser().await;
    let public: Vec<String> = su
        .query(
            "select tablename::text from pg_tables where schemaname = 'public' order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for shared in [
        "tenants",
        "domains",
        "users",
        "sessions",
        "plans",
        "platform_audit",
        "tenant_migrations",
    ] {
        assert!(
            public.iter().any(|t| t == shared),
            "{shared} missing from public: {public:?}"
        );
    }
    let tenant: Vec<String> = su
        .query(
            "select tablename::text from pg_tables where schemaname = 'tenant_acme' order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in [
        "ats_job",
        "ats_candidate",
        "ats_application",
        "members",
        "hr_core_employee",
        "audit_log",
    ] {
        assert!(
            tenant.iter().any(|t| t == table),
            "{table} missing from tenant_acme: {tenant:?}"
        );
    }
    let leaked: Vec<&String> = tenant.iter().filter(|t| public.contains(t)).collect();
    assert!(leaked.is_empty(), "tenant tables in public: {leaked:?}");
    // No foreign key points into a tenant schema from elsewhere, and none leaves one.
    let crossing: i64 = su
        .query_one(
            "select count(*) from pg_constraint c \
             join pg_class src on src.oid = c.conrelid join pg_namespace sn on sn.oid = src.relnamespace \
             join pg_class dst on dst.oid = c.confrelid join pg_namespace dn on dn.oid = dst.relnamespace \
             where c.contype = 'f' and sn.nspname <> dn.nspname",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(crossing, 0);
}

#[tokio::test]
async fn raw_sql_naming_another_tenant_schema_is_refused_by_postgres() {
    let db = TestDb::new().await;
    let a = create(&db.engine, "acme").await.as_ref();
    create(&db.engine, "globex").await;
    let tx = db.engine.begin(&a).await.unwrap();
    let err = tx
        .query("select id, title from tenant_globex.ats_job", &[])
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("42501"), "{err}");
    drop(tx);
    let tx = db.engine.begin(&a).await.unwrap();
    let err = tx
        .query(
            "insert into tenant_globex.ats_job (title) values ('x')",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("42501"), "{err}");
    drop(tx);
    // Unqualified SQL sees only A's tables.
    let tx = db.engine.begin(&a).await.unwrap();
    let schema: String = tx
        .query_one(
            "select table_schema::text from information_schema.tables where table_name = 'ats_job'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(schema, "tenant_acme");
    drop(tx);
    // Outside a tenant transaction the runtime role reads no tenant schema at all.
    let conn = db.engine.shared().await.unwrap();
    let err = conn
        .query("select id from tenant_acme.ats_job", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{err}");
    let inherit: bool = conn
        .query_one(
            "select rolinherit from pg_roles where rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!inherit, "the runtime role must be NOINHERIT");
}

#[tokio::test]
async fn every_way_a_transaction_ends_leaves_a_clean_connection() {
    // One pooled connection, so every check sees the connection the tenant used.
    let db = TestDb::with(|c| c.pool_size = 1).await;
    let engine = db.engine.clone();
    let a = create(&engine, "acme").await.as_ref();
    let clean = connection_state(&engine).await;
    assert_eq!(clean.0, db.prefix.runtime_role().as_str());
    assert!(clean.2, "not inside a transaction");

    let inside = |state: &(String, String, bool)| {
        state.0.contains("_t_acme") || state.1.contains("tenant_acme")
    };

    // commit
    let tx = engine.begin(&a).await.unwrap();
    let row = tx
        .query_one(
            "select current_user::text, current_setting('search_path')",
            &[],
        )
        .await
        .unwrap();
    assert!(
        inside(&(row.get(0), row.get(1), false)),
        "the switch happened"
    );
    tx.commit().await.unwrap();
    assert_eq!(connection_state(&engine).await, clean, "after commit");

    // rollback
    let tx = engine.begin(&a).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(connection_state(&engine).await, clean, "after rollback");

    // dropped without commit, and the write is gone
    let tx = engine.begin(&a).await.unwrap();
    tx.execute("insert into ats_job (title) values ('ghost')", &[])
        .await
        .unwrap();
    drop(tx);
    assert_eq!(connection_state(&engine).await, clean, "after drop");
    let tx = engine.begin(&a).await.unwrap();
    let n: i64 = tx
        .query_one("select count(*) from ats_job", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "a dropped transaction is rolled back");
    tx.commit().await.unwrap();

    // an error inside
    let tx = engine.begin(&a).await.unwrap();
    assert!(tx.query("select 1/0", &[]).await.is_err());
    drop(tx);
    assert_eq!(connection_state(&engine).await, clean, "after an error");

    // a commit that fails (the transaction was aborted by an error)
    let tx = engine.begin(&a).await.unwrap();
    assert!(tx
        .query("select nonexistent_column from ats_job", &[])
        .await
        .is_err());
    let _ = tx.commit().await;
    assert_eq!(
        connection_state(&engine).await,
        clean,
        "after a failed commit"
    );

    // a panic inside
    let (e2, a2) = (engine.clone(), a.clone());
    let panicked = tokio::spawn(async move {
        let tx = e2.begin(&a2).await.unwrap();
        tx.execute("insert into ats_job (title) values ('panic')", &[])
            .await
            .unwrap();
        panic!("handler bug");
    })
    .await;
    assert!(panicked.is_err());
    assert_eq!(connection_state(&engine).await, clean, "after a panic");

    // a cancelled future (a timeout mid-query)
    let cancelled = tokio::time::timeout(Duration::from_millis(50), async {
        let tx = engine.begin(&a).await.unwrap();
        tx.query("select pg_sleep(0.5)", &[]).await.unwrap();
        tx.commit().await.unwrap();
    })
    .await;
    assert!(cancelled.is_err());
    assert_eq!(
        connection_state(&engine).await,
        clean,
        "after a cancelled future"
    );

    // a read that ends the transaction, ROLLBACK pipelined behind it: first with a
    // statement new to the connection (parsed in a round trip of its own), then cached.
    // Were the ROLLBACK to overtake the read, the read would run as the runtime role.
    let read = "select current_user::text, current_setting('search_path') from ats_job \
                right join (values (1)) v(x) on true";
    for round in ["a new statement", "a cached statement"] {
        let tx = engine.begin(&a).await.unwrap();
        let rows = tx.query_and_end(read, &[]).await.unwrap();
        assert!(
            inside(&(rows[0].get(0), rows[0].get(1), false)),
            "{round}: the read ran inside the tenant transaction"
        );
        assert!(tx.query("select 1", &[]).await.is_err(), "{round}: over");
        assert!(tx.commit().await.is_err(), "{round}: nothing to commit");
        assert_eq!(
            connection_state(&engine).await,
            clean,
            "after query_and_end, {round}"
        );
    }
    // … whatever the statement did is rolled back, and a failing one ends cleanly too
    let tx = engine.begin(&a).await.unwrap();
    tx.query_and_end(
        "insert into ats_job (title) values ('read') returning id",
        &[],
    )
    .await
    .unwrap();
    drop(tx);
    let tx = engine.begin(&a).await.unwrap();
    assert!(tx.query_and_end("select 1/0", &[]).await.is_err());
    drop(tx);
    assert_eq!(
        connection_state(&engine).await,
        clean,
        "after a failed query_and_end"
    );

    // the tenant's data is intact after all that
    let tx = engine.begin(&a).await.unwrap();
    let n: i64 = tx
        .query_one("select count(*) from ats_job", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[tokio::test]
async fn a_tenant_role_cannot_change_or_delete_audit_rows() {
    let db = TestDb::new().await;
    let a = create(&db.engine, "acme").await.as_ref();
    let tx = db.engine.begin(&a).await.unwrap();
    tx.execute(
        "insert into audit_log (action, entity, hash) values ('create', 'job', '\\x00')",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for sql in [
        "update audit_log set action = 'x'",
        "delete from audit_log",
        "truncate audit_log",
    ] {
        let tx = db.engine.begin(&a).await.unwrap();
        let err = tx.execute(sql, &[]).await.unwrap_err();
        assert_eq!(err.sqlstate(), Some("42501"), "{sql}: {err}");
    }
    let tx = db.engine.begin(&a).await.unwrap();
    let n: i64 = tx
        .query_one("select count(*) from audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
