//! What the soak counts and finds, shared by every client behind one mutex (each update
//! is a few map increments; the lock is never held across an await).

use std::collections::BTreeMap;

use serde::Serialize;

/// Keep at most this many examples of each kind of finding (all are counted).
pub const SAMPLES: usize = 200;

/// A leak, a wrong answer or an unexpected status, with the request that showed it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What kind of check failed (`foreign_marker`, `probe_answer`, `foreign_id`, …).
    pub kind: String,
    /// The operation or probe that made the request.
    pub label: String,
    pub method: String,
    pub host: String,
    pub path: String,
    pub status: u16,
    pub detail: String,
    /// Part of the answer around the problem.
    pub excerpt: String,
}

/// A 5xx answer, with its request id and the server's log lines for it.
#[derive(Debug, Clone, Serialize)]
pub struct ServerError {
    pub label: String,
    pub method: String,
    pub host: String,
    pub path: String,
    pub status: u16,
    pub request_id: String,
    /// Seconds since the load started.
    pub at_s: f64,
    pub body: String,
    pub log: Vec<String>,
}

/// The counters of one soak.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub ops: BTreeMap<&'static str, u64>,
    pub probes: BTreeMap<&'static str, u64>,
    pub leaks: u64,
    pub leak_samples: Vec<Finding>,
    pub wrong_answers: u64,
    pub wrong_answer_samples: Vec<Finding>,
    /// `"<op> <status>"` → count: a workload request that got another status than the
    /// one the operation should get (not an isolation finding, but a sign the workload
    /// is not doing what it says).
    pub unexpected: BTreeMap<String, u64>,
    pub unexpected_samples: Vec<Finding>,
    pub server_errors: Vec<ServerError>,
    pub transport_errors: u64,
    pub transport_samples: Vec<String>,
    pub logins: u64,
    pub login_seconds: f64,
    pub ws_connections: u64,
    pub ws_events: u64,
    pub ws_events_own_marker: u64,
    pub exports_done: u64,
    pub export_downloads: u64,
    pub export_bytes_scanned: u64,
}

impl Stats {
    pub fn leak(&mut self, finding: Finding) {
        eprintln!(
            "[soak] LEAK {} {}: {} {} (Host {}) → {}: {} | {}",
            finding.kind,
            finding.label,
            finding.method,
            finding.path,
            finding.host,
            finding.status,
            finding.detail,
            finding.excerpt
        );
        self.leaks += 1;
        if self.leak_samples.len() < SAMPLES {
            self.leak_samples.push(finding);
        }
    }

    pub fn wrong(&mut self, finding: Finding) {
        eprintln!(
            "[soak] WRONG ANSWER {}: {} {} (Host {}) → {}: {}",
            finding.label,
            finding.method,
            finding.path,
            finding.host,
            finding.status,
            finding.detail
        );
        self.wrong_answers += 1;
        if self.wrong_answer_samples.len() < SAMPLES {
            self.wrong_answer_samples.push(finding);
        }
    }

    pub fn unexpected(&mut self, finding: Finding) {
        *self
            .unexpected
            .entry(format!("{} {}", finding.label, finding.status))
            .or_default() += 1;
        if self.unexpected_samples.len() < 20 {
            self.unexpected_samples.push(finding);
        }
    }
}
