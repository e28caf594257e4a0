//! Per-endpoint flow control, so one slow or dead endpoint never holds back the others: a cap
//! on deliveries in flight (overflow waits in a short queue, then goes back to the store), the
//! endpoint's `throttleRate`, pauses asked for by 429/503 with `Retry-After`, and a circuit
//! breaker that stops sending to an endpoint failing every request and probes it again later.
//! Everything about when a job may go is decided here: admission, the slot a running attempt
//! holds (a `Ticket`, given back on every exit path, a panic included), deferrals (written in
//! batches by the recorder, never holding a global slot), the throttle shared through the
//! store, and handing back queued work before its lease runs out.
//!
//! The gates are per process. On a store shared by several nodes (PostgreSQL), the throttle and
//! `Retry-After` pauses are also kept in the store, so every node obeys them; the in-flight cap
//! and the circuit breaker stay per node (see docs/operations.md). Deferring a delivery is not an
//! attempt: it goes back to the store due at the given time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use hookwire_core::EndpointId;
use hookwire_core::model::{Endpoint, Status};
use hookwire_core::time_fmt::Millis;
use hookwire_store::Store;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::Job;
use super::recorder::Record;
use crate::clock::SharedClock;

/// Deliveries to one endpoint in flight at once (per process).
pub const ENDPOINT_IN_FLIGHT_MAX: usize = 32;
/// Jobs waiting in memory for one endpoint's slots before the rest go back to the store. Deep
/// enough that a burst to a healthy endpoint stays in memory (going back to the store costs a
/// write now and a claim later).
pub const ENDPOINT_QUEUE_MAX: usize = 4_096;
/// An endpoint with this many jobs queued is skipped by the poller's claims (`skipped`): claimed,
/// its due work would only overflow the queue and go back to the store, to be claimed and given
/// back again every `OVERFLOW_DEFER_MS` while the endpoint is slower than its backlog. Below it,
/// the poller's next round (at most a second away) claims the endpoint's work again; an endpoint
/// that sends half of it before then wakes the poller at once.
pub const ENDPOINT_QUEUE_SKIP_AT: usize = ENDPOINT_QUEUE_MAX / 2;
/// Jobs waiting in memory across all endpoints: many slow endpoints cannot grow memory.
pub const QUEUED_TOTAL_MAX: usize = 16_384;
/// When an endpoint's queue is full, its overflow is due again this much later.
pub const OVERFLOW_DEFER_MS: Millis = 2_000;
/// A throttled job waits in memory at most this long; a later slot goes back to the store.
pub const THROTTLE_HOLD_MAX_MS: Millis = 1_000;
/// Consecutive failures that open the circuit.
pub const CIRCUIT_FAILURES_TO_OPEN: u32 = 10;
pub const CIRCUIT_COOLDOWN_MS_MIN: Millis = 30_000;
pub const CIRCUIT_COOLDOWN_MS_MAX: Millis = 600_000;

/// The spacing of sends under a `throttleRate` of `rate` per second (the one formula, for the
/// in-memory gate and the slot shared through the store alike).
pub fn throttle_interval_ms(rate: u32) -> Millis {
    (1_000 / Millis::from(rate.max(1))).max(1)
}

/// What to do with a job now.
pub enum Admission {
    /// Send it, after waiting until `not_before` (throttle), holding one of its endpoint's slots.
    Send { job: Job, not_before: Millis, ticket: Ticket },
    /// It waits in its endpoint's queue for a slot.
    Queued,
    /// Give it back to the store, due at this time.
    Defer { job: Job, until: Millis },
}

/// How an attempt went, as far as flow control cares.
pub struct Verdict {
    pub succeeded: bool,
    /// A 429/503 `Retry-After`, in seconds.
    pub pause_seconds: Option<u64>,
}

/// After an attempt: the endpoint's next queued job to send with the freed slot (and when), and
/// queued jobs that must go back to the store (and when they are due).
type Finished = (Option<(Job, Millis)>, Vec<(Job, Millis)>);

