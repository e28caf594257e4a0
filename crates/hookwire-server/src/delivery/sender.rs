//! Outbound HTTP for deliveries. The only code that opens sockets to customer URLs: one pooled
//! client (hyper's, without reqwest's layers: they were a tenth of the CPU per delivery), no
//! redirects, no proxies, a per-request deadline covering the answer's body, bounded response
//! reads, and the destination address checked after DNS resolution (the checked address is the
//! one dialled).

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hookwire_core::body::request_body;
use hookwire_core::limits::{DELIVERY_TIMEOUT_MS_DEFAULT, RESPONSE_BODY_BYTES_MAX, RETRY_AFTER_SECONDS_MAX};
use hookwire_core::model::{AttemptOutcome, Delivery, Endpoint, ErrorKind, Message, Verification};
use hookwire_core::schemes::signature_headers;
use hookwire_core::time_fmt::Millis;
use hookwire_core::url_policy::{DestinationPolicy, PRIVATE_NETWORKS_HINT};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::Url;

const USER_AGENT_VALUE: &str = concat!("Hookwire/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// How long creating an endpoint waits to resolve its host name for the destination check.
const CREATE_CHECK_DNS_TIMEOUT_MS: u64 = 2_000;
const POOL_IDLE_TIMEOUT_MS: u64 = 90_000;
const POOL_IDLE_PER_HOST_MAX: usize = 256;

/// Parsed destinations kept before the cache starts over.
const DESTINATIONS_CACHED_MAX: usize = 10_000;

type HttpClient = Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>;

/// Why the delivery client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot set up the delivery client's TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("delivery CA file {path}: {message}")]
    CaFile { path: PathBuf, message: String },
}

/// The certificates in the PEM file at `path`, to trust for deliveries besides the system's
/// (endpoints on a private PKI). A file without one is an error, not an empty list.
pub fn load_extra_roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let fail = |message: String| ClientError::CaFile { path: path.to_owned(), message };
    let roots = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if roots.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    Ok(roots)
}

#[derive(Clone)]
pub struct Sender {
    client: HttpClient,
    policy: Arc<DestinationPolicy>,
    /// Endpoint URLs already parsed and checked: parsing (with IDNA) on every attempt was 2 % of
    /// the CPU under load.
    destinations: Arc<Mutex<HashMap<String, Destination>>>,
    /// Where endpoints' transformations run (threads start at the first one).
    transforms: Arc<hookwire_transform::Pool>,
}

/// What became of one delivery attempt.
#[derive(Debug)]
pub enum Sent {
    /// A request went out (or could not): its outcome.
    Attempted(AttemptOutcome),
    /// The endpoint's transformation cancelled it: nothing was sent, and nothing will be.
    Canceled,
}

/// Where an endpoint URL sends requests: the request target, and the credentials a URL's
/// `user:password@` carries, as a Basic `Authorization` header.
#[derive(Clone, Debug, PartialEq)]
struct Destination {
    uri: Uri,
    authorization: Option<HeaderValue>,
}

/// Resolves names and drops every address the policy forbids; fails if none is left.
#[derive(Clone)]
struct GuardedResolver {
    policy: Arc<DestinationPolicy>,
}

type ResolveError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = ResolveError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ResolveError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ResolveError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| -> ResolveError { format!("dns: cannot resolve {host}: {e}").into() })?;
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .filter(|addr| match policy.refusal(addr.ip()) {
                    Some(reason) => {
                        refused = Some(reason);
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                let why = refused.map_or_else(
                    || format!("dns: no address for {host}"),
                    |r| format!("refused: {host} resolves to a {r}; {PRIVATE_NETWORKS_HINT}"),
                );
                return Err(why.into());
            }
            Ok(allowed.into_iter())
        })
    }
}

