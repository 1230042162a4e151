//! The engine handle: the two connection pools and the installation's identity.
//!
//! Two PostgreSQL roles connect:
//! - the **owner** (the login of the configured database URL) runs migrations and
//!   provisioning and owns the shared catalog and every tenant's audit log;
//! - the **runtime** role `<prefix>app` is a `NOINHERIT` login that is a member of every
//!   tenant role. All request work goes through it: outside a tenant transaction it can
//!   read no tenant schema, inside one it is exactly the tenant's role.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use tokio_postgres::NoTls;

use crate::error::{Error, Result};
use crate::migrations::{render, Migrations};
use crate::names::{RoleName, RolePrefix, Slug};

/// How to reach PostgreSQL and how big the pools are.
#[derive(Clone)]
pub struct EngineConfig {
    /// The owner login: migrations, provisioning, the shared catalog.
    pub database: tokio_postgres::Config,
    /// `<slug>.<base_domain>` is every tenant's primary domain.
    pub base_domain: String,
    /// Connections of the runtime (request) pool.
    pub pool_size: usize,
    /// Connections of the owner pool (provisioning, lifecycle).
    pub admin_pool_size: usize,
    /// How long a caller waits for a pooled connection before `Error::Unavailable`.
    pub pool_timeout: Duration,
    /// The role prefix to use when the installation is new (random when `None`).
    pub new_role_prefix: Option<RolePrefix>,
    /// The tenant migrations (the embedded ones unless a test adds its own).
    pub tenant_migrations: Migrations,
    /// Serve each tenant from a stable pair of pooled connections when one is free
    /// (`pool.rs`); `false` gives one undivided pool (for comparison).
    pub tenant_affinity: bool,
    /// Schemas kept built ahead of demand for new tenants (`warm.rs`); 0 disables the
    /// warm pool: every tenant is then built from scratch.
    pub warm_pool_size: usize,
    /// When pooled connections are closed and replaced (both pools), so that each
    /// PostgreSQL backend's catalog caches — which grow with every tenant it serves —
    /// are dropped now and then.
    pub recycling: Recycling,
}

/// When a pooled connection is retired: checked each time it is taken from the pool; a
/// connection past either limit is closed there and a fresh one is opened in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recycling {
    /// Retire a connection after this long. Each connection's own limit lies between
    /// 80 % and 100 % of it (derived from its creation time), so the connections opened
    /// together at start-up do not all reconnect in the same second. `None`: no limit.
    pub max_age: Option<Duration>,
    /// Retire a connection after it was handed out this many times (one tenant
    /// transaction or one shared-catalog use each). `None`: no limit.
    pub max_uses: Option<u64>,
}

impl Default for Recycling {
    /// 30 minutes, 100,000 uses (about 4 minutes per connection at full load on 16
    /// connections here; see docs/operations.md).
    fn default() -> Self {
        Self {
            max_age: Some(Duration::from_secs(30 * 60)),
            max_uses: Some(100_000),
        }
    }
}

impl Recycling {
    /// Neither limit: connections live until they fail.
    pub const NEVER: Self = Self {
        max_age: None,
        max_uses: None,
    };

    /// `true` when a connection with these metrics must not be used again.
    pub(crate) fn is_due(&self, metrics: &deadpool_postgres::Metrics) -> bool {
        // Handed out `recycle_count + 1` times so far (the first time was not a recycle).
        let uses = metrics.recycle_count as u64 + 1;
        if self.max_uses.is_some_and(|max| uses >= max) {
            return true;
        }
        match self.max_age {
            Some(max) => metrics.age() >= lifetime(max, metrics.created),
            None => false,
        }
    }
}

/// `max` minus up to a fifth of it, the same for a connection every time it is asked.
fn lifetime(max: Duration, created: std::time::Instant) -> Duration {
    use std::hash::{Hash, Hasher};
    let spread = max / 5;
    let nanos = spread.as_nanos() as u64;
    if nanos == 0 {
        return max;
    }
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    created.hash(&mut hasher);
    max - Duration::from_nanos(hasher.finish() % nanos)
}

impl EngineConfig {
    pub fn new(database: tokio_postgres::Config, base_domain: impl Into<String>) -> Self {
        Self {
            database,
            base_domain: base_domain.into(),
            pool_size: 16,
            admin_pool_size: 4,
            pool_timeout: Duration::from_secs(5),
            new_role_prefix: None,
            tenant_migrations: Migrations::tenant(),
            tenant_affinity: true,
            warm_pool_size: 0,
            recycling: Recycling::default(),
        }
    }
}

