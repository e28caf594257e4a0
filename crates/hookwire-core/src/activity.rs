//! Delivery activity over time, kept by Hookwire itself so its charts need no Grafana: per
//! endpoint, per minute and per hour, the attempts that succeeded and failed, the deliveries
//! that failed for good, and a histogram of attempt durations in fixed buckets from which p50
//! and p99 are read. Counts add up: two nodes, or two flushes of one node, adding to the same
//! minute give the same row as one adding both.

use crate::time_fmt::Millis;

/// Upper bounds of the duration buckets, in ms; a last bucket holds everything slower. A
/// delivery's deadline is at most 30 s, so the last bound is the longest attempt.
pub const LATENCY_BOUNDS_MS: [u64; 13] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 15_000, 30_000];
/// Buckets in a histogram: one per bound and one above the last.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

/// Per-minute rows are kept this long (the dashboard's last hour and last day).
pub const MINUTE_ROWS_KEPT_MS: Millis = 2 * 86_400_000;
/// Per-hour rows are kept this long (the portal's last week, and more).
pub const HOUR_ROWS_KEPT_MS: Millis = 90 * 86_400_000;
/// The most buckets one read may ask for.
pub const BUCKETS_MAX: usize = 2_160;

/// How finely activity is kept and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    Minute,
    Hour,
}

impl Resolution {
    pub const ALL: [Resolution; 2] = [Resolution::Minute, Resolution::Hour];

    pub fn ms(self) -> Millis {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
        }
    }

    /// The start of the bucket holding `at`.
    pub fn floor(self, at: Millis) -> Millis {
        at - at.rem_euclid(self.ms())
    }

    /// How long rows of this resolution are kept.
    pub fn kept_ms(self) -> Millis {
        match self {
            Resolution::Minute => MINUTE_ROWS_KEPT_MS,
            Resolution::Hour => HOUR_ROWS_KEPT_MS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
        }
    }

    pub fn parse(name: &str) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What happened in one bucket of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Attempts answered with a 2xx.
    pub succeeded: u64,
    /// Attempts that failed (a retry may follow).
    pub failed: u64,
    /// Deliveries whose retries ran out (each also counted in `failed`).
    pub exhausted: u64,
    /// Attempt durations, bucketed by `LATENCY_BOUNDS_MS`.
    pub latency: [u64; LATENCY_BUCKETS],
}

impl Counts {
    /// Counts one attempt.
    pub fn record(&mut self, succeeded: bool, exhausted: bool, duration_ms: u64) {
        if succeeded {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
        self.exhausted += u64::from(exhausted);
        let bucket = LATENCY_BOUNDS_MS.partition_point(|&bound| bound < duration_ms);
        self.latency[bucket] += 1;
    }

    pub fn merge(&mut self, other: &Counts) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.exhausted += other.exhausted;
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
    }

    pub fn attempts(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Succeeded attempts over all attempts, or `None` with no attempt.
    pub fn success_rate(&self) -> Option<f64> {
        let attempts = self.attempts();
        (attempts > 0).then(|| self.succeeded as f64 / attempts as f64)
    }

    /// The duration below which a fraction `q` of attempts finished, in ms, interpolated
    /// linearly inside its bucket (as Prometheus' `histogram_quantile` does); the last bucket
    /// reads as its lower bound. `None` with no attempt.
    pub fn percentile_ms(&self, q: f64) -> Option<u64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut below = 0u64;
        for (i, &count) in self.latency.iter().enumerate() {
            if count > 0 && (below + count) as f64 >= rank {
                let lower = if i == 0 { 0 } else { LATENCY_BOUNDS_MS[i - 1] };
                let Some(&upper) = LATENCY_BOUNDS_MS.get(i) else {
                    return Some(lower);
                };
                let inside = (rank - below as f64).max(0.0) / count as f64;
                return Some(lower + ((upper - lower) as f64 * inside).round() as u64);
            }
            below += count;
        }
        Some(*LATENCY_BOUNDS_MS.last().expect("bounds"))
    }
}

/// One bucket of a series: its start and what happened in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: Millis,
    pub counts: Counts,
}

/// Pending deliveries sampled at the start of a bucket (the largest sample in it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSample {
    pub start: Millis,
    /// Due and not yet attempted.
    pub due: u64,
    /// Waiting for a later time (retries, `deliverAt`).
    pub scheduled: u64,
}

/// Every bucket from `since` (floored) up to `until`, in order, with the given ones in place
/// and zeros between them: a chart's bars, gaps included.
pub fn fill(resolution: Resolution, since: Millis, until: Millis, given: &[Bucket]) -> Vec<Bucket> {
    let step = resolution.ms();
    let mut out = Vec::new();
    let mut given = given.iter().peekable();
    let mut start = resolution.floor(since);
    while start < until {
        let mut counts = Counts::default();
        while let Some(bucket) = given.next_if(|b| b.start <= start) {
            if bucket.start == start {
                counts.merge(&bucket.counts);
            }
        }
        out.push(Bucket { start, counts });
        start += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_bucket_of_their_upper_bound() {
        let mut counts = Counts::default();
        for ms in [0, 5, 6, 30_000, 30_001] {
            counts.record(true, false, ms);
        }
        assert_eq!(counts.latency[0], 2);
        assert_eq!(counts.latency[1], 1);
        assert_eq!(counts.latency[12], 1);
        assert_eq!(counts.latency[13], 1);
    }

    #[test]
    fn percentiles_interpolate_inside_a_bucket() {
        let mut counts = Counts::default();
        assert_eq!(counts.percentile_ms(0.5), None);
        for _ in 0..100 {
            counts.record(true, false, 60); // 50..100
        }
        assert_eq!(counts.percentile_ms(0.5), Some(75));
        assert_eq!(counts.percentile_ms(0.99), Some(100));
        counts.record(false, true, 40_000);
        assert_eq!(counts.percentile_ms(1.0), Some(30_000));
        assert_eq!((counts.succeeded, counts.failed, counts.exhausted), (100, 1, 1));
        assert_eq!(counts.success_rate(), Some(100.0 / 101.0));
    }

    #[test]
    fn merging_adds_every_count() {
        let mut a = Counts::default();
        a.record(true, false, 3);
        let mut b = Counts::default();
        b.record(false, true, 3);
        a.merge(&b);
        assert_eq!((a.succeeded, a.failed, a.exhausted, a.latency[0]), (1, 1, 1, 2));
    }

    #[test]
    fn fill_keeps_gaps_as_zeros() {
        let mut one = Counts::default();
        one.record(true, false, 1);
        let given = [Bucket { start: 120_000, counts: one }];
        let filled = fill(Resolution::Minute, 61_000, 240_000, &given);
        let starts: Vec<_> = filled.iter().map(|b| b.start).collect();
        assert_eq!(starts, vec![60_000, 120_000, 180_000]);
        assert_eq!(filled[1].counts.succeeded, 1);
        assert_eq!(filled[0].counts, Counts::default());
    }
}
