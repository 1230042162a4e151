//! The embedded PostgreSQL default: with no database URL, Zumodra runs a private cluster
//! from the PostgreSQL binaries on the machine, under its data directory, on a Unix
//! socket inside that directory (no TCP port). The data stays across restarts.
//!
//! PostgreSQL refuses to run as root; when we are root, the cluster runs as the
//! unprivileged system user `postgres`. A second `zumodra` process pointed at the same
//! data directory uses the running cluster and leaves it running when it exits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};

const SUPERUSER: &str = "zumodra";
const DATABASE: &str = "zumodra";
const PORT: u16 = 5432;

/// A running private cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<(u32, u32)>,
    started_here: bool,
    stopped: bool,
}

/// Options for [`EmbeddedPostgres::start`].
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Extra server settings (`-c name=value`).
    pub settings: Vec<(String, String)>,
    /// Trade durability for speed (`fsync=off`): throw-away test clusters only.
    pub ephemeral: bool,
}

impl EmbeddedPostgres {
    /// Where `initdb` and `pg_ctl` are: `PATH` first, then the newest
    /// `/usr/lib/postgresql/*/bin`.
    pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
        let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
        if let Some(path) = std::env::var_os("PATH") {
            if let Some(dir) = std::env::split_paths(&path).find(|d| has_tools(d)) {
                return Ok(dir);
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                has_tools(&bin).then_some((version, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
            anyhow!(
                "no PostgreSQL binaries found (initdb and pg_ctl, on PATH or under \
                 /usr/lib/postgresql/*/bin): install PostgreSQL 14 or newer, or set \
                 ZUMODRA_DATABASE_URL to use an existing server"
            )
        })
    }

    /// Start (or join) the cluster under `data_dir/postgres`.
    pub fn start(data_dir: &Path, opts: &ClusterOptions) -> anyhow::Result<Self> {
        let bin = Self::find_bin_dir()?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let root = data_dir
            .canonicalize()
            .with_context(|| format!("reading the data directory {}", data_dir.display()))?
            .join("postgres");
        let pgdata = root.join("data");
        let socket_dir = root.join("run");
        // A Unix socket path is at most 107 bytes.
        if socket_dir.join(".s.PGSQL.5432.lock").as_os_str().len() > 100 {
            bail!(
                "the data directory path {} is too long for PostgreSQL's Unix socket; choose a shorter ZUMODRA_DATA_DIR",
                data_dir.display()
            );
        }
        if socket_dir
            .to_string_lossy()
            .contains(['\'', '"', ' ', '\\'])
        {
            bail!(
                "the data directory path {} must not contain quotes, spaces or backslashes",
                data_dir.display()
            );
        }
        std::fs::create_dir_all(&socket_dir)?;
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(unprivileged_user()?)
        } else {
            None
        };
        if let Some((uid, gid)) = run_as {
            chown_recursive(&root, uid, gid)?;
        }
        let mut cluster = Self {
            bin,
            pgdata,
            socket_dir,
            run_as,
            started_here: false,
            stopped: false,
        };

        if !cluster.pgdata.join("PG_VERSION").is_file() {
            let mut initdb = cluster.command("initdb");
            initdb.arg("-D").arg(&cluster.pgdata).args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]);
            if opts.ephemeral {
                initdb.arg("--no-sync");
            }
            cluster.run(initdb, "initdb")?;
        }
        if !cluster.is_running() {
            let mut server_opts = format!(
                "-c listen_addresses='' -k {} -p {PORT} -c unix_socket_permissions=0700",
                cluster.socket_dir.display()
            );
            if opts.ephemeral {
                server_opts
                    .push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
            }
            for (name, value) in &opts.settings {
                let safe = |s: &str| {
                    s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.".contains(&b))
                };
                if !safe(name) || !safe(value) {
                    bail!("bad cluster setting {name}={value}");
                }
                server_opts.push_str(&format!(" -c {name}={value}"));
            }
            let mut start = cluster.command("pg_ctl");
            start
                .arg("start")
                .arg("-D")
                .arg(&cluster.pgdata)
                .args(["-w", "-t", "120", "-o", &server_opts, "-l"])
                .arg(root.join("server.log"));
            match cluster.run(start, "pg_ctl start") {
                Ok(()) => cluster.started_here = true,
                // Another process may have started it at the same moment.
                Err(e) if cluster.is_running() => {
                    tracing::debug!("joined a cluster started meanwhile: {e}")
                }
                Err(e) => {
                    let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
                    let tail: Vec<&str> = log.lines().rev().take(5).collect();
                    return Err(e.context(format!(
                        "PostgreSQL did not start; the end of its log:\n{}",
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    )));
                }
            }
        }
        Ok(cluster)
    }

    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(parent) = self.pgdata.parent() {
            cmd.current_dir(parent);
        }
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn run(&self, mut cmd: Command, what: &str) -> anyhow::Result<()> {
        let out = cmd.output().with_context(|| format!("running {what}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(anyhow!(
                "{what} failed: {}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ))
        }
    }

    /// `true` while a postmaster serves this data directory.
    pub fn is_running(&self) -> bool {
        let mut status = self.command("pg_ctl");
        status.arg("status").arg("-D").arg(&self.pgdata);
        status.output().map(|o| o.status.success()).unwrap_or(false)
    }

    /// `true` when this process started the cluster (and so stops it).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// How to connect as the cluster's superuser to `dbname`.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(PORT)
            .user(SUPERUSER)
            .dbname(dbname)
            .application_name("zumodra");
        config
    }

    /// Make sure the application database exists and return how to reach it.
    pub async fn database(&self) -> anyhow::Result<tokio_postgres::Config> {
        let (client, connection) = self
            .config("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .context("connecting to the embedded PostgreSQL")?;
        let driver = tokio::spawn(connection);
        let exists = client
            .query_opt("select 1 from pg_database where datname = $1", &[&DATABASE])
            .await?
            .is_some();
        if !exists {
            if let Err(e) = client
                .batch_execute(&format!("create database {DATABASE}"))
                .await
            {
                // Created by a concurrent process?
                if e.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) {
                    return Err(e.into());
                }
            }
        }
        drop(client);
        let _ = driver.await;
        Ok(self.config(DATABASE))
    }

    /// Stop the cluster if this process started it. Called on shutdown and on drop.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if !self.started_here || self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let mut stop = self.command("pg_ctl");
        stop.arg("stop")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-t", "60"]);
        self.run(stop, "pg_ctl stop")
    }

    /// Stop the cluster now, whoever started it (fault drills and tests).
    pub fn stop_forced(&mut self) -> anyhow::Result<()> {
        self.started_here = true;
        self.stopped = false;
        self.stop()
    }

    /// Start it again after [`EmbeddedPostgres::stop_forced`] (fault drills and tests).
    pub fn restart(data_dir: &Path, opts: &ClusterOptions) -> anyhow::Result<Self> {
        Self::start(data_dir, opts)
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!("stopping the embedded PostgreSQL: {e:#}");
        }
    }
}

/// The uid and gid of the `postgres` system user.
fn unprivileged_user() -> anyhow::Result<(u32, u32)> {
    let name = std::ffi::CString::new("postgres")?;
    // SAFETY: getpwnam returns a pointer into static storage or null; we copy the two
    // integers out at once and keep no reference.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!(
            "PostgreSQL refuses to run as root and there is no 'postgres' system user to run \
             the embedded cluster as: create one (useradd --system postgres), run zumodra as \
             an unprivileged user, or set ZUMODRA_DATABASE_URL"
        );
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok((uid, gid))
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("giving {} to the postgres user", path.display()))?;
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path)? {
            chown_recursive(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
