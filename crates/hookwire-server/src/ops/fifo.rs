//! The sender of `fifoEndpoint` destinations: each enabled one is leased (on PostgreSQL, to one
//! node at a time), its log read from its position, and the next batch of its messages POSTed
//! as a JSON array; the position moves past the batch only after a 2xx, so the receiver gets
//! every message in log order, a batch repeated after a failure or a crash (with the same
//! `webhook-id`), never a gap. A failure retries the same batch after 1 s, doubling to 10 min
//! (or the receiver's `Retry-After`), for as long as it takes: a FIFO cannot skip.

use std::sync::Arc;
use std::time::Duration;

use hookwire_core::AttemptId;
use hookwire_core::destination::{Destination, DestinationAttempt, Progress};
use hookwire_core::model::Message;
use hookwire_core::time_fmt::{Millis, format_millis};
use hookwire_store::{ProgressSaved, Store, StoreError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::delivery::sender::Sender;

/// How long a sender holds a destination: one batch's send and save fit well inside.
pub const FIFO_LEASE_MS: Millis = 60_000;
/// How often a sender not told of new messages looks for destinations whose time came (a
/// retry, a batch's wait, a lapsed lease), and, with several nodes, for messages another node
/// accepted.
const FIFO_IDLE_MS: u64 = 1_000;
/// The least time between two looks that found nothing to send: a busy intake announces news
/// with every message, and each look is a write.
const FIFO_QUIET_MS: u64 = 25;
/// Destinations taken at a time.
const FIFO_CLAIM_MAX: usize = 32;
/// Log entries looked through for one batch before the position moves on without sending.
const FIFO_SCAN_MAX: usize = 10_000;
const FIFO_SCAN_PAGE: usize = 500;
const FIFO_SCAN_PAGE_MIN: usize = 50;
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

/// Runs until `cancel` fires. It wakes when this node accepts a message (or the API changes a
/// destination: `appended`), and otherwise once a second; an idle
/// destination costs nothing until then. On one node every message arrives through this
/// node's intake, so the idle look takes only destinations whose time came; with peers (a
/// shared store) it takes every one, since a peer's accepts are not heard here.
pub async fn run(
    store: Arc<dyn Store>,
    sender: Sender,
    clock: SharedClock,
    mut appended: watch::Receiver<u64>,
    cancel: CancellationToken,
) {
    let owner = store.sender_owner().unwrap_or_else(|| format!("fifo-{}", uuid::Uuid::now_v7()));
    // Peers' announcements are the delivery poller's (a `notify_one`): not taken here; with
    // peers, the idle look takes every destination instead.
    let peers = store.due_signal().is_some();
    let mut told = true; // at start: whatever is pending
    loop {
        appended.borrow_and_update();
        let now = clock.now();
        let timed_only = !told && !peers;
        let claimed = tokio::select! {
            _ = cancel.cancelled() => return,
            claimed = store.claim_driven(now, &owner, now + FIFO_LEASE_MS, FIFO_CLAIM_MAX, timed_only) => claimed,
        };
        let claimed = claimed.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot look for FIFO destinations; will try again");
            Vec::new()
        });
        let idle = claimed.is_empty();
        let mut sends = tokio::task::JoinSet::new();
        for destination in claimed {
            let (store, sender, clock, owner) = (store.clone(), sender.clone(), clock.clone(), owner.clone());
            sends.spawn(async move {
                let id = destination.id;
                drive(&*store, &sender, &clock, &owner, destination).await.unwrap_or_else(|error| {
                    // The lease lapses and the batch is tried again.
                    tracing::warn!(%error, destination_id = %id, "a FIFO batch could not be settled");
                    false
                })
            });
        }
        let mut more = false;
        while let Some(turn) = sends.join_next().await {
            more |= turn.unwrap_or(false);
        }
        if more {
            told = true; // a batch went: look for the next one at once
            continue;
        }
        if idle {
            // Nothing was free to send (none exist, or all are busy): news comes with every
            // accept, so look again no sooner than this, however fast messages arrive.
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(FIFO_QUIET_MS)) => {}
            }
        }
        told = tokio::select! {
            _ = cancel.cancelled() => return,
            changed = appended.changed() => changed.is_ok(),
            _ = tokio::time::sleep(Duration::from_millis(FIFO_IDLE_MS)) => false,
        };
    }
}

/// How long one turn goes on sending batches (a round waits for every turn it started).
const FIFO_TURN_MS: u64 = 1_000;
/// Batches one lease sends at most before it is given back (other destinations get a turn).
const FIFO_BATCHES_PER_TURN: usize = 50;

