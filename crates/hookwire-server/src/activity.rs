//! Delivery activity for charts, kept by Hookwire itself (`hookwire_core::activity`): the
//! recorder counts each batch of recorded attempts here, in memory, per endpoint and minute; a
//! task adds what gathered to the store every `FLUSH_INTERVAL` (and once more when the recorder
//! has drained at shutdown) and samples the queue once a minute. Reads add this node's counts
//! not yet written, so a chart is current to the last batch. The hot path pays one lock per
//! batch of attempts and no I/O; a crash loses at most one interval of chart counts, never a
//! delivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookwire_core::activity::{self, BUCKETS_MAX, Bucket, Counts, QueueSample, Resolution};
use hookwire_core::model::Attempt;
use hookwire_core::model::Status;
use hookwire_core::time_fmt::Millis;
use hookwire_core::{AppId, EndpointId};
use hookwire_store::{ActivityQuery, ActivityRow, EndpointActivity, Store, StoreResult};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;

/// How often counts gathered in memory are added to the store.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// How often the queue is sampled (once per minute bucket).
pub const QUEUE_SAMPLE_INTERVAL: Duration = Duration::from_secs(60);

type Pending = HashMap<(EndpointId, Millis), (AppId, Counts)>;

/// This node's activity counts not yet written, and the store they go to.
pub struct Activity {
    store: Arc<dyn Store>,
    pending: Mutex<Pending>,
}

/// What the chart counts of one recorded attempt.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    pub app: AppId,
    pub endpoint: EndpointId,
    pub at: Millis,
    pub succeeded: bool,
    /// Its delivery's retries ran out.
    pub exhausted: bool,
    pub duration_ms: u64,
}

impl Recorded {
    pub fn of(attempt: &Attempt, exhausted: bool) -> Self {
        Self {
            app: attempt.app_id,
            endpoint: attempt.endpoint_id,
            at: attempt.timestamp,
            succeeded: attempt.status == Status::Success,
            exhausted,
            duration_ms: attempt.response_duration_ms,
        }
    }
}

/// A chart's series: every bucket of the range, empty ones included.
#[derive(Debug, Clone)]
pub struct Series {
    pub resolution: Resolution,
    pub buckets: Vec<Bucket>,
}

impl Series {
    /// Everything in the range, added up.
    pub fn total(&self) -> Counts {
        let mut total = Counts::default();
        for bucket in &self.buckets {
            total.merge(&bucket.counts);
        }
        total
    }
}

/// A range that cannot be read: too many buckets, or backwards.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    #[error("since must be before until")]
    Backwards,
    #[error("the range holds {0} buckets by the {1}; at most {BUCKETS_MAX} can be read (ask by the hour)")]
    TooLong(i64, &'static str),
}

/// Checks a range and picks its resolution: by the minute up to six hours (and no further
/// back than minutes are kept), else by the hour.
pub fn resolution_for(
    asked: Option<Resolution>,
    since: Millis,
    until: Millis,
    now: Millis,
) -> Result<Resolution, RangeError> {
    if since >= until {
        return Err(RangeError::Backwards);
    }
    let resolution =
        asked.unwrap_or(if until - since <= 6 * 3_600_000 && since >= now - Resolution::Minute.kept_ms() {
            Resolution::Minute
        } else {
            Resolution::Hour
        });
    let buckets = (until - resolution.floor(since) + resolution.ms() - 1) / resolution.ms();
    if buckets > BUCKETS_MAX as i64 {
        return Err(RangeError::TooLong(buckets, resolution.name()));
    }
    Ok(resolution)
}

/// Whether counts of `endpoint` at `at` belong to what `query` reads.
fn in_scope(query: &ActivityQuery, app: AppId, endpoint: EndpointId, at: Millis) -> bool {
    query.app.is_none_or(|a| a == app)
        && query.endpoint.is_none_or(|e| e == endpoint)
        && at >= query.resolution.floor(query.since)
        && at < query.until
}

