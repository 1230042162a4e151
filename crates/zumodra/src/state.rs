//! What every handler can reach: the engine, the settings, the tenant resolver, the
//! rate limiters and the metrics.

use std::sync::Arc;

use zumodra_tenancy::Engine;

use crate::auth::limiter::Limiters;
use crate::cache::TenantCache;
use crate::config::Settings;
use crate::events::Hub;
use crate::metrics::Metrics;
use crate::tenants::Resolver;

/// Shared application state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub settings: Arc<Settings>,
    pub resolver: Arc<Resolver>,
    pub limiters: Arc<Limiters>,
    pub metrics: Arc<Metrics>,
    /// Real-time events of every tenant, fanned out per tenant.
    pub events: Arc<Hub>,
    /// Tenant-scoped cache (in-process, or Redis with `ZUMODRA_REDIS_URL`).
    pub cache: Arc<TenantCache>,
}

impl AppState {
    /// Fails when the cache backend is misconfigured (a bad `ZUMODRA_REDIS_URL`).
    pub fn new(engine: Engine, settings: Settings) -> anyhow::Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let switches = metrics.clone();
        engine.observe_switches(Arc::new(move |elapsed| {
            switches.tenant_switch.observe(elapsed)
        }));
        let cache = TenantCache::from_settings(
            settings.redis_url.as_deref(),
            engine.role_prefix().as_str(),
        )?
        .with_stats(metrics.cache.clone());
        Ok(Self {
            resolver: Arc::new(Resolver::new(engine.clone(), metrics.clone())),
            engine,
            settings: Arc::new(settings),
            limiters: Arc::new(Limiters::default()),
            metrics,
            events: Arc::new(Hub::default()),
            cache: Arc::new(cache),
        })
    }
}
