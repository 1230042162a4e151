//! What the public may see and do: open jobs, and applying to one. Shared by the JSON
//! API and the HTML careers page, so both obey the same rules: open jobs only, the
//! candidate reused by e-mail (a new one counts against `max_candidates_per_month`), one
//! application per job and candidate (409), at the first stage of the pipeline, each
//! write audited with no actor and the applicant's address.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};
use zumodra_tenancy::TenantTx;

use crate::ats::applications::queries as applications;
use crate::ats::candidates::model::{Draft, Input};
use crate::ats::candidates::queries as candidates;
use crate::audit_log::{self, Change};
use crate::http::error::{ApiError, FieldErrors};
use crate::http::pagination::Page;
use crate::quota::{self, Limit};
use crate::rows;

/// The columns of a public job, in [`PublicJob::from_row`]'s order.
const COLUMNS: &str =
    "id, title, description, department, location, employment_type, remote_policy, \
     salary_min, salary_max, salary_currency, deadline, published_at";

/// A job as the public sees it: no internal fields (creator, version, status).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PublicJob {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub department: String,
    pub location: String,
    pub employment_type: String,
    pub remote_policy: String,
    pub salary_min: Option<i64>,
    pub salary_max: Option<i64>,
    pub salary_currency: Option<String>,
    pub deadline: Option<NaiveDate>,
    pub published_at: Option<DateTime<Utc>>,
}

impl PublicJob {
    fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            id: r.try_get(0)?,
            title: r.try_get(1)?,
            description: r.try_get(2)?,
            department: r.try_get(3)?,
            location: r.try_get(4)?,
            employment_type: r.try_get(5)?,
            remote_policy: r.try_get(6)?,
            salary_min: r.try_get(7)?,
            salary_max: r.try_get(8)?,
            salary_currency: r.try_get(9)?,
            deadline: r.try_get(10)?,
            published_at: r.try_get(11)?,
        })
    }
}

/// Open jobs, newest first.
pub async fn open_jobs(tx: &TenantTx, page: Page) -> Result<Vec<PublicJob>, ApiError> {
    let sql = format!(
        "select {COLUMNS} from ats_job where status = 'open' and ($1::bigint is null or id < $1) \
         order by id desc limit $2"
    );
    rows::all(
        &tx.query(&sql, &[&page.before, &page.fetch()]).await?,
        PublicJob::from_row,
    )
}

/// One open job.
pub async fn open_job(tx: &TenantTx, id: i64) -> Result<Option<PublicJob>, ApiError> {
    let sql = format!("select {COLUMNS} from ats_job where id = $1 and status = 'open'");
    rows::opt(tx.query_opt(&sql, &[&id]).await?, PublicJob::from_row)
}

/// What an applicant sends (JSON or a form).
#[derive(Debug, Default, Deserialize)]
pub struct Application {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub resume_text: String,
}

/// Where an application came from, for the audit rows.
pub struct Origin<'a> {
    pub address: String,
    pub request_id: Option<&'a str>,
}

/// Apply to open job `job_id`; returns the application's id. The caller commits.
pub async fn apply(
    tx: &TenantTx,
    plan: &str,
    job_id: i64,
    form: Application,
    origin: &Origin<'_>,
) -> Result<i64, ApiError> {
    let draft = Input {
        name: Some(form.name),
        email: Some(form.email),
        resume_text: Some(form.resume_text),
        source: Some("career_page".into()),
        ..Default::default()
    }
    .apply(Draft::default())?;
    if open_job(tx, job_id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let audit = |action, entity, id, after| Change {
        actor: None,
        action,
        entity,
        entity_id: id,
        before: None,
        after,
        request_id: origin.request_id,
        address: Some(origin.address.clone()),
    };
    let (candidate, created) = match candidates::by_email(tx, &draft.email).await? {
        Some(c) => (c, false),
        None => {
            quota::reserve(tx, plan, Limit::CandidatesPerMonth).await?;
            (candidates::insert(tx, &draft).await?, true)
        }
    };
    if applications::exists(tx, job_id, candidate.id).await? {
        return Err(ApiError::Conflict(
            "You have already applied to this job.".into(),
        ));
    }
    let stage = applications::pipeline(tx)
        .await?
        .into_iter()
        .next()
        .unwrap_or_else(|| "new".into());
    let app = applications::insert(tx, job_id, candidate.id, &stage, None, None).await?;
    // Audit rows last, so the audit chain's lock is never held while waiting on a row.
    if created {
        let after = serde_json::to_value(&candidate).ok();
        audit_log::write(tx, audit("create", "candidate", candidate.id, after)).await?;
    }
    audit_log::write(
        tx,
        audit(
            "apply",
            "application",
            app.id,
            serde_json::to_value(&app).ok(),
        ),
    )
    .await?;
    Ok(app.id)
}

/// The 422 fields of an application, for the HTML form.
pub fn problems(err: &ApiError) -> Option<&FieldErrors> {
    match err {
        ApiError::Validation(fields) => Some(fields),
        _ => None,
    }
}
