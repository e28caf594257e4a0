//! Background tasks (Svix's `qtask_…`): work too large for one request — replaying or recovering
//! an endpoint's messages over a time window — done in batches by the server's task runner,
//! resumable from its position after a restart. Pure data; the runner is the server's
//! `ops/tasks.rs`, the storage the store's `TaskStore`.

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, EndpointId, MessageId, TaskId};
use crate::time_fmt::Millis;

/// What a task does, by Svix's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// `replay-missing`: messages the endpoint subscribes to now and never received.
    #[serde(rename = "endpoint.replay")]
    EndpointReplay,
    /// `recover`: messages whose delivery to the endpoint failed.
    #[serde(rename = "endpoint.recover")]
    EndpointRecover,
    /// `bulk-replay`: messages sent to the endpoint, matching filters, delivered or not.
    #[serde(rename = "endpoint.bulk-replay")]
    EndpointBulkReplay,
}

impl TaskKind {
    pub const ALL: [Self; 3] = [Self::EndpointReplay, Self::EndpointRecover, Self::EndpointBulkReplay];

    pub fn name(self) -> &'static str {
        match self {
            Self::EndpointReplay => "endpoint.replay",
            Self::EndpointRecover => "endpoint.recover",
            Self::EndpointBulkReplay => "endpoint.bulk-replay",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Running = 0,
    Finished = 1,
    Failed = 2,
}

impl TaskStatus {
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Running),
            1 => Some(Self::Finished),
            2 => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Running, Self::Finished, Self::Failed].into_iter().find(|status| status.name() == name)
    }
}

/// What a task was asked to do: an endpoint, a window of message creation times, and for a bulk
/// replay the messages' filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskParams {
    pub endpoint_id: EndpointId,
    pub since: Millis,
    pub until: Millis,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Only messages whose delivery to the endpoint is in this status (Svix's codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    /// Only messages with an attempt to the endpoint answered in this class (0: no answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code_class: Option<u16>,
    /// Count what would be sent, and send nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// How far a task has come, reported as its `data` (Svix: `messagesSent`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskProgress {
    /// Messages sent again (0 for a dry run).
    pub messages_sent: u64,
    /// Messages that matched (for a dry run, what would have been sent).
    pub messages_matched: u64,
    /// Messages of the window looked at so far.
    pub messages_scanned: u64,
    /// Messages that matched but could not be sent: retention had purged their payload.
    #[serde(default)]
    pub messages_expired: u64,
    /// Why a failed task stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TaskProgress {
    /// Counts one replay batch: `sent` messages sent (or, in a dry run, that would be) and
    /// `expired` that matched without a payload to send.
    pub fn count_replayed(&mut self, sent: u64, expired: u64, dry_run: bool) {
        self.messages_matched += sent + expired;
        if !dry_run {
            self.messages_sent += sent;
        }
        self.messages_expired += expired;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub app_id: AppId,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub params: TaskParams,
    pub progress: TaskProgress,
    /// The last message of the window done: the next batch starts after it.
    pub position: Option<MessageId>,
    pub created_at: Millis,
    pub updated_at: Millis,
}
