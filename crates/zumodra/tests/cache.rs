//! The tenant cache against both backends (SPEC §2 guarantee 7): in-process, real Redis
//! (127.0.0.1:6379, or `ZUMODRA_TEST_REDIS_URL`), and Redis at a closed port, where
//! every answer must still be right.
// Test code may unwrap: a failed unwrap is a failed test (helpers included, which
// clippy's allow-unwrap-in-tests does not cover).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zumodra::cache::{CacheScope, Invalidation, PlatformKey, TenantCache, TenantKey};
use zumodra_tenancy::TenantId;

const A: TenantId = TenantId(1);
const B: TenantId = TenantId(2);
const TTL: Duration = Duration::from_secs(60);

fn redis_url() -> String {
    std::env::var("ZUMODRA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn namespace() -> String {
    format!("test{}", rand::random::<u64>())
}

async fn redis(url: &str, ns: &str) -> TenantCache {
    let cache = TenantCache::redis(url, ns).unwrap();
    let up = cache.connect(Duration::from_secs(2)).await;
    assert_eq!(up, !url.ends_with(":1"), "Redis at {url}");
    cache
}

/// Each backend the cache must work with, by name.
async fn backends() -> Vec<(&'static str, TenantCache)> {
    vec![
        ("memory", TenantCache::in_memory(1000)),
        ("redis", redis(&redis_url(), &namespace()).await),
        (
            "redis-down",
            redis("redis://127.0.0.1:1", &namespace()).await,
        ),
    ]
}

/// A loader that counts its calls and answers `"<label> v<call>"`.
struct Source {
    calls: AtomicU32,
    label: &'static str,
}

impl Source {
    fn new(label: &'static str) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU32::new(0),
            label,
        })
    }
    async fn load(&self) -> Result<String, std::convert::Infallible> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(format!("{} v{n}", self.label))
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn read(cache: &TenantCache, key: &TenantKey, src: &Source) -> String {
    cache.get_or_load(key, TTL, || src.load()).await.unwrap()
}

#[tokio::test]
async fn entries_are_per_tenant_and_invalidating_one_tenant_keeps_the_other() {
    for (name, cache) in backends().await {
        let up = name != "redis-down";
        let (a_src, b_src) = (Source::new("acme"), Source::new("globex"));
        let a_key = TenantKey::new(A, "public_jobs", "page1");
        let b_key = TenantKey::new(B, "public_jobs", "page1");

        assert_eq!(read(&cache, &a_key, &a_src).await, "acme v1", "{name}");
        assert_eq!(read(&cache, &b_key, &b_src).await, "globex v1", "{name}");
        // Same namespace and id, other tenant: never the other's value.
        // Cached (or, with Redis down, loaded again): the right tenant's value either way.
        let again = if up { "v1" } else { "v2" };
        assert_eq!(
            read(&cache, &a_key, &a_src).await,
            format!("acme {again}"),
            "{name}"
        );
        assert_eq!(
            read(&cache, &b_key, &b_src).await,
            format!("globex {again}"),
            "{name}"
        );
        assert_eq!(a_src.calls(), if up { 1 } else { 2 }, "{name}");

        // The data changed in A: the writer commits, then invalidates A.
        cache.invalidate_tenant(A).await;
        let (a_now, b_now) = if up { ("v2", "v1") } else { ("v3", "v3") };
        assert_eq!(
            read(&cache, &a_key, &a_src).await,
            format!("acme {a_now}"),
            "{name}"
        );
        assert_eq!(
            read(&cache, &b_key, &b_src).await,
            format!("globex {b_now}"),
            "{name}"
        );
        assert_eq!(
            b_src.calls(),
            if up { 1 } else { 3 },
            "{name}: B untouched by A's invalidation"
        );

        let [(_, hit), (_, miss), (_, error)] = cache.stats().snapshot();
        if up {
            assert_eq!((hit, miss, error), (3, 3, 0), "{name}");
        } else {
            assert_eq!(
                (hit, miss, error),
                (0, 0, 6),
                "{name}: bypassed and counted"
            );
        }
    }
}

