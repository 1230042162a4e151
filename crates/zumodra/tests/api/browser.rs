//! The careers page in a real browser: headless Chromium driven over WebDriver (the
//! W3C protocol spoken with plain HTTP, so no extra crate). Opens
//! `http://acme.localhost:<port>/careers`, applies through the form without any
//! JavaScript of ours, sees the application through the API, and checks that globex's
//! page never shows acme's jobs. Skipped (with the reason printed) only when
//! `chromedriver` is not installed (`apt-get install chromium chromium-driver`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::product::*;

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    async fn start() -> Option<Driver> {
        let Ok(path) = which("chromedriver") else {
            eprintln!("SKIPPED browser test: chromedriver is not installed (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("zumodra-chromium-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--no-proxy-server",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut options = json!({ "args": args });
        if let Ok(binary) = which("chromium") {
            options["binary"] = json!(binary);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        Some(Driver {
            child,
            base,
            session,
            http,
            _profile: tempdir::Dir(profile),
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(r["value"].get("error").is_none(), "{path}: {r}");
        r["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(|id| id.as_str())
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }
}

fn which(name: &str) -> Result<String, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
        .map(|p| p.display().to_string())
        .ok_or(())
}

#[tokio::test]
async fn a_visitor_applies_through_the_careers_page_in_chromium() {
    let app = spawn_app().await;
    app.tenant("acme", "alice@acme.test").await;
    app.tenant("globex", "gus@globex.test").await;
    let t = app.login("acme", "alice@acme.test").await;
    let g = app.login("globex", "gus@globex.test").await;
    let h = host("acme");
    let job = open_job(&app, &h, &t, "Rust Engineer").await;
    open_job(&app, &host("globex"), &g, "Widget Maker").await;
    let Some(browser) = Driver::start().await else {
        return;
    };

    browser
        .goto(&format!("http://acme.localhost:{}/careers", app.port))
        .await;
    let html = browser.source().await;
    assert!(
        html.contains("Careers at acme Inc.") && html.contains("Rust Engineer"),
        "{html}"
    );
    assert!(!html.contains("Widget Maker"));
    browser
        .type_into(&format!("#job-{job} input[name=name]"), "Grace Hopper")
        .await;
    browser
        .type_into(
            &format!("#job-{job} input[name=email]"),
            "grace@example.com",
        )
        .await;
    browser
        .type_into(
            &format!("#job-{job} textarea[name=resume_text]"),
            "COBOL, compilers",
        )
        .await;
    browser
        .click(&format!("#job-{job} button[type=submit]"))
        .await;
    let mut thanks = String::new();
    for _ in 0..50 {
        thanks = browser.source().await;
        if thanks.contains("id=\"thanks\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(thanks.contains("Thank you, Grace Hopper!"), "{thanks}");

    let apps = app
        .get(&h, &format!("/api/v1/applications?job_id={job}"), Some(&t))
        .await;
    let apps = apps.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(apps.len(), 1);
    let cand = app
        .get(
            &h,
            &format!("/api/v1/candidates/{}", apps[0]["candidate_id"]),
            Some(&t),
        )
        .await;
    assert_eq!(cand.ok(200)["email"], "grace@example.com");

    browser
        .goto(&format!("http://globex.localhost:{}/careers", app.port))
        .await;
    let globex = browser.source().await;
    assert!(
        globex.contains("Careers at globex Inc.") && globex.contains("Widget Maker"),
        "{globex}"
    );
    assert!(
        !globex.contains("Rust Engineer"),
        "globex's page shows acme's job"
    );
    browser.quit().await;
}
