//! Per-endpoint flow control, so one slow or dead endpoint never holds back the others: a cap
//! on deliveries in flight (overflow waits in a short queue, then goes back to the store), the
//! endpoint's `throttleRate`, pauses asked for by 429/503 with `Retry-After`, and a circuit
//! breaker that stops sending to an endpoint failing every request and probes it again later.
//!
//! This state is per process. On a store shared by several nodes (PostgreSQL), the throttle and
//! `Retry-After` pauses are also kept in the store, so every node obeys them (worker.rs); the
//! in-flight cap and the circuit breaker stay per node (see docs/operations.md).
//! Deferring a delivery is not an attempt: it goes back to the store due at the given time.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use hookwire_core::EndpointId;
use hookwire_core::model::Endpoint;
use hookwire_core::time_fmt::Millis;

use super::Job;

/// Deliveries to one endpoint in flight at once (per process).
pub const ENDPOINT_IN_FLIGHT_MAX: usize = 32;
/// Jobs waiting in memory for one endpoint's slots before the rest go back to the store. Deep
/// enough that a burst to a healthy endpoint stays in memory (going back to the store costs a
/// write now and a claim later).
pub const ENDPOINT_QUEUE_MAX: usize = 4_096;
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

/// What to do with a job now.
pub enum Admission {
    /// Send it, after waiting until the given time (throttle), holding one of its endpoint's slots.
    Send { job: Job, not_before: Millis },
    /// It waits in its endpoint's queue for a slot.
    Queued,
    /// Give it back to the store, due at this time.
    Defer { job: Job, until: Millis },
}

/// After an attempt: the endpoint's next queued job to send with the freed slot (and when), and
/// queued jobs that must go back to the store (and when they are due).
pub type Finished = (Option<(Job, Millis)>, Vec<(Job, Millis)>);

/// How an attempt went, as far as flow control cares.
pub struct Verdict {
    pub succeeded: bool,
    /// A 429/503 `Retry-After`, in seconds.
    pub pause_seconds: Option<u64>,
}

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
        match endpoint.throttle_rate.filter(|rate| *rate > 0) {
            Some(rate) => {
                let at = self.next_slot_at.max(now);
                self.next_slot_at = at + (1_000 / rate as Millis).max(1);
                at
            }
            None => now,
        }
    }
}

#[derive(Default)]
pub struct FlowControl {
    gates: Mutex<Gates>,
}

#[derive(Default)]
struct Gates {
    by_endpoint: HashMap<EndpointId, Gate>,
    /// Jobs in all the endpoints' queues.
    queued: usize,
}

