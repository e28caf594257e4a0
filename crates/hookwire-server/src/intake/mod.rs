//! The one intake: every way work enters the delivery pipeline. A message from the API or the
//! dashboard, a test event (send-example), an operational event, a resend, a recovery, a
//! verified endpoint's parked deliveries: each is one call here, which checks the payload,
//! plans the fan-out (fanout.rs), builds the deliveries, reserves room in the worker queue,
//! commits, and hands the due work to the workers (or wakes the poller). Adapters (`api/`,
//! `ui/`, `ops/`) parse, call one operation and render; they never build deliveries or jobs.

pub mod fanout;
pub mod schemas;

use std::sync::Arc;

use hookwire_core::limits::RETENTION_DAYS_MAX;
use hookwire_core::model::{Delivery, Endpoint, Message, TriggerType};
use hookwire_core::payload::PayloadError;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, DeliveryId, MessageId};
use hookwire_store::{Accept, Store, StoreError};

use crate::clock::SharedClock;
use crate::delivery::{Dispatcher, Job};
use fanout::{Fanout, Planned, new_delivery};
use schemas::PayloadSchemas;

/// Who receives a submitted message.
pub enum Audience {
    /// Every enabled endpoint of the application whose subscription and filter match.
    Subscribers,
    /// This endpoint only, whatever its subscription (a test event).
    Endpoint(Arc<Endpoint>),
}

/// A message to accept.
pub struct Submission {
    pub app: AppId,
    pub event_type: String,
    pub event_id: Option<String>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    /// The payload as the producer sent it (a JSON object, or any text when `content_type` is
    /// given), delivered byte for byte.
    pub payload: String,
    /// A raw payload's `Content-Type`; `None`: the payload is a JSON object.
    pub content_type: Option<String>,
    /// Deliver no earlier than this.
    pub deliver_at: Option<Millis>,
    /// Keep the payload this many hours (default: the server's retention).
    pub retention_hours: Option<u64>,
    pub idempotency_key: Option<String>,
    pub audience: Audience,
    pub trigger: TriggerType,
    /// Hold it to the catalog (`strict_event_types`) and the event type's schema
    /// (`validate_payloads`); off for Hookwire's own operational events.
    pub checked: bool,
    /// May wait while the recorder lags (`Dispatcher::hold_for_recorder`); off for Hookwire's
    /// own operational events, which the recorder itself waits to hand over.
    pub may_hold: bool,
}

impl Submission {
    /// A message for `app`'s subscribers, every option at its default.
    pub fn new(app: AppId, event_type: String, payload: String) -> Self {
        Self {
            app,
            event_type,
            event_id: None,
            channels: None,
            tags: None,
            payload,
            content_type: None,
            deliver_at: None,
            retention_hours: None,
            idempotency_key: None,
            audience: Audience::Subscribers,
            trigger: TriggerType::Scheduled,
            checked: true,
            may_hold: true,
        }
    }
}

/// Which of a task's messages an endpoint is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Those its subscription, channels and filter match now (replay-missing).
    IfSubscribed,
    /// Every one, whatever its subscription: a manual resend (bulk-replay).
    Always,
}

/// What a replay batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Messages sent (or, in a dry run, that would be).
    pub sent: u64,
    /// Messages that matched but whose payload retention had purged: not sent.
    pub expired: u64,
}

/// What became of a submission.
pub enum Accepted {
    /// A new message, committed with its deliveries.
    Created(Arc<Message>),
    /// The idempotency key was seen before: the message it created.
    Existing(Box<Message>),
}

impl Accepted {
    pub fn message(&self) -> &Message {
        match self {
            Self::Created(message) => message,
            Self::Existing(message) => message,
        }
    }
}

/// Why the intake refused work; translated to HTTP once, in `api/error.rs`.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The message's payload was expunged or passed its retention: there is nothing to send.
    #[error("message {0} has no payload any more (expunged, or past its retention), so it cannot be sent again")]
    PayloadGone(MessageId),
    #[error("event type {0:?} is not in the catalog (strict_event_types is on)")]
    UnknownEventType(String),
    /// The payload breaks its event type's schema at `path` (a JSON pointer).
    #[error("payload does not match the {event_type} schema: {message}")]
    Schema { event_type: String, path: String, message: String },
}

