//! Hookwire's storage. The `Store` trait is everything the server may ask of a database; this
//! crate is the only place with SQL. SQLite is the embedded default; PostgreSQL implements the
//! same trait. Correctness state (leases, idempotency keys, schedules) lives here, never only
//! in one process's memory.

mod activity;
mod cache;
mod error;
mod json;
pub mod postgres;
mod query;
mod secrets;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use hookwire_core::access::IssuedToken;
use hookwire_core::activity::{Bucket, Counts, QueueSample, Resolution};
use hookwire_core::destination::{Destination, DestinationAttempt, Progress};
use hookwire_core::model::{Application, Attempt, Delivery, Endpoint, EventType, Message, Status};
use hookwire_core::task::{Task, TaskKind, TaskStatus};
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, AttemptId, DeliveryId, DestinationId, EndpointId, MessageId, TaskId};
use tokio::sync::Notify;

pub use error::{StoreError, StoreResult};
pub use query::{
    AppFilter, AttemptFilter, AttemptScope, EndpointMessageFilter, MessageFilter, MessageMatch, Page, StatusCounts,
};

/// A message to commit together with its deliveries, in one transaction.
#[derive(Debug, Clone)]
pub struct Accept {
    /// Shared with the jobs the caller hands to its workers: the payload is not copied.
    pub message: Arc<Message>,
    pub deliveries: Vec<Delivery>,
    /// When set, the deliveries are inserted already leased until then: the caller hands them
    /// straight to its dispatcher, so no claim round-trip is needed.
    pub leased_until: Option<Millis>,
    pub idempotency_key: Option<String>,
    /// Endpoints whose filter could not be evaluated on this message, and why: counted against
    /// each endpoint in the same transaction.
    pub filter_errors: Vec<(EndpointId, String)>,
}

/// A delivery given back without an attempt (deferred by flow control, handed back before its
/// lease runs out, cancelled, parked): moved on as `update` says and unleased, but only while
/// the lease it was taken under (`leased_until`) is still its lease, so a copy that outlived
/// its lease can never undo a newer claim.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub delivery: DeliveryId,
    /// The delivery's message (where PostgreSQL finds a delivery still in flight without a row).
    pub msg: MessageId,
    pub leased_until: Millis,
    pub update: DeliveryUpdate,
}

#[derive(Debug, Clone)]
pub enum Accepted {
    Created,
    /// The idempotency key was seen before: this is the message it created.
    Existing(Box<Message>),
}

/// What `Store::save_progress` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressSaved {
    Saved,
    /// The lease is another sender's (or the destination is gone): nothing saved.
    LeaseLost,
    /// The destination's settings changed since the ones the progress was worked out with:
    /// nothing saved.
    SettingsChanged,
}

/// A claimed delivery with what sending it needs. The deliveries of one message in a claim share
/// the message (read once, payload not copied). A claim never returns a delivery whose message
/// or endpoint is gone (deleted meanwhile): it deletes it instead.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub message: Arc<Message>,
    /// Shared by every delivery of the batch to the same endpoint (its secrets opened once).
    pub endpoint: Arc<Endpoint>,
}

/// Pending deliveries by when they can go, for the queue gauges (a scrape-time count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Due by `now` and not yet attempted (waiting for the poller, or claimed and in memory).
    pub due: u64,
    /// Due after `now`: retries and future `deliverAt` messages.
    pub scheduled: u64,
    /// Parked without a due time until their endpoint is verified.
    pub parked: u64,
}

/// The state a delivery moves to after an attempt.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryUpdate {
    pub status: Status,
    pub attempts: u32,
    pub next_attempt_at: Option<Millis>,
    /// When the delivery was made (never changed by an update): a first outcome that finds no
    /// row stored (PostgreSQL's fan-out in flight, `postgres/inflight.rs`) inserts it with this.
    pub created_at: Millis,
}

#[async_trait]
pub trait ResourceStore: Send + Sync {
    async fn create_app(&self, app: Application) -> StoreResult<()>;
    /// By id or by uid.
    /// Whether the database answers a trivial query (health checks), within the store's bounds.
    async fn ping(&self) -> StoreResult<()>;
    async fn get_app(&self, id_or_uid: &str) -> StoreResult<Option<Application>>;
    async fn list_apps(&self, filter: &AppFilter) -> StoreResult<Vec<Application>>;
    async fn update_app(&self, app: Application) -> StoreResult<()>;
    /// Deletes the application and everything under it.
    async fn delete_app(&self, id: AppId) -> StoreResult<()>;

