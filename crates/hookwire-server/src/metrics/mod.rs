//! Prometheus metrics for one server: counters, a gauge and fixed-bucket histograms held as
//! atomics, so recording on the delivery path is a few relaxed adds — no lock shared by the
//! workers, no allocation. Each server owns its registry (in `AppState`), so servers started in
//! one process, as the tests do, never see each other's values. Values that need the store or
//! the flow-control map (queue depth, paused endpoints) are read at scrape time, in
//! `exposition.rs`, never on the hot path.
//!
//! Per-endpoint series are bounded: the first `endpoint_labels_max` endpoints seen since start
//! get their own label, every later one is counted under `endpoint="other"`.

mod endpoints;
pub mod exposition;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use hookwire_core::EndpointId;
use hookwire_core::model::{AttemptOutcome, ErrorKind};
use hookwire_core::time_fmt::Millis;

use endpoints::EndpointTable;

/// Endpoints with their own label unless configured otherwise.
pub const ENDPOINT_LABELS_MAX_DEFAULT: usize = 100;
/// The most endpoints that may be configured to get their own label.
pub const ENDPOINT_LABELS_MAX_LIMIT: usize = 10_000;
/// Upper bounds of the attempt duration buckets (the longest timeout is 30 s).
pub const ATTEMPT_DURATION_BUCKETS_MS: [u64; 12] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];
/// Upper bounds of the lag buckets: from due to attempted, up to an hour behind.
pub const LAG_BUCKETS_MS: [u64; 10] = [10, 100, 500, 1_000, 5_000, 30_000, 60_000, 300_000, 1_800_000, 3_600_000];

/// Every error kind, in the order of their counters after `success`.
const ERROR_KINDS: [ErrorKind; 8] = [
    ErrorKind::Status,
    ErrorKind::Timeout,
    ErrorKind::Connect,
    ErrorKind::Dns,
    ErrorKind::Tls,
    ErrorKind::Refused,
    ErrorKind::Io,
    ErrorKind::Transformation,
];
const OUTCOMES: usize = ERROR_KINDS.len() + 1;

/// The `outcome` label of an attempt: `success` or its error kind.
fn outcome_index(error: Option<ErrorKind>) -> usize {
    match error {
        None => 0,
        Some(kind) => 1 + ERROR_KINDS.iter().position(|k| *k == kind).expect("every kind is listed"),
    }
}

fn outcome_label(index: usize) -> &'static str {
    if index == 0 { "success" } else { ERROR_KINDS[index - 1].as_str() }
}

/// A histogram with fixed upper bounds in milliseconds, exposed in seconds.
pub struct Histogram<const N: usize> {
    bounds_ms: [u64; N],
    /// Observations per bucket, not cumulative (cumulated when rendered).
    buckets: [AtomicU64; N],
    /// All observations, including those above the last bound (`+Inf`).
    count: AtomicU64,
    sum_ms: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds_ms: [u64; N]) -> Self {
        Self {
            bounds_ms,
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_ms: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value_ms: u64) {
        if let Some(bucket) = self.bounds_ms.iter().position(|bound| value_ms <= *bound) {
            self.buckets[bucket].fetch_add(1, Relaxed);
        }
        self.sum_ms.fetch_add(value_ms, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }
}

/// One server's metrics. Cheap to record from any task; rendered by `exposition::render`.
pub struct Metrics {
    attempts: [AtomicU64; OUTCOMES],
    attempt_duration: Histogram<{ ATTEMPT_DURATION_BUCKETS_MS.len() }>,
    lag: Histogram<{ LAG_BUCKETS_MS.len() }>,
    failed: AtomicU64,
    accepted: AtomicU64,
    held: AtomicU64,
    in_flight: AtomicI64,
    endpoints: EndpointTable,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(ENDPOINT_LABELS_MAX_DEFAULT)
    }
}

impl Metrics {
    /// A registry giving at most `endpoint_labels_max` endpoints their own label.
    pub fn new(endpoint_labels_max: usize) -> Self {
        Self {
            attempts: std::array::from_fn(|_| AtomicU64::new(0)),
            attempt_duration: Histogram::new(ATTEMPT_DURATION_BUCKETS_MS),
            lag: Histogram::new(LAG_BUCKETS_MS),
            failed: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            held: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            endpoints: EndpointTable::new(endpoint_labels_max.min(ENDPOINT_LABELS_MAX_LIMIT)),
        }
    }

    /// A message was accepted (committed with its deliveries); a repeated idempotency key is not.
    pub fn message_accepted(&self) {
        self.accepted.fetch_add(1, Relaxed);
    }

    /// An accept waited for the recorder to catch up (`delivery::RECORDS_HOLD_AT`).
    pub fn accept_held(&self) {
        self.held.fetch_add(1, Relaxed);
    }

    /// Counts an attempt in flight until the returned guard is dropped.
    pub fn attempt_in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(&self.in_flight)
    }

    /// Records one attempt to `endpoint`: its outcome, how long it took, and how long after
    /// its delivery became due it started (`lag_ms`).
    pub fn attempt_finished(&self, endpoint: EndpointId, outcome: &AttemptOutcome, lag_ms: Millis) {
        let lag_ms = lag_ms.max(0) as u64;
        self.attempts[outcome_index(outcome.error)].fetch_add(1, Relaxed);
        self.attempt_duration.observe(outcome.duration_ms);
        self.lag.observe(lag_ms);
        self.endpoints.slot(endpoint).record(outcome.succeeded(), lag_ms);
    }

    /// A delivery failed for good: its retries are exhausted (or a manual attempt failed).
    pub fn delivery_failed(&self) {
        self.failed.fetch_add(1, Relaxed);
    }
}

/// Keeps an attempt counted in the in-flight gauge; dropping it (even on cancellation) stops.
pub struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}
