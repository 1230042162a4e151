//! What every handler can reach: the engine, the settings, the tenant resolver, the
//! rate limiters and the metrics.

use std::sync::Arc;

use zumodra_tenancy::Engine;

use crate::auth::limiter::Limiters;
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
}

impl AppState {
    pub fn new(engine: Engine, settings: Settings) -> Self {
        let metrics = Arc::new(Metrics::default());
        let switches = metrics.clone();
        engine.observe_switches(Arc::new(move |elapsed| {
            switches.tenant_switch.observe(elapsed)
        }));
        Self {
            resolver: Arc::new(Resolver::new(engine.clone(), metrics.clone())),
            engine,
            settings: Arc::new(settings),
            limiters: Arc::new(Limiters::default()),
            metrics,
            events: Arc::new(Hub::default()),
        }
    }
}