    async fn create_endpoint(&self, endpoint: Endpoint) -> StoreResult<()>;
    async fn get_endpoint(&self, app: AppId, id_or_uid: &str) -> StoreResult<Option<Endpoint>>;
    async fn list_endpoints(&self, app: AppId, page: &Page) -> StoreResult<Vec<Endpoint>>;
    /// Every endpoint of an application, for fan-out.
    async fn app_endpoints(&self, app: AppId) -> StoreResult<Vec<Arc<Endpoint>>>;
    async fn update_endpoint(&self, endpoint: Endpoint) -> StoreResult<()>;
    async fn delete_endpoint(&self, app: AppId, id: EndpointId) -> StoreResult<()>;

    async fn create_event_type(&self, event_type: EventType) -> StoreResult<()>;
    async fn get_event_type(&self, name: &str) -> StoreResult<Option<EventType>>;
    async fn list_event_types(&self, page: &Page, include_archived: bool) -> StoreResult<Vec<EventType>>;
    async fn update_event_type(&self, event_type: EventType) -> StoreResult<()>;
    /// Deletes an event type for good (`expunge`).
    async fn delete_event_type(&self, name: &str) -> StoreResult<()>;

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores `value` unless `key` is set; returns the value in force afterwards.
    async fn put_setting_if_absent(&self, key: &str, value: &str) -> StoreResult<String>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Commits the message and its deliveries durably before returning.
    async fn accept_message(&self, accept: Accept) -> StoreResult<Accepted>;
    async fn get_message(&self, app: AppId, id: MessageId) -> StoreResult<Option<Message>>;
    /// The application's message with this `eventId` (unique within an application).
    async fn get_message_by_event_id(&self, app: AppId, event_id: &str) -> StoreResult<Option<Message>>;
    async fn list_messages(&self, app: AppId, filter: &MessageFilter) -> StoreResult<Vec<Message>>;
    async fn expunge_message_content(&self, app: AppId, id: MessageId) -> StoreResult<()>;
    /// Retention, one small batch: purges up to `batch` payloads whose time is up at `now` and
    /// up to `batch` attempt response bodies recorded before `responses_before`. Returns how
    /// many were purged; call again while it returns `2 * batch`-ish amounts.
    async fn purge_expired(&self, now: Millis, responses_before: Millis, batch: usize) -> StoreResult<u64>;
    /// Retention by the table, where the store partitions messages, deliveries and attempts by
    /// time (PostgreSQL): creates the weeks to come and drops each week that ended before
    /// `ended_before` and whose messages keep no payload. SQLite has no partitions (its
    /// retention is `purge_expired` alone): nothing to do.
    async fn maintain_partitions(&self, now: Millis, ended_before: Millis) -> StoreResult<PartitionsMaintained> {
        let _ = (now, ended_before);
        Ok(PartitionsMaintained::default())
    }
}

