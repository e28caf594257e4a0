//! The stored model: what Hookwire keeps about applications, endpoints, event types, messages,
//! deliveries (one per message and endpoint) and attempts. Wire shapes live in the server's api/.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::body::{Chunking, Envelope};
use crate::ids::{AppId, AttemptId, DeliveryId, EndpointId, MessageId};
use crate::retry::RetryPolicy;
use crate::schemes::SignatureConfig;
use crate::time_fmt::Millis;

pub type Metadata = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: AppId,
    pub uid: Option<String>,
    pub name: String,
    pub throttle_rate: Option<u32>,
    pub metadata: Metadata,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A secret that still signs after a rotation, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetiringSecret {
    pub key: String,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: EndpointId,
    pub app_id: AppId,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub disabled: bool,
    /// `None` (or empty) means every event type.
    pub event_types: Option<Vec<String>>,
    /// `None` means every message regardless of its channels.
    pub channels: Option<Vec<String>>,
    /// Messages per second; `None` takes the application's (see `send_rate`).
    pub throttle_rate: Option<u32>,
    /// The application's `throttleRate` as of loading: not stored with the endpoint, filled in by
    /// the store where endpoints are loaded for delivery, so that a change to the application
    /// reaches its endpoints (every configuration write invalidates the loaded copies).
    #[serde(skip)]
    pub app_throttle_rate: Option<u32>,
    pub metadata: Metadata,
    /// `whsec_…` signing secret.
    pub secret: String,
    #[serde(default)]
    pub previous_secrets: Vec<RetiringSecret>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Header names whose values are write-only (redacted when read).
    #[serde(default)]
    pub sensitive_headers: Vec<String>,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicy>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// How requests are signed; `None` is Standard Webhooks.
    #[serde(default)]
    pub signature: Option<SignatureConfig>,
    /// A CEL expression over `{type, data, channels}`; the endpoint receives a message only when
    /// it is true.
    #[serde(default)]
    pub filter: Option<String>,
    /// Challenge-response ownership check; while `unverified`, deliveries wait.
    #[serde(default)]
    pub verification: Option<Verification>,
    #[serde(default)]
    pub unverified: bool,
    #[serde(default)]
    pub envelope: Envelope,
    #[serde(default)]
    pub chunking: Option<Chunking>,
    /// Extra header carrying the delivery's idempotency key (its `webhook-id`).
    #[serde(default)]
    pub idempotency_header: Option<String>,
    /// JavaScript that reshapes each request (hookwire-transform runs it).
    #[serde(default)]
    pub transformation: Option<Transformation>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An endpoint's transformation: a `handler(webhook)` function that may change the method, the
/// URL and the payload of each request, or cancel it (Svix's contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transformation {
    pub code: String,
    pub enabled: bool,
    /// Values the code reads as `webhook.variables`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Variable names whose values are write-only (a secret): sealed at rest, never read back.
    #[serde(default)]
    pub sensitive_variables: Vec<String>,
    /// When the code or its variables last changed: compiled code is cached per version.
    pub updated_at: Millis,
}

/// Header names of a challenge-response verification (Improvado's flow, names configurable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub challenge_header: String,
    pub verify_token_header: String,
}

impl Default for Verification {
    fn default() -> Self {
        Self { challenge_header: "webhook-challenge".into(), verify_token_header: "webhook-verify-token".into() }
    }
}

/// What an endpoint's status reads as on the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointStatus {
    Active,
    Unverified,
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Unverified => "unverified",
            Self::Disabled => "disabled",
        }
    }
}

