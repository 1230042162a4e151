//! A job as clients see it, what they may send, and the rules a job obeys.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use zumodra_tenancy::tokio_postgres::types::FromSql;
use zumodra_tenancy::tokio_postgres::Row;

use crate::http::error::{ApiError, FieldErrors};

/// The columns every job query reads, in [`Job::from_row`]'s order.
macro_rules! job_columns {
    () => {
        "id, title, description, department, location, employment_type, remote_policy, \
         salary_min, salary_max, salary_currency, positions, deadline, status, created_by, \
         version, published_at, created_at, updated_at"
    };
}
pub(crate) use job_columns;

pub const STATUSES: &[&str] = &["draft", "open", "on_hold", "closed", "filled", "cancelled"];
pub const EMPLOYMENT_TYPES: &[&str] = &[
    "full_time",
    "part_time",
    "contract",
    "internship",
    "temporary",
];
pub const REMOTE_POLICIES: &[&str] = &["onsite", "remote", "hybrid"];

/// A job of the tenant (`ats_job`). `Job` owns its text; `Job<&str>` borrows it from
/// the row it was read from — the list answers with those, so 50 jobs cost no copy of
/// their text before the JSON is written (the copies and frees were a fifth of the
/// list's CPU). Both serialize to the same JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Job<S = String> {
    pub id: i64,
    pub title: S,
    pub description: S,
    pub department: S,
    pub location: S,
    pub employment_type: S,
    pub remote_policy: S,
    pub salary_min: Option<i64>,
    pub salary_max: Option<i64>,
    pub salary_currency: Option<S>,
    pub positions: i32,
    pub deadline: Option<NaiveDate>,
    pub status: S,
    pub created_by: Option<i64>,
    pub version: i32,
    // Written by `http::timestamp`: the same text as chrono's, at a fraction of the cost
    // (these three were a quarter of the job list's CPU).
    #[serde(serialize_with = "crate::http::timestamp::option::serialize")]
    pub published_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl<'a, S: FromSql<'a>> Job<S> {
    pub fn from_row(row: &'a Row) -> Result<Self, zumodra_tenancy::tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            title: row.try_get(1)?,
            description: row.try_get(2)?,
            department: row.try_get(3)?,
            location: row.try_get(4)?,
            employment_type: row.try_get(5)?,
            remote_policy: row.try_get(6)?,
            salary_min: row.try_get(7)?,
            salary_max: row.try_get(8)?,
            salary_currency: row.try_get(9)?,
            positions: row.try_get(10)?,
            deadline: row.try_get(11)?,
            status: row.try_get(12)?,
            created_by: row.try_get(13)?,
            version: row.try_get(14)?,
            published_at: row.try_get(15)?,
            created_at: row.try_get(16)?,
            updated_at: row.try_get(17)?,
        })
    }
}

impl Job {
    /// The writable part of this job, to apply a patch to.
    pub fn draft(&self) -> JobDraft {
        JobDraft {
            title: self.title.clone(),
            description: self.description.clone(),
            department: self.department.clone(),
            location: self.location.clone(),
            employment_type: self.employment_type.clone(),
            remote_policy: self.remote_policy.clone(),
            salary_min: self.salary_min,
            salary_max: self.salary_max,
            salary_currency: self.salary_currency.clone(),
            positions: self.positions,
            deadline: self.deadline,
            status: self.status.clone(),
        }
    }
}

/// The writable fields of a job, valid once [`JobDraft::validate`] said so.
#[derive(Debug, Clone)]
pub struct JobDraft {
    pub title: String,
    pub description: String,
    pub department: String,
    pub location: String,
    pub employment_type: String,
    pub remote_policy: String,
    pub salary_min: Option<i64>,
    pub salary_max: Option<i64>,
    pub salary_currency: Option<String>,
    pub positions: i32,
    pub deadline: Option<NaiveDate>,
    pub status: String,
}

impl Default for JobDraft {
    fn default() -> Self {
        Self {
            title: String::new(),
            description: String::new(),
            department: String::new(),
            location: String::new(),
            employment_type: "full_time".into(),
            remote_policy: "onsite".into(),
            salary_min: None,
            salary_max: None,
            salary_currency: None,
            positions: 1,
            deadline: None,
            status: "draft".into(),
        }
    }
}

// `Some(None)` for an explicit `null` (clear the value), `None` for an absent field.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What a client sends to create (`POST`) or change (`PATCH`) a job. Absent fields keep
/// their value (defaults on create); `null` clears a nullable one.
#[derive(Debug, Default, Deserialize)]
pub struct JobInput {
    pub title: Option<String>,
    pub description: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
    pub employment_type: Option<String>,
    pub remote_policy: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub salary_min: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub salary_max: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub salary_currency: Option<Option<String>>,
    pub positions: Option<i32>,
    #[serde(default, deserialize_with = "nullable")]
    pub deadline: Option<Option<String>>,
    pub status: Option<String>,
    /// `PATCH` only: the version the client last saw (409 if it changed since).
    pub version: Option<i32>,
}

