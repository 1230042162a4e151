//! Engine tests against a real PostgreSQL: each test gets its own database and role
//! prefix (`zumodra_tenancy::testing::TestDb`), dropped when it ends.
// Test code may unwrap: a failed unwrap is a failed test (helpers included, which
// clippy's allow-unwrap-in-tests does not cover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod affinity;
mod archive;
mod embedded;
mod fuzz;
mod isolation;
mod jobs;
mod lifecycle;
mod migrate;
mod provisioning;
mod recycling;
mod report;
mod source_rules;
mod support;
mod warm_pool;
