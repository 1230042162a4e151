//! Applicant tracking: jobs, candidates and applications.

pub mod applications;
pub mod candidates;
pub mod jobs;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(jobs::router())
        .merge(candidates::router())
        .merge(applications::router())
}
