//! The delivery engine. Work reaches the workers two ways: fresh messages are handed over by the
//! accept path (their deliveries committed already leased to this process), and everything else
//! (retries, resends, work left by a crash) is claimed from the store by the poller with a lease.
//! Workers run each attempt as a tracked task under a global concurrency bound and hand the
//! outcome to the recorder (recorder.rs), which writes outcomes in batches off the endpoints'
//! slots; the store, not memory, decides what is due.

pub mod events;
pub mod fanout;
pub mod flow;
mod recorder;
pub mod sender;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use hookwire_core::model::{Delivery, Endpoint, Message};
use hookwire_core::time_fmt::Millis;
use hookwire_store::Store;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::state::now;
use flow::{Admission, FlowControl};
use worker::Worker;

/// How long a claimed delivery belongs to this process. Longer than any attempt can take
/// (30 s timeout) plus queueing, so a live process never has its work taken over.
pub const LEASE_MS: Millis = 5 * 60 * 1_000;
/// Jobs waiting for a worker; beyond this, accepts leave work to the poller.
const QUEUE_CAPACITY: usize = 4_096;
/// Deliveries claimed per store round-trip.
const CLAIM_BATCH: usize = 256;
/// Longest the poller sleeps without being woken.
const POLL_INTERVAL_MAX_MS: u64 = 1_000;
/// Pause after a claim round found the due work taken by another node.
const CLAIM_RACE_RETRY_MS: u64 = 50;

/// One delivery ready to send.
pub struct Job {
    pub delivery: Delivery,
    pub message: Arc<Message>,
    pub endpoint: Arc<Endpoint>,
}

/// The handle the API uses to hand over work and wake the poller.
#[derive(Clone)]
pub struct Dispatcher {
    queue: mpsc::Sender<Job>,
    wake: Arc<Notify>,
    flow: Arc<FlowControl>,
}

/// Room reserved in the worker queue for the deliveries of one message.
pub struct Reservation<'a> {
    permits: mpsc::PermitIterator<'a, Job>,
}

impl Reservation<'_> {
    pub fn send(self, jobs: impl IntoIterator<Item = Job>) {
        for (permit, job) in self.permits.zip(jobs) {
            permit.send(job);
        }
    }
}

impl Dispatcher {
    /// Reserves queue room for `count` jobs, or `None` when the queue is full (or `count` is 0).
    pub fn try_reserve(&self, count: usize) -> Option<Reservation<'_>> {
        if count == 0 {
            return None;
        }
        self.queue.try_reserve_many(count).ok().map(|permits| Reservation { permits })
    }

    /// Tells the poller that due work may be waiting in the store.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The per-endpoint flow control the workers pass every job through (for metrics).
    pub fn flow(&self) -> &FlowControl {
        &self.flow
    }
}