impl JobInput {
    /// Apply onto `draft` and check the result; 422 with every problem at once.
    pub fn apply(self, mut draft: JobDraft) -> Result<JobDraft, ApiError> {
        let mut fields = FieldErrors::new();
        if let Some(v) = self.title {
            draft.title = v.trim().to_owned();
        }
        if let Some(v) = self.description {
            draft.description = v;
        }
        if let Some(v) = self.department {
            draft.department = v.trim().to_owned();
        }
        if let Some(v) = self.location {
            draft.location = v.trim().to_owned();
        }
        if let Some(v) = self.employment_type {
            draft.employment_type = v;
        }
        if let Some(v) = self.remote_policy {
            draft.remote_policy = v;
        }
        if let Some(v) = self.salary_min {
            draft.salary_min = v;
        }
        if let Some(v) = self.salary_max {
            draft.salary_max = v;
        }
        if let Some(v) = self.salary_currency {
            draft.salary_currency = v.map(|c| c.trim().to_uppercase());
        }
        if let Some(v) = self.positions {
            draft.positions = v;
        }
        if let Some(v) = self.deadline {
            draft.deadline = match v.map(|d| d.parse::<NaiveDate>()) {
                None => None,
                Some(Ok(date)) => Some(date),
                Some(Err(_)) => {
                    fields.insert("deadline".into(), "a date as YYYY-MM-DD".into());
                    None
                }
            };
        }
        if let Some(v) = self.status {
            draft.status = v;
        }
        draft.check(&mut fields);
        if fields.is_empty() {
            Ok(draft)
        } else {
            Err(ApiError::Validation(fields))
        }
    }
}

impl JobDraft {
    fn check(&self, fields: &mut FieldErrors) {
        let mut bad = |field: &str, problem: &str| {
            fields.entry(field.into()).or_insert_with(|| problem.into());
        };
        let title_len = self.title.chars().count();
        if title_len == 0 {
            bad("title", "required");
        } else if title_len > 200 {
            bad("title", "at most 200 characters");
        }
        if self.description.chars().count() > 20_000 {
            bad("description", "at most 20000 characters");
        }
        if self.department.chars().count() > 200 {
            bad("department", "at most 200 characters");
        }
        if self.location.chars().count() > 200 {
            bad("location", "at most 200 characters");
        }
        if !EMPLOYMENT_TYPES.contains(&self.employment_type.as_str()) {
            bad(
                "employment_type",
                "one of full_time, part_time, contract, internship, temporary",
            );
        }
        if !REMOTE_POLICIES.contains(&self.remote_policy.as_str()) {
            bad("remote_policy", "one of onsite, remote, hybrid");
        }
        if !STATUSES.contains(&self.status.as_str()) {
            bad(
                "status",
                "one of draft, open, on_hold, closed, filled, cancelled",
            );
        }
        for (name, value) in [
            ("salary_min", self.salary_min),
            ("salary_max", self.salary_max),
        ] {
            if value.is_some_and(|v| v < 0) {
                bad(name, "zero or more");
            }
        }
        if let (Some(min), Some(max)) = (self.salary_min, self.salary_max) {
            if min > max {
                bad("salary_max", "at least salary_min");
            }
        }
        if let Some(c) = &self.salary_currency {
            if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                bad("salary_currency", "an ISO 4217 code such as EUR");
            }
        }
        if (self.salary_min.is_some() || self.salary_max.is_some())
            && self.salary_currency.is_none()
        {
            bad("salary_currency", "required with a salary");
        }
        if !(1..=10_000).contains(&self.positions) {
            bad("positions", "from 1 to 10000");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_is_enough_and_problems_are_listed_together() {
        let ok = JobInput {
            title: Some(" Engineer ".into()),
            ..Default::default()
        }
        .apply(JobDraft::default())
        .unwrap();
        assert_eq!(ok.title, "Engineer");
        let Err(ApiError::Validation(fields)) = JobInput {
            salary_min: Some(Some(10)),
            salary_max: Some(Some(5)),
            positions: Some(0),
            deadline: Some(Some("tomorrow".into())),
            ..Default::default()
        }
        .apply(JobDraft::default()) else {
            panic!("expected a validation error")
        };
        for f in [
            "title",
            "salary_max",
            "salary_currency",
            "positions",
            "deadline",
        ] {
            assert!(fields.contains_key(f), "{f}: {fields:?}");
        }
    }
}