/// One turn of one destination: its batches sent one after another while they are due (at most
/// `FIFO_BATCHES_PER_TURN`), then its progress saved and its lease freed. Each batch costs one
/// write: the previous batch's outcome, its attempt and where this batch ends, saved together
/// under the lease before this batch goes. True when there may be more to send at once.
///
/// A change made through the API since the claim (its transformation, receiver, filters, batch
/// size; a pause) holds from the next batch read: every save that follows a batch read holds
/// only if the destination's settings are still the ones it was read with (`updatedAt`, checked
/// in the same write). If they changed, nothing is saved and the batch is read again with the
/// destination as it is now, or, paused or gone, the turn ends.
async fn drive(
    store: &dyn Store,
    sender: &Sender,
    clock: &SharedClock,
    owner: &str,
    mut destination: Destination,
) -> Result<bool, StoreError> {
    let id = destination.id;
    let mut progress = destination
        .progress
        .clone()
        .unwrap_or_else(|| Progress { position: destination.start.clone(), ..Progress::default() });
    // The last batch's attempt, not saved yet (it goes with the next write).
    let mut taken: Option<DestinationAttempt> = None;
    let turn_ends = std::time::Instant::now() + Duration::from_millis(FIFO_TURN_MS);
    for _ in 0..FIFO_BATCHES_PER_TURN {
        if taken.is_some() && std::time::Instant::now() >= turn_ends {
            break; // others waiting for the next round get their turn
        }
        let Some(config) = destination.config.as_ref() else {
            progress.failure_reason = Some("the destination has no receiver configured".into());
            store.save_progress(id, owner, &progress, taken.as_ref(), None, None).await?;
            return Ok(false);
        };
        let read_from = progress.clone();
        let batch = next_batch(store, &destination, &progress.position, progress.batch_end.as_deref()).await?;
        let now = clock.now();
        let (Some(first), Some(last)) = (batch.messages.first(), batch.messages.last()) else {
            // Nothing to send: move past what was looked through. A failing batch whose
            // messages no longer match (its filters changed) is over: nothing is left to retry.
            progress.position = batch.scanned_to;
            progress.next_retry_at = None;
            if progress.batch_end.take().is_some() {
                progress.failures = 0;
                progress.failure_reason = None;
            }
            match save_read(store, owner, &destination, &progress, &read_from, taken.as_ref(), None).await? {
                AfterRead::Saved => return Ok(batch.scanned_all_it_may),
                AfterRead::Stop => return Ok(false),
                AfterRead::ReadAgain(current) => (destination, progress) = (*current, read_from),
            }
            continue;
        };
        let full = batch.messages.len() == destination.batch_size as usize;
        let send_at = first.created_at + Millis::from(destination.max_wait_secs) * 1_000;
        if !full && now < send_at && progress.batch_end.is_none() {
            // A partial batch waits up to maxWaitSecs after its first message for company.
            progress.next_retry_at = Some(send_at);
            match save_read(store, owner, &destination, &progress, &read_from, taken.as_ref(), None).await? {
                AfterRead::Saved | AfterRead::Stop => return Ok(false),
                AfterRead::ReadAgain(current) => (destination, progress) = (*current, read_from),
            }
            continue;
        }
        // Where the batch ends is saved before it goes (every try of it, here or after a crash on
        // another node, carries the same messages), with the lease kept and the settings checked:
        // a batch tried again, too, goes only under the settings it was read with.
        progress.batch_end = Some(batch.sent_to.clone());
        let keep = Some(now + FIFO_LEASE_MS);
        match save_read(store, owner, &destination, &progress, &read_from, taken.as_ref(), keep).await? {
            AfterRead::Saved => {} // `taken` went with it; this batch's outcome replaces it
            AfterRead::Stop => return Ok(false),
            AfterRead::ReadAgain(current) => {
                (destination, progress) = (*current, read_from);
                continue;
            }
        }
        // Named by its first and last message: every try of a batch has the same id, and
        // batches that differ never share one.
        let webhook_id = format!("batch_{}_{}", first.id, last.id);
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
        let attempt = DestinationAttempt {
            id: AttemptId::generate(),
            destination_id: id,
            batch_id: webhook_id.clone(),
            messages: batch.messages.len() as u32,
            status_code: outcome.status_code,
            response: outcome.response.clone(),
            error: outcome.error,
            duration_ms: outcome.duration_ms,
            created_at: now,
        };
        if outcome.succeeded() {
            progress = Progress { position: batch.sent_to, last_acked: Some(last.id), ..Progress::default() };
            let purged = batch.messages.iter().filter(|m| m.payload.is_none()).count();
            if purged > 0 {
                // Taken, but not whole: the destination fell behind its messages' retention.
                progress.failure_reason = Some(format!(
                    "fell behind retention: {purged} of the {} events of batch {webhook_id} were sent as \
                     {{\"expired\": true}}, their payloads purged before they went",
                    batch.messages.len()
                ));
            }
            taken = Some(attempt);
            continue;
        }
        progress.failures += 1;
        progress.failure_reason = Some(reason(&outcome));
        let retry = clock.now() + retry_delay_ms(progress.failures, outcome.retry_after_seconds);
        progress.next_retry_at = Some(retry);
        tracing::info!(
            destination_id = %id, webhook_id, failures = progress.failures,
            next_retry_at = %format_millis(retry), reason = progress.failure_reason.as_deref(),
            "a FIFO batch failed; the same batch goes again"
        );
        end_turn(store, id, owner, &progress, Some(&attempt)).await?;
        return Ok(false);
    }
    // The turn's share is used: give the lease back and come again at once.
    end_turn(store, id, owner, &progress, taken.as_ref()).await?;
    Ok(true)
}

