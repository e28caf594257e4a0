//! A real HTTP receiver for tests: records every request as it arrives, then answers from a
//! script (status, headers, delay), 200 when the script is empty. Shared by the server and binary tests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

/// How long a test waits for something to arrive before failing.
pub const WAIT_MS: u64 = 15_000;

#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay_ms: u64,
    pub body: String,
    /// Answer with the value of this request header as the body (challenge echo).
    pub echo_header: Option<&'static str>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self { status, ..Self::default() }
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    default_delay_ms: Mutex<u64>,
    arrived: Notify,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut reply = shared.script.lock().unwrap().pop_front();
    if let Some(reply) = reply.as_mut()
        && let Some(name) = reply.echo_header
    {
        reply.body = headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    }
    let delay = reply.as_ref().map_or(*shared.default_delay_ms.lock().unwrap(), |r| r.delay_ms);
    shared.received.lock().unwrap().push(Received {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers,
        body,
    });
    shared.arrived.notify_waiters();
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    match reply {
        None => (StatusCode::OK, "ok").into_response(),
        Some(reply) => {
            let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
            for (name, value) in reply.headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { url, shared }
    }

    /// Answers the next requests with `replies`, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    /// Every request waits this long before it is recorded and answered.
    pub fn set_delay_ms(&self, delay_ms: u64) {
        *self.shared.default_delay_ms.lock().unwrap() = delay_ms;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what has arrived; panics after `WAIT_MS`.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        self.wait_until_within(WAIT_MS, what, done).await
    }

    /// Waits until `done` holds for what has arrived; panics after `wait_ms`.
    pub async fn wait_until_within(
        &self,
        wait_ms: u64,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
        loop {
            let arrived = self.shared.arrived.notified();
            let received = self.received();
            if done(&received) {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("timed out waiting for {what}; received {} requests", self.received().len());
            }
        }
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        self.wait_until(&format!("{count} requests"), |r| r.len() >= count).await
    }
}
