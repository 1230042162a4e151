//! A Prometheus histogram on atomics: fixed bucket bounds, lock-free `observe`.

use std::fmt::Write;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A histogram's bucket bounds, in seconds, ascending.
pub trait Buckets {
    const BOUNDS: &'static [f64];
}

/// Request latencies: 1 ms to 10 s.
#[derive(Debug)]
pub struct HttpBuckets;

impl Buckets for HttpBuckets {
    const BOUNDS: &'static [f64] = HTTP_BUCKETS;
}

/// The tenant switch: 50 µs to 100 ms.
#[derive(Debug)]
pub struct SwitchBuckets;

impl Buckets for SwitchBuckets {
    const BOUNDS: &'static [f64] = SWITCH_BUCKETS;
}

/// Bounds (seconds) for request latencies: 1 ms to 10 s.
pub const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bounds (seconds) for the tenant switch (the engine's one-round-trip transaction
/// prologue that takes the tenant's role and schema): 50 µs to 100 ms.
pub const SWITCH_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
];

/// A histogram of durations in seconds, with the bounds of `B`.
#[derive(Debug)]
pub struct Histogram<B: Buckets = HttpBuckets> {
    bounds: &'static [f64],
    // Non-cumulative counts, one per bound, plus the +Inf bucket.
    counts: Vec<AtomicU64>,
    // The sum in nanoseconds, so it stays an atomic integer.
    sum_nanos: AtomicU64,
    buckets: PhantomData<B>,
}

impl<B: Buckets> Default for Histogram<B> {
    fn default() -> Self {
        Self {
            bounds: B::BOUNDS,
            counts: (0..=B::BOUNDS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            buckets: PhantomData,
        }
    }
}

impl<B: Buckets> Histogram<B> {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Append the `_bucket`, `_sum` and `_count` lines with their `# HELP`/`# TYPE`.
    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        struct Two;
        impl Buckets for Two {
            const BOUNDS: &'static [f64] = &[0.001, 0.01];
        }
        let h = Histogram::<Two>::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_secs(1));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "X.");
        assert!(out.contains("# TYPE x_seconds histogram"));
        assert!(out.contains("x_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{le=\"0.01\"} 3\n"));
        assert!(out.contains("x_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(out.contains("x_seconds_count 4\n"));
        assert!(out.contains("x_seconds_sum 1.0105\n"), "{out}");
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn every_spec_metric_is_rendered() {
        let m = crate::metrics::Metrics::default();
        m.observe_response(200, Duration::from_millis(3));
        m.tenant_switch.observe(Duration::from_micros(120));
        let text = m.render((3, 1, 16), 2);
        for name in [
            "zumodra_http_requests_total{status=\"2xx\"} 1",
            "zumodra_http_request_duration_seconds_bucket{le=\"0.005\"} 1",
            "zumodra_http_request_duration_seconds_count 1",
            "zumodra_tenant_resolution_total{result=",
            "zumodra_tenant_switch_seconds_bucket{le=\"0.00025\"} 1",
            "zumodra_cross_tenant_attempts_total 0",
            "zumodra_cache_requests_total{result=\"error\"} 0",
            "zumodra_db_pool_connections{state=\"open\"} 3",
            "zumodra_db_pool_retired_total 2",
            "zumodra_jobs_total{result=\"dead\"} 0",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
