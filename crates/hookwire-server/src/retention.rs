//! The retention sweep: purges expired payloads and old attempt response bodies in small
//! batches, yielding between them so it never holds the writer long enough to stall delivery;
//! where the store partitions by time (PostgreSQL), creates the weeks ahead and drops whole weeks
//! past retention; then activity counts past their keeping, background tasks that ended before
//! retention, and expired tokens.

use std::sync::Arc;
use std::time::Duration;

use hookwire_store::Store;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;

/// Rows purged per write; small, so deliveries committed meanwhile never wait long.
pub const RETENTION_BATCH_ROWS: usize = 500;

/// Runs until `cancel` fires: a sweep every `interval`.
pub async fn run(
    store: Arc<dyn Store>,
    clock: SharedClock,
    retention_days: u64,
    interval: Duration,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let purged = sweep(store.as_ref(), &clock, retention_days, &cancel).await;
        if purged > 0 {
            tracing::info!(purged, "retention sweep purged payloads and response bodies");
        }
    }
}

/// One full sweep at the current time; returns how many payloads, bodies and rows it purged
/// (weeks dropped are logged).
pub async fn sweep(store: &dyn Store, clock: &SharedClock, retention_days: u64, cancel: &CancellationToken) -> u64 {
    let mut total = 0;
    let retention_ms = (retention_days * 86_400_000) as i64;
    while !cancel.is_cancelled() {
        let now = clock.now();
        let responses_before = now - retention_ms;
        match store.purge_expired(now, responses_before, RETENTION_BATCH_ROWS).await {
            Ok(0) => break,
            Ok(purged) => total += purged,
            Err(error) => {
                tracing::warn!(%error, "retention sweep failed; will try again");
                break;
            }
        }
        tokio::task::yield_now().await;
    }
    let now = clock.now();
    match store.maintain_partitions(now, now - retention_ms).await {
        Ok(done) => {
            if !done.created.is_empty() || !done.dropped.is_empty() {
                tracing::info!(created = ?done.created, dropped = ?done.dropped, "time partitions maintained");
            }
            if !done.kept.is_empty() {
                tracing::info!(kept = ?done.kept, "weeks past retention kept: a payload or a waiting delivery in each");
            }
        }
        Err(error) => tracing::warn!(%error, "cannot maintain the time partitions; will try again"),
    }
    match store.purge_activity(clock.now()).await {
        Ok(purged) => total += purged,
        Err(error) => tracing::warn!(%error, "cannot purge old activity counts; will try again"),
    }
    match store.purge_tasks(clock.now() - retention_ms).await {
        Ok(purged) => total += purged,
        Err(error) => tracing::warn!(%error, "cannot purge old background tasks; will try again"),
    }
    match store.purge_expired_tokens(clock.now()).await {
        Ok(purged) => total += purged,
        Err(error) => tracing::warn!(%error, "cannot purge expired tokens; will try again"),
    }
    let keys_before = clock.now() - hookwire_core::limits::IDEMPOTENCY_WINDOW_SECONDS * 1_000;
    match store.purge_request_keys(keys_before).await {
        Ok(purged) => total += purged,
        Err(error) => tracing::warn!(%error, "cannot purge old idempotency keys; will try again"),
    }
    total
}
