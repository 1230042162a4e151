//! What the drills share: a private PostgreSQL cluster on its own port, a private
//! `redis-server`, the real server binary as a child process, HTTP calls that report a
//! dead server instead of panicking, and the orphan check of the catalog.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use zumodra_tenancy::embedded::{ClusterOptions, EmbeddedPostgres};
use zumodra_tenancy::tokio_postgres::{self, NoTls};
use zumodra_tenancy::{Engine, NewOwner, NewTenant, Tenant, TenantStatus};

pub use crate::helpers::{host, Resp};

/// A free TCP port on 127.0.0.1 (bound and released; good enough on loopback).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A short private directory under /tmp (PostgreSQL's socket path must stay short).
fn temp_dir(what: &str) -> PathBuf {
    let dir = PathBuf::from(format!(
        "/tmp/zdrill-{what}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A private PostgreSQL cluster (the embedded-cluster code, run as `postgres` when we
/// are root) listening on 127.0.0.1 on its own port. Stopped and removed on drop.
pub struct Cluster {
    pg: Option<EmbeddedPostgres>,
    dir: PathBuf,
    opts: ClusterOptions,
    pub port: u16,
}

impl Cluster {
    /// `durable`: keep fsync on (drills that claim acknowledged writes survive).
    pub fn start(durable: bool) -> Self {
        let port = free_port();
        let dir = temp_dir("pg");
        let opts = ClusterOptions {
            settings: vec![
                ("listen_addresses".into(), "127.0.0.1".into()),
                ("port".into(), port.to_string()),
                ("max_connections".into(), "100".into()),
            ],
            ephemeral: !durable,
        };
        let pg = EmbeddedPostgres::start(&dir, &opts)
            .unwrap_or_else(|e| panic!("starting the drill's PostgreSQL: {e:#}"));
        Self {
            pg: Some(pg),
            dir,
            opts,
            port,
        }
    }

    /// The cluster's superuser on database `postgres`, over TCP.
    pub fn config(&self) -> tokio_postgres::Config {
        self.url().parse().unwrap()
    }

    pub fn url(&self) -> String {
        format!("postgres://zumodra@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl stop -m fast`, waiting until it is down.
    pub fn stop(&mut self) {
        if let Some(pg) = self.pg.as_mut() {
            pg.stop_forced()
                .unwrap_or_else(|e| panic!("stopping PostgreSQL: {e:#}"));
        }
    }

    /// Start it again (waits until it accepts connections).
    pub fn start_again(&mut self) {
        drop(self.pg.take());
        self.pg = Some(
            EmbeddedPostgres::restart(&self.dir, &self.opts)
                .unwrap_or_else(|e| panic!("restarting PostgreSQL: {e:#}")),
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut pg) = self.pg.take() {
            let _ = pg.stop_forced();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private `redis-server` (no persistence) on its own port. Killed on drop.
pub struct Redis {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
}

impl Redis {
    pub fn start() -> Self {
        let mut redis = Self {
            child: None,
            dir: temp_dir("redis"),
            port: free_port(),
        };
        redis.start_again();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Start (again) on the same port, and wait until it answers PING.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.pings() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pings(&self) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "ping"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
            .unwrap_or(false)
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`): a hung Redis that keeps its sockets open.
    pub fn freeze(&self, on: bool) {
        if let Some(child) = &self.child {
            signal(child.id(), if on { "STOP" } else { "CONT" });
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.freeze(false);
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Send a signal by name with kill(1) (the crate does not link libc).
pub fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{name} {pid}");
}

/// `zumodra serve` as a child process, its log in a file.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    /// Start the real binary with `ZUMODRA_*` settings (`env`), on a fresh port, and
    /// wait until `/readyz` answers 200.
    pub async fn start(env: &[(&str, String)], log_dir: &Path, name: &str) -> Self {
        let port = free_port();
        let log = log_dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zumodra"));
        cmd.arg("serve")
            .env("ZUMODRA_BIND", format!("127.0.0.1:{port}"))
            .env("ZUMODRA_BASE_DOMAIN", "localhost")
            .env("ZUMODRA_LOG_FORMAT", "json")
            .env_remove("ZUMODRA_CONFIG")
            .current_dir(log_dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("starting zumodra serve");
        let server = Self {
            child: Some(child),
            port,
            log,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = try_send(
                &client,
                port,
                Method::GET,
                "localhost",
                "/readyz",
                None,
                None,
            )
            .await
            {
                if r.status == 200 {
                    return server;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become ready; its log:\n{}",
                std::fs::read_to_string(&server.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process id (0 once it is gone).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL: no drain, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for the graceful exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One HTTP call; `Err` when the server did not answer at all (connection refused or
/// reset, timeout).
pub async fn try_send(
    client: &reqwest::Client,
    port: u16,
    method: Method,
    host: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<Resp, String> {
    let mut req = client
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .header("host", host);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.map_err(|e| e.to_string())?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Resp {
        status,
        headers,
        text,
        body,
    })
}

/// A `postgres://` URL for a configuration of the test server (single TCP host).
pub fn url_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        other => panic!("the drills need a TCP test server, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let password = config
        .get_password()
        .map(|p| format!(":{}", String::from_utf8_lossy(p)))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("postgres");
    format!("postgres://{user}{password}@{host}:{port}/{db}")
}

pub async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Schemas and roles that exist in PostgreSQL but not in the catalog — tenant
/// schemas and roles not in `public.tenants`, warm ones not in `public.warm_schemas` —
/// and the reverse: `(orphan schemas, orphan roles, catalog rows without schema or role)`.
pub async fn orphans(
    su: &tokio_postgres::Client,
    prefix: &str,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let strings = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let schemas = strings(
        su.query(
            "select n.nspname::text from pg_namespace n \
             where (n.nspname like 'tenant\\_%' \
                    and not exists (select 1 from public.tenants t where t.schema_name = n.nspname)) \
                or (n.nspname like 'warm\\_%' \
                    and not exists (select 1 from public.warm_schemas w where w.schema_name = n.nspname))",
            &[],
        )
        .await
        .unwrap(),
    );
    let like = format!("{}%", prefix.replace('_', "\\_"));
    let roles = strings(
        su.query(
            "select r.rolname::text from pg_roles r where r.rolname like $1 \
             and r.rolname not in ($2, $3) \
             and not exists (select 1 from public.tenants t where t.role_name = r.rolname) \
             and not exists (select 1 from public.warm_schemas w where w.role_name = r.rolname)",
            &[&like, &format!("{prefix}app"), &format!("{prefix}tenants")],
        )
        .await
        .unwrap(),
    );
    let missing = strings(
        su.query(
            "select t.slug from public.tenants t \
             where t.status not in ('deleted') and (\
               not exists (select 1 from pg_namespace n where n.nspname = t.schema_name) \
               or not exists (select 1 from pg_roles r where r.rolname = t.role_name))",
            &[],
        )
        .await
        .unwrap(),
    );
    (schemas, roles, missing)
}

/// Milliseconds, for the figures the drills print.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// What one request of a load client got.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the answer came (or the call failed).
    pub at: Instant,
    pub elapsed: Duration,
    /// 0 when the server did not answer.
    pub status: u16,
    pub code: String,
    /// The id of what a 2xx created.
    pub id: Option<i64>,
    pub error: Option<String>,
    /// The port the request went to (which server process).
    pub port: u16,
}

/// `clients` concurrent writers creating candidates in the tenant `slug` until `stop`
/// is set; every outcome is returned (the 2xx ones carry the acknowledged id).
pub async fn candidate_writers(
    port: std::sync::Arc<std::sync::atomic::AtomicU16>,
    slug: String,
    token: String,
    clients: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Outcome> {
    use std::sync::atomic::Ordering::SeqCst;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (port, stop, token, host) = (port.clone(), stop.clone(), token.clone(), host(&slug));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut out = Vec::new();
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                n += 1;
                let body = serde_json::json!({
                    "name": format!("Drill {c}-{n}"),
                    "email": format!("c{c}-{n}-{:x}@drill.test", rand::random::<u32>()),
                });
                let started = Instant::now();
                let to = port.load(SeqCst);
                let r = try_send(
                    &client,
                    to,
                    Method::POST,
                    &host,
                    "/api/v1/candidates",
                    Some(&token),
                    Some(body),
                )
                .await;
                let o = match r {
                    Ok(r) => Outcome {
                        at: Instant::now(),
                        elapsed: started.elapsed(),
                        status: r.status,
                        code: r.code().to_owned(),
                        id: r.body["id"].as_i64().filter(|_| r.status == 201),
                        error: None,
                        port: to,
                    },
                    Err(e) => Outcome {
                        at: Instant::now(),
                        elapsed: started.elapsed(),
                        status: 0,
                        code: String::new(),
                        id: None,
                        error: Some(e),
                        port: to,
                    },
                };
                let pause = if o.status == 201 { 5 } else { 50 };
                out.push(o);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_by_key(|o| o.at);
    all
}

/// `(status, code) → count`, for the figures.
pub fn histogram(outcomes: &[Outcome]) -> std::collections::BTreeMap<String, usize> {
    let mut h = std::collections::BTreeMap::new();
    for o in outcomes {
        let key = if o.status == 0 {
            "no answer".to_owned()
        } else if o.code.is_empty() {
            o.status.to_string()
        } else {
            format!("{} {}", o.status, o.code)
        };
        *h.entry(key).or_insert(0) += 1;
    }
    h
}

/// The ids of `outcomes` that are present in `table` of the tenant's schema.
pub async fn present_ids(
    su: &tokio_postgres::Client,
    schema: &str,
    table: &str,
    ids: &[i64],
) -> std::collections::BTreeSet<i64> {
    // Schema and table are our own constants/catalog names, never client text.
    su.query(
        &format!("select id from {schema}.{table} where id = any($1)"),
        &[&ids],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// The drills run one at a time: each is a load with timing verdicts, and two at once
/// on a small machine would measure each other.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// The drills' tenant: `acme` on the enterprise plan (no request-rate limit), owned by
/// `owner@acme.test` with the API tests' password.
pub async fn create_acme(engine: &Engine) -> Tenant {
    engine
        .create_tenant(NewTenant {
            slug: "acme".into(),
            name: "Acme".into(),
            plan: "enterprise".into(),
            status: TenantStatus::Active,
            owner: Some(NewOwner {
                email: "owner@acme.test".into(),
                password: crate::helpers::PASSWORD.into(),
                display_name: String::new(),
            }),
        })
        .await
        .unwrap()
}