impl Endpoint {
    /// A new active endpoint of `app_id` that receives every message at `url`, signed with
    /// `secret`, every option at its default.
    pub fn new(app_id: AppId, url: String, secret: String, now: Millis) -> Self {
        Self {
            id: EndpointId::generate(),
            app_id,
            uid: None,
            url,
            description: String::new(),
            disabled: false,
            event_types: None,
            channels: None,
            throttle_rate: None,
            app_throttle_rate: None,
            metadata: Metadata::new(),
            secret,
            previous_secrets: Vec::new(),
            headers: BTreeMap::new(),
            sensitive_headers: Vec::new(),
            retry_policy: None,
            timeout_ms: None,
            signature: None,
            filter: None,
            verification: None,
            unverified: false,
            envelope: Envelope::default(),
            chunking: None,
            idempotency_header: None,
            transformation: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The messages per second this endpoint is sent at most: its own `throttleRate`, else its
    /// application's (Svix: the application's rate propagates to each of its endpoints and an
    /// endpoint's own overrides it). `None`: unthrottled.
    pub fn send_rate(&self) -> Option<u32> {
        self.throttle_rate.or(self.app_throttle_rate).filter(|rate| *rate > 0)
    }

    pub fn status(&self) -> EndpointStatus {
        if self.disabled {
            EndpointStatus::Disabled
        } else if self.unverified {
            EndpointStatus::Unverified
        } else {
            EndpointStatus::Active
        }
    }

    /// Applies `f` to every secret the endpoint holds: its signing secret, the retiring ones, and
    /// the values of its sensitive headers and transformation variables (for sealing at rest).
    pub fn map_secrets<E>(mut self, mut f: impl FnMut(&str) -> Result<String, E>) -> Result<Self, E> {
        self.secret = f(&self.secret)?;
        for retiring in &mut self.previous_secrets {
            retiring.key = f(&retiring.key)?;
        }
        for name in &self.sensitive_headers {
            if let Some(value) = self.headers.get_mut(name) {
                *value = f(value)?;
            }
        }
        if let Some(transformation) = &mut self.transformation {
            for name in &transformation.sensitive_variables {
                if let Some(value) = transformation.variables.get_mut(name) {
                    *value = f(value)?;
                }
            }
        }
        Ok(self)
    }

    /// What a receiver may hold to check requests: the secret itself, except for ed25519,
    /// whose receivers get the `whpk_` public key (the private key never leaves Hookwire).
    pub fn receiver_secret(&self) -> String {
        match self.scheme() {
            crate::schemes::Scheme::Ed25519 => crate::schemes::public_key(&self.secret).unwrap_or_default(),
            _ => self.secret.clone(),
        }
    }

    pub fn scheme(&self) -> crate::schemes::Scheme {
        self.signature.as_ref().map(|s| s.scheme).unwrap_or_default()
    }

    /// Every secret that signs a request sent at `now`: the current one first.
    pub fn signing_secrets(&self, now: Millis) -> impl Iterator<Item = &str> {
        std::iter::once(self.secret.as_str())
            .chain(self.previous_secrets.iter().filter(move |s| s.expires_at > now).map(|s| s.key.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventType {
    pub name: String,
    pub description: String,
    pub archived: bool,
    pub deprecated: bool,
    pub schemas: Option<serde_json::Value>,
    pub group_name: Option<String>,
    pub feature_flags: Option<Vec<String>>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub app_id: AppId,
    pub event_type: String,
    pub event_id: Option<String>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    /// The payload exactly as received (a JSON object, or any text for a raw payload); `None`
    /// once expunged.
    pub payload: Option<String>,
    /// For a raw payload (Svix's `transformationsParams.rawPayload`): the `Content-Type` it is
    /// sent with. `None`: the payload is a JSON object, sent as `application/json`.
    pub content_type: Option<String>,
    /// When the producer asked for it to be delivered (`deliverAt`), if later than its creation.
    pub deliver_at: Option<Millis>,
    /// When the payload may be purged (retention).
    pub payload_expires_at: Option<Millis>,
    pub created_at: Millis,
}

impl Message {
    /// Whether the payload is raw text rather than a JSON object.
    pub fn is_raw(&self) -> bool {
        self.content_type.is_some()
    }
}

/// Status of a delivery (a message to one endpoint) and of an attempt; numbers as Svix has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Success = 0,
    Pending = 1,
    Fail = 2,
    Sending = 3,
    Canceled = 4,
}

impl Status {
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            1 => Self::Pending,
            2 => Self::Fail,
            3 => Self::Sending,
            4 => Self::Canceled,
            _ => return None,
        })
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Pending => "pending",
            Self::Fail => "fail",
            Self::Sending => "sending",
            Self::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerType {
    Scheduled = 0,
    Manual = 1,
}

impl TriggerType {
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Self {
        if code == 1 { Self::Manual } else { Self::Scheduled }
    }
}

/// One message on its way to one endpoint: the unit of work that is claimed and retried.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub app_id: AppId,
    pub msg_id: MessageId,
    pub endpoint_id: EndpointId,
    pub status: Status,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: Option<Millis>,
    pub trigger: TriggerType,
    /// The page (1-based) when the endpoint delivers this message in chunks.
    pub chunk: Option<u32>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Delivery {
    /// The `webhook-id` of this delivery's requests: the message id, plus `_{page}` for a chunk.
    pub fn webhook_id(&self) -> String {
        match self.chunk {
            Some(page) => format!("{}_{page}", self.msg_id),
            None => self.msg_id.to_string(),
        }
    }
}

/// Why an attempt got no HTTP answer, or why its answer was not a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The receiver answered with a non-2xx status.
    Status,
    Timeout,
    Connect,
    Dns,
    Tls,
    /// The destination address is not allowed (SSRF policy) or the URL is unusable.
    Refused,
    /// Anything else while sending or reading the answer.
    Io,
    /// The endpoint's transformation failed (threw, ran out of time or memory, returned
    /// something unusable): nothing was sent.
    Transformation,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Dns => "dns",
            Self::Tls => "tls",
            Self::Refused => "refused",
            Self::Io => "io",
            Self::Transformation => "transformation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "status" => Self::Status,
            "timeout" => Self::Timeout,
            "connect" => Self::Connect,
            "dns" => Self::Dns,
            "tls" => Self::Tls,
            "refused" => Self::Refused,
            "io" => Self::Io,
            "transformation" => Self::Transformation,
            _ => return None,
        })
    }
}

