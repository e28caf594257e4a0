//! Records what became of every job, in batches, off the endpoints' slots: workers hand each
//! outcome over and move on to their next job; this task writes every record waiting in one
//! store write per kind (attempts with their delivery updates; releases of jobs given back
//! without an attempt), one group commit for hundreds of records under load, then does what an
//! outcome calls for: announce an exhausted delivery, disable an endpoint failing for too long,
//! wake the poller for work due soon. A record that cannot be written leaves its lease to lapse,
//! so the delivery is attempted again: at least once, never lost.

use std::sync::Arc;

use hookwire_core::model::{Attempt, Endpoint, Message, Status, TriggerType};
use hookwire_core::time_fmt::Millis;
use hookwire_store::{DeliveryUpdate, Release, Store};
use tokio::sync::{Notify, mpsc};

use super::{Job, POLL_INTERVAL_MAX_MS};
use crate::activity::{Activity, Recorded};
use crate::clock::SharedClock;

/// Records written in one store call at most.
const BATCH_MAX: usize = 512;
/// Records waiting to be written; beyond this, sending waits for the store.
pub(super) const RECORDS_WAITING_MAX: usize = 4_096;
/// A batch smaller than this waits up to `LINGER_MS` for more before it is written: at a few
/// thousand attempts a second a commit (and its fsync) per attempt or two cost more CPU than
/// the attempts themselves. Recording later changes nothing for the receiver (the endpoint's
/// slot was freed when the answer came), only when the attempt shows in the log.
const LINGER_BELOW: usize = 64;
const LINGER_MS: u64 = 5;

/// What became of a job. (`Sent` is the common record and the large one; boxing it would cost an
/// allocation per attempt to shrink the rare `Released`.)
#[allow(clippy::large_enum_variant)]
pub(super) enum Record {
    /// It was sent: the attempt, and what becomes of its delivery.
    Sent { job: Job, attempt: Attempt, update: DeliveryUpdate },
    /// It goes back to the store without an attempt.
    Released(Release),
}

/// What Hookwire itself has to say about deliveries, for the operator's operational events.
pub enum OperationalEvent {
    /// An endpoint failing without a success since `failing_since` was disabled at `at`.
    EndpointDisabled { endpoint: Arc<Endpoint>, failing_since: Millis, at: Millis },
    /// A message's retries to an endpoint are exhausted; `attempt` was the last.
    AttemptExhausted { endpoint: Arc<Endpoint>, message: Arc<Message>, attempt: Box<Attempt> },
}

pub(super) struct Recorder {
    pub store: Arc<dyn Store>,
    /// The poller's wake-up.
    pub wake: Arc<Notify>,
    /// Told after every batch written (the intake may be holding accepts until it is).
    pub recorded: Arc<Notify>,
    pub events: Option<mpsc::Sender<OperationalEvent>>,
    pub auto_disable_after_ms: Millis,
    pub clock: SharedClock,
    /// Where recorded attempts are counted for the charts.
    pub activity: Arc<Activity>,
}

impl Recorder {
    /// Records until every sender is gone and the queue is empty.
    pub async fn run(self, mut waiting: mpsc::Receiver<Record>) {
        let mut batch = Vec::with_capacity(BATCH_MAX);
        while waiting.recv_many(&mut batch, BATCH_MAX).await > 0 {
            linger(&mut waiting, &mut batch).await;
            let mut sent = Vec::with_capacity(batch.len());
            let mut released = Vec::new();
            for record in batch.drain(..) {
                match record {
                    Record::Sent { job, attempt, update } => sent.push((job, attempt, update)),
                    Record::Released(release) => released.push(release),
                }
            }
            let wake = self.write_releases(released).await | self.write_attempts(sent).await;
            self.recorded.notify_waiters();
            if wake {
                self.wake.notify_one();
            }
        }
        // The last attempts of a shutdown are counted too.
        if let Err(error) = self.activity.flush().await {
            tracing::warn!(%error, "cannot write the last activity counts");
        }
    }

