//! Accepts committed together, as SQLite's writer does: concurrent accepts of the hot path (no
//! idempotency key, no filter failure to count) wait in one queue, and one writer takes
//! everything waiting (up to `ACCEPT_BATCH_MAX`) into one statement — every message, tag and
//! delivery of the batch as arrays — so one commit (one WAL flush) serves them all. Alone, an
//! accept is written at once: nothing waits for company. The writer runs on a thread of its own
//! with a connection of its own (opened and driven there), as SQLite's writer does: every accept
//! waits for its round trips, and on the server's runtime each hop of one (the connection's
//! driver reading the answer, the writer woken to answer the accepts) queued behind the HTTP and
//! delivery tasks ready at the time; +7.4 % deliveries/s on one endpoint (docs/BENCHMARKS.md,
//! "The accept writer's own thread"). One writer, not several: a statement's
//! fixed cost (executor start-up, partition routing, the commit) is most of a small batch's, so
//! several writers splitting the same load into smaller batches made PostgreSQL spend more per
//! message, and accepts outran the deliveries sharing its CPU (docs/BENCHMARKS.md, "One accept
//! writer"). A batch that fails is halved until the accept that broke a rule (a duplicate
//! `eventId`) fails alone, and every other accept in it is written.

use std::sync::{Arc, LazyLock, Weak};

use hookwire_core::model::{Delivery, Message};
use hookwire_core::time_fmt::Millis;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::inflight::{self, FanoutColumns};
use super::node::DUE_CHANNEL;
use super::rows::{DeliveryColumns, conflict_as, optional_json};
use super::{Inner, PgStore};
use crate::error::{StoreError, StoreResult};

/// Accepts one statement carries at most.
pub(super) const ACCEPT_BATCH_MAX: usize = 256;
/// Accepts waiting for a writer at most before callers wait to queue.
const ACCEPTS_QUEUED_MAX: usize = 4_096;

/// One accept of the hot path.
pub(super) struct Pending {
    pub message: Arc<Message>,
    pub deliveries: Vec<Delivery>,
    pub leased_until: Option<Millis>,
    pub answer: oneshot::Sender<StoreResult<()>>,
}

pub(super) type Queue = mpsc::Sender<Pending>;

/// Starts the writer on its thread; both stop when the queue's last sender (the store) is gone.
/// A writer that panicked is replaced (the accepts of its batch are answered with their answer
/// dropped, the queue waits for the next writer): one writer must not be one way to stop every
/// accept.
pub(super) fn start(inner: Weak<Inner>) -> std::io::Result<Queue> {
    let (sender, receiver) = mpsc::channel(ACCEPTS_QUEUED_MAX);
    let receiver = Arc::new(Mutex::new(receiver));
    // The runtime is built on the thread (one dropped in the caller's async context would panic
    // there), which says whether it could be.
    let (started, built) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new().name("hookwire-pg-accepts".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = started.send(Err(error));
                return;
            }
        };
        let _ = started.send(Ok(()));
        runtime.block_on(replaced_on_panic(move || run(receiver.clone(), inner.clone())));
    })?;
    built.recv().map_err(std::io::Error::other)??;
    Ok(sender)
}

/// Runs the writer `writer()` makes until it returns, a new one each time one panics.
async fn replaced_on_panic<W: Future<Output = ()> + Send + 'static>(writer: impl Fn() -> W) {
    loop {
        match tokio::spawn(writer()).await {
            Err(error) if error.is_panic() => tracing::error!("the accept writer panicked; starting another"),
            _ => return,
        }
    }
}

async fn run(receiver: Arc<Mutex<mpsc::Receiver<Pending>>>, inner: Weak<Inner>) {
    let mut receiver = receiver.lock().await;
    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, ACCEPT_BATCH_MAX).await > 0 {
        let Some(inner) = inner.upgrade() else { return };
        write(&PgStore { inner }, std::mem::take(&mut batch)).await;
    }
}

/// Writes a batch and answers every accept in it; true when the database was unavailable.
async fn write(store: &PgStore, batch: Vec<Pending>) -> bool {
    match insert(store, &batch).await {
        Ok(()) => {
            for pending in batch {
                let _ = pending.answer.send(Ok(()));
            }
            false
        }
        Err(error) if batch.len() == 1 || error.is_unavailable() => {
            let unavailable = error.is_unavailable();
            answer_all(batch, error);
            unavailable
        }
        Err(_) => {
            // One of them broke a rule (a duplicate eventId): each half on its own, until the
            // accept that did is alone (a few statements, not one per accept). A database lost
            // meanwhile fails the halves not yet tried instead of waiting out its bound again.
            let mut first = batch;
            let second = first.split_off(first.len() / 2);
            if Box::pin(write(store, first)).await {
                answer_all(second, StoreError::Unavailable("the database became unavailable".into()));
                return true;
            }
            Box::pin(write(store, second)).await
        }
    }
}

/// Answers every accept of `batch` with `error` (the first with it, the others with its text).
fn answer_all(batch: Vec<Pending>, error: StoreError) {
    let (detail, unavailable) = (error.to_string(), error.is_unavailable());
    let mut error = Some(error);
    for pending in batch {
        let each = match error.take() {
            Some(first) => first,
            None if unavailable => StoreError::Unavailable(detail.clone()),
            None => StoreError::Batch(detail.clone()),
        };
        let _ = pending.answer.send(Err(each));
    }
}

