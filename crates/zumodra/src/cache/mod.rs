//! The tenant cache (issue #5, SPEC §2 guarantee 7).
//!
//! **Keys carry their tenant by type.** Tenant data is cached under a [`TenantKey`],
//! which can only be built from a [`TenantId`]; platform data under a [`PlatformKey`].
//! No method takes a bare string key, and [`CacheKey`] is sealed, so no other key type
//! can be made outside this module.
//!
//! **Invalidating a tenant is O(1) and touches no other tenant.** Every key is stored
//! under its scope's *generation* number; [`TenantCache::invalidate_tenant`] increments
//! that tenant's generation, so its old entries are never read again (they age out by
//! TTL or eviction) while every other tenant's entries stay as they were.
//!
//! **Backends.** In-process (moka, the default) or Redis (`ZUMODRA_REDIS_URL`), behind
//! the same API. With Redis the generations live in Redis (`INCR`), so an invalidation
//! reaches every server instance at once. With the in-process backend each instance has
//! its own generations: the writer publishes the invalidation with
//! [`publish_invalidation`] inside its transaction (PostgreSQL delivers `NOTIFY` only on
//! commit), and each instance's `LISTEN` loop on [`INVALIDATION_CHANNEL`] hands the
//! payload to [`TenantCache::apply_peer_invalidation`].
//!
//! **Redis unreachable → the cache is bypassed**: a lookup is a miss counted as
//! `error`, nothing is stored, and the caller's loader answers from the database. An
//! invalidation that could not reach Redis is kept and replayed before that scope is read
//! from Redis again.
//!
//! **Writes and invalidation, in order** (what keeps answers correct under concurrency):
//! commit the write, then call `invalidate_tenant`. [`TenantCache::get_or_load`] reads
//! the generation *before* loading and stores under that generation, so a value loaded
//! before an invalidation can never be stored where readers after it will look.

pub mod listen;
mod memory;
mod redis_backend;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use zumodra_tenancy::{TenantId, TenantTx};

use memory::MemoryBackend;
use redis_backend::RedisBackend;

/// The `NOTIFY` channel of cache invalidations between server instances (payload: see
/// [`Invalidation`]).
pub const INVALIDATION_CHANNEL: &str = "zumodra_cache_invalidate";

/// Whose entries a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheScope {
    Tenant(TenantId),
    Platform,
}

impl CacheScope {
    fn tag(self) -> String {
        match self {
            Self::Tenant(id) => format!("t{}", id.0),
            Self::Platform => "p".to_owned(),
        }
    }
}

/// A key of one tenant's data: `TenantKey::new(tenant, "public_jobs", "page:1")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantKey {
    tenant: TenantId,
    namespace: &'static str,
    id: String,
}

impl TenantKey {
    /// `namespace` names the kind of data (a constant of the feature that caches it);
    /// `id` tells entries of that kind apart within the tenant.
    pub fn new(tenant: TenantId, namespace: &'static str, id: impl Into<String>) -> Self {
        Self {
            tenant,
            namespace,
            id: id.into(),
        }
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
}

/// A key of data that belongs to no tenant (e.g. host → tenant resolution before the
/// tenant is known, plan limits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlatformKey {
    namespace: &'static str,
    id: String,
}

