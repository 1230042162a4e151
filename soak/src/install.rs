//! The soak's own installation: a database with a unique name on the given PostgreSQL,
//! an engine on it with a fresh role prefix, the seeded tenants, and the clean-up that
//! drops the database and every role of that prefix.
//!
//! The database and its roles are a `zumodra_tenancy::scratch::Scratch`, like the tests'.
//! The seeding follows `bench/src/seed.rs` (tenants through `Engine::create_tenant`, rows
//! in one tenant transaction each, users in one statement with one password hash); the
//! soak adds markers and disjoint id ranges.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, Context};
use futures::StreamExt;
use zumodra_tenancy::names::RolePrefix;
use zumodra_tenancy::scratch::Scratch;
use zumodra_tenancy::tokio_postgres::{self, NoTls};
use zumodra_tenancy::{Engine, EngineConfig, NewTenant, TenantRef, TenantStatus};

use crate::markers::marker;

/// The password of every seeded owner (a throw-away database on loopback).
pub const PASSWORD: &str = "soak-password-not-secret";
/// Tenant `i` (from 1) numbers its rows from `i * ID_STRIDE + 1`, so an id names one
/// tenant only and a foreign id never exists by chance in the asking tenant.
pub const ID_STRIDE: i64 = 10_000_000;
/// The pipeline of a fresh tenant (migrations/tenant/0001_initial.sql).
pub const STAGES: &[&str] = &[
    "new",
    "screening",
    "interview",
    "offer",
    "hired",
    "rejected",
];

/// How much each tenant gets.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Open, published jobs.
    pub jobs: i64,
    pub candidates: i64,
    /// Applications of candidates `1..=applications` to job 1.
    pub applications: i64,
}

/// One seeded tenant.
#[derive(Debug, Clone)]
pub struct SeededTenant {
    pub index: usize,
    pub slug: String,
    pub marker: String,
    pub email: String,
    /// The first id of each table is `base + 1`.
    pub base: i64,
}

/// A database and its roles, dropped by [`Installation::remove`].
pub struct Installation {
    pub engine: Engine,
    pub name: String,
    pub prefix: RolePrefix,
    /// The owner login of the database, as a URL for `ZUMODRA_DATABASE_URL`.
    pub url: String,
    scratch: Scratch,
    database: tokio_postgres::Config,
}

/// The tenant slug of index `i` (from 1).
pub fn slug(i: usize) -> String {
    format!("s{i:05}")
}

