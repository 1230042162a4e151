//! Test support (feature `testing`): a fresh database per test, removed with its
//! cluster-wide roles when the test ends.
//!
//! With `ZUMODRA_TEST_DATABASE_URL` set (a maintenance database of a running server, e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`), tests use that server. Without it, the
//! first test starts a private throw-away cluster with the same code as the embedded
//! default, and it is stopped and removed when the test process exits.
//!
//! Names: database `zt_<unix seconds>_<random>`, role prefix `z<random>_`. A test run that
//! died before cleaning up is swept by a later run once its database is three hours old.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

use crate::embedded::{ClusterOptions, EmbeddedPostgres};
use crate::names::RolePrefix;
use crate::scratch::Scratch;
use crate::{Engine, EngineConfig};

/// Test databases are `zt_<unix seconds>_<random>` ([`Scratch`]).
const KIND: &str = "zt";

/// The server every test of this process uses: how to reach its maintenance database.
fn server() -> &'static tokio_postgres::Config {
    static SERVER: OnceLock<tokio_postgres::Config> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("ZUMODRA_TEST_DATABASE_URL") {
        Ok(url) => url
            .parse()
            .unwrap_or_else(|e| panic!("ZUMODRA_TEST_DATABASE_URL is not a PostgreSQL URL: {e}")),
        Err(_) => private_cluster(),
    })
}

static PRIVATE: Mutex<Option<(EmbeddedPostgres, PathBuf)>> = Mutex::new(None);

extern "C" fn stop_private_cluster() {
    if let Ok(mut guard) = PRIVATE.lock() {
        if let Some((mut cluster, dir)) = guard.take() {
            let _ = cluster.stop();
            drop(cluster);
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn private_cluster() -> tokio_postgres::Config {
    let dir = std::env::temp_dir().join(format!("zumodra-test-{}", std::process::id()));
    let cluster = EmbeddedPostgres::start(
        &dir,
        &ClusterOptions {
            ephemeral: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("starting a private PostgreSQL for the tests: {e:#}"));
    let config = cluster.config("postgres");
    if let Ok(mut guard) = PRIVATE.lock() {
        *guard = Some((cluster, dir));
    }
    // SAFETY: registering a plain extern "C" function with no captured state.
    unsafe { libc::atexit(stop_private_cluster) };
    config
}

/// A configuration for the maintenance database of the test server.
pub fn server_config() -> tokio_postgres::Config {
    server().clone()
}

/// A fresh database with the shared catalog, and an engine on it.
pub struct TestDb {
    pub engine: Engine,
    pub name: String,
    pub prefix: RolePrefix,
    config: EngineConfig,
}

async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server: {e}"));
    tokio::spawn(connection);
    client
}

impl TestDb {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A fresh database; `adjust` may change the engine configuration (pool size,
    /// migrations) before the engine connects.
    pub async fn with(adjust: impl FnOnce(&mut EngineConfig)) -> Self {
        sweep_stale().await;
        let scratch = Scratch::create(server(), KIND)
            .await
            .unwrap_or_else(|e| panic!("creating test database: {e:#}"));
        let Scratch { name, prefix, .. } = scratch.clone();
        let mut config = EngineConfig::new(scratch.database(), "localhost");
        config.pool_size = 8;
        config.new_role_prefix = Some(prefix.clone());
        adjust(&mut config);
        let engine = Engine::connect(config.clone())
            .await
            .unwrap_or_else(|e| panic!("connecting the engine to {name}: {e}"));
        Self {
            engine,
            name,
            prefix,
            config,
        }
    }

    /// The configuration the engine was built with (to start a second engine or server
    /// on the same database).
    pub fn config(&self) -> EngineConfig {
        self.config.clone()
    }

    /// A superuser connection to the test database (for checks no role of the
    /// installation may do, like tampering with an audit row).
    pub async fn superuser(&self) -> tokio_postgres::Client {
        connect(&self.config.database).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let prefix = self.prefix.clone();
        // Drop may run inside a runtime; clean up on a thread with its own.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(drop_installation(&name, &prefix));
        });
        let _ = cleanup.join();
    }
}

/// Drop the test database and its roles; what fails is said on stderr.
async fn drop_installation(name: &str, prefix: &RolePrefix) {
    let scratch = Scratch {
        name: name.to_owned(),
        prefix: prefix.clone(),
        server: server().clone(),
    };
    for error in scratch.remove().await.errors {
        eprintln!("test cleanup: {error}");
    }
}

/// Drop the databases and roles of test runs that died more than three hours ago.
async fn sweep_stale() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    if SWEPT.set(()).is_err() {
        return;
    }
    let Ok((client, connection)) = server().connect(NoTls).await else {
        return;
    };
    tokio::spawn(connection);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let Ok(rows) = client
        .query(
            "select datname::text from pg_database where datname like 'zt\\_%'",
            &[],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let Some((secs, prefix)) = Scratch::parse(&name, KIND) else {
            continue;
        };
        if now.saturating_sub(secs) > Duration::from_secs(3 * 3600).as_secs() {
            drop_installation(&name, &prefix).await;
        }
    }
}