#[derive(Default)]
struct Gate {
    in_flight: usize,
    queue: VecDeque<Job>,
    next_slot_at: Millis,
    paused_until: Millis,
    consecutive_failures: u32,
    open_until: Millis,
    cooldown_ms: Millis,
    probing: bool,
}

impl Gate {
    /// When this endpoint may next be sent to, or `None` if it may be now. Only looks: a job
    /// that is then sent claims the half-open circuit's one probe with `claim_probe`.
    fn blocked_until(&self, now: Millis) -> Option<Millis> {
        if self.paused_until > now {
            return Some(self.paused_until);
        }
        if self.consecutive_failures >= CIRCUIT_FAILURES_TO_OPEN {
            if self.open_until > now {
                return Some(self.open_until);
            }
            if self.probing {
                return Some(now + self.cooldown_ms);
            }
        }
        None
    }

    /// A job is being sent: if the circuit is half-open, it is the one probe.
    fn claim_probe(&mut self) {
        if self.consecutive_failures >= CIRCUIT_FAILURES_TO_OPEN {
            self.probing = true;
        }
    }

    /// Counts a failure; opens the circuit (or re-opens it after a failed probe, doubling the
    /// cooldown) and returns true when this failure did. Failures of requests already in flight
    /// while it is open do not lengthen the cooldown again.
    fn record_failure(&mut self, now: Millis) -> bool {
        self.consecutive_failures += 1;
        if self.consecutive_failures < CIRCUIT_FAILURES_TO_OPEN || self.open_until > now {
            return false;
        }
        self.cooldown_ms = (self.cooldown_ms * 2).clamp(CIRCUIT_COOLDOWN_MS_MIN, CIRCUIT_COOLDOWN_MS_MAX);
        self.open_until = now + self.cooldown_ms;
        true
    }

    fn take_slot(&mut self, endpoint: &Endpoint, now: Millis) -> Millis {
        self.in_flight += 1;
        match endpoint.send_rate() {
            Some(rate) => {
                let at = self.next_slot_at.max(now);
                self.next_slot_at = at + throttle_interval_ms(rate);
                at
            }
            None => now,
        }
    }
}

#[derive(Default)]
struct Gates {
    by_endpoint: HashMap<EndpointId, Gate>,
    /// Jobs in all the endpoints' queues.
    queued: usize,
}

pub struct FlowControl {
    gates: Mutex<Gates>,
    /// A store shared by several nodes (`Store::shared_flow`), for the throttle slots and pauses
    /// they share; `None` when this process owns its store.
    shared: Option<Arc<dyn Store>>,
    /// Where jobs given back without an attempt go (the recorder writes them in batches).
    records: mpsc::Sender<Record>,
    clock: SharedClock,
    /// The poller's wake-up: an endpoint it skipped has room again.
    poller: Arc<Notify>,
}

/// One of an endpoint's in-flight slots, held by a running attempt. Finishing it hands the slot
/// to the endpoint's next queued job; dropping it unfinished (an attempt task that panicked, or
/// was cancelled) frees the slot and gives the endpoint's queue back to the store, so a slot
/// can never leak.
pub struct Ticket {
    flow: Arc<FlowControl>,
    endpoint: EndpointId,
    done: bool,
}

impl Ticket {
    /// Records how the attempt went (`None`: the job went back unsent, which says nothing of
    /// the endpoint's health) and returns the next job to send with this slot, if any; else the
    /// slot is freed. A `Retry-After` pause is applied here first, then shared with other nodes,
    /// both from the same instant.
    pub async fn finish(&mut self, verdict: Option<Verdict>) -> Option<(Job, Millis)> {
        let now = self.flow.clock.now();
        let pause_seconds = verdict.as_ref().and_then(|v| v.pause_seconds);
        let (next, deferred) = self.settle(verdict, now);
        if let Some(seconds) = pause_seconds {
            self.flow.share_pause(self.endpoint, now + seconds as Millis * 1_000).await;
        }
        for (job, until) in deferred {
            self.flow.release(&job, Status::Pending, Some(until)).await;
        }
        next
    }

