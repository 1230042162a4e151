//! Walking a tenant's audit chain (`zumodra audit verify <slug>`).

use serde::Serialize;
use zumodra_tenancy::TenantTx;

/// The outcome of a walk over the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Rows checked.
    pub rows: i64,
    /// The first row that does not verify, if any.
    pub first_broken: Option<Broken>,
}

/// A row whose digest, link or position is wrong.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub seq: i64,
    pub reason: &'static str,
}

/// Verify the chain of the tenant `slug` (what `zumodra audit verify <slug>` prints).
pub async fn verify_tenant(
    engine: &zumodra_tenancy::Engine,
    slug: &str,
) -> zumodra_tenancy::Result<Report> {
    let tenant = engine.tenant(slug).await?;
    let tx = engine.begin(&tenant.as_ref()).await?;
    verify(&tx).await
}

/// Recompute every row's digest in chain order and check that each row links to the
/// previous one and that no position is missing (a deleted row).
pub async fn verify(tx: &TenantTx) -> zumodra_tenancy::Result<Report> {
    let rows = tx
        .query(
            "select id, seq, audit_log_digest(prev_hash, a) = hash, \
             prev_hash is not distinct from lag(hash) over (order by seq), \
             seq = coalesce(lag(seq) over (order by seq), 0) + 1 \
             from audit_log a order by seq",
            &[],
        )
        .await?;
    let mut report = Report {
        rows: 0,
        first_broken: None,
    };
    for row in &rows {
        report.rows += 1;
        if report.first_broken.is_some() {
            continue;
        }
        let (id, seq): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let digest_ok: Option<bool> = row.try_get(2)?;
        let linked: Option<bool> = row.try_get(3)?;
        let contiguous: Option<bool> = row.try_get(4)?;
        let reason = if contiguous != Some(true) {
            Some("a row before this one is missing")
        } else if linked != Some(true) {
            Some("prev_hash does not match the previous row's hash")
        } else if digest_ok != Some(true) {
            Some("the row's content does not match its hash")
        } else {
            None
        };
        if let Some(reason) = reason {
            report.first_broken = Some(Broken { id, seq, reason });
        }
    }
    Ok(report)
}
