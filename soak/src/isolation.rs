//! `zumodra-soak isolation`: create the database, seed, start the server, run the load,
//! report, and always clean up (database, roles, server, work directory), also after an
//! error or Ctrl-C.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

use crate::install::{Installation, Shape};
use crate::server::{Server, ServerConfig, ServerSpec};
use crate::stats::{Finding, ServerError};
use crate::workload::{self, Plan};

/// The command's options.
#[derive(Debug, Clone)]
pub struct Options {
    pub tenants: usize,
    pub clients: usize,
    pub duration: Duration,
    pub url: String,
    pub out: Option<PathBuf>,
    pub server: Option<ServerSpec>,
    pub max_requests: u64,
    pub probe_percent: u32,
    pub ws_subscribers: usize,
    pub exporters: usize,
    pub hot_tenants: usize,
    pub shape: Shape,
    pub base_domain: String,
    pub seed_concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tenants: 1000,
            clients: 64,
            duration: Duration::from_secs(600),
            url: "postgres://postgres@127.0.0.1:5432".into(),
            out: Some(PathBuf::from("soak-result.json")),
            server: None,
            max_requests: 10_000_000,
            probe_percent: 25,
            ws_subscribers: 32,
            exporters: 4,
            hot_tenants: 8,
            shape: Shape {
                jobs: 5,
                candidates: 20,
                applications: 5,
            },
            base_domain: "soak.localhost".into(),
            seed_concurrency: 4,
        }
    }
}

/// `10m`, `15s`, `1h`, `500ms` or plain seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .with_context(|| format!("bad duration {text:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => bail!("bad duration {text:?}: use 500ms, 15s, 10m or 1h"),
    })
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut o = Self::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            let number = |what: &str| -> anyhow::Result<u64> {
                value
                    .parse::<u64>()
                    .with_context(|| format!("{what}: expected a number, got {value:?}"))
            };
            match flag.as_str() {
                "--tenants" => o.tenants = number("--tenants")? as usize,
                "--clients" => o.clients = number("--clients")? as usize,
                "--duration" => o.duration = parse_duration(value)?,
                "--url" => o.url = value.clone(),
                "--out" => o.out = (value != "-").then(|| PathBuf::from(value)),
                "--server" => {
                    o.server = Some(if value == "in-process" {
                        ServerSpec::InProcess
                    } else {
                        ServerSpec::Binary(PathBuf::from(value))
                    })
                }
                "--max-requests" => o.max_requests = number("--max-requests")?,
                "--probe-percent" => o.probe_percent = number("--probe-percent")?.min(100) as u32,
                "--ws-subscribers" => o.ws_subscribers = number("--ws-subscribers")? as usize,
                "--exporters" => o.exporters = number("--exporters")? as usize,
                "--hot-tenants" => o.hot_tenants = number("--hot-tenants")? as usize,
                "--jobs" => o.shape.jobs = number("--jobs")? as i64,
                "--candidates" => o.shape.candidates = number("--candidates")? as i64,
                "--applications" => o.shape.applications = number("--applications")? as i64,
                "--seed-concurrency" => o.seed_concurrency = number("--seed-concurrency")? as usize,
                other => bail!("unknown flag {other}"),
            }
        }
        if !(2..=99_999).contains(&o.tenants) {
            bail!("--tenants: from 2 to 99999");
        }
        if o.clients == 0 {
            bail!("--clients: at least 1");
        }
        Ok(o)
    }
}