impl Sender {
    /// A sender under `policy`, trusting the system's certificate authorities plus `extra_roots`.
    pub fn new(policy: DestinationPolicy, extra_roots: Vec<CertificateDer<'static>>) -> Result<Self, ClientError> {
        let policy = Arc::new(policy);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // Others in the process (the PostgreSQL client) find the same provider installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let verifier = if extra_roots.is_empty() {
            rustls_platform_verifier::Verifier::new(provider.clone())?
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())?
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { policy: policy.clone() });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(CONNECT_TIMEOUT_MS)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_millis(POOL_IDLE_TIMEOUT_MS))
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST_MAX)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        let transforms = Arc::new(hookwire_transform::Pool::new(hookwire_transform::Limits::default()));
        Ok(Self { client, policy, destinations: Arc::default(), transforms })
    }

    /// The same sender, running transformations under `limits`.
    pub fn with_transformation_limits(mut self, limits: hookwire_transform::Limits) -> Self {
        self.transforms = Arc::new(hookwire_transform::Pool::new(limits));
        self
    }

    /// Where transformations run (the API's check and simulation use the same threads).
    pub fn transforms(&self) -> &hookwire_transform::Pool {
        &self.transforms
    }

    /// Where to send, or why it must not be sent; remembered once allowed (the policy is fixed
    /// for the process's life).
    fn destination(&self, url: &str) -> Result<Destination, String> {
        if let Some(parsed) = self.destinations.lock().expect("destination cache poisoned").get(url) {
            return Ok(parsed.clone());
        }
        let parsed = self.parse_destination(url)?;
        let mut cache = self.destinations.lock().expect("destination cache poisoned");
        if cache.len() >= DESTINATIONS_CACHED_MAX {
            cache.clear();
        }
        cache.insert(url.to_owned(), parsed.clone());
        Ok(parsed)
    }

    fn parse_destination(&self, url: &str) -> Result<Destination, String> {
        let mut url = match Url::parse(url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => return Err("refused: not an http(s) URL".into()),
        };
        if let Some(reason) = self.policy.refused_literal_host(&url) {
            return Err(format!("refused: destination is a {reason}; {PRIVATE_NETWORKS_HINT}"));
        }
        let authorization = (!url.username().is_empty() || url.password().is_some()).then(|| {
            let user = percent_decoded(url.username());
            let password = url.password().map(percent_decoded).unwrap_or_default();
            let mut value = HeaderValue::try_from(format!("Basic {}", BASE64.encode(format!("{user}:{password}"))))
                .expect("base64 is a valid header value");
            value.set_sensitive(true);
            value
        });
        // Neither credentials nor the fragment go on the request line.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        let uri = url.as_str().parse::<Uri>().map_err(|e| format!("refused: not a usable URL: {e}"))?;
        Ok(Destination { uri, authorization })
    }

    /// Why a new endpoint URL would be refused at delivery, checked when it is created: a
    /// literal address the policy forbids, or a name whose every address it forbids
    /// (`localhost`). A name that does not resolve now passes (it may later; deliveries then say
    /// why they fail), and so does one that takes longer than `CREATE_CHECK_DNS_TIMEOUT_MS`.
    pub async fn check_destination(&self, url: &Url) -> Result<(), String> {
        if let Some(reason) = self.policy.refused_literal_host(url) {
            return Err(format!("destination refused: {reason}; {PRIVATE_NETWORKS_HINT}"));
        }
        let Some(url::Host::Domain(host)) = url.host() else { return Ok(()) };
        if self.policy.allow_private_networks {
            return Ok(());
        }
        let lookup = tokio::net::lookup_host((host, url.port_or_known_default().unwrap_or(443)));
        let timeout = Duration::from_millis(CREATE_CHECK_DNS_TIMEOUT_MS);
        let Ok(Ok(addresses)) = tokio::time::timeout(timeout, lookup).await else { return Ok(()) };
        let reasons: Vec<Option<&str>> = addresses.map(|a| self.policy.refusal(a.ip())).collect();
        match reasons.first() {
            Some(Some(reason)) if reasons.iter().all(Option::is_some) => {
                Err(format!("destination refused: {host} resolves to a {reason}; {PRIVATE_NETWORKS_HINT}"))
            }
            _ => Ok(()),
        }
    }

    /// Sends one attempt of `delivery` (reshaped by the endpoint's transformation, if it has
    /// one) and reports what happened; never fails (the outside world's failures, and a
    /// transformation's, are outcomes).
    pub async fn send(&self, endpoint: &Endpoint, message: &Message, delivery: &Delivery, now: Millis) -> Sent {
        let started = Instant::now();
        let shaped = match endpoint.transformation.as_ref().filter(|t| t.enabled) {
            None => None,
            Some(transformation) => match self.transform(endpoint, transformation, message).await {
                Ok(hookwire_transform::Outcome::Send(shaped)) => Some(shaped),
                Ok(hookwire_transform::Outcome::Cancel) => return Sent::Canceled,
                Err(failure) => {
                    let text = failure.to_string();
                    return Sent::Attempted(outcome(started, 0, text, Some(ErrorKind::Transformation), None));
                }
            },
        };
        let url = shaped.as_ref().map_or(endpoint.url.as_str(), |s| s.url.as_str());
        let destination = match self.destination(url) {
            Ok(destination) => destination,
            Err(refusal) => return Sent::Attempted(outcome(started, 0, refusal, Some(ErrorKind::Refused), None)),
        };
        let webhook_id = delivery.webhook_id();
        let json = HeaderValue::from_static("application/json");
        let method = match shaped.as_ref().map(|s| s.method) {
            Some(hookwire_transform::Method::Put) => Method::PUT,
            _ => Method::POST,
        };
        let (body, content_type) = match (&message.content_type, shaped) {
            // A raw payload goes out byte for byte with its own content type: no envelope, no
            // pages; reshaped, it stays raw when the handler returned a string.
            (Some(content_type), shaped) => {
                let raw = || {
                    HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"))
                };
                match shaped {
                    None => (message.payload.clone().unwrap_or_default(), raw()),
                    Some(shaped) => match shaped.text() {
                        Some(text) => (text, raw()),
                        None => (shaped.payload, json),
                    },
                }
            }
            (None, shaped) => {
                let chunk = endpoint.chunking.as_ref().zip(delivery.chunk);
                let payload = match shaped {
                    Some(shaped) => Cow::Owned(shaped.payload),
                    None => Cow::Borrowed(message.payload.as_deref().unwrap_or("{}")),
                };
                let body = request_body(
                    payload,
                    &webhook_id,
                    &message.event_type,
                    message.created_at,
                    endpoint.envelope,
                    chunk,
                );
                (body, json)
            }
        };
        let timestamp = now / 1_000;
        let signatures = signature_headers(
            endpoint.signature.as_ref(),
            endpoint.signing_secrets(now),
            &webhook_id,
            timestamp,
            body.as_bytes(),
        );
        let headers = signatures.iter().map(|(n, v)| (n, v)).chain(&endpoint.headers);
        let mut request = signed_request(method, destination.uri, content_type, &webhook_id, timestamp, headers);
        if let Some(header) = &endpoint.idempotency_header {
            request = request.header(header.as_str(), &webhook_id);
        }
        let request = finish(request, destination.authorization, Bytes::from(body));
        let timeout = Duration::from_millis(endpoint.timeout_ms.unwrap_or(DELIVERY_TIMEOUT_MS_DEFAULT));
        Sent::Attempted(self.attempt(started, request, timeout).await)
    }

    /// POSTs one batch of a `fifoEndpoint`: `body` (a JSON array) to `url` with `headers`,
    /// signed with `secret` under `webhook_id` (the batch's, the same on every retry), under the
    /// same destination policy, TLS and deadline as deliveries.
    pub async fn send_batch(
        &self,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        secret: &str,
        webhook_id: &str,
        body: String,
        now: Millis,
    ) -> AttemptOutcome {
        let started = Instant::now();
        let destination = match self.destination(url) {
            Ok(destination) => destination,
            Err(refusal) => return outcome(started, 0, refusal, Some(ErrorKind::Refused), None),
        };
        let timestamp = now / 1_000;
        let signatures = signature_headers(None, std::iter::once(secret), webhook_id, timestamp, body.as_bytes());
        let json = HeaderValue::from_static("application/json");
        let all = signatures.iter().map(|(n, v)| (n, v)).chain(headers);
        let request = signed_request(Method::POST, destination.uri, json, webhook_id, timestamp, all);
        let request = finish(request, destination.authorization, Bytes::from(body));
        self.attempt(started, request, Duration::from_millis(DELIVERY_TIMEOUT_MS_DEFAULT)).await
    }

    /// Sends `request` and makes its answer, or why there was none, the attempt's outcome.
    async fn attempt(
        &self,
        started: Instant,
        request: Result<Request<Full<Bytes>>, http::Error>,
        timeout: Duration,
    ) -> AttemptOutcome {
        match self.exchange(request, timeout).await {
            Ok(answer) => {
                let error = if !answer.status.is_success() { Some(ErrorKind::Status) } else { answer.read_error };
                outcome(started, answer.status.as_u16(), answer.text, error, answer.retry_after)
            }
            Err((kind, text)) => outcome(started, 0, text, Some(kind), None),
        }
    }

    /// Runs the endpoint's transformation on the message (compiled once per endpoint version).
    async fn transform(
        &self,
        endpoint: &Endpoint,
        transformation: &hookwire_core::model::Transformation,
        message: &Message,
    ) -> Result<hookwire_transform::Outcome, hookwire_transform::Failure> {
        let payload = message.payload.as_deref().unwrap_or("{}");
        let webhook = hookwire_transform::Webhook {
            method: "POST",
            url: &endpoint.url,
            event_type: &message.event_type,
            payload: match message.content_type {
                Some(_) => hookwire_transform::Payload::Text(payload),
                None => hookwire_transform::Payload::Json(payload),
            },
            variables: &transformation.variables,
            time_ms: message.created_at,
        };
        let key = hookwire_transform::Key { owner: endpoint.id.to_string(), version: transformation.updated_at };
        self.transforms.run(key, &transformation.code, webhook).await
    }

    /// Challenge-response verification: `GET url` with a random challenge and the endpoint's
    /// secret; passes when the answer is 200 with exactly the challenge as its body.
    pub async fn verify(&self, endpoint: &Endpoint, verification: &Verification) -> Result<(), String> {
        let destination = self.destination(&endpoint.url)?;
        let mut bytes = [0u8; 24];
        rand::fill(&mut bytes);
        let challenge = hookwire_core::hex(&bytes);
        let request = Request::builder()
            .method(Method::GET)
            .uri(destination.uri)
            .header(verification.challenge_header.as_str(), &challenge)
            .header(verification.verify_token_header.as_str(), endpoint.receiver_secret());
        let request = finish(request, destination.authorization, Bytes::new());
        let timeout = Duration::from_millis(endpoint.timeout_ms.unwrap_or(DELIVERY_TIMEOUT_MS_DEFAULT));
        let answer =
            self.exchange(request, timeout).await.map_err(|(_, text)| format!("failed to reach endpoint: {text}"))?;
        if answer.status != StatusCode::OK {
            return Err(format!(
                "challenge response did not match: expected status 200, got {}",
                answer.status.as_u16()
            ));
        }
        if answer.text.trim_end_matches(['\r', '\n']) != challenge {
            return Err("challenge response did not match: the body must be exactly the challenge value".into());
        }
        Ok(())
    }

    /// Sends `request` and reads the answer, all within `timeout`; a request that cannot be
    /// built (an invalid custom header) fails here too.
    async fn exchange(
        &self,
        request: Result<Request<Full<Bytes>>, http::Error>,
        timeout: Duration,
    ) -> Result<Answer, (ErrorKind, String)> {
        let request = request.map_err(|e| (ErrorKind::Io, format!("cannot build the request: {e}")))?;
        let deadline = tokio::time::Instant::now() + timeout;
        match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Err(_) => Err((ErrorKind::Timeout, format!("timed out after {} ms", timeout.as_millis()))),
            Ok(Err(error)) => Err(classify(&error)),
            Ok(Ok(response)) => Ok(read_answer(response, deadline, timeout).await),
        }
    }
}