/// What one [`MessageStore::maintain_partitions`] did, each week named by its partitions' suffix
/// (`20261130`, `legacy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionsMaintained {
    /// Weeks created ahead.
    pub created: Vec<String>,
    /// Weeks dropped: their messages, tags, deliveries and attempts are gone.
    pub dropped: Vec<String>,
    /// Weeks past retention kept because a message in them still has its payload.
    pub kept: Vec<String>,
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Leases up to `limit` due, unleased deliveries until `lease_until`, none to an endpoint in
    /// `skip` (those whose queue in this process is full: claiming more of theirs would only
    /// give it back).
    async fn claim_due(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: usize,
        skip: &[EndpointId],
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records attempts and moves their deliveries on, releasing their leases, in one write;
    /// answers each in order with since when its endpoint has failed without a success (`None`
    /// after a success), as of the end of the batch.
    async fn record_attempts(&self, records: Vec<(Attempt, DeliveryUpdate)>) -> Vec<StoreResult<Option<Millis>>>;
    /// `record_attempts` for one attempt.
    async fn record_attempt(&self, attempt: Attempt, update: DeliveryUpdate) -> StoreResult<Option<Millis>> {
        self.record_attempts(vec![(attempt, update)]).await.pop().expect("one answer per record")
    }
    /// Disables an endpoint (auto-disable); false when it already was.
    async fn disable_endpoint(&self, endpoint: EndpointId, now: Millis) -> StoreResult<bool>;
    /// Inserts new deliveries of stored messages (resend), due at their `next_attempt_at`;
    /// leased until `leased_until` when given (the caller hands them to its workers).
    async fn insert_deliveries(&self, deliveries: Vec<Delivery>, leased_until: Option<Millis>) -> StoreResult<()>;
    /// Releases the leases this process holds, so other processes may take the work at once.
    /// On SQLite that is every lease (one process owns the data directory, so any other lease is
    /// from a crashed predecessor): called on start and after shutdown. On PostgreSQL it is this
    /// node's leases, and the node leaves the registry: called after shutdown.
    async fn release_leases(&self) -> StoreResult<u64>;
    /// The earliest `next_attempt_at` among pending deliveries that are unleased (or whose
    /// lease lapsed by `now`), to endpoints not in `skip`: when the poller next has work.
    async fn next_due_at(&self, now: Millis, skip: &[EndpointId]) -> StoreResult<Option<Millis>>;
    /// How many pending deliveries are due by `now`, scheduled later, and parked (for metrics).
    async fn queue_depth(&self, now: Millis) -> StoreResult<QueueDepth>;
    /// Moves deliveries on without an attempt, in one write; a release whose lease is no longer
    /// the delivery's lease changes nothing. Returns how many moved.
    async fn release_deliveries(&self, releases: Vec<Release>, now: Millis) -> StoreResult<u64>;
    async fn message_deliveries(&self, msg: MessageId) -> StoreResult<Vec<Delivery>>;
    /// Makes the deliveries parked for an unverified endpoint due now; returns how many.
    async fn release_parked(&self, endpoint: EndpointId, now: Millis) -> StoreResult<u64>;
    /// Messages sent to one endpoint with their delivery, newest first.
    async fn endpoint_messages(
        &self,
        app: AppId,
        endpoint: EndpointId,
        filter: &EndpointMessageFilter,
    ) -> StoreResult<Vec<(Message, Delivery)>>;
    /// An endpoint's deliveries by status, those created in `[since, until)`, and its filter
    /// failures.
    async fn endpoint_stats(&self, endpoint: EndpointId, since: Millis, until: Millis) -> StoreResult<StatusCounts>;
    /// Deletes an attempt's response body.
    async fn expunge_attempt_content(&self, app: AppId, id: AttemptId) -> StoreResult<()>;
    async fn list_attempts(&self, app: AppId, filter: &AttemptFilter) -> StoreResult<Vec<Attempt>>;
    async fn get_attempt(&self, app: AppId, id: AttemptId) -> StoreResult<Option<Attempt>>;

    /// Woken when another process makes deliveries due (PostgreSQL's LISTEN/NOTIFY); `None` when
    /// this process is the only one that writes work.
    fn due_signal(&self) -> Option<Arc<Notify>> {
        None
    }

    /// Flow state that several processes share; `None` when one process owns the store and keeps
    /// flow state in memory.
    fn shared_flow(&self) -> Option<&dyn SharedFlow> {
        None
    }
}

/// Per-endpoint flow state kept in the database, so every node sharing it obeys the same limits.
#[async_trait]
pub trait SharedFlow: Send + Sync {
    /// Reserves the endpoint's next send slot under a throttle of one send per `interval_ms`:
    /// `Ok(at)` when the slot at `at` (no later than `now + hold_max_ms`) is now this caller's,
    /// `Err(at)` when the next free slot is later than that (nothing reserved).
    async fn reserve_send_slot(
        &self,
        endpoint: EndpointId,
        interval_ms: Millis,
        now: Millis,
        hold_max_ms: Millis,
    ) -> StoreResult<Result<Millis, Millis>>;
    /// Pauses every delivery to the endpoint until `until` (a 429/503 `Retry-After`): every
    /// node's claims skip it, and every node hears of it through `pauses`.
    async fn pause_endpoint(&self, endpoint: EndpointId, until: Millis) -> StoreResult<()>;
    /// Pauses announced by any node (this one included), for the nodes' in-memory gates.
    fn pauses(&self) -> tokio::sync::broadcast::Receiver<EndpointPause>;
}

/// An endpoint paused by a `Retry-After`, as announced to every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointPause {
    pub endpoint: EndpointId,
    pub until: Millis,
}

/// A POST request's `idempotency-key`, as `RequestStore` keeps it: whose (`scope`: the caller),
/// the key, and a digest of the request it first came with (method, path, query and body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub scope: String,
    pub key: String,
    pub fingerprint: String,
}

