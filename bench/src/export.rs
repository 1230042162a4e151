//! `zumodra-bench export --rows N`: export one tenant holding N candidates and report the
//! process's peak memory during the export against before it — the archive is streamed,
//! so the peak should not grow with N.

use std::time::Instant;

use anyhow::Context;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{NewTenant, TenantStatus};

/// Peak resident memory of this process (VmHWM), in KiB.
fn peak_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM in /proc/self/status")
}

/// Start a new peak measurement (Linux: writing 5 to clear_refs resets VmHWM).
fn reset_peak() -> anyhow::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak RSS")
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let rows: i64 = match args {
        [flag, n] if flag == "--rows" => n.parse().context("--rows N")?,
        _ => 1_000_000,
    };
    let db = TestDb::new().await;
    let tenant = db
        .engine
        .create_tenant(NewTenant {
            slug: "bigco".into(),
            name: "Big Co".into(),
            plan: "enterprise".into(),
            status: TenantStatus::Active,
            owner: None,
        })
        .await?;
    let started = Instant::now();
    let tx = db.engine.begin(&tenant.as_ref()).await?;
    tx.execute(
        "insert into ats_candidate (name, email, resume_text, tags) \
         select 'Candidate ' || g, 'c' || g || '@example.test', repeat('Résumé line. ', 20), '{imported}' \
         from generate_series(1, $1::bigint) g",
        &[&rows],
    )
    .await?;
    tx.commit().await?;
    println!(
        "inserted {rows} candidates in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let out = std::env::temp_dir().join(format!(
        "zumodra-bench-export-{}.tar.gz",
        std::process::id()
    ));
    reset_peak()?;
    let before = peak_kib()?;
    let started = Instant::now();
    let manifest = db.engine.export_tenant("bigco", &out, &|_, _| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_kib()?;
    let size = std::fs::metadata(&out)?.len();
    let exported: u64 = manifest
        .parts
        .iter()
        .filter(|p| p.table.as_deref() == Some("ats_candidate"))
        .map(|p| p.rows)
        .sum();
    anyhow::ensure!(
        exported == rows as u64,
        "exported {exported} of {rows} rows"
    );
    println!("| figure | value |\n|---|---|");
    println!(
        "| export of a tenant with {rows} candidates | {seconds:.1} s, archive {:.1} MB |",
        size as f64 / 1e6
    );
    println!(
        "| peak RSS before / during the export | {:.1} / {:.1} MB (+{:.1} MB) |",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak - before) as f64 / 1024.0
    );
    let _ = std::fs::remove_file(out);
    Ok(())
}