/// The server's rules for accepting messages.
#[derive(Debug, Clone)]
pub struct IntakePolicy {
    pub retention_days: u64,
    pub strict_event_types: bool,
    pub validate_payloads: bool,
}

pub struct Intake {
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    fanout: Fanout,
    schemas: PayloadSchemas,
    clock: SharedClock,
    metrics: Arc<crate::metrics::Metrics>,
    policy: IntakePolicy,
    /// Counts accepted messages, so the readers of the message log (the FIFO sender, long
    /// polls) wake on news instead of polling.
    appended: tokio::sync::watch::Sender<u64>,
}

impl Intake {
    pub fn new(
        store: Arc<dyn Store>,
        dispatcher: Dispatcher,
        clock: SharedClock,
        metrics: Arc<crate::metrics::Metrics>,
        policy: IntakePolicy,
    ) -> Self {
        Self {
            store,
            dispatcher,
            fanout: Fanout::default(),
            schemas: PayloadSchemas::default(),
            clock,
            metrics,
            policy,
            appended: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Accepts a message: checked, planned, committed with its deliveries in one durable write
    /// (together with the count of any filter that could not be evaluated), then handed on.
    pub async fn submit(&self, submission: Submission) -> Result<Accepted, IntakeError> {
        match &submission.content_type {
            None => hookwire_core::payload::check(&submission.payload)?,
            Some(_) => hookwire_core::payload::check_raw(&submission.payload)?,
        }
        if submission.checked
            && self.policy.strict_event_types
            && self.store.get_event_type(&submission.event_type).await?.is_none()
        {
            return Err(IntakeError::UnknownEventType(submission.event_type));
        }
        let now = self.clock.now();
        let retention_hours = submission.retention_hours.unwrap_or(self.policy.retention_days * 24);
        let message = Message {
            id: MessageId::generate(),
            app_id: submission.app,
            event_type: submission.event_type,
            event_id: submission.event_id,
            channels: submission.channels,
            tags: submission.tags,
            payload: Some(submission.payload),
            content_type: submission.content_type,
            deliver_at: submission.deliver_at.filter(|at| *at > now),
            payload_expires_at: Some(now + (retention_hours.clamp(1, RETENTION_DAYS_MAX * 24) * 3_600_000) as Millis),
            created_at: now,
        };
        // The payload is parsed at most once, for the schema, the filters and chunking alike.
        let parsed = fanout::ParsedPayload::new(&message);
        if submission.checked && self.policy.validate_payloads {
            self.schemas.check(self.store.as_ref(), &message.event_type, parsed.value()).await?;
        }
        let (planned, filter_errors) = match submission.audience {
            Audience::Subscribers => {
                self.fanout.plan(self.store.app_endpoints(message.app_id).await?, &message, &parsed)
            }
            Audience::Endpoint(endpoint) => (fanout::chunks(&endpoint, &parsed), Vec::new()),
        };
        for (endpoint, error) in &filter_errors {
            tracing::info!(endpoint_id = %endpoint, %error, "filter could not be evaluated");
        }
        let due_at = submission.deliver_at.map_or(now, |at| at.max(now));
        let message = Arc::new(message);
        let deliveries: Vec<Delivery> = planned
            .iter()
            .map(|p| new_delivery(&message, &p.endpoint, p.chunk, submission.trigger, now, due_at))
            .collect();
        let commit = |deliveries, leased_until| {
            let accept = Accept {
                message: message.clone(),
                deliveries,
                leased_until,
                idempotency_key: submission.idempotency_key.clone(),
                filter_errors: filter_errors.clone(),
            };
            self.store.accept_message(accept)
        };
        match self.hand_over(&message, deliveries, planned, now, submission.may_hold, commit).await? {
            hookwire_store::Accepted::Created => {
                self.metrics.message_accepted();
                self.announce_log();
                Ok(Accepted::Created(message))
            }
            hookwire_store::Accepted::Existing(existing) => Ok(Accepted::Existing(existing)),
        }
    }

    /// Wakes the message log's readers: a message was accepted, or a destination changed.
    pub fn announce_log(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever [`Self::announce_log`] is called.
    pub fn log_news(&self) -> tokio::sync::watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Sends `message` again to `endpoint`: one manual attempt of each of `chunks` (`None`: every
    /// page of a chunked endpoint, else the whole message).
    pub async fn resend(
        &self,
        message: &Arc<Message>,
        endpoint: Arc<Endpoint>,
        chunks: Option<Vec<Option<u32>>>,
    ) -> Result<(), IntakeError> {
        if message.payload.is_none() {
            return Err(IntakeError::PayloadGone(message.id));
        }
        let now = self.clock.now();
        let planned = match chunks {
            Some(chunks) => chunks.into_iter().map(|chunk| Planned { endpoint: endpoint.clone(), chunk }).collect(),
            None => fanout::chunks(&endpoint, &fanout::ParsedPayload::new(message)),
        };
        let deliveries: Vec<Delivery> = planned
            .iter()
            .map(|p| new_delivery(message, &p.endpoint, p.chunk, TriggerType::Manual, now, now))
            .collect();
        let store = &self.store;
        self.hand_over(message, deliveries, planned, now, true, |deliveries, leased_until| async move {
            store.insert_deliveries(deliveries, leased_until).await.map(|()| hookwire_store::Accepted::Created)
        })
        .await?;
        Ok(())
    }

    /// Sends `messages` to `endpoint` again for a background task (replay-missing, bulk-replay):
    /// every delivery of the batch in one write, left to the poller (a task's batches must not
    /// crowd live messages out of the workers' queue). Messages whose payload retention purged
    /// cannot be sent; with `dry_run` nothing is written, only counted.
    pub async fn replay(
        &self,
        endpoint: &Arc<Endpoint>,
        messages: &[Message],
        how: Replay,
        dry_run: bool,
    ) -> Result<Replayed, IntakeError> {
        let now = self.clock.now();
        let mut replayed = Replayed::default();
        let mut deliveries = Vec::new();
        for message in messages {
            let parsed = fanout::ParsedPayload::new(message);
            let planned = match how {
                Replay::IfSubscribed => self.fanout.plan(vec![endpoint.clone()], message, &parsed).0,
                Replay::Always => fanout::chunks(endpoint, &parsed),
            };
            if planned.is_empty() {
                continue;
            }
            if message.payload.is_none() {
                replayed.expired += 1;
                continue;
            }
            replayed.sent += 1;
            let trigger = match how {
                Replay::IfSubscribed => TriggerType::Scheduled,
                Replay::Always => TriggerType::Manual,
            };
            deliveries.extend(planned.iter().map(|p| new_delivery(message, &p.endpoint, p.chunk, trigger, now, now)));
        }
        if !dry_run && !deliveries.is_empty() {
            self.store.insert_deliveries(deliveries, None).await?;
            self.dispatcher.wake();
        }
        Ok(replayed)
    }

    /// Makes these failed deliveries due again now (a recover task's batch); returns how many
    /// were still failed.
    pub async fn recover(&self, deliveries: Vec<DeliveryId>) -> Result<u64, IntakeError> {
        let recovered = self.store.rearm_failed(deliveries, self.clock.now()).await?;
        if recovered > 0 {
            self.dispatcher.wake();
        }
        Ok(recovered)
    }

    /// Makes the deliveries parked for a now verified endpoint due; returns how many.
    pub async fn release_parked(&self, endpoint: &Endpoint) -> Result<u64, IntakeError> {
        let released = self.store.release_parked(endpoint.id, self.clock.now()).await?;
        if released > 0 {
            self.dispatcher.wake();
        }
        Ok(released)
    }

    /// Commits `deliveries` of `message` with `commit`: leased to this process and handed
    /// straight to the workers when the queue has room for the due ones (no claim round-trip),
    /// else unleased for the poller, which is woken. First, when `may_hold`, it waits while the
    /// recorder lags (at most `ACCEPT_HOLD_MS_MAX`).
    async fn hand_over<F, Fut>(
        &self,
        message: &Arc<Message>,
        deliveries: Vec<Delivery>,
        planned: Vec<Planned>,
        now: Millis,
        may_hold: bool,
        commit: F,
    ) -> Result<hookwire_store::Accepted, StoreError>
    where
        F: FnOnce(Vec<Delivery>, Option<Millis>) -> Fut,
        Fut: std::future::Future<Output = Result<hookwire_store::Accepted, StoreError>>,
    {
        let is_due = |d: &Delivery| d.next_attempt_at.is_some_and(|at| at <= now);
        let due = deliveries.iter().filter(|d| is_due(d)).count();
        if may_hold && due > 0 && self.dispatcher.hold_for_recorder().await {
            self.metrics.accept_held();
        }
        let scheduled = deliveries.iter().any(|d| d.next_attempt_at.is_some_and(|at| at > now));
        let reservation = self.dispatcher.try_reserve(due);
        let leased_until = reservation.as_ref().map(|_| self.dispatcher.lease_until(now));
        let jobs: Vec<(Delivery, Planned)> = match &reservation {
            Some(_) => deliveries.iter().cloned().zip(planned).filter(|(d, _)| is_due(d)).collect(),
            None => Vec::new(),
        };
        let accepted = commit(deliveries, leased_until).await?;
        if matches!(accepted, hookwire_store::Accepted::Created) {
            match (reservation, leased_until) {
                (Some(reservation), Some(leased_until)) => {
                    reservation.send(jobs.into_iter().map(|(delivery, plan)| Job {
                        delivery,
                        message: message.clone(),
                        endpoint: plan.endpoint,
                        leased_until,
                    }))
                }
                _ if due > 0 => self.dispatcher.wake(),
                _ => {}
            }
            if scheduled {
                self.dispatcher.wake(); // the poller recomputes when it next has work
            }
        }
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::clock::ManualClock;
    use crate::delivery::{ACCEPT_HOLD_MS_MAX, RECORDS_HOLD_AT, lagging_dispatcher};

    /// An intake over a fresh SQLite store with one application and one endpoint, whose
    /// dispatcher's recorder lags and never catches up (while the guard lives).
    async fn lagging_intake(dir: &tempfile::TempDir) -> (Intake, AppId, Arc<crate::metrics::Metrics>, impl Sized) {
        let store = crate::testing::sqlite_store(dir);
        let (app, _) = crate::testing::app_with_endpoint(store.as_ref(), 0).await;
        let (dispatcher, lag) = lagging_dispatcher(RECORDS_HOLD_AT + 1);
        let metrics = Arc::new(crate::metrics::Metrics::new(10));
        let policy = IntakePolicy { retention_days: 30, strict_event_types: false, validate_payloads: false };
        let intake = Intake::new(store, dispatcher, ManualClock::new(), metrics.clone(), policy);
        (intake, app.id, metrics, lag)
    }

    fn held_total(metrics: &crate::metrics::Metrics) -> String {
        let text = crate::metrics::exposition::render(metrics, &Default::default(), &Default::default(), &[]);
        text.lines().find(|line| line.starts_with("hookwire_accepts_held_total ")).unwrap().to_owned()
    }

    /// While the recorder lags, a producer's message with due deliveries waits for it (here to
    /// the bound: it never catches up) and is counted; one due later, and Hookwire's own
    /// operational events (which the recorder itself waits to hand over), go through at once.
    #[tokio::test(start_paused = true)]
    async fn an_accept_waits_for_a_lagging_recorder_unless_nothing_is_due_or_it_is_hookwires_own() {
        let dir = tempfile::tempdir().unwrap();
        let (intake, app, metrics, _lag) = lagging_intake(&dir).await;
        let timed = |submission: Submission| {
            let intake = &intake;
            async move {
                let started = Instant::now();
                assert!(matches!(intake.submit(submission).await, Ok(Accepted::Created(_))));
                started.elapsed()
            }
        };
        let message = || Submission::new(app, "a.b".into(), r#"{"n":1}"#.into());

        assert_eq!(timed(message()).await, Duration::from_millis(ACCEPT_HOLD_MS_MAX));
        assert_eq!(held_total(&metrics), "hookwire_accepts_held_total 1");

        let own = Submission { may_hold: false, ..message() };
        assert_eq!(timed(own).await, Duration::ZERO, "an operational event is not held");
        let later = Submission { deliver_at: Some(intake.clock.now() + 3_600_000), ..message() };
        assert_eq!(timed(later).await, Duration::ZERO, "nothing due: nothing to hold for");
        assert_eq!(held_total(&metrics), "hookwire_accepts_held_total 1");
    }
}