    /// Gives jobs back to the store; true when one of them is due soon.
    async fn write_releases(&self, released: Vec<Release>) -> bool {
        if released.is_empty() {
            return false;
        }
        let now = self.clock.now();
        let soon = now + POLL_INTERVAL_MAX_MS as Millis;
        let due_soon = released.iter().any(|r| r.update.next_attempt_at.is_some_and(|at| at <= soon));
        let count = released.len();
        if let Err(error) = self.store.release_deliveries(released, now).await
            && !error.is_storage_full()
        {
            tracing::error!(%error, count, "cannot give deliveries back; their leases will lapse");
        }
        due_soon
    }

    /// Records attempts and acts on their outcomes; true when a retry is due soon.
    async fn write_attempts(&self, sent: Vec<(Job, Attempt, DeliveryUpdate)>) -> bool {
        if sent.is_empty() {
            return false;
        }
        let mut follow_ups = Vec::with_capacity(sent.len());
        let mut records = Vec::with_capacity(sent.len());
        let mut counted = Vec::with_capacity(sent.len());
        for (job, attempt, update) in sent {
            counted.push(Recorded::of(&attempt, update.status == Status::Fail));
            // Kept only when it will be announced: the record may carry 4 KiB of response.
            let exhausted = (update.status == Status::Fail && job.delivery.trigger == TriggerType::Scheduled)
                .then(|| self.events.as_ref().map(|_| attempt.clone()))
                .flatten();
            follow_ups.push((job, exhausted, attempt.timestamp, update.next_attempt_at));
            records.push((attempt, update));
        }
        let results = self.store.record_attempts(records).await;
        self.activity.record(counted.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(c, _)| *c));
        let mut wake = false;
        let mut unrecorded = Vec::new();
        for ((job, exhausted, finished, retry_at), result) in follow_ups.into_iter().zip(results) {
            let failing_since = match result {
                Ok(failing_since) => failing_since,
                Err(error) => {
                    if !error.is_storage_full() {
                        tracing::error!(%error, delivery_id = %job.delivery.id, "cannot record attempt");
                    }
                    // Give the delivery back now rather than hold it until its lease lapses: it
                    // is attempted again (at least once) as soon as the store takes writes.
                    unrecorded.push(job.release(Status::Pending, Some(self.clock.now())));
                    continue;
                }
            };
            if let Some(attempt) = exhausted {
                let event = OperationalEvent::AttemptExhausted {
                    endpoint: job.endpoint.clone(),
                    message: job.message.clone(),
                    attempt: Box::new(attempt),
                };
                self.announce(event).await;
            }
            if let Some(since) = failing_since
                && finished - since >= self.auto_disable_after_ms
            {
                self.auto_disable(&job.endpoint, since, finished).await;
            }
            wake |= retry_at.is_some_and(|at| at <= finished + POLL_INTERVAL_MAX_MS as Millis);
        }
        wake | self.write_releases(unrecorded).await
    }

    /// Disables an endpoint that has failed without a success for the configured period.
    async fn auto_disable(&self, endpoint: &Arc<Endpoint>, failing_since: Millis, now: Millis) {
        match self.store.disable_endpoint(endpoint.id, now).await {
            Ok(true) => {
                tracing::warn!(endpoint_id = %endpoint.id, "endpoint disabled: it failed without a success for the configured period");
                self.announce(OperationalEvent::EndpointDisabled {
                    endpoint: endpoint.clone(),
                    failing_since,
                    at: now,
                })
                .await;
            }
            Ok(false) => {}
            Err(error) => tracing::error!(%error, endpoint_id = %endpoint.id, "cannot disable endpoint"),
        }
    }

    async fn announce(&self, event: OperationalEvent) {
        if let Some(events) = &self.events
            && events.send(event).await.is_err()
        {
            tracing::warn!("operational events have stopped; an event is dropped");
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
