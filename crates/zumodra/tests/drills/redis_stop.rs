//! Drill 2: the Redis cache backend killed, restarted, frozen (SIGSTOP) and thawed under
//! a read/write load. Writers change their own jobs and read the cached public job list
//! and the job itself after every acknowledged write: the read must show exactly what
//! was acknowledged (a write is visible in the next read, a closed job is gone, nothing
//! stale). A session checker logs in and out: a revoked token must be refused at once.
//! No 5xx and no missing answer at any time.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use zumodra::Application;
use zumodra_tenancy::testing::TestDb;

use crate::helpers;
use crate::support::{host, ms, try_send, Redis};

const PHASE: Duration = Duration::from_secs(3);
const WRITERS: usize = 4;

/// What went wrong, with the phase it happened in.
#[derive(Default)]
struct Findings {
    phase: Mutex<&'static str>,
    wrong: Mutex<Vec<String>>,
    statuses: Mutex<BTreeMap<String, usize>>,
    checks: std::sync::atomic::AtomicU64,
}

impl Findings {
    fn phase(&self) -> &'static str {
        *self.phase.lock().unwrap()
    }
    fn wrong(&self, what: String) {
        let p = self.phase();
        self.wrong.lock().unwrap().push(format!("[{p}] {what}"));
    }
    /// Count the answer; a 5xx or no answer is a finding. Returns the answer if any.
    fn answer(&self, what: &str, r: Result<helpers::Resp, String>) -> Option<helpers::Resp> {
        let p = self.phase();
        match r {
            Ok(r) => {
                *self
                    .statuses
                    .lock()
                    .unwrap()
                    .entry(format!("{p} {}", r.status))
                    .or_insert(0) += 1;
                if r.status >= 500 {
                    self.wrong(format!("{what}: {} {}", r.status, r.text));
                }
                Some(r)
            }
            Err(e) => {
                self.wrong(format!("{what}: no answer: {e}"));
                None
            }
        }
    }
}

