//! The warm pool: tenant schemas built ahead of demand, so that creating a tenant is a
//! rename instead of some forty DDL statements.
//!
//! Building a tenant's role, schema, tables and indexes takes tens of milliseconds, more
//! as the cluster holds more tenants. The engine keeps [`EngineConfig::warm_pool_size`]
//! schemas built and fully migrated under placeholder names — schema `warm_<hex>` owned
//! by role `<prefix>w_<hex>`, recorded in `public.warm_schemas` (shared migration 0003).
//! Creating a tenant claims one inside the creation's own transaction: it deletes the
//! pool row, renames the role and the schema to the tenant's names, then writes the
//! catalog rows as a build would. Renaming is metadata-only, and nothing in a schema
//! refers to its own name or its role's name as text: grants, memberships, ownership,
//! defaults (`nextval` of a sequence), constraints and triggers refer to objects by OID;
//! `audit_log_digest` is a `BEGIN ATOMIC` body, bound when it was created; the audit
//! chain's trigger finds its table through `TG_TABLE_SCHEMA` when it runs. A claimed
//! schema is therefore the schema a build makes (`tests/engine/warm_pool.rs` compares
//! the two, object by object). A future tenant migration that writes the schema's name
//! into a function body or setting would break this, and that test would say so.
//!
//! - **Concurrency**: the claim takes its row with `FOR UPDATE SKIP LOCKED`, so two
//!   creations never get the same schema, and neither waits for the other.
//! - **Crashes**: the claim, the renames and the catalog rows commit together; a failure
//!   anywhere rolls the schema back into the pool under its placeholder names.
//! - **Versions**: a claim takes only a schema at the engine's latest tenant migration.
//!   Older ones are migrated by [`Engine::migrate_warm_pool`] (`zumodra migrate` and
//!   every top-up call it), so a claimed tenant is always current; newer ones (built by
//!   a newer release during a rolling upgrade) are left alone.
//! - **Top-up**: [`Engine::top_up_warm_pool`] builds what is missing and drops what is
//!   over the target, one schema per transaction, serialized across processes by an
//!   advisory lock; [`Engine::spawn_warm_pool`] runs it in the background after every
//!   claim and once a minute. An empty pool is never an error: creation builds.
//! - **Teardown**: warm roles carry the installation's role prefix, so whatever removes
//!   the installation's roles removes them too; [`Engine::drain_warm_pool`] drops the
//!   pool explicitly (size 0 does it at the next top-up).
//!
//! [`EngineConfig::warm_pool_size`]: crate::EngineConfig::warm_pool_size

use std::time::Duration;

use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use crate::error::{Error, Result};
use crate::names::{RoleName, SchemaName};
use crate::provision::schema_script;
use crate::Engine;

/// Serializes top-ups (builds and drops) across processes, so the pool converges on its
/// target instead of every instance building its own share. Claims never take it.
const WARM_LOCK: i64 = 0x7a75_6d6f_6472_6102;

/// How often the background task checks the pool when no claim woke it.
pub const WARM_INTERVAL: Duration = Duration::from_secs(60);

/// What one top-up did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WarmReport {
    /// Older schemas brought to the latest tenant migration.
    pub migrated: usize,
    /// Schemas built.
    pub built: usize,
    /// Schemas dropped because the pool was over its target.
    pub dropped: usize,
    /// Schemas ready to claim when the top-up ended.
    pub ready: usize,
}

/// One row of `public.warm_schemas`, its names checked again.
struct WarmEntry {
    id: i64,
    schema: SchemaName,
    role: RoleName,
    version: i32,
}

const WARM_COLUMNS: &str = "id, schema_name, role_name, version";

impl Engine {
    /// The warm pool's target size (0: disabled).
    pub fn warm_pool_size(&self) -> usize {
        self.inner.warm_pool_size
    }

    /// Schemas ready to claim now (at the latest tenant migration).
    pub async fn warm_ready(&self) -> Result<usize> {
        let conn = self.admin().await?;
        let n: i64 = conn
            .query_one(
                "select count(*) from public.warm_schemas where version = $1",
                &[&self.inner.tenant_migrations.latest()],
            )
            .await?
            .get(0);
        Ok(n as usize)
    }

    fn warm_entry(&self, row: &Row) -> Result<WarmEntry> {
        let schema: String = row.get(1);
        let role: String = row.get(2);
        let bad =
            |what: &str, name: &str| Error::Invalid(format!("bad warm {what} in catalog: {name}"));
        Ok(WarmEntry {
            id: row.get(0),
            schema: SchemaName::parse_warm(&schema).ok_or_else(|| bad("schema", &schema))?,
            role: RoleName::parse(&self.inner.prefix, &role).ok_or_else(|| bad("role", &role))?,
            version: row.get(3),
        })
    }

    /// Inside a tenant creation's transaction: take a warm schema at `version`, if one
    /// is ready, and rename it and its role to `schema` and `role`. `false` when the
    /// pool has none (the caller builds).
    pub(crate) async fn claim_warm(
        &self,
        tx: &Transaction<'_>,
        schema: &SchemaName,
        role: &RoleName,
        version: i32,
    ) -> Result<bool> {
        let row = tx
            .query_opt(
                &format!(
                    "delete from public.warm_schemas where id = (select w.id \
                     from public.warm_schemas w where w.version = $1 order by w.id limit 1 \
                     for update skip locked) returning {WARM_COLUMNS}"
                ),
                &[&version],
            )
            .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let warm = self.warm_entry(&row)?;
        tx.batch_execute(&format!(
            "alter role {} rename to {role}; alter schema {} rename to {schema}",
            warm.role, warm.schema
        ))
        .await?;
        Ok(true)
    }