    /// The gate's side of `finish`, at `now`: the slot passes to the next job or is freed.
    fn settle(&mut self, verdict: Option<Verdict>, now: Millis) -> Finished {
        let finished = self.flow.finish(self.endpoint, verdict, now);
        self.done = finished.0.is_none();
        finished
    }
}

impl Ticket {
    /// Frees the slot without an attempt (shutting down): the endpoint's queued jobs go back.
    pub fn close(mut self) {
        self.give_back();
    }

    /// Frees the slot; a queued job the slot passes to goes back to the store (freeing the slot
    /// again), and so on until the endpoint's queue is empty.
    fn give_back(&mut self) {
        self.done = true;
        let now = self.flow.clock.now();
        loop {
            let (next, mut deferred) = self.flow.finish(self.endpoint, None, now);
            let more = next.is_some();
            deferred.extend(next.map(|(job, _)| (job, now)));
            for (job, until) in deferred {
                let record = Record::Released(job.release(Status::Pending, Some(until)));
                if self.flow.records.try_send(record).is_err() {
                    tracing::warn!(delivery_id = %job.delivery.id, "cannot give a job back now; its lease will lapse");
                }
            }
            if !more {
                return;
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            tracing::error!(endpoint_id = %self.endpoint, "an attempt ended without finishing; its slot is freed");
            self.give_back();
        }
    }
}

impl FlowControl {
    /// Flow control over no shared store (the engine's own tests).
    #[cfg(test)]
    pub(super) fn alone(records: mpsc::Sender<Record>, clock: SharedClock) -> Self {
        Self { gates: Mutex::default(), shared: None, records, clock, poller: Arc::default() }
    }

    pub(super) fn new(
        store: Arc<dyn Store>,
        records: mpsc::Sender<Record>,
        clock: SharedClock,
        poller: Arc<Notify>,
    ) -> Self {
        let shared = store.shared_flow().is_some().then_some(store);
        Self { gates: Mutex::default(), shared, records, clock, poller }
    }

