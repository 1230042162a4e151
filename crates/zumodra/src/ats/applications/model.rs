//! An application as clients see it and what they may send.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zumodra_tenancy::tokio_postgres::{Error as PgError, Row};

/// The columns every application query reads, in [`Application::from_row`]'s order.
pub const COLUMNS: &str =
    "id, job_id, candidate_id, stage, rating, version, created_at, updated_at";

/// A candidate's application to a job (`ats_application`).
#[derive(Debug, Clone, Serialize)]
pub struct Application {
    pub id: i64,
    pub job_id: i64,
    pub candidate_id: i64,
    pub stage: String,
    pub rating: Option<i16>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Application {
    /// From a row of [`COLUMNS`].
    pub fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            id: r.try_get(0)?,
            job_id: r.try_get(1)?,
            candidate_id: r.try_get(2)?,
            stage: r.try_get(3)?,
            rating: r.try_get(4)?,
            version: r.try_get(5)?,
            created_at: r.try_get(6)?,
            updated_at: r.try_get(7)?,
        })
    }
}

/// One move through the pipeline (`ats_application_history`).
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    pub id: i64,
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub moved_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Move {
    /// From `id, from_stage, to_stage, moved_by, created_at`.
    pub fn from_row(r: &Row) -> Result<Self, PgError> {
        Ok(Self {
            id: r.try_get(0)?,
            from_stage: r.try_get(1)?,
            to_stage: r.try_get(2)?,
            moved_by: r.try_get(3)?,
            created_at: r.try_get(4)?,
        })
    }
}

/// An application with its history, for `GET /api/v1/applications/{id}`.
#[derive(Debug, Serialize)]
pub struct Detail {
    #[serde(flatten)]
    pub application: Application,
    pub history: Vec<Move>,
}

/// `POST /api/v1/applications`.
#[derive(Debug, Default, Deserialize)]
pub struct NewApplication {
    pub job_id: Option<i64>,
    pub candidate_id: Option<i64>,
    /// Defaults to the pipeline's first stage.
    pub stage: Option<String>,
    pub rating: Option<i16>,
}

/// `PATCH /api/v1/applications/{id}`.
#[derive(Debug, Default, Deserialize)]
pub struct Change {
    #[serde(default, deserialize_with = "crate::rows::nullable")]
    pub rating: Option<Option<i16>>,
    pub version: Option<i32>,
}

/// `POST /api/v1/applications/{id}/move`.
#[derive(Debug, Default, Deserialize)]
pub struct MoveTo {
    pub stage: Option<String>,
    /// The version the client last saw (409 if it changed since).
    pub version: Option<i32>,
}

/// `Some(problem)` unless the rating is from 0 to 5.
pub fn rating_problem(rating: Option<i16>) -> Option<&'static str> {
    rating
        .filter(|r| !(0..=5).contains(r))
        .map(|_| "from 0 to 5")
}