/// `url` with its database replaced by `name` (query string kept).
pub fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let Some(scheme_end) = main.find("://") else {
        bail!("--url: expected postgres://user@host:port, got {url:?}");
    };
    let authority_end = main[scheme_end + 3..]
        .find('/')
        .map(|p| p + scheme_end + 3)
        .unwrap_or(main.len());
    let mut out = format!("{}/{name}", &main[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

async fn connect(config: &tokio_postgres::Config) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

impl Installation {
    /// Create the database `zsoak_<unix seconds>_<random>` and connect an engine (which
    /// installs the catalog) with a fresh role prefix.
    pub async fn create(url: &str, base_domain: &str) -> anyhow::Result<Self> {
        let mut maintenance: tokio_postgres::Config =
            url.parse().context("--url is not a PostgreSQL URL")?;
        if maintenance.get_dbname().is_none() {
            maintenance.dbname("postgres");
        }
        let scratch = Scratch::create(&maintenance, "zsoak")
            .await
            .with_context(|| format!("creating a database on {url}"))?;
        let (name, prefix, database) = (
            scratch.name.clone(),
            scratch.prefix.clone(),
            scratch.database(),
        );
        let mut config = EngineConfig::new(database.clone(), base_domain);
        config.pool_size = 8;
        config.admin_pool_size = 4;
        config.new_role_prefix = Some(prefix.clone());
        let url = with_database(url, &name)?;
        let engine = match Engine::connect(config).await {
            Ok(engine) => engine,
            Err(e) => {
                drop_installation(&scratch).await;
                return Err(anyhow::Error::from(e).context("installing the catalog"));
            }
        };
        Ok(Self {
            engine,
            name,
            prefix,
            url,
            scratch,
            database,
        })
    }

    /// Drop the database (closing every connection to it) and the roles of its prefix.
    pub async fn remove(self) {
        let Self {
            engine, scratch, ..
        } = self;
        drop(engine);
        drop_installation(&scratch).await;
    }

    /// Seed tenants `1..=count`: each on the enterprise plan (no request-rate limit) with
    /// its own owner user, `shape` rows carrying its marker, and an employee record for the
    /// owner (time-off requests).
    pub async fn seed(
        &self,
        count: usize,
        shape: Shape,
        concurrency: usize,
    ) -> anyhow::Result<Vec<SeededTenant>> {
        let tenants: Vec<SeededTenant> = (1..=count)
            .map(|i| {
                let slug = slug(i);
                SeededTenant {
                    index: i - 1,
                    marker: marker(&slug),
                    email: format!("owner@{slug}.soak.test"),
                    base: i as i64 * ID_STRIDE,
                    slug,
                }
            })
            .collect();
        // Users: one statement, one hash (one argon2 run instead of `count`).
        let owner = connect(&self.database).await?;
        let hash = zumodra_tenancy::password::hash(PASSWORD)?;
        let emails: Vec<&str> = tenants.iter().map(|t| t.email.as_str()).collect();
        let names: Vec<String> = tenants
            .iter()
            .map(|t| format!("Owner {}", t.marker))
            .collect();
        let rows = owner
            .query(
                "insert into public.users (email, password_hash, display_name) \
                 select e, $2, d from unnest($1::text[], $3::text[]) as x(e, d) \
                 returning id, email",
                &[&emails, &hash, &names],
            )
            .await
            .context("inserting the owners")?;
        let users: HashMap<String, i64> = rows.iter().map(|r| (r.get(1), r.get(0))).collect();

        let started = Instant::now();
        let mut done = 0usize;
        let mut next_report = 100usize;
        let mut stream = futures::stream::iter(tenants.iter().cloned())
            .map(|t| {
                let engine = self.engine.clone();
                let user = users.get(&t.email).copied();
                async move {
                    let user = user.with_context(|| format!("no user for {}", t.slug))?;
                    let tenant = engine
                        .create_tenant(NewTenant {
                            slug: t.slug.clone(),
                            name: format!("Soak tenant {}", t.marker),
                            plan: "enterprise".into(),
                            status: TenantStatus::Active,
                            owner: None,
                        })
                        .await
                        .with_context(|| format!("creating {}", t.slug))?;
                    fill(&engine, &tenant.as_ref(), &t, user, shape)
                        .await
                        .with_context(|| format!("filling {}", t.slug))
                }
            })
            .buffer_unordered(concurrency.max(1));
        while let Some(result) = stream.next().await {
            result?;
            done += 1;
            if done == next_report {
                next_report += 100;
                eprintln!(
                    "[soak] seeded {done}/{count} tenants ({:.0} s)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        drop(stream);
        Ok(tenants)
    }
}

/// The tenant's rows, in one tenant transaction.
async fn fill(
    engine: &Engine,
    tenant: &TenantRef,
    seed: &SeededTenant,
    user_id: i64,
    shape: Shape,
) -> anyhow::Result<()> {
    let tx = engine.begin(tenant).await?;
    for table in [
        "ats_job",
        "ats_candidate",
        "ats_application",
        "ats_application_history",
        "hr_core_employee",
        "hr_core_timeoff",
        "services_listing",
    ] {
        tx.query_one(
            "select setval(pg_get_serial_sequence($1, 'id'), $2)",
            &[&table, &seed.base],
        )
        .await?;
    }
    tx.execute(
        "insert into members (user_id, role) values ($1, 'owner')",
        &[&user_id],
    )
    .await?;
    tx.execute(
        "insert into ats_job (title, description, department, location, status, published_at) \
         select 'Job ' || g || ' ' || $2, 'A soak job of ' || $2 || '.', 'Engineering', \
         'Remote', 'open', now() from generate_series(1, $1::bigint) g",
        &[&shape.jobs, &seed.marker],
    )
    .await?;
    tx.execute(
        "insert into ats_candidate (name, email, resume_text) \
         select 'Candidate ' || g || ' ' || $2, 'c' || g || '@' || $3 || '.soak.test', \
         'Resume of a candidate of ' || $2 from generate_series(1, $1::bigint) g",
        &[&shape.candidates, &seed.marker, &seed.slug],
    )
    .await?;
    tx.execute(
        "insert into hr_core_employee (user_id, name, email, pto_balance_days) \
         values ($1, 'Owner ' || $2, $3, 1000)",
        &[&user_id, &seed.marker, &seed.email],
    )
    .await?;
    tx.execute(
        "insert into ats_application (job_id, candidate_id, stage) \
         select $1::bigint + 1, $1::bigint + g, 'new' from generate_series(1, $2::bigint) g",
        &[&seed.base, &shape.applications],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn drop_installation(scratch: &Scratch) {
    let removed = scratch.remove().await;
    for error in &removed.errors {
        eprintln!("[soak] clean-up: {error}");
    }
    eprintln!(
        "[soak] dropped database {} and {} roles {}*",
        scratch.name,
        removed.roles_dropped,
        scratch.prefix.as_str()
    );
}
