//! The poller: claims due deliveries from the store under a lease and queues them for the
//! workers, skipping endpoints whose queue in memory is full (`FlowControl::skipped`). It sleeps
//! until the next delivery is due (at most `POLL_INTERVAL_MAX_MS`), or until woken by this
//! process (the intake, the recorder, an endpoint it skipped that has room again) or, on a shared
//! store, by another node.

use std::sync::Arc;
use std::time::Duration;

use hookwire_core::EndpointId;
use hookwire_store::Store;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Engine, Job, POLL_INTERVAL_MAX_MS};

/// Deliveries claimed per store round-trip.
const CLAIM_BATCH: usize = 256;
/// Pause after a claim round found the due work taken by another node.
const CLAIM_RACE_RETRY_MS: u64 = 50;

pub(super) async fn run(engine: Arc<Engine>, queue: mpsc::Sender<Job>, wake: Arc<Notify>, cancel: CancellationToken) {
    let peers_announce = engine.store.due_signal();
    loop {
        let mut sleep_ms = POLL_INTERVAL_MAX_MS;
        let now = engine.now();
        let skip = engine.flow.skipped();
        match engine.store.next_due_at(now, &skip).await {
            Ok(Some(due)) if due <= now => {
                match claim_and_queue(&engine, &queue, &skip, &cancel).await {
                    None => return,
                    // Due but claimed by another node meanwhile: look again shortly, not at once.
                    Some(0) => sleep_ms = CLAIM_RACE_RETRY_MS,
                    Some(_) => sleep_ms = 0,
                }
            }
            Ok(Some(due)) => sleep_ms = sleep_ms.min((due - now).max(1) as u64),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read due deliveries"),
        }
        if sleep_ms == 0 {
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = announced(peers_announce.as_deref()) => {}
            _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
        }
    }
}

/// Resolves when another node announces due work; never without a shared store.
async fn announced(signal: Option<&Notify>) {
    match signal {
        Some(signal) => signal.notified().await,
        None => std::future::pending().await,
    }
}

/// One claim round: how many deliveries were claimed, `None` when shutting down.
async fn claim_and_queue(
    engine: &Engine,
    queue: &mpsc::Sender<Job>,
    skip: &[EndpointId],
    cancel: &CancellationToken,
) -> Option<usize> {
    let store: &dyn Store = engine.store.as_ref();
    let now = engine.now();
    let leased_until = now + engine.lease_ms;
    let claimed = match store.claim_due(now, leased_until, CLAIM_BATCH, skip).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(%error, "cannot claim due deliveries");
            return (!cancel.is_cancelled()).then_some(0);
        }
    };
    let count = claimed.len();
    for claim in claimed {
        let job = Job { delivery: claim.delivery, message: claim.message, endpoint: claim.endpoint, leased_until };
        tokio::select! {
            _ = cancel.cancelled() => return None,
            sent = queue.send(job) => if sent.is_err() { return None },
        }
    }
    Some(count)
}
