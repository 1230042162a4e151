//! The runtime pool, split into small shards so that each tenant is served by a stable
//! subset of connections — its home shard — whenever one of those is free.
//!
//! PostgreSQL keeps catalog and plan caches per backend: a backend that serves the same
//! few tenants keeps them warm and its memory bounded, where a backend serving every
//! tenant in turn keeps relearning (on this machine random-tenant transactions over
//! 1,000 tenants ran at 7.7k tps in pgbench, and at 14.3k when each connection kept to
//! its own 31 tenants).
//!
//! So a request first waits for its home shard, for up to [`HOME_GRACE`] — a few
//! transactions' time. Taking a free connection of another shard at once instead spreads
//! every tenant over every backend as soon as the server is busy, and cost 12–40 % of the
//! throughput at 1,000 tenants (docs/benchmarks.md, "Tenant-affine pool"). After the grace, any free
//! connection will do, and when every shard is busy the request waits for the first
//! connection any shard frees: one stalled shard costs its tenants the grace, not errors.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use deadpool_postgres::{Object, Pool, PoolError, TimeoutType, Timeouts};

use crate::catalog::TenantId;
use crate::engine::{make_pool, Retire};
use crate::error::Result;

/// Connections per shard: a tenant's home is this many backends.
const SHARD_SIZE: usize = 2;

/// How long a request waits for its home shard before it takes any connection. A tenant
/// transaction holds its connection for about a millisecond under load.
const HOME_GRACE: Duration = Duration::from_millis(10);

pub(crate) struct RuntimePool {
    shards: Vec<Pool>,
    next: AtomicUsize,
    timeout: Duration,
}

impl RuntimePool {
    pub(crate) fn new(
        config: tokio_postgres::Config,
        size: usize,
        timeout: Duration,
        affinity: bool,
        retire: &Retire,
    ) -> Result<Self> {
        let size = size.max(1);
        let shard_size = if affinity { SHARD_SIZE } else { size };
        let count = size.div_ceil(shard_size);
        let shards = (0..count)
            .map(|i| {
                // Spread `size` connections over the shards (the last may be smaller).
                let this = (size - i * shard_size).min(shard_size);
                make_pool(config.clone(), this, timeout, retire)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            shards,
            next: AtomicUsize::new(0),
            timeout,
        })
    }

    /// A connection for work in `tenant`: from its home shard when one frees within
    /// [`HOME_GRACE`], else the first any shard has.
    pub(crate) async fn for_tenant(&self, tenant: TenantId) -> Result<Object> {
        let home = (tenant.0.unsigned_abs() % self.shards.len() as u64) as usize;
        if self.shards.len() > 1 {
            let grace = Timeouts {
                wait: Some(HOME_GRACE.min(self.timeout)),
                create: Some(self.timeout),
                recycle: Some(self.timeout),
            };
            match self.shards[home].timeout_get(&grace).await {
                Ok(conn) => return Ok(conn),
                Err(PoolError::Timeout(TimeoutType::Wait)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.get_from(home, self.timeout.saturating_sub(HOME_GRACE))
            .await
    }

    /// A connection for shared-table work: any shard, in turn.
    pub(crate) async fn any(&self) -> Result<Object> {
        let start = self.next.fetch_add(1, Relaxed) % self.shards.len();
        self.get_from(start, self.timeout).await
    }

    /// The first free connection from `start` on; when there is none, the first that any
    /// shard frees within `wait`.
    async fn get_from(&self, start: usize, wait: Duration) -> Result<Object> {
        let now = Timeouts {
            wait: Some(Duration::ZERO),
            create: Some(self.timeout),
            recycle: Some(self.timeout),
        };
        let count = self.shards.len();
        for i in 0..count {
            match self.shards[(start + i) % count].timeout_get(&now).await {
                Ok(conn) => return Ok(conn),
                Err(PoolError::Timeout(TimeoutType::Wait)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        // Every shard is busy: wait for whichever shard frees a connection first, for at
        // most `wait`. (Waiting on the home shard alone let one slow
        // transaction holding a shard's two connections turn into 503s for every tenant
        // homed there while the other shards were free: the isolation soak saw it.)
        let then = Timeouts {
            wait: Some(wait),
            ..now
        };
        let waits =
            (0..count).map(|i| Box::pin(self.shards[(start + i) % count].timeout_get(&then)));
        let (first, _, _) = futures::future::select_all(waits).await;
        Ok(first?)
    }

    /// (connections open, idle, maximum) over all shards.
    pub(crate) fn status(&self) -> (usize, usize, usize) {
        self.shards
            .iter()
            .map(|p| p.status())
            .fold((0, 0, 0), |(s, a, m), st| {
                (s + st.size, a + st.available, m + st.max_size)
            })
    }
}
