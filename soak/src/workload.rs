//! The load: `clients` concurrent clients, each logged in (through the API) to its own
//! share of the tenants, run a mixed read/write workload and, `probe_percent` of the time,
//! a cross-tenant probe. WebSocket subscribers listen to some tenants' events and a few
//! clients export their tenant to give the others download links to try.
//!
//! Every answer is scanned for tenant markers: a marker of any tenant other than the one
//! the request was for is a leak (for probes that must be refused, any marker at all is).
//! Workload answers about ATS/HR rows must also only carry ids of the asking tenant's id
//! range (applications carry no text, so ids are what would show theirs). Probes must get
//! exactly the refusal the contract gives (SPEC §2, §3); any other answer is a leak too.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::install::{SeededTenant, Shape, ID_STRIDE, PASSWORD, STAGES};
use crate::markers::{excerpt, tenants_in};
use crate::stats::{Finding, ServerError, Stats};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub port: u16,
    pub base_domain: String,
    pub clients: usize,
    pub duration: Duration,
    pub max_requests: u64,
    /// Percent of the client turns that are probes.
    pub probe_percent: u32,
    /// Tenants with a WebSocket subscriber.
    pub ws_subscribers: usize,
    /// Clients that export their first tenant (and refresh the link every 2 minutes).
    pub exporters: usize,
    /// Tenants every client also reads publicly (the cache-warm probe).
    pub hot_tenants: usize,
}

/// A download link of an export, for the others to try.
#[derive(Debug, Clone)]
struct ExportLink {
    tenant: usize,
    id: i64,
    url: String,
}

/// The state every client shares.
pub struct Soak {
    http: reqwest::Client,
    plan: Plan,
    shape: Shape,
    tenants: Vec<SeededTenant>,
    known: HashMap<String, usize>,
    tokens: Vec<OnceLock<String>>,
    exports: Mutex<Vec<ExportLink>>,
    stats: Mutex<Stats>,
    sent: AtomicU64,
    deadline: Instant,
}

/// One answer.
struct Answer {
    label: &'static str,
    method: Method,
    host: String,
    path: String,
    status: u16,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    fn finding(&self, kind: &str, detail: String, excerpt: String) -> Finding {
        Finding {
            kind: kind.into(),
            label: self.label.into(),
            method: self.method.to_string(),
            host: self.host.clone(),
            path: self.path.clone(),
            status: self.status,
            detail,
            excerpt,
        }
    }

    fn head(&self) -> String {
        excerpt(&self.bytes, 0, 300)
    }
}

/// One request.
struct Req<'a> {
    label: &'static str,
    method: Method,
    host: String,
    path: String,
    token: Option<&'a str>,
    body: Option<Value>,
    forwarded_host: Option<String>,
    /// The tenant whose data the answer may carry; `None`: nobody's.
    asked: Option<usize>,
}

impl<'a> Req<'a> {
    fn get(label: &'static str, host: String, path: String, token: Option<&'a str>) -> Self {
        Self {
            label,
            method: Method::GET,
            host,
            path,
            token,
            body: None,
            forwarded_host: None,
            asked: None,
        }
    }

    fn send(
        label: &'static str,
        method: Method,
        host: String,
        path: String,
        token: Option<&'a str>,
        body: Value,
    ) -> Self {
        Self {
            body: Some(body),
            method,
            ..Self::get(label, host, path, token)
        }
    }

    fn asked(mut self, tenant: Option<usize>) -> Self {
        self.asked = tenant;
        self
    }
}

/// A tenant as its client knows it.
struct Own {
    t: usize,
    token: String,
    candidates: Vec<i64>,
    unapplied: Vec<i64>,
    /// (id, index into STAGES).
    applications: Vec<(i64, usize)>,
    jobs_created: u32,
    applies: u32,
    n: u64,
}

/// Result of the whole load.
pub struct Outcome {
    pub stats: Stats,
    pub elapsed: Duration,
}

fn lock(stats: &Mutex<Stats>) -> MutexGuard<'_, Stats> {
    stats.lock().unwrap_or_else(|e| e.into_inner())
}

impl Soak {
    fn host(&self, t: usize) -> String {
        format!("{}.{}", self.tenants[t].slug, self.plan.base_domain)
    }

    fn stopped(&self) -> bool {
        Instant::now() >= self.deadline
            || self.sent.load(Ordering::Relaxed) >= self.plan.max_requests
    }

    fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    fn other(&self, t: usize, rng: &mut StdRng) -> usize {
        let n = self.tenants.len();
        (t + rng.gen_range(1..n)) % n
    }

