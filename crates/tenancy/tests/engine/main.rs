//! Engine tests against a real PostgreSQL: each test gets its own database and role
//! prefix (`zumodra_tenancy::testing::TestDb`), dropped when it ends.

mod archive;
mod embedded;
mod fuzz;
mod isolation;
mod jobs;
mod lifecycle;
mod migrate;
mod provisioning;
mod report;
mod source_rules;
mod support;
mod warm_pool;
