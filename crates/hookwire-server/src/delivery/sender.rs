//! Outbound HTTP for deliveries. The only code that opens sockets to customer URLs: one pooled
//! client, no redirects, no proxies, a per-request deadline, bounded response reads, and the
//! destination address checked after DNS resolution (the checked address is the one dialled).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookwire_core::body::request_body;
use hookwire_core::limits::{DELIVERY_TIMEOUT_MS_DEFAULT, RESPONSE_BODY_BYTES_MAX, RETRY_AFTER_SECONDS_MAX};
use hookwire_core::model::{AttemptOutcome, Delivery, Endpoint, ErrorKind, Message, Verification};
use hookwire_core::schemes::signature_headers;
use hookwire_core::time_fmt::Millis;
use hookwire_core::url_policy::DestinationPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

const USER_AGENT: &str = concat!("Hookwire/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT_MS: u64 = 10_000;
const POOL_IDLE_TIMEOUT_MS: u64 = 90_000;
const POOL_IDLE_PER_HOST_MAX: usize = 256;

/// Parsed destinations kept before the cache starts over.
const DESTINATIONS_CACHED_MAX: usize = 10_000;

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<DestinationPolicy>,
    /// Endpoint URLs already parsed and checked: parsing (with IDNA) on every attempt was 2 % of
    /// the CPU under load.
    destinations: Arc<Mutex<HashMap<String, reqwest::Url>>>,
}

/// Resolves names and drops every address the policy forbids; fails if none is left.
struct GuardedResolver {
    policy: Arc<DestinationPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await.map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> { format!("dns: cannot resolve {host}: {e}").into() },
            )?;
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
                    |r| format!("refused: {host} resolves to a {r}"),
                );
                return Err(why.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Why an IP-literal URL must not be dialled under `policy` (the resolver never sees literal hosts).
pub fn refused_literal_host(policy: &DestinationPolicy, url: &reqwest::Url) -> Option<&'static str> {
    let ip: IpAddr = match url.host()? {
        url::Host::Ipv4(v4) => v4.into(),
        url::Host::Ipv6(v6) => v6.into(),
        // Names are checked by the resolver, on the addresses actually dialled.
        url::Host::Domain(_) => return None,
    };
    policy.refusal(ip)
}