/// How the engine runs: its global concurrency, endpoint auto-disable, operational events.
pub struct EngineConfig {
    pub concurrency: usize,
    /// An endpoint failing without a success for this long is disabled.
    pub auto_disable_after_ms: Millis,
    /// The application (id or uid) whose endpoints receive operational events.
    pub operational_app: Option<String>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Starts the poller and the worker loop on `tracker`; both stop when `cancel` fires.
pub fn start(
    store: Arc<dyn Store>,
    sender: sender::Sender,
    engine: EngineConfig,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> Dispatcher {
    let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
    let wake = Arc::new(Notify::new());
    let flow = Arc::new(FlowControl::default());
    let dispatcher = Dispatcher { queue: queue.clone(), wake: wake.clone(), flow: flow.clone() };
    tracker.spawn(poll(store.clone(), queue, wake, cancel.clone()));
    let events = engine
        .operational_app
        .map(|app| Arc::new(events::OperationalEvents::new(store.clone(), dispatcher.clone(), app)));
    let (records, waiting) = mpsc::channel(recorder::RECORDS_WAITING_MAX);
    let recorder = recorder::Recorder {
        store: store.clone(),
        dispatcher: dispatcher.clone(),
        events,
        auto_disable_after_ms: engine.auto_disable_after_ms,
    };
    tracker.spawn(recorder.run(waiting));
    let worker = Worker { store, sender, metrics: engine.metrics, records };
    if let Some(shared) = worker.store.shared_flow() {
        tracker.spawn(follow_pauses(shared.pauses(), flow.clone(), cancel.clone()));
    }
    let slots = Arc::new(Semaphore::new(engine.concurrency));
    tracker.spawn(run(jobs, worker, flow, slots, tracker.clone(), cancel));
    dispatcher
}

/// Claims due deliveries and queues them; sleeps until the next is due, at most a second, or
/// until woken.
async fn poll(store: Arc<dyn Store>, queue: mpsc::Sender<Job>, wake: Arc<Notify>, cancel: CancellationToken) {
    let peers_announce = store.due_signal();
    loop {
        let mut sleep_ms = POLL_INTERVAL_MAX_MS;
        match store.next_due_at(now()).await {
            Ok(Some(due)) if due <= now() => {
                match claim_and_queue(store.as_ref(), &queue, &cancel).await {
                    None => return,
                    // Due but claimed by another node meanwhile: look again shortly, not at once.
                    Some(0) => sleep_ms = CLAIM_RACE_RETRY_MS,
                    Some(_) => sleep_ms = 0,
                }
            }
            Ok(Some(due)) => sleep_ms = sleep_ms.min((due - now()).max(1) as u64),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read due deliveries"),
        }
        if sleep_ms == 0 {
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = announced(peers_announce.as_deref()) => {}
            _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
        }
    }
}

/// Resolves when another node announces due work; never without a shared store.
async fn announced(signal: Option<&Notify>) {
    match signal {
        Some(signal) => signal.notified().await,
        None => std::future::pending().await,
    }
}

/// One claim round: how many deliveries were claimed, `None` when shutting down.
async fn claim_and_queue(store: &dyn Store, queue: &mpsc::Sender<Job>, cancel: &CancellationToken) -> Option<usize> {
    let now = now();
    let claimed = match store.claim_due(now, now + LEASE_MS, CLAIM_BATCH).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(%error, "cannot claim due deliveries");
            return (!cancel.is_cancelled()).then_some(0);
        }
    };
    let count = claimed.len();
    for claim in claimed {
        // Deleted endpoints take their deliveries with them; a race leaves nothing to send.
        let Some(endpoint) = claim.endpoint else {
            continue;
        };
        let job = Job { delivery: claim.delivery, message: claim.message, endpoint };
        tokio::select! {
            _ = cancel.cancelled() => return None,
            sent = queue.send(job) => if sent.is_err() { return None },
        }
    }
    Some(count)
}

/// Applies pauses other nodes heard (429/503 `Retry-After`) to this node's gates, so jobs handed
/// straight to this node's workers wait too.
async fn follow_pauses(
    mut pauses: tokio::sync::broadcast::Receiver<hookwire_store::EndpointPause>,
    flow: Arc<FlowControl>,
    cancel: CancellationToken,
) {
    loop {
        let pause = tokio::select! {
            _ = cancel.cancelled() => return,
            pause = pauses.recv() => pause,
        };
        match pause {
            Ok(pause) => flow.pause(pause.endpoint, pause.until, now()),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "missed endpoint pause announcements; claims still honour them");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Takes jobs off the queue, passes each through its endpoint's flow control, and runs the
/// admitted ones as tracked tasks, at most `slots` at once. A finished attempt hands its slot to
/// the next job queued for the same endpoint.
async fn run(
    mut jobs: mpsc::Receiver<Job>,
    worker: Worker,
    flow: Arc<FlowControl>,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    loop {
        let job = tokio::select! {
            _ = cancel.cancelled() => return,
            job = jobs.recv() => match job { Some(job) => job, None => return },
        };
        let (job, not_before) = match flow.admit(job, now()) {
            Admission::Queued => continue,
            Admission::Defer { job, until } => {
                let worker = worker.clone();
                tracker.spawn(async move { worker.defer(job, until).await });
                continue;
            }
            Admission::Send { job, not_before } => (job, not_before),
        };
        let slot = tokio::select! {
            _ = cancel.cancelled() => return,
            slot = slots.clone().acquire_owned() => slot.expect("semaphore is never closed"),
        };
        let (worker, flow, cancel) = (worker.clone(), flow.clone(), cancel.clone());
        tracker.spawn(async move {
            let (mut job, mut not_before) = (job, not_before);
            loop {
                let wait = not_before - now();
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                }
                let endpoint = job.endpoint.id;
                let verdict = match worker.shared_throttle(&job).await {
                    Some(until) => {
                        worker.defer(job, until).await;
                        None
                    }
                    None => worker.attempt(job).await,
                };
                // Paused here first, then in the shared store, both from the same instant.
                let pause_seconds = verdict.as_ref().and_then(|v| v.pause_seconds);
                let finished = now();
                let (next, deferred) = flow.finish(endpoint, verdict, finished);
                if let Some(seconds) = pause_seconds {
                    worker.share_pause(endpoint, seconds, finished).await;
                }
                for (job, until) in deferred {
                    worker.defer(job, until).await;
                }
                match next {
                    Some(next) if !cancel.is_cancelled() => (job, not_before) = next,
                    _ => break,
                }
            }
            drop(slot);
        });
    }
}
