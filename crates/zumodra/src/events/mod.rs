//! Real-time events: `GET /api/v1/events` upgrades to a WebSocket that receives this
//! tenant's events, and nothing else.
//!
//! ```text
//! handler: tx.publish("job.created", …)  ──(pg_notify, delivered at COMMIT)──►
//! every instance: LISTEN zumodra_events ─► Hub ─► this tenant's broadcast channel
//!                                                  └► each socket of the tenant, filtered
//!                                                     by the member's permissions
//! ```
//!
//! A socket is bound at upgrade time to the tenant of its host and to the member who
//! opened it; nothing a client sends changes either (incoming messages are ignored). A
//! slow client has a bounded buffer: when it falls behind it is closed with a reason,
//! without slowing anyone else.

pub mod hub;
pub mod publish;
mod ws;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub use hub::Hub;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/events", get(ws::upgrade))
        .route("/api/v1/events/ticket", post(ws::ticket))
}