    /// Send, count, scan for foreign markers; `None` when the request failed in transport.
    async fn call(&self, r: Req<'_>) -> Option<Answer> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let url = format!("http://127.0.0.1:{}{}", self.plan.port, r.path);
        let mut builder = self
            .http
            .request(r.method.clone(), &url)
            .header(reqwest::header::HOST, r.host.as_str());
        if let Some(token) = r.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(forwarded) = &r.forwarded_host {
            builder = builder.header("x-forwarded-host", forwarded.as_str());
        }
        if let Some(body) = &r.body {
            builder = builder.json(body);
        }
        let result = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let request_id = response
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                response
                    .bytes()
                    .await
                    .map(|b| (status, request_id, b.to_vec()))
            }
            Err(e) => Err(e),
        };
        let (status, request_id, bytes) = match result {
            Ok(ok) => ok,
            Err(e) => {
                let mut stats = self.stats();
                stats.transport_errors += 1;
                if stats.transport_samples.len() < 20 {
                    stats.transport_samples.push(format!(
                        "{} {} {} (Host {}): {e}",
                        r.label, r.method, r.path, r.host
                    ));
                }
                return None;
            }
        };
        let answer = Answer {
            label: r.label,
            method: r.method,
            host: r.host,
            path: r.path,
            status,
            bytes,
        };
        let foreign: Vec<(usize, usize)> = tenants_in(&answer.bytes, &self.known)
            .into_iter()
            .filter(|(t, _)| Some(*t) != r.asked)
            .collect();
        let mut stats = self.stats();
        stats.requests += 1;
        *stats.statuses.entry(status).or_default() += 1;
        if status >= 500 {
            stats.server_errors.push(ServerError {
                label: answer.label.into(),
                method: answer.method.to_string(),
                host: answer.host.clone(),
                path: answer.path.clone(),
                status,
                request_id,
                at_s: (self.deadline - self.plan.duration).elapsed().as_secs_f64(),
                body: answer.head(),
                log: Vec::new(),
            });
        }
        for (t, pos) in foreign {
            let asked = r
                .asked
                .map(|a| self.tenants[a].slug.clone())
                .unwrap_or_else(|| "no tenant".into());
            stats.leak(answer.finding(
                "foreign_marker",
                format!("data of {} in an answer for {asked}", self.tenants[t].slug),
                excerpt(&answer.bytes, pos, 200),
            ));
        }
        Some(answer)
    }

    /// A probe's verdict: exactly `status` (and `code`), or it is a leak. 5xx are counted
    /// as server errors, not verdicts.
    fn expect(&self, probe: &'static str, a: &Answer, status: &[u16], code: Option<&str>) {
        let mut stats = self.stats();
        *stats.probes.entry(probe).or_default() += 1;
        if a.status >= 500 {
            return;
        }
        let got_code = a.json()["error"]["code"].as_str().map(str::to_owned);
        let code_ok = code.is_none_or(|c| got_code.as_deref() == Some(c));
        if !status.contains(&a.status) || !code_ok {
            stats.leak(a.finding(
                "probe_answer",
                format!(
                    "{probe}: expected {status:?} {}, got {} {}",
                    code.unwrap_or(""),
                    a.status,
                    got_code.unwrap_or_default()
                ),
                a.head(),
            ));
        }
    }

    /// A workload operation's status check; `false` (and counted) when it is not one
    /// of `status`.
    fn ok(&self, a: &Answer, status: &[u16]) -> bool {
        let mut stats = self.stats();
        *stats.ops.entry(a.label).or_default() += 1;
        if status.contains(&a.status) {
            return true;
        }
        if a.status < 500 {
            stats.unexpected(a.finding(
                "unexpected_status",
                format!("expected {status:?}"),
                a.head(),
            ));
        }
        false
    }

    /// The answer must carry tenant `t`'s marker (its own data is there).
    fn own_data(&self, a: &Answer, t: usize) {
        let marker = self.tenants[t].marker.as_bytes();
        if !a.bytes.windows(marker.len()).any(|w| w == marker) {
            self.stats().wrong(a.finding(
                "own_data_missing",
                format!("no {} in the answer", self.tenants[t].marker),
                a.head(),
            ));
        }
    }

    /// Every row id in the JSON answer must be in tenant `t`'s id range.
    fn own_ids(&self, a: &Answer, t: usize) {
        let low = self.tenants[t].base;
        let mut bad = Vec::new();
        walk_ids(&a.json(), &mut |key, id| {
            if id <= low || id > low + ID_STRIDE {
                bad.push(format!("{key}={id}"));
            }
        });
        if !bad.is_empty() {
            let mut stats = self.stats();
            stats.leak(a.finding(
                "foreign_id",
                format!(
                    "ids outside {}'s range ({}..{}): {}",
                    self.tenants[t].slug,
                    low + 1,
                    low + ID_STRIDE,
                    bad.join(", ")
                ),
                a.head(),
            ));
        }
    }

    async fn login(&self, t: usize) -> Option<String> {
        let req = Req::send(
            "auth.login",
            Method::POST,
            self.host(t),
            "/api/v1/auth/login".into(),
            None,
            json!({"email": self.tenants[t].email, "password": PASSWORD}),
        )
        .asked(Some(t));
        let a = self.call(req).await?;
        if !self.ok(&a, &[200]) {
            return None;
        }
        self.stats().logins += 1;
        a.json()["token"].as_str().map(str::to_owned)
    }

    async fn ws_connect(
        &self,
        host: &str,
        token: Option<&str>,
        query: &str,
    ) -> Result<Socket, String> {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut request = format!("ws://127.0.0.1:{}/api/v1/events{query}", self.plan.port)
            .into_client_request()
            .map_err(|e| e.to_string())?;
        let headers = request.headers_mut();
        headers.insert("host", host.parse().map_err(|_| "bad host".to_owned())?);
        if let Some(t) = token {
            headers.insert(
                "authorization",
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| "bad token".to_owned())?,
            );
        }
        let result = tokio_tungstenite::connect_async(request).await;
        let status = match &result {
            Ok(_) => 101,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                response.status().as_u16()
            }
            Err(_) => 0,
        };
        let mut stats = self.stats();
        if status == 0 {
            stats.transport_errors += 1;
        } else {
            stats.requests += 1;
            *stats.statuses.entry(status).or_default() += 1;
        }
        match result {
            Ok((socket, _)) => Ok(socket),
            Err(e) => Err(format!("{status} {e}")),
        }
    }

    // ---- the workload -------------------------------------------------------------

    async fn work(&self, own: &mut Own, rng: &mut StdRng) {
        const OPS: &[(&str, u32)] = &[
            ("jobs.list", 10),
            ("jobs.get", 8),
            ("candidates.list", 8),
            ("candidates.get", 8),
            ("applications.list", 6),
            ("applications.get", 6),
            ("me", 3),
            ("time_off.list", 3),
            ("employees.get", 2),
            ("public.jobs", 6),
            ("public.job", 4),
            ("careers.page", 2),
            ("candidates.create", 8),
            ("applications.create", 6),
            ("applications.move", 8),
            ("time_off.create", 4),
            ("jobs.create", 2),
            ("public.apply", 2),
        ];
        let total: u32 = OPS.iter().map(|o| o.1).sum();
        let mut pick = rng.gen_range(0..total);
        let mut op = OPS[0].0;
        for (name, weight) in OPS {
            if pick < *weight {
                op = name;
                break;
            }
            pick -= weight;
        }
        let t = own.t;
        let tenant = &self.tenants[t];
        let base = tenant.base;
        let host = self.host(t);
        let token = own.token.clone();
        let token = Some(token.as_str());
        let job = base + rng.gen_range(1..=self.shape.jobs);
        own.n += 1;
        let n = own.n;
        let marker = tenant.marker.clone();
        // (request, own marker expected, ids checked)
        let (req, marker_expected, ids) = match op {
            "jobs.list" => (
                Req::get("jobs.list", host, "/api/v1/jobs?limit=50".into(), token),
                true,
                true,
            ),
            "jobs.get" => (
                Req::get("jobs.get", host, format!("/api/v1/jobs/{job}"), token),
                true,
                true,
            ),
            "candidates.list" => (
                Req::get(
                    "candidates.list",
                    host,
                    "/api/v1/candidates?limit=50".into(),
                    token,
                ),
                true,
                true,
            ),
            "candidates.get" => {
                let id = own.candidates[rng.gen_range(0..own.candidates.len())];
                (
                    Req::get(
                        "candidates.get",
                        host,
                        format!("/api/v1/candidates/{id}"),
                        token,
                    ),
                    true,
                    true,
                )
            }
            "applications.list" => (
                Req::get(
                    "applications.list",
                    host,
                    "/api/v1/applications?limit=50".into(),
                    token,
                ),
                false,
                true,
            ),
            "applications.get" => {
                let id = own.applications[rng.gen_range(0..own.applications.len())].0;
                (
                    Req::get(
                        "applications.get",
                        host,
                        format!("/api/v1/applications/{id}"),
                        token,
                    ),
                    false,
                    true,
                )
            }
            "me" => (
                Req::get("me", host, "/api/v1/me".into(), token),
                true,
                false,
            ),
            "time_off.list" => (
                Req::get("time_off.list", host, "/api/v1/time-off".into(), token),
                false,
                true,
            ),
            "employees.get" => (
                Req::get(
                    "employees.get",
                    host,
                    format!("/api/v1/employees/{}", base + 1),
                    token,
                ),
                true,
                true,
            ),
            "public.jobs" => (
                Req::get("public.jobs", host, "/api/v1/public/jobs".into(), None),
                true,
                true,
            ),
            "public.job" => (
                Req::get(
                    "public.job",
                    host,
                    format!("/api/v1/public/jobs/{job}"),
                    None,
                ),
                true,
                true,
            ),
            "careers.page" => (
                Req::get("careers.page", host, "/careers".into(), None),
                true,
                false,
            ),
            "candidates.create" | "applications.create"
                if own.unapplied.is_empty() || op == "candidates.create" =>
            {
                (
                    Req::send(
                        "candidates.create",
                        Method::POST,
                        host,
                        "/api/v1/candidates".into(),
                        token,
                        json!({
                            "name": format!("Soak candidate {n} {marker}"),
                            "email": format!("k{n}@{}.soak.test", tenant.slug),
                            "resume_text": format!("Created by the soak for {marker}"),
                        }),
                    ),
                    true,
                    true,
                )
            }
            "applications.create" => {
                let candidate = own.unapplied.pop().unwrap_or(base + 1);
                (
                    Req::send(
                        "applications.create",
                        Method::POST,
                        host,
                        "/api/v1/applications".into(),
                        token,
                        json!({"job_id": job, "candidate_id": candidate}),
                    ),
                    false,
                    true,
                )
            }
            "applications.move" => {
                let i = rng.gen_range(0..own.applications.len());
                let (id, stage) = own.applications[i];
                let next = (stage + 1) % STAGES.len();
                own.applications[i].1 = next;
                (
                    Req::send(
                        "applications.move",
                        Method::POST,
                        host,
                        format!("/api/v1/applications/{id}/move"),
                        token,
                        json!({"stage": STAGES[next]}),
                    ),
                    false,
                    true,
                )
            }
            "time_off.create" => {
                // A weekday: 2030-01-07 is a Monday.
                let day = chrono::NaiveDate::from_ymd_opt(2030, 1, 7).unwrap_or_default()
                    + chrono::Duration::days(rng.gen_range(0..500) * 7 + rng.gen_range(0..5));
                (
                    Req::send(
                        "time_off.create",
                        Method::POST,
                        host,
                        "/api/v1/time-off".into(),
                        token,
                        json!({"kind": "unpaid", "start_date": day.to_string(), "end_date": day.to_string(),
                               "reason": format!("Soak leave of {marker}")}),
                    ),
                    false,
                    true,
                )
            }
            "jobs.create" if own.jobs_created < 20 => {
                own.jobs_created += 1;
                (
                    Req::send(
                        "jobs.create",
                        Method::POST,
                        host,
                        "/api/v1/jobs".into(),
                        token,
                        json!({"title": format!("Soak job {n} {marker}"), "status": "open",
                               "description": format!("Posted during the soak by {marker}")}),
                    ),
                    true,
                    true,
                )
            }
            "public.apply" if own.applies < 10 => {
                own.applies += 1;
                (
                    Req::send(
                        "public.apply",
                        Method::POST,
                        host,
                        format!("/api/v1/public/jobs/{job}/apply"),
                        None,
                        json!({"name": format!("Applicant {n} {marker}"),
                               "email": format!("a{n}@{}.soak.test", tenant.slug),
                               "resume_text": format!("Applied through the careers API of {marker}")}),
                    ),
                    false,
                    false,
                )
            }
            // Caps reached: read instead.
            _ => (
                Req::get("jobs.list", host, "/api/v1/jobs?limit=50".into(), token),
                true,
                true,
            ),
        };
        let req = req.asked(Some(t));
        let Some(a) = self.call(req).await else {
            return;
        };
        let expected: &[u16] = match a.label {
            "candidates.create" | "applications.create" | "time_off.create" | "jobs.create" => {
                &[201]
            }
            // The careers form is rate-limited per tenant and address (20 an hour).
            "public.apply" => &[201, 429],
            _ => &[200],
        };
        if !self.ok(&a, expected) {
            return;
        }
        if marker_expected {
            self.own_data(&a, t);
        }
        if ids {
            self.own_ids(&a, t);
        }
        let body = a.json();
        match a.label {
            "candidates.create" => {
                if let Some(id) = body["id"].as_i64() {
                    own.candidates.push(id);
                    own.unapplied.push(id);
                }
            }
            "applications.create" => {
                if let Some(id) = body["id"].as_i64() {
                    own.applications.push((id, 0));
                }
            }
            _ => {}
        }
    }

    // ---- the probes ---------------------------------------------------------------

    async fn probe(&self, own: &Own, rng: &mut StdRng) {
        const KINDS: &[&str] = &[
            "foreign_id",
            "foreign_id_write",
            "foreign_token",
            "foreign_host",
            "foreign_ws",
            "cache_warm",
            "export_link",
        ];
        let kind = KINDS[rng.gen_range(0..KINDS.len())];
        let t = own.t;
        let o = self.other(t, rng);
        let (own_host, other_host) = (self.host(t), self.host(o));
        let token = Some(own.token.as_str());
        let ob = self.tenants[o].base;
        let shape = self.shape;
        let marker = &self.tenants[t].marker;
        match kind {
            "foreign_id" => {
                let path = match rng.gen_range(0..6) {
                    0 => format!("/api/v1/jobs/{}", ob + rng.gen_range(1..=shape.jobs)),
                    1 => format!(
                        "/api/v1/candidates/{}",
                        ob + rng.gen_range(1..=shape.candidates)
                    ),
                    2 => format!(
                        "/api/v1/applications/{}",
                        ob + rng.gen_range(1..=shape.applications)
                    ),
                    3 => format!("/api/v1/employees/{}", ob + 1),
                    4 => format!("/api/v1/time-off/{}", ob + 1),
                    _ => format!("/api/v1/public/jobs/{}", ob + rng.gen_range(1..=shape.jobs)),
                };
                let public = path.starts_with("/api/v1/public");
                let req = Req::get(
                    "probe.foreign_id",
                    own_host,
                    path,
                    if public { None } else { token },
                );
                if let Some(a) = self.call(req).await {
                    self.expect(kind, &a, &[404], Some("not_found"));
                }
            }
            "foreign_id_write" => {
                let app = ob + rng.gen_range(1..=shape.applications);
                let cand = ob + rng.gen_range(1..=shape.candidates);
                let job = ob + rng.gen_range(1..=shape.jobs);
                let (req, status, code) = match rng.gen_range(0..4) {
                    0 => (
                        Req::send(
                            "probe.foreign_move",
                            Method::POST,
                            own_host,
                            format!("/api/v1/applications/{app}/move"),
                            token,
                            json!({"stage": "screening"}),
                        ),
                        404,
                        "not_found",
                    ),
                    1 => (
                        Req::send(
                            "probe.foreign_patch",
                            Method::PATCH,
                            own_host,
                            format!("/api/v1/candidates/{cand}"),
                            token,
                            json!({"name": format!("Renamed by {marker}")}),
                        ),
                        404,
                        "not_found",
                    ),
                    2 => (
                        Req {
                            method: Method::DELETE,
                            ..Req::get(
                                "probe.foreign_delete",
                                own_host,
                                format!("/api/v1/candidates/{cand}"),
                                token,
                            )
                        },
                        404,
                        "not_found",
                    ),
                    _ => (
                        Req::send(
                            "probe.foreign_apply",
                            Method::POST,
                            own_host,
                            "/api/v1/applications".into(),
                            token,
                            json!({"job_id": job, "candidate_id": own.candidates[0]}),
                        ),
                        422,
                        "validation_failed",
                    ),
                };
                if let Some(a) = self.call(req).await {
                    self.expect(kind, &a, &[status], Some(code));
                }
            }
            "foreign_token" => {
                let req = match rng.gen_range(0..4) {
                    0 => Req::get(
                        "probe.foreign_token",
                        other_host,
                        "/api/v1/jobs".into(),
                        token,
                    ),
                    1 => Req::get(
                        "probe.foreign_token",
                        other_host,
                        "/api/v1/me".into(),
                        token,
                    ),
                    2 => Req::get(
                        "probe.foreign_token",
                        other_host,
                        format!("/api/v1/candidates/{}", ob + 1),
                        token,
                    ),
                    _ => Req::send(
                        "probe.foreign_token",
                        Method::POST,
                        other_host,
                        "/api/v1/candidates".into(),
                        token,
                        json!({"name": format!("Planted by {marker}"), "email": format!("planted{}@x.soak.test", own.n)}),
                    ),
                };
                if let Some(a) = self.call(req).await {
                    self.expect(kind, &a, &[401], Some("unauthenticated"));
                }
            }
            "foreign_host" => self.probe_hosts(own, o, rng).await,
            "foreign_ws" => self.probe_ws(own, o, rng).await,
            "cache_warm" => {
                let hot = self.plan.hot_tenants.clamp(1, self.tenants.len());
                let h = rng.gen_range(0..hot);
                let hb = self.tenants[h].base;
                let hh = self.host(h);
                let (path, own_job) = match rng.gen_range(0..4) {
                    0 => ("/api/v1/public/jobs".to_owned(), false),
                    1 => (
                        format!("/api/v1/public/jobs/{}", hb + rng.gen_range(1..=shape.jobs)),
                        false,
                    ),
                    2 => ("/careers".to_owned(), false),
                    // The asking client's job id on the hot host: not there.
                    _ => (
                        format!("/api/v1/public/jobs/{}", self.tenants[t].base + 1),
                        h != t,
                    ),
                };
                let req = Req::get("probe.cache_warm", hh, path, None);
                let req = if own_job { req } else { req.asked(Some(h)) };
                if let Some(a) = self.call(req).await {
                    if own_job {
                        self.expect(kind, &a, &[404], Some("not_found"));
                    } else {
                        self.expect(kind, &a, &[200], None);
                        if a.status == 200 {
                            self.own_data(&a, h);
                        }
                    }
                }
            }
            _ => {
                let link = {
                    let links = self.exports.lock().unwrap_or_else(|e| e.into_inner());
                    let foreign: Vec<&ExportLink> =
                        links.iter().filter(|l| l.tenant != t).collect();
                    (!foreign.is_empty()).then(|| foreign[rng.gen_range(0..foreign.len())].clone())
                };
                let Some(link) = link else {
                    // No export yet: a foreign id instead.
                    let req = Req::get(
                        "probe.foreign_id",
                        own_host,
                        format!("/api/v1/jobs/{}", ob + 1),
                        token,
                    );
                    if let Some(a) = self.call(req).await {
                        self.expect("foreign_id", &a, &[404], Some("not_found"));
                    }
                    return;
                };
                let link_host = self.host(link.tenant);
                let (req, status, code) = match rng.gen_range(0..4) {
                    0 => (
                        Req::get("probe.export_link", own_host, link.url.clone(), None),
                        404,
                        "not_found",
                    ),
                    1 => (
                        Req::get("probe.export_link", own_host, link.url.clone(), token),
                        404,
                        "not_found",
                    ),
                    2 => (
                        Req::get(
                            "probe.export_status",
                            own_host,
                            format!("/api/v1/exports/{}", link.id),
                            token,
                        ),
                        404,
                        "not_found",
                    ),
                    _ => (
                        Req::get(
                            "probe.export_status",
                            link_host,
                            format!("/api/v1/exports/{}", link.id),
                            token,
                        ),
                        401,
                        "unauthenticated",
                    ),
                };
                if let Some(a) = self.call(req).await {
                    self.expect(kind, &a, &[status], Some(code));
                }
            }
        }
    }

    async fn probe_hosts(&self, own: &Own, o: usize, rng: &mut StdRng) {
        let t = own.t;
        let token = Some(own.token.as_str());
        let slug = &self.tenants[t].slug;
        let domain = &self.plan.base_domain;
        let probe = "foreign_host";
        match rng.gen_range(0..7) {
            0 => {
                // An untrusted X-Forwarded-Host is ignored: the answer is the Host's.
                let mut req = Req::get(
                    "probe.forwarded_host",
                    self.host(t),
                    "/api/v1/candidates?limit=5".into(),
                    token,
                )
                .asked(Some(t));
                req.forwarded_host = Some(self.host(o));
                if let Some(a) = self.call(req).await {
                    self.expect(probe, &a, &[200], None);
                    if a.status == 200 {
                        self.own_data(&a, t);
                    }
                }
            }
            1 => {
                let mut req = Req::get(
                    "probe.forwarded_host",
                    self.host(o),
                    "/api/v1/jobs".into(),
                    token,
                );
                req.forwarded_host = Some(self.host(t));
                if let Some(a) = self.call(req).await {
                    self.expect(probe, &a, &[401], Some("unauthenticated"));
                }
            }
            2 => {
                let req = Req::get(
                    "probe.unknown_host",
                    format!("zz{}.{domain}", rng.gen_range(0..1_000_000)),
                    "/api/v1/public/jobs".into(),
                    None,
                );
                if let Some(a) = self.call(req).await {
                    self.expect(probe, &a, &[404], Some("tenant_not_found"));
                }
            }
            3 => {
                let req = Req::get(
                    "probe.deeper_host",
                    format!("x.{slug}.{domain}"),
                    "/api/v1/jobs".into(),
                    token,
                );
                if let Some(a) = self.call(req).await {
                    self.expect(probe, &a, &[404], Some("tenant_not_found"));
                }
            }
            4 => {
                let req = Req::get(
                    "probe.platform_host",
                    domain.clone(),
                    "/api/v1/jobs".into(),
                    token,
                );
                if let Some(a) = self.call(req).await {
                    self.expect(probe, &a, &[404], None);
                }
            }
            5 => {
                // The same tenant spelled differently still answers as itself.
                let host = format!("{}:{}", self.host(t).to_uppercase(), self.plan.port);
                let req = Req::get("probe.host_spelling", host, "/api/v1/me".into(), token)
                    .asked(Some(t));
                if let Some(a) = self.call(req).await {
                    self.expect(probe, &a, &[200], None);
                    if a.status == 200 {
                        self.own_data(&a, t);
                    }
                }
            }
            _ => {
                let req = Req::get(
                    "probe.no_token",
                    self.host(o),
                    "/api/v1/candidates".into(),
                    None,
                );
                if let Some(a) = self.call(req).await {
                    self.expect(probe, &a, &[401], Some("unauthenticated"));
                }
            }
        }
    }

    async fn probe_ws(&self, own: &Own, o: usize, rng: &mut StdRng) {
        let probe = "foreign_ws";
        let other_host = self.host(o);
        let refused = if rng.gen_bool(0.5) {
            self.ws_connect(&other_host, Some(&own.token), "").await
        } else {
            // A ticket of the own tenant used on another's host.
            let req = Req::send(
                "events.ticket",
                Method::POST,
                self.host(own.t),
                "/api/v1/events/ticket".into(),
                Some(&own.token),
                json!({}),
            );
            let Some(a) = self.call(req).await else {
                return;
            };
            if !self.ok(&a, &[201]) {
                return;
            }
            let Some(ticket) = a.json()["ticket"].as_str().map(str::to_owned) else {
                return;
            };
            self.ws_connect(&other_host, None, &format!("?ticket={ticket}"))
                .await
        };
        let mut stats = self.stats();
        *stats.probes.entry(probe).or_default() += 1;
        match refused {
            Err(e) if e.starts_with("401") => {}
            Err(e) if e.starts_with('5') || e.starts_with('0') => {}
            Err(e) => stats.leak(Finding {
                kind: "probe_answer".into(),
                label: "probe.foreign_ws".into(),
                method: "GET".into(),
                host: other_host,
                path: "/api/v1/events".into(),
                status: e
                    .split(' ')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                detail: format!("expected 401, got {e}"),
                excerpt: String::new(),
            }),
            Ok(_) => stats.leak(Finding {
                kind: "probe_answer".into(),
                label: "probe.foreign_ws".into(),
                method: "GET".into(),
                host: other_host,
                path: "/api/v1/events".into(),
                status: 101,
                detail: format!(
                    "a WebSocket of {} opened on another tenant's host",
                    self.tenants[own.t].slug
                ),
                excerpt: String::new(),
            }),
        }
    }

    // ---- exports and WebSocket subscribers ----------------------------------------

    /// Export tenant `own.t`, download it, scan the archive and publish the link.
    async fn export(&self, own: &Own, id: Option<i64>) -> Option<i64> {
        let t = own.t;
        let host = self.host(t);
        let token = Some(own.token.as_str());
        let id = match id {
            Some(id) => id,
            None => {
                let req = Req::send(
                    "exports.create",
                    Method::POST,
                    host.clone(),
                    "/api/v1/exports".into(),
                    token,
                    json!({}),
                )
                .asked(Some(t));
                let a = self.call(req).await?;
                if !self.ok(&a, &[202]) {
                    return None;
                }
                a.json()["id"].as_i64()?
            }
        };
        let started = Instant::now();
        let url = loop {
            let req = Req::get(
                "exports.show",
                host.clone(),
                format!("/api/v1/exports/{id}"),
                token,
            )
            .asked(Some(t));
            let a = self.call(req).await?;
            if !self.ok(&a, &[200]) {
                return None;
            }
            let body = a.json();
            match body["status"].as_str() {
                Some("done") => break body["download_url"].as_str()?.to_owned(),
                Some("failed") => {
                    self.stats().wrong(a.finding(
                        "export_failed",
                        "the export failed".into(),
                        a.head(),
                    ));
                    return None;
                }
                _ => {}
            }
            if started.elapsed() > Duration::from_secs(120) || self.stopped() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let a = self
            .call(Req::get("exports.download", host, url.clone(), None).asked(Some(t)))
            .await?;
        if !self.ok(&a, &[200]) {
            return None;
        }
        let mut tar = Vec::new();
        if let Err(e) = flate2::read::GzDecoder::new(a.bytes.as_slice()).read_to_end(&mut tar) {
            self.stats().wrong(a.finding(
                "export_unreadable",
                format!("not a gzip archive: {e}"),
                String::new(),
            ));
            return None;
        }
        let foreign: Vec<(usize, usize)> = tenants_in(&tar, &self.known)
            .into_iter()
            .filter(|(x, _)| *x != t)
            .collect();
        let own_marker = self.tenants[t].marker.as_bytes();
        let has_own = tar.windows(own_marker.len()).any(|w| w == own_marker);
        {
            let mut stats = self.stats();
            stats.export_downloads += 1;
            stats.export_bytes_scanned += tar.len() as u64;
            for (x, pos) in foreign {
                stats.leak(a.finding(
                    "foreign_marker",
                    format!(
                        "data of {} in the export archive of {}",
                        self.tenants[x].slug, self.tenants[t].slug
                    ),
                    excerpt(&tar, pos, 200),
                ));
            }
            if !has_own {
                stats.wrong(a.finding(
                    "own_data_missing",
                    "the export archive has no own marker".into(),
                    String::new(),
                ));
            }
        }
        let mut links = self.exports.lock().unwrap_or_else(|e| e.into_inner());
        links.retain(|l| l.id != id);
        links.push(ExportLink { tenant: t, id, url });
        Some(id)
    }

    async fn subscribe(&self, t: usize) {
        let token = loop {
            if let Some(token) = self.tokens[t].get() {
                break token.clone();
            }
            if self.stopped() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let host = self.host(t);
        let decoy = &self.tenants[(t + 1) % self.tenants.len()].slug;
        let marker = self.tenants[t].marker.as_bytes().to_vec();
        while !self.stopped() {
            let mut socket = match self.ws_connect(&host, Some(&token), "").await {
                Ok(s) => s,
                Err(e) => {
                    {
                        let mut stats = self.stats();
                        *stats
                            .unexpected
                            .entry(format!("events.subscribe {e}"))
                            .or_default() += 1;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.stats().ws_connections += 1;
            // Whatever a client sends, it stays in its tenant (SPEC §2.9).
            let _ = socket
                .send(Message::Text(
                    format!(r#"{{"subscribe":"{decoy}","tenant":"{decoy}"}}"#).into(),
                ))
                .await;
            let deadline = tokio::time::Instant::from_std(self.deadline);
            loop {
                let message = tokio::select! {
                    m = socket.next() => m,
                    _ = tokio::time::sleep_until(deadline) => {
                        let _ = socket.close(None).await;
                        return;
                    }
                };
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let bytes = text.as_bytes();
                let foreign: Vec<(usize, usize)> = tenants_in(bytes, &self.known)
                    .into_iter()
                    .filter(|(x, _)| *x != t)
                    .collect();
                let mut stats = self.stats();
                stats.ws_events += 1;
                if bytes.windows(marker.len()).any(|w| w == marker.as_slice()) {
                    stats.ws_events_own_marker += 1;
                }
                for (x, pos) in foreign {
                    stats.leak(Finding {
                        kind: "foreign_marker".into(),
                        label: "events.subscribe".into(),
                        method: "WS".into(),
                        host: host.clone(),
                        path: "/api/v1/events".into(),
                        status: 101,
                        detail: format!(
                            "an event of {} on {}'s socket",
                            self.tenants[x].slug, self.tenants[t].slug
                        ),
                        excerpt: excerpt(bytes, pos, 200),
                    });
                }
            }
        }
    }
}

impl Soak {
    /// The negative control: tenant 2's public job list, scanned as if tenant 1 had asked,
    /// must show tenant 2's marker; else the scanner would miss leaks and the soak would
    /// prove nothing.
    async fn self_check(&self) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{}/api/v1/public/jobs", self.plan.port);
        let body = self
            .http
            .get(&url)
            .header(reqwest::header::HOST, self.host(1))
            .send()
            .await?
            .bytes()
            .await?;
        let seen: Vec<usize> = tenants_in(&body, &self.known)
            .into_iter()
            .map(|(t, _)| t)
            .filter(|t| *t != 0)
            .collect();
        anyhow::ensure!(
            seen == [1],
            "detector self-check: tenant 2's marker not found in its own job list"
        );
        Ok(())
    }
}

/// Call `f(key, id)` for every row id in `value`: `id`, `*_id` and `application_id`
/// fields holding integers, except user ids (`user_id`, `created_by`, …: users are shared).
fn walk_ids(value: &Value, f: &mut impl FnMut(&str, i64)) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let row_id =
                    key == "id" || (key.ends_with("_id") && key != "user_id" && key != "tenant_id");
                if let (true, Some(id)) = (row_id, v.as_i64()) {
                    f(key, id);
                } else if key != "user" {
                    walk_ids(v, f);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk_ids(v, f)),
        _ => {}
    }
}

async fn client(soak: Arc<Soak>, mine: Vec<usize>, exporter: bool) {
    let mut rng = StdRng::from_entropy();
    let mut owns = Vec::with_capacity(mine.len());
    let started = Instant::now();
    for t in mine {
        if soak.stopped() {
            break;
        }
        if let Some(token) = soak.login(t).await {
            let _ = soak.tokens[t].set(token.clone());
            let base = soak.tenants[t].base;
            owns.push(Own {
                t,
                token,
                candidates: (1..=soak.shape.candidates).map(|i| base + i).collect(),
                unapplied: (soak.shape.applications + 1..=soak.shape.candidates)
                    .map(|i| base + i)
                    .collect(),
                applications: (1..=soak.shape.applications)
                    .map(|i| (base + i, 0))
                    .collect(),
                jobs_created: 0,
                applies: 0,
                n: 0,
            });
        }
    }
    soak.stats().login_seconds += started.elapsed().as_secs_f64();
    if owns.is_empty() {
        return;
    }
    let mut export: Option<(i64, Instant)> = None;
    if exporter {
        export = soak
            .export(&owns[0], None)
            .await
            .map(|id| (id, Instant::now()));
    }
    let mut turn = 0usize;
    while !soak.stopped() {
        if let Some((id, at)) = export {
            if at.elapsed() > Duration::from_secs(120) {
                // A fresh link (they live 10 minutes) and another scan of the archive.
                export = soak
                    .export(&owns[0], Some(id))
                    .await
                    .map(|id| (id, Instant::now()));
            }
        }
        let i = turn % owns.len();
        turn += 1;
        if rng.gen_range(0..100) < soak.plan.probe_percent {
            soak.probe(&owns[i], &mut rng).await;
        } else {
            soak.work(&mut owns[i], &mut rng).await;
        }
    }
}

/// Run the load over `tenants` until the plan's duration or request count is reached.
pub async fn run(plan: Plan, shape: Shape, tenants: Vec<SeededTenant>) -> anyhow::Result<Outcome> {
    anyhow::ensure!(tenants.len() >= 2, "the soak needs at least 2 tenants");
    anyhow::ensure!(
        shape.jobs >= 1 && shape.candidates > shape.applications && shape.applications >= 1,
        "each tenant needs jobs, applications and more candidates than applications"
    );
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(plan.clients * 2)
        .build()?;
    let known = tenants.iter().map(|t| (t.slug.clone(), t.index)).collect();
    let clients = plan.clients.clamp(1, tenants.len());
    let started = Instant::now();
    let soak = Arc::new(Soak {
        http,
        shape,
        known,
        tokens: (0..tenants.len()).map(|_| OnceLock::new()).collect(),
        exports: Mutex::new(Vec::new()),
        stats: Mutex::new(Stats::default()),
        sent: AtomicU64::new(0),
        deadline: started + plan.duration,
        tenants,
        plan,
    });
    soak.self_check().await?;
    let mut tasks = Vec::new();
    let n = soak.tenants.len();
    for c in 0..clients {
        let mine: Vec<usize> = (c..n).step_by(clients).collect();
        let exporter = c < soak.plan.exporters;
        tasks.push(tokio::spawn(client(soak.clone(), mine, exporter)));
    }
    let subscribers = soak.plan.ws_subscribers.min(n);
    for k in 0..subscribers {
        // Spread over the tenants, so different clients feed them.
        let t = k * n / subscribers.max(1);
        let soak = soak.clone();
        tasks.push(tokio::spawn(async move { soak.subscribe(t).await }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed();
    let stats = std::mem::take(&mut *soak.stats());
    Ok(Outcome { stats, elapsed })
}