/// What a save made after a batch read leads to.
enum AfterRead {
    Saved,
    /// The turn is over: the lease is another's, or the destination is no longer driven.
    Stop,
    /// The settings changed since the batch was read: read it again with these.
    ReadAgain(Box<Destination>),
}

/// Saves `progress`, worked out from a batch read with `destination`'s settings, if those are
/// still its settings. If they changed, the destination as it is now is read: still driven, the
/// batch is to be read again with it; paused, disabled, made a poller or deleted, the turn ends
/// with `read_from` (the progress before the batch) saved. (On PostgreSQL a lease taken away
/// while the save waited for the row may show as a change: the re-read then finds the same
/// settings and the turn ends.)
async fn save_read(
    store: &dyn Store,
    owner: &str,
    destination: &Destination,
    progress: &Progress,
    read_from: &Progress,
    taken: Option<&DestinationAttempt>,
    keep_until: Option<Millis>,
) -> Result<AfterRead, StoreError> {
    let id = destination.id;
    let settings = Some(destination.updated_at);
    match store.save_progress(id, owner, progress, taken, keep_until, settings).await? {
        ProgressSaved::Saved => return Ok(AfterRead::Saved),
        ProgressSaved::LeaseLost => return Ok(AfterRead::Stop),
        ProgressSaved::SettingsChanged => {}
    }
    match store.get_destination(destination.app_id, &id.to_string()).await? {
        Some(current) if current.updated_at == destination.updated_at => Ok(AfterRead::Stop),
        Some(current) if current.driven() => Ok(AfterRead::ReadAgain(Box::new(current))),
        _ => {
            end_turn(store, id, owner, read_from, taken).await?;
            Ok(AfterRead::Stop)
        }
    }
}

/// Saves the turn's last progress (made with settings it no longer checks: its batch went) and
/// frees the lease.
async fn end_turn(
    store: &dyn Store,
    id: hookwire_core::DestinationId,
    owner: &str,
    progress: &Progress,
    attempt: Option<&DestinationAttempt>,
) -> Result<(), StoreError> {
    if store.save_progress(id, owner, progress, attempt, None, None).await? != ProgressSaved::Saved {
        tracing::warn!(destination_id = %id, "a FIFO lease lapsed during a send; its batch may repeat");
    }
    Ok(())
}

/// The next batch of a destination from `position` (ending at `end`, a failing batch's last
/// message, when given): its messages, the position after the last of them, and how far the
/// log was looked through.
struct Batch {
    messages: Vec<Message>,
    sent_to: String,
    scanned_to: String,
    /// The scan stopped at its bound, not at the log's end: more is left to look through.
    scanned_all_it_may: bool,
}

/// The messages a FIFO destination sends next: its failing batch exactly as it was (up to its
/// saved end), else the next batch from its position (the API's simulation shows this).
pub async fn pending_batch(store: &dyn Store, destination: &Destination) -> Result<Vec<Message>, StoreError> {
    let (position, end) = match &destination.progress {
        Some(progress) => (progress.position.clone(), progress.batch_end.clone()),
        None => (destination.start.clone(), None),
    };
    Ok(next_batch(store, destination, &position, end.as_deref()).await?.messages)
}

