//! The tenant transaction: the one and only way to reach tenant tables.
//!
//! It begins with `BEGIN; SET LOCAL ROLE <tenant role>; SET LOCAL search_path = <tenant
//! schema>` in one simple-protocol message (one round trip, the same as a bare `BEGIN`).
//! `SET LOCAL` ends with the transaction, so a pooled connection never carries a tenant's
//! role or search_path past it — which also keeps the design safe behind PgBouncer in
//! transaction mode. If the transaction is dropped without `commit` (an error, a panic,
//! a cancelled future), `Drop` sends `ROLLBACK` before the connection can be reused.

use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::catalog::{TenantId, TenantRef};
use crate::error::{Error, Result};
use crate::Engine;

/// An open transaction inside one tenant's schema, as that tenant's role.
pub struct TenantTx {
    // `Some` until commit or rollback; `Drop` rolls back whatever is still here.
    conn: Option<Object>,
    tenant: TenantRef,
}

impl Engine {
    /// Open a transaction in `tenant`'s schema as `tenant`'s role.
    pub async fn begin(&self, tenant: &TenantRef) -> Result<TenantTx> {
        self.begin_as(tenant, "begin").await
    }

    /// A read-only, repeatable-read tenant transaction: one consistent snapshot of the
    /// tenant (exports).
    pub async fn begin_snapshot(&self, tenant: &TenantRef) -> Result<TenantTx> {
        self.begin_as(tenant, "begin isolation level repeatable read read only")
            .await
    }

    async fn begin_as(&self, tenant: &TenantRef, begin: &str) -> Result<TenantTx> {
        let conn = self.inner.runtime.get().await?;
        let prologue = format!(
            "{begin}; set local role {}; set local search_path = {}",
            self.inner.prefix.tenant_role(&tenant.slug),
            tenant.slug.schema_name()
        );
        // The guard exists before the first byte is sent: from here on, any way out
        // (error, cancellation) rolls back in Drop.
        let tx = TenantTx {
            conn: Some(conn),
            tenant: tenant.clone(),
        };
        let started = std::time::Instant::now();
        tx.client()?.batch_execute(&prologue).await?;
        if let Some(observe) = self.inner.switch_observer.get() {
            observe(started.elapsed());
        }
        Ok(tx)
    }
}

impl TenantTx {
    fn client(&self) -> Result<&Object> {
        self.conn
            .as_ref()
            .ok_or_else(|| Error::Other(anyhow::anyhow!("the tenant transaction has ended")))
    }

    /// The raw connection, for engine code that streams (exports).
    pub(crate) fn client_for_engine(&self) -> Result<&Object> {
        self.client()
    }

    /// The tenant this transaction is in.
    pub fn tenant(&self) -> &TenantRef {
        &self.tenant
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    /// Run a statement and return its rows. Statements are prepared once per
    /// connection and cached; PostgreSQL re-resolves table names when the search_path
    /// differs from the one a statement was last planned with.
    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let client = self.client()?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, params).await?)
    }

    /// Run a statement that returns exactly one row.
    pub async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        let client = self.client()?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query_one(&statement, params).await?)
    }

    /// Run a statement that returns zero or one row.
    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let client = self.client()?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query_opt(&statement, params).await?)
    }

    /// Run a statement and return the number of rows it touched.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client = self.client()?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.execute(&statement, params).await?)
    }

    /// Commit. On error the transaction is over anyway (PostgreSQL rolled it back, or
    /// the connection is gone and the pool will discard it).
    pub async fn commit(mut self) -> Result<()> {
        let result = self.client()?.batch_execute("commit").await;
        // Only now is the connection clean; until here Drop would still roll back.
        drop(self.conn.take());
        Ok(result?)
    }

    /// Roll back explicitly.
    pub async fn rollback(mut self) -> Result<()> {
        let result = self.client()?.batch_execute("rollback").await;
        drop(self.conn.take());
        Ok(result?)
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        match tokio::runtime::Handle::try_current() {
            // The connection goes back to the pool only after ROLLBACK is through.
            Ok(handle) => {
                handle.spawn(async move {
                    if conn.batch_execute("rollback").await.is_err() {
                        // Unknown state: never reuse it.
                        drop(Object::take(conn));
                    }
                });
            }
            // No runtime to roll back on: close the connection instead of reusing it.
            Err(_) => drop(Object::take(conn)),
        }
    }
}
