//! The sender of `fifoEndpoint` destinations: each enabled one is leased (on PostgreSQL, to one
//! node at a time), its log read from its position, and the next batch of its messages POSTed
//! as a JSON array; the position moves past the batch only after a 2xx, so the receiver gets
//! every message in log order, a batch repeated after a failure or a crash (with the same
//! `webhook-id`), never a gap. A failure retries the same batch after 1 s, doubling to 10 min
//! (or the receiver's `Retry-After`), for as long as it takes: a FIFO cannot skip.

use std::sync::Arc;
use std::time::Duration;

use hookwire_core::destination::{Destination, Progress};
use hookwire_core::model::Message;
use hookwire_core::time_fmt::{Millis, format_millis};
use hookwire_store::{Store, StoreError};
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::delivery::sender::Sender;

/// How long a sender holds a destination: one batch's send and save fit well inside.
pub const FIFO_LEASE_MS: Millis = 60_000;
/// How often the sender looks for destinations with work (new messages, a retry due).
const FIFO_POLL_MS: u64 = 200;
/// Destinations taken at a time.
const FIFO_CLAIM_MAX: usize = 32;
/// Log entries looked through for one batch before the position moves on without sending.
const FIFO_SCAN_MAX: usize = 10_000;
const FIFO_SCAN_PAGE: usize = 500;
/// The first wait before a failed batch goes again; it doubles per failure up to the longest.
/// Quicker than a delivery's schedule: everything after the batch waits on it.
const FIFO_RETRY_FIRST_MS: Millis = 1_000;
const FIFO_RETRY_MAX_MS: Millis = 600_000;

/// How long the `failures`-th failure of a batch waits: 1 s doubling to 10 min, or as long as
/// the receiver's `Retry-After` asked (bounded the same way).
fn retry_delay_ms(failures: u32, retry_after_seconds: Option<u64>) -> Millis {
    let doubled = FIFO_RETRY_FIRST_MS.saturating_mul(1 << failures.saturating_sub(1).min(20));
    let asked = retry_after_seconds.map_or(0, |s| s as Millis * 1_000);
    doubled.max(asked).min(FIFO_RETRY_MAX_MS)
}

/// Runs until `cancel` fires.
pub async fn run(store: Arc<dyn Store>, sender: Sender, clock: SharedClock, cancel: CancellationToken) {
    let owner = format!("fifo-{}", uuid::Uuid::now_v7());
    loop {
        let now = clock.now();
        let claimed = tokio::select! {
            _ = cancel.cancelled() => return,
            claimed = store.claim_driven(now, &owner, now + FIFO_LEASE_MS, FIFO_CLAIM_MAX) => claimed,
        };
        let claimed = claimed.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot look for FIFO destinations; will try again");
            Vec::new()
        });
        let mut sends = tokio::task::JoinSet::new();
        for destination in claimed {
            let (store, sender, clock, owner) = (store.clone(), sender.clone(), clock.clone(), owner.clone());
            sends.spawn(async move {
                let id = destination.id;
                if let Err(error) = drive(&*store, &sender, &clock, &owner, destination).await {
                    // The lease lapses and the batch is tried again.
                    tracing::warn!(%error, destination_id = %id, "a FIFO batch could not be settled");
                }
            });
        }
        while sends.join_next().await.is_some() {}
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(FIFO_POLL_MS)) => {}
        }
    }
}

/// One turn of one destination: the next batch sent (or none due yet), its progress saved and
/// its lease freed.
async fn drive(
    store: &dyn Store,
    sender: &Sender,
    clock: &SharedClock,
    owner: &str,
    destination: Destination,
) -> Result<(), StoreError> {
    let mut progress = destination
        .progress
        .clone()
        .unwrap_or_else(|| Progress { position: destination.start.clone(), ..Progress::default() });
    let Some(config) = destination.config.clone() else {
        progress.failure_reason = Some("the destination has no receiver configured".into());
        store.save_progress(destination.id, owner, &progress).await?;
        return Ok(());
    };
    let batch = next_batch(store, &destination, &progress.position).await?;
    let now = clock.now();
    let Some(first) = batch.messages.first() else {
        // Nothing to send: move past what was looked through.
        progress.position = batch.scanned_to;
        store.save_progress(destination.id, owner, &progress).await?;
        return Ok(());
    };
    let waiting = destination.max_wait_secs > 0
        && batch.messages.len() < destination.batch_size as usize
        && now < first.created_at + Millis::from(destination.max_wait_secs) * 1_000;
    if waiting && progress.failures == 0 {
        // A partial batch waits up to maxWaitSecs after its first message for company.
        store.save_progress(destination.id, owner, &progress).await?;
        return Ok(());
    }
    let webhook_id = format!("batch_{}", first.id);
    let outcome = match shaped_body(sender, &destination, &config.url, &batch.messages, now).await {
        Ok(body) => sender.send_batch(&config.url, &config.headers, &config.secret, &webhook_id, body, now).await,
        Err(failure) => hookwire_core::model::AttemptOutcome {
            status_code: 0,
            response: failure.to_string(),
            duration_ms: 0,
            error: Some(hookwire_core::model::ErrorKind::Transformation),
            retry_after_seconds: None,
        },
    };
    if outcome.succeeded() {
        progress = Progress { position: batch.sent_to, ..Progress::default() };
    } else {
        progress.failures += 1;
        progress.failure_reason = Some(reason(&outcome));
        let retry = clock.now() + retry_delay_ms(progress.failures, outcome.retry_after_seconds);
        progress.next_retry_at = Some(retry);
        tracing::info!(
            destination_id = %destination.id, webhook_id, failures = progress.failures,
            next_retry_at = %format_millis(retry), reason = progress.failure_reason.as_deref(),
            "a FIFO batch failed; the same batch goes again"
        );
    }
    if !store.save_progress(destination.id, owner, &progress).await? {
        tracing::warn!(destination_id = %destination.id, "a FIFO lease lapsed during a send; its batch may repeat");
    }
    Ok(())
}