impl Activity {
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self { store, pending: Mutex::new(HashMap::new()) })
    }

    /// Counts recorded attempts.
    pub fn record(&self, attempts: impl IntoIterator<Item = Recorded>) {
        let mut pending = self.pending.lock().expect("activity poisoned");
        for attempt in attempts {
            let minute = Resolution::Minute.floor(attempt.at);
            let (_, counts) =
                pending.entry((attempt.endpoint, minute)).or_insert_with(|| (attempt.app, Counts::default()));
            counts.record(attempt.succeeded, attempt.exhausted, attempt.duration_ms);
        }
    }

    /// Adds every count gathered so far to the store; on failure they are kept for next time.
    pub async fn flush(&self) -> StoreResult<()> {
        let taken = std::mem::take(&mut *self.pending.lock().expect("activity poisoned"));
        if taken.is_empty() {
            return Ok(());
        }
        let rows: Vec<ActivityRow> = taken
            .iter()
            .map(|(&(endpoint_id, at), &(app_id, counts))| ActivityRow { app_id, endpoint_id, at, counts })
            .collect();
        let written = self.store.add_activity(rows).await;
        if written.is_err() {
            let mut pending = self.pending.lock().expect("activity poisoned");
            for (key, (app, counts)) in taken {
                pending.entry(key).or_insert_with(|| (app, Counts::default())).1.merge(&counts);
            }
        }
        written
    }

    /// Flushes every `FLUSH_INTERVAL` and samples the queue every minute until `cancel`, then
    /// flushes once more (the recorder flushes again after its last batch).
    pub async fn run(self: Arc<Self>, clock: SharedClock, cancel: CancellationToken) {
        let mut flush = tokio::time::interval(FLUSH_INTERVAL);
        let mut sample = tokio::time::interval(QUEUE_SAMPLE_INTERVAL);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = flush.tick() => {
                    if let Err(error) = self.flush().await {
                        tracing::warn!(%error, "cannot write activity counts; will try again");
                    }
                }
                _ = sample.tick() => self.sample_queue(clock.now()).await,
            }
        }
        if let Err(error) = self.flush().await {
            tracing::warn!(%error, "cannot write activity counts at shutdown; the last seconds of chart counts are lost");
        }
    }

    async fn sample_queue(&self, now: Millis) {
        let sampled = match self.store.queue_depth(now).await {
            Ok(depth) => {
                let sample = QueueSample { start: now, due: depth.due, scheduled: depth.scheduled };
                self.store.sample_queue(sample).await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = sampled {
            tracing::debug!(%error, "cannot sample the queue for the activity chart");
        }
    }

    /// The activity in a range, with this node's counts not yet written, every bucket present.
    pub async fn series(&self, query: ActivityQuery) -> StoreResult<Series> {
        let mut stored = self.store.activity(&query).await?;
        {
            let pending = self.pending.lock().expect("activity poisoned");
            for (&(endpoint, at), (app, counts)) in pending.iter() {
                if in_scope(&query, *app, endpoint, at) {
                    stored.push(Bucket { start: query.resolution.floor(at), counts: *counts });
                }
            }
        }
        stored.sort_by_key(|b| b.start);
        let buckets = activity::fill(query.resolution, query.since, query.until, &stored);
        Ok(Series { resolution: query.resolution, buckets })
    }

    /// The endpoints in scope with the most failed attempts in a range (then the most attempts),
    /// with this node's counts not yet written, at most `limit`.
    pub async fn by_endpoint(&self, query: ActivityQuery, limit: usize) -> StoreResult<Vec<EndpointActivity>> {
        let unwritten: Vec<EndpointActivity> = {
            let pending = self.pending.lock().expect("activity poisoned");
            pending
                .iter()
                .filter(|&(&(endpoint, at), (app, _))| in_scope(&query, *app, endpoint, at))
                .map(|(&(endpoint_id, _), &(app_id, counts))| EndpointActivity { app_id, endpoint_id, counts })
                .collect()
        };
        // Enough stored rows that an endpoint with unwritten counts cannot push a leader out.
        let mut found = self.store.activity_by_endpoint(&query, limit + unwritten.len()).await?;
        for extra in unwritten {
            match found.iter_mut().find(|e| e.endpoint_id == extra.endpoint_id) {
                Some(known) => known.counts.merge(&extra.counts),
                None => found.push(extra),
            }
        }
        found.sort_by(|a, b| {
            (b.counts.failed, b.counts.attempts(), a.endpoint_id).cmp(&(
                a.counts.failed,
                a.counts.attempts(),
                b.endpoint_id,
            ))
        });
        found.truncate(limit);
        Ok(found)
    }

    /// The queue samples in a range, one per bucket (`None` where nothing was sampled).
    pub async fn queue(
        &self,
        resolution: Resolution,
        since: Millis,
        until: Millis,
    ) -> StoreResult<Vec<(Millis, Option<QueueSample>)>> {
        let samples = self.store.queue_history(resolution, since, until).await?;
        let mut samples = samples.into_iter().peekable();
        let mut out = Vec::new();
        let mut start = resolution.floor(since);
        while start < until {
            let mut found = None;
            while let Some(sample) = samples.next_if(|s| s.start <= start) {
                if sample.start == start {
                    found = Some(sample);
                }
            }
            out.push((start, found));
            start += resolution.ms();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_read_the_same_before_and_after_they_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let activity = Activity::new(crate::testing::sqlite_store(&dir));
        let (app, endpoint) = (AppId::generate(), EndpointId::generate());
        let at = 1_700_000_000_000;
        let attempt = |succeeded, at| Recorded { app, endpoint, at, succeeded, exhausted: false, duration_ms: 12 };
        activity.record([attempt(true, at), attempt(false, at + 60_000), attempt(true, at + 60_001)]);
        let query = ActivityQuery {
            app: Some(app),
            endpoint: None,
            resolution: Resolution::Minute,
            since: at - 120_000,
            until: at + 180_000,
        };
        let before = activity.series(query).await.unwrap();
        assert_eq!(before.total().attempts(), 3);
        activity.flush().await.unwrap();
        assert!(activity.pending.lock().unwrap().is_empty());
        let after = activity.series(query).await.unwrap();
        assert_eq!(after.buckets, before.buckets, "written, not counted twice");
        let other = ActivityQuery { app: Some(AppId::generate()), ..query };
        assert_eq!(activity.series(other).await.unwrap().total().attempts(), 0);
    }

    #[test]
    fn a_short_recent_range_is_read_by_the_minute() {
        let now = 10 * 86_400_000;
        assert_eq!(resolution_for(None, now - 3_600_000, now, now).unwrap(), Resolution::Minute);
        assert_eq!(resolution_for(None, now - 86_400_000, now, now).unwrap(), Resolution::Hour);
        assert!(matches!(resolution_for(None, now, now, now), Err(RangeError::Backwards)));
        assert!(matches!(
            resolution_for(Some(Resolution::Minute), now - 7 * 86_400_000, now, now),
            Err(RangeError::TooLong(10_080, "minute"))
        ));
    }
}