/// The first answer to a request, kept for a retry with the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub body: String,
}

/// What a request with an idempotency key is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBegun {
    /// Run it: the key is new (or expired, or its first request stopped answering); it is now
    /// held, as of the `now` given, until `finish_request`.
    Run,
    /// The key's first request answered this: answer it again without running.
    Replay(StoredAnswer),
    /// The key's first request is still running.
    InProgress,
    /// The key came with a different request.
    Mismatch,
}

impl RequestBegun {
    /// What a key that could not be claimed means, from its row (fingerprint, status, body);
    /// `None`: the first request failed and let it go in between, so it is still in progress
    /// as far as this one knows (a retry runs it).
    pub(crate) fn of_held(key: &RequestKey, held: Option<(String, Option<u16>, Option<String>)>) -> Self {
        match held {
            Some((fingerprint, _, _)) if fingerprint != key.fingerprint => Self::Mismatch,
            Some((_, Some(status), body)) => Self::Replay(StoredAnswer { status, body: body.unwrap_or_default() }),
            _ => Self::InProgress,
        }
    }
}

/// Idempotency keys of POST requests (message create keeps its key with the message instead).
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Claims `key` as of `now`. A key first seen before `expired_before` counts as new; one
    /// whose request has not answered since before `stale_before` (its node stopped) is taken over.
    async fn begin_request(
        &self,
        key: &RequestKey,
        now: Millis,
        stale_before: Millis,
        expired_before: Millis,
    ) -> StoreResult<RequestBegun>;
    /// Keeps the answer of the request that claimed `key` at `began` (`None`: forgets the key,
    /// so that a retry runs again). Nothing changes if another request took the key over.
    async fn finish_request(&self, key: &RequestKey, began: Millis, answer: Option<StoredAnswer>) -> StoreResult<()>;
    /// Deletes keys first seen before `before`; returns how many.
    async fn purge_request_keys(&self, before: Millis) -> StoreResult<u64>;
}

/// Issued tokens: application tokens and dashboard sessions, kept by the hash of the token.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_token(&self, token: IssuedToken) -> StoreResult<()>;
    async fn get_token(&self, hash: &str) -> StoreResult<Option<IssuedToken>>;
    /// Deletes one token (logout, sign-out); false when there was none.
    async fn delete_token(&self, hash: &str) -> StoreResult<bool>;
    /// Makes the application's tokens (only those of `sessions`, when given) expire at `at`,
    /// unless they expire sooner; returns how many were shortened.
    async fn expire_app_tokens(&self, app: AppId, sessions: Option<Vec<String>>, at: Millis) -> StoreResult<u64>;
    /// Deletes tokens that expired before `now`; returns how many.
    async fn purge_expired_tokens(&self, now: Millis) -> StoreResult<u64>;
}

/// Background tasks (replays, recoveries) and the batched reads and writes they run on.
#[async_trait]
pub trait TaskStore: Send + Sync {
    async fn insert_task(&self, task: Task) -> StoreResult<()>;
    async fn get_task(&self, id: TaskId) -> StoreResult<Option<Task>>;
    async fn list_tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<Task>>;
    /// Leases a running task that no process holds (or whose lease lapsed by `now`) until
    /// `lease_until`, oldest first.
    async fn claim_task(&self, now: Millis, lease_until: Millis) -> StoreResult<Option<Task>>;
    /// Saves a task's status, progress and position, and holds its lease until `lease_until`
    /// (`None` releases it: finished, failed, or handed back at shutdown). False when another
    /// process took the task meanwhile (its lease lapsed): nothing was saved; stop running it.
    async fn save_task(&self, task: &Task, lease_until: Option<Millis>) -> StoreResult<bool>;
    /// Deletes finished and failed tasks last saved before `before` (retention); returns how
    /// many. A running task is kept however old.
    async fn purge_tasks(&self, before: Millis) -> StoreResult<u64>;
    /// How many of the endpoint's deliveries wait to be attempted, counting no further than
    /// `cap` (a task paces itself by it, so a replay never buries live traffic).
    async fn count_pending(&self, endpoint: EndpointId, cap: u64) -> StoreResult<u64>;
    /// One batch of a task's window: messages of `app` created in `[since, until)` after
    /// `after` (by id), matching `matching`, oldest first, each with its deliveries to `endpoint`.
    async fn window_batch(&self, window: &Window, limit: usize) -> StoreResult<Vec<(Message, Vec<Delivery>)>>;
    /// Of `messages`, those with an attempt to `endpoint` answered in `class` (0: no answer).
    async fn answered_in_class(
        &self,
        endpoint: EndpointId,
        messages: Vec<MessageId>,
        class: u16,
    ) -> StoreResult<std::collections::HashSet<MessageId>>;
    /// Makes these deliveries due again at `now` if they are still failed (recover); returns how
    /// many.
    async fn rearm_failed(&self, deliveries: Vec<DeliveryId>, now: Millis) -> StoreResult<u64>;
}

