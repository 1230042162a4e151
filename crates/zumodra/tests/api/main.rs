//! End-to-end tests of the HTTP server: a real server on port 0, a fresh PostgreSQL
//! database per test. Set `ZUMODRA_TEST_DATABASE_URL` to use a running server; `TEST_LOG=1`
//! shows the server's logs.
// Test code may unwrap: a failed unwrap is a failed test (helpers included, which
// clippy's allow-unwrap-in-tests does not cover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit_log;
mod auth;
mod browser;
mod caching;
mod candidates;
mod careers;
mod errors;
mod events;
mod exports;
mod fuzz_bodies;
mod helpers;
mod hosts;
mod hr;
mod jobs;
mod members;
mod openapi;
mod platform;
mod platform_access;
mod platform_deletion;
mod platform_ops;
mod product;
mod quotas;
mod routing;
mod security;
mod services;
mod settings;
mod shutdown;
