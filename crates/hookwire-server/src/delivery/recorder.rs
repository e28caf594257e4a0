//! Records sent attempts in batches, off the endpoints' slots: workers hand each outcome over and
//! move on to their next job; this task writes every outcome waiting in one store write (one
//! group commit for hundreds of attempts under load), then does what an outcome calls for:
//! announce an exhausted delivery, disable an endpoint failing for too long, wake the poller for
//! a retry due soon. A record that cannot be written leaves its lease to lapse, so the delivery
//! is attempted again: at least once, never lost.

use std::sync::Arc;

use hookwire_core::model::{Attempt, Endpoint, Status, TriggerType};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{DeliveryUpdate, Store};
use tokio::sync::mpsc;

use super::events::OperationalEvents;
use super::{Dispatcher, Job, POLL_INTERVAL_MAX_MS};

/// Attempts written in one store call at most.
const BATCH_MAX: usize = 512;
/// Attempts sent and waiting to be recorded; beyond this, sending waits for the store.
pub(super) const RECORDS_WAITING_MAX: usize = 4_096;
/// A batch smaller than this waits up to `LINGER_MS` for more before it is written: at a few
/// thousand attempts a second a commit (and its fsync) per attempt or two cost more CPU than
/// the attempts themselves. Recording later changes nothing for the receiver (the endpoint's
/// slot was freed when the answer came), only when the attempt shows in the log.
const LINGER_BELOW: usize = 64;
const LINGER_MS: u64 = 5;

/// An attempt sent, and what becomes of its delivery.
pub(super) struct Sent {
    pub job: Job,
    pub attempt: Attempt,
    pub update: DeliveryUpdate,
}

pub(super) struct Recorder {
    pub store: Arc<dyn Store>,
    pub dispatcher: Dispatcher,
    pub events: Option<Arc<OperationalEvents>>,
    pub auto_disable_after_ms: Millis,
}

impl Recorder {
    /// Records until every sender is gone and the queue is empty.
    pub async fn run(self, mut waiting: mpsc::Receiver<Sent>) {
        let mut batch = Vec::with_capacity(BATCH_MAX);
        while waiting.recv_many(&mut batch, BATCH_MAX).await > 0 {
            linger(&mut waiting, &mut batch).await;
            let mut follow_ups = Vec::with_capacity(batch.len());
            let mut records = Vec::with_capacity(batch.len());
            for Sent { job, attempt, update } in batch.drain(..) {
                // Kept only when it will be announced: the record may carry 4 KiB of response.
                let exhausted = (update.status == Status::Fail && job.delivery.trigger == TriggerType::Scheduled)
                    .then(|| self.events.as_ref().map(|_| attempt.clone()))
                    .flatten();
                follow_ups.push((job, exhausted, attempt.timestamp, update.next_attempt_at));
                records.push((attempt, update));
            }
            let results = self.store.record_attempts(records).await;
            let mut wake = false;
            for ((job, exhausted, finished, retry_at), result) in follow_ups.into_iter().zip(results) {
                let failing_since = match result {
                    Ok(failing_since) => failing_since,
                    Err(error) => {
                        tracing::error!(%error, delivery_id = %job.delivery.id, "cannot record attempt");
                        continue;
                    }
                };
                if let (Some(events), Some(attempt)) = (&self.events, exhausted) {
                    events.attempt_exhausted(&job.endpoint, &job.message, &attempt, finished).await;
                }
                if let Some(since) = failing_since
                    && finished - since >= self.auto_disable_after_ms
                {
                    self.auto_disable(&job.endpoint, since, finished).await;
                }
                wake |= retry_at.is_some_and(|at| at <= finished + POLL_INTERVAL_MAX_MS as i64);
            }
            if wake {
                self.dispatcher.wake();
            }
        }
    }

    /// Disables an endpoint that has failed without a success for the configured period.
    async fn auto_disable(&self, endpoint: &Endpoint, failing_since: Millis, now: Millis) {
        match self.store.disable_endpoint(endpoint.id, now).await {
            Ok(true) => {
                tracing::warn!(endpoint_id = %endpoint.id, "endpoint disabled: it failed without a success for the configured period");
                if let Some(events) = &self.events {
                    events.endpoint_disabled(endpoint, failing_since, now).await;
                }
            }
            Ok(false) => {}
            Err(error) => tracing::error!(%error, endpoint_id = %endpoint.id, "cannot disable endpoint"),
        }
    }
}

/// Lets a small batch gather more attempts for up to `LINGER_MS`.
async fn linger<T>(waiting: &mut mpsc::Receiver<T>, batch: &mut Vec<T>) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(LINGER_MS);
    while batch.len() < LINGER_BELOW {
        let room = BATCH_MAX - batch.len();
        match tokio::time::timeout_at(deadline, waiting.recv_many(batch, room)).await {
            Ok(0) | Err(_) => return, // every sender gone, or time is up
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_small_batch_waits_briefly_for_more() {
        let (sender, mut waiting) = mpsc::channel(BATCH_MAX);
        sender.send(1).await.unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            sender.send(2).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            sender.send(3).await.unwrap(); // after the linger: the next batch's
        });
        let mut batch = Vec::new();
        waiting.recv_many(&mut batch, BATCH_MAX).await;
        let started = Instant::now();
        linger(&mut waiting, &mut batch).await;
        assert_eq!(batch, vec![1, 2]);
        assert_eq!(started.elapsed(), Duration::from_millis(LINGER_MS));
    }

    #[tokio::test(start_paused = true)]
    async fn a_big_batch_goes_at_once() {
        let (sender, mut waiting) = mpsc::channel(BATCH_MAX);
        for n in 0..LINGER_BELOW {
            sender.send(n).await.unwrap();
        }
        let mut batch = Vec::new();
        waiting.recv_many(&mut batch, BATCH_MAX).await;
        let started = Instant::now();
        linger(&mut waiting, &mut batch).await;
        assert_eq!((batch.len(), started.elapsed()), (LINGER_BELOW, Duration::ZERO));
    }
}
