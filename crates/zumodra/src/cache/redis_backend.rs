//! The Redis backend: values and generations in Redis, shared by every instance.
//!
//! Keys: `<namespace>:g:<scope>` holds a scope's generation (never expires: a reset
//! generation would revive old entries); `<namespace>:v:<scope>:<generation>:<key>`
//! holds a value with its TTL. `<scope>` is `t<tenant id>` or `p`.
//!
//! Reading the generation and the value is one round trip (a small Lua script). When
//! Redis is unreachable every call fails fast (connection attempts at most once a
//! second, each operation bounded by a timeout) and the caller treats it as a miss.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

use super::{BackendError, CacheScope};

const LOOKUP: &str = r"
local g = redis.call('GET', KEYS[1])
if not g then g = '0' end
return {g, redis.call('GET', ARGV[1] .. g .. ARGV[2])}
";

// The longest a cache call waits for Redis before answering from the database.
const OP_TIMEOUT: Duration = Duration::from_millis(500);
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

pub(super) struct RedisBackend {
    client: redis::Client,
    namespace: String,
    lookup: redis::Script,
    conn: Mutex<ConnState>,
    // Invalidations that could not reach Redis; replayed before their scope is read
    // from Redis again.
    pending: Mutex<HashSet<CacheScope>>,
}

#[derive(Default)]
struct ConnState {
    manager: Option<ConnectionManager>,
    connecting: bool,
    last_failure: Option<Instant>,
}

fn err(e: impl std::fmt::Display) -> BackendError {
    BackendError(format!("redis: {e}"))
}

impl RedisBackend {
    pub(super) fn new(url: &str, namespace: &str) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(url).map_err(|e| anyhow::anyhow!("invalid Redis URL: {e}"))?;
        Ok(Self {
            client,
            namespace: format!("zumodra:{namespace}"),
            lookup: redis::Script::new(LOOKUP),
            conn: Mutex::new(ConnState::default()),
            pending: Mutex::new(HashSet::new()),
        })
    }

    /// Connect now, waiting at most `wait` (start-up; later calls never wait).
    pub(super) async fn connect(self: &Arc<Self>, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if self.connection().is_ok() {
                return true;
            }
            let connecting = self.state().connecting;
            if !connecting || Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live connection, or an error at once. Connecting happens in the background
    /// (at most one attempt at a time, and a second after a failure): no caller ever
    /// waits for Redis to come up.
    fn connection(self: &Arc<Self>) -> Result<ConnectionManager, BackendError> {
        let mut state = self.state();
        if let Some(conn) = state.manager.as_ref() {
            return Ok(conn.clone());
        }
        let recently_failed = state
            .last_failure
            .is_some_and(|t| t.elapsed() < RECONNECT_EVERY);
        if !state.connecting && !recently_failed {
            state.connecting = true;
            let this = self.clone();
            tokio::spawn(async move {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(OP_TIMEOUT)
                    .set_response_timeout(OP_TIMEOUT)
                    .set_number_of_retries(0);
                let result = tokio::time::timeout(
                    OP_TIMEOUT * 4,
                    ConnectionManager::new_with_config(this.client.clone(), config),
                )
                .await;
                let mut state = this.state();
                state.connecting = false;
                match result {
                    Ok(Ok(conn)) => state.manager = Some(conn),
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "redis unreachable; cache bypassed");
                        state.last_failure = Some(Instant::now());
                    }
                    Err(_) => state.last_failure = Some(Instant::now()),
                }
            });
        }
        Err(BackendError("redis: not connected".into()))
    }

    async fn timed<T>(
        &self,
        op: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, BackendError> {
        tokio::time::timeout(OP_TIMEOUT, op)
            .await
            .map_err(|_| BackendError("redis: timed out".into()))?
            .map_err(err)
    }

    fn generation_key(&self, scope: CacheScope) -> String {
        format!("{}:g:{}", self.namespace, scope.tag())
    }

    fn value_prefix(&self, scope: CacheScope) -> String {
        format!("{}:v:{}:", self.namespace, scope.tag())
    }

    /// Replay deferred invalidations; `Err` if `scope` still has one.
    async fn flush_pending(self: &Arc<Self>, scope: CacheScope) -> Result<(), BackendError> {
        let scopes: Vec<CacheScope> = {
            let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.is_empty() {
                return Ok(());
            }
            pending.iter().copied().collect()
        };
        let mut conn = self.connection()?;
        for s in scopes {
            let key = self.generation_key(s);
            self.timed(conn.incr::<_, _, i64>(&key, 1)).await?;
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&s);
        }
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.contains(&scope) {
            Err(BackendError("redis: invalidation pending".into()))
        } else {
            Ok(())
        }
    }

    pub(super) async fn lookup(
        self: &Arc<Self>,
        scope: CacheScope,
        key: &str,
    ) -> Result<(u64, Option<Arc<[u8]>>), BackendError> {
        self.flush_pending(scope).await?;
        let mut conn = self.connection()?;
        let (generation, value): (String, Option<Vec<u8>>) = self
            .timed(
                self.lookup
                    .key(self.generation_key(scope))
                    .arg(self.value_prefix(scope))
                    .arg(format!(":{key}"))
                    .invoke_async(&mut conn),
            )
            .await?;
        let generation = generation
            .parse()
            .map_err(|_| BackendError(format!("redis: bad generation {generation:?}")))?;
        Ok((generation, value.map(Into::into)))
    }

    pub(super) async fn store(
        self: &Arc<Self>,
        scope: CacheScope,
        generation: u64,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), BackendError> {
        let mut conn = self.connection()?;
        let full = format!("{}{generation}:{key}", self.value_prefix(scope));
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.timed(conn.pset_ex::<_, _, ()>(full, value, ms)).await
    }

    pub(super) async fn bump(self: &Arc<Self>, scope: CacheScope) -> Result<(), BackendError> {
        let result = async {
            let mut conn = self.connection()?;
            self.timed(conn.incr::<_, _, i64>(self.generation_key(scope), 1))
                .await
        }
        .await;
        if result.is_err() {
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(scope);
        }
        result.map(|_| ())
    }
}