    /// Bring every warm schema older than the latest tenant migration up to it, one
    /// schema per transaction. Returns how many were migrated.
    pub async fn migrate_warm_pool(&self) -> Result<usize> {
        let latest = self.inner.tenant_migrations.latest();
        let mut migrated = 0;
        loop {
            let mut conn = self.admin().await?;
            let tx = conn.transaction().await?;
            let row = tx
                .query_opt(
                    &format!(
                        "select {WARM_COLUMNS} from public.warm_schemas where version < $1 \
                         order by id limit 1 for update skip locked"
                    ),
                    &[&latest],
                )
                .await?;
            let Some(row) = row else {
                tx.commit().await?;
                return Ok(migrated);
            };
            let warm = self.warm_entry(&row)?;
            tx.batch_execute(&schema_script(
                self,
                &warm.schema,
                &warm.role,
                warm.version,
                latest,
            ))
            .await?;
            tx.execute(
                "update public.warm_schemas set version = $2, updated_at = now() where id = $1",
                &[&warm.id, &latest],
            )
            .await?;
            tx.commit().await?;
            migrated += 1;
        }
    }

    /// Migrate older warm schemas, then build or drop schemas until exactly
    /// [`Engine::warm_pool_size`] are ready at the latest version.
    pub async fn top_up_warm_pool(&self) -> Result<WarmReport> {
        let mut report = WarmReport {
            migrated: self.migrate_warm_pool().await?,
            ..WarmReport::default()
        };
        let latest = self.inner.tenant_migrations.latest();
        let target = self.inner.warm_pool_size;
        loop {
            let mut conn = self.admin().await?;
            let tx = conn.transaction().await?;
            tx.execute("select pg_advisory_xact_lock($1)", &[&WARM_LOCK])
                .await?;
            let ready: i64 = tx
                .query_one(
                    "select count(*) from public.warm_schemas where version = $1",
                    &[&latest],
                )
                .await?
                .get(0);
            let ready = ready as usize;
            if ready < target {
                self.build_warm_in(&tx, latest).await?;
                tx.commit().await?;
                self.release_admin(conn);
                report.built += 1;
                continue;
            }
            if ready > target {
                // The newest first; one a concurrent claim holds is skipped (it leaves).
                let row = tx
                    .query_opt(
                        &format!(
                            "select {WARM_COLUMNS} from public.warm_schemas where version = $1 \
                             order by id desc limit 1 for update skip locked"
                        ),
                        &[&latest],
                    )
                    .await?;
                if let Some(row) = row {
                    let warm = self.warm_entry(&row)?;
                    drop_warm_in(&tx, &warm).await?;
                    tx.commit().await?;
                    report.dropped += 1;
                    continue;
                }
            }
            tx.commit().await?;
            report.ready = ready;
            return Ok(report);
        }
    }

    /// Build one warm schema at `version` inside `tx`: its row, then the same DDL as a
    /// tenant built from scratch, under placeholder names.
    async fn build_warm_in(&self, tx: &Transaction<'_>, version: i32) -> Result<()> {
        let token: u64 = rand::random();
        let schema = SchemaName::warm(token);
        let role = self.inner.prefix.warm_role(token);
        tx.execute(
            "insert into public.warm_schemas (schema_name, role_name, version) values ($1, $2, $3)",
            &[&schema.as_str(), &role.as_str(), &version],
        )
        .await?;
        tx.batch_execute(&self.build_script(&schema, &role, version, None))
            .await?;
        Ok(())
    }

    /// Drop every warm schema and its role, whatever its version. Returns how many.
    pub async fn drain_warm_pool(&self) -> Result<usize> {
        let mut dropped = 0;
        loop {
            let mut conn = self.admin().await?;
            let tx = conn.transaction().await?;
            let row = tx
                .query_opt(
                    &format!(
                        "select {WARM_COLUMNS} from public.warm_schemas \
                         order by id limit 1 for update skip locked"
                    ),
                    &[],
                )
                .await?;
            let Some(row) = row else {
                tx.commit().await?;
                return Ok(dropped);
            };
            let warm = self.warm_entry(&row)?;
            drop_warm_in(&tx, &warm).await?;
            tx.commit().await?;
            dropped += 1;
        }
    }

    /// Keep the pool topped up in the background: a top-up now, after every claim and
    /// every [`WARM_INTERVAL`]. With size 0 it runs once (dropping what an earlier
    /// configuration built) and ends. Abort the handle to stop it.
    pub fn spawn_warm_pool(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                match engine.top_up_warm_pool().await {
                    Ok(r) if r.built + r.dropped + r.migrated > 0 => tracing::info!(
                        built = r.built,
                        dropped = r.dropped,
                        migrated = r.migrated,
                        ready = r.ready,
                        "warm pool topped up"
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "topping up the warm pool failed; retrying later")
                    }
                }
                if engine.inner.warm_pool_size == 0 {
                    return;
                }
                tokio::select! {
                    _ = engine.inner.warm_wakeup.notified() => {}
                    _ = tokio::time::sleep(WARM_INTERVAL) => {}
                }
            }
        })
    }

    /// Tell the top-up task a schema may have been claimed.
    pub(crate) fn wake_warm_pool(&self) {
        self.inner.warm_wakeup.notify_one();
    }
}

/// Drop a warm schema, its role and its pool row, inside `tx` (which holds the row).
async fn drop_warm_in(tx: &Transaction<'_>, warm: &WarmEntry) -> Result<()> {
    tx.batch_execute(&format!(
        "drop schema if exists {schema} cascade; drop owned by {role}; drop role {role}",
        schema = warm.schema,
        role = warm.role,
    ))
    .await?;
    tx.execute("delete from public.warm_schemas where id = $1", &[&warm.id])
        .await?;
    Ok(())
}
