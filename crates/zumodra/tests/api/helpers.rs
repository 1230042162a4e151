//! `spawn_app()` and typed helpers.

use std::sync::Once;

use reqwest::Method;
use serde_json::{json, Value};
use zumodra::config::{LogFormat, Settings};
use zumodra::Application;
use zumodra_tenancy::testing::TestDb;
use zumodra_tenancy::{Engine, NewOwner, NewTenant, Tenant, TenantStatus};

pub const PASSWORD: &str = "correct horse battery";
pub const ADMIN: &str = "root@platform.test";

/// One answer, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(&self, status: u16, code: &str) -> &Self {
        assert_eq!((self.status, self.code()), (status, code), "{}", self.text);
        self
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }
}

/// A running server on a fresh database.
pub struct TestApp {
    pub db: TestDb,
    pub port: u16,
    pub client: reqwest::Client,
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            zumodra::telemetry::init(LogFormat::Pretty);
        }
    });
}

pub fn settings() -> Settings {
    Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        base_domain: "localhost".into(),
        log_format: LogFormat::Pretty,
        ..Settings::default()
    }
}

/// Start a server on `engine`; it stops when the test's runtime ends.
pub async fn start_server(engine: Engine, settings: Settings) -> u16 {
    let app = Application::with_engine(settings, engine).await.unwrap();
    let port = app.port();
    tokio::spawn(app.run_until(std::future::pending()));
    port
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let db = TestDb::new().await;
    let mut s = settings();
    adjust(&mut s);
    let port = start_server(db.engine.clone(), s).await;
    TestApp {
        db,
        port,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    pub fn engine(&self) -> &Engine {
        &self.db.engine
    }

    /// A tenant on `plan` with `owner` (password [`PASSWORD`]).
    pub async fn tenant_on(&self, slug: &str, owner: &str, plan: &str) -> Tenant {
        self.engine()
            .create_tenant(NewTenant {
                slug: slug.into(),
                name: format!("{slug} Inc."),
                plan: plan.into(),
                status: TenantStatus::Active,
                owner: Some(NewOwner {
                    email: owner.into(),
                    password: PASSWORD.into(),
                    display_name: String::new(),
                }),
            })
            .await
            .unwrap()
    }

    pub async fn tenant(&self, slug: &str, owner: &str) -> Tenant {
        self.tenant_on(slug, owner, "enterprise").await
    }

    /// Make `email` (created if new) a member of `tenant` with `role`, through the engine.
    pub async fn member(&self, tenant: &Tenant, email: &str, role: &str) -> i64 {
        let user = match self.engine().user_by_email(email).await.unwrap() {
            Some(u) => u,
            None => self
                .engine()
                .create_user(email, PASSWORD, "", false)
                .await
                .unwrap(),
        };
        let tx = self.engine().begin(&tenant.as_ref()).await.unwrap();
        tx.execute(
            "insert into members (user_id, role) values ($1, $2) \
             on conflict (user_id) do update set role = excluded.role",
            &[&user.id, &role],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        user.id
    }

    pub async fn send(
        &self,
        method: Method,
        host: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        send(&self.client, self.port, method, host, path, token, body).await
    }

    pub async fn get(&self, host: &str, path: &str, token: Option<&str>) -> Resp {
        self.send(Method::GET, host, path, token, None).await
    }

    pub async fn post(&self, host: &str, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(Method::POST, host, path, token, Some(body)).await
    }

    pub async fn patch(&self, host: &str, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(Method::PATCH, host, path, token, Some(body))
            .await
    }

    pub async fn delete(&self, host: &str, path: &str, token: Option<&str>) -> Resp {
        self.send(Method::DELETE, host, path, token, None).await
    }

    /// Log in on a tenant host; panics unless it works.
    pub async fn login(&self, slug: &str, email: &str) -> String {
        let r = self
            .post(
                &host(slug),
                "/api/v1/auth/login",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        r.ok(200)["token"].as_str().unwrap().to_owned()
    }

    /// A platform admin's token (the admin is created on first use).
    pub async fn admin_token(&self) -> String {
        if self.engine().user_by_email(ADMIN).await.unwrap().is_none() {
            self.engine()
                .create_user(ADMIN, PASSWORD, "Root", true)
                .await
                .unwrap();
        }
        let r = self
            .post(
                "localhost",
                "/platform/v1/auth/login",
                None,
                json!({ "email": ADMIN, "password": PASSWORD }),
            )
            .await;
        r.ok(200)["token"].as_str().unwrap().to_owned()
    }

    /// Rows of `public.platform_audit` with this action: (actor, tenant, address, detail).
    pub async fn audit_rows(
        &self,
        action: &str,
    ) -> Vec<(Option<i64>, Option<i64>, Option<String>, Value)> {
        let su = self.db.superuser().await;
        su.query(
            "select actor_user_id, tenant_id, address, detail from public.platform_audit where action = $1 order by id",
            &[&action],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
    }
}

pub fn host(slug: &str) -> String {
    format!("{slug}.localhost")
}

pub async fn send(
    client: &reqwest::Client,
    port: u16,
    method: Method,
    host: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut req = client
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .header("host", host);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    read(req.send().await.unwrap()).await
}

/// A response read whole: status, headers, text, and the text as JSON (`Null` if it is not).
pub async fn read(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        text,
        body,
    }
}