#[tokio::test]
async fn get_returns_only_what_was_stored_for_that_tenant() {
    for (name, cache) in backends().await {
        let key = TenantKey::new(A, "perms", "user:7");
        assert_eq!(cache.get::<_, Vec<String>>(&key).await, None, "{name}");
        let perms = vec!["jobs.read".to_string()];
        let loaded: Vec<String> = cache
            .get_or_load(&key, TTL, || async { Ok::<_, ()>(perms.clone()) })
            .await
            .unwrap();
        assert_eq!(loaded, perms);
        let expected = (name != "redis-down").then(|| perms.clone());
        assert_eq!(cache.get::<_, Vec<String>>(&key).await, expected, "{name}");
        assert_eq!(
            cache
                .get::<_, Vec<String>>(&TenantKey::new(B, "perms", "user:7"))
                .await,
            None,
            "{name}"
        );
        // Platform keys are their own scope.
        assert_eq!(
            cache
                .get::<_, Vec<String>>(&PlatformKey::new("perms", "user:7"))
                .await,
            None,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_value_loaded_before_an_invalidation_is_never_served_after_it() {
    for (name, cache) in backends().await {
        let key = TenantKey::new(A, "public_jobs", "page1");
        // The loader reads the old data, then a write commits and invalidates before the
        // loader's value is stored.
        let stale: String = cache
            .get_or_load(&key, TTL, || async {
                cache.invalidate_tenant(A).await;
                Ok::<_, ()>("old".to_string())
            })
            .await
            .unwrap();
        assert_eq!(stale, "old");
        let fresh: String = cache
            .get_or_load(&key, TTL, || async { Ok::<_, ()>("new".to_string()) })
            .await
            .unwrap();
        assert_eq!(fresh, "new", "{name}");
    }
}

#[tokio::test]
async fn loader_errors_are_returned_and_not_cached() {
    for (name, cache) in backends().await {
        let key = TenantKey::new(A, "x", "1");
        let err = cache
            .get_or_load(&key, TTL, || async { Err::<String, _>("db down") })
            .await
            .unwrap_err();
        assert_eq!(err, "db down", "{name}");
        assert_eq!(cache.get::<_, String>(&key).await, None, "{name}");
    }
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    for (name, cache) in backends().await {
        let key = TenantKey::new(A, "short", "1");
        let _: String = cache
            .get_or_load(&key, Duration::from_millis(50), || async {
                Ok::<_, ()>("v".to_string())
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(cache.get::<_, String>(&key).await, None, "{name}");
    }
}

#[tokio::test]
async fn redis_invalidation_reaches_every_instance() {
    let ns = namespace();
    let one = redis(&redis_url(), &ns).await;
    let two = redis(&redis_url(), &ns).await;
    let (a_src, b_src) = (Source::new("acme"), Source::new("globex"));
    let a_key = TenantKey::new(A, "session", "h1");
    let b_key = TenantKey::new(B, "session", "h1");
    assert_eq!(read(&one, &a_key, &a_src).await, "acme v1");
    assert_eq!(read(&one, &b_key, &b_src).await, "globex v1");
    assert_eq!(
        read(&two, &a_key, &a_src).await,
        "acme v1",
        "shared entries"
    );
    two.invalidate_tenant(A).await;
    assert_eq!(read(&one, &a_key, &a_src).await, "acme v2");
    assert_eq!(read(&one, &b_key, &b_src).await, "globex v1");
    // An installation with another namespace on the same Redis shares nothing.
    let other = redis(&redis_url(), &namespace()).await;
    assert_eq!(other.get::<_, String>(&a_key).await, None);
}

#[tokio::test]
async fn in_process_instances_follow_peer_invalidations() {
    let one = TenantCache::in_memory(100);
    let (a_src, b_src) = (Source::new("acme"), Source::new("globex"));
    let a_key = TenantKey::new(A, "session", "h1");
    let b_key = TenantKey::new(B, "session", "h1");
    assert_eq!(read(&one, &a_key, &a_src).await, "acme v1");
    assert_eq!(read(&one, &b_key, &b_src).await, "globex v1");
    // What the LISTEN loop does with another instance's NOTIFY payload.
    let payload = Invalidation(CacheScope::Tenant(A)).payload();
    one.apply_peer_invalidation(Invalidation::parse(&payload).unwrap());
    assert_eq!(read(&one, &a_key, &a_src).await, "acme v2");
    assert_eq!(read(&one, &b_key, &b_src).await, "globex v1");
}

#[tokio::test]
async fn an_unreachable_redis_fails_fast() {
    let cache = redis("redis://127.0.0.1:1", &namespace()).await;
    let started = std::time::Instant::now();
    for i in 0..50 {
        let key = TenantKey::new(A, "x", i.to_string());
        let v: String = cache
            .get_or_load(&key, TTL, || async { Ok::<_, ()>("db".into()) })
            .await
            .unwrap();
        assert_eq!(v, "db");
        cache.invalidate_tenant(B).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cache.stats().snapshot()[2], ("error", 50));
}

/// A TCP proxy in front of Redis that the test can cut ("Redis stopped") and restore.
struct Proxy {
    port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    pipes: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let pipes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, pipes2) = (up.clone(), pipes.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused, as good as
                }
                let target = target.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                pipes2.lock().unwrap().push(pipe);
            }
        });
        Self { port, up, pipes }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn redis_stopping_mid_test_keeps_answers_correct_and_replays_invalidations() {
    let direct = redis_url();
    let target = direct
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_string();
    let proxy = Proxy::start(target).await;
    let ns = namespace();
    let cache = redis(&format!("redis://127.0.0.1:{}", proxy.port), &ns).await;
    let observer = redis(&direct, &ns).await;
    let (a_key, b_key) = (
        TenantKey::new(A, "jobs", "p1"),
        TenantKey::new(B, "jobs", "p1"),
    );
    let value = |v: &'static str| move || async move { Ok::<_, ()>(v.to_string()) };

    assert_eq!(
        cache
            .get_or_load(&a_key, TTL, value("acme old"))
            .await
            .unwrap(),
        "acme old"
    );
    assert_eq!(
        cache
            .get_or_load(&b_key, TTL, value("globex"))
            .await
            .unwrap(),
        "globex"
    );
    assert_eq!(
        observer.get::<_, String>(&a_key).await.as_deref(),
        Some("acme old")
    );

    // Redis goes away. A's data changes and is invalidated while it is away.
    proxy.cut();
    for _ in 0..5 {
        assert_eq!(
            cache
                .get_or_load(&a_key, TTL, value("acme new"))
                .await
                .unwrap(),
            "acme new"
        );
    }
    cache.invalidate_tenant(A).await;
    assert!(
        cache.stats().snapshot()[2].1 >= 5,
        "bypassed lookups are counted as errors"
    );

    // Redis is back: the old A entry is never served, B's entry still is.
    proxy.restore();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut b_hit = false;
    while std::time::Instant::now() < deadline && !b_hit {
        assert_eq!(
            cache
                .get_or_load(&a_key, TTL, value("acme new"))
                .await
                .unwrap(),
            "acme new"
        );
        let before = cache.stats().snapshot()[0].1;
        assert_eq!(
            cache
                .get_or_load(&b_key, TTL, value("globex reloaded"))
                .await
                .unwrap(),
            "globex"
        );
        b_hit = cache.stats().snapshot()[0].1 > before;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(b_hit, "the cache is used again once Redis is back");
    // The deferred invalidation reached Redis: every instance sees A's new generation.
    assert_ne!(
        observer.get::<_, String>(&a_key).await.as_deref(),
        Some("acme old")
    );
}

#[tokio::test]
async fn invalidations_are_published_to_other_instances_only_on_commit() {
    use futures::StreamExt;
    use zumodra::cache::{publish_invalidation, INVALIDATION_CHANNEL};
    use zumodra_tenancy::tokio_postgres::{AsyncMessage, NoTls};

    let db = zumodra_tenancy::testing::TestDb::new().await;
    let acme = db
        .engine
        .create_tenant(zumodra_tenancy::NewTenant {
            slug: "acme".into(),
            name: "Acme".into(),
            plan: "free".into(),
            status: zumodra_tenancy::TenantStatus::Active,
            owner: None,
        })
        .await
        .unwrap()
        .as_ref();
    // Another instance's LISTEN loop.
    let (client, mut connection) = db.config().database.connect(NoTls).await.unwrap();
    let (tx_payloads, mut payloads) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx_payloads.send(n.payload().to_owned());
            }
        }
    });
    client
        .batch_execute(&format!("listen {INVALIDATION_CHANNEL}"))
        .await
        .unwrap();
    let peer = TenantCache::in_memory(100);
    let src = Source::new("acme");
    let key = TenantKey::new(acme.id, "jobs", "p1");
    assert_eq!(read(&peer, &key, &src).await, "acme v1");

    let tx = db.engine.begin(&acme).await.unwrap();
    publish_invalidation(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    let tx = db.engine.begin(&acme).await.unwrap();
    publish_invalidation(&tx).await.unwrap();
    tx.commit().await.unwrap();

    let payload = tokio::time::timeout(Duration::from_secs(5), payloads.recv())
        .await
        .unwrap()
        .unwrap();
    peer.apply_peer_invalidation(Invalidation::parse(&payload).unwrap());
    assert_eq!(read(&peer, &key, &src).await, "acme v2");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), payloads.recv())
            .await
            .is_err(),
        "the rolled-back transaction published nothing"
    );
}