/// What a soak found; written as JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub tenants: usize,
    pub clients: usize,
    pub duration_s: f64,
    pub seed_s: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    pub probes: u64,
    pub probes_by_kind: BTreeMap<String, u64>,
    pub leaks: u64,
    pub leak_samples: Vec<Finding>,
    pub wrong_answers: u64,
    pub wrong_answer_samples: Vec<Finding>,
    pub status_histogram: BTreeMap<String, u64>,
    pub server_errors: Vec<ServerError>,
    pub transport_errors: u64,
    pub transport_samples: Vec<String>,
    pub workload_ops: BTreeMap<String, u64>,
    pub unexpected_statuses: BTreeMap<String, u64>,
    pub unexpected_samples: Vec<Finding>,
    pub logins: u64,
    pub ws_connections: u64,
    pub ws_events: u64,
    pub ws_events_own_marker: u64,
    pub export_downloads: u64,
    pub export_bytes_scanned: u64,
    /// 0 leaks, 0 wrong answers, 0 5xx, 0 transport errors.
    pub passed: bool,
}

impl Report {
    fn print(&self) {
        println!(
            "isolation soak: {} tenants, {} clients, {:.0} s (seeding {:.0} s)",
            self.tenants, self.clients, self.duration_s, self.seed_s
        );
        println!(
            "requests: {} ({:.0}/s), logins {}",
            self.requests, self.requests_per_s, self.logins
        );
        println!("probes: {} {:?}", self.probes, self.probes_by_kind);
        println!("leaks: {}", self.leaks);
        for l in &self.leak_samples {
            println!(
                "  LEAK {} {} {} (Host {}) → {}: {} | {}",
                l.label, l.method, l.path, l.host, l.status, l.detail, l.excerpt
            );
        }
        println!("wrong answers: {}", self.wrong_answers);
        for w in &self.wrong_answer_samples {
            println!(
                "  WRONG {} {} {} (Host {}) → {}: {}",
                w.label, w.method, w.path, w.host, w.status, w.detail
            );
        }
        println!("status codes: {:?}", self.status_histogram);
        println!("5xx: {}", self.server_errors.len());
        for e in self.server_errors.iter().take(50) {
            println!(
                "  at {:.0} s: {} {} {} (Host {}) → {} x-request-id {}: {}",
                e.at_s, e.label, e.method, e.path, e.host, e.status, e.request_id, e.body
            );
            for line in &e.log {
                println!("      {line}");
            }
        }
        println!(
            "transport errors: {} {:?}",
            self.transport_errors, self.transport_samples
        );
        println!(
            "unexpected workload statuses: {:?}",
            self.unexpected_statuses
        );
        println!(
            "websocket: {} connections, {} events ({} with the own marker); exports: {} downloads, {} bytes scanned",
            self.ws_connections, self.ws_events, self.ws_events_own_marker, self.export_downloads, self.export_bytes_scanned
        );
        println!("{}", if self.passed { "PASSED" } else { "FAILED" });
    }
}