/// Every message, eventId, tag and delivery of `batch` (the fan-out leased to this node as one
/// `deliveries_inflight` row per message: `inflight.rs`), and the announcement when any delivery is due
/// unleased, as one statement (data-modifying CTEs always run; NOTIFY goes out at commit).
static ACCEPTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH message AS (INSERT INTO messages (id, app_id, event_type, event_id, channels, tags, payload, \
         created_at, payload_expires_at, content_type, deliver_at) \
         SELECT * FROM unnest($14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], \
         $20::text[], $21::bigint[], $22::bigint[], $23::text[], $24::bigint[])), \
         event AS (INSERT INTO message_event_ids (app_id, event_id, msg_id) \
         SELECT a, e, i FROM unnest($15::text[], $17::text[], $14::text[]) AS x(a, e, i) WHERE e IS NOT NULL), \
         tag AS (INSERT INTO message_tags (app_id, tag, msg_id) \
         SELECT * FROM unnest($25::text[], $26::text[], $27::text[]) ON CONFLICT DO NOTHING), \
         delivery AS ({}), inflight AS ({}) SELECT pg_notify('{DUE_CHANNEL}', '') WHERE $28",
        DeliveryColumns::INSERT,
        FanoutColumns::insert_sql(29, 13)
    )
});

async fn insert(store: &PgStore, batch: &[Pending]) -> StoreResult<()> {
    let mut deliveries = DeliveryColumns::default();
    let mut fanout = FanoutColumns::default();
    let mut m = MessageColumns::default();
    let (mut tag_apps, mut tags, mut tag_messages) = (Vec::new(), Vec::<&str>::new(), Vec::new());
    for pending in batch {
        let (inflight, rows) = inflight::split(&pending.deliveries, pending.leased_until);
        if let Some(lease_until) = pending.leased_until {
            fanout.push(&inflight, lease_until);
        }
        deliveries.push(rows, pending.leased_until);
        let message = &pending.message;
        let (id, app) = (message.id.to_string(), message.app_id.to_string());
        for tag in message.tags.iter().flatten() {
            tag_apps.push(app.clone());
            tags.push(tag);
            tag_messages.push(id.clone());
        }
        m.push(message, id, app);
    }
    let announce = deliveries.announces_due_work();
    let mut params: Vec<&(dyn ToSql + Sync)> = deliveries.params(&store.inner.node_id).to_vec();
    params.extend_from_slice(&[
        &m.id,
        &m.app_id,
        &m.event_type,
        &m.event_id,
        &m.channels,
        &m.tags,
        &m.payload,
        &m.created_at,
        &m.payload_expires_at,
        &m.content_type,
        &m.deliver_at,
        &tag_apps,
        &tags,
        &tag_messages,
        &announce,
    ]);
    params.extend_from_slice(&fanout.params());
    let client = store.inner.accept_conn().await?;
    let statement = client.prepare_cached(&ACCEPTS_SQL).await?;
    client.query(&statement, &params).await.map_err(conflict_as("message with this eventId"))?;
    Ok(())
}

/// Messages as parallel arrays, borrowing the payloads (never copied).
#[derive(Default)]
struct MessageColumns<'a> {
    id: Vec<String>,
    app_id: Vec<String>,
    event_type: Vec<&'a str>,
    event_id: Vec<Option<&'a str>>,
    channels: Vec<Option<String>>,
    tags: Vec<Option<String>>,
    payload: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    payload_expires_at: Vec<Option<i64>>,
    content_type: Vec<Option<&'a str>>,
    deliver_at: Vec<Option<i64>>,
}

impl<'a> MessageColumns<'a> {
    fn push(&mut self, message: &'a Message, id: String, app: String) {
        self.id.push(id);
        self.app_id.push(app);
        self.event_type.push(&message.event_type);
        self.event_id.push(message.event_id.as_deref());
        self.channels.push(optional_json(&message.channels));
        self.tags.push(optional_json(&message.tags));
        self.payload.push(message.payload.as_deref());
        self.created_at.push(message.created_at);
        self.payload_expires_at.push(message.payload_expires_at);
        self.content_type.push(message.content_type.as_deref());
        self.deliver_at.push(message.deliver_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue outlives a writer that panics (its lock is not poisoned, its receiver not
    /// dropped): the next writer serves every accept that came after.
    #[tokio::test]
    async fn a_writer_that_panics_is_replaced_and_the_queue_still_served() {
        let (sender, receiver) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(8);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = writers.clone();
        let supervisor = tokio::spawn(replaced_on_panic(move || {
            let (receiver, writer) = (receiver.clone(), counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
            async move {
                let mut receiver = receiver.lock().await;
                while let Some((n, answer)) = receiver.recv().await {
                    assert!(!(writer == 0 && n == 0), "the first writer breaks on the first accept");
                    let _ = answer.send(n);
                }
            }
        }));
        let (answer, dropped) = oneshot::channel();
        sender.send((0, answer)).await.unwrap();
        assert!(dropped.await.is_err(), "the accept being written when the writer panicked is answered (dropped)");
        for n in 1..=3 {
            let (answer, answered) = oneshot::channel();
            sender.send((n, answer)).await.unwrap();
            let answered = tokio::time::timeout(std::time::Duration::from_secs(10), answered).await;
            assert_eq!(answered.expect("no writer took the accept").unwrap(), n);
        }
        assert_eq!(writers.load(std::sync::atomic::Ordering::SeqCst), 2);
        drop(sender);
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), supervisor).await;
        stopped.expect("a writer that returned is not replaced").unwrap();
    }
}
