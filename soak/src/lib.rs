//! `zumodra-soak`: the long-running checks of issue #8 that do not fit in `cargo test`.
//!
//! `zumodra-soak isolation` is the isolation soak: its own database with N seeded
//! tenants whose rows carry a per-tenant marker, the server, many concurrent clients
//! each logged in to its own tenants, a mixed workload with cross-tenant probes, and a
//! report of requests, probes, leaks, status codes and 5xx (docs/reliability.md).

pub mod install;
pub mod isolation;
pub mod markers;
pub mod server;
pub mod stats;
pub mod workload;