/// The tenancy engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) admin: Pool,
    pub(crate) runtime: crate::pool::RuntimePool,
    pub(crate) admin_config: tokio_postgres::Config,
    /// How the runtime role connects (its pool, and dedicated LISTEN connections).
    pub(crate) runtime_config: tokio_postgres::Config,
    pub(crate) prefix: RolePrefix,
    pub(crate) base_domain: String,
    pub(crate) tenant_migrations: Migrations,
    pub(crate) admin_is_superuser: bool,
    /// Connections closed by [`Recycling`] (both pools).
    pub(crate) retired: Arc<AtomicU64>,
    /// Told how long each tenant switch (the `BEGIN; SET LOCAL …` round trip) took.
    pub(crate) switch_observer: std::sync::OnceLock<SwitchObserver>,
    /// The warm pool's target size (0: disabled).
    pub(crate) warm_pool_size: usize,
    /// Wakes the warm pool's top-up task after a claim.
    pub(crate) warm_wakeup: tokio::sync::Notify,
}

/// A callback that receives the duration of every tenant switch (for a histogram).
pub type SwitchObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// How the pools of one engine retire connections, and the counter of those retired.
#[derive(Clone, Default)]
pub(crate) struct Retire {
    pub(crate) recycling: Option<Recycling>,
    pub(crate) retired: Arc<AtomicU64>,
}

pub(crate) fn make_pool(
    config: tokio_postgres::Config,
    size: usize,
    timeout: Duration,
    retire: &Retire,
) -> Result<Pool> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut builder = Pool::builder(manager);
    if let Some(recycling) = retire.recycling.filter(|r| *r != Recycling::NEVER) {
        let retired = retire.retired.clone();
        // Before a pooled connection is handed out again: a failed hook makes deadpool
        // drop it (closing the backend) and take another one or open a new one.
        builder = builder.pre_recycle(Hook::sync_fn(move |_, metrics| {
            if recycling.is_due(metrics) {
                retired.fetch_add(1, Relaxed);
                Err(HookError::message("connection retired (age or use count)"))
            } else {
                Ok(())
            }
        }));
    }
    builder
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .map_err(|e| Error::Other(anyhow::anyhow!("building a connection pool: {e}")))
}

/// Owner connections that build schemas are closed after this many uses. A backend keeps
/// every relation and type it created in its caches (about 160 kB per tenant schema,
/// measured with `pg_backend_memory_contexts`: 49 MB after 300 schemas), and PostgreSQL
/// walks some of those caches on each cache invalidation — every DDL statement sends
/// some — so a backend that built thousands of tenants grows to gigabytes and slows
/// down. A new connection costs a few milliseconds every fifty tenants.
pub(crate) const ADMIN_MAX_USES: usize = 50;

// Serializes installation bootstrap and shared migrations across processes.
const BOOTSTRAP_LOCK: i64 = 0x7a75_6d6f_6472_6101;

impl Engine {
    /// Connect as the owner, make sure the installation exists and the shared catalog is
    /// migrated, then open the runtime pool as the installation's runtime role.
    pub async fn connect(config: EngineConfig) -> Result<Self> {
        let base_domain = crate::catalog::normalize_domain(&config.base_domain)
            .ok_or_else(|| Error::InvalidDomain(config.base_domain.clone()))?;
        let retire = Retire {
            recycling: Some(config.recycling),
            retired: Arc::default(),
        };
        let admin = make_pool(
            config.database.clone(),
            config.admin_pool_size,
            config.pool_timeout,
            &retire,
        )?;
        let (prefix, password, admin_is_superuser) = {
            let mut conn = admin.get().await?;
            bootstrap(&mut conn, config.new_role_prefix.clone()).await?
        };
        let mut runtime_config = config.database.clone();
        runtime_config
            .user(prefix.runtime_role().as_str())
            .password(password)
            .application_name("zumodra");
        let runtime = crate::pool::RuntimePool::new(
            runtime_config.clone(),
            config.pool_size,
            config.pool_timeout,
            config.tenant_affinity,
            &retire,
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                admin,
                runtime,
                admin_config: config.database,
                runtime_config,
                prefix,
                base_domain,
                tenant_migrations: config.tenant_migrations,
                admin_is_superuser,
                retired: retire.retired,
                switch_observer: std::sync::OnceLock::new(),
                warm_pool_size: config.warm_pool_size,
                warm_wakeup: tokio::sync::Notify::new(),
            }),
        })
    }

    /// This installation's role prefix.
    pub fn role_prefix(&self) -> &RolePrefix {
        &self.inner.prefix
    }

    pub fn base_domain(&self) -> &str {
        &self.inner.base_domain
    }

    /// The tenant migrations this engine provisions and migrates to.
    pub fn tenant_migrations(&self) -> &Migrations {
        &self.inner.tenant_migrations
    }

    /// The role that owns a tenant's schema.
    pub fn tenant_role(&self, slug: &Slug) -> RoleName {
        self.inner.prefix.tenant_role(slug)
    }

    /// A connection of the runtime role, for the shared catalog only (it can read no
    /// tenant schema). Tenant tables are reached through [`Engine::begin`].
    pub async fn shared(&self) -> Result<Object> {
        self.inner.runtime.any().await
    }

    /// A connection of the owner role. Engine-internal work only.
    pub(crate) async fn admin(&self) -> Result<Object> {
        Ok(self.inner.admin.get().await?)
    }

    /// Give back an owner connection that built schemas, closing it once it has been
    /// used [`ADMIN_MAX_USES`] times.
    pub(crate) fn release_admin(&self, conn: Object) {
        if Object::metrics(&conn).recycle_count >= ADMIN_MAX_USES {
            drop(Object::take(conn));
        }
    }

    /// Report the duration of every tenant switch to `observer` (set once; later calls
    /// are ignored).
    pub fn observe_switches(&self, observer: SwitchObserver) {
        let _ = self.inner.switch_observer.set(observer);
    }

    /// The runtime pool's state: (connections open, connections idle, max size).
    pub fn pool_status(&self) -> (usize, usize, usize) {
        self.inner.runtime.status()
    }

    /// How many pooled connections were closed and replaced because of their age or use
    /// count ([`Recycling`]) since the engine started.
    pub fn connections_retired(&self) -> u64 {
        self.inner.retired.load(Relaxed)
    }

    /// `true` when PostgreSQL answers through the runtime pool.
    pub async fn ping(&self) -> bool {
        match self.inner.runtime.any().await {
            Ok(conn) => conn.simple_query("").await.is_ok(),
            Err(_) => false,
        }
    }
}

