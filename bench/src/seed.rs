//! `zumodra-bench seed`: tenants `t00001…tNNNNN` for the HTTP benchmark (`bench/run.sh`).
//!
//! Each tenant is on the enterprise plan (no request-rate limit) with one owner (the same
//! user everywhere), `--jobs` open published jobs, `--candidates` + 1 candidates, an
//! employee record for the owner (time-off requests) and one application (the one the
//! write mix moves between stages). Tenants that already exist are kept, so the suite can
//! grow one database from 1 to 100 to 1,000 tenants. Every run writes a fresh session per
//! tenant (`public.sessions` stores the SHA-256 of the hex token, as the server does) and
//! writes `host token` lines for wrk.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{bail, Context};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use zumodra_tenancy::tokio_postgres::{self, NoTls};
use zumodra_tenancy::{Engine, EngineConfig, NewTenant, TenantRef, TenantStatus};

const EMAIL: &str = "bench-owner@bench.test";

struct Args {
    url: String,
    tenants: usize,
    jobs: i32,
    candidates: i32,
    out: String,
}

fn parse(args: &[String]) -> anyhow::Result<Args> {
    let mut parsed = Args {
        url: std::env::var("ZUMODRA_DATABASE_URL").unwrap_or_default(),
        tenants: 1,
        jobs: 20,
        candidates: 64,
        out: "/tmp/zumodra-bench-tokens.txt".into(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => parsed.url = value.clone(),
            "--tenants" => parsed.tenants = value.parse().context("--tenants N")?,
            "--jobs" => parsed.jobs = value.parse().context("--jobs N")?,
            "--candidates" => parsed.candidates = value.parse().context("--candidates N")?,
            "--out" => parsed.out = value.clone(),
            other => bail!("unknown flag {other}"),
        }
    }
    if parsed.url.is_empty() {
        bail!("--url or ZUMODRA_DATABASE_URL: the owner login of the bench database");
    }
    Ok(parsed)
}

pub fn slug(i: usize) -> String {
    format!("t{i:05}")
}

/// The tenant's data, in one tenant transaction.
async fn fill(
    engine: &Engine,
    tenant: &TenantRef,
    user_id: i64,
    jobs: i32,
    candidates: i32,
) -> anyhow::Result<()> {
    let tx = engine.begin(tenant).await?;
    tx.execute(
        "insert into members (user_id, role) values ($1, 'owner') on conflict do nothing",
        &[&user_id],
    )
    .await?;
    tx.execute(
        "insert into ats_job (title, description, department, location, status, published_at) \
         select 'Benchmark job ' || g, 'A job of the benchmark, about as long as a short \
         description in a real listing.', 'Engineering', 'Remote', 'open', now() \
         from generate_series(1, $1::int) g",
        &[&jobs],
    )
    .await?;
    let all = candidates + 1;
    tx.execute(
        "insert into ats_candidate (name, email) \
         select 'Candidate ' || g, 'c' || g || '@bench.test' from generate_series(1, $1::int) g",
        &[&all],
    )
    .await?;
    tx.execute(
        "insert into hr_core_employee (user_id, name, email, pto_balance_days) \
         values ($1, 'Bench Owner', $2, 1000)",
        &[&user_id, &EMAIL],
    )
    .await?;
    // The application the write mix moves: candidate N + 1, so that the creations
    // (candidates 1..N) never collide with it. Ids start at 1 in a fresh schema.
    let row = tx
        .query_one(
            "insert into ats_application (job_id, candidate_id, stage) \
             values (1, $1::int, 'new') returning id",
            &[&all],
        )
        .await?;
    let id: i64 = row.get(0);
    if id != 1 {
        bail!(
            "tenant {}: expected application id 1, got {id}",
            tenant.slug
        );
    }
    tx.commit().await?;
    Ok(())
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let args = parse(args)?;
    let database: tokio_postgres::Config = args.url.parse().context("--url")?;
    let mut config = EngineConfig::new(database, "localhost");
    config.pool_size = 4;
    config.admin_pool_size = 4;
    let engine = Engine::connect(config).await.context("connecting")?;

    // The owner login, for the shared rows the runtime role may not write.
    let (client, connection) = tokio_postgres::connect(&args.url, NoTls).await?;
    let conn_task = tokio::spawn(connection);

    let user_id: i64 = match client
        .query_opt("select id from public.users where email = $1", &[&EMAIL])
        .await?
    {
        Some(row) => row.get(0),
        None => {
            let hash = zumodra_tenancy::password::hash("bench-password-not-secret")?;
            client
                .query_one(
                    "insert into public.users (email, password_hash, display_name) \
                     values ($1, $2, 'Bench Owner') returning id",
                    &[&EMAIL, &hash],
                )
                .await?
                .get(0)
        }
    };

    let existing: HashMap<String, TenantRef> = engine
        .tenants()
        .await?
        .iter()
        .map(|t| (t.slug.as_str().to_owned(), t.as_ref()))
        .collect();
    let missing: Vec<usize> = (1..=args.tenants)
        .filter(|i| !existing.contains_key(&slug(*i)))
        .collect();
    let started = std::time::Instant::now();
    let count = missing.len();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(missing)
        .map(|i| {
            let engine = engine.clone();
            let (jobs, candidates) = (args.jobs, args.candidates);
            async move {
                let tenant = engine
                    .create_tenant(NewTenant {
                        slug: slug(i),
                        name: format!("Bench tenant {i}"),
                        plan: "enterprise".into(),
                        status: TenantStatus::Active,
                        owner: None,
                    })
                    .await
                    .with_context(|| format!("creating {}", slug(i)))?;
                fill(&engine, &tenant.as_ref(), user_id, jobs, candidates)
                    .await
                    .with_context(|| format!("filling {}", slug(i)))
            }
        })
        .buffer_unordered(2)
        .collect()
        .await;
    for r in results {
        r?;
    }
    eprintln!(
        "created {count} tenants in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // A fresh session per tenant, one statement.
    let tenants: HashMap<String, TenantRef> = engine
        .tenants()
        .await?
        .iter()
        .map(|t| (t.slug.as_str().to_owned(), t.as_ref()))
        .collect();
    let mut lines = String::new();
    let mut hashes: Vec<Vec<u8>> = Vec::with_capacity(args.tenants);
    let mut ids: Vec<i64> = Vec::with_capacity(args.tenants);
    for i in 1..=args.tenants {
        let s = slug(i);
        let tenant = tenants.get(&s).with_context(|| format!("{s} is missing"))?;
        let bytes: [u8; 32] = rand::random();
        let token = hex::encode(bytes);
        hashes.push(Sha256::digest(token.as_bytes()).to_vec());
        ids.push(tenant.id.0);
        lines.push_str(&format!("{s}.localhost {token}\n"));
    }
    client
        .execute(
            "insert into public.sessions (token_hash, user_id, tenant_id, expires_at) \
             select h, $2, t, now() + interval '1 day' from unnest($1::bytea[], $3::bigint[]) as x(h, t)",
            &[&hashes, &user_id, &ids],
        )
        .await?;
    let mut file = std::fs::File::create(&args.out).with_context(|| args.out.clone())?;
    file.write_all(lines.as_bytes())?;
    println!("role_prefix={}", engine.role_prefix().as_str());
    println!("tokens={} ({} tenants)", args.out, args.tenants);
    drop(client);
    conn_task.abort();
    Ok(())
}
