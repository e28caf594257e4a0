//! Destinations (Svix's `destination` API): places an application's message log is read from in
//! order, instead of one delivery per message. A destination is a filter and a position, not a
//! row per message: `pollingEndpoint`, read by consumers that pull, and `fifoEndpoint`, pushed
//! to in batches, in log order, the next batch only after the receiver took this one.

use serde::{Deserialize, Serialize};

use crate::matching::{channels_match, event_type_matches};
use crate::model::{ErrorKind, Message, Metadata};
use crate::time_fmt::Millis;
use crate::{AppId, AttemptId, DestinationId, MessageId};

/// Messages one page of a polling endpoint holds at most, and by default.
pub const POLL_LIMIT_MAX: usize = 1_000;
pub const BATCH_SIZE_DEFAULT: u32 = 100;
/// How long a poll may wait for messages to arrive (`maxWaitSecs`, Svix's bound).
pub const MAX_WAIT_SECS_MAX: u32 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DestinationKind {
    PollingEndpoint,
    FifoEndpoint,
}

impl DestinationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PollingEndpoint => "pollingEndpoint",
            Self::FifoEndpoint => "fifoEndpoint",
        }
    }
}

/// Where a `fifoEndpoint` sends its batches, and the key they are signed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FifoConfig {
    pub url: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// `whsec_…`: batches carry Standard Webhooks signatures with it.
    pub secret: String,
}

/// How far a `fifoEndpoint` has come: kept beside its settings (the sender moves it, the API
/// changes the settings), in the store's own columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    /// The log position after the last batch the receiver took.
    pub position: String,
    /// Failed tries of the current batch.
    pub failures: u32,
    pub failure_reason: Option<String>,
    pub next_retry_at: Option<Millis>,
    /// The last message a receiver acknowledged (a 2xx for the batch that ended with it).
    pub last_acked: Option<MessageId>,
    /// While a batch is out (sent, failing, or cut off by a crash): the position of its last
    /// message, so every try of it carries the same messages (later ones wait for the next).
    pub batch_end: Option<String>,
}

/// Batch attempts a `fifoEndpoint` keeps in its log: the newest, per destination.
pub const ATTEMPTS_KEPT: usize = 1_000;

/// One send of a `fifoEndpoint`'s batch (its attempt log), stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationAttempt {
    pub id: AttemptId,
    pub destination_id: DestinationId,
    /// The batch's `webhook-id`: the same on every try of the same batch.
    pub batch_id: String,
    /// Events in the batch.
    pub messages: u32,
    /// HTTP status, 0 when there was no answer.
    pub status_code: u16,
    /// The first bytes of the answer, or why there was none.
    pub response: String,
    /// `None` when the receiver took the batch.
    pub error: Option<ErrorKind>,
    pub duration_ms: u64,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DestinationStatus {
    Enabled,
    Paused,
    Disabled,
}

impl DestinationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub id: DestinationId,
    pub app_id: AppId,
    pub uid: Option<String>,
    pub kind: DestinationKind,
    pub status: DestinationStatus,
    /// Messages per page (`limit` defaults to it).
    pub batch_size: u32,
    /// How long a poll that finds nothing waits for messages, in seconds (0: answers at once).
    pub max_wait_secs: u32,
    /// `None` means every event type; Hookwire's wildcards (`user.*`) apply.
    pub event_types: Option<Vec<String>>,
    pub channels: Option<Vec<String>>,
    pub metadata: Metadata,
    /// Where a new consumer starts: the log's end when the destination was created.
    pub start: String,
    /// A `fifoEndpoint`'s receiver.
    #[serde(default)]
    pub config: Option<FifoConfig>,
    /// A `fifoEndpoint`'s transformation: `handler(input)` turns each batch into the body sent.
    #[serde(default)]
    pub transformation: Option<crate::model::Transformation>,
    /// A `fifoEndpoint`'s progress, read from the store (not part of the settings).
    #[serde(skip)]
    pub progress: Option<Progress>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Destination {
    /// Applies `f` to every secret it holds (a FIFO's signing key and its header values, a
    /// transformation's sensitive variables): how they are sealed at rest and opened again.
    pub fn map_secrets<E>(mut self, mut f: impl FnMut(&str) -> Result<String, E>) -> Result<Self, E> {
        if let Some(config) = &mut self.config {
            config.secret = f(&config.secret)?;
            for value in config.headers.values_mut() {
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

    /// Whether the sender drives it: an enabled `fifoEndpoint`.
    /// Marks a change of its settings made at `now`: `updatedAt` moves past its previous value
    /// (`time_fmt::restamp`), so a FIFO turn's settings check sees every change.
    pub fn touch(&mut self, now: Millis) {
        self.updated_at = crate::time_fmt::restamp(Some(self.updated_at), now);
    }

    pub fn driven(&self) -> bool {
        self.kind == DestinationKind::FifoEndpoint && self.status == DestinationStatus::Enabled
    }

    /// Whether `message` is in this destination's stream.
    pub fn wants(&self, message: &Message) -> bool {
        event_type_matches(self.event_types.as_deref(), &message.event_type)
            && channels_match(self.channels.as_deref(), message.channels.as_deref())
    }
}
