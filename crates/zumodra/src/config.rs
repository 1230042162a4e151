//! Configuration: defaults, then a TOML file (`--config FILE` or `ZUMODRA_CONFIG`, else
//! `./zumodra.toml` when present), then `ZUMODRA_*` environment variables. A bad value
//! stops start-up with a message naming the setting.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

/// Every setting, with its default.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ZUMODRA_DATABASE_URL`: the owner login. None → the embedded cluster.
    pub database_url: Option<String>,
    /// `ZUMODRA_BASE_DOMAIN`: the platform host; tenants are `<slug>.<base_domain>`.
    pub base_domain: String,
    /// `ZUMODRA_DATA_DIR`: where the embedded cluster lives.
    pub data_dir: PathBuf,
    /// `ZUMODRA_BIND`: the HTTP listen address.
    pub bind: SocketAddr,
    /// `ZUMODRA_POOL_SIZE`: runtime (request) connections.
    pub pool_size: usize,
    /// `ZUMODRA_ADMIN_POOL_SIZE`: owner connections (provisioning, lifecycle).
    pub admin_pool_size: usize,
    /// `ZUMODRA_POOL_TIMEOUT_MS`: the longest wait for a pooled connection.
    pub pool_timeout: Duration,
    /// `ZUMODRA_POOL_MAX_AGE_SECS` (default 1800, 0 = no limit): a pooled connection is
    /// closed and replaced once this old (each one between 80 % and 100 % of it), so
    /// PostgreSQL backends do not keep the catalog caches of every tenant they served.
    pub pool_max_age: Option<Duration>,
    /// `ZUMODRA_POOL_MAX_USES` (default 100000, 0 = no limit): … or once handed out this
    /// many times (one transaction each).
    pub pool_max_uses: Option<u64>,
    /// `ZUMODRA_REQUEST_TIMEOUT_MS`.
    pub request_timeout: Duration,
    /// `ZUMODRA_BODY_LIMIT_BYTES` (default 1 MiB).
    pub body_limit_bytes: usize,
    /// `ZUMODRA_SESSION_TTL_SECS` (default 12 h).
    pub session_ttl: Duration,
    /// `ZUMODRA_PLATFORM_ALLOWLIST`: CIDRs allowed on platform endpoints.
    pub platform_allowlist: Vec<Cidr>,
    /// `ZUMODRA_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-Host`/`-For` we believe.
    pub trusted_proxies: Vec<Cidr>,
    /// `ZUMODRA_LOG_FORMAT`: `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// `ZUMODRA_REDIS_URL`: the tenant cache in Redis (`redis://host:port/db`), shared by
    /// every server instance. None → the in-process cache.
    pub redis_url: Option<String>,
    /// `ZUMODRA_DELETION_GRACE_SECS` (default 7 days): how long a tenant deleted through
    /// the platform API stays restorable (`resume`) before it is dropped.
    pub deletion_grace: Duration,
    /// `ZUMODRA_SMTP_URL`: where notification e-mails go (`smtp://host:port`,
    /// `smtps://user:pass@host:465`, `smtp://host:587?tls=required`). None → they stay
    /// in the outbox.
    pub smtp_url: Option<String>,
    /// `ZUMODRA_MAIL_FROM` (default `Zumodra <no-reply@localhost>`): the sender.
    pub mail_from: String,
    /// `ZUMODRA_WARM_POOL_SIZE` (default 4, 0 disables): tenant schemas kept built ahead
    /// of demand, so creating a tenant is a rename (docs/operations.md, "The warm pool").
    pub warm_pool_size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// An IPv4 or IPv6 network, `addr/len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, len) = match text.trim().split_once('/') {
            Some((a, l)) => (a.parse::<IpAddr>().ok()?, l.parse::<u8>().ok()?),
            None => {
                let a = text.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (len <= max).then_some(Self { addr, len })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.len)
                };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.len)
                };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: None,
            base_domain: "localhost".into(),
            data_dir: PathBuf::from(".zumodra"),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            pool_size: 16,
            admin_pool_size: 4,
            pool_timeout: Duration::from_secs(5),
            pool_max_age: zumodra_tenancy::Recycling::default().max_age,
            pool_max_uses: zumodra_tenancy::Recycling::default().max_uses,
            request_timeout: Duration::from_secs(30),
            body_limit_bytes: 1024 * 1024,
            session_ttl: Duration::from_secs(12 * 3600),
            platform_allowlist: vec![
                Cidr {
                    addr: IpAddr::from([127, 0, 0, 0]),
                    len: 8,
                },
                Cidr {
                    addr: IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
                    len: 128,
                },
            ],
            trusted_proxies: Vec::new(),
            log_format: LogFormat::Json,
            redis_url: None,
            deletion_grace: Duration::from_secs(7 * 24 * 3600),
            smtp_url: None,
            mail_from: "Zumodra <no-reply@localhost>".into(),
            warm_pool_size: 4,
        }
    }
}

