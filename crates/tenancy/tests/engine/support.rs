use zumodra_tenancy::{
    Engine, Error, NewOwner, NewTenant, ProvisionOptions, ProvisionStep, Tenant, TenantStatus,
};

pub fn new_tenant(slug: &str) -> NewTenant {
    NewTenant {
        slug: slug.into(),
        name: format!("{slug} Inc."),
        plan: "free".into(),
        status: TenantStatus::Active,
        owner: None,
    }
}

pub fn with_owner(slug: &str, email: &str) -> NewTenant {
    NewTenant {
        owner: Some(NewOwner {
            email: email.into(),
            password: "correct horse".into(),
            display_name: String::new(),
        }),
        ..new_tenant(slug)
    }
}

pub async fn create(engine: &Engine, slug: &str) -> Tenant {
    engine.create_tenant(new_tenant(slug)).await.unwrap()
}

pub async fn create_at(engine: &Engine, slug: &str, version: i32) -> Tenant {
    engine
        .create_tenant_with(
            new_tenant(slug),
            ProvisionOptions {
                version: Some(version),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

/// Schemas named like tenant schemas, and roles of this installation.
pub async fn leftovers(db: &zumodra_tenancy::testing::TestDb) -> (Vec<String>, Vec<String>) {
    let su = db.superuser().await;
    let schemas = su
        .query(
            "select nspname::text from pg_namespace where nspname like 'tenant\\_%' order by 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let roles = su
        .query(
            "select rolname::text from pg_roles where rolname like $1 order by 1",
            &[&db.prefix.like_pattern()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (schemas, roles)
}

/// Create the tenant `doomed` with a failure injected after `step`: the creation must
/// fail, with the injected error or the database error it caused.
pub async fn fail_creation_at(engine: &Engine, step: ProvisionStep) {
    let err = engine
        .create_tenant_with(
            with_owner("doomed", "owner@doomed.test"),
            ProvisionOptions {
                fail_after: Some(step),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("injected") || matches!(err, Error::Db(_)),
        "{step:?}: {err}"
    );
}