/// The request with its fixed headers and body.
/// The request line and what every webhook request carries: its content type, `webhook-id` and
/// `webhook-timestamp` (and their `svix-` aliases), then `headers` (signatures, the receiver's own).
fn signed_request<'a>(
    method: Method,
    uri: Uri,
    content_type: HeaderValue,
    webhook_id: &str,
    timestamp: i64,
    headers: impl Iterator<Item = (&'a String, &'a String)>,
) -> http::request::Builder {
    let timestamp = timestamp.to_string();
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(CONTENT_TYPE, content_type)
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", &timestamp)
        .header("svix-id", webhook_id)
        .header("svix-timestamp", &timestamp);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
}

fn finish(
    builder: http::request::Builder,
    authorization: Option<HeaderValue>,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut builder = builder.header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    if let Some(authorization) = authorization {
        builder = builder.header(AUTHORIZATION, authorization);
    }
    builder.body(Full::new(body))
}

fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn outcome(
    started: Instant,
    status_code: u16,
    response: String,
    error: Option<ErrorKind>,
    retry_after: Option<u64>,
) -> AttemptOutcome {
    AttemptOutcome {
        status_code,
        response,
        duration_ms: started.elapsed().as_millis() as u64,
        error,
        retry_after_seconds: retry_after,
    }
}

