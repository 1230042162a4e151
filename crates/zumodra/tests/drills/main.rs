//! Failure drills (issue #8): each an automated scenario with a verdict, run by
//! `cargo test -p zumodra --test drills` (and so by `cargo test --workspace` and CI).
//! They need PostgreSQL binaries (initdb, pg_ctl), `redis-server`, and
//! `ZUMODRA_TEST_DATABASE_URL` (a running server, over TCP). Each prints its figures
//! on stderr (`-- --nocapture` shows them); docs/reliability.md has the last run's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
mod support;

mod concurrent_create;
mod migrate_kill;
mod pg_restart;
mod pool_exhaustion;
mod redis_stop;
mod server_kill;
