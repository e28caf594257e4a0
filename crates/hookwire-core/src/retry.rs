//! When the next attempt of a delivery happens. Pure: `now` and the jitter are inputs.

use serde::{Deserialize, Serialize};

use crate::limits::{RETRY_AFTER_SECONDS_MAX, RETRY_DELAY_SECONDS_MAX, RETRY_SCHEDULE_STEPS_MAX};
use crate::time_fmt::Millis;

/// Delays (seconds) before each retry when an endpoint sets no policy: immediately after the
/// first failure, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (close to Svix's).
pub const DEFAULT_SCHEDULE_SECONDS: [u64; 8] = [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
/// Jitter spreads each delay over ±this fraction so retries of a burst do not arrive together.
pub const JITTER_FRACTION: f64 = 0.2;

/// A per-endpoint retry policy. On the wire: `{"schedule": [s, ...]}` or
/// `{"maxRetries": n, "intervalMs": ms}`; `maxRetries: 0` means a single attempt. Either form
/// alone: a key of the other (or any other key) is refused, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, try_from = "RetryPolicyIn")]
pub enum RetryPolicy {
    Schedule {
        schedule: Vec<u64>,
    },
    Fixed {
        #[serde(rename = "maxRetries")]
        max_retries: u32,
        #[serde(rename = "intervalMs")]
        interval_ms: u64,
    },
}

/// Every key either form may have, read before the form is chosen.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryPolicyIn {
    schedule: Option<Vec<u64>>,
    #[serde(rename = "maxRetries")]
    max_retries: Option<u32>,
    #[serde(rename = "intervalMs")]
    interval_ms: Option<u64>,
}

impl TryFrom<RetryPolicyIn> for RetryPolicy {
    type Error = &'static str;

    fn try_from(given: RetryPolicyIn) -> Result<Self, Self::Error> {
        match given {
            RetryPolicyIn { schedule: Some(schedule), max_retries: None, interval_ms: None } => {
                Ok(Self::Schedule { schedule })
            }
            RetryPolicyIn { schedule: None, max_retries: Some(max_retries), interval_ms: Some(interval_ms) } => {
                Ok(Self::Fixed { max_retries, interval_ms })
            }
            _ => Err("give either `schedule`, or `maxRetries` with `intervalMs`, not keys of both"),
        }
    }
}

impl RetryPolicy {
    /// Checks the policy's bounds; a refusal names the field at fault (`schedule`, `maxRetries`,
    /// `intervalMs`) and says why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            Self::Schedule { schedule } => {
                if schedule.len() > RETRY_SCHEDULE_STEPS_MAX {
                    return Err(("schedule", format!("at most {RETRY_SCHEDULE_STEPS_MAX} steps")));
                }
                if let Some(step) = schedule.iter().find(|s| **s > RETRY_DELAY_SECONDS_MAX) {
                    return Err((
                        "schedule",
                        format!("the step {step} s is longer than the longest delay, {RETRY_DELAY_SECONDS_MAX} s"),
                    ));
                }
            }
            Self::Fixed { max_retries, interval_ms } => {
                if *max_retries as usize > RETRY_SCHEDULE_STEPS_MAX {
                    return Err(("maxRetries", format!("at most {RETRY_SCHEDULE_STEPS_MAX}")));
                }
                if *interval_ms > RETRY_DELAY_SECONDS_MAX * 1_000 {
                    return Err(("intervalMs", format!("at most {}", RETRY_DELAY_SECONDS_MAX * 1_000)));
                }
            }
        }
        Ok(())
    }

    /// Delay in milliseconds before retry number `retry` (1-based), or `None` when exhausted.
    fn delay_ms(&self, retry: u32) -> Option<u64> {
        match self {
            Self::Schedule { schedule } => schedule.get(retry as usize - 1).map(|s| s * 1_000),
            Self::Fixed { max_retries, interval_ms } => (retry <= *max_retries).then_some(*interval_ms),
        }
    }
}

fn default_delay_ms(retry: u32) -> Option<u64> {
    DEFAULT_SCHEDULE_SECONDS.get(retry as usize - 1).map(|s| s * 1_000)
}