/// What a receiver answered: status, the first bytes of the body, and a bounded `Retry-After`.
struct Answer {
    status: StatusCode,
    text: String,
    retry_after: Option<u64>,
    /// The deadline passed while reading the body (other read errors keep what was read).
    read_error: Option<ErrorKind>,
}

async fn read_answer(response: http::Response<Incoming>, deadline: tokio::time::Instant, timeout: Duration) -> Answer {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.min(RETRY_AFTER_SECONDS_MAX));
    let mut body = response.into_body();
    let mut kept = Vec::with_capacity(256);
    let mut read_error = None;
    while kept.len() < RESPONSE_BODY_BYTES_MAX {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Some(chunk) = frame.data_ref() {
                    let room = RESPONSE_BODY_BYTES_MAX - kept.len();
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            Ok(None) | Ok(Some(Err(_))) => break,
            Err(_) => {
                tracing::debug!(timeout_ms = timeout.as_millis() as u64, "answer body not finished in time");
                read_error = Some(ErrorKind::Timeout);
                break;
            }
        }
    }
    Answer { status, text: String::from_utf8_lossy(&kept).into_owned(), retry_after, read_error }
}

/// Names what went wrong from the client's error and its causes.
fn classify(error: &hyper_util::client::legacy::Error) -> (ErrorKind, String) {
    let mut chain = error.to_string();
    let mut timed_out = false;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        timed_out |= cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut);
        source = cause.source();
    }
    let kind = if timed_out {
        ErrorKind::Timeout
    } else if chain.contains("refused: ") && !chain.contains("Connection refused") {
        ErrorKind::Refused
    } else if chain.contains("dns: ") {
        ErrorKind::Dns
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
        ErrorKind::Tls
    } else if error.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Io
    };
    (kind, chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(sender: &Sender) -> usize {
        sender.destinations.lock().unwrap().len()
    }

    #[test]
    fn allowed_destinations_are_parsed_once_and_refusals_never_cached() {
        let sender = Sender::new(DestinationPolicy::default(), Vec::new()).unwrap();
        let url = "https://Example.COM:443/hooks?x=1";
        let first = sender.destination(url).unwrap();
        assert_eq!(first.uri, "https://example.com/hooks?x=1");
        assert_eq!(sender.destination(url).unwrap(), first, "the cached parse is the same URL");
        assert_eq!(cached(&sender), 1);
        for refused in ["http://127.0.0.1:9/hook", "http://[::1]/hook", "ftp://example.com/file", "not a url"] {
            assert!(sender.destination(refused).unwrap_err().starts_with("refused: "), "{refused}");
            assert!(sender.destination(refused).is_err(), "{refused} is refused every time");
        }
        assert_eq!(cached(&sender), 1, "refusals are checked again on every attempt");
    }

    #[test]
    fn credentials_in_the_url_become_basic_auth_and_neither_they_nor_the_fragment_are_sent() {
        let sender = Sender::new(DestinationPolicy::default(), Vec::new()).unwrap();
        let plain = sender.destination("https://example.com/in#section").unwrap();
        assert_eq!((plain.uri.to_string().as_str(), plain.authorization), ("https://example.com/in", None));
        let with_credentials = sender.destination("https://hook%20user:p%40ss@example.com/in?a=b").unwrap();
        assert_eq!(with_credentials.uri, "https://example.com/in?a=b");
        let expected = format!("Basic {}", BASE64.encode("hook user:p@ss"));
        assert_eq!(with_credentials.authorization.unwrap(), expected.as_str());
    }

    /// A name that passed creation may resolve to a forbidden address later (rebinding): the
    /// resolver, which supplies the addresses actually dialled, refuses it and names the switch.
    #[tokio::test]
    async fn names_resolving_to_forbidden_addresses_are_refused_when_dialled() {
        use tower_service::Service;
        let mut resolver = GuardedResolver { policy: Arc::new(DestinationPolicy::default()) };
        let error = resolver.call("localhost".parse().unwrap()).await.unwrap_err().to_string();
        assert!(error.starts_with("refused: localhost resolves to a loopback address"), "{error}");
        assert!(error.contains("--allow-private-networks"), "{error}");
        let mut open = GuardedResolver {
            policy: Arc::new(DestinationPolicy { allow_private_networks: true, allowed_networks: vec![] }),
        };
        assert!(open.call("localhost".parse().unwrap()).await.is_ok());
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let sender = Sender::new(DestinationPolicy::default(), Vec::new()).unwrap();
        for n in 0..DESTINATIONS_CACHED_MAX {
            sender.destination(&format!("https://example.com/{n}")).unwrap();
        }
        assert_eq!(cached(&sender), DESTINATIONS_CACHED_MAX);
        sender.destination("https://example.com/one-more").unwrap();
        assert_eq!(cached(&sender), 1, "memory stays bounded however many endpoint URLs there are");
    }
}