/// The next batch of a destination from `position`: its messages, the position after the last
/// of them, and how far the log was looked through.
struct Batch {
    messages: Vec<Message>,
    sent_to: String,
    scanned_to: String,
}

async fn next_batch(store: &dyn Store, destination: &Destination, position: &str) -> Result<Batch, StoreError> {
    let mut batch = Batch { messages: Vec::new(), sent_to: position.to_owned(), scanned_to: position.to_owned() };
    let mut scanned = 0;
    loop {
        let page = store.read_log(destination.app_id, &batch.scanned_to, FIFO_SCAN_PAGE).await?;
        let exhausted = page.len() < FIFO_SCAN_PAGE;
        for (at, message) in page {
            batch.scanned_to = at.clone();
            scanned += 1;
            if destination.wants(&message) {
                batch.sent_to = at;
                batch.messages.push(message);
                if batch.messages.len() == destination.batch_size as usize {
                    return Ok(batch);
                }
            }
        }
        if exhausted || scanned >= FIFO_SCAN_MAX {
            // A batch ends with its last message: what follows it is read next time.
            return Ok(batch);
        }
    }
}

/// The body to send: the batch as is, or what the destination's transformation makes of
/// `{url, variables, events: [{eventType, payload}]}` (compiled once per version, bounded like
/// an endpoint's); a failed run fails the batch, which goes again like any failure.
async fn shaped_body(
    sender: &Sender,
    destination: &Destination,
    url: &str,
    messages: &[Message],
    now: Millis,
) -> Result<String, hookwire_transform::Failure> {
    let Some(transformation) = destination.transformation.as_ref().filter(|t| t.enabled) else {
        return Ok(body(messages, true));
    };
    let events = body(messages, false);
    let batch = hookwire_transform::Batch { url, events: &events, variables: &transformation.variables, time_ms: now };
    let key = hookwire_transform::Key { owner: destination.id.to_string(), version: transformation.updated_at };
    sender.transforms().run_batch(key, &transformation.code, batch).await
}

/// A batch as the receiver gets it, `[{id, eventType, timestamp, channels, payload}, …]`, or
/// (without `whole`) as a transformation gets it, `[{eventType, payload}, …]`; each payload as
/// the producer sent it (an expunged one as `{"expired": true}`, a raw one as text).
fn body(messages: &[Message], whole: bool) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Item<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        event_type: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        channels: Option<Option<&'a [String]>>,
        payload: &'a RawValue,
    }
    let expired = RawValue::from_string(r#"{"expired":true}"#.to_owned()).expect("valid JSON");
    let raw: Vec<Option<Box<RawValue>>> = messages
        .iter()
        .map(|m| match (&m.content_type, &m.payload) {
            (None, Some(payload)) => RawValue::from_string(payload.clone()).ok(),
            (Some(_), Some(text)) => serde_json::to_string(text).ok().and_then(|t| RawValue::from_string(t).ok()),
            (_, None) => None,
        })
        .collect();
    let items: Vec<Item<'_>> = messages
        .iter()
        .zip(&raw)
        .map(|(m, payload)| Item {
            id: whole.then(|| m.id.to_string()),
            event_type: &m.event_type,
            timestamp: whole.then(|| format_millis(m.created_at)),
            channels: whole.then_some(m.channels.as_deref()),
            payload: payload.as_deref().unwrap_or(&expired),
        })
        .collect();
    serde_json::to_string(&items).expect("batches serialise")
}

fn reason(outcome: &hookwire_core::model::AttemptOutcome) -> String {
    let text: String = outcome.response.chars().take(200).collect();
    match (outcome.status_code, outcome.error) {
        (0, Some(kind)) => format!("{}: {text}", kind.as_str()),
        (status, _) => format!("HTTP {status}: {text}"),
    }
}
