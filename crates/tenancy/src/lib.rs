//! # The Zumodra tenancy engine
//!
//! Everything that makes one PostgreSQL database safe for many companies, and nothing
//! about HTTP:
//!
//! - [`names`]: validated slugs, schema and role names — the only names ever formatted
//!   into SQL;
//! - [`Engine`]: the owner and runtime pools and the installation's identity;
//! - [`TenantTx`]: the one way into a tenant's tables (`BEGIN` + `SET LOCAL ROLE` +
//!   `SET LOCAL search_path`, one round trip);
//! - the catalog (tenants, domains, users), provisioning, lifecycle and deletion;
//! - the warm pool: schemas built ahead of demand, claimed by a rename;
//! - the fleet migration runner and its ledger;
//! - [`embedded`]: the private PostgreSQL cluster used when no database URL is set.
//!
//! Only this crate ever changes the role or the search_path, and always with `SET LOCAL`.

pub mod archive;
pub mod catalog;
pub mod embedded;
mod engine;
pub mod error;
pub mod events;
pub mod jobs;
mod lifecycle;
pub mod listen;
pub mod migrate;
pub mod migrations;
pub mod names;
pub mod password;
mod pool;
mod provision;
pub mod report;
pub mod scratch;
mod tenant_update;
#[cfg(feature = "testing")]
pub mod testing;
mod tx;
mod warm;

pub use catalog::{Domain, Tenant, TenantId, TenantRef, TenantStatus, User};
pub use engine::{Engine, EngineConfig, Recycling, SwitchObserver};
pub use error::{Error, Result};
pub use lifecycle::DEFAULT_DROP_BATCH;
pub use migrate::{MigrateOptions, MigrateReport, MigrationStatus, PendingTenant, TenantOutcome};
pub use names::{RoleName, RolePrefix, SchemaName, Slug, SlugError};
pub use provision::{NewOwner, NewTenant, ProvisionOptions, ProvisionStep};
pub use tenant_update::TenantUpdate;
pub use tokio_postgres;
pub use tx::TenantTx;
pub use warm::{WarmReport, WARM_INTERVAL};
