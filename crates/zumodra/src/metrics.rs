//! The metrics of SPEC §5 in Prometheus text format (`GET /metrics`): atomics and
//! fixed-bucket histograms ([`Histogram`]), no registry crate. The cache and the job
//! workers keep their own counters ([`crate::cache::CacheStats`],
//! `zumodra_tenancy::jobs::JobStats`), shared here through `Arc`s.

mod histogram;

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::http::error::ApiResult;
use crate::platform::AllowListed;
use crate::state::AppState;

pub use histogram::{Buckets, Histogram, HttpBuckets, SwitchBuckets};

/// The process's counters.
#[derive(Default)]
pub struct Metrics {
    pub cross_tenant_attempts: AtomicU64,
    /// Responses by status class: 1xx..5xx at index 1..5.
    pub responses: [AtomicU64; 6],
    pub resolution_tenant: AtomicU64,
    pub resolution_platform: AtomicU64,
    pub resolution_unknown: AtomicU64,
    pub resolution_error: AtomicU64,
    pub cache_hit: AtomicU64,
    pub cache_miss: AtomicU64,
    pub cache_invalidations: AtomicU64,
    /// `zumodra_http_request_duration_seconds`: observe each response's latency.
    pub http_duration: Histogram<HttpBuckets>,
    /// `zumodra_tenant_switch_seconds`: fed by the engine's tenant-switch observer.
    pub tenant_switch: Histogram<SwitchBuckets>,
    /// The tenant cache's counters: build the cache with
    /// `TenantCache::from_settings(..)?.with_stats(metrics.cache.clone())`.
    pub cache: Arc<crate::cache::CacheStats>,
    /// The job workers' counters: `background::spawn(engine, metrics.jobs.clone(), n)`.
    pub jobs: Arc<zumodra_tenancy::jobs::JobStats>,
}

impl Metrics {
    pub fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        self.responses[class].fetch_add(1, Relaxed);
    }

    /// Record one HTTP response: its status class and its latency.
    pub fn observe_response(&self, status: u16, elapsed: std::time::Duration) {
        self.count_response(status);
        self.http_duration.observe(elapsed);
    }

    /// The Prometheus exposition text.
    pub fn render(&self, pool: (usize, usize, usize), retired: u64) -> String {
        let mut out = String::new();
        let cache = self.cache.snapshot();
        let mut counter = |name: &str, help: &str, rows: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        counter(
            "zumodra_cross_tenant_attempts_total",
            "Session tokens presented on another tenant's host.",
            &[("", self.cross_tenant_attempts.load(Relaxed))],
        );
        let classes: Vec<(String, u64)> = (1..=5)
            .map(|c| {
                (
                    format!("{{status=\"{c}xx\"}}"),
                    self.responses[c].load(Relaxed),
                )
            })
            .collect();
        let rows: Vec<(&str, u64)> = classes.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        counter(
            "zumodra_http_requests_total",
            "HTTP responses by status class.",
            &rows,
        );
        counter(
            "zumodra_tenant_resolution_total",
            "Host resolutions by result.",
            &[
                ("{result=\"tenant\"}", self.resolution_tenant.load(Relaxed)),
                (
                    "{result=\"platform\"}",
                    self.resolution_platform.load(Relaxed),
                ),
                (
                    "{result=\"unknown\"}",
                    self.resolution_unknown.load(Relaxed),
                ),
                ("{result=\"error\"}", self.resolution_error.load(Relaxed)),
            ],
        );
        counter(
            "zumodra_cache_requests_total",
            "Tenant cache lookups by result.",
            &[
                (
                    "{result=\"hit\"}",
                    self.cache_hit.load(Relaxed) + cache[0].1,
                ),
                (
                    "{result=\"miss\"}",
                    self.cache_miss.load(Relaxed) + cache[1].1,
                ),
                ("{result=\"error\"}", cache[2].1),
            ],
        );
        let jobs: Vec<(String, u64)> = self
            .jobs
            .snapshot()
            .iter()
            .map(|(result, n)| (format!("{{result=\"{result}\"}}"), *n))
            .collect();
        let rows: Vec<(&str, u64)> = jobs.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        counter(
            "zumodra_jobs_total",
            "Background job attempts by outcome.",
            &rows,
        );
        let (size, idle, max) = pool;
        let _ = writeln!(
            out,
            "# HELP zumodra_db_pool_connections Runtime pool connections by state.\n\
             # TYPE zumodra_db_pool_connections gauge\n\
             zumodra_db_pool_connections{{state=\"open\"}} {size}\n\
             zumodra_db_pool_connections{{state=\"idle\"}} {idle}\n\
             zumodra_db_pool_connections{{state=\"max\"}} {max}\n\
             # HELP zumodra_db_pool_retired_total Pooled connections closed and replaced for their age or use count.\n\
             # TYPE zumodra_db_pool_retired_total counter\n\
             zumodra_db_pool_retired_total {retired}"
        );
        self.http_duration.render(
            &mut out,
            "zumodra_http_request_duration_seconds",
            "HTTP request latency.",
        );
        self.tenant_switch.render(
            &mut out,
            "zumodra_tenant_switch_seconds",
            "Opening a tenant transaction: taking the tenant's role and schema.",
        );
        out
    }
}

/// `GET /metrics` on the platform host, allow-listed addresses only.
pub async fn metrics(
    State(state): State<AppState>,
    _: AllowListed,
) -> ApiResult<impl IntoResponse> {
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(
            state.engine.pool_status(),
            state.engine.connections_retired(),
        ),
    ))
}
