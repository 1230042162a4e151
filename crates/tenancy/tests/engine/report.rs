//! The cross-tenant usage report equals counts taken tenant by tenant.

use zumodra_tenancy::report::usage_csv;
use zumodra_tenancy::testing::TestDb;

use crate::support::{create, with_owner};

#[tokio::test]
async fn the_usage_report_matches_counts_taken_tenant_by_tenant() {
    let db = TestDb::new().await;
    let a = db
        .engine
        .create_tenant(with_owner("acme", "alice@acme.test"))
        .await
        .unwrap();
    let b = create(&db.engine, "globex").await;
    let tx = db.engine.begin(&a.as_ref()).await.unwrap();
    tx.execute(
        "insert into ats_job (title, status) values ('a', 'open'), ('b', 'open'), ('c', 'draft')",
        &[],
    )
    .await
    .unwrap();
    tx.execute(
        "insert into ats_candidate (name, email) values ('x', 'x@x.test')",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let tx = db.engine.begin(&b.as_ref()).await.unwrap();
    tx.execute(
        "insert into hr_core_employee (name, email) values ('e', 'e@x.test')",
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    db.engine.delete_tenant("globex").await.unwrap();
    create(&db.engine, "initech").await;

    let report = db.engine.usage_report(4).await.unwrap();
    let slugs: Vec<&str> = report.iter().map(|r| r.slug.as_str()).collect();
    assert_eq!(slugs, ["acme", "initech"], "deleted tenants are left out");
    let su = db.superuser().await;
    for row in &report {
        let schema = format!("tenant_{}", row.slug);
        let count = |table: &str| format!("select count(*) from {schema}.{table}");
        let n = |sql: String| {
            let su = &su;
            async move { su.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) }
        };
        assert_eq!(row.members, n(count("members")).await);
        assert_eq!(row.candidates, n(count("ats_candidate")).await);
        assert_eq!(row.employees, n(count("hr_core_employee")).await);
        assert_eq!(
            row.jobs_by_status.values().sum::<i64>(),
            n(count("ats_job")).await
        );
        assert!(row.storage_bytes > 0);
    }
    assert_eq!(report[0].jobs_by_status.get("open"), Some(&2));
    assert!(report[0].last_activity.is_some());
    let csv = usage_csv(&report);
    assert!(csv.starts_with("slug,name,plan,status,members,jobs_draft,jobs_open"));
    assert!(csv.contains("\nacme,acme Inc.,free,active,1,1,2,"), "{csv}");
}