/// Create the installation (role prefix, runtime role, tenants group) on first run and
/// apply pending shared migrations. Idempotent; serialized by an advisory lock.
async fn bootstrap(
    conn: &mut Object,
    new_prefix: Option<RolePrefix>,
) -> Result<(RolePrefix, String, bool)> {
    let tx = conn.transaction().await?;
    tx.execute("select pg_advisory_xact_lock($1)", &[&BOOTSTRAP_LOCK])
        .await?;
    tx.batch_execute(
        "create table if not exists public.zumodra_installation (
             id boolean primary key default true check (id),
             role_prefix text not null,
             runtime_password text not null,
             created_at timestamptz not null default now()
         );
         revoke all on public.zumodra_installation from public;
         create table if not exists public.zumodra_shared_migrations (
             version integer primary key,
             name text not null,
             applied_at timestamptz not null default now()
         );
         revoke all on public.zumodra_shared_migrations from public;",
    )
    .await?;
    let superuser: bool = tx
        .query_one(
            "select rolsuper from pg_roles where rolname = current_user",
            &[],
        )
        .await?
        .get(0);
    let existing = tx
        .query_opt(
            "select role_prefix, runtime_password from public.zumodra_installation",
            &[],
        )
        .await?;
    let (prefix, password) = match existing {
        Some(row) => {
            let text: String = row.get(0);
            let prefix = RolePrefix::parse(&text)
                .ok_or_else(|| Error::Invalid(format!("bad role prefix in catalog: {text}")))?;
            (prefix, row.get::<_, String>(1))
        }
        None => {
            let prefix = new_prefix.unwrap_or_else(RolePrefix::random);
            let password = hex::encode(rand::random::<[u8; 24]>());
            tx.execute(
                "insert into public.zumodra_installation (role_prefix, runtime_password) values ($1, $2)",
                &[&prefix.as_str(), &password],
            )
            .await?;
            (prefix, password)
        }
    };
    let runtime = prefix.runtime_role();
    let group = prefix.tenants_group();
    let have: Vec<String> = tx
        .query(
            "select rolname::text from pg_roles where rolname = any($1)",
            &[&vec![runtime.as_str(), group.as_str()]],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !have.iter().any(|r| r == runtime.as_str()) {
        // The password is our own hex, never client text.
        tx.batch_execute(&format!(
            "create role {runtime} login noinherit password '{password}'"
        ))
        .await?;
    }
    if !have.iter().any(|r| r == group.as_str()) {
        tx.batch_execute(&format!("create role {group} nologin"))
            .await?;
    }
    let applied: i32 = tx
        .query_one(
            "select coalesce(max(version), 0) from public.zumodra_shared_migrations",
            &[],
        )
        .await?
        .get(0);
    for m in Migrations::shared().after(applied) {
        let sql = render(&m.sql, &[("runtime", &runtime), ("tenants", &group)]);
        tx.batch_execute(&sql).await?;
        tx.execute(
            "insert into public.zumodra_shared_migrations (version, name) values ($1, $2)",
            &[&m.version, &m.name],
        )
        .await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied shared migration"
        );
    }
    tx.commit().await?;
    Ok((prefix, password, superuser))
}
