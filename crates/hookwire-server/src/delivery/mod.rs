//! The delivery engine: from a leased delivery to a recorded attempt. Work arrives two ways:
//! fresh deliveries handed over by the intake (committed already leased to this process), and
//! everything else (retries, resends, work left by a crash) claimed by the poller (poller.rs).
//! Every job passes its endpoint's flow control (flow.rs), is attempted by a worker (worker.rs)
//! under a global concurrency bound, and its outcome, or its release without an attempt, goes to
//! the recorder (recorder.rs), which writes them in batches. The store, not memory, decides what
//! is due; memory only holds work this process has leased.
//!
//! Leases and memory are tied together: a job is attempted only while at least one attempt's
//! budget is left on its lease, jobs waiting in memory are handed back before half their lease
//! is gone, and a release only moves a delivery still under the lease it was taken with. So a
//! healthy process never sends a delivery twice because it waited too long in its own queue.

mod flow;
mod poller;
mod recorder;
pub mod sender;
mod worker;

use std::sync::{Arc, Weak};

use hookwire_core::limits::{DELIVERY_TIMEOUT_MS_DEFAULT, DELIVERY_TIMEOUT_MS_MAX};
use hookwire_core::model::{Delivery, Endpoint, Message, Status};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{DeliveryUpdate, Release, Store};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::SharedClock;
pub use flow::{FlowControl, FlowSummary};
pub use recorder::OperationalEvent;

/// How long a delivery leased by this process stays its own unless recorded or given back.
pub const LEASE_MS_DEFAULT: Millis = 5 * 60 * 1_000;
/// Time kept for writing an attempt's outcome after its answer came.
const RECORD_MARGIN_MS: Millis = 2_000;
/// The most one attempt can take once started: the longest request deadline, a throttle wait in
/// memory, and the margin to record it. An attempt starts only with this much lease left.
pub const ATTEMPT_BUDGET_MS_MAX: Millis =
    DELIVERY_TIMEOUT_MS_MAX as Millis + flow::THROTTLE_HOLD_MAX_MS + RECORD_MARGIN_MS;
/// How often jobs waiting in memory are checked for leases half gone.
const LEASE_SWEEP_INTERVAL_MS_MAX: Millis = 15_000;
// A job handed back at half its lease, checked this often, still has room for any attempt: so a
// job never waits in memory until its lease lapses and the poller claims it a second time.
const _: () = assert!(LEASE_MS_DEFAULT / 2 >= ATTEMPT_BUDGET_MS_MAX + LEASE_SWEEP_INTERVAL_MS_MAX);

/// Jobs waiting for the worker loop; beyond this, the intake leaves work to the poller.
const QUEUE_CAPACITY: usize = 4_096;
/// Longest the poller sleeps without being woken.
const POLL_INTERVAL_MAX_MS: u64 = 1_000;

/// One delivery ready to send, leased to this process until `leased_until`.
pub struct Job {
    pub delivery: Delivery,
    pub message: Arc<Message>,
    pub endpoint: Arc<Endpoint>,
    pub leased_until: Millis,
}

impl Job {
    /// What one attempt of this job may take: its endpoint's deadline plus a throttle wait and
    /// the time to record it.
    fn attempt_budget_ms(&self) -> Millis {
        let timeout = self.endpoint.timeout_ms.unwrap_or(DELIVERY_TIMEOUT_MS_DEFAULT) as Millis;
        timeout + flow::THROTTLE_HOLD_MAX_MS + RECORD_MARGIN_MS
    }

    /// The release that gives this job back without an attempt, in `status`, due at `due_at`
    /// (`None` parks it).
    fn release(&self, status: Status, due_at: Option<Millis>) -> Release {
        Release {
            delivery: self.delivery.id,
            leased_until: self.leased_until,
            update: DeliveryUpdate { status, attempts: self.delivery.attempts, next_attempt_at: due_at },
        }
    }
}

/// The handle the intake uses to hand over work and wake the poller.
#[derive(Clone)]
pub struct Dispatcher {
    queue: mpsc::Sender<Job>,
    wake: Arc<Notify>,
    /// Weak: the engine's tasks own flow control, so when they have stopped it goes, and with it
    /// the last way to send records, which lets the recorder drain and stop.
    flow: Weak<FlowControl>,
    lease_ms: Millis,
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

    /// Until when work leased now belongs to this process.
    pub fn lease_until(&self, now: Millis) -> Millis {
        now + self.lease_ms
    }

    /// Tells the poller that due work may be waiting in the store.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The state of flow control (for metrics); empty once the engine has stopped.
    pub fn flow_summary(&self, now: Millis) -> FlowSummary {
        self.flow.upgrade().map(|flow| flow.summary(now)).unwrap_or_default()
    }
}

/// How the engine runs.
pub struct EngineConfig {
    /// Deliveries in flight at once across all endpoints.
    pub concurrency: usize,
    /// How long leased work stays this process's (`LEASE_MS_DEFAULT`; shorter in tests).
    pub lease_ms: Millis,
    /// An endpoint failing without a success for this long is disabled.
    pub auto_disable_after_ms: Millis,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub clock: SharedClock,
    /// Where recorded attempts are counted for the charts.
    pub activity: Arc<crate::activity::Activity>,
}

/// Everything the engine's tasks share.
struct Engine {
    store: Arc<dyn Store>,
    clock: SharedClock,
    flow: Arc<FlowControl>,
    lease_ms: Millis,
}

impl Engine {
    fn now(&self) -> Millis {
        self.clock.now()
    }
}

/// Starts the poller, the worker loop and the recorder on `tracker`; they stop when `cancel`
/// fires. Operational events (an endpoint disabled, retries exhausted) go to `events`.
pub fn start(
    store: Arc<dyn Store>,
    sender: sender::Sender,
    config: EngineConfig,
    events: Option<mpsc::Sender<OperationalEvent>>,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) -> Dispatcher {
    let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
    let wake = Arc::new(Notify::new());
    let (records, waiting) = mpsc::channel(recorder::RECORDS_WAITING_MAX);
    let flow = Arc::new(FlowControl::new(store.clone(), records.clone(), config.clock.clone()));
    let engine = Arc::new(Engine {
        store: store.clone(),
        clock: config.clock.clone(),
        flow: flow.clone(),
        lease_ms: config.lease_ms,
    });
    let dispatcher =
        Dispatcher { queue: queue.clone(), wake: wake.clone(), flow: Arc::downgrade(&flow), lease_ms: config.lease_ms };
    tracker.spawn(poller::run(engine.clone(), queue, wake.clone(), cancel.clone()));
    let recorder = recorder::Recorder {
        store: store.clone(),
        wake,
        events,
        auto_disable_after_ms: config.auto_disable_after_ms,
        clock: config.clock.clone(),
        activity: config.activity.clone(),
    };
    tracker.spawn(recorder.run(waiting));
    if let Some(shared) = store.shared_flow() {
        tracker.spawn(flow::follow_pauses(shared.pauses(), flow.clone(), cancel.clone()));
    }
    let worker = worker::Worker { sender, metrics: config.metrics, records, clock: config.clock };
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    tracker.spawn(worker::run(jobs, engine, worker, slots, tracker.clone(), cancel));
    dispatcher
}
