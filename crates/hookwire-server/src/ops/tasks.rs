//! Background tasks (Svix's `qtask_…`): replay-missing, bulk-replay and recover walk a window of
//! an application's messages in batches and hand what they find to the one intake. One runner per
//! process takes one task at a time (leased, so on PostgreSQL one node runs it), saves its
//! position and counts after every batch, and so resumes where it stopped after a restart (on
//! another node when its own died). Memory is one batch; the pace is set by the endpoint's
//! backlog, so a replay of a million messages never buries live traffic.

use std::sync::Arc;
use std::time::Duration;

use hookwire_core::model::{Endpoint, Status};
use hookwire_core::task::{Task, TaskKind, TaskParams, TaskProgress, TaskStatus};
use hookwire_core::{AppId, TaskId};
use hookwire_store::{MessageMatch, Store, StoreError, StoreResult, Window};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::intake::{Intake, IntakeError, Replay};

/// Messages read per batch: memory is at most this many payloads.
pub const TASK_BATCH_MESSAGES: usize = 200;
/// How long a task stays leased without a saved batch; renewed by every batch.
pub const TASK_LEASE_MS: i64 = 60_000;
/// A task sends its next batch only while its endpoint has fewer deliveries than this waiting.
pub const TASK_ENDPOINT_BACKLOG_MAX: u64 = 1_000;
/// Store failures in a row after which a task is reported failed.
const TASK_STORE_FAILURES_MAX: u32 = 5;
/// How often an idle runner looks for tasks it was not told of (another node's, or one whose
/// runner died).
const IDLE_POLL: Duration = Duration::from_secs(5);
/// How long a task waits for its endpoint's backlog to shrink before looking again.
const BACKLOG_WAIT: Duration = Duration::from_millis(250);

/// Starts background tasks and runs them.
#[derive(Clone)]
pub struct Tasks {
    store: Arc<dyn Store>,
    intake: Arc<Intake>,
    clock: SharedClock,
    wake: Arc<Notify>,
}

/// Why a batch stopped the task.
enum Stop {
    /// The task cannot go on (its endpoint is gone or disabled): reported as failed.
    Failed(String),
    /// A store failure, perhaps passing: tried again a few times.
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<IntakeError> for Stop {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::Store(error) => Self::Store(error),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// What a batch left to do.
enum Step {
    More,
    Done,
}

impl Tasks {
    pub fn new(store: Arc<dyn Store>, intake: Arc<Intake>, clock: SharedClock) -> Self {
        Self { store, intake, clock, wake: Arc::new(Notify::new()) }
    }

    /// Records a new running task over `params` for `app` and wakes the runner.
    pub async fn start(&self, app: AppId, kind: TaskKind, params: TaskParams) -> StoreResult<Task> {
        let now = self.clock.now();
        let task = Task {
            id: TaskId::generate(),
            app_id: app,
            kind,
            status: TaskStatus::Running,
            params,
            progress: TaskProgress::default(),
            position: None,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_task(task.clone()).await?;
        self.wake.notify_one();
        Ok(task)
    }

    /// Runs tasks, one at a time, until `cancel` fires; a task being run then is handed back
    /// with its position saved.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            let now = self.clock.now();
            let claimed = tokio::select! {
                _ = cancel.cancelled() => return,
                claimed = self.store.claim_task(now, now + TASK_LEASE_MS) => claimed,
            };
            match claimed {
                Ok(Some(task)) => self.drive(task, &cancel).await,
                Ok(None) => {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot look for background tasks; will try again");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                    }
                }
            }
        }
    }

    /// Runs one claimed task batch by batch until it finishes, fails, is lost to another
    /// process, or the server stops.
    async fn drive(&self, mut task: Task, cancel: &CancellationToken) {
        tracing::info!(task_id = %task.id, task = task.kind.name(), "background task running");
        let mut failures = 0;
        loop {
            if cancel.is_cancelled() {
                if let Err(error) = self.store.save_task(&task, None).await {
                    tracing::warn!(task_id = %task.id, %error, "cannot hand back background task; it resumes when its lease lapses");
                }
                return;
            }
            let step = self.step(&mut task, cancel).await;
            let now = self.clock.now();
            task.updated_at = now;
            let lease = match step {
                Ok(Step::More) => {
                    failures = 0;
                    Some(now + TASK_LEASE_MS)
                }
                Ok(Step::Done) => {
                    task.status = TaskStatus::Finished;
                    tracing::info!(task_id = %task.id, sent = task.progress.messages_sent, "background task finished");
                    None
                }
                Err(Stop::Failed(reason)) => {
                    task.status = TaskStatus::Failed;
                    tracing::warn!(task_id = %task.id, %reason, "background task failed");
                    task.progress.error = Some(reason);
                    None
                }
                Err(Stop::Store(error)) => {
                    failures += 1;
                    if failures >= TASK_STORE_FAILURES_MAX {
                        task.status = TaskStatus::Failed;
                        task.progress.error = Some(format!("storage: {error}"));
                        tracing::warn!(task_id = %task.id, %error, "background task failed");
                        None
                    } else {
                        tracing::warn!(task_id = %task.id, %error, "background task batch failed; will try again");
                        tokio::select! {
                            _ = cancel.cancelled() => {}
                            _ = tokio::time::sleep(Duration::from_secs(1 << failures)) => {}
                        }
                        Some(now + TASK_LEASE_MS)
                    }
                }
            };
            match self.store.save_task(&task, lease).await {
                Ok(true) if lease.is_some() => {}
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(task_id = %task.id, "background task taken over by another process");
                    return;
                }
                Err(error) => {
                    // The batch is done but its position is not saved: when the lease lapses the
                    // task resumes from the last saved position and sends that batch again (a
                    // replay is at least once, like every delivery).
                    tracing::warn!(task_id = %task.id, %error, "cannot save background task; it resumes when its lease lapses");
                    return;
                }
            }
            tokio::task::yield_now().await;
        }
    }

