//! In-process Hookwire for tests: a real server on 127.0.0.1:0 over a fresh database (a SQLite
//! file, or a PostgreSQL schema with `HOOKWIRE_TEST_BACKEND=postgres`), with loopback
//! destinations allowed, plus a JSON client.

#![allow(dead_code)]

pub mod browser;
pub mod receiver;

use std::future::Future;
use std::time::Duration;

use hookwire_server::{Config, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub token: String,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A fresh database for one test: a SQLite file in `dir`, or with `HOOKWIRE_TEST_BACKEND=postgres`
/// a fresh schema in the PostgreSQL database at `HOOKWIRE_TEST_POSTGRES_URL`.
pub async fn database_url(dir: &tempfile::TempDir) -> String {
    if std::env::var("HOOKWIRE_TEST_BACKEND").as_deref() != Ok("postgres") {
        return format!("sqlite://{}", dir.path().join("hookwire.db").display());
    }
    let base = std::env::var("HOOKWIRE_TEST_POSTGRES_URL")
        .expect("HOOKWIRE_TEST_BACKEND=postgres needs HOOKWIRE_TEST_POSTGRES_URL");
    let schema = format!("hw_e2e_{}", uuid_suffix());
    hookwire_store::postgres::url_with_fresh_schema(&base, &schema).await.expect("fresh PostgreSQL schema")
}

/// Retention of one day, swept every 20 ms: a test of what retention removes runs the server on
/// a `ManualClock`, moves it past a day and polls.
pub fn quick_retention(config: &mut Config) {
    config.retention_days = 1;
    config.retention_sweep_interval_ms = 20;
}

fn uuid_suffix() -> String {
    hookwire_core::MessageId::generate().to_string().trim_start_matches("msg_").to_lowercase()
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with_clock(adjust, std::sync::Arc::new(hookwire_server::clock::SystemClock)).await
    }

    /// A server reading time from `clock` (a `ManualClock` lets a test move time forward).
    pub async fn start_with_clock(
        adjust: impl FnOnce(&mut Config),
        clock: hookwire_server::clock::SharedClock,
    ) -> Self {
        // Server logs go to the test's captured output: shown only when the test fails.
        let _ = tracing_subscriber::fmt().with_env_filter("warn").with_test_writer().try_init();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: database_url(&dir).await,
            admin_token: Some(ADMIN_TOKEN.into()),
            allow_private_networks: true,
            ..Config::default()
        };
        adjust(&mut config);
        let server = Server::build_with_clock(config, clock).await.expect("server starts");
        let url = format!("http://{}", server.local_addr());
        let cancel = server.cancel_token();
        let task = tokio::spawn(async move { server.run(std::future::pending()).await.expect("server runs") });
        Self { url, client: reqwest::Client::new(), token: ADMIN_TOKEN.into(), cancel, task, _dir: dir }
    }

    /// Stops the server the way a signal does and waits for it to drain.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.task.await.unwrap();
    }

    pub async fn request_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.request_as(Some(&self.token.clone()), method, path, body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    /// POST that must succeed with `expected`; returns the body.
    pub async fn post_ok(&self, path: &str, body: Value, expected: u16) -> Value {
        let (status, value) = self.post(path, body).await;
        assert_eq!(status.as_u16(), expected, "POST {path}: {value}");
        value
    }

    pub async fn create_app(&self) -> String {
        let app = self.post_ok("/api/v1/app", json!({"name": "Test"}), 201).await;
        app["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_endpoint(&self, app: &str, body: Value) -> Value {
        self.post_ok(&format!("/api/v1/app/{app}/endpoint"), body, 201).await
    }

    pub async fn send(&self, app: &str, event_type: &str, payload: Value) -> Value {
        self.post_ok(&format!("/api/v1/app/{app}/msg"), json!({"eventType": event_type, "payload": payload}), 202).await
    }

    /// Re-reads `path` until `done` holds for its body; panics after the receiver's wait bound.
    pub async fn get_until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        eventually(&format!("GET {path}"), || async {
            let (_, value) = self.get(path).await;
            done(&value).then_some(value)
        })
        .await
    }

    /// POSTs `body` until the answer satisfies `done` (for side-effect-free operations reading
    /// what was just sent: on PostgreSQL a message joins the log only once every transaction
    /// older than it, in the whole cluster, has ended).
    pub async fn post_until(&self, path: &str, body: Value, done: impl Fn(StatusCode, &Value) -> bool) -> Value {
        eventually(&format!("POST {path}"), || async {
            let (status, value) = self.post(path, body.clone()).await;
            done(status, &value).then_some(value)
        })
        .await
    }

    /// Waits for background task `id` to finish or fail, and returns it.
    pub async fn task_done(&self, id: &str) -> Value {
        self.get_until(&format!("/api/v1/background-task/{id}"), |task| task["status"] != "running").await
    }

    /// The `/metrics` exposition as an authorised scraper sees it.
    pub async fn scrape(&self) -> String {
        let response = self.client.get(format!("{}/metrics", self.url)).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        response.text().await.unwrap()
    }

    /// Scrapes until `series` has `value`, then returns that scrape.
    pub async fn scrape_until(&self, series: &str, value: f64) -> String {
        eventually(&format!("{series} = {value}"), || async {
            let text = self.scrape().await;
            (sample(&text, series) == Some(value)).then_some(text)
        })
        .await
    }
}

/// The value of the sample written exactly as `series` (name and labels), if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Retries `probe` until it yields a value: for state that changes after a delivery is recorded.
pub async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, probe: impl Fn() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(receiver::WAIT_MS);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
