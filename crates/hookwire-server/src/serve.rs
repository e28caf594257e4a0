//! The API port's connections, every one bounded: a request head must arrive within
//! `http_header_timeout_ms` (which also closes a keep-alive connection left idle that long), a
//! request body within `http_body_timeout_ms` of the request (a body trickled a byte at a time
//! is answered 408), and at most `http_connections_max` connections are open at once (beyond
//! that a connection is answered 503 and closed, and the first refusal of an episode is
//! logged). At start the soft open-file limit is raised as far as the hard one allows, and the
//! connection cap is lowered if the limit cannot hold it. Nothing here knows the API: it serves
//! whatever router it is given.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tower::{Layer, ServiceExt};
use tower_http::normalize_path::NormalizePathLayer;

/// How long a request head may take to arrive, and an idle keep-alive connection may stay open.
pub const HEADER_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// How long a request body may take to arrive, counted from the request.
pub const BODY_TIMEOUT_MS_DEFAULT: u64 = 30_000;
/// Connections open on the API port at once.
pub const CONNECTIONS_MAX_DEFAULT: usize = 4_096;
/// File descriptors kept for everything but API connections (the database, deliveries' outbound
/// connections, the PostgreSQL pool) when the open-file limit caps the connections.
const DESCRIPTORS_RESERVED: u64 = 2_048;
/// A refused connection gets this long to take its 503.
const REFUSAL_WRITE_TIMEOUT_MS: u64 = 1_000;
/// After an accept error (such as running out of descriptors), wait this long before the next.
const ACCEPT_ERROR_PAUSE_MS: u64 = 100;

const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n\
retry-after: 1\r\ncontent-length: 93\r\n\r\n\
{\"code\":\"too_many_connections\",\"detail\":\"the server has too many open connections; retry shortly\"}";

/// The bounds of the API port's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_timeout_ms: u64,
    pub body_timeout_ms: u64,
    pub connections_max: usize,
}

/// Raises the soft open-file limit to the hard limit, and returns the connection cap the limit
/// can hold (at most `wanted`).
pub fn fit_to_open_file_limit(wanted: usize) -> usize {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let mut soft = limit.current.unwrap_or(u64::MAX);
    if let (Some(current), hard) = (limit.current, limit.maximum) {
        let raised = hard.unwrap_or(u64::MAX).min(1 << 20);
        if raised > current
            && setrlimit(Resource::Nofile, rustix::process::Rlimit { current: Some(raised), maximum: hard }).is_ok()
        {
            tracing::debug!(from = current, to = raised, "raised the open-file limit");
            soft = raised;
        }
    }
    let room = soft.saturating_sub(DESCRIPTORS_RESERVED).max(64) as usize;
    if room < wanted {
        tracing::warn!(
            open_files_max = soft,
            connections_max = room,
            wanted,
            "the open-file limit cannot hold the configured connection cap; using a lower cap (raise `ulimit -n`)"
        );
        return room;
    }
    wanted
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish for
/// at most `drain` before closing what is left.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tracker: &TaskTracker,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) {
    let body_timeout = Duration::from_millis(limits.body_timeout_ms);
    let router = router.layer(axum::middleware::map_request(move |request: Request| async move {
        request.map(|body| Body::new(DeadlineBody::new(body, body_timeout)))
    }));
    let service = NormalizePathLayer::trim_trailing_slash().layer(router);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_millis(limits.header_timeout_ms)).keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.connections_max));
    let graceful = GracefulShutdown::new();
    let mut at_capacity = false;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_PAUSE_MS)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if !at_capacity {
                at_capacity = true;
                tracing::warn!(
                    connections_max = limits.connections_max,
                    "connection cap reached: refusing new connections with 503"
                );
            }
            tracker.spawn(refuse(stream));
            continue;
        };
        if at_capacity {
            at_capacity = false;
            tracing::info!("below the connection cap again");
        }
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let hyper_service =
            TowerToHyperService::new(service.map_request(|request: http::Request<Incoming>| request.map(Body::new)));
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), hyper_service));
        tracker.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("open connections did not finish in time; closing them");
    }
}

/// Answers a connection beyond the cap with a 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let write = async {
        let _ = stream.write_all(REFUSAL).await;
        let _ = stream.shutdown().await;
    };
    let _ = tokio::time::timeout(Duration::from_millis(REFUSAL_WRITE_TIMEOUT_MS), write).await;
}

/// The error a request body yields when it took longer than allowed to arrive.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

/// Whether `error` (or one of its causes) is a body that did not arrive in time.
pub fn body_timed_out(error: &(dyn Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyTimedOut>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// A request body that must arrive in full before a deadline.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, within: Duration) -> Self {
        Self { inner, deadline: Box::pin(tokio::time::sleep(within)) }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    /// A body whose sender went quiet: it never yields another frame.
    struct Stalled;

    impl hyper::body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_in_time_fails_with_the_deadline() {
        let body = DeadlineBody::new(Body::new(Stalled), Duration::from_millis(1_000));
        let error = body.collect().await.unwrap_err();
        assert!(body_timed_out(&error), "{error}");
        let whole = DeadlineBody::new(Body::from("{}"), Duration::from_millis(1_000));
        assert_eq!(whole.collect().await.unwrap().to_bytes(), Bytes::from_static(b"{}"), "a body in time passes");
    }
}
