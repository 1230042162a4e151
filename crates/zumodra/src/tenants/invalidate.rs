//! The background task that keeps every instance's cache fresh: `LISTEN
//! zumodra_tenant_changed` on a dedicated connection, reconnecting with backoff. After
//! every (re)connection the whole cache is cleared, since notifications sent while we
//! were away are lost (PostgreSQL queues them only for live listeners).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use zumodra_tenancy::Engine;

use crate::tenants::Resolver;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Start the task; abort the handle to stop it.
pub fn spawn(engine: Engine, resolver: Arc<Resolver>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            match engine.listen_tenant_changes().await {
                Ok(mut listener) => {
                    resolver.clear();
                    backoff = MIN_BACKOFF;
                    tracing::debug!("listening for tenant changes");
                    while let Some(slug) = listener.recv().await {
                        tracing::debug!(tenant = %slug, "tenant changed");
                        resolver.tenant_changed(&slug);
                    }
                    tracing::warn!("lost the tenant-change listener; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "cannot listen for tenant changes");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}
