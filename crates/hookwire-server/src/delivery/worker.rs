//! The worker loop and one attempt. The loop takes jobs off the queue, passes each through its
//! endpoint's flow control and runs the admitted ones as tracked tasks under the global
//! concurrency bound; a finished attempt hands its endpoint slot to the next job queued for the
//! same endpoint. Every few seconds it hands back queued jobs whose lease is half gone. An
//! attempt sends the job and hands the outcome to the recorder; a job that must not be sent now
//! goes back to the store instead.

use std::sync::Arc;
use std::time::Duration;

use hookwire_core::AttemptId;
use hookwire_core::model::{Attempt, Status, TriggerType};
use hookwire_core::retry::next_attempt_at;
use hookwire_core::time_fmt::Millis;
use hookwire_store::DeliveryUpdate;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::flow::{Admission, Verdict};
use super::recorder::Record;
use super::sender::{Sender, Sent};
use super::{Engine, Job, LEASE_SWEEP_INTERVAL_MS_MAX};
use crate::clock::SharedClock;

#[derive(Clone)]
pub(super) struct Worker {
    pub sender: Sender,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The recorder's queue; bounded, so a lagging store holds sending back.
    pub records: mpsc::Sender<Record>,
    pub clock: SharedClock,
}

/// Takes jobs off the queue until `cancel` fires; see the module's comment.
pub(super) async fn run(
    mut jobs: mpsc::Receiver<Job>,
    engine: Arc<Engine>,
    worker: Worker,
    slots: Arc<Semaphore>,
    tracker: TaskTracker,
    cancel: CancellationToken,
) {
    let sweep_every = (engine.lease_ms / 8).clamp(1, LEASE_SWEEP_INTERVAL_MS_MAX);
    let mut sweep = tokio::time::interval(Duration::from_millis(sweep_every as u64));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let job = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = sweep.tick() => {
                hand_back_expiring(&engine).await;
                continue;
            }
            job = jobs.recv() => match job { Some(job) => job, None => return },
        };
        let (job, not_before, mut ticket) = match engine.flow.admit(job, engine.now()) {
            Admission::Queued => continue,
            Admission::Defer { job, until } => {
                engine.flow.release(&job, Status::Pending, Some(until)).await;
                continue;
            }
            Admission::Send { job, not_before, ticket } => (job, not_before, ticket),
        };
        let slot = tokio::select! {
            _ = cancel.cancelled() => return,
            slot = slots.clone().acquire_owned() => slot.expect("semaphore is never closed"),
        };
        let (worker, engine, cancel) = (worker.clone(), engine.clone(), cancel.clone());
        tracker.spawn(async move {
            let _slot = slot;
            let (mut job, mut not_before) = (job, not_before);
            loop {
                let wait = not_before - engine.now();
                if wait > 0 {
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                }
                let verdict = worker.attempt(&engine, job).await;
                match ticket.finish(verdict).await {
                    Some(next) if !cancel.is_cancelled() => (job, not_before) = next,
                    Some((next, _)) => {
                        // Shutting down: the job the slot passed to goes back, due now.
                        engine.flow.release(&next, Status::Pending, Some(engine.now())).await;
                        ticket.close();
                        break;
                    }
                    None => break,
                }
            }
        });
    }
}

/// Gives back, due now, the queued jobs with less than half their lease left, before it lapses
/// and the poller claims them a second time.
async fn hand_back_expiring(engine: &Engine) {
    let now = engine.now();
    let expiring = engine.flow.take_expiring(now, engine.lease_ms / 2);
    if !expiring.is_empty() {
        tracing::debug!(count = expiring.len(), "handing back queued deliveries before their lease runs out");
    }
    for job in expiring {
        engine.flow.release(&job, Status::Pending, Some(now)).await;
    }
}