impl Sender {
    pub fn new(policy: DestinationPolicy) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        // reqwest is built without a default crypto provider; install ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .pool_idle_timeout(Duration::from_millis(POOL_IDLE_TIMEOUT_MS))
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST_MAX)
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(GuardedResolver { policy: policy.clone() }))
            .build()?;
        Ok(Self { client, policy, destinations: Arc::default() })
    }

    /// The URL to dial, or why it must not be dialled; remembered once allowed (the policy is
    /// fixed for the process's life).
    fn destination(&self, url: &str) -> Result<reqwest::Url, String> {
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

    fn parse_destination(&self, url: &str) -> Result<reqwest::Url, String> {
        let url = match reqwest::Url::parse(url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => return Err("refused: not an http(s) URL".into()),
        };
        if let Some(reason) = refused_literal_host(&self.policy, &url) {
            return Err(format!("refused: destination is a {reason}"));
        }
        Ok(url)
    }

    /// Sends one attempt of `delivery` and reports what happened; never fails (the outside
    /// world's failures are outcomes).
    pub async fn send(
        &self,
        endpoint: &Endpoint,
        message: &Message,
        delivery: &Delivery,
        now: Millis,
    ) -> AttemptOutcome {
        let started = Instant::now();
        let url = match self.destination(&endpoint.url) {
            Ok(url) => url,
            Err(refusal) => return outcome(started, 0, refusal, Some(ErrorKind::Refused), None),
        };
        let webhook_id = delivery.webhook_id();
        let chunk = endpoint.chunking.as_ref().zip(delivery.chunk);
        let body = request_body(
            message.payload.as_deref().unwrap_or("{}"),
            &webhook_id,
            &message.event_type,
            message.created_at,
            endpoint.envelope,
            chunk,
        );
        let timestamp = now / 1_000;
        let signatures = signature_headers(
            endpoint.signature.as_ref(),
            endpoint.signing_secrets(now),
            &webhook_id,
            timestamp,
            body.as_bytes(),
        );
        let timeout = Duration::from_millis(endpoint.timeout_ms.unwrap_or(DELIVERY_TIMEOUT_MS_DEFAULT));
        let mut request = self
            .client
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &webhook_id)
            .header("webhook-timestamp", timestamp)
            .header("svix-id", &webhook_id)
            .header("svix-timestamp", timestamp);
        for (name, value) in signatures.iter().map(|(n, v)| (n, v)).chain(&endpoint.headers) {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(header) = &endpoint.idempotency_header {
            request = request.header(header.as_str(), &webhook_id);
        }
        match request.body(body).send().await {
            Ok(response) => {
                let answer = read_answer(response).await;
                let error = if !answer.status.is_success() { Some(ErrorKind::Status) } else { answer.read_error };
                outcome(started, answer.status.as_u16(), answer.text, error, answer.retry_after)
            }
            Err(error) => {
                let (kind, text) = classify(&error);
                outcome(started, 0, text, Some(kind), None)
            }
        }
    }

    /// Challenge-response verification: `GET url` with a random challenge and the endpoint's
    /// secret; passes when the answer is 200 with exactly the challenge as its body.
    pub async fn verify(&self, endpoint: &Endpoint, verification: &Verification) -> Result<(), String> {
        let url = self.destination(&endpoint.url)?;
        let mut bytes = [0u8; 24];
        rand::fill(&mut bytes);
        let challenge = hookwire_core::hex(&bytes);
        let request = self
            .client
            .get(url)
            .timeout(Duration::from_millis(endpoint.timeout_ms.unwrap_or(DELIVERY_TIMEOUT_MS_DEFAULT)))
            .header(verification.challenge_header.as_str(), &challenge)
            .header(verification.verify_token_header.as_str(), endpoint.receiver_secret());
        let response = request.send().await.map_err(|e| format!("failed to reach endpoint: {}", classify(&e).1))?;
        let answer = read_answer(response).await;
        if answer.status != reqwest::StatusCode::OK {
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
    status: reqwest::StatusCode,
    text: String,
    retry_after: Option<u64>,
    /// A timeout while reading the body (other read errors keep what was read).
    read_error: Option<ErrorKind>,
}

async fn read_answer(mut response: reqwest::Response) -> Answer {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.min(RETRY_AFTER_SECONDS_MAX));
    let mut kept = Vec::with_capacity(256);
    let mut read_error = None;
    while kept.len() < RESPONSE_BODY_BYTES_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = RESPONSE_BODY_BYTES_MAX - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) => break,
            Err(error) => {
                read_error = Some(classify(&error).0).filter(|k| *k == ErrorKind::Timeout);
                break;
            }
        }
    }
    Answer { status, text: String::from_utf8_lossy(&kept).into_owned(), retry_after, read_error }
}

/// Names what went wrong from reqwest's error and its causes.
fn classify(error: &reqwest::Error) -> (ErrorKind, String) {
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    let kind = if error.is_timeout() {
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
        let sender = Sender::new(DestinationPolicy::default()).unwrap();
        let url = "https://Example.COM:443/hooks?x=1";
        let first = sender.destination(url).unwrap();
        assert_eq!(first.as_str(), "https://example.com/hooks?x=1");
        assert_eq!(sender.destination(url).unwrap(), first, "the cached parse is the same URL");
        assert_eq!(cached(&sender), 1);
        for refused in ["http://127.0.0.1:9/hook", "http://[::1]/hook", "ftp://example.com/file", "not a url"] {
            assert!(sender.destination(refused).unwrap_err().starts_with("refused: "), "{refused}");
            assert!(sender.destination(refused).is_err(), "{refused} is refused every time");
        }
        assert_eq!(cached(&sender), 1, "refusals are checked again on every attempt");
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let sender = Sender::new(DestinationPolicy::default()).unwrap();
        for n in 0..DESTINATIONS_CACHED_MAX {
            sender.destination(&format!("https://example.com/{n}")).unwrap();
        }
        assert_eq!(cached(&sender), DESTINATIONS_CACHED_MAX);
        sender.destination("https://example.com/one-more").unwrap();
        assert_eq!(cached(&sender), 1, "memory stays bounded however many endpoint URLs there are");
    }
}