    /// One batch of a task: waits for room at its endpoint, reads the next messages of its
    /// window, and sends (or recovers) those that qualify.
    async fn step(&self, task: &mut Task, cancel: &CancellationToken) -> Result<Step, Stop> {
        let endpoint = self.endpoint(task).await?;
        let params = &task.params;
        if !params.dry_run && !self.room_at(&endpoint, task, cancel).await? {
            return Ok(Step::More);
        }
        let window = Window {
            app: task.app_id,
            endpoint: endpoint.id,
            since: params.since,
            until: params.until,
            after: task.position,
            matching: MessageMatch {
                event_types: params.event_types.clone(),
                channel: params.channel.clone(),
                tag: params.tag.clone(),
            },
        };
        let batch = self.store.window_batch(&window, TASK_BATCH_MESSAGES).await?;
        let Some((last, _)) = batch.last() else {
            return Ok(Step::Done);
        };
        let position = last.id;
        let scanned = batch.len() as u64;
        let progress = &mut task.progress;
        match task.kind {
            TaskKind::EndpointReplay => {
                let missing: Vec<_> = batch.into_iter().filter(|(_, d)| d.is_empty()).map(|(m, _)| m).collect();
                let replayed = self.intake.replay(&endpoint, &missing, Replay::IfSubscribed, params.dry_run).await?;
                progress.count_replayed(replayed.sent, replayed.expired, params.dry_run);
            }
            TaskKind::EndpointBulkReplay => {
                let mut sent: Vec<_> = batch
                    .into_iter()
                    .filter(|(_, deliveries)| match params.status {
                        Some(status) => deliveries.iter().any(|d| d.status.code() == status),
                        None => !deliveries.is_empty(),
                    })
                    .map(|(message, _)| message)
                    .collect();
                if let Some(class) = params.status_code_class {
                    let ids = sent.iter().map(|m| m.id).collect();
                    let answered = self.store.answered_in_class(endpoint.id, ids, class).await?;
                    sent.retain(|m| answered.contains(&m.id));
                }
                let replayed = self.intake.replay(&endpoint, &sent, Replay::Always, params.dry_run).await?;
                progress.count_replayed(replayed.sent, replayed.expired, params.dry_run);
            }
            TaskKind::EndpointRecover => {
                let (mut messages, mut expired) = (0, 0);
                let mut failed = Vec::new();
                for (message, deliveries) in &batch {
                    let before = failed.len();
                    if message.payload.is_none() {
                        // Nothing to send again: counted, not re-armed.
                        expired += u64::from(deliveries.iter().any(|d| d.status == Status::Fail));
                        continue;
                    }
                    failed.extend(deliveries.iter().filter(|d| d.status == Status::Fail).map(|d| d.id));
                    messages += u64::from(failed.len() > before);
                }
                progress.messages_matched += messages + expired;
                progress.messages_expired += expired;
                if !params.dry_run && !failed.is_empty() {
                    let recovered = self.intake.recover(failed).await?;
                    progress.messages_sent += recovered.min(messages);
                }
            }
        }
        progress.messages_scanned += scanned;
        task.position = Some(position);
        Ok(Step::More)
    }

    /// The task's endpoint as it is now: a task stops when it was deleted or disabled.
    async fn endpoint(&self, task: &Task) -> Result<Arc<Endpoint>, Stop> {
        let id = task.params.endpoint_id.to_string();
        match self.store.get_endpoint(task.app_id, &id).await? {
            None => Err(Stop::Failed(format!("endpoint {id} was deleted"))),
            Some(endpoint) if endpoint.disabled => Err(Stop::Failed(format!(
                "endpoint {id} was disabled; enable it and start the task again to send the rest"
            ))),
            Some(endpoint) => Ok(Arc::new(endpoint)),
        }
    }

    /// Waits while the endpoint has a full backlog, keeping the task's lease; false when the
    /// server began to stop meanwhile.
    async fn room_at(&self, endpoint: &Endpoint, task: &Task, cancel: &CancellationToken) -> Result<bool, Stop> {
        let mut last_saved = self.clock.now();
        while self.store.count_pending(endpoint.id, TASK_ENDPOINT_BACKLOG_MAX).await? >= TASK_ENDPOINT_BACKLOG_MAX {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(false),
                _ = tokio::time::sleep(BACKLOG_WAIT) => {}
            }
            let now = self.clock.now();
            if now - last_saved >= TASK_LEASE_MS / 4 {
                if !self.store.save_task(task, Some(now + TASK_LEASE_MS)).await? {
                    return Err(Stop::Failed("taken over by another process".into()));
                }
                last_saved = now;
            }
        }
        Ok(true)
    }
}