/// The settings keys, as written in the file; the environment variable is
/// `ZUMODRA_<KEY IN UPPER CASE>`.
const KEYS: &[&str] = &[
    "database_url",
    "base_domain",
    "data_dir",
    "bind",
    "pool_size",
    "admin_pool_size",
    "pool_timeout_ms",
    "pool_max_age_secs",
    "pool_max_uses",
    "request_timeout_ms",
    "body_limit_bytes",
    "session_ttl_secs",
    "platform_allowlist",
    "trusted_proxies",
    "log_format",
    "redis_url",
    "deletion_grace_secs",
    "smtp_url",
    "mail_from",
    "warm_pool_size",
];

impl Settings {
    /// Load from the file (if any) and the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Load from the file (if any) and the given environment (for tests).
    pub fn load_from(file: Option<&Path>, env: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("ZUMODRA_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("zumodra.toml")).filter(|p| p.is_file()));
        let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();
        if let Some(path) = &file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the configuration file {}", path.display()))?;
            let table: toml::Table = text.parse().with_context(|| {
                format!(
                    "the configuration file {} is not valid TOML",
                    path.display()
                )
            })?;
            for (key, value) in table {
                if !KEYS.contains(&key.as_str()) {
                    bail!("unknown setting '{key}' in {}", path.display());
                }
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                values.insert(
                    key.clone(),
                    (format!("'{key}' in {}", path.display()), text),
                );
            }
        }
        for key in KEYS {
            let var = format!("ZUMODRA_{}", key.to_uppercase());
            if let Some(v) = env.get(&var) {
                values.insert((*key).to_owned(), (var, v.clone()));
            }
        }

        let mut s = Settings::default();
        for (key, (origin, raw)) in &values {
            let bad =
                |expected: &str| anyhow!("invalid setting {origin}={raw:?}: expected {expected}");
            match key.as_str() {
                // An empty URL leaves the setting unset (embedded PostgreSQL, no Redis, no SMTP).
                "database_url" | "redis_url" | "smtp_url" if raw.is_empty() => {}
                "database_url" => {
                    raw.parse::<tokio_postgres_config::Config>().map_err(|e| {
                        anyhow!("invalid setting {origin}: not a PostgreSQL URL ({e})")
                    })?;
                    s.database_url = Some(raw.clone());
                }
                "redis_url" => {
                    if !(raw.starts_with("redis://") || raw.starts_with("rediss://")) {
                        return Err(bad("a URL such as redis://127.0.0.1:6379"));
                    }
                    s.redis_url = Some(raw.clone());
                }
                "smtp_url" => {
                    crate::mailer::check_smtp_url(raw).map_err(|e| {
                        anyhow!("invalid setting {origin}: expected a URL such as smtp://127.0.0.1:2525 or smtps://user:pass@host:465 ({e})")
                    })?;
                    s.smtp_url = Some(raw.clone());
                }
                "mail_from" => {
                    crate::mailer::check_mail_from(raw).map_err(|e| {
                        anyhow!("invalid setting {origin}: expected an address such as Zumodra <no-reply@example.com> ({e})")
                    })?;
                    s.mail_from = raw.clone();
                }
                "base_domain" => {
                    s.base_domain = zumodra_tenancy::catalog::normalize_domain(raw)
                        .ok_or_else(|| bad("a host name such as localhost or example.com"))?
                }
                "data_dir" => {
                    if raw.is_empty() {
                        return Err(bad("a directory path"));
                    }
                    s.data_dir = PathBuf::from(raw)
                }
                "bind" => {
                    s.bind = raw
                        .parse()
                        .map_err(|_| bad("an address such as 127.0.0.1:8080"))?
                }
                "pool_size" => {
                    s.pool_size =
                        positive(raw).ok_or_else(|| bad("a whole number from 1 to 1000"))?
                }
                "admin_pool_size" => {
                    s.admin_pool_size =
                        positive(raw).ok_or_else(|| bad("a whole number from 1 to 1000"))?
                }
                "pool_timeout_ms" => {
                    s.pool_timeout = Duration::from_millis(
                        positive(raw).ok_or_else(|| bad("milliseconds, from 1"))? as u64,
                    )
                }
                "pool_max_age_secs" => {
                    let secs = raw
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| *n == 0 || *n >= 10)
                        .ok_or_else(|| bad("seconds, at least 10, or 0 for no limit"))?;
                    s.pool_max_age = (secs > 0).then(|| Duration::from_secs(secs))
                }
                "pool_max_uses" => {
                    let uses = raw
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .ok_or_else(|| bad("a whole number, or 0 for no limit"))?;
                    s.pool_max_uses = (uses > 0).then_some(uses)
                }
                "request_timeout_ms" => {
                    s.request_timeout = Duration::from_millis(
                        positive(raw).ok_or_else(|| bad("milliseconds, from 1"))? as u64,
                    )
                }
                "body_limit_bytes" => {
                    s.body_limit_bytes = raw
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1024)
                        .ok_or_else(|| bad("a number of bytes, at least 1024"))?
                }
                "session_ttl_secs" => {
                    s.session_ttl = Duration::from_secs(
                        raw.parse::<u64>()
                            .ok()
                            .filter(|n| *n >= 60)
                            .ok_or_else(|| bad("seconds, at least 60"))?,
                    )
                }
                "deletion_grace_secs" => {
                    s.deletion_grace = Duration::from_secs(
                        raw.parse::<u64>()
                            .ok()
                            .filter(|n| *n <= 366 * 24 * 3600)
                            .ok_or_else(|| bad("seconds, from 0 to a year"))?,
                    )
                }
                "warm_pool_size" => {
                    s.warm_pool_size = raw
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n <= 1000)
                        .ok_or_else(|| bad("a whole number from 0 to 1000"))?
                }
                "platform_allowlist" => {
                    s.platform_allowlist = cidrs(raw).ok_or_else(|| bad("comma-separated CIDRs"))?
                }
                "trusted_proxies" => {
                    s.trusted_proxies = cidrs(raw).ok_or_else(|| bad("comma-separated CIDRs"))?
                }
                "log_format" => {
                    s.log_format = match raw.as_str() {
                        "json" => LogFormat::Json,
                        "pretty" => LogFormat::Pretty,
                        _ => return Err(bad("json or pretty")),
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }
}

// The tokio-postgres config type, named apart so the parser above reads clearly.
mod tokio_postgres_config {
    pub use zumodra_tenancy::tokio_postgres::Config;
}

fn positive(raw: &str) -> Option<usize> {
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
}

fn cidrs(raw: &str) -> Option<Vec<Cidr>> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Cidr::parse)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_file_or_env() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.base_domain, "localhost");
        assert!(s.database_url.is_none());
        assert_eq!(s.body_limit_bytes, 1024 * 1024);
    }

    #[test]
    fn environment_overrides_and_bad_values_name_the_setting() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("ZUMODRA_POOL_SIZE", "7"),
                ("ZUMODRA_BASE_DOMAIN", "Example.COM"),
            ]),
        )
        .unwrap();
        assert_eq!(s.pool_size, 7);
        assert_eq!(s.base_domain, "example.com");
        let s = Settings::load_from(None, &env(&[("ZUMODRA_WARM_POOL_SIZE", "0")])).unwrap();
        assert_eq!(s.warm_pool_size, 0);
        let err = Settings::load_from(None, &env(&[("ZUMODRA_WARM_POOL_SIZE", "-1")])).unwrap_err();
        assert!(err.to_string().contains("ZUMODRA_WARM_POOL_SIZE"), "{err}");
        assert_eq!(s.pool_max_age, Some(Duration::from_secs(1800)));
        assert_eq!(s.pool_max_uses, Some(100_000));
        let s = Settings::load_from(
            None,
            &env(&[
                ("ZUMODRA_POOL_MAX_AGE_SECS", "0"),
                ("ZUMODRA_POOL_MAX_USES", "500"),
            ]),
        )
        .unwrap();
        assert_eq!(s.pool_max_age, None);
        assert_eq!(s.pool_max_uses, Some(500));
        let err =
            Settings::load_from(None, &env(&[("ZUMODRA_POOL_MAX_AGE_SECS", "5")])).unwrap_err();
        assert!(
            err.to_string().contains("ZUMODRA_POOL_MAX_AGE_SECS"),
            "{err}"
        );
        let err = Settings::load_from(None, &env(&[("ZUMODRA_POOL_SIZE", "many")])).unwrap_err();
        assert!(err.to_string().contains("ZUMODRA_POOL_SIZE"), "{err}");
        let err = Settings::load_from(None, &env(&[("ZUMODRA_BIND", "nowhere")])).unwrap_err();
        assert!(err.to_string().contains("ZUMODRA_BIND"), "{err}");
        let err = Settings::load_from(
            None,
            &env(&[("ZUMODRA_DATABASE_URL", "postgres://a@b:notaport/c")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("ZUMODRA_DATABASE_URL"), "{err}");
    }

    #[test]
    fn mail_settings() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert!(s.smtp_url.is_none());
        assert_eq!(s.mail_from, "Zumodra <no-reply@localhost>");
        let s = Settings::load_from(
            None,
            &env(&[
                ("ZUMODRA_SMTP_URL", "smtps://user:pass@mail.example.com:465"),
                ("ZUMODRA_MAIL_FROM", "Acme <hr@example.com>"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.smtp_url.as_deref(),
            Some("smtps://user:pass@mail.example.com:465")
        );
        let err = Settings::load_from(None, &env(&[("ZUMODRA_SMTP_URL", "http://x")])).unwrap_err();
        assert!(err.to_string().contains("ZUMODRA_SMTP_URL"), "{err}");
        let err = Settings::load_from(None, &env(&[("ZUMODRA_MAIL_FROM", "nobody")])).unwrap_err();
        assert!(err.to_string().contains("ZUMODRA_MAIL_FROM"), "{err}");
    }

    #[test]
    fn file_values_and_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("zumodra-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("z.toml");
        std::fs::write(
            &path,
            "pool_size = 3\nplatform_allowlist = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&path), &env(&[])).unwrap();
        assert_eq!(s.pool_size, 3);
        assert!(s.platform_allowlist[0].contains("10.1.2.3".parse().unwrap()));
        std::fs::write(&path, "pool_sise = 3\n").unwrap();
        let err = Settings::load_from(Some(&path), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("pool_sise"), "{err}");
        std::fs::write(&path, "pool_size = 0\n").unwrap();
        let err = Settings::load_from(Some(&path), &env(&[])).unwrap_err();
        assert!(err.to_string().contains("'pool_size'"), "{err}");
    }

    #[test]
    fn cidr_matching() {
        let net = Cidr::parse("127.0.0.0/8").unwrap();
        assert!(net.contains("127.1.2.3".parse().unwrap()));
        assert!(net.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!net.contains("10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(Cidr::parse("1.2.3.4/33").is_none());
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
    }
}
