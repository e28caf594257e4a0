//! The bench's own HTTP/1.1 client and receiver, on hyper directly: one keep-alive connection per
//! lane, bodies built once, arrivals counted in preallocated atomics. The bench shares the two
//! cores with Hookwire, so every microsecond it spends is one Hookwire cannot; a general-purpose
//! client (reqwest) and a receiver keeping a map under a lock cost about 130 µs per message here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// What the receiver saw: deliveries per (message number, endpoint), and each one's
/// send→arrival latency. Requests without a `webhook-id` (the baseline's) are only counted.
pub struct Arrivals {
    endpoints: usize,
    pub count: AtomicUsize,
    /// Events that arrived in FIFO destinations' batches (paths `/d…`), and those batches.
    pub batched_events: AtomicUsize,
    pub batches: AtomicUsize,
    seen: Vec<AtomicU8>,
    latency_us: Vec<AtomicU64>,
}

impl Arrivals {
    pub fn new(messages: usize, endpoints: usize) -> Self {
        let slots = messages * endpoints.max(1);
        Self {
            endpoints: endpoints.max(1),
            count: AtomicUsize::new(0),
            batched_events: AtomicUsize::new(0),
            batches: AtomicUsize::new(0),
            seen: (0..slots).map(|_| AtomicU8::new(0)).collect(),
            latency_us: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn arrived(&self, path: &str, body: &[u8], has_webhook_id: bool, now_us: u64) {
        if path.starts_with("/d") {
            // A batch: one `"n":` per event's payload.
            let events = body.windows(4).filter(|w| w == b"\"n\":").count();
            self.batched_events.fetch_add(events, Ordering::Relaxed);
            self.batches.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        if !has_webhook_id {
            return;
        }
        let endpoint = path.strip_prefix("/e").and_then(|e| e.parse::<usize>().ok()).unwrap_or(0);
        let (Some(n), Some(sent)) = (number_after(body, b"\"n\":"), number_after(body, b"\"sentAt\":")) else {
            return;
        };
        let slot = n as usize * self.endpoints + endpoint;
        if let Some(seen) = self.seen.get(slot)
            && seen.fetch_add(1, Ordering::Relaxed) == 0
        {
            self.latency_us[slot].store(now_us.saturating_sub(sent).max(1), Ordering::Relaxed);
        }
    }

    /// (distinct deliveries, duplicates, sorted send→arrival latencies in µs).
    pub fn summary(&self) -> (usize, usize, Vec<u64>) {
        let mut distinct = 0;
        let mut duplicates = 0;
        let mut latencies = Vec::new();
        for (seen, latency) in self.seen.iter().zip(&self.latency_us) {
            let times = seen.load(Ordering::Relaxed) as usize;
            if times > 0 {
                distinct += 1;
                duplicates += times - 1;
                latencies.push(latency.load(Ordering::Relaxed));
            }
        }
        latencies.sort_unstable();
        (distinct, duplicates, latencies)
    }

    pub fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
    }
}

/// The unsigned integer right after `key` in `body`, found without parsing the JSON.
fn number_after(body: &[u8], key: &[u8]) -> Option<u64> {
    let start = body.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = body[start..].iter().take_while(|b| b.is_ascii_digit());
    let mut value: u64 = 0;
    let mut any = false;
    for digit in digits {
        value = value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

/// A receiver on loopback answering `200 ok` to everything; returns its base URL.
pub async fn start_receiver(arrivals: Arc<Arrivals>) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let arrivals = arrivals.clone();
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let arrivals = arrivals.clone();
                async move {
                    let has_webhook_id = request.headers().contains_key("webhook-id");
                    let path = request.uri().path().to_owned();
                    let body = request.into_body().collect().await?.to_bytes();
                    arrivals.arrived(&path, &body, has_webhook_id, crate::micros_now());
                    Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            tokio::spawn(async move {
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(url)
}

/// One keep-alive connection per target, reopened when the server closes it.
pub struct Lane {
    targets: Arc<Vec<SocketAddr>>,
    connections: Vec<Option<SendRequest<Full<Bytes>>>>,
}

impl Lane {
    pub fn new(targets: Arc<Vec<SocketAddr>>) -> Self {
        let connections = targets.iter().map(|_| None).collect();
        Self { targets, connections }
    }

    /// POSTs `body` to `path` on target `target`; returns the status, after reading the body.
    pub async fn post(&mut self, target: usize, path: &str, token: Option<&str>, body: Bytes) -> anyhow::Result<u16> {
        let sender = match &mut self.connections[target] {
            Some(sender) if !sender.is_closed() => sender,
            slot => slot.insert(connect(self.targets[target]).await?),
        };
        sender.ready().await?;
        let mut request = Request::post(path).header("host", "bench").header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = sender.send_request(request.body(Full::new(body))?).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        Ok(status)
    }
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// `127.0.0.1:PORT` from `http://127.0.0.1:PORT[/…]`.
pub fn socket_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let authority = url.strip_prefix("http://").unwrap_or(url).split('/').next().unwrap_or_default();
    authority.parse().with_context(|| format!("not a loopback address: {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_found_after_their_key() {
        let body = br#"{"n":42,"sentAt":1700000000123456,"pad":"x"}"#;
        assert_eq!(number_after(body, b"\"n\":"), Some(42));
        assert_eq!(number_after(body, b"\"sentAt\":"), Some(1_700_000_000_123_456));
        assert_eq!(number_after(body, b"\"missing\":"), None);
    }

    #[test]
    fn arrivals_count_duplicates_per_message_and_endpoint() {
        let arrivals = Arrivals::new(3, 2);
        let body = br#"{"n":1,"sentAt":10}"#;
        arrivals.arrived("/e1", body, true, 15);
        arrivals.arrived("/e1", body, true, 16);
        arrivals.arrived("/e0", body, true, 20);
        arrivals.arrived("/", b"{}", false, 20);
        let (distinct, duplicates, latencies) = arrivals.summary();
        assert_eq!((distinct, duplicates, latencies), (2, 1, vec![5, 10]));
        assert_eq!(arrivals.count.load(Ordering::Relaxed), 4);
    }
}
