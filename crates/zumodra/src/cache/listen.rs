//! The background task that applies other instances' (and this one's) cache
//! invalidations: `LISTEN zumodra_cache_invalidate`, reconnecting with backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use zumodra_tenancy::Engine;

use super::{Invalidation, TenantCache, INVALIDATION_CHANNEL};

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Start the task; abort the handle to stop it.
pub fn spawn(engine: Engine, cache: Arc<TenantCache>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            match engine.listen(INVALIDATION_CHANNEL).await {
                Ok(mut listener) => {
                    backoff = MIN_BACKOFF;
                    // Anything sent while we were not listening is lost.
                    cache.forget_local();
                    while let Some(payload) = listener.recv().await {
                        if let Some(invalidation) = Invalidation::parse(&payload) {
                            cache.apply_invalidation(invalidation).await;
                        }
                    }
                    tracing::warn!("lost the cache invalidation listener; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for cache invalidations"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    })
}