/// A stretch of an application's messages, as a background task walks it.
#[derive(Debug, Clone)]
pub struct Window {
    pub app: AppId,
    pub endpoint: EndpointId,
    pub since: Millis,
    pub until: Millis,
    pub after: Option<MessageId>,
    pub matching: MessageMatch,
}

/// Which background tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub page: Page,
    /// Only this application's tasks (an application token sees no others).
    pub app: Option<AppId>,
    pub status: Option<TaskStatus>,
    pub kind: Option<TaskKind>,
}

/// Everything the server needs from a database.
/// Destinations and the application's message log they read (`DestinationStore`).
///
/// A log position is opaque text this store made: on SQLite the application's sequence number
/// of a message (assigned by the one writer, so in commit order); on PostgreSQL the writing
/// transaction's id and the message id, read only below every running transaction's id, so no
/// message committed later can appear behind a position already read.
#[async_trait]
pub trait DestinationStore: Send + Sync {
    async fn create_destination(&self, destination: Destination) -> StoreResult<()>;
    /// By id or uid.
    async fn get_destination(&self, app: AppId, key: &str) -> StoreResult<Option<Destination>>;
    async fn list_destinations(&self, app: AppId, page: &Page) -> StoreResult<Vec<Destination>>;
    /// Up to `limit` destinations of every application, oldest first (the metrics' lag gauges).
    async fn all_destinations(&self, limit: usize) -> StoreResult<Vec<Destination>>;
    async fn update_destination(&self, destination: Destination) -> StoreResult<()>;
    /// Deletes it and its consumers' positions; false when there was none.
    async fn delete_destination(&self, app: AppId, id: DestinationId) -> StoreResult<bool>;
    /// The end of the application's log now: every message committed later is after it.
    async fn log_end(&self, app: AppId) -> StoreResult<String>;
    /// A position just before the application's first message created after `time` (by id,
    /// which is time-ordered), or the end.
    async fn log_position_after(&self, app: AppId, time: Millis) -> StoreResult<String>;
    /// Up to `limit` messages after `position`, in log order, each with its own position.
    /// `StoreError::Invalid` when `position` is not one this store made.
    async fn read_log(&self, app: AppId, position: &str, limit: usize) -> StoreResult<Vec<(String, Message)>>;
    async fn consumer_position(&self, destination: DestinationId, consumer: &str) -> StoreResult<Option<String>>;
    /// The owner a FIFO sender should lease under: on a shared store this node's registered id,
    /// whose heartbeat keeps the lease alive (a node that dies loses its leases when its
    /// heartbeat goes stale, not only when they expire); `None`: any name of the sender's own.
    fn sender_owner(&self) -> Option<String> {
        None
    }
    /// Leases up to `limit` driven destinations (enabled `fifoEndpoint`s) whose lease is free or
    /// lapsed and whose retry is due by `now` (or, unless `timed_only`, which wait for company
    /// for a partial batch) to `owner` until `lease_until`; with `timed_only`, only those with
    /// a time that came (a retry or a batch's wait due, or a lapsed lease): a sender that was
    /// not told of new messages looks at nothing else.
    async fn claim_driven(
        &self,
        now: Millis,
        owner: &str,
        lease_until: Millis,
        limit: usize,
        timed_only: bool,
    ) -> StoreResult<Vec<Destination>>;
    /// Saves a driven destination's progress, with the attempt that moved it (kept in its
    /// attempt log, the newest `ATTEMPTS_KEPT`), if `owner` holds its lease (else `LeaseLost`:
    /// it lapsed and another sender took it) and, given `settings` (an `updatedAt`), if the
    /// destination's settings are still those (else `SettingsChanged`: progress worked out
    /// with settings the API has since replaced is not saved). Nothing is saved unless `Saved`.
    /// The lease is freed, or with `keep_until` kept and extended (a sender going on to its
    /// next batch).
    async fn save_progress(
        &self,
        id: DestinationId,
        owner: &str,
        progress: &Progress,
        attempt: Option<&DestinationAttempt>,
        keep_until: Option<Millis>,
        settings: Option<Millis>,
    ) -> StoreResult<ProgressSaved>;
    /// A `fifoEndpoint`'s batch attempts, by id (newest first unless the page is ascending).
    async fn list_destination_attempts(
        &self,
        destination: DestinationId,
        page: &Page,
    ) -> StoreResult<Vec<DestinationAttempt>>;
    async fn get_destination_attempt(
        &self,
        destination: DestinationId,
        id: AttemptId,
    ) -> StoreResult<Option<DestinationAttempt>>;
    /// How many messages of the application's log are after `position`, counting up to `cap`.
    async fn log_behind(&self, app: AppId, position: &str, cap: u64) -> StoreResult<u64>;
    /// The position of the polling endpoint's consumer furthest behind, if it has any.
    async fn slowest_consumer(&self, destination: DestinationId) -> StoreResult<Option<String>>;
    /// Sets a driven destination's progress from outside the sender (skip), taking its lease
    /// away: a sender holding it finds its next save refused and stops, so the change wins over
    /// a batch in flight. False when there is no such destination.
    async fn set_progress(&self, id: DestinationId, progress: &Progress) -> StoreResult<bool>;
    /// Makes a driven destination's failing batch due now (force-retry), touching nothing else
    /// but its lease, taken away as by `set_progress`. False when there is no such destination.
    async fn retry_now(&self, id: DestinationId) -> StoreResult<bool>;
    async fn save_consumer_position(
        &self,
        destination: DestinationId,
        consumer: &str,
        position: &str,
        now: Millis,
    ) -> StoreResult<()>;
}

