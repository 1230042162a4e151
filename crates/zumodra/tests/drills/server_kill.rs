//! Drill 3: the real server (`zumodra serve`, a child process) killed with SIGKILL in
//! the middle of a write load, of tenant creations through the platform API and of its
//! background workers' run through a queue of jobs, then started again. Verdict: every
//! candidate acknowledged with a 201 is there; every tenant whose creation got a 201 is
//! active and no tenant is left in `provisioning` (nor any orphan schema or role); every
//! job ran exactly once to visible effect (one outbox e-mail per job, none twice).
//!
//! The workers of the killed process held leases (300 s in `zumodra serve`); the drill
//! does not wait five minutes: it moves those leases' expiry to now, which is what the
//! passing of time would do, and lets the new process take the jobs over.

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use zumodra_tenancy::jobs::kinds;
use zumodra_tenancy::testing::TestDb;

use zumodra_tenancy::tokio_postgres::{Client, Row};

use crate::helpers::{ADMIN, PASSWORD};
use crate::support::{self, candidate_writers, histogram, host, ms, try_send, Server};

const JOBS: i64 = 1500;

/// Creates tenants through the platform API until `stop`; returns (slug, status) of each.
async fn tenant_creators(
    port: Arc<AtomicU16>,
    token: String,
    stop: Arc<AtomicBool>,
    tasks: usize,
) -> Vec<(String, u16, Instant, u16)> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (port, token, stop, out) = (port.clone(), token.clone(), stop.clone(), out.clone());
        handles.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(SeqCst) {
                n += 1;
                let slug = format!("k{t}x{n}");
                let to = port.load(SeqCst);
                let r = try_send(
                    &client,
                    to,
                    Method::POST,
                    "localhost",
                    "/platform/v1/tenants",
                    Some(&token),
                    Some(json!({
                        "slug": slug, "name": format!("Kill {slug}"), "plan": "free",
                        "owner_email": format!("owner@{slug}.test"), "owner_password": PASSWORD,
                    })),
                )
                .await;
                let status = r.as_ref().map(|r| r.status).unwrap_or(0);
                out.lock().unwrap().push((slug, status, Instant::now(), to));
                if status != 201 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let out = out.lock().unwrap().clone();
    out
}

/// (done, running) e-mail jobs.
async fn done(su: &Client) -> Row {
    su.query_one(
        "select count(*) filter (where status = 'done'), \
                count(*) filter (where status = 'running') \
         from public.jobs where kind = $1",
        &[&kinds::NOTIFY_EMAIL.name()],
    )
    .await
    .unwrap()
}

