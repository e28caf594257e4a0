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
/// Records waiting for the recorder (attempts, and jobs given back) above which the intake holds
/// new accepts: the store is then the bottleneck (it writes them slower than they are made), and
/// more accepted work would only pile up in the endpoints' queues until it overflowed into the
/// retry path (released, claimed again: several store writes per delivery instead of one),
/// slowing the store further. An endpoint that is merely slow holds no accept: its attempts take
/// long, not their records.
pub const RECORDS_HOLD_AT: usize = 1_024;
/// The longest an accept is held for the recorder; then it is written anyway.
pub const ACCEPT_HOLD_MS_MAX: u64 = 200;
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
            msg: self.delivery.msg_id,
            leased_until: self.leased_until,
            update: DeliveryUpdate {
                status,
                attempts: self.delivery.attempts,
                next_attempt_at: due_at,
                created_at: self.delivery.created_at,
            },
        }
    }
}

/// The handle the intake uses to hand over work and wake the poller.
#[derive(Clone)]
pub struct Dispatcher {
    queue: mpsc::Sender<Job>,
    wake: Arc<Notify>,
    /// Notified each time the recorder has written a batch.
    recorded: Arc<Notify>,
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

    /// Waits while more than `RECORDS_HOLD_AT` records wait to be written, until the recorder
    /// catches up or `ACCEPT_HOLD_MS_MAX` has passed; answers whether it found the recorder
    /// lagging (the accept was held).
    pub async fn hold_for_recorder(&self) -> bool {
        let lagging = || self.flow.upgrade().is_some_and(|flow| flow.records_waiting() > RECORDS_HOLD_AT);
        // Every accept asks; only a held one registers with the recorder's notice (a lock).
        if !lagging() {
            return false;
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(ACCEPT_HOLD_MS_MAX);
        loop {
            // Registered before the check, so a batch written in between is not missed.
            let recorded = self.recorded.notified();
            let mut recorded = std::pin::pin!(recorded);
            recorded.as_mut().enable();
            if !lagging() || tokio::time::timeout_at(deadline, recorded).await.is_err() {
                return true;
            }
        }
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
    let recorded = Arc::new(Notify::new());
    let (records, waiting) = mpsc::channel(recorder::RECORDS_WAITING_MAX);
    let flow = Arc::new(FlowControl::new(store.clone(), records.clone(), config.clock.clone(), wake.clone()));
    let engine = Arc::new(Engine {
        store: store.clone(),
        clock: config.clock.clone(),
        flow: flow.clone(),
        lease_ms: config.lease_ms,
    });
    let dispatcher = Dispatcher {
        queue: queue.clone(),
        wake: wake.clone(),
        recorded: recorded.clone(),
        flow: Arc::downgrade(&flow),
        lease_ms: config.lease_ms,
    };
    tracker.spawn(poller::run(engine.clone(), queue, wake.clone(), cancel.clone()));
    let recorder = recorder::Recorder {
        store: store.clone(),
        wake,
        recorded,
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

/// A dispatcher whose recorder has more than `count` records waiting and never writes them, for
/// tests of what is held on it elsewhere (the intake); the guard keeps the records waiting.
#[cfg(test)]
pub(crate) fn lagging_dispatcher(count: usize) -> (Dispatcher, impl Sized) {
    let (dispatcher, flow, waiting) = tests::lagging(count);
    (dispatcher, (flow, waiting))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookwire_core::DeliveryId;
    use tokio::time::Instant;

    use super::recorder::Record;
    use super::*;
    use crate::clock::ManualClock;

    /// A job given back without an attempt, as the recorder receives it.
    fn released() -> Record {
        let update = DeliveryUpdate { status: Status::Pending, attempts: 0, next_attempt_at: Some(0), created_at: 0 };
        Record::Released(Release {
            delivery: DeliveryId::generate(),
            msg: hookwire_core::MessageId::generate(),
            leased_until: 0,
            update,
        })
    }

    /// A dispatcher over flow control whose recorder is `waiting`, with `count` records in it.
    pub(super) fn lagging(count: usize) -> (Dispatcher, Arc<FlowControl>, mpsc::Receiver<Record>) {
        let (records, waiting) = mpsc::channel(recorder::RECORDS_WAITING_MAX);
        let flow = Arc::new(FlowControl::alone(records, ManualClock::new()));
        for _ in 0..count {
            flow.hand_to_recorder(released());
        }
        let (queue, _) = mpsc::channel(QUEUE_CAPACITY);
        let dispatcher = Dispatcher {
            queue,
            wake: Arc::default(),
            recorded: Arc::default(),
            flow: Arc::downgrade(&flow),
            lease_ms: LEASE_MS_DEFAULT,
        };
        (dispatcher, flow, waiting)
    }

    #[tokio::test(start_paused = true)]
    async fn an_accept_is_not_held_while_the_recorder_keeps_up() {
        let (dispatcher, _flow, _waiting) = lagging(RECORDS_HOLD_AT);
        let started = Instant::now();
        assert!(!dispatcher.hold_for_recorder().await);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_accept_is_held_until_the_recorder_catches_up() {
        let (dispatcher, _flow, mut waiting) = lagging(RECORDS_HOLD_AT + 10);
        let recorded = dispatcher.recorded.clone();
        let recorder = tokio::spawn(async move {
            // A first batch leaves the backlog above the mark; the second takes it below.
            for (after_ms, taken) in [(30, 5), (20, 10)] {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                for _ in 0..taken {
                    waiting.try_recv().expect("a record waiting");
                }
                recorded.notify_waiters();
            }
            waiting
        });
        let started = Instant::now();
        assert!(dispatcher.hold_for_recorder().await);
        assert_eq!(started.elapsed(), Duration::from_millis(50), "held until the second batch was written");
        recorder.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_accept_is_held_no_longer_than_the_bound() {
        let (dispatcher, _flow, _waiting) = lagging(RECORDS_HOLD_AT + 1);
        let started = Instant::now();
        assert!(dispatcher.hold_for_recorder().await);
        assert_eq!(started.elapsed(), Duration::from_millis(ACCEPT_HOLD_MS_MAX));
    }

    /// An engine running over a fresh SQLite store (in `dir`), with a manual clock.
    fn running(dir: &tempfile::TempDir) -> (Arc<dyn Store>, Dispatcher, SharedClock, TaskTracker, CancellationToken) {
        let store = crate::testing::sqlite_store(dir);
        let clock = ManualClock::new();
        let config = EngineConfig {
            concurrency: 8,
            lease_ms: LEASE_MS_DEFAULT,
            auto_disable_after_ms: 3_600_000,
            metrics: Arc::default(),
            clock: clock.clone(),
            activity: crate::activity::Activity::new(store.clone()),
        };
        let sender = sender::Sender::new(hookwire_core::url_policy::DestinationPolicy::default(), Vec::new()).unwrap();
        let (tracker, cancel) = (TaskTracker::new(), CancellationToken::new());
        let dispatcher = start(store.clone(), sender, config, None, &tracker, cancel.clone());
        (store, dispatcher, clock, tracker, cancel)
    }

    async fn stop(dispatcher: Dispatcher, tracker: TaskTracker, cancel: CancellationToken) {
        cancel.cancel();
        drop(dispatcher);
        tracker.close();
        tracker.wait().await;
    }

    /// The engine's own recorder tells a held accept each time it has written a batch: the
    /// accept goes on as soon as the backlog is below the mark again, not at the end of the bound.
    #[tokio::test]
    async fn the_recorder_lets_a_held_accept_go_when_it_has_written() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, dispatcher, _clock, tracker, cancel) = running(&dir);
        let flow = dispatcher.flow.upgrade().expect("the engine runs");
        // More than the mark, handed over before the recorder (on this thread) has run at all.
        for _ in 0..RECORDS_HOLD_AT + 100 {
            flow.hand_to_recorder(released());
        }
        let started = std::time::Instant::now();
        assert!(dispatcher.hold_for_recorder().await, "held while the backlog is above the mark");
        let held = started.elapsed();
        assert!(held < Duration::from_millis(ACCEPT_HOLD_MS_MAX), "held {held:?}: until the bound, not the write");
        drop(flow);
        stop(dispatcher, tracker, cancel).await;
    }

    /// The poller leaves the due work of an endpoint whose queue is at the skip mark in the
    /// store: not claimed, so not given back and claimed again every `OVERFLOW_DEFER_MS`.
    #[tokio::test]
    async fn the_poller_leaves_the_work_of_an_endpoint_with_a_full_queue_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let (store, dispatcher, clock, tracker, cancel) = running(&dir);
        let now = clock.now();
        let (app, endpoint) = crate::testing::app_with_endpoint(store.as_ref(), now).await;
        let message = |n: usize| Message {
            id: hookwire_core::MessageId::generate(),
            app_id: app.id,
            event_type: "a.b".into(),
            event_id: None,
            channels: None,
            tags: None,
            payload: Some(format!("{{\"n\":{n}}}")),
            content_type: None,
            deliver_at: None,
            payload_expires_at: None,
            created_at: now,
        };
        let delivery = |message: &Message| Delivery {
            id: DeliveryId::generate(),
            app_id: app.id,
            msg_id: message.id,
            endpoint_id: endpoint.id,
            status: Status::Pending,
            attempts: 0,
            next_attempt_at: Some(now),
            trigger: hookwire_core::model::TriggerType::Scheduled,
            chunk: None,
            created_at: now,
            updated_at: now,
        };
        // The endpoint's slots taken and its queue at the mark, by jobs only this process knows.
        let flow = dispatcher.flow.upgrade().expect("the engine runs");
        let mut tickets = Vec::new();
        for n in 0..flow::ENDPOINT_IN_FLIGHT_MAX + flow::ENDPOINT_QUEUE_SKIP_AT {
            let message = Arc::new(message(n));
            let job = Job {
                delivery: delivery(&message),
                message,
                endpoint: endpoint.clone(),
                leased_until: now + LEASE_MS_DEFAULT,
            };
            if let flow::Admission::Send { ticket, .. } = flow.admit(job, now) {
                tickets.push(ticket);
            }
        }
        // A poller round begun before the queue reached the mark still skips nothing (the skip
        // list is read once per round) and may claim what is accepted while it runs: let any
        // such round end first (seen once in CI, when the engine's first round was slow to start).
        dispatcher.wake();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stored = message(0);
        let due = delivery(&stored);
        let accept = hookwire_store::Accept {
            message: Arc::new(stored),
            deliveries: vec![due.clone()],
            leased_until: None,
            idempotency_key: None,
            filter_errors: Vec::new(),
        };
        store.accept_message(accept).await.unwrap();
        dispatcher.wake();
        // Woken, and at least one periodic round (`POLL_INTERVAL_MAX_MS`) later.
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MAX_MS + 300)).await;
        let claimable = store.claim_due(now, now + 60_000, 10, &[]).await.unwrap();
        let ids: Vec<DeliveryId> = claimable.iter().map(|c| c.delivery.id).collect();
        assert_eq!(ids, [due.id], "still due and unleased: the poller did not claim it");
        for ticket in tickets {
            ticket.close();
        }
        drop(flow);
        stop(dispatcher, tracker, cancel).await;
    }
}