/// One endpoint's activity in one minute, to add to its minute and its hour.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
    /// Any time in the minute (floored by the store).
    pub at: Millis,
    pub counts: Counts,
}

/// Which activity to read: every application's, one application's, or one endpoint's.
#[derive(Debug, Clone, Copy)]
pub struct ActivityQuery {
    pub app: Option<AppId>,
    pub endpoint: Option<EndpointId>,
    pub resolution: Resolution,
    pub since: Millis,
    pub until: Millis,
}

/// One endpoint's activity totals over a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointActivity {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
    pub counts: Counts,
}

/// Delivery activity over time (`hookwire_core::activity`), for charts.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Adds each row's counts to its minute and its hour, in one write.
    async fn add_activity(&self, rows: Vec<ActivityRow>) -> StoreResult<()>;
    /// Keeps the larger of this and any other sample of the same minute.
    async fn sample_queue(&self, sample: QueueSample) -> StoreResult<()>;
    /// The buckets with activity in `[since, until)` (starts floored to the resolution), summed
    /// over the endpoints in scope, oldest first.
    async fn activity(&self, query: &ActivityQuery) -> StoreResult<Vec<Bucket>>;
    /// The endpoints in scope with activity in `[since, until)` and their totals, most failed
    /// attempts first (then most attempts), at most `limit`.
    async fn activity_by_endpoint(&self, query: &ActivityQuery, limit: usize) -> StoreResult<Vec<EndpointActivity>>;
    /// Queue samples in `[since, until)`, the largest per bucket of `resolution`, oldest first.
    async fn queue_history(
        &self,
        resolution: Resolution,
        since: Millis,
        until: Millis,
    ) -> StoreResult<Vec<QueueSample>>;
    /// Deletes rows older than their resolution keeps them; returns how many.
    async fn purge_activity(&self, now: Millis) -> StoreResult<u64>;
}

pub trait Store:
    ResourceStore + MessageStore + DeliveryStore + TokenStore + RequestStore + TaskStore + DestinationStore + ActivityStore
{
}

impl<
    T: ResourceStore
        + MessageStore
        + DeliveryStore
        + TokenStore
        + RequestStore
        + TaskStore
        + DestinationStore
        + ActivityStore,
> Store for T
{
}

/// The store traits, for `use hookwire_store::prelude::*` where store methods are called.
pub mod prelude {
    pub use crate::{
        ActivityStore, DeliveryStore, DestinationStore, MessageStore, RequestStore, ResourceStore, SharedFlow, Store,
        TaskStore, TokenStore,
    };
}
