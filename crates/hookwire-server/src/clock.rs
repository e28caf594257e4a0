//! Time as an input. Everything in the server reads the wall clock through the one `Clock` the
//! app owns (handlers, the intake, the delivery engine, tokens), so a test can hold time still and
//! move it forward (`ManualClock`) instead of sleeping until a retry or an expiry comes due.
//! Timers that only pace work (poll intervals, linger, timeouts) stay on tokio's clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hookwire_core::time_fmt::{Millis, to_millis};

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now(&self) -> Millis;
}

/// The clock the app shares with everything it starts.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        to_millis(time::OffsetDateTime::now_utc())
    }
}

/// A clock that stands still until told to move: for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// Starts at the system's current time (so ids and stored times look ordinary).
    pub fn new() -> Arc<Self> {
        Arc::new(Self { now: AtomicI64::new(SystemClock.now()) })
    }

    /// Moves time forward by `millis`.
    pub fn advance(&self, millis: Millis) {
        self.now.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(300_000);
        assert_eq!(clock.now(), start + 300_000);
        assert!((SystemClock.now() - start).abs() < 60_000, "starts at the system's time");
    }
}