impl Worker {
    /// Sends the job and hands the attempt to the recorder; `None` when it was not sent (its
    /// lease is too short for an attempt, its endpoint was disabled or reset to unverified
    /// meanwhile, a throttle shared with other nodes has no slot soon, or its transformation
    /// cancelled it), which says nothing of the endpoint's health.
    pub async fn attempt(&self, engine: &Engine, job: Job) -> Option<Verdict> {
        let started = self.clock.now();
        if job.leased_until - started < job.attempt_budget_ms() {
            // It waited in memory too long for its lease: give it back rather than risk sending it
            // after the lease lapsed (when the poller may already have claimed it again).
            engine.flow.release(&job, Status::Pending, Some(started)).await;
            return None;
        }
        if job.endpoint.disabled {
            engine.flow.release(&job, Status::Canceled, None).await;
            return None;
        }
        if job.endpoint.unverified {
            // Verification was reset after this delivery was claimed: park it until verified.
            engine.flow.release(&job, Status::Pending, None).await;
            return None;
        }
        if let Some(until) = engine.flow.shared_slot(&job).await {
            engine.flow.release(&job, Status::Pending, Some(until)).await;
            return None;
        }
        let started = self.clock.now();
        let Job { delivery, message, endpoint, .. } = &job;
        let in_flight = self.metrics.attempt_in_flight();
        let sent = self.sender.send(endpoint, message, delivery, started).await;
        drop(in_flight);
        let outcome = match sent {
            Sent::Attempted(outcome) => outcome,
            Sent::Canceled => {
                // The endpoint's transformation said not to send it: canceled, not failed.
                tracing::debug!(msg_id = %delivery.msg_id, endpoint_id = %endpoint.id, "canceled by the transformation");
                engine.flow.release(&job, Status::Canceled, None).await;
                return None;
            }
        };
        let lag_ms = delivery.next_attempt_at.map_or(0, |due| started - due);
        self.metrics.attempt_finished(endpoint.id, &outcome, lag_ms);
        let pausing = matches!(outcome.status_code, 429 | 503);
        let verdict =
            Verdict { succeeded: outcome.succeeded(), pause_seconds: outcome.retry_after_seconds.filter(|_| pausing) };
        let finished = self.clock.now();
        let attempts = delivery.attempts + 1;
        let retry_at = if outcome.succeeded() || delivery.trigger == TriggerType::Manual {
            None
        } else {
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            next_attempt_at(endpoint.retry_policy.as_ref(), attempts, finished, jitter, outcome.retry_after_seconds)
        };
        let status = match (outcome.succeeded(), retry_at) {
            (true, _) => Status::Success,
            (false, Some(_)) => Status::Pending,
            (false, None) => Status::Fail,
        };
        log_outcome(&job, &outcome, attempts, retry_at, lag_ms);
        if status == Status::Fail {
            self.metrics.delivery_failed();
        }
        let attempt = Attempt {
            id: AttemptId::generate(),
            app_id: delivery.app_id,
            msg_id: delivery.msg_id,
            endpoint_id: delivery.endpoint_id,
            delivery_id: delivery.id,
            url: endpoint.url.clone(),
            status: if outcome.succeeded() { Status::Success } else { Status::Fail },
            response_status_code: outcome.status_code,
            response: outcome.response,
            response_duration_ms: outcome.duration_ms,
            error_kind: outcome.error,
            trigger_type: delivery.trigger,
            timestamp: finished,
        };
        let update = DeliveryUpdate { status, attempts, next_attempt_at: retry_at, created_at: delivery.created_at };
        // Recorded off the endpoint's slot: the next job goes out while this one commits.
        let delivery_id = delivery.id;
        if self.records.send(Record::Sent { job, attempt, update }).await.is_err() {
            tracing::error!(%delivery_id, "the recorder has stopped; the delivery's lease will lapse");
        }
        Some(verdict)
    }
}

fn log_outcome(
    job: &Job,
    outcome: &hookwire_core::model::AttemptOutcome,
    attempts: u32,
    retry_at: Option<Millis>,
    lag_ms: Millis,
) {
    let (delivery, endpoint) = (&job.delivery, &job.endpoint);
    if !outcome.succeeded() {
        tracing::info!(
            msg_id = %delivery.msg_id, delivery_id = %delivery.id, endpoint_id = %endpoint.id,
            status_code = outcome.status_code, error = outcome.error.map(|e| e.as_str()), attempts,
            retrying = retry_at.is_some(), "delivery attempt failed"
        );
    } else {
        tracing::debug!(
            msg_id = %delivery.msg_id, delivery_id = %delivery.id, endpoint_id = %endpoint.id,
            status_code = outcome.status_code, duration_ms = outcome.duration_ms, lag_ms, attempts,
            "delivery attempt succeeded"
        );
    }
}
