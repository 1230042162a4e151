//! Provisioning: all or nothing, one winner per slug, and the same schema whether built
//! at once or migrated step by step.

use zumodra_tenancy::migrations::Migrations;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{Error, MigrateOptions, ProvisionStep, TenantStatus};

use crate::support::{create, create_at, fail_creation_at, leftovers, new_tenant, with_owner};

#[tokio::test]
async fn a_tenant_gets_role_schema_tables_domain_and_owner() {
    let db = TestDb::new().await;
    let t = db
        .engine
        .create_tenant(with_owner("acme-corp", "Alice@Acme.test"))
        .await
        .unwrap();
    assert_eq!(t.status, TenantStatus::Active);
    let domains = db.engine.domains(t.id).await.unwrap();
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].domain, "acme-corp.localhost");
    assert!(domains[0].is_primary);
    let found = db
        .engine
        .tenant_by_domain("acme-corp.localhost")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, t.id);
    let su = db.superuser().await;
    let row = su
        .query_one(
            "select n.nspowner::regrole::text, r.rolcanlogin from pg_namespace n \
             join pg_roles r on r.oid = n.nspowner where n.nspname = 'tenant_acme_corp'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        db.engine.tenant_role(&t.slug).as_str()
    );
    assert!(!row.get::<_, bool>(1), "tenant roles are NOLOGIN");
    let user = db
        .engine
        .user_by_email("alice@acme.TEST")
        .await
        .unwrap()
        .unwrap();
    let tx = db.engine.begin(&t.as_ref()).await.unwrap();
    let role: String = tx
        .query_one("select role from members where user_id = $1", &[&user.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(role, "owner");
}

#[tokio::test]
async fn bad_slugs_names_and_plans_are_refused() {
    let db = TestDb::new().await;
    for slug in ["Acme", "ab", "www", "platform", "acme_corp", "-acme"] {
        let err = db.engine.create_tenant(new_tenant(slug)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidSlug(_)), "{slug}: {err}");
    }
    let err = db
        .engine
        .create_tenant(zumodra_tenancy::NewTenant {
            plan: "platinum".into(),
            ..new_tenant("acme")
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownPlan(_)), "{err}");
    let err = db
        .engine
        .create_tenant(zumodra_tenancy::NewTenant {
            name: "  ".into(),
            ..new_tenant("acme")
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert_eq!(leftovers(&db).await.0, Vec::<String>::new());
}

#[tokio::test]
async fn a_failure_at_any_step_leaves_nothing_behind() {
    let db = TestDb::new().await;
    let (_, roles_before) = leftovers(&db).await;
    for step in ProvisionStep::ALL {
        fail_creation_at(&db.engine, step).await;
        let (schemas, roles) = leftovers(&db).await;
        assert!(schemas.is_empty(), "{step:?} left schemas {schemas:?}");
        assert_eq!(roles, roles_before, "{step:?} left roles");
        assert!(
            matches!(
                db.engine.tenant("doomed").await,
                Err(Error::TenantNotFound(_))
            ),
            "{step:?}"
        );
        assert!(db
            .engine
            .tenant_by_domain("doomed.localhost")
            .await
            .unwrap()
            .is_none());
        assert!(
            db.engine
                .user_by_email("owner@doomed.test")
                .await
                .unwrap()
                .is_none(),
            "{step:?}"
        );
    }
    // And the slug is still free.
    create(&db.engine, "doomed").await;
}

#[tokio::test]
async fn fifty_concurrent_creations_of_one_slug_have_one_winner() {
    // Fifty creations queue for eight owner connections: on a loaded machine the last
    // ones wait longer than the default 5 s pool timeout, which is not what this tests.
    let db = TestDb::with(|c| {
        c.admin_pool_size = 8;
        c.pool_timeout = std::time::Duration::from_secs(60);
    })
    .await;
    let attempts = (0..50).map(|_| {
        let engine = db.engine.clone();
        tokio::spawn(async move { engine.create_tenant(new_tenant("contested")).await })
    });
    let results = futures::future::join_all(attempts).await;
    let (mut won, mut taken) = (0, 0);
    for r in results {
        match r.unwrap() {
            Ok(_) => won += 1,
            Err(Error::SlugTaken(_)) => taken += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((won, taken), (1, 49));
    // And fifty different slugs at once all succeed.
    let attempts = (0..50).map(|i| {
        let engine = db.engine.clone();
        tokio::spawn(async move { engine.create_tenant(new_tenant(&format!("co{i:02}"))).await })
    });
    for r in futures::future::join_all(attempts).await {
        r.unwrap().unwrap();
    }
    let (schemas, roles) = leftovers(&db).await;
    assert_eq!(schemas.len(), 51, "no orphan schema");
    // runtime role + tenants group + one per tenant
    assert_eq!(roles.len(), 2 + 51, "no orphan role: {roles:?}");
}

/// A schema's shape with the tenant's own names replaced, for comparison: columns,
/// constraints, indexes, relations with owners and privileges, sequences, functions,
/// triggers, the schema's owner and privileges, and the role's memberships. Also used
/// by `warm_pool.rs` to compare claimed schemas with built ones.
pub async fn schema_shape(db: &TestDb, schema: &str, role: &str) -> Vec<String> {
    let su = db.superuser().await;
    let queries = [
        // columns
        "select format('col %s.%s %s null=%s default=%s identity=%s', c.table_name, c.column_name, \
             c.data_type, c.is_nullable, coalesce(c.column_default, ''), c.is_identity) \
         from information_schema.columns c where c.table_schema = $1",
        // constraints
        "select format('con %s %s %s', t.relname, c.conname, pg_get_constraintdef(c.oid)) \
         from pg_constraint c join pg_class t on t.oid = c.conrelid \
         join pg_namespace n on n.oid = t.relnamespace where n.nspname = $1",
        // indexes
        "select format('idx %s %s', i.indexname, i.indexdef) from pg_indexes i where i.schemaname = $1",
        // relations: kind, owner, privileges
        "select format('rel %s %s owner=%s acl=%s', c.relname, c.relkind, c.relowner::regrole, \
             coalesce(c.relacl::text, '')) \
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1",
        // sequences and the column that owns each
        "select format('seq %s owned_by=%s.%s', s.relname, t.relname, a.attname) \
         from pg_class s join pg_namespace n on n.oid = s.relnamespace \
         join pg_depend d on d.objid = s.oid and d.deptype in ('a', 'i') \
         join pg_class t on t.oid = d.refobjid \
         join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid \
         where s.relkind = 'S' and n.nspname = $1",
        // functions: full definition, owner, settings, privileges
        "select format('fn %s owner=%s config=%s acl=%s def=%s', p.proname, p.proowner::regrole, \
             coalesce(p.proconfig::text, ''), coalesce(p.proacl::text, ''), pg_get_functiondef(p.oid)) \
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = $1",
        // triggers
        "select format('trg %s', pg_get_triggerdef(t.oid)) from pg_trigger t \
         join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = $1 and not t.tgisinternal",
        // the schema itself: owner and privileges
        "select format('nsp owner=%s acl=%s', n.nspowner::regrole, coalesce(n.nspacl::text, '')) \
         from pg_namespace n where n.nspname = $1",
        // the role: attributes and memberships both ways (the runtime role's name is
        // the installation's, the same for both schemas)
        "select format('role login=%s inherit=%s member_of=%s members=%s', r.rolcanlogin, r.rolinherit, \
             (select string_agg(m.roleid::regrole::text, ',' order by m.roleid::regrole::text) from pg_auth_members m where m.member = r.oid), \
             (select string_agg(m.member::regrole::text, ',' order by m.member::regrole::text) from pg_auth_members m where m.roleid = r.oid)) \
         from pg_roles r join pg_namespace n on n.nspowner = r.oid where n.nspname = $1",
    ];
    let mut shape = Vec::new();
    for q in queries {
        for row in su.query(q, &[&schema]).await.unwrap() {
            let line: String = row.get(0);
            shape.push(line.replace(schema, "SCHEMA").replace(role, "ROLE"));
        }
    }
    shape.sort();
    shape
}

#[tokio::test]
async fn provisioned_and_step_by_step_migrated_schemas_are_identical() {
    // A second migration, so the step-by-step path really takes two steps.
    let db = TestDb::with(|c| {
        c.tenant_migrations = Migrations::tenant().with(
            "test_priority",
            "alter table ats_job add column priority integer not null default 0;\n\
             create index ats_job_priority on ats_job (priority);\n\
             create table ats_tag (id bigint generated always as identity primary key, name text not null unique);",
        )
    })
    .await;
    let latest = db.engine.tenant_migrations().latest();
    let fresh = create(&db.engine, "fresh").await;
    let old = create_at(&db.engine, "old", 0).await;
    let pending = db.engine.pending_tenants().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].version, 0);
    let report = db
        .engine
        .migrate_tenants(pending, &MigrateOptions::default(), &|_| {})
        .await
        .unwrap();
    assert_eq!(report.migrated, 1);
    let status = db.engine.migration_status().await.unwrap();
    assert_eq!(status.counts, vec![(latest, "ok".to_string(), 2)]);
    let a = schema_shape(
        &db,
        "tenant_fresh",
        db.engine.tenant_role(&fresh.slug).as_str(),
    )
    .await;
    let b = schema_shape(&db, "tenant_old", db.engine.tenant_role(&old.slug).as_str()).await;
    assert!(
        a.len() > 50,
        "the comparison sees the schema: {} lines",
        a.len()
    );
    assert!(a.iter().any(|l| l.contains("ats_job_priority")));
    assert!(a
        .iter()
        .any(|l| l.contains("audit_log") && l.contains("acl=")));
    let only_a: Vec<_> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_b: Vec<_> = b.iter().filter(|l| !a.contains(l)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "provisioned only: {only_a:#?}\nmigrated only: {only_b:#?}"
    );
}
