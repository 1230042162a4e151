//! HR core: employees and their time off.

pub mod employees;
pub mod time_off;

use axum::Router;

use crate::state::AppState;

/// The plan feature every HR endpoint needs.
pub const FEATURE: &str = "hr_core";

/// The routes of the HR core.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(employees::router())
        .merge(time_off::router())
}