async fn login(port: u16, host: &str, path: &str, email: &str) -> String {
    let client = reqwest::Client::new();
    let r = try_send(
        &client,
        port,
        Method::POST,
        host,
        path,
        None,
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await
    .unwrap();
    r.body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login: {}", r.text))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_sigkill_mid_load() {
    let _serial = crate::support::one_at_a_time().await;
    let db = TestDb::new().await;
    let engine = db.engine.clone();
    engine
        .create_user(ADMIN, PASSWORD, "Root", true)
        .await
        .unwrap();
    let acme = support::create_acme(&engine).await;
    // The queue: JOBS e-mail jobs whose effect (one outbox row each) is countable.
    for batch in 0..(JOBS / 500) {
        let tx = engine.begin(&acme.as_ref()).await.unwrap();
        for i in 0..500 {
            let n = batch * 500 + i;
            tx.enqueue(
                kinds::NOTIFY_EMAIL,
                json!({"to": "drill@acme.test", "subject": format!("drill-job-{n}"), "body": "x"}),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }

    let logs = std::env::temp_dir().join(format!("zdrill-kill-{}", db.name));
    std::fs::create_dir_all(&logs).unwrap();
    let env = [(
        "ZUMODRA_DATABASE_URL",
        support::url_of(&db.config().database),
    )];
    let mut first = Server::start(&env, &logs, "first").await;
    let (first_pid, first_port) = (first.pid(), first.port);
    let port = Arc::new(AtomicU16::new(first.port));
    let token = login(
        first.port,
        &host("acme"),
        "/api/v1/auth/login",
        "owner@acme.test",
    )
    .await;
    let admin = login(first.port, "localhost", "/platform/v1/auth/login", ADMIN).await;

    let su = db.superuser().await;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = tokio::spawn(candidate_writers(
        port.clone(),
        "acme".into(),
        token.clone(),
        4,
        stop.clone(),
    ));
    let creations = tokio::spawn(tenant_creators(port.clone(), admin, stop.clone(), 2));
    // Kill once the workers are well into the queue and the load has run a while.
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let d: i64 = done(&su).await.get(0);
        if (d >= JOBS / 10 && started.elapsed() > Duration::from_millis(1500))
            || started.elapsed() > Duration::from_secs(20)
        {
            break;
        }
    }
    let killed = Instant::now();
    first.kill();
    let at_kill = done(&su).await;
    let (done_at_kill, running_at_kill): (i64, i64) = (at_kill.get(0), at_kill.get(1));

    let mut second = Server::start(&env, &logs, "second").await;
    port.store(second.port, SeqCst);
    let ready = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, SeqCst);
    let outcomes = writes.await.unwrap();
    let created = creations.await.unwrap();

    // The killed process's leases, expired now instead of in five minutes.
    let expired = su
        .execute(
            "update public.jobs set locked_until = now() - interval '1 second' \
             where status = 'running' and locked_by like $1",
            &[&format!("%-{first_pid}:%")],
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let d: i64 = done(&su).await.get(0);
        if d == JOBS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs not all done: {d} of {JOBS}; log: {}",
            second.log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    second.stop();

    // Jobs: each exactly once to visible effect.
    let effects: Vec<(String, i64)> = su
        .query(
            "select subject, count(*) from public.outbox_emails \
             where subject like 'drill-job-%' group by subject",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let twice: Vec<_> = effects.iter().filter(|(_, n)| *n != 1).collect();
    let rerun: i64 = su
        .query_one(
            "select count(*) from public.jobs where kind = $1 and attempts > 1",
            &[&kinds::NOTIFY_EMAIL.name()],
        )
        .await
        .unwrap()
        .get(0);

    // Acknowledged writes.
    let acked: Vec<i64> = outcomes.iter().filter_map(|o| o.id).collect();
    let present = support::present_ids(&su, "tenant_acme", "ats_candidate", &acked).await;
    let lost: Vec<_> = acked.iter().filter(|id| !present.contains(id)).collect();
    let bad: Vec<_> = outcomes
        .iter()
        .filter(|o| {
            // No answer is expected only from the killed process, after the kill.
            let from_the_killed = o.status == 0 && o.port == first_port && o.at >= killed;
            !(o.status == 201 || from_the_killed)
        })
        .collect();

    // Tenants: none left provisioning, every acknowledged one active, no orphans.
    let statuses: Vec<(String, String)> = su
        .query("select slug, status from public.tenants order by slug", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let provisioning: Vec<_> = statuses
        .iter()
        .filter(|(_, s)| s == "provisioning")
        .collect();
    let acked_tenants: Vec<&String> = created
        .iter()
        .filter(|(_, s, _, _)| *s == 201)
        .map(|(slug, _, _, _)| slug)
        .collect();
    let missing_tenants: Vec<_> = acked_tenants
        .iter()
        .filter(|slug| !statuses.iter().any(|(s, st)| s == **slug && st == "active"))
        .collect();
    let bad_creations: Vec<_> = created
        .iter()
        .filter(|(_, s, at, to)| !(*s == 201 || (*s == 0 && *to == first_port && *at >= killed)))
        .collect();
    let (orphan_schemas, orphan_roles, broken) = support::orphans(&su, db.prefix.as_str()).await;

    eprintln!(
        "drill server_kill: jobs {JOBS}: done at the kill {done_at_kill}, running at the kill \
         {running_at_kill}, leases expired by the drill {expired}, run more than once {rerun}, \
         effects {} (twice or more: {}); restart to ready {} ms; writes {:?}, acknowledged {}, \
         lost {}; tenant creations {} (201: {}, no answer: {}), provisioning left {}, \
         orphan schemas {}, orphan roles {}",
        effects.len(),
        twice.len(),
        ms(ready - killed),
        histogram(&outcomes),
        acked.len(),
        lost.len(),
        created.len(),
        acked_tenants.len(),
        created.iter().filter(|c| c.1 == 0).count(),
        provisioning.len(),
        orphan_schemas.len(),
        orphan_roles.len(),
    );
    assert!(
        done_at_kill < JOBS && done_at_kill > 0,
        "the kill did not land mid-queue ({done_at_kill} of {JOBS} done)"
    );
    assert_eq!(effects.len() as i64, JOBS, "one effect per job");
    assert!(
        twice.is_empty(),
        "jobs with more than one effect: {twice:?}"
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(bad.is_empty(), "unexpected answers: {bad:?}");
    assert!(
        bad_creations.is_empty(),
        "unexpected answers: {bad_creations:?}"
    );
    assert!(
        provisioning.is_empty(),
        "left in provisioning: {provisioning:?}"
    );
    assert!(
        missing_tenants.is_empty(),
        "acknowledged tenants not active: {missing_tenants:?}"
    );
    assert!(
        orphan_schemas.is_empty() && orphan_roles.is_empty() && broken.is_empty(),
        "orphans: schemas {orphan_schemas:?}, roles {orphan_roles:?}, catalog rows without schema or role {broken:?}"
    );
    assert!(
        acked.len() >= 20 && !acked_tenants.is_empty(),
        "too little load"
    );
    let _ = std::fs::remove_dir_all(&logs);
}