impl FlowControl {
    pub fn admit(&self, job: Job, now: Millis) -> Admission {
        let mut gates = self.gates.lock().expect("flow gates poisoned");
        let queued = gates.queued;
        let gate = gates.by_endpoint.entry(job.endpoint.id).or_default();
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
        Admission::Send { job, not_before }
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

    /// Records how an attempt to `endpoint` went and frees its slot. Returns the endpoint's next
    /// queued job to send with the freed slot, and the queued jobs that must go back to the store.
    /// `verdict` is `None` when the job went back to the store unsent (it says nothing of health).
    pub fn finish(&self, endpoint: EndpointId, verdict: Option<Verdict>, now: Millis) -> Finished {
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

/// Flow-control state at one moment, for the metrics scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowSummary {
    /// Endpoints paused by a `Retry-After`.
    pub paused: usize,
    /// Endpoints whose circuit is open or half-open.
    pub circuits_open: usize,
    /// Jobs waiting in memory for an endpoint slot.
    pub queued: usize,
}

impl FlowControl {
    /// Counts paused endpoints and open circuits; takes the gates' lock once, briefly.
    pub fn summary(&self, now: Millis) -> FlowSummary {
        let gates = self.gates.lock().expect("flow gates poisoned");
        let gate_states = gates.by_endpoint.values();
        let mut summary = FlowSummary { queued: gates.queued, ..FlowSummary::default() };
        for gate in gate_states {
            summary.paused += usize::from(gate.paused_until > now);
            summary.circuits_open += usize::from(gate.consecutive_failures >= CIRCUIT_FAILURES_TO_OPEN);
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hookwire_core::model::{Delivery, Message, Status, TriggerType};
    use hookwire_core::{AppId, DeliveryId, MessageId};

    use super::*;

    fn endpoint(throttle_rate: Option<u32>) -> Arc<Endpoint> {
        let secret = hookwire_core::signing::generate_secret();
        let endpoint = Endpoint::new(AppId::generate(), "https://example.com".into(), secret, 0);
        Arc::new(Endpoint { throttle_rate, ..endpoint })
    }

    fn job(endpoint: &Arc<Endpoint>) -> Job {
        let message = Message {
            id: MessageId::generate(),
            app_id: endpoint.app_id,
            event_type: "a.b".into(),
            event_id: None,
            channels: None,
            tags: None,
            payload: Some("{}".into()),
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
        Job { delivery, message: Arc::new(message), endpoint: endpoint.clone() }
    }

    fn failed() -> Option<Verdict> {
        Some(Verdict { succeeded: false, pause_seconds: None })
    }

    fn sent(admission: Admission) -> (Job, Millis) {
        match admission {
            Admission::Send { job, not_before } => (job, not_before),
            Admission::Queued => panic!("queued, expected to be sent"),
            Admission::Defer { until, .. } => panic!("deferred until {until}, expected to be sent"),
        }
    }

    #[test]
    fn a_full_endpoint_queues_and_hands_its_freed_slot_to_the_next_job() {
        let (flow, busy, other) = (FlowControl::default(), endpoint(None), endpoint(None));
        for _ in 0..ENDPOINT_IN_FLIGHT_MAX {
            sent(flow.admit(job(&busy), 0));
        }
        let waiting = job(&busy);
        let waiting_id = waiting.delivery.id;
        assert!(matches!(flow.admit(waiting, 0), Admission::Queued));
        sent(flow.admit(job(&other), 0)); // another endpoint is not held back
        assert_eq!(flow.summary(0).queued, 1);
        let (next, deferred) = flow.finish(busy.id, Some(Verdict { succeeded: true, pause_seconds: None }), 5);
        assert!(deferred.is_empty());
        let (next, not_before) = next.expect("the freed slot goes to the queued job");
        assert_eq!((next.delivery.id, not_before), (waiting_id, 5));
        assert_eq!(flow.summary(5).queued, 0);
    }

    #[test]
    fn throttle_spaces_sends_and_gives_back_what_would_wait_too_long() {
        let (flow, slow) = (FlowControl::default(), endpoint(Some(10)));
        let spacing: Vec<Millis> = (0..=10).map(|_| sent(flow.admit(job(&slow), 0)).1).collect();
        assert_eq!(spacing, (0..=10).map(|i| i * 100).collect::<Vec<_>>(), "10/s is one every 100 ms");
        match flow.admit(job(&slow), 0) {
            Admission::Defer { until, .. } => assert_eq!(until, 1_100, "more than THROTTLE_HOLD_MAX_MS away"),
            _ => panic!("a slot over a second away goes back to the store"),
        }
    }

    #[test]
    fn retry_after_pauses_the_endpoint_and_sends_its_queue_back_to_the_store() {
        let (flow, busy) = (FlowControl::default(), endpoint(None));
        for _ in 0..ENDPOINT_IN_FLIGHT_MAX {
            sent(flow.admit(job(&busy), 0));
        }
        assert!(matches!(flow.admit(job(&busy), 0), Admission::Queued));
        let (next, deferred) = flow.finish(busy.id, Some(Verdict { succeeded: false, pause_seconds: Some(5) }), 10);
        assert!(next.is_none(), "no job goes out during the pause");
        assert_eq!(deferred.iter().map(|(_, until)| *until).collect::<Vec<_>>(), vec![5_010]);
        match flow.admit(job(&busy), 20) {
            Admission::Defer { until, .. } => assert_eq!(until, 5_010),
            _ => panic!("a paused endpoint's new jobs wait for the pause"),
        }
        assert_eq!(flow.summary(20).paused, 1);
        sent(flow.admit(job(&busy), 5_010));
    }

    #[test]
    fn an_unsent_job_neither_heals_nor_hurts_the_circuit() {
        let (flow, dead) = (FlowControl::default(), endpoint(None));
        for _ in 0..CIRCUIT_FAILURES_TO_OPEN {
            sent(flow.admit(job(&dead), 0));
            flow.finish(dead.id, failed(), 0);
        }
        assert_eq!(flow.summary(0).circuits_open, 1);
        let probe_at = CIRCUIT_COOLDOWN_MS_MIN;
        sent(flow.admit(job(&dead), probe_at)); // the half-open circuit's probe...
        flow.finish(dead.id, None, probe_at); // ...went back to the store unsent (say, endpoint disabled)
        assert_eq!(flow.summary(probe_at).circuits_open, 1, "not sent is not a success");
        sent(flow.admit(job(&dead), probe_at)); // and the probe is free for the next job
        assert!(flow.finish(dead.id, failed(), probe_at).0.is_none());
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
}
