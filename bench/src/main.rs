//! `zumodra-bench engine`: the tenancy engine's figures — provisioning time at 100 and
//! 1,000 existing tenants, built from scratch and claimed from the warm pool, no-op and
//! one-column fleet migrations over 1,000 tenants, and the cost of the tenant switch
//! against a plain `BEGIN`.
//!
//! It runs against `ZUMODRA_TEST_DATABASE_URL` (or a private throw-away cluster) in a
//! fresh database that it drops at the end, prints a Markdown table and writes
//! `bench/results-engine.json` (`results-engine-10k.json` with `--tenants 10000`;
//! `--provisioning-only` adds `-provisioning` to the name).
//!
//! `zumodra-bench export` measures memory while exporting a tenant of a million rows.
//!
//! `zumodra-bench seed` provisions the tenants of the HTTP benchmark (`bench/run.sh`).

mod engine;
mod export;
mod seed;

use anyhow::bail;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("engine") => engine::run(&args[1..]).await,
        Some("seed") => seed::run(&args[1..]).await,
        Some("export") => export::run(&args[1..]).await,
        _ => bail!(
            "usage: zumodra-bench engine [--tenants N] [--provisioning-only]\n       zumodra-bench export [--rows N]\n       zumodra-bench seed --url URL --tenants N [--jobs 20] [--candidates 64] [--out FILE]"
        ),
    }
}