/// What the outside world did with one request: data, not an error.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    /// HTTP status, or 0 when there was no answer.
    pub status_code: u16,
    /// The first bytes of the response body (or the error, when there was no answer).
    pub response: String,
    pub duration_ms: u64,
    /// `None` on success.
    pub error: Option<ErrorKind>,
    /// Seconds from a `Retry-After` answer, already bounded.
    pub retry_after_seconds: Option<u64>,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: AttemptId,
    pub app_id: AppId,
    pub msg_id: MessageId,
    pub endpoint_id: EndpointId,
    pub delivery_id: DeliveryId,
    pub url: String,
    pub status: Status,
    pub response_status_code: u16,
    pub response: String,
    pub response_duration_ms: u64,
    pub error_kind: Option<ErrorKind>,
    pub trigger_type: TriggerType,
    pub timestamp: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_sent_at_its_own_rate_else_its_applications() {
        let endpoint = Endpoint::new(AppId::generate(), "https://example.com".into(), "whsec_x".into(), 0);
        let rated = |own, app| Endpoint { throttle_rate: own, app_throttle_rate: app, ..endpoint.clone() }.send_rate();
        assert_eq!(rated(None, None), None);
        assert_eq!(rated(None, Some(5)), Some(5), "the application's rate propagates");
        assert_eq!(rated(Some(50), Some(5)), Some(50), "the endpoint's own overrides it, higher or lower");
        assert_eq!(rated(Some(1), Some(5)), Some(1));
        assert_eq!(rated(Some(0), Some(5)), None, "0 is no limit");
    }

    #[test]
    fn the_applications_rate_is_not_stored_with_the_endpoint() {
        let endpoint = Endpoint {
            app_throttle_rate: Some(5),
            ..Endpoint::new(AppId::generate(), "https://example.com".into(), "whsec_x".into(), 0)
        };
        let stored = serde_json::to_value(&endpoint).unwrap();
        assert!(stored.get("app_throttle_rate").is_none());
        let read: Endpoint = serde_json::from_value(stored).unwrap();
        assert_eq!(read.app_throttle_rate, None);
    }
}
