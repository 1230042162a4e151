//! The engine benchmark.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use zumodra_tenancy::migrations::Migrations;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{
    Engine, EngineConfig, MigrateOptions, NewTenant, ProvisionOptions, TenantRef, TenantStatus,
};

fn new_tenant(i: usize) -> NewTenant {
    NewTenant {
        slug: format!("bench{i:05}"),
        name: format!("Bench {i}"),
        plan: "free".into(),
        status: TenantStatus::Active,
        owner: None,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Create `count` tenants after the existing ones, each built from scratch, and time
/// each creation.
async fn provision(engine: &Engine, from: usize, count: usize) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(count);
    for i in from..from + count {
        let started = Instant::now();
        engine
            .create_tenant_with(
                new_tenant(i),
                ProvisionOptions {
                    from_scratch: true,
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("tenant {i}"))?;
        times.push(ms(started.elapsed()));
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Fill `warm` (an engine whose warm pool holds `count`) untimed, then create `count`
/// tenants after the existing ones and time each creation: every one claims a warm
/// schema (checked: the pool is empty afterwards). Returns the claim times and the
/// build time per warm schema (the top-up's cost, paid in the background in a server).
async fn claim(warm: &Engine, from: usize, count: usize) -> anyhow::Result<(Vec<f64>, f64)> {
    anyhow::ensure!(warm.warm_pool_size() == count, "pool of {count}");
    let started = Instant::now();
    let report = warm.top_up_warm_pool().await?;
    let build_ms = ms(started.elapsed()) / report.built.max(1) as f64;
    anyhow::ensure!(report.ready == count, "the pool holds {count}: {report:?}");
    let mut times = Vec::with_capacity(count);
    for i in from..from + count {
        let started = Instant::now();
        warm.create_tenant(new_tenant(i))
            .await
            .with_context(|| format!("tenant {i}"))?;
        times.push(ms(started.elapsed()));
    }
    anyhow::ensure!(
        warm.warm_ready().await? == 0,
        "every timed creation claimed a warm schema"
    );
    times.sort_by(f64::total_cmp);
    Ok((times, build_ms))
}

/// Fill up to `total` tenants quickly (two at a time), untimed.
async fn fill(engine: &Engine, from: usize, total: usize) -> anyhow::Result<()> {
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(from..total)
        .map(|i| engine.create_tenant(new_tenant(i)))
        .buffer_unordered(2)
        .collect()
        .await;
    for r in results {
        r?;
    }
    Ok(())
}

/// The job list the HTTP handler runs (`GET /api/v1/jobs?limit=50`).
const JOB_LIST: &str = "select id, title, description, department, location, employment_type, \
     remote_policy, salary_min, salary_max, salary_currency, positions, deadline, status, \
     created_by, version, published_at, created_at, updated_at from ats_job order by id desc limit 50";

/// Transactions per second of `clients` concurrent tasks, each running the job list in a
/// random tenant's transaction, for `seconds`.
async fn random_tenant_tps(
    engine: &Engine,
    tenants: &[TenantRef],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (engine, tenants, done) = (engine.clone(), tenants.to_vec(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let tenant = &tenants[rand::random::<usize>() % tenants.len()];
                    let tx = engine.begin(tenant).await?;
                    tx.query(JOB_LIST, &[]).await?;
                    tx.commit().await?;
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok::<_, zumodra_tenancy::Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    Ok(done.load(std::sync::atomic::Ordering::Relaxed) as f64 / seconds as f64)
}

/// Median microseconds of `rounds` × (BEGIN; SELECT 1; COMMIT), plain and in a tenant
/// transaction, interleaved so machine noise hits both alike.
async fn switch_cost(
    engine: &Engine,
    tenants: &[TenantRef],
    rounds: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut plain = Vec::with_capacity(rounds);
    let mut one = Vec::with_capacity(rounds);
    let mut random = Vec::with_capacity(rounds);
    for i in 0..rounds {
        {
            let conn = engine.shared().await?;
            // Prepared once per connection, like the tenant transaction's statements.
            let statement = conn.prepare_cached("select 1").await?;
            let started = Instant::now();
            // Pipelined like the tenant transaction's prologue: BEGIN and the query
            // share one round trip.
            futures::try_join!(conn.batch_execute("begin"), conn.query_one(&statement, &[]))?;
            conn.batch_execute("commit").await?;
            plain.push(started.elapsed().as_secs_f64() * 1e6);
        }
        for (set, tenant) in [
            (&mut one, &tenants[0]),
            (&mut random, &tenants[(i * 7919) % tenants.len()]),
        ] {
            let started = Instant::now();
            let tx = engine.begin(tenant).await?;
            tx.query_one("select 1", &[]).await?;
            tx.commit().await?;
            set.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    for v in [&mut plain, &mut one, &mut random] {
        v.sort_by(f64::total_cmp);
    }
    Ok((
        percentile(&plain, 0.5),
        percentile(&one, 0.5),
        percentile(&random, 0.5),
    ))
}

/// `engine [--tenants N] [--provisioning-only]`: the second flag stops after the
/// provisioning figures (the 10,000-tenant fill is the long part; the rest of the run
/// does not change them).
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let mut total: usize = 1000;
    let mut provisioning_only = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--tenants" => {
                total = rest
                    .next()
                    .context("--tenants N")?
                    .parse()
                    .context("--tenants N")?
            }
            "--provisioning-only" => provisioning_only = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let sample = 20;
    let db = TestDb::with(|c| {
        c.pool_size = 8;
        c.admin_pool_size = 4;
    })
    .await;
    let engine = db.engine.clone();
    println!("database {} (dropped at the end)", db.name);
    // The same database through an engine with a warm pool of `sample` schemas.
    let warm = {
        let mut config = db.config();
        config.pool_size = 2;
        config.admin_pool_size = 2;
        config.warm_pool_size = sample;
        Engine::connect(config).await?
    };

    // Provisioning at 100 and at `total` existing tenants: from scratch, then claimed
    // from the warm pool.
    fill(&engine, 0, 100).await?;
    let at_100 = provision(&engine, 100, sample).await?;
    let (warm_100, _) = claim(&warm, 100 + sample, sample).await?;
    fill(&engine, 100 + 2 * sample, total).await?;
    let at_total = provision(&engine, total, sample).await?;
    let (warm_total, warm_build_ms) = claim(&warm, total + sample, sample).await?;
    let existing = total + 2 * sample;
    let provisioning = json!({
        "tenants": existing,
        "provision_ms_at_100": {"median": percentile(&at_100, 0.5), "p90": percentile(&at_100, 0.9)},
        "provision_ms_at_total": {"median": percentile(&at_total, 0.5), "p90": percentile(&at_total, 0.9)},
        "warm_claim_ms_at_100": {"median": percentile(&warm_100, 0.5), "p90": percentile(&warm_100, 0.9)},
        "warm_claim_ms_at_total": {"median": percentile(&warm_total, 0.5), "p90": percentile(&warm_total, 0.9)},
        "warm_build_ms_per_schema_at_total": warm_build_ms,
    });
    println!("| figure | value |\n|---|---|");
    for (label, times) in [
        ("provisioning from scratch at 100 existing tenants", &at_100),
        (
            "claimed from the warm pool at 120 existing tenants",
            &warm_100,
        ),
    ] {
        println!(
            "| {label}, median / p90 | {:.1} / {:.1} ms |",
            percentile(times, 0.5),
            percentile(times, 0.9)
        );
    }
    println!(
        "| provisioning from scratch at {total} existing tenants, median / p90 | {:.1} / {:.1} ms |",
        percentile(&at_total, 0.5),
        percentile(&at_total, 0.9)
    );
    println!(
        "| claimed from the warm pool at {} existing tenants, median / p90 | {:.1} / {:.1} ms |",
        total + sample,
        percentile(&warm_total, 0.5),
        percentile(&warm_total, 0.9)
    );
    println!("| building one warm schema (background top-up) at {total} | {warm_build_ms:.1} ms |");
    drop(warm);
    let size = match total {
        1000 => String::new(),
        10000 => "-10k".to_owned(),
        n => format!("-{n}"),
    };
    // A provisioning-only run never overwrites a full run's file.
    let part = if provisioning_only {
        "-provisioning"
    } else {
        ""
    };
    let file = format!("results-engine{size}{part}.json");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    if provisioning_only {
        std::fs::write(&path, serde_json::to_string_pretty(&provisioning)?)?;
        println!("wrote {} (provisioning only)", path.display());
        drop(engine);
        drop(db);
        return Ok(());
    }

    // No-op fleet migration: the decision is one catalog query.
    let mut noop = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let pending = engine.pending_tenants().await?;
        anyhow::ensure!(pending.is_empty(), "nothing should be pending");
        engine
            .migrate_tenants(pending, &MigrateOptions::default(), &|_| {})
            .await?;
        noop.push(ms(started.elapsed()));
    }
    noop.sort_by(f64::total_cmp);

    // The usage report over every tenant, each read through its own role.
    let started = Instant::now();
    let report = engine.usage_report(8).await?;
    let report_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(report.len() == existing, "the report covers every tenant");

    // The tenant switch against a plain BEGIN.
    let tenants: Vec<TenantRef> = engine.tenants().await?.iter().map(|t| t.as_ref()).collect();
    let (plain_us, one_us, random_us) = switch_cost(&engine, &tenants, 3000).await?;

    // Tenant-affine connections against one undivided pool: 20 jobs per tenant, 32
    // clients on 16 connections, random tenant per transaction, alternating runs.
    for t in &tenants {
        let tx = engine.begin(t).await?;
        tx.execute("insert into ats_job (title, status) select 'Job ' || g, 'open' from generate_series(1, 20) g", &[]).await?;
        tx.commit().await?;
    }
    let engine_with = |affinity: bool| {
        let mut config = db.config();
        config.pool_size = 16;
        config.tenant_affinity = affinity;
        Engine::connect(config)
    };
    let (affine, undivided) = (engine_with(true).await?, engine_with(false).await?);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        with.push(random_tenant_tps(&affine, &tenants, 32, 8).await?);
        without.push(random_tenant_tps(&undivided, &tenants, 32, 8).await?);
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (affine_tps, undivided_tps) = (best(&with), best(&without));
    drop((affine, undivided));

    // One-column migration over every tenant, with a second engine that knows it.
    let mut config: EngineConfig = db.config();
    config.tenant_migrations = Migrations::tenant().with(
        "bench_priority",
        "alter table ats_job add column priority integer;",
    );
    let migrating = Engine::connect(config).await?;
    let pending = migrating.pending_tenants().await?;
    let count = pending.len();
    let started = Instant::now();
    let report = migrating
        .migrate_tenants(
            pending,
            &MigrateOptions {
                concurrency: 4,
                ..Default::default()
            },
            &|_| {},
        )
        .await?;
    let one_column = started.elapsed();
    anyhow::ensure!(
        report.failed.is_empty(),
        "migration failures: {:?}",
        report.failed
    );

    let mut results = json!({
        "noop_migrate_ms": {"median": percentile(&noop, 0.5)},
        "one_column_migrate_s": {"tenants": count, "seconds": one_column.as_secs_f64(), "concurrency": 4},
        "usage_report_s": {"tenants": existing, "seconds": report_s, "concurrency": 8},
        "switch_us": {"plain_begin": plain_us, "tenant_same": one_us, "tenant_random": random_us},
        "affinity_tps": {"affine": affine_tps, "undivided": undivided_tps, "runs_affine": with, "runs_undivided": without},
    });
    if let (Some(all), Some(first)) = (results.as_object_mut(), provisioning.as_object()) {
        all.extend(first.clone());
    }
    println!(
        "| no-op `migrate` over {existing} tenants (median of 5) | {:.1} ms |",
        percentile(&noop, 0.5)
    );
    println!(
        "| one-column migration over {count} tenants, concurrency 4 | {:.2} s |",
        one_column.as_secs_f64()
    );
    println!("| usage report over {existing} tenants, each through its own role, 8 at a time | {report_s:.2} s |");
    println!("| BEGIN; SELECT 1; COMMIT — plain | {plain_us:.0} µs |");
    println!("| the same in a tenant transaction, one tenant / random of {} | {one_us:.0} / {random_us:.0} µs |", tenants.len());
    println!(
        "| tenant switch cost (same tenant − plain) | {:.0} µs |",
        one_us - plain_us
    );
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("wrote {}", path.display());
    drop(migrating);
    drop(engine);
    drop(db);
    Ok(())
}
