//! The tenant transaction: the one and only way to reach tenant tables.
//!
//! It begins with `BEGIN; SET LOCAL ROLE <tenant role>; SET LOCAL search_path = <tenant
//! schema>` in one simple-protocol message, and that message is *pipelined* with the
//! transaction's first statement: both leave in one write and come back in one round
//! trip, so the tenant switch costs no round trip at all. `SET LOCAL` ends with the
//! transaction, so a pooled connection never carries a tenant's role or search_path past
//! it — which also keeps the design safe behind PgBouncer in transaction mode. If the
//! transaction is dropped without `commit` (an error, a panic, a cancelled future),
//! `Drop` sends `ROLLBACK` before the connection can be reused. A read that is the
//! transaction's last statement ([`TenantTx::query_and_end`]) sends its `ROLLBACK` right
//! behind it instead, so a read-only request is one round trip in all.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::catalog::{TenantId, TenantRef};
use crate::engine::SwitchObserver;
use crate::error::{Error, Result};
use crate::Engine;

/// An open transaction inside one tenant's schema, as that tenant's role.
pub struct TenantTx {
    // `Some` until commit or rollback; `Drop` rolls back whatever is still here.
    conn: Option<Object>,
    tenant: TenantRef,
    // The prologue not yet sent: it leaves with the first statement.
    pending: Mutex<Option<String>>,
    observer: Option<SwitchObserver>,
    // OPEN, or how `query_and_end` left the connection.
    ended: AtomicU8,
}

const OPEN: u8 = 0;
/// Rolled back by `query_and_end`: the connection is clean.
const ENDED: u8 = 1;
/// `query_and_end`'s ROLLBACK failed: the connection's state is unknown.
const BROKEN: u8 = 2;

impl Engine {
    /// Open a transaction in `tenant`'s schema as `tenant`'s role. Nothing is sent yet:
    /// the prologue travels with the first statement.
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
        let conn = self.inner.runtime.for_tenant(tenant.id).await?;
        let prologue = format!(
            "{begin}; set local role {}; set local search_path = {}",
            self.inner.prefix.tenant_role(&tenant.slug),
            tenant.slug.schema_name()
        );
        // The guard exists before the first byte is sent: from here on, any way out
        // (error, cancellation) rolls back in Drop.
        Ok(TenantTx {
            conn: Some(conn),
            tenant: tenant.clone(),
            pending: Mutex::new(Some(prologue)),
            observer: self.inner.switch_observer.get().cloned(),
            ended: AtomicU8::new(OPEN),
        })
    }
}

impl TenantTx {
    fn client(&self) -> Result<&Object> {
        self.conn
            .as_ref()
            .filter(|_| self.ended.load(Ordering::Acquire) == OPEN)
            .ok_or_else(|| Error::Other(anyhow::anyhow!("the tenant transaction has ended")))
    }

    fn take_prologue(&self) -> Option<String> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Run `work` on the connection, with the prologue in front of it when it has not
    /// been sent: tokio-postgres writes requests polled together in one go, in order,
    /// so `BEGIN; SET LOCAL …` and the statement share one round trip. Statements are
    /// prepared once per connection: the cache answers within the same poll, so a known
    /// statement leaves right behind the prologue (one round trip); a new one is parsed
    /// after it — with the tenant's search_path — and runs in a second.
    async fn run<'a, T, F>(&'a self, work: impl FnOnce(&'a Object) -> F) -> Result<T>
    where
        F: std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    {
        let client = self.client()?;
        match self.take_prologue() {
            None => Ok(work(client).await?),
            Some(prologue) => {
                let observer = self.observer.clone();
                let switch = async move {
                    let started = std::time::Instant::now();
                    let result = client.batch_execute(&prologue).await;
                    if let (Ok(()), Some(observe)) = (&result, observer) {
                        observe(started.elapsed());
                    }
                    result
                };
                let (switched, result) = futures::join!(switch, work(client));
                // A failed prologue explains the statement's failure better.
                switched?;
                Ok(result?)
            }
        }
    }

    /// The connection with the prologue sent, for engine code that streams (exports).
    pub(crate) async fn client_for_engine(&self) -> Result<&Object> {
        if let Some(prologue) = self.take_prologue() {
            self.client()?.batch_execute(&prologue).await?;
        }
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
        self.run(|c| async move { c.query(&c.prepare_cached(sql).await?, params).await })
            .await
    }

    /// Run a read as the transaction's last statement, with `ROLLBACK` pipelined right
    /// behind it: both leave in one write (with the prologue too, when the statement is
    /// already prepared), so the connection is free one round trip sooner than when
    /// `Drop` rolls back. The transaction is over afterwards: any further statement,
    /// `commit` or `rollback` is an error. For read-only handlers only — nothing the
    /// statement did is kept.
    pub async fn query_and_end(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let (rows, end) = self
            .run(|c| async move {
                // The statement first (a cache miss parses it in a round trip of its
                // own): the ROLLBACK must leave after the query's Bind/Execute, never
                // before them.
                let statement = c.prepare_cached(sql).await?;
                Ok(futures::join!(
                    c.query(&statement, params),
                    c.batch_execute("rollback")
                ))
            })
            .await?;
        let state = if end.is_ok() { ENDED } else { BROKEN };
        self.ended.store(state, Ordering::Release);
        Ok(rows?)
    }

    /// Run a statement that returns exactly one row.
    pub async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.run(|c| async move { c.query_one(&c.prepare_cached(sql).await?, params).await })
            .await
    }

    /// Run a statement that returns zero or one row.
    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        self.run(|c| async move { c.query_opt(&c.prepare_cached(sql).await?, params).await })
            .await
    }

    /// Run a statement and return the number of rows it touched.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.run(|c| async move { c.execute(&c.prepare_cached(sql).await?, params).await })
            .await
    }

    /// Commit. On error the transaction is over anyway (PostgreSQL rolled it back, or
    /// the connection is gone and the pool will discard it).
    pub async fn commit(mut self) -> Result<()> {
        if self.take_prologue().is_some() {
            // Nothing was ever sent: the connection is clean as it is.
            drop(self.conn.take());
            return Ok(());
        }
        let result = self.client()?.batch_execute("commit").await;
        // Only now is the connection clean; until here Drop would still roll back.
        drop(self.conn.take());
        Ok(result?)
    }

    /// Roll back explicitly.
    pub async fn rollback(mut self) -> Result<()> {
        if self.take_prologue().is_some() {
            drop(self.conn.take());
            return Ok(());
        }
        let result = self.client()?.batch_execute("rollback").await;
        drop(self.conn.take());
        Ok(result?)
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        match self.ended.load(Ordering::Acquire) {
            // Rolled back already: back to the pool as it is.
            ENDED => return,
            BROKEN => {
                drop(Object::take(conn));
                return;
            }
            _ => {}
        }
        if self.take_prologue().is_some() {
            // Nothing was ever sent: back to the pool as it is.
            return;
        }
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