impl PlatformKey {
    pub fn new(namespace: &'static str, id: impl Into<String>) -> Self {
        Self {
            namespace,
            id: id.into(),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::TenantKey {}
    impl Sealed for super::PlatformKey {}
}

/// A cache key: [`TenantKey`] or [`PlatformKey`], and nothing else.
pub trait CacheKey: sealed::Sealed {
    /// The scope whose generation the key lives under.
    fn scope(&self) -> CacheScope;
    /// The key within its scope and generation.
    #[doc(hidden)]
    fn local(&self) -> String;
}

// The namespace is length-prefixed so that ("a:b", "c") and ("a", "b:c") differ.
fn local_key(namespace: &str, id: &str) -> String {
    format!("{}{}:{}", namespace.len(), namespace, id)
}

impl CacheKey for TenantKey {
    fn scope(&self) -> CacheScope {
        CacheScope::Tenant(self.tenant)
    }
    fn local(&self) -> String {
        local_key(self.namespace, &self.id)
    }
}

impl CacheKey for PlatformKey {
    fn scope(&self) -> CacheScope {
        CacheScope::Platform
    }
    fn local(&self) -> String {
        local_key(self.namespace, &self.id)
    }
}

/// An invalidation sent between instances on [`INVALIDATION_CHANNEL`]:
/// payload `t:<tenant id>` or `p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalidation(pub CacheScope);

impl Invalidation {
    pub fn payload(self) -> String {
        match self.0 {
            CacheScope::Tenant(id) => format!("t:{}", id.0),
            CacheScope::Platform => "p".to_owned(),
        }
    }

    pub fn parse(payload: &str) -> Option<Self> {
        match payload {
            "p" => Some(Self(CacheScope::Platform)),
            other => other
                .strip_prefix("t:")
                .and_then(|id| id.parse().ok())
                .map(|id| Self(CacheScope::Tenant(TenantId(id)))),
        }
    }
}

/// Tell the other server instances, once `tx` commits, that its tenant's cache is stale.
/// The writer still calls [`TenantCache::invalidate_tenant`] itself after the commit.
pub async fn publish_invalidation(tx: &TenantTx) -> zumodra_tenancy::Result<()> {
    let payload = Invalidation(CacheScope::Tenant(tx.tenant_id())).payload();
    tx.execute(
        "select pg_notify($1, $2)",
        &[&INVALIDATION_CHANNEL, &payload],
    )
    .await?;
    Ok(())
}

/// Lookup counters (`zumodra_cache_requests_total{result}`): `error` is a lookup the
/// backend could not answer (Redis away), served from the database like a miss.
#[derive(Debug, Default)]
pub struct CacheStats {
    hit: AtomicU64,
    miss: AtomicU64,
    error: AtomicU64,
    invalidations: AtomicU64,
}

impl CacheStats {
    /// `(result label, count)` for hit, miss and error.
    pub fn snapshot(&self) -> [(&'static str, u64); 3] {
        [
            ("hit", self.hit.load(Relaxed)),
            ("miss", self.miss.load(Relaxed)),
            ("error", self.error.load(Relaxed)),
        ]
    }

    /// Generation bumps done by this process.
    pub fn invalidations(&self) -> u64 {
        self.invalidations.load(Relaxed)
    }
}

/// What a backend failed at; never shown to a caller.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BackendError(String);

enum Backend {
    Memory(MemoryBackend),
    Redis(Arc<RedisBackend>),
}

impl Backend {
    async fn lookup(
        &self,
        scope: CacheScope,
        key: &str,
    ) -> Result<(u64, Option<Arc<[u8]>>), BackendError> {
        match self {
            Self::Memory(b) => Ok(b.lookup(scope, key)),
            Self::Redis(b) => b.lookup(scope, key).await,
        }
    }

    async fn store(
        &self,
        scope: CacheScope,
        generation: u64,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        match self {
            Self::Memory(b) => {
                b.store(scope, generation, key, value, ttl);
                Ok(())
            }
            Self::Redis(b) => b.store(scope, generation, key, value, ttl).await,
        }
    }

    async fn bump(&self, scope: CacheScope) -> Result<(), BackendError> {
        match self {
            Self::Memory(b) => {
                b.bump(scope);
                Ok(())
            }
            Self::Redis(b) => b.bump(scope).await,
        }
    }
}

/// The cache. Cheap to clone; clones share entries and counters.
#[derive(Clone)]
pub struct TenantCache {
    backend: Arc<Backend>,
    stats: Arc<CacheStats>,
}

impl TenantCache {
    /// The in-process cache, holding at most `capacity` entries.
    pub fn in_memory(capacity: u64) -> Self {
        Self {
            backend: Arc::new(Backend::Memory(MemoryBackend::new(capacity))),
            stats: Arc::default(),
        }
    }

    /// The Redis cache at `url`. `namespace` separates installations sharing one Redis
    /// (the server passes the engine's role prefix). Connects lazily: an unreachable
    /// Redis is not an error here, only a bypassed cache later.
    pub fn redis(url: &str, namespace: &str) -> anyhow::Result<Self> {
        Ok(Self {
            backend: Arc::new(Backend::Redis(Arc::new(RedisBackend::new(url, namespace)?))),
            stats: Arc::default(),
        })
    }

    /// Redis when `redis_url` is set, else in-process (100 000 entries).
    pub fn from_settings(redis_url: Option<&str>, namespace: &str) -> anyhow::Result<Self> {
        match redis_url {
            Some(url) => Self::redis(url, namespace),
            None => Ok(Self::in_memory(100_000)),
        }
    }

    /// Redis only: wait up to `wait` for the first connection (call once at start-up so
    /// the first requests find the cache ready). `false` if Redis is not reachable yet;
    /// the cache then keeps trying in the background and is bypassed meanwhile.
    pub async fn connect(&self, wait: Duration) -> bool {
        match &*self.backend {
            Backend::Memory(_) => true,
            Backend::Redis(b) => b.connect(wait).await,
        }
    }

    /// Count into `stats` (e.g. the server's metrics) instead of private counters.
    pub fn with_stats(mut self, stats: Arc<CacheStats>) -> Self {
        self.stats = stats;
        self
    }

    pub fn stats(&self) -> Arc<CacheStats> {
        self.stats.clone()
    }

    /// `"memory"` or `"redis"`.
    pub fn backend_name(&self) -> &'static str {
        match *self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// The cached value, if any (a backend failure is `None`, counted as `error`).
    pub async fn get<K: CacheKey, T: DeserializeOwned>(&self, key: &K) -> Option<T> {
        self.lookup(key).await.1
    }

    async fn lookup<K: CacheKey, T: DeserializeOwned>(&self, key: &K) -> (Option<u64>, Option<T>) {
        match self.backend.lookup(key.scope(), &key.local()).await {
            Ok((generation, Some(bytes))) => match serde_json::from_slice(&bytes) {
                Ok(value) => {
                    self.stats.hit.fetch_add(1, Relaxed);
                    (Some(generation), Some(value))
                }
                // A value of an older shape (a deploy changed the type): a miss.
                Err(_) => {
                    self.stats.miss.fetch_add(1, Relaxed);
                    (Some(generation), None)
                }
            },
            Ok((generation, None)) => {
                self.stats.miss.fetch_add(1, Relaxed);
                (Some(generation), None)
            }
            Err(e) => {
                self.stats.error.fetch_add(1, Relaxed);
                tracing::debug!(error = %e, "cache bypassed");
                (None, None)
            }
        }
    }

    /// The cached value, or `load()`'s, stored for `ttl`. A loader error is returned
    /// and nothing is stored.
    pub async fn get_or_load<K, T, E, F, Fut>(
        &self,
        key: &K,
        ttl: Duration,
        load: F,
    ) -> Result<T, E>
    where
        K: CacheKey,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let (generation, cached) = self.lookup(key).await;
        if let Some(value) = cached {
            return Ok(value);
        }
        let value = load().await?;
        // Stored under the generation read before loading: if the tenant was
        // invalidated meanwhile, this entry is already unreachable.
        if let Some(generation) = generation {
            if let Ok(bytes) = serde_json::to_vec(&value) {
                if let Err(e) = self
                    .backend
                    .store(key.scope(), generation, &key.local(), bytes, ttl)
                    .await
                {
                    tracing::debug!(error = %e, "cache store skipped");
                }
            }
        }
        Ok(value)
    }

    /// Forget every entry of `tenant` (O(1): its generation moves on). Call after the
    /// write's commit.
    pub async fn invalidate_tenant(&self, tenant: TenantId) {
        self.invalidate(CacheScope::Tenant(tenant)).await
    }

    /// Forget every platform entry.
    pub async fn invalidate_platform(&self) {
        self.invalidate(CacheScope::Platform).await
    }

    async fn invalidate(&self, scope: CacheScope) {
        self.stats.invalidations.fetch_add(1, Relaxed);
        if let Err(e) = self.backend.bump(scope).await {
            // Kept by the backend and replayed before this scope is read again.
            tracing::warn!(error = %e, ?scope, "cache invalidation deferred: backend unreachable");
        }
    }

    /// After the invalidation listener (re)connects: notifications sent while it was away
    /// are lost, so the in-process backend forgets everything. (Redis entries keep their
    /// time-to-live as the bound.)
    pub fn forget_local(&self) {
        if let Backend::Memory(b) = &*self.backend {
            b.forget_all();
        }
    }

    /// An invalidation delivered by `LISTEN` (from any instance, this one included):
    /// move the generation of its scope, whatever the backend.
    pub async fn apply_invalidation(&self, invalidation: Invalidation) {
        self.invalidate(invalidation.0).await
    }

    /// An invalidation received from another instance (the `LISTEN` loop on
    /// [`INVALIDATION_CHANNEL`]). In-process: bump the local generation. Redis: nothing
    /// to do, the writer already moved the shared generation.
    pub fn apply_peer_invalidation(&self, invalidation: Invalidation) {
        if let Backend::Memory(b) = &*self.backend {
            self.stats.invalidations.fetch_add(1, Relaxed);
            b.bump(invalidation.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_keys_are_unambiguous() {
        assert_ne!(local_key("a:b", "c"), local_key("a", "b:c"));
    }

    #[test]
    fn invalidation_payloads_round_trip() {
        for inv in [
            Invalidation(CacheScope::Tenant(TenantId(42))),
            Invalidation(CacheScope::Platform),
        ] {
            assert_eq!(Invalidation::parse(&inv.payload()), Some(inv));
        }
        assert_eq!(Invalidation::parse("t:x"), None);
        assert_eq!(Invalidation::parse(""), None);
    }
}