    /// The endpoints whose queue is at `ENDPOINT_QUEUE_SKIP_AT` or more: the poller claims none
    /// of their work.
    pub(super) fn skipped(&self) -> Vec<EndpointId> {
        let gates = self.gates.lock().expect("flow gates poisoned");
        gates
            .by_endpoint
            .iter()
            .filter(|(_, gate)| gate.queue.len() >= ENDPOINT_QUEUE_SKIP_AT)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Hands `record` to the recorder as the engine does (its own tests).
    #[cfg(test)]
    pub(super) fn hand_to_recorder(&self, record: Record) {
        self.records.try_send(record).expect("room in the recorder's queue");
    }

    /// Records handed to the recorder and not yet taken by it.
    pub(super) fn records_waiting(&self) -> usize {
        self.records.max_capacity() - self.records.capacity()
    }

    pub(super) fn admit(self: &Arc<Self>, job: Job, now: Millis) -> Admission {
        let mut gates = self.gates.lock().expect("flow gates poisoned");
        let queued = gates.queued;
        let endpoint = job.endpoint.id;
        let gate = gates.by_endpoint.entry(endpoint).or_default();
        if let Some(until) = gate.blocked_until(now) {
            return Admission::Defer { job, until };
        }
        if gate.in_flight >= ENDPOINT_IN_FLIGHT_MAX {
            if gate.queue.len() >= ENDPOINT_QUEUE_MAX || queued >= QUEUED_TOTAL_MAX {
                return Admission::Defer { job, until: now + OVERFLOW_DEFER_MS };
            }
            gate.queue.push_back(job);
            gates.queued += 1;
            return Admission::Queued;
        }
        let not_before = gate.take_slot(&job.endpoint, now);
        if not_before - now > THROTTLE_HOLD_MAX_MS {
            gate.in_flight -= 1;
            return Admission::Defer { job, until: not_before };
        }
        gate.claim_probe();
        Admission::Send { job, not_before, ticket: Ticket { flow: self.clone(), endpoint, done: false } }
    }

    /// Pauses the endpoint until `until` (a pause another node heard, or this one).
    pub fn pause(&self, endpoint: EndpointId, until: Millis, now: Millis) {
        if until <= now {
            return;
        }
        let mut gates = self.gates.lock().expect("flow gates poisoned");
        let gate = gates.by_endpoint.entry(endpoint).or_default();
        gate.paused_until = gate.paused_until.max(until);
    }

    /// Takes out of the queues every job whose lease ends within `keep_ms`, to be given back to
    /// the store before it lapses (a lapsed lease lets the poller claim the delivery again).
    pub(super) fn take_expiring(&self, now: Millis, keep_ms: Millis) -> Vec<Job> {
        let mut gates = self.gates.lock().expect("flow gates poisoned");
        let Gates { by_endpoint, queued } = &mut *gates;
        let mut expiring = Vec::new();
        for gate in by_endpoint.values_mut() {
            if gate.queue.iter().all(|job| job.leased_until - now >= keep_ms) {
                continue;
            }
            let (keep, out): (VecDeque<Job>, VecDeque<Job>) =
                gate.queue.drain(..).partition(|job| job.leased_until - now >= keep_ms);
            gate.queue = keep;
            expiring.extend(out);
        }
        *queued -= expiring.len();
        expiring
    }

    /// Gives `job` back to the store without an attempt, through the recorder.
    pub(super) async fn release(&self, job: &Job, status: Status, due_at: Option<Millis>) {
        if self.records.send(Record::Released(job.release(status, due_at))).await.is_err() {
            tracing::warn!(delivery_id = %job.delivery.id, "the recorder has stopped; the lease will lapse");
        }
    }

    /// On a store shared by several nodes, waits for the endpoint's next send slot under its
    /// `throttleRate` counted across all of them. Returns when to defer the job instead, if that
    /// slot is more than `THROTTLE_HOLD_MAX_MS` away. (One process keeps the throttle in memory.)
    pub(super) async fn shared_slot(&self, job: &Job) -> Option<Millis> {
        let shared = self.shared.as_ref()?.shared_flow()?;
        let rate = job.endpoint.send_rate()?;
        let started = self.clock.now();
        let interval = throttle_interval_ms(rate);
        match shared.reserve_send_slot(job.endpoint.id, interval, started, THROTTLE_HOLD_MAX_MS).await {
            Ok(Ok(at)) => {
                if at > started {
                    tokio::time::sleep(std::time::Duration::from_millis((at - started) as u64)).await;
                }
                None
            }
            Ok(Err(next_slot)) => Some(next_slot),
            Err(error) => {
                // Sending within this node's own throttle beats not sending at all.
                tracing::warn!(%error, endpoint_id = %job.endpoint.id, "cannot reserve a shared throttle slot");
                None
            }
        }
    }

    /// Tells every node sharing the store that the endpoint asked for a pause. Called after this
    /// node's gate has paused it, so no job of this node slips out while the store is written.
    async fn share_pause(&self, endpoint: EndpointId, until: Millis) {
        let Some(shared) = self.shared.as_ref().and_then(|store| store.shared_flow()) else { return };
        if let Err(error) = shared.pause_endpoint(endpoint, until).await {
            tracing::warn!(%error, endpoint_id = %endpoint, "cannot share the endpoint's Retry-After pause");
        }
    }

    /// Records how an attempt to `endpoint` went and frees its slot. Returns the endpoint's next
    /// queued job to send with the freed slot, and the queued jobs that must go back to the store.
    /// `verdict` is `None` when the job went back to the store unsent (it says nothing of health).
    fn finish(&self, endpoint: EndpointId, verdict: Option<Verdict>, now: Millis) -> Finished {
        let mut gates = self.gates.lock().expect("flow gates poisoned");
        let Gates { by_endpoint, queued } = &mut *gates;
        let Some(gate) = by_endpoint.get_mut(&endpoint) else { return (None, Vec::new()) };
        gate.in_flight = gate.in_flight.saturating_sub(1);
        gate.probing = false;
        match &verdict {
            Some(verdict) if verdict.succeeded => {
                gate.consecutive_failures = 0;
                gate.cooldown_ms = 0;
            }
            Some(_) if gate.record_failure(now) => {
                tracing::warn!(endpoint_id = %endpoint, cooldown_ms = gate.cooldown_ms, "circuit open: endpoint fails every request");
            }
            Some(_) | None => {}
        }
        if let Some(seconds) = verdict.and_then(|v| v.pause_seconds) {
            gate.paused_until = gate.paused_until.max(now + seconds as Millis * 1_000);
        }
        if let Some(until) = gate.blocked_until(now) {
            let deferred: Vec<_> = gate.queue.drain(..).map(|job| (job, until)).collect();
            *queued -= deferred.len();
            return (None, deferred);
        }
        let next = gate.queue.pop_front().map(|job| {
            *queued -= 1;
            if gate.queue.len() == ENDPOINT_QUEUE_SKIP_AT / 2 {
                // Skipped by the poller (or about to be): room for its work again.
                self.poller.notify_one();
            }
            gate.claim_probe();
            let not_before = gate.take_slot(&job.endpoint, now);
            (job, not_before)
        });
        let idle = gate.in_flight == 0 && gate.queue.is_empty();
        if idle && gate.consecutive_failures == 0 && gate.paused_until <= now && gate.next_slot_at <= now {
            by_endpoint.remove(&endpoint); // forget idle, healthy endpoints: the map stays small
        }
        (next, Vec::new())
    }
}

/// Applies pauses other nodes heard (429/503 `Retry-After`) to this node's gates, so jobs handed
/// straight to this node's workers wait too.
pub(super) async fn follow_pauses(
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
            Ok(pause) => flow.pause(pause.endpoint, pause.until, flow.clock.now()),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "missed endpoint pause announcements; claims still honour them");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Flow-control state at one moment, for the metrics scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowSummary {
    /// Endpoints paused by a `Retry-After`.
    pub paused: usize,
    /// Endpoints whose circuit is open or half-open.
    pub circuits_open: usize,
    /// Jobs waiting in memory for an endpoint slot.
    pub queued: usize,
    /// Deliveries in flight (holding an endpoint slot).
    pub in_flight: usize,
}

impl FlowControl {
    /// Counts paused endpoints and open circuits; takes the gates' lock once, briefly.
    pub fn summary(&self, now: Millis) -> FlowSummary {
        let gates = self.gates.lock().expect("flow gates poisoned");
        let mut summary = FlowSummary { queued: gates.queued, ..FlowSummary::default() };
        for gate in gates.by_endpoint.values() {
            summary.paused += usize::from(gate.paused_until > now);
            summary.circuits_open += usize::from(gate.consecutive_failures >= CIRCUIT_FAILURES_TO_OPEN);
            summary.in_flight += gate.in_flight;
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use hookwire_core::model::{Delivery, Message, Status, TriggerType};
    use hookwire_core::{AppId, DeliveryId, MessageId};

    use super::*;
    use crate::clock::ManualClock;

    /// Flow control over no shared store, and the records it gives back.
    fn flow() -> (Arc<FlowControl>, mpsc::Receiver<Record>) {
        let (records, given_back) = mpsc::channel(1_024);
        (Arc::new(FlowControl::alone(records, ManualClock::new())), given_back)
    }

    fn endpoint(throttle_rate: Option<u32>) -> Arc<Endpoint> {
        let secret = hookwire_core::signing::generate_secret();
        let endpoint = Endpoint::new(AppId::generate(), "https://example.com".into(), secret, 0);
        Arc::new(Endpoint { throttle_rate, ..endpoint })
    }

    fn job_leased_until(endpoint: &Arc<Endpoint>, leased_until: Millis) -> Job {
        let message = Message {
            id: MessageId::generate(),
            app_id: endpoint.app_id,
            event_type: "a.b".into(),
            event_id: None,
            channels: None,
            tags: None,
            payload: Some("{}".into()),
            content_type: None,
            deliver_at: None,
            payload_expires_at: None,
            created_at: 0,
        };
        let delivery = Delivery {
            id: DeliveryId::generate(),
            app_id: endpoint.app_id,
            msg_id: message.id,
            endpoint_id: endpoint.id,
            status: Status::Pending,
            attempts: 0,
            next_attempt_at: Some(0),
            trigger: TriggerType::Scheduled,
            chunk: None,
            created_at: 0,
            updated_at: 0,
        };
        Job { delivery, message: Arc::new(message), endpoint: endpoint.clone(), leased_until }
    }

    fn job(endpoint: &Arc<Endpoint>) -> Job {
        job_leased_until(endpoint, 300_000)
    }

    fn failed() -> Option<Verdict> {
        Some(Verdict { succeeded: false, pause_seconds: None })
    }

    fn succeeded() -> Option<Verdict> {
        Some(Verdict { succeeded: true, pause_seconds: None })
    }

    fn sent(admission: Admission) -> (Job, Millis, Ticket) {
        match admission {
            Admission::Send { job, not_before, ticket } => (job, not_before, ticket),
            Admission::Queued => panic!("queued, expected to be sent"),
            Admission::Defer { until, .. } => panic!("deferred until {until}, expected to be sent"),
        }
    }

    #[test]
    fn a_full_endpoint_queues_and_hands_its_freed_slot_to_the_next_job() {
        let ((flow, _), busy, other) = (flow(), endpoint(None), endpoint(None));
        let mut tickets: Vec<Ticket> = (0..ENDPOINT_IN_FLIGHT_MAX).map(|_| sent(flow.admit(job(&busy), 0)).2).collect();
        let waiting = job(&busy);
        let waiting_id = waiting.delivery.id;
        assert!(matches!(flow.admit(waiting, 0), Admission::Queued));
        let _other = sent(flow.admit(job(&other), 0)); // another endpoint is not held back
        assert_eq!(flow.summary(0).queued, 1);
        let (next, deferred) = tickets[0].settle(succeeded(), 5);
        assert!(deferred.is_empty());
        let (next, not_before) = next.expect("the freed slot goes to the queued job");
        assert_eq!((next.delivery.id, not_before), (waiting_id, 5));
        assert_eq!(flow.summary(5).queued, 0);
        assert_eq!(flow.summary(5).in_flight, ENDPOINT_IN_FLIGHT_MAX + 1, "the slot passed on, still in flight");
    }

    #[tokio::test]
    async fn a_deep_queue_is_skipped_by_claims_and_wakes_the_poller_when_half_of_it_is_sent() {
        let (records, _given_back) = mpsc::channel(1_024);
        let poller = Arc::new(Notify::new());
        let flow = Arc::new(FlowControl { poller: poller.clone(), ..FlowControl::alone(records, ManualClock::new()) });
        let (slow, other) = (endpoint(None), endpoint(None));
        let mut tickets: Vec<Ticket> = (0..ENDPOINT_IN_FLIGHT_MAX).map(|_| sent(flow.admit(job(&slow), 0)).2).collect();
        let _other = sent(flow.admit(job(&other), 0));
        for queued in 1..=ENDPOINT_QUEUE_SKIP_AT {
            assert!(flow.skipped().is_empty(), "{queued} queued: not skipped yet");
            assert!(matches!(flow.admit(job(&slow), 0), Admission::Queued));
        }
        assert_eq!(flow.skipped(), [slow.id]);
        // Each finished attempt passes its slot to the next queued job: below the mark the
        // endpoint's work is claimed again, and the poller is woken once half the queue is sent.
        for sent_so_far in 1..=ENDPOINT_QUEUE_SKIP_AT / 2 {
            let woken = tokio::time::timeout(Duration::ZERO, poller.notified()).await.is_ok();
            assert!(!woken, "woken early, after {} sends", sent_so_far - 1);
            let (next, _) = tickets[0].settle(succeeded(), 1);
            assert!(next.is_some());
            assert!(flow.skipped().is_empty(), "skipped below the mark");
        }
        assert!(tokio::time::timeout(Duration::ZERO, poller.notified()).await.is_ok(), "woken with half sent");
        assert!(tickets.iter_mut().all(|t| t.settle(succeeded(), 2).0.is_some()));
    }

    #[test]
    fn throttle_spaces_sends_and_gives_back_what_would_wait_too_long() {
        let ((flow, _), slow) = (flow(), endpoint(Some(10)));
        let sends: Vec<_> = (0..=10).map(|_| sent(flow.admit(job(&slow), 0))).collect();
        let spacing: Vec<Millis> = sends.iter().map(|(_, at, _)| *at).collect();
        assert_eq!(spacing, (0..=10).map(|i| i * 100).collect::<Vec<_>>(), "10/s is one every 100 ms");
        match flow.admit(job(&slow), 0) {
            Admission::Defer { until, .. } => assert_eq!(until, 1_100, "more than THROTTLE_HOLD_MAX_MS away"),
            _ => panic!("a slot over a second away goes back to the store"),
        }
        assert_eq!(throttle_interval_ms(2_000), 1, "never faster than one per millisecond");
    }

    #[test]
    fn retry_after_pauses_the_endpoint_and_sends_its_queue_back_to_the_store() {
        let ((flow, _), busy) = (flow(), endpoint(None));
        let mut tickets: Vec<Ticket> = (0..ENDPOINT_IN_FLIGHT_MAX).map(|_| sent(flow.admit(job(&busy), 0)).2).collect();
        assert!(matches!(flow.admit(job(&busy), 0), Admission::Queued));
        let (next, deferred) = tickets[0].settle(Some(Verdict { succeeded: false, pause_seconds: Some(5) }), 10);
        assert!(next.is_none(), "no job goes out during the pause");
        assert_eq!(deferred.iter().map(|(_, until)| *until).collect::<Vec<_>>(), vec![5_010]);
        match flow.admit(job(&busy), 20) {
            Admission::Defer { until, .. } => assert_eq!(until, 5_010),
            _ => panic!("a paused endpoint's new jobs wait for the pause"),
        }
        assert_eq!(flow.summary(20).paused, 1);
        tickets.truncate(1);
        let _later = sent(flow.admit(job(&busy), 5_010));
    }

    #[test]
    fn an_unsent_job_neither_heals_nor_hurts_the_circuit() {
        let ((flow, _), dead) = (flow(), endpoint(None));
        for _ in 0..CIRCUIT_FAILURES_TO_OPEN {
            sent(flow.admit(job(&dead), 0)).2.settle(failed(), 0);
        }
        assert_eq!(flow.summary(0).circuits_open, 1);
        let probe_at = CIRCUIT_COOLDOWN_MS_MIN;
        let (_, _, mut probe) = sent(flow.admit(job(&dead), probe_at)); // the half-open circuit's probe...
        probe.settle(None, probe_at); // ...went back to the store unsent (say, endpoint disabled)
        assert_eq!(flow.summary(probe_at).circuits_open, 1, "not sent is not a success");
        let (_, _, mut probe) = sent(flow.admit(job(&dead), probe_at)); // and the probe is free for the next job
        assert!(probe.settle(failed(), probe_at).0.is_none());
        assert!(matches!(flow.admit(job(&dead), probe_at), Admission::Defer { .. }), "the failed probe re-opens it");
    }

    #[test]
    fn circuit_cooldown_doubles_per_failed_probe_not_per_failure() {
        let mut gate = Gate::default();
        for _ in 0..CIRCUIT_FAILURES_TO_OPEN + 20 {
            gate.record_failure(0); // twenty more failures of requests already in flight
        }
        assert_eq!((gate.cooldown_ms, gate.open_until), (CIRCUIT_COOLDOWN_MS_MIN, CIRCUIT_COOLDOWN_MS_MIN));
        assert_eq!(gate.blocked_until(1_000), Some(CIRCUIT_COOLDOWN_MS_MIN), "open: deliveries wait");
        let after = CIRCUIT_COOLDOWN_MS_MIN;
        assert_eq!(gate.blocked_until(after), None, "half-open: one probe goes");
        assert_eq!(gate.blocked_until(after), None, "looking does not claim the probe");
        gate.claim_probe(); // the probe is sent
        assert!(gate.blocked_until(after).is_some(), "and only one");
        assert!(gate.record_failure(after));
        assert_eq!(gate.cooldown_ms, 2 * CIRCUIT_COOLDOWN_MS_MIN, "a failed probe doubles the cooldown");
    }

    /// An attempt task that panics drops its ticket unfinished: the slot comes back and the
    /// endpoint's queued jobs go back to the store instead of waiting for a slot that never frees.
    #[tokio::test]
    async fn a_panicking_attempt_gives_its_slot_and_its_endpoints_queue_back() {
        let ((flow, mut given_back), busy) = (flow(), endpoint(None));
        let mut tickets: Vec<Ticket> = (0..ENDPOINT_IN_FLIGHT_MAX).map(|_| sent(flow.admit(job(&busy), 0)).2).collect();
        let queued = job(&busy);
        let queued_id = queued.delivery.id;
        assert!(matches!(flow.admit(queued, 0), Admission::Queued));
        let ticket = tickets.pop().unwrap();
        let attempt = tokio::spawn(async move {
            let _slot = ticket;
            panic!("a bug in an attempt");
        });
        assert!(attempt.await.unwrap_err().is_panic());
        let summary = flow.summary(0);
        assert_eq!((summary.in_flight, summary.queued), (ENDPOINT_IN_FLIGHT_MAX - 1, 0), "no slot leaked");
        match given_back.try_recv() {
            Ok(Record::Released(release)) => {
                assert_eq!(release.delivery, queued_id);
                assert_eq!(release.update.status, Status::Pending);
            }
            _ => panic!("the queued job goes back to the store"),
        }
        let _next = sent(flow.admit(job(&busy), 0)); // and the endpoint takes new work
    }

    /// Jobs waiting in memory are taken out before their lease runs out, to be handed back; jobs
    /// with lease to spare stay queued in order.
    #[test]
    fn queued_jobs_whose_lease_runs_out_are_taken_out() {
        let ((flow, _), busy) = (flow(), endpoint(None));
        let _tickets: Vec<Ticket> = (0..ENDPOINT_IN_FLIGHT_MAX).map(|_| sent(flow.admit(job(&busy), 0)).2).collect();
        let (soon, later) = (job_leased_until(&busy, 100_000), job_leased_until(&busy, 300_000));
        let (soon_id, later_id) = (soon.delivery.id, later.delivery.id);
        assert!(matches!(flow.admit(soon, 0), Admission::Queued));
        assert!(matches!(flow.admit(later, 0), Admission::Queued));
        let expiring = flow.take_expiring(0, 150_000);
        assert_eq!(expiring.iter().map(|j| j.delivery.id).collect::<Vec<_>>(), vec![soon_id]);
        assert_eq!(flow.summary(0).queued, 1);
        let mut gates = flow.gates.lock().unwrap();
        assert_eq!(gates.by_endpoint.get_mut(&busy.id).unwrap().queue.pop_front().unwrap().delivery.id, later_id);
    }
}
