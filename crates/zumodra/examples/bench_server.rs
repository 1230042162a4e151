//! The routing benchmark's server (`docs/benchmarks-http.md`): the same API twice on one
//! database — `127.0.0.1:8091` resolves the tenant from the `Host` header (cache, status
//! gate, per-tenant rate), `127.0.0.1:8092` sends every request to `acme` with no
//! resolution at all. Seeds the demo and 50 jobs in `acme`, prints a bearer token.
//!
//! ```text
//! cargo run --release -p zumodra --example bench_server
//! wrk -t2 -c32 -d10s -H 'Host: acme.localhost' -H "Authorization: Bearer $TOKEN" \
//!     http://127.0.0.1:8091/api/v1/jobs
//! ```

use std::net::SocketAddr;

use anyhow::Context;
use zumodra::config::Settings;
use zumodra::database::Database;
use zumodra::state::AppState;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load(None)?;
    let db = Database::open(&settings).await?;
    zumodra::demo::ensure(&db.engine).await?;
    let tenant = db.engine.tenant("acme").await?;
    {
        let tx = db.engine.begin(&tenant.as_ref()).await?;
        let have: i64 = tx
            .query_one("select count(*) from ats_job", &[])
            .await?
            .get(0);
        for i in have..50 {
            let title = format!("Job {i}");
            tx.execute(
                "insert into ats_job (title, description, status) values ($1, 'Benchmark job.', 'open')",
                &[&title],
            )
            .await?;
        }
        tx.commit().await?;
    }
    let state = AppState::new(db.engine.clone(), settings.clone())?;
    let host = format!("acme.{}", db.engine.base_domain());
    let entry = state
        .resolver
        .resolve(&host)
        .await?
        .context("the acme tenant")?;
    let alice = db
        .engine
        .user_by_email("alice@acme.test")
        .await?
        .context("alice")?;
    let (token, _) = zumodra::auth::session::create(&state, alice.id, Some(tenant.id))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let routed =
        zumodra::http::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let fixed = zumodra::http::app_fixed_tenant(state.clone(), entry)
        .into_make_service_with_connect_info::<SocketAddr>();
    let a = tokio::net::TcpListener::bind("127.0.0.1:8091").await?;
    let b = tokio::net::TcpListener::bind("127.0.0.1:8092").await?;
    let invalidation =
        zumodra::tenants::invalidate::spawn(state.engine.clone(), state.resolver.clone());
    println!("routed http://127.0.0.1:8091  fixed http://127.0.0.1:8092  host {host}");
    println!("TOKEN={token}");
    tokio::select! {
        r = axum::serve(a, routed) => r?,
        r = axum::serve(b, fixed) => r?,
        _ = zumodra::startup::shutdown_signal() => {}
    }
    invalidation.abort();
    tokio::task::spawn_blocking(move || db.close()).await?;
    Ok(())
}
