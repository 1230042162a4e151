//! Tenant resolution: host → tenant (or the platform), cached in process with
//! positive and negative entries, invalidated by `LISTEN zumodra_tenant_changed`.

pub mod gate;
pub mod host;
pub mod invalidate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::Expiry;
use zumodra_tenancy::{Engine, Tenant, TenantRef};

use crate::metrics::Metrics;

/// Positive entries live this long at most; invalidation normally ends them sooner. The
/// bound covers a notification lost while the listener reconnects.
const POSITIVE_TTL: Duration = Duration::from_secs(60);
/// Unknown hosts are remembered briefly, so a flood of one bad host costs one query.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// A plan's limits and features (SPEC §1), as the request path needs them.
#[derive(Debug, Clone)]
pub struct Plan {
    pub code: String,
    pub max_users: i32,
    pub max_jobs: i32,
    pub requests_per_minute: i32,
    pub features: Vec<String>,
}

impl Plan {
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

/// A resolved tenant with its plan.
#[derive(Debug, Clone)]
pub struct TenantEntry {
    pub tenant: Tenant,
    pub plan: Plan,
}

impl TenantEntry {
    pub fn tenant_ref(&self) -> TenantRef {
        self.tenant.as_ref()
    }
}

/// Which site a request is for.
#[derive(Debug, Clone)]
pub enum Site {
    Platform,
    Tenant(Arc<TenantEntry>),
}

type Cached = Option<Arc<TenantEntry>>;

struct ByKind;

impl Expiry<String, Cached> for ByKind {
    fn expire_after_create(&self, _: &String, value: &Cached, _: Instant) -> Option<Duration> {
        Some(if value.is_some() {
            POSITIVE_TTL
        } else {
            NEGATIVE_TTL
        })
    }
}

/// Host → tenant, cached.
pub struct Resolver {
    engine: Engine,
    cache: Cache<String, Cached>,
    // Bumped on every invalidation: a lookup that started before it must not cache
    // what it read (it may be the state from before the change).
    generation: AtomicU64,
    metrics: Arc<Metrics>,
}

impl Resolver {
    pub fn new(engine: Engine, metrics: Arc<Metrics>) -> Self {
        let cache = Cache::builder()
            .max_capacity(100_000)
            .expire_after(ByKind)
            .support_invalidation_closures()
            .build();
        Self {
            engine,
            cache,
            generation: AtomicU64::new(0),
            metrics,
        }
    }

    /// The tenant serving `host` (a normalized host that is not the base domain);
    /// `None` when no tenant does.
    pub async fn resolve(&self, host: &str) -> zumodra_tenancy::Result<Cached> {
        if let Some(hit) = self.cache.get(host).await {
            self.metrics.cache_hit.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.metrics.cache_miss.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation.load(Ordering::Acquire);
        let found = match self.engine.tenant_by_domain(host).await? {
            Some(tenant) => {
                let plan = self.plan(&tenant.plan).await?;
                Some(Arc::new(TenantEntry { tenant, plan }))
            }
            None => None,
        };
        if self.generation.load(Ordering::Acquire) == generation {
            self.cache.insert(host.to_owned(), found.clone()).await;
            // An invalidation between the check and the insert: drop what we inserted.
            if self.generation.load(Ordering::Acquire) != generation {
                self.cache.invalidate(host).await;
            }
        }
        Ok(found)
    }

    /// A plan's limits and features.
    pub async fn plan(&self, code: &str) -> zumodra_tenancy::Result<Plan> {
        let conn = self.engine.shared().await?;
        let row = conn
            .query_one(
                "select code, max_users, max_jobs, requests_per_minute, features \
                 from public.plans where code = $1",
                &[&code],
            )
            .await?;
        Ok(Plan {
            code: row.try_get(0)?,
            max_users: row.try_get(1)?,
            max_jobs: row.try_get(2)?,
            requests_per_minute: row.try_get(3)?,
            features: row.try_get(4)?,
        })
    }

    /// A tenant changed: forget its entries and every negative entry (a new tenant or
    /// domain may now answer a host we remembered as unknown). Other tenants' entries
    /// are untouched.
    pub fn tenant_changed(&self, slug: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.metrics
            .cache_invalidations
            .fetch_add(1, Ordering::Relaxed);
        let slug = slug.to_owned();
        let result = self
            .cache
            .invalidate_entries_if(move |_, value| match value {
                Some(entry) => entry.tenant.slug.as_str() == slug,
                None => true,
            });
        if result.is_err() {
            self.clear();
        }
    }

    /// Forget everything (after the listener reconnects: notifications may be lost).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_all();
    }
}
