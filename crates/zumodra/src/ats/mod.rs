//! Applicant tracking: jobs today; candidates and applications follow the same pattern.

pub mod jobs;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().merge(jobs::router())
}