async fn next_batch(
    store: &dyn Store,
    destination: &Destination,
    position: &str,
    end: Option<&str>,
) -> Result<Batch, StoreError> {
    let mut batch = Batch {
        messages: Vec::new(),
        sent_to: position.to_owned(),
        scanned_to: position.to_owned(),
        scanned_all_it_may: false,
    };
    let mut scanned = 0;
    loop {
        // A page the batch's size (an unfiltered batch is one read), within bounds.
        let page_size = (destination.batch_size as usize).clamp(FIFO_SCAN_PAGE_MIN, FIFO_SCAN_PAGE);
        let page = store.read_log(destination.app_id, &batch.scanned_to, page_size).await?;
        let exhausted = page.len() < page_size;
        for (at, message) in page {
            batch.scanned_to = at.clone();
            scanned += 1;
            let last = end == Some(at.as_str());
            if destination.wants(&message) {
                batch.sent_to = at;
                batch.messages.push(message);
                if last || batch.messages.len() == destination.batch_size as usize {
                    return Ok(batch);
                }
            }
            if last {
                return Ok(batch);
            }
        }
        if exhausted || scanned >= FIFO_SCAN_MAX {
            // A batch ends with its last message: what follows it is read next time.
            batch.scanned_all_it_may = !exhausted;
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
    use std::fmt::Write;
    // Written directly: each payload was checked as JSON when it was accepted, so it is copied
    // as is instead of parsed again (a batch is up to 1,000 of them).
    let size: usize = messages.iter().map(|m| m.payload.as_ref().map_or(0, String::len) + 160).sum();
    let mut out = String::with_capacity(size + 2);
    let quoted = |out: &mut String, text: &str| out.push_str(&serde_json::to_string(text).expect("strings serialise"));
    out.push('[');
    for (n, m) in messages.iter().enumerate() {
        out.push_str(if n == 0 { "{" } else { ",{" });
        if whole {
            let _ = write!(out, r#""id":"{}","#, m.id);
        }
        out.push_str(r#""eventType":"#);
        quoted(&mut out, &m.event_type);
        if whole {
            let _ = write!(out, r#","timestamp":"{}","channels":"#, format_millis(m.created_at));
            match &m.channels {
                Some(channels) => out.push_str(&serde_json::to_string(channels).expect("strings serialise")),
                None => out.push_str("null"),
            }
        }
        out.push_str(r#","payload":"#);
        match (&m.content_type, &m.payload) {
            (None, Some(payload)) => out.push_str(payload),
            (Some(_), Some(text)) => quoted(&mut out, text),
            (_, None) => out.push_str(r#"{"expired":true}"#),
        }
        out.push('}');
    }
    out.push(']');
    out
}

fn reason(outcome: &hookwire_core::model::AttemptOutcome) -> String {
    let text: String = outcome.response.chars().take(200).collect();
    match (outcome.status_code, outcome.error) {
        (0, Some(kind)) => format!("{}: {text}", kind.as_str()),
        (status, _) => format!("HTTP {status}: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use hookwire_core::model::Message;
    use hookwire_core::{AppId, MessageId};
    use serde_json::json;

    use super::{body, format_millis};

    fn message(payload: Option<&str>, content_type: Option<&str>, channels: Option<Vec<String>>) -> Message {
        Message {
            id: MessageId::generate(),
            app_id: AppId::generate(),
            event_type: "order.created".into(),
            event_id: None,
            channels,
            tags: None,
            payload: payload.map(Into::into),
            content_type: content_type.map(Into::into),
            deliver_at: None,
            payload_expires_at: None,
            created_at: 1_700_000_000_123,
        }
    }

    #[test]
    fn a_batch_body_is_the_json_array_of_its_messages_payloads_as_sent() {
        let messages = [
            message(Some(r#"{"n": 1, "s": "\"quoted\" \u00e9"}"#), None, Some(vec!["eu".into(), "a\"b".into()])),
            message(Some("line one\nline \"two\""), Some("text/plain"), None),
            message(None, None, None),
        ];
        let sent: serde_json::Value = serde_json::from_str(&body(&messages, true)).unwrap();
        let at = format_millis(1_700_000_000_123);
        assert_eq!(
            sent,
            json!([
                {"id": messages[0].id.to_string(), "eventType": "order.created", "timestamp": at,
                 "channels": ["eu", "a\"b"], "payload": {"n": 1, "s": "\"quoted\" é"}},
                {"id": messages[1].id.to_string(), "eventType": "order.created", "timestamp": at,
                 "channels": null, "payload": "line one\nline \"two\""},
                {"id": messages[2].id.to_string(), "eventType": "order.created", "timestamp": at,
                 "channels": null, "payload": {"expired": true}},
            ])
        );
        let events: serde_json::Value = serde_json::from_str(&body(&messages[..1], false)).unwrap();
        assert_eq!(events, json!([{"eventType": "order.created", "payload": {"n": 1, "s": "\"quoted\" é"}}]));
        assert_eq!(body(&[], true), "[]");
    }
}