/// Run the soak; the report says whether it passed. `Err` is a failure to run it.
pub async fn run(options: Options) -> anyhow::Result<Report> {
    let spec = match &options.server {
        Some(spec) => spec.clone(),
        None => ServerSpec::sibling_binary()?,
    };
    eprintln!("[soak] creating a database on {}", options.url);
    let install = Installation::create(&options.url, &options.base_domain).await?;
    let work_dir = std::env::temp_dir().join(&install.name);
    let mut server: Option<Server> = None;
    let result = {
        let body = soak(&options, &spec, &install, &work_dir, &mut server);
        tokio::select! {
            r = body => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    };
    // The figures first: dropping a database waits for a checkpoint, which can take
    // minutes on a busy machine.
    let written = match &result {
        Ok(report) => {
            report.print();
            match &options.out {
                Some(out) => serde_json::to_string_pretty(report)
                    .map_err(anyhow::Error::from)
                    .and_then(|json| {
                        std::fs::write(out, json)
                            .with_context(|| format!("writing {}", out.display()))
                    })
                    .map(|()| eprintln!("[soak] wrote {}", out.display())),
                None => Ok(()),
            }
        }
        Err(_) => Ok(()),
    };
    if let Some(server) = server.take() {
        eprintln!("[soak] stopping the server");
        server.stop().await;
    }
    install.remove().await;
    let _ = std::fs::remove_dir_all(&work_dir);
    written?;
    result
}

async fn soak(
    options: &Options,
    spec: &ServerSpec,
    install: &Installation,
    work_dir: &std::path::Path,
    server: &mut Option<Server>,
) -> anyhow::Result<Report> {
    std::fs::create_dir_all(work_dir)?;
    let started = Instant::now();
    eprintln!(
        "[soak] seeding {} tenants in {}",
        options.tenants, install.name
    );
    let tenants = install
        .seed(options.tenants, options.shape, options.seed_concurrency)
        .await?;
    let seed_s = started.elapsed().as_secs_f64();
    eprintln!("[soak] seeded in {seed_s:.1} s; starting the server ({spec:?})");
    let running = Server::start(
        spec,
        &ServerConfig {
            database_url: &install.url,
            base_domain: &options.base_domain,
            work_dir,
        },
    )
    .await?;
    let port = running.port;
    *server = Some(running);
    eprintln!(
        "[soak] server on 127.0.0.1:{port}; {} clients for {:?}",
        options.clients, options.duration
    );
    let plan = Plan {
        port,
        base_domain: options.base_domain.clone(),
        clients: options.clients,
        duration: options.duration,
        max_requests: options.max_requests,
        probe_percent: options.probe_percent,
        ws_subscribers: options.ws_subscribers,
        exporters: options.exporters,
        hot_tenants: options.hot_tenants,
    };
    let outcome = workload::run(plan, options.shape, tenants).await?;
    eprintln!(
        "[soak] load finished after {:.1} s",
        outcome.elapsed.as_secs_f64()
    );
    let mut stats = outcome.stats;
    if let Some(server) = server.as_ref() {
        for e in stats.server_errors.iter_mut().take(200) {
            e.log = server.log_lines(&e.request_id);
        }
    }
    let elapsed = outcome.elapsed.as_secs_f64();
    let probes = stats.probes.values().sum();
    let passed = stats.leaks == 0
        && stats.wrong_answers == 0
        && stats.server_errors.is_empty()
        && stats.transport_errors == 0;
    Ok(Report {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        tenants: options.tenants,
        clients: options.clients,
        duration_s: elapsed,
        seed_s,
        requests: stats.requests,
        requests_per_s: stats.requests as f64 / elapsed.max(0.001),
        probes,
        probes_by_kind: stats
            .probes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect(),
        leaks: stats.leaks,
        leak_samples: stats.leak_samples,
        wrong_answers: stats.wrong_answers,
        wrong_answer_samples: stats.wrong_answer_samples,
        status_histogram: stats
            .statuses
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        server_errors: stats.server_errors,
        transport_errors: stats.transport_errors,
        transport_samples: stats.transport_samples,
        workload_ops: stats
            .ops
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect(),
        unexpected_statuses: stats.unexpected,
        unexpected_samples: stats.unexpected_samples,
        logins: stats.logins,
        ws_connections: stats.ws_connections,
        ws_events: stats.ws_events,
        ws_events_own_marker: stats.ws_events_own_marker,
        export_downloads: stats.export_downloads,
        export_bytes_scanned: stats.export_bytes_scanned,
        passed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_durations() {
        let args: Vec<String> = [
            "--tenants",
            "10",
            "--duration",
            "15s",
            "--server",
            "in-process",
            "--out",
            "-",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = Options::parse(&args).unwrap();
        assert_eq!(o.tenants, 10);
        assert_eq!(o.duration, Duration::from_secs(15));
        assert!(matches!(o.server, Some(ServerSpec::InProcess)));
        assert!(o.out.is_none());
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("10x").is_err());
        assert!(Options::parse(&["--tenants".into(), "1".into()]).is_err());
        assert!(Options::parse(&["--bogus".into(), "1".into()]).is_err());
        assert_eq!(
            crate::install::with_database("postgres://postgres@127.0.0.1:5432", "zsoak_1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/zsoak_1"
        );
        assert_eq!(
            crate::install::with_database("postgres://u@h/postgres?sslmode=disable", "d").unwrap(),
            "postgres://u@h/d?sslmode=disable"
        );
    }
}