/// When to try again after `attempts_made` failed attempts, or `None` when retries are exhausted.
/// `jitter` is a sample from [-1, 1]; a bounded `Retry-After` lengthens (never shortens) the delay.
pub fn next_attempt_at(
    policy: Option<&RetryPolicy>,
    attempts_made: u32,
    now: Millis,
    jitter: f64,
    retry_after_seconds: Option<u64>,
) -> Option<Millis> {
    let retry = attempts_made.max(1);
    let base_ms = match policy {
        Some(policy) => policy.delay_ms(retry)?,
        None => default_delay_ms(retry)?,
    };
    // Explicit fixed intervals are a contract with the receiver (Impler's "retry interval"),
    // so only the default schedule is jittered.
    let jittered_ms = if policy.is_none() {
        (base_ms as f64 * (1.0 + JITTER_FRACTION * jitter.clamp(-1.0, 1.0))).round() as u64
    } else {
        base_ms
    };
    let retry_after_ms = retry_after_seconds.map_or(0, |s| s.min(RETRY_AFTER_SECONDS_MAX) * 1_000);
    Some(now + jittered_ms.max(retry_after_ms) as Millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_one_form_or_the_other_never_a_mix_read_half() {
        let read = |text: &str| serde_json::from_str::<RetryPolicy>(text).map_err(|e| e.to_string());
        assert_eq!(read(r#"{"schedule": [0, 60]}"#), Ok(RetryPolicy::Schedule { schedule: vec![0, 60] }));
        assert_eq!(
            read(r#"{"maxRetries": 2, "intervalMs": 10}"#),
            Ok(RetryPolicy::Fixed { max_retries: 2, interval_ms: 10 })
        );
        for mixed in [r#"{"schedule": [60], "maxRetries": 0}"#, r#"{"maxRetries": 2}"#, "{}"] {
            assert!(read(mixed).unwrap_err().contains("not keys of both"), "{mixed}");
        }
        assert!(read(r#"{"schedule": [1], "multiplier": 2}"#).unwrap_err().contains("unknown field `multiplier`"));
        let stored = serde_json::to_string(&RetryPolicy::Fixed { max_retries: 1, interval_ms: 5 }).unwrap();
        assert_eq!(stored, r#"{"maxRetries":1,"intervalMs":5}"#, "written as before");
    }

    fn check(policy: Option<&RetryPolicy>, attempts: u32, jitter: f64, after: Option<u64>) -> Option<Millis> {
        next_attempt_at(policy, attempts, 1_000_000, jitter, after).map(|at| at - 1_000_000)
    }

    #[test]
    fn default_schedule_with_jitter() {
        let delays: Vec<_> = (1..=9).map(|n| check(None, n, 0.0, None)).collect();
        assert_eq!(
            delays,
            [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]
                .map(Some)
                .into_iter()
                .chain([None])
                .collect::<Vec<_>>()
        );
        assert_eq!(check(None, 2, 1.0, None), Some(6_000));
        assert_eq!(check(None, 2, -1.0, None), Some(4_000));
        assert_eq!(check(None, 2, 7.0, None), Some(6_000), "jitter is clamped");
    }

    #[test]
    fn fixed_and_explicit_policies() {
        let fixed = RetryPolicy::Fixed { max_retries: 2, interval_ms: 1_500 };
        assert_eq!(check(Some(&fixed), 1, 1.0, None), Some(1_500));
        assert_eq!(check(Some(&fixed), 2, 0.0, None), Some(1_500));
        assert_eq!(check(Some(&fixed), 3, 0.0, None), None);
        let single = RetryPolicy::Fixed { max_retries: 0, interval_ms: 10 };
        assert_eq!(check(Some(&single), 1, 0.0, None), None);
        let impilo = RetryPolicy::Schedule { schedule: vec![900, 1_800, 3_600] };
        assert_eq!(check(Some(&impilo), 3, 0.0, None), Some(3_600_000));
        assert_eq!(check(Some(&impilo), 4, 0.0, None), None);
    }

    #[test]
    fn retry_after_is_honoured_within_bound() {
        assert_eq!(check(None, 2, 0.0, Some(60)), Some(60_000));
        assert_eq!(check(None, 3, 0.0, Some(60)), Some(300_000), "never shortens");
        assert_eq!(check(None, 2, 0.0, Some(1_000_000)), Some(3_600_000));
    }

    #[test]
    fn wire_forms() {
        let p: RetryPolicy = serde_json::from_str(r#"{"schedule":[900,1800,3600]}"#).unwrap();
        assert_eq!(p, RetryPolicy::Schedule { schedule: vec![900, 1_800, 3_600] });
        let p: RetryPolicy = serde_json::from_str(r#"{"maxRetries":3,"intervalMs":1000}"#).unwrap();
        assert_eq!(p, RetryPolicy::Fixed { max_retries: 3, interval_ms: 1_000 });
        assert_eq!(RetryPolicy::Schedule { schedule: vec![0; 51] }.validate().map_err(|e| e.0), Err("schedule"));
        let fixed = RetryPolicy::Fixed { max_retries: 3, interval_ms: u64::MAX };
        assert_eq!(fixed.validate().map_err(|e| e.0), Err("intervalMs"));
    }
}
