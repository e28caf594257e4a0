//! The Prometheus text format of the registry plus scrape-time gauges (queue depth from the
//! store, flow control). Served by `api/metrics.rs`.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use hookwire_store::QueueDepth;

use super::{Histogram, Metrics, outcome_label};
use crate::delivery::FlowSummary;

/// A destination's lag, read from the store at scrape time.
pub struct DestinationLag {
    pub app: String,
    pub destination: String,
    pub kind: &'static str,
    /// Messages of its application's log after its position (see `DestinationOut::lag`).
    pub lag: u64,
}

/// The whole exposition, every family with its HELP and TYPE lines.
pub fn render(metrics: &Metrics, queue: &QueueDepth, flow: &FlowSummary, lags: &[DestinationLag]) -> String {
    let mut out = String::with_capacity(4_096);
    family(
        &mut out,
        "hookwire_messages_accepted_total",
        "counter",
        "Messages accepted (committed with their deliveries).",
    );
    let _ = writeln!(out, "hookwire_messages_accepted_total {}", metrics.accepted.load(Relaxed));
    family(
        &mut out,
        "hookwire_accepts_held_total",
        "counter",
        &format!(
            "Accepts that waited (up to {} ms) for the recorder to catch up: the database is the bottleneck.",
            crate::delivery::ACCEPT_HOLD_MS_MAX
        ),
    );
    let _ = writeln!(out, "hookwire_accepts_held_total {}", metrics.held.load(Relaxed));

    family(
        &mut out,
        "hookwire_deliveries_total",
        "counter",
        "Delivery attempts by outcome: success or the error kind.",
    );
    for (index, counter) in metrics.attempts.iter().enumerate() {
        let _ = writeln!(
            out,
            "hookwire_deliveries_total{{outcome=\"{}\"}} {}",
            outcome_label(index),
            counter.load(Relaxed)
        );
    }
    family(
        &mut out,
        "hookwire_deliveries_failed_total",
        "counter",
        "Deliveries that failed for good (retries exhausted).",
    );
    let _ = writeln!(out, "hookwire_deliveries_failed_total {}", metrics.failed.load(Relaxed));

    let help = "Duration of delivery attempts, from sending the request to reading the answer.";
    histogram(&mut out, "hookwire_attempt_duration_seconds", help, &metrics.attempt_duration);
    let help = "Time from a delivery becoming due to its attempt starting.";
    histogram(&mut out, "hookwire_delivery_lag_seconds", help, &metrics.lag);

    family(&mut out, "hookwire_deliveries_in_flight", "gauge", "Delivery attempts being sent now.");
    let _ = writeln!(out, "hookwire_deliveries_in_flight {}", metrics.in_flight.load(Relaxed).max(0));
    let gauges = [
        ("hookwire_queue_due", "Pending deliveries due now and not yet attempted.", queue.due),
        ("hookwire_queue_scheduled", "Pending deliveries due later (retries, deliverAt).", queue.scheduled),
        ("hookwire_queue_parked", "Deliveries parked until their endpoint is verified.", queue.parked),
        ("hookwire_flow_queued", "Deliveries waiting in memory for an endpoint slot.", flow.queued as u64),
        ("hookwire_endpoints_paused", "Endpoints paused by a Retry-After answer.", flow.paused as u64),
        ("hookwire_endpoints_circuit_open", "Endpoints whose circuit breaker is open.", flow.circuits_open as u64),
    ];
    for (name, help, value) in gauges {
        family(&mut out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    endpoint_families(&mut out, metrics);
    let help = "Messages of the application's log a destination has not passed yet (a FIFO endpoint's \
                position, a polling endpoint's furthest-behind consumer; counted up to 100000).";
    family(&mut out, "hookwire_destination_lag_messages", "gauge", help);
    for l in lags {
        let _ = writeln!(
            out,
            "hookwire_destination_lag_messages{{app=\"{}\",destination=\"{}\",type=\"{}\"}} {}",
            l.app, l.destination, l.kind, l.lag
        );
    }
    out
}

/// Per-endpoint attempts and lag; `endpoint="other"` sums the endpoints beyond the label cap.
fn endpoint_families(out: &mut String, metrics: &Metrics) {
    let mut endpoints: Vec<(String, &super::endpoints::EndpointCounters)> =
        metrics.endpoints.labelled().map(|(id, counters)| (id.to_string(), counters)).collect();
    endpoints.sort_by(|a, b| a.0.cmp(&b.0));
    endpoints.push(("other".into(), &metrics.endpoints.other));
    let help = "Delivery attempts per endpoint (the first endpoints seen; the rest as \"other\").";
    family(out, "hookwire_endpoint_deliveries_total", "counter", help);
    for (endpoint, counters) in &endpoints {
        for (outcome, counter) in [("success", &counters.success), ("failure", &counters.failure)] {
            let _ = writeln!(
                out,
                "hookwire_endpoint_deliveries_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} {}",
                counter.load(Relaxed)
            );
        }
    }
    family(out, "hookwire_endpoint_lag_seconds", "summary", "Time from due to attempted, per endpoint.");
    for (endpoint, counters) in &endpoints {
        let count = counters.success.load(Relaxed) + counters.failure.load(Relaxed);
        let sum = seconds(counters.lag_sum_ms.load(Relaxed));
        let _ = writeln!(out, "hookwire_endpoint_lag_seconds_sum{{endpoint=\"{endpoint}\"}} {sum}");
        let _ = writeln!(out, "hookwire_endpoint_lag_seconds_count{{endpoint=\"{endpoint}\"}} {count}");
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram<const N: usize>(out: &mut String, name: &str, help: &str, histogram: &Histogram<N>) {
    family(out, name, "histogram", help);
    let mut cumulative = 0;
    for (bound, bucket) in histogram.bounds_ms.iter().zip(&histogram.buckets) {
        cumulative += bucket.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", seconds(*bound));
    }
    // Read after the buckets: a concurrent observation can only make the total larger.
    let count = histogram.count.load(Relaxed).max(cumulative);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {}", seconds(histogram.sum_ms.load(Relaxed)));
    let _ = writeln!(out, "{name}_count {count}");
}

/// Milliseconds as seconds, exactly (`1500` → `1.5`).
fn seconds(ms: u64) -> String {
    match ms % 1_000 {
        0 => format!("{}", ms / 1_000),
        rest => format!("{}.{}", ms / 1_000, format!("{rest:03}").trim_end_matches('0')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact_decimals() {
        let shown: Vec<String> = [0, 5, 10, 250, 1_000, 1_500, 30_000].into_iter().map(seconds).collect();
        assert_eq!(shown, ["0", "0.005", "0.01", "0.25", "1", "1.5", "30"]);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_inf_counts_everything() {
        let metrics = Metrics::new(1);
        for ms in [3, 7, 40_000] {
            metrics.attempt_duration.observe(ms);
        }
        let text = render(&metrics, &QueueDepth::default(), &FlowSummary::default(), &[]);
        for line in [
            "hookwire_attempt_duration_seconds_bucket{le=\"0.005\"} 1",
            "hookwire_attempt_duration_seconds_bucket{le=\"0.01\"} 2",
            "hookwire_attempt_duration_seconds_bucket{le=\"30\"} 2",
            "hookwire_attempt_duration_seconds_bucket{le=\"+Inf\"} 3",
            "hookwire_attempt_duration_seconds_sum 40.01",
            "hookwire_attempt_duration_seconds_count 3",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
