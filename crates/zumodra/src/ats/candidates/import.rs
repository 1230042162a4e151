//! `POST /api/v1/candidates/import {"candidates": [...]}`: many candidates at once, all
//! or nothing. Every row is checked first (422 naming `candidates[i].field`); e-mails
//! already known (or repeated in the batch) are skipped and reported; the new ones
//! must fit the month's `max_candidates_per_month` together (403 otherwise). Each
//! created candidate gets its audit row (`action = import`).

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::model::{Draft, Input};
use super::queries;
use crate::audit_log::{self, RequestId};
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::extract::Json;
use crate::quota::{self, Limit};
use crate::rbac::{Ctx, Permission};

/// At most this many rows per request.
pub const MAX_ROWS: usize = 1000;

/// The body of an import.
#[derive(Debug, Deserialize)]
pub struct Batch {
    #[serde(default)]
    pub candidates: Vec<Input>,
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub created: Vec<i64>,
    /// E-mails skipped because a candidate with them exists (or came earlier in the batch).
    pub skipped: Vec<String>,
}

/// `POST /api/v1/candidates/import`.
pub async fn import(
    ctx: Ctx,
    rid: RequestId,
    Json(batch): Json<Batch>,
) -> ApiResult<(StatusCode, axum::Json<Imported>)> {
    ctx.require(Permission::CandidatesAdd)?;
    ctx.require_feature("ats")?;
    if batch.candidates.is_empty() || batch.candidates.len() > MAX_ROWS {
        return Err(ApiError::field("candidates", "1 to 1000 candidates"));
    }
    let mut fields = FieldErrors::new();
    let mut drafts = Vec::with_capacity(batch.candidates.len());
    for (i, mut input) in batch.candidates.into_iter().enumerate() {
        input.source = Some(input.source.unwrap_or_else(|| "imported".into()));
        match input.apply(Draft::default()) {
            Ok(d) => drafts.push(d),
            Err(ApiError::Validation(row)) => {
                for (field, problem) in row {
                    fields.insert(format!("candidates[{i}].{field}"), problem);
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation(fields));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut fresh = Vec::new();
    let mut skipped = Vec::new();
    for d in drafts {
        if !seen.insert(d.email.to_lowercase())
            || queries::email_taken(&ctx.tx, &d.email, None).await?
        {
            skipped.push(d.email);
        } else {
            fresh.push(d);
        }
    }
    quota::reserve_many(
        &ctx.tx,
        &ctx.tenant.plan.code,
        Limit::CandidatesPerMonth,
        fresh.len() as i64,
    )
    .await?;
    let mut inserted = Vec::with_capacity(fresh.len());
    for d in &fresh {
        inserted.push(queries::insert(&ctx.tx, d).await?);
    }
    // Audit rows last: the audit chain's lock is then held only until the commit, never
    // while waiting on another transaction's row (no lock cycle).
    for c in &inserted {
        audit_log::record(
            &ctx,
            &rid,
            "import",
            "candidate",
            c.id,
            None::<&()>,
            Some(c),
        )
        .await?;
    }
    let created = inserted.iter().map(|c| c.id).collect();
    ctx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Imported { created, skipped }),
    ))
}
