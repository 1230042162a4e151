//! The server under test: the `zumodra serve` binary started as a child process (the real
//! thing, with its log in a file), or the same application started in this process
//! (`--server in-process`, for the quick test, which cannot rely on a built binary).
//! Either way it listens on a loopback port and is configured only through `ZUMODRA_*`
//! settings (crates/zumodra/src/config.rs).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which server to run.
#[derive(Debug, Clone)]
pub enum ServerSpec {
    /// A `zumodra` binary, run as `zumodra serve`.
    Binary(PathBuf),
    /// `zumodra::Application` in this process.
    InProcess,
}

impl ServerSpec {
    /// The `zumodra` binary next to this executable (cargo puts both in
    /// `target/<profile>/`), when there is one.
    pub fn sibling_binary() -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let candidate = exe.with_file_name("zumodra");
        if candidate.is_file() {
            Ok(Self::Binary(candidate))
        } else {
            bail!(
                "no zumodra binary next to {}: build it (cargo build --release -p zumodra) or pass --server PATH",
                exe.display()
            )
        }
    }
}

/// What the server is configured with.
pub struct ServerConfig<'a> {
    pub database_url: &'a str,
    pub base_domain: &'a str,
    /// Exports and the child's log go here.
    pub work_dir: &'a Path,
}

enum Running {
    Child(tokio::process::Child),
    InProcess {
        stop: oneshot::Sender<()>,
        task: JoinHandle<anyhow::Result<()>>,
    },
}

/// A started server.
pub struct Server {
    pub port: u16,
    /// The child's log (JSON lines), when it is a child.
    pub log: Option<PathBuf>,
    running: Running,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Start the server and wait until `/readyz` answers 200 (at most 60 s).
    pub async fn start(spec: &ServerSpec, config: &ServerConfig<'_>) -> anyhow::Result<Self> {
        let data_dir = config.work_dir.join("data");
        std::fs::create_dir_all(&data_dir)?;
        let server = match spec {
            ServerSpec::Binary(path) => {
                let port = free_port()?;
                let log = config.work_dir.join("server.log");
                let file = std::fs::File::create(&log)?;
                let mut command = tokio::process::Command::new(path);
                command
                    .arg("serve")
                    // No stray zumodra.toml from the caller's directory.
                    .current_dir(config.work_dir)
                    .env_remove("ZUMODRA_CONFIG")
                    .env_remove("ZUMODRA_REDIS_URL")
                    .env_remove("ZUMODRA_SMTP_URL")
                    .env_remove("ZUMODRA_TRUSTED_PROXIES")
                    .env("ZUMODRA_DATABASE_URL", config.database_url)
                    .env("ZUMODRA_BASE_DOMAIN", config.base_domain)
                    .env("ZUMODRA_BIND", format!("127.0.0.1:{port}"))
                    .env("ZUMODRA_DATA_DIR", &data_dir)
                    .env("ZUMODRA_LOG_FORMAT", "json")
                    .env(
                        "RUST_LOG",
                        // Warnings and errors, inside the request span (info level) so each
                        // line carries its request id; not the per-request info lines.
                        std::env::var("RUST_LOG").unwrap_or_else(|_| "info,tower_http=warn".into()),
                    )
                    .stdin(Stdio::null())
                    .stdout(file.try_clone()?)
                    .stderr(file)
                    .kill_on_drop(true);
                let child = command
                    .spawn()
                    .with_context(|| format!("starting {}", path.display()))?;
                Self {
                    port,
                    log: Some(log),
                    running: Running::Child(child),
                }
            }
            ServerSpec::InProcess => {
                let mut settings = zumodra::config::Settings {
                    database_url: Some(config.database_url.to_owned()),
                    base_domain: config.base_domain.to_owned(),
                    data_dir,
                    ..Default::default()
                };
                settings.bind = "127.0.0.1:0".parse()?;
                let app = zumodra::Application::build(settings).await?;
                let port = app.port();
                let (stop, stopped) = oneshot::channel::<()>();
                let task = tokio::spawn(app.run_until(async move {
                    let _ = stopped.await;
                }));
                Self {
                    port,
                    log: None,
                    running: Running::InProcess { stop, task },
                }
            }
        };
        let mut server = server;
        if let Err(e) = server.wait_ready().await {
            server.stop().await;
            return Err(e);
        }
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let started = Instant::now();
        loop {
            if let Running::Child(child) = &mut self.running {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "the server exited at start-up ({status}); see {:?}",
                        self.log
                    );
                }
            }
            if let Ok(r) = client.get(&url).send().await {
                if r.status().as_u16() == 200 {
                    return Ok(());
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the server was not ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stop gracefully (SIGTERM, then SIGKILL after 15 s).
    pub async fn stop(self) {
        match self.running {
            Running::Child(mut child) => {
                if let Some(pid) = child.id() {
                    // SAFETY: signalling the child we started, by its pid.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                }
                match tokio::time::timeout(Duration::from_secs(15), child.wait()).await {
                    Ok(_) => {}
                    Err(_) => {
                        eprintln!("[soak] the server did not stop within 15 s: killing it");
                        let _ = child.kill().await;
                    }
                }
            }
            Running::InProcess { stop, task } => {
                let _ = stop.send(());
                if tokio::time::timeout(Duration::from_secs(15), task)
                    .await
                    .is_err()
                {
                    eprintln!("[soak] the in-process server did not stop within 15 s");
                }
            }
        }
    }

    /// The log lines (at most 5) that mention `request_id`.
    pub fn log_lines(&self, request_id: &str) -> Vec<String> {
        let Some(path) = &self.log else {
            return Vec::new();
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        text.lines()
            .filter(|l| !request_id.is_empty() && l.contains(request_id))
            .take(5)
            .map(str::to_owned)
            .collect()
    }
}
