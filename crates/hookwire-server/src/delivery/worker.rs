//! One attempt of one delivery: send, decide what happens next, and hand both to the recorder.

use std::sync::Arc;

use hookwire_core::AttemptId;
use hookwire_core::model::{Attempt, Status, TriggerType};
use hookwire_core::retry::next_attempt_at;
use hookwire_store::{DeliveryUpdate, Store};
use tokio::sync::mpsc;

use hookwire_core::time_fmt::Millis;

use super::Job;
use super::flow::{THROTTLE_HOLD_MAX_MS, Verdict};
use super::recorder::Sent;
use super::sender::Sender;
use crate::state::now;

#[derive(Clone)]
pub(super) struct Worker {
    pub store: Arc<dyn Store>,
    pub sender: Sender,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The recorder's queue; bounded, so a lagging store holds sending back.
    pub records: mpsc::Sender<Sent>,
}

impl Worker {
    /// Gives a delivery back to the store, due at `until`, without counting an attempt.
    pub async fn defer(&self, job: Job, until: hookwire_core::time_fmt::Millis) {
        let update =
            DeliveryUpdate { status: Status::Pending, attempts: job.delivery.attempts, next_attempt_at: Some(until) };
        if let Err(error) = self.store.update_delivery(job.delivery.id, update, now()).await {
            tracing::error!(%error, delivery_id = %job.delivery.id, "cannot defer delivery; its lease will lapse");
        }
    }

    /// On a store shared by several nodes, waits for the endpoint's next send slot under its
    /// `throttleRate` counted across all of them. Returns when to defer the job instead, if that
    /// slot is more than `THROTTLE_HOLD_MAX_MS` away. (One process keeps the throttle in memory.)
    pub async fn shared_throttle(&self, job: &Job) -> Option<Millis> {
        let shared = self.store.shared_flow()?;
        let rate = job.endpoint.throttle_rate.filter(|rate| *rate > 0)?;
        let interval = (1_000 / rate as Millis).max(1);
        let started = now();
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

    /// Tells every node sharing the store that the endpoint asked for a pause. Called after this node's
    /// flow control has paused it, so no job of this node slips out while the store is written.
    pub async fn share_pause(&self, endpoint: hookwire_core::EndpointId, seconds: u64, now: Millis) {
        let Some(shared) = self.store.shared_flow() else { return };
        if let Err(error) = shared.pause_endpoint(endpoint, now + seconds as Millis * 1_000).await {
            tracing::warn!(%error, endpoint_id = %endpoint, "cannot share the endpoint's Retry-After pause");
        }
    }

    /// Sends the job and hands the attempt to the recorder; `None` when it was not sent (its endpoint was
    /// disabled or reset to unverified meanwhile), which says nothing of the endpoint's health.
    pub async fn attempt(&self, job: Job) -> Option<Verdict> {
        let Job { delivery, message, endpoint } = &job;
        let started = now();
        if endpoint.disabled {
            let update =
                DeliveryUpdate { status: Status::Canceled, attempts: delivery.attempts, next_attempt_at: None };
            if let Err(error) = self.store.update_delivery(delivery.id, update, started).await {
                tracing::error!(%error, delivery_id = %delivery.id, "cannot cancel delivery");
            }
            return None;
        }
        if endpoint.unverified {
            // Verification was reset after this delivery was claimed: park it until verified.
            let update = DeliveryUpdate { status: Status::Pending, attempts: delivery.attempts, next_attempt_at: None };
            if let Err(error) = self.store.update_delivery(delivery.id, update, started).await {
                tracing::error!(%error, delivery_id = %delivery.id, "cannot park delivery");
            }
            return None;
        }
        let in_flight = self.metrics.attempt_in_flight();
        let outcome = self.sender.send(endpoint, message, delivery, started).await;
        drop(in_flight);
        let lag_ms = delivery.next_attempt_at.map_or(0, |due| started - due);
        self.metrics.attempt_finished(endpoint.id, &outcome, lag_ms);
        let pausing = matches!(outcome.status_code, 429 | 503);
        let verdict =
            Verdict { succeeded: outcome.succeeded(), pause_seconds: outcome.retry_after_seconds.filter(|_| pausing) };
        let finished = now();
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
        let update = DeliveryUpdate { status, attempts, next_attempt_at: retry_at };
        // Recorded off the endpoint's slot: the next job goes out while this one commits.
        let delivery_id = delivery.id;
        if self.records.send(Sent { job, attempt, update }).await.is_err() {
            tracing::error!(%delivery_id, "the recorder has stopped; the delivery's lease will lapse");
        }
        Some(verdict)
    }
}
