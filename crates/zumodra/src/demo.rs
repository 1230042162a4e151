//! The demo tenants: `acme` and `globex`, each with an owner, a few members and sample
//! jobs — including an identical "Engineer" job in both, the isolation scenario.

use zumodra_tenancy::{Engine, Error, NewOwner, NewTenant, TenantStatus};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "demo-password";

/// One demo tenant and its people.
pub struct DemoTenant {
    pub slug: &'static str,
    pub name: &'static str,
    pub owner: &'static str,
    pub jobs: &'static [(&'static str, &'static str)],
}

pub const DEMO_TENANTS: &[DemoTenant] = &[
    DemoTenant {
        slug: "acme",
        name: "Acme Corporation",
        owner: "alice@acme.test",
        jobs: &[
            ("Engineer", "Build the rockets."),
            ("Product Designer", "Design the catalogue."),
            ("Recruiter", "Find the people who build the rockets."),
        ],
    },
    DemoTenant {
        slug: "globex",
        name: "Globex Corporation",
        owner: "hank@globex.test",
        jobs: &[
            ("Engineer", "Keep the doomsday device running."),
            ("Sales Lead", "Sell the world."),
        ],
    },
];

/// The platform admin of the demo.
pub const DEMO_ADMIN: &str = "admin@zumodra.test";

/// Create whatever of the demo is missing; an existing demo is left as it is.
pub async fn ensure(engine: &Engine) -> anyhow::Result<()> {
    match engine
        .create_user(DEMO_ADMIN, DEMO_PASSWORD, "Platform Admin", true)
        .await
    {
        Ok(_) | Err(Error::EmailTaken(_)) => {}
        Err(e) => return Err(e.into()),
    }
    for demo in DEMO_TENANTS {
        let created = engine
            .create_tenant(NewTenant {
                slug: demo.slug.into(),
                name: demo.name.into(),
                plan: "enterprise".into(),
                status: TenantStatus::Active,
                owner: Some(NewOwner {
                    email: demo.owner.into(),
                    password: DEMO_PASSWORD.into(),
                    display_name: String::new(),
                }),
            })
            .await;
        let tenant = match created {
            Ok(t) => t,
            Err(Error::SlugTaken(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let tx = engine.begin(&tenant.as_ref()).await?;
        for (title, description) in demo.jobs {
            let id: i64 = tx
                .query_one(
                    "insert into ats_job (title, description, status, published_at) \
                     values ($1, $2, 'open', now()) returning id",
                    &[title, description],
                )
                .await?
                .get(0);
            // Seeded data is audited like any other mutation (SPEC §2.10).
            let after = serde_json::json!({ "id": id, "title": title, "status": "open" });
            crate::audit_log::write(
                &tx,
                crate::audit_log::Change {
                    actor: None,
                    action: "create",
                    entity: "job",
                    entity_id: id,
                    before: None,
                    after: Some(after),
                    request_id: None,
                    address: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("auditing the demo data: {e:?}"))?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Print what a person needs to try the demo.
pub fn print_welcome(base_domain: &str, port: u16) {
    println!("Zumodra demo");
    for demo in DEMO_TENANTS {
        println!(
            "  {:<8} http://{}.{base_domain}:{port}/careers   owner {} / {DEMO_PASSWORD}",
            demo.slug, demo.slug, demo.owner
        );
    }
    println!("  platform http://{base_domain}:{port}/platform/v1/   admin {DEMO_ADMIN} / {DEMO_PASSWORD}");
}