async fn call(
    client: &reqwest::Client,
    port: u16,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Result<helpers::Resp, String> {
    try_send(client, port, method, &host("acme"), path, token, body).await
}

/// One writer: keeps up to three open jobs of its own, creates, renames and closes them,
/// and checks each acknowledged change in the next reads.
async fn writer(c: usize, port: u16, token: String, f: Arc<Findings>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    // id → (title, version) of this writer's open jobs; ids it closed.
    let mut open: Vec<(i64, String, i64)> = Vec::new();
    let mut closed: Vec<i64> = Vec::new();
    let mut k = 0u64;
    while !stop.load(SeqCst) {
        k += 1;
        let acknowledged = if open.len() < 3 {
            let title = format!("w{c} job {k}");
            let r = call(
                &client,
                port,
                Method::POST,
                "/api/v1/jobs",
                Some(&token),
                Some(json!({"title": title, "status": "open"})),
            )
            .await;
            match f.answer("create", r) {
                Some(r) if r.status == 201 => {
                    let id = r.body["id"].as_i64().unwrap();
                    open.push((id, title, r.body["version"].as_i64().unwrap()));
                    true
                }
                _ => false,
            }
        } else if k.is_multiple_of(2) {
            let (id, _, version) = open[0].clone();
            let title = format!("w{c} job {id} renamed {k}");
            let r = call(
                &client,
                port,
                Method::PATCH,
                &format!("/api/v1/jobs/{id}"),
                Some(&token),
                Some(json!({"title": title, "version": version})),
            )
            .await;
            match f.answer("rename", r) {
                Some(r) if r.status == 200 => {
                    open[0] = (id, title, r.body["version"].as_i64().unwrap());
                    open.rotate_left(1);
                    true
                }
                _ => false,
            }
        } else {
            let (id, _, _) = open[0].clone();
            let r = call(
                &client,
                port,
                Method::POST,
                &format!("/api/v1/jobs/{id}/close"),
                Some(&token),
                None,
            )
            .await;
            match f.answer("close", r) {
                Some(r) if r.status == 200 => {
                    open.remove(0);
                    closed.push(id);
                    true
                }
                _ => false,
            }
        };
        if !acknowledged {
            f.wrong(format!("writer {c}: a write was not acknowledged"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        // The cached public list, right after the acknowledgement.
        let r = call(
            &client,
            port,
            Method::GET,
            "/api/v1/public/jobs?limit=200",
            None,
            None,
        )
        .await;
        if let Some(r) = f.answer("public list", r) {
            if r.status != 200 {
                f.wrong(format!("public list: {} {}", r.status, r.text));
            } else {
                let listed: HashMap<i64, String> = r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|j| {
                        (
                            j["id"].as_i64().unwrap(),
                            j["title"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                for (id, title, _) in &open {
                    if listed.get(id) != Some(title) {
                        f.wrong(format!(
                            "writer {c}: job {id} should be listed as {title:?}, got {:?}",
                            listed.get(id)
                        ));
                    }
                }
                for id in &closed {
                    if listed.contains_key(id) {
                        f.wrong(format!("writer {c}: closed job {id} is still listed"));
                    }
                }
                f.checks.fetch_add(1, SeqCst);
            }
        }
        // And one job through the authenticated API (session and member caches).
        if let Some((id, title, version)) = open.last().cloned() {
            let r = call(
                &client,
                port,
                Method::GET,
                &format!("/api/v1/jobs/{id}"),
                Some(&token),
                None,
            )
            .await;
            if let Some(r) = f.answer("show", r) {
                let seen = (r.body["title"].as_str(), r.body["version"].as_i64());
                if r.status != 200 || seen != (Some(title.as_str()), Some(version)) {
                    f.wrong(format!(
                        "writer {c}: job {id} should be {title:?} v{version}, got {} {}",
                        r.status, r.text
                    ));
                }
                f.checks.fetch_add(1, SeqCst);
            }
        }
    }
}

/// Reads the public list in a loop (cache hits).
async fn reader(port: u16, f: Arc<Findings>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    while !stop.load(SeqCst) {
        let r = call(
            &client,
            port,
            Method::GET,
            "/api/v1/public/jobs?limit=200",
            None,
            None,
        )
        .await;
        if let Some(r) = f.answer("reader", r) {
            if r.status != 200 {
                f.wrong(format!("reader: {} {}", r.status, r.text));
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Logs in, uses the token, logs out: the revoked token must be refused at once.
async fn sessions(port: u16, f: Arc<Findings>, stop: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    while !stop.load(SeqCst) {
        let body = json!({"email": "owner@acme.test", "password": helpers::PASSWORD});
        let r = call(
            &client,
            port,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(body),
        )
        .await;
        let Some(r) = f.answer("login", r) else {
            continue;
        };
        let Some(token) = r.body["token"].as_str().map(str::to_owned) else {
            f.wrong(format!("login: {} {}", r.status, r.text));
            continue;
        };
        let me = f.answer(
            "me",
            call(&client, port, Method::GET, "/api/v1/me", Some(&token), None).await,
        );
        if me.is_some_and(|r| r.status != 200) {
            f.wrong("a fresh session was refused".into());
        }
        let out = f.answer(
            "logout",
            call(
                &client,
                port,
                Method::POST,
                "/api/v1/auth/logout",
                Some(&token),
                None,
            )
            .await,
        );
        if out.is_some_and(|r| r.status >= 300) {
            f.wrong("logout failed".into());
        }
        let me = f.answer(
            "me after logout",
            call(&client, port, Method::GET, "/api/v1/me", Some(&token), None).await,
        );
        if let Some(r) = me {
            if r.status != 401 {
                f.wrong(format!(
                    "a revoked session was served: {} {}",
                    r.status, r.text
                ));
            }
        }
        f.checks.fetch_add(1, SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_mid_load() {
    let _serial = crate::support::one_at_a_time().await;
    let mut redis = Redis::start();
    let db = TestDb::new().await;
    crate::support::create_acme(&db.engine).await;
    let mut settings = helpers::settings();
    settings.redis_url = Some(redis.url());
    let app = Application::with_engine(settings, db.engine.clone())
        .await
        .unwrap();
    let port = app.port();
    let stats = app.state().cache.stats();
    tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::new();
    let login = json!({"email": "owner@acme.test", "password": helpers::PASSWORD});
    let token = call(
        &client,
        port,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(login),
    )
    .await
    .unwrap()
    .body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let f = Arc::new(Findings::default());
    *f.phase.lock().unwrap() = "up";
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..WRITERS {
        tasks.push(tokio::spawn(writer(
            c,
            port,
            token.clone(),
            f.clone(),
            stop.clone(),
        )));
    }
    for _ in 0..2 {
        tasks.push(tokio::spawn(reader(port, f.clone(), stop.clone())));
    }
    tasks.push(tokio::spawn(sessions(port, f.clone(), stop.clone())));

    // (phase, hits, misses, errors) over each phase.
    let mut figures = Vec::new();
    let mut last = stats.snapshot();
    let mut mark = |name: &'static str, figures: &mut Vec<_>| {
        let now = stats.snapshot();
        figures.push((
            name,
            now[0].1 - last[0].1,
            now[1].1 - last[1].1,
            now[2].1 - last[2].1,
        ));
        last = now;
    };
    tokio::time::sleep(PHASE).await;
    mark("up", &mut figures);

    *f.phase.lock().unwrap() = "killed";
    redis.kill();
    tokio::time::sleep(PHASE).await;
    mark("killed", &mut figures);

    *f.phase.lock().unwrap() = "restarted";
    redis.start_again();
    tokio::time::sleep(PHASE).await;
    mark("restarted", &mut figures);

    *f.phase.lock().unwrap() = "frozen";
    redis.freeze(true);
    let frozen = Instant::now();
    tokio::time::sleep(PHASE).await;
    mark("frozen", &mut figures);

    *f.phase.lock().unwrap() = "thawed";
    redis.freeze(false);
    tokio::time::sleep(PHASE).await;
    mark("thawed", &mut figures);
    let _ = frozen;

    stop.store(true, SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let wrong = f.wrong.lock().unwrap().clone();
    let statuses = f.statuses.lock().unwrap().clone();
    eprintln!(
        "drill redis_stop: checks {}, wrong answers {}, answers by phase {statuses:?}; \
         cache (phase, hits, misses, errors) {figures:?}; phase length {} ms",
        f.checks.load(SeqCst),
        wrong.len(),
        ms(PHASE),
    );
    assert!(
        wrong.is_empty(),
        "{} wrong answers, first ones: {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    let by = |name: &str| figures.iter().find(|p| p.0 == name).unwrap();
    assert!(by("up").1 > 0, "the cache was used while Redis was up");
    assert!(
        by("restarted").1 > 0,
        "the cache was used again after the restart"
    );
    assert!(by("killed").3 > 0, "Redis being down was noticed");
    assert!(f.checks.load(SeqCst) > 100, "too few checks");
}
